/* tests/test_thread_shared_stress.c — everything of issue 18 at once,
 * against a reachability model: three threads, each attached to its own
 * heap, build random graphs WITH cycles (private ones, and shared ones
 * across heaps through RCY_STORE into shared nodes of any heap), share
 * parts of them, hand references to each other through a locked queue,
 * drop references in random order (so last decrefs happen on non-owner
 * threads), take shared weak references of random nodes from any thread,
 * while thread 0 runs rcy_gc_collect_shared() every few steps and the
 * others keep running and polling (rcy_safepoint in a loop that does not
 * allocate; every blocking wait bracketed with rcy_blocking_begin/_end).
 * Thread 2 frees its heap halfway, with its shared nodes still referenced
 * by the others (an abandoned heap, alloc.h R3).
 *
 * The model (under `mlock`): per node, the references held outside the
 * graph (by a thread or in the queue) and its edges.  Every reference
 * change happens under mlock, reality first when adding and the model
 * first when removing, so at any point the model's reachable set is a
 * subset of the real one.  The lock is only ever waited for detached
 * (rcy_blocking_begin), and the collector holds it for the whole
 * collection, so no other thread holds it while the world is stopped,
 * and no stop is pending while another thread holds it (a safepoint
 * inside a locked section, such as RCY_STORE's rcy_share, never parks).
 * Hence: a destroy or finalizer runs only on a thread holding mlock, and
 * checks that the node is not reachable in the model; every node
 * reachable in the model when a collection starts is alive after it; no
 * weak get returns a dead node; finalizers run at most once; and after
 * the last references go and a final shared collection, every node died
 * exactly once and every raw block and arena is back (counting
 * allocators).  Deterministic in its seed (RCY_STRESS_SEED overrides;
 * printed on failure); the interleaving is not.
 *
 * Not covered here: cycles through the freed heap's nodes (its nodes only
 * ever point to its own older nodes, a DAG).  A freed heap keeps its
 * shared list on the registry (gcshared.h L4), so such cycles are
 * collected; tests/test_thread_death.c checks that. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREADS   3
#define DOOMED    2    /* the thread whose heap is freed halfway */
#define COLLECTOR 0    /* the thread that runs rcy_gc_collect_shared */
#define STEPS     2000 /* per thread (the doomed one stops at half) */
#define MAXN      (THREADS * STEPS)
#define MAXHELD   64
#define QCAP      256
#define FANOUT    RCY_TEST_FANOUT

#define ALIVE RCY_TEST_ALIVE
#define DEAD  RCY_TEST_DEAD

typedef rcy_test_node node;

/* ---- the model (under mlock unless atomic) ------------------------------ */

static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static __thread int tl_locked;
static __thread int tl_index = -1; /* the worker running, -1 on the main thread */

static node *nodes[MAXN];           /* atomic: registered nodes */
static rcy_weakref *weak_own[MAXN]; /* the owner's weak reference (mlock) */
static rcy_weakref *weak_pub[MAXN]; /* atomic: set once the referent is shared */
static int heap_of[MAXN];
static int held[MAXN];         /* references outside the graph: threads + queue */
static int kids[MAXN][FANOUT]; /* the edges, -1: none */
static int dead[MAXN];         /* atomic */
static int finalized[MAXN];    /* atomic */
static unsigned nreg;          /* atomic: ids handed out */
static unsigned ncreated;      /* atomic */
static unsigned nregistered;   /* mlock */

static int queue[THREADS][QCAP], qlen[THREADS]; /* references handed over */
static int gone[THREADS];

/* Reachability cache: `reach` is a superset of the model's reachable set
 * as long as nothing was added since it was computed (removals only
 * shrink the real set). */
static unsigned char reach[MAXN];
static int reach_stale = 1;
static int stack_[MAXN];

static int bad;            /* atomic: model violations */
static int bad_unlocked;   /* atomic: a death without mlock (test protocol) */
static long collected;     /* by the shared collections */
static int foreign_deaths; /* mlock: nodes that died off their heap's thread */
static int orphan_deaths;  /* mlock: nodes of the freed heap that died after it */
static unsigned long long seed0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s failed (seed %llu)\n", __FILE__, __LINE__, #cond, seed0);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void note_bad(const char *what, unsigned id) {
    if (__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED) < 5)
        fprintf(stderr, "test_thread_shared_stress: %s (node %u, seed %llu)\n", what, id, seed0);
}

static void compute_reach(void) {
    unsigned n = nregistered, sp = 0;
    memset(reach, 0, n);
    for (unsigned i = 0; i < n; i++)
        if (held[i] > 0 && !reach[i]) {
            reach[i] = 1;
            stack_[sp++] = (int)i;
            while (sp) {
                int k = stack_[--sp];
                for (int j = 0; j < FANOUT; j++) {
                    int c = kids[k][j];
                    if (c >= 0 && !reach[c]) {
                        reach[c] = 1;
                        stack_[sp++] = c;
                    }
                }
            }
        }
    reach_stale = 0;
}

static int reachable_now(unsigned id) {
    if (reach_stale)
        compute_reach();
    if (!reach[id])
        return 0;
    compute_reach(); /* the cache may be a strict superset */
    return reach[id];
}

static void model_add_root(int id) {
    held[id]++;
    reach_stale = 1;
}
static void model_drop_root(int id) {
    held[id]--;
}

/* ---- the node type: every callback checks the model ------------------- */

static void node_clear(void *self) {
    node *n = self;
    if (!tl_locked) {
        __atomic_fetch_add(&bad_unlocked, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int i = 0; i < FANOUT; i++)
        kids[n->id][i] = -1; /* the model first */
    rcy_test_node_clear(n);
}

static void node_destroy(void *self) {
    node *n = self;
    unsigned id = n->id;
    if (!tl_locked) {
        __atomic_fetch_add(&bad_unlocked, 1, __ATOMIC_RELAXED);
        return;
    }
    if (n->magic != ALIVE)
        note_bad("destroyed twice (magic)", id);
    if (held[id] != 0)
        note_bad("destroyed while a reference is held", id);
    else if (reachable_now(id))
        note_bad("destroyed while reachable in the model", id);
    if (__atomic_exchange_n(&dead[id], 1, __ATOMIC_ACQ_REL))
        note_bad("destroyed twice", id);
    foreign_deaths += heap_of[id] != tl_index;
    orphan_deaths += heap_of[id] == DOOMED && gone[DOOMED];
    n->magic = DEAD;
    node_clear(self);
}

static void node_finalize(void *self) {
    node *n = self;
    if (!tl_locked) {
        __atomic_fetch_add(&bad_unlocked, 1, __ATOMIC_RELAXED);
        return;
    }
    if (__atomic_fetch_add(&finalized[n->id], 1, __ATOMIC_RELAXED))
        note_bad("finalized twice", n->id);
    if (reachable_now(n->id))
        note_bad("finalized while reachable in the model", n->id);
}

static const rcy_type node_type = {.name = "node",
                                   .size = sizeof(node),
                                   .traverse = rcy_test_node_traverse,
                                   .clear = node_clear,
                                   .destroy = node_destroy};
static const rcy_type fnode_type = {.name = "fnode",
                                    .size = sizeof(node),
                                    .traverse = rcy_test_node_traverse,
                                    .clear = node_clear,
                                    .finalize = node_finalize,
                                    .destroy = node_destroy};

/* ---- counting allocators (what the heaps still hold) -------------------- */

/* ---- the threads ------------------------------------------------------- */

typedef struct worker {
    int index;
    rcy_heap *heap;
    rcy_test_rng rng;
    int held[MAXHELD], nheld; /* ids, each one reference (model: held[]) */
    unsigned gets, hits, collections;
    pthread_t thread;
} worker;

static worker workers[THREADS];

static unsigned pick(worker *w, unsigned n) {
    return rcy_test_rng_below(&w->rng, n);
}

/* Waiting for mlock is a blocking wait: detached, so a stop never waits
 * for it; attached again (after any stop) before touching an object. */
static void lock_model(worker *w) {
    rcy_blocking_begin(w->heap);
    pthread_mutex_lock(&mlock);
    rcy_blocking_end(w->heap);
    tl_locked = 1;
}
static void unlock_model(void) {
    tl_locked = 0;
    pthread_mutex_unlock(&mlock);
}

/* Under mlock: a reference w holds (already real) enters the model. */
static void hold(worker *w, int id) {
    model_add_root(id);
    if (w->nheld == MAXHELD) { /* full: drop a random one */
        unsigned k = pick(w, MAXHELD);
        int old = w->held[k];
        w->held[k] = id;
        model_drop_root(old);
        rcy_decref(nodes[old]);
        return;
    }
    w->held[w->nheld++] = id;
}

static void drop_held(worker *w, unsigned k) {
    int id = w->held[k];
    w->held[k] = w->held[--w->nheld];
    model_drop_root(id);
    rcy_decref(nodes[id]); /* may be the last reference, on any heap */
}

/* Under mlock: the weak references of w's shared nodes become visible to
 * the other threads' gets. */
static void publish(worker *w) {
    for (unsigned i = 0; i < nregistered; i++)
        if (heap_of[i] == w->index && !dead[i] && !weak_pub[i] && rcy_is_shared(nodes[i]))
            __atomic_store_n(&weak_pub[i], weak_own[i], __ATOMIC_RELEASE);
}

/* The freed heap's nodes form a DAG: they point only to its older nodes. */
static int may_store(int t, int v) {
    if (heap_of[t] != DOOMED)
        return 1;
    return heap_of[v] == DOOMED && v < t;
}

static void store(worker *w, int t, int v, int k) {
    node *nt = nodes[t], *old = nt->kid[k];
    if (v >= 0)
        rcy_incref(nodes[v]); /* reality first when adding */
    kids[t][k] = v;           /* model: the old edge goes, the new one comes */
    reach_stale = 1;
    RCY_STORE(nt, nt->kid[k], v >= 0 ? nodes[v] : NULL); /* shares v when nt is shared */
    rcy_xdecref(old);
    (void)w;
}

/* One random operation under mlock. */
static void operate(worker *w) {
    unsigned r = pick(w, 100);
    if (!w->nheld)
        return;
    if (r < 35) { /* store an edge between two held nodes */
        int t = w->held[pick(w, (unsigned)w->nheld)];
        int v = w->held[pick(w, (unsigned)w->nheld)];
        if (may_store(t, v))
            store(w, t, v, (int)pick(w, FANOUT));
    } else if (r < 45) { /* clear an edge */
        int t = w->held[pick(w, (unsigned)w->nheld)];
        store(w, t, -1, (int)pick(w, FANOUT));
    } else if (r < 55) { /* share */
        int t = w->held[pick(w, (unsigned)w->nheld)];
        CHECK(rcy_share(nodes[t]) == RCY_OK);
    } else if (r < 75) { /* hand a shared reference to another thread */
        unsigned k = pick(w, (unsigned)w->nheld);
        int id = w->held[k];
        int to = (int)pick(w, THREADS);
        if (to == w->index || gone[to] || qlen[to] == QCAP || !rcy_is_shared(nodes[id]))
            return;
        w->held[k] = w->held[--w->nheld];
        queue[to][qlen[to]++] = id; /* the reference moves: still held */
        pthread_cond_broadcast(&qcond);
    } else { /* drop one */
        drop_held(w, pick(w, (unsigned)w->nheld));
    }
}

static void receive(worker *w) {
    int i = w->index;
    while (qlen[i] && w->nheld < MAXHELD) {
        int id = queue[i][--qlen[i]];
        w->held[w->nheld++] = id; /* the model's count does not change */
    }
}

/* The collector: reachability in the model (frozen: we hold mlock, so no
 * other thread changes a reference), then the collection, then every
 * node reachable before must be alive. */
static void collect(worker *w) {
    compute_reach();
    static unsigned char before[MAXN];
    unsigned n = nregistered;
    memcpy(before, reach, n);
    for (unsigned i = 0; i < n; i++)
        before[i] &= !dead[i];
    ssize_t got = rcy_gc_collect_shared();
    CHECK(got >= 0);
    collected += got;
    for (unsigned i = 0; i < n; i++)
        if (before[i] && __atomic_load_n(&dead[i], __ATOMIC_RELAXED))
            note_bad("collected while reachable in the model", i);
    w->collections++;
}

static void teardown(worker *w) {
    lock_model(w);
    publish(w);
    gone[w->index] = 1;
    receive(w);
    while (qlen[w->index]) { /* more than it can hold */
        int id = queue[w->index][--qlen[w->index]];
        model_drop_root(id);
        rcy_decref(nodes[id]);
    }
    while (w->nheld)
        drop_held(w, 0);
    CHECK(rcy_gc_collect(w->heap, 2) >= 0); /* its private cycles */
    /* Weak references never published (private, or shared unseen) go
     * with their heap's thread; the published ones stay for the others. */
    for (unsigned i = 0; i < nregistered; i++)
        if (heap_of[i] == w->index && !weak_pub[i])
            RCY_CLEAR(weak_own[i]);
    if (w->index == DOOMED)
        rcy_heap_free(w->heap); /* its shared nodes live on elsewhere */
    else
        rcy_heap_detach(w->heap); /* main takes it over */
    unlock_model();
}

static void *run(void *arg) {
    worker *w = arg;
    tl_index = w->index;
    rcy_heap_attach(w->heap);
    rcy_gc_disable(w->heap); /* heap-local collections only under mlock */
    unsigned steps = w->index == DOOMED ? STEPS / 2 : STEPS;
    for (unsigned step = 0; step < steps; step++) {
        /* Outside the lock: poll without allocating, reading held nodes. */
        for (int k = 0; k < 20; k++) {
            rcy_safepoint(w->heap);
            if (w->nheld) {
                node *n =
                    __atomic_load_n(&nodes[w->held[pick(w, (unsigned)w->nheld)]], __ATOMIC_ACQUIRE);
                if (n->magic != ALIVE)
                    note_bad("a held node is dead", n->id);
            }
        }
        /* A weak get of a random published node (racing its death). */
        int got = -1;
        unsigned ids = __atomic_load_n(&nreg, __ATOMIC_ACQUIRE);
        if (ids) {
            unsigned j = pick(w, ids);
            rcy_weakref *wr = __atomic_load_n(&weak_pub[j], __ATOMIC_ACQUIRE);
            if (wr) {
                w->gets++;
                node *o = rcy_weakref_get(wr);
                if (o) {
                    w->hits++;
                    if (o->magic != ALIVE || __atomic_load_n(&dead[j], __ATOMIC_ACQUIRE) ||
                        o != __atomic_load_n(&nodes[j], __ATOMIC_RELAXED))
                        note_bad("a weak get returned a dead node", j);
                    got = (int)j; /* a real reference, not in the model yet */
                }
            }
        }
        /* A new node of our heap, with its weak reference. */
        node *fresh = NULL;
        rcy_weakref *fresh_wr = NULL;
        if (pick(w, 3) && __atomic_load_n(&ncreated, __ATOMIC_RELAXED) < MAXN - THREADS) {
            fresh = rcy_new(w->heap, pick(w, 4) ? &node_type : &fnode_type);
            CHECK(fresh);
            fresh->magic = ALIVE;
            __atomic_fetch_add(&ncreated, 1, __ATOMIC_RELAXED);
            fresh_wr = rcy_weakref_new(fresh, NULL, NULL);
            CHECK(fresh_wr);
        }
        lock_model(w);
        if (got >= 0)
            hold(w, got);
        if (fresh) {
            unsigned fresh_id = nregistered;
            fresh->id = fresh_id; /* nothing reads it before it is registered */
            heap_of[fresh_id] = w->index;
            for (int k = 0; k < FANOUT; k++)
                kids[fresh_id][k] = -1;
            weak_own[fresh_id] = fresh_wr;
            __atomic_store_n(&nodes[fresh_id], fresh, __ATOMIC_RELEASE);
            nregistered++;
            __atomic_store_n(&nreg, nregistered, __ATOMIC_RELEASE);
            hold(w, (int)fresh_id);
        }
        receive(w);
        for (unsigned k = pick(w, 4); k-- > 0;)
            operate(w);
        if (step % 16 == 0)
            publish(w);
        if (step % 97 == 0)
            CHECK(rcy_gc_collect(w->heap, 2) >= 0);
        if (w->index == COLLECTOR && step % 25 == 24)
            collect(w);
        unlock_model();
        /* Sometimes wait for a hand-over, detached. */
        if (pick(w, 8) == 0) {
            rcy_blocking_begin(w->heap);
            pthread_mutex_lock(&mlock);
            if (!qlen[w->index]) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&qcond, &mlock, &ts);
            }
            receive(w); /* moves ids only: no object touched while detached */
            pthread_mutex_unlock(&mlock);
            rcy_blocking_end(w->heap);
        }
    }
    teardown(w);
    return NULL;
}

static void shared_graphs_with_cycles_live_and_die_on_any_thread(void **state) {
    (void)state;
    seed0 = rcy_test_seed(0x243F6A8885A308D3ull);
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.raw = &rcy_test_counting_raw;
    cfg.arena = &rcy_test_counting_arena;
    for (int i = 0; i < THREADS; i++) {
        workers[i].index = i;
        workers[i].rng = rcy_test_rng_seeded(seed0 * (uint64_t)(2 * i + 1) ^ 0x9E3779B97F4A7C15ull);
        workers[i].heap = rcy_heap_new(&cfg);
        assert_non_null(workers[i].heap);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&workers[i].thread, NULL, run, &workers[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
    /* Every thread is gone; the main thread takes the heaps left over,
     * and with them the right to touch their objects. */
    for (int i = 0; i < THREADS; i++)
        if (i != DOOMED)
            assert_int_equal(rcy_heap_attach(workers[i].heap), RCY_OK);
    tl_locked = 1;
    pthread_mutex_lock(&mlock);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(qlen[i], 0);
    for (unsigned i = 0; i < nregistered; i++)
        assert_int_equal(held[i], 0);
    collected += rcy_gc_collect_shared(); /* the last shared cycles */
    unsigned alive = 0, fin = 0;
    for (unsigned i = 0; i < nregistered; i++) {
        alive += !dead[i];
        fin += finalized[i];
        if (!dead[i])
            fprintf(stderr, "node %u (heap %d) never died (seed %llu)\n", i, heap_of[i], seed0);
    }
    pthread_mutex_unlock(&mlock);
    tl_locked = 0;
    if (bad || bad_unlocked || alive)
        fprintf(stderr,
                "test_thread_shared_stress: seed %llu: %d violations, %d deaths "
                "without the lock, %u nodes alive\n",
                seed0, bad, bad_unlocked, alive);
    assert_int_equal(bad, 0);
    assert_int_equal(bad_unlocked, 0);
    assert_int_equal(alive, 0);
    assert_int_equal(nregistered, ncreated);
    /* Not vacuous: cycles were collected, deaths and gets happened. */
    assert_true(collected > 0);
    assert_true(workers[COLLECTOR].collections > 10);
    assert_true(fin > 0);
    unsigned hits = 0;
    for (int i = 0; i < THREADS; i++)
        hits += workers[i].hits;
    assert_true(hits > 0);
    assert_true(foreign_deaths > 0);
    assert_true(orphan_deaths > 0);
    /* The published weak references are the last objects; the freed
     * heap's go with its last, which frees what was left of it. */
    for (unsigned i = 0; i < nregistered; i++)
        if (weak_pub[i]) {
            assert_null(rcy_weakref_get(weak_pub[i]));
            rcy_decref(weak_pub[i]);
        }
    for (int i = 0; i < THREADS; i++)
        if (i != DOOMED)
            rcy_heap_free(workers[i].heap);
    assert_int_equal(rcy_test_raw_live, 0);
    assert_int_equal(rcy_test_arenas_live, 0);
    printf("seed %llu: %u nodes, %d died off their heap's thread, %d of the freed heap after it; "
           "%ld collected by %u shared collections; %u weak gets (%u hits)\n",
           seed0, nregistered, foreign_deaths, orphan_deaths, collected,
           workers[COLLECTOR].collections, workers[0].gets + workers[1].gets + workers[2].gets,
           hits);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_graphs_with_cycles_live_and_die_on_any_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
