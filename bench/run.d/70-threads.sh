#!/usr/bin/env bash
# bench/run.d/70-threads.sh — issue 18's figures (objects shared between
# threads), each measured side by side in this one run:
#
#  1. private incref/decref (bench/rc_bench.c tight, chase) and
#     binary_trees on one thread, nothing shared (bench/binary_trees.c),
#     against "today": the same files built against the recycle before
#     the shared bit (RCY_BASELINE, default f39e64b, the parent of the
#     commit that introduced the refcount states), extracted with
#     `git archive` into the bench build.  Both libraries are built here
#     the same way (Release, optional dependencies off) and the programs
#     with the same command; runs interleave A B A B, medians and ratios
#     (ours / today), and callgrind instruction counts when valgrind is
#     installed.  Without git history (a tarball) this part is skipped.
#  2. binary_trees on 1 and 2 threads, each its own heap
#     (bench/thread_trees.c): throughput ratio, and the per-heap
#     collection counts that show no thread waited for another.
#  3. a shared object's incref/decref pair, uncontended, beside a raw
#     `lock xadd` pair (rc_bench shared / xadd), and the lock-prefixed
#     instructions executed per operation (callgrind, per instruction,
#     matched against objdump's disassembly).
#  4. cross-heap frees, producer/consumer (bench/remote_bench.c): ns and
#     CAS per remote free, RSS and arenas against freeing locally.
#  5. rcy_heap_attach + rcy_heap_detach pairs on one heap, no stop
#     pending (bench/attach_bench.c), ours vs the recycle before attach
#     became lock-free (THREADS_ATTACH_BASELINE, default 96cda8b, the
#     parent of 3a2b4f5; RCY_BASELINE predates attach), extracted and
#     built the same way as in 1: ns per pair interleaved, medians, ratio,
#     and callgrind instructions per pair for both.
#
# Every figure line ends with the CPU model and the load average.
# Env: RCY_BENCH_BUILD (set by bench/run.sh), RCY_BASELINE (f39e64b),
# THREADS_RUNS (rounds, 5), THREADS_BT_DEPTH (binary_trees, 21),
# THREADS_BT_VARIANTS ("rcy_untracked rcy"), THREADS_TT_DEPTH
# (thread_trees, 18), THREADS_CG_DEPTH (binary_trees under callgrind, 14),
# THREADS_REMOTE_BLOCKS (10000000), THREADS_ATTACH_BASELINE (96cda8b),
# THREADS_ATTACH_PAIRS (10000000), THREADS_PARTS (the parts to run,
# "1 2 3 4 5"; THREADS_PARTS=5 runs only the attach figures), CC (cc).
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${RCY_BENCH_BUILD:?run through bench/run.sh}" && pwd)
bin="$build/bench"
work="$build/threads"
runs="${THREADS_RUNS:-5}"
bt_depth="${THREADS_BT_DEPTH:-21}"
bt_variants="${THREADS_BT_VARIANTS:-rcy_untracked rcy}"
tt_depth="${THREADS_TT_DEPTH:-18}"
cg_depth="${THREADS_CG_DEPTH:-14}"
remote_blocks="${THREADS_REMOTE_BLOCKS:-10000000}"
baseline="${RCY_BASELINE:-f39e64b}"
attach_baseline="${THREADS_ATTACH_BASELINE:-96cda8b}"
attach_pairs="${THREADS_ATTACH_PAIRS:-10000000}"
cc="${CC:-cc}"
want() { [[ " ${THREADS_PARTS:-1 2 3 4 5} " == *" $1 "* ]]; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
mkdir -p "$work"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# The machine, appended to every figure.
on() { echo "[$cpu, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)]"; }
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.3fx" : "-"), a / b}'; }
have_valgrind=0
command -v valgrind >/dev/null && have_valgrind=1

# Instructions executed by a command (callgrind's total).
instructions() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        awk '/Collected/ {print $NF}'
}

# ---- the two libraries and the programs built against each ------------
# build_lib SRC DIR: the static library of the tree at SRC, in DIR.
build_lib() {
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DRCY_BUILD_TESTS=OFF -DRCY_BUILD_TOOLS=OFF \
        -DRCY_WITH_LIBDW=OFF -DRCY_WITH_LIBUNWIND=OFF -DRCY_WITH_ZSTD=OFF >"$2.log" 2>&1 &&
        cmake --build "$2" -j 2 --target recycle_static >>"$2.log" 2>&1 ||
        { echo "building the library of $1 failed (log: $2.log)"; return 1; }
}
# build_progs SRC DIR NAME: rc_bench_NAME and binary_trees_*_NAME.
cflags=(-O3 -DNDEBUG -std=gnu11 -fno-omit-frame-pointer -no-pie -Wall)
build_progs() {
    local libs=("$2/librecycle.a" -lpthread -ldl)
    "$cc" "${cflags[@]}" -I"$1/include" "$src/bench/rc_bench.c" "${libs[@]}" -o "$work/rc_bench_$3" &&
        "$cc" "${cflags[@]}" -DBT_VARIANT=1 -I"$1/include" "$src/bench/binary_trees.c" "${libs[@]}" \
            -o "$work/binary_trees_rcy_$3" &&
        "$cc" "${cflags[@]}" -DBT_VARIANT=2 -I"$1/include" "$src/bench/binary_trees.c" "${libs[@]}" \
            -o "$work/binary_trees_rcy_untracked_$3" ||
        { echo "building the programs against $2 failed"; return 1; }
}

# extract REV NAME: the tree of REV in $work/NAME-src (kept while REV is
# the same commit), its library's build dir $work/NAME cleared on change.
extract() {
    local dst="$work/$2-src"
    if [ "$(cat "$dst/.commit" 2>/dev/null)" != "$(git -C "$src" rev-parse "$1")" ]; then
        rm -rf "$dst" "${work:?}/$2"
        mkdir -p "$dst"
        git -C "$src" archive "$1" | tar -x -C "$dst" &&
            git -C "$src" rev-parse "$1" >"$dst/.commit"
    fi
}
have_rev() { git -C "$src" rev-parse --verify -q "$1^{commit}" >/dev/null 2>&1; }

side_by_side=0
if ! want 1 && ! want 3; then
    : # the two libraries serve parts 1 and 3 only
elif ! have_rev "$baseline"; then
    echo "today's build skipped: no git history here (a tarball?) to extract $baseline from;"
    echo "the side-by-side figures (private counting, binary_trees on one thread) need a clone"
else
    bsrc="$work/baseline-src"
    extract "$baseline" baseline
    echo "building today's library ($baseline, $(git -C "$src" log -1 --format=%cs "$baseline")) and ours, the same way"
    build_lib "$bsrc" "$work/baseline" && build_lib "$src" "$work/ours" &&
        build_progs "$bsrc" "$work/baseline" today && build_progs "$src" "$work/ours" ours &&
        side_by_side=1 || status=1
fi

# ---- 1. private counting and binary_trees on one thread ---------------
if [ $side_by_side = 1 ] && want 1; then
    echo
    echo "== 1. private incref/decref, ours vs today ($baseline): $runs rounds interleaved, median user CPU"
    for ((r = 0; r < runs; r++)); do
        for b in ours today; do
            /usr/bin/time -f "%U" -o "$tmp/t" "$work/rc_bench_$b" tight 2000000000 >/dev/null && cat "$tmp/t" >>"$tmp/tight_$b"
            /usr/bin/time -f "%U" -o "$tmp/t" "$work/rc_bench_$b" chase 20 >/dev/null && cat "$tmp/t" >>"$tmp/chase_$b"
        done
    done
    for t in tight chase; do
        o=$(median <"$tmp/${t}_ours") d=$(median <"$tmp/${t}_today")
        printf "%-36s ours %7.2f s  today %7.2f s  ratio %s (target <= 1.02x) %s\n" \
            "rc_bench $t ($([ $t = tight ] && echo 2e9 pairs || echo 20 passes over 1M))" "$o" "$d" "$(ratio "$o" "$d")" "$(on)"
    done
    if [ $have_valgrind = 1 ]; then
        # Per operation: the difference between two sizes, so the setup cancels.
        for b in ours today; do
            a1=$(instructions "$work/rc_bench_$b" tight 1000000) a2=$(instructions "$work/rc_bench_$b" tight 2000000)
            c1=$(instructions "$work/rc_bench_$b" chase 1) c2=$(instructions "$work/rc_bench_$b" chase 2)
            echo "$(((a2 - a1) / 1000)) $(((c2 - c1) / 1000))" >"$tmp/cg_$b"
        done
        read -r to co <"$tmp/cg_ours"
        read -r tt ct <"$tmp/cg_today"
        awk -v a="$to" -v b="$tt" -v c="$co" -v d="$ct" -v m="$(on)" 'BEGIN {
            printf "callgrind, instructions per tight incref/decref pair: ours %.3f  today %.3f  ratio %.3fx %s\n", a / 1000, b / 1000, a / b, m
            printf "callgrind, instructions per chase step (1M objects):  ours %.3f  today %.3f  ratio %.3fx %s\n", c / 1000, d / 1000, c / d, m }'
    else
        echo "callgrind: valgrind not installed, instruction counts skipped"
    fi

    echo
    echo "== 1b. binary_trees $bt_depth on one thread, nothing shared, ours vs today: $runs rounds interleaved, medians"
    "$work/binary_trees_rcy_untracked_today" "$bt_depth" >"$tmp/expected"
    for ((r = 0; r < runs; r++)); do
        for v in $bt_variants; do
            for b in ours today; do
                /usr/bin/time -f "%e %U %M" -o "$tmp/t" "$work/binary_trees_${v}_$b" "$bt_depth" >"$tmp/out" ||
                    { echo "binary_trees_${v}_$b failed"; status=1; }
                cmp -s "$tmp/out" "$tmp/expected" || { echo "binary_trees_${v}_$b: output differs"; status=1; }
                tail -n 1 "$tmp/t" >>"$tmp/bt_${v}_$b"
            done
        done
    done
    for v in $bt_variants; do
        for k in 1:wall 2:user 3:rss; do
            col=${k%%:*} what=${k#*:}
            o=$(awk -v c="$col" '{print $c}' "$tmp/bt_${v}_ours" | median)
            d=$(awk -v c="$col" '{print $c}' "$tmp/bt_${v}_today" | median)
            if [ "$what" = rss ]; then
                printf "binary_trees %-14s max RSS  ours %8.1f MiB today %8.1f MiB ratio %s (target <= 1.01x) %s\n" \
                    "$v" "$(awk -v x="$o" 'BEGIN {print x / 1024}')" "$(awk -v x="$d" 'BEGIN {print x / 1024}')" "$(ratio "$o" "$d")" "$(on)"
            else
                printf "binary_trees %-14s %-5s s  ours %8.2f     today %8.2f     ratio %s (target 0.99x..1.01x) %s\n" \
                    "$v" "$what" "$o" "$d" "$(ratio "$o" "$d")" "$(on)"
            fi
        done
    done
    echo "object header: ours $("$work/rc_bench_ours" header | awk '{print $2}') bytes, today $("$work/rc_bench_today" header | awk '{print $2}') bytes (target 16) $(on)"
    if [ $have_valgrind = 1 ]; then
        for v in $bt_variants; do
            o=$(instructions "$work/binary_trees_${v}_ours" "$cg_depth")
            d=$(instructions "$work/binary_trees_${v}_today" "$cg_depth")
            printf "callgrind, binary_trees %s %-14s ours %'d  today %'d instructions  ratio %s %s\n" \
                "$cg_depth" "$v" "$o" "$d" "$(awk -v a="$o" -v b="$d" 'BEGIN {printf "%.5fx", a / b}')" "$(on)"
        done
    fi
fi

# ---- 2. binary_trees on 1 and 2 threads, each its own heap ------------
want 2 && {
echo
echo "== 2. binary_trees $tt_depth (tracked) on 1 and 2 threads, each its own heap, nothing shared:"
echo "   each thread does the whole program; $runs rounds interleaved, median wall time"
if [ -x "$bin/thread_trees" ]; then
    for ((r = 0; r < runs; r++)); do
        for n in 1 2; do
            "$bin/thread_trees" $n "$tt_depth" >"$tmp/tt" || { echo "thread_trees $n failed:"; cat "$tmp/tt"; status=1; }
            awk '/^threads/ {print $6}' "$tmp/tt" >>"$tmp/tt_$n"
            awk '/^thread [0-9]/ {sub(",", "", $6); c += $6; k++} END {print c / k}' "$tmp/tt" >>"$tmp/ttcpu_$n"
            [ "$r" = 0 ] && [ "$n" = 2 ] && cp "$tmp/tt" "$tmp/tt_first2"
        done
    done
    w1=$(median <"$tmp/tt_1") w2=$(median <"$tmp/tt_2")
    printf "thread_trees wall: 1 thread %.2f s, 2 threads %.2f s; throughput 2 threads / 1 thread = %.2fx (target >= 1.8x) %s\n" \
        "$w1" "$w2" "$(awk -v a="$w1" -v b="$w2" 'BEGIN {print 2 * a / b}')" "$(on)"
    c1=$(median <"$tmp/ttcpu_1") c2=$(median <"$tmp/ttcpu_2")
    printf "thread_trees CPU per thread: 1 thread %.2f s, 2 threads %.2f s each, ratio %s; throughput per CPU second, 2 threads / 1 thread = %.2fx %s\n" \
        "$c1" "$c2" "$(ratio "$c2" "$c1")" "$(awk -v a="$c1" -v b="$c2" 'BEGIN {print 2 * a / b}')" "$(on)"
    echo "   (2 x the 1-thread CPU time over the 2-thread CPU time per thread: the wall-time ratio two idle cores"
    echo "    would give when nothing is waited for; the wall ratio above is what this machine gave)"
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$load" -v n="$(nproc)" 'BEGIN {if (l + 2 > n) printf "   (the machine is loaded: load %s on %d cores, so two threads cannot both have a core)\n", l, n}'
    if grep -q MISMATCH "$tmp/tt_first2"; then
        echo "a collection ran off its heap's thread, or the threads' counts differ:"
        status=1
    else
        echo "no global pause (first 2-thread run): every collection ran on its own heap's thread, and"
        echo "each heap's callbacks saw exactly its own statistics' collections, none elsewhere:"
    fi
    sed -n 's/^/   /; /^   thread /p' "$tmp/tt_first2"
else
    echo "thread_trees not built"
    status=1
fi
}

# ---- 3. shared incref/decref, uncontended -----------------------------
want 3 && {
echo
echo "== 3. shared object's incref/decref pair, uncontended, vs a raw lock xadd pair: $runs rounds interleaved, median"
rc="$bin/rc_bench"
[ $side_by_side = 1 ] && rc="$work/rc_bench_ours"
for ((r = 0; r < runs; r++)); do
    "$rc" shared 100000000 | awk '/ns per pair/ {print $(NF-3)}' >>"$tmp/shared"
    "$rc" xadd 100000000 | awk '/ns per pair/ {print $(NF-3)}' >>"$tmp/xadd"
done
s=$(median <"$tmp/shared") x=$(median <"$tmp/xadd")
printf "shared incref+decref %.2f ns per pair, raw lock xadd pair %.2f ns, ratio %s %s\n" "$s" "$x" "$(ratio "$s" "$x")" "$(on)"
if [ $have_valgrind = 1 ] && [ $side_by_side = 1 ] && command -v objdump >/dev/null; then
    # Lock-prefixed (and implicitly locked xchg-with-memory) instructions
    # of the non-PIE program, and callgrind's count of each executed
    # instruction: atomic read-modify-writes per pair, setup cancelled by
    # two sizes.
    objdump -d --no-show-raw-insn "$rc" |
        awk '$2 == "lock" || ($2 ~ /^xchg/ && $3 ~ /\(/) {sub(":", "", $1); print $1}' >"$tmp/locked"
    atomic_per_pair() { # MODE N
        valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no \
            --callgrind-out-file="$tmp/cg.out" "$rc" "$1" "$2" >/dev/null 2>&1
        python3 - "$tmp/locked" "$tmp/cg.out" <<'EOF'
import sys
locked = {int(a, 16) for a in open(sys.argv[1]).read().split()}
total, skip, npos = 0, False, 1
for line in open(sys.argv[2]):
    if line.startswith("positions:"):
        npos = len(line.split()) - 1  # instr [line]: the cost follows them
    elif line.startswith("calls="):
        skip = True  # the next line is the call's inclusive cost
        continue
    if line.startswith("0x"):
        if not skip:
            f = line.split()
            if int(f[0], 16) in locked and len(f) > npos:
                total += int(f[npos])
        skip = False
print(total)
EOF
    }
    for m in shared xadd tight; do
        a=$(atomic_per_pair $m 1000000) b=$(atomic_per_pair $m 2000000)
        awk -v m="$m" -v a="$a" -v b="$b" -v o="$(on)" 'BEGIN {
            printf "callgrind, atomic read-modify-write instructions executed per %s pair: %.3f (%.3f per operation) %s\n",
                m, (b - a) / 1e6, (b - a) / 2e6, o }'
    done
    echo "   (shared: one locked add per incref and one per decref, no CAS loop; tight, a private object: none)"
fi
}

# ---- 4. cross-heap frees, producer/consumer ---------------------------
want 4 && {
echo
echo "== 4. cross-heap free, producer/consumer, $remote_blocks blocks of 64 bytes: $runs rounds interleaved, median"
if [ -x "$bin/remote_bench" ]; then
    for ((r = 0; r < runs; r++)); do
        for m in remote local; do
            "$bin/remote_bench" $m "$remote_blocks" >"$tmp/rb" || { echo "remote_bench $m failed:"; cat "$tmp/rb"; status=1; }
            awk '/^ns per free/ {ns = $4} /^CAS/ {cas = $5} /^RSS/ {rss = $4} /^arenas/ {ar = $3}
                 END {print ns, (cas == "" ? 0 : cas), rss + 0, ar + 0}' "$tmp/rb" >>"$tmp/rb_$m"
        done
    done
    for m in remote local; do
        for c in 1 2 3 4; do
            eval "${m}_$c=$(awk -v c=$c '{print $c}' "$tmp/rb_$m" | median)"
        done
    done
    printf "remote free %.2f ns, local free %.2f ns (thread CPU per free), ratio %s %s\n" \
        "$remote_1" "$local_1" "$(ratio "$remote_1" "$local_1")" "$(on)"
    printf "CAS per remote free %.4f (1 + retries / blocks taken back; target <= 1) %s\n" "$remote_2" "$(on)"
    printf "max RSS sampled: remote %.0f KiB, local %.0f KiB, ratio %s; arenas high-water: remote %d, local %d %s\n" \
        "$remote_3" "$local_3" "$(ratio "$remote_3" "$local_3")" "$remote_4" "$local_4" "$(on)"
else
    echo "remote_bench not built"
    status=1
fi
}
# ---- 5. attach + detach pairs, no stop pending -------------------------
want 5 && {
echo
echo "== 5. rcy_heap_attach + rcy_heap_detach pair on one heap (the thread's only one), no stop pending,"
echo "   ours vs before ($attach_baseline): $runs rounds interleaved of $attach_pairs pairs, median ns per pair"
if ! have_rev "$attach_baseline"; then
    echo "skipped: no git history here (a tarball?) to extract $attach_baseline from"
else
    extract "$attach_baseline" attach-baseline
    echo "building the library before ($attach_baseline, $(git -C "$src" log -1 --format='%cs %s' "$attach_baseline" | cut -c1-72)) and ours, the same way"
    if build_lib "$work/attach-baseline-src" "$work/attach-baseline" && build_lib "$src" "$work/ours" &&
        "$cc" "${cflags[@]}" -I"$work/attach-baseline-src/include" "$src/bench/attach_bench.c" \
            "$work/attach-baseline/librecycle.a" -lpthread -ldl -o "$work/attach_bench_before" &&
        "$cc" "${cflags[@]}" -I"$src/include" "$src/bench/attach_bench.c" \
            "$work/ours/librecycle.a" -lpthread -ldl -o "$work/attach_bench_ours"; then
        for ((r = 0; r < runs; r++)); do
            for b in ours before; do
                "$work/attach_bench_$b" "$attach_pairs" | awk '/ns per/ {print $NF}' >>"$tmp/attach_$b" ||
                    { echo "attach_bench_$b failed"; status=1; }
            done
        done
        o=$(median <"$tmp/attach_ours") d=$(median <"$tmp/attach_before")
        printf "attach+detach pair: ours %.2f ns  before %.2f ns  ratio %s (runs ours: %s; before: %s) %s\n" "$o" "$d" \
            "$(ratio "$o" "$d")" "$(paste -sd' ' "$tmp/attach_ours")" "$(paste -sd' ' "$tmp/attach_before")" "$(on)"
        if [ $have_valgrind = 1 ]; then
            # Per pair: the difference between two sizes, so the setup cancels.
            for b in ours before; do
                a1=$(instructions "$work/attach_bench_$b" 100000) a2=$(instructions "$work/attach_bench_$b" 200000)
                echo $(((a2 - a1) / 1000)) >"$tmp/cga_$b"
            done
            awk -v a="$(cat "$tmp/cga_ours")" -v b="$(cat "$tmp/cga_before")" -v m="$(on)" 'BEGIN {
                printf "callgrind, instructions per attach+detach pair: ours %.2f  before %.2f  ratio %.3fx %s\n", a / 100, b / 100, a / b, m }'
        else
            echo "callgrind: valgrind not installed, instruction counts skipped"
        fi
    else
        echo "building attach_bench against both libraries failed"
        status=1
    fi
fi
}
exit $status
