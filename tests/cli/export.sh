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

# ---- export --format collapsed ------------------------------------------
bytes_of() { R stats "$2" | sed -n "s/^$1:.*(\([0-9]*\) B)\$/\1/p"; }
live=$(bytes_of "still allocated" count.rcy)
peak=$(bytes_of "peak traced" peak.rcy)
check "stats gives the totals to check against ($live, $peak)" test -n "$live" -a -n "$peak"
R export count.rcy >count.folded
expect_eq "export exits 0" 0 "$?"
check "collapsed: every line parses, stacks are distinct, bytes add up to stats' still allocated, the leak's stack is there" \
    python3 "$here/collapsed_check.py" count.folded "$live" "main;mode_count;leak_here"
R export --format collapsed --output out.folded count.rcy
check "--output writes the same text" cmp count.folded out.folded
R export --peak peak.rcy >peak.folded
check "collapsed --peak: bytes add up to stats' peak traced, the 9 MiB live at peak included" \
    python3 "$here/collapsed_check.py" peak.folded "$peak" "main;mode_peak"
python3 "$here/craft_snapshot.py" odd.rcy --function "$(printf 'a;b\nc')" --depth 2 --size 777
expect_eq "a ';' in a name becomes ':' and a control character '?'" "f1;a:b?c 777" "$(R export odd.rcy)"
python3 "$here/craft_snapshot.py" cut.rcy --depth 2 --total 9 --size 5
expect_eq "a stack whose oldest frames were not kept starts with [truncated]" \
    "[truncated];f1;make_thing 5" "$(R export cut.rcy)"
expect_match "leaks says how many older frames the stack lost" \
    "7 older frames not kept" "$(R leaks cut.rcy)"
R export -s alloc_objects odd.rcy >/dev/null 2>old.err
expect_eq "--sample alloc_objects of a file without counters (format 1.1) exits 1" 1 "$?"
expect_match "and says it has no counters" "has no per call site counters" "$(cat old.err)"
# ---- collapsed stacks of the per call site counters (--sample) -------------
allocs=$(R stats count.rcy | awk '/^allocations:/{print $2}')
R export --sample alloc_objects count.rcy >allocs.folded
check "collapsed --sample alloc_objects: the counts add up to stats' allocations ($allocs), freed blocks' stacks included" \
    python3 "$here/collapsed_check.py" allocs.folded "$allocs" "main;mode_count"
temps=$(R top --by temporary --limit 0 count.rcy | sed -n 's/.*, temporary=\([0-9]*\),.*/\1/p' | awk '{s+=$1} END{print s+0}')
R export -s temporary_objects count.rcy >temps.folded
check "collapsed --sample temporary_objects: the counts add up to top --by temporary's ($temps)" \
    python3 "$here/collapsed_check.py" temps.folded "$temps"
check "there are temporaries to count ($temps >= 1000)" test "$temps" -ge 1000
R export -s inuse_objects count.rcy >objects.folded
blocks_at_exit=$(R stats count.rcy | awk '/^blocks at exit:/{print $4}')
check "collapsed --sample inuse_objects: the counts add up to stats' blocks at exit ($blocks_at_exit)" \
    python3 "$here/collapsed_check.py" objects.folded "$blocks_at_exit"
R run -q -n 2 -o cut2.rcy -- "$CLI_TARGET" count >/dev/null
expect_match "collapsed --sample alloc_objects marks stacks cut at -n 2 as [truncated]" \
    '^\[truncated\];main;mode_count [0-9]+$' "$(R export -s alloc_objects cut2.rcy)"
R export --sample alloc_space --peak peak.rcy >/dev/null 2>peak.err
expect_eq "--sample alloc_space with --peak is a usage error (2)" 2 "$?"
expect_match "and says why" "cannot be used with --peak" "$(cat peak.err)"
R export --sample bytes count.rcy >/dev/null 2>smp.err
expect_eq "an unknown --sample is a usage error (2)" 2 "$?"
expect_match "and lists the sample types" "expected inuse_space, inuse_objects, alloc_space, alloc_objects or temporary_objects, got 'bytes'" "$(cat smp.err)"

R export --format svg count.rcy >/dev/null 2>fmt.err
expect_eq "an unknown format is a usage error (2)" 2 "$?"
expect_match "and says which formats there are" "expected collapsed or pprof, got 'svg'" "$(cat fmt.err)"
R export count.rcy count.rcy >/dev/null 2>&1
expect_eq "two files are a usage error (2)" 2 "$?"
R export missing.rcy >/dev/null 2>&1
expect_eq "a missing file exits 1" 1 "$?"

# ---- export --format pprof ------------------------------------------------
if ! R export --format pprof --output count.pb.gz count.rcy 2>pprof.err; then
    if grep -q "built without protobuf-c" pprof.err; then
        skip "pprof: this build has no protobuf-c ($(cat pprof.err))"
        finish
        exit $?
    fi
    fail "export --format pprof" "$(cat pprof.err)"
fi
expect_eq "the pprof file is gzip" "1f8b" "$(head -c 2 count.pb.gz | od -An -tx1 | tr -d ' \n')"
R export -f pprof count.rcy >piped.pb.gz
check "pprof to a pipe: the same bytes" cmp count.pb.gz piped.pb.gz
R export -f pprof -p -o peak.pb.gz peak.rcy
check "pprof --peak written" test -s peak.pb.gz
if command -v go >/dev/null 2>&1 && go tool pprof -h >/dev/null 2>&1; then
    export HOME="$work" GOCACHE="$work/gocache"
    top=$(go tool pprof -top -unit=B count.pb.gz 2>&1)
    printf '%s\n' "$top" | sed 's/^/    pprof: /' | head -12
    expect_match "go tool pprof: inuse_space is the default type" "^Type: inuse_space" "$top"
    expect_match "go tool pprof: the total is stats' still allocated" "of ${live}B total" "$top"
    leak_fn=$(R leaks --show all --limit 1 count.rcy | awk '/^#1:/{getline; print $1; exit}')
    first=$(printf '%s\n' "$top" | awk '/flat%/{getline; print $NF; exit}')
    expect_eq "go tool pprof: the top function is recycle leaks' first" "$leak_fn" "$first"
    line_of_top=$(R top --limit 1 count.rcy | sed -n '2s/^.*\/\([^/]*:[0-9]*\): size=.*/\1/p')
    lines=$(go tool pprof -top -lines count.pb.gz 2>&1)
    expect_match "go tool pprof -lines: the top line is recycle top's ($line_of_top)" \
        "^ +[0-9.]+k?B .* $leak_fn .*/$line_of_top\$" "$(printf '%s\n' "$lines" | awk '/flat%/{getline; print; exit}')"
    blocks=$(R stats count.rcy | awk '/^blocks at exit:/{print $4}')
    expect_match "go tool pprof: inuse_objects adds up to the blocks at exit ($blocks)" \
        "of $blocks total" "$(go tool pprof -top -sample_index=inuse_objects count.pb.gz 2>&1)"
    bid=$(readelf -n "$CLI_TARGET" 2>/dev/null | awk '/Build ID:/{print $3; exit}')
    maps=$(go tool pprof -raw count.pb.gz 2>&1 | sed -n '/^Mappings/,$p')
    expect_match "go tool pprof -raw: the first mapping is the program, with its build-id ($bid)" \
        "^1: 0x[0-9a-f]+/0x[0-9a-f]+/0x0 .*/cli_target ${bid:-no-build-id} " "$maps"
    raw=$(go tool pprof -raw count.pb.gz 2>&1)
    expect_match "go tool pprof -raw: five sample types, inuse_space the default" \
        "^inuse_space/bytes\[dflt\] inuse_objects/count alloc_space/bytes alloc_objects/count temporary_objects/count\$" "$raw"
    expect_match "go tool pprof: alloc_objects adds up to stats' allocations ($allocs)" \
        "of $allocs total" "$(go tool pprof -top -sample_index=alloc_objects count.pb.gz 2>&1)"
    # the top line by each counter is recycle top --by's first line, with its figure
    top_count=$(R top --by count --limit 1 count.rcy | sed -n '2p')
    want_line=$(printf '%s\n' "$top_count" | sed -n 's/^.*\/\([^/]*:[0-9]*\): allocations=.*/\1/p')
    want_n=$(printf '%s\n' "$top_count" | sed -n 's/.*allocations=\([0-9]*\),.*/\1/p')
    first_of() { go tool pprof -top -lines -sample_index="$1" ${2:+-unit=$2} count.pb.gz 2>&1 | awk '/flat%/{getline; print; exit}'; }
    expect_match "go tool pprof -sample_index=alloc_objects -lines: the top line is top --by count's ($want_line, $want_n)" \
        "^ +$want_n +[0-9.]+% .*/$want_line\$" "$(first_of alloc_objects)"
    top_alloc=$(R top --by allocated --limit 1 count.rcy | sed -n '2p')
    want_line=$(printf '%s\n' "$top_alloc" | sed -n 's/^.*\/\([^/]*:[0-9]*\): allocations=.*/\1/p')
    want_sz=$(printf '%s\n' "$top_alloc" | sed -n 's/.*allocated=\([^,]*\),.*/\1/p')
    got=$(first_of alloc_space B)
    got_sz=$(python3 -c 'import sys, tracemalloc; print(tracemalloc._format_size(int(sys.argv[1].rstrip("B")), False))' "$(printf '%s\n' "$got" | awk '{print $1}')")
    expect_match "go tool pprof -sample_index=alloc_space -lines: the top line is top --by allocated's ($want_line)" \
        "/$want_line\$" "$got"
    expect_eq "and its bytes are top --by allocated's allocated=" "$want_sz" "$got_sz"
    top_temp=$(R top --by temporary --limit 1 count.rcy | sed -n '2p')
    want_line=$(printf '%s\n' "$top_temp" | sed -n 's/^.*\/\([^/]*:[0-9]*\): allocations=.*/\1/p')
    want_n=$(printf '%s\n' "$top_temp" | sed -n 's/.*temporary=\([0-9]*\),.*/\1/p')
    expect_match "go tool pprof -sample_index=temporary_objects -lines: the top line is top --by temporary's ($want_line, $want_n)" \
        "^ +$want_n +[0-9.]+% .*/$want_line\$" "$(first_of temporary_objects)"
    R export -f pprof -s alloc_space -o alloc.pb.gz count.rcy
    expect_match "export -f pprof --sample alloc_space makes it the default type" "^Type: alloc_space" \
        "$(go tool pprof -top alloc.pb.gz 2>&1)"
    expect_match "go tool pprof --peak: only the inuse sample types (the counters are not the peak's)" \
        "^inuse_space/bytes\[dflt\] inuse_objects/count\$" "$(go tool pprof -raw peak.pb.gz 2>&1)"
    R export -f pprof -o odd.pb.gz odd.rcy
    expect_match "go tool pprof reads a file whose names hold ';' and a newline, kept as they are" \
        "777B +100% +100% +777B +100% +a;b\$" "$(go tool pprof -top -unit=B odd.pb.gz 2>&1)"
    expect_match "go tool pprof --peak: the total is stats' peak traced" "of ${peak}B total" \
        "$(go tool pprof -top -unit=B peak.pb.gz 2>&1)"
else
    skip "go tool pprof: Debian's golang-go is not installed (scripts/deps.sh test)"
fi

finish
