/* tests/test_tracemalloc_heap.c — tracing through the real allocation
 * paths: rcy_mem_* and rcy_new at known lines give exact statistics;
 * RCY_TRACEMALLOC starts tracing with the first heap; objects outlive
 * start/stop/clear safely; native frames above the call-site. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "tracemalloc.h"

typedef struct point {
    double x, y;
} point;
static const rcy_type point_type = {.name = "point", .size = sizeof(point)};
/* Larger than the small-block limit: comes from the raw allocator. */
static const rcy_type big_type = {.name = "big", .size = 3000};

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

/* ---- the block table: recycle's own blocks under threads, pool reuse, debug
 * heaps ------------------------------------------------------------------ */

#define HT_THREADS 4
#define HT_N       6000

typedef struct heap_work {
    rcy_heap *h;
    void *mem[HT_N];
    point *obj[HT_N];
    size_t live_bytes, live_count;
} heap_work;

static size_t work_size(int i) {
    /* mostly small blocks (block table), every 16th large (shards) */
    return i % 16 == 0 ? 600 + (size_t)i % 300 : 1 + (size_t)(i * 7) % 512;
}

/* Each thread on its own heap: allocate, free every third, keep the rest. */
static void *heap_thread(void *arg) {
    heap_work *w = arg;
    w->h = rcy_heap_new(NULL);
    for (int i = 0; i < HT_N; i++) {
        w->mem[i] = rcy_mem_alloc(w->h, work_size(i));
        w->obj[i] = rcy_new(w->h, &point_type);
    }
    for (int i = 0; i < HT_N; i++) {
        if (i % 3 == 0) {
            rcy_mem_free(w->h, w->mem[i]);
            rcy_decref(w->obj[i]);
            w->mem[i] = NULL;
            w->obj[i] = NULL;
        } else {
            w->live_bytes += work_size(i) + sizeof(point) + sizeof(rcy_head_);
            w->live_count += 2;
        }
    }
    return NULL;
}

static void heap_blocks_from_threads_give_exact_totals(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    static heap_work w[HT_THREADS];
    memset(w, 0, sizeof w);
    pthread_t th[HT_THREADS];
    for (int t = 0; t < HT_THREADS; t++)
        pthread_create(&th[t], NULL, heap_thread, &w[t]);
    for (int t = 0; t < HT_THREADS; t++)
        pthread_join(th[t], NULL);
    size_t want = 0, want_n = 0;
    for (int t = 0; t < HT_THREADS; t++)
        want += w[t].live_bytes, want_n += w[t].live_count;
    /* the threads are gone: what they traced was folded in when they ended */
    size_t cur, peak;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, want);
    assert_true(peak >= cur);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t total, count;
    rcy_snapshot_totals(s, &total, &count);
    assert_int_equal(total, want);
    assert_int_equal(count, want_n);
    rcy_snapshot_free(s);
    rcy_tracemalloc_counters c = {.size = sizeof c};
    assert_int_equal(rcy_tracemalloc_get_counters(&c), RCY_OK);
    assert_int_equal(c.allocs, 2 * HT_THREADS * HT_N);
    assert_int_equal(c.frees, 2 * HT_THREADS * (HT_N / 3));
    /* the heaps change hands (after the join): freed here, untraced here */
    for (int t = 0; t < HT_THREADS; t++) {
        for (int i = 0; i < HT_N; i++) {
            if (w[t].mem[i]) {
                rcy_mem_free(w[t].h, w[t].mem[i]);
                rcy_decref(w[t].obj[i]);
            }
        }
        rcy_heap_free(w[t].h);
    }
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
}

/* Threads churn their heaps while the main thread snapshots and clears:
 * every snapshot's traces add up to its own current. */
static int churn_stop;
static void *heap_churn(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    void *keep[64] = {0};
    for (int round = 0; round < 3000 && !__atomic_load_n(&churn_stop, __ATOMIC_RELAXED); round++) {
        for (int i = 0; i < 64; i++) {
            rcy_mem_free(h, keep[i]);
            keep[i] = rcy_mem_alloc(h, (size_t)(i * 13 + round) % 700 + 1);
        }
    }
    for (int i = 0; i < 64; i++)
        rcy_mem_free(h, keep[i]);
    rcy_heap_free(h);
    return NULL;
}

static void clear_and_snapshot_while_heaps_allocate(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    churn_stop = 0;
    pthread_t th[3];
    for (int t = 0; t < 3; t++)
        pthread_create(&th[t], NULL, heap_churn, NULL);
    rcy_test_snapshots_stay_exact(30, 7, 3);
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < 3; t++)
        pthread_join(th[t], NULL);
    /* everything the threads allocated is freed; what was cleared was
     * forgotten and its frees ignored */
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
}

/* A pool that empties can come back with another block size: the tracer
 * follows the pool's new geometry. */
static void pools_reused_for_another_size_stay_exact(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    enum { N = 3000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = rcy_mem_alloc(h, 32);
    size_t cur, peak;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 32 * N);
    for (int i = 0; i < N; i++)
        rcy_mem_free(h, p[i]);
    int line48 = __LINE__ + 2;
    for (int i = 0; i < N; i++)
        p[i] = rcy_mem_alloc(h, 48);
    int obj_line = __LINE__ + 1;
    point *o = rcy_new(h, &point_type);
    size_t osz = sizeof(point) + sizeof(rcy_head_);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 48 * N + osz);
    assert_int_equal(peak, 48 * N + osz);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 2);
    assert_int_equal(st->items[0].traceback->frames[0].lineno, line48);
    assert_int_equal(st->items[0].count, N);
    assert_int_equal(st->items[1].traceback->frames[0].lineno, obj_line);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(o);
    assert_non_null(tb);
    assert_int_equal(tb->frames[0].lineno, obj_line);
    rcy_traceback_free(tb);
    /* a block at the same address traced again replaces its trace */
    rcy_mem_free(h, p[0]);
    void *again = rcy_mem_alloc(h, 40);
    assert_ptr_equal(again, p[0]);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 48 * N - 8 + osz);
    p[0] = again;
    for (int i = 0; i < N; i++)
        rcy_mem_free(h, p[i]);
    rcy_decref(o);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    rcy_heap_free(h);
}

/* Debug heaps pad every block: the traced pointer sits inside the block. */
static void debug_heaps_are_traced_exactly(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    void *m[100];
    point *o[100];
    int obj_line = __LINE__ + 3;
    for (int i = 0; i < 100; i++) {
        m[i] = rcy_mem_alloc(h, (size_t)i + 1);
        o[i] = rcy_new(h, &point_type);
    }
    size_t osz = sizeof(point) + sizeof(rcy_head_);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 5050 + 100 * osz);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(o[57]);
    assert_non_null(tb);
    assert_int_equal(tb->frames[0].lineno, obj_line);
    rcy_traceback_free(tb);
    for (int i = 0; i < 100; i += 2) {
        rcy_mem_free(h, m[i]);
        rcy_decref(o[i]);
    }
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 2550 + 50 * osz);
    for (int i = 1; i < 100; i += 2) {
        rcy_mem_free(h, m[i]);
        rcy_decref(o[i]);
    }
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    rcy_heap_free(h);
}

/* One thread: the peak is exact, whatever the mix of sizes and frees. */
static void peak_is_exact_in_one_thread(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    enum { SLOTS = 500 };
    static void *p[SLOTS];
    static size_t sz[SLOTS];
    memset(p, 0, sizeof p);
    size_t cur = 0, peak = 0;
    unsigned seed = 7;
    for (int op = 0; op < 40000; op++) {
        seed = seed * 1103515245u + 12345u;
        unsigned i = (seed >> 8) % SLOTS;
        if (p[i]) {
            rcy_mem_free(h, p[i]);
            cur -= sz[i];
            p[i] = NULL;
        } else {
            sz[i] = (seed >> 16) % 1200 + 1;
            p[i] = rcy_mem_alloc(h, sz[i]);
            cur += sz[i];
            if (cur > peak)
                peak = cur;
        }
        if (op % 4000 == 0) {
            size_t c, pk;
            rcy_tracemalloc_get_traced_memory(&c, &pk);
            assert_int_equal(c, cur);
            assert_int_equal(pk, peak);
        }
    }
    for (unsigned i = 0; i < SLOTS; i++)
        rcy_mem_free(h, p[i]);
    size_t c, pk;
    rcy_tracemalloc_get_traced_memory(&c, &pk);
    assert_int_equal(c, 0);
    assert_int_equal(pk, peak);
    rcy_heap_free(h);
}

/* Objects of recycle's pools cost the tracer one 8-byte entry each (plus
 * the pool's share of its array and the directory). */
static void tracer_memory_per_heap_block_is_small(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    enum { N = 200000 };
    point **o = malloc(N * sizeof *o);
    size_t base = rcy_tracemalloc_get_tracemalloc_memory();
    for (int i = 0; i < N; i++)
        o[i] = rcy_new(h, &point_type);
    double per = (double)(rcy_tracemalloc_get_tracemalloc_memory() - base) / N;
    print_message("tracer memory: %.1f bytes per live object\n", per);
    assert_true(per <= 16.0);
    for (int i = 0; i < N; i++)
        rcy_decref(o[i]);
    free(o);
    rcy_tracemalloc_stop();
    assert_true(rcy_tracemalloc_get_tracemalloc_memory() <= base);
    rcy_heap_free(h);
}

/* rcy_heap_free with traced blocks still alive: their memory goes back to
 * the OS, and their traces go with it. */
static void *fresh_heap_churns(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    void *p[2000];
    for (int i = 0; i < 2000; i++)
        p[i] = rcy_mem_alloc(h, (size_t)i % 300 + 1);
    for (int i = 0; i < 2000; i++)
        rcy_mem_free(h, p[i]);
    rcy_heap_free(h);
    return NULL;
}

static void freeing_a_heap_forgets_its_traces(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    rcy_heap *h = rcy_heap_new(NULL);
    for (int i = 0; i < 5000; i++) {
        (void)rcy_mem_alloc(h, (size_t)i % 500 + 1);
        (void)rcy_new(h, &point_type);
        if (i % 100 == 0) { /* large blocks, raw and objects, left alive too */
            (void)rcy_mem_alloc(h, 5000 + (size_t)i);
            (void)rcy_new(h, &big_type);
        }
    }
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_true(cur > 0);
    rcy_heap_free(h);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t total, count;
    rcy_snapshot_totals(s, &total, &count);
    assert_int_equal(count, 0);
    rcy_snapshot_free(s);
    /* the address range is free for other heaps, on other threads */
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, fresh_heap_churns, NULL);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(env_starts_tracing_with_the_first_heap, stop_tracing),
        cmocka_unit_test_teardown(mem_and_objects_at_known_lines, stop_tracing),
        cmocka_unit_test_teardown(start_stop_clear_while_objects_are_alive, stop_tracing),
        cmocka_unit_test_teardown(native_frames_above_the_call_site, stop_tracing),
        cmocka_unit_test_teardown(native_frames_above_an_object, stop_tracing),
        cmocka_unit_test_teardown(heap_blocks_from_threads_give_exact_totals, stop_tracing),
        cmocka_unit_test_teardown(clear_and_snapshot_while_heaps_allocate, stop_tracing),
        cmocka_unit_test_teardown(pools_reused_for_another_size_stay_exact, stop_tracing),
        cmocka_unit_test_teardown(debug_heaps_are_traced_exactly, stop_tracing),
        cmocka_unit_test_teardown(peak_is_exact_in_one_thread, stop_tracing),
        cmocka_unit_test_teardown(tracer_memory_per_heap_block_is_small, stop_tracing),
        cmocka_unit_test_teardown(freeing_a_heap_forgets_its_traces, stop_tracing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
