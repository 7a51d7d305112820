#!/usr/bin/env bash
# bench/run.d/75-gcshared.sh — the shared graph's collector
# (bench/gcshared_bench.c): 10^6 objects in rings, collected by today's
# full collection kept private (gc.c) and by rcy_gc_collect_shared with 1
# and 2 markers, interleaved, median of 7 (a live graph: trial deletion
# only; a garbage graph: everything freed); then the time for polling
# threads to reach a safepoint.  Issue 18 targets: shared 1 marker <=
# 1.05x private, 2 markers >= 1.6x faster than 1; time to safepoint p99
# <= 50 us with threads polling every ~10 us of work.
set -euo pipefail
b="${RCY_BENCH_BUILD:?}/bench"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$b/gcshared_bench" collect 1000000 7
"$b/gcshared_bench" safepoint 1 2000
"$b/gcshared_bench" safepoint 2 2000
