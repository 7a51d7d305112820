# Bug 1 of issue 13: the callbacks of one object run newest first, when it
# dies by refcounting and when the collector frees it; a weakref.finalize
# made after them runs first.
import gc
import weakref

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


def callback(tag):
    return lambda r: print("callback", tag)


for how in ("refcount", "collect"):
    print(how)
    x = Node()
    x.a = x if how == "collect" else None
    r1 = weakref.ref(x, callback("r1"))
    r2 = weakref.ref(x, callback("r2"))
    r3 = weakref.ref(x, callback("r3"))
    f = weakref.finalize(x, print, "finalize")
    del x
    if how == "collect":
        print("collected", gc.collect())
    del r1, r2, r3, f
