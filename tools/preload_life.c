/* tools/preload_life.c — librecycle-preload.so's process life cycle: the
 * start-up (the real functions, the configuration of tools/run_contract.h,
 * the tracer), fork children, the exit status, and the terminating signals
 * that still get their file; and "write the snapshot once per process
 * image", from whichever of the destructor, _exit or a signal comes first.
 * The invariants are in tools/preload.h. */
#define _GNU_SOURCE
#include "preload.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

preload_real_fns preload_real;
_Atomic int preload_mode = MODE_UNINIT;
__thread preload_thread preload_tls __attribute__((tls_model("initial-exec")));
preload_config preload_cfg;
preload_writer_state preload_writer;

static volatile sig_atomic_t exit_known;
static int exit_status;
static int finish_signal; /* the signal that ended the process, or 0 */
/* This process's pid as of init or the last fork: a vfork child (which
 * shares our memory and runs no atfork handler) has another one, and must
 * never write a snapshot or change our state. */
static pid_t self_pid;

/* A RCY_RUN_* number, or dflt when unset, junk or out of range. */
static long env_long(const char *name, long dflt, long lo, long hi) {
    long v;
    return rcy_run_parse_long(getenv(name), lo, hi, &v) ? v : dflt;
}

/* ---- writing once per image ---------------------------------------- */

/* Write the snapshot once per process image, from whichever path comes
 * first: the library destructor, _exit, or a terminating signal. */
static void finish(void) {
    if (self_pid != 0 && getpid() != self_pid)
        return; /* a vfork child: the memory is the parent's */
    int m = atomic_load(&preload_mode);
    for (;;) {
        if (m == MODE_DONE) {
            /* Another thread writes (the sampler, for a signal): the
             * process must not end before the file is in place. */
            for (int i = 0; i < 60000 && !atomic_load(&preload_writer.written); i++)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
            return;
        }
        if (m != MODE_TRACING && m != MODE_CHILD)
            return;
        if (atomic_compare_exchange_weak(&preload_mode, &m, MODE_DONE))
            break;
    }
    preload_tls.depth++;
    preload_sampler_stop();
    preload_write_snapshot(finish_signal, exit_known, exit_status);
    atomic_store(&preload_writer.written, true);
    preload_tls.depth--;
}

/* In the sampler thread: the snapshot for a terminating signal, then the
 * signal again, now with its default action (SA_RESETHAND restored it). */
void preload_write_on_signal(int sig) {
    finish_signal = sig;
    finish();
    if (!preload_writer.handler_raises)
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
    preload_tls.depth++;
    on_exit(on_exit_status, NULL);
    preload_tls.depth--;
    /* Where main's frame begins: once main has returned, the exit that
     * __libc_start_call_main makes runs its frames from here down. */
    preload_main_frame((uintptr_t)__builtin_frame_address(0));
    return program_main(argc, argv, envp); /* a tail call: no frame of ours in stacks */
}

/* The program's own calls to exit (libc's, after main returns, does not
 * come through here): main may still be running then, and its frame is
 * live. */
EXPORT __attribute__((noreturn)) void exit(int status) {
    static void (*real_exit)(int) __attribute__((noreturn));
    preload_exit_called();
    if (!real_exit)
        *(void **)&real_exit = dlsym(RTLD_NEXT, "exit");
    if (real_exit)
        real_exit(status);
    _exit(status);
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
    preload_exit_called(); /* main may still be running: its frame is live */
    if (self_pid != 0 && getpid() == self_pid) {
        exit_status = status;
        exit_known = 1;
        finish();
    }
    if (preload_real.exit_now)
        preload_real.exit_now(status);
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
    if (atomic_load(&preload_writer.alive) && getpid() == self_pid) {
        /* Mark and wake the writer; never write here. */
        bool inside = preload_tls.depth != 0;
        preload_writer.handler_raises = !inside;
        preload_writer.signal = sig;
        sem_post(&preload_writer.wake);
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
        for (int i = 0; i < 30000 && !atomic_load(&preload_writer.written); i++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        errno = saved;
        raise(sig);
        return;
    }
    /* No writer thread (a fork child that has not allocated yet): write
     * here, unless interrupted inside an allocation or inside recycle,
     * where the allocator's locks may be held: no file then rather than a
     * deadlock. */
    if (preload_tls.depth == 0) {
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
        if (preload_real.sigaction(dump_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESETHAND | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        preload_real.sigaction(dump_signals[i], &sa, NULL);
    }
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!preload_real.sigaction) {
        *(void **)&preload_real.sigaction = dlsym(RTLD_NEXT, "sigaction");
        if (!preload_real.sigaction) {
            errno = ENOSYS;
            return -1;
        }
    }
    int r = preload_real.sigaction(sig, act, old);
    if (r == 0 && old && is_dump_signal(sig) && !(old->sa_flags & SA_SIGINFO) &&
        old->sa_handler == on_signal) {
        memset(old, 0, sizeof *old);
        old->sa_handler = SIG_DFL;
        sigemptyset(&old->sa_mask);
    }
    return r;
}

EXPORT sighandler_t signal(int sig, sighandler_t handler) {
    if (!preload_real.signal) {
        *(void **)&preload_real.signal = dlsym(RTLD_NEXT, "signal");
        if (!preload_real.signal)
            return SIG_ERR;
    }
    sighandler_t old = preload_real.signal(sig, handler);
    if (old == on_signal)
        old = SIG_DFL;
    return old;
}

/* ---- start-up ----------------------------------------------------- */

static void keep_env(const char *name) {
    const char *v = getenv(name);
    if (!v ||
        preload_cfg.nenv_keep >= sizeof preload_cfg.env_store / sizeof preload_cfg.env_store[0])
        return;
    char *slot = preload_cfg.env_store[preload_cfg.nenv_keep];
    int n = snprintf(slot, sizeof preload_cfg.env_store[0], "%s=%s", name, v);
    if (n > 0 && (size_t)n < sizeof preload_cfg.env_store[0])
        preload_cfg.nenv_keep++;
}

static void atfork_child(void) {
    /* The child has the parent's traces (its heap is a copy) and goes on
     * into its own file; its sampler starts at its first allocation. */
    int expect = MODE_TRACING;
    atomic_compare_exchange_strong(&preload_mode, &expect,
                                   preload_cfg.follow ? MODE_CHILD : MODE_OFF);
    preload_sampler_after_fork();
    preload_threads_after_fork();
    sem_init(&preload_writer.wake, 0, 0);
    atomic_store(&preload_writer.alive, false); /* threads do not survive fork */
    preload_writer.signal = 0;
    self_pid = getpid();
}

void preload_resolve(void) {
#define RESOLVE(name) (*(void **)&preload_real.name = dlsym(RTLD_NEXT, #name))
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
    if (!preload_real.sigaction)
        RESOLVE(sigaction);
    if (!preload_real.signal)
        RESOLVE(signal);
    RESOLVE(pthread_create);
    *(void **)&preload_real.exit_now = dlsym(RTLD_NEXT, "_exit");
    /* malloc last: it is what the hooks test to leave the bootstrap path. */
    RESOLVE(malloc);
#undef RESOLVE
}

/* The RCY_RUN_* variables of tools/run_contract.h into preload_cfg. */
static void read_config(void) {
    const char *out = getenv(RCY_RUN_OUTPUT);
    if (out && strlen(out) < sizeof preload_cfg.output)
        strcpy(preload_cfg.output, out);
    preload_cfg.main_pid = (pid_t)env_long(RCY_RUN_MAIN_PID, (long)getpid(), 1, INT_MAX);
    preload_cfg.frames = (int)env_long(RCY_RUN_FRAMES, RCY_RUN_FRAMES_DEFAULT, RCY_RUN_FRAMES_MIN,
                                       RCY_RUN_FRAMES_MAX);
    preload_cfg.interval_ms = (unsigned)env_long(RCY_RUN_INTERVAL_MS, RCY_RUN_INTERVAL_MS_DEFAULT,
                                                 0, RCY_RUN_INTERVAL_MS_MAX);
    const char *t0 = getenv(RCY_RUN_START_NS);
    preload_cfg.start_ns = t0 ? strtoull(t0, NULL, 10) : 0;
    if (preload_cfg.start_ns == 0 || preload_cfg.start_ns > preload_now_ns())
        preload_cfg.start_ns = preload_now_ns();
    preload_cfg.preload_path = getenv(RCY_RUN_PRELOAD);
    static const char *const keep[RCY_RUN_NVARIABLES] = RCY_RUN_VARIABLES;
    for (size_t i = 0; i < RCY_RUN_NVARIABLES; i++)
        keep_env(keep[i]);
    preload_cfg.follow = env_long(RCY_RUN_FOLLOW, RCY_RUN_FOLLOW_DEFAULT, 0, 1) != 0;
}

void preload_init(void) {
    int expect = MODE_UNINIT;
    if (!atomic_compare_exchange_strong(&preload_mode, &expect, MODE_RESOLVING))
        return;
    preload_tls.depth++;
    preload_resolve();
    if (!preload_real.malloc || !preload_real.free || !preload_real.calloc ||
        !preload_real.realloc) {
        atomic_store(&preload_mode, MODE_OFF);
        preload_tls.depth--;
        return;
    }
    read_config();
    if (!preload_cfg.follow && getpid() != preload_cfg.main_pid) {
        atomic_store(&preload_mode, MODE_OFF); /* --no-follow: not the first process */
        preload_tls.depth--;
        return;
    }

    if (rcy_tracemalloc_start(preload_cfg.frames) != 0) {
        atomic_store(&preload_mode, MODE_OFF);
        preload_tls.depth--;
        return;
    }
    rcy_tracemalloc_keep_peak(true);
    sem_init(&preload_writer.wake, 0, 0);
    self_pid = getpid();
    pthread_atfork(NULL, NULL, atfork_child);
    atomic_store(&preload_mode, MODE_TRACING);
    preload_tls.depth--;
}

/* CPython serves most objects from pymalloc's own pools, in arenas it
 * maps itself: recycle sees none of them.  Say so once per process, with
 * the way to see them. */
static void warn_pymalloc(void) {
    preload_tls.depth++;
    const char *pm = getenv("PYTHONMALLOC");
    bool sees_all = pm && (strcmp(pm, "malloc") == 0 || strcmp(pm, "malloc_debug") == 0);
    if (!sees_all && dlsym(RTLD_DEFAULT, "Py_Initialize") && dlsym(RTLD_DEFAULT, "PyObject_Malloc"))
        fprintf(stderr, "recycle: this is CPython: the objects pymalloc allocates (most of "
                        "them) are invisible to recycle; run with recycle run --python-malloc "
                        "(PYTHONMALLOC=malloc) to trace every object\n");
    preload_tls.depth--;
}

__attribute__((constructor)) static void preload_ctor(void) {
    preload_init();
    if (atomic_load(&preload_mode) != MODE_TRACING)
        return;
    warn_pymalloc();
    preload_tls.depth++;
    preload_thread_register(); /* the main thread, for the leak scan */
    preload_tls.depth--;
    preload_take_sample();
    install_signal_handlers();
    preload_start_sampler();
}

bool preload_settle(void) {
    if (preload_tls.depth)
        return false;
    int m = atomic_load_explicit(&preload_mode, memory_order_relaxed);
    if (m == MODE_UNINIT) {
        preload_init();
    } else if (m == MODE_CHILD) {
        int expect = MODE_CHILD;
        if (atomic_compare_exchange_strong(&preload_mode, &expect, MODE_TRACING))
            preload_start_sampler();
    }
    return atomic_load_explicit(&preload_mode, memory_order_relaxed) == MODE_TRACING;
}
