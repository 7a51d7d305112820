#!/usr/bin/env bash
# bench/run.d/50-cli.sh — the cost of `recycle run`: a malloc-bound loop
# (bench/cli_malloc_loop.c) built with and without frame pointers, gcc's
# cc1 compiling src/gc.c, and real programs (sqlite3 running a script,
# python3 running a workload), each run plain, under `recycle run` and
# under heaptrack, side by side.  Median of 3 runs of CPU time (user+sys;
# the machine is shared, so wall time is printed too but is noisier;
# the three are interleaved run by run), the CPU model and load, the
# slowdown ratios, and the capture-file sizes.  recycle's time includes
# resolving the file's symbols (`recycle stats`, which the program's own
# run no longer pays); the "symbols" column is that part alone.
# Targets: recycle run <= 3x on the loop without frame pointers at 16
# frames, <= 2x on cc1 with symbol resolution <= 10% of the plain run;
# capture files no larger than heaptrack's.
set -u
build=${RCY_BENCH_BUILD:?set by bench/run.sh}
RECYCLE=$build/tools/recycle
LOOP=$build/bench/cli_malloc_loop
LOOP_NOFP=$build/bench/cli_malloc_loop_nofp
RUNS=${RCY_BENCH_RUNS:-3}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
for f in "$RECYCLE" "$LOOP" "$LOOP_NOFP"; do
    [ -x "$f" ] || { echo "50-cli: $f is missing (build with -DRCY_BUILD_BENCH=ON)"; exit 1; }
done
have_ht=1
command -v heaptrack >/dev/null || have_ht=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# once MODE NAME CMD... -> appends "cpu wall size symcpu" of one run to $name.MODE.runs
once() {
    local mode=$1 name=$2
    shift 2
    local size=0
    rm -f "$name".rcy "$work/$name".ht.* 2>/dev/null
    echo "0 0 0" >s.txt
    case $mode in
    plain) /usr/bin/time -f "%U %S %e" -o t.txt "$@" <"${STDIN:-/dev/null}" >/dev/null 2>&1 ;;
    recycle)
        /usr/bin/time -f "%U %S %e" -o r.txt "$RECYCLE" run -q -o "$name.rcy" -- "$@" \
            <"${STDIN:-/dev/null}" >/dev/null 2>&1
        /usr/bin/time -f "%U %S %e" -o s.txt "$RECYCLE" stats "$name.rcy" >/dev/null 2>&1
        # time(1) puts "Command exited with non-zero status N" first
        paste -d' ' <(tail -n 1 r.txt) <(tail -n 1 s.txt) |
            awk '{print $1 + $4, $2 + $5, $3 + $6}' >t.txt
        size=$(stat -c %s "$name.rcy" 2>/dev/null || echo 0)
        ;;
    heaptrack)
        /usr/bin/time -f "%U %S %e" -o t.txt heaptrack -o "$work/$name.ht" "$@" \
            <"${STDIN:-/dev/null}" >/dev/null 2>&1
        size=$(stat -c %s "$(ls "$work/$name".ht.* 2>/dev/null | head -1)" 2>/dev/null || echo 0)
        ;;
    esac
    echo "$(tail -n 1 t.txt | awk '{printf "%.3f %s", $1 + $2, $3}') $size" \
        "$(tail -n 1 s.txt | awk '{printf "%.3f", $1 + $2}')" >>"$name.$mode.runs"
}

# median NAME MODE -> "cpu wall size symcpu", each the median of the runs
median() {
    local f=$1.$2.runs c
    for c in 1 2 3 4; do
        awk -v c=$c '{print $c}' "$f" | sort -g | sed -n "$(((RUNS + 1) / 2))p"
    done | paste -sd' '
}

# "-" when a figure was not measured (heaptrack missing)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b > 0) printf "%.2fx", a / b; else print "-" }'; }

bench() {
    local name=$1 i ht=$have_ht
    shift
    local pc pw rc rw rs sc hc hw hs
    # RCY_BENCH_ONLY / RCY_BENCH_NO_HEAPTRACK: regexes of workload names to
    # run at all / to run without heaptrack (it takes minutes on cc1)
    [[ -n ${RCY_BENCH_ONLY:-} && ! $name =~ $RCY_BENCH_ONLY ]] && return
    [[ -n ${RCY_BENCH_NO_HEAPTRACK:-} && $name =~ $RCY_BENCH_NO_HEAPTRACK ]] && ht=0
    rm -f "$name".*.runs
    # interleaved: plain, recycle, heaptrack, then again, so a change in
    # the machine's load falls on all three alike
    for i in $(seq 1 "$RUNS"); do
        once plain "$name" "$@"
        once recycle "$name" "$@"
        [ $ht -eq 1 ] && once heaptrack "$name" "$@"
    done
    read -r pc pw _ _ <<<"$(median "$name" plain)"
    read -r rc rw rs sc <<<"$(median "$name" recycle)"
    if [ $ht -eq 1 ]; then
        read -r hc hw hs _ <<<"$(median "$name" heaptrack)"
    else
        hc=- hw=- hs=-
    fi
    printf '%-22s %8s/%-9s %8s/%-6s (%s) %8s (%s) %8s/%-6s (%s) %11s/%-11s\n' "$name" "$pc" "$pw" \
        "$rc" "$rw" "$(ratio "$rc" "$pc")" "$sc" \
        "$(awk -v a="$sc" -v b="$pc" 'BEGIN { printf "%.0f%%", (b > 0 ? 100 * a / b : 0) }')" \
        "$hc" "$hw" "$(ratio "$hc" "$pc")" "$rs" "$hs"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores;" \
    "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); median of $RUNS interleaved runs"
printf '%-22s %18s %26s %18s %26s %24s\n' "workload" "plain cpu/wall s" "recycle run cpu/wall (x)" \
    "symbols cpu (%)" "heaptrack cpu/wall (x)" "file recycle/heaptrack"
bench malloc-loop-3M "$LOOP" 3000000
bench malloc-loop-nofp-3M "$LOOP_NOFP" 3000000

if command -v gcc >/dev/null; then
    # cc1 itself (the driver only forks it), on the library's biggest file
    CC1=$(gcc -print-prog-name=cc1)
    gcc -E -I"$SRC/include" -I"$SRC/src" "$SRC/src/gc.c" -o gc.i
    bench cc1-gc.c "$CC1" -quiet -O2 gc.i -o /dev/null
fi

if command -v sqlite3 >/dev/null; then
    cat >bench.sql <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
INSERT INTO t SELECT x, printf('name-%d-%08x', x, x * 2654435761 % 4294967296), x * 1.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v) FROM t WHERE name LIKE 'name-1%';
SELECT substr(name, 1, 7) AS k, count(*) FROM t GROUP BY k ORDER BY 2 DESC LIMIT 3;
EOF
    STDIN=bench.sql bench sqlite3-200k-rows sqlite3 :memory:
fi

if [ -x /usr/bin/python3 ]; then
    cat >bench.py <<'EOF'
import json
d = {}
for i in range(200000):
    d[str(i)] = [i] * (i % 20)
s = json.dumps(d)
del d
parts = [s[i:i + 100] for i in range(0, len(s), 100)]
print(len(parts))
EOF
    PYTHONHASHSEED=0 bench python3-json /usr/bin/python3 bench.py
fi
[ $have_ht -eq 1 ] || echo "(heaptrack not installed: its columns are 0)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "recycle run: 16 frames per traceback (DWARF unwinding: cached CFA rules, libunwind behind), timeline every 10 ms;"
echo "symbols are resolved by the reader (recycle stats here), not in the traced program."
