#!/bin/bash
# End-to-end test of the lines that say how to join: tcpchatd started in a
# network namespace of our own, first with only loopback up, then with a
# veth interface holding known addresses, which a client then joins by.
# Exit 77 (a skip) where unprivileged namespaces or veth are not allowed,
# or ip(8) is missing.
#   e2e_join.sh TCPCHATD TCPCHAT
set -euo pipefail

tcpchatd=$1
tcpchat=$2

if [ "${TC_IN_NETNS:-}" != 1 ]; then
	if ! command -v ip >/dev/null 2>&1; then
		echo "skip: no ip(8) here (iproute2)"
		exit 77
	fi
	if ! unshare -rn true 2>/dev/null; then
		echo "skip: unshare -rn is not permitted here"
		exit 77
	fi
	TC_IN_NETNS=1 exec unshare -rn "$0" "$@"
fi

dir=$(mktemp -d)
server=""
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

# Starts tcpchatd on the default port and reads its first n stderr lines
# (10 s at most for each) into $dir/lines.
start_server() {
	local n=$1 line
	rm -f "$dir/err" "$dir/lines"
	mkfifo "$dir/err"
	"$tcpchatd" -q 2>"$dir/err" </dev/null >/dev/null &
	server=$!
	exec 3<"$dir/err"
	for ((i = 0; i < n; i++)); do
		IFS= read -r -t 10 line <&3 || fail "tcpchatd said only: $(cat "$dir/lines" 2>/dev/null)"
		printf '%s\n' "$line" >>"$dir/lines"
	done
}

stop_server() {
	kill "$server"
	wait "$server" || fail "tcpchatd exited with status $?"
	server=""
	exec 3<&-
}

expect_lines() {
	local want
	want=$(printf '%s\n' "$@")
	[ "$(cat "$dir/lines")" = "$want" ] ||
		fail "expected:"$'\n'"$want"$'\n'"got:"$'\n'"$(cat "$dir/lines")"
}

ip link set lo up

echo "== only loopback is up"
start_server 2
stop_server
expect_lines "tcpchatd: listening on [::]:9999" \
	"tcpchatd: only this machine can join (no interface is up with a global address): tcpchat 127.0.0.1"

echo "== a veth interface with an IPv4 and an IPv6 address"
if ! ip link add tcv0 type veth peer name tcv1 2>/dev/null; then
	echo "skip: no veth interfaces here"
	exit 77
fi
ip addr add 198.51.100.7/24 dev tcv0
ip addr add 2001:db8:5::7/64 dev tcv0 nodad
ip link set tcv0 up
ip link set tcv1 up # up too, with only an IPv6 link-local address
start_server 3
expect_lines "tcpchatd: listening on [::]:9999" \
	"tcpchatd: join with: tcpchat 198.51.100.7" \
	"tcpchatd: join with: tcpchat 2001:db8:5::7"

echo "== a client joins with what the server said"
for addr in 198.51.100.7 2001:db8:5::7; do
	out=$(printf 'exit\n' | timeout 10 "$tcpchat" "$addr") ||
		fail "tcpchat $addr: status $?"
	grep -q '^\* welcome, you are ' <<<"$out" ||
		fail "tcpchat $addr got no welcome: $out"
done
stop_server
echo "ok"
