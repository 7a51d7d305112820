/* tests/test_thread_death_stress.c — shared objects dying anywhere, under
 * load, checked against a reachability model (issue 18): the owner builds
 * a random acyclic graph, shares it, gives each of two workers references
 * to random nodes and shared weak references to all of them, then drops
 * its own references and frees its heap while the workers still hold
 * theirs.  The workers take and drop weak references (racing the deaths)
 * and drop their references in random order, so nodes die on any of the
 * three threads, most after their heap was freed (abandoned, alloc.h R3).
 * Every destroy checks the model: nothing still holds the node (no
 * outstanding reference, every parent dead); a weak reference never yields
 * a dead node; every node dies once; and when the last one is gone the
 * heap has given back every raw block and every arena.  The graph and
 * the hand-out are deterministic in the seed (RCY_STRESS_SEED overrides;
 * printed); the workers' orders come from their index. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NODES   4000
#define FANOUT  RCY_TEST_FANOUT
#define WORKERS 2
#define HELD    3000 /* references each worker holds */

#define ALIVE RCY_TEST_ALIVE
#define DEAD  RCY_TEST_DEAD

typedef rcy_test_node node;

static node *nodes[NODES];
static rcy_weakref *weak[NODES];
static unsigned parents[NODES][FANOUT], nparents[NODES]; /* the model's edges */
static int holders[NODES];                               /* atomic: references outside the graph */
static int dead[NODES];                                  /* atomic */
static int destroyed;                                    /* atomic */
static int bad;                                          /* atomic: model violations */

static void node_destroy(void *self) {
    node *n = self;
    unsigned id = n->id;
    if (__atomic_load_n(&holders[id], __ATOMIC_ACQUIRE) != 0)
        __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < nparents[id]; i++)
        if (!__atomic_load_n(&dead[parents[id][i]], __ATOMIC_ACQUIRE))
            __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&dead[id], 1, __ATOMIC_ACQ_REL))
        __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED); /* twice */
    n->magic = DEAD;
    __atomic_fetch_add(&destroyed, 1, __ATOMIC_RELAXED);
    rcy_test_node_clear(n);
}

static const rcy_type node_type = {.name = "node",
                                   .size = sizeof(node),
                                   .traverse = rcy_test_node_traverse,
                                   .destroy = node_destroy};

typedef struct worker {
    unsigned held[HELD];
    rcy_test_rng rng;
    unsigned gets, hits;
} worker;

static worker workers[WORKERS];
static int go; /* atomic: the owner has handed everything over */

static void *work(void *arg) {
    worker *w = arg;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
        sched_yield();
    /* Drop the references in random order, a few weak gets between. */
    for (unsigned left = HELD; left; left--) {
        unsigned k = rcy_test_rng_below(&w->rng, left);
        unsigned id = w->held[k];
        w->held[k] = w->held[left - 1];
        for (int g = 0; g < 2; g++) {
            unsigned j = rcy_test_rng_below(&w->rng, NODES);
            node *o = rcy_weakref_get(weak[j]);
            w->gets++;
            if (o) {
                w->hits++;
                if (o->magic != ALIVE)
                    __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
                rcy_decref(o); /* may be the last reference */
            }
        }
        __atomic_fetch_sub(&holders[id], 1, __ATOMIC_RELEASE);
        rcy_decref(nodes[id]);
    }
    return NULL;
}

static void shared_objects_die_anywhere_against_the_model(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.raw = &rcy_test_counting_raw;
    cfg.arena = &rcy_test_counting_arena;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    uint64_t seed = rcy_test_seed(0x243F6A8885A308D3ull); /* the graph's and the hand-out's */
    printf("seed %llu\n", (unsigned long long)seed);
    rcy_test_rng x = rcy_test_rng_seeded(seed);
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        workers[i].rng = rcy_test_rng_seeded((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull);
        assert_int_equal(pthread_create(&t[i], NULL, work, &workers[i]), 0);
    }
    for (unsigned i = 0; i < NODES; i++) {
        node *n = rcy_new(h, &node_type);
        assert_non_null(n);
        n->magic = ALIVE;
        n->id = i;
        nodes[i] = n;
        holders[i] = 1; /* the owner's reference */
        if (i % 2)
            assert_int_equal(rcy_share(n), RCY_OK); /* the rest through RCY_STORE */
        for (int k = 0; k < FANOUT && i; k++) {
            if (rcy_test_rng_next(&x) % 3 == 0)
                continue;
            unsigned j = rcy_test_rng_below(&x, i);
            bool dup = false;
            for (unsigned p = 0; p < nparents[j]; p++)
                dup |= parents[j][p] == i;
            if (dup || nparents[j] == FANOUT)
                continue;
            rcy_incref(nodes[j]);
            RCY_STORE(n, n->kid[k], nodes[j]);
            parents[j][nparents[j]++] = i;
        }
    }
    /* Everything reachable from a root is shared once the roots are. */
    for (unsigned i = 0; i < NODES; i++) {
        assert_int_equal(rcy_share(nodes[i]), RCY_OK);
        weak[i] = rcy_weakref_new(nodes[i], NULL, NULL);
        assert_non_null(weak[i]);
        assert_true(rcy_is_shared(weak[i]));
    }
    for (int w = 0; w < WORKERS; w++) {
        for (unsigned k = 0; k < HELD; k++) {
            unsigned id = rcy_test_rng_below(&x, NODES);
            workers[w].held[k] = id;
            __atomic_fetch_add(&holders[id], 1, __ATOMIC_RELAXED);
            rcy_incref(nodes[id]);
        }
    }
    assert_int_equal(rcy_share_check(h), 0);
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    /* The owner's own references go, in order, while the workers run;
     * then the heap, with most of its objects still alive elsewhere. */
    for (unsigned i = NODES; i-- > 0;) {
        __atomic_fetch_sub(&holders[i], 1, __ATOMIC_RELEASE);
        rcy_decref(nodes[i]);
        if (i % 1000 == 0)
            assert_int_equal(rcy_gc_collect(h, 2), 0);
    }
    rcy_heap_free(h);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(destroyed, NODES);
    /* The weak references (shared, the workers' gets done) are the last
     * objects of the abandoned heap: their drop frees it. */
    for (unsigned i = 0; i < NODES; i++) {
        assert_null(rcy_weakref_get(weak[i]));
        rcy_decref(weak[i]);
    }
    assert_int_equal(rcy_test_raw_live, 0);
    assert_int_equal(rcy_test_arenas_live, 0);
    unsigned gets = 0;
    for (int i = 0; i < WORKERS; i++)
        gets += workers[i].gets;
    assert_int_equal(gets, WORKERS * HELD * 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_objects_die_anywhere_against_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
