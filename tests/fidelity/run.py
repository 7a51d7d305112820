#!/usr/bin/env python3
"""tests/fidelity/run.py — one differential test: NAME.py run by CPython
and the C program NAME.c built against recycle must print the same lines.

Before comparing, both outputs are normalised the same way: hexadecimal
addresses become 0xADDR and "N.NNNNs elapsed" becomes "Ns elapsed".

A documented difference lives in NAME.note: free text (why it stays)
plus pairs of lines
    py: <a line CPython prints>
    c:  <the line recycle prints instead>
Each pair replaces, in CPython's output, the first line equal to the py:
text not replaced yet; a py: line that CPython no longer prints fails the
test, so a note cannot outlive its difference.  A difference with one
CPython version only is written py[<3.13]: or py[>=3.13]: and applies
when the interpreter's version is below (or at least) the one named.

NAME.py exiting with 77 means CPython lacks what the scenario needs (for
instance _testcapi): the test is skipped (ctest SKIP_RETURN_CODE 77).

usage: python3 run.py C_PROGRAM DIR NAME
(NAME.py runs under the interpreter that runs this script: sys.executable,
so a pyenv shim is resolved once.)
"""
import difflib
import os
import re
import subprocess
import sys

SKIP = 77


def normalise(text):
    text = re.sub(r"0x[0-9a-fA-F]+", "0xADDR", text)
    text = re.sub(r"\d+\.\d+s elapsed", "Ns elapsed", text)
    return text.splitlines()


def read_note(path):
    pairs, py = [], None
    if not os.path.exists(path):
        return pairs
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = re.match(r"py(?:\[(<|>=)(\d+)\.(\d+)\])?:(.*)", line)
            if m:
                op, major, minor, text = m.groups()
                applies = True
                if op:
                    below = sys.version_info[:2] < (int(major), int(minor))
                    applies = below if op == "<" else not below
                py = (text.strip(), applies)
            elif line.startswith("c:"):
                if py is None:
                    sys.exit(f"{path}:{n}: c: line without a py: line before it")
                if py[1]:
                    pairs.append((py[0], line[2:].strip()))
                py = None
    return pairs


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    program, directory, name = sys.argv[1:4]
    python = sys.executable
    print(f"CPython {sys.version.split()[0]} ({python}) vs recycle: {name}")
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    rc, py_out, py_err = run([python, os.path.join(directory, name + ".py")], env)
    if rc == SKIP:
        print(f"skipped: {py_err.strip()}")
        return SKIP
    if rc != 0:
        print(f"{name}.py failed ({rc}):\n{py_err}")
        return 1
    rc, c_out, c_err = run([program])
    if rc != 0:
        print(f"{program} failed ({rc}):\n{c_err}")
        return 1
    expected = normalise(py_out)
    used = [False] * len(expected)
    for py_line, c_line in read_note(os.path.join(directory, name + ".note")):
        for i, line in enumerate(expected):
            if not used[i] and line == py_line:
                expected[i], used[i] = c_line, True
                break
        else:
            print(f"{name}.note: CPython no longer prints {py_line!r}: the note is stale")
            return 1
    got = normalise(c_out)
    if got != expected:
        print("CPython's output (after the note) vs recycle's:")
        sys.stdout.writelines(l + "\n" for l in difflib.unified_diff(
            expected, got, "python (with note)", "recycle", lineterm=""))
        return 1
    print(f"{len(got)} lines agree ({sum(used)} documented differences)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
