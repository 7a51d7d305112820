#!/usr/bin/env bash
# bench/run.d/35-gc-pause.sh — pauses of automatic collections
# (bench/gc_pause.c) while a program builds and churns a heap of small
# structures: recycle stop-the-world (CPython 3.13's generations, the
# default), recycle incremental (rcy_gc_set_incremental) and CPython's own
# collector on the same program (bench/gc_pause_peer.py); then the
# incremental collector's worst case, one connected structure of all the
# objects.  Pauses are thread CPU time (the machine is shared), median
# over RUNS runs of each run's median, p99 and max; "examined" is the
# biggest collection's object count (load-independent).  The three run
# interleaved.  Env: RCY_BENCH_BUILD (set by bench/run.sh), RCY_BENCH_RUNS
# (3), GC_PAUSE_MILLIONS (10: objects in the heap, in millions).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
b="${RCY_BENCH_BUILD:?run through bench/run.sh}/bench"
runs=${RCY_BENCH_RUNS:-3}
m=${GC_PAUSE_MILLIONS:-10}
out=""
for ((r = 0; r < runs; r++)); do
    out+=$(echo; "$b/gc_pause" stw small "$m" | sed 's/^/stw /')
    out+=$(echo; "$b/gc_pause" incr small "$m" | sed 's/^/incr /')
    out+=$(echo; python3 "$here/gc_pause_peer.py" small "$m" | sed 's/^/python /')
    out+=$(echo; "$b/gc_pause" incr one "$m" | sed 's/^/one /')
done
python3 - "$out" "$m" "$runs" <<'PY'
import platform, statistics, sys
vals = {}
for line in sys.argv[1].splitlines():
    if line.strip():
        who, name, v = line.split()
        vals.setdefault((who, name), []).append(float(v))
med = lambda who, name: statistics.median(vals.get((who, name), [float("nan")]))
print("gc pauses, %s M objects, thread CPU ms, median of %s runs" % (sys.argv[2], sys.argv[3]))
print("%-34s %10s %10s %10s %10s %10s" % ("", "median", "p99", "max", "examined", "total s"))
for who, label in [("stw", "recycle stop-the-world (default)"),
                   ("incr", "recycle incremental"),
                   ("python", "CPython %s" % platform.python_version()),
                   ("one", "recycle incremental, one ring")]:
    ex = med(who, "examined_max")
    print("%-34s %10.3f %10.3f %10.3f %10s %10.2f" % (
        label, med(who, "pause_median_ms"), med(who, "pause_p99_ms"), med(who, "pause_max_ms"),
        "-" if ex != ex else "%d" % ex, med(who, "total_s")))
print("target: incremental max pause <= 2 ms; throughput (total s) within 10% of stop-the-world")
PY
