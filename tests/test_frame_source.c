/* tests/test_frame_source.c — the frame-source hook: an interpreter's own
 * frames in tracebacks, snapshots, statistics and dumped files; native
 * mode; a source returning no frames; the tracer off; unsetting; a source
 * that allocates. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracemalloc.h"

#define ADDR(i) ((const void *)(uintptr_t)(0x200000u + 16u * (uintptr_t)(i)))

/* A fake interpreter: a stack of (file, line, function), most recent
 * last, whose strings live in buffers it overwrites after every call, as
 * an interpreter's may die at any time. */
typedef struct script {
    size_t depth;
    struct {
        char file[32], func[32];
        unsigned line;
    } fr[8];
    unsigned calls;
    rcy_heap *alloc_in_hook; /* allocate in the hook when set */
} script;

static char scratch[8][2][32]; /* the strings the source hands out */

static size_t script_source(rcy_source_frame *out, size_t max, void *arg) {
    script *s = arg;
    s->calls++;
    if (s->alloc_in_hook) {
        void *p = rcy_mem_alloc(s->alloc_in_hook, 64);
        rcy_mem_free(s->alloc_in_hook, p);
    }
    for (size_t i = 0; i < s->depth && i < max; i++) {
        size_t k = s->depth - 1 - i;
        strcpy(scratch[i][0], s->fr[k].file);
        strcpy(scratch[i][1], s->fr[k].func);
        out[i] = (rcy_source_frame){scratch[i][0], s->fr[k].line, scratch[i][1]};
    }
    return s->depth;
}

/* The interpreter's strings change after the call: the tracer's copies
 * must not. */
static void scribble(void) {
    memset(scratch, 'x', sizeof scratch);
}

static void push(script *s, const char *file, unsigned line, const char *func) {
    snprintf(s->fr[s->depth].file, 32, "%s", file);
    snprintf(s->fr[s->depth].func, 32, "%s", func);
    s->fr[s->depth].line = line;
    s->depth++;
}

/* Named like the call site it reports, so the native frames after it
 * start at its caller (the report drops the call site's own function). */
__attribute__((noinline)) static void site_alloc(const void *p, size_t size, int line) {
    rcyi_trace_alloc(0, p, size, "site.c", line, "site_alloc");
    __asm__ volatile("" ::: "memory");
}

static int stop_tracing(void **state) {
    (void)state;
    rcy_tracemalloc_set_frame_source(NULL, NULL);
    rcy_tracemalloc_stop();
    return 0;
}

static const rcy_traceback *only_traceback(const rcy_snapshot *s) {
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    assert_int_equal(n, 1);
    return t[0].traceback;
}

static void assert_frame(const rcy_frame *f, const char *file, unsigned line, const char *func) {
    assert_string_equal(f->filename, file);
    assert_int_equal(f->lineno, line);
    if (func)
        assert_string_equal(f->function, func);
}

static void script_frames_replace_the_call_site(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "fib.lisp", 3, "<toplevel>");
    push(&sc, "fib.lisp", 12, "fib");
    assert_int_equal(rcy_tracemalloc_start(5), RCY_OK);
    assert_int_equal(rcy_tracemalloc_set_frame_source(script_source, &sc), RCY_OK);
    site_alloc(ADDR(1), 100, 40);
    sc.fr[1].line = 13; /* the interpreter moves on; its old strings change */
    strcpy(sc.fr[0].func, "changed");
    scribble();
    assert_int_equal(sc.calls, 1);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_traceback *tb = only_traceback(s);
    assert_int_equal(tb->nframe, 2);
    assert_int_equal(tb->total_nframe, 2);
    assert_frame(&tb->frames[0], "fib.lisp", 12, "fib");
    assert_frame(&tb->frames[1], "fib.lisp", 3, "<toplevel>");
    assert_int_equal(tb->frames[0].address, 0);
    /* the same frame, interned once: another allocation there shares the
     * traceback */
    sc.fr[1].line = 12;
    strcpy(sc.fr[0].func, "<toplevel>");
    site_alloc(ADDR(2), 50, 41);
    rcy_snapshot_free(s);
    s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 1);
    assert_int_equal(st->items[0].count, 2);
    char buf[128];
    rcy_statistic_format(&st->items[0], buf, sizeof buf);
    assert_non_null(strstr(buf, "fib.lisp:12: size=150 B, count=2"));
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

static void script_deeper_than_the_limit_counts_in_total(void **state) {
    (void)state;
    script sc = {0};
    for (unsigned i = 0; i < 6; i++)
        push(&sc, "deep.lisp", 10 + i, "f");
    assert_int_equal(rcy_tracemalloc_start(3), RCY_OK);
    rcy_tracemalloc_set_frame_source(script_source, &sc);
    site_alloc(ADDR(1), 10, 1);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_traceback *tb = only_traceback(s);
    assert_int_equal(tb->nframe, 3);
    assert_int_equal(tb->total_nframe, 6);
    assert_frame(&tb->frames[0], "deep.lisp", 15, "f");
    assert_frame(&tb->frames[2], "deep.lisp", 13, "f");
    rcy_snapshot_free(s);
}

static void real_allocations_get_script_frames(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "alloc.lisp", 7, "build");
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    rcy_tracemalloc_set_frame_source(script_source, &sc);
    void *p = rcy_mem_alloc(h, 48);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(p);
    assert_non_null(tb);
    assert_int_equal(tb->nframe, 1);
    assert_frame(&tb->frames[0], "alloc.lisp", 7, "build");
    rcy_traceback_free(tb);
    rcy_mem_free(h, p);
    rcy_tracemalloc_stop();
    rcy_heap_free(h);
}

static void source_is_not_called_while_the_tracer_is_off(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "off.lisp", 1, "f");
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_set_frame_source(script_source, &sc), RCY_OK);
    void *p = rcy_mem_alloc(h, 32);
    rcy_mem_free(h, p);
    site_alloc(ADDR(1), 10, 1);
    assert_int_equal(sc.calls, 0);
    /* installed before start: used once tracing starts */
    assert_int_equal(rcy_tracemalloc_start(4), RCY_OK);
    p = rcy_mem_alloc(h, 32);
    assert_int_equal(sc.calls, 1);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(p);
    assert_frame(&tb->frames[0], "off.lisp", 1, "f");
    rcy_traceback_free(tb);
    rcy_mem_free(h, p);
    rcy_tracemalloc_stop();
    p = rcy_mem_alloc(h, 32);
    rcy_mem_free(h, p);
    assert_int_equal(sc.calls, 1);
    rcy_heap_free(h);
}

static void source_with_no_frames_leaves_the_native_traceback(void **state) {
    (void)state;
    script sc = {0}; /* depth 0: no script running */
    rcy_tracemalloc_set_frame_source(script_source, &sc);
    for (int limit = 1; limit <= 8; limit += 7) {
        assert_int_equal(rcy_tracemalloc_start(limit), RCY_OK);
        site_alloc(ADDR(1), 10, 77);
        rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
        const rcy_traceback *tb = only_traceback(s);
        assert_frame(&tb->frames[0], "site.c", 77, "site_alloc");
        if (limit > 1)
            assert_true(tb->nframe >= 2); /* the native callers follow */
        else
            assert_int_equal(tb->nframe, 1);
        rcy_snapshot_free(s);
        rcy_tracemalloc_stop();
    }
    assert_int_equal(sc.calls, 2);
}

static void native_mode_puts_script_frames_above_native_ones(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "mixed.lisp", 5, "outer");
    push(&sc, "mixed.lisp", 9, "inner");
    assert_int_equal(rcy_tracemalloc_set_frame_source_flags(script_source, &sc, 99), RCY_EINVAL);
    assert_int_equal(rcy_tracemalloc_set_frame_source_flags(script_source, &sc, RCY_FRAMES_NATIVE),
                     RCY_OK);
    void *arg;
    unsigned flags;
    assert_ptr_equal(rcy_tracemalloc_get_frame_source(&arg, &flags), script_source);
    assert_ptr_equal(arg, &sc);
    assert_int_equal(flags, RCY_FRAMES_NATIVE);
    assert_int_equal(rcy_tracemalloc_start(16), RCY_OK);
    site_alloc(ADDR(1), 10, 55);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_traceback *tb = only_traceback(s);
    assert_true(tb->nframe >= 4);
    assert_frame(&tb->frames[0], "mixed.lisp", 9, "inner");
    assert_frame(&tb->frames[1], "mixed.lisp", 5, "outer");
    assert_frame(&tb->frames[2], "site.c", 55, "site_alloc");
    bool native_test_frame = false;
    for (size_t i = 3; i < tb->nframe; i++)
        if (tb->frames[i].address && tb->frames[i].function &&
            strcmp(tb->frames[i].function, "native_mode_puts_script_frames_above_native_ones") == 0)
            native_test_frame = true;
    assert_true(native_test_frame);
    assert_true(tb->total_nframe >= tb->nframe);
    rcy_snapshot_free(s);
    /* track: the same script frames, then the native stack */
    assert_int_equal(rcy_tracemalloc_track(7, 0x1234, 10), RCY_OK);
    s = rcy_tracemalloc_take_snapshot();
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(s, &n);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (t[i].domain != 7)
            continue;
        found = true;
        assert_frame(&t[i].traceback->frames[0], "mixed.lisp", 9, "inner");
        assert_true(t[i].traceback->nframe >= 3);
        assert_int_equal(t[i].traceback->frames[2].address != 0, 1);
    }
    assert_true(found);
    rcy_snapshot_free(s);
}

static void unsetting_the_source_restores_call_sites(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "gone.lisp", 2, "f");
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    rcy_tracemalloc_set_frame_source(script_source, &sc);
    site_alloc(ADDR(1), 10, 20);
    assert_int_equal(rcy_tracemalloc_set_frame_source(NULL, &sc), RCY_OK);
    assert_null(rcy_tracemalloc_get_frame_source(NULL, NULL));
    site_alloc(ADDR(2), 10, 21);
    assert_int_equal(sc.calls, 1);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    assert_int_equal(st->len, 2);
    bool in_script = false, site = false;
    for (size_t i = 0; i < st->len; i++) {
        const rcy_frame *f = &st->items[i].traceback->frames[0];
        in_script |= strcmp(f->filename, "gone.lisp") == 0 && f->lineno == 2;
        site |= strcmp(f->filename, "site.c") == 0 && f->lineno == 21;
    }
    assert_true(in_script && site);
    rcy_stats_free(st);
    rcy_snapshot_free(s);
}

static void allocating_in_the_source_is_not_traced(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "rec.lisp", 4, "f");
    sc.alloc_in_hook = rcy_heap_new(NULL);
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(4), RCY_OK);
    rcy_tracemalloc_set_frame_source(script_source, &sc);
    void *p = rcy_mem_alloc(h, 100);
    assert_int_equal(sc.calls, 1); /* the hook's own allocation called no hook */
    size_t cur, peak;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    const rcy_traceback *tb = only_traceback(s);
    assert_frame(&tb->frames[0], "rec.lisp", 4, "f");
    rcy_snapshot_free(s);
    rcy_mem_free(h, p);
    rcy_tracemalloc_stop();
    rcy_heap_free(h);
    rcy_heap_free(sc.alloc_in_hook);
}

static void script_frames_survive_dump_and_load(void **state) {
    (void)state;
    script sc = {0};
    push(&sc, "fib.lisp", 1, "<toplevel>");
    push(&sc, "fib.lisp", 12, "fib");
    assert_int_equal(rcy_tracemalloc_start(8), RCY_OK);
    rcy_tracemalloc_set_frame_source_flags(script_source, &sc, RCY_FRAMES_NATIVE);
    site_alloc(ADDR(1), 10, 30);
    rcy_tracemalloc_set_frame_source(script_source, &sc);
    site_alloc(ADDR(2), 20, 31);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    for (int raw = 0; raw < 2; raw++) {
        char path[] = "/tmp/rcy_framesrcXXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(raw ? rcy_snapshot_dump_raw(s, path) : rcy_snapshot_dump(s, path), RCY_OK);
        int err = 0;
        rcy_snapshot *l = rcy_snapshot_load(path, &err);
        unlink(path);
        assert_non_null(l);
        size_t n;
        const rcy_trace *t = rcy_snapshot_traces(l, &n);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++) {
            const rcy_traceback *tb = t[i].traceback;
            assert_frame(&tb->frames[0], "fib.lisp", 12, "fib");
            assert_frame(&tb->frames[1], "fib.lisp", 1, "<toplevel>");
            if (t[i].size == 10) {
                assert_frame(&tb->frames[2], "site.c", 30, "site_alloc");
            } else {
                assert_int_equal(tb->nframe, 2);
            }
        }
        rcy_snapshot_free(l);
    }
    rcy_snapshot_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(script_frames_replace_the_call_site, stop_tracing),
        cmocka_unit_test_teardown(script_deeper_than_the_limit_counts_in_total, stop_tracing),
        cmocka_unit_test_teardown(real_allocations_get_script_frames, stop_tracing),
        cmocka_unit_test_teardown(source_is_not_called_while_the_tracer_is_off, stop_tracing),
        cmocka_unit_test_teardown(source_with_no_frames_leaves_the_native_traceback, stop_tracing),
        cmocka_unit_test_teardown(native_mode_puts_script_frames_above_native_ones, stop_tracing),
        cmocka_unit_test_teardown(unsetting_the_source_restores_call_sites, stop_tracing),
        cmocka_unit_test_teardown(allocating_in_the_source_is_not_traced, stop_tracing),
        cmocka_unit_test_teardown(script_frames_survive_dump_and_load, stop_tracing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
