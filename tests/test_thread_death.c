/* tests/test_thread_death.c — a shared object dies on whichever thread
 * drops its last reference (object.h O4): its destructor runs there,
 * counted in that thread's dealloc depth (not its heap's), and its block
 * goes back to its heap by the remote list (alloc.h R2), where the
 * owner's walks see it as free and its next slow path reuses it; a heap
 * freed while some of its shared objects live on is abandoned, and the
 * last of them to die frees it (alloc.h R3). */
#include "testutil.h"

#include "heap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- a chain node: one reference, the thread that destroyed it -------- */

typedef struct node {
    struct node *next;
    pthread_t *by; /* where to record the destroying thread, or NULL */
} node;

static int destroyed;           /* atomic */
static int destroyed_elsewhere; /* atomic: destroyed on another thread than `home` */
static pthread_t home;          /* the owner thread of the test */

static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->next, visit, arg);
    return 0;
}

static void node_destroy(void *self) {
    node *n = self;
    __atomic_fetch_add(&destroyed, 1, __ATOMIC_RELAXED);
    if (!pthread_equal(pthread_self(), home))
        __atomic_fetch_add(&destroyed_elsewhere, 1, __ATOMIC_RELAXED);
    if (n->by)
        *n->by = pthread_self();
    RCY_CLEAR(n->next);
}

static void node_clear(void *self) { /* breaks a cycle the collector found */
    RCY_CLEAR(((node *)self)->next);
}

static const rcy_type node_type = {.name = "node",
                                   .size = sizeof(node),
                                   .traverse = node_traverse,
                                   .clear = node_clear,
                                   .destroy = node_destroy};

/* A chain of n nodes, the head returned (it holds the rest). */
static node *chain(rcy_heap *h, size_t n) {
    node *head = NULL;
    for (size_t i = 0; i < n; i++) {
        node *c = rcy_new(h, &node_type);
        assert_non_null(c);
        c->next = head;
        head = c;
    }
    return head;
}

static void reset(void) {
    __atomic_store_n(&destroyed, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&destroyed_elsewhere, 0, __ATOMIC_RELAXED);
    home = pthread_self();
}

static void *drop(void *obj) {
    rcy_decref(obj);
    return NULL;
}

/* Drops obj's last reference on a new thread (with a small stack when
 * `small_stack`), and waits for it. */
static void drop_elsewhere(void *obj, bool small_stack) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    if (small_stack)
        pthread_attr_setstacksize(&a, 1024 * 1024); /* 100000 levels need 10+ MiB */
    pthread_t t;
    assert_int_equal(pthread_create(&t, &a, drop, obj), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&a);
}

static bool on_remote_list(rcy_heap *h, const void *obj) {
    for (uintptr_t t = (uintptr_t)__atomic_load_n(&h->alloc.remote, __ATOMIC_ACQUIRE); t;) {
        char *b = (char *)(t & ~(uintptr_t)1);
        if (b == (const char *)RCY_HEAD_(obj))
            return true;
        memcpy(&t, b + (h->debug ? -(ptrdiff_t)sizeof t : (t & 1) ? 16 : 0), sizeof t);
    }
    return false;
}

static size_t walked;
static void count_one(rcy_head_ *o, void *arg) {
    (void)o, (void)arg;
    walked++;
}

/* ---- tests ------------------------------------------------------------- */

static void a_shared_object_dies_on_the_thread_that_drops_it_and_goes_back_remotely(void **state) {
    (void)state;
    reset();
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    node *n = rcy_new(h, &node_type);
    pthread_t by = pthread_self();
    n->by = &by;
    assert_int_equal(rcy_share(n), RCY_OK);
    drop_elsewhere(n, false);
    assert_int_equal(destroyed, 1);
    assert_false(pthread_equal(by, pthread_self()));
    /* On the remote list, its word at shared count 0: skipped by walks. */
    assert_true(on_remote_list(h, n));
    assert_int_equal(rcyi_refcnt_load(RCY_HEAD_(n)), RCYI_RC_HIGH);
    walked = 0;
    rcyi_walk_all_objects(h, count_one, NULL);
    assert_int_equal(walked, 0);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    assert_int_equal(rcy_share_check(h), 0);
    /* The owner reuses the block once its slow path has run: allocate
     * until the free list it had runs out, then once more. */
    bool reused = false;
    node *got[4096];
    size_t k = 0;
    for (; k < 4096 && !reused; k++) {
        got[k] = rcy_new(h, &node_type);
        reused = got[k] == n;
    }
    assert_true(reused);
    assert_int_equal(h->alloc.remote_taken, 1);
    destroyed = 0;
    while (k)
        rcy_decref(got[--k]);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

static void the_attached_owner_frees_a_shared_object_at_once(void **state) {
    (void)state;
    reset();
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    node *n = rcy_new(h, &node_type);
    assert_int_equal(rcy_share(n), RCY_OK);
    rcy_decref(n);
    assert_int_equal(destroyed, 1);
    assert_null(__atomic_load_n(&h->alloc.remote, __ATOMIC_RELAXED));
    assert_true(rcy_new(h, &node_type) == n); /* back on its free list */
    rcy_decref(n);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

static void a_heap_not_attached_here_gets_its_shared_blocks_back_remotely(void **state) {
    (void)state;
    reset();
    /* Never attached: the thread that drops the last reference cannot
     * know it is the heap's user, so the block goes remote even here. */
    rcy_heap *h = rcy_heap_new(NULL);
    node *n = rcy_new(h, &node_type);
    assert_int_equal(rcy_share(n), RCY_OK);
    rcy_decref(n);
    assert_int_equal(destroyed, 1);
    assert_true(on_remote_list(h, n));
    rcy_mem_stats s = {.size = sizeof s};
    assert_int_equal(rcy_mem_get_stats(h, &s), RCY_OK); /* takes the list back */
    assert_null(__atomic_load_n(&h->alloc.remote, __ATOMIC_RELAXED));
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    /* Detached: the same. */
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    n = rcy_new(h, &node_type);
    assert_int_equal(rcy_share(n), RCY_OK);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_decref(n);
    assert_true(on_remote_list(h, n));
    rcy_heap_free(h); /* takes it back too */
}

/* A private destroy on the owner thread (heap depth 1) waits while another
 * thread frees a long shared chain of the same heap: that thread's depth
 * is its own, so the chain is released there, in bounded stack, and none
 * of it is left to the owner's deferred stack. */
typedef struct holder {
    node *chain;
    pthread_t t;
} holder;

static void holder_destroy(void *self) {
    holder *ho = self;
    assert_int_equal(pthread_create(&ho->t, NULL, drop, ho->chain), 0);
    assert_int_equal(pthread_join(ho->t, NULL), 0);
}

static const rcy_type holder_type = {
    .name = "holder", .size = sizeof(holder), .destroy = holder_destroy};

static void dealloc_depth_of_shared_deaths_is_per_thread(void **state) {
    (void)state;
    reset();
    enum { LEN = 100000 };
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    node *c = chain(h, LEN);
    assert_int_equal(rcy_share(c), RCY_OK);
    holder *ho = rcy_new(h, &holder_type);
    ho->chain = c;
    rcy_decref(ho);
    assert_int_equal(destroyed, LEN);
    assert_int_equal(destroyed_elsewhere, LEN);
    assert_int_equal(h->obj.depth, 0);
    assert_int_equal(h->obj.deferred_len, 0);
    /* And a long chain on a small stack: deferred on that thread. */
    reset();
    c = chain(h, LEN);
    assert_int_equal(rcy_share(c), RCY_OK);
    drop_elsewhere(c, true);
    assert_int_equal(destroyed_elsewhere, LEN);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

/* Objects of a debug heap: guards checked when the owner takes the blocks
 * back, and nothing reported alive at rcy_heap_free. */
static void debug_heaps_take_shared_blocks_back_with_their_guards(void **state) {
    (void)state;
    reset();
    rcy_test_capture_output();
    rcy_test_reset_output();
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    node *c = chain(h, 1000);
    assert_int_equal(rcy_share(c), RCY_OK);
    drop_elsewhere(c, false);
    assert_int_equal(destroyed_elsewhere, 1000);
    assert_true(on_remote_list(h, c));
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    rcy_heap_free(h); /* attached: a debug heap checks it */
    assert_null(strstr(rcy_test_output(), "still alive"));
}

/* ---- a heap freed while shared objects of it live on (alloc.h R3) ---- */

static rcy_heap *counted_heap(int debug) {
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.raw = &rcy_test_counting_raw;
    cfg.arena = &rcy_test_counting_arena;
    cfg.debug = debug;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

typedef struct big {
    char pad[2000]; /* a large object */
} big;
static void big_destroy(void *self) {
    (void)self;
    __atomic_fetch_add(&destroyed, 1, __ATOMIC_RELAXED);
}
static const rcy_type big_type = {.name = "big", .size = sizeof(big), .destroy = big_destroy};

enum { KEPT = 3000 };
static void *kept[KEPT];

static void *drop_all(void *arg) {
    (void)arg;
    for (int i = 0; i < KEPT; i++)
        rcy_decref(kept[i]);
    return NULL;
}

/* Builds KEPT shared objects (small and large, over several arenas) and
 * private garbage, and returns the heap. */
static rcy_heap *heap_with_shared(int debug) {
    rcy_heap *h = counted_heap(debug);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    for (int i = 0; i < KEPT; i++) {
        kept[i] = i % 100 == 0 ? rcy_new(h, &big_type) : (void *)chain(h, 3);
        assert_int_equal(rcy_share(kept[i]), RCY_OK);
        rcy_decref(chain(h, 100)); /* private, freed */
        (void)chain(h, 1);         /* private, leaked to the heap's end */
    }
    return h;
}

static void a_heap_freed_with_live_shared_objects_is_abandoned_until_they_die(void **state) {
    (void)state;
    for (int debug = 0; debug < 2; debug++) {
        reset();
        rcy_heap *h = heap_with_shared(debug);
        rcy_heap_free(h);                       /* attached: its objects are the test's */
        assert_true(rcy_test_raw_live >= 1);    /* the heap struct, abandoned */
        assert_true(rcy_test_arenas_live >= 1); /* the arenas holding shared objects */
        destroyed = 0;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, drop_all, NULL), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(destroyed, KEPT / 100 * 99 * 3 + KEPT / 100);
        assert_int_equal(rcy_test_raw_live, 0);
        assert_int_equal(rcy_test_arenas_live, 0);
    }
}

static void a_heap_freed_while_another_thread_drops_its_shared_objects(void **state) {
    (void)state;
    for (int round = 0; round < 20; round++) {
        reset();
        rcy_heap *h = heap_with_shared(0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, drop_all, NULL), 0);
        if (round % 2)
            sched_yield();
        rcy_heap_free(h); /* races the drops */
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(rcy_test_raw_live, 0);
        assert_int_equal(rcy_test_arenas_live, 0);
    }
}

static void a_heap_whose_shared_objects_all_died_is_freed_at_once(void **state) {
    (void)state;
    reset();
    rcy_heap *h = heap_with_shared(0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drop_all, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0); /* blocks on the remote list */
    rcy_heap_free(h);
    assert_int_equal(rcy_test_raw_live, 0);
    assert_int_equal(rcy_test_arenas_live, 0);
}

/* Shared 2-cycles in a counted heap nobody else refers to, one shared
 * immortal node, and `nkept` live shared chains in kept[]; the heap is
 * freed, so it is abandoned (alloc.h R3) with its shared list kept on
 * the registry (gcshared.h L4). */
static rcy_heap *abandoned_with_cycles(int debug, int ncycles, int nkept) {
    rcy_heap *h = counted_heap(debug);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    for (int i = 0; i < ncycles; i++) {
        node *a = chain(h, 2);
        a->next->next = a;
        rcy_incref(a);
        assert_int_equal(rcy_share(a), RCY_OK);
        rcy_decref(a);
    }
    node *forever = chain(h, 1);
    rcy_immortalize(forever);
    assert_int_equal(rcy_share(forever), RCY_OK);
    for (int i = 0; i < nkept; i++) {
        kept[i] = chain(h, 3);
        assert_int_equal(rcy_share(kept[i]), RCY_OK);
    }
    rcy_heap_free(h);
    assert_true(rcy_test_raw_live >= 1); /* abandoned: the struct stays */
    assert_int_equal(destroyed, 0);
    return h;
}

static void a_shared_cycle_of_a_freed_heap_is_collected_and_the_heap_goes_after(void **state) {
    (void)state;
    for (int debug = 0; debug < 2; debug++) {
        reset();
        (void)abandoned_with_cycles(debug, 50, 0);
        /* The sweep empties the kept list: the heap goes with its cycles. */
        assert_int_equal(rcy_gc_collect_shared(), 100);
        assert_int_equal(destroyed, 100);
        assert_int_equal(rcy_test_raw_live, 0);
        assert_int_equal(rcy_test_arenas_live, 0);
    }
}

static void *drop_kept(void *arg) {
    for (intptr_t i = 0; i < (intptr_t)arg; i++)
        rcy_decref(kept[i]);
    return NULL;
}

static void a_freed_heap_keeps_its_shared_list_until_its_last_listed_object_dies(void **state) {
    (void)state;
    reset();
    (void)abandoned_with_cycles(0, 50, 10);
    assert_int_equal(rcy_gc_collect_shared(), 100);
    assert_int_equal(destroyed, 100);
    assert_true(rcy_test_raw_live >= 1); /* ten chains still live in it */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drop_kept, (void *)(intptr_t)10), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(destroyed, 130);
    assert_int_equal(rcy_test_raw_live, 0);
    assert_int_equal(rcy_test_arenas_live, 0);
    assert_int_equal(rcy_gc_collect_shared(), 0); /* the registry no longer has it */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_shared_object_dies_on_the_thread_that_drops_it_and_goes_back_remotely),
        cmocka_unit_test(the_attached_owner_frees_a_shared_object_at_once),
        cmocka_unit_test(a_heap_not_attached_here_gets_its_shared_blocks_back_remotely),
        cmocka_unit_test(dealloc_depth_of_shared_deaths_is_per_thread),
        cmocka_unit_test(debug_heaps_take_shared_blocks_back_with_their_guards),
        cmocka_unit_test(a_heap_freed_with_live_shared_objects_is_abandoned_until_they_die),
        cmocka_unit_test(a_heap_freed_while_another_thread_drops_its_shared_objects),
        cmocka_unit_test(a_heap_whose_shared_objects_all_died_is_freed_at_once),
        cmocka_unit_test(a_shared_cycle_of_a_freed_heap_is_collected_and_the_heap_goes_after),
        cmocka_unit_test(a_freed_heap_keeps_its_shared_list_until_its_last_listed_object_dies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
