/* tests/test_thread_attach.c — heaps moving between threads: attached to
 * the creator, detach on one thread and attach on another, a heap held by
 * another thread refused, and (debug heaps) use from a thread the heap is
 * not attached to reported as fatal misuse; with no stop of the world
 * pending, attach and detach take no lock, and a thread attaching and
 * detaching in a loop is never running while the world is stopped. */
#include "testutil.h"

#include "thread.h"

#include <pthread.h>
#include <string.h>

typedef struct box {
    struct box *next;
} box;

static int box_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((box *)self)->next, visit, arg);
    return 0;
}
static void box_clear(void *self) {
    RCY_CLEAR(((box *)self)->next);
}
static const rcy_type box_type = {
    .name = "box", .size = sizeof(box), .traverse = box_traverse, .clear = box_clear};

typedef struct job {
    rcy_heap *h;
    box *made;
    int attach_rc, detach_rc;
    bool attached_before;
} job;

/* Takes the heap, builds a cycle and a chain on it, gives the heap back. */
static void *worker(void *arg) {
    job *j = arg;
    j->attached_before = rcy_heap_is_attached(j->h);
    j->attach_rc = rcy_heap_attach(j->h);
    box *a = rcy_new(j->h, &box_type), *b = rcy_new(j->h, &box_type);
    a->next = b; /* takes b's reference */
    b->next = a; /* takes a's: a cycle the main thread's collection frees */
    j->made = rcy_new(j->h, &box_type);
    j->detach_rc = rcy_heap_detach(j->h);
    return NULL;
}

static void a_heap_moves_to_another_thread_and_back(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_false(rcy_heap_is_attached(h)); /* unbound until attached */
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    assert_true(rcy_heap_is_attached(h));
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    assert_false(rcy_heap_is_attached(h));
    job j = {.h = h};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, worker, &j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_false(j.attached_before);
    assert_int_equal(j.attach_rc, RCY_OK);
    assert_int_equal(j.detach_rc, RCY_OK);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    assert_int_equal(rcy_heap_attach(h), RCY_OK); /* idempotent */
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    rcy_decref(j.made);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

static void *try_attach(void *arg) {
    job *j = arg;
    j->attach_rc = rcy_heap_attach(j->h);
    j->detach_rc = rcy_heap_detach(j->h);
    return NULL;
}

static void a_heap_held_by_another_thread_is_refused(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    rcy_test_capture_output();
    job j = {.h = h};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, try_attach, &j), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(j.attach_rc, RCY_ESTATE);
    assert_int_equal(j.detach_rc, RCY_ESTATE);
    assert_non_null(strstr(rcy_test_output(), "is attached to another thread"));
    assert_true(rcy_heap_is_attached(h)); /* still ours */
    rcy_heap_free(h);
    rcy_set_output(NULL, NULL);
}

static void *use_unattached(void *arg) {
    (void)rcy_new((rcy_heap *)arg, &box_type);
    return NULL;
}

/* A debug heap attached to the calling thread. */
static rcy_heap *attached_debug_heap(void) {
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    rcy_heap_attach(h);
    return h;
}

static void allocate_from_a_thread_the_heap_is_not_attached_to(void *arg) {
    (void)arg;
    rcy_heap *h = attached_debug_heap();
    pthread_t t;
    if (pthread_create(&t, NULL, use_unattached, h) == 0)
        pthread_join(t, NULL);
}

static void a_debug_heap_reports_use_from_a_thread_it_is_not_attached_to(void **state) {
    (void)state;
    rcy_expect_death(allocate_from_a_thread_the_heap_is_not_attached_to, NULL,
                     "but the heap is attached to thread");
}

static void allocate_from_a_detached_heap(void *arg) {
    (void)arg;
    rcy_heap *h = attached_debug_heap();
    rcy_heap_detach(h);
    (void)rcy_new(h, &box_type);
}

static void a_debug_heap_reports_use_while_detached(void **state) {
    (void)state;
    rcy_expect_death(allocate_from_a_detached_heap, NULL, "but the heap is detached");
}

/* ---- the fast path: no lock when no stop is pending ------------------ */

static void attach_and_detach_take_no_lock_when_no_stop_is_pending(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK); /* the thread joins the world: locked */
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    unsigned long before = rcyi_world_locks();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rcy_heap_attach(h), RCY_OK);
        assert_int_equal(rcy_heap_detach(h), RCY_OK);
    }
    assert_int_equal(rcyi_world_locks() - before, 0);
    rcy_heap_free(h);
}

/* A thread attaches and detaches in a loop, counting only while attached;
 * stop after stop, the count does not move while the world is stopped:
 * the fast path's store of ATTACHED and the requester's store of the
 * stop flag never both go unseen (thread.h S2). */
enum { STOPS = 300 };
static long inside;               /* atomic: bumped only while attached */
static int looping, done_looping; /* atomic */

static void *attach_detach_loop(void *arg) {
    rcy_heap *h = arg;
    __atomic_store_n(&looping, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&done_looping, __ATOMIC_ACQUIRE)) {
        rcy_heap_attach(h);
        __atomic_fetch_add(&inside, 1, __ATOMIC_RELAXED);
        rcy_heap_detach(h);
    }
    return NULL;
}

static void a_thread_attaching_in_a_loop_never_runs_while_the_world_is_stopped(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, attach_detach_loop, h), 0);
    while (!__atomic_load_n(&looping, __ATOMIC_ACQUIRE))
        sched_yield();
    int moved = 0;
    for (int i = 0; i < STOPS; i++) {
        rcyi_world_stop();
        long a = __atomic_load_n(&inside, __ATOMIC_RELAXED);
        for (int k = 0; k < 20; k++)
            sched_yield();
        moved += __atomic_load_n(&inside, __ATOMIC_RELAXED) != a;
        rcyi_world_start();
    }
    __atomic_store_n(&done_looping, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(moved, 0);
    assert_true(inside > 0);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_heap_moves_to_another_thread_and_back),
        cmocka_unit_test(a_heap_held_by_another_thread_is_refused),
        cmocka_unit_test(a_debug_heap_reports_use_from_a_thread_it_is_not_attached_to),
        cmocka_unit_test(a_debug_heap_reports_use_while_detached),
        cmocka_unit_test(attach_and_detach_take_no_lock_when_no_stop_is_pending),
        cmocka_unit_test(a_thread_attaching_in_a_loop_never_runs_while_the_world_is_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
