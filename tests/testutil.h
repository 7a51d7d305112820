/* tests/testutil.h — helpers shared by the test programs (cmocka). */
#ifndef RCY_TESTUTIL_H
#define RCY_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include "recycle.h"

/* Run fn(arg) in a forked child.  The test passes when the child dies by a
 * signal (abort) and what it wrote to stderr contains `expect`.  Death
 * tests are skipped (pass) under ASan when RCY_SKIP_DEATH is set. */
void rcy_expect_death_(void (*fn)(void *), void *arg, const char *expect, const char *file,
                       int line);
#define rcy_expect_death(fn, arg, expect)                                                          \
    rcy_expect_death_((fn), (arg), (expect), __FILE__, __LINE__)

/* Capture everything the library writes through its output callback into
 * a growing buffer (tests read it with rcy_test_output()). */
void rcy_test_capture_output(void);
const char *rcy_test_output(void);
void rcy_test_reset_output(void);

/* Bytes the heap's allocator has handed out and not got back (small and
 * large blocks): 0 once everything is freed. */
size_t rcy_test_bytes_in_use(rcy_heap *h);

/* Counting raw and arena allocators for rcy_config: what heaps built
 * with them still hold, in raw blocks and in arenas (atomic counters;
 * 0 once every such heap has given everything back). */
extern long rcy_test_raw_live, rcy_test_arenas_live;
extern const rcy_raw_allocator rcy_test_counting_raw;
extern const rcy_arena_allocator rcy_test_counting_arena;

/* ---- the stress tests' graphs (tests/test_thread*_stress.c) ----------- */

/* A node of a random graph: FANOUT references, a magic word a test sets
 * to RCY_TEST_ALIVE and its destroy to RCY_TEST_DEAD, and its index in
 * the test's model.  rcy_test_node_traverse visits the kids and
 * rcy_test_node_clear drops them; each test's destroy checks its model
 * first. */
#define RCY_TEST_FANOUT 3
#define RCY_TEST_ALIVE  0xA11Eu
#define RCY_TEST_DEAD   0xDEADu
typedef struct rcy_test_node {
    struct rcy_test_node *kid[RCY_TEST_FANOUT];
    unsigned magic;
    unsigned id;
} rcy_test_node;
int rcy_test_node_traverse(void *self, rcy_visitproc visit, void *arg);
void rcy_test_node_clear(void *self); /* RCY_CLEAR of every kid */

/* A seeded random number generator (xorshift64), one per thread: a test
 * is deterministic in its seeds (the interleaving is not).  A zero seed
 * (xorshift's fixed point) becomes 1. */
typedef struct rcy_test_rng {
    uint64_t x;
} rcy_test_rng;
static inline rcy_test_rng rcy_test_rng_seeded(uint64_t seed) {
    return (rcy_test_rng){seed ? seed : 1};
}
static inline uint64_t rcy_test_rng_next(rcy_test_rng *r) {
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return r->x;
}
/* A number in [0, n), n > 0. */
static inline unsigned rcy_test_rng_below(rcy_test_rng *r, unsigned n) {
    return (unsigned)(rcy_test_rng_next(r) % n);
}

/* A stress test's seed: RCY_STRESS_SEED when set (any base strtoull
 * reads), else `fallback`; never 0.  Tests print it when they fail. */
uint64_t rcy_test_seed(uint64_t fallback);

/* While other threads allocate and free under tracing: take `rounds`
 * snapshots, each of whose traces must add up to the counters' current
 * total with peak >= current, and clear the traces at every round k with
 * k % clear_every == clear_at (clear_every 0: never). */
void rcy_test_snapshots_stay_exact(int rounds, int clear_every, int clear_at);

#endif
