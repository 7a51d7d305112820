/* tests/test_alloc_faults.c — the allocator under faults and misuse: fault
 * injection (fail the n-th raw request), the memory limit, debug-mode
 * guard bytes and fill patterns, misuse reports, statistics output. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "heap.h"

static rcy_heap *heap_with(int debug, size_t limit) {
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = debug;
    cfg.memory_limit = limit;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    /* These tests check the failure paths themselves: no emergency
     * collection retries the request (emergency_collection_* below do). */
    rcy_gc_set_emergency(h, false);
    return h;
}

static void assert_heap_empty(rcy_heap *h) {
    rcyi_alloc_validate(h);
    rcy_mem_stats st = {.size = sizeof st};
    assert_int_equal(rcy_mem_get_stats(h, &st), RCY_OK);
    assert_int_equal(st.pools_used, 0);
    assert_int_equal(st.large_blocks, 0);
    assert_int_equal(st.large_bytes, 0);
    assert_true(st.arenas <= 1);
}

/* ---- fault injection -------------------------------------------------- */

enum { SCEN_SMALL = 3 * 1024 * 1024 / 96, SCEN_LARGE = 8 };

/* A workload touching every kind of raw request: several arenas, arena
 * records, large blocks, and reallocs that grow large blocks.  Returns
 * RCY_OK, or RCY_ENOMEM after freeing everything it had made. */
static int scenario(rcy_heap *h) {
    static void *small[SCEN_SMALL];
    void *large[SCEN_LARGE] = {0};
    size_t ns = 0;
    int rc = RCY_OK;
    memset(small, 0, sizeof small);
    for (; ns < SCEN_SMALL; ns++) {
        small[ns] = rcy_mem_try_alloc(h, 16 + (ns % 11) * 16);
        if (!small[ns]) {
            rc = RCY_ENOMEM;
            break;
        }
    }
    for (size_t i = 0; rc == RCY_OK && i < SCEN_LARGE; i++) {
        large[i] = rcy_mem_try_alloc(h, 1000 + i * 5000);
        if (!large[i]) {
            rc = RCY_ENOMEM;
            break;
        }
        void *bigger = rcy_mem_try_realloc(h, large[i], 100000 + i);
        if (!bigger) {
            rc = RCY_ENOMEM; /* the old block stays valid */
            break;
        }
        large[i] = bigger;
    }
    for (size_t i = 0; i < ns; i += 2) { /* frees give pools back mid-run */
        rcy_mem_free(h, small[i]);
        small[i] = NULL;
    }
    for (size_t i = 0; rc == RCY_OK && i < ns; i += 2) {
        small[i] = rcy_mem_try_calloc(h, 3, 100 + i % 7);
        if (!small[i])
            rc = RCY_ENOMEM;
    }
    for (size_t i = 0; i < ns; i++)
        rcy_mem_free(h, small[i]);
    for (size_t i = 0; i < SCEN_LARGE; i++)
        rcy_mem_free(h, large[i]);
    return rc;
}

static void fail_nth_for_every_n_reports_enomem_and_leaks_nothing(void **state) {
    (void)state;
    unsigned long n = 1;
    for (; n < 1000; n++) {
        rcy_heap *h = heap_with(0, 0);
        rcy_heap_fail_nth(h, n);
        int rc = scenario(h);
        assert_heap_empty(h);
        rcy_heap_fail_nth(h, 0);
        rcy_heap_free(h);
        if (rc == RCY_OK)
            break;
        assert_int_equal(rc, RCY_ENOMEM);
    }
    /* Each arena is one request, each large block and growth another;
     * the scenario needs three arenas and eight large blocks grown once. */
    assert_true(n > 3 + 2 * SCEN_LARGE);
    assert_true(n < 1000);
}

static void fail_nth_in_debug_mode(void **state) {
    (void)state;
    for (unsigned long n = 1; n < 1000; n++) {
        rcy_heap *h = heap_with(1, 0);
        rcy_heap_fail_nth(h, n);
        void *a = rcy_mem_try_alloc(h, 40);
        void *b = rcy_mem_try_alloc(h, 4000);
        rcy_mem_free(h, a);
        rcy_mem_free(h, b);
        assert_heap_empty(h);
        rcy_heap_free(h);
        if (a && b) {
            assert_int_equal(n, 3); /* arena mapping, large block */
            return;
        }
    }
    fail();
}

static void alloc_fails(void *arg) {
    (void)arg;
    rcy_heap *h = heap_with(0, 0);
    rcy_heap_fail_nth(h, 1);
    (void)rcy_mem_alloc(h, 10000);
}

static void non_try_flavour_calls_the_error_handler(void **state) {
    (void)state;
    rcy_expect_death(alloc_fails, NULL, "out of memory: rcy_mem_alloc of 10000 bytes");
    rcy_heap *h = heap_with(0, 0);
    rcy_heap_fail_nth(h, 1);
    assert_null(rcy_mem_try_alloc(h, 10000));
    assert_null(rcy_mem_try_alloc(h, SIZE_MAX)); /* absurd sizes fail cleanly */
    assert_null(rcy_mem_try_alloc(h, SIZE_MAX - 8));
    rcy_heap_free(h);
}

/* ---- memory limit ------------------------------------------------------ */

static void memory_limit_is_honoured(void **state) {
    (void)state;
    size_t limit = 4u * 1024 * 1024;
    rcy_heap *h = heap_with(0, limit);
    size_t cap = 2 * limit / 64;
    void **v = calloc(cap, sizeof *v);
    size_t n = 0;
    while (n < cap && (v[n] = rcy_mem_try_alloc(h, 64)) != NULL)
        n++;
    assert_true(n < cap);
    assert_true(n * 64 <= limit);
    assert_true(n * 64 > limit / 2);
    assert_null(rcy_mem_try_alloc(h, 3u * 1024 * 1024)); /* large: over the limit */
    for (size_t i = 0; i < n; i++)
        rcy_mem_free(h, v[i]);
    assert_heap_empty(h);
    void *big = rcy_mem_try_alloc(h, 3u * 1024 * 1024); /* fits again */
    assert_non_null(big);
    assert_null(rcy_mem_try_realloc(h, big, 5u * 1024 * 1024)); /* growth over the limit */
    rcy_mem_free(h, big);
    free(v);
    rcy_heap_free(h);
}

/* ---- debug mode -------------------------------------------------------- */

static void debug_fills_patterns(void **state) {
    (void)state;
    rcy_heap *h = heap_with(1, 0);
    unsigned char *keep = rcy_mem_alloc(h, 64); /* keeps the pool alive */
    unsigned char *p = rcy_mem_alloc(h, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(p[i], 0xCD);
    for (int i = 1; i <= 8; i++)
        assert_int_equal(p[-i], 0xFD);
    for (int i = 0; i < 8; i++)
        assert_int_equal(p[64 + i], 0xFD);
    memset(p, 1, 64);
    rcy_mem_free(h, p);
    for (int i = 0; i < 64; i++)
        assert_int_equal(p[i], 0xDD);
    unsigned char *l = rcy_mem_alloc(h, 3000);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(l[i], 0xCD);
    assert_int_equal(l[3000], 0xFD);
    assert_int_equal(l[-1], 0xFD);
    rcy_mem_free(h, l);
    rcy_mem_free(h, keep);
    rcy_heap_free(h);
}

typedef struct misuse {
    rcy_heap *h, *other;
    unsigned char *p, *keep;
    size_t n;
} misuse;

static void do_overrun(void *arg) {
    misuse *m = arg;
    m->p[m->n] = 'x';
    rcy_mem_free(m->h, m->p);
}
static void do_underrun(void *arg) {
    misuse *m = arg;
    m->p[-1] = 'x';
    rcy_mem_free(m->h, m->p);
}
static void do_double_free(void *arg) {
    misuse *m = arg;
    rcy_mem_free(m->h, m->p);
    rcy_mem_free(m->h, m->p);
}
static void do_validate_after_overrun(void *arg) {
    misuse *m = arg;
    m->p[m->n + 3] = 'x';
    rcyi_alloc_validate(m->h);
}
static void do_realloc_after_overrun(void *arg) {
    misuse *m = arg;
    m->p[m->n] = 'x';
    (void)rcy_mem_realloc(m->h, m->p, m->n * 2);
}
static void do_free_foreign(void *arg) {
    misuse *m = arg;
    int local;
    rcy_mem_free(m->h, &local);
}
static void do_free_in_other_heap(void *arg) {
    misuse *m = arg;
    rcy_mem_free(m->other, m->p);
}

static void expect_with_address(void (*fn)(void *), misuse *m, const char *what) {
    char want[200];
    snprintf(want, sizeof want, "%p: %s", (void *)m->p, what);
    rcy_expect_death(fn, m, want);
}

static void debug_reports_misuse_with_address_and_size(size_t n) {
    misuse m = {heap_with(1, 0), NULL, NULL, NULL, n};
    m.keep = rcy_mem_alloc(m.h, n);
    m.p = rcy_mem_alloc(m.h, n);
    char sz[64];
    snprintf(sz, sizeof sz, "(block of size %zu)", n);
    expect_with_address(do_overrun, &m, "buffer overrun");
    rcy_expect_death(do_overrun, &m, sz);
    expect_with_address(do_underrun, &m, "buffer underrun");
    expect_with_address(do_double_free, &m, "double free");
    rcy_expect_death(do_double_free, &m, sz);
    rcy_expect_death(do_validate_after_overrun, &m, "buffer overrun");
    rcy_expect_death(do_realloc_after_overrun, &m, "buffer overrun");
    rcy_mem_free(m.h, m.p);
    rcy_mem_free(m.h, m.keep);
    rcy_heap_free(m.h);
}

static void debug_catches_overrun_underrun_double_free_small(void **state) {
    (void)state;
    debug_reports_misuse_with_address_and_size(40);
}

static void debug_catches_overrun_underrun_double_free_large(void **state) {
    (void)state;
    debug_reports_misuse_with_address_and_size(5000);
}

static void do_realloc_object(void *arg) {
    misuse *m = arg;
    void *o = rcyi_alloc(m->h, 48, RCYI_KIND_OBJECT);
    (void)rcy_mem_realloc(m->h, o, 100);
}

static void misuse_of_the_mem_api_is_fatal(void **state) {
    (void)state;
    misuse m = {heap_with(0, 0), NULL, NULL, NULL, 0};
    m.p = rcy_mem_alloc(m.h, 40);
    rcy_expect_death(do_realloc_object, &m, "realloc of");
    /* Calls that cannot do anything harmful just report (a block freed
     * with a NULL heap stays allocated). */
    rcy_test_capture_output();
    rcy_mem_free(NULL, m.p);
    assert_non_null(strstr(rcy_test_output(), "rcy_mem_free: heap is NULL"));
    rcy_set_output(NULL, NULL);
    rcy_mem_free(m.h, NULL);
    rcy_mem_free(NULL, NULL);
    rcy_heap_fail_nth(NULL, 3);
    assert_null(rcy_mem_try_alloc(NULL, 8));
    assert_null(rcy_mem_try_realloc(NULL, m.p, 8));
    assert_int_equal(rcy_mem_print_stats(NULL, stdout), RCY_EINVAL);
    assert_int_equal(rcy_mem_print_stats_json(NULL, stdout), RCY_EINVAL);
    rcy_mem_free(m.h, m.p);
    rcy_heap_free(m.h);
}

static void freeing_foreign_pointers_is_fatal(void **state) {
    (void)state;
    misuse m = {heap_with(0, 0), heap_with(0, 0), NULL, NULL, 0};
    m.p = rcy_mem_alloc(m.h, 40);
    rcy_expect_death(do_free_foreign, &m, "never handed out");
    rcy_expect_death(do_free_in_other_heap, &m, "belongs to heap");
    rcy_mem_free(m.h, m.p);
    m.p = rcy_mem_alloc(m.h, 4000);
    rcy_expect_death(do_free_in_other_heap, &m, "belongs to heap");
    rcy_mem_free(m.h, m.p);
    rcy_heap_free(m.h);
    rcy_heap_free(m.other);
}

/* The first pool of an arena shares its 16 KiB with the arena record. */
#define POOL0_BLOCKS(bs) ((RCY_POOL_SIZE - RCYI_ARENA_META) / (bs))

/* ---- statistics -------------------------------------------------------- */

static char *read_all(FILE *f) {
    fflush(f);
    long len = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    return buf;
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void stats_count_blocks_per_class(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    void *v[10], *big = rcy_mem_alloc(h, 1000);
    for (int i = 0; i < 10; i++)
        v[i] = rcy_mem_alloc(h, 64);
    void *o = rcyi_alloc(h, 100, RCYI_KIND_OBJECT); /* class 112 */
    rcy_mem_stats st = {.size = sizeof st};
    assert_int_equal(rcy_mem_get_stats(h, &st), RCY_OK);
    assert_int_equal(st.version, RCY_MEM_STATS_VERSION);
    assert_int_equal(st.classes[3].block_size, 64);
    assert_int_equal(st.classes[3].pools, 1);
    assert_int_equal(st.classes[3].blocks_used, 10);
    assert_int_equal(st.classes[3].blocks_free, POOL0_BLOCKS(64) - 10);
    assert_int_equal(st.classes[6].blocks_used, 1);
    assert_int_equal(st.pools_used, 2);
    assert_int_equal(st.pools_free, RCYI_POOLS_PER_ARENA - 2);
    assert_int_equal(st.small_bytes_used, 10 * 64 + 112);
    assert_int_equal(st.large_blocks, 1);
    assert_int_equal(st.large_bytes, 1000);
    assert_int_equal(st.arenas, 1);
    assert_int_equal(st.arenas_allocated, 1);
    assert_int_equal(st.mapped_bytes, RCY_ARENA_SIZE);

    /* An older, shorter struct: nothing past its size is written. */
    rcy_mem_stats old;
    memset(&old, 0x5A, sizeof old);
    old.size = offsetof(rcy_mem_stats, arenas_reclaimed);
    assert_int_equal(rcy_mem_get_stats(h, &old), RCY_OK);
    assert_int_equal(old.arenas, 1);
    assert_int_equal(old.size, offsetof(rcy_mem_stats, arenas_reclaimed));
    unsigned char *tail = (unsigned char *)&old.arenas_reclaimed;
    for (size_t i = 0; i < sizeof old - old.size; i++)
        assert_int_equal(tail[i], 0x5A);
    rcy_mem_stats tiny = {.size = 2};
    assert_int_equal(rcy_mem_get_stats(h, &tiny), RCY_EINVAL);
    assert_int_equal(rcy_mem_get_stats(NULL, &st), RCY_EINVAL);

    FILE *f = tmpfile();
    assert_int_equal(rcy_mem_print_stats(h, f), RCY_OK);
    char *text = read_all(f);
    assert_non_null(strstr(text, "Small block threshold = 512, in 32 size classes."));
    assert_non_null(strstr(text, "class   size   num pools   blocks in use  avail blocks"));
    char row[128];
    snprintf(row, sizeof row, "\n    3     64           1              10  %12zu\n",
             (size_t)POOL0_BLOCKS(64) - 10);
    assert_non_null(strstr(text, row));
    assert_non_null(strstr(text, "\n   31    512           0               0             0\n"));
    assert_non_null(strstr(text, "# arenas allocated current         =              1\n"));
    assert_non_null(strstr(text, "1 arenas * 1048576 bytes/arena       =        1048576\n"));
    assert_non_null(strstr(text, "# bytes in large blocks            =           1000\n"));
    free(text);
    fclose(f);

    f = tmpfile();
    assert_int_equal(rcy_mem_print_stats_json(h, f), RCY_OK);
    text = read_all(f);
    assert_true(text[0] == '{');
    assert_non_null(strstr(text, "\"arenas\": 1, "));
    assert_non_null(strstr(text, "\"large_bytes\": 1000, "));
    assert_non_null(strstr(text, "{\"size\": 64, \"pools\": 1, \"blocks_used\": 10, "));
    assert_int_equal(count(text, "{\"size\": "), RCY_SIZE_CLASSES);
    assert_non_null(strstr(text, "]}\n"));
    free(text);
    fclose(f);

    /* NULL stream: through the library's output callback. */
    rcy_test_capture_output();
    assert_int_equal(rcy_mem_print_stats(h, NULL), RCY_OK);
    assert_non_null(strstr(rcy_test_output(), "# arenas highwater mark"));
    rcy_set_output(NULL, NULL);

    for (int i = 0; i < 10; i++)
        rcy_mem_free(h, v[i]);
    ((rcy_head_ *)o)->refcnt = 0;
    ((rcy_head_ *)o)->gcword = 0;
    rcyi_free(h, o);
    rcy_mem_free(h, big);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fail_nth_for_every_n_reports_enomem_and_leaks_nothing),
        cmocka_unit_test(fail_nth_in_debug_mode),
        cmocka_unit_test(non_try_flavour_calls_the_error_handler),
        cmocka_unit_test(memory_limit_is_honoured),
        cmocka_unit_test(debug_fills_patterns),
        cmocka_unit_test(debug_catches_overrun_underrun_double_free_small),
        cmocka_unit_test(debug_catches_overrun_underrun_double_free_large),
        cmocka_unit_test(freeing_foreign_pointers_is_fatal),
        cmocka_unit_test(misuse_of_the_mem_api_is_fatal),
        cmocka_unit_test(stats_count_blocks_per_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
