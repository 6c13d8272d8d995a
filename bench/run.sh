#!/usr/bin/env bash
# bench/run.sh: tcpchatd against `ncat --chat`, side by side.
# Installs what is missing, builds tc-loadgen and tcpchatd (release) in a
# build dir of its own, starts a fresh server on a loopback port for every
# run of every scenario, and prints one markdown table of medians. It kills
# only the servers it started, by PID.
#
#   bench/run.sh [--quick] [--runs N] [--servers "tcpchatd ncat"]
#                [--builddir DIR] [--logdir DIR]
#
# --quick: one run each and smaller counts (about 30 s; the full run: 4 min).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMDLINE="bench/run.sh${*:+ $*}"
BUILD="$ROOT/build-bench"
LOGDIR=""
SERVERS="tcpchatd ncat"
QUICK=0
RUNS=""

die() {
	echo "run.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--runs) RUNS=${2:?}; shift ;;
	--servers) SERVERS=${2:?}; shift ;;
	--builddir) BUILD=${2:?}; shift ;;
	--logdir) LOGDIR=${2:?}; shift ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) die "unknown option '$1' (try --help)" ;;
	esac
	shift
done

# The counts. The 50-client fan-out sends about 12 MB to each reader: past
# what the kernel buffers for a client that never reads (about 4 MB with
# ncat), so the slow run shows what each server does once it must decide;
# and about 2 s per run, where 0.8 s runs moved by 1.5x from run to run.
if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}
	LAT_N=5000 LAT_W=500 FAN50_M=200 FAN200_M=10 CHURN_N=2000
	HOLDS="1000 5000"
else
	RUNS=${RUNS:-3}
	LAT_N=20000 LAT_W=1000 FAN50_M=3000 FAN200_M=50 CHURN_N=5000
	HOLDS="1000 5000 10000"
fi
case "$RUNS" in '' | *[!0-9]* | 0) die "--runs wants a positive number" ;; esac
NCAT_FD_LIMIT=1000 # ncat uses select(): it aborts at fd 1024 (FD_SETSIZE)
# tcpchatd keeps up to this many finished threads parked for the next
# clients (its --thread-cache default): the churn counts them as baseline.
TCPCHATD_THREAD_CACHE=64
SIZE=80
BURST_M=200 # each writes them all at once: about 1 MB to each reader

# ---- install and build ----------------------------------------------------

install_missing() {
	local p missing="" as_root=""

	for p in meson ninja-build pkg-config gcc libc6-dev libreadline-dev \
		check ncat; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	command -v apt-get >/dev/null || die "missing:$missing (no apt-get)"
	echo "run.sh: installing:$missing" >&2
	[ "$(id -u)" = 0 ] || as_root=sudo
	$as_root apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq $missing
}

build() {
	local targets="bench/tc-loadgen bench/tc-wakeup"

	case " $SERVERS " in *" tcpchatd "*) targets="$targets src/tcpchatd" ;; esac
	if [ -f "$BUILD/build.ninja" ]; then
		meson configure "$BUILD" -Dbench=true -Dbuildtype=release >/dev/null
	else
		meson setup "$BUILD" "$ROOT" -Dbench=true --buildtype=release \
			>/dev/null
	fi
	# shellcheck disable=SC2086
	ninja -C "$BUILD" $targets >&2
}

install_missing
build
LG="$BUILD/bench/tc-loadgen"
TCPCHATD="$BUILD/src/tcpchatd"
[ -n "$LOGDIR" ] || LOGDIR="$BUILD/bench-logs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$LOGDIR"
RESULTS="$LOGDIR/results.txt"
: >"$RESULTS"

# ---- servers: started here, killed here, by PID only ----------------------

SPID="" # the server now running
PORT=""
SLOG="" # its log files, without .out / .err
# tcpchatd's console: a FIFO this shell holds open on fd 3 while a server
# runs, so that run.sh can type /list into it.
CONSOLE="$LOGDIR/console.fifo"
mkfifo "$CONSOLE"

cleanup() {
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	rm -f "$CONSOLE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls until $1 has a first line; nothing else to wait on for a file.
first_line() {


	for _ in $(seq 100); do
		if [ -s "$1" ] && head -1 "$1" | grep -q ':[0-9][0-9]*$'; then
			head -1 "$1"
			return 0
		fi
		kill -0 "$SPID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# start_server NAME TAG: sets SPID and PORT.
start_server() {
	local log="$LOGDIR/$1.$2"

	SLOG=$log
	case "$1" in
	tcpchatd)
		exec 3<>"$CONSOLE" # read-write: opening it does not block
		"$TCPCHATD" -l 127.0.0.1 -p 0 -q --max-clients 20000 --rate 0 \
			<"$CONSOLE" >"$log.out" 2>"$log.err" &
		SPID=$!
		PORT=$(first_line "$log.err" | sed 's/.*://') ||
			die "tcpchatd did not start: $(cat "$log.err")"
		;;
	ncat)
		PORT=$("$LG" port)
		ncat -l --chat -k --max-conns 20000 127.0.0.1 "$PORT" \
			</dev/null >"$log.out" 2>"$log.err" &
		SPID=$!
		;;
	esac
	"$LG" wait -p "$PORT" -t 5 >/dev/null ||
		die "$1 does not accept on 127.0.0.1:$PORT: $(cat "$log.err")"
}

# Stops the server; FATE says "alive", or how it had ended on its own.
# Not in a subshell: only this shell can wait for its child.
stop_server() {
	local rc=0

	FATE=alive
	if ! kill -0 "$SPID" 2>/dev/null; then
		wait "$SPID" || rc=$?
		FATE="died(rc=$rc)"
	else
		kill -TERM "$SPID"
		for _ in $(seq 100); do
			kill -0 "$SPID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	exec 3>&- # tcpchatd's console, if it had one
	SPID=""
}

# parked: the threads tcpchatd has parked now, from the summary line of
# its /list ("N connections; M threads parked"); "-" for ncat.
parked() {
	local before line

	[ "$1" = tcpchatd ] || { echo -; return; }
	before=$(grep -c ' parked$' "$SLOG.out" || true)
	echo /list >&3
	for _ in $(seq 100); do # the server's stdout: nothing to wait on
		line=$(grep ' parked$' "$SLOG.out" | tail -n +$((before + 1)) |
			tail -1)
		[ -n "$line" ] && break
		sleep 0.05
	done
	echo "$line" | sed -n 's/.*; \([0-9]*\) threads* parked$/\1/p' |
		grep . || echo -
}

# run_one SERVER KEY RUN LOADGEN-ARGS...: one scenario run on a fresh server.
run_one() {
	local server=$1 key=$2 run=$3 out
	shift 3

	start_server "$server" "$key.$run"
	echo "run.sh: $server $key run $run: tc-loadgen $*" >&2
	out=$("$LG" "$@" -p "$PORT" -P "$SPID" -L "$server" 2>>"$LOGDIR/loadgen.err" |
		grep '^RESULT' | tail -1) || true
	case "$key" in churn*) out="$out parked=$(parked "$server")" ;; esac
	stop_server
	[ -n "$out" ] || out="RESULT none status=failed"
	echo "$server $key $run ${out#RESULT } server=$FATE" >>"$RESULTS"
}

scenarios() {
	local server=$1 run=$2 c keep

	run_one "$server" lat0 "$run" latency -n "$LAT_N" -w "$LAT_W" -s $SIZE -t 60
	run_one "$server" lat50 "$run" latency -n "$LAT_N" -w "$LAT_W" -b 50 \
		-s $SIZE -t 60
	run_one "$server" fan50 "$run" fanout -c 50 -m "$FAN50_M" -s $SIZE -t 90
	run_one "$server" slow50 "$run" fanout -S -c 50 -m "$FAN50_M" -s $SIZE -t 90
	run_one "$server" fan200 "$run" fanout -c 200 -m "$FAN200_M" -s $SIZE -t 90
	run_one "$server" burst50 "$run" fanout -c 50 -m "$BURST_M" -W 0 -s $SIZE \
		-t 60
	for c in $HOLDS; do
		if [ "$server" = ncat ] && [ "$c" -gt $NCAT_FD_LIMIT ]; then
			continue
		fi
		run_one "$server" "hold$c" "$run" hold -c "$c" -t 90
	done
	keep=0
	[ "$server" = tcpchatd ] && keep=$TCPCHATD_THREAD_CACHE
	run_one "$server" churn1 "$run" churn -n "$CHURN_N" -j 1 -k $keep -t 60
	run_one "$server" churn "$run" churn -n "$CHURN_N" -j 16 -k $keep -t 60
}

T0=$(date +%s)
for run in $(seq "$RUNS"); do
	for server in $SERVERS; do
		scenarios "$server" "$run"
	done
done
ELAPSED=$(($(date +%s) - T0))

# ---- the table ------------------------------------------------------------

# field SERVER KEY NAME [med|max|all|sum]: the median (default), the worst,
# every distinct value with its count, or "SUM of RUNS", over the runs.
field() {
	awk -v s="$1" -v k="$2" -v f="$3" -v how="${4:-med}" '
	$1 == s && $2 == k {
		for (i = 4; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == f) v[n++] = substr($i, length(f) + 2)
		}
	}
	END {
		if (n == 0) { print "-"; exit }
		if (how == "all") {
			for (i = 0; i < n; i++) {
				if (!(v[i] in c)) o[m++] = v[i]
				c[v[i]]++
			}
			for (i = 0; i < m; i++)
				printf "%s%s%s", (i ? ", " : ""), o[i],
				    (n > 1 && m > 1 ? " (" c[o[i]] "/" n ")" : "")
			print ""
			exit
		}
		for (i = 0; i < n; i++) x[i] = v[i] + 0
		for (i = 1; i < n; i++)	# insertion sort: n is tiny
			for (j = i; j > 0 && x[j-1] > x[j]; j--) {
				t = x[j]; x[j] = x[j-1]; x[j-1] = t
			}
		if (how == "sum") { for (i = 0; i < n; i++) r += x[i]; print r " of " n; exit }
		r = how == "max" ? x[n-1] : (n % 2 ? x[int(n/2)] : (x[n/2-1] + x[n/2]) / 2)
		print r
	}' "$RESULTS"
}

# fmt NUMBER [DECIMALS]: thousands separated; "-" stays "-".
fmt() {
	awk -v x="$1" -v d="${2:-0}" 'BEGIN {
		if (x == "-" || x == "") { print "-"; exit }
		s = sprintf("%." d "f", x); neg = s ~ /^-/; sub(/^-/, "", s)
		split(s, p, "."); i = p[1]; o = ""
		while (length(i) > 3) { o = "," substr(i, length(i) - 2) o; i = substr(i, 1, length(i) - 3) }
		print (neg ? "-" : "") i o (d > 0 ? "." p[2] : "")
	}'
}

has() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }

# cell SERVER KEY TEXT: TEXT, or why there is no figure.
cell() {
	if ! has "$1"; then
		echo "not run"
	elif [ "$1" = ncat ] && [[ "$2" == hold* ]] &&
		[ "${2#hold}" -gt $NCAT_FD_LIMIT ]; then
		echo "n/a: ncat uses select(), aborts past fd 1024"
	elif [ "$(field "$1" "$2" status all)" = "-" ]; then
		echo "-"
	else
		echo "$3"
	fi
}

lat_cell() {
	cell "$1" "$2" "$(fmt "$(field "$1" "$2" p50_us)") / $(fmt "$(field "$1" "$2" p99_us)") / $(fmt "$(field "$1" "$2" p999_us)")"
}

ms() { fmt "$(awk -v x="$1" 'BEGIN { print x == "-" ? "-" : x / 1000 }')" "${2:-1}"; }

fan_rate() {
	local rate
	rate=$(fmt "$(field "$1" "$2" msgs_per_s)")
	case "$(field "$1" "$2" stalled sum)" in
	"0 of "* | -) cell "$1" "$2" "$rate" ;;
	*) cell "$1" "$2" "$rate, then stalled: $(fmt "$(field "$1" "$2" texts)") of $(fmt "$(field "$1" "$2" planned)") delivered (in $(field "$1" "$2" stalled sum) runs)" ;;
	esac
}

fan_loss() {
	cell "$1" "$2" "$(fmt "$(field "$1" "$2" lost max)") / $(fmt "$(field "$1" "$2" unattributed max)") / $(fmt "$(field "$1" "$2" torn_lines max)")"
}

fan_lat() {
	cell "$1" "$2" "$(ms "$(field "$1" "$2" p50_us)") / $(ms "$(field "$1" "$2" p99_us)")"
}

alive_cell() {
	local a
	a=$(field "$1" slow50 alive_ms max)
	case "$a" in
	-) cell "$1" slow50 "-" ;;
	-*) cell "$1" slow50 "no: not relayed within 5 s" ;;
	*) cell "$1" slow50 "yes, in $(fmt "$(field "$1" slow50 alive_ms)" 1) ms" ;;
	esac
}

hold_cell() {
	cell "$1" "$2" "$(fmt "$(field "$1" "$2" last_ms)" 1) ms (joined $(field "$1" "$2" joined all))"
}

hold_mem() {
	local t
	t=$(field "$1" "$2" threads_after all)
	cell "$1" "$2" "$(fmt "$(field "$1" "$2" kib_per_conn)" 1) KiB/conn; $t thread$([ "$t" = 1 ] || echo s)"
}

# The parked threads are the server's too: its baseline is the threads it
# had, plus those it keeps for the next clients.
churn_base() {
	local p
	p=$(field "$1" "$2" parked all)
	case "$p" in -) p="" ;; *) p=" ($p parked)" ;; esac
	cell "$1" "$2" "$(field "$1" "$2" failed max) failed; fds $(field "$1" "$2" fds_before all) → $(field "$1" "$2" fds_after all), threads $(field "$1" "$2" threads_before all) → $(field "$1" "$2" threads_after all)$p: back to baseline: $(field "$1" "$2" baseline all)"
}

churn_lat() {
	cell "$1" "$2" "$(fmt "$(field "$1" "$2" p50_us)") / $(fmt "$(field "$1" "$2" p99_us)")"
}

row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"; }

# row2 LABEL METRIC FUNCTION KEY: the function's cell for both servers.
row2() { row "$1" "$2" "$($3 tcpchatd "$4")" "$($3 ncat "$4")"; }

table() {
	local c

	echo "| Scenario | Metric | tcpchatd | ncat --chat |"
	echo "|---|---|---|---|"
	row2 "Relay latency: ping-pong, 1 sender, 1 receiver, $(fmt $LAT_N) messages after $(fmt $LAT_W) warm-up" \
		"p50 / p99 / p99.9 µs" lat_cell lat0
	row2 "Same, with 50 idle bystanders reading everything" \
		"p50 / p99 / p99.9 µs" lat_cell lat50
	for c in 50 200; do
		local m=$FAN50_M
		[ $c = 200 ] && m=$FAN200_M
		row2 "Fan-out: $c clients each send $m, all read ($(fmt $((c * m * (c - 1)))) deliveries)" \
			"delivered msg/s" fan_rate "fan$c"
		row2 "" "lost / unattributed / torn lines (worst run)" fan_loss "fan$c"
		row2 "" "delivery latency p50 / p99 ms" fan_lat "fan$c"
	done
	row2 "Fan-out 50 as above, plus 1 client that never reads" \
		"the others' delivered msg/s" fan_rate slow50
	row2 "" "lost / unattributed / torn lines (worst run)" fan_loss slow50
	row2 "" "the others' delivery latency p50 / p99 ms" fan_lat slow50
	row2 "" "a fresh client's line relayed while it is connected" alive_cell slow50
	row "" "the non-reader, at the end" \
		"$(cell tcpchatd slow50 "$(field tcpchatd slow50 slow_client all)")" \
		"$(cell ncat slow50 "$(field ncat slow50 slow_client all)")"
	row2 "Burst: 50 clients each write $BURST_M at once, no window, all read ($(fmt $((50 * BURST_M * 49))) deliveries)" \
		"delivered msg/s" fan_rate burst50
	row2 "" "lost / unattributed / torn lines (worst run)" fan_loss burst50
	for c in $HOLDS; do
		row2 "Hold $(fmt "$c") idle clients, then 1 line to all" \
			"time until the last client got it" hold_cell "hold$c"
		row2 "" "server RSS per connection; server threads" hold_mem "hold$c"
	done
	row2 "Churn: $(fmt $CHURN_N) × (connect, 1 line, exit, FIN, read to EOF, close), one at a time" \
		"cycles/s" churn_rate churn1
	row2 "" "cycle (connect to the server's FIN) p50 / p99 µs" churn_lat churn1
	row2 "" "failed cycles (worst); server fds and threads before → after" \
		churn_base churn1
	row2 "Churn as above, 16 in flight" "cycles/s" churn_rate churn
	row2 "" "cycle (connect to the server's FIN) p50 / p99 µs" churn_lat churn
	row2 "" "failed cycles (worst); server fds and threads before → after" \
		churn_base churn
}

churn_rate() { cell "$1" "$2" "$(fmt "$(field "$1" "$2" cycles_per_s)")"; }

{
	echo
	table
	echo
	echo "Medians of $RUNS run(s) per cell unless marked worst; every run on a"
	echo "fresh server; messages are $SIZE bytes of text plus LF; loopback only;"
	echo "load generator and server share the machine."
	echo
	echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), Linux $(uname -r)"
	echo "- Servers: $(has tcpchatd && "$TCPCHATD" -V 2>&1 | head -1) \`tcpchatd -l 127.0.0.1 -p 0 -q --max-clients 20000\`;" \
		"$(ncat --version 2>&1 | head -1 | sed 's/ ( .*//') \`ncat -l --chat -k --max-conns 20000 127.0.0.1 PORT\`"
	echo "- Command: \`$CMDLINE\` ($ELAPSED s); raw results: $RESULTS"
	echo "- What waking the 50 writers of a broadcast costs here (\`tc-wakeup\`):"
	"$BUILD/bench/tc-wakeup" -n 50 -r 2000 | tail -n +2 | sed 's/^/  - /'
	if grep -q 'server=died' "$RESULTS"; then
		echo "- Servers that died during a run:"
		grep 'server=died' "$RESULTS" | awk '{ print "  - " $1 " " $2 " run " $3 ": " $NF }'
	fi
}
