#!/usr/bin/env bash
# Allocator benchmarks: timings (median of several runs) and callgrind
# instruction counts per hot alloc/free pair, recycle vs glibc vs mimalloc.
set -euo pipefail
b="${RCY_BENCH_BUILD:?}/bench"
"$b/alloc_micro" "${RCY_BENCH_RUNS:-5}"
echo
"$b/alloc_memory"
echo
if command -v valgrind >/dev/null; then
    n=200000
    echo "instructions per hot alloc/free pair (callgrind, $n pairs of mixed sizes)"
    declare -A ir
    for a in baseline recycle glibc mimalloc; do
        fn="hot_pairs_${a}"
        [ "$a" = recycle ] && fn=hot_pairs_ours
        out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            --toggle-collect="$fn" "$b/alloc_micro" --pairs "$a" "$n" 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        # The loop runs n/10 warm-up pairs plus n measured ones.
        ir[$a]=$(python3 -c "print($out / ($n * 1.1))")
    done
    python3 - "${ir[baseline]}" "${ir[recycle]}" "${ir[glibc]}" "${ir[mimalloc]}" <<'PY'
import sys
base, ours, glibc, mim = map(float, sys.argv[1:])
print(f"{'':24} {'recycle':>9} {'glibc':>9} {'mimalloc':>9} {'vs glibc':>9} {'vs mimalloc':>12}")
print(f"{'Ir/pair, with the loop':24} {ours:9.1f} {glibc:9.1f} {mim:9.1f} {ours/glibc:8.2f}x {ours/mim:11.2f}x")
o, g, m = ours - base, glibc - base, mim - base
print(f"{'Ir/pair, allocator only':24} {o:9.1f} {g:9.1f} {m:9.1f} {o/g:8.2f}x {o/m:11.2f}x")
print(f"(loop with empty calls: {base:.1f} Ir/pair, subtracted in the second row)")
PY
else
    echo "valgrind not installed: no instruction counts"
fi
