# Issue 13, items 4 and 5: a weak reference freed right after its callback
# counts in collect(), and so does a weakref.finalize that fires in a
# collection (the weak reference inside it); a called or detached finalize
# no longer counts in getweakrefcount.
import gc
import weakref

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


gc.collect()
print("a callback drops its own weak reference")
holder = []
x = Node()
x.a = x


def drop(r):
    print("callback")
    holder.clear()


holder.append(weakref.ref(x, drop))
del x
print("collected", gc.collect())

print("a finalize fires in a collection")
y = Node()
y.a = y
weakref.finalize(y, print, "finalized")
del y
print("collected", gc.collect())

print("getweakrefcount")
z = Node()
f = weakref.finalize(z, print, "f called")
g = weakref.finalize(z, print, "g called")
r = weakref.ref(z)
print(weakref.getweakrefcount(z))
f()
print(weakref.getweakrefcount(z), f.alive)
g.detach()
print(weakref.getweakrefcount(z), g.alive)
del r
print(weakref.getweakrefcount(z))
del z
print("end")
