/* tests/test_tracemalloc.c — the tracemalloc engine: start/stop, exact
 * traced memory and peak, domains, track/untrack, threads, native frames,
 * the tracer's own memory, and a random-operation stress test checked
 * against a shadow model. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracemalloc.h"
#include "frames.h"

/* Fake addresses: the tracer never dereferences traced pointers. */
#define ADDR(i) ((const void *)(uintptr_t)(0x100000u + 16u * (uintptr_t)(i)))

static void site_alloc(unsigned domain, const void *p, size_t size, int line) {
    rcyi_trace_alloc(domain, p, size, "site.c", line, "site_fn");
}

static void start_stop_and_limits(void **state) {
    (void)state;
    assert_false(rcy_tracemalloc_is_tracing());
    assert_int_equal(rcy_tracemalloc_start(0), RCY_EINVAL);
    assert_int_equal(rcy_tracemalloc_start(65536), RCY_EINVAL);
    assert_int_equal(rcy_tracemalloc_start(-3), RCY_EINVAL);
    assert_false(rcy_tracemalloc_is_tracing());
    assert_int_equal(rcy_tracemalloc_start(7), RCY_OK);
    assert_true(rcy_tracemalloc_is_tracing());
    assert_int_equal(rcy_tracemalloc_get_traceback_limit(), 7);
    /* Python: start while tracing keeps the running limit. */
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    assert_int_equal(rcy_tracemalloc_get_traceback_limit(), 7);
    rcy_tracemalloc_stop();
    assert_false(rcy_tracemalloc_is_tracing());
    assert_null(rcy_tracemalloc_take_snapshot());
    assert_int_equal(rcy_tracemalloc_start(65535), RCY_OK);
    assert_int_equal(rcy_tracemalloc_get_traceback_limit(), 65535);
    rcy_tracemalloc_stop();
}

static void traced_memory_and_peak_are_exact(void **state) {
    (void)state;
    size_t cur, peak;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    site_alloc(0, ADDR(1), 100, 10);
    site_alloc(0, ADDR(2), 250, 11);
    site_alloc(0, ADDR(3), 50, 12);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 400);
    assert_int_equal(peak, 400);
    rcyi_trace_free(0, ADDR(2));
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 150);
    assert_int_equal(peak, 400);
    /* Freeing an untraced block changes nothing. */
    rcyi_trace_free(0, ADDR(99));
    rcyi_trace_free(1, ADDR(1));
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 150);
    rcy_tracemalloc_reset_peak();
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(peak, 150);
    /* Same address again: the trace is replaced (realloc in place). */
    site_alloc(0, ADDR(1), 30, 13);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 80);
    assert_int_equal(peak, 150);
    rcy_tracemalloc_counters c = {.size = sizeof c};
    assert_int_equal(rcy_tracemalloc_get_counters(&c), RCY_OK);
    assert_int_equal(c.version, RCY_TRACEMALLOC_COUNTERS_VERSION);
    assert_int_equal(c.allocs, 4);
    assert_int_equal(c.frees, 1);
    assert_int_equal(c.current, 80);
    assert_int_equal(c.peak, 150);
    rcy_tracemalloc_clear_traces();
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
    assert_int_equal(peak, 0);
    assert_true(rcy_tracemalloc_is_tracing());
    rcy_tracemalloc_stop();
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur + peak, 0);
}

static void huge_sizes_are_exact(void **state) {
    (void)state;
    size_t cur, peak;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    size_t big = (size_t)5 << 32; /* 20 GiB, never really allocated */
    site_alloc(0, ADDR(1), big, 1);
    site_alloc(0, ADDR(2), UINT32_MAX, 2);
    site_alloc(0, ADDR(3), 7, 3);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, big + UINT32_MAX + 7);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t total, count;
    rcy_snapshot_totals(s, &total, &count);
    assert_int_equal(total, big + UINT32_MAX + 7);
    assert_int_equal(count, 3);
    rcy_snapshot_free(s);
    rcyi_trace_free(0, ADDR(1));
    site_alloc(0, ADDR(2), 9, 2); /* replace a big one */
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 16);
    assert_int_equal(peak, big + UINT32_MAX + 7);
    rcy_tracemalloc_stop();
}

static void domains_are_separate_address_spaces(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    site_alloc(0, ADDR(5), 10, 1);
    site_alloc(1, ADDR(5), 20, 2);
    site_alloc(77, ADDR(5), 40, 3);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 70);
    rcyi_trace_free(1, ADDR(5));
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 50);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, 2);
    unsigned domains = 0;
    for (size_t i = 0; i < n; i++) {
        domains |= 1u << (t[i].domain == 77 ? 2 : t[i].domain);
        assert_int_equal(t[i].size, t[i].domain == 0 ? 10 : 40);
        assert_int_equal(t[i].count, 1);
    }
    assert_int_equal(domains, 5u);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

static void one_frame_is_the_call_site(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    int line = __LINE__ + 1;
    rcyi_trace_alloc(0, ADDR(1), 64, __FILE__, __LINE__, __func__);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(ADDR(1));
    assert_non_null(tb);
    assert_int_equal(tb->nframe, 1);
    assert_int_equal(tb->total_nframe, 1);
    assert_string_equal(tb->frames[0].filename, __FILE__);
    assert_int_equal(tb->frames[0].lineno, line);
    assert_string_equal(tb->frames[0].function, "one_frame_is_the_call_site");
    assert_int_equal(tb->frames[0].address, 0);
    rcy_traceback_free(tb);
    assert_null(rcy_tracemalloc_get_object_traceback(ADDR(2)));
    rcy_tracemalloc_stop();
    assert_null(rcy_tracemalloc_get_object_traceback(ADDR(1)));
}

/* The preload's realloc: a trace taken aside and put back is exactly what
 * it was, and the pair counts no allocation or free; a taken trace whose
 * block is gone counts one free. */
static int traced_line(const void *p) {
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(p);
    int line = tb ? (int)tb->frames[0].lineno : -1;
    rcy_traceback_free(tb);
    return line;
}

static void taken_trace_put_back_is_unchanged(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    site_alloc(0, ADDR(1), 100, 11);
    rcy_tracemalloc_counters c0 = {.size = sizeof c0}, c = {.size = sizeof c};
    rcy_tracemalloc_get_counters(&c0);
    assert_int_equal(c0.allocs, 1);
    rcyi_taken t;
    assert_true(rcyi_tracemalloc_take(0, (uintptr_t)ADDR(1), &t));
    assert_int_equal(t.size, 100);
    assert_int_equal(traced_line(ADDR(1)), -1);
    size_t cur, peak;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
    assert_int_equal(peak, 100);
    rcyi_tracemalloc_put_back(&t);
    assert_int_equal(traced_line(ADDR(1)), 11);
    rcy_tracemalloc_get_counters(&c);
    assert_int_equal(c.allocs, c0.allocs);
    assert_int_equal(c.frees, c0.frees);
    assert_int_equal(c.current, 100);
    assert_int_equal(c.peak, 100);
    /* Taken, then gone: one free, no allocation. */
    assert_true(rcyi_tracemalloc_take(0, (uintptr_t)ADDR(1), &t));
    rcyi_tracemalloc_taken_freed(&t);
    rcy_tracemalloc_get_counters(&c);
    assert_int_equal(c.allocs, c0.allocs);
    assert_int_equal(c.frees, c0.frees + 1);
    assert_int_equal(c.current, 0);
    /* Nothing to take: nothing put back or counted. */
    assert_false(rcyi_tracemalloc_take(0, (uintptr_t)ADDR(2), &t));
    rcyi_tracemalloc_put_back(&t);
    rcyi_tracemalloc_taken_freed(&t);
    rcy_tracemalloc_get_counters(&c);
    assert_int_equal(c.frees, c0.frees + 1);
    assert_int_equal(traced_line(ADDR(2)), -1);
    /* Cleared meanwhile: the taken trace's traceback is gone, so is it. */
    site_alloc(0, ADDR(3), 50, 12);
    assert_true(rcyi_tracemalloc_take(0, (uintptr_t)ADDR(3), &t));
    rcy_tracemalloc_clear_traces();
    rcyi_tracemalloc_put_back(&t);
    assert_int_equal(traced_line(ADDR(3)), -1);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
    rcy_tracemalloc_stop();
}

/* Native frames: a call-site frame, then the callers, named by DWARF. */
static int leaf_line, middle_line;

__attribute__((noinline)) static void leaf_allocates(const void *p) {
    __atomic_store_n(&leaf_line, __LINE__ + 1, __ATOMIC_RELAXED); /* threads call this too */
    rcyi_trace_alloc(0, p, 48, __FILE__, __LINE__, __func__);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void middle_calls_leaf(const void *p) {
    middle_line = __LINE__ + 1;
    leaf_allocates(p);
    __asm__ volatile("" ::: "memory");
}

static void native_frames_resolve_to_functions_and_lines(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(4), RCY_OK);
    middle_calls_leaf(ADDR(1));
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(ADDR(1));
    assert_non_null(tb);
    assert_true(tb->nframe >= 3);
    assert_true(tb->total_nframe >= tb->nframe);
    assert_string_equal(tb->frames[0].function, "leaf_allocates");
    assert_int_equal(tb->frames[0].lineno, leaf_line);
    assert_string_equal(tb->frames[1].function, "middle_calls_leaf");
    assert_int_equal(tb->frames[1].lineno, middle_line);
    assert_non_null(strstr(tb->frames[1].filename, "test_tracemalloc.c"));
    assert_true(tb->frames[1].address != 0);
    assert_string_equal(tb->frames[2].function, "native_frames_resolve_to_functions_and_lines");
    rcy_traceback_free(tb);

    /* The same through a snapshot, with the limit respected. */
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, 1);
    assert_int_equal(t[0].traceback->nframe, 4);
    assert_string_equal(t[0].traceback->frames[1].function, "middle_calls_leaf");
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

/* Limits above the tracer's on-stack buffer (128 return addresses) walk
 * into pages of its own: a 200-deep recursion keeps 200+ frames, and
 * rcy_tracemalloc_track takes the same path. */
__attribute__((noinline)) static void deep_allocates(int depth, const void *p, bool track) {
    if (depth > 0) {
        deep_allocates(depth - 1, p, track);
    } else if (track) {
        assert_int_equal(rcy_tracemalloc_track(5, (uintptr_t)p, 16), RCY_OK);
    } else {
        rcyi_trace_alloc(0, p, 16, __FILE__, __LINE__, __func__);
    }
    __asm__ volatile("" ::: "memory");
}

static void tracebacks_longer_than_the_stack_buffer(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(400), RCY_OK);
    deep_allocates(200, ADDR(1), false);
    deep_allocates(200, ADDR(2), true);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].traceback->nframe > 200);
        assert_true(t[i].traceback->total_nframe >= t[i].traceback->nframe);
    }
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

/* Native tracebacks found through the thread's predictions (the one that
 * followed last time, the next interned, the last) and through the tables:
 * a repeated order, the reverse order and a random order all give each
 * trace its own traceback. */
__attribute__((noinline)) static void path_a(const void *p) {
    leaf_allocates(p);
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void path_b(const void *p) {
    leaf_allocates(p);
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void path_c(const void *p) {
    leaf_allocates(p);
    __asm__ volatile("" ::: "memory");
}

static void tracebacks_in_any_order_are_exact(void **state) {
    (void)state;
    void (*const paths[3])(const void *) = {path_a, path_b, path_c};
    const char *names[3] = {"path_a", "path_b", "path_c"};
    size_t want[3] = {0};
    assert_int_equal(rcy_tracemalloc_start(5), RCY_OK);
    unsigned seed = 99, n = 0;
    for (int round = 0; round < 300; round++) {
        for (int k = 0; k < 3; k++) {
            int which = round < 100 ? k : round < 200 ? 2 - k : (int)((seed >> 16) % 3);
            seed = seed * 1103515245u + 12345u;
            paths[which](ADDR(n++));
            want[which]++;
        }
    }
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t nt;
    const rcy_trace *t = rcy_snapshot_traces(s, &nt);
    assert_int_equal(nt, n);
    size_t got[3] = {0};
    for (size_t i = 0; i < nt; i++) {
        assert_string_equal(t[i].traceback->frames[0].function, "leaf_allocates");
        const char *f = t[i].traceback->frames[1].function;
        for (int k = 0; k < 3; k++)
            got[k] += strcmp(f, names[k]) == 0;
    }
    for (int k = 0; k < 3; k++)
        assert_int_equal(got[k], want[k]);
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_TRACEBACK, false);
    assert_int_equal(st->len, 3);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

static void libunwind_gives_the_same_frames(void **state) {
    (void)state;
    if (!rcyi_walk_use_libunwind(true)) {
        skip();
        return;
    }
    assert_int_equal(rcy_tracemalloc_start(4), RCY_OK);
    middle_calls_leaf(ADDR(1));
    rcyi_walk_use_libunwind(false);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(ADDR(1));
    assert_non_null(tb);
    assert_true(tb->nframe >= 3);
    assert_string_equal(tb->frames[0].function, "leaf_allocates");
    assert_string_equal(tb->frames[1].function, "middle_calls_leaf");
    assert_int_equal(tb->frames[1].lineno, middle_line);
    assert_string_equal(tb->frames[2].function, "libunwind_gives_the_same_frames");
    rcy_traceback_free(tb);
}

/* Code built without frame pointers leaves anything in rbp: a chain whose
 * next frame is 0xfffffffffffffff0 once made the bound check fp + 16 <= hi
 * wrap to 0 and the walk read that address (GNU as, Debian's python3). */
__attribute__((noinline)) static void garbage_frame_pointers_end_the_walk(void **state) {
    (void)state;
    static const uintptr_t garbage[] = {UINTPTR_MAX - 15, UINTPTR_MAX - 7, UINTPTR_MAX,
                                        (uintptr_t)1 << 63};
    for (size_t g = 0; g < sizeof garbage / sizeof garbage[0]; g++) {
        /* two frames on our stack, the second one's saved fp garbage */
        volatile uintptr_t frames[4] = {0, 0x401000, garbage[g], 0x402000};
        frames[0] = (uintptr_t)&frames[2];
        uintptr_t out[8];
        int total = -1;
        int n = rcyi_walk_stack((uintptr_t)frames, out, 8, 0, &total);
        assert_int_equal(n, 2);
        assert_int_equal(out[0], 0x401000);
        assert_int_equal(out[1], 0x402000);
        assert_int_equal(total, 2);
    }
}

static int track_line;

__attribute__((noinline)) static int my_allocator_tracks(uintptr_t p, size_t size) {
    track_line = __LINE__ + 1;
    int rc = rcy_tracemalloc_track(5, p, size);
    __asm__ volatile("" ::: "memory");
    return rc;
}

__attribute__((noinline)) static int my_malloc_wrapper(uintptr_t p, size_t size) {
    int rc = rcy_tracemalloc_track_from(6, p, size, 1);
    __asm__ volatile("" ::: "memory");
    return rc;
}

__attribute__((noinline)) static int user_calls_wrapper(uintptr_t p) {
    int rc = my_malloc_wrapper(p, 33);
    __asm__ volatile("" ::: "memory");
    return rc;
}

static void track_and_untrack_for_user_allocators(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_track(5, 0x5000, 10), RCY_ESTATE);
    assert_int_equal(rcy_tracemalloc_untrack(5, 0x5000), RCY_ESTATE);
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    assert_int_equal(my_allocator_tracks(0x5000, 10), RCY_OK);
    assert_int_equal(user_calls_wrapper(0x6000), RCY_OK);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 43);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const rcy_traceback *tb = t[i].traceback;
        assert_true(tb->nframe >= 2);
        if (t[i].domain == 5) {
            /* track: frame 0 is the allocator's line that called track */
            assert_string_equal(tb->frames[0].function, "my_allocator_tracks");
            assert_int_equal(tb->frames[0].lineno, track_line);
            assert_string_equal(tb->frames[1].function, "track_and_untrack_for_user_allocators");
        } else {
            /* track_from(skip 1): the wrapper is skipped */
            assert_int_equal(t[i].domain, 6);
            assert_string_equal(tb->frames[0].function, "user_calls_wrapper");
        }
    }
    rcy_snapshot_free(s);
    assert_int_equal(rcy_tracemalloc_untrack(5, 0x5000), RCY_OK);
    assert_int_equal(rcy_tracemalloc_untrack(5, 0x5000), RCY_OK); /* not found: fine */
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 33);
    rcy_tracemalloc_stop();
}

/* ---- threads ---------------------------------------------------------------- */

#define THREADS    4
#define PER_THREAD 20000

static void *thread_work(void *arg) {
    uintptr_t base = (uintptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        rcyi_trace_alloc(0, (const void *)(base + 16u * (uintptr_t)i), (size_t)(i % 64) + 1,
                         "thread.c", 1 + i % 7, "thread_work");
    /* free the odd ones */
    for (int i = 1; i < PER_THREAD; i += 2)
        rcyi_trace_free(0, (const void *)(base + 16u * (uintptr_t)i));
    return NULL;
}

static void threads_give_exact_totals(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, thread_work, (void *)((uintptr_t)(t + 1) << 32));
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    size_t expect = 0, expect_n = 0;
    for (int i = 0; i < PER_THREAD; i += 2)
        expect += (size_t)(i % 64) + 1, expect_n++;
    expect *= THREADS;
    expect_n *= THREADS;
    size_t cur, peak;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, expect);
    assert_true(peak >= cur);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t total, count;
    rcy_snapshot_totals(s, &total, &count);
    assert_int_equal(total, expect);
    assert_int_equal(count, expect_n);
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 7); /* even i still covers every i % 7 */
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    rcy_tracemalloc_counters c = {.size = sizeof c};
    rcy_tracemalloc_get_counters(&c);
    assert_int_equal(c.allocs, THREADS * PER_THREAD);
    assert_int_equal(c.frees, THREADS * PER_THREAD / 2);
    rcy_tracemalloc_stop();
}

/* Native frames in threads: each thread bounds its own stack. */
__attribute__((noinline)) static void *deep_thread_alloc(void *arg) {
    uintptr_t base = (uintptr_t)arg;
    for (int i = 0; i < 1000; i++) {
        leaf_allocates((const void *)(base + 16u * (uintptr_t)i));
        rcyi_trace_free(0, (const void *)(base + 16u * (uintptr_t)(i / 2)));
    }
    __asm__ volatile("" ::: "memory");
    return NULL;
}

static void threads_walk_their_own_stacks(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(8), RCY_OK);
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, deep_thread_alloc, (void *)((uintptr_t)(t + 1) << 40));
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, THREADS * 500 * 48);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, THREADS * 500);
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].traceback->nframe >= 2);
        assert_string_equal(t[i].traceback->frames[0].function, "leaf_allocates");
        assert_string_equal(t[i].traceback->frames[1].function, "deep_thread_alloc");
    }
    rcy_snapshot_free(s);
}

/* While the tracer runs on a thread (its own mallocs under a preload
 * library), events from that thread are ignored instead of recursing. */
static void events_inside_the_tracer_are_ignored(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(4), RCY_OK);
    int prev = rcyi_tm_enter();
    rcyi_trace_alloc(0, ADDR(1), 100, "inside.c", 1, "f");
    assert_int_equal(rcy_tracemalloc_track(1, 0x1000, 10), RCY_OK);
    rcyi_tm_exit(prev);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    /* and a snapshot's own memory is not traced */
    rcyi_trace_alloc(0, ADDR(2), 10, "outside.c", 1, "f");
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_TRACEBACK, false);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 10);
    rcy_tracemalloc_counters c = {.size = sizeof c};
    rcy_tracemalloc_get_counters(&c);
    assert_int_equal(c.allocs, 1);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
}

/* Threads allocating while another clears and snapshots: no crash, and
 * the totals stay consistent with the traces. */
static int stop_flag;
static void *churn(void *arg) {
    uintptr_t base = (uintptr_t)arg;
    for (int round = 0; !__atomic_load_n(&stop_flag, __ATOMIC_RELAXED) && round < 2000; round++)
        for (int i = 0; i < 64; i++) {
            rcyi_trace_alloc(0, (const void *)(base + 16u * (uintptr_t)i), 8, "churn.c", i,
                             "churn");
            rcyi_trace_free(0, (const void *)(base + 16u * (uintptr_t)((i * 7) % 64)));
        }
    return NULL;
}

static void clear_and_snapshot_while_threads_allocate(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    pthread_t th[3];
    stop_flag = 0;
    for (int t = 0; t < 3; t++)
        pthread_create(&th[t], NULL, churn, (void *)((uintptr_t)(t + 1) << 36));
    rcy_test_snapshots_stay_exact(20, 5, 0);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < 3; t++)
        pthread_join(th[t], NULL);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    size_t total, cur;
    rcy_snapshot_totals(s, &total, NULL);
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(total, cur);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

/* fork while other threads trace: the child must not find a shard locked
 * by a thread that does not exist in it. */
static void fork_while_threads_trace(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(2), RCY_OK);
    pthread_t th[2];
    stop_flag = 0;
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, churn, (void *)((uintptr_t)(t + 5) << 36));
    for (int k = 0; k < 20; k++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(10); /* a deadlock dies instead of hanging */
            rcyi_trace_alloc(0, ADDR(1), 5, "child.c", 1, "child");
            rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
            size_t total;
            rcy_snapshot_totals(s, &total, NULL);
            rcy_snapshot_free(s);
            _exit(total >= 5 ? 0 : 3);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
}

/* ---- tracer memory ---------------------------------------------------------- */

static void tracer_memory_per_live_block_is_small(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    size_t base = rcy_tracemalloc_get_tracemalloc_memory();
    const size_t n = 400000;
    for (size_t i = 0; i < n; i++)
        rcyi_trace_alloc(0, ADDR(i), 32, "mem.c", (int)(i % 100), "f");
    size_t used = rcy_tracemalloc_get_tracemalloc_memory() - base;
    double per = (double)used / (double)n;
    print_message("tracer memory: %.1f bytes per live block\n", per);
    assert_true(per <= 32.5);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 32 * n);
    /* freeing gives the tables back (they shrink below 1/8 full) */
    for (size_t i = 0; i < n; i++)
        rcyi_trace_free(0, ADDR(i));
    size_t after = rcy_tracemalloc_get_tracemalloc_memory() - base;
    print_message("tracer memory after freeing all: %zu bytes\n", after);
    assert_true(after < used / 8);
    rcy_tracemalloc_stop();
    /* stop frees everything the tracer mapped for traces */
    assert_true(rcy_tracemalloc_get_tracemalloc_memory() <= base);
}

/* ---- shadow model ----------------------------------------------------------- */

typedef struct model_ent {
    bool live;
    size_t size;
    int line;
} model_ent;

static void random_operations_match_a_shadow_model(void **state) {
    (void)state;
    enum { SLOTS = 3000, DOMS = 3, OPS = 60000 };
    static model_ent m[DOMS][SLOTS];
    memset(m, 0, sizeof m);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    unsigned seed = 12345;
    size_t cur = 0, peak = 0;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = seed >> 8;
        unsigned d = r % DOMS, i = (r / DOMS) % SLOTS;
        /* spread addresses: some dense, some far apart */
        const void *p = (const void *)(uintptr_t)((i % 2 ? 0x7000000u : 0x10000u) +
                                                  (uintptr_t)i * (i % 3 ? 16u : 4096u));
        model_ent *e = &m[d][i];
        if ((r >> 20) % 3 == 0 && e->live) {
            rcyi_trace_free(d, p);
            cur -= e->size;
            e->live = false;
        } else {
            size_t size = (r >> 12) % 1000;
            int line = (int)((r >> 4) % 50) + 1;
            rcyi_trace_alloc(d, p, size, "model.c", line, "model");
            if (e->live)
                cur -= e->size;
            e->live = true;
            e->size = size;
            e->line = line;
            cur += size;
        }
        if (cur > peak)
            peak = cur;
        if (op % 10000 == 0) {
            size_t c, pk;
            rcy_tracemalloc_get_traced_memory(&c, &pk);
            assert_int_equal(c, cur);
            assert_int_equal(pk, peak);
        }
    }
    /* Per-line totals from the snapshot equal the model's. */
    size_t by_line[51] = {0}, count_line[51] = {0};
    for (int d = 0; d < DOMS; d++)
        for (int i = 0; i < SLOTS; i++)
            if (m[d][i].live)
                by_line[m[d][i].line] += m[d][i].size, count_line[m[d][i].line]++;
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    size_t lines = 0;
    for (int l = 1; l <= 50; l++)
        lines += count_line[l] != 0;
    assert_int_equal(st->len, lines);
    for (size_t k = 0; k < st->len; k++) {
        unsigned l = st->items[k].traceback->frames[0].lineno;
        assert_int_equal(st->items[k].size, by_line[l]);
        assert_int_equal(st->items[k].count, count_line[l]);
    }
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

static int stop_tracing(void **state) {
    (void)state;
    rcy_tracemalloc_stop();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(start_stop_and_limits, stop_tracing),
        cmocka_unit_test_teardown(traced_memory_and_peak_are_exact, stop_tracing),
        cmocka_unit_test_teardown(huge_sizes_are_exact, stop_tracing),
        cmocka_unit_test_teardown(domains_are_separate_address_spaces, stop_tracing),
        cmocka_unit_test_teardown(taken_trace_put_back_is_unchanged, stop_tracing),
        cmocka_unit_test_teardown(one_frame_is_the_call_site, stop_tracing),
        cmocka_unit_test_teardown(native_frames_resolve_to_functions_and_lines, stop_tracing),
        cmocka_unit_test_teardown(tracebacks_longer_than_the_stack_buffer, stop_tracing),
        cmocka_unit_test_teardown(libunwind_gives_the_same_frames, stop_tracing),
        cmocka_unit_test(garbage_frame_pointers_end_the_walk),
        cmocka_unit_test_teardown(tracebacks_in_any_order_are_exact, stop_tracing),
        cmocka_unit_test_teardown(track_and_untrack_for_user_allocators, stop_tracing),
        cmocka_unit_test_teardown(threads_give_exact_totals, stop_tracing),
        cmocka_unit_test_teardown(clear_and_snapshot_while_threads_allocate, stop_tracing),
        cmocka_unit_test_teardown(threads_walk_their_own_stacks, stop_tracing),
        cmocka_unit_test_teardown(fork_while_threads_trace, stop_tracing),
        cmocka_unit_test_teardown(events_inside_the_tracer_are_ignored, stop_tracing),
        cmocka_unit_test_teardown(tracer_memory_per_live_block_is_small, stop_tracing),
        cmocka_unit_test_teardown(random_operations_match_a_shadow_model, stop_tracing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
