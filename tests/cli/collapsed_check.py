#!/usr/bin/env python3
"""tests/cli/collapsed_check.py — check a collapsed-stacks file as
flamegraph.pl, speedscope and inferno read it, independently of recycle.

  collapsed_check.py FILE TOTAL [STACK_SUFFIX]

Every line is "frame;frame;... COUNT": the count is the decimal after the
last space, the stack before it splits on ';' into non-empty frames, with
no control character anywhere.  Each stack appears once, the counts add
up to TOTAL, and when STACK_SUFFIX is given some stack ends with it (the
innermost frames, ';'-joined).  Prints what is wrong, exits 1 if anything.
"""
import sys


def main():
    path, total = sys.argv[1], int(sys.argv[2])
    suffix = sys.argv[3] if len(sys.argv) > 3 else None
    problems, seen, got = [], set(), 0
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        problems.append("the last line has no newline")
    lines = data.decode("utf-8").split("\n")[:-1] if data else []
    for n, line in enumerate(lines, 1):
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in line):
            problems.append("line %d has a control character: %r" % (n, line))
        stack, sep, count = line.rpartition(" ")
        if not sep or not count.isdigit():
            problems.append("line %d: no count after the last space: %r" % (n, line))
            continue
        frames = stack.split(";")
        if not stack or any(fr == "" for fr in frames):
            problems.append("line %d: an empty frame: %r" % (n, line))
        if stack in seen:
            problems.append("line %d: stack listed twice: %r" % (n, stack))
        seen.add(stack)
        got += int(count)
    if got != total:
        problems.append("counts add up to %d, expected %d" % (got, total))
    if suffix is not None and not any(s == suffix or s.endswith(";" + suffix) for s in seen):
        problems.append("no stack ends with %r" % suffix)
    for p in problems:
        print("collapsed_check: " + p)
    if not problems:
        print("collapsed_check: %d stacks, %d in all" % (len(seen), got))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
