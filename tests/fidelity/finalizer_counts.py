# Issue 13, item 3: objects a finalizer leaves to die by refcounting are
# freed during finalization and not counted by collect(); a resurrected
# object is not counted either.
import gc

gc.disable()


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


class Breaker(Node):
    __slots__ = ()

    def __del__(self):
        print("del", self.name)
        self.a = None


saved = []


class Resurrector(Node):
    __slots__ = ()

    def __del__(self):
        print("del", self.name)
        saved.append(self)


gc.collect()
print("a finalizer breaks its own cycle")
a, b = Breaker(), Node()
a.name = "a"
a.a, b.a = b, a
del a, b
print("collected", gc.collect())

print("a ring of 4, one breaker")
ring = [Breaker() if i == 0 else Node() for i in range(4)]
ring[0].name = "r0"
for i in range(4):
    ring[i].a = ring[(i + 1) % 4]
del ring[:]
print("collected", gc.collect())

print("a ring of 3, one resurrector")
ring = [Resurrector() if i == 0 else Node() for i in range(3)]
ring[0].name = "s0"
for i in range(3):
    ring[i].a = ring[(i + 1) % 3]
del ring[:]
print("collected", gc.collect())
print("saved", len(saved))
del saved[:]
print("collected", gc.collect())


def gen(held):
    try:
        yield 1
    finally:
        print("generator closed")


print("a suspended generator in a cycle")
held = []
g = gen(held)
next(g)
held.append(g)
del g, held
print("collected", gc.collect())
