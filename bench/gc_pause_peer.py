"""bench/gc_pause_peer.py — CPython's side of bench/gc_pause.c: the same
program (build a heap of small structures — lists of dicts, trees of 100
nodes, rings of 100 — then replace a quarter of them one at a time) with
CPython's automatic collection, each collection's pause timed by
gc.callbacks in thread CPU time.  Same "name value" output.
Usage: python3 gc_pause_peer.py small [MILLION_OBJECTS, default 10]"""
import gc
import random
import sys
import time


class T:
    __slots__ = ("left", "right")

    def __init__(self):
        self.left = self.right = None


def tree(n):
    t = T()
    if n > 1:
        l = (n - 1) // 2
        if l:
            t.left = tree(l)
        if n - 1 - l:
            t.right = tree(n - 1 - l)
    return t


def ring(n):
    first = last = T()
    for _ in range(n - 1):
        last.left = T()
        last = last.left
    last.left = first
    return first


def list_of_dicts():
    out = []
    for _ in range(10):
        d = {"value": tree(8)}
        d["self"] = d
        out.append(d)
    return out


def structure(rnd):
    k = rnd.randrange(3)
    return tree(100) if k == 0 else ring(100) if k == 1 else list_of_dicts()


def main():
    millions = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    nstruct = max(10, int(millions * 1e6 / 100))
    pauses, examined = [], []
    state = {}

    def cb(phase, info):
        if phase == "start":
            state["t0"] = time.thread_time()
            state["gen"] = info["generation"]
        else:
            pauses.append((time.thread_time() - state["t0"]) * 1e3)
            examined.append(state["gen"])

    gc.callbacks.append(cb)
    rnd = random.Random(1)
    c0 = time.process_time()
    roots = [structure(rnd) for _ in range(nstruct)]
    for _ in range(nstruct // 4):
        roots[rnd.randrange(nstruct)] = structure(rnd)
    total = time.process_time() - c0
    gc.callbacks.remove(cb)
    pauses.sort()
    n = len(pauses)
    print("pauses %d" % n)
    print("pause_median_ms %.4f" % (pauses[n // 2] if n else 0))
    print("pause_p99_ms %.4f" % (pauses[n * 99 // 100] if n else 0))
    print("pause_max_ms %.4f" % (pauses[-1] if n else 0))
    print("full_collections %d" % sum(1 for g in examined if g == 2))
    print("total_s %.3f" % total)


main()
