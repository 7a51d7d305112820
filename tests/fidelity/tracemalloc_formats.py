# tracemalloc's text formats on the same fabricated traces: statistics by
# line and by file, compare_to, Traceback.format, _format_size.
import tracemalloc

OLD = [(0, 100, "a.c", 10), (0, 100, "a.c", 10), (0, 300, "b.c", 5),
       (0, 2048, "lib/c.c", 7), (0, 50, "b.c", 9)]
NEW = OLD[:3] + [(0, 5000000, "lib/c.c", 7), (0, 7, "d.c", 1)]


def snapshot(traces):
    return tracemalloc.Snapshot([(d, size, ((f, line),), 1) for d, size, f, line in traces], 1)


old, new = snapshot(OLD), snapshot(NEW)
for key in ("lineno", "filename"):
    print("statistics", key)
    for stat in new.statistics(key):
        print(stat)
print("compare_to lineno")
for diff in new.compare_to(old, "lineno"):
    print(diff)
print("traceback")
print(*new.statistics("traceback")[0].traceback.format(), sep="\n")
for size in (0, 1, 1023, 1024, 10 * 1024 - 1, 10 * 1024, 1536 * 1024, 3 << 30, 5 << 40):
    print("size", tracemalloc._format_size(size, False), tracemalloc._format_size(-size, True))
