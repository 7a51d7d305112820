/* tests/test_thread_stress.c — sharing under load, checked against a
 * model: the owner builds a random acyclic graph node by node, each new
 * node referring to earlier ones through RCY_STORE, shares every few
 * nodes and publishes them (release), while two readers take and drop
 * references on random published nodes and on their children.  After
 * the readers stop, every count must be what the model says (1 for the
 * owner plus the node's in-degree: no atomic update lost), the sharing
 * invariant must hold, and dropping the owner's references must free every
 * node.  The owner's full collections run meanwhile: heap-local, they
 * never touch a shared object's count (object.h).  The graph is
 * deterministic in its seed (RCY_STRESS_SEED overrides; printed). */
#include "testutil.h"

#include <pthread.h>

#include <stdio.h>

#define NODES   3000
#define FANOUT  RCY_TEST_FANOUT
#define READERS 2
#define ROUNDS  200000

typedef rcy_test_node node;

static int destroyed;

static void node_destroy(void *self) {
    node *n = self;
    destroyed++; /* only the owner thread frees */
    rcy_test_node_clear(n);
}

static const rcy_type node_type = {.name = "node",
                                   .size = sizeof(node),
                                   .traverse = rcy_test_node_traverse,
                                   .destroy = node_destroy};

static node *nodes[NODES];
static unsigned indegree[NODES];
static size_t published; /* nodes[0..published) are shared; atomic */
static int stop;         /* atomic */

static void *reader(void *arg) {
    rcy_test_rng x = rcy_test_rng_seeded((uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1);
    for (int r = 0;; r++) {
        size_t n = __atomic_load_n(&published, __ATOMIC_ACQUIRE);
        if (n) {
            node *o = nodes[rcy_test_rng_next(&x) % n];
            rcy_incref(o);
            for (int i = 0; i < FANOUT; i++) {
                if (o->kid[i]) {
                    rcy_incref(o->kid[i]);
                    rcy_decref(o->kid[i]);
                }
            }
            rcy_decref(o);
        }
        if (r >= ROUNDS && __atomic_load_n(&stop, __ATOMIC_ACQUIRE))
            break;
    }
    return NULL;
}

static void shared_counts_match_the_model_after_concurrent_readers(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    pthread_t t[READERS];
    for (uintptr_t i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, (void *)(i + 1)), 0);
    uint64_t seed = rcy_test_seed(12345); /* the graph's; the readers' come from their index */
    printf("seed %llu\n", (unsigned long long)seed);
    rcy_test_rng x = rcy_test_rng_seeded(seed);
    size_t shared_upto = 0;
    for (size_t i = 0; i < NODES; i++) {
        node *n = rcy_new(h, &node_type);
        assert_non_null(n);
        for (int k = 0; k < FANOUT && i > 0; k++) {
            if (rcy_test_rng_next(&x) % 2)
                continue;
            size_t j = rcy_test_rng_next(&x) % i;
            rcy_incref(nodes[j]);
            RCY_STORE(n, n->kid[k], nodes[j]);
            indegree[j]++;
        }
        nodes[i] = n;
        if (i % 500 == 499) /* a full collection walks shared blocks too */
            assert_int_equal(rcy_gc_collect(h, 2), 0);
        if (rcy_test_rng_next(&x) % 4 == 0 || i == NODES - 1) {
            /* share the new nodes (what they reach may be older private
             * ones), then publish them */
            for (size_t j = shared_upto; j <= i; j++)
                assert_int_equal(rcy_share(nodes[j]), RCY_OK);
            shared_upto = i + 1;
            __atomic_store_n(&published, shared_upto, __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(rcy_share_check(h), 0);
    for (size_t i = 0; i < NODES; i++) {
        assert_true(rcy_is_shared(nodes[i]));
        assert_int_equal(rcy_getrefcount(nodes[i]), 1 + indegree[i]);
    }
    destroyed = 0;
    for (size_t i = NODES; i-- > 0;)
        rcy_decref(nodes[i]);
    assert_int_equal(destroyed, NODES);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_counts_match_the_model_after_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
