#!/usr/bin/env bash
# scripts/deps.sh GROUP... — make sure the Debian packages a make target
# needs are installed.  As root it installs what is missing with apt-get;
# otherwise it prints the exact command and fails.  With --optional first,
# a group that cannot be installed only warns (its tests then skip).
set -euo pipefail

optional=0
if [ "${1:-}" = "--optional" ]; then
    optional=1
    shift
fi

pkgs_for() {
    case "$1" in
    build) echo "cmake make gcc pkg-config libdw-dev libunwind-dev libzstd-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev" ;;
    test) echo "cmake make gcc clang pkg-config libcmocka-dev libdw-dev libunwind-dev libzstd-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libclang-rt-14-dev python3 valgrind golang-go" ;;
    tools) echo "chromium nodejs heaptrack sqlite3 zstd git xz-utils openssl curl openssh-client" ;; # nodejs: the browser test drives chromium
    html) echo "nodejs npm" ;; # only to rebuild tools/html/dist (committed)
    bench) echo "cmake make gcc pkg-config libmimalloc-dev libgc-dev python3 valgrind heaptrack" ;;
    docs) echo "doxygen" ;;
    deb) echo "cmake make gcc pkg-config dpkg-dev file libdw-dev libunwind-dev libzstd-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev" ;;
    fuzz) echo "clang libclang-rt-14-dev" ;;
    *) echo "deps.sh: unknown group $1" >&2; exit 2 ;;
    esac
}

want=()
for g in "$@"; do
    for p in $(pkgs_for "$g"); do want+=("$p"); done
done
missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "deps.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
        if [ $optional -eq 1 ]; then
            echo "deps.sh: warning: could not install ${missing[*]}; the tests that need them will skip" >&2
            exit 0
        fi
        echo "deps.sh: apt-get install ${missing[*]} failed" >&2
        exit 1
    fi
else
    echo "recycle needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
    [ $optional -eq 1 ] && exit 0
    exit 1
fi
