/* bench/alloc_memory.c — memory overhead: bytes of header per object, and
 * the resident set after allocating then freeing 1 GiB of small blocks,
 * recycle vs glibc malloc vs mimalloc (each in its own child process so
 * their resident sets do not mix).
 *
 * The blocks are chained through their first word, so no side table
 * inflates the resident set; they are freed in an interleaved order
 * (every other block first) so no allocator gets a free LIFO ride. */
#include <recycle.h>

#include <dlfcn.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* mimalloc is loaded with RTLD_LOCAL: linked normally, Debian's build
 * would replace malloc (and even malloc) for the whole process and
 * the glibc column would measure mimalloc. */
static void *(*mi_malloc)(size_t);
static void (*mi_free)(void *);
static void (*mi_collect)(bool);

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
    *(void **)&mi_collect = dlsym(lib, "mi_collect");
    return mi_malloc && mi_free && mi_collect ? 0 : -1;
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static rcy_heap *heap;
static void *ours_alloc(size_t n) {
    return rcy_mem_alloc(heap, n);
}
static void ours_free(void *p) {
    rcy_mem_free(heap, p);
}

static void glibc_trim(void) {
    malloc_trim(0);
}
static void mim_trim(void) {
    mi_collect(true);
}

typedef struct allocator {
    const char *name;
    void *(*alloc)(size_t);
    void (*free)(void *);
    void (*trim)(void); /* the allocator's own "give memory back now" */
} allocator;

static const allocator allocs[] = {
    {"recycle", ours_alloc, ours_free, NULL},
    {"glibc", malloc, free, glibc_trim},
    {"mimalloc", mim_alloc, mim_free, mim_trim},
};

typedef struct result {
    size_t before, peak, after, trimmed;
} result;

static uint64_t rng(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static result run(const allocator *a) {
    result r;
    heap = rcy_heap_new(NULL);
    /* Warm each allocator a little so its own start-up state is in the
     * baseline. */
    a->free(a->alloc(64));
    r.before = rss_bytes();
    const size_t target = (size_t)1 << 30;
    void *odd = NULL, *even = NULL;
    uint64_t s = 42;
    size_t total = 0;
    for (size_t i = 0; total < target; i++) {
        size_t n = 16 + rng(&s) % 497;
        void **p = a->alloc(n);
        memset(p, 1, n);
        total += n;
        if (i & 1) {
            *p = odd;
            odd = p;
        } else {
            *p = even;
            even = p;
        }
    }
    r.peak = rss_bytes();
    for (void **p = odd; p;) {
        void **next = *p;
        a->free(p);
        p = next;
    }
    for (void **p = even; p;) {
        void **next = *p;
        a->free(p);
        p = next;
    }
    r.after = rss_bytes();
    if (a->trim)
        a->trim();
    r.trimmed = rss_bytes();
    rcy_heap_free(heap);
    return r;
}

int main(void) {
    if (load_mimalloc() != 0)
        return 1;
    printf("memory\n");
    printf("header bytes per object: recycle %zu (CPython: 16 untracked, 32 tracked)\n",
           sizeof(rcy_head_));
    result res[3];
    for (int i = 0; i < 3; i++) {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            result r = run(&allocs[i]);
            if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
                _exit(1);
            _exit(0);
        }
        close(fds[1]);
        if (read(fds[0], &res[i], sizeof res[i]) != (ssize_t)sizeof res[i])
            memset(&res[i], 0, sizeof res[i]);
        close(fds[0]);
        waitpid(pid, NULL, 0);
    }
    printf("RSS, MiB, 1 GiB of 16..512-byte blocks allocated then freed (trim call: glibc\n"
           "malloc_trim(0), mimalloc mi_collect(true); recycle gives memory back by itself)\n");
    printf("%-10s %10s %10s %10s %14s %18s\n", "allocator", "before", "peak", "after",
           "after/before", "after trim call");
    for (int i = 0; i < 3; i++) {
        double mb = 1024.0 * 1024.0;
        char trimmed[32] = "(none needed)";
        if (allocs[i].trim)
            snprintf(trimmed, sizeof trimmed, "%.1f", res[i].trimmed / mb);
        printf("%-10s %10.1f %10.1f %10.1f %13.2fx %18s\n", allocs[i].name, res[i].before / mb,
               res[i].peak / mb, res[i].after / mb,
               res[i].before ? (double)res[i].after / (double)res[i].before : 0.0, trimmed);
    }
    double growth = res[0].before ? (double)res[0].after / (double)res[0].before - 1.0 : 1.0;
    printf("target: recycle back within 10%% of its starting RSS (%s: %+.1f%%)\n",
           growth <= 0.10 ? "met" : "NOT met", growth * 100.0);
    return 0;
}
