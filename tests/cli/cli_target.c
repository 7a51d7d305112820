/* tests/cli/cli_target.c — a program for `recycle run` to trace, with known
 * allocations.  Built without sanitizers (the preload library must be the
 * first malloc in the process).  Modes:
 *   count            every hooked function, known numbers and sizes, and
 *                    three leaked blocks of 12345 bytes from leak_here()
 *   exit CODE        print to stdout and stderr, exit with CODE
 *   kill SIG         allocate, then kill itself with SIG
 *   _exit CODE       allocate, then end with _exit(CODE) (no destructors)
 *   threads N M      N threads doing M malloc/free pairs each
 *   fork             the child leaks 777 bytes and exits; the parent waits
 *   forkthreads N    N forks while 3 threads allocate; each child allocates
 *                    and exits (fork safety: no child may hang)
 *   exec             re-exec itself in mode "count" with an environment that
 *                    has neither LD_PRELOAD nor RCY_RUN_*
 *   loop N           N malloc/free pairs of growing sizes (for heaptrack)
 *   peak             a clear peak of 8 MiB in the middle of a 300 ms run
 *   reallocfail N    one 54321-byte block kept live, then N reallocs of it
 *                    that fail (ENOMEM); prints "reallocfail done N"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;
static void *volatile leaks[3];

__attribute__((noinline)) static void *leak_here(size_t n) {
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}

static int mode_count(void) {
    /* 1000 malloc + 1000 free */
    for (int i = 0; i < 1000; i++) {
        sink = malloc(100);
        free(sink);
    }
    /* 10 calloc, 10 realloc growing, 1 reallocarray */
    void *p = NULL;
    for (int i = 0; i < 10; i++) {
        void *c = calloc(4, 25);
        free(c);
        p = realloc(p, (size_t)(i + 1) * 64);
    }
    p = reallocarray(p, 100, 10);
    free(p);
    void *a = NULL;
    if (posix_memalign(&a, 64, 256) == 0)
        free(a);
    free(aligned_alloc(64, 128));
    free(memalign(32, 96));
    free(valloc(200));
    free(pvalloc(300));
    for (int i = 0; i < 3; i++)
        leaks[i] = leak_here(12345);
    puts("count done");
    return 0;
}

/* CLI_TARGET_READY=PATH: create PATH once an allocating loop runs (traced),
 * so a test can signal the program mid-loop however slow its start-up.
 * Only the first caller creates it. */
static void mark_ready(void) {
    static atomic_int done;
    const char *ready = getenv("CLI_TARGET_READY");
    if (!ready || atomic_exchange(&done, 1))
        return;
    int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
}

static void *thread_main(void *arg) {
    long m = (long)arg;
    for (long i = 0; i < m; i++) {
        if (i == 1000)
            mark_ready();
        void *q = malloc((size_t)(16 + i % 512));
        sink = q;
        free(q);
    }
    return NULL;
}

static int mode_threads(int n, long m) {
    pthread_t th[64];
    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, thread_main, (void *)m);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    puts("threads done");
    return 0;
}

static int mode_fork(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sink = leak_here(777);
        printf("child %ld\n", (long)getpid());
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("parent %ld\n", (long)getpid());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static volatile int stop_workers;

static void *busy_worker(void *arg) {
    (void)arg;
    unsigned k = 0;
    while (!stop_workers) {
        void *q = malloc(16 + (k++ % 4000));
        sink = q;
        free(q);
    }
    return NULL;
}

static int mode_forkthreads(int n) {
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, busy_worker, NULL);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int k = 0; k < 100; k++) {
                void *q = malloc((size_t)(1 + k * 37));
                sink = q;
                free(q);
            }
            _exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    stop_workers = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    printf("forkthreads done, %d bad\n", bad);
    return bad != 0;
}

static int mode_exec(const char *self) {
    char *argv[] = {(char *)self, (char *)"count", NULL};
    char *envp[] = {(char *)"PATH=/usr/bin:/bin", (char *)"CLI_TARGET_EXECED=1", NULL};
    execve(self, argv, envp);
    perror("execve");
    return 1;
}

static int mode_loop(long n) {
    for (long i = 0; i < n; i++) {
        if (i == 1000)
            mark_ready();
        void *q = malloc((size_t)(1 + (i * 7919) % 4096));
        sink = q;
        if (i % 3 == 0) {
            q = realloc(q, (size_t)(64 + i % 1000));
            sink = q;
        }
        free(q);
    }
    /* A staircase of live blocks so the peak is well defined. */
    void *keep[1000];
    for (int i = 0; i < 1000; i++)
        keep[i] = calloc(1, (size_t)(100 + i));
    for (int i = 0; i < 1000; i++)
        free(keep[i]);
    puts("loop done");
    return 0;
}

static int mode_peak(void) {
    struct timespec ms50 = {0, 50 * 1000 * 1000};
    void *small = malloc(1 << 20);
    memset(small, 1, 1 << 20);
    nanosleep(&ms50, NULL);
    nanosleep(&ms50, NULL);
    void *big = malloc(8 << 20);
    memset(big, 1, 8 << 20);
    nanosleep(&ms50, NULL);
    nanosleep(&ms50, NULL);
    free(big);
    nanosleep(&ms50, NULL);
    nanosleep(&ms50, NULL);
    free(small);
    puts("peak done");
    return 0;
}

static int mode_reallocfail(long n) {
    static volatile size_t huge = SIZE_MAX / 2; /* glibc refuses: ENOMEM */
    char *p = malloc(54321);                    /* reallocfail: the block's line */
    memset(p, 1, 54321);
    long failed = 0;
    for (long i = 0; i < n; i++) {
        void *q = realloc(p, huge);
        if (q) {
            free(q);
            return 1;
        }
        failed++;
    }
    sink = p;
    printf("reallocfail done %ld\n", failed);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "count";
    if (strcmp(mode, "count") == 0)
        return mode_count();
    if (strcmp(mode, "exit") == 0) {
        printf("to stdout\n");
        fprintf(stderr, "to stderr\n");
        return argc > 2 ? atoi(argv[2]) : 0;
    }
    if (strcmp(mode, "kill") == 0) {
        sink = leak_here(4242);
        fflush(stdout);
        raise(argc > 2 ? atoi(argv[2]) : SIGTERM);
        return 99;
    }
    if (strcmp(mode, "_exit") == 0) {
        sink = leak_here(5555);
        fflush(stdout);
        _exit(argc > 2 ? atoi(argv[2]) : 0);
    }
    if (strcmp(mode, "threads") == 0)
        return mode_threads(argc > 2 ? atoi(argv[2]) : 4, argc > 3 ? atol(argv[3]) : 10000);
    if (strcmp(mode, "fork") == 0)
        return mode_fork();
    if (strcmp(mode, "forkthreads") == 0)
        return mode_forkthreads(argc > 2 ? atoi(argv[2]) : 50);
    if (strcmp(mode, "exec") == 0)
        return mode_exec(argv[0]);
    if (strcmp(mode, "loop") == 0)
        return mode_loop(argc > 2 ? atol(argv[2]) : 100000);
    if (strcmp(mode, "peak") == 0)
        return mode_peak();
    if (strcmp(mode, "reallocfail") == 0)
        return mode_reallocfail(argc > 2 ? atol(argv[2]) : 1);
    fprintf(stderr, "cli_target: unknown mode %s\n", mode);
    return 2;
}
