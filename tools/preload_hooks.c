/* tools/preload_hooks.c — librecycle-preload.so's exported hooks: the
 * malloc family (each block to the tracer in RCY_DOMAIN_MALLOC), the
 * bootstrap buffer that serves allocations before dlsym has found the real
 * allocator, and the exec family, which keeps the library and the RCY_RUN_*
 * variables in a new image's environment.  The invariants are in
 * tools/preload.h. */
#define _GNU_SOURCE
#include "preload.h"

#include "tracemalloc.h" /* rcyi_tracemalloc_take: realloc's trace set aside */
#include "frames.h"      /* rcyi_walk_forget on dlclose */

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Native frames between the tracer and the program's call: the exported
 * hook itself (the helpers below are always inlined into it). */
#define WRAPPER_FRAMES 1u

/* ---- bootstrap buffer --------------------------------------------- */

/* Serves the few allocations dlsym (and anything before it) makes.  Each
 * block is preceded by its size; the buffer is never reused. */
#define BOOT_SIZE (256u * 1024u)
static _Alignas(64) unsigned char boot_buf[BOOT_SIZE];
static _Atomic size_t boot_used;

static void *boot_alloc(size_t size, size_t align) {
    if (align < 16)
        align = 16;
    if (size > BOOT_SIZE)
        return NULL;
    size_t need = size + align + 16;
    size_t start = atomic_fetch_add(&boot_used, need);
    if (start + need > BOOT_SIZE)
        return NULL;
    uintptr_t base = (uintptr_t)(boot_buf + start) + 16;
    uintptr_t p = (base + align - 1) & ~(uintptr_t)(align - 1);
    memcpy((void *)(p - sizeof(size_t)), &size, sizeof size);
    return (void *)p;
}

ALWAYS_INLINE bool is_boot(const void *p) {
    return (const unsigned char *)p >= boot_buf && (const unsigned char *)p < boot_buf + BOOT_SIZE;
}

static size_t boot_size(const void *p) {
    size_t n;
    memcpy(&n, (const unsigned char *)p - sizeof(size_t), sizeof n);
    return n;
}

ALWAYS_INLINE void track(void *p, size_t size) {
    if (p)
        rcy_tracemalloc_track_from(RCY_DOMAIN_MALLOC, (uintptr_t)p, size, WRAPPER_FRAMES);
}

ALWAYS_INLINE void untrack(void *p) {
    rcy_tracemalloc_untrack(RCY_DOMAIN_MALLOC, (uintptr_t)p);
}

/* ---- the malloc family -------------------------------------------- */

EXPORT void *malloc(size_t size) {
    if (!preload_tracing())
        return preload_real.malloc ? preload_real.malloc(size) : boot_alloc(size, 0);
    preload_tls.depth = 1;
    void *p = preload_real.malloc(size);
    track(p, size);
    preload_tls.depth = 0;
    return p;
}

EXPORT void *calloc(size_t n, size_t size) {
    if (!preload_tracing())
        return preload_real.calloc ? preload_real.calloc(n, size)
                                   : (n && size > SIZE_MAX / n ? NULL : boot_alloc(n * size, 0));
    preload_tls.depth = 1;
    void *p = preload_real.calloc(n, size);
    track(p, n * size);
    preload_tls.depth = 0;
    return p;
}

EXPORT void free(void *p) {
    if (!p || is_boot(p))
        return;
    if (!preload_tracing()) {
        if (preload_real.free)
            preload_real.free(p);
        return;
    }
    preload_tls.depth = 1;
    untrack(p);
    preload_real.free(p);
    preload_tls.depth = 0;
}

ALWAYS_INLINE void *realloc_impl(void *p, size_t size) {
    if (p && is_boot(p)) {
        /* A bootstrap block moves to the real heap. */
        void *q;
        bool tr = preload_tracing();
        if (tr)
            preload_tls.depth = 1;
        q = preload_real.malloc ? preload_real.malloc(size) : boot_alloc(size, 0);
        if (q) {
            size_t old = boot_size(p);
            memcpy(q, p, old < size ? old : size);
            if (tr && preload_real.malloc)
                track(q, size);
        }
        if (tr)
            preload_tls.depth = 0;
        return q;
    }
    if (!preload_tracing()) {
        if (preload_real.realloc)
            return preload_real.realloc(p, size);
        return p ? NULL : boot_alloc(size, 0);
    }
    preload_tls.depth = 1;
    rcyi_taken old = {0};
    if (p)
        rcyi_tracemalloc_take(RCY_DOMAIN_MALLOC, (uintptr_t)p, &old);
    void *q = preload_real.realloc(p, size);
    if (q || size == 0) { /* moved, resized, or realloc(p, 0) freed p */
        rcyi_tracemalloc_taken_freed(&old);
        track(q, size);
    } else {
        rcyi_tracemalloc_put_back(&old); /* failed: p lives on as it was */
    }
    preload_tls.depth = 0;
    return q;
}

EXPORT void *realloc(void *p, size_t size) {
    return realloc_impl(p, size);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    if (n && size > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_impl(p, n * size);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    if (!preload_tracing()) {
        if (preload_real.posix_memalign)
            return preload_real.posix_memalign(out, align, size);
        void *p = boot_alloc(size, align);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    preload_tls.depth = 1;
    int r = preload_real.posix_memalign(out, align, size);
    if (r == 0)
        track(*out, size);
    preload_tls.depth = 0;
    return r;
}

#define ALIGNED_HOOK(name, params, args, size_expr, boot_align)                                    \
    EXPORT void *name params {                                                                     \
        if (!preload_tracing())                                                                    \
            return preload_real.name ? preload_real.name args : boot_alloc(size_expr, boot_align); \
        preload_tls.depth = 1;                                                                     \
        void *p = preload_real.name args;                                                          \
        track(p, size_expr);                                                                       \
        preload_tls.depth = 0;                                                                     \
        return p;                                                                                  \
    }

ALIGNED_HOOK(aligned_alloc, (size_t align, size_t size), (align, size), size, align)
ALIGNED_HOOK(memalign, (size_t align, size_t size), (align, size), size, align)
ALIGNED_HOOK(valloc, (size_t size), (size), size, 4096)
ALIGNED_HOOK(pvalloc, (size_t size), (size), size, 4096)

/* ---- exec: the new image is traced too ---------------------------- */

/* When a program execs with an environment of its own, put LD_PRELOAD (with
 * this library) and the RCY_RUN_* variables back.  Works in a vfork child:
 * memory comes from mmap, nothing is freed or locked. */
static char *const *fix_env(char *const *envp, void **map, size_t *maplen) {
    *map = NULL;
    if (!preload_cfg.preload_path || !envp)
        return envp;
    size_t n = 0, bytes = 0;
    bool have_preload = false;
    bool have[RCY_RUN_NVARIABLES] = {false};
    for (; envp[n]; n++) {
        if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0) {
            have_preload = strstr(envp[n], preload_cfg.preload_path) != NULL;
            bytes += strlen(envp[n]) + 2;
        }
        for (size_t k = 0; k < preload_cfg.nenv_keep; k++) {
            size_t klen = strcspn(preload_cfg.env_store[k], "=") + 1;
            if (strncmp(envp[n], preload_cfg.env_store[k], klen) == 0)
                have[k] = true;
        }
    }
    bool complete = have_preload;
    for (size_t k = 0; k < preload_cfg.nenv_keep; k++)
        complete = complete && have[k];
    if (complete)
        return envp;
    bytes += strlen(preload_cfg.preload_path) + 16;
    *maplen = (n + preload_cfg.nenv_keep + 2) * sizeof(char *) + bytes;
    char **out = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (out == MAP_FAILED)
        return envp;
    *map = out;
    char *strs = (char *)(out + n + preload_cfg.nenv_keep + 2);
    size_t o = 0;
    bool preload_done = false;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0) {
            if (!have_preload) {
                sprintf(strs, "LD_PRELOAD=%s:%s", preload_cfg.preload_path, envp[i] + 11);
                out[o++] = strs;
                strs += strlen(strs) + 1;
            } else {
                out[o++] = envp[i];
            }
            preload_done = true;
            continue;
        }
        out[o++] = envp[i];
    }
    if (!preload_done) {
        sprintf(strs, "LD_PRELOAD=%s", preload_cfg.preload_path);
        out[o++] = strs;
    }
    for (size_t k = 0; k < preload_cfg.nenv_keep; k++)
        if (!have[k])
            out[o++] = preload_cfg.env_store[k];
    out[o] = NULL;
    return out;
}

static void ensure_resolved(void) {
    if (!preload_real.execve) {
        if (atomic_load(&preload_mode) == MODE_UNINIT)
            preload_init();
        if (!preload_real.execve)
            preload_resolve();
    }
}

/* An exec's environment with the library put back, and the memory it
 * took (released after a failed exec, errno kept). */
typedef struct fixed_env {
    char *const *env;
    void *map;
    size_t len;
} fixed_env;

static fixed_env env_begin(char *const *envp) {
    ensure_resolved();
    fixed_env f = {NULL, NULL, 0};
    f.env = fix_env(envp, &f.map, &f.len);
    return f;
}

static void env_end(const fixed_env *f) {
    int e = errno;
    if (f->map)
        munmap(f->map, f->len);
    errno = e;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    fixed_env f = env_begin(envp);
    int r = preload_real.execve(path, argv, f.env);
    env_end(&f);
    return r;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    fixed_env f = env_begin(envp);
    int r = preload_real.execvpe(file, argv, f.env);
    env_end(&f);
    return r;
}

EXPORT int execv(const char *path, char *const argv[]) {
    return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[]) {
    return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    fixed_env f = env_begin(envp);
    int r = preload_real.fexecve(fd, argv, f.env);
    env_end(&f);
    return r;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    fixed_env f = env_begin(envp);
    int r = preload_real.posix_spawn(pid, path, fa, attr, argv, f.env);
    env_end(&f);
    return r;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    fixed_env f = env_begin(envp);
    int r = preload_real.posix_spawnp(pid, file, fa, attr, argv, f.env);
    env_end(&f);
    return r;
}

/* The unwinder caches each return address's rule (src/frames.c): forget
 * them when a module goes, before another can be loaded at its address. */
EXPORT int dlclose(void *handle) {
    static int (*next)(void *);
    if (!next)
        *(void **)&next = dlsym(RTLD_NEXT, "dlclose");
    if (!next)
        return -1;
    int r = next(handle);
    rcyi_walk_forget();
    return r;
}

/* ---- threads: the stacks the leak scan reads ----------------------- */

typedef struct thread_start_arg {
    void *(*fn)(void *);
    void *arg;
} thread_start_arg;

/* The program's thread, registered for as long as it runs: the key's
 * destructor, which a return and pthread_exit alike run, unregisters it.
 * The start routine is a tail call, so no frame of ours stands between
 * start_thread and the program's in the stacks it records. */
static void *thread_start(void *p) {
    thread_start_arg a = *(thread_start_arg *)p;
    preload_tls.depth++;
    preload_real.free(p);
    preload_thread_register();
    preload_tls.depth--;
    return a.fn(a.arg);
}

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg) {
    if (!preload_real.pthread_create)
        *(void **)&preload_real.pthread_create = dlsym(RTLD_NEXT, "pthread_create");
    if (!preload_real.pthread_create)
        return EAGAIN;
    /* recycle's own threads (the sampler) and those of an untraced
     * process are not the program's */
    if (preload_tls.depth || atomic_load(&preload_mode) != MODE_TRACING || !preload_real.malloc)
        return preload_real.pthread_create(th, attr, fn, arg);
    preload_tls.depth++;
    thread_start_arg *a = preload_real.malloc(sizeof *a);
    preload_tls.depth--;
    if (!a)
        return preload_real.pthread_create(th, attr, fn, arg);
    a->fn = fn;
    a->arg = arg;
    int rc = preload_real.pthread_create(th, attr, thread_start, a);
    if (rc != 0)
        preload_real.free(a);
    return rc;
}
