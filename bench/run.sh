#!/usr/bin/env bash
# bench/run.sh BUILD_DIR [NAME...] — run every benchmark script in
# bench/run.d/ in order, or only those whose names start with one of the
# NAMEs (`bench/run.sh build-bench 70` runs 70-threads.sh).  Each prints
# ours, the peer's and the ratio, measured side by side.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build-bench}" && pwd)
shift $(($# > 0 ? 1 : 0))
export RCY_BENCH_BUILD="$build"
echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
status=0
for s in "$here"/run.d/*.sh; do
    [ -e "$s" ] || continue
    name=$(basename "$s" .sh)
    if [ $# -gt 0 ]; then
        wanted=0
        for n in "$@"; do [[ "$name" == "$n"* ]] && wanted=1; done
        [ $wanted = 1 ] || continue
    fi
    echo
    echo "=== $name ==="
    bash "$s" || { echo "benchmark $name failed"; status=1; }
done
exit $status
