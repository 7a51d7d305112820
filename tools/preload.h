/* tools/preload.h — what the three files of librecycle-preload.so, the
 * LD_PRELOAD library behind `recycle run`, share.  The library replaces the
 * malloc family of an unmodified, dynamically linked program and sends
 * every block to the tracer in RCY_DOMAIN_MALLOC; at exit it writes one
 * snapshot file with a timeline of traced memory.
 *
 *   preload_hooks.c  the exported hooks: the malloc family, the bootstrap
 *                    buffer before dlsym, and exec/posix_spawn
 *   preload_life.c   the process's life cycle: start-up (configuration
 *                    from tools/run_contract.h), fork, exit, terminating
 *                    signals, and "write once per process image"
 *   preload_dump.c   the sampler thread (the timeline) and the snapshot file
 *   preload_leakscan.c  the leak classes (a conservative scan at exit) and
 *                    the registry of the program's threads it scans
 *
 * Invariants:
 *  - preload_tls.depth > 0 on a thread means "inside recycle": every
 *    allocation made there (by the tracer, the unwinder, the dynamic loader
 *    called from the unwinder, the dump) goes straight to the real
 *    allocator, untraced.  The hooks themselves hold depth == 1 around the
 *    real call and the tracer call, so a signal handler can tell it
 *    interrupted an allocation.
 *  - Until dlsym(RTLD_NEXT) has found the real functions, blocks come from a
 *    static bootstrap buffer; frees of those blocks are ignored.
 *  - Blocks are untracked BEFORE the real free/realloc gives the address
 *    back, so another thread that gets the same address tracks it after us.
 *    realloc takes the trace aside (rcyi_tracemalloc_take) rather than
 *    freeing it: when the real realloc fails the block is traced again
 *    exactly as it was (size, traceback), with no allocation or free
 *    counted; when it succeeds the old block counts as freed.
 *  - preload_mode only moves forward in one image: UNINIT -> RESOLVING ->
 *    TRACING (or OFF) -> DONE; a fork child goes TRACING -> CHILD -> TRACING.
 *  - Nothing here takes a lock on the allocation path; the tracer is
 *    thread-safe on its own.  The sampler thread takes the timeline's lock,
 *    which only the dump also takes.
 *  - The snapshot is written once per process image (the first of the
 *    library destructor, _exit, or a terminating signal), never by a vfork
 *    child, and never from a signal handler that interrupted recycle. */
#ifndef RECYCLE_TOOLS_PRELOAD_H
#define RECYCLE_TOOLS_PRELOAD_H

#include "run_contract.h"

#include <recycle.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define EXPORT        __attribute__((visibility("default")))
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- the real functions (preload_life.c resolves them) ------------ */

typedef void *malloc_fn(size_t);
typedef void *calloc_fn(size_t, size_t);
typedef void *realloc_fn(void *, size_t);
typedef void free_fn(void *);
typedef void *memalign_fn(size_t, size_t);
typedef int posix_memalign_fn(void **, size_t, size_t);
typedef void *valloc_fn(size_t);
typedef int execve_fn(const char *, char *const[], char *const[]);
typedef int fexecve_fn(int, char *const[], char *const[]);
typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *,
                     const posix_spawnattr_t *, char *const[], char *const[]);
typedef int sigaction_fn(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t signal_fn(int, sighandler_t);

typedef struct preload_real_fns {
    malloc_fn *malloc; /* set last: the hooks test it to leave the bootstrap path */
    calloc_fn *calloc;
    realloc_fn *realloc;
    free_fn *free;
    memalign_fn *memalign;
    memalign_fn *aligned_alloc;
    posix_memalign_fn *posix_memalign;
    valloc_fn *valloc;
    valloc_fn *pvalloc;
    execve_fn *execve;
    execve_fn *execvpe;
    fexecve_fn *fexecve;
    spawn_fn *posix_spawn;
    spawn_fn *posix_spawnp;
    sigaction_fn *sigaction;
    signal_fn *signal;
    int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    void (*exit_now)(int); /* _exit */
} preload_real_fns;
extern preload_real_fns preload_real;

/* ---- state (preload_life.c) ---------------------------------------- */

enum { MODE_UNINIT, MODE_RESOLVING, MODE_OFF, MODE_TRACING, MODE_CHILD, MODE_DONE };
extern _Atomic int preload_mode;

typedef struct preload_thread {
    unsigned depth; /* > 0: inside recycle (see the invariants) */
} preload_thread;
extern __thread preload_thread preload_tls __attribute__((tls_model("initial-exec")));

/* The RCY_RUN_* variables as read at start-up. */
typedef struct preload_config {
    char output[PATH_MAX];
    pid_t main_pid;
    bool follow; /* trace the processes main_pid forks */
    int frames;
    unsigned interval_ms;
    uint64_t start_ns;
    /* "NAME=value" strings re-added to an exec'd environment. */
    size_t nenv_keep; /* env_store[0 .. nenv_keep) */
    char env_store[RCY_RUN_NVARIABLES][PATH_MAX + 32];
    const char *preload_path;
} preload_config;
extern preload_config preload_cfg;

/* A terminating signal's handler only marks it here and wakes the
 * sampler thread, which writes the snapshot: the handler never runs the
 * writer in the interrupted thread.  Outside an allocation the handler
 * waits for the file and re-raises; inside one (the thread may hold the
 * allocator's or the tracer's locks) it returns, and the writer kills the
 * process with the signal once the file is written. */
typedef struct preload_writer_state {
    sem_t wake;                           /* posted by the handler (async-signal-safe) */
    volatile sig_atomic_t signal;         /* the signal to write for, or 0 */
    volatile sig_atomic_t handler_raises; /* the handler waits, then dies */
    _Atomic bool alive;                   /* the sampler thread runs in this process */
    _Atomic bool written;                 /* the file is written in this process image */
} preload_writer_state;
extern preload_writer_state preload_writer;

/* Find the real functions with dlsym(RTLD_NEXT). */
void preload_resolve(void);
/* Read the configuration and start the tracer, once per image. */
void preload_init(void);
/* The slow half of "should this call be traced?": first use, or the first
 * use in a fork child.  True when the caller should trace. */
bool preload_settle(void);
/* In the sampler thread: the snapshot for signal `sig`, then the signal. */
void preload_write_on_signal(int sig);

/* ---- timeline and snapshot (preload_dump.c) ----------------------- */

void preload_take_sample(void);
/* The sampler thread: samples every interval_ms and writes for a signal. */
void preload_start_sampler(void);
/* Stop sampling (before the final write). */
void preload_sampler_stop(void);
/* In a fork child: the parent's lock and thread are gone. */
void preload_sampler_after_fork(void);
/* The snapshot file of this process; `signal` is the one that ended it
 * (or 0), `exit_status` is known when exit_known. */
void preload_write_snapshot(int signal, bool exit_known, int exit_status);

/* ---- leak classes (preload_leakscan.c) ---------------------------- */

/* Record the calling thread's stack in the registry the scan reads; the
 * slot, or -1 when full or unknown.  A thread other than the main one is
 * unregistered when it ends (a thread-specific key's destructor). */
int preload_thread_register(void);
void preload_thread_unregister(int slot);
/* main's frame starts at `frame` (set before main runs).  Unless the
 * program calls exit itself (preload_exit_called), the process ends by
 * main's return: the main thread's stack below `frame` (main's dead
 * locals, printf's leftovers) and its registers are then no roots. */
void preload_main_frame(uintptr_t frame);
void preload_exit_called(void);
/* In a fork child: only the calling thread is left. */
void preload_threads_after_fork(void);
/* Classify the traces of s (addrs[i]: trace i's block, 0 = none) by a
 * conservative scan of this process; see the file's banner. */
void preload_leak_classes(rcy_snapshot *s, const uintptr_t *addrs);

static inline uint64_t preload_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Should this call be traced?  The fast test, inlined into every hook. */
ALWAYS_INLINE bool preload_tracing(void) {
    return RCY_LIKELY(atomic_load_explicit(&preload_mode, memory_order_relaxed) == MODE_TRACING &&
                      preload_tls.depth == 0) ||
           preload_settle();
}

#endif /* RECYCLE_TOOLS_PRELOAD_H */
