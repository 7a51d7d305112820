/* bench/rc_bench.c — reference counting of PRIVATE objects, the owner's
 * fast path that sharing must not slow down (issue 18: <= 1.02x the build
 * before the shared bit): a tight incref/decref loop on one object, and a
 * pointer chase over 1M objects linked in random order, taking a
 * reference on each next node and dropping the one on the current node
 * (an iterator's pattern).  Only the public API, so the same file builds
 * against an older recycle for a side-by-side run
 * (bench/run.d/70-threads.sh).
 * Also the cost of a SHARED object's incref/decref pair, uncontended
 * (one atomic add each), beside a raw `lock xadd` pair on a plain word:
 * `shared` and `xadd` print ns per pair; `shared` exists only when the
 * headers have rcy_share (RCY_STORE defined), so the file still builds
 * against the recycle before the shared bit.  `header` prints the
 * object header's size.
 * usage: rc_bench [tight|chase|shared|xadd|header] [iterations | passes (chase)] */
#include <recycle.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct link {
    struct link *next;
} link;

static const rcy_type link_type = {.name = "link", .size = sizeof(link)};

/* Keeps the compiler from folding an incref with the next decref: each
 * operation loads and stores the word, as it does between real calls. */
#define BARRIER() __asm__ volatile("" ::: "memory")

static unsigned long tight(rcy_heap *h, unsigned long n) {
    link *o = rcy_new(h, &link_type);
    for (unsigned long i = 0; i < n; i++) {
        rcy_incref(o);
        BARRIER();
        rcy_decref(o);
        BARRIER();
    }
    unsigned long rc = (unsigned long)rcy_getrefcount(o);
    rcy_decref(o);
    return rc;
}

static unsigned long chase(rcy_heap *h, unsigned long passes) {
    enum { N = 1000000 };
    link **objs = malloc(N * sizeof *objs);
    unsigned *perm = malloc(N * sizeof *perm);
    for (unsigned i = 0; i < N; i++) {
        objs[i] = rcy_new(h, &link_type);
        perm[i] = i;
    }
    unsigned long x = 88172645463325252ull;
    for (unsigned i = N - 1; i > 0; i--) { /* Fisher-Yates, xorshift64 */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned j = (unsigned)(x % (i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (unsigned i = 0; i < N; i++)
        objs[perm[i]]->next = objs[perm[(i + 1) % N]];
    unsigned long steps = 0;
    for (unsigned long p = 0; p < passes; p++) {
        link *cur = objs[perm[0]];
        rcy_incref(cur);
        for (unsigned i = 0; i < N; i++) {
            link *next = cur->next;
            rcy_incref(next);
            rcy_decref(cur);
            cur = next;
            steps++;
        }
        rcy_decref(cur);
    }
    for (unsigned i = 0; i < N; i++)
        rcy_decref(objs[i]);
    free(objs);
    free(perm);
    return steps;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

#ifdef RCY_STORE
static unsigned long shared_pairs(rcy_heap *h, unsigned long n) {
    link *o = rcy_new(h, &link_type);
    rcy_share(o);
    double t0 = now_ns();
    for (unsigned long i = 0; i < n; i++) {
        rcy_incref(o);
        rcy_decref(o);
    }
    printf("shared incref+decref: %.2f ns per pair\n", (now_ns() - t0) / (double)n);
    unsigned long rc = (unsigned long)rcy_getrefcount(o);
    rcy_decref(o);
    return rc;
}
#endif

static unsigned long xadd_pairs(unsigned long n) {
    static uint32_t word = 1;
    double t0 = now_ns();
    for (unsigned long i = 0; i < n; i++) {
        __atomic_fetch_add(&word, 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&word, 1, __ATOMIC_RELEASE);
    }
    printf("raw lock xadd pair: %.2f ns per pair\n", (now_ns() - t0) / (double)n);
    return word;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "tight";
    unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    rcy_heap *h = rcy_heap_new(NULL);
    if (!h)
        return 1;
    unsigned long r;
    if (!strcmp(what, "chase"))
        r = chase(h, n ? n : 10);
#ifdef RCY_STORE
    else if (!strcmp(what, "shared"))
        r = shared_pairs(h, n ? n : 100000000ul);
#endif
    else if (!strcmp(what, "header"))
        r = sizeof(rcy_head_);
    else if (!strcmp(what, "xadd"))
        r = xadd_pairs(n ? n : 100000000ul);
    else
        r = tight(h, n ? n : 100000000ul);
    printf("%s %lu\n", what, r);
    rcy_heap_free(h);
    return 0;
}
