#!/usr/bin/env bash
# tests/cli/html_bundle.sh — the committed report template
# (tools/html/dist/report.html) is what `npm run build` makes from
# tools/html/src and the pinned npm packages, and it is self-contained.
# The rebuild needs node and tools/html/node_modules (`npm ci` there, or
# `cmake --build build --target recycle-html`); without them that part is
# skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
html=${RCY_SOURCE_DIR:?}/tools/html
dist=$html/dist/report.html

check "the template exists" test -s "$dist"
expect_eq "it has exactly one data slot" 1 "$(grep -o '/\*RECYCLE_DATA\*/' "$dist" | wc -l)"
if grep -Eiq '<(script|link|img)[^>]+(src|href)=' "$dist"; then
    fail "it loads no external script, style or image"
else
    ok "it loads no external script, style or image"
fi
expect_match "its Content-Security-Policy forbids fetching" "default-src 'none'" "$(cat "$dist")"
check "the licences of the bundled libraries are kept" grep -q 'Apache License\|@license\|ISC\|MIT' "$dist"

if ! command -v node >/dev/null || [ ! -d "$html/node_modules/esbuild" ]; then
    skip "rebuild from source: needs node and tools/html/node_modules (npm ci)"
else
    out=$(mktemp)
    if (cd "$html" && node build.mjs "$out" >/dev/null); then
        if cmp -s "$out" "$dist"; then
            ok "npm run build reproduces the committed template byte for byte"
        else
            fail "npm run build reproduces the committed template byte for byte" \
                "run: cd tools/html && npm ci && npm run build"
        fi
    else
        fail "node build.mjs runs"
    fi
    rm -f "$out"
fi
finish
