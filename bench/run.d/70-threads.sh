#!/usr/bin/env bash
# bench/run.d/70-threads.sh — the owner's private reference counting
# (bench/rc_bench.c): a tight incref/decref loop and a pointer chase over
# 1M objects.  For the issue-18 ratio, build the same file against an
# older recycle and run both interleaved (docs/internals.md "Threads").
set -euo pipefail
b="${RCY_BENCH_BUILD:?}/bench"
for r in 1 2 3; do
    /usr/bin/time -f "rc_bench tight: %e s" "$b/rc_bench" tight 300000000 >/dev/null
    /usr/bin/time -f "rc_bench chase: %e s" "$b/rc_bench" chase 20 >/dev/null
done
