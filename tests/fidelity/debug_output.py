# Issue 13, item 8: with DEBUG_COLLECTABLE | DEBUG_UNCOLLECTABLE the
# collectable objects are printed first, the uncollectable ones (found
# when the garbage has been cleared) after them.
import gc
import io
import sys

from fid_legacy import Legacy, Node

gc.disable()
gc.collect()
lg, x, kept = Legacy(), Node(), Node()
lg.name = "L"
lg.a, x.a, lg.b = lg, x, kept
del lg, x, kept
gc.set_debug(gc.DEBUG_COLLECTABLE | gc.DEBUG_UNCOLLECTABLE)
sys.stderr = err = io.StringIO()
n = gc.collect()
sys.stderr = sys.__stderr__
gc.set_debug(0)
print(err.getvalue(), end="")
print("collected", n)
print("garbage", len(gc.garbage))
gc.garbage[0].a = None
del gc.garbage[:]
print("end")
