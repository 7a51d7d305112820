#!/usr/bin/env bash
# tests/fuzz/run.sh MODE [FUZZER MAKE_SEED] — run the snapshot loader fuzzer.
#   smoke  ~20 s (ctest runs this in the clang build)
#   short  ~60 s
#   long   ~10 min (make fuzz)
# Without FUZZER/MAKE_SEED it builds them in build-fuzz (clang + libFuzzer
# + ASan/UBSan).  Crashes are left in build-fuzz/crashes (or $TMPDIR).
set -euo pipefail
mode=${1:-short}
case "$mode" in
smoke) secs=20 ;;
short) secs=60 ;;
long) secs=600 ;;
*) echo "usage: $0 smoke|short|long [fuzzer make_seed]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ $# -ge 3 ]; then
    fuzzer=$2
    make_seed=$3
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
else
    build="$root/build-fuzz"
    CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRCY_SANITIZE=ON \
        -DRCY_BUILD_TOOLS=OFF >/dev/null
    cmake --build "$build" -j 2 --target fuzz_snapshot_load fuzz_make_seed >/dev/null
    fuzzer="$build/tests/fuzz_snapshot_load"
    make_seed="$build/tests/fuzz_make_seed"
    work="$build/fuzz-work"
    mkdir -p "$work"
fi
mkdir -p "$work/corpus" "$work/crashes"
"$make_seed" "$work/corpus"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
echo "fuzzing the snapshot loader for ${secs}s (corpus $work/corpus)"
set +e
"$fuzzer" -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$work/crashes/" -print_final_stats=1 "$work/corpus" 2>&1 |
    tail -n 15
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "fuzzer failed (status $status); artifacts in $work/crashes" >&2
    exit "$status"
fi
echo "fuzz: no crash in ${secs}s"
