#!/usr/bin/env bash
# Generators: recycle's (bench/gen_bench.c) against CPython's
# (bench/gen_peer.py) doing the same work, side by side in one run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
b="${RCY_BENCH_BUILD:?}/bench"
runs=${RCY_BENCH_RUNS:-5}
n=${RCY_BENCH_GEN_ITEMS:-1000000}
ours=$("$b/gen_bench" "$runs" "$n")
peer=$(python3 "$here/gen_peer.py" "$runs" "$n")
python3 - "$ours" "$peer" <<'PY'
import sys
ours = dict(l.split() for l in sys.argv[1].splitlines())
peer = dict(l.split() for l in sys.argv[2].splitlines())
import platform
print("generators vs CPython %s: %s items, median of %s runs" % (
    platform.python_version(), ours["items"], ours["runs"]))
print("%-34s %12s %12s %9s" % ("", "recycle", "python3", "ratio"))
rows = [("generator: ns per item", "generator_ns_per_item"),
        ("range|filter|map: ns per item", "pipeline_ns_per_item"),
        ("list build+sum: ns per item", "list_ns_per_item"),
        ("generator: peak bytes", "generator_peak_bytes"),
        ("range|filter|map: peak bytes", "pipeline_peak_bytes"),
        ("list build+sum: peak bytes", "list_peak_bytes")]
for label, key in rows:
    a, b = float(ours[key]), float(peer[key])
    ratio = "%.2fx" % (a / b) if b else "-"
    fmt = "%-34s %12.2f %12.2f %9s" if "ns" in key else "%-34s %12.0f %12.0f %9s"
    print(fmt % (label, a, b, ratio))
print("(peak bytes: tracemalloc's peak traced memory in each, from a separate run;")
print(" ratio = recycle / python3, lower is better)")
PY
