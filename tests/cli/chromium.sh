#!/usr/bin/env bash
# tests/cli/chromium.sh — the HTML report of `recycle plot` in headless
# Chromium: no console errors, the timeline (uPlot canvas) and the flame
# graph (d3-flame-graph SVG) are rendered, the top tables are filled, and a
# screenshot is taken and is not blank.  Then, driven through the DevTools
# protocol (tests/cli/html_views.mjs, with node), examples/leaky's report:
# each flame graph tab, the search box's highlight and total, the bottom-up
# table's callers and the counter tables, against `recycle top` and
# `recycle leaks`.  Skipped (exit 77) when chromium is missing and cannot
# be installed.  RCY_CLI_SCREENSHOT=PATH keeps the screenshot.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${RECYCLE:?}" "${CLI_TARGET:?}"

if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && [ -x "${RCY_SOURCE_DIR:-}/scripts/deps.sh" ]; then
        "$RCY_SOURCE_DIR/scripts/deps.sh" tools >/dev/null 2>&1 || true
    fi
fi
if ! command -v chromium >/dev/null; then
    echo "SKIP: chromium not installed: scripts/deps.sh tools installs it"
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

browse() { # browse OUT ERR ARGS... : one fresh headless Chromium
    local out=$1 err=$2
    shift 2
    local profile
    profile=$(mktemp -d)
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
        --window-size=1280,1700 "$@" >"$out" 2>"$err"
    local rc=$? i
    # Chromium's helper processes may still write into the profile a
    # moment after it exits (cdp.mjs retries the same way): a profile that
    # cannot go is left in /tmp, never a failure.
    for i in 1 2 3 4 5 6 7 8 9 10; do
        rm -rf "$profile" 2>/dev/null && break
        sleep 0.2
    done
    [ -e "$profile" ] && echo "# warning: could not remove Chromium's profile $profile" >&2
    return $rc
}

# The check can fail: a page with an error is seen as one.
echo '<html><body><script>undefinedFunction();</script></body></html>' >bad.html
browse bad.dom bad.err --dump-dom "file://$work/bad.html"
check "a console error is detected (the check works)" grep -q 'CONSOLE.*Uncaught' bad.err

# A run with a clear peak and deep stacks (the target keeps frame pointers).
"$RECYCLE" run -q -o peak.rcy --interval 5 -- "$CLI_TARGET" peak >/dev/null
"$RECYCLE" run -q -o count.rcy -- "$CLI_TARGET" count >/dev/null
check "plot -o report.html" "$RECYCLE" plot peak.rcy -o report.html

browse dom.html dom.err --dump-dom "file://$work/report.html"
expect_eq "chromium loaded the page" 0 "$?"
if grep -q 'CONSOLE' dom.err; then
    fail "no console messages or errors" "$(grep CONSOLE dom.err | head -5)"
else
    ok "no console messages or errors"
fi
dom=$(cat dom.html)
expect_match "the timeline is drawn (uPlot canvas)" '<div class="uplot[^"]*"' "$dom"
expect_match "with a canvas of real size" '<canvas width="[1-9][0-9]{2,}" height="[1-9][0-9]{2}' "$dom"
expect_match "the flame graph is drawn (d3-flame-graph svg)" '<svg[^>]*class="partition d3-flame-graph"' "$dom"
nframes=$(grep -o 'class="frame"' dom.html | wc -l)
check "the flame graph has the stack's frames ($nframes >= 4)" test "$nframes" -ge 4
expect_match "the flame graph names the allocating frame" 'main \(cli_target.c:[0-9]+\)' "$dom"
# mode_peak is inlined into main: the row names the function that allocates
expect_match "the top table is filled" '<td class="num">1</td><td>mode_peak \(cli_target.c:[0-9]+\)</td>' "$dom"
expect_match "the summary shows the command" 'cli_target peak' "$dom"
# the resident set beside traced memory (recycle run samples it)
expect_match "the timeline has the RSS series beside traced memory" '<div class="u-label">RSS</div>' "$dom"

# A report from a file without a timeline peak still loads without errors.
"$RECYCLE" plot count.rcy -o count.html
browse dom2.html dom2.err --dump-dom "file://$work/count.html"
if grep -q 'CONSOLE' dom2.err; then fail "second report: no console errors" "$(grep CONSOLE dom2.err | head -5)"; else ok "second report: no console errors"; fi

# ---- the views, driven in the browser (tests/cli/html_views.mjs) ----------
# examples/leaky: every tab's flame graph, the search box, the bottom-up
# table and the counter tables, against recycle top's and leaks' figures.
if ! command -v node >/dev/null; then
    skip "the report's views in the browser: needs node (scripts/deps.sh html)"
elif [ -z "${LEAKY:-}" ]; then
    skip "the report's views in the browser: LEAKY (examples/leaky built) is not set"
else
    "$RECYCLE" run -q -o leaky.rcy -- "$LEAKY" >/dev/null
    "$RECYCLE" plot leaky.rcy -o leaky.html
    echo "    examples/leaky's report: $(wc -c <leaky.html) bytes"
    # the leak as recycle leaks gives it: the #1 line, its function, the caller
    leaks=$("$RECYCLE" leaks --limit 1 leaky.rcy)
    site=$(printf '%s\n' "$leaks" | sed -n 's/^#1: .*\/\([^/]*:[0-9]*\): size=.*/\1/p')
    lost=$(printf '%s\n' "$leaks" | sed -n 's/^#1: .*: size=\([0-9]*\) B, .*/\1/p')
    fn=$(printf '%s\n' "$leaks" | awk '/^#1:/{getline; print $1; exit}')
    caller=$(printf '%s\n' "$leaks" | awk '/^#1:/{getline; getline; print $1; exit}')
    caller_site=$(printf '%s\n' "$leaks" | awk '/^#1:/{getline; getline; print $2; exit}' | sed 's/.*\///')
    # that line's figures in recycle top --by count and recycle top
    counted=$("$RECYCLE" top --by count --limit 0 leaky.rcy | grep "/$site: ")
    allocs=$(printf '%s\n' "$counted" | sed -n 's/.*allocations=\([0-9]*\),.*/\1/p')
    allocated=$(printf '%s\n' "$counted" | sed -n 's/.*allocated=\([0-9]*\) B,.*/\1/p')
    at_exit=$("$RECYCLE" top --limit 0 leaky.rcy | grep "/$site: " | sed -n 's/.*size=\([0-9]*\) B,.*/\1/p')
    top_count_site=$("$RECYCLE" top --by count --limit 1 leaky.rcy | sed -n '2s/^.*\/\([^/]*:[0-9]*\): .*/\1/p')
    top_alloc_site=$("$RECYCLE" top --by allocated --limit 1 leaky.rcy | sed -n '2s/^.*\/\([^/]*:[0-9]*\): .*/\1/p')
    top_exit_site=$("$RECYCLE" top --limit 1 leaky.rcy | sed -n '2s/^.*\/\([^/]*:[0-9]*\): .*/\1/p')
    check "the figures to check against: $fn at $site ($lost B lost, $allocs allocations of $allocated B, $at_exit B at exit), called by $caller" \
        test -n "$site" -a -n "$lost" -a -n "$fn" -a -n "$caller" -a -n "$allocs" -a -n "$allocated" -a -n "$at_exit"
    cat >leaky.expect <<EOF
{"tabs": {"peak": ["$fn ($site)", "$caller ($caller_site)"],
          "allocations": ["$fn ($site)", "$caller ($caller_site)"],
          "allocated": ["$fn ($site)"],
          "leaked": ["$fn ($site)", "$caller ($caller_site)"],
          "exit": ["$fn ($site)"]},
 "empty": {"temporary": "No temporary allocations"},
 "search": [{"view": "allocations", "term": "$fn", "total": $allocs},
            {"view": "allocated", "term": "$fn", "total": $allocated},
            {"view": "exit", "term": "$fn", "total": $at_exit},
            {"view": "leaked", "term": "$fn", "total": $lost}],
 "bottom_up": [{"view": "leaked", "func": "$fn", "caller": "$caller", "total": "$lost B"},
               {"view": "allocations", "func": "$fn", "caller": "$caller"}],
 "tables": {"count": "($top_count_site)", "allocated": "($top_alloc_site)", "exit": "($top_exit_site)"}}
EOF
    out=$(node "$here/html_views.mjs" leaky.html leaky.expect 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/    /'
    expect_eq "examples/leaky's report: every view checks out in the browser" 0 "$rc"

    # a file of format 1.1: no counters, no leak classes (their tabs are
    # disabled, saying why), the traces at exit drawn
    python3 "$here/craft_snapshot.py" old.rcy --depth 3 --size 4242
    "$RECYCLE" plot old.rcy -o old.html
    cat >old.expect <<EOF
{"tabs": {"exit": ["make_thing (thing.c:12)", "f1 (thing.c:13)"]},
 "disabled": ["allocations", "allocated", "temporary", "leaked"],
 "search": [{"view": "exit", "term": "make_thing", "total": 4242}]}
EOF
    out=$(node "$here/html_views.mjs" old.html old.expect 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/    /'
    expect_eq "an old file's report: the tabs it cannot fill are disabled" 0 "$rc"
fi

shot=${RCY_CLI_SCREENSHOT:-$work/shot.png}
browse shot.out shot.err --screenshot="$shot" "file://$work/report.html"
check "a screenshot was taken" test -s "$shot"
check "the screenshot is not blank" python3 - "$shot" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, width, height = 8, b"", 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
        channels = {2: 3, 6: 4, 0: 1, 4: 2}[ctype]
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = width * channels + 1
# Undo the PNG row filters, then count the non-white pixels.
prev = bytearray(stride - 1)
nonwhite = colours = 0
seen = set()
for y in range(height):
    row = bytearray(raw[y * stride + 1:(y + 1) * stride])
    f = raw[y * stride]
    for i in range(len(row)):
        a = row[i - channels] if i >= channels else 0
        b = prev[i]
        c = prev[i - channels] if i >= channels else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, len(row), channels * 4):
        px = bytes(row[x:x + 3])
        seen.add(px)
        if px != b"\xff\xff\xff":
            nonwhite += 1
    prev = row
total = width * height // 4
print("screenshot %dx%d: %.1f%% non-white, %d colours" % (width, height, 100.0 * nonwhite / total, len(seen)))
sys.exit(0 if nonwhite > total * 0.03 and len(seen) > 20 else 1)
PY

finish
