# bash completion for tcpchatd(1) and tcpchat(1). Installed as "tcpchat",
# with "tcpchatd" a symbolic link to it, where bash-completion looks for
# them by name. The options come from each program's own -h, so this file
# never falls behind them.

# The options of program $1 that take a value: in its -h, an option line
# whose long form is followed by an upper-case word ("-w, --wait
# SECONDS"), both forms.
_tcpchat_valued()
{
	"$1" -h 2>/dev/null | awk '
		/^ +-/ {
			for (i = 1; i <= NF; i++)
				if ($i ~ /^--?[a-z0-9-]+,?$/ && $(i + 1) ~ /^[A-Z]+$/) {
					sub(/,$/, "", $i)
					print $i
					if (i > 1 && $(i - 1) ~ /^-[a-z0-9],$/) {
						sub(/,$/, "", $(i - 1))
						print $(i - 1)
					}
				}
		}'
}

# Completes the value of option $2 of program $1; false when $2 takes none.
_tcpchat_value()
{
	local opt
	for opt in $(_tcpchat_valued "$1"); do
		[[ $opt == "$2" ]] || continue
		case $2 in
		--history | --*-file) _filedir ;;
		-l | --listen)
			COMPREPLY=($(compgen -W ':: 0.0.0.0 127.0.0.1 ::1' \
				-- "$cur"))
			;;
		esac
		return 0 # any other value is the user's own
	done
	return 1
}

_tcpchatd()
{
	local cur prev words cword
	_init_completion || return

	_tcpchat_value "$1" "$prev" && return
	COMPREPLY=($(compgen -W '$(_parse_help "$1")' -- "$cur"))
}

_tcpchat()
{
	local cur prev words cword
	_init_completion || return

	_tcpchat_value "$1" "$prev" && return
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '$(_parse_help "$1")' -- "$cur"))
		return
	fi
	_known_hosts_real -- "$cur"
}

complete -F _tcpchatd tcpchatd
complete -F _tcpchat tcpchat
