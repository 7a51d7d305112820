#!/usr/bin/env bash
# tests/install/check.sh — install the build into a temporary prefix and use
# it the way a user would, from a directory outside the source tree:
#
#   1. the README's build lines (`cc example.c $(pkg-config ...)`, shared
#      and --static), run on the README's twenty-line example, print the
#      README's output;
#   2. a CMake project with find_package(recycle) links recycle::recycle
#      and recycle::recycle_static, and both programs print it too;
#   3. the shared library passes none of its dependencies on (a program
#      linking it NEEDs librecycle.so.0 and not libdw/libunwind/libzstd),
#      and the installed `recycle` finds its preload library.
#
# Environment (set by tests/install.cmake): RCY_BUILD_DIR, RCY_SOURCE_DIR,
# CC (the build's compiler), RCY_SAN_FLAGS (the sanitizer flags of an
# ASan build, empty otherwise: a sanitized library needs a sanitized
# program, and such a program cannot be linked with -static).
# With RCY_INSTALLED=PREFIX instead of RCY_BUILD_DIR, nothing is installed:
# the checks run against what is already in PREFIX, found through
# pkg-config's default path (`make deb-check`: the Debian packages, /usr).
set -euo pipefail
: "${RCY_SOURCE_DIR:?}" "${CC:?}"
san=${RCY_SAN_FLAGS:-}

tmp=$(mktemp -d /tmp/rcy-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

if [ -n "${RCY_INSTALLED:-}" ]; then
    prefix=$RCY_INSTALLED
else
    : "${RCY_BUILD_DIR:?}"
    prefix=$tmp/prefix
    cmake --install "$RCY_BUILD_DIR" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
        { cat "$tmp/install.log"; fail "cmake --install failed"; }
    pc=$(find "$prefix" -name recycle.pc -path '*/pkgconfig/*')
    [ -n "$pc" ] || fail "no recycle.pc installed under $prefix"
    export PKG_CONFIG_PATH=$(dirname "$pc")
fi
got=$(pkg-config --variable=prefix recycle) || fail "pkg-config does not find recycle"
[ "$got" = "$prefix" ] || fail "recycle.pc says prefix=$got, installed in $prefix"
libdir=$(pkg-config --variable=libdir recycle)
[ -e "$libdir/librecycle.so.0" ] && [ -e "$libdir/librecycle.a" ] ||
    fail "recycle.pc's libdir $libdir lacks librecycle.so.0 or librecycle.a"

# The README's example and its expected output, as tests/docs.py reads them.
python3 "$RCY_SOURCE_DIR/tests/docs.py" extract "$RCY_SOURCE_DIR/README.md" "$tmp/doc" >/dev/null
example=$tmp/doc/README_01.c
expected=$tmp/doc/README_01.out
[ -s "$example" ] && [ -s "$expected" ] || fail "README.md lost its first example or its output"

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
check_output() { # PROGRAM WHAT
    "$1" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "$2 exited with $?"; }
    diff -u "$expected" "$tmp/out" || fail "$2 does not print the README's output"
}
check_no_deps_passed_on() { # PROGRAM WHAT
    needed "$1" | grep -q '^librecycle\.so\.0$' || fail "$2 does not need librecycle.so.0"
    if needed "$1" | grep -E '^lib(dw|elf|unwind|zstd)\.'; then
        fail "$2 links recycle's own dependencies: the shared library passed them on"
    fi
}

# 1. The README's build lines, run as they are written (`cc` being the
#    build's compiler, plus the sanitizer flags in an ASan build).
CC=$(command -v "$CC") || fail "no compiler $CC"
cc() { "$CC" $san "$@"; }
mapfile -t lines < <(grep -o '`cc [^`]*example\.c[^`]*`' "$RCY_SOURCE_DIR/README.md" | tr -d '`')
[ ${#lines[@]} -ge 2 ] || fail "README.md lacks its shared and --static build lines"
for line in "${lines[@]}"; do
    case $line in *--static*) kind=static ;; *) kind=shared ;; esac
    if [ $kind = static ] && [ -n "$san" ]; then
        echo "install test: skipped '$line': a sanitized program cannot be linked with -static" \
             "(the release build runs it)"
        continue
    fi
    dir=$tmp/readme-$kind
    mkdir -p "$dir" && cp "$example" "$dir/example.c"
    (cd "$dir" && eval "$line" 2>"$tmp/cc.err") || { cat "$tmp/cc.err"; fail "'$line' failed"; }
    if [ $kind = shared ]; then
        check_no_deps_passed_on "$dir/a.out" "'$line'"
        LD_LIBRARY_PATH=$libdir check_output "$dir/a.out" "'$line'"
    else
        [ -z "$(needed "$dir/a.out")" ] || fail "'$line' is not a static program"
        check_output "$dir/a.out" "'$line'"
    fi
    echo "install test: '$line' builds and prints the README's output"
done

# 2. find_package(recycle), both targets.
consumer=$tmp/consumer
mkdir -p "$consumer" && cp "$example" "$consumer/example.c"
cat >"$consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(recycle_consumer C)
find_package(recycle 0.1 REQUIRED)
add_executable(example_shared example.c)
target_link_libraries(example_shared PRIVATE recycle::recycle)
add_executable(example_static example.c)
target_link_libraries(example_static PRIVATE recycle::recycle_static)
CMAKE
{ cmake -S "$consumer" -B "$consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" &&
  cmake --build "$consumer/build"; } >"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log"; fail "the find_package(recycle) project does not build"; }
check_no_deps_passed_on "$consumer/build/example_shared" "recycle::recycle"
check_output "$consumer/build/example_shared" "recycle::recycle"
if needed "$consumer/build/example_static" | grep -q '^librecycle\.so'; then
    fail "recycle::recycle_static linked the shared library"
fi
check_output "$consumer/build/example_static" "recycle::recycle_static"
echo "install test: find_package(recycle): recycle::recycle and recycle::recycle_static"

# 3. The installed command finds the installed preload library.
if [ -x "$prefix/bin/recycle" ]; then
    (cd "$tmp" && "$prefix/bin/recycle" run -q -o "$tmp/true.rcy" -- true) ||
        fail "the installed recycle run failed"
    [ -s "$tmp/true.rcy" ] || fail "the installed recycle run wrote no snapshot"
    "$prefix/bin/recycle" stats "$tmp/true.rcy" >/dev/null || fail "recycle stats failed"
    echo "install test: the installed recycle command traces a program"
fi
