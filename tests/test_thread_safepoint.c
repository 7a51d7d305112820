/* tests/test_thread_safepoint.c — the cooperative stop-the-world
 * (src/thread.h S1..S4): a thread polling rcy_safepoint stays parked while
 * the world is stopped, a thread detached around a blocking wait does not
 * hold a stop up and cannot attach again until the restart, and an
 * attach that waited is served even when collections follow each other
 * back to back (no starvation), and a thread whose attached heap was freed
 * is no longer waited for. */
#include "testutil.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* A shared self-cycle whose finalizer runs `during` while the world is
 * stopped. */
typedef struct ring {
    struct ring *self;
} ring;
static void (*during)(void);
static int ring_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((ring *)self)->self, visit, arg);
    return 0;
}
static void ring_clear(void *self) {
    RCY_CLEAR(((ring *)self)->self);
}
static void ring_finalize(void *self) {
    (void)self;
    during();
}
static const rcy_type ring_type = {"ring",     sizeof(ring),  0,   ring_traverse,
                                   ring_clear, ring_finalize, NULL};

static void collect_with(rcy_heap *h, void (*fn)(void)) {
    during = fn;
    ring *r = rcy_new(h, &ring_type);
    assert_non_null(r);
    rcy_incref(r);
    r->self = r;
    rcy_share(r);
    rcy_decref(r);
    assert_int_equal(rcy_gc_collect_shared(), 1);
}

/* ---- a polling thread parks -------------------------------------------- */

static long counter; /* atomic */
static int stop_runner, runner_ready;
static long seen_before, seen_after;

static void *poll_loop(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_heap_attach(h);
    __atomic_store_n(&runner_ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&stop_runner, __ATOMIC_RELAXED)) {
        __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        rcy_safepoint(h);
    }
    rcy_heap_free(h);
    return NULL;
}

static void watch_counter(void) {
    seen_before = __atomic_load_n(&counter, __ATOMIC_RELAXED);
    sleep_ms(20);
    seen_after = __atomic_load_n(&counter, __ATOMIC_RELAXED);
}

static void a_polling_thread_stays_parked_while_the_world_is_stopped(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_loop, NULL), 0);
    while (!__atomic_load_n(&runner_ready, __ATOMIC_ACQUIRE))
        sched_yield();
    collect_with(h, watch_counter);
    assert_int_equal(seen_before, seen_after);
    __atomic_store_n(&stop_runner, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(counter > 0);
    rcy_heap_free(h);
}

/* ---- a detached thread waits for the restart --------------------------- */

static int go, reattached, blocked;

static void *block_then_attach(void *arg) {
    rcy_heap *h = arg;
    rcy_heap_attach(h);
    rcy_blocking_begin(h);
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) /* "blocked": detached */
        sched_yield();
    rcy_blocking_end(h);
    __atomic_store_n(&reattached, 1, __ATOMIC_RELEASE);
    rcy_heap_detach(h);
    return NULL;
}

static int reattached_during;
static void release_blocked_thread(void) {
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    sleep_ms(20);
    reattached_during = __atomic_load_n(&reattached, __ATOMIC_ACQUIRE);
}

static void a_detached_thread_attaches_only_after_the_restart(void **state) {
    (void)state;
    rcy_heap *mine = rcy_heap_new(NULL), *theirs = rcy_heap_new(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, block_then_attach, theirs), 0);
    while (!__atomic_load_n(&blocked, __ATOMIC_ACQUIRE))
        sched_yield();
    collect_with(mine, release_blocked_thread); /* returns: the stop did not wait */
    assert_int_equal(reattached_during, 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(reattached, 1);
    rcy_heap_free(mine);
    rcy_heap_free(theirs);
}

/* ---- no starvation ------------------------------------------------------ */

#define ROUNDS 200
static int rounds_done; /* atomic */

static void *attach_in_a_loop(void *arg) {
    rcy_heap *h = arg;
    rcy_heap_attach(h);
    for (int i = 0; i < ROUNDS; i++) {
        rcy_blocking_begin(h);
        rcy_blocking_end(h); /* waits out a stop, served at its restart */
        __atomic_fetch_add(&rounds_done, 1, __ATOMIC_RELAXED);
        rcy_safepoint(h);
    }
    rcy_heap_detach(h);
    return NULL;
}

static void an_attach_is_served_under_back_to_back_collections(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, attach_in_a_loop, h), 0);
    /* Each restart serves a waiting attach (S3), so ROUNDS rounds need at
     * most about ROUNDS collections; the bound leaves a wide margin. */
    int collections = 0;
    while (__atomic_load_n(&rounds_done, __ATOMIC_RELAXED) < ROUNDS && collections < 100 * ROUNDS) {
        assert_true(rcy_gc_collect_shared() >= 0);
        collections++;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(rounds_done, ROUNDS);
    rcy_heap_free(h);
}

/* ---- a freed heap holds no stop up ------------------------------------- */

static int freed, may_exit;

static void *free_attached_heap_then_wait(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_heap_attach(h);
    rcy_heap_free(h); /* attached when freed: the thread leaves the world */
    __atomic_store_n(&freed, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&may_exit, __ATOMIC_ACQUIRE)) /* never polls */
        sched_yield();
    return NULL;
}

static void a_heap_freed_while_attached_holds_no_stop_up(void **state) {
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_attached_heap_then_wait, NULL), 0);
    while (!__atomic_load_n(&freed, __ATOMIC_ACQUIRE))
        sched_yield();
    alarm(60); /* a stop waiting for that thread would hang: fail instead */
    assert_true(rcy_gc_collect_shared() >= 0);
    alarm(0);
    __atomic_store_n(&may_exit, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(t, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_polling_thread_stays_parked_while_the_world_is_stopped),
        cmocka_unit_test(a_detached_thread_attaches_only_after_the_restart),
        cmocka_unit_test(an_attach_is_served_under_back_to_back_collections),
        cmocka_unit_test(a_heap_freed_while_attached_holds_no_stop_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
