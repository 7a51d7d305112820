"""bench/trace_binary_trees.py — the CPython anchor for tracemalloc's cost:
binary_trees with instances of a __slots__ class (each one a traced
PyObject allocation), untraced or under tracemalloc.start(NFRAME).

    python3 trace_binary_trees.py DEPTH NFRAME RUNS [FRACTION [gc]]

Prints the same "key value" lines as bench/trace_binary_trees.c.  The
collector is disabled unless the last argument is "gc" (bench/run.d/30-gc.sh
uses that to show what CPython's own collector costs on this program)."""
import gc
import sys
import time
import tracemalloc


class Node:
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right


allocations = 0


def make(depth):
    global allocations
    allocations += 1
    if depth == 0:
        return Node(None, None)
    return Node(make(depth - 1), make(depth - 1))


def check(n):
    return 1 + check(n.left) + check(n.right) if n.left is not None else 1


def run(max_depth, fraction):
    total = 0
    total += check(make(max_depth + 1))
    long_lived = make(max_depth)
    for d in range(4, max_depth + 1, 2):
        iters = max(1, (1 << (max_depth - d + 4)) // fraction)
        for _ in range(iters):
            total += check(make(d))
    return total + check(long_lived)


def main():
    global allocations
    depth, nframe, runs = (int(a) for a in sys.argv[1:4])
    fraction = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if sys.argv[5:6] != ["gc"]:
        gc.disable()  # the same work either way: measure allocation, not collection
    times = []
    for _ in range(runs):
        if nframe:
            tracemalloc.start(nframe)
        allocations = 0
        t0 = time.process_time()
        checksum = run(depth, fraction)
        times.append(time.process_time() - t0)
        tracemalloc.stop()
    times.sort()
    t = times[len(times) // 2]
    print("allocations", allocations)
    print("checksum", checksum)
    print("seconds %.6f" % t)
    print("ns_per_alloc %.3f" % (t * 1e9 / allocations))
    if nframe:
        tracemalloc.start(nframe)
        base = tracemalloc.get_tracemalloc_memory()
        allocations = 0
        tree = make(depth)
        used = tracemalloc.get_tracemalloc_memory() - base
        print("tracer_bytes_per_block %.2f" % (used / allocations))
        del tree
        tracemalloc.stop()


main()
