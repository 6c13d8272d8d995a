#!/bin/bash
# Checks the README's first command the way a newcomer meets it: in a fresh
# clone of this repository (its committed HEAD), with Check hidden from
# pkg-config, scripts/build.sh must build both programs and leave the tests
# out, and the server must listen on the default port 9999 and welcome a
# client. Every step is bounded in time; the server is stopped by its PID.
#   scripts/newcomer-check.sh
# Needs what scripts/build.sh installs, and port 9999 free.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
port=9999
work=$(mktemp -d)
server=""

cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "newcomer-check: $*" >&2
	exit 1
}

# Whether something already listens on TCP port $1 on this machine.
port_busy() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Htln "sport = :$1")" ]
	else
		timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
	fi
}

# A pkg-config directory with every .pc file of the system but Check's.
hide_check() {
	local dir=$1 d pc
	mkdir -p "$dir"
	IFS=: read -ra dirs <<<"$(pkg-config --variable pc_path pkg-config)"
	for d in "${dirs[@]}"; do
		for pc in "$d"/*.pc; do
			[ -e "$pc" ] || continue
			case $(basename "$pc") in
			check.pc) ;;
			*) ln -sf "$pc" "$dir/" ;;
			esac
		done
	done
}

if port_busy "$port"; then
	fail "port $port is already in use here (ss -tlnp 'sport = :$port' says by whom); the check needs it free"
fi

echo "newcomer-check: a fresh clone of $repo"
git clone -q "$repo" "$work/tcpchat"
hide_check "$work/pkgconfig"
cd "$work/tcpchat"

echo "newcomer-check: scripts/build.sh with Check hidden"
if ! PKG_CONFIG_LIBDIR="$work/pkgconfig" TC_JOBS=2 timeout 600 \
	./scripts/build.sh >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	fail "scripts/build.sh failed without Check"
fi
grep -E '^ +tests +: no' "$work/build.log" ||
	fail "the build did not say that it left the tests out: $(cat "$work/build.log")"
[ -x build/src/tcpchatd ] && [ -x build/src/tcpchat ] ||
	fail "the build made no tcpchatd or tcpchat"

echo "newcomer-check: ./build/src/tcpchatd"
mkfifo "$work/err"
./build/src/tcpchatd </dev/null >/dev/null 2>"$work/err" &
server=$!
exec 3<"$work/err"
IFS= read -r -t 10 first <&3 || fail "tcpchatd said nothing in 10 s"
echo "$first"
case $first in
"tcpchatd: listening on "*":$port") ;;
*) fail "tcpchatd's first line does not name port $port: $first" ;;
esac

out=$(printf 'exit\n' | timeout 10 ./build/src/tcpchat 127.0.0.1 2>&1) ||
	fail "tcpchat 127.0.0.1 failed ($?): $out"
grep -q '^\* welcome, you are ' <<<"$out" ||
	fail "tcpchat got no welcome line: $out"
echo "$out" | grep '^\* welcome'

# SIGTERM: a graceful shutdown, 10 s at most.
kill "$server"
for ((i = 0; i < 100; i++)); do
	kill -0 "$server" 2>/dev/null || break
	read -r -t 0.1 <&3 || true # what it says while it shuts down
done
kill -0 "$server" 2>/dev/null && fail "tcpchatd still runs 10 s after SIGTERM"
status=0
wait "$server" || status=$?
server=""
[ "$status" = 0 ] || fail "tcpchatd exited with status $status after SIGTERM"
echo "newcomer-check: ok"
