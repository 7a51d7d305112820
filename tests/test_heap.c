/* tests/test_heap.c — heaps and options: configuration, the raw allocator
 * hook, the debug report of live objects at teardown, RCY_* environment
 * options, and several heaps in several threads at once. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "options.h"

static void config_init_sets_defaults(void **state) {
    (void)state;
    rcy_config cfg;
    memset(&cfg, 0x5A, sizeof cfg);
    rcy_config_init(&cfg);
    assert_int_equal(cfg.size, sizeof cfg);
    assert_int_equal(cfg.version, RCY_CONFIG_VERSION);
    assert_int_equal(cfg.debug, -1);
    assert_null(cfg.raw);
    rcy_config_init(NULL); /* harmless */
}

static void heap_new_with_null_config_works(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    rcy_int *i = rcy_int_new(h, 3);
    assert_ptr_equal(rcy_heap_of(i), h);
    rcy_decref(i);
    rcy_heap_free(h);
    rcy_heap_free(NULL); /* harmless */
}

static void heap_new_rejects_bad_configs(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.version = RCY_CONFIG_VERSION + 1;
    assert_null(rcy_heap_new(&cfg));
    rcy_config_init(&cfg);
    cfg.size = 3;
    assert_null(rcy_heap_new(&cfg));
    rcy_config_init(&cfg);
    rcy_raw_allocator half = {0};
    half.malloc = NULL;
    cfg.raw = &half;
    assert_null(rcy_heap_new(&cfg));
}

/* ---- a counting raw allocator ---- */

typedef struct counting {
    long mallocs, frees, live;
} counting;

static void *c_malloc(void *ctx, size_t n) {
    counting *c = ctx;
    void *p = malloc(n);
    if (p)
        c->mallocs++, c->live++;
    return p;
}
static void *c_calloc(void *ctx, size_t n, size_t s) {
    counting *c = ctx;
    void *p = calloc(n, s);
    if (p)
        c->mallocs++, c->live++;
    return p;
}
static void *c_realloc(void *ctx, void *p, size_t n) {
    counting *c = ctx;
    void *q = realloc(p, n);
    if (q && !p)
        c->mallocs++, c->live++;
    return q;
}
static void c_free(void *ctx, void *p) {
    counting *c = ctx;
    if (p)
        c->frees++, c->live--;
    free(p);
}

static void custom_raw_allocator_serves_large_blocks_and_gets_all_back(void **state) {
    (void)state;
    counting c = {0, 0, 0};
    rcy_raw_allocator raw = {&c, c_malloc, c_calloc, c_realloc, c_free};
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.raw = &raw;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    long before = c.mallocs;
    rcy_list *l = rcy_list_new(h);
    for (int i = 0; i < 1000; i++) { /* the item array grows past 512 bytes */
        rcy_int *v = rcy_int_new(h, i);
        assert_int_equal(rcy_list_append(l, v), RCY_OK);
        rcy_decref(v);
    }
    assert_true(c.mallocs > before);
    rcy_decref(l);
    rcy_heap_free(h);
    assert_int_equal(c.live, 0);
}

/* ---- a counting arena allocator ---- */

#define MAX_ARENAS 256

typedef struct arena_hook {
    long allocs, frees, bad_frees;
    size_t misalign; /* 0: aligned blocks; else the offset given out */
    void *live[MAX_ARENAS];
    void *raw[MAX_ARENAS]; /* what malloc returned, for the misaligned case */
} arena_hook;

static void *h_alloc(void *ctx, size_t size, size_t align) {
    arena_hook *c = ctx;
    assert_int_equal(size, RCY_ARENA_SIZE);
    assert_int_equal(align, RCY_ARENA_SIZE);
    for (int i = 0; i < MAX_ARENAS; i++) {
        if (c->live[i])
            continue;
        void *p = NULL;
        if (posix_memalign(&p, align, size + c->misalign) != 0)
            return NULL;
        c->raw[i] = p;
        c->live[i] = (char *)p + c->misalign;
        c->allocs++;
        return c->live[i];
    }
    return NULL;
}
static void h_free(void *ctx, void *p, size_t size) {
    arena_hook *c = ctx;
    assert_int_equal(size, RCY_ARENA_SIZE);
    for (int i = 0; i < MAX_ARENAS; i++) {
        if (c->live[i] == p) {
            free(c->raw[i]);
            c->live[i] = NULL;
            c->frees++;
            return;
        }
    }
    c->bad_frees++;
}
static bool from_hook(const arena_hook *c, const void *p) {
    uintptr_t base = (uintptr_t)p & ~(uintptr_t)(RCY_ARENA_SIZE - 1);
    for (int i = 0; i < MAX_ARENAS; i++)
        if ((uintptr_t)c->live[i] == base)
            return true;
    return false;
}

static rcy_heap *heap_with_arena_hook(arena_hook *c) {
    static rcy_arena_allocator hook = {NULL, h_alloc, h_free};
    hook.ctx = c;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 0;
    cfg.arena = &hook;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static void arenas_come_from_the_arena_allocator_and_go_back_to_it(void **state) {
    (void)state;
    arena_hook c = {0};
    rcy_heap *h = heap_with_arena_hook(&c);
    assert_int_equal(c.allocs, 0);
    enum { N = 8 * 2048 }; /* 512-byte blocks: ~8 arenas, past the huge-page pairs */
    void **v = malloc(N * sizeof *v);
    rcy_int *obj = rcy_int_new(h, 1);
    assert_true(from_hook(&c, obj));
    for (size_t i = 0; i < N; i++) {
        v[i] = rcy_mem_alloc(h, 512);
        assert_true(from_hook(&c, v[i]));
    }
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_true(st.arenas >= 8);
    assert_int_equal(c.allocs, (long)st.arenas_allocated);
    for (size_t i = 0; i < N; i++)
        rcy_mem_free(h, v[i]);
    rcy_mem_get_stats(h, &st);
    /* Arenas the cache did not keep went back to the hook, the others
     * are still out. */
    assert_true(c.frees > 0);
    assert_int_equal(c.frees, (long)st.arenas_reclaimed);
    assert_int_equal(c.allocs - c.frees, (long)st.arenas);
    rcy_decref(obj);
    rcy_heap_free(h);
    assert_int_equal(c.allocs, c.frees);
    assert_int_equal(c.bad_frees, 0);
    free(v);
}

/* Arenas kept in the cache are the hook's: a rebuild takes them again
 * instead of asking for new ones; without the cache it asks each time,
 * and every one goes back. */
static long hook_allocs_for_rebuilds(long long cache_pct) {
    rcyi_option_set(RCYI_OPTION_ARENA_CACHE, cache_pct);
    arena_hook c = {0};
    rcy_heap *h = heap_with_arena_hook(&c);
    enum { BASE = 16 * 2048, BURST = 4 * 2048 };
    void **base = malloc(BASE * sizeof *base), **burst = malloc(BURST * sizeof *burst);
    for (size_t i = 0; i < BASE; i++)
        base[i] = rcy_mem_alloc(h, 512);
    long first = 0;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < BURST; i++)
            burst[i] = rcy_mem_alloc(h, 512);
        for (size_t i = 0; i < BURST; i++)
            rcy_mem_free(h, burst[i]);
        if (round == 0)
            first = c.allocs;
    }
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_int_equal(c.allocs - c.frees, (long)st.arenas); /* cached ones included */
    for (size_t i = 0; i < BASE; i++)
        rcy_mem_free(h, base[i]);
    rcy_heap_free(h);
    assert_int_equal(c.allocs, c.frees);
    assert_int_equal(c.bad_frees, 0);
    free(base);
    free(burst);
    rcyi_option_reset(RCYI_OPTION_ARENA_CACHE);
    return c.allocs - first;
}

static void the_arena_cache_keeps_the_hooks_arenas(void **state) {
    (void)state;
    assert_int_equal(hook_allocs_for_rebuilds(25), 0);
    assert_true(hook_allocs_for_rebuilds(0) >= 3 * 3);
}

static void a_misaligned_arena_is_refused_and_given_back(void **state) {
    (void)state;
    arena_hook c = {0};
    c.misalign = 64;
    rcy_heap *h = heap_with_arena_hook(&c);
    rcy_gc_set_emergency(h, false);
    rcy_test_capture_output();
    assert_null(rcy_int_new(h, 1));
    assert_non_null(strstr(rcy_test_output(), "not aligned to 1048576 bytes"));
    rcy_set_output(NULL, NULL);
    assert_int_equal(c.allocs, 1);
    assert_int_equal(c.frees, 1);
    rcy_heap_free(h);
    assert_int_equal(c.bad_frees, 0);
}

static void a_config_with_an_incomplete_arena_allocator_is_rejected(void **state) {
    (void)state;
    rcy_arena_allocator half = {NULL, h_alloc, NULL};
    rcy_config cfg;
    rcy_config_init(&cfg);
    assert_null(cfg.arena);
    cfg.arena = &half;
    assert_null(rcy_heap_new(&cfg));
    /* A version-1 config (no arena field) still works: mmap'd arenas. */
    cfg.size = offsetof(rcy_config, arena);
    cfg.version = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    rcy_int *i = rcy_int_new(h, 3);
    assert_non_null(i);
    rcy_decref(i);
    rcy_heap_free(h);
}

/* ---- user data ---- */

static void each_heap_keeps_its_own_userdata(void **state) {
    (void)state;
    rcy_heap *a = rcy_heap_new(NULL), *b = rcy_heap_new(NULL);
    int x, y;
    assert_null(rcy_heap_get_userdata(a));
    rcy_heap_set_userdata(a, &x);
    rcy_heap_set_userdata(b, &y);
    assert_ptr_equal(rcy_heap_get_userdata(a), &x);
    assert_ptr_equal(rcy_heap_get_userdata(b), &y);
    rcy_gc_collect(a, 2); /* recycle never touches it */
    assert_ptr_equal(rcy_heap_get_userdata(a), &x);
    rcy_heap_set_userdata(a, NULL);
    assert_null(rcy_heap_get_userdata(a));
    rcy_test_capture_output();
    rcy_heap_set_userdata(NULL, &x);
    assert_null(rcy_heap_get_userdata(NULL));
    assert_non_null(strstr(rcy_test_output(), "heap is NULL"));
    rcy_set_output(NULL, NULL);
    rcy_heap_free(a);
    rcy_heap_free(b);
}

/* ---- debug report at teardown ---- */

static const rcy_type thing_type = {.name = "Thing", .size = 24};

static void debug_heap_free_lists_live_objects(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    void *a = rcy_new(h, &thing_type);
    void *b = rcy_new(h, &thing_type);
    void *imm = rcy_new(h, &thing_type);
    rcy_immortalize(imm);
    rcy_incref(b);
    char want_a[64], want_b[64];
    snprintf(want_a, sizeof want_a, "<Thing object at %p> refcount=1", a);
    snprintf(want_b, sizeof want_b, "<Thing object at %p> refcount=2", b);
    rcy_test_capture_output();
    rcy_heap_free(h);
    const char *out = rcy_test_output();
    rcy_set_output(NULL, NULL);
    assert_non_null(strstr(out, "freed with objects still alive"));
    assert_non_null(strstr(out, want_a));
    assert_non_null(strstr(out, want_b));
    assert_non_null(strstr(out, "2 objects still alive (plus 1 immortal)"));
}

static void quiet_heap_free_says_nothing(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 0;
    rcy_heap *h = rcy_heap_new(&cfg);
    (void)rcy_new(h, &thing_type);
    rcy_test_capture_output();
    rcy_heap_free(h);
    assert_string_equal(rcy_test_output(), "");
    rcy_set_output(NULL, NULL);

    rcy_config_init(&cfg);
    cfg.debug = 1;
    h = rcy_heap_new(&cfg); /* debug, but nothing alive */
    rcy_decref(rcy_new(h, &thing_type));
    rcy_test_capture_output();
    rcy_heap_free(h);
    assert_string_equal(rcy_test_output(), "");
    rcy_set_output(NULL, NULL);
}

static void many_live_objects_are_summarised(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    for (int i = 0; i < 70; i++)
        (void)rcy_new(h, &thing_type);
    rcy_test_capture_output();
    rcy_heap_free(h);
    assert_non_null(strstr(rcy_test_output(), "... and 20 more"));
    assert_non_null(strstr(rcy_test_output(), "70 objects still alive"));
    rcy_set_output(NULL, NULL);
}

/* ---- options from the environment ---- */

static void debug_option_is_read_from_rcy_debug(void **state) {
    (void)state;
    setenv("RCY_DEBUG", "1", 1);
    rcyi_option_reset(RCYI_OPTION_DEBUG);
    assert_true(rcyi_option_debug());
    rcy_heap *h = rcy_heap_new(NULL);
    assert_true(h->debug);
    rcy_heap_free(h);
    setenv("RCY_DEBUG", "off", 1);
    rcyi_option_reset(RCYI_OPTION_DEBUG);
    assert_false(rcyi_option_debug());
    h = rcy_heap_new(NULL);
    assert_false(h->debug);
    rcy_heap_free(h);
    /* an explicit config value wins over the environment */
    setenv("RCY_DEBUG", "1", 1);
    rcyi_option_reset(RCYI_OPTION_DEBUG);
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 0;
    h = rcy_heap_new(&cfg);
    assert_false(h->debug);
    rcy_heap_free(h);
    unsetenv("RCY_DEBUG");
    rcyi_option_reset(RCYI_OPTION_DEBUG);
    assert_false(rcyi_option_debug());
}

static void memory_limit_accepts_suffixes(void **state) {
    (void)state;
    struct {
        const char *text;
        long long want;
    } cases[] = {{"65536", 65536},    {"512K", 512 << 10}, {"64M", 64ll << 20}, {"2G", 2ll << 30},
                 {"3MiB", 3ll << 20}, {"10kb", 10 << 10},  {" 7 ", 7},          {"0", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        setenv("RCY_MEMORY_LIMIT", cases[i].text, 1);
        rcyi_option_reset(RCYI_OPTION_MEMORY_LIMIT);
        assert_int_equal(rcyi_option_memory_limit(), cases[i].want);
    }
    setenv("RCY_MEMORY_LIMIT", "64M", 1);
    rcyi_option_reset(RCYI_OPTION_MEMORY_LIMIT);
    rcy_config cfg;
    rcy_config_init(&cfg);
    assert_int_equal(cfg.memory_limit, 64u << 20);
    unsetenv("RCY_MEMORY_LIMIT");
    rcyi_option_reset(RCYI_OPTION_MEMORY_LIMIT);
}

static void malformed_options_warn_and_use_the_default(void **state) {
    (void)state;
    const char *bad[] = {"lots", "12Q", "-5", "99999999999999999999", "1X"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("RCY_MEMORY_LIMIT", bad[i], 1);
        rcyi_option_reset(RCYI_OPTION_MEMORY_LIMIT);
        rcy_test_capture_output();
        assert_int_equal(rcyi_option_memory_limit(), 0);
        assert_non_null(strstr(rcy_test_output(), "ignoring RCY_MEMORY_LIMIT"));
        rcy_set_output(NULL, NULL);
    }
    setenv("RCY_DEBUG", "maybe", 1);
    rcyi_option_reset(RCYI_OPTION_DEBUG);
    rcy_test_capture_output();
    assert_false(rcyi_option_debug());
    assert_non_null(strstr(rcy_test_output(), "ignoring RCY_DEBUG=\"maybe\": expected 1, yes, on, "
                                              "true or y; 0, no, off, false, n or empty\n"));
    rcy_set_output(NULL, NULL);
    /* ... and every word the warning names is accepted, in any case */
    const char *on[] = {"1", "yes", "On", "TRUE", "y"},
               *off[] = {"0", "no", "OFF", "false", "N", ""};
    for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
        setenv("RCY_DEBUG", on[i], 1);
        rcyi_option_reset(RCYI_OPTION_DEBUG);
        assert_true(rcyi_option_debug());
    }
    for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
        setenv("RCY_DEBUG", off[i], 1);
        rcyi_option_reset(RCYI_OPTION_DEBUG);
        assert_false(rcyi_option_debug());
    }
    unsetenv("RCY_DEBUG");
    rcyi_option_reset(RCYI_OPTION_DEBUG);
    setenv("RCY_TRACEMALLOC", "-1", 1);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC);
    rcy_test_capture_output();
    assert_int_equal(rcyi_option_tracemalloc(), 0);
    rcy_set_output(NULL, NULL);
    setenv("RCY_GC_HARD", "yes", 1);
    rcyi_option_reset(RCYI_OPTION_GC_HARD);
    assert_true(rcyi_option_gc_hard());
    unsetenv("RCY_GC_HARD");
    rcyi_option_reset(RCYI_OPTION_GC_HARD);
    assert_false(rcyi_option_gc_hard());
    setenv("RCY_TRACEMALLOC", "25", 1);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC);
    assert_int_equal(rcyi_option_tracemalloc(), 25);
    setenv("RCY_TRACEMALLOC_UNWIND", "libunwind", 1);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC_UNWIND);
    assert_true(rcyi_option_tracemalloc_libunwind());
    setenv("RCY_TRACEMALLOC_UNWIND", "fp", 1);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC_UNWIND);
    assert_false(rcyi_option_tracemalloc_libunwind());
    setenv("RCY_TRACEMALLOC_UNWIND", "dwarf", 1);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC_UNWIND);
    rcy_test_capture_output();
    assert_false(rcyi_option_tracemalloc_libunwind());
    assert_non_null(strstr(rcy_test_output(),
                           "ignoring RCY_TRACEMALLOC_UNWIND=\"dwarf\": expected fp or libunwind"));
    rcy_set_output(NULL, NULL);
    unsetenv("RCY_TRACEMALLOC_UNWIND");
    unsetenv("RCY_MEMORY_LIMIT");
    unsetenv("RCY_DEBUG");
    unsetenv("RCY_TRACEMALLOC");
    for (int o = 0; o < RCYI_OPTION_COUNT; o++)
        rcyi_option_reset((rcyi_option)o);
}

static void options_can_be_set_and_named(void **state) {
    (void)state;
    rcyi_option_set(RCYI_OPTION_TRACEMALLOC, 5);
    assert_int_equal(rcyi_option_tracemalloc(), 5);
    rcyi_option_reset(RCYI_OPTION_TRACEMALLOC);
    assert_string_equal(rcyi_option_env_name(RCYI_OPTION_DEBUG), "RCY_DEBUG");
    assert_string_equal(rcyi_option_env_name(RCYI_OPTION_MEMORY_LIMIT), "RCY_MEMORY_LIMIT");
    assert_string_equal(rcyi_option_env_name(RCYI_OPTION_TRACEMALLOC), "RCY_TRACEMALLOC");
    assert_string_equal(rcyi_option_env_name(RCYI_OPTION_GC_HARD), "RCY_GC_HARD");
    assert_null(rcyi_option_env_name(RCYI_OPTION_COUNT));
    assert_int_equal(rcyi_option_get(RCYI_OPTION_COUNT), 0);
}

/* docs/environment.md documents every option of the table. */
static void every_option_is_documented(void **state) {
    (void)state;
    const char *src = getenv("RCY_SOURCE_DIR");
    if (!src)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/environment.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    for (int o = 0; o < RCYI_OPTION_COUNT; o++) {
        char heading[128];
        snprintf(heading, sizeof heading, "## `%s`", rcyi_option_env_name((rcyi_option)o));
        assert_non_null(strstr(text, heading));
    }
}

/* ---- several heaps in several threads at once ---- */

typedef struct worker {
    int id;
    long sum;
    int ok;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    rcy_heap *h = rcy_heap_new(NULL);
    if (!h)
        return NULL;
    for (int round = 0; round < 20; round++) {
        rcy_dict *d = rcy_dict_new(h);
        rcy_list *l = rcy_list_new(h);
        char key[32];
        for (int i = 0; i < 2000; i++) {
            rcy_int *v = rcy_int_new(h, i + w->id);
            if (!v || rcy_list_append(l, v) != RCY_OK)
                return NULL;
            snprintf(key, sizeof key, "k%d", i % 300);
            if (rcy_dict_set(d, key, v) != RCY_OK)
                return NULL;
            rcy_decref(v);
        }
        size_t pos = 0;
        const char *k;
        void *v;
        while (rcy_dict_next(d, &pos, &k, &v))
            w->sum += rcy_int_value(v);
        rcy_decref(d);
        rcy_decref(l);
    }
    rcy_mem_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    rcy_mem_get_stats(h, &st);
    w->ok = st.small_bytes_used == 0 && st.large_bytes == 0;
    rcy_heap_free(h);
    return NULL;
}

static void heaps_in_threads_work_independently(void **state) {
    (void)state;
    enum { N = 4 };
    pthread_t t[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){i, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(w[i].ok);
        /* each round: the last value stored under k0..k299 is from the
         * last pass over i = 1700..1999 */
        long want = 0;
        for (int i2 = 1700; i2 < 2000; i2++)
            want += i2 + i;
        assert_int_equal(w[i].sum, want * 20);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_init_sets_defaults),
        cmocka_unit_test(heap_new_with_null_config_works),
        cmocka_unit_test(heap_new_rejects_bad_configs),
        cmocka_unit_test(custom_raw_allocator_serves_large_blocks_and_gets_all_back),
        cmocka_unit_test(arenas_come_from_the_arena_allocator_and_go_back_to_it),
        cmocka_unit_test(the_arena_cache_keeps_the_hooks_arenas),
        cmocka_unit_test(a_misaligned_arena_is_refused_and_given_back),
        cmocka_unit_test(a_config_with_an_incomplete_arena_allocator_is_rejected),
        cmocka_unit_test(each_heap_keeps_its_own_userdata),
        cmocka_unit_test(debug_heap_free_lists_live_objects),
        cmocka_unit_test(quiet_heap_free_says_nothing),
        cmocka_unit_test(many_live_objects_are_summarised),
        cmocka_unit_test(debug_option_is_read_from_rcy_debug),
        cmocka_unit_test(memory_limit_accepts_suffixes),
        cmocka_unit_test(malformed_options_warn_and_use_the_default),
        cmocka_unit_test(options_can_be_set_and_named),
        cmocka_unit_test(every_option_is_documented),
        cmocka_unit_test(heaps_in_threads_work_independently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
