/* tests/test_gc_stress.c — random object graphs checked against a
 * reachability oracle.  Each seed runs thousands of random operations (new
 * object, add edge, remove edge, drop root, collect a generation, weak
 * references) with small thresholds so automatic collections interleave.
 * Invariants checked: reachable objects are never freed and keep exactly
 * their edges; after a full collection nothing unreachable is left; no
 * finalizer runs twice; some finalizers resurrect their object (PEP 442),
 * which must then survive intact with all it reaches; a weak reference is
 * cleared when its referent is freed, and never while it is alive unless
 * the collector found it garbage first (resurrection).  The same runs
 * again on incremental heaps (rcy_gc_set_incremental), with rcy_gc_step
 * at random points, and "nothing unreachable is left" checked once whole
 * scans of the old generation ran until one found nothing, instead of
 * after a full collection.  RCY_GC_STRESS_SEEDS / RCY_GC_STRESS_OPS make
 * it longer. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define MAXOBJ   8192
#define MAXE     6
#define MAXROOTS 64

typedef struct snode {
    int id;
    int ne;
    struct snode *e[MAXE];
} snode;

static int dead[MAXOBJ];       /* destroy ran */
static int fins[MAXOBJ];       /* finalize calls */
static int bad_finalizer_view; /* a finalizer saw a freed peer */
static snode *ptr[MAXOBJ];
static int me[MAXOBJ][MAXE]; /* the oracle's copy of the edges (ids) */
static int mne[MAXOBJ];
static int nobj;
static size_t total_collected; /* the collector really had work */

static int s_traverse(void *self, rcy_visitproc visit, void *arg) {
    snode *n = self;
    for (int i = 0; i < n->ne; i++)
        RCY_VISIT(n->e[i], visit, arg);
    return 0;
}

static void s_clear(void *self) {
    snode *n = self;
    while (n->ne > 0) {
        snode *c = n->e[--n->ne];
        n->e[n->ne] = NULL;
        rcy_decref(c);
    }
}

static void s_destroy(void *self) {
    snode *n = self;
    dead[n->id]++;
    s_clear(self);
}

/* Objects whose finalizer resurrected them (one reference each), waiting
 * to become roots again. */
static int pending[MAXOBJ];
static size_t total_resurrected;
static int npending;

static void s_finalize(void *self) {
    snode *n = self;
    fins[n->id]++;
    for (int i = 0; i < n->ne; i++)
        if (dead[n->e[i]->id])
            bad_finalizer_view++;
    if (n->id % 5 == 0) { /* PEP 442: resurrect, with all it reaches */
        rcy_incref(self);
        pending[npending++] = n->id;
        total_resurrected++;
    }
}

static const rcy_type plain_type = {"SNode", sizeof(snode), 0,        s_traverse,
                                    s_clear, NULL,          s_destroy};
static const rcy_type fin_type = {"SFNode", sizeof(snode), 0,        s_traverse,
                                  s_clear,  s_finalize,    s_destroy};

typedef struct world {
    rcy_heap *h;
    int roots[MAXROOTS]; /* ids held by the test (one reference each) */
    int nroots;
    int held[MAXOBJ]; /* resurrected objects, one reference each */
    int nheld;
    rcy_weakref *wr[MAXOBJ]; /* at most one weakref per object */
    unsigned seed;
} world;

static unsigned rnd(world *w) {
    w->seed = w->seed * 1103515245u + 12345u;
    return (w->seed >> 8) & 0xFFFFFF;
}

static int reach[MAXOBJ];

static void compute_reachable(world *w) {
    static int stack[MAXOBJ * MAXE + MAXROOTS + MAXOBJ];
    memset(reach, 0, sizeof(int) * (size_t)nobj);
    int sp = 0;
    for (int i = 0; i < w->nroots; i++)
        stack[sp++] = w->roots[i];
    for (int i = 0; i < w->nheld; i++)
        stack[sp++] = w->held[i];
    while (sp) {
        int id = stack[--sp];
        if (reach[id])
            continue;
        reach[id] = 1;
        for (int k = 0; k < mne[id]; k++)
            stack[sp++] = me[id][k];
    }
}

/* A random reachable object, or -1. */
static int pick_reachable(world *w) {
    if (w->nroots == 0)
        return -1;
    int id = w->roots[rnd(w) % (unsigned)w->nroots];
    int steps = (int)(rnd(w) % 4);
    for (int s = 0; s < steps && mne[id] > 0; s++)
        id = me[id][rnd(w) % (unsigned)mne[id]];
    return id;
}

/* Resurrected objects are held by the test (the oracle's view of
 * "reachable from outside") until a drop operation lets them go. */
static int weak_maybe_cleared[MAXOBJ];

/* Everything a resurrected object reaches may have been garbage with it,
 * and had its weak references cleared. */
static void mark_maybe_cleared(int id) {
    static int stack[MAXOBJ * MAXE + 1];
    static int seen[MAXOBJ], stamp;
    int sp = 0;
    if (++stamp == 1)
        memset(seen, 0, sizeof seen);
    stack[sp++] = id;
    while (sp) {
        int x = stack[--sp];
        if (seen[x] == stamp)
            continue;
        seen[x] = stamp;
        weak_maybe_cleared[x] = 1;
        for (int k = 0; k < mne[x]; k++)
            stack[sp++] = me[x][k];
    }
}

static void adopt_resurrected(world *w) {
    while (npending > 0) {
        int id = pending[--npending];
        mark_maybe_cleared(id);
        w->held[w->nheld++] = id;
    }
}

static void check(world *w, int after_full) {
    adopt_resurrected(w);
    compute_reachable(w);
    for (int id = 0; id < nobj; id++) {
        assert_true(fins[id] <= 1);
        if (reach[id]) {
            assert_int_equal(dead[id], 0);
            snode *n = ptr[id];
            assert_int_equal(n->ne, mne[id]);
            for (int k = 0; k < mne[id]; k++)
                assert_int_equal(n->e[k]->id, me[id][k]);
        } else if (after_full) {
            assert_int_equal(dead[id], 1);
        }
        assert_true(dead[id] <= 1);
        if (w->wr[id]) {
            void *o = rcy_weakref_get(w->wr[id]);
            /* Dead referent: always cleared.  Live one: intact, unless
             * the collector found it garbage and a finalizer resurrected
             * it (weak references are cleared before finalizers run). */
            if (dead[id])
                assert_null(o);
            else if (!weak_maybe_cleared[id] && !o)
                fail_msg("weakref to live object %d cleared: reach=%d fins=%d nobj=%d", id,
                         reach[id], fins[id], nobj);
            rcy_xdecref(o);
        }
    }
    assert_int_equal(bad_finalizer_view, 0);
}

static size_t collected_so_far(rcy_heap *h) {
    rcy_gc_stats st = {.size = sizeof st};
    assert_int_equal(rcy_gc_get_stats(h, &st), RCY_OK);
    return st.generations[0].collected + st.generations[1].collected + st.generations[2].collected;
}

/* Incremental heaps: steps of random size until a whole scan (one that
 * started after another ended: no allocation runs meanwhile, so with no
 * young object) freed and resurrected nothing.  A scan frees the top of
 * the garbage at least (cycles no other garbage refers to: the first of
 * their members it takes brings all of them), so such a scan proves that
 * nothing unreachable was left when it started. */
static void scans_until_clean(world *w) {
    for (int scans = 0;; scans++) {
        assert_true(scans < 1000);
        size_t before = collected_so_far(w->h);
        int resurrected = npending;
        int r;
        while ((r = rcy_gc_step(w->h, 1 + rnd(w) % 200)) == 0)
            ;
        assert_int_equal(r, 1);
        if (scans > 0 && collected_so_far(w->h) == before && npending == resurrected)
            return;
    }
}

/* What the run's collect operation does on an incremental heap: a step of
 * random size mostly, sometimes the API's collections; returns whether
 * everything unreachable must be gone now. */
static int collect_incremental(world *w) {
    unsigned k = rnd(w) % 10;
    if (k < 6) {
        assert_true(rcy_gc_step(w->h, rnd(w) % 300) >= 0);
        return 0;
    }
    if (k < 8) {
        assert_true(rcy_gc_collect(w->h, (int)(k - 6)) >= 0);
        return 0;
    }
    if (k == 8) {
        scans_until_clean(w);
        return 1;
    }
    assert_true(rcy_gc_collect(w->h, 2) >= 0);
    return 1;
}

static void run_seed(unsigned seed, int ops, int incremental) {
    world w;
    memset(&w, 0, sizeof w);
    memset(dead, 0, sizeof dead);
    memset(fins, 0, sizeof fins);
    memset(mne, 0, sizeof mne);
    nobj = 0;
    npending = 0;
    memset(weak_maybe_cleared, 0, sizeof weak_maybe_cleared);
    w.seed = seed;
    w.h = rcy_heap_new(NULL);
    assert_non_null(w.h);
    rcy_gc_set_threshold(w.h, 5 + seed % 20, 1 + seed % 4, 1 + seed % 3);
    rcy_gc_set_incremental(w.h, incremental);
    for (int op = 0; op < ops; op++) {
        unsigned r = rnd(&w) % 100;
        if (r < 25 && nobj < MAXOBJ && w.nroots < MAXROOTS) { /* new object, a root */
            snode *n = rcy_new(w.h, rnd(&w) % 3 == 0 ? &fin_type : &plain_type);
            assert_non_null(n);
            n->id = nobj;
            ptr[nobj] = n;
            w.roots[w.nroots++] = nobj;
            if (rnd(&w) % 5 == 0)
                w.wr[nobj] = rcy_weakref_new(n, NULL, NULL);
            nobj++;
        } else if (r < 60) { /* add edge */
            int a = pick_reachable(&w), b = pick_reachable(&w);
            if (a >= 0 && b >= 0 && mne[a] < MAXE) {
                rcy_incref(ptr[b]);
                ptr[a]->e[ptr[a]->ne++] = ptr[b];
                me[a][mne[a]++] = b;
            }
        } else if (r < 75) { /* remove edge */
            int a = pick_reachable(&w);
            if (a >= 0 && mne[a] > 0) {
                int k = (int)(rnd(&w) % (unsigned)mne[a]);
                snode *c = ptr[a]->e[k];
                ptr[a]->e[k] = ptr[a]->e[--ptr[a]->ne];
                ptr[a]->e[ptr[a]->ne] = NULL;
                me[a][k] = me[a][--mne[a]];
                rcy_decref(c);
            }
        } else if (r < 92) { /* drop a root */
            if (w.nheld > 0 && rnd(&w) % 2) {
                int i = (int)(rnd(&w) % (unsigned)w.nheld);
                int id = w.held[i];
                w.held[i] = w.held[--w.nheld];
                rcy_decref(ptr[id]);
            } else if (w.nroots > 0) {
                int i = (int)(rnd(&w) % (unsigned)w.nroots);
                int id = w.roots[i];
                w.roots[i] = w.roots[--w.nroots];
                rcy_decref(ptr[id]);
            }
        } else if (incremental) {
            check(&w, collect_incremental(&w));
            continue;
        } else { /* collect */
            int g = (int)(rnd(&w) % 3);
            assert_true(rcy_gc_collect(w.h, g) >= 0);
            check(&w, g == 2);
            continue;
        }
        adopt_resurrected(&w);
        if (op % 16 == 0)
            check(&w, 0);
    }
    adopt_resurrected(&w);
    while (w.nroots > 0 || w.nheld > 0) {
        if (w.nroots > 0)
            rcy_decref(ptr[w.roots[--w.nroots]]);
        else
            rcy_decref(ptr[w.held[--w.nheld]]);
        adopt_resurrected(&w);
    }
    if (incremental) {
        scans_until_clean(&w);
        while (npending > 0) { /* resurrected by the last increments */
            adopt_resurrected(&w);
            while (w.nheld > 0)
                rcy_decref(ptr[w.held[--w.nheld]]);
            scans_until_clean(&w);
        }
    } else {
        assert_true(rcy_gc_collect(w.h, 2) >= 0);
    }
    check(&w, 1);
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(w.h, &st);
    for (int g = 0; g < 3; g++)
        total_collected += st.generations[g].collected;
    for (int id = 0; id < nobj; id++)
        if (w.wr[id])
            rcy_decref(w.wr[id]);
    rcy_heap_free(w.h);
}

static int env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

static void random_graphs_match_the_oracle(void **state) {
    (void)state;
    int hard = getenv("RCY_GC_HARD") && strcmp(getenv("RCY_GC_HARD"), "0") != 0;
    int seeds = env_int("RCY_GC_STRESS_SEEDS", hard ? 10 : 40);
    int ops = env_int("RCY_GC_STRESS_OPS", 3000);
    for (int s = 1; s <= seeds; s++)
        run_seed((unsigned)s * 7919u, ops, 0);
    assert_true(total_collected > (size_t)seeds * 10);
    assert_true(total_resurrected > (size_t)seeds);
}

static void incremental_random_graphs_match_the_oracle(void **state) {
    (void)state;
    int hard = getenv("RCY_GC_HARD") && strcmp(getenv("RCY_GC_HARD"), "0") != 0;
    int seeds = env_int("RCY_GC_STRESS_SEEDS", hard ? 10 : 40);
    int ops = env_int("RCY_GC_STRESS_OPS", 3000);
    total_collected = 0;
    total_resurrected = 0;
    for (int s = 1; s <= seeds; s++)
        run_seed((unsigned)s * 7919u + 1u, ops, 1);
    assert_true(total_collected > (size_t)seeds * 10);
    assert_true(total_resurrected > (size_t)seeds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_graphs_match_the_oracle),
        cmocka_unit_test(incremental_random_graphs_match_the_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
