# Issue 13, item 10: the thresholds and the counts.  The default
# thresholds depend on CPython's version (see thresholds.note).
import gc

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


print("thresholds", *gc.get_threshold())
gc.set_threshold(100, 5, 3)
print("set", *gc.get_threshold())
gc.collect()


def count(g):
    # one generation's count as an int: the tuple goes back to CPython's
    # free list at once, so reading allocates no tracked object
    return gc.get_count()[g]


def counts():
    return count(0), count(1), count(2)


# every reading first, printing after: printing may allocate
count(0)
count(0)
b0, b1, b2 = count(0), count(1), count(2)  # no tuple built
x, y, z = Node(), Node(), Node()
allocated = count(0) - b0
del x
freed = count(0) - b0
gc.collect(0)
after0 = count(0), count(1) - b1, count(2) - b2
gc.collect(1)
after1 = count(0), count(1), count(2) - b2
del y, z
gc.collect()
after2 = count(0), count(1), count(2)
print("after 3 allocations", allocated)
print("after a free", freed)
print("after collect(0)", *after0)
print("after collect(1)", *after1)
print("after collect()", *after2)

print("automatic")
gc.set_threshold(10, 2, 100)
s0 = [s["collections"] for s in gc.get_stats()]
keep = [None] * 40
gc.collect()  # counts 0 0 0, nothing else allocated before the loop
gc.enable()
for i in range(40):
    keep[i] = Node()
gc.disable()
final = count(0), count(1), count(2)
s1 = [s["collections"] for s in gc.get_stats()]
print("collections", s1[0] - s0[0], s1[1] - s0[1])
print("count", *final)
