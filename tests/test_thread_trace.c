/* tests/test_thread_trace.c — tracemalloc while objects die on other
 * threads (object.h O4, tracemalloc.h rcyi_trace_share): one thread
 * allocates and shares objects and blocks, another drops the last
 * references and frees the blocks remotely; afterwards the traced
 * current and peak memory, the allocation and free counts and the
 * snapshot's traces are exactly what the model says. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

enum { N = 5000, BATCH = 500 };

typedef struct leaf {
    long v[2];
} leaf;

static int destroyed; /* atomic */

static void leaf_destroy(void *self) {
    (void)self;
    __atomic_fetch_add(&destroyed, 1, __ATOMIC_RELAXED);
}

static const rcy_type leaf_type = {.name = "leaf", .size = sizeof(leaf), .destroy = leaf_destroy};

/* Header + body, as traced (object.c's convention). */
#define LEAF_TRACED (sizeof(leaf) + 16)
#define RAW_SIZE    48

typedef struct batch {
    leaf *obj[BATCH];
    void *raw[BATCH];
    rcy_heap *h;
} batch;

static batch batches[N / BATCH];
static unsigned ready; /* atomic: batches handed over */
static unsigned done;  /* atomic: batches whose objects and blocks are freed */

static void *killer(void *arg) {
    (void)arg;
    for (unsigned b = 0; b < N / BATCH; b++) {
        while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) <= b)
            sched_yield();
        for (unsigned i = 0; i < BATCH; i++) {
            rcy_decref(batches[b].obj[i]); /* the last reference: dies here */
            rcy_mem_free_remote(batches[b].h, batches[b].raw[i]);
        }
        __atomic_store_n(&done, b + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static rcy_tracemalloc_counters counters(void) {
    rcy_tracemalloc_counters c = {.size = sizeof c};
    assert_int_equal(rcy_tracemalloc_get_counters(&c), RCY_OK);
    return c;
}

static size_t traces_now(void) {
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    assert_non_null(s);
    size_t n;
    rcy_snapshot_traces(s, &n);
    rcy_snapshot_free(s);
    return n;
}

static void traces_of_objects_freed_on_another_thread_add_up(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    rcy_tracemalloc_counters c0 = counters();
    size_t traces0 = traces_now();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, killer, NULL), 0);
    for (unsigned b = 0; b < N / BATCH; b++) {
        batches[b].h = h;
        for (unsigned i = 0; i < BATCH; i++) {
            leaf *o = rcy_new(h, &leaf_type);
            assert_non_null(o);
            assert_int_equal(rcy_share(o), RCY_OK);
            batches[b].obj[i] = o;
            batches[b].raw[i] = rcy_mem_alloc(h, RAW_SIZE);
        }
        if (b == 0) { /* the peak: everything of the first batch alive */
            rcy_tracemalloc_counters c = counters();
            assert_int_equal(c.current - c0.current, BATCH * (LEAF_TRACED + RAW_SIZE));
        }
        __atomic_store_n(&ready, b + 1, __ATOMIC_RELEASE);
        /* One batch in flight at a time; the counters (a stopper) fold
         * every thread's delta, so the next batch's peak is exact. */
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) <= b)
            sched_yield();
        assert_int_equal(destroyed, (int)((b + 1) * BATCH));
        rcy_mem_stats s = {.size = sizeof s};
        assert_int_equal(rcy_mem_get_stats(h, &s), RCY_OK); /* takes the blocks back */
        assert_int_equal(counters().current, c0.current);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    rcy_mem_stats s = {.size = sizeof s};
    assert_int_equal(rcy_mem_get_stats(h, &s), RCY_OK);
    rcy_tracemalloc_counters c = counters();
    assert_int_equal(c.current, c0.current);
    assert_int_equal(c.peak - c0.current, BATCH * (LEAF_TRACED + RAW_SIZE));
    assert_int_equal(c.allocs - c0.allocs, 2 * N);
    assert_int_equal(c.frees - c0.frees, 2 * N);
    assert_int_equal(traces_now(), traces0);
    rcy_tracemalloc_stop();
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traces_of_objects_freed_on_another_thread_add_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
