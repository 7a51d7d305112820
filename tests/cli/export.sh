#!/usr/bin/env bash
# tests/cli/export.sh — the views of a run's peak and the exports:
# `recycle diff --peak`, `recycle export --format collapsed` (checked by
# tests/cli/collapsed_check.py) and `--format pprof` (read back by
# `go tool pprof` where Debian's golang-go is installed).  Env: RECYCLE,
# CLI_TARGET; wired by tests/cli.cmake.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${RECYCLE:?}" "${CLI_TARGET:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
R() { "$RECYCLE" "$@"; }

R run -q -o count.rcy -- "$CLI_TARGET" count >/dev/null
R run -q -o peak.rcy --interval 5 -- "$CLI_TARGET" peak >/dev/null
check "two runs to compare" test -s count.rcy -a -s peak.rcy

# ---- diff --peak ----------------------------------------------------------
# peak.rcy's peak holds an 8 MiB block that is freed before exit.
d=$(R diff --peak count.rcy peak.rcy)
expect_eq "diff --peak exits 0" 0 "$?"
expect_eq "diff --peak prints the differences header" "[ Top 10 differences ]" "$(printf '%s\n' "$d" | head -1)"
expect_match "diff --peak shows the 8 MiB block that was live at NEW's peak" \
    'cli_target\.c:[0-9]+: size=8192 KiB \(\+8192 KiB\), count=1 \(\+1\), average=8192 KiB' "$d"
plain=$(R diff count.rcy peak.rcy)
expect_match "plain diff compares what was left at exit" "^\[ Top 10 differences \]" "$plain"
check "and does not show the block" test -z "$(printf '%s\n' "$plain" | grep 'size=8192 KiB')"
expect_match "diff --peak the other way: the block shrinks away" \
    'cli_target\.c:[0-9]+: size=0 B \(-8192 KiB\), count=0 \(-1\)' "$(R diff --peak peak.rcy count.rcy)"

finish
