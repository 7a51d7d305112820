# Shared by the Python halves that need a legacy finalizer (tp_del): the
# Node and Legacy classes, the C side's node_type and legacy_type.  Exits
# 77 (skipped) when this python3 has no _testcapi, as Debian's lacks it.
import sys

try:
    import _testcapi
except ImportError:
    print("this python3 has no _testcapi (with_tp_del)", file=sys.stderr)
    sys.exit(77)


class Node:
    __slots__ = ('a', 'b', 'name', '__weakref__')


@_testcapi.with_tp_del
class Legacy:
    __slots__ = ('a', 'b', 'name', '__weakref__')

    def __tp_del__(self):
        print("tp_del", self.name)
