/* tests/test_list.c — list objects: every function, Python's index rules,
 * reference ownership, errors. */
#include "testutil.h"

#include <string.h>

static int setup(void **state) {
    *state = rcy_heap_new(NULL);
    assert_non_null(*state);
    return 0;
}

static int teardown(void **state) {
    rcy_heap_free(*state);
    return 0;
}

/* A list [0, 1, ..., n-1] of ints; *ints receives borrowed pointers. */
static rcy_list *make_list(rcy_heap *h, int n, rcy_int **ints) {
    rcy_list *l = rcy_list_new(h);
    assert_non_null(l);
    for (int i = 0; i < n; i++) {
        rcy_int *v = rcy_int_new(h, i);
        assert_non_null(v);
        assert_int_equal(rcy_list_append(l, v), RCY_OK);
        rcy_decref(v);
        if (ints)
            ints[i] = v;
    }
    return l;
}

static long at(rcy_list *l, ptrdiff_t i) {
    return rcy_int_value(rcy_list_get(l, i));
}

static void new_list_is_empty_and_tracked_type(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = rcy_list_new(h);
    assert_non_null(l);
    assert_int_equal(rcy_list_len(l), 0);
    assert_null(rcy_list_get(l, 0));
    assert_null(rcy_list_get(l, -1));
    assert_null(rcy_list_pop(l, -1));
    assert_ptr_equal(rcy_type_of(l), &rcy_list_type);
    assert_non_null(rcy_list_type.traverse);
    assert_non_null(rcy_list_type.clear);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void append_takes_its_own_reference(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = rcy_list_new(h);
    rcy_int *v = rcy_int_new(h, 7);
    assert_int_equal(rcy_list_append(l, v), RCY_OK);
    assert_int_equal(rcy_getrefcount(v), 2);
    assert_int_equal(rcy_list_append(l, v), RCY_OK);
    assert_int_equal(rcy_getrefcount(v), 3);
    assert_int_equal(rcy_list_len(l), 2);
    assert_ptr_equal(rcy_list_get(l, 0), v);
    rcy_decref(l);
    assert_int_equal(rcy_getrefcount(v), 1);
    rcy_decref(v);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void get_uses_negative_indices_from_the_end(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = make_list(h, 5, NULL);
    assert_int_equal(at(l, 0), 0);
    assert_int_equal(at(l, 4), 4);
    assert_int_equal(at(l, -1), 4);
    assert_int_equal(at(l, -5), 0);
    assert_null(rcy_list_get(l, 5));
    assert_null(rcy_list_get(l, -6));
    assert_null(rcy_list_get(l, PTRDIFF_MIN));
    assert_null(rcy_list_get(l, PTRDIFF_MAX));
    rcy_decref(l);
}

static void insert_clamps_like_python(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = make_list(h, 3, NULL); /* [0, 1, 2] */
    rcy_int *a = rcy_int_new(h, 100), *b = rcy_int_new(h, 200), *c = rcy_int_new(h, 300),
            *d = rcy_int_new(h, 400), *e = rcy_int_new(h, 500);
    assert_int_equal(rcy_list_insert(l, 0, a), RCY_OK);    /* [100,0,1,2] */
    assert_int_equal(rcy_list_insert(l, 100, b), RCY_OK);  /* [100,0,1,2,200] */
    assert_int_equal(rcy_list_insert(l, -1, c), RCY_OK);   /* [100,0,1,2,300,200] */
    assert_int_equal(rcy_list_insert(l, -100, d), RCY_OK); /* [400,100,0,1,2,300,200] */
    assert_int_equal(rcy_list_insert(l, PTRDIFF_MIN, e), RCY_OK);
    long want[] = {500, 400, 100, 0, 1, 2, 300, 200};
    assert_int_equal(rcy_list_len(l), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(at(l, i), want[i]);
    rcy_decref(a), rcy_decref(b), rcy_decref(c), rcy_decref(d), rcy_decref(e);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void set_replaces_and_drops_the_old_item(void **state) {
    rcy_heap *h = *state;
    rcy_int *ints[3];
    rcy_list *l = make_list(h, 3, ints);
    rcy_incref(ints[1]);
    rcy_int *v = rcy_int_new(h, 9);
    assert_int_equal(rcy_list_set(l, 1, v), RCY_OK);
    assert_int_equal(rcy_getrefcount(ints[1]), 1);
    assert_int_equal(rcy_getrefcount(v), 2);
    assert_int_equal(rcy_list_set(l, -1, v), RCY_OK);
    assert_int_equal(rcy_getrefcount(v), 3);
    assert_int_equal(rcy_list_set(l, 3, v), RCY_ERANGE);
    assert_int_equal(rcy_list_set(l, -4, v), RCY_ERANGE);
    assert_int_equal(rcy_list_set(l, 0, NULL), RCY_EINVAL);
    assert_int_equal(at(l, 0), 0);
    assert_int_equal(at(l, 1), 9);
    assert_int_equal(at(l, 2), 9);
    /* setting an item to itself keeps it alive */
    assert_int_equal(rcy_list_set(l, 0, rcy_list_get(l, 0)), RCY_OK);
    assert_int_equal(at(l, 0), 0);
    rcy_decref(ints[1]);
    rcy_decref(v);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void pop_returns_a_new_reference(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = make_list(h, 5, NULL);
    rcy_int *last = rcy_list_pop(l, -1);
    assert_int_equal(rcy_int_value(last), 4);
    assert_int_equal(rcy_getrefcount(last), 1);
    rcy_decref(last);
    rcy_int *first = rcy_list_pop(l, 0);
    assert_int_equal(rcy_int_value(first), 0);
    rcy_decref(first);
    rcy_int *mid = rcy_list_pop(l, 1); /* [1,2,3] -> 2 */
    assert_int_equal(rcy_int_value(mid), 2);
    rcy_decref(mid);
    assert_null(rcy_list_pop(l, 2));
    assert_null(rcy_list_pop(l, -3));
    assert_int_equal(rcy_list_len(l), 2);
    assert_int_equal(at(l, 0), 1);
    assert_int_equal(at(l, 1), 3);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void pop_everything_from_a_big_list_shrinks_it(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = make_list(h, 10000, NULL);
    size_t full = rcy_test_bytes_in_use(h);
    for (int i = 9999; i >= 0; i--) {
        rcy_int *v = rcy_list_pop(l, -1);
        assert_int_equal(rcy_int_value(v), i);
        rcy_decref(v);
    }
    assert_int_equal(rcy_list_len(l), 0);
    assert_true(rcy_test_bytes_in_use(h) < full / 100);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void remove_drops_the_first_occurrence(void **state) {
    rcy_heap *h = *state;
    rcy_int *ints[4];
    rcy_list *l = make_list(h, 4, ints);
    assert_int_equal(rcy_list_append(l, ints[1]), RCY_OK); /* [0,1,2,3,1] */
    assert_true(rcy_list_contains(l, ints[1]));
    assert_int_equal(rcy_list_remove(l, ints[1]), RCY_OK);
    assert_int_equal(rcy_list_len(l), 4);
    assert_int_equal(at(l, 1), 2);
    assert_int_equal(at(l, 3), 1);
    assert_int_equal(rcy_list_remove(l, ints[1]), RCY_OK);
    assert_int_equal(rcy_list_len(l), 3); /* [0, 2, 3] */
    assert_int_equal(at(l, 1), 2);
    rcy_int *other = rcy_int_new(h, 1);
    assert_int_equal(rcy_list_remove(l, other), RCY_ENOTFOUND); /* identity, not value */
    assert_false(rcy_list_contains(l, other));
    assert_int_equal(rcy_list_remove(l, NULL), RCY_EINVAL);
    rcy_decref(other);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void clear_empties_and_the_list_stays_usable(void **state) {
    rcy_heap *h = *state;
    rcy_int *ints[100];
    rcy_list *l = make_list(h, 100, ints);
    rcy_incref(ints[50]);
    rcy_list_clear(l);
    assert_int_equal(rcy_list_len(l), 0);
    assert_int_equal(rcy_getrefcount(ints[50]), 1);
    assert_int_equal(rcy_list_append(l, ints[50]), RCY_OK);
    assert_int_equal(rcy_list_len(l), 1);
    rcy_decref(ints[50]);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void lists_can_hold_lists(void **state) {
    rcy_heap *h = *state;
    rcy_list *outer = rcy_list_new(h);
    for (int i = 0; i < 50; i++) {
        rcy_list *inner = make_list(h, i, NULL);
        assert_int_equal(rcy_list_append(outer, inner), RCY_OK);
        rcy_decref(inner);
    }
    assert_int_equal(rcy_list_len(rcy_list_get(outer, 49)), 49);
    rcy_decref(outer);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

typedef struct visit_count {
    int n;
    void *stop_at;
} visit_count;

static int count_visit(void *obj, void *arg) {
    visit_count *c = arg;
    c->n++;
    return obj == c->stop_at ? 7 : 0;
}

static void traverse_visits_every_item_and_stops_on_request(void **state) {
    rcy_heap *h = *state;
    rcy_int *ints[10];
    rcy_list *l = make_list(h, 10, ints);
    visit_count c = {0, NULL};
    assert_int_equal(rcy_list_type.traverse(l, count_visit, &c), 0);
    assert_int_equal(c.n, 10);
    c = (visit_count){0, ints[3]};
    assert_int_equal(rcy_list_type.traverse(l, count_visit, &c), 7);
    assert_int_equal(c.n, 4);
    rcy_list_type.clear(l); /* the collector's clear: drops references */
    assert_int_equal(rcy_list_len(l), 0);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

/* An item whose destructor changes the list that held it. */
static rcy_list *victim;
static void meddle_destroy(void *self) {
    (void)self;
    if (victim) {
        rcy_list_clear(victim);
        rcy_int *v = rcy_int_new(rcy_heap_of(victim), 5);
        rcy_list_append(victim, v);
        rcy_decref(v);
    }
}
static const rcy_type meddler_type = {.name = "Meddler", .size = 8, .destroy = meddle_destroy};

static void destructors_may_change_the_list_during_mutation(void **state) {
    rcy_heap *h = *state;
    victim = make_list(h, 3, NULL);
    void *m = rcy_new(h, &meddler_type);
    assert_int_equal(rcy_list_append(victim, m), RCY_OK);
    rcy_decref(m);
    rcy_int *x = rcy_int_new(h, 1);
    assert_int_equal(rcy_list_set(victim, -1, x), RCY_OK); /* drops m: it clears victim */
    assert_int_equal(rcy_list_len(victim), 1);
    assert_int_equal(at(victim, 0), 5);
    m = rcy_new(h, &meddler_type);
    rcy_list_append(victim, m);
    rcy_decref(m);
    assert_int_equal(rcy_list_remove(victim, m), RCY_OK);
    m = rcy_new(h, &meddler_type);
    rcy_list_append(victim, m);
    rcy_decref(m);
    rcy_list_clear(victim);
    assert_int_equal(rcy_list_len(victim), 1);
    rcy_list *l = victim;
    victim = NULL;
    rcy_decref(l);
    rcy_decref(x);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void bad_arguments_are_reported(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    rcy_list *l = rcy_list_new(h);
    rcy_list *not_list = (rcy_list *)d;
    assert_int_equal(rcy_list_append(NULL, l), RCY_EINVAL);
    assert_int_equal(rcy_list_append(l, NULL), RCY_EINVAL);
    assert_int_equal(rcy_list_append(not_list, l), RCY_EINVAL);
    assert_int_equal(rcy_list_insert(not_list, 0, l), RCY_EINVAL);
    assert_int_equal(rcy_list_set(not_list, 0, l), RCY_EINVAL);
    assert_null(rcy_list_get(not_list, 0));
    assert_null(rcy_list_pop(not_list, 0));
    assert_int_equal(rcy_list_remove(not_list, l), RCY_EINVAL);
    assert_int_equal(rcy_list_len(not_list), 0);
    assert_false(rcy_list_contains(not_list, l));
    rcy_list_clear(not_list);
    assert_int_equal(rcy_list_len(NULL), 0);
    assert_null(rcy_list_new(NULL));
    rcy_decref(d);
    rcy_decref(l);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(new_list_is_empty_and_tracked_type),
        T(append_takes_its_own_reference),
        T(get_uses_negative_indices_from_the_end),
        T(insert_clamps_like_python),
        T(set_replaces_and_drops_the_old_item),
        T(pop_returns_a_new_reference),
        T(pop_everything_from_a_big_list_shrinks_it),
        T(remove_drops_the_first_occurrence),
        T(clear_empties_and_the_list_stays_usable),
        T(lists_can_hold_lists),
        T(traverse_visits_every_item_and_stops_on_request),
        T(destructors_may_change_the_list_during_mutation),
        T(bad_arguments_are_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
