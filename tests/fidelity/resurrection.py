# PEP 442: a finalizer runs once, whether the object dies by refcounting
# or in a collection, and may resurrect it; weak references are cleared
# before finalizers run.
import gc
import weakref

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


saved = []


class Phoenix(Node):
    __slots__ = ()

    def __del__(self):
        print("del", self.name, "weakref alive:", self.b() is not None)
        saved.append(self)


gc.collect()
print("by refcounting")
p = Phoenix()
p.name = "p"
p.b = weakref.ref(p)
p.a = None
del p
print("saved", len(saved), "finalized", gc.is_finalized(saved[0]))
del saved[:]  # the second death: no finalizer
print("collected", gc.collect())

print("in a collection")
q = Phoenix()
q.name = "q"
q.b = weakref.ref(q)
q.a = q
del q
print("collected", gc.collect())
print("saved", len(saved), "finalized", gc.is_finalized(saved[0]))
print("its weakref", saved[0].b() is None)
del saved[:]
print("collected", gc.collect())
