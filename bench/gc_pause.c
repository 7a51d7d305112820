/* bench/gc_pause.c — pauses of automatic collections while a program
 * builds and churns a big heap of small structures (lists of dicts, trees
 * of 100 nodes, rings of 50), stop-the-world (CPython 3.13's generations)
 * against incremental (rcy_gc_set_incremental), and the worst case of the
 * incremental collector: one connected structure (a ring of all the
 * objects, then small structures churned beside it), which an increment's
 * closure takes whole.  Each collection's pause is timed by the gc
 * callbacks (START to STOP, thread CPU time: the machine is shared) and
 * its size read from the statistics (objects examined: candidates).
 * Usage: gc_pause stw|incr small|one [MILLION_OBJECTS, default 10]
 * Prints "name value" lines: pauses, pause_median_ms, pause_p99_ms,
 * pause_max_ms, examined_max, total_s (CPU seconds of the whole run). */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tnode {
    struct tnode *left, *right;
} tnode;

static int t_traverse(void *self, rcy_visitproc visit, void *arg) {
    tnode *n = self;
    RCY_VISIT(n->left, visit, arg);
    RCY_VISIT(n->right, visit, arg);
    return 0;
}
static void t_clear(void *self) {
    tnode *n = self;
    RCY_CLEAR(n->left);
    RCY_CLEAR(n->right);
}
static const rcy_type tnode_type = {"TNode", sizeof(tnode), 0, t_traverse, t_clear, NULL, t_clear};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct pauses {
    double *ms;
    size_t n, cap;
    double t0;
    size_t last_candidates, examined_max;
} pauses;

static void on_gc(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    pauses *p = arg;
    if (phase == RCY_GC_START) {
        p->t0 = now();
        return;
    }
    double ms = (now() - p->t0) * 1e3;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->ms = realloc(p->ms, p->cap * sizeof *p->ms);
        if (!p->ms)
            abort();
    }
    p->ms[p->n++] = ms;
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    size_t c = 0;
    for (int g = 0; g < 3; g++)
        c += st.generations[g].candidates;
    (void)info;
    if (c - p->last_candidates > p->examined_max)
        p->examined_max = c - p->last_candidates;
    p->last_candidates = c;
}

static unsigned long rng = 88172645463325252ul;
static unsigned long rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A tree of n nodes (n >= 1); new reference. */
static tnode *tree(rcy_heap *h, int n) {
    tnode *t = rcy_new(h, &tnode_type);
    if (n > 1) {
        int l = (n - 1) / 2;
        if (l)
            t->left = tree(h, l);
        if (n - 1 - l)
            t->right = tree(h, n - 1 - l);
    }
    return t;
}

/* A ring of n nodes through `left`; new reference. */
static tnode *ring(rcy_heap *h, int n) {
    tnode *first = rcy_new(h, &tnode_type), *last = first;
    for (int i = 1; i < n; i++) {
        last->left = rcy_new(h, &tnode_type);
        last = last->left;
    }
    rcy_incref(first);
    last->left = first;
    return first;
}

/* A list of 10 dicts of 9 small trees... kept small: 1 list + 10 dicts +
 * 10 * 8 tree nodes = 91 objects; new reference. */
static void *list_of_dicts(rcy_heap *h) {
    rcy_list *l = rcy_list_new(h);
    for (int i = 0; i < 10; i++) {
        rcy_dict *d = rcy_dict_new(h);
        tnode *t = tree(h, 8);
        rcy_dict_set(d, "value", t);
        rcy_decref(t);
        rcy_dict_set(d, "self", d); /* a cycle */
        rcy_list_append(l, d);
        rcy_decref(d);
    }
    return l;
}

/* One structure of about 100 objects, of a random shape. */
static void *structure(rcy_heap *h) {
    switch (rnd() % 3) {
    case 0:
        return tree(h, 100);
    case 1:
        return ring(h, 100);
    default:
        return list_of_dicts(h);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: gc_pause stw|incr small|one [MILLION_OBJECTS]\n");
        return 2;
    }
    int incr = strcmp(argv[1], "incr") == 0;
    int one = strcmp(argv[2], "one") == 0;
    double millions = argc > 3 ? atof(argv[3]) : 10;
    size_t nstruct = (size_t)(millions * 1e6 / 100);
    if (nstruct < 10)
        nstruct = 10;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, incr);
    pauses p;
    memset(&p, 0, sizeof p);
    rcy_gc_callbacks_add(h, on_gc, &p);
    clock_t c0 = clock();
    /* small: the structures' roots in a C array (an interpreter's stack);
     * one: a single ring of all the objects, then as many structures
     * churned through a small array */
    tnode *big = one ? ring(h, (int)(nstruct * 100)) : NULL;
    size_t nroots = one ? 1000 : nstruct;
    void **roots = calloc(nroots, sizeof *roots);
    for (size_t i = 0; i < nroots; i++)
        roots[i] = structure(h);
    /* churn: replace structures one at a time (a quarter of the heap; the
     * whole heap's worth with one ring, so that scans end and a later one
     * meets the ring pending) */
    for (size_t k = 0; k < (one ? nstruct : nstruct / 4); k++) {
        size_t i = rnd() % nroots;
        void *s = structure(h);
        rcy_decref(roots[i]);
        roots[i] = s;
    }
    double total = (double)(clock() - c0) / CLOCKS_PER_SEC;
    rcy_gc_callbacks_remove(h, on_gc, &p);
    qsort(p.ms, p.n, sizeof *p.ms, cmp);
    printf("pauses %zu\n", p.n);
    printf("pause_median_ms %.4f\n", p.n ? p.ms[p.n / 2] : 0.0);
    printf("pause_p99_ms %.4f\n", p.n ? p.ms[(p.n * 99) / 100] : 0.0);
    printf("pause_max_ms %.4f\n", p.n ? p.ms[p.n - 1] : 0.0);
    printf("examined_max %zu\n", p.examined_max);
    printf("total_s %.3f\n", total);
    free(p.ms);
    rcy_xdecref(big);
    for (size_t i = 0; i < nroots; i++)
        rcy_decref(roots[i]);
    free(roots);
    rcy_heap_free(h);
    return 0;
}
