/* tests/test_snapshot.c — snapshots: statistics grouped and sorted as
 * Python does, compare_to, filters, the text formats (checked against
 * python3's own tracemalloc when python3 is present), traceback_format,
 * and the extra sections (timeline, info, counters), per call site
 * counters (allocations, bytes, temporaries) and their file section. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"

#define ADDR(i) ((const void *)(uintptr_t)(0x200000u + 16u * (uintptr_t)(i)))

static int stop_tracing(void **state) {
    (void)state;
    rcy_tracemalloc_stop();
    return 0;
}

static void at(unsigned domain, int i, size_t size, const char *file, int line) {
    rcyi_trace_alloc(domain, ADDR(i), size, file, line, "fn");
}

static char *fmt_stat(const rcy_statistic *st) {
    static char buf[512];
    int n = rcy_statistic_format(st, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return buf;
}

static char *fmt_diff(const rcy_statistic_diff *d) {
    static char buf[512];
    int n = rcy_statistic_diff_format(d, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    return buf;
}

/* ---- statistics -------------------------------------------------------------- */

static void statistics_by_line_are_exact_and_sorted(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    at(0, 1, 100, "a.c", 10);
    at(0, 2, 100, "a.c", 10);
    at(0, 3, 300, "b.c", 5);
    at(0, 4, 200, "a.c", 20); /* size ties with a.c:10, fewer blocks */
    at(0, 5, 50, "c.c", 1);
    at(0, 6, 50, "b.c", 7); /* same size and count as c.c:1: traceback decides */
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_non_null(st);
    assert_int_equal(st->len, 5);
    /* Python: sorted by (size, count, traceback), biggest first. */
    assert_string_equal(fmt_stat(&st->items[0]), "b.c:5: size=300 B, count=1, average=300 B");
    assert_string_equal(fmt_stat(&st->items[1]), "a.c:10: size=200 B, count=2, average=100 B");
    assert_string_equal(fmt_stat(&st->items[2]), "a.c:20: size=200 B, count=1, average=200 B");
    assert_string_equal(fmt_stat(&st->items[3]), "c.c:1: size=50 B, count=1, average=50 B");
    assert_string_equal(fmt_stat(&st->items[4]), "b.c:7: size=50 B, count=1, average=50 B");
    rcy_stats_free(st);

    st = rcy_snapshot_statistics(s, RCY_KEY_FILENAME, false);
    assert_int_equal(st->len, 3);
    assert_string_equal(fmt_stat(&st->items[0]), "a.c:0: size=400 B, count=3, average=133 B");
    assert_string_equal(fmt_stat(&st->items[1]), "b.c:0: size=350 B, count=2, average=175 B");
    assert_string_equal(fmt_stat(&st->items[2]), "c.c:0: size=50 B, count=1, average=50 B");
    rcy_stats_free(st);

    st = rcy_snapshot_statistics(s, RCY_KEY_TRACEBACK, false);
    assert_int_equal(st->len, 5);
    assert_int_equal(st->items[0].size, 300);
    rcy_stats_free(st);

    /* traceback + cumulative is refused, as Python refuses it */
    assert_null(rcy_snapshot_statistics(s, RCY_KEY_TRACEBACK, true));
    assert_null(rcy_snapshot_statistics(s, (rcy_key_type)9, false));
    rcy_snapshot_free(s);
}

static void statistics_outlive_their_snapshot(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    at(0, 1, 4096, "long/path/to/file.c", 99);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    char path[] = "/tmp/rcy_snap_outliveXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    rcy_snapshot_free(s);
    int err;
    s = rcy_snapshot_load(path, &err);
    assert_non_null(s);
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    rcy_snapshot_free(s);
    assert_string_equal(fmt_stat(&st->items[0]),
                        "long/path/to/file.c:99: size=4096 B, count=1, average=4096 B");
    rcy_stats_free(st);
    unlink(path);
}

/* Cumulative: every frame of a traceback counts; a frame repeated by
 * recursion counts once per trace (Python would count it again). */
__attribute__((noinline)) static void recurse_then_alloc(int depth, const void *p) {
    if (depth == 0)
        rcyi_trace_alloc(0, p, 1000, __FILE__, __LINE__, __func__);
    else
        recurse_then_alloc(depth - 1, p);
    __asm__ volatile("" ::: "memory");
}

static void cumulative_counts_each_frame_once_per_trace(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(10), RCY_OK);
    recurse_then_alloc(3, ADDR(1));
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, 1);
    assert_true(t[0].traceback->nframe >= 5);
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, true);
    assert_non_null(st);
    size_t sum_count = 0;
    for (size_t i = 0; i < st->len; i++) {
        assert_int_equal(st->items[i].size, 1000); /* never 2000 or more */
        assert_int_equal(st->items[i].count, 1);
        sum_count++;
    }
    /* call-site line, the recursive call line, the test's line, ... */
    assert_true(sum_count >= 3);
    rcy_stats_free(st);
    st = rcy_snapshot_statistics(s, RCY_KEY_FILENAME, true);
    bool seen = false;
    for (size_t i = 0; i < st->len; i++) {
        assert_int_equal(st->items[i].size, 1000);
        assert_int_equal(st->items[i].count, 1);
        assert_int_equal(st->items[i].traceback->frames[0].lineno, 0);
        seen |= strcmp(st->items[i].traceback->frames[0].filename, __FILE__) == 0;
    }
    assert_true(seen);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
}

/* ---- compare_to --------------------------------------------------------------- */

static void compare_to_diffs_and_sorts_as_python(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    at(0, 1, 1000, "old.c", 1); /* freed later: -1000 */
    at(0, 2, 500, "keep.c", 2); /* unchanged */
    at(0, 3, 100, "grow.c", 3); /* grows by 4000 */
    rcy_snapshot *old = rcy_tracemalloc_take_snapshot();
    rcyi_trace_free(0, ADDR(1));
    at(0, 4, 4000, "grow.c", 3);
    at(0, 5, 1000, "new.c", 4); /* new: +1000, ties |size_diff| with old.c */
    rcy_snapshot *now = rcy_tracemalloc_take_snapshot();
    rcy_stat_diffs *d = rcy_snapshot_compare_to(now, old, RCY_KEY_LINENO, false);
    assert_non_null(d);
    assert_int_equal(d->len, 4);
    assert_string_equal(fmt_diff(&d->items[0]),
                        "grow.c:3: size=4100 B (+4000 B), count=2 (+1), average=2050 B");
    /* |size_diff| ties: bigger size first (new.c has 1000, old.c 0) */
    assert_string_equal(fmt_diff(&d->items[1]),
                        "new.c:4: size=1000 B (+1000 B), count=1 (+1), average=1000 B");
    assert_string_equal(fmt_diff(&d->items[2]), "old.c:1: size=0 B (-1000 B), count=0 (-1)");
    assert_string_equal(fmt_diff(&d->items[3]),
                        "keep.c:2: size=500 B (+0 B), count=1 (+0), average=500 B");
    assert_int_equal(d->items[2].size_diff, -1000);
    assert_int_equal(d->items[2].count_diff, -1);
    rcy_stat_diffs_free(d);

    d = rcy_snapshot_compare_to(now, old, RCY_KEY_FILENAME, false);
    assert_int_equal(d->len, 4);
    assert_string_equal(fmt_diff(&d->items[0]),
                        "grow.c:0: size=4100 B (+4000 B), count=2 (+1), average=2050 B");
    rcy_stat_diffs_free(d);
    assert_null(rcy_snapshot_compare_to(now, old, RCY_KEY_TRACEBACK, true));
    rcy_snapshot_free(old);
    rcy_snapshot_free(now);
}

/* ---- filters -------------------------------------------------------------------- */

static size_t filtered_size(const rcy_snapshot *s, const rcy_filter *f, size_t n) {
    rcy_snapshot *r = rcy_snapshot_filter_traces(s, f, n);
    assert_non_null(r);
    size_t total;
    rcy_snapshot_totals(r, &total, NULL);
    rcy_snapshot_free(r);
    return total;
}

static void filters_combine_as_python(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    at(0, 1, 1, "src/a.c", 10);
    at(0, 2, 2, "src/a.c", 20);
    at(0, 3, 4, "src/b.c", 10);
    at(1, 4, 8, "lib/c.c", 10);
    at(2, 5, 16, "src/a.c", 10);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    /* no filters: everything */
    assert_int_equal(filtered_size(s, NULL, 0), 31);
    rcy_filter inc_a = {.inclusive = true, .filename_pattern = "*a.c", .domain = -1};
    assert_int_equal(filtered_size(s, &inc_a, 1), 1 + 2 + 16);
    rcy_filter inc_a10 = inc_a;
    inc_a10.lineno = 10;
    assert_int_equal(filtered_size(s, &inc_a10, 1), 1 + 16);
    rcy_filter exc_a = {.inclusive = false, .filename_pattern = "src/a.c", .domain = -1};
    assert_int_equal(filtered_size(s, &exc_a, 1), 4 + 8);
    /* fnmatch: '*' crosses '/', [] sets, '?' */
    rcy_filter inc_src = {.inclusive = true, .filename_pattern = "s?c/[ab].c", .domain = -1};
    assert_int_equal(filtered_size(s, &inc_src, 1), 1 + 2 + 4 + 16);
    /* Python's fnmatch: '[^a]' is the set {'^', 'a'}, '[!a]' negates */
    rcy_filter inc_caret = {.inclusive = true, .filename_pattern = "src/[^a].c", .domain = -1};
    assert_int_equal(filtered_size(s, &inc_caret, 1), 1 + 2 + 16);
    rcy_filter inc_bang = {.inclusive = true, .filename_pattern = "src/[!a].c", .domain = -1};
    assert_int_equal(filtered_size(s, &inc_bang, 1), 4);
    /* inclusive with domain: pattern AND domain */
    rcy_filter inc_a_d2 = inc_a;
    inc_a_d2.domain = 2;
    assert_int_equal(filtered_size(s, &inc_a_d2, 1), 16);
    /* exclusive with domain: excluded only when pattern AND domain */
    rcy_filter exc_a_d2 = exc_a;
    exc_a_d2.domain = 2;
    assert_int_equal(filtered_size(s, &exc_a_d2, 1), 31 - 16);
    /* DomainFilter */
    rcy_filter dom1 = {.inclusive = true, .domain_only = true, .domain = 1};
    assert_int_equal(filtered_size(s, &dom1, 1), 8);
    rcy_filter nodom1 = {.inclusive = false, .domain_only = true, .domain = 1};
    assert_int_equal(filtered_size(s, &nodom1, 1), 31 - 8);
    /* any inclusive matches, then no exclusive excludes */
    rcy_filter two[3] = {inc_a, dom1, exc_a_d2};
    assert_int_equal(filtered_size(s, two, 3), 1 + 2 + 8);
    rcy_snapshot *r = rcy_snapshot_filter_traces(s, two, 3);
    rcy_stats *st = rcy_snapshot_statistics(r, RCY_KEY_LINENO, false);
    rcy_snapshot_free(r); /* results own their strings */
    rcy_snapshot_free(s);
    assert_int_equal(st->len, 3);
    assert_string_equal(fmt_stat(&st->items[0]), "lib/c.c:10: size=8 B, count=1, average=8 B");
    rcy_stats_free(st);
}

__attribute__((noinline)) static void deep_alloc(const void *p) {
    rcyi_trace_alloc(0, p, 64, "inner.c", 5, "deep_alloc");
    __asm__ volatile("" ::: "memory");
}

static void all_frames_filter_looks_at_every_frame(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(5), RCY_OK);
    deep_alloc(ADDR(1));
    at(0, 2, 1, "other.c", 1);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    /* the test file is a caller's frame, not the most recent one */
    rcy_filter f = {.inclusive = true, .filename_pattern = "*test_snapshot.c", .domain = -1};
    assert_int_equal(filtered_size(s, &f, 1), 0);
    f.all_frames = true;
    assert_int_equal(filtered_size(s, &f, 1), 64);
    f.inclusive = false;
    assert_int_equal(filtered_size(s, &f, 1), 1);
    rcy_snapshot_free(s);
}

/* ---- text ------------------------------------------------------------------------- */

static const int64_t sizes[] = {0,
                                1,
                                99,
                                100,
                                1023,
                                1024,
                                1536,
                                10239,
                                10240,
                                10291,
                                102399,
                                102400,
                                1048575,
                                1048576,
                                3519488,
                                10485759,
                                10485760,
                                104857599,
                                104857600,
                                1073741824,
                                10737418239LL,
                                10737418240LL,
                                1099511627776LL,
                                10995116277760LL,
                                112589990684262400LL,
                                -1,
                                -100,
                                -10240,
                                -1048576,
                                -104857600};

static void format_size_known_values(void **state) {
    (void)state;
    char b[64];
    rcy_format_size(3519488, false, b, sizeof b);
    assert_string_equal(b, "3437 KiB");
    rcy_format_size(99, false, b, sizeof b);
    assert_string_equal(b, "99 B");
    rcy_format_size(10240, false, b, sizeof b);
    assert_string_equal(b, "10.0 KiB");
    rcy_format_size(102400, true, b, sizeof b);
    assert_string_equal(b, "+100 KiB");
    rcy_format_size(-1536, true, b, sizeof b);
    assert_string_equal(b, "-1536 B");
    rcy_format_size(0, true, b, sizeof b);
    assert_string_equal(b, "+0 B");
    /* snprintf-style length */
    assert_int_equal(rcy_format_size(3519488, false, b, 3), 8);
}

/* Every size, sign and average formatted by python3's tracemalloc, line
 * for line against ours.  Skipped when python3 is absent. */
static void format_matches_python(void **state) {
    (void)state;
    if (system("python3 -c 'import tracemalloc' >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    char script[] = "/tmp/rcy_fmtXXXXXX";
    int fd = mkstemp(script);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "import tracemalloc\nfs = tracemalloc._format_size\nfor v in [");
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        fprintf(f, "%lld,", (long long)sizes[i]);
    fprintf(f, "]:\n    print(fs(v, False)); print(fs(v, True))\n"
               "    for c in (1, 3, 7, 1000):\n"
               "        if v >= 0: print(fs(v / c, False))\n"
               "tb = tracemalloc.Traceback(((\"x.c\", 42),))\n"
               "print(tracemalloc.Statistic(tb, 3519488, 76685))\n"
               "print(tracemalloc.StatisticDiff(tb, 3519488, -1000, 76685, -3))\n"
               "print(tracemalloc.StatisticDiff(tb, 0, -1000, 0, -3))\n");
    fclose(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "python3 %s", script);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char want[256], got[256];
    size_t lines = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (int sign = 0; sign < 2; sign++) {
            assert_non_null(fgets(want, sizeof want, p));
            want[strcspn(want, "\n")] = 0;
            rcy_format_size(sizes[i], sign, got, sizeof got);
            assert_string_equal(got, want);
            lines++;
        }
        if (sizes[i] < 0)
            continue;
        static const int counts[] = {1, 3, 7, 1000};
        for (int c = 0; c < 4; c++) {
            assert_non_null(fgets(want, sizeof want, p));
            want[strcspn(want, "\n")] = 0;
            rcy_statistic st = {.size = (size_t)sizes[i], .count = (size_t)counts[c]};
            rcy_statistic_format(&st, got, sizeof got);
            /* our line is "?:0: size=..., count=..., average=X" */
            const char *avg = strstr(got, "average=");
            assert_non_null(avg);
            assert_string_equal(avg + 8, want);
            lines++;
        }
    }
    rcy_frame fr = {"x.c", 42, NULL, 0, NULL};
    rcy_traceback tb = {1, 1, &fr};
    rcy_statistic st = {.traceback = &tb, .size = 3519488, .count = 76685};
    rcy_statistic_diff d = {&tb, 3519488, -1000, 76685, -3};
    rcy_statistic_diff d0 = {&tb, 0, -1000, 0, -3};
    assert_non_null(fgets(want, sizeof want, p));
    want[strcspn(want, "\n")] = 0;
    assert_string_equal(fmt_stat(&st), want);
    assert_non_null(fgets(want, sizeof want, p));
    want[strcspn(want, "\n")] = 0;
    assert_string_equal(fmt_diff(&d), want);
    assert_non_null(fgets(want, sizeof want, p));
    want[strcspn(want, "\n")] = 0;
    assert_string_equal(fmt_diff(&d0), want);
    assert_int_equal(pclose(p), 0);
    unlink(script);
    assert_true(lines > 100);
}

static void traceback_format_as_python(void **state) {
    (void)state;
    /* newest first: frames[0] is this file's line below */
    int line = __LINE__ + 1;
    rcy_frame fr[3] = {{__FILE__, (unsigned)line, "f", 0, NULL},
                       {"/nonexistent/b.c", 7, "g", 0, NULL},
                       {"/nonexistent/c.c", 3, "main", 0, NULL}};
    rcy_traceback tb = {3, 3, fr};
    char *s = rcy_traceback_format(&tb, 0, false);
    char want[1024];
    snprintf(want, sizeof want,
             "  File \"/nonexistent/c.c\", line 3\n"
             "  File \"/nonexistent/b.c\", line 7\n"
             "  File \"%s\", line %d\n"
             "    int line = __LINE__ + 1;\n",
             __FILE__, line);
    /* the source line shown is the one at `line`: */
    snprintf(want, sizeof want,
             "  File \"/nonexistent/c.c\", line 3\n"
             "  File \"/nonexistent/b.c\", line 7\n"
             "  File \"%s\", line %d\n"
             "    rcy_frame fr[3] = {{__FILE__, (unsigned)line, \"f\", 0, NULL},\n",
             __FILE__, line);
    assert_string_equal(s, want);
    free(s);
    s = rcy_traceback_format(&tb, 2, true);
    snprintf(want, sizeof want,
             "  File \"%s\", line %d\n"
             "    rcy_frame fr[3] = {{__FILE__, (unsigned)line, \"f\", 0, NULL},\n"
             "  File \"/nonexistent/b.c\", line 7\n",
             __FILE__, line);
    assert_string_equal(s, want);
    free(s);
    s = rcy_traceback_format(&tb, -1, false);
    assert_string_equal(s, "  File \"/nonexistent/c.c\", line 3\n");
    free(s);
}

/* ---- extra sections --------------------------------------------------------------- */

static void info_timeline_and_counters(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    at(0, 1, 10, "a.c", 1);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_tracemalloc_counters *c = rcy_snapshot_counters(s);
    assert_int_equal(c->allocs, 1);
    assert_int_equal(c->current, 10);
    assert_int_equal(c->peak, 10);
    assert_int_equal(rcy_snapshot_traceback_limit(s), 1);
    assert_int_equal(rcy_snapshot_set_info(s, "cmd", "./prog --x"), RCY_OK);
    assert_int_equal(rcy_snapshot_set_info(s, "pid", "42"), RCY_OK);
    assert_int_equal(rcy_snapshot_set_info(s, "cmd", "./prog --y"), RCY_OK);
    assert_string_equal(rcy_snapshot_get_info(s, "cmd"), "./prog --y");
    assert_null(rcy_snapshot_get_info(s, "nope"));
    assert_int_equal(rcy_snapshot_set_info(s, "pid", NULL), RCY_OK);
    assert_null(rcy_snapshot_get_info(s, "pid"));
    rcy_sample smp[2] = {{1, 10, 10, 0}, {2, 5, 10, 0}};
    assert_int_equal(rcy_snapshot_set_timeline(s, smp, 2), RCY_OK);
    size_t n;
    const rcy_sample *tl = rcy_snapshot_timeline(s, &n);
    assert_int_equal(n, 2);
    assert_int_equal(tl[1].current, 5);
    assert_null(rcy_snapshot_at_peak(s));
    rcy_snapshot_free(s);
}

static void keep_peak_keeps_the_picture_at_peak(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    assert_int_equal(rcy_tracemalloc_keep_peak(true), RCY_OK);
    for (int i = 0; i < 100; i++)
        at(0, i, 1000, "burst.c", 1);
    at(0, 1000, 500, "steady.c", 2);
    for (int i = 0; i < 100; i++)
        rcyi_trace_free(0, ADDR(i));
    at(0, 1001, 10, "after.c", 3);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_snapshot *pk = rcy_snapshot_at_peak(s);
    assert_non_null(pk);
    rcy_stats *st = rcy_snapshot_statistics(pk, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 2);
    assert_string_equal(fmt_stat(&st->items[0]),
                        "burst.c:1: size=97.7 KiB, count=100, average=1000 B");
    assert_string_equal(fmt_stat(&st->items[1]), "steady.c:2: size=500 B, count=1, average=500 B");
    rcy_stats_free(st);
    size_t total, count;
    rcy_snapshot_totals(s, &total, &count);
    assert_int_equal(total, 510);
    rcy_snapshot_free(s);
    assert_int_equal(rcy_tracemalloc_keep_peak(false), RCY_OK);
}

/* Threads allocating and freeing with keep_peak on: the picture at peak is
 * taken with the world stopped, so its traces add up to its own total, and
 * that total is a real state of the traced memory (at most the peak). */
static void *peak_churn(void *arg) {
    uintptr_t base = (uintptr_t)arg;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 50; i++)
            rcyi_trace_alloc(0, (const void *)(base + 16u * (uintptr_t)i),
                             (size_t)(round + i) % 97 + 1, "churn.c", i % 5 + 1, "churn");
        for (int i = 0; i < 50; i++)
            rcyi_trace_free(0, (const void *)(base + 16u * (uintptr_t)i));
    }
    return NULL;
}

static void keep_peak_with_threads_is_consistent(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    assert_int_equal(rcy_tracemalloc_keep_peak(true), RCY_OK);
    pthread_t th[3];
    for (int t = 0; t < 3; t++)
        pthread_create(&th[t], NULL, peak_churn, (void *)((uintptr_t)(t + 1) << 36));
    for (int t = 0; t < 3; t++)
        pthread_join(th[t], NULL);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_snapshot *pk = rcy_snapshot_at_peak(s);
    assert_non_null(pk);
    size_t total, count;
    rcy_snapshot_totals(pk, &total, &count);
    assert_true(total > 0);
    assert_int_equal(total, rcy_snapshot_counters(pk)->current);
    assert_true(total <= rcy_snapshot_counters(s)->peak);
    rcy_snapshot_totals(s, &total, &count);
    assert_int_equal(total, 0);
    rcy_snapshot_free(s);
    assert_int_equal(rcy_tracemalloc_keep_peak(false), RCY_OK);
}

/* ---- per call site counters ------------------------------------------------ */

/* The statistic of file:line in st, or NULL. */
static const rcy_statistic *stat_of(const rcy_stats *st, const char *file, unsigned line) {
    for (size_t i = 0; i < st->len; i++) {
        const rcy_frame *f = &st->items[i].traceback->frames[0];
        if (strcmp(f->filename, file) == 0 && f->lineno == line)
            return &st->items[i];
    }
    return NULL;
}

static void expect_site(const rcy_stats *st, const char *file, unsigned line, uint64_t allocs,
                        uint64_t bytes, uint64_t temps) {
    const rcy_statistic *x = stat_of(st, file, line);
    assert_non_null(x);
    assert_int_equal(x->allocations, allocs);
    assert_int_equal(x->allocated, bytes);
    assert_int_equal(x->temporary, temps);
}

#define COUNTER_THREAD_ALLOCS 5000

static void *counted_churn(void *arg) {
    uintptr_t base = (uintptr_t)arg;
    for (int i = 0; i < COUNTER_THREAD_ALLOCS; i++) {
        rcyi_trace_alloc(0, (const void *)(base + 16u * (uintptr_t)i), 3, "thr.c", 1, "fn");
        rcyi_trace_free(0, (const void *)(base + 16u * (uintptr_t)i));
    }
    return NULL;
}

static void site_counters_count_allocations_bytes_and_temporaries(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    /* 10 temporaries: each freed before the next allocation */
    for (int i = 0; i < 10; i++) {
        at(0, i, 8, "a.c", 1);
        rcyi_trace_free(0, ADDR(i));
    }
    /* 5 kept, then 3 of them freed after later allocations: no temporary */
    for (int i = 0; i < 5; i++)
        at(0, 100 + i, 100, "b.c", 2);
    at(0, 200, 1, "c.c", 3); /* freed after another allocation: not temporary */
    at(0, 201, 2, "c.c", 4);
    rcyi_trace_free(0, ADDR(200));
    /* a free of another block in between does not matter, only allocations */
    at(0, 300, 7, "d.c", 5);
    for (int i = 0; i < 3; i++)
        rcyi_trace_free(0, ADDR(100 + i));
    rcyi_trace_free(0, ADDR(300));
    /* another domain, same address: not the last allocation's block */
    at(1, 400, 9, "e.c", 6);
    rcyi_trace_free(0, ADDR(400));
    rcyi_trace_free(1, ADDR(400));
    /* threads: every increment lands (atomic once several threads trace) */
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, counted_churn, (void *)((uintptr_t)(t + 1) << 36));
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);

    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    assert_non_null(s);
    assert_true(rcy_snapshot_has_site_counters(s));
    rcy_stats *st = rcy_snapshot_statistics_by(s, RCY_KEY_LINENO, false, RCY_ORDER_ALLOCATIONS);
    assert_non_null(st);
    assert_int_equal(st->len, 7);
    expect_site(st, "thr.c", 1, 2 * COUNTER_THREAD_ALLOCS, 6 * COUNTER_THREAD_ALLOCS,
                2 * COUNTER_THREAD_ALLOCS);
    expect_site(st, "a.c", 1, 10, 80, 10);
    expect_site(st, "b.c", 2, 5, 500, 0);
    expect_site(st, "c.c", 3, 1, 1, 0);
    expect_site(st, "c.c", 4, 1, 2, 0);
    expect_site(st, "d.c", 5, 1, 7, 1);
    expect_site(st, "e.c", 6, 1, 9, 1);
    /* sorted by allocations, biggest first */
    assert_string_equal(st->items[0].traceback->frames[0].filename, "thr.c");
    assert_string_equal(st->items[1].traceback->frames[0].filename, "a.c");
    assert_string_equal(st->items[2].traceback->frames[0].filename, "b.c");
    /* the live blocks are still there */
    assert_int_equal(stat_of(st, "b.c", 2)->size, 200);
    assert_int_equal(stat_of(st, "b.c", 2)->count, 2);
    rcy_stats_free(st);
    st = rcy_snapshot_statistics_by(s, RCY_KEY_LINENO, false, RCY_ORDER_TEMPORARY);
    assert_string_equal(st->items[1].traceback->frames[0].filename, "a.c");
    rcy_stats_free(st);
    st = rcy_snapshot_statistics_by(s, RCY_KEY_FILENAME, false, RCY_ORDER_ALLOCATED);
    expect_site(st, "c.c", 0, 2, 3, 0);
    rcy_stats_free(st);
    /* Python's order lists only what is live, with the counters beside */
    st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 2);
    expect_site(st, "b.c", 2, 5, 500, 0);
    rcy_stats_free(st);

    /* the counters survive a file, and a filtered snapshot has none */
    char path[] = "/tmp/rcy_countersXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    int err = -1;
    rcy_snapshot *l = rcy_snapshot_load(path, &err);
    unlink(path);
    assert_non_null(l);
    assert_true(rcy_snapshot_has_site_counters(l));
    st = rcy_snapshot_statistics_by(l, RCY_KEY_LINENO, false, RCY_ORDER_ALLOCATIONS);
    assert_int_equal(st->len, 7);
    expect_site(st, "a.c", 1, 10, 80, 10);
    expect_site(st, "e.c", 6, 1, 9, 1);
    rcy_stats_free(st);
    rcy_snapshot_free(l);
    rcy_filter f = {.inclusive = true, .filename_pattern = "b.c", .domain = -1};
    rcy_snapshot *fs = rcy_snapshot_filter_traces(s, &f, 1);
    assert_false(rcy_snapshot_has_site_counters(fs));
    assert_null(rcy_snapshot_statistics_by(fs, RCY_KEY_LINENO, false, RCY_ORDER_ALLOCATIONS));
    rcy_snapshot_free(fs);
    rcy_snapshot_free(s);

    /* clear_traces starts the counters over */
    rcy_tracemalloc_clear_traces();
    at(0, 500, 4, "a.c", 1);
    s = rcy_tracemalloc_take_snapshot();
    st = rcy_snapshot_statistics_by(s, RCY_KEY_LINENO, false, RCY_ORDER_ALLOCATIONS);
    assert_int_equal(st->len, 1);
    expect_site(st, "a.c", 1, 1, 4, 0);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(statistics_by_line_are_exact_and_sorted, stop_tracing),
        cmocka_unit_test_teardown(statistics_outlive_their_snapshot, stop_tracing),
        cmocka_unit_test_teardown(cumulative_counts_each_frame_once_per_trace, stop_tracing),
        cmocka_unit_test_teardown(compare_to_diffs_and_sorts_as_python, stop_tracing),
        cmocka_unit_test_teardown(filters_combine_as_python, stop_tracing),
        cmocka_unit_test_teardown(all_frames_filter_looks_at_every_frame, stop_tracing),
        cmocka_unit_test(format_size_known_values),
        cmocka_unit_test(format_matches_python),
        cmocka_unit_test(traceback_format_as_python),
        cmocka_unit_test_teardown(info_timeline_and_counters, stop_tracing),
        cmocka_unit_test_teardown(keep_peak_keeps_the_picture_at_peak, stop_tracing),
        cmocka_unit_test_teardown(keep_peak_with_threads_is_consistent, stop_tracing),
        cmocka_unit_test_teardown(site_counters_count_allocations_bytes_and_temporaries,
                                  stop_tracing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
