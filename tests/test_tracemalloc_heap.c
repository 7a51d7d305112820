/* tests/test_tracemalloc_heap.c — tracing through the real allocation
 * paths: rcy_mem_* and rcy_new at known lines give exact statistics;
 * RCY_TRACEMALLOC starts tracing with the first heap; objects outlive
 * start/stop/clear safely; native frames above the call-site. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "tracemalloc.h"

typedef struct point {
    double x, y;
} point;
static const rcy_type point_type = {.name = "point", .size = sizeof(point)};

static int stop_tracing(void **state) {
    (void)state;
    rcy_tracemalloc_stop();
    return 0;
}

static char *stat_line(const rcy_stats *st, size_t i) {
    static char buf[1024];
    rcy_statistic_format(&st->items[i], buf, sizeof buf);
    return buf;
}

/* Must run first: no heap was made in this process before. */
static void env_starts_tracing_with_the_first_heap(void **state) {
    (void)state;
    setenv("RCY_TRACEMALLOC", "5", 1);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC);
    assert_false(rcy_tracemalloc_is_tracing());
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    assert_true(rcy_tracemalloc_is_tracing());
    assert_int_equal(rcy_tracemalloc_get_traceback_limit(), 5);
    rcy_tracemalloc_stop();
    /* only the first heap starts it */
    rcy_heap *h2 = rcy_heap_new(NULL);
    assert_false(rcy_tracemalloc_is_tracing());
    rcy_heap_free(h2);
    rcy_heap_free(h);
    unsetenv("RCY_TRACEMALLOC");
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC);
}

static void mem_and_objects_at_known_lines(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    void *small[10], *big[5];
    point *pts[3];
    int small_line = __LINE__ + 2;
    for (int i = 0; i < 10; i++)
        small[i] = rcy_mem_alloc(h, 100);
    int big_line = __LINE__ + 2;
    for (int i = 0; i < 5; i++)
        big[i] = rcy_mem_alloc(h, 1000);
    int obj_line = __LINE__ + 2;
    for (int i = 0; i < 3; i++)
        pts[i] = rcy_new(h, &point_type);
    size_t obj_size = sizeof(point) + sizeof(rcy_head_);

    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 3);
    char want[1024];
    snprintf(want, sizeof want, "%s:%d: size=5000 B, count=5, average=1000 B", __FILE__, big_line);
    assert_string_equal(stat_line(st, 0), want);
    snprintf(want, sizeof want, "%s:%d: size=1000 B, count=10, average=100 B", __FILE__,
             small_line);
    assert_string_equal(stat_line(st, 1), want);
    snprintf(want, sizeof want, "%s:%d: size=%zu B, count=3, average=%zu B", __FILE__, obj_line,
             3 * obj_size, obj_size);
    assert_string_equal(stat_line(st, 2), want);
    rcy_stats_free(st);

    /* where was this object allocated? */
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(pts[1]);
    assert_non_null(tb);
    assert_int_equal(tb->frames[0].lineno, obj_line);
    assert_string_equal(tb->frames[0].function, "mem_and_objects_at_known_lines");
    rcy_traceback_free(tb);

    /* frees and a dropped object leave the trace set */
    for (int i = 0; i < 10; i++)
        rcy_mem_free(h, small[i]);
    rcy_decref(pts[0]);
    int re_line = __LINE__ + 1;
    big[0] = rcy_mem_realloc(h, big[0], 3000);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 4 * 1000 + 3000 + 2 * obj_size);
    rcy_snapshot *s2 = rcy_tracemalloc_take_snapshot();
    rcy_stat_diffs *d = rcy_snapshot_compare_to(s2, s, RCY_KEY_LINENO, false);
    assert_int_equal(d->len, 4);
    /* the realloc line first (|+3000|); then two lines at -1000: the
     * 1000-byte line (still 4000 B) before the freed 100-byte line (0 B) */
    rcy_statistic_diff_format(&d->items[0], want, sizeof want);
    char want2[1024];
    snprintf(want2, sizeof want2, "%s:%d: size=3000 B (+3000 B), count=1 (+1), average=3000 B",
             __FILE__, re_line);
    assert_string_equal(want, want2);
    assert_int_equal(d->items[1].traceback->frames[0].lineno, big_line);
    assert_int_equal(d->items[1].size_diff, -1000);
    assert_int_equal(d->items[1].count_diff, -1);
    assert_int_equal(d->items[2].traceback->frames[0].lineno, small_line);
    assert_int_equal(d->items[2].size_diff, -1000);
    assert_int_equal(d->items[2].count_diff, -10);
    assert_int_equal(d->items[3].size_diff, -(int64_t)obj_size);
    rcy_stat_diffs_free(d);
    rcy_snapshot_free(s2);
    rcy_snapshot_free(s);
    for (int i = 0; i < 5; i++)
        rcy_mem_free(h, big[i]);
    rcy_decref(pts[1]);
    rcy_decref(pts[2]);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    rcy_heap_free(h);
}

static void start_stop_clear_while_objects_are_alive(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    point *before = rcy_new(h, &point_type); /* untraced */
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    point *during = rcy_new(h, &point_type);
    void *buf = rcy_mem_alloc(h, 64);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, sizeof(point) + 16 + 64);
    rcy_decref(before); /* never traced: no effect */
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, sizeof(point) + 16 + 64);
    rcy_tracemalloc_clear_traces();
    rcy_mem_free(h, buf); /* traced before the clear: forgotten, no effect */
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    void *buf2 = rcy_mem_alloc(h, 32);
    rcy_tracemalloc_stop();
    rcy_mem_free(h, buf2); /* not tracing: nothing happens */
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    rcy_decref(during);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    void *buf3 = rcy_mem_alloc(h, 10);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 10);
    rcy_mem_free(h, buf3);
    rcy_heap_free(h);
}

__attribute__((noinline)) static void *helper_allocates(rcy_heap *h, int *line) {
    *line = __LINE__ + 1;
    void *p = rcy_mem_alloc(h, 77);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static point *helper_makes_object(rcy_heap *h, int *line) {
    *line = __LINE__ + 1;
    point *p = rcy_new(h, &point_type);
    __asm__ volatile("" ::: "memory");
    return p;
}

static void native_frames_above_an_object(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    int line;
    int call_line = __LINE__ + 1;
    point *p = helper_makes_object(h, &line);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(p);
    assert_non_null(tb);
    assert_int_equal(tb->nframe, 3);
    assert_int_equal(tb->frames[0].lineno, line);
    assert_string_equal(tb->frames[1].function, "native_frames_above_an_object");
    assert_int_equal(tb->frames[1].lineno, call_line);
    rcy_traceback_free(tb);
    rcy_decref(p);
    rcy_heap_free(h);
}

static void native_frames_above_the_call_site(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    int line;
    int call_line = __LINE__ + 1;
    void *p = helper_allocates(h, &line);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_TRACEBACK, false);
    assert_int_equal(st->len, 1);
    const rcy_traceback *tb = st->items[0].traceback;
    assert_int_equal(tb->nframe, 3);
    assert_int_equal(tb->frames[0].lineno, line);
    assert_string_equal(tb->frames[0].function, "helper_allocates");
    assert_string_equal(tb->frames[1].function, "native_frames_above_the_call_site");
    assert_int_equal(tb->frames[1].lineno, call_line);
    assert_string_equal(tb->frames[1].filename, __FILE__);
    char *text = rcy_traceback_format(tb, 2, true);
    char want[2048];
    snprintf(want, sizeof want,
             "  File \"%s\", line %d\n    void *p = rcy_mem_alloc(h, 77);\n"
             "  File \"%s\", line %d\n    void *p = helper_allocates(h, &line);\n",
             __FILE__, line, __FILE__, call_line);
    assert_string_equal(text, want);
    free(text);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    rcy_mem_free(h, p);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(env_starts_tracing_with_the_first_heap, stop_tracing),
        cmocka_unit_test_teardown(mem_and_objects_at_known_lines, stop_tracing),
        cmocka_unit_test_teardown(start_stop_clear_while_objects_are_alive, stop_tracing),
        cmocka_unit_test_teardown(native_frames_above_the_call_site, stop_tracing),
        cmocka_unit_test_teardown(native_frames_above_an_object, stop_tracing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
