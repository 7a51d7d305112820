/* tests/test_gen.c — generators: stepping, end vs error, close exactly
 * once, RCY_FOR_EACH (break included), the building blocks, and constant
 * memory over a million items. */
#include "testutil.h"

#include <limits.h>
#include <string.h>

static rcy_heap *heap;

static int setup(void **state) {
    (void)state;
    heap = rcy_heap_new(NULL);
    return heap ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rcy_heap_free(heap);
    heap = NULL;
    return 0;
}

static size_t bytes_used(void) {
    rcy_mem_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(rcy_mem_get_stats(heap, &st), 0);
    return st.small_bytes_used + st.large_bytes;
}

/* Drain g, checking it yields exactly the ints in want[0..n). */
static void expect_ints(rcy_gen *g, const long *want, size_t n) {
    size_t i = 0;
    int status;
    void *item;
    while ((item = rcy_gen_next(g, &status)) != NULL) {
        assert_int_equal(status, RCY_GEN_ITEM);
        assert_true(i < n);
        assert_int_equal(rcy_int_value(item), want[i]);
        rcy_decref(item);
        i++;
    }
    assert_int_equal(status, RCY_GEN_DONE);
    assert_int_equal(i, n);
    assert_int_equal(rcy_gen_error(g), 0);
    assert_true(rcy_gen_is_closed(g));
}

/* ---- a hand-written generator that counts its cleanups ---------------- */

typedef struct counter {
    int pc;
    long i, n;
    long fail_at; /* step that fails with RCY_EIO; -1 = never */
    int *closes;  /* incremented by the cleanup */
    rcy_gen *self_for_reentry;
    int reentry_status, reentry_close;
    rcy_list *held; /* a reference the state owns */
} counter;

static int counter_next(rcy_heap *h, void *s, void **item) {
    counter *st = s;
    RCY_GEN_BEGIN(st->pc);
    for (st->i = 0; st->i < st->n; st->i++) {
        if (st->i == st->fail_at)
            return RCY_EIO;
        if (st->self_for_reentry) {
            void *again = rcy_gen_next(st->self_for_reentry, &st->reentry_status);
            assert_null(again);
            st->reentry_close = rcy_gen_close(st->self_for_reentry);
        }
        RCY_GEN_YIELD(st->pc, item, rcy_int_new(h, st->i));
    }
    RCY_GEN_END(st->pc);
}

static int counter_traverse(void *s, rcy_visitproc visit, void *arg) {
    counter *st = s;
    RCY_VISIT(st->held, visit, arg);
    return 0;
}

static void counter_clear(void *s) {
    counter *st = s;
    RCY_CLEAR(st->held);
}

static void counter_close(void *s) {
    counter *st = s;
    if (st->closes)
        (*st->closes)++;
}

static const rcy_gen_spec counter_spec = {
    .name = "counter",
    .state_size = sizeof(counter),
    .next = counter_next,
    .traverse = counter_traverse,
    .clear = counter_clear,
    .close = counter_close,
};

static rcy_gen *new_counter(long n, int *closes) {
    rcy_gen *g = rcy_gen_new(heap, &counter_spec);
    assert_non_null(g);
    counter *st = rcy_gen_state(g);
    st->n = n;
    st->fail_at = -1;
    st->closes = closes;
    return g;
}

static void new_generator_has_refcount_one_and_zeroed_state(void **state) {
    (void)state;
    rcy_gen *g = new_counter(3, NULL);
    assert_int_equal(rcy_getrefcount(g), 1);
    assert_true(rcy_gen_check(g));
    assert_ptr_equal(rcy_gen_spec_of(g), &counter_spec);
    assert_ptr_equal(rcy_type_of(g), &rcy_gen_type);
    assert_false(rcy_gen_is_closed(g));
    counter *st = rcy_gen_state(g);
    assert_int_equal(st->pc, 0);
    assert_null(st->held);
    rcy_decref(g);
}

static void new_rejects_missing_spec_or_step(void **state) {
    (void)state;
    static const rcy_gen_spec no_next = {.name = "x", .state_size = 8};
    assert_null(rcy_gen_new(heap, NULL));
    assert_null(rcy_gen_new(heap, &no_next));
    assert_null(rcy_gen_new(NULL, &counter_spec));
    rcy_list *l = rcy_list_new(heap);
    assert_false(rcy_gen_check(l));
    assert_false(rcy_gen_check(NULL));
    rcy_decref(l);
}

static void step_function_yields_in_order_then_done(void **state) {
    (void)state;
    int closes = 0;
    rcy_gen *g = new_counter(4, &closes);
    const long want[] = {0, 1, 2, 3};
    expect_ints(g, want, 4);
    assert_int_equal(closes, 1); /* exhaustion ran the cleanup */
    int status = 99;
    assert_null(rcy_gen_next(g, &status));
    assert_int_equal(status, RCY_GEN_DONE);
    assert_null(rcy_gen_next(g, NULL));
    assert_int_equal(closes, 1);
    assert_int_equal(rcy_gen_close(g), 0);
    assert_int_equal(closes, 1);
    rcy_decref(g);
    assert_int_equal(closes, 1);
}

static void error_is_told_apart_from_exhaustion(void **state) {
    (void)state;
    int closes = 0;
    rcy_gen *g = new_counter(10, &closes);
    ((counter *)rcy_gen_state(g))->fail_at = 2;
    int status;
    void *a = rcy_gen_next(g, &status);
    assert_int_equal(status, RCY_GEN_ITEM);
    rcy_decref(a);
    a = rcy_gen_next(g, &status);
    assert_int_equal(status, RCY_GEN_ITEM);
    rcy_decref(a);
    assert_null(rcy_gen_next(g, &status));
    assert_int_equal(status, RCY_EIO);
    assert_int_equal(rcy_gen_error(g), RCY_EIO);
    assert_true(rcy_gen_is_closed(g));
    assert_int_equal(closes, 1);
    /* Like a Python generator after an exception: it is finished. */
    assert_null(rcy_gen_next(g, &status));
    assert_int_equal(status, RCY_GEN_DONE);
    assert_int_equal(rcy_gen_error(g), RCY_EIO);
    rcy_decref(g);
    assert_int_equal(closes, 1);
}

static void close_runs_cleanup_exactly_once(void **state) {
    (void)state;
    int closes = 0;
    rcy_gen *g = new_counter(100, &closes);
    void *first = rcy_gen_next(g, NULL);
    assert_int_equal(rcy_int_value(first), 0);
    rcy_decref(first);
    assert_int_equal(rcy_gen_close(g), 0);
    assert_int_equal(closes, 1);
    assert_true(rcy_gen_is_closed(g));
    int status = 99;
    assert_null(rcy_gen_next(g, &status));
    assert_int_equal(status, RCY_GEN_DONE);
    assert_int_equal(rcy_gen_error(g), 0);
    assert_int_equal(rcy_gen_close(g), 0);
    rcy_decref(g);
    assert_int_equal(closes, 1);
}

static void dropping_last_reference_closes_an_open_generator(void **state) {
    (void)state;
    int closes = 0;
    rcy_gen *g = new_counter(100, &closes);
    void *first = rcy_gen_next(g, NULL);
    rcy_decref(first);
    rcy_decref(g);
    assert_int_equal(closes, 1);

    closes = 0; /* never started */
    g = new_counter(100, &closes);
    rcy_decref(g);
    assert_int_equal(closes, 1);
}

static void close_drops_the_state_references(void **state) {
    (void)state;
    rcy_list *l = rcy_list_new(heap);
    rcy_gen *g = new_counter(5, NULL);
    counter *st = rcy_gen_state(g);
    rcy_incref(l);
    st->held = l;
    assert_int_equal(rcy_getrefcount(l), 2);
    assert_int_equal(rcy_gen_close(g), 0);
    assert_int_equal(rcy_getrefcount(l), 1);
    assert_null(st->held);
    rcy_decref(g);
    assert_int_equal(rcy_getrefcount(l), 1);

    g = new_counter(5, NULL);
    st = rcy_gen_state(g);
    rcy_incref(l);
    st->held = l;
    rcy_decref(g); /* destruction drops it too */
    assert_int_equal(rcy_getrefcount(l), 1);
    rcy_decref(l);
}

static void reentry_from_the_step_function_is_refused(void **state) {
    (void)state;
    int closes = 0;
    rcy_gen *g = new_counter(3, &closes);
    counter *st = rcy_gen_state(g);
    st->self_for_reentry = g;
    int status;
    void *item = rcy_gen_next(g, &status);
    assert_int_equal(status, RCY_GEN_ITEM);
    assert_int_equal(rcy_int_value(item), 0);
    rcy_decref(item);
    assert_int_equal(st->reentry_status, RCY_ESTATE);
    assert_int_equal(st->reentry_close, RCY_ESTATE);
    assert_false(rcy_gen_is_closed(g)); /* refused re-entry changed nothing */
    assert_int_equal(closes, 0);
    rcy_decref(g);
    assert_int_equal(closes, 1);
}

/* A step that claims an item but gives none is an error, not a crash. */
static int liar_next(rcy_heap *h, void *s, void **item) {
    (void)h, (void)s, (void)item;
    return RCY_GEN_ITEM;
}

static void step_claiming_item_without_one_is_an_error(void **state) {
    (void)state;
    static const rcy_gen_spec liar = {.name = "liar", .next = liar_next};
    rcy_gen *g = rcy_gen_new(heap, &liar);
    assert_non_null(g);
    assert_ptr_not_equal(rcy_type_of(g), &rcy_gen_type); /* no traverse: untracked */
    assert_true(rcy_gen_check(g));
    int status;
    assert_null(rcy_gen_next(g, &status));
    assert_int_equal(status, RCY_EINVAL);
    assert_int_equal(rcy_gen_error(g), RCY_EINVAL);
    rcy_decref(g);
}

/* A step that returns an item together with the end: the item is dropped. */
static int end_with_item_next(rcy_heap *h, void *s, void **item) {
    (void)s;
    *item = rcy_int_new(h, 7);
    return RCY_GEN_DONE;
}

static void item_returned_with_the_end_is_dropped(void **state) {
    (void)state;
    static const rcy_gen_spec spec = {.name = "odd", .next = end_with_item_next};
    size_t before = bytes_used();
    rcy_gen *g = rcy_gen_new(heap, &spec);
    int status;
    assert_null(rcy_gen_next(g, &status));
    assert_int_equal(status, RCY_GEN_DONE);
    rcy_decref(g);
    assert_int_equal(bytes_used(), before);
}

/* ---- RCY_FOR_EACH --------------------------------------------------- */

static void for_each_visits_every_item(void **state) {
    (void)state;
    rcy_gen *g = rcy_gen_range(heap, 0, 101, 1);
    long sum = 0, n = 0;
    RCY_FOR_EACH(item, g) {
        sum += rcy_int_value(item);
        n++;
    }
    assert_int_equal(n, 101);
    assert_int_equal(sum, 5050);
    assert_true(rcy_gen_is_closed(g));
    assert_int_equal(rcy_gen_error(g), 0);
    rcy_decref(g);
}

static void for_each_drops_each_item_and_on_break(void **state) {
    (void)state;
    rcy_list *l = rcy_list_new(heap);
    for (int i = 0; i < 5; i++) {
        rcy_list *x = rcy_list_new(heap);
        rcy_list_append(l, x);
        rcy_decref(x);
    }
    rcy_gen *g = rcy_gen_from_list(l);
    int seen = 0;
    RCY_FOR_EACH(item, g) {
        /* the list's reference + the loop's */
        assert_int_equal(rcy_getrefcount(item), 2);
        if (seen > 0) /* the previous item was already released */
            assert_int_equal(rcy_getrefcount(rcy_list_get(l, seen - 1)), 1);
        if (++seen == 3)
            break;
    }
    assert_int_equal(seen, 3);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rcy_getrefcount(rcy_list_get(l, i)), 1);
    /* after a break the generator is still open and resumes */
    assert_false(rcy_gen_is_closed(g));
    void *next = rcy_gen_next(g, NULL);
    assert_ptr_equal(next, rcy_list_get(l, 3));
    rcy_decref(next);
    rcy_decref(g);
    rcy_decref(l);
}

static long first_over(rcy_gen *g, long limit) {
    RCY_FOR_EACH(item, g) {
        if (rcy_int_value(item) > limit)
            return rcy_int_value(item); /* the item is dropped on return */
    }
    return -1;
}

static void for_each_drops_the_item_on_return(void **state) {
    (void)state;
    size_t before = bytes_used();
    rcy_gen *g = rcy_gen_range(heap, 0, 1000, 1);
    assert_int_equal(first_over(g, 10), 11);
    rcy_decref(g);
    assert_int_equal(bytes_used(), before);
}

static void for_each_on_failing_generator_stops_with_error(void **state) {
    (void)state;
    rcy_gen *g = new_counter(10, NULL);
    ((counter *)rcy_gen_state(g))->fail_at = 4;
    int n = 0;
    RCY_FOR_EACH(item, g) {
        (void)item;
        n++;
    }
    assert_int_equal(n, 4);
    assert_int_equal(rcy_gen_error(g), RCY_EIO);
    rcy_decref(g);
}

/* ---- building blocks -------------------------------------------------- */

static void range_follows_python(void **state) {
    (void)state;
    rcy_gen *g = rcy_gen_range(heap, 0, 5, 1);
    const long a[] = {0, 1, 2, 3, 4};
    expect_ints(g, a, 5);
    rcy_decref(g);

    g = rcy_gen_range(heap, 10, 0, -3);
    const long b[] = {10, 7, 4, 1};
    expect_ints(g, b, 4);
    rcy_decref(g);

    g = rcy_gen_range(heap, 5, 5, 1);
    expect_ints(g, NULL, 0);
    rcy_decref(g);

    g = rcy_gen_range(heap, 5, 0, 1);
    expect_ints(g, NULL, 0);
    rcy_decref(g);

    g = rcy_gen_range(heap, 1, 8, 3);
    const long c[] = {1, 4, 7};
    expect_ints(g, c, 3);
    rcy_decref(g);

    assert_null(rcy_gen_range(heap, 0, 10, 0));
}

static void range_near_the_limits_of_long_does_not_overflow(void **state) {
    (void)state;
    rcy_gen *g = rcy_gen_range(heap, LONG_MAX - 2, LONG_MAX, 5);
    const long a[] = {LONG_MAX - 2};
    expect_ints(g, a, 1);
    rcy_decref(g);
    g = rcy_gen_range(heap, LONG_MIN + 1, LONG_MIN, -1);
    const long b[] = {LONG_MIN + 1};
    expect_ints(g, b, 1);
    rcy_decref(g);
    g = rcy_gen_range(heap, LONG_MAX - 1, LONG_MAX, 1);
    const long c[] = {LONG_MAX - 1};
    expect_ints(g, c, 1);
    rcy_decref(g);
}

static int square(rcy_heap *h, void *item, void **out, void *ctx) {
    (void)ctx;
    long v = rcy_int_value(item);
    *out = rcy_int_new(h, v * v);
    return *out ? 0 : RCY_ENOMEM;
}

static int is_even(void *item, void *ctx) {
    (void)ctx;
    return rcy_int_value(item) % 2 == 0;
}

static int fail_at_ctx(void *item, void *ctx) {
    return rcy_int_value(item) == *(long *)ctx ? RCY_ERANGE : 1;
}

static int map_fail_at_ctx(rcy_heap *h, void *item, void **out, void *ctx) {
    (void)h;
    if (rcy_int_value(item) == *(long *)ctx)
        return RCY_ERANGE;
    rcy_incref(item);
    *out = item;
    return 0;
}

static void map_filter_take_compose(void **state) {
    (void)state;
    rcy_gen *r = rcy_gen_range(heap, 0, 1000000000L, 1);
    rcy_gen *ev = rcy_gen_filter(r, is_even, NULL);
    rcy_gen *sq = rcy_gen_map(ev, square, NULL);
    rcy_gen *t = rcy_gen_take(sq, 5);
    /* the pipeline holds its sources: our references can go at once */
    rcy_decref(r);
    rcy_decref(ev);
    rcy_decref(sq);
    const long want[] = {0, 4, 16, 36, 64};
    expect_ints(t, want, 5);
    rcy_decref(t);
}

static void closing_the_pipeline_closes_sources_it_alone_held(void **state) {
    (void)state;
    int closes = 0;
    rcy_gen *c = new_counter(100, &closes);
    rcy_gen *m = rcy_gen_map(c, square, NULL);
    rcy_decref(c);
    void *x = rcy_gen_next(m, NULL);
    rcy_decref(x);
    assert_int_equal(closes, 0);
    assert_int_equal(rcy_gen_close(m), 0);
    assert_int_equal(closes, 1);
    rcy_decref(m);
}

static void take_does_not_advance_its_source_past_n(void **state) {
    (void)state;
    rcy_gen *r = rcy_gen_range(heap, 0, 10, 1);
    rcy_gen *t = rcy_gen_take(r, 3);
    const long want[] = {0, 1, 2};
    expect_ints(t, want, 3);
    assert_false(rcy_gen_is_closed(r));
    void *three = rcy_gen_next(r, NULL);
    assert_int_equal(rcy_int_value(three), 3);
    rcy_decref(three);
    rcy_decref(t);
    rcy_decref(r);

    r = rcy_gen_range(heap, 0, 10, 1);
    t = rcy_gen_take(r, 0);
    expect_ints(t, NULL, 0);
    rcy_decref(t);
    rcy_decref(r);
}

static void errors_propagate_through_the_pipeline(void **state) {
    (void)state;
    long at = 3;
    rcy_gen *r = rcy_gen_range(heap, 0, 10, 1);
    rcy_gen *f = rcy_gen_filter(r, fail_at_ctx, &at);
    rcy_gen *m = rcy_gen_map(f, square, NULL);
    int status, n = 0;
    void *item;
    while ((item = rcy_gen_next(m, &status)) != NULL) {
        rcy_decref(item);
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(status, RCY_ERANGE);
    assert_int_equal(rcy_gen_error(m), RCY_ERANGE);
    assert_int_equal(rcy_gen_error(f), RCY_ERANGE);
    rcy_decref(m);
    rcy_decref(f);
    rcy_decref(r);

    at = 2;
    r = rcy_gen_range(heap, 0, 10, 1);
    m = rcy_gen_map(r, map_fail_at_ctx, &at);
    n = 0;
    RCY_FOR_EACH(x, m) {
        (void)x;
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(rcy_gen_error(m), RCY_ERANGE);
    assert_int_equal(rcy_gen_error(r), 0); /* the source itself did not fail */
    rcy_decref(m);
    rcy_decref(r);
}

static void building_blocks_reject_null_arguments(void **state) {
    (void)state;
    rcy_gen *r = rcy_gen_range(heap, 0, 1, 1);
    assert_null(rcy_gen_map(NULL, square, NULL));
    assert_null(rcy_gen_map(r, NULL, NULL));
    assert_null(rcy_gen_filter(NULL, is_even, NULL));
    assert_null(rcy_gen_filter(r, NULL, NULL));
    assert_null(rcy_gen_take(NULL, 3));
    assert_null(rcy_gen_from_list(NULL));
    assert_int_equal(rcy_getrefcount(r), 1);
    rcy_decref(r);
}

static void list_round_trip(void **state) {
    (void)state;
    rcy_gen *r = rcy_gen_range(heap, 3, 8, 2);
    rcy_list *l = rcy_gen_to_list(r);
    assert_non_null(l);
    assert_int_equal(rcy_list_len(l), 3);
    assert_int_equal(rcy_int_value(rcy_list_get(l, 0)), 3);
    assert_int_equal(rcy_int_value(rcy_list_get(l, 2)), 7);
    rcy_decref(r);

    rcy_gen *it = rcy_gen_from_list(l);
    assert_int_equal(rcy_getrefcount(l), 2);
    const long want[] = {3, 5, 7};
    expect_ints(it, want, 3);
    assert_int_equal(rcy_getrefcount(l), 1); /* finished: reference dropped */
    rcy_decref(it);

    rcy_gen *c = new_counter(10, NULL);
    ((counter *)rcy_gen_state(c))->fail_at = 5;
    assert_null(rcy_gen_to_list(c));
    assert_int_equal(rcy_gen_error(c), RCY_EIO);
    rcy_decref(c);
    rcy_decref(l);
}

static void list_iterator_sees_items_appended_meanwhile(void **state) {
    (void)state;
    rcy_list *l = rcy_list_new(heap);
    rcy_int *a = rcy_int_new(heap, 1);
    rcy_list_append(l, a);
    rcy_gen *it = rcy_gen_from_list(l);
    int n = 0;
    RCY_FOR_EACH(x, it) {
        (void)x;
        if (n++ < 3)
            rcy_list_append(l, a);
    }
    assert_int_equal(n, 4);
    rcy_decref(it);
    rcy_decref(a);
    rcy_decref(l);
}

/* ---- memory ------------------------------------------------------------ */

static void a_million_items_cost_constant_memory(void **state) {
    (void)state;
    /* Warm up: the collector's bookkeeping for tracked objects is made on
     * first use and kept; it is not what this test measures. */
    rcy_gen *w0 = rcy_gen_range(heap, 0, 1, 1);
    rcy_gen *w = rcy_gen_map(w0, square, NULL);
    rcy_decref(w);
    rcy_decref(w0);
    size_t base = bytes_used();
    rcy_gen *r = rcy_gen_range(heap, 0, 1000000, 1);
    rcy_gen *ev = rcy_gen_filter(r, is_even, NULL);
    rcy_gen *sq = rcy_gen_map(ev, square, NULL);
    size_t built = bytes_used();
    assert_true(built - base < 512); /* three small generator objects */
    size_t most = built;
    long n = 0, last = -1;
    RCY_FOR_EACH(item, sq) {
        last = rcy_int_value(item);
        if (++n % 1024 == 0) {
            size_t now = bytes_used();
            if (now > most)
                most = now;
        }
    }
    assert_int_equal(n, 500000);
    assert_int_equal(last, 999998L * 999998L);
    /* at most a couple of items alive at once, whatever the length */
    assert_true(most - built < 256);
    rcy_decref(sq);
    rcy_decref(ev);
    rcy_decref(r);
    assert_int_equal(bytes_used(), base);
}

static void out_of_memory_gives_null_and_leaks_nothing(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    rcy_gc_set_emergency(h, false); /* no collection retries the request */
    rcy_heap_fail_nth(h, 1);
    assert_null(rcy_gen_range(h, 0, 10, 1));
    rcy_heap_fail_nth(h, 0);
    rcy_gen *g = rcy_gen_range(h, 0, 10, 1);
    assert_non_null(g);
    rcy_decref(g);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_generator_has_refcount_one_and_zeroed_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(new_rejects_missing_spec_or_step, setup, teardown),
        cmocka_unit_test_setup_teardown(step_function_yields_in_order_then_done, setup, teardown),
        cmocka_unit_test_setup_teardown(error_is_told_apart_from_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(close_runs_cleanup_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(dropping_last_reference_closes_an_open_generator, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(close_drops_the_state_references, setup, teardown),
        cmocka_unit_test_setup_teardown(reentry_from_the_step_function_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(step_claiming_item_without_one_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(item_returned_with_the_end_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(for_each_visits_every_item, setup, teardown),
        cmocka_unit_test_setup_teardown(for_each_drops_each_item_and_on_break, setup, teardown),
        cmocka_unit_test_setup_teardown(for_each_drops_the_item_on_return, setup, teardown),
        cmocka_unit_test_setup_teardown(for_each_on_failing_generator_stops_with_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(range_follows_python, setup, teardown),
        cmocka_unit_test_setup_teardown(range_near_the_limits_of_long_does_not_overflow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(map_filter_take_compose, setup, teardown),
        cmocka_unit_test_setup_teardown(closing_the_pipeline_closes_sources_it_alone_held, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(take_does_not_advance_its_source_past_n, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_propagate_through_the_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(building_blocks_reject_null_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(list_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(list_iterator_sees_items_appended_meanwhile, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_million_items_cost_constant_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_memory_gives_null_and_leaks_nothing, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
