#!/usr/bin/env bash
# tests/cli/heaptrack.sh — `recycle run` against Debian's heaptrack on the
# same programs: a test program of ours, and programs no one here wrote
# (python3 running a workload, sqlite3 running a script, gcc's cc1 compiling
# a file).  The number of allocation calls and the peak heap must agree
# within 1%.  Skipped (exit 77) when heaptrack is missing and cannot be
# installed.
#
# heaptrack's own preload library is C++: in a program that does not use
# libstdc++.so itself, libstdc++'s start-up allocation (its 71 KiB
# exception-handling pool) is heaptrack's, not the program's, and is left
# out of heaptrack's numbers (heaptrack_summary.py --exclude-module).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${RECYCLE:?}" "${CLI_TARGET:?}"

if ! command -v heaptrack >/dev/null || ! command -v zstd >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && [ -x "${RCY_SOURCE_DIR:-}/scripts/deps.sh" ]; then
        "$RCY_SOURCE_DIR/scripts/deps.sh" tools >/dev/null 2>&1 || true
    fi
fi
if ! command -v heaptrack >/dev/null || ! command -v zstd >/dev/null; then
    echo "SKIP: heaptrack (and zstd) not installed: scripts/deps.sh tools installs them"
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

TOL=1 # percent

# compare NAME PROGRAM ARGS... (stdin from $STDIN when set)
compare() {
    local name=$1
    shift
    local in=${STDIN:-/dev/null}
    "$RECYCLE" run -q -n 8 -o "$name.rcy" -- "$@" <"$in" >/dev/null 2>&1
    local rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name: recycle run exited $rc"
        return
    fi
    heaptrack -o "$work/$name.ht" "$@" <"$in" >/dev/null 2>&1
    local ht
    ht=$(ls "$work/$name.ht".* 2>/dev/null | head -1)
    if [ -z "$ht" ]; then
        fail "$name: heaptrack wrote no data"
        return
    fi
    local prog exclude=()
    prog=$(command -v "$1")
    if ! ldd "$prog" 2>/dev/null | grep -q 'libstdc++\.so'; then
        exclude=(--exclude-module libstdc++.so)
    fi
    local hsum ours_allocs ours_peak ht_allocs ht_peak
    hsum=$(python3 "$here/heaptrack_summary.py" "${exclude[@]}" "$ht")
    ht_allocs=$(printf '%s\n' "$hsum" | awk '/^allocs/{print $2}')
    ht_peak=$(printf '%s\n' "$hsum" | awk '/^peak/{print $2}')
    local st
    st=$("$RECYCLE" stats "$name.rcy")
    ours_allocs=$(printf '%s\n' "$st" | awk '/^allocations:/{print $2}')
    ours_peak=$(printf '%s\n' "$st" | sed -n 's/^peak traced:.*(\([0-9]*\) B)$/\1/p')
    echo "# $name: allocation calls recycle=$ours_allocs heaptrack=$ht_allocs;" \
        "peak heap recycle=$ours_peak heaptrack=$ht_peak;" \
        "files recycle=$(stat -c %s "$name.rcy") heaptrack=$(stat -c %s "$ht") bytes"
    within_pct "$name: allocation calls" "${ours_allocs:-0}" "${ht_allocs:-0}" "$TOL"
    within_pct "$name: peak heap" "${ours_peak:-0}" "${ht_peak:-0}" "$TOL"
}

# 1. ours: malloc/realloc/free of many sizes, then a staircase of callocs
compare cli_target "$CLI_TARGET" loop 200000

# 2. python3 (the real binary, not a shim script): dicts, lists, strings
PY=/usr/bin/python3
if [ -x "$PY" ]; then
    cat >work.py <<'EOF'
import json
d = {}
for i in range(20000):
    d[str(i)] = [i] * (i % 50)
s = json.dumps(d)
del d
parts = [s[i:i + 100] for i in range(0, len(s), 100)]
print(len(parts), sum(len(p) for p in parts))
EOF
    PYTHONHASHSEED=0 compare python3 "$PY" work.py
else
    skip "python3: /usr/bin/python3 not installed"
fi

# 3. sqlite3 running a script
if command -v sqlite3 >/dev/null; then
    cat >work.sql <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, printf('name-%d-%08x', x, x * 2654435761 % 4294967296), x * 1.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v) FROM t WHERE name LIKE 'name-1%';
SELECT substr(name, 1, 7) AS k, count(*) FROM t GROUP BY k ORDER BY 2 DESC LIMIT 3;
EOF
    STDIN=work.sql compare sqlite3 sqlite3 :memory:
else
    skip "sqlite3: not installed (scripts/deps.sh tools installs it)"
fi

# 4. gcc compiling a file: cc1 itself, on a generated C file (the driver
# only forks it; heaptrack follows no child processes)
if command -v gcc >/dev/null; then
    CC1=$(gcc -print-prog-name=cc1)
    MA=$(gcc -print-multiarch 2>/dev/null)
    # One long function: the optimizer's own data (dominators, bitmaps,
    # sparse sets) is malloc'd, so the heap peaks at ~12 MiB in ~1 s.
    {
        echo 'int big(int *a, int n) {'
        echo '    int t = 0;'
        for i in $(seq 1 400); do
            echo "    if (a[$i % 64] > n + $i) t += a[($i * 7) % 64] * $i; else t ^= n - $i;"
        done
        echo '    return t;'
        echo '}'
    } >work.c
    compare cc1 "$CC1" -quiet ${MA:+-imultiarch "$MA"} -O2 work.c -o /dev/null
else
    skip "gcc: not installed"
fi

finish
