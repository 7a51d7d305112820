# Issue 13, item 7: filter patterns follow Python's fnmatch: '[!a]' is a
# negated set, '[^a]' the set {'^', 'a'}; '*' and '?' also match '/'; no
# escape character; an unclosed '[' is an ordinary character.  The same
# fabricated traces on both sides: one per file, of size 2**index.
import tracemalloc

FILES = ["src/a.c", "src/b.c", "src/^.c", "lib/x.c", "^x.c", "src/-.c",
         "src/].c", "a\\b.c", "src/[.c", "SRC/A.C", "src/ab.c", "src/!.c"]
PATTERNS = ["*.c", "src/[ab].c", "src/[^a].c", "src/[!a].c", "[^]x.c",
            "src/?.c", "s?c/*", "*/[!]].c", "src/[]].c", "src/[a-].c",
            "src/[z-a].c", "src/[!z-a].c", "src/[.c", "a\\b.c", "src/[-]*",
            "[[:alpha:]]*", "*a*b*", "src/[a-b]*c", "*", ""]

traces = [(0, 1 << i, ((f, 1),), 1) for i, f in enumerate(FILES)]
snapshot = tracemalloc.Snapshot(traces, 1)
for pattern in PATTERNS:
    for inclusive in (True, False):
        kept = snapshot.filter_traces([tracemalloc.Filter(inclusive, pattern)])
        total = sum(t.size for t in kept.traces)
        names = [f for i, f in enumerate(FILES) if total >> i & 1]
        print("include" if inclusive else "exclude", repr(pattern), *names)
