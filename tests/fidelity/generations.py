# Collect counts by generation, get_stats (from a baseline) and gc
# callbacks: garbage is found only by a collection of its generation.
import gc

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


def stats():
    return [(s["collections"], s["collected"], s["uncollectable"]) for s in gc.get_stats()]


events = []


def callback(phase, info):
    events.append((phase, info["generation"], info["collected"], info["uncollectable"]))


gc.collect()
base = stats()
gc.callbacks.append(callback)
results = []
a = Node()
a.a = a
del a
results.append(("generation 0 garbage, collect(0)", gc.collect(0)))
b = Node()
b.a = b
gc.collect(0)  # b survives into generation 1
del b
results.append(("generation 1 garbage, collect(0)", gc.collect(0)))
results.append(("generation 1 garbage, collect(1)", gc.collect(1)))
c = Node()
c.a = c
gc.collect(1)  # c survives into generation 2
del c
results.append(("generation 2 garbage, collect(1)", gc.collect(1)))
results.append(("generation 2 garbage, collect()", gc.collect()))
gc.callbacks.remove(callback)
now = stats()
for what, n in results:
    print(what, n)
for e in events:
    print("callback", *e)
for g in range(3):
    print("generation", g, *(x - y for x, y in zip(now[g], base[g])))
