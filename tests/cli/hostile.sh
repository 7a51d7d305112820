#!/usr/bin/env bash
# tests/cli/hostile.sh — recycle's files and readers under hostile
# conditions: what -o must never replace, temporaries nobody can guess,
# special files and lying headers given to the readers, signals in the
# middle of allocation-heavy work, crafted sizes and names, and each
# command's own options.  Runs in a temporary directory of its own (with
# its own device node when run as root).
# Needs RECYCLE and CLI_TARGET in the environment (tests/cli.cmake).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
R() { "$RECYCLE" "$@"; }
craft() { python3 "$here/craft_snapshot.py" "$@"; }

R run -q -o base.rcy -- "$CLI_TARGET" count >/dev/null
check "a snapshot to work with" test -s base.rcy

# ---- 1. -o never replaces what is not a regular file -------------------------
if [ "$(id -u)" = 0 ] && mknod dev c 1 3 2>/dev/null; then
    R run -q -o dev -- "$CLI_TARGET" count >/dev/null
    expect_eq "run -o DEVICE exits 0" 0 "$?"
    check "run -o DEVICE leaves the device node a device" test -c dev
    R plot base.rcy -o dev.svg 2>/dev/null; rm -f dev.svg
    mknod dev.svg c 1 3
    R plot base.rcy -o dev.svg
    expect_eq "plot -o DEVICE exits 0" 0 "$?"
    check "plot -o DEVICE leaves the device node a device" test -c dev.svg
else
    skip "-o on a device node: needs root to mknod (running as $(id -un))"
fi
echo keep >victim
ln -s victim link.rcy
R run -q -o link.rcy -- "$CLI_TARGET" count >/dev/null
check "run -o SYMLINK keeps the symlink" test -L link.rcy
expect_match "and writes the file it points to" "allocations:" "$(R stats victim 2>&1)"
mkfifo fifo.rcy
cat fifo.rcy >from_fifo.rcy &
reader=$!
R run -q -o fifo.rcy -- "$CLI_TARGET" count >/dev/null
wait "$reader"
check "run -o FIFO keeps the FIFO" test -p fifo.rcy
expect_match "and the reader got the snapshot through it" "allocations:" "$(R stats from_fifo.rcy 2>&1)"
R plot base.rcy -o piped.svg >/dev/null
ln -s /dev/stdout stdout.svg
R plot base.rcy -o stdout.svg | cat >through_pipe.svg
expect_eq "plot -o a symlink to /dev/stdout, stdout a pipe, writes through it" "$(cat piped.svg)" "$(cat through_pipe.svg)"
check "and the symlink stays" test -L stdout.svg
mkdir outdir
R run -o outdir -- sh -c 'touch ran' 2>dir.err
expect_eq "run -o DIRECTORY is refused with 125" 125 "$?"
check "before the program runs" test ! -e ran
expect_match "saying why" "cannot write the snapshot to outdir: Is a directory" "$(cat dir.err)"

# ---- 2. temporaries nobody can guess, never followed -------------------------
echo precious >target
chmod 600 target
next=$(cat /proc/sys/kernel/ns_last_pid 2>/dev/null || echo 0)
if [ "$next" -gt 0 ]; then
    # every name the old scheme (OUT.tmpPID, OUT.tmpPID.tmpXXX) could use soon
    python3 -c '
import os, sys
n = int(sys.argv[1])
for p in range(n + 1, n + 2001):
    for name in ("out.rcy.tmp%d" % p, "out.rcy.tmp%d.tmpXXX" % p):
        os.symlink("target", name)
os.symlink("target", "out.rcy.tmpXXX")' "$next"
    R run -q -o out.rcy -- "$CLI_TARGET" count >/dev/null
    expect_eq "a symlink planted under a guessable temporary name is not followed" precious "$(cat target)"
    check "the snapshot is in place" test -s out.rcy
    find . -name 'out.rcy.tmp*' -type l -delete
    check "nothing ever wrote a temporary in the old scheme" test ! -e out.rcy.tmpXXX
else
    skip "planted temporaries: /proc/sys/kernel/ns_last_pid not readable"
fi
if command -v strace >/dev/null; then
    # -ff: one file per process, so a call interrupted by another process's
    # line is never split into "<unfinished ...>" and "<... resumed>"
    strace -ff -o trace -e trace=openat,rename "$RECYCLE" run -q -o st.rcy -- "$CLI_TARGET" count >/dev/null 2>&1
    cat trace.[0-9]* >trace.txt && rm -f trace.[0-9]*
    tmpopen=$(grep -E '\.rcy-[0-9a-f]{16}\.tmp"' trace.txt | grep openat | head -1)
    expect_match "the snapshot's temporary is created O_EXCL|O_NOFOLLOW, mode 0600" "O_CREAT\|O_EXCL\|O_NOFOLLOW.*0600" "$tmpopen"
    expect_match "in the destination directory, then renamed into place" "rename\(\"$work/\.rcy-[0-9a-f]{16}\.tmp\", \"$work/st\.rcy\"\)" "$(grep rename trace.txt)"
    strace -ff -o trace2 -e trace=openat "$RECYCLE" plot base.rcy -o p.svg >/dev/null 2>&1
    cat trace2.[0-9]* >trace2.txt && rm -f trace2.[0-9]*
    expect_match "plot -o uses the same temporary" "\.rcy-[0-9a-f]{16}\.tmp\".*O_EXCL\|O_NOFOLLOW.*0600" "$(cat trace2.txt)"
else
    skip "temporary's open flags: strace not installed"
fi
if [ -z "$(ls -A . | grep '^\.rcy-')" ]; then ok "no temporary left behind"; else fail "no temporary left behind" "$(ls -A)"; fi
umask 027
R run -q -o mode.rcy -- "$CLI_TARGET" count >/dev/null
expect_eq "the finished file has mode 0666 minus the umask" 640 "$(stat -c %a mode.rcy)"
umask 022

# ---- 4. readers check the header first; special files ------------------------
timeout 20 "$RECYCLE" top /dev/zero >/dev/null 2>zero.err
expect_eq "top /dev/zero exits 1 at once (not an 8 GB read)" 1 "$?"
expect_match "as not a recycle file" "/dev/zero: not a recycle file" "$(cat zero.err)"
truncate -s 100G sparse.rcy
timeout 20 "$RECYCLE" top sparse.rcy >/dev/null 2>sparse.err
expect_eq "a 100 GiB sparse file exits 1" 1 "$?"
expect_match "as not a recycle file, not out of memory" "sparse.rcy: not a recycle file" "$(cat sparse.err)"
rm -f sparse.rcy
mkfifo empty.fifo
timeout 20 "$RECYCLE" stats empty.fifo >/dev/null 2>fifo.err
expect_eq "a FIFO with no writer does not block (exit 1)" 1 "$?"
R stats /dev/stdin <base.rcy >pipe.out 2>&1
expect_match "a snapshot through a pipe reads" "allocations:" "$(cat pipe.out)"
cp base.rcy long.rcy && head -c 100 /dev/zero >>long.rcy
R top long.rcy >/dev/null 2>long.err
expect_match "a regular file longer than its header says is corrupt" "truncated or its checksum" "$(cat long.err)"
if command -v zstd >/dev/null; then
    head -c 1073741824 /dev/zero | zstd -q -1 --stream-size=1073741824 -o bomb.zst
    craft bomb.rcy --bomb 1073741824 bomb.zst
    rss=$(python3 - "$RECYCLE" bomb.rcy <<'PY'
import resource, subprocess, sys
subprocess.run([sys.argv[1], "top", sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
)
    check "a $(stat -c %s bomb.rcy)-byte file declaring 1 GiB of sections makes top use ${rss} MiB, under 200" test "$rss" -lt 200
    expect_match "and is refused" "not a recycle file" "$(R top bomb.rcy 2>&1)"
else
    skip "compressed bomb: zstd not installed"
fi

# ---- 5. silent loss --------------------------------------------------------
# wait_ready FILE: wait (up to 30 s) for the target to create FILE once its
# loop runs (CLI_TARGET_READY).
wait_ready() {
    t=0
    while [ ! -e "$1" ] && [ $t -lt 300 ]; do sleep 0.1; t=$((t + 1)); done
}
for i in 1 2 3 4 5; do
    rm -f term.rcy term.ready
    CLI_TARGET_READY=term.ready "$RECYCLE" run -q -o term.rcy -- "$CLI_TARGET" loop 1000000000 >/dev/null &
    pid=$!
    # Signal it once its loop runs (a fixed sleep lost the race on a
    # loaded machine: a SIGTERM before the preload's start-up is a plain
    # death, with nothing to write).
    wait_ready term.ready
    kill -TERM "$pid"
    wait "$pid"
    [ -s term.rcy ] && echo yes
done >term.count 2>/dev/null
expect_eq "SIGTERM during a malloc loop still writes the file (5 of 5)" 5 "$(grep -c yes term.count)"
expect_match "recording the signal" "exit status: +signal 15" "$(R stats term.rcy 2>&1)"
rm -f thr.rcy thr.ready
CLI_TARGET_READY=thr.ready "$RECYCLE" run -q -o thr.rcy -- "$CLI_TARGET" threads 4 20000000 >/dev/null &
pid=$!
wait_ready thr.ready
kill -HUP "$pid" # forwarded to the program
wait "$pid"
expect_eq "SIGHUP into 4 allocating threads kills the program (128 + 1)" 129 "$?"
check "and still writes the file" test -s thr.rcy
expect_match "recording the signal" "exit status: +signal 1" "$(R stats thr.rcy 2>&1)"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    cp "$CLI_TARGET" suid_target && chown nobody suid_target && chmod 4755 suid_target
    "$RECYCLE" run -o suid.rcy -- ./suid_target count >/dev/null 2>suid.err
    rc=$?
    if grep -q "set-user-ID" suid.err; then
        expect_eq "a set-user-ID program that writes nothing makes run exit 125" 125 "$rc"
        expect_match "saying why" "exited without writing suid.rcy: it is set-user-ID, so the dynamic loader ignored LD_PRELOAD" "$(cat suid.err)"
    elif [ -s suid.rcy ]; then
        skip "set-user-ID: this file system ignores the set-user-ID bit (nosuid)"
    else
        fail "a set-user-ID program: the reason is given" "$(cat suid.err)"
    fi
else
    skip "set-user-ID program: needs root and a 'nobody' user"
fi

# ---- 6. crafted sizes --------------------------------------------------------
craft huge.rcy --size 18446744073709551615 --count 1
craft small.rcy --size 0 --count 1
top=$(R top huge.rcy 2>&1)
expect_match "a 2^64-1 byte trace prints as 16777216 TiB" "size=16777216 TiB" "$top"
if printf '%s' "$top" | grep -q -- "=-"; then fail "no negative size" "$top"; else ok "no negative size"; fi
expect_match "stats: no negative size either" "peak traced: +16777216 TiB \(18446744073709551615 B\)" "$(R stats huge.rcy 2>&1)"
d=$(R diff huge.rcy small.rcy 2>&1)
expect_eq "diff from 2^64-1 bytes to 0 exits 0 (no signed overflow)" 0 "$?"
expect_match "and shows the (clamped) drop" "size=0 B \(-8388608 TiB\)" "$d"

# ---- 7. no recursion per stack frame -------------------------------------
craft deep.rcy --depth 200000 --size 4096
(ulimit -s 1024 && "$RECYCLE" plot deep.rcy -o deep.html) 2>deep.err
expect_eq "plot -o x.html of a 200000-frame stack under a 1 MiB stack exits 0" 0 "$?"
check "and the page holds the outermost frame" grep -q '"f199999 (thing.c:200011)"' deep.html
check "and the whole stack: the call tree's last row is 200000 levels down" grep -q '\[199999,[0-9]*,4096,1,' deep.html
(ulimit -s 1024 && "$RECYCLE" leaks deep.rcy >/dev/null) 2>>deep.err
expect_eq "leaks of the same file under a 1 MiB stack exits 0" 0 "$?"

# ---- 8. small ones -----------------------------------------------------------
R top --by traceback --cumulative base.rcy 2>cum.err
expect_eq "top --by traceback --cumulative is a usage error (2)" 2 "$?"
expect_match "saying why" "cannot be used with --by traceback" "$(cat cum.err)"
R run -q -o true.rcy -- true
top=$(R top --peak true.rcy 2>&1)
expect_eq "top --peak on a run that ended at its peak exits 0" 0 "$?"
if printf '%s' "$top" | grep -q "not written by recycle run"; then fail "no false 'not written by recycle run'" "$top"; else ok "no false 'not written by recycle run'"; fi
craft esc.rcy --function $'evil\033[2J\033]0;title\007' --file $'bad\033[31m.c'
for c in top leaks stats; do
    out=$(R "$c" esc.rcy 2>&1)
    if printf '%s' "$out" | grep -q $'\033'; then fail "$c prints no raw escape character" "$out"; else ok "$c prints no raw escape character"; fi
done
expect_match "top shows it escaped" 'bad\\x1b\[31m\.c:12' "$(R top esc.rcy)"
expect_match "leaks shows the function escaped" 'evil\\x1b\[2J\\x1b\]0;title\\x07' "$(R leaks esc.rcy)"
craft c1.rcy --function $'c1\xc2\x9b31m'
expect_match "a UTF-8 C1 control (CSI) is escaped" 'c1\\u009b31m' "$(R leaks c1.rcy)"

# ---- issue 12: run's contract, per-command options -------------------------
R run -o /nonexistent/d/x.rcy -- sh -c 'touch ran2' 2>nodir.err
expect_eq "run -o in a missing directory exits 125" 125 "$?"
check "before the program runs" test ! -e ran2
expect_match "with the real reason" "cannot write the snapshot to /nonexistent/d/x.rcy: No such file or directory" "$(cat nodir.err)"
R run -o kill9.rcy -- sh -c 'kill -9 $$' 2>/dev/null
rc=$?
check "a run killed by SIGKILL (no snapshot) does not exit 0 ($rc)" test "$rc" -ne 0
R run -o noexit.rcy -- "$CLI_TARGET" _exit 0 >/dev/null 2>&1
expect_eq "a run that writes its snapshot exits with the program's 0" 0 "$?"
mkdir follow nofollow
(cd follow && R run -q -o f.rcy -- sh -c "'$CLI_TARGET' count; '$CLI_TARGET' count" >/dev/null)
expect_eq "children write files named after their program" 2 "$(ls follow | grep -c '^f\.cli_target\.[0-9]*\.rcy$')"
(cd nofollow && R run -q --no-follow -o f.rcy -- sh -c "'$CLI_TARGET' count; '$CLI_TARGET' count" >/dev/null)
expect_eq "--no-follow: only the first process writes" "f.rcy" "$(ls nofollow)"
for bad in "stats --peak base.rcy" "leaks --by filename base.rcy" "top --oldest-first base.rcy" \
    "stats --limit 3 base.rcy" "diff --oldest-first base.rcy base.rcy" "leaks --cumulative base.rcy"; do
    # shellcheck disable=SC2086
    R $bad >/dev/null 2>opt.err
    expect_eq "recycle $bad is refused (2)" 2 "$?"
done
expect_match "named" "recycle diff: unknown option '--oldest-first'" "$(R diff --oldest-first base.rcy base.rcy 2>&1)"

finish
