/* bench/gcshared_bench.c — the shared graph's collector (src/gcshared.c)
 * against today's full collection of the same graph kept private
 * (gc.c), and the time threads take to reach a safepoint.
 *
 *   gcshared_bench collect N RUNS   N objects in rings of 8 (two
 *       references each: next and a chord), every ring held by one
 *       reference from a C array.  Interleaved, RUNS rounds of: a full
 *       collection of the private graph (rcy_gc_collect(h, 2)), a shared
 *       collection with 1 marker, one with 2 markers; then the same with
 *       every ring garbage (rebuilt each round).  Prints each kind's
 *       median wall time and the ratios.
 *   gcshared_bench one private|shared1|shared2|shared1-parked N
 *       live|garbage   one collection of one kind, for callgrind's
 *       instruction counts (--toggle-collect=rcy_gc_collect or
 *       rcy_gc_collect_shared); shared1-parked: the graph's heap is
 *       another thread's, which polls rcy_safepoint (parked meanwhile).
 *   gcshared_bench safepoint THREADS STOPS   THREADS threads, each
 *       attached to its heap, polling rcy_safepoint after about 10 us of
 *       work; STOPS empty shared collections, 0.2 to 1.2 ms apart; the
 *       time from each stop request to every thread parked
 *       (rcy_gc_shared_stats.last_stop_seconds): p50, p99, max.
 * Wall clock (the markers run in parallel); run it interleaved on an idle
 * machine and read the ratios, not the times. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <recycle.h>

typedef struct bnode {
    struct bnode *next, *chord;
} bnode;
static int bnode_traverse(void *self, rcy_visitproc visit, void *arg) {
    bnode *n = self;
    RCY_VISIT(n->next, visit, arg);
    RCY_VISIT(n->chord, visit, arg);
    return 0;
}
static void bnode_clear(void *self) {
    bnode *n = self;
    RCY_CLEAR(n->next);
    RCY_CLEAR(n->chord);
}
static const rcy_type bnode_type = {
    .name = "bnode", .size = sizeof(bnode), .traverse = bnode_traverse, .clear = bnode_clear};

#define RING 8

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* n objects in rings; roots[i] holds ring i's first node.  share: each
 * ring shared once built. */
static void build(rcy_heap *h, size_t n, bnode **roots, int share) {
    for (size_t r = 0; r < n / RING; r++) {
        bnode *ring[RING];
        for (int i = 0; i < RING; i++)
            ring[i] = rcy_new(h, &bnode_type);
        for (int i = 0; i < RING; i++) {
            ring[i]->next = ring[(i + 1) % RING];
            rcy_incref(ring[i]->next);
            ring[i]->chord = ring[(i + 3) % RING];
            rcy_incref(ring[i]->chord);
        }
        if (share)
            rcy_share(ring[0]);
        roots[r] = ring[0];
        for (int i = 1; i < RING; i++)
            rcy_decref(ring[i]);
    }
}

static void drop(bnode **roots, size_t nr) {
    for (size_t r = 0; r < nr; r++)
        rcy_decref(roots[r]);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

/* kind 0: private full collection; 1, 2: shared with that many markers */
static double collect_once(rcy_heap *h, int kind, ssize_t *found) {
    double t = now();
    if (kind == 0) {
        *found = rcy_gc_collect(h, 2);
    } else {
        rcy_gc_set_shared_markers((unsigned)kind);
        *found = rcy_gc_collect_shared();
    }
    return now() - t;
}

static int run_collect(size_t n, int runs) {
    rcy_heap *hp = rcy_heap_new(NULL), *hs = rcy_heap_new(NULL);
    rcy_heap_attach(hp);
    rcy_heap_attach(hs);
    rcy_gc_disable(hp);
    rcy_gc_disable(hs);
    size_t nr = n / RING;
    bnode **rp = malloc(nr * sizeof *rp), **rs = malloc(nr * sizeof *rs);
    double *t = malloc(6 * (size_t)runs * sizeof *t);
    if (!hp || !hs || !rp || !rs || !t)
        return 1;
    /* Live graphs: every object reachable, nothing freed (trial deletion
     * only). */
    build(hp, n, rp, 0);
    build(hs, n, rs, 1);
    ssize_t found;
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < 3; k++) {
            t[k * runs + r] = collect_once(k ? hs : hp, k, &found);
            if (found != 0)
                return fprintf(stderr, "live graph: %zd found\n", found), 1;
        }
    drop(rp, nr);
    drop(rs, nr);
    rcy_gc_set_shared_markers(1);
    rcy_gc_collect_shared();
    rcy_gc_collect(hp, 2);
    /* Garbage graphs: every ring unreachable, freed by the collection. */
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < 3; k++) {
            rcy_heap *h = k ? hs : hp;
            build(h, n, rp, k != 0);
            drop(rp, nr);
            t[(3 + k) * runs + r] = collect_once(h, k, &found);
            if ((size_t)found != nr * RING)
                return fprintf(stderr, "garbage graph: %zd found\n", found), 1;
        }
    rcy_gc_set_shared_markers(0);
    const char *what[2] = {"live", "garbage"};
    for (int g = 0; g < 2; g++) {
        double p = median(t + (3 * g) * runs, runs), s1 = median(t + (3 * g + 1) * runs, runs),
               s2 = median(t + (3 * g + 2) * runs, runs);
        printf("gcshared collect %s n=%zu runs=%d: private full %.1f ms, shared 1 marker %.1f ms, "
               "shared 2 markers %.1f ms; shared1/private %.3f, shared1/shared2 %.2fx\n",
               what[g], n, runs, p * 1e3, s1 * 1e3, s2 * 1e3, s1 / p, s1 / s2);
    }
    free(t);
    free(rp);
    free(rs);
    rcy_heap_free(hp);
    rcy_heap_free(hs);
    return 0;
}

/* ---- safepoint latency ------------------------------------------------- */

static int stop_pollers;
static volatile unsigned sink;
static unsigned spin_per_10us = 1000;

static void work(unsigned iters) {
    unsigned x = sink;
    for (unsigned i = 0; i < iters; i++)
        x = x * 1103515245u + 12345u;
    sink = x;
}

static void *poller(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_heap_attach(h);
    while (!__atomic_load_n(&stop_pollers, __ATOMIC_RELAXED)) {
        work(spin_per_10us);
        rcy_safepoint(h);
    }
    rcy_heap_free(h);
    return NULL;
}

static int run_safepoint(int nthreads, int stops) {
    /* Calibrate ~10 us of work. */
    double t = now();
    work(10000000);
    double per = (now() - t) / 10000000;
    spin_per_10us = (unsigned)(10e-6 / per);
    pthread_t *th = malloc((size_t)nthreads * sizeof *th);
    double *lat = malloc((size_t)stops * sizeof *lat);
    if (!th || !lat)
        return 1;
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, poller, NULL);
    struct timespec pause = {0, 200000};
    nanosleep(&(struct timespec){0, 20000000}, NULL);
    for (int s = 0; s < stops; s++) {
        pause.tv_nsec = 200000 + (rand() % 1000) * 1000;
        nanosleep(&pause, NULL);
        rcy_gc_collect_shared();
        rcy_gc_shared_stats st = {.size = sizeof st};
        rcy_gc_get_shared_stats(&st);
        lat[s] = st.last_stop_seconds;
    }
    __atomic_store_n(&stop_pollers, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    qsort(lat, (size_t)stops, sizeof *lat, cmp);
    printf("gcshared safepoint threads=%d stops=%d work=%u iters (~10 us): time to safepoint p50 "
           "%.1f us, p99 %.1f us, max %.1f us\n",
           nthreads, stops, spin_per_10us, lat[stops / 2] * 1e6, lat[stops * 99 / 100] * 1e6,
           lat[stops - 1] * 1e6);
    free(th);
    free(lat);
    return 0;
}

/* shared1-parked: the graph's heap belongs to this thread, which polls
 * (parked during the collection) until `parked_done`. */
typedef struct parked_owner {
    size_t n;
    int garbage;
    int ready, done; /* atomic */
} parked_owner;

static void *own_and_poll(void *arg) {
    parked_owner *p = arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_heap_attach(h);
    rcy_gc_disable(h);
    size_t nr = p->n / RING;
    bnode **roots = malloc(nr * sizeof *roots);
    build(h, p->n, roots, 1);
    if (p->garbage)
        drop(roots, nr);
    __atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE))
        rcy_safepoint(h);
    return NULL; /* no teardown, as run_one */
}

/* One collection of one kind (for callgrind --toggle-collect on
 * rcy_gc_collect / rcy_gc_collect_shared). */
static int run_one(const char *kind, size_t n, int garbage) {
    if (!strcmp(kind, "shared1-parked")) {
        parked_owner p = {n, garbage, 0, 0};
        pthread_t t;
        if (pthread_create(&t, NULL, own_and_poll, &p) != 0)
            return 1;
        while (!__atomic_load_n(&p.ready, __ATOMIC_ACQUIRE))
            sched_yield();
        ssize_t found;
        double dt = collect_once(NULL, 1, &found);
        __atomic_store_n(&p.done, 1, __ATOMIC_RELEASE);
        pthread_join(t, NULL);
        printf("gcshared one %s %s n=%zu: %zd found, %.1f ms\n", kind, garbage ? "garbage" : "live",
               n, found, dt * 1e3);
        return 0;
    }
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_heap_attach(h);
    rcy_gc_disable(h);
    size_t nr = n / RING;
    bnode **roots = malloc(nr * sizeof *roots);
    if (!h || !roots)
        return 1;
    int k = !strcmp(kind, "private") ? 0 : !strcmp(kind, "shared1") ? 1 : 2;
    build(h, n, roots, k != 0);
    if (garbage)
        drop(roots, nr);
    ssize_t found;
    double t = collect_once(h, k, &found);
    printf("gcshared one %s %s n=%zu: %zd found, %.1f ms\n", kind, garbage ? "garbage" : "live", n,
           found, t * 1e3);
    return 0; /* no teardown: a second collection would count too */
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "one"))
        return run_one(argv[2], (size_t)atol(argv[3]), !strcmp(argv[4], "garbage"));
    if (argc == 4 && !strcmp(argv[1], "collect"))
        return run_collect((size_t)atol(argv[2]), atoi(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "safepoint"))
        return run_safepoint(atoi(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: gcshared_bench collect N RUNS | safepoint THREADS STOPS | one "
                    "private|shared1|shared2|shared1-parked N live|garbage\n");
    return 2;
}
