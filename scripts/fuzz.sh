#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in
# build-fuzz/ and runs each for SECONDS (default 60) on a copy of its seed
# corpus, tests/fuzz/corpus/NAME/; fails if any target finds a crash, a
# leak or a broken invariant. The corpus in the tree is never written to:
# what a run discovers stays in a temporary directory, and a crashing input
# is kept in build-fuzz/fuzz-artifacts/.
#   scripts/fuzz.sh [SECONDS]
# Installs clang-14 and its runtimes (libclang-rt-14-dev) with apt-get when
# missing, as root or through sudo. In CI (CI=true) warnings are errors.
set -eu
cd "$(dirname "$0")/.."

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*)
	echo "usage: scripts/fuzz.sh [SECONDS]" >&2
	exit 2
	;;
esac

pkgs="meson ninja-build pkg-config clang-14 libclang-rt-14-dev libc6-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "fuzz.sh: installing:$missing"
	if [ "$(id -u)" = 0 ]; then as_root=""; else as_root="sudo"; fi
	$as_root apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq $missing
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ ! -f build-fuzz/build.ninja ]; then
	cc=$(command -v clang || command -v clang-14)
	# The fuzz targets need no Check: leave the tests out where we can.
	no_tests=""
	grep -q "option('tests'" meson_options.txt && no_tests="-Dtests=disabled"
	CC="$cc" meson setup build-fuzz -Dfuzz=true -Dwerror=$werror $no_tests
else
	meson configure build-fuzz -Dfuzz=true -Dwerror=$werror
fi

targets=""
for src in tests/fuzz/fuzz_*.c; do
	targets="$targets tests/fuzz/$(basename "$src" .c)"
done
ninja -C build-fuzz -j2 $targets

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
artifacts="$PWD/build-fuzz/fuzz-artifacts"
mkdir -p "$artifacts"
failed=""
for t in $targets; do
	name=$(basename "$t")
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	mkdir -p "$work/$name"
	[ -d "$seeds" ] && cp "$seeds"/* "$work/$name"/
	echo "== $name: ${seconds}s on a copy of $seeds"
	# -close_fd_mask=1: the target's own stdout is noise; errors stay.
	if ! "build-fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
		-close_fd_mask=1 -artifact_prefix="$artifacts/$name-" \
		"$work/$name" >"$work/$name.log" 2>&1; then
		tail -n 60 "$work/$name.log" >&2
		echo "fuzz.sh: $name failed; its input is in $artifacts/" >&2
		failed="$failed $name"
		continue
	fi
	# libFuzzer's last status line: executions, coverage, corpus size.
	grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$name.log" | tail -n 1
	grep -E 'stat::number_of_executed_units' "$work/$name.log"
done
if [ -n "$failed" ]; then
	echo "fuzz.sh: failed:$failed" >&2
	exit 1
fi
echo "fuzz.sh: every target ran ${seconds}s without a failure"
