#!/usr/bin/env bash
# bench/run.d/30-gc.sh — the cycle collector (bench/gc_bench.c) against
# CPython's (bench/gc_peer.py) on the same graph shapes, side by side, then
# binary_trees with tracked nodes and automatic collection on vs untracked,
# and for scale what CPython's own collector costs on the Python program
# (bench/trace_binary_trees.py, collection on vs gc.disable()).
# Times are process CPU time (the machine is shared: wall time is noise),
# median of RUNS runs; each benchmark runs ours then the peer's before the
# next starts.  Env: RCY_BENCH_BUILD (set by bench/run.sh),
# RCY_BENCH_RUNS (5), GC_BENCH_SCALE (1 = full sizes), BT_DEPTH (21).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
b="${RCY_BENCH_BUILD:?run through bench/run.sh}/bench"
runs=${RCY_BENCH_RUNS:-5}
scale=${GC_BENCH_SCALE:-1}
depth=${BT_DEPTH:-21}
# One benchmark at a time, ours then the peer's, so that a change in the
# machine's load between the two runs skews one ratio, not all of them.
ours="runs $runs"
peer="runs $runs"
for name in cyclic2 rings chain traversal young header; do
    ours+=$'\n'$(GC_BENCH_ONLY=$name "$b/gc_bench" "$runs" "$scale" | grep -v '^runs ')
    peer+=$'\n'$(GC_BENCH_ONLY=$name python3 "$here/gc_peer.py" "$runs" "$scale" | grep -v '^runs ')
done
python3 - "$ours" "$peer" "$scale" <<'PY'
import platform, sys
ours = dict(l.split() for l in sys.argv[1].splitlines())
peer = dict(l.split() for l in sys.argv[2].splitlines())
scale = int(sys.argv[3])
print("cycle collector vs CPython %s gc, median of %s runs, CPU time%s" % (
    platform.python_version(), ours["runs"], "" if scale == 1 else ", sizes / %d" % scale))
print("%-44s %10s %10s %10s %8s" % ("", "recycle", "python3", "speedup", "target"))
rows = [
    ("garbage 2-cycles (1M obj): ns/object", "cyclic2_ns_per_object", ">= 4x"),
    ("garbage rings of 21 (2.1M obj): ns/object", "rings_ns_per_object", ">= 4x"),
    ("live chain (4M obj), full collect: ns/obj", "chain_ns_per_object", ">= 5x"),
    ("gc_traversal (1000 lists): ms/collect", "traversal_ms", ">= 4x"),
    ("gc_traversal: ns/edge", "traversal_ns_per_edge", ">= 4x"),
    ("young collection, no old objects: us", "young_us_no_old", ""),
    ("young collection, 10M old objects: us", "young_us_10m_old", ""),
]
for label, key, target in rows:
    a, b = float(ours[key]), float(peer[key])
    print("%-44s %10.2f %10.2f %9.2fx %8s" % (label, a, b, b / a, target))
print("%-44s %10.3f %10.3f %10s %8s" % ("young pause ratio (10M old / none)",
      float(ours["young_pause_ratio"]), float(peer["young_pause_ratio"]), "", "<= 1.5"))
print("%-44s %10s %10s %10s %8s" % ("header bytes per tracked object",
      ours["header_bytes"], peer["header_bytes"], "", "16"))
print("(speedup = python3 / recycle: above 1 means recycle is faster)")
PY

bt_rcy="$b/binary_trees_rcy"
bt_un="$b/binary_trees_rcy_untracked"
if [ -x "$bt_rcy" ] && [ -x "$bt_un" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for ((r = 0; r < 3; r++)); do
        for v in rcy rcy_untracked; do
            /usr/bin/time -f "%U %S" -o "$tmp/t" "$b/binary_trees_$v" "$depth" > "$tmp/out_$v"
            awk '{print $1 + $2}' "$tmp/t" >> "$tmp/$v"
        done
    done
    cmp -s "$tmp/out_rcy" "$tmp/out_rcy_untracked" || { echo "binary_trees outputs differ"; exit 1; }
    med() { sort -g "$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
    t=$(med "$tmp/rcy"); u=$(med "$tmp/rcy_untracked")
    echo
    echo "binary_trees $depth, CPU seconds, median of 3 (interleaved)"
    printf "%-44s %10s %10s %10s %8s\n" "" tracked untracked ratio target
    awk -v t="$t" -v u="$u" 'BEGIN {printf "%-44s %10.2f %10.2f %9.3fx %8s\n", "nodes tracked, automatic collection on", t, u, t / u, "<= 1.4x"}'
    # The young collections' share: CPU time per object they examined
    # (binary_trees.c, BT_GC_REPORT).  Target <= 4 ns.
    BT_GC_REPORT=1 "$bt_rcy" "$depth" 2>&1 >/dev/null | sed -n 's/^young collections: /young collections (target <= 4 ns per examined object): /p'
    # The same program in Python (instances of a __slots__ class are
    # tracked): what CPython's own collector costs, collection on vs
    # gc.disable().  Depth 16: depth 21 would take minutes in Python.
    pydepth=16
    on=$(python3 "$here/trace_binary_trees.py" "$pydepth" 0 3 1 gc | awk '$1 == "seconds" {print $2}')
    off=$(python3 "$here/trace_binary_trees.py" "$pydepth" 0 3 1 | awk '$1 == "seconds" {print $2}')
    if [ -n "$on" ] && [ -n "$off" ]; then
        awk -v t="$on" -v u="$off" -v d="$pydepth" 'BEGIN {printf "%-44s %10.2f %10.2f %9.3fx %8s\n", "python3 " d ", collection on vs gc.disable()", t, u, t / u, ""}'
    fi
fi
