/* bench/remote_bench.c — cross-heap frees, producer/consumer (issue 18:
 * <= 1 CAS per remote free, RSS bounded).
 *
 *   remote  a producer thread, its heap attached, allocates blocks and
 *           hands them to a consumer thread through a queue of QUEUE
 *           slots; the consumer frees each with rcy_mem_free_remote (one
 *           CAS onto the heap's remote list), and the producer takes them
 *           back in its allocation slow path.
 *   local   the same blocks and queue on one thread: the oldest block is
 *           freed with rcy_mem_free when the queue is full (the memory a
 *           program that frees its own blocks needs).
 *
 * Prints the ns per free (thread CPU time of the free calls alone, timed
 * per batch of BATCH frees), the CAS per remote free (1 + remote_retries
 * / remote_taken from rcy_mem_get_stats; every block must have been taken
 * back), the RSS sampled every 64 Ki blocks (max and last) and the
 * heap's arenas (high-water mark and now): with frees taken back in the
 * slow path, the remote run's memory stays that of the local run.
 *
 * usage: remote_bench remote|local [blocks] [size]   (10000000, 64) */
#include <recycle.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { QUEUE = 4096, BATCH = 256, SAMPLE = 65536 };

/* Single-producer single-consumer ring of block pointers. */
static struct {
    void *slot[QUEUE];
    unsigned long head __attribute__((aligned(64))); /* consumer's */
    unsigned long tail __attribute__((aligned(64))); /* producer's */
} q;

static rcy_heap *heap;
static unsigned long nblocks;
static size_t block_size;
static double free_cpu; /* seconds in the free calls */
static double rss_max_kib, rss_last_kib;

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * 4.0;
}

static void sample_rss(unsigned long i) {
    if (i % SAMPLE)
        return;
    rss_last_kib = rss_kib();
    if (rss_last_kib > rss_max_kib)
        rss_max_kib = rss_last_kib;
}

static void *alloc_block(unsigned long i) {
    unsigned long *b = rcy_mem_alloc(heap, block_size);
    if (!b) {
        fprintf(stderr, "remote_bench: out of memory\n");
        exit(1);
    }
    b[1] = i; /* touch it as a message would */
    return b;
}

static void *consumer(void *arg) {
    (void)arg;
    void *batch[BATCH];
    unsigned long got = 0;
    while (got < nblocks) {
        unsigned long tail = __atomic_load_n(&q.tail, __ATOMIC_ACQUIRE);
        unsigned long n = tail - q.head;
        if (!n) {
            sched_yield();
            continue;
        }
        if (n > BATCH)
            n = BATCH;
        for (unsigned long k = 0; k < n; k++)
            batch[k] = q.slot[(q.head + k) % QUEUE];
        __atomic_store_n(&q.head, q.head + n, __ATOMIC_RELEASE);
        double t0 = thread_cpu();
        for (unsigned long k = 0; k < n; k++)
            rcy_mem_free_remote(heap, batch[k]);
        free_cpu += thread_cpu() - t0;
        got += n;
    }
    return NULL;
}

static void *producer(void *arg) {
    (void)arg;
    rcy_heap_attach(heap);
    for (unsigned long i = 0; i < nblocks; i++) {
        while (q.tail - __atomic_load_n(&q.head, __ATOMIC_ACQUIRE) == QUEUE)
            sched_yield();
        q.slot[q.tail % QUEUE] = alloc_block(i);
        __atomic_store_n(&q.tail, q.tail + 1, __ATOMIC_RELEASE);
        sample_rss(i);
    }
    rcy_heap_detach(heap); /* blocks freed from now on wait on the list */
    return NULL;
}

/* The same queue on one thread: the oldest block freed locally, in
 * batches timed as the consumer's. */
static void run_local(void) {
    rcy_heap_attach(heap);
    unsigned long head = 0;
    for (unsigned long i = 0; i < nblocks; i++) {
        if (i - head == QUEUE) {
            double t0 = thread_cpu();
            for (unsigned long k = 0; k < BATCH; k++)
                rcy_mem_free(heap, q.slot[(head + k) % QUEUE]);
            free_cpu += thread_cpu() - t0;
            head += BATCH;
        }
        q.slot[i % QUEUE] = alloc_block(i);
        sample_rss(i);
    }
    double t0 = thread_cpu();
    for (; head < nblocks; head++)
        rcy_mem_free(heap, q.slot[head % QUEUE]);
    free_cpu += thread_cpu() - t0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "remote";
    nblocks = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000000ul;
    block_size = argc > 3 ? strtoul(argv[3], NULL, 10) : 64;
    int remote = !strcmp(mode, "remote");
    if ((!remote && strcmp(mode, "local")) || !nblocks || block_size < 16) {
        fprintf(stderr, "usage: remote_bench remote|local [blocks] [size >= 16]\n");
        return 2;
    }
    if (!(heap = rcy_heap_new(NULL)))
        return 1;
    if (remote) {
        pthread_t p, c;
        if (pthread_create(&c, NULL, consumer, NULL) || pthread_create(&p, NULL, producer, NULL))
            return 1;
        pthread_join(p, NULL);
        pthread_join(c, NULL);
    } else {
        run_local();
    }
    /* On this thread (the producer's heap handed over), so the blocks
     * still on the remote list are taken back. */
    rcy_heap_attach(heap);
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(heap, &st);
    printf("%s: %lu blocks of %zu bytes, queue %d\n", mode, nblocks, block_size, QUEUE);
    printf("ns per free: %.2f\n", free_cpu * 1e9 / (double)nblocks);
    if (remote)
        printf("CAS per remote free: %.4f (taken back %zu, retries %zu)\n",
               1.0 + (double)st.remote_retries / (double)(st.remote_taken ? st.remote_taken : 1),
               st.remote_taken, st.remote_retries);
    printf("RSS KiB: max %.0f, last sample %.0f\n", rss_max_kib, rss_last_kib);
    printf("arenas: high-water %zu, now %zu, blocks in use %zu bytes\n", st.arenas_highwater,
           st.arenas, st.small_bytes_used);
    int bad = (remote && st.remote_taken != nblocks) || st.small_bytes_used != 0;
    if (bad)
        printf("MISMATCH: not every block came back\n");
    rcy_heap_free(heap);
    return bad;
}
