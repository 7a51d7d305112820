#!/usr/bin/env bash
# tests/cli/run.sh — behaviour of `recycle run` and the reports on real
# runs of tests/cli/cli_target.c.  Env: RECYCLE (the command), CLI_TARGET,
# CLI_STATIC (a -static program).  Wired by tests/cli.cmake.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${RECYCLE:?}" "${CLI_TARGET:?}" "${CLI_STATIC:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
R() { "$RECYCLE" "$@"; }

# ---- pass-through of output, exit status and signals --------------------
out=$(R run -q -o exit.rcy -- "$CLI_TARGET" exit 3 2>err.txt)
rc=$?
expect_eq "exit status passes through" 3 "$rc"
expect_eq "stdout passes through" "to stdout" "$out"
expect_eq "stderr passes through unchanged" "to stderr" "$(cat err.txt)"
check "snapshot written on exit" test -s exit.rcy
expect_match "exit status recorded" "exit status: +3" "$(R stats exit.rcy)"

R run -q -o kill.rcy -- "$CLI_TARGET" kill 15 >/dev/null 2>&1
expect_eq "death by SIGTERM passes through (128+15)" 143 "$?"
check "snapshot written when killed by SIGTERM" test -s kill.rcy
expect_match "the killing signal is recorded" "exit status: +signal 15" "$(R stats kill.rcy)"
expect_match "leak before the signal is in the file" "4242 B" "$(R leaks --show all kill.rcy)"

R run -q -o uexit.rcy -- "$CLI_TARGET" _exit 6 >/dev/null 2>&1
expect_eq "_exit status passes through" 6 "$?"
expect_match "a program ending with _exit writes its file" "exit status: +6" "$(R stats uexit.rcy 2>&1)"
expect_match "with what it still held" "5555 B" "$(R leaks --show all uexit.rcy 2>&1)"
R run -q -o sh.rcy -- sh -c 'exit 4' >/dev/null 2>&1
expect_eq "sh -c: status passes through" 4 "$?"
check "sh (dash ends with _exit) writes its file" test -s sh.rcy

R run -q -o int.rcy -- "$CLI_TARGET" kill 2 >/dev/null 2>&1
expect_eq "death by SIGINT passes through (128+2)" 130 "$?"

# ---- every hooked function is traced, with the right sizes --------------
R run -q -o count.rcy -- "$CLI_TARGET" count >count.out
expect_eq "count mode ran" "count done" "$(cat count.out)"
stats=$(R stats count.rcy)
# 1000 malloc + 10 calloc + 10 realloc + 1 reallocarray + posix_memalign +
# aligned_alloc + memalign + valloc + pvalloc + 3 leaks = 1029 at least
allocs=$(printf '%s\n' "$stats" | awk '/^allocations:/{print $2}')
check "at least the program's 1029 allocation calls are counted ($allocs)" test "${allocs:-0}" -ge 1029
leaks=$(R leaks --show all count.rcy)
expect_match "leaks: the three 12345-byte blocks, grouped" "size=36.2 KiB, count=3, average=12.1 KiB" "$leaks"
expect_match "leaks: the stack names the allocating function" "leak_here" "$leaks"
expect_match "leaks: the stack reaches main" "mode_count|main" "$leaks"
top=$(R top count.rcy)
# per call site counters over the whole run (heaptrack's calls, allocated,
# temporary): the 1000 malloc(100) freed at once, the 10 growing reallocs
# (64 + 128 + ... + 640 bytes; the last one is moved by reallocarray before
# anything else is allocated: one temporary)
bycount=$(R top --by count count.rcy)
# The lines of mode_count, found in the source rather than numbered here.
mline=$(grep -n 'sink = malloc(100);' "$here/cli_target.c" | cut -d: -f1)
cline=$(grep -n 'void \*c = calloc(4, 25);' "$here/cli_target.c" | cut -d: -f1)
rline=$(grep -n 'p = realloc(p, (size_t)(i + 1) \* 64);' "$here/cli_target.c" | cut -d: -f1)
expect_eq "top --by count header" "[ Top 10 by allocations ]" "$(printf '%s\n' "$bycount" | head -1)"
expect_match "top --by count: 1000 allocations at the malloc line, all temporary" \
    "cli_target\.c:$mline: allocations=1000, allocated=97\.7 KiB, temporary=1000, size=0 B, count=0" \
    "$(printf '%s\n' "$bycount" | sed -n 2p)"
expect_match "top --by count: the realloc line, realloc counted as an allocation" \
    "cli_target\.c:$rline: allocations=10, allocated=3520 B, temporary=1," "$bycount"
expect_match "top --by allocated: the biggest total first" \
    "cli_target\.c:$mline: allocations=1000, allocated=97\.7 KiB" \
    "$(R top --by allocated --limit 1 count.rcy | sed -n 2p)"
expect_match "top --by temporary lists the 10 calloc/free pairs second" \
    "cli_target\.c:$cline: allocations=10, allocated=1000 B, temporary=10," \
    "$(R top --by temporary count.rcy | sed -n 3p)"
R top --by count --peak count.rcy >/dev/null 2>bypeak.err
expect_eq "top --by count --peak is refused (usage)" 2 "$?"
R diff --by temporary count.rcy count.rcy >/dev/null 2>/dev/null
expect_eq "diff --by temporary is refused (usage)" 2 "$?"
expect_eq "top prints the [ Top 10 ] header" "[ Top 10 ]" "$(printf '%s\n' "$top" | head -1)"
expect_match "top lines are in tracemalloc's format" \
    '^[^ ]+:[0-9]+: size=[0-9.]+ (B|KiB|MiB), count=[0-9]+, average=[0-9.]+ (B|KiB|MiB)$' \
    "$(printf '%s\n' "$top" | sed -n 2p)"
expect_match "top: the biggest line is the leak in cli_target.c" "cli_target.c:[0-9]+: size=36.2 KiB, count=3" "$(printf '%s\n' "$top" | sed -n 2p)"
expect_match "top --limit 1 prints one line" "^2$" "$(R top --limit 1 count.rcy | wc -l)"
expect_match "top --by filename" "cli_target.c:0: size=" "$(R top --by filename count.rcy)"
expect_match "top --by traceback prints the stack (Python's Traceback.format)" 'File ".*cli_target.c", line [0-9]+' "$(R top --by traceback --limit 1 count.rcy)"
expect_match "top --peak reads the traces at peak" "^\[ Top 10 \]" "$(R top --peak count.rcy)"

# ---- diff ---------------------------------------------------------------
d=$(R diff exit.rcy count.rcy)
expect_eq "diff prints the differences header" "[ Top 10 differences ]" "$(printf '%s\n' "$d" | head -1)"
expect_match "diff lines are StatisticDiff's format" \
    'cli_target.c:[0-9]+: size=36.2 KiB \(\+36.2 KiB\), count=3 \(\+3\), average=12.1 KiB' "$d"

# ---- a failed realloc leaves the block as it was --------------------------
# One live 54321-byte block, then 0 or 1000 reallocs of it that fail: the
# block stays at its malloc line with its size, and the failures count
# neither allocations nor frees.
line=$(grep -n 'reallocfail: the block' "$here/cli_target.c" | cut -d: -f1)
R run -q -o rf0.rcy -- "$CLI_TARGET" reallocfail 0 >rf0.out
R run -q -o rf.rcy -- "$CLI_TARGET" reallocfail 1000 >rf.out
expect_eq "realloc to SIZE_MAX/2 fails 1000 times" "reallocfail done 1000" "$(cat rf.out)"
expect_match "the block stays at its malloc line, with its size" \
    "cli_target.c:$line: size=53.0 KiB, count=1, average=53.0 KiB" "$(R top rf.rcy)"
a0=$(R stats rf0.rcy | awk '/^allocations:/{print $2}')
a1=$(R stats rf.rcy | awk '/^allocations:/{print $2}')
f0=$(R stats rf0.rcy | awk '/^frees:/{print $2}')
f1=$(R stats rf.rcy | awk '/^frees:/{print $2}')
expect_eq "failed reallocs count no allocation ($a0 then $a1)" "${a0:-x}" "${a1:-y}"
expect_eq "failed reallocs count no free ($f0 then $f1)" "${f0:-x}" "${f1:-y}"

# ---- threads: no lost events, no deadlock --------------------------------
R run -q -o thr.rcy -- "$CLI_TARGET" threads 4 20000 >/dev/null
expect_eq "threaded program exits 0" 0 "$?"
allocs=$(R stats thr.rcy | awk '/^allocations:/{print $2}')
check "4 threads x 20000 allocations all counted ($allocs)" test "${allocs:-0}" -ge 80000
frees=$(R stats thr.rcy | awk '/^frees:/{print $2}')
check "and their frees ($frees)" test "${frees:-0}" -ge 80000

# ---- fork: the child writes its own file --------------------------------
R run -q -o fork.rcy -- "$CLI_TARGET" fork >fork.out
expect_eq "fork mode exits 0" 0 "$?"
child=$(awk '/^child/{print $2}' fork.out)
check "the parent's file is written" test -s fork.rcy
check "the child's file has its program and pid in the name (fork.cli_target.$child.rcy)" test -s "fork.cli_target.$child.rcy"
expect_match "the child's leak is in the child's file" "777 B" "$(R leaks --show all "fork.cli_target.$child.rcy")"
if R leaks --show all fork.rcy | grep -q "777 B"; then fail "the parent's file does not hold the child's leak"; else ok "the parent's file does not hold the child's leak"; fi

# ---- fork while other threads allocate: no child hangs --------------------
mkdir -p ft
(cd ft && timeout 120 "$RECYCLE" run -q -o ft.rcy -- "$CLI_TARGET" forkthreads 12 >../ft.out)
expect_eq "12 forks under 3 allocating threads: all children exit, none hangs" 0 "$?"
expect_eq "the parent saw every child exit cleanly" "forkthreads done, 0 bad" "$(cat ft.out)"
expect_eq "each child wrote its own file" 12 "$(ls ft/ft.cli_target.*.rcy 2>/dev/null | wc -l)"

# ---- exec with a stripped environment: the new image is still traced ----
R run -q -o exec.rcy -- "$CLI_TARGET" exec >exec.out
expect_eq "exec'd image ran" "count done" "$(cat exec.out)"
expect_match "the exec'd image wrote the file" "command: +.*cli_target count" "$(R stats exec.rcy)"
expect_match "and its leaks are there" "size=36.2 KiB, count=3" "$(R leaks --show all exec.rcy)"

# ---- --python-malloc: CPython allocates every object with malloc ---------
got=$(env -u PYTHONMALLOC "$RECYCLE" run -q --python-malloc -o pm.rcy -- sh -c 'echo "[$PYTHONMALLOC]"')
expect_eq "--python-malloc: the program sees PYTHONMALLOC=malloc" "[malloc]" "$got"
got=$(env -u PYTHONMALLOC "$RECYCLE" run -q -o pm.rcy -- sh -c 'echo "[$PYTHONMALLOC]"')
expect_eq "without it, PYTHONMALLOC is left unset" "[]" "$got"
if [ -x /usr/bin/python3 ]; then
    env -u PYTHONMALLOC "$RECYCLE" run -q -o py.rcy -- /usr/bin/python3 -c 'print(1)' \
        >/dev/null 2>py.err
    expect_match "python3 with pymalloc: the warning names --python-malloc" \
        "pymalloc.*recycle run --python-malloc" "$(cat py.err)"
    env -u PYTHONMALLOC "$RECYCLE" run -q --python-malloc -o py.rcy -- /usr/bin/python3 \
        -c 'print(1)' >/dev/null 2>py.err
    expect_eq "python3 with --python-malloc: no pymalloc warning" "" "$(cat py.err)"
else
    skip "--python-malloc on python3: /usr/bin/python3 not installed"
fi

# ---- timeline, plots ----------------------------------------------------
R run -q -o peak.rcy --interval 5 -- "$CLI_TARGET" peak >/dev/null
expect_match "top --peak shows the 8 MiB block live at the peak" "cli_target\.c:[0-9]+: size=8192 KiB, count=1," "$(R top --peak --limit 1 peak.rcy)"
check "and plain top (at exit) does not" test -z "$(R top --limit 1 peak.rcy | grep 'size=8192 KiB')"
pst=$(R stats peak.rcy)
expect_match "peak traced memory is the 9 MiB plateau" "peak traced: +9216 KiB \(9437184 B\)" "$pst"
nsamp=$(printf '%s\n' "$pst" | sed -n 's/.*(\([0-9]*\) timeline samples).*/\1/p')
check "timeline sampled every 5 ms over ~300 ms ($nsamp samples)" test "${nsamp:-0}" -ge 20
R plot peak.rcy -o peak.svg
expect_eq "plot -o svg exits 0" 0 "$?"
svg=$(cat peak.svg 2>/dev/null)
expect_match "the svg is an svg" "^<svg xmlns" "$(printf '%s\n' "$svg" | sed -n 2p)"
expect_match "the svg has the memory curve" '<polyline class="current"' "$svg"
expect_match "and the process's RSS beside it, sampled by recycle run" '<polyline class="rss"' "$svg"
# 9216 KiB as stats says it; the chart counts in one unit, its axis's
expect_match "the svg marks the peak, in the axis's unit (9216 KiB = 9.0 MiB)" "peak 9.0 MiB at" "$svg"
expect_match "whose axis counts in MiB" "memory \(MiB\)</text>" "$svg"
if command -v python3 >/dev/null; then
    check "the svg is well-formed XML" python3 -c "import sys, xml.dom.minidom as m; m.parse(sys.argv[1])" peak.svg
fi
R plot peak.rcy -o peak.html
expect_eq "plot -o html exits 0" 0 "$?"
check "the html report has its data filled in" grep -q '"tree":\[\[-1,-1,' peak.html
if grep -q 'RECYCLE_DATA' peak.html; then fail "no data slot left in the html"; else ok "no data slot left in the html"; fi
if grep -Eiq '(src|href)="(https?:)?//' peak.html; then fail "the html fetches nothing"; else ok "the html fetches nothing"; fi
if command -v python3 >/dev/null; then
    check "the html's data block is valid JSON" python3 -c "
import json, re, sys
t = open(sys.argv[1], encoding='utf-8').read()
m = re.search(r'<script type=\"application/json\" id=\"recycle-data\">(.*?)</script>', t, re.S)
d = json.loads(m.group(1))
assert d['peak']['bytes'] >= 9 * 1024 * 1024, d['peak']
assert len(d['timeline']['t']) >= 20
m = d['metrics']
root = d['tree'][0]
assert root[:2] == [-1, -1], root[:2]
assert root[2 + m.index('peak_bytes')] >= 9 * 1024 * 1024, root
assert root[2 + m.index('allocations')] >= 2, root
assert d['have'] == {'peak': True, 'counters': True, 'leaks': True}, d['have']
assert len(d['funcs']) == len(d['frames'])
for i, row in enumerate(d['tree'][1:], 1):
    assert len(row) == 2 + len(m) and 0 <= row[0] < i and 0 <= row[1] < len(d['frames']), (i, row)
    parent = d['tree'][row[0]]
    assert all(row[k] <= parent[k] for k in range(2, len(row))), (i, row, parent)
assert [t['id'] for t in d['tables']] == ['peak', 'exit', 'count', 'allocated', 'temporary']
assert d['tables'][2]['rows'][0]['allocations'] >= 1
" peak.html
    check "the html is well-formed: every element it opens is closed, in order" python3 -c "
import sys
from html.parser import HTMLParser
VOID = {'meta', 'link', 'br', 'img', 'input', 'hr'}
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.open = []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.open.append(tag)
    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-3:], self.getpos())
        self.open.pop()
p = P()
p.feed(open(sys.argv[1], encoding='utf-8').read())
p.close()
assert p.open == [], p.open
" peak.html
fi

# ---- errors: one clear line, documented exit codes -----------------------
R run -- "$CLI_STATIC" >static.out 2>static.err
expect_eq "a static program is refused with 125" 125 "$?"
expect_match "with a message that says why" "statically linked" "$(cat static.err)"
check "and the static program did not run" test ! -s static.out
R run -- no-such-program-xyz 2>nf.err
expect_eq "a missing program exits 127" 127 "$?"
expect_match "with one line" "^recycle run: no-such-program-xyz: command not found$" "$(cat nf.err)"
R run -- /etc/passwd 2>/dev/null
expect_eq "a non-executable exits 126" 126 "$?"
R run 2>/dev/null
expect_eq "run with no program is a usage error (2)" 2 "$?"
R run --frames 0 -- /bin/true 2>/dev/null
expect_eq "run --frames 0 is a usage error" 2 "$?"
R top missing.rcy 2>miss.err
expect_eq "a missing file exits 1" 1 "$?"
expect_eq "with one line" 1 "$(wc -l <miss.err)"
expect_match "naming the file and the reason" "^recycle top: missing.rcy: No such file or directory$" "$(cat miss.err)"
head -c 200 count.rcy >trunc.rcy
R top trunc.rcy 2>trunc.err
expect_eq "a truncated file exits 1" 1 "$?"
expect_eq "with one line" 1 "$(wc -l <trunc.err)"
cp count.rcy flip.rcy
size=$(stat -c %s flip.rcy)
printf '\x55' | dd of=flip.rcy bs=1 seek=$((size / 2)) conv=notrunc status=none
R leaks --show all flip.rcy >/dev/null 2>flip.err
expect_eq "a corrupted file exits 1" 1 "$?"
expect_eq "with one line" 1 "$(wc -l <flip.err)"
echo "not a snapshot" >text.rcy
R stats text.rcy 2>text.err
expect_eq "a text file exits 1" 1 "$?"
expect_eq "with one line" 1 "$(wc -l <text.err)"
R top --by nothing count.rcy 2>/dev/null
expect_eq "bad --by is a usage error" 2 "$?"
R plot count.rcy -o out.png 2>/dev/null
expect_eq "plot to an unknown extension is a usage error" 2 "$?"
R plot count.rcy -o /nonexistent-dir/x.svg 2>/dev/null
expect_eq "plot to an unwritable path exits 1" 1 "$?"
mkdir defout && (cd defout && R run -- "$CLI_TARGET" count >/dev/null 2>../defout.err)
expect_eq "without -o, the snapshot goes to recycle.PROGRAM.PID.rcy here" 1 "$(ls defout | grep -c '^recycle\.cli_target\.[0-9]*\.rcy$')"
expect_eq "and recycle run finds it there (says nothing)" "" "$(cat defout.err)"
R frobnicate 2>/dev/null
expect_eq "an unknown command is a usage error" 2 "$?"
R top --bogus count.rcy 2>bogus.err
expect_eq "an unknown option is a usage error" 2 "$?"
expect_match "named, with where to look" "^recycle top: unknown option '--bogus' \(see recycle top --help\)$" "$(cat bogus.err)"
R plot count.rcy -o 2>noval.err
expect_eq "an option without its value is a usage error" 2 "$?"
expect_match "named as such" "^recycle plot: unknown option or missing value: '-o' \(see recycle plot --help\)$" "$(cat noval.err)"
R run --bogus -- /bin/true 2>runbogus.err
expect_eq "run: an unknown option is a usage error" 2 "$?"
expect_match "named" "^recycle run: unknown option '--bogus' \(see recycle run --help\)$" "$(cat runbogus.err)"

# ---- progress on a terminal only ----------------------------------------
if command -v script >/dev/null; then
    tty_out=$(RCY_PROGRESS_DELAY_MS=0 script -qec "'$RECYCLE' top count.rcy" /dev/null 2>&1)
    expect_match "on a terminal, reading shows progress" "recycle top: reading \.\.\." "$tty_out"
    expect_match "and the report follows on a clean line" "\[ Top 10 \]" "$tty_out"
else
    skip "progress on a terminal: script(1) not installed"
fi
if command -v script >/dev/null; then
    mkdir -p tty && cd tty || exit 1
    tty_out=$(script -qec "'$RECYCLE' run -o f.rcy -- '$CLI_TARGET' fork" /dev/null 2>&1)
    cd .. || exit 1
    expect_match "on a terminal, run says where the file went" "recycle: wrote f.rcy" "$tty_out"
    expect_match "and names the files of child processes" "recycle: a child process wrote \./f\.cli_target\.[0-9]+\.rcy" "$tty_out"
fi
RCY_PROGRESS_DELAY_MS=0 R top count.rcy >/dev/null 2>prog.err
expect_eq "not a terminal: no progress output" "" "$(cat prog.err)"

# ---- --help everywhere ----------------------------------------------------
for c in run top diff leaks stats plot; do
    h=$(R "$c" --help)
    rc=$?
    expect_eq "recycle $c --help exits 0" 0 "$rc"
    expect_match "recycle $c --help shows its usage" "^usage: recycle $c" "$h"
done
expect_match "recycle --help lists the commands" "plot +memory over time" "$(R --help)"
expect_match "recycle --version" "^recycle [0-9]+\.[0-9]+\.[0-9]+$" "$(R --version)"

finish
