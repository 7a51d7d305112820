/* bench/gen_bench.c — what a generator costs: time per item and memory,
 * for a generator written with RCY_GEN_YIELD, a range | filter | map
 * pipeline, and, for comparison, building the whole sequence as a list
 * first.  Prints "name value" lines (median of RUNS runs for times;
 * tracemalloc's peak, from one more run with tracing on, for memory);
 * bench/run.d/60-gen.sh sets them beside CPython's figures for the same
 * work (bench/gen_peer.py). */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static rcy_heap *heap;

typedef struct numbers {
    int pc;
    long i, n;
} numbers;

static int numbers_next(rcy_heap *h, void *state, void **item) {
    numbers *st = state;
    RCY_GEN_BEGIN(st->pc);
    for (st->i = 0; st->i < st->n; st->i++)
        RCY_GEN_YIELD(st->pc, item, rcy_int_new(h, st->i));
    RCY_GEN_END(st->pc);
}

static const rcy_gen_spec numbers_spec = {
    .name = "generate_numbers", .state_size = sizeof(numbers), .next = numbers_next};

static rcy_gen *generate_numbers(long n) {
    rcy_gen *g = rcy_gen_new(heap, &numbers_spec);
    if (!g)
        exit(1);
    ((numbers *)rcy_gen_state(g))->n = n;
    return g;
}

static int square(rcy_heap *h, void *item, void **out, void *ctx) {
    (void)ctx;
    long v = rcy_int_value(item);
    *out = rcy_int_new(h, v * v);
    return *out ? 0 : RCY_ENOMEM;
}

static int is_odd(void *item, void *ctx) {
    (void)ctx;
    return rcy_int_value(item) & 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile long sink;

/* for x in generate_numbers(n): total += x */
static void run_generator(long n) {
    rcy_gen *g = generate_numbers(n);
    long total = 0;
    RCY_FOR_EACH(x, g)
    total += rcy_int_value(x);
    rcy_decref(g);
    sink = total;
}

/* sum(map(square, filter(odd, range(n)))) */
static void run_pipeline(long n) {
    rcy_gen *r = rcy_gen_range(heap, 0, n, 1);
    rcy_gen *f = rcy_gen_filter(r, is_odd, NULL);
    rcy_gen *m = rcy_gen_map(f, square, NULL);
    if (!r || !f || !m)
        exit(1);
    long total = 0;
    RCY_FOR_EACH(x, m)
    total += rcy_int_value(x);
    rcy_decref(m);
    rcy_decref(f);
    rcy_decref(r);
    sink = total;
}

/* l = [i for i in range(n)]; for x in l: total += x */
static void run_list(long n) {
    rcy_list *l = rcy_list_new(heap);
    if (!l)
        exit(1);
    for (long i = 0; i < n; i++) {
        rcy_int *v = rcy_int_new(heap, i);
        if (!v || rcy_list_append(l, v) < 0)
            exit(1);
        rcy_decref(v);
    }
    long total = 0;
    for (size_t i = 0; i < rcy_list_len(l); i++)
        total += rcy_int_value(rcy_list_get(l, (ptrdiff_t)i));
    rcy_decref(l);
    sink = total;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const char *name, void (*fn)(long), long n, int runs) {
    double t[64];
    fn(n / 10); /* warm the pools */
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        fn(n);
        t[r] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    printf("%s_ns_per_item %.2f\n", name, t[runs / 2] * 1e9 / (double)n);
    /* Memory in a separate, traced run: tracemalloc's peak, as the peer
     * measures it. */
    size_t cur, peak;
    if (rcy_tracemalloc_start(1) < 0)
        exit(1);
    fn(n);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    rcy_tracemalloc_stop();
    printf("%s_peak_bytes %zu\n", name, peak);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    if (runs < 1 || runs > 64 || n < 10) {
        fprintf(stderr, "usage: gen_bench [RUNS (1..64)] [ITEMS (>= 10)]\n");
        return 2;
    }
    heap = rcy_heap_new(NULL);
    if (!heap)
        return 1;
    printf("items %ld\nruns %d\n", n, runs);
    bench("generator", run_generator, n, runs);
    bench("pipeline", run_pipeline, n, runs);
    bench("list", run_list, n, runs);
    rcy_heap_free(heap);
    return 0;
}
