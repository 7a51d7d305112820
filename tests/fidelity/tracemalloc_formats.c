/* The C half of tracemalloc_formats.py: the same traces, fabricated
 * through the engine's internal entry. */
#include "fid.h"
#include "internal.h"

#include <string.h>

typedef struct fake {
    size_t size;
    const char *file;
    int line;
} fake;

static const fake old_traces[] = {
    {100, "a.c", 10}, {100, "a.c", 10}, {300, "b.c", 5}, {2048, "lib/c.c", 7}, {50, "b.c", 9}};
static const fake new_traces[] = {
    {100, "a.c", 10}, {100, "a.c", 10}, {300, "b.c", 5}, {5000000, "lib/c.c", 7}, {7, "d.c", 1}};

static rcy_snapshot *snapshot(const fake *t, size_t n) {
    rcy_tracemalloc_start(1);
    for (size_t i = 0; i < n; i++)
        rcyi_trace_alloc(0, (const void *)(uintptr_t)(0x100000u + 16u * i), t[i].size, t[i].file,
                         t[i].line, "fn");
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_tracemalloc_stop();
    if (!s)
        exit(1);
    return s;
}

int main(void) {
    rcy_snapshot *old = snapshot(old_traces, 5), *new = snapshot(new_traces, 5);
    char buf[512];
    const char *keys[] = {"lineno", "filename"};
    for (int k = 0; k < 2; k++) {
        printf("statistics %s\n", keys[k]);
        rcy_stats *st =
            rcy_snapshot_statistics(new, k == 0 ? RCY_KEY_LINENO : RCY_KEY_FILENAME, false);
        for (size_t i = 0; i < st->len; i++) {
            rcy_statistic_format(&st->items[i], buf, sizeof buf);
            printf("%s\n", buf);
        }
        rcy_stats_free(st);
    }
    printf("compare_to lineno\n");
    rcy_stat_diffs *d = rcy_snapshot_compare_to(new, old, RCY_KEY_LINENO, false);
    for (size_t i = 0; i < d->len; i++) {
        rcy_statistic_diff_format(&d->items[i], buf, sizeof buf);
        printf("%s\n", buf);
    }
    rcy_stat_diffs_free(d);
    printf("traceback\n");
    rcy_stats *st = rcy_snapshot_statistics(new, RCY_KEY_TRACEBACK, false);
    char *tb = rcy_traceback_format(st->items[0].traceback, 0, false);
    size_t n = strlen(tb);
    if (n && tb[n - 1] == '\n') /* Python's format() is a list of lines */
        tb[n - 1] = '\0';
    printf("%s\n", tb);
    free(tb);
    rcy_stats_free(st);
    const int64_t sizes[] = {0,
                             1,
                             1023,
                             1024,
                             10 * 1024 - 1,
                             10 * 1024,
                             1536 * 1024,
                             (int64_t)3 << 30,
                             (int64_t)5 << 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char a[64], b[64];
        rcy_format_size(sizes[i], false, a, sizeof a);
        rcy_format_size(-sizes[i], true, b, sizeof b);
        printf("size %s %s\n", a, b);
    }
    rcy_snapshot_free(old);
    rcy_snapshot_free(new);
    return 0;
}
