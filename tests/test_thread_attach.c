/* tests/test_thread_attach.c — heaps moving between threads: attached to
 * the creator, detach on one thread and attach on another, a heap held by
 * another thread refused, and (debug heaps) use from a thread the heap is
 * not attached to reported as fatal misuse. */
#include "testutil.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_heap_moves_to_another_thread_and_back),
        cmocka_unit_test(a_heap_held_by_another_thread_is_refused),
        cmocka_unit_test(a_debug_heap_reports_use_from_a_thread_it_is_not_attached_to),
        cmocka_unit_test(a_debug_heap_reports_use_while_detached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
