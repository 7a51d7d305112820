/* tests/test_gc_incremental.c — the incremental collector
 * (rcy_gc_set_incremental, rcy_gc_step): automatic collections of an
 * incremental heap are bounded increments, never full collections; an
 * increment takes a whole cycle of old objects however small its budget;
 * a scan frees old garbage; the gc API keeps its meaning (collect(2) is
 * full, stats and callbacks count increments as generation 1).  The
 * random-graph oracle runs on incremental heaps in test_gc_stress.c. */
#include "testutil.h"

#include "options.h"

#include <stdlib.h>
#include <string.h>

typedef struct node {
    struct node *next;
    struct node *other;
} node;

static size_t destroyed;

static int n_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->next, visit, arg);
    RCY_VISIT(n->other, visit, arg);
    return 0;
}
static void n_clear(void *self) {
    node *n = self;
    RCY_CLEAR(n->next);
    RCY_CLEAR(n->other);
}
static void n_destroy(void *self) {
    destroyed++;
    n_clear(self);
}
static const rcy_type node_type = {"Node", sizeof(node), 0, n_traverse, n_clear, NULL, n_destroy};

/* A ring of n nodes; returns a new reference to its first node. */
static node *ring(rcy_heap *h, size_t n) {
    node *first = rcy_new(h, &node_type);
    assert_non_null(first);
    node *last = first;
    for (size_t i = 1; i < n; i++) {
        node *x = rcy_new(h, &node_type);
        assert_non_null(x);
        last->next = x; /* the reference rcy_new gave */
        last = x;
    }
    rcy_incref(first);
    last->next = first;
    return first;
}

/* Steps until a scan ends; returns how many steps that took. */
static size_t until_scan_ends(rcy_heap *h, size_t budget) {
    size_t steps = 1;
    int r;
    while ((r = rcy_gc_step(h, budget)) == 0)
        steps++;
    assert_int_equal(r, 1);
    return steps;
}

static void incremental_mode_is_off_by_default_and_per_heap(void **state) {
    (void)state;
    rcy_heap *a = rcy_heap_new(NULL), *b = rcy_heap_new(NULL);
    assert_false(rcy_gc_get_incremental(a));
    rcy_gc_set_incremental(a, true);
    assert_true(rcy_gc_get_incremental(a));
    assert_false(rcy_gc_get_incremental(b));
    rcy_gc_set_incremental(a, false);
    assert_false(rcy_gc_get_incremental(a));
    rcy_heap_free(a);
    rcy_heap_free(b);
}

static void rcy_gc_incremental_1_makes_new_heaps_incremental(void **state) {
    (void)state;
    setenv("RCY_GC_INCREMENTAL", "1", 1);
    rcyi_option_reset(RCYI_OPTION_GC_INCREMENTAL);
    rcy_heap *h = rcy_heap_new(NULL);
    assert_true(rcy_gc_get_incremental(h));
    rcy_heap_free(h);
    unsetenv("RCY_GC_INCREMENTAL");
    rcyi_option_reset(RCYI_OPTION_GC_INCREMENTAL);
    h = rcy_heap_new(NULL);
    assert_false(rcy_gc_get_incremental(h));
    rcy_heap_free(h);
}

/* Biggest number of objects one automatic collection examined, by
 * generation (the callback sees each collection's end). */
typedef struct watch {
    size_t last[3], biggest[3];
    size_t full;
} watch;

static void on_stop(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    watch *wt = arg;
    if (phase != RCY_GC_STOP)
        return;
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    int g = info->generation;
    size_t c = st.generations[g].candidates - wt->last[g];
    wt->last[g] = st.generations[g].candidates;
    if (c > wt->biggest[g])
        wt->biggest[g] = c;
    wt->full += g == 2;
}

/* Builds 8000 rings of 50 nodes (400k objects) held from C, dropping
 * every fourth ring, with automatic collection on; returns the watch. */
static watch churn(bool incremental) {
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, incremental);
    watch wt;
    memset(&wt, 0, sizeof wt);
    assert_int_equal(rcy_gc_callbacks_add(h, on_stop, &wt), RCY_OK);
    static node *keep[8000];
    destroyed = 0;
    for (size_t i = 0; i < 8000; i++) {
        keep[i] = ring(h, 50);
        if (i % 4 == 3) {
            rcy_decref(keep[i]);
            keep[i] = NULL;
        }
    }
    for (size_t i = 0; i < 8000; i++)
        rcy_xdecref(keep[i]);
    watch seen = wt; /* the automatic collections only */
    assert_true(rcy_gc_collect(h, 2) >= 0);
    assert_int_equal(destroyed, 8000 * 50);
    rcy_heap_free(h);
    return seen;
}

static void automatic_collections_of_an_incremental_heap_are_bounded_increments(void **state) {
    (void)state;
    watch stw = churn(false), inc = churn(true);
    /* stop-the-world: full collections examine the whole old generation */
    assert_true(stw.full >= 1);
    assert_true(stw.biggest[2] > 100000);
    /* incremental: no full collection; every collection is of generation
     * 1, since young survivors go straight to the old generation: a young
     * one (threshold0 2000, plus 1), or an increment (the young generation,
     * as many old objects, and the closure of the last object taken:
     * one ring).  (With generation 1 kept, a young collection could
     * examine ten collections' survivors.) */
    assert_int_equal(inc.full, 0);
    assert_int_equal(inc.biggest[0], 0);
    assert_true(inc.biggest[1] <= 2 * 2001 + 50);
}

static void an_increment_takes_a_whole_old_cycle_whatever_its_budget(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, true);
    rcy_gc_disable(h);
    node *r = ring(h, 20000);
    until_scan_ends(h, 1); /* the ring is old now */
    rcy_decref(r);
    destroyed = 0;
    size_t steps = 0;
    while (destroyed == 0) {
        assert_true(rcy_gc_step(h, 1) >= 0);
        assert_true(++steps < 1000);
    }
    /* freed in one step: the increment took the whole ring */
    assert_int_equal(destroyed, 20000);
    rcy_heap_free(h);
}

static void a_scan_frees_old_garbage_and_keeps_live_objects(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, true);
    rcy_gc_disable(h);
    node *live[100], *dead[100];
    for (int i = 0; i < 100; i++) {
        live[i] = ring(h, 30);
        dead[i] = ring(h, 30);
        dead[i]->other = live[i]; /* garbage pointing at live objects */
        rcy_incref(live[i]);
    }
    until_scan_ends(h, 500);
    until_scan_ends(h, 500); /* all old and examined once */
    destroyed = 0;
    for (int i = 0; i < 100; i++)
        rcy_decref(dead[i]);
    assert_int_equal(destroyed, 0);
    size_t steps = until_scan_ends(h, 500);
    steps += until_scan_ends(h, 500);
    assert_int_equal(destroyed, 100 * 30);
    assert_true(steps > 2); /* the work was spread over several steps */
    for (int i = 0; i < 100; i++)
        assert_int_equal(rcy_getrefcount(live[i]), 2); /* ours, its ring's */
    for (int i = 0; i < 100; i++)
        rcy_decref(live[i]);
    assert_true(rcy_gc_collect(h, 2) >= 0);
    assert_int_equal(destroyed, 200 * 30);
    rcy_heap_free(h);
}

static void collect_2_is_still_a_full_collection_and_collect_1_an_increment(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, true);
    rcy_gc_disable(h);
    destroyed = 0;
    for (int i = 0; i < 50; i++)
        rcy_decref(ring(h, 40));
    assert_int_equal(rcy_gc_collect(h, 2), 50 * 40);
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].collections, 1);
    for (int i = 0; i < 10; i++)
        rcy_decref(ring(h, 40));
    assert_int_equal(rcy_gc_collect(h, 1), 10 * 40); /* young: all in it */
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[1].collections, 1);
    size_t count[3];
    rcy_gc_get_count(h, count);
    assert_int_equal(count[0], 0);
    rcy_heap_free(h);
}

static void the_end_of_a_scan_resets_count2_as_a_full_collection(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, true);
    rcy_gc_disable(h);
    node *keep[40];
    for (int i = 0; i < 40; i++)
        keep[i] = ring(h, 100);
    size_t count[3];
    assert_int_equal(rcy_gc_step(h, 1), 0); /* an increment, as a collection of 1 */
    rcy_gc_get_count(h, count);
    assert_int_equal(count[0], 0);
    assert_int_equal(count[1], 0);
    assert_int_equal(count[2], 1);
    size_t steps = until_scan_ends(h, 1);
    rcy_gc_get_count(h, count);
    assert_int_equal(count[2], 0);
    assert_true(steps > 1);
    for (int i = 0; i < 40; i++)
        rcy_decref(keep[i]);
    rcy_heap_free(h);
}

static int nested_step;
static void step_in_callback(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    (void)info, (void)arg;
    if (phase == RCY_GC_START)
        nested_step = rcy_gc_step(h, 100);
}

static void a_step_inside_a_collection_does_nothing(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_gc_set_incremental(h, true);
    assert_int_equal(rcy_gc_callbacks_add(h, step_in_callback, NULL), RCY_OK);
    nested_step = -1;
    assert_true(rcy_gc_step(h, 10) >= 0);
    assert_int_equal(nested_step, 0);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(incremental_mode_is_off_by_default_and_per_heap),
        cmocka_unit_test(rcy_gc_incremental_1_makes_new_heaps_incremental),
        cmocka_unit_test(automatic_collections_of_an_incremental_heap_are_bounded_increments),
        cmocka_unit_test(an_increment_takes_a_whole_old_cycle_whatever_its_budget),
        cmocka_unit_test(a_scan_frees_old_garbage_and_keeps_live_objects),
        cmocka_unit_test(collect_2_is_still_a_full_collection_and_collect_1_an_increment),
        cmocka_unit_test(the_end_of_a_scan_resets_count2_as_a_full_collection),
        cmocka_unit_test(a_step_inside_a_collection_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
