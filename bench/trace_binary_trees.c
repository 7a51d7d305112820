/* bench/trace_binary_trees.c — the cost tracemalloc adds per allocation,
 * on binary_trees (recycle objects made with rcy_new, freed by refcount).
 *
 *   trace_binary_trees DEPTH NFRAME RUNS [FRACTION]
 *
 * NFRAME 0 runs untraced.  Prints "key value" lines: allocations per run,
 * the median wall time of RUNS runs, and (when tracing) the tracer's own
 * memory per live traced block, measured with every node of a tree of
 * depth DEPTH alive.  FRACTION (default 1) divides the number of
 * iterations per depth, to keep long configurations short; the depth of
 * every tree stays DEPTH.  Times are CPU time of the process: on a shared
 * machine wall time counts other programs' turns. */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct node {
    struct node *left, *right;
} node;

static void node_destroy(void *self) {
    node *n = self;
    rcy_xdecref(n->left);
    rcy_xdecref(n->right);
}

static const rcy_type node_type = {.name = "node", .size = sizeof(node), .destroy = node_destroy};

static unsigned long long allocations;

static node *make(rcy_heap *h, int depth) {
    node *n = rcy_new(h, &node_type);
    allocations++;
    if (!n) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (depth > 0) {
        n->left = make(h, depth - 1);
        n->right = make(h, depth - 1);
    }
    return n;
}

static long check(const node *n) {
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long run(rcy_heap *h, int max_depth, int fraction) {
    long total = 0;
    node *stretch = make(h, max_depth + 1);
    total += check(stretch);
    rcy_decref(stretch);
    node *long_lived = make(h, max_depth);
    for (int d = 4; d <= max_depth; d += 2) {
        long iters = (1L << (max_depth - d + 4)) / fraction;
        if (iters < 1)
            iters = 1;
        for (long i = 0; i < iters; i++) {
            node *t = make(h, d);
            total += check(t);
            rcy_decref(t);
        }
    }
    total += check(long_lived);
    rcy_decref(long_lived);
    return total;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s DEPTH NFRAME RUNS [FRACTION]\n", argv[0]);
        return 2;
    }
    int depth = atoi(argv[1]), nframe = atoi(argv[2]), runs = atoi(argv[3]);
    int fraction = argc > 4 ? atoi(argv[4]) : 1;
    if (runs < 1 || runs > 99 || fraction < 1)
        return 2;
    rcy_heap *h = rcy_heap_new(NULL);
    double times[100];
    long checksum = 0;
    for (int r = 0; r < runs; r++) {
        if (nframe > 0 && rcy_tracemalloc_start(nframe) != RCY_OK)
            return 1;
        allocations = 0;
        double t0 = now();
        checksum = run(h, depth, fraction);
        times[r] = now() - t0;
        rcy_tracemalloc_stop();
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    printf("allocations %llu\n", allocations);
    printf("checksum %ld\n", checksum);
    printf("seconds %.6f\n", times[runs / 2]);
    printf("ns_per_alloc %.3f\n", times[runs / 2] * 1e9 / (double)allocations);
    if (nframe > 0) {
        /* tracer memory per live traced block: a whole tree alive */
        rcy_tracemalloc_start(nframe);
        size_t base = rcy_tracemalloc_get_tracemalloc_memory();
        allocations = 0;
        node *t = make(h, depth);
        size_t used = rcy_tracemalloc_get_tracemalloc_memory() - base;
        printf("tracer_bytes_per_block %.2f\n", (double)used / (double)allocations);
        rcy_decref(t);
        rcy_tracemalloc_stop();
    }
    rcy_heap_free(h);
    return 0;
}
