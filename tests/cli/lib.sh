# tests/cli/lib.sh — a tiny test harness for the shell tests of the recycle
# command: `check NAME COMMAND...` runs one assertion; `finish` prints the
# closing "N passed, N failed" line and sets the exit status.
PASSED=0
FAILED=0
SKIPPED=0

ok() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL - $1"
    shift
    [ $# -gt 0 ] && printf '       %s\n' "$@"
    return 0
}
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $1"; }

# check NAME CMD... : passes when CMD exits 0
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name" "command: $*"; fi
}

# expect_eq NAME WANT GOT
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "want: $2" "got:  $3"; fi
}

# expect_match NAME REGEX TEXT
expect_match() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else fail "$1" "want match: $2" "got: $(printf '%s' "$3" | head -c 2000)"; fi
}

# within_pct NAME A B PCT : |A-B| <= PCT% of max(A,B)
within_pct() {
    if python3 -c "import sys; a,b,p=float(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); sys.exit(0 if abs(a-b) <= p/100*max(abs(a),abs(b),1) else 1)" "$2" "$3" "$4"; then
        ok "$1 ($2 vs $3, within $4%)"
    else
        fail "$1" "ours: $2, heaptrack's: $3, not within $4%"
    fi
}

finish() {
    echo
    if [ "$SKIPPED" -gt 0 ]; then
        echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    else
        echo "$PASSED passed, $FAILED failed"
    fi
    [ "$FAILED" -eq 0 ]
}
