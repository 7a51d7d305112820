#!/usr/bin/env bash
# tests/cli/real_programs.sh — `recycle run` on programs no one here wrote,
# as Debian ships them (no frame pointers, stripped, PIE): GNU as, gcc -c,
# python3 with PYTHONMALLOC=malloc, git log -p, sqlite3 running a script, a
# threaded sort and xz, a pipeline through sh -c, openssl/curl/ssh printing
# their version (they crashed at exit while symbols were resolved inside
# them).  For each: exit status and output as without recycle, no crash, a
# snapshot written; and, for single-process programs, the allocation count
# equals what an independent counting preload (count_preload.c) sees in a
# run with the same environment; for sqlite3 and xz, the functions holding
# the most memory at exit agree with heaptrack's on the same program (when
# heaptrack is installed; heaptrack_summary.py reads its file).  A program that is not installed is
# skipped (scripts/deps.sh tools installs them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${RECYCLE:?}" "${COUNT_PRELOAD:?}" "${NOFP_CHAIN:?}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# The variables recycle run sets, so that the counting run has the same
# environment (python3 builds os.environ: each variable is allocations).
same_env=(RCY_RUN_OUTPUT="$work/x.rcy" RCY_RUN_MAIN_PID=1 RCY_RUN_FRAMES=16
    RCY_RUN_INTERVAL_MS=10 RCY_RUN_START_NS=1 RCY_RUN_PRELOAD=/x)

# run_both NAME CMD... : the program alone (stdout, stderr, status), then
# under recycle run; both must agree.  Leaves NAME.rcy (+ NAME.PID.rcy).
run_both() {
    local name=$1
    shift
    "$@" <"${STDIN:-/dev/null}" >"$name.out0" 2>"$name.err0"
    local rc0=$?
    "$RECYCLE" run -q -o "$work/$name.rcy" -- "$@" <"${STDIN:-/dev/null}" >"$name.out1" \
        2>"$name.err1"
    local rc1=$?
    expect_eq "$name: exit status unchanged" "$rc0" "$rc1"
    if cmp -s "$name.out0" "$name.out1"; then ok "$name: output unchanged"; else
        fail "$name: output differs" "$(diff "$name.out0" "$name.out1" | head -5)"
    fi
    if grep -qiE 'segmentation|internal error|killed by signal|recycle' "$name.err1" &&
        ! grep -qiE 'segmentation|internal error' "$name.err0"; then
        fail "$name: crash or recycle error" "$(head -5 "$name.err1")"
    else
        ok "$name: no crash"
    fi
    check "$name: snapshot written" test -s "$name.rcy"
}

# same_count NAME CMD... : allocation count of recycle's file vs the
# counting preload's, for a program that runs as one process.
same_count() {
    local name=$1
    shift
    rm -f "$work/count.txt"
    env COUNT_OUT="$work/count.txt" "${same_env[@]}" LD_PRELOAD="$COUNT_PRELOAD" "$@" \
        <"${STDIN:-/dev/null}" >/dev/null 2>&1
    local want got
    want=$(awk '{s += $2} END {print s + 0}' "$work/count.txt" 2>/dev/null)
    got=$("$RECYCLE" stats "$name.rcy" | awk '/^allocations:/{print $2}')
    # the per call site counters add up to the same total
    sites=$("$RECYCLE" top --by count --limit 0 "$name.rcy" |
        sed -n 's/.*: allocations=\([0-9]*\), allocated=.*/\1/p' | awk '{s += $1} END {print s + 0}')
    expect_eq "$name: per call site allocation counts add up to the file's total ($sites)" "$got" "$sites"
    # within 0.1%: python3 differs by one allocation between the two runs
    if awk -v a="${got:-0}" -v b="${want:-0}" 'BEGIN { d = a - b; if (d < 0) d = -d;
        exit !(b > 0 && d <= b / 1000) }'; then
        ok "$name: allocation count $got, the counting preload's $want"
    else
        fail "$name: allocation count $got, the counting preload's ${want:-none}"
    fi
}

# named_top NAME : the biggest allocation site has a name, not "?:0"
named_top() {
    local top
    top=$("$RECYCLE" top -l 5 "$1.rcy" | sed -n 2p)
    if [ -n "$top" ] && ! printf '%s' "$top" | grep -q '^?:0'; then ok "$1: top site named ($top)"
    else fail "$1: top site unnamed" "$top"; fi
}

real() { command -v "$1" >/dev/null 2>&1; }

# leaked_functions FILE.rcy : "FUNCTION BYTES" per function, biggest first,
# from recycle leaks (every class, nothing suppressed): each block counts for the innermost frame of its
# stack that has a name (not "??" or "module+0xOFFSET"), symbol versions
# dropped -- as heaptrack_summary.py --top-leaked counts heaptrack's.
leaked_functions() {
    "$RECYCLE" leaks --show all --no-builtin-suppressions "$1" | awk '
        function bytes(v, u) {
            return v * (u == "KiB" ? 1024 : u == "MiB" ? 1048576 : u == "GiB" ? 1073741824 : 1)
        }
        /^#[0-9]+: / {
            match($0, /size=[0-9.]+ [KMG]?i?B/)
            split(substr($0, RSTART + 5, RLENGTH - 5), a, " ")
            size = bytes(a[1], a[2]); named = 0; next
        }
        /^    / && !named && $1 != "??" && $1 !~ /\+0x[0-9a-f]+$/ {
            name = $1; sub(/@.*/, "", name)
            sum[name] += size; named = 1
        }
        END { for (n in sum) printf "%s %d\n", n, sum[n] }' | sort -k2,2nr -k1,1
}

# same_top_leaks NAME CMD... : recycle's top three functions by bytes
# still allocated at exit (from NAME.rcy) are among heaptrack's top five on
# a run of the same command, and heaptrack's top one among recycle's three.
same_top_leaks() {
    local name=$1
    shift
    if ! real heaptrack || ! real zstd; then
        skip "$name: top functions against heaptrack's: heaptrack/zstd not installed" \
            "(scripts/deps.sh tools installs them)"
        return
    fi
    heaptrack -o "$work/$name.ht" "$@" <"${STDIN:-/dev/null}" >/dev/null 2>&1
    local ht exclude=()
    ht=$(ls "$work/$name.ht".* 2>/dev/null | head -1)
    if [ -z "$ht" ]; then
        fail "$name: heaptrack wrote no data"
        return
    fi
    # heaptrack's own preload is C++: libstdc++'s start-up pool is its own
    ldd "$(command -v "$1")" 2>/dev/null | grep -q 'libstdc++\.so' ||
        exclude=(--exclude-module libstdc++.so)
    local theirs ours
    theirs=$(python3 "$here/heaptrack_summary.py" "${exclude[@]}" --top-leaked 5 "$ht" |
        awk '/^leaked /{print $2}')
    ours=$(leaked_functions "$name.rcy" | head -3 | awk '{print $1}')
    local f missing=""
    for f in $ours; do
        printf '%s\n' "$theirs" | grep -qxF -- "$f" || missing="$missing $f"
    done
    if [ -n "$ours" ] && [ -z "$missing" ] &&
        printf '%s\n' "$ours" | grep -qxF -- "$(printf '%s\n' "$theirs" | head -1)"; then
        ok "$name: top functions at exit agree with heaptrack's ($(echo $ours))"
    else
        fail "$name: top functions at exit differ from heaptrack's" \
            "recycle's top 3: $(echo $ours)" "heaptrack's top 5: $(echo $theirs)"
    fi
}

# Code without frame pointers between main and malloc: the stack is the
# DWARF unwinder's (inner, outer, main), not a frame-pointer walk's
# (inner, then main's caller).
"$RECYCLE" run -q -o "$work/nofp.rcy" -- "$NOFP_CHAIN" >/dev/null
src=$RCY_SOURCE_DIR/tests/cli/nofp_chain.c
in_line=$(grep -n 'void \*p = malloc(n);' "$src" | cut -d: -f1)
call_line=$(grep -n 'the call of the inlined function' "$src" | cut -d: -f1)
leaks=$("$RECYCLE" leaks "$work/nofp.rcy")
expect_match "inlined code: the inlined function at the malloc line" \
    "inlined_alloc +.*nofp_chain.c:$in_line\$" "$leaks"
expect_match "inlined code: main at the line of the inlined call" \
    "main +.*nofp_chain.c:$call_line\$" "$leaks"
tb=$("$RECYCLE" top --by traceback -l 2 "$work/nofp.rcy" | sed -n '/size=6250/,$p')
n_ours=$(printf '%s\n' "$tb" | grep -c 'File ".*nofp_chain\(_calls\)\?.c"')
expect_eq "no frame pointers: three frames in nofp_chain.c (inner, outer, main)" 3 "$n_ours"

if real as && real gcc; then
    printf 'int f(int x) { return x * 3; }\nint main(void) { return f(2) - 6; }\n' >x.c
    gcc -O2 -S x.c -o x.s
    run_both as as -o as.o x.s
    same_count as as -o as.o x.s
    named_top as
    # gcc forks cc1 and as: every process writes its file, none crashes
    run_both gcc gcc -O2 -c x.c -o gcc.o
    n=$(ls gcc.*.rcy 2>/dev/null | wc -l)
    check "gcc: cc1 and as wrote their files ($n)" test "$n" -ge 2
    # the reader resolves the symbols, with a progress bar on a terminal
    if real script; then
        bar=$(RCY_PROGRESS_DELAY_MS=0 script -qc "'$RECYCLE' top -l 1 $(ls -S gcc.*.rcy | head -1)" \
            /dev/null | tr '\r' '\n')
        expect_match "a terminal shows the symbols' progress" 'recycle top: symbols' "$bar"
    fi
else
    skip "as/gcc: not installed"
fi

if [ -x /usr/bin/python3 ]; then
    export PYTHONHASHSEED=0 PYTHONMALLOC=malloc
    py='import json; d = {str(i): [i] * (i % 7) for i in range(3000)}; print(len(json.dumps(d)))'
    run_both python3 /usr/bin/python3 -c "$py"
    same_count python3 /usr/bin/python3 -c "$py"
    named_top python3
    unset PYTHONMALLOC
    # pymalloc hides most objects: said once, with the way to see them
    "$RECYCLE" run -q -o "$work/pym.rcy" -- /usr/bin/python3 -c 'print(1)' 2>pym.err >/dev/null
    expect_eq "python3 with pymalloc: one warning naming PYTHONMALLOC=malloc" 1 \
        "$(grep -c 'PYTHONMALLOC=malloc' pym.err)"
    expect_match "python3: peak RSS beside the traced peak" '^peak RSS: +[0-9.]+ [KM]iB' \
        "$("$RECYCLE" stats "$work/pym.rcy")"
else
    skip "python3: /usr/bin/python3 not installed"
fi

if real git && [ -d "${RCY_SOURCE_DIR:-}/.git" ] || [ -f "${RCY_SOURCE_DIR:-}/.git" ]; then
    run_both git git -C "$RCY_SOURCE_DIR" --no-pager log -p -n 20
    same_count git git -C "$RCY_SOURCE_DIR" --no-pager log -p -n 20
    named_top git
else
    skip "git: not installed or no repository"
fi

if real sqlite3; then
    cat >t.sql <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000)
INSERT INTO t SELECT x, printf('n%d', x) FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*) FROM t WHERE name LIKE 'n1%';
SQL
    run_both sqlite3 sqlite3 :memory: ".read t.sql"
    same_count sqlite3 sqlite3 :memory: ".read t.sql"
    named_top sqlite3
    same_top_leaks sqlite3 sqlite3 :memory: ".read t.sql"
else
    skip "sqlite3: not installed (scripts/deps.sh tools installs it)"
fi

# threads: sort's and xz's workers allocate on their own stacks
seq 1 200000 | awk '{print ($1 * 7919) % 200003}' >big.txt
if real sort; then
    run_both sort sort --parallel=2 -S 1M big.txt
    same_count sort sort --parallel=2 -S 1M big.txt
fi
if real xz; then
    run_both xz xz -T2 -c big.txt
    same_count xz xz -T2 -c big.txt
    same_top_leaks xz xz -T2 -c big.txt
fi

# fork and exec through a shell: every process traced, none crashes
run_both pipeline sh -c 'seq 1 20000 | sort -r | head -3'
n=$(ls pipeline.*.rcy 2>/dev/null | wc -l)
check "pipeline: the other processes wrote their files ($n)" test "$n" -ge 2

# libcrypto's atexit teardown ran before symbols were resolved in the
# program, and libdw's debuginfod client then touched a freed lock
real openssl && run_both openssl openssl version
real curl && run_both curl curl --version
real ssh && run_both ssh ssh -V

finish
