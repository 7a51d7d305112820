#!/usr/bin/env bash
# tracemalloc: nanoseconds added per traced allocation on binary_trees
# (untraced vs 1 frame vs 16 frames), and tracer memory per live traced
# block; anchored side by side by CPython's tracemalloc on the same
# program in Python (1 and 25 frames), in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
b="${RCY_BENCH_BUILD:?}/bench"
depth=${RCY_BENCH_TRACE_DEPTH:-18}
runs=${RCY_BENCH_RUNS:-3}
# CPython is ~20x slower per node: the same depth, 1/32 of the iterations.
pyfrac=${RCY_BENCH_TRACE_PYFRACTION:-32}
c0=$("$b/trace_binary_trees" "$depth" 0 "$runs")
c1=$("$b/trace_binary_trees" "$depth" 1 "$runs")
c16=$("$b/trace_binary_trees" "$depth" 16 "$runs")
p0=$(python3 "$here/trace_binary_trees.py" "$depth" 0 "$runs" "$pyfrac")
p1=$(python3 "$here/trace_binary_trees.py" "$depth" 1 "$runs" "$pyfrac")
p25=$(python3 "$here/trace_binary_trees.py" "$depth" 25 "$runs" "$pyfrac")
python3 - "$depth" "$runs" "$pyfrac" "$c0" "$c1" "$c16" "$p0" "$p1" "$p25" <<'PY'
import platform, sys
depth, runs, frac = sys.argv[1:4]
c0, c1, c16, p0, p1, p25 = (dict(l.split() for l in a.splitlines()) for a in sys.argv[4:10])
f = lambda d, k: float(d[k])
print("tracemalloc on binary_trees %s (median of %s runs): recycle %.0fM allocations "
      "(rcy_new), CPython %s %.1fM (1/%s of the iterations)" % (
          depth, runs, f(c0, "allocations") / 1e6, platform.python_version(),
          f(p0, "allocations") / 1e6, frac))
print("%-40s %12s %12s %9s" % ("", "recycle", "python3", "ratio"))
def row(label, a, b, fmt="%.1f"):
    print(("%-40s %12s %12s %9s") % (label, fmt % a, fmt % b, "%.2fx" % (a / b) if b else "-"))
row("untraced: ns per allocation", f(c0, "ns_per_alloc"), f(p0, "ns_per_alloc"))
row("1 frame: ns added per allocation", f(c1, "ns_per_alloc") - f(c0, "ns_per_alloc"),
    f(p1, "ns_per_alloc") - f(p0, "ns_per_alloc"))
row("16 / 25 frames: ns added per allocation", f(c16, "ns_per_alloc") - f(c0, "ns_per_alloc"),
    f(p25, "ns_per_alloc") - f(p0, "ns_per_alloc"))
row("1 frame: tracer bytes per live block", f(c1, "tracer_bytes_per_block"),
    f(p1, "tracer_bytes_per_block"))
row("16 / 25 frames: tracer bytes per block", f(c16, "tracer_bytes_per_block"),
    f(p25, "tracer_bytes_per_block"))
print("(targets: <= +20 ns at 1 frame, <= +60 ns at 16 frames, <= 32 bytes per block;")
print(" ratio = recycle / python3, lower is better; recycle: 16 frames, python3: 25)")
for name, d in (("c0", c0), ("c1", c1), ("c16", c16)):
    assert d["checksum"] == c0["checksum"], "checksums differ"
PY
