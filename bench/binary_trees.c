/* bench/binary_trees.c — the Benchmarks Game's binary-trees, one program
 * per memory manager (chosen at compile time with BT_VARIANT):
 *
 *   BT_RCY            recycle objects, node type with traverse (tracked),
 *                     freed by reference counting
 *   BT_RCY_UNTRACKED  recycle objects, node type without traverse
 *   BT_GLIBC          malloc/free from glibc
 *   BT_MIMALLOC       mi_malloc/mi_free (linked with -lmimalloc)
 *   BT_BOEHM          GC_MALLOC, never freed (Boehm GC collects)
 *   BT_MIMALLOC_RC    mi_malloc/mi_free with hand-rolled reference counting:
 *                     each node carries a refcount and a type pointer (the
 *                     16 bytes recycle's header holds), so nodes are 32
 *                     bytes as in recycle; shows the cost of the layer
 *                     rather than of the node size
 *
 * Rules followed: perfect binary trees of full depth, one allocation per
 * node, trees built bottom-up and walked for a node count, the same output
 * as the reference program.  Single-threaded (the reference programs with
 * the best times use worker threads; every variant here uses one).
 *
 * Usage: binary_trees_<variant> [max_depth]   (default 21)
 *
 * BT_RCY with BT_GC_REPORT=1 in the environment also writes to stderr the
 * cost of the young collections: their CPU time (process CPU clock read
 * in the collector's START and STOP callbacks, less the cost of a read)
 * per object they examined (rcy_gc_get_stats' candidates of generations
 * 0 and 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BT_RCY           1
#define BT_RCY_UNTRACKED 2
#define BT_GLIBC         3
#define BT_MIMALLOC      4
#define BT_BOEHM         5
#define BT_MIMALLOC_RC   6

#ifndef BT_VARIANT
#error "define BT_VARIANT"
#endif

typedef struct tree {
#if BT_VARIANT == BT_MIMALLOC_RC
    unsigned refcnt, flags;
    const struct tree_type *type;
#endif
    struct tree *left, *right;
} tree;

#if BT_VARIANT == BT_RCY || BT_VARIANT == BT_RCY_UNTRACKED
#include <recycle.h>

static rcy_heap *heap;

static void tree_destroy(void *self) {
    tree *t = self;
    if (t->left) {
        rcy_decref(t->left);
        rcy_decref(t->right);
    }
}

#if BT_VARIANT == BT_RCY
static int tree_traverse(void *self, rcy_visitproc visit, void *arg) {
    tree *t = self;
    RCY_VISIT(t->left, visit, arg);
    RCY_VISIT(t->right, visit, arg);
    return 0;
}
#define TRAVERSE tree_traverse
#else
#define TRAVERSE NULL
#endif

static const rcy_type tree_type = {
    .name = "Tree", .size = sizeof(tree), .traverse = TRAVERSE, .destroy = tree_destroy};

#if BT_VARIANT == BT_RCY
static struct young_report { double started, cpu, clock_cost; } young;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void young_callback(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    (void)h, (void)arg;
    if (info->generation == 2)
        return;
    if (phase == RCY_GC_START)
        young.started = cpu_now();
    else
        young.cpu += cpu_now() - young.started - young.clock_cost;
}

static void young_report_start(void) {
    if (!getenv("BT_GC_REPORT"))
        return;
    double t0 = cpu_now();
    for (int i = 0; i < 1000; i++)
        (void)cpu_now();
    young.clock_cost = (cpu_now() - t0) / 1001;
    rcy_gc_callbacks_add(heap, young_callback, NULL);
}

static void young_report_print(void) {
    if (!getenv("BT_GC_REPORT"))
        return;
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(heap, &st);
    size_t n = st.generations[0].collections + st.generations[1].collections;
    size_t examined = st.generations[0].candidates + st.generations[1].candidates;
    fprintf(stderr,
            "young collections: %zu, objects examined: %zu, CPU s: %.3f, ns per examined "
            "object: %.2f\n",
            n, examined, young.cpu, examined ? young.cpu * 1e9 / (double)examined : 0.0);
}
#else
static void young_report_start(void) {}
static void young_report_print(void) {}
#endif

static void setup(void) {
    heap = rcy_heap_new(NULL);
    if (!heap)
        exit(1);
    young_report_start();
}
static void teardown(void) {
    young_report_print();
    rcy_heap_free(heap);
}
static tree *node_alloc(void) {
    return rcy_new(heap, &tree_type);
}
/* Zero-filled by rcy_new: children are set only for inner nodes. */
static void tree_free(tree *t) {
    rcy_decref(t);
}

#elif BT_VARIANT == BT_GLIBC || BT_VARIANT == BT_MIMALLOC
#if BT_VARIANT == BT_MIMALLOC
#include <mimalloc.h>
#define xmalloc mi_malloc
#define xfree   mi_free
#else
#define xmalloc malloc
#define xfree   free
#endif
static void setup(void) {}
static void teardown(void) {}
static tree *node_alloc(void) {
    tree *t = xmalloc(sizeof *t);
    if (!t)
        exit(1);
    t->left = t->right = NULL;
    return t;
}
static void tree_free(tree *t) {
    if (t->left) {
        tree_free(t->left);
        tree_free(t->right);
    }
    xfree(t);
}

#elif BT_VARIANT == BT_MIMALLOC_RC
#include <mimalloc.h>
typedef struct tree_type {
    void (*destroy)(tree *t);
} tree_type;
static void tree_decref(tree *t);
static void tree_destroy(tree *t) {
    if (t->left) {
        tree_decref(t->left);
        tree_decref(t->right);
    }
}
static const tree_type the_type = {tree_destroy};
static void tree_decref(tree *t) {
    if (--t->refcnt == 0) {
        t->type->destroy(t);
        mi_free(t);
    }
}
static void setup(void) {}
static void teardown(void) {}
static tree *node_alloc(void) {
    tree *t = mi_zalloc(sizeof *t);
    if (!t)
        exit(1);
    t->refcnt = 1;
    t->type = &the_type;
    return t;
}
static void tree_free(tree *t) {
    tree_decref(t);
}

#elif BT_VARIANT == BT_BOEHM
#include <gc.h>
static void setup(void) {
    GC_INIT();
}
static void teardown(void) {}
static tree *node_alloc(void) {
    tree *t = GC_MALLOC(sizeof *t);
    if (!t)
        exit(1);
    return t; /* GC_MALLOC returns cleared memory */
}
static void tree_free(tree *t) {
    (void)t;
}
#else
#error "unknown BT_VARIANT"
#endif

static tree *bottom_up(unsigned depth) {
    tree *t = node_alloc();
    if (!t) {
        fprintf(stderr, "binary_trees: out of memory\n");
        exit(1);
    }
    if (depth > 0) {
        t->left = bottom_up(depth - 1);
        t->right = bottom_up(depth - 1);
    }
    return t;
}

static long check(const tree *t) {
    if (!t->left)
        return 1;
    return 1 + check(t->left) + check(t->right);
}

int main(int argc, char **argv) {
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 21;
    unsigned min_depth = 4;
    unsigned max_depth = min_depth + 2 > n ? min_depth + 2 : n;
    unsigned stretch_depth = max_depth + 1;
    setup();

    tree *stretch = bottom_up(stretch_depth);
    printf("stretch tree of depth %u\t check: %ld\n", stretch_depth, check(stretch));
    tree_free(stretch);

    tree *long_lived = bottom_up(max_depth);

    for (unsigned depth = min_depth; depth <= max_depth; depth += 2) {
        long iterations = 1L << (max_depth - depth + min_depth);
        long sum = 0;
        for (long i = 0; i < iterations; i++) {
            tree *t = bottom_up(depth);
            sum += check(t);
            tree_free(t);
        }
        printf("%ld\t trees of depth %u\t check: %ld\n", iterations, depth, sum);
    }

    printf("long lived tree of depth %u\t check: %ld\n", max_depth, check(long_lived));
    tree_free(long_lived);
    teardown();
    return 0;
}
