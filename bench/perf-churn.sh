#!/usr/bin/env bash
# bench/perf-churn.sh: what one churn cycle costs a server. For each SERVER
# (a tcpchatd binary, or "ncat"), in turn, ROUNDS times: a fresh server on
# a loopback port under `perf stat -e task-clock,context-switches` (every
# thread it starts counted), one `tc-loadgen churn` run against it, then
# one line: cycles/s, cycle p50 (connect to FIN), and the server's CPU
# time and context switches per cycle. For comparing builds: interleaved
# rounds, so that a busy minute of the machine hits all of them.
#
#   bench/perf-churn.sh [-j JOBS] [-n CYCLES] [-r ROUNDS] SERVER...
#
# Needs perf and a build-bench/ made by bench/run.sh. Kills only the
# servers it started, by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG="$ROOT/build-bench/bench/tc-loadgen"
JOBS=1 CYCLES=3000 ROUNDS=3
TMP=$(mktemp -d)
PERF_PID=""

die() {
	echo "perf-churn.sh: $*" >&2
	exit 1
}

cleanup() {
	local pid

	if [ -n "$PERF_PID" ]; then
		pid=$(awk '{ print $1 }' \
			"/proc/$PERF_PID/task/$PERF_PID/children" 2>/dev/null) ||
			true
		[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
		wait "$PERF_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

while getopts j:n:r:h opt; do
	case "$opt" in
	j) JOBS=$OPTARG ;;
	n) CYCLES=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	*) sed -n '2,13p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || die "no server given (try -h)"
[ -x "$LG" ] || die "no $LG: run bench/run.sh once first"
command -v perf >/dev/null || die "perf is not installed"

# The server perf started: its only child.
server_pid() {
	local pid=""

	for _ in $(seq 100); do
		pid=$(awk '{ print $1 }' \
			"/proc/$PERF_PID/task/$PERF_PID/children" 2>/dev/null) ||
			true
		[ -n "$pid" ] && break
		sleep 0.02
	done
	echo "$pid"
}

# one SERVER: one measured run; prints its line.
one() {
	local server=$1 port spid out ok tc cs

	if [ "$server" = ncat ]; then
		port=$("$LG" port)
		perf stat -x, -e task-clock,context-switches -o "$TMP/perf" -- \
			ncat -l --chat -k --max-conns 20000 127.0.0.1 "$port" \
			</dev/null >/dev/null 2>&1 &
		PERF_PID=$!
	else
		perf stat -x, -e task-clock,context-switches -o "$TMP/perf" -- \
			"$server" -l 127.0.0.1 -p 0 -q --max-clients 20000 \
			</dev/null >/dev/null 2>"$TMP/err" &
		PERF_PID=$!
		for _ in $(seq 100); do
			grep -q ':[0-9]*$' "$TMP/err" 2>/dev/null && break
			sleep 0.05 # its first line: nothing to wait on
		done
		port=$(head -1 "$TMP/err" | sed 's/.*://')
	fi
	spid=$(server_pid)
	[ -n "$spid" ] || die "$server did not start"
	"$LG" wait -p "$port" -t 5 >/dev/null || die "$server does not accept"
	out=$("$LG" churn -n "$CYCLES" -j "$JOBS" -t 60 -p "$port" |
		grep '^RESULT') || true
	kill -TERM "$spid"
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=""
	ok=$(echo "$out" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
	tc=$(awk -F, '/task-clock/ { print $1 }' "$TMP/perf")
	cs=$(awk -F, '/context-switches/ { print $1 }' "$TMP/perf")
	awk -v s="$(basename "$server")" -v j="$JOBS" -v ok="${ok:-0}" \
		-v tc="${tc:-0}" -v cs="${cs:-0}" \
		-v r="$(echo "$out" | grep -o 'cycles_per_s=[0-9]*\|p50_us=[0-9.]*' | tr '\n' ' ')" \
		'BEGIN { if (ok == 0) { print s " j=" j " failed"; exit }
		printf "%s j=%s %scpu_us_per_cycle=%.1f switches_per_cycle=%.2f\n",
		    s, j, r, tc * 1000 / ok, cs / ok }'
}

for _ in $(seq "$ROUNDS"); do
	for server in "$@"; do
		one "$server"
	done
done
