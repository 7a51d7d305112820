"""bench/gc_peer.py — CPython's side of bench/gc_bench.c: the same graph
shapes, the same measurements, the same "name value" output.
Usage: python3 gc_peer.py RUNS [scale]"""
import gc
import os
import statistics
import sys
import time


class Node:
    __slots__ = ("next",)

    def __init__(self):
        self.next = None


def make_rings(nrings, length):
    for _ in range(nrings):
        first = prev = Node()
        for _ in range(length - 1):
            n = Node()
            prev.next = n
            prev = n
        prev.next = first


def garbage_ns(nrings, length, runs):
    t = []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        make_rings(nrings, length)
        t0 = time.process_time()
        n = gc.collect()
        t.append((time.process_time() - t0) * 1e9 / (nrings * length))
        assert n >= nrings * length, n
    return statistics.median(t)


def chain_ns(n, runs):
    gc.disable()
    head = tail = Node()
    for _ in range(n - 1):
        x = Node()
        tail.next = x
        tail = x
    gc.collect()
    t = []
    for _ in range(runs):
        t0 = time.process_time()
        gc.collect()
        t.append((time.process_time() - t0) * 1e9 / n)
    del head, tail
    gc.collect()
    return statistics.median(t)


def traversal_ms(levels, runs):
    gc.disable()
    cur = []
    edges = 0
    for n in range(levels):
        cur = [cur] * n
        edges += n
    t = []
    for _ in range(runs):
        t0 = time.process_time()
        gc.collect()
        t.append((time.process_time() - t0) * 1e3)
    del cur
    gc.collect()
    return statistics.median(t), edges


def young_us(old, young, reps):
    gc.disable()
    oldhead = None
    if old:
        oldhead = tail = Node()
        for _ in range(old - 1):
            x = Node()
            tail.next = x
            tail = x
        del tail
    gc.collect()
    t = []
    for _ in range(reps):
        keep = []
        for i in range(young):
            a = Node()
            a.next = Node()
            if i % 2 == 0:
                a.next.next = a
            else:
                keep.append(a)
            del a
        t0 = time.process_time()
        gc.collect(0)
        t.append((time.process_time() - t0) * 1e6)
        del keep
        gc.collect(1)
    del oldhead
    gc.collect()
    return statistics.median(t)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    only = os.environ.get("GC_BENCH_ONLY")

    def want(name):
        return not only or name in only

    print("runs %d" % runs)
    if want("cyclic2"):
        print("cyclic2_ns_per_object %.2f" % garbage_ns(500000 // scale, 2, runs))
    if want("rings"):
        print("rings_ns_per_object %.2f" % garbage_ns(100000 // scale, 21, runs))
    if want("chain"):
        print("chain_ns_per_object %.2f" % chain_ns(4000000 // scale, runs))
    if want("traversal"):
        ms, edges = traversal_ms(1000, runs)
        print("traversal_ms %.3f" % ms)
        print("traversal_ns_per_edge %.2f" % (ms * 1e6 / edges))
    if want("young"):
        none = young_us(0, 2000, 21 * runs)
        with_old = young_us(10000000 // scale, 2000, 21 * runs)
        print("young_us_no_old %.2f" % none)
        print("young_us_10m_old %.2f" % with_old)
        print("young_pause_ratio %.3f" % (with_old / none))
    if want("header"):
        # PyGC_Head before the object plus PyObject_HEAD (refcount, type).
        x = Node()
        print("header_bytes %d" % ((sys.getsizeof(x) - x.__sizeof__()) + object.__basicsize__))


main()
