/* bench/gc_bench.c — what the cycle collector costs, on the graph shapes
 * bench/gc_peer.py builds in CPython:
 *   cyclic2     N objects in 2-cycles, garbage: ns per object to find+free
 *   rings       rings of 21 nodes (pyperformance gc_collect), garbage
 *   chain       a live chain: ns per object of a full collection
 *   traversal   1000 nested lists, ~500k edges (pyperformance
 *               gc_traversal): ms per full collection, ns per edge
 *   young       a young collection of 2000 new objects with OLD old objects
 *               alive vs with none: microseconds, and the ratio
 *   header      header bytes per tracked object
 * Prints "name value" lines, times the median of RUNS runs.
 * Usage: gc_bench RUNS [scale]   (scale divides every size; 1 = full) */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct node {
    struct node *next;
} node;

static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->next, visit, arg);
    return 0;
}

static void node_clear(void *self) {
    node *n = self;
    RCY_CLEAR(n->next);
}

static const rcy_type node_type = {"Node", sizeof(node), 0, node_traverse, node_clear, NULL, NULL};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static node *new_node(rcy_heap *h) {
    node *n = rcy_new(h, &node_type);
    if (!n) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return n;
}

/* Rings of `len` nodes, all dropped: pure garbage. */
static void make_rings(rcy_heap *h, long nrings, int len) {
    for (long r = 0; r < nrings; r++) {
        node *first = new_node(h), *prev = first;
        for (int i = 1; i < len; i++) {
            node *n = new_node(h);
            prev->next = n; /* the reference new_node returned */
            prev = n;
        }
        prev->next = first;
    }
}

/* ns per object to find and free `nrings` garbage rings of `len`. */
static double garbage_ns(long nrings, int len, int runs) {
    double t[64];
    for (int r = 0; r < runs; r++) {
        rcy_heap *h = rcy_heap_new(NULL);
        rcy_gc_disable(h);
        make_rings(h, nrings, len);
        double t0 = now();
        ssize_t n = rcy_gc_collect(h, 2);
        t[r] = (now() - t0) * 1e9 / (double)(nrings * len);
        if (n != nrings * len) {
            fprintf(stderr, "collected %zd of %ld\n", n, nrings * len);
            exit(1);
        }
        rcy_heap_free(h);
    }
    return median(t, runs);
}

static double chain_ns(long n, int runs) {
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_disable(h);
    node *head = new_node(h), *tail = head;
    for (long i = 1; i < n; i++) {
        node *x = new_node(h);
        tail->next = x;
        tail = x;
    }
    rcy_gc_collect(h, 2); /* all old now */
    double t[64];
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        rcy_gc_collect(h, 2);
        t[r] = (now() - t0) * 1e9 / (double)n;
    }
    rcy_decref(head);
    rcy_heap_free(h);
    return median(t, runs);
}

/* pyperformance's gc_traversal: list k holds k references to list k-1. */
static double traversal_ms(int levels, int runs, long *edges) {
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_disable(h);
    rcy_list *cur = rcy_list_new(h);
    *edges = 0;
    for (int n = 0; n < levels; n++) {
        rcy_list *l = rcy_list_new(h);
        for (int i = 0; i < n; i++)
            rcy_list_append(l, cur);
        *edges += n;
        rcy_decref(cur);
        cur = l;
    }
    double t[64];
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        rcy_gc_collect(h, 2);
        t[r] = (now() - t0) * 1e3;
    }
    rcy_decref(cur);
    rcy_heap_free(h);
    return median(t, runs);
}

/* Median microseconds of a generation-0 collection of `young` new
 * objects (each a 2-chain hanging off a live root), with `old` old objects
 * alive. */
static double young_us(long old, int young, int reps) {
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_disable(h);
    node *oldhead = NULL;
    if (old) {
        oldhead = new_node(h);
        node *tail = oldhead;
        for (long i = 1; i < old; i++) {
            node *x = new_node(h);
            tail->next = x;
            tail = x;
        }
    }
    rcy_gc_collect(h, 2);
    double *t = malloc(sizeof(double) * (size_t)reps);
    node **keep = malloc(sizeof(node *) * (size_t)young);
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < young; i++) {
            keep[i] = new_node(h);
            keep[i]->next = new_node(h);
        }
        /* half of them become garbage cycles, half stay alive */
        for (int i = 0; i < young; i += 2) {
            rcy_incref(keep[i]);
            keep[i]->next->next = keep[i];
        }
        for (int i = 0; i < young; i += 2)
            rcy_decref(keep[i]);
        double t0 = now();
        rcy_gc_collect(h, 0);
        t[r] = (now() - t0) * 1e6;
        for (int i = 1; i < young; i += 2)
            rcy_decref(keep[i]);
        rcy_gc_collect(h, 1); /* keep generation 1 from growing */
    }
    double m = median(t, reps);
    free(t);
    free(keep);
    if (oldhead)
        rcy_decref(oldhead);
    rcy_heap_free(h);
    return m;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    long scale = argc > 2 ? atol(argv[2]) : 1;
    if (runs < 1 || runs > 64 || scale < 1) {
        fprintf(stderr, "usage: gc_bench RUNS [scale]\n");
        return 2;
    }
    const char *only = getenv("GC_BENCH_ONLY");
#define WANT(name) (!only || strstr(only, name))
    printf("runs %d\n", runs);
    if (WANT("cyclic2"))
        printf("cyclic2_ns_per_object %.2f\n", garbage_ns(500000 / scale, 2, runs));
    if (WANT("rings"))
        printf("rings_ns_per_object %.2f\n", garbage_ns(100000 / scale, 21, runs));
    if (WANT("chain"))
        printf("chain_ns_per_object %.2f\n", chain_ns(4000000 / scale, runs));
    if (WANT("traversal")) {
        long edges;
        double ms = traversal_ms(1000, runs, &edges);
        printf("traversal_ms %.3f\n", ms);
        printf("traversal_ns_per_edge %.2f\n", ms * 1e6 / (double)edges);
    }
    if (WANT("young")) {
        double none = young_us(0, 2000, 21 * runs);
        double with = young_us(10000000 / scale, 2000, 21 * runs);
        printf("young_us_no_old %.2f\n", none);
        printf("young_us_10m_old %.2f\n", with);
        printf("young_pause_ratio %.3f\n", with / none);
    }
    if (WANT("header"))
        printf("header_bytes %zu\n", sizeof(rcy_head_));
    return 0;
}
