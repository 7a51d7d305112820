/* tests/test_gen_gc.c — generators and the cycle collector: a generator in
 * a cycle is closed (its cleanup runs, with its state still intact) and
 * freed; only generators whose state can hold references are tracked; a
 * pipeline survives a collection at every allocation. */
#include "testutil.h"

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

/* A generator that yields the items of a list it holds, and records what
 * its cleanup saw. */
typedef struct holder {
    rcy_list *held;
    size_t index;
    int closes;
    bool held_at_close; /* the state was intact when the cleanup ran */
    bool *closed_flag;  /* set by the cleanup (outlives the generator) */
} holder;

static int holder_next(rcy_heap *h, void *s, void **item) {
    (void)h;
    holder *st = s;
    if (!st->held || st->index >= rcy_list_len(st->held))
        return RCY_GEN_DONE;
    void *v = rcy_list_get(st->held, (ptrdiff_t)st->index++);
    rcy_incref(v);
    *item = v;
    return RCY_GEN_ITEM;
}

static int holder_traverse(void *s, rcy_visitproc visit, void *arg) {
    holder *st = s;
    RCY_VISIT(st->held, visit, arg);
    return 0;
}

static void holder_clear(void *s) {
    holder *st = s;
    RCY_CLEAR(st->held);
}

static void holder_close(void *s) {
    holder *st = s;
    st->closes++;
    st->held_at_close = st->held != NULL;
    if (st->closed_flag)
        *st->closed_flag = true;
}

static const rcy_gen_spec holder_spec = {.name = "holder",
                                         .state_size = sizeof(holder),
                                         .next = holder_next,
                                         .traverse = holder_traverse,
                                         .clear = holder_clear,
                                         .close = holder_close};

static void generator_in_a_cycle_is_closed_then_freed(void **state) {
    (void)state;
    rcy_gc_collect(heap, -1);
    bool closed = false;
    rcy_list *l = rcy_list_new(heap);
    rcy_gen *g = rcy_gen_new(heap, &holder_spec);
    holder *st = rcy_gen_state(g);
    rcy_incref(l);
    st->held = l;
    st->closed_flag = &closed;
    assert_int_equal(rcy_list_append(l, g), 0); /* list -> gen -> list */
    assert_true(rcy_gc_is_tracked(g));

    rcy_weakref *wg = rcy_weakref_new(g, NULL, NULL);
    rcy_decref(g);
    rcy_decref(l);
    void *alive = rcy_weakref_get(wg);
    assert_non_null(alive); /* reference counting alone cannot free them */
    rcy_decref(alive);
    assert_false(closed);

    /* Closing broke the cycle: both died by refcounting during
     * finalization, which CPython does not count. */
    assert_int_equal(rcy_gc_collect(heap, -1), 0);
    assert_true(closed);
    alive = rcy_weakref_get(wg);
    assert_null(alive);
    rcy_decref(wg);
}

/* The cleanup of a generator in garbage runs before `clear` touches the
 * cycle (PEP 442 order), exactly once. */
static int closes_seen;
static bool intact_seen;
static void record_close(void *s) {
    holder *st = s;
    closes_seen++;
    intact_seen = st->held != NULL && rcy_list_len(st->held) == 1;
}

static const rcy_gen_spec recording_spec = {.name = "recording",
                                            .state_size = sizeof(holder),
                                            .next = holder_next,
                                            .traverse = holder_traverse,
                                            .clear = holder_clear,
                                            .close = record_close};

static void collector_closes_before_clearing(void **state) {
    (void)state;
    closes_seen = 0;
    intact_seen = false;
    rcy_list *l = rcy_list_new(heap);
    rcy_gen *g = rcy_gen_new(heap, &recording_spec);
    holder *st = rcy_gen_state(g);
    rcy_incref(l);
    st->held = l;
    rcy_list_append(l, g);
    rcy_decref(g);
    rcy_decref(l);
    assert_int_equal(rcy_gc_collect(heap, -1), 0); /* closing broke the cycle */
    assert_int_equal(closes_seen, 1);
    assert_true(intact_seen);
    assert_int_equal(rcy_gc_collect(heap, -1), 0);
    assert_int_equal(closes_seen, 1);
}

/* A generator whose state refers to the generator itself. */
static void self_referencing_generator_is_collected(void **state) {
    (void)state;
    bool closed = false;
    rcy_list *l = rcy_list_new(heap);
    rcy_gen *it = rcy_gen_from_list(l);
    rcy_list_append(l, it); /* iter(l) where l contains the iterator */
    rcy_gen *g = rcy_gen_new(heap, &holder_spec);
    holder *st = rcy_gen_state(g);
    st->held = l; /* our reference to l becomes the holder's */
    st->closed_flag = &closed;
    rcy_list_append(l, g);
    rcy_decref(g);
    rcy_decref(it);
    assert_int_equal(rcy_gc_collect(heap, -1), 0); /* closing broke the cycle */
    assert_true(closed);
}

/* A pipeline that is only partly garbage: the collector leaves the
 * reachable part alone. */
static void reachable_pipeline_survives_collection(void **state) {
    (void)state;
    rcy_gen *r = rcy_gen_range(heap, 0, 100, 1);
    rcy_gen *t = rcy_gen_take(r, 50);
    rcy_decref(r);
    void *x = rcy_gen_next(t, NULL);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(heap, -1), 0);
    long n = 1;
    RCY_FOR_EACH(item, t) {
        assert_int_equal(rcy_int_value(item), n);
        n++;
    }
    assert_int_equal(n, 50);
    rcy_decref(t);
}

static void only_generators_that_can_hold_references_are_tracked(void **state) {
    (void)state;
    rcy_gen *r = rcy_gen_range(heap, 0, 10, 1);
    assert_false(rcy_gc_is_tracked(r));
    rcy_gen *t = rcy_gen_take(r, 3);
    assert_true(rcy_gc_is_tracked(t));
    rcy_list *refs = rcy_gc_get_referents(heap, (void *const *)&t, 1);
    assert_non_null(refs);
    assert_int_equal(rcy_list_len(refs), 1);
    assert_ptr_equal(rcy_list_get(refs, 0), r);
    rcy_decref(refs);
    rcy_decref(t);
    rcy_decref(r);
}

/* A step function that runs a full collection while its own generator is
 * running and unreachable from outside but for the caller's reference. */
typedef struct collecting {
    rcy_list *held;
    int steps;
} collecting;

static int collecting_next(rcy_heap *h, void *s, void **item) {
    collecting *st = s;
    if (st->steps++ == 3)
        return RCY_GEN_DONE;
    rcy_gc_collect(h, -1);
    *item = rcy_int_new(h, st->steps);
    return *item ? RCY_GEN_ITEM : RCY_ENOMEM;
}

static int collecting_traverse(void *s, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((collecting *)s)->held, visit, arg);
    return 0;
}

static void collecting_clear(void *s) {
    RCY_CLEAR(((collecting *)s)->held);
}

static const rcy_gen_spec collecting_spec = {.name = "collecting",
                                             .state_size = sizeof(collecting),
                                             .next = collecting_next,
                                             .traverse = collecting_traverse,
                                             .clear = collecting_clear};

static void collecting_from_inside_a_step_is_safe(void **state) {
    (void)state;
    rcy_list *l = rcy_list_new(heap);
    rcy_gen *g = rcy_gen_new(heap, &collecting_spec);
    ((collecting *)rcy_gen_state(g))->held = l; /* l -> g -> l */
    rcy_list_append(l, g);
    int n = 0;
    RCY_FOR_EACH(item, g) {
        assert_int_equal(rcy_int_value(item), ++n);
    }
    assert_int_equal(n, 3);
    /* finished: its state let go of l, so the cycle is gone */
    rcy_decref(g);
}

static int square(rcy_heap *h, void *item, void **out, void *ctx) {
    (void)ctx;
    long v = rcy_int_value(item);
    *out = rcy_int_new(h, v * v);
    return *out ? 0 : RCY_ENOMEM;
}

static int is_odd(void *item, void *ctx) {
    (void)ctx;
    return rcy_int_value(item) % 2 != 0;
}

static void pipeline_survives_a_collection_at_every_allocation(void **state) {
    (void)state;
    rcy_gc_set_hard(heap, true);
    rcy_list *src = rcy_list_new(heap);
    for (long i = 0; i < 40; i++) {
        rcy_int *v = rcy_int_new(heap, i);
        rcy_list_append(src, v);
        rcy_decref(v);
    }
    rcy_gen *it = rcy_gen_from_list(src);
    rcy_gen *odd = rcy_gen_filter(it, is_odd, NULL);
    rcy_gen *sq = rcy_gen_map(odd, square, NULL);
    rcy_gen *t = rcy_gen_take(sq, 10);
    rcy_decref(it);
    rcy_decref(odd);
    rcy_decref(sq);
    rcy_list *out = rcy_gen_to_list(t);
    assert_non_null(out);
    assert_int_equal(rcy_list_len(out), 10);
    assert_int_equal(rcy_int_value(rcy_list_get(out, 9)), 19 * 19);
    rcy_decref(out);
    rcy_decref(t);
    rcy_decref(src);
    rcy_gc_set_hard(heap, false);
}

/* Generators dropped at heap teardown while still open are closed. */
static void open_generator_in_garbage_at_heap_free_is_closed(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    bool closed = false;
    rcy_list *l = rcy_list_new(h);
    rcy_gen *g = rcy_gen_new(h, &holder_spec);
    holder *st = rcy_gen_state(g);
    st->held = l;
    st->closed_flag = &closed;
    rcy_list_append(l, g);
    rcy_decref(g);
    rcy_heap_free(h);
    assert_true(closed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(generator_in_a_cycle_is_closed_then_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(collector_closes_before_clearing, setup, teardown),
        cmocka_unit_test_setup_teardown(self_referencing_generator_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(reachable_pipeline_survives_collection, setup, teardown),
        cmocka_unit_test_setup_teardown(only_generators_that_can_hold_references_are_tracked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(collecting_from_inside_a_step_is_safe, setup, teardown),
        cmocka_unit_test_setup_teardown(pipeline_survives_a_collection_at_every_allocation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(open_generator_in_garbage_at_heap_free_is_closed, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
