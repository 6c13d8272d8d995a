#!/bin/sh
# Checks the manual pages given as arguments with mandoc's linter (errors
# and warnings, not style hints) and with groff's warnings, whichever is
# installed; exit 77 (a skip) when neither is.
#   man-lint.sh PAGE...
set -u

checked=""
status=0
if command -v mandoc >/dev/null 2>&1; then
	checked="mandoc"
	mandoc -T lint -W warning "$@" || status=1
fi
if command -v groff >/dev/null 2>&1; then
	checked="$checked groff"
	# groff warns on stderr and exits 0: any output is a failure.
	out=$(groff -ww -mandoc -z "$@" 2>&1)
	if [ -n "$out" ]; then
		printf '%s\n' "$out"
		status=1
	fi
fi
if [ -z "$checked" ]; then
	echo "skip: neither mandoc nor groff is installed"
	exit 77
fi
[ "$status" = 0 ] && echo "ok:$checked"
exit "$status"
