# Issue 13, item 6: the order finalizers run in within one collection.
# Young collections: generation 1's members, then generation 0's, each in
# the order they entered it (allocation order for generation 0).  Full
# collections differ: see finalizer_order.note.
import gc

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


class Del(Node):
    __slots__ = ()

    def __del__(self):
        print("del", self.name)


def ring(*names):
    nodes = []
    for name in names:
        n = Del()
        n.name = name
        nodes.append(n)
    for i, n in enumerate(nodes):
        n.a = nodes[(i + 1) % len(nodes)]
    return nodes


gc.collect()
print("generation 0")
r = ring("a", "b", "c")
del r[:]
print("collected", gc.collect(0))

print("generation 1")
old = ring("d", "e")
gc.collect(0)  # d and e move to generation 1
young = ring("f", "g")
del old[:], young[:]
print("collected", gc.collect(1))

