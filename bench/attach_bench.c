/* bench/attach_bench.c — the cost of rcy_heap_attach + rcy_heap_detach on
 * one heap, on a thread with no other heap attached, so every attach
 * enters the world and every detach leaves it (src/thread.h S1-S4): the
 * path a thread takes around each blocking call (rcy_blocking_begin/_end)
 * and a worker takes for each job handed to it with its heap.  No stop is
 * requested here: the figure is the uncontended cost, nothing else
 * running.  Only the public API, so the same file builds against an older
 * recycle with attach for a side-by-side run (bench/run.d/70-threads.sh).
 * usage: attach_bench [pairs]   prints "ns per attach+detach pair: X" */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000ul;
    rcy_heap *h = rcy_heap_new(NULL);
    if (!h)
        return 1;
    int failed = 0;
    double t0 = now_ns();
    for (unsigned long i = 0; i < n; i++)
        failed |= rcy_heap_attach(h) | rcy_heap_detach(h);
    double dt = now_ns() - t0;
    if (failed) {
        fprintf(stderr, "attach_bench: attach or detach failed\n");
        return 1;
    }
    if (n)
        printf("ns per attach+detach pair: %.2f\n", dt / (double)n);
    rcy_heap_free(h);
    return 0;
}
