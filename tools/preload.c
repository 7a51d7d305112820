/* tools/preload.c — librecycle-preload.so, the LD_PRELOAD library behind
 * `recycle run`.  It replaces the malloc family of an unmodified, dynamically
 * linked program and sends every block to the tracer in RCY_DOMAIN_MALLOC;
 * at exit it writes one snapshot file with a timeline of traced memory.
 *
 * Invariants:
 *  - tls.depth > 0 on a thread means "inside recycle": every allocation made
 *    there (by the tracer, the unwinder, the dynamic loader called from the
 *    unwinder, the dump) goes straight to the real allocator, untraced.  The
 *    hooks themselves hold depth == 1 around the real call and the tracer
 *    call, so a signal handler can tell it interrupted an allocation.
 *  - Until dlsym(RTLD_NEXT) has found the real functions, blocks come from a
 *    static bootstrap buffer; frees of those blocks are ignored.
 *  - Blocks are untracked BEFORE the real free/realloc gives the address
 *    back, so another thread that gets the same address tracks it after us.
 *    realloc takes the trace aside (rcyi_tracemalloc_take) rather than
 *    freeing it: when the real realloc fails the block is traced again
 *    exactly as it was (size, traceback), with no allocation or free
 *    counted; when it succeeds the old block counts as freed.
 *  - mode only moves forward in one image: UNINIT -> RESOLVING -> TRACING
 *    (or OFF) -> DONE; a fork child goes TRACING -> CHILD -> TRACING.
 *  - Nothing here takes a lock on the allocation path; the tracer is
 *    thread-safe on its own.  The sampler thread takes `samples.lock`, which
 *    only the dump also takes.
 *
 * Configuration comes from the environment `recycle run` sets (all optional,
 * so the library can also be preloaded by hand):
 *   RCY_RUN_OUTPUT       snapshot file of the first process (default
 *                        recycle.PROGRAM.PID.rcy); other processes insert
 *                        ".PROGRAM.PID"
 *   RCY_RUN_FOLLOW       0: trace only RCY_RUN_MAIN_PID (across exec), not
 *                        the processes it forks (default 1)
 *   RCY_RUN_MAIN_PID     pid whose images write RCY_RUN_OUTPUT itself
 *   RCY_RUN_FRAMES       frames per traceback (default 16)
 *   RCY_RUN_INTERVAL_MS  timeline sampling interval (default 10)
 *   RCY_RUN_START_NS     CLOCK_MONOTONIC origin of the timeline
 *   RCY_RUN_PRELOAD      path of this library, to keep it in LD_PRELOAD
 *                        across exec with a custom environment */
#define _GNU_SOURCE
#include "cli.h" /* cli_program_tag: the command names files the same way */

#include <recycle.h>

#include "tracemalloc.h" /* rcyi_tracemalloc_take: realloc's trace set aside */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXPORT        __attribute__((visibility("default")))
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Native frames between the tracer and the program's call: the exported
 * hook itself (the helpers below are always inlined into it). */
#define WRAPPER_FRAMES 1u

/* ---- the real allocator ------------------------------------------- */

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

static struct {
    malloc_fn *malloc;
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
    void (*exit_now)(int); /* _exit */
} real;

enum { MODE_UNINIT, MODE_RESOLVING, MODE_OFF, MODE_TRACING, MODE_CHILD, MODE_DONE };
static _Atomic int mode = MODE_UNINIT;

static __thread struct { unsigned depth; } tls __attribute__((tls_model("initial-exec")));

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

/* ---- configuration and state -------------------------------------- */

static struct {
    char output[PATH_MAX];
    pid_t main_pid;
    bool follow; /* trace the processes main_pid forks */
    int frames;
    unsigned interval_ms;
    uint64_t start_ns;
    /* "NAME=value" strings re-added to an exec'd environment. */
    size_t nenv_keep; /* env_store[0 .. nenv_keep) */
    char env_store[8][PATH_MAX + 32];
    const char *preload_path;
} cfg;

static volatile sig_atomic_t exit_known;
static int exit_status;
/* This process's pid as of init or the last fork: a vfork child (which
 * shares our memory and runs no atfork handler) has another one, and must
 * never write a snapshot or change our state. */
static pid_t self_pid;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long env_long(const char *name, long dflt, long lo, long hi) {
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return dflt;
    return v;
}

/* ---- timeline ----------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    rcy_sample *buf; /* mmap'd: the tracer's rule, no malloc here */
    size_t len, cap;
    unsigned stride; /* keep every stride-th tick after downsampling */
    unsigned tick;
    _Atomic bool stop;
} samples = {.lock = PTHREAD_MUTEX_INITIALIZER, .stride = 1};

/* A terminating signal's handler only marks it here and wakes the
 * sampler thread, which writes the snapshot: the handler never runs the
 * writer in the interrupted thread.  Outside an allocation the handler
 * waits for the file and re-raises; inside one (the thread may hold the
 * allocator's or the tracer's locks) it returns, and the writer kills the
 * process with the signal once the file is written. */
static struct {
    sem_t wake;                           /* posted by on_signal (async-signal-safe) */
    volatile sig_atomic_t signal;         /* the signal to write for, or 0 */
    volatile sig_atomic_t handler_raises; /* the handler waits, then dies */
    _Atomic bool alive;                   /* the sampler thread runs in this process */
    _Atomic bool written;                 /* finish() completed in this process image */
} writer;

#define SAMPLES_MAX (1u << 20)

/* The resident set in bytes, from /proc/self/statm's second field; 0 when
 * it cannot be read.  Opened each time (a kept descriptor would name the
 * parent in a forked child); no malloc, no stdio. */
static uint64_t rss_bytes(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strchr(buf, ' ');
    if (!p)
        return 0;
    uint64_t pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (uint64_t)(*p - '0');
    long page = sysconf(_SC_PAGESIZE);
    return pages * (uint64_t)(page > 0 ? page : 4096);
}

static void sample_locked(void) {
    size_t cur = 0, peak = 0;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    uint64_t rss = rss_bytes();
    if (samples.len == samples.cap) {
        if (samples.cap >= SAMPLES_MAX) {
            /* Keep every other sample and halve the rate from now on. */
            for (size_t i = 0; i < samples.len / 2; i++)
                samples.buf[i] = samples.buf[2 * i];
            samples.len /= 2;
            samples.stride *= 2;
        } else {
            size_t ncap = samples.cap ? samples.cap * 2 : 4096;
            void *nb = samples.buf ? mremap(samples.buf, samples.cap * sizeof(rcy_sample),
                                            ncap * sizeof(rcy_sample), MREMAP_MAYMOVE)
                                   : mmap(NULL, ncap * sizeof(rcy_sample), PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (nb == MAP_FAILED)
                return;
            samples.buf = nb;
            samples.cap = ncap;
        }
    }
    uint64_t t = now_ns();
    samples.buf[samples.len++] = (rcy_sample){.time_ns = t > cfg.start_ns ? t - cfg.start_ns : 0,
                                              .current = cur,
                                              .peak = peak,
                                              .rss = rss};
}

static void take_sample(void) {
    pthread_mutex_lock(&samples.lock);
    sample_locked();
    pthread_mutex_unlock(&samples.lock);
}

static void write_on_signal(int sig);

/* The sampler thread samples every interval_ms (when not 0) and is the
 * writer a terminating signal wakes (see on_signal). */
static void *sampler_main(void *arg) {
    (void)arg;
    tls.depth = 1; /* this thread is part of recycle: never traced */
    atomic_store(&writer.alive, true);
    while (!atomic_load(&samples.stop)) {
        int r;
        if (cfg.interval_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)cfg.interval_ms * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            r = sem_clockwait(&writer.wake, CLOCK_MONOTONIC, &ts);
        } else {
            r = sem_wait(&writer.wake);
        }
        if (writer.signal) {
            write_on_signal(writer.signal);
            break;
        }
        if (atomic_load(&samples.stop))
            break;
        if (r != 0 && cfg.interval_ms) {
            pthread_mutex_lock(&samples.lock);
            if (++samples.tick % samples.stride == 0)
                sample_locked();
            pthread_mutex_unlock(&samples.lock);
        }
    }
    atomic_store(&writer.alive, false);
    return NULL;
}

static void start_sampler(void) {
    tls.depth++;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals belong to the program */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* It may write the snapshot (for a signal): symbol resolution in libdw
     * needs far more than a sampler's 64 KiB (it overflowed them).  Only
     * the pages touched are ever resident. */
    pthread_attr_setstacksize(&attr, 8u << 20);
    pthread_t th;
    atomic_store(&samples.stop, false);
    /* without the thread there is no timeline, and a terminating signal
     * writes from its handler; the traces still are */
    (void)pthread_create(&th, &attr, sampler_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    tls.depth--;
}

/* ---- writing the snapshot ----------------------------------------- */

/* RCY_RUN_OUTPUT for the first process; every other one inserts the
 * program's name and its pid (out.rcy -> out.sh.1234.rcy), so a file says
 * which program wrote it. */
static void output_path(char *buf, size_t len) {
    pid_t pid = getpid();
    char tag[64];
    cli_program_tag(program_invocation_short_name, tag, sizeof tag);
    if (cfg.output[0] == 0) {
        snprintf(buf, len, "recycle.%s.%ld.rcy", tag, (long)pid);
        return;
    }
    if (pid == cfg.main_pid) {
        snprintf(buf, len, "%s", cfg.output);
        return;
    }
    size_t n = strlen(cfg.output);
    const char *slash = strrchr(cfg.output, '/');
    const char *dot = strrchr(cfg.output, '.');
    if (dot && (!slash || dot > slash + 1))
        snprintf(buf, len, "%.*s.%s.%ld%s", (int)(dot - cfg.output), cfg.output, tag, (long)pid,
                 dot);
    else
        snprintf(buf, len, "%.*s.%s.%ld", (int)n, cfg.output, tag, (long)pid);
}

/* The command line from /proc/self/cmdline, arguments separated by
 * spaces and quoted when they hold a space or a quote. */
static void read_cmdline(char *out, size_t len) {
    out[0] = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    static char raw[16384];
    ssize_t n = read(fd, raw, sizeof raw - 1);
    close(fd);
    if (n <= 0)
        return;
    raw[n] = 0;
    size_t o = 0;
    for (ssize_t i = 0; i < n && o + 4 < len;) {
        const char *arg = raw + i;
        size_t alen = strlen(arg);
        bool quote = alen == 0 || strpbrk(arg, " \t\n'\"\\$`") != NULL;
        if (o)
            out[o++] = ' ';
        if (quote)
            out[o++] = '\'';
        for (size_t k = 0; k < alen && o + 6 < len; k++) {
            if (quote && arg[k] == '\'') {
                memcpy(out + o, "'\\''", 4);
                o += 4;
            } else {
                out[o++] = arg[k];
            }
        }
        if (quote && o + 1 < len)
            out[o++] = '\'';
        i += (ssize_t)alen + 1;
    }
    out[o < len ? o : len - 1] = 0;
}

static int finish_signal; /* the signal that ended the process, or 0 */

static void write_snapshot(void) {
    char path[PATH_MAX];
    output_path(path, sizeof path);
    take_sample();

    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    if (!s) {
        fprintf(stderr, "recycle: could not take the snapshot for %s\n", path);
        return;
    }
    pthread_mutex_lock(&samples.lock);
    rcy_snapshot_set_timeline(s, samples.buf, samples.len);
    pthread_mutex_unlock(&samples.lock);

    static char cmd[16384];
    char num[64];
    read_cmdline(cmd, sizeof cmd);
    rcy_snapshot_set_info(s, "command", cmd);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        rcy_snapshot_set_info(s, "executable", exe);
    }
    snprintf(num, sizeof num, "%ld", (long)getpid());
    rcy_snapshot_set_info(s, "pid", num);
    snprintf(num, sizeof num, "%ld", (long)getppid());
    rcy_snapshot_set_info(s, "ppid", num);
    if (finish_signal) {
        snprintf(num, sizeof num, "signal %d (%s)", finish_signal, strsignal(finish_signal));
        rcy_snapshot_set_info(s, "exit_status", num);
    } else if (exit_known) {
        snprintf(num, sizeof num, "%d", exit_status);
        rcy_snapshot_set_info(s, "exit_status", num);
    }
    /* The process's own peak resident size, beside the traced peak: the gap
     * is what tracing cannot see (pymalloc's pools, mmap, the stacks). */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0) {
        char sz[32];
        rcy_format_size((int64_t)ru.ru_maxrss * 1024, false, sz, sizeof sz);
        snprintf(num, sizeof num, "%s (%lld B)", sz, (long long)ru.ru_maxrss * 1024);
        rcy_snapshot_set_info(s, "max_rss", num);
    }
    snprintf(num, sizeof num, "%u", cfg.interval_ms * samples.stride);
    rcy_snapshot_set_info(s, "interval_ms", num);
    snprintf(num, sizeof num, "%d", cfg.frames);
    rcy_snapshot_set_info(s, "frames", num);
    rcy_snapshot_set_info(s, "tool", "recycle run " RCY_VERSION_STRING);

    /* rcy_file_write's temporary and rename: a reader never sees half a
     * file, even if the process is killed while writing. */
    int err = rcy_snapshot_dump_raw(s, path); /* resolved by the reader */
    if (err != 0)
        fprintf(stderr, "recycle: cannot write %s: %s\n", path,
                err == RCY_EIO ? strerror(errno) : rcy_strerror(err));
    rcy_snapshot_free(s);
}

/* Write the snapshot once per process image, from whichever path comes
 * first: the library destructor, or a terminating signal. */
static void finish(void) {
    if (self_pid != 0 && getpid() != self_pid)
        return; /* a vfork child: the memory is the parent's */
    int m = atomic_load(&mode);
    for (;;) {
        if (m == MODE_DONE) {
            /* Another thread writes (the sampler, for a signal): the
             * process must not end before the file is in place. */
            for (int i = 0; i < 60000 && !atomic_load(&writer.written); i++)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
            return;
        }
        if (m != MODE_TRACING && m != MODE_CHILD)
            return;
        if (atomic_compare_exchange_weak(&mode, &m, MODE_DONE))
            break;
    }
    tls.depth++;
    atomic_store(&samples.stop, true);
    write_snapshot();
    atomic_store(&writer.written, true);
    tls.depth--;
}

/* In the sampler thread: the snapshot for a terminating signal, then the
 * signal again, now with its default action (SA_RESETHAND restored it). */
static void write_on_signal(int sig) {
    finish_signal = sig;
    finish();
    if (!writer.handler_raises)
        kill(getpid(), sig);
}

static void on_exit_status(int status, void *arg) {
    (void)arg;
    exit_status = status;
    exit_known = 1;
}

__attribute__((destructor)) static void preload_fini(void) {
    finish();
}

/* The exit status.  An on_exit handler registered from a library
 * constructor would run after the loader's destructors (handlers run in
 * reverse order, and the loader's is registered after library constructors
 * run), i.e. after the dump.  So register it at the start of main, through
 * __libc_start_main: it then runs before the destructors, and after every
 * atexit handler the program registers in main. */
typedef int main_fn(int, char **, char **);
typedef int start_main_fn(main_fn *, int, char **, void (*)(void), void (*)(void), void (*)(void),
                          void *);
static main_fn *program_main;
EXPORT int __libc_start_main(main_fn *main, int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end);

static int main_wrapper(int argc, char **argv, char **envp) {
    tls.depth++;
    on_exit(on_exit_status, NULL);
    tls.depth--;
    return program_main(argc, argv, envp);
}

EXPORT int __libc_start_main(main_fn *main, int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
    start_main_fn *next;
    *(void **)&next = dlsym(RTLD_NEXT, "__libc_start_main");
    if (!next)
        abort();
    program_main = main;
    return next(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* Programs that end with _exit (dash does, so do fork children and
 * Python's os._exit) skip the destructors: write the file here. */
EXPORT void _exit(int status) {
    if (self_pid != 0 && getpid() == self_pid) {
        exit_status = status;
        exit_known = 1;
        finish();
    }
    if (real.exit_now)
        real.exit_now(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

EXPORT void _Exit(int status) {
    _exit(status);
}

/* ---- terminating signals ------------------------------------------ */

/* A program killed by one of these still gets its file.  Our handler is
 * installed only where the disposition was SIG_DFL, and hidden from the
 * program: sigaction() and signal() report SIG_DFL in its place, so a
 * program that installs a handler only over the default (Python does for
 * SIGINT) behaves as without recycle, and replaces ours. */
static const int dump_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void on_signal(int sig) {
    int saved = errno;
    if (atomic_load(&writer.alive) && getpid() == self_pid) {
        /* Mark and wake the writer; never write here. */
        bool inside = tls.depth != 0;
        writer.handler_raises = !inside;
        writer.signal = sig;
        sem_post(&writer.wake);
        if (inside) {
            /* Inside an allocation or the tracer, whose locks the writer
             * needs: go on; the writer kills the process once the file
             * is written (to the program, a signal delivered late). */
            errno = saved;
            return;
        }
        /* Holding none of them: wait for the file, then die here, so that
         * nothing of the program runs after the signal (raise(SIGTERM)
         * does not return).  Bounded, in case the writer cannot finish. */
        for (int i = 0; i < 30000 && !atomic_load(&writer.written); i++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        errno = saved;
        raise(sig);
        return;
    }
    /* No writer thread (a fork child that has not allocated yet): write
     * here, unless interrupted inside an allocation or inside recycle,
     * where the allocator's locks may be held: no file then rather than a
     * deadlock. */
    if (tls.depth == 0) {
        finish_signal = sig;
        finish();
    }
    errno = saved;
    /* SA_RESETHAND restored the default action; the raised signal is
     * delivered when this handler returns. */
    raise(sig);
}

static bool is_dump_signal(int sig) {
    for (size_t i = 0; i < sizeof dump_signals / sizeof dump_signals[0]; i++)
        if (dump_signals[i] == sig)
            return true;
    return false;
}

static void install_signal_handlers(void) {
    for (size_t i = 0; i < sizeof dump_signals / sizeof dump_signals[0]; i++) {
        struct sigaction old, sa;
        if (real.sigaction(dump_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        real.sigaction(dump_signals[i], &sa, NULL);
    }
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real.sigaction) {
        *(void **)&real.sigaction = dlsym(RTLD_NEXT, "sigaction");
        if (!real.sigaction) {
            errno = ENOSYS;
            return -1;
        }
    }
    int r = real.sigaction(sig, act, old);
    if (r == 0 && old && is_dump_signal(sig) && !(old->sa_flags & SA_SIGINFO) &&
        old->sa_handler == on_signal) {
        memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
        sigemptyset(&old->sa_mask);
    }
    return r;
}

EXPORT sighandler_t signal(int sig, sighandler_t handler) {
    if (!real.signal) {
        *(void **)&real.signal = dlsym(RTLD_NEXT, "signal");
        if (!real.signal)
            return SIG_ERR;
    }
    sighandler_t old = real.signal(sig, handler);
    if (old == on_signal)
        old = SIG_DFL;
    return old;
}

/* ---- start-up ----------------------------------------------------- */

static void keep_env(const char *name) {
    const char *v = getenv(name);
    if (!v || cfg.nenv_keep >= sizeof cfg.env_store / sizeof cfg.env_store[0])
        return;
    char *slot = cfg.env_store[cfg.nenv_keep];
    int n = snprintf(slot, sizeof cfg.env_store[0], "%s=%s", name, v);
    if (n > 0 && (size_t)n < sizeof cfg.env_store[0])
        cfg.nenv_keep++;
}

static void atfork_child(void) {
    /* The child has the parent's traces (its heap is a copy) and goes on
     * into its own file; its sampler starts at its first allocation. */
    int expect = MODE_TRACING;
    atomic_compare_exchange_strong(&mode, &expect, cfg.follow ? MODE_CHILD : MODE_OFF);
    pthread_mutex_init(&samples.lock, NULL);
    sem_init(&writer.wake, 0, 0);
    atomic_store(&writer.alive, false); /* threads do not survive fork */
    writer.signal = 0;
    self_pid = getpid();
}

static void resolve(void) {
#define RESOLVE(name) (*(void **)&real.name = dlsym(RTLD_NEXT, #name))
    RESOLVE(calloc);
    RESOLVE(realloc);
    RESOLVE(free);
    RESOLVE(memalign);
    RESOLVE(aligned_alloc);
    RESOLVE(posix_memalign);
    RESOLVE(valloc);
    RESOLVE(pvalloc);
    RESOLVE(execve);
    RESOLVE(execvpe);
    RESOLVE(fexecve);
    RESOLVE(posix_spawn);
    RESOLVE(posix_spawnp);
    if (!real.sigaction)
        RESOLVE(sigaction);
    if (!real.signal)
        RESOLVE(signal);
    *(void **)&real.exit_now = dlsym(RTLD_NEXT, "_exit");
    /* malloc last: it is what the hooks test to leave the bootstrap path. */
    RESOLVE(malloc);
#undef RESOLVE
}

static void init(void) {
    int expect = MODE_UNINIT;
    if (!atomic_compare_exchange_strong(&mode, &expect, MODE_RESOLVING))
        return;
    tls.depth++;
    resolve();
    if (!real.malloc || !real.free || !real.calloc || !real.realloc) {
        atomic_store(&mode, MODE_OFF);
        tls.depth--;
        return;
    }
    const char *out = getenv("RCY_RUN_OUTPUT");
    if (out && strlen(out) < sizeof cfg.output)
        strcpy(cfg.output, out);
    cfg.main_pid = (pid_t)env_long("RCY_RUN_MAIN_PID", (long)getpid(), 1, INT_MAX);
    cfg.frames = (int)env_long("RCY_RUN_FRAMES", 16, 1, 65535);
    cfg.interval_ms = (unsigned)env_long("RCY_RUN_INTERVAL_MS", 10, 0, 3600000);
    const char *t0 = getenv("RCY_RUN_START_NS");
    cfg.start_ns = t0 ? strtoull(t0, NULL, 10) : 0;
    if (cfg.start_ns == 0 || cfg.start_ns > now_ns())
        cfg.start_ns = now_ns();
    cfg.preload_path = getenv("RCY_RUN_PRELOAD");
    static const char *const keep[] = {"RCY_RUN_OUTPUT",      "RCY_RUN_MAIN_PID", "RCY_RUN_FRAMES",
                                       "RCY_RUN_INTERVAL_MS", "RCY_RUN_START_NS", "RCY_RUN_PRELOAD",
                                       "RCY_RUN_FOLLOW"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        keep_env(keep[i]);
    cfg.follow = env_long("RCY_RUN_FOLLOW", 1, 0, 1) != 0;
    if (!cfg.follow && getpid() != cfg.main_pid) {
        atomic_store(&mode, MODE_OFF); /* --no-follow: not the first process */
        tls.depth--;
        return;
    }

    if (rcy_tracemalloc_start(cfg.frames) != 0) {
        atomic_store(&mode, MODE_OFF);
        tls.depth--;
        return;
    }
    rcy_tracemalloc_keep_peak(true);
    sem_init(&writer.wake, 0, 0);
    self_pid = getpid();
    pthread_atfork(NULL, NULL, atfork_child);
    atomic_store(&mode, MODE_TRACING);
    tls.depth--;
}

/* CPython serves most objects from pymalloc's own pools, in arenas it
 * maps itself: recycle sees none of them.  Say so once per process, with
 * the way to see them. */
static void warn_pymalloc(void) {
    tls.depth++;
    const char *pm = getenv("PYTHONMALLOC");
    bool sees_all = pm && (strcmp(pm, "malloc") == 0 || strcmp(pm, "malloc_debug") == 0);
    if (!sees_all && dlsym(RTLD_DEFAULT, "Py_Initialize") && dlsym(RTLD_DEFAULT, "PyObject_Malloc"))
        fprintf(stderr, "recycle: this is CPython: the objects pymalloc allocates (most of "
                        "them) are invisible to recycle; run with recycle run --python-malloc "
                        "(PYTHONMALLOC=malloc) to trace every object\n");
    tls.depth--;
}

__attribute__((constructor)) static void preload_ctor(void) {
    init();
    if (atomic_load(&mode) != MODE_TRACING)
        return;
    warn_pymalloc();
    take_sample();
    install_signal_handlers();
    start_sampler();
}

/* The slow half of "should this call be traced?": first use, or the first
 * use in a fork child.  Returns true when the caller should trace. */
static bool settle(void) {
    if (tls.depth)
        return false;
    int m = atomic_load_explicit(&mode, memory_order_relaxed);
    if (m == MODE_UNINIT) {
        init();
    } else if (m == MODE_CHILD) {
        int expect = MODE_CHILD;
        if (atomic_compare_exchange_strong(&mode, &expect, MODE_TRACING))
            start_sampler();
    }
    return atomic_load_explicit(&mode, memory_order_relaxed) == MODE_TRACING;
}

ALWAYS_INLINE bool tracing(void) {
    return RCY_LIKELY(atomic_load_explicit(&mode, memory_order_relaxed) == MODE_TRACING &&
                      tls.depth == 0) ||
           settle();
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
    if (!tracing())
        return real.malloc ? real.malloc(size) : boot_alloc(size, 0);
    tls.depth = 1;
    void *p = real.malloc(size);
    track(p, size);
    tls.depth = 0;
    return p;
}

EXPORT void *calloc(size_t n, size_t size) {
    if (!tracing())
        return real.calloc ? real.calloc(n, size)
                           : (n && size > SIZE_MAX / n ? NULL : boot_alloc(n * size, 0));
    tls.depth = 1;
    void *p = real.calloc(n, size);
    track(p, n * size);
    tls.depth = 0;
    return p;
}

EXPORT void free(void *p) {
    if (!p || is_boot(p))
        return;
    if (!tracing()) {
        if (real.free)
            real.free(p);
        return;
    }
    tls.depth = 1;
    untrack(p);
    real.free(p);
    tls.depth = 0;
}

ALWAYS_INLINE void *realloc_impl(void *p, size_t size) {
    if (p && is_boot(p)) {
        /* A bootstrap block moves to the real heap. */
        void *q;
        bool tr = tracing();
        if (tr)
            tls.depth = 1;
        q = real.malloc ? real.malloc(size) : boot_alloc(size, 0);
        if (q) {
            size_t old = boot_size(p);
            memcpy(q, p, old < size ? old : size);
            if (tr && real.malloc)
                track(q, size);
        }
        if (tr)
            tls.depth = 0;
        return q;
    }
    if (!tracing()) {
        if (real.realloc)
            return real.realloc(p, size);
        return p ? NULL : boot_alloc(size, 0);
    }
    tls.depth = 1;
    rcyi_taken old = {0};
    if (p)
        rcyi_tracemalloc_take(RCY_DOMAIN_MALLOC, (uintptr_t)p, &old);
    void *q = real.realloc(p, size);
    if (q || size == 0) { /* moved, resized, or realloc(p, 0) freed p */
        rcyi_tracemalloc_taken_freed(&old);
        track(q, size);
    } else {
        rcyi_tracemalloc_put_back(&old); /* failed: p lives on as it was */
    }
    tls.depth = 0;
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
    if (!tracing()) {
        if (real.posix_memalign)
            return real.posix_memalign(out, align, size);
        void *p = boot_alloc(size, align);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    tls.depth = 1;
    int r = real.posix_memalign(out, align, size);
    if (r == 0)
        track(*out, size);
    tls.depth = 0;
    return r;
}

#define ALIGNED_HOOK(name, params, args, size_expr, boot_align)                                    \
    EXPORT void *name params {                                                                     \
        if (!tracing())                                                                            \
            return real.name ? real.name args : boot_alloc(size_expr, boot_align);                 \
        tls.depth = 1;                                                                             \
        void *p = real.name args;                                                                  \
        track(p, size_expr);                                                                       \
        tls.depth = 0;                                                                             \
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
    if (!cfg.preload_path || !envp)
        return envp;
    size_t n = 0, bytes = 0;
    bool have_preload = false;
    bool have[8] = {false};
    for (; envp[n]; n++) {
        if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0) {
            have_preload = strstr(envp[n], cfg.preload_path) != NULL;
            bytes += strlen(envp[n]) + 2;
        }
        for (size_t k = 0; k < cfg.nenv_keep; k++) {
            size_t klen = strcspn(cfg.env_store[k], "=") + 1;
            if (strncmp(envp[n], cfg.env_store[k], klen) == 0)
                have[k] = true;
        }
    }
    bool complete = have_preload;
    for (size_t k = 0; k < cfg.nenv_keep; k++)
        complete = complete && have[k];
    if (complete)
        return envp;
    bytes += strlen(cfg.preload_path) + 16;
    *maplen = (n + cfg.nenv_keep + 2) * sizeof(char *) + bytes;
    char **out = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (out == MAP_FAILED)
        return envp;
    *map = out;
    char *strs = (char *)(out + n + cfg.nenv_keep + 2);
    size_t o = 0;
    bool preload_done = false;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0) {
            if (!have_preload) {
                sprintf(strs, "LD_PRELOAD=%s:%s", cfg.preload_path, envp[i] + 11);
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
        sprintf(strs, "LD_PRELOAD=%s", cfg.preload_path);
        out[o++] = strs;
    }
    for (size_t k = 0; k < cfg.nenv_keep; k++)
        if (!have[k])
            out[o++] = cfg.env_store[k];
    out[o] = NULL;
    return out;
}

static void unmap_env(void *map, size_t len) {
    if (map)
        munmap(map, len);
}

static void ensure_resolved(void) {
    if (!real.execve) {
        if (atomic_load(&mode) == MODE_UNINIT)
            init();
        if (!real.execve)
            resolve();
    }
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    ensure_resolved();
    void *map;
    size_t len = 0;
    char *const *env = fix_env(envp, &map, &len);
    int r = real.execve(path, argv, env);
    int e = errno;
    unmap_env(map, len);
    errno = e;
    return r;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    ensure_resolved();
    void *map;
    size_t len = 0;
    char *const *env = fix_env(envp, &map, &len);
    int r = real.execvpe(file, argv, env);
    int e = errno;
    unmap_env(map, len);
    errno = e;
    return r;
}

EXPORT int execv(const char *path, char *const argv[]) {
    return execve(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[]) {
    return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    ensure_resolved();
    void *map;
    size_t len = 0;
    char *const *env = fix_env(envp, &map, &len);
    int r = real.fexecve(fd, argv, env);
    int e = errno;
    unmap_env(map, len);
    errno = e;
    return r;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    ensure_resolved();
    void *map;
    size_t len = 0;
    char *const *env = fix_env(envp, &map, &len);
    int r = real.posix_spawn(pid, path, fa, attr, argv, env);
    unmap_env(map, len);
    return r;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    ensure_resolved();
    void *map;
    size_t len = 0;
    char *const *env = fix_env(envp, &map, &len);
    int r = real.posix_spawnp(pid, file, fa, attr, argv, env);
    unmap_env(map, len);
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
