/* tests/test_tracemalloc_fences.c — the tracer's fallback for kernels
 * without membarrier(2): every event fences after marking itself, and the
 * world is stopped without the system call.  Threads on their own heaps,
 * and on shared malloc-domain addresses, while another thread snapshots,
 * clears and reads the totals: the totals stay exact.  A separate program,
 * because the mode is chosen once, at the first start. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tracemalloc.h"

typedef struct pt {
    double x, y;
} pt;
static const rcy_type pt_type = {.name = "pt", .size = sizeof(pt)};

#define THREADS 3
#define N       4000

static int stop_flag, rounds;

static void *worker(void *arg) {
    uintptr_t base = (uintptr_t)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    static __thread pt *objs[N];
    for (int round = 0; round < rounds && !__atomic_load_n(&stop_flag, __ATOMIC_RELAXED); round++) {
        for (int i = 0; i < N; i++) {
            objs[i] = rcy_new(h, &pt_type);
            rcyi_trace_alloc(1, (const void *)(base + 16u * (uintptr_t)i), 24, "dom1.c", i % 9,
                             "worker");
        }
        for (int i = 0; i < N; i++) {
            rcy_decref(objs[i]);
            rcyi_trace_free(1, (const void *)(base + 16u * (uintptr_t)i));
        }
    }
    rcy_heap_free(h);
    return NULL;
}

static void events_fence_when_there_is_no_membarrier(void **state) {
    (void)state;
    rcyi_tm_use_fences();
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    stop_flag = 0;
    rounds = 400; /* until the snapshots below are done */
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)((uintptr_t)(t + 1) << 36));
    rcy_test_snapshots_stay_exact(40, 10, 5);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, NULL);
    assert_int_equal(cur, 0);
    /* and exact totals with nobody clearing (counters run since start) */
    rcy_tracemalloc_clear_traces();
    rcy_tracemalloc_counters c0 = {.size = sizeof c0};
    assert_int_equal(rcy_tracemalloc_get_counters(&c0), RCY_OK);
    stop_flag = 0;
    rounds = 20;
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)((uintptr_t)(t + 1) << 36));
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    rcy_tracemalloc_counters c = {.size = sizeof c};
    assert_int_equal(rcy_tracemalloc_get_counters(&c), RCY_OK);
    assert_int_equal(c.current, 0);
    assert_int_equal(c.allocs - c0.allocs, (uint64_t)THREADS * 20 * N * 2);
    assert_int_equal(c.frees - c0.frees, (uint64_t)THREADS * 20 * N * 2);
    rcy_tracemalloc_stop();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_fence_when_there_is_no_membarrier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
