#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — run every benchmark script in bench/run.d/ in
# order.  Each prints ours, the peer's and the ratio, measured side by side.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build-bench}" && pwd)
export RCY_BENCH_BUILD="$build"
echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
status=0
for s in "$here"/run.d/*.sh; do
    [ -e "$s" ] || continue
    echo
    echo "=== $(basename "$s" .sh) ==="
    bash "$s" || { echo "benchmark $(basename "$s") failed"; status=1; }
done
exit $status
