/* tests/testutil.c — death tests, output capture, counting allocators and
 * the stress tests' seeds and nodes, for the test suite. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void rcy_expect_death_(void (*fn)(void *), void *arg, const char *expect, const char *file,
                       int line) {
    int fds[2];
    if (pipe(fds) != 0)
        fail_msg("%s:%d: pipe failed", file, line);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("%s:%d: fork failed", file, line);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        rcy_set_output(NULL, NULL);
        /* No core files from expected deaths. */
        signal(SIGABRT, SIG_DFL);
        fn(arg);
        _exit(0); /* survived: the parent reports it */
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status))
        fail_msg("%s:%d: expected the process to die, it exited with %d; stderr:\n%s", file, line,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, buf);
    if (expect && !strstr(buf, expect))
        fail_msg("%s:%d: died as expected, but stderr lacks \"%s\":\n%s", file, line, expect, buf);
}

static char *out_buf;
static size_t out_len, out_cap;

static void capture(const char *text, void *arg) {
    (void)arg;
    size_t n = strlen(text);
    if (out_len + n + 1 > out_cap) {
        size_t cap = out_cap ? out_cap * 2 : 4096;
        while (cap < out_len + n + 1)
            cap *= 2;
        char *p = realloc(out_buf, cap);
        if (!p)
            abort();
        out_buf = p;
        out_cap = cap;
    }
    memcpy(out_buf + out_len, text, n + 1);
    out_len += n;
}

void rcy_test_capture_output(void) {
    rcy_test_reset_output();
    rcy_set_output(capture, NULL);
}

const char *rcy_test_output(void) {
    return out_buf ? out_buf : "";
}

void rcy_test_reset_output(void) {
    out_len = 0;
    if (out_buf)
        out_buf[0] = '\0';
}

size_t rcy_test_bytes_in_use(rcy_heap *h) {
    rcy_mem_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(rcy_mem_get_stats(h, &st), RCY_OK);
    return st.small_bytes_used + st.large_bytes;
}

void rcy_test_snapshots_stay_exact(int rounds, int clear_every, int clear_at) {
    for (int k = 0; k < rounds; k++) {
        rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
        assert_non_null(s);
        size_t total;
        rcy_snapshot_totals(s, &total, NULL);
        assert_int_equal(total, rcy_snapshot_counters(s)->current);
        rcy_snapshot_free(s);
        size_t cur, peak;
        rcy_tracemalloc_get_traced_memory(&cur, &peak);
        assert_true(peak >= cur);
        if (clear_every > 0 && k % clear_every == clear_at)
            rcy_tracemalloc_clear_traces();
    }
}

/* ---- counting allocators ------------------------------------------------ */

long rcy_test_raw_live, rcy_test_arenas_live;

static void *c_malloc(void *ctx, size_t n) {
    (void)ctx;
    void *p = malloc(n);
    if (p)
        __atomic_fetch_add(&rcy_test_raw_live, 1, __ATOMIC_RELAXED);
    return p;
}
static void *c_calloc(void *ctx, size_t n, size_t s) {
    (void)ctx;
    void *p = calloc(n, s);
    if (p)
        __atomic_fetch_add(&rcy_test_raw_live, 1, __ATOMIC_RELAXED);
    return p;
}
static void *c_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    void *q = realloc(p, n);
    if (q && !p)
        __atomic_fetch_add(&rcy_test_raw_live, 1, __ATOMIC_RELAXED);
    return q;
}
static void c_free(void *ctx, void *p) {
    (void)ctx;
    if (p)
        __atomic_fetch_sub(&rcy_test_raw_live, 1, __ATOMIC_RELAXED);
    free(p);
}
static void *c_arena(void *ctx, size_t size, size_t align) {
    (void)ctx;
    void *p = aligned_alloc(align, size);
    if (p)
        __atomic_fetch_add(&rcy_test_arenas_live, 1, __ATOMIC_RELAXED);
    return p;
}
static void c_arena_free(void *ctx, void *p, size_t size) {
    (void)ctx, (void)size;
    __atomic_fetch_sub(&rcy_test_arenas_live, 1, __ATOMIC_RELAXED);
    free(p);
}
const rcy_raw_allocator rcy_test_counting_raw = {NULL, c_malloc, c_calloc, c_realloc, c_free};
const rcy_arena_allocator rcy_test_counting_arena = {NULL, c_arena, c_arena_free};

/* ---- the stress tests' graphs ------------------------------------------- */

int rcy_test_node_traverse(void *self, rcy_visitproc visit, void *arg) {
    rcy_test_node *n = self;
    for (int i = 0; i < RCY_TEST_FANOUT; i++)
        RCY_VISIT(n->kid[i], visit, arg);
    return 0;
}

void rcy_test_node_clear(void *self) {
    rcy_test_node *n = self;
    for (int i = 0; i < RCY_TEST_FANOUT; i++)
        RCY_CLEAR(n->kid[i]);
}

uint64_t rcy_test_seed(uint64_t fallback) {
    const char *env = getenv("RCY_STRESS_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : fallback;
    return seed ? seed : 1;
}
