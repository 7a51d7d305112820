/* bench/thread_trees.c — binary_trees (bench/binary_trees.c's work, node
 * type with traverse: tracked) on T threads at once, each thread with its
 * own heap attached (rcy_heap_attach) and nothing shared: issue 18's
 * "each its own heap" figure.  Every thread does the whole program's
 * work, so T threads do T times the work of one; the throughput ratio is
 * T * wall(1 thread) / wall(T threads) (bench/run.d/70-threads.sh runs
 * 1 and 2 interleaved).
 *
 * The evidence that no thread waits for another ("no global pause"):
 * every collection is reported by its heap's callbacks, which check that
 * they run on the thread the heap is attached to, and count the
 * collections during which another thread, still working, finished a
 * tree (it ran on while this heap collected).  The callbacks' count must
 * equal the heap's own statistics (rcy_gc_get_stats); a collection run
 * for another heap, or any shared collection, would show as a mismatch.
 *
 * usage: thread_trees [threads] [max_depth]   (defaults 2, 18)
 * prints one line per thread and "threads T depth D wall S s". */
#include <recycle.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MAX_THREADS = 64 };

typedef struct tree {
    struct tree *left, *right;
} tree;

static void tree_destroy(void *self) {
    tree *t = self;
    if (t->left) {
        rcy_decref(t->left);
        rcy_decref(t->right);
    }
}

static int tree_traverse(void *self, rcy_visitproc visit, void *arg) {
    tree *t = self;
    RCY_VISIT(t->left, visit, arg);
    RCY_VISIT(t->right, visit, arg);
    return 0;
}

static const rcy_type tree_type = {
    .name = "Tree", .size = sizeof(tree), .traverse = tree_traverse, .destroy = tree_destroy};

typedef struct worker {
    pthread_t thread;
    unsigned index, nthreads, depth;
    rcy_heap *heap;
    unsigned long trees; /* trees finished; read by the other threads */
    int done;            /* set (release) when the work is over */
    long checksum;
    size_t on_own_thread, elsewhere, ran_alongside, gc_collections;
    unsigned long others_at_start;
    double cpu;
} worker;

static worker workers[MAX_THREADS];

static unsigned long others_progress(const worker *w, int *running) {
    unsigned long sum = 0;
    *running = 0;
    for (unsigned i = 0; i < w->nthreads; i++) {
        if (i == w->index)
            continue;
        sum += __atomic_load_n(&workers[i].trees, __ATOMIC_RELAXED);
        *running += !__atomic_load_n(&workers[i].done, __ATOMIC_ACQUIRE);
    }
    return sum;
}

static void gc_callback(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    (void)info;
    worker *w = arg;
    int running;
    if (phase == RCY_GC_START) {
        if (rcy_heap_is_attached(h))
            w->on_own_thread++;
        else
            w->elsewhere++;
        w->others_at_start = others_progress(w, &running);
    } else if (others_progress(w, &running) != w->others_at_start) {
        w->ran_alongside++;
    }
}

static tree *bottom_up(rcy_heap *h, unsigned depth) {
    tree *t = rcy_new(h, &tree_type);
    if (!t) {
        fprintf(stderr, "thread_trees: out of memory\n");
        exit(1);
    }
    if (depth > 0) {
        t->left = bottom_up(h, depth - 1);
        t->right = bottom_up(h, depth - 1);
    }
    return t;
}

static long check(const tree *t) {
    return t->left ? 1 + check(t->left) + check(t->right) : 1;
}

static void finished_tree(worker *w) {
    __atomic_store_n(&w->trees, w->trees + 1, __ATOMIC_RELAXED);
}

/* binary_trees.c's main, on this thread's heap: the same trees in the
 * same order, the checks summed instead of printed. */
static void *run(void *arg) {
    worker *w = arg;
    rcy_heap *h = w->heap;
    if (rcy_heap_attach(h) != RCY_OK)
        exit(1);
    rcy_gc_callbacks_add(h, gc_callback, w);
    unsigned min_depth = 4, max_depth = w->depth < min_depth + 2 ? min_depth + 2 : w->depth;
    long sum = 0;
    tree *stretch = bottom_up(h, max_depth + 1);
    sum += check(stretch);
    rcy_decref(stretch);
    finished_tree(w);
    tree *long_lived = bottom_up(h, max_depth);
    for (unsigned d = min_depth; d <= max_depth; d += 2) {
        unsigned long iterations = 1ul << (max_depth - d + min_depth);
        for (unsigned long i = 0; i < iterations; i++) {
            tree *t = bottom_up(h, d);
            sum += check(t);
            rcy_decref(t);
            finished_tree(w);
        }
    }
    sum += check(long_lived);
    rcy_decref(long_lived);
    w->checksum = sum;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    w->cpu = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    for (int g = 0; g < RCY_GC_GENERATIONS; g++)
        w->gc_collections += st.generations[g].collections;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    rcy_gc_callbacks_remove(h, gc_callback, w);
    rcy_heap_detach(h);
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2;
    unsigned depth = argc > 2 ? (unsigned)atoi(argv[2]) : 18;
    if (n < 1 || n > MAX_THREADS) {
        fprintf(stderr, "usage: thread_trees [threads 1..%d] [max_depth]\n", MAX_THREADS);
        return 2;
    }
    for (unsigned i = 0; i < n; i++) {
        workers[i] = (worker){.index = i, .nthreads = n, .depth = depth};
        if (!(workers[i].heap = rcy_heap_new(NULL)))
            return 1;
    }
    double t0 = now();
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&workers[i].thread, NULL, run, &workers[i]) != 0)
            return 1;
    for (unsigned i = 0; i < n; i++)
        pthread_join(workers[i].thread, NULL);
    double wall = now() - t0;
    int bad = 0;
    for (unsigned i = 0; i < n; i++) {
        worker *w = &workers[i];
        printf("thread %u: checksum %ld, cpu %.2f s, collections %zu (callbacks on its own "
               "thread %zu, elsewhere %zu; another thread finished trees during %zu of them)\n",
               i, w->checksum, w->cpu, w->gc_collections, w->on_own_thread, w->elsewhere,
               w->ran_alongside);
        bad |= w->checksum != workers[0].checksum || w->elsewhere != 0 ||
               w->on_own_thread != w->gc_collections;
        rcy_heap_attach(w->heap); /* freed on this thread */
        rcy_heap_free(w->heap);
    }
    printf("threads %u depth %u wall %.3f s\n", n, depth, wall);
    if (bad)
        printf("MISMATCH: a checksum differs or a collection ran off its heap's thread\n");
    return bad;
}
