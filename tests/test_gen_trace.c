/* tests/test_gen_trace.c — generators under tracemalloc: a million items
 * cost a constant, tiny peak of traced memory; the generator object is
 * traced to the line that made it. */
#include "testutil.h"

#include <string.h>

static int square(rcy_heap *h, void *item, void **out, void *ctx) {
    (void)ctx;
    long v = rcy_int_value(item);
    *out = rcy_int_new(h, v * v);
    return *out ? 0 : RCY_ENOMEM;
}

static int is_odd(void *item, void *ctx) {
    (void)ctx;
    return rcy_int_value(item) & 1;
}

static void a_million_items_keep_a_constant_traced_peak(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    assert_int_equal(rcy_tracemalloc_start(1), 0);
    rcy_gen *r = rcy_gen_range(h, 0, 1000000, 1);
    rcy_gen *f = rcy_gen_filter(r, is_odd, NULL);
    rcy_gen *m = rcy_gen_map(f, square, NULL);
    size_t built, peak;
    rcy_tracemalloc_get_traced_memory(&built, &peak);
    long n = 0;
    RCY_FOR_EACH(x, m) {
        (void)x;
        n++;
    }
    assert_int_equal(n, 500000);
    size_t cur;
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    /* three generators, then at most two ints alive at once (the source's
     * item and the square made from it) */
    assert_true(built < 512);
    assert_true(peak - built <= 64);
    rcy_tracemalloc_counters c;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    assert_int_equal(rcy_tracemalloc_get_counters(&c), 0);
    assert_true(c.allocs >= 1000000); /* every item was made, and freed */
    rcy_decref(m);
    rcy_decref(f);
    rcy_decref(r);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
    rcy_tracemalloc_stop();
    rcy_heap_free(h);
}

static void generator_is_traced_to_the_line_that_made_it(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_tracemalloc_start(1), 0);
    int line = __LINE__ + 1;
    rcy_gen *g = rcy_gen_range(h, 0, 10, 1);
    rcy_traceback *tb = rcy_tracemalloc_get_object_traceback(g);
    assert_non_null(tb);
    assert_true(tb->nframe >= 1);
    assert_non_null(strstr(tb->frames[0].filename, "test_gen_trace.c"));
    assert_int_equal(tb->frames[0].lineno, line);
    rcy_traceback_free(tb);
    rcy_decref(g);
    rcy_tracemalloc_stop();
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_million_items_keep_a_constant_traced_peak),
        cmocka_unit_test(generator_is_traced_to_the_line_that_made_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
