#!/usr/bin/env bash
# bench/run.d/10-binary-trees.sh — binary_trees (Benchmarks Game rules) on
# recycle objects vs malloc/free on glibc and mimalloc, and Boehm GC.
# Runs are interleaved (round-robin) so machine load hits every variant
# alike; reports the median wall, user and system time and the median
# peak RSS.
# Env: RCY_BENCH_BUILD (set by bench/run.sh), BT_DEPTH (21), BT_RUNS (3).
set -uo pipefail
bin="${RCY_BENCH_BUILD:?run through bench/run.sh}/bench"
depth="${BT_DEPTH:-21}"
runs="${BT_RUNS:-3}"
variants=()
for v in rcy rcy_untracked mimalloc mimalloc_rc glibc boehm; do
    [ -x "$bin/binary_trees_$v" ] && variants+=("$v")
done
[ -x "$bin/binary_trees_glibc" ] || { echo "binary_trees programs not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/binary_trees_glibc" "$depth" > "$tmp/expected"

echo "binary_trees $depth, single-threaded, $runs runs each (interleaved), median"
echo "('rcy' = node type with traverse: tracked, so the cycle collector's automatic"
echo " collections run as in CPython; 'rcy_untracked' = no traverse; both freed by refcount)"
for ((r = 0; r < runs; r++)); do
    for v in "${variants[@]}"; do
        /usr/bin/time -f "%e %U %M %S" -o "$tmp/time" "$bin/binary_trees_$v" "$depth" > "$tmp/out" ||
            { echo "binary_trees_$v failed"; exit 1; }
        cmp -s "$tmp/out" "$tmp/expected" ||
            { echo "binary_trees_$v: output differs from the reference"; diff "$tmp/expected" "$tmp/out" | head; exit 1; }
        tail -n 1 "$tmp/time" >> "$tmp/$v.times"
    done
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
declare -A wall user sys rss
for v in "${variants[@]}"; do
    wall[$v]=$(awk '{print $1}' "$tmp/$v.times" | median)
    user[$v]=$(awk '{print $2}' "$tmp/$v.times" | median)
    rss[$v]=$(awk '{print $3}' "$tmp/$v.times" | median)
    sys[$v]=$(awk '{print $4}' "$tmp/$v.times" | median)
done

printf "\n%-15s %9s %9s %9s %11s\n" variant "wall s" "user s" "system s" "peak RSS"
for v in "${variants[@]}"; do
    printf "%-15s %9.2f %9.2f %9.2f %8.1f MiB\n" "$v" "${wall[$v]}" "${user[$v]}" "${sys[$v]}" "$(echo "${rss[$v]}" | awk '{print $1 / 1024}')"
done

echo
printf "%-15s %-12s %11s %11s %11s %11s\n" ours peer "wall ratio" "user ratio" "sys ratio" "RSS ratio"
for ours in rcy rcy_untracked; do
    [ -n "${wall[$ours]:-}" ] || continue
    for peer in mimalloc mimalloc_rc glibc boehm; do
        [ -n "${wall[$peer]:-}" ] || continue
        awk -v o="$ours" -v p="$peer" -v w1="${wall[$ours]}" -v w2="${wall[$peer]}" \
            -v u1="${user[$ours]}" -v u2="${user[$peer]}" -v r1="${rss[$ours]}" -v r2="${rss[$peer]}" \
            -v s1="${sys[$ours]}" -v s2="${sys[$peer]}" \
            'BEGIN {printf "%-15s %-12s %10.2fx %10.2fx %10s %10.2fx\n", o, p, w1 / w2, u1 / u2, (s2 > 0 ? sprintf("%.2fx", s1 / s2) : "-"), r1 / r2}'
    done
done
echo "(mimalloc_rc = mimalloc nodes with a refcount and type pointer: 32-byte nodes like ours)"
echo "(ratio = ours / peer: below 1 means ours is faster or smaller)"
if [ -n "${user[rcy_untracked]:-}" ] && [ -n "${user[mimalloc_rc]:-}" ]; then
    awk -v u1="${user[rcy_untracked]}" -v u2="${user[mimalloc_rc]}" -v s1="${sys[rcy_untracked]}" -v s2="${sys[mimalloc_rc]}" \
        'BEGIN {printf "target, rcy_untracked vs mimalloc_rc: user %.2fx (<= 1.0x: %s), system %.2fx (<= 1.5x: %s)\n",
                u1 / u2, (u1 <= u2 ? "met" : "NOT met"), (s2 > 0 ? s1 / s2 : 0), (s1 <= 1.5 * s2 ? "met" : "NOT met")}'
fi
