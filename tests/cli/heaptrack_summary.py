#!/usr/bin/env python3
"""Print the allocation-call count and the exact peak heap of a heaptrack
data file (heaptrack 1.x interpreted format, .zst or .gz), by replaying its
'+' (allocation) and '-' (free) events over the 'a' (allocation info:
size, trace) table.  heaptrack_print rounds the peak to three digits; the
replay gives it to the byte.

usage: heaptrack_summary.py FILE  ->  "allocs N\npeak BYTES\n"
"""
import gzip
import subprocess
import sys


def lines(path):
    if path.endswith(".zst"):
        out = subprocess.run(["zstd", "-dcq", path], check=True, capture_output=True).stdout
        return out.decode("utf-8", "replace").splitlines()
    if path.endswith(".gz"):
        with gzip.open(path, "rt", errors="replace") as f:
            return f.read().splitlines()
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def main():
    sizes = []
    allocs = cur = peak = 0
    for line in lines(sys.argv[1]):
        if not line:
            continue
        op = line[0]
        if op == "a":
            sizes.append(int(line.split()[1], 16))
        elif op == "+":
            cur += sizes[int(line.split()[1], 16)]
            allocs += 1
            if cur > peak:
                peak = cur
        elif op == "-":
            cur -= sizes[int(line.split()[1], 16)]
    print("allocs", allocs)
    print("peak", peak)


if __name__ == "__main__":
    main()
