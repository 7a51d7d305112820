/* The C half of filters.py: the same traces, fabricated through the
 * engine's internal entry (the public one records the caller's line). */
#include "fid.h"
#include "internal.h"

#include <string.h>

static const char *const files[] = {"src/a.c", "src/b.c", "src/^.c",  "lib/x.c",
                                    "^x.c",    "src/-.c", "src/].c",  "a\\b.c",
                                    "src/[.c", "SRC/A.C", "src/ab.c", "src/!.c"};
static const char *const patterns[] = {"*.c",       "src/[ab].c",  "src/[^a].c",  "src/[!a].c",
                                       "[^]x.c",    "src/?.c",     "s?c/*",       "*/[!]].c",
                                       "src/[]].c", "src/[a-].c",  "src/[z-a].c", "src/[!z-a].c",
                                       "src/[.c",   "a\\b.c",      "src/[-]*",    "[[:alpha:]]*",
                                       "*a*b*",     "src/[a-b]*c", "*",           ""};
#define N(a) (sizeof(a) / sizeof(a)[0])

/* Python's repr of a str without quotes or non-ASCII inside. */
static void print_repr(const char *s) {
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('\'');
}

int main(void) {
    if (rcy_tracemalloc_start(1) != RCY_OK)
        return 1;
    for (size_t i = 0; i < N(files); i++)
        rcyi_trace_alloc(0, (const void *)(uintptr_t)(0x100000u + 16u * i), (size_t)1 << i,
                         files[i], 1, "fn");
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_tracemalloc_stop();
    if (!s)
        return 1;
    for (size_t p = 0; p < N(patterns); p++) {
        for (int inclusive = 1; inclusive >= 0; inclusive--) {
            rcy_filter f = {.inclusive = inclusive, .filename_pattern = patterns[p], .domain = -1};
            rcy_snapshot *kept = rcy_snapshot_filter_traces(s, &f, 1);
            size_t total, count;
            rcy_snapshot_totals(kept, &total, &count);
            printf("%s ", inclusive ? "include" : "exclude");
            print_repr(patterns[p]);
            for (size_t i = 0; i < N(files); i++)
                if (total >> i & 1)
                    printf(" %s", files[i]);
            printf("\n");
            rcy_snapshot_free(kept);
        }
    }
    rcy_snapshot_free(s);
    return 0;
}
