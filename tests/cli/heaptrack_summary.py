#!/usr/bin/env python3
"""Allocation-call count and exact peak heap of a heaptrack data file.

heaptrack 1.x writes an interpreted text format (compressed .zst or .gz):
  s LEN TEXT        string table, indexed from 1
  i IP MODULE ...   instruction pointers, indexed from 1 (MODULE: a string)
  t IP PARENT       trace nodes, indexed from 1 (0 = the root)
  a SIZE TRACE      allocation infos, indexed from 0
  + INFO / - INFO   an allocation / a free of that allocation info
heaptrack_print rounds the peak to three digits; replaying '+' and '-'
gives it to the byte.

--top-leaked N also prints the N functions holding the most bytes still
allocated at exit, one "leaked FUNCTION BYTES" line each, biggest first:
each block counts for the innermost frame of its stack that has a name
(symbol versions such as "@@GLIBC_2.2.5" and glibc's internal "__GI_"
prefix dropped, as recycle leaks names them).

--exclude-module SUBSTR drops allocations with a frame in a module whose
path contains SUBSTR.  The tests use it for libstdc++: heaptrack's own
preload library is C++, so in a program that does not itself use libstdc++
the library's start-up allocation (its exception-handling pool) belongs to
heaptrack, not to the program.

usage: heaptrack_summary.py [--exclude-module SUBSTR] [--top-leaked N] FILE
prints "allocs N" and "peak BYTES" (then the --top-leaked lines)
"""
import argparse
import gzip
import subprocess


def read_lines(path):
    if path.endswith(".zst"):
        out = subprocess.run(["zstd", "-dcq", path], check=True, capture_output=True).stdout
        return out.decode("utf-8", "replace").splitlines()
    if path.endswith(".gz"):
        with gzip.open(path, "rt", errors="replace") as f:
            return f.read().splitlines()
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exclude-module", action="append", default=[])
    ap.add_argument("--top-leaked", type=int, default=0)
    ap.add_argument("file")
    args = ap.parse_args()

    strings = [""]
    ip_module = [0]
    ip_function = [0]
    trace_ip = [0]
    trace_parent = [0]
    sizes = []
    traces = []
    live = []
    excluded = []
    trace_excluded = {0: False}
    allocs = cur = peak = 0
    for line in read_lines(args.file):
        if not line:
            continue
        op = line[0]
        if op == "s":
            # "s LEN TEXT": the text may contain spaces
            parts = line.split(" ", 2)
            strings.append(parts[2] if len(parts) > 2 else "")
        elif op == "i":
            f = line.split()
            ip_module.append(int(f[2], 16))
            # "i IP MODULE [FUNCTION FILE LINE ...]": 0 = no name
            ip_function.append(int(f[3], 16) if len(f) > 3 else 0)
        elif op == "t":
            f = line.split()
            trace_ip.append(int(f[1], 16))
            trace_parent.append(int(f[2], 16))
        elif op == "a":
            f = line.split()
            sizes.append(int(f[1], 16))
            tr = int(f[2], 16)
            traces.append(tr)
            live.append(0)
            ex = False
            if args.exclude_module:
                t = tr
                while t:
                    mod = strings[ip_module[trace_ip[t]]]
                    if any(m in mod for m in args.exclude_module):
                        ex = True
                        break
                    t = trace_parent[t]
            excluded.append(ex)
        elif op == "+":
            i = int(line.split()[1], 16)
            if excluded[i]:
                continue
            cur += sizes[i]
            live[i] += sizes[i]
            allocs += 1
            if cur > peak:
                peak = cur
        elif op == "-":
            i = int(line.split()[1], 16)
            if excluded[i]:
                continue
            cur -= sizes[i]
            live[i] -= sizes[i]
    print("allocs", allocs)
    print("peak", peak)
    if args.top_leaked:
        by_function = {}
        for i, n in enumerate(live):
            if n <= 0:
                continue
            t = traces[i]
            while t and not ip_function[trace_ip[t]]:
                t = trace_parent[t]
            name = strings[ip_function[trace_ip[t]]].split("@")[0] if t else "??"
            if name.startswith("__GI_"):
                name = name[len("__GI_"):]
            by_function[name] = by_function.get(name, 0) + n
        top = sorted(by_function.items(), key=lambda kv: -kv[1])[: args.top_leaked]
        for name, n in top:
            print("leaked", name, n)


if __name__ == "__main__":
    main()
