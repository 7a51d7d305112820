#!/usr/bin/env bash
# tests/cli/leaks.sh — leak classes at exit and `recycle leaks`: the
# blocks of tests/cli/leak_target.c each land in their class (definitely
# lost, indirectly lost through a lost block, reachable from a global or a
# live thread's stack), suppressions from a file and the built-in list
# hide what they match, and on examples/leaky the real leak comes first
# with glibc's stdout buffer not listed.  Env: RECYCLE, LEAK_TARGET;
# wired by tests/cli.cmake.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${RECYCLE:?}" "${LEAK_TARGET:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
R() { "$RECYCLE" "$@"; }

# section TEXT TITLE : the lines of one class's section of `leaks` output
section() {
    printf '%s\n' "$1" | awk -v t="$2" '/^[A-Z][a-z]+ [a-z]+: / { on = index($0, t ": ") == 1 } on'
}
# sizes TEXT : the sizes of its groups, in order, one line
sizes() {
    printf '%s\n' "$1" | sed -n 's/^#[0-9]*: .*: size=\([0-9]*\) B, .*/\1/p' | tr '\n' ' '
}

R run -q -o live.rcy -- "$LEAK_TARGET" >/dev/null
R run -q -o joined.rcy -- "$LEAK_TARGET" joined >/dev/null
check "two runs of the crafted program" test -s live.rcy -a -s joined.rcy

all=$(R leaks --show all live.rcy)
expect_eq "definitely lost: the lost parent and one block of the lost cycle" \
    "4444 2222 " "$(sizes "$(section "$all" "Definitely lost")")"
expect_eq "indirectly lost: the block only the lost parent points to, the cycle's other block" \
    "4444 3333 " "$(sizes "$(section "$all" "Indirectly lost")")"
expect_eq "still reachable: the blocked thread's block and the global's" \
    "5555 1111 " "$(sizes "$(section "$all" "Still reachable")")"
expect_match "the indirect block's stack names its allocator" "lost_child  .*leak_target\.c:" \
    "$(section "$all" "Indirectly lost")"
expect_match "the thread's block is held_by_thread's" "held_by_thread  .*leak_target\.c:" \
    "$(section "$all" "Still reachable")"
first=$(printf '%s\n' "$all" | grep -m1 '^[A-Z]')
expect_match "definitely lost comes first" "^Definitely lost: 6666 B in 2 blocks" "$first"

ended=$(R leaks --show all joined.rcy)
expect_eq "once its thread has ended, the thread's block is definitely lost" \
    "5555 4444 2222 " "$(sizes "$(section "$ended" "Definitely lost")")"

expect_match "stats says how long the scan took" "^leak scan: +[0-9]+\.[0-9]{3} ms \(CPU [0-9]+\.[0-9]{3} ms\)" \
    "$(R stats live.rcy)"

for how in exit _exit; do
    R run -q -o "$how.rcy" -- "$LEAK_TARGET" "$how" >/dev/null
    expect_eq "ended by $how inside main: the block main's frame holds is reachable" \
        "6666 " "$(sizes "$(section "$(R leaks --show all "$how.rcy")" "Still reachable")")"
done

dflt=$(R leaks live.rcy)
expect_match "by default reachable blocks are counted, not listed" \
    "^Still reachable: 6666 B in 2 blocks from 2 call stacks \(--show reachable lists them\)" "$dflt"
expect_eq "by default the listed groups are the lost ones" "4444 2222 4444 3333 " "$(sizes "$dflt")"
expect_eq "--show reachable lists only those" "5555 1111 " "$(sizes "$(R leaks --show reachable live.rcy)")"

# ---- suppressions ---------------------------------------------------------
cat >supp.txt <<'SUPP'
# the lost cycle, by function name with a wildcard
leak:^cycle_*$
   leak:lost_child
SUPP
s=$(R leaks --suppressions supp.txt live.rcy)
expect_eq "a suppressions file hides the stacks it matches" "2222 " "$(sizes "$s")"
expect_match "and says what it hid" "^Suppressed: .* leak:\^cycle_\*\\$ \(8888 B\), leak:lost_child \(3333 B\)" "$s"
expect_match "an anchored pattern does not match inside a name" "^#.*size=2222 B" \
    "$(printf 'leak:^parent\n' >p2.txt && R leaks -S p2.txt live.rcy)"
expect_eq "a file name matches too" "" \
    "$(printf 'leak:leak_target.c\n' >f.txt && sizes "$(R leaks -S f.txt live.rcy)")"
printf 'race:foo\n' >bad.txt
R leaks -S bad.txt live.rcy >/dev/null 2>bad.err
expect_eq "a line of another kind is a usage error" 2 "$?"
expect_match "naming the line" "bad.txt:1: expected 'leak:PATTERN'" "$(cat bad.err)"
R leaks -S missing.txt live.rcy >/dev/null 2>&1
expect_eq "a missing suppressions file is exit 1" 1 "$?"

builtin=$(R leaks --show all live.rcy)
nob=$(R leaks --show all --no-builtin-suppressions live.rcy)
expect_match "the built-in list hides stdio's buffer" "built-in leak:_IO_file_doallocate \(4096 B\)" "$builtin"
check "which is not listed by default" test -z "$(printf '%s\n' "$builtin" | grep '_IO_file_doallocate  ')"
expect_match "--no-builtin-suppressions lists it" "_IO_file_doallocate  " "$nob"

# ---- examples/leaky ------------------------------------------------------
leaky=$(dirname "$RECYCLE")/../tests/leaky_traced # never sanitized
if [ -x "$leaky" ]; then
    line=$(grep -n 'the leak:' "$RCY_SOURCE_DIR/examples/leaky.c" | cut -d: -f1)
    R run -q -o leaky.rcy -- "$leaky" >/dev/null
    l=$(R leaks leaky.rcy)
    expect_match "leaky: the real leak is the first group" \
        "^#1: .*leaky\.c:$line: size=[0-9]+ B, count=26," "$(printf '%s\n' "$l" | grep -m1 '^#')"
    expect_match "leaky: all 26 copies are definitely lost" "^Definitely lost: [0-9]+ B in 26 blocks" "$l"
    check "leaky: glibc's stdout buffer is not listed" \
        test -z "$(printf '%s\n' "$l" | grep -E '_IO_file_doallocate  |filedoalloc')"
else
    skip "examples/leaky not built"
fi

finish
