# bash completion for tcpchatd(1) and tcpchat(1): their options, and the
# values some of them take. Installed as "tcpchat", with "tcpchatd" a
# symbolic link to it, where bash-completion looks for them by name.

_tcpchatd()
{
	local cur prev words cword
	_init_completion || return

	case $prev in
	-l | --listen)
		COMPREPLY=($(compgen -W ':: 0.0.0.0 127.0.0.1 ::1' -- "$cur"))
		return
		;;
	-p | --port | --name | --max-clients | --max-queue | --max-line | \
		--linger)
		return # a value of the user's own
		;;
	esac
	COMPREPLY=($(compgen -W '-l --listen -p --port --name --max-clients
		--max-queue --max-line --linger --trace -q --quiet -v --verbose
		-h --help -V --version' -- "$cur"))
}

_tcpchat()
{
	local cur prev words cword
	_init_completion || return

	case $prev in
	--history)
		_filedir
		return
		;;
	-p | --port | --name)
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '-p --port --name --history --no-history
			--trace -4 -6 -h --help -V --version' -- "$cur"))
		return
	fi
	_known_hosts_real -- "$cur"
}

complete -F _tcpchatd tcpchatd
complete -F _tcpchat tcpchat
