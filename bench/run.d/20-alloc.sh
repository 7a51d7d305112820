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
    for a in recycle glibc mimalloc; do
        fn="hot_pairs_${a}"
        [ "$a" = recycle ] && fn=hot_pairs_ours
        out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            --toggle-collect="$fn" "$b/alloc_micro" --pairs "$a" "$n" 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        # The loop runs n/10 warm-up pairs plus n measured ones.
        ir[$a]=$(python3 -c "print(f'{$out / ($n * 1.1):.1f}')")
    done
    printf '%-10s %10s %10s %10s %12s\n' "" recycle glibc mimalloc "vs mimalloc"
    printf '%-10s %10s %10s %10s %11sx\n' "Ir/pair" "${ir[recycle]}" "${ir[glibc]}" \
        "${ir[mimalloc]}" "$(python3 -c "print(f'{${ir[recycle]} / ${ir[mimalloc]}:.2f}')")"
else
    echo "valgrind not installed: no instruction counts"
fi
