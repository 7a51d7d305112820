/* bench/cli_malloc_loop.c — a malloc-bound loop for the `recycle run`
 * overhead benchmark (bench/run.d/50-cli.sh): a sliding window of live
 * blocks of mixed sizes, each written once, the oldest freed as a new one
 * comes, from a few call sites at a realistic stack depth.
 *   cli_malloc_loop [OPS] [WINDOW]   (default 2000000 ops, 4096 live) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A few distinct call sites and depths, as a real program has. */
__attribute__((noinline)) static void *make_small(size_t n) {
    return malloc(n);
}
__attribute__((noinline)) static void *make_medium(size_t n) {
    return calloc(1, n);
}
__attribute__((noinline)) static void *make_via(size_t n) {
    return make_small(n);
}
__attribute__((noinline)) static void *grow(void *p, size_t n) {
    return realloc(p, n);
}

__attribute__((noinline)) static uint64_t run(long ops, long window) {
    void **live = calloc((size_t)window, sizeof *live);
    uint64_t sum = 0;
    for (long i = 0; i < ops; i++) {
        long slot = i % window;
        free(live[slot]);
        uint64_t r = next();
        size_t n = 16 + (size_t)(r % 8 == 0 ? r % 4096 : r % 256);
        void *p;
        switch ((r >> 8) % 4) {
        case 0:
            p = make_small(n);
            break;
        case 1:
            p = make_medium(n);
            break;
        case 2:
            p = make_via(n);
            break;
        default:
            p = grow(make_small(n / 2 + 1), n);
            break;
        }
        memset(p, (int)i, n < 64 ? n : 64);
        sum += ((unsigned char *)p)[0];
        live[slot] = p;
    }
    for (long i = 0; i < window; i++)
        free(live[i]);
    free(live);
    return sum;
}

int main(int argc, char **argv) {
    long ops = argc > 1 ? atol(argv[1]) : 2000000;
    long window = argc > 2 ? atol(argv[2]) : 4096;
    if (ops < 1 || window < 1)
        return 2;
    printf("%llu\n", (unsigned long long)run(ops, window));
    return 0;
}
