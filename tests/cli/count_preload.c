/* tests/cli/count_preload.c — an independent allocation counter for the
 * real-program tests (tests/cli/real_programs.sh): preloaded instead of
 * recycle's library, it counts the calls of the malloc family that return
 * a block (as recycle counts them: realloc counts once) and, at exit,
 * appends "PID COUNT" to the file named by $COUNT_OUT.  It shares no code
 * with recycle. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic unsigned long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* dlsym may allocate before the real functions are known */
static _Alignas(16) char boot[65536];
static _Atomic size_t boot_used;
static _Atomic int resolving;

static void *boot_alloc(size_t n) {
    size_t at = atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15);
    return at + n <= sizeof boot ? boot + at : NULL;
}

static void resolve(void) {
    if (atomic_exchange(&resolving, 1))
        return;
    *(void **)&real_calloc = dlsym(RTLD_NEXT, "calloc");
    *(void **)&real_realloc = dlsym(RTLD_NEXT, "realloc");
    *(void **)&real_free = dlsym(RTLD_NEXT, "free");
    *(void **)&real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    *(void **)&real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    *(void **)&real_memalign = dlsym(RTLD_NEXT, "memalign");
    *(void **)&real_valloc = dlsym(RTLD_NEXT, "valloc");
    *(void **)&real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
    *(void **)&real_malloc = dlsym(RTLD_NEXT, "malloc");
}

static void *counted(void *p) {
    if (p)
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    return p;
}

void *malloc(size_t n) {
    if (!real_malloc)
        resolve();
    return real_malloc ? counted(real_malloc(n)) : boot_alloc(n);
}

void *calloc(size_t k, size_t n) {
    if (!real_calloc)
        resolve();
    return real_calloc ? counted(real_calloc(k, n)) : boot_alloc(k * n);
}

void *realloc(void *p, size_t n) {
    if (!real_realloc)
        resolve();
    if ((char *)p >= boot && (char *)p < boot + sizeof boot) {
        void *q = malloc(n);
        if (q)
            memcpy(q, p, n < 256 ? n : 256);
        return q;
    }
    return counted(real_realloc(p, n));
}

void *reallocarray(void *p, size_t k, size_t n) {
    return k && n > (size_t)-1 / k ? NULL : realloc(p, k * n);
}

void free(void *p) {
    if ((char *)p >= boot && (char *)p < boot + sizeof boot)
        return;
    if (!real_free)
        resolve();
    if (real_free)
        real_free(p);
}

int posix_memalign(void **out, size_t a, size_t n) {
    if (!real_posix_memalign)
        resolve();
    int r = real_posix_memalign(out, a, n);
    if (r == 0)
        counted(*out);
    return r;
}

void *aligned_alloc(size_t a, size_t n) {
    if (!real_aligned_alloc)
        resolve();
    return counted(real_aligned_alloc(a, n));
}

void *memalign(size_t a, size_t n) {
    if (!real_memalign)
        resolve();
    return counted(real_memalign(a, n));
}

void *valloc(size_t n) {
    if (!real_valloc)
        resolve();
    return counted(real_valloc(n));
}

void *pvalloc(size_t n) {
    if (!real_pvalloc)
        resolve();
    return counted(real_pvalloc(n));
}

__attribute__((destructor)) static void report(void) {
    const char *out = getenv("COUNT_OUT");
    if (!out)
        return;
    int fd = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[64];
    int len = snprintf(line, sizeof line, "%ld %lu\n", (long)getpid(), atomic_load(&count));
    if (write(fd, line, (size_t)len) != len)
        line[0] = 0;
    close(fd);
}
