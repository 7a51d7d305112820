#!/usr/bin/env python3
"""tests/docs.py — keep the documentation's C examples honest.

  docs.py extract DOC.md OUTDIR   write OUTDIR/<stem>_NN.c for each fenced
                                  block opened with ```c program, and
                                  OUTDIR/<stem>_NN.out for the block opened
                                  with ```output that follows it (if any);
                                  print the names written, one a line.
  docs.py check BINARY [EXPECTED] run BINARY; fail if it exits non-zero or,
                                  when EXPECTED is given, if its standard
                                  output differs from that file.
"""
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^```(\S*)\s*(.*)$")


def blocks(text):
    """Yield (info, body) for every fenced block."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        info = (m.group(1) + " " + m.group(2)).strip()
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        yield info, "".join(body)
        i += 1


def extract(doc, outdir):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    stem = os.path.splitext(os.path.basename(doc))[0]
    os.makedirs(outdir, exist_ok=True)
    names = []
    last = None
    for info, body in blocks(text):
        words = info.split()
        if words[:2] == ["c", "program"]:
            last = "%s_%02d" % (stem, len(names) + 1)
            names.append(last)
            write(os.path.join(outdir, last + ".c"), body)
            stale = os.path.join(outdir, last + ".out")
            if os.path.exists(stale):
                os.remove(stale)
        elif words[:1] == ["output"] and last:
            write(os.path.join(outdir, last + ".out"), body)
            last = None
        else:
            last = None
    for n in names:
        print(n)


def write(path, text):
    # Rewrite only when changed, so the build does not redo every example.
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def check(binary, expected=None):
    run = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=120)
    sys.stderr.write(run.stderr.decode(errors="replace"))
    out = run.stdout.decode(errors="replace")
    if run.returncode != 0:
        sys.stdout.write(out)
        print("FAIL: %s exited with status %d" % (binary, run.returncode))
        return 1
    if expected and os.path.exists(expected):
        with open(expected, encoding="utf-8") as f:
            want = f.read()
        if out != want:
            print("FAIL: output of %s differs from the guide" % binary)
            print("--- the guide says ---\n" + want + "--- the program printed ---\n" + out)
            return 1
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "extract":
        extract(argv[2], argv[3])
        return 0
    if len(argv) in (3, 4) and argv[1] == "check":
        return check(argv[2], argv[3] if len(argv) == 4 else None)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
