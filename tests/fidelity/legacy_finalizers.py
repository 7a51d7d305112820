# Bug 2 of issue 13: an object with a legacy finalizer (tp_del) reached
# from a garbage cycle but in none dies by refcounting once the cycle is
# cleared; one in a cycle is uncollectable with all it reaches.
import gc

from fid_legacy import Legacy, Node

gc.disable()
gc.collect()
print("in no cycle")
a, b, lg, kept = Node(), Node(), Legacy(), Node()
lg.name = "L"
a.a, b.a, a.b, lg.a = b, a, lg, kept
del a, b, lg, kept
print("collected", gc.collect())
print("garbage", len(gc.garbage))

print("in a cycle")
lg, x, tail = Legacy(), Node(), Node()
lg.name = "L2"
lg.a, x.a, x.b = x, lg, tail
del lg, x, tail
print("collected", gc.collect())
print("garbage", len(gc.garbage))
print("collected", gc.collect())
print("stats", gc.get_stats()[2]["uncollectable"] > 0)
for o in gc.garbage:
    o.a = None
del o
del gc.garbage[:]
print("end")
