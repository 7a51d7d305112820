/* bench/alloc_micro.c — allocation microbenchmark: recycle's rcy_mem_* vs
 * glibc malloc vs mimalloc, side by side in one process.
 *
 *  hot pairs:    alloc + free of mixed small sizes (16..512 bytes) with a
 *                working set of live blocks around them; ns per pair.
 *  random free:  10M blocks of mixed small sizes (16..128 bytes) freed in
 *                a random order; ns per free.
 *
 * glibc through malloc/free; mimalloc through mi_malloc/mi_free from a
 * privately loaded libmimalloc.  Each figure is the median of several runs.
 *
 * Usage: alloc_micro [runs]         full comparison
 *        alloc_micro --pairs NAME N only the hot-pair loop (for callgrind:
 *                                   --toggle-collect=hot_pairs_NAME); NAME
 *                                   baseline = the loop with empty calls
 */
#include <recycle.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* mimalloc is loaded with RTLD_LOCAL: linked normally, Debian's build
 * would replace malloc (and even malloc) for the whole process and
 * the glibc column would measure mimalloc. */
static void *(*mi_malloc)(size_t);
static void (*mi_free)(void *);

static void *mim_alloc(size_t n) {
    return mi_malloc(n);
}
static void mim_free(void *p) {
    mi_free(p);
}

static int load_mimalloc(void) {
    void *lib = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        lib = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "cannot load libmimalloc: %s\n", dlerror());
        return -1;
    }
    *(void **)&mi_malloc = dlsym(lib, "mi_malloc");
    *(void **)&mi_free = dlsym(lib, "mi_free");
    return mi_malloc && mi_free ? 0 : -1;
}

/* CPU time of this thread, not wall time: on a shared machine the
 * figures then do not count the time other processes had the core (they
 * still pay for the caches those processes evict). */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

enum { SIZES = 1024, LIVE = 4096 };
static size_t pair_sizes[SIZES];
static size_t live_sizes[LIVE];

static void init_sizes(void) {
    uint64_t s = 12345;
    for (int i = 0; i < SIZES; i++) /* skewed toward small, as real programs are */
        pair_sizes[i] = 16 + (rng(&s) % 4 == 0 ? rng(&s) % 497 : rng(&s) % 113);
    for (int i = 0; i < LIVE; i++)
        live_sizes[i] = 16 + rng(&s) % 497;
}

static rcy_heap *heap;
static volatile uintptr_t sink;

/* One function per allocator so callgrind can count each loop alone. */
#define HOT_PAIRS(NAME, ALLOC, FREE)                                                               \
    __attribute__((noinline)) static void hot_pairs_##NAME(size_t n) {                             \
        uintptr_t acc = 0;                                                                         \
        for (size_t i = 0; i < n; i++) {                                                           \
            void *p = ALLOC(pair_sizes[i & (SIZES - 1)]);                                          \
            acc += (uintptr_t)p;                                                                   \
            FREE(p);                                                                               \
        }                                                                                          \
        sink = acc;                                                                                \
    }

#define OURS_ALLOC(n) rcy_mem_alloc(heap, (n))
#define OURS_FREE(p)  rcy_mem_free(heap, (p))
HOT_PAIRS(ours, OURS_ALLOC, OURS_FREE)
HOT_PAIRS(glibc, malloc, free)
HOT_PAIRS(mimalloc, mi_malloc, mi_free)

/* The loop with calls that do nothing: what callgrind subtracts. */
static char baseline_block[512];
__attribute__((noinline)) static void *baseline_alloc(size_t n) {
    __asm__ volatile("" : : "r"(n) : "memory");
    return baseline_block;
}
__attribute__((noinline)) static void baseline_free(void *p) {
    __asm__ volatile("" : : "r"(p) : "memory");
}
HOT_PAIRS(baseline, baseline_alloc, baseline_free)

typedef struct allocator {
    const char *name;
    void *(*alloc)(size_t);
    void (*free)(void *);
    void (*pairs)(size_t);
} allocator;

static void *ours_alloc(size_t n) {
    return rcy_mem_alloc(heap, n);
}
static void ours_free(void *p) {
    rcy_mem_free(heap, p);
}

static const allocator allocs[] = {
    {"recycle", ours_alloc, ours_free, hot_pairs_ours},
    {"glibc", malloc, free, hot_pairs_glibc},
    {"mimalloc", mim_alloc, mim_free, hot_pairs_mimalloc},
};
enum { NALLOC = sizeof allocs / sizeof allocs[0] };

static double bench_pairs(const allocator *a, size_t n) {
    void *live[LIVE];
    for (int i = 0; i < LIVE; i++)
        live[i] = a->alloc(live_sizes[i]);
    a->pairs(n / 10); /* warm up */
    uint64_t t0 = now_ns();
    a->pairs(n);
    uint64_t t1 = now_ns();
    for (int i = 0; i < LIVE; i++)
        a->free(live[i]);
    return (double)(t1 - t0) / (double)n;
}

static double bench_random_free(const allocator *a, void **v, size_t n) {
    uint64_t s = 777;
    for (size_t i = 0; i < n; i++) {
        v[i] = a->alloc(16 + rng(&s) % 113);
        *(void **)v[i] = v; /* touched, as real code does */
    }
    for (size_t i = n; i > 1; i--) { /* same shuffle for everyone */
        size_t j = rng(&s) % i;
        void *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        a->free(v[i]);
    uint64_t t1 = now_ns();
    return (double)(t1 - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    if (load_mimalloc() != 0)
        return 1;
    init_sizes();
    heap = rcy_heap_new(NULL);
    if (!heap)
        return 1;
    if (argc == 4 && strcmp(argv[1], "--pairs") == 0) {
        size_t n = strtoul(argv[3], NULL, 10);
        if (strcmp(argv[2], "baseline") == 0) {
            hot_pairs_baseline(n / 10);
            hot_pairs_baseline(n);
        }
        for (int i = 0; i < NALLOC; i++)
            if (strcmp(argv[2], allocs[i].name) == 0)
                bench_pairs(&allocs[i], n);
        rcy_heap_free(heap);
        return 0;
    }
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1)
        runs = 1;
    const size_t npairs = 20u * 1000 * 1000, nfree = 10u * 1000 * 1000;
    double pairs[NALLOC][16], frees[NALLOC][16];
    if (runs > 16)
        runs = 16;
    void **v = malloc(nfree * sizeof *v);
    if (!v)
        return 1;
    for (int r = 0; r < runs; r++) {
        for (int i = 0; i < NALLOC; i++) { /* interleaved: drift hits all alike */
            pairs[i][r] = bench_pairs(&allocs[i], npairs);
            frees[i][r] = bench_random_free(&allocs[i], v, nfree);
        }
    }
    free(v);
    double mp[NALLOC], mf[NALLOC];
    for (int i = 0; i < NALLOC; i++) {
        mp[i] = median(pairs[i], runs);
        mf[i] = median(frees[i], runs);
    }
    printf("allocation microbenchmark (median of %d runs, thread CPU time)\n", runs);
    printf("%-34s %9s %9s %9s %11s %11s\n", "test", "recycle", "glibc", "mimalloc", "vs glibc",
           "vs mimalloc");
    printf("%-34s %9.2f %9.2f %9.2f %10.2fx %10.2fx\n", "hot alloc/free pair, ns", mp[0], mp[1],
           mp[2], mp[0] / mp[1], mp[0] / mp[2]);
    printf("%-34s %9.2f %9.2f %9.2f %10.2fx %10.2fx\n", "10M random-order frees, ns/free", mf[0],
           mf[1], mf[2], mf[0] / mf[1], mf[0] / mf[2]);
    printf("(ratio = recycle's time / peer's time; below 1 means recycle is faster)\n");
    printf("targets: hot pair <= 0.75x mimalloc's (%s), random-order free <= 1.0x mimalloc's "
           "(%s)\n",
           mp[0] <= 0.75 * mp[2] ? "met" : "NOT met", mf[0] <= mf[2] ? "met" : "NOT met");
    rcy_heap_free(heap);
    return 0;
}
