/* tools/preload_dump.c — librecycle-preload.so's output: the sampler
 * thread that records the timeline (traced memory and RSS every
 * RCY_RUN_INTERVAL_MS, downsampled in place past SAMPLES_MAX), and the
 * snapshot file with its facts (command, pid, exit status, peak RSS),
 * written through the library's one writer (a temporary renamed into
 * place).  The invariants are in tools/preload.h. */
#define _GNU_SOURCE
#include "preload.h"

#include "tracemalloc.h" /* the snapshot with its blocks' addresses */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- timeline ----------------------------------------------------- */

static struct {
    pthread_mutex_t lock;
    rcy_sample *buf; /* mmap'd: the tracer's rule, no malloc here */
    size_t len, cap;
    unsigned stride; /* keep every stride-th tick after downsampling */
    unsigned tick;
    _Atomic bool stop;
} samples = {.lock = PTHREAD_MUTEX_INITIALIZER, .stride = 1};

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
    uint64_t t = preload_now_ns();
    samples.buf[samples.len++] =
        (rcy_sample){.time_ns = t > preload_cfg.start_ns ? t - preload_cfg.start_ns : 0,
                     .current = cur,
                     .peak = peak,
                     .rss = rss};
}

void preload_take_sample(void) {
    pthread_mutex_lock(&samples.lock);
    sample_locked();
    pthread_mutex_unlock(&samples.lock);
}

/* The sampler thread samples every interval_ms (when not 0) and is the
 * writer a terminating signal wakes (see on_signal). */
static void *sampler_main(void *arg) {
    (void)arg;
    preload_tls.depth = 1; /* this thread is part of recycle: never traced */
    atomic_store(&preload_writer.alive, true);
    while (!atomic_load(&samples.stop)) {
        int r;
        if (preload_cfg.interval_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)preload_cfg.interval_ms * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            r = sem_clockwait(&preload_writer.wake, CLOCK_MONOTONIC, &ts);
        } else {
            r = sem_wait(&preload_writer.wake);
        }
        if (preload_writer.signal) {
            preload_write_on_signal(preload_writer.signal);
            break;
        }
        if (atomic_load(&samples.stop))
            break;
        if (r != 0 && preload_cfg.interval_ms) {
            pthread_mutex_lock(&samples.lock);
            if (++samples.tick % samples.stride == 0)
                sample_locked();
            pthread_mutex_unlock(&samples.lock);
        }
    }
    atomic_store(&preload_writer.alive, false);
    return NULL;
}

void preload_start_sampler(void) {
    preload_tls.depth++;
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
    preload_tls.depth--;
}

void preload_sampler_stop(void) {
    atomic_store(&samples.stop, true);
}

void preload_sampler_after_fork(void) {
    pthread_mutex_init(&samples.lock, NULL);
}

/* ---- writing the snapshot ----------------------------------------- */

/* This process's file: tools/run_contract.h's name for it. */
static void output_path(char *buf, size_t len) {
    pid_t pid = getpid();
    char tag[64];
    cli_program_tag(program_invocation_short_name, tag, sizeof tag);
    rcy_run_output_name(buf, len, preload_cfg.output, tag, (long)pid, pid == preload_cfg.main_pid);
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

/* The calling thread's CPU time: the leak scan's cost apart from the load. */
static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void preload_write_snapshot(int finish_signal, bool exit_known, int exit_status) {
    char path[PATH_MAX];
    output_path(path, sizeof path);
    preload_take_sample();

    uintptr_t *addrs = NULL;
    rcy_snapshot *s = rcyi_tracemalloc_take_snapshot_addrs(&addrs);
    if (!s) {
        fprintf(stderr, "recycle: could not take the snapshot for %s\n", path);
        return;
    }
    uint64_t t0 = preload_now_ns(), c0 = thread_cpu_ns();
    /* After a terminating signal the program's threads go on allocating
     * and freeing while the file is written (the interrupted one may be
     * inside malloc): a block freed under the scan, or a heap trimmed by
     * brk, could fault it.  No classes then (the report lists every block
     * as still allocated). */
    if (!finish_signal)
        preload_leak_classes(s, addrs);
    uint64_t scan_us = (preload_now_ns() - t0) / 1000, cpu_us = (thread_cpu_ns() - c0) / 1000;
    free(addrs);
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
    snprintf(num, sizeof num, "%u", preload_cfg.interval_ms * samples.stride);
    rcy_snapshot_set_info(s, "interval_ms", num);
    snprintf(num, sizeof num, "%d", preload_cfg.frames);
    rcy_snapshot_set_info(s, "frames", num);
    snprintf(num, sizeof num, "%" PRIu64 ".%03u ms (CPU %" PRIu64 ".%03u ms)", scan_us / 1000,
             (unsigned)(scan_us % 1000), cpu_us / 1000, (unsigned)(cpu_us % 1000));
    rcy_snapshot_set_info(s, "leak_scan", num);
    rcy_snapshot_set_info(s, "tool", "recycle run " RCY_VERSION_STRING);

    /* rcy_file_write's temporary and rename: a reader never sees half a
     * file, even if the process is killed while writing. */
    int err = rcy_snapshot_dump_raw(s, path); /* resolved by the reader */
    if (err != 0)
        fprintf(stderr, "recycle: cannot write %s: %s\n", path,
                err == RCY_EIO ? strerror(errno) : rcy_strerror(err));
    rcy_snapshot_free(s);
}
