# gc.freeze: frozen objects are out of every collection until unfreeze,
# which puts them back in the oldest generation.
import gc

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


gc.collect()
a = Node()
a.a = a
gc.freeze()
print("frozen", gc.get_freeze_count() > 0)
print("tracked", gc.is_tracked(a))
del a
print("collected while frozen", gc.collect())
gc.unfreeze()
print("frozen", gc.get_freeze_count())
print("collected after unfreeze", gc.collect(1))
print("collected after unfreeze", gc.collect())
