#!/bin/sh
# Installs what tcpchat needs when it is missing, then builds it in build/.
#   scripts/build.sh          build dependencies only
#   scripts/build.sh --test   also what the test suite uses (Check, nc, ncat,
#                             socat, valgrind, mandoc, iproute2), tests
#                             required
# Debian/Ubuntu: apt-get as root, through sudo otherwise. In CI (CI=true)
# warnings are errors. TC_JOBS=N limits ninja to N jobs.
set -eu
cd "$(dirname "$0")/.."

pkgs="meson ninja-build pkg-config gcc libc6-dev libreadline-dev"
# Without --test the tests come along only if Check is already there: no
# download is tried. With --test they must build (Check is installed).
tests="-Dtests=auto -Dwrap_mode=nodownload"
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs check netcat-openbsd ncat socat valgrind mandoc iproute2"
	tests="-Dtests=enabled -Dwrap_mode=default"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "build.sh: installing:$missing"
	if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo"; fi
	$as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq $missing
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ -f build/build.ninja ]; then
	meson configure build -Dwerror=$werror $tests
else
	meson setup build -Dwerror=$werror $tests
fi
ninja -C build ${TC_JOBS:+-j "$TC_JOBS"}
