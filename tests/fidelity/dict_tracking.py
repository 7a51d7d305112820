# Issue 13, item 9: dicts are tracked lazily: an empty dict, or one whose
# values cannot be in a cycle (ints), is untracked until a value that may
# be tracked is stored; lists are always tracked.
import gc

gc.disable()
d = {}
print("empty dict", gc.is_tracked(d))
d["one"] = 1
print("dict of ints", gc.is_tracked(d))
d["inner"] = {}
print("dict holding a dict", gc.is_tracked(d))
print("the inner dict", gc.is_tracked(d["inner"]))
d["inner"]["list"] = []
print("the inner dict holding a list", gc.is_tracked(d["inner"]))
del d["inner"]
print("after the del", gc.is_tracked(d))
gc.collect()
print("after a full collection", gc.is_tracked(d))
print("empty list", gc.is_tracked([]))
e = {}
e["self"] = e
del e
print("a dict holding itself: collected", gc.collect())
