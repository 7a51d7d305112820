/* tests/test_thread_gc.c — the shared graph's collector (src/gcshared.c):
 * shared objects on their heap's shared list and off it when they die,
 * heap-local collections blind to them, shared cycles collected while
 * other threads keep running and polling, reachable shared objects kept,
 * finalizers once (resurrection), weak references cleared, a random
 * shared graph against a reachability oracle with one and two markers,
 * and the debug check of the sharing invariant at each collection. */
#include "test_gc_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

static size_t listed(void) {
    rcy_gc_shared_stats st = {.size = sizeof st};
    assert_int_equal(rcy_gc_get_shared_stats(&st), RCY_OK);
    return st.listed;
}

/* a <-> b, shared; the caller's references dropped. */
static void shared_pair(rcy_heap *h, const rcy_type *t, int ida, int idb, node **pa, node **pb) {
    node *a = mk(h, t, ida), *b = mk(h, t, idb);
    link_a(a, b);
    link_a(b, a);
    assert_int_equal(rcy_share(a), RCY_OK);
    assert_true(rcy_is_shared(b));
    if (pa)
        *pa = a;
    else
        rcy_decref(a);
    if (pb)
        *pb = b;
    else
        rcy_decref(b);
}

static void shared_objects_are_listed_until_they_die(void **state) {
    (void)state;
    reset_tallies();
    rcy_heap *h = new_heap();
    size_t before = listed();
    node *a = mk(h, &node_type, 1), *b = mk(h, &node_type, 2), *c = mk(h, &node_type, 3);
    link_a(a, b);
    link_a(b, c);
    assert_int_equal(rcy_share(a), RCY_OK);
    assert_int_equal(listed(), before + 3);
    assert_false(rcy_gc_is_tracked(a));
    rcy_decref(b);
    rcy_decref(c);
    rcy_decref(a); /* the chain dies by refcounting: off the list */
    assert_int_equal(total_destroyed, 3);
    assert_int_equal(listed(), before);
    rcy_heap_free(h);
}

static void a_heap_local_collection_leaves_shared_cycles_alone(void **state) {
    (void)state;
    reset_tallies();
    rcy_heap *h = new_heap();
    shared_pair(h, &node_type, 1, 2, NULL, NULL);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    assert_int_equal(total_destroyed, 0);
    assert_int_equal(rcy_gc_collect_shared(), 2);
    assert_int_equal(total_destroyed, 2);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

static void shared_cycles_of_several_heaps_are_collected(void **state) {
    (void)state;
    reset_tallies();
    rcy_heap *h1 = new_heap(), *h2 = new_heap();
    shared_pair(h1, &node_type, 1, 2, NULL, NULL);
    node *x;
    shared_pair(h2, &node_type, 3, 4, &x, NULL);
    /* h1's shared object refers to h2's: a cross-heap shared cycle. */
    node *p = mk(h1, &node_type, 5);
    assert_int_equal(rcy_share(p), RCY_OK);
    link_a(p, x);
    link_b(x, p);
    rcy_decref(p);
    rcy_decref(x);
    rcy_gc_shared_stats st = {.size = sizeof st};
    assert_int_equal(rcy_gc_get_shared_stats(&st), RCY_OK);
    size_t runs = st.collections;
    assert_int_equal(rcy_gc_collect_shared(), 5);
    assert_int_equal(total_destroyed, 5);
    assert_int_equal(rcy_gc_get_shared_stats(&st), RCY_OK);
    assert_int_equal(st.collections, runs + 1);
    assert_int_equal(st.last_candidates, 5);
    assert_true(st.last_stop_seconds >= 0 && st.last_pause_seconds >= st.last_stop_seconds);
    assert_int_equal(rcy_test_bytes_in_use(h1), 0);
    assert_int_equal(rcy_test_bytes_in_use(h2), 0);
    rcy_heap_free(h1);
    rcy_heap_free(h2);
}

static void reachable_shared_objects_survive(void **state) {
    (void)state;
    reset_tallies();
    rcy_heap *h = new_heap();
    node *a;
    shared_pair(h, &node_type, 1, 2, &a, NULL); /* a kept by us */
    node *holder = mk(h, &node_type, 3);        /* private, holds a shared cycle */
    node *c;
    shared_pair(h, &node_type, 4, 5, &c, NULL);
    holder->a = c;                    /* takes our reference */
    node *imm = mk(h, &node_type, 6); /* immortal shared, holds a cycle */
    node *d;
    shared_pair(h, &node_type, 7, 8, &d, NULL);
    imm->a = d;
    rcy_share(imm);
    rcy_immortalize(imm);
    assert_int_equal(rcy_gc_collect_shared(), 0);
    assert_int_equal(total_destroyed, 0);
    rcy_decref(a);
    rcy_decref(holder);
    assert_int_equal(total_destroyed, 1); /* holder, private: by refcount */
    assert_int_equal(rcy_gc_collect_shared(), 4);
    assert_int_equal(total_destroyed, 5);
    /* An immortal object is never destroyed, so what it holds lives on,
     * and would keep the freed heap abandoned (alloc.h R3): let it go. */
    node *held = imm->a;
    imm->a = NULL;
    rcy_decref(held);
    assert_int_equal(rcy_gc_collect_shared(), 2);
    assert_int_equal(total_destroyed, 7);
    rcy_heap_free(h);
}

static void a_finalizer_runs_once_and_may_resurrect(void **state) {
    (void)state;
    reset_tallies();
    rcy_heap *h = new_heap();
    node *a = mk(h, &fnode_type, 1), *b = mk(h, &fnode_type, 2);
    a->behavior = NODE_RESURRECT | NODE_CHECK_PEERS;
    b->behavior = NODE_CHECK_PEERS;
    link_a(a, b);
    link_a(b, a);
    rcy_share(a);
    rcy_decref(a);
    rcy_decref(b);
    assert_int_equal(rcy_gc_collect_shared(), 0); /* a resurrected, b with it */
    assert_int_equal(finalized[1], 1);
    assert_int_equal(finalized[2], 1);
    assert_int_equal(peer_check_failures, 0);
    assert_int_equal(total_destroyed, 0);
    drop_resurrected();
    assert_int_equal(rcy_gc_collect_shared(), 2);
    assert_int_equal(finalized[1], 1); /* not again */
    assert_int_equal(finalized[2], 1);
    assert_int_equal(total_destroyed, 2);
    rcy_heap_free(h);
}

static int callbacks;
static void on_dead(rcy_weakref *wr, void *arg) {
    (void)arg;
    assert_null(rcy_weakref_get(wr));
    callbacks++;
}

static void weak_references_to_a_shared_cycle_are_cleared(void **state) {
    (void)state;
    reset_tallies();
    callbacks = 0;
    rcy_heap *h = new_heap();
    node *a;
    shared_pair(h, &node_type, 1, 2, &a, NULL);
    rcy_weakref *wr = rcy_weakref_new(a, on_dead, NULL);
    assert_non_null(wr);
    rcy_decref(a);
    assert_int_equal(rcy_gc_collect_shared(), 2);
    assert_int_equal(callbacks, 1);
    assert_null(rcy_weakref_get(wr));
    rcy_decref(wr);
    rcy_heap_free(h);
}

static void legacy_finalizers_keep_their_shared_cycle(void **state) {
    (void)state;
    reset_tallies();
    rcy_heap *h = new_heap();
    node *a = mk(h, &legacy_type, 1), *b = mk(h, &node_type, 2);
    link_a(a, b);
    link_a(b, a);
    rcy_share(a);
    rcy_decref(a);
    rcy_decref(b);
    rcy_gc_shared_stats st = {.size = sizeof st};
    assert_int_equal(rcy_gc_get_shared_stats(&st), RCY_OK);
    size_t before = st.uncollectable;
    assert_int_equal(rcy_gc_collect_shared(), 0);
    assert_int_equal(rcy_gc_get_shared_stats(&st), RCY_OK);
    assert_int_equal(st.uncollectable, before + 2);
    assert_int_equal(total_destroyed, 0);
    node_clear(a); /* break it by hand */
    assert_int_equal(total_destroyed, 2);
    rcy_heap_free(h);
}

/* ---- a random shared graph against the oracle -------------------------- */

#define RN 600

static void random_shared_graph(unsigned seed, unsigned markers, int died[RN]) {
    reset_tallies();
    rcy_heap *h = new_heap();
    srand(seed);
    node *n[RN];
    int ea[RN], eb[RN], root[RN];
    for (int i = 0; i < RN; i++)
        n[i] = mk(h, (rand() % 5) ? &node_type : &fnode_type, i);
    for (int i = 0; i < RN; i++) {
        ea[i] = rand() % 3 ? rand() % RN : -1;
        eb[i] = rand() % 4 ? -1 : rand() % RN;
        if (ea[i] >= 0)
            link_a(n[i], n[ea[i]]);
        if (eb[i] >= 0)
            link_b(n[i], n[eb[i]]);
    }
    for (int i = 0; i < RN; i++)
        rcy_share(n[i]);
    for (int i = 0; i < RN; i++) {
        root[i] = rand() % 10 == 0;
        if (!root[i])
            rcy_decref(n[i]);
    }
    /* The oracle: reachable from the roots. */
    int reach[RN] = {0}, stack[RN], sp = 0;
    for (int i = 0; i < RN; i++)
        if (root[i] && !reach[i]) {
            reach[i] = 1;
            stack[sp++] = i;
            while (sp) {
                int k = stack[--sp];
                int e[2] = {ea[k], eb[k]};
                for (int j = 0; j < 2; j++)
                    if (e[j] >= 0 && !reach[e[j]]) {
                        reach[e[j]] = 1;
                        stack[sp++] = e[j];
                    }
            }
        }
    int dead_by_rc = total_destroyed;
    rcy_gc_set_shared_markers(markers);
    ssize_t got = rcy_gc_collect_shared();
    rcy_gc_set_shared_markers(0);
    rcy_gc_shared_stats st = {.size = sizeof st};
    rcy_gc_get_shared_stats(&st);
    assert_int_equal(st.last_markers, markers);
    int unreachable = 0;
    for (int i = 0; i < RN; i++) {
        unreachable += !reach[i];
        assert_int_equal(destroyed[i], !reach[i]);
        assert_true(finalized[i] <= 1);
        died[i] = destroyed[i];
    }
    assert_int_equal((int)got + dead_by_rc, unreachable);
    for (int i = 0; i < RN; i++)
        if (root[i])
            rcy_decref(n[i]);
    rcy_gc_collect_shared();
    assert_int_equal(total_destroyed, RN);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

static void random_shared_graphs_match_the_oracle_with_one_and_two_markers(void **state) {
    (void)state;
    static int one[RN], two[RN];
    for (unsigned seed = 1; seed <= 20; seed++) {
        random_shared_graph(seed, 1, one);
        random_shared_graph(seed, 2, two);
        assert_memory_equal(one, two, sizeof one);
    }
}

/* ---- other threads keep running ---------------------------------------- */

typedef struct anode {
    struct anode *next;
} anode;
static int anode_destroyed; /* atomic */
static int anode_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((anode *)self)->next, visit, arg);
    return 0;
}
static void anode_clear(void *self) {
    RCY_CLEAR(((anode *)self)->next);
}
static void anode_destroy(void *self) {
    __atomic_fetch_add(&anode_destroyed, 1, __ATOMIC_RELAXED);
    anode_clear(self);
}
static const rcy_type anode_type = {"anode", sizeof(anode), 0, anode_traverse, anode_clear,
                                    NULL,    anode_destroy};

typedef struct runner {
    int made; /* cycles made (atomic) */
    int stop; /* atomic */
    int kept; /* a shared ring kept alive, checked at the end */
    pthread_barrier_t *done;
} runner;

static void *run_and_poll(void *arg) {
    runner *r = arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_heap_attach(h);
    anode *keep = rcy_new(h, &anode_type);
    keep->next = keep;
    rcy_incref(keep);
    rcy_share(keep);
    while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
        anode *a = rcy_new(h, &anode_type), *b = rcy_new(h, &anode_type);
        a->next = b;
        b->next = a;
        rcy_incref(a);
        rcy_share(a);
        rcy_decref(a);
        __atomic_fetch_add(&r->made, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < 50; i++)
            rcy_safepoint(h);
    }
    /* Wait (detached) for the main thread's last collection. */
    rcy_blocking_begin(h);
    pthread_barrier_wait(r->done);
    pthread_barrier_wait(r->done);
    rcy_blocking_end(h);
    r->kept = keep->next == keep && rcy_is_shared(keep);
    rcy_decref(keep); /* the ring's own reference keeps it */
    rcy_blocking_begin(h);
    pthread_barrier_wait(r->done);
    pthread_barrier_wait(r->done);
    rcy_blocking_end(h);
    rcy_heap_free(h);
    return NULL;
}

static void shared_cycles_are_collected_while_threads_run(void **state) {
    (void)state;
    __atomic_store_n(&anode_destroyed, 0, __ATOMIC_RELAXED);
    pthread_barrier_t done;
    pthread_barrier_init(&done, NULL, 3);
    runner r[2] = {{.done = &done}, {.done = &done}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_and_poll, &r[i]), 0);
    ssize_t freed = 0;
    for (int k = 0; k < 30 || __atomic_load_n(&r[0].made, __ATOMIC_RELAXED) < 50 ||
                    __atomic_load_n(&r[1].made, __ATOMIC_RELAXED) < 50;
         k++) {
        ssize_t n = rcy_gc_collect_shared();
        assert_true(n >= 0);
        freed += n;
    }
    for (int i = 0; i < 2; i++)
        __atomic_store_n(&r[i].stop, 1, __ATOMIC_RELAXED);
    pthread_barrier_wait(&done);
    freed += rcy_gc_collect_shared(); /* every thread detached now */
    pthread_barrier_wait(&done);
    int made = r[0].made + r[1].made;
    assert_int_equal(freed, 2 * made);
    assert_int_equal(__atomic_load_n(&anode_destroyed, __ATOMIC_RELAXED), 2 * made);
    pthread_barrier_wait(&done); /* the kept rings dropped to their self-reference */
    assert_int_equal(rcy_gc_collect_shared(), 2);
    pthread_barrier_wait(&done);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(r[i].kept);
    }
    pthread_barrier_destroy(&done);
}

/* ---- garbage of other threads' heaps (alloc.h R4, object.h O5) --------- */

/* A large member in every ring (over RCY_SMALL_LIMIT: a raw-allocator
 * block), traversed as an anode. */
typedef struct bignode {
    struct anode *next;
    char pad[1500];
} bignode;
static const rcy_type bignode_type = {"bignode", sizeof(bignode), 0, anode_traverse, anode_clear,
                                      NULL,      anode_destroy};

#define OWN_RINGS 700 /* rings of 4: several pools of each class, and 700 large blocks */

typedef struct owner_job {
    int debug;
    int detach;      /* wait detached (rcy_blocking_begin) instead of polling */
    int built, done; /* atomic: the rings are garbage; the collection returned */
    size_t remote;   /* the owner's remote_taken after the collection */
    size_t in_use;   /* bytes its allocator still hands out, then */
    pthread_barrier_t *bar;
} owner_job;

static void *own_and_wait(void *arg) {
    owner_job *j = arg;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.raw = &rcy_test_counting_raw;
    cfg.arena = &rcy_test_counting_arena;
    cfg.debug = j->debug;
    rcy_heap *h = rcy_heap_new(&cfg);
    rcy_heap_attach(h);
    rcy_gc_disable(h);
    for (int r = 0; r < OWN_RINGS; r++) {
        anode *ring[4];
        ring[0] = rcy_new(h, &bignode_type);
        for (int i = 1; i < 4; i++)
            ring[i] = rcy_new(h, &anode_type);
        for (int i = 0; i < 4; i++)
            ring[i]->next = ring[(i + 1) % 4];
        /* each new reference went to the member before: garbage at once */
        rcy_share(ring[0]);
    }
    if (j->detach) {
        rcy_blocking_begin(h);
        __atomic_store_n(&j->built, 1, __ATOMIC_RELEASE);
        pthread_barrier_wait(j->bar); /* the collection runs while we wait */
        rcy_blocking_end(h);
    } else {
        __atomic_store_n(&j->built, 1, __ATOMIC_RELEASE);
        while (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
            rcy_safepoint(h); /* parks here: no allocation meanwhile */
    }
    rcy_mem_stats st = {.size = sizeof st};
    assert_int_equal(rcy_mem_get_stats(h, &st), RCY_OK); /* takes remote frees back first */
    j->remote = st.remote_taken;
    j->in_use = rcy_test_bytes_in_use(h);
    rcy_heap_free(h);
    return NULL;
}

/* Every ring is garbage of another thread's heap.  Parked at a safepoint,
 * that thread does not touch its heap, so the requester frees each block
 * straight into its pools (none by the remote list); detached, the heap
 * may be in use outside the world, so the blocks go by the remote list.
 * Either way every block and arena comes back exactly once: a lost block
 * keeps bytes in use and an arena mapped, a double free breaks the count
 * or (debug heaps) is reported. */
static void garbage_of_a_parked_heap_goes_straight_back(void **state) {
    (void)state;
    for (int mode = 0; mode < 4; mode++) {
        long raw0 = __atomic_load_n(&rcy_test_raw_live, __ATOMIC_RELAXED),
             arenas0 = __atomic_load_n(&rcy_test_arenas_live, __ATOMIC_RELAXED);
        __atomic_store_n(&anode_destroyed, 0, __ATOMIC_RELAXED);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        owner_job j = {.debug = mode & 1, .detach = mode >> 1, .bar = &bar};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, own_and_wait, &j), 0);
        while (!__atomic_load_n(&j.built, __ATOMIC_ACQUIRE))
            sched_yield();
        assert_int_equal(rcy_gc_collect_shared(), 4 * OWN_RINGS);
        assert_int_equal(__atomic_load_n(&anode_destroyed, __ATOMIC_RELAXED), 4 * OWN_RINGS);
        __atomic_store_n(&j.done, 1, __ATOMIC_RELEASE);
        if (j.detach)
            pthread_barrier_wait(&bar);
        assert_int_equal(pthread_join(t, NULL), 0);
        pthread_barrier_destroy(&bar);
        assert_int_equal(j.in_use, 0);
        if (j.detach)
            assert_int_equal(j.remote, 4 * OWN_RINGS);
        else
            assert_int_equal(j.remote, 0);
        assert_int_equal(__atomic_load_n(&rcy_test_raw_live, __ATOMIC_RELAXED), raw0);
        assert_int_equal(__atomic_load_n(&rcy_test_arenas_live, __ATOMIC_RELAXED), arenas0);
    }
}

/* ---- the debug check ---------------------------------------------------- */

static void the_debug_check_reports_a_shared_to_private_edge(void **state) {
    (void)state;
    reset_tallies();
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    node *a = mk(h, &node_type, 1);
    rcy_share(a);
    node *p = mk(h, &node_type, 2);
    a->a = p; /* a bad store: no RCY_STORE, p stays private */
    rcy_test_capture_output();
    assert_int_equal(rcy_gc_collect_shared(), 0);
    const char *out = rcy_test_output();
    assert_non_null(strstr(out, "shared object of type Node"));
    assert_non_null(strstr(out, "refers to private object of type Node"));
    rcy_test_reset_output();
    a->a = NULL;
    rcy_decref(p);
    rcy_decref(a);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_objects_are_listed_until_they_die),
        cmocka_unit_test(a_heap_local_collection_leaves_shared_cycles_alone),
        cmocka_unit_test(shared_cycles_of_several_heaps_are_collected),
        cmocka_unit_test(reachable_shared_objects_survive),
        cmocka_unit_test(a_finalizer_runs_once_and_may_resurrect),
        cmocka_unit_test(weak_references_to_a_shared_cycle_are_cleared),
        cmocka_unit_test(legacy_finalizers_keep_their_shared_cycle),
        cmocka_unit_test(random_shared_graphs_match_the_oracle_with_one_and_two_markers),
        cmocka_unit_test(shared_cycles_are_collected_while_threads_run),
        cmocka_unit_test(garbage_of_a_parked_heap_goes_straight_back),
        cmocka_unit_test(the_debug_check_reports_a_shared_to_private_edge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
