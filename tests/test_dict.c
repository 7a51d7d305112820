/* tests/test_dict.c — dict objects: every function, insertion order, key
 * copies, reference ownership, errors, against a simple model. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
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

static void set_int(rcy_dict *d, const char *k, long v) {
    rcy_int *i = rcy_int_new(rcy_heap_of(d), v);
    assert_non_null(i);
    assert_int_equal(rcy_dict_set(d, k, i), RCY_OK);
    rcy_decref(i);
}

static long get_int(rcy_dict *d, const char *k) {
    rcy_int *i = rcy_dict_get(d, k);
    assert_non_null(i);
    return rcy_int_value(i);
}

static void new_dict_is_empty(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    assert_non_null(d);
    assert_int_equal(rcy_dict_len(d), 0);
    assert_null(rcy_dict_get(d, "a"));
    assert_int_equal(rcy_dict_del(d, "a"), RCY_ENOTFOUND);
    size_t pos = 0;
    assert_false(rcy_dict_next(d, &pos, NULL, NULL));
    assert_ptr_equal(rcy_type_of(d), &rcy_dict_type);
    assert_non_null(rcy_dict_type.traverse);
    assert_non_null(rcy_dict_type.clear);
    rcy_decref(d);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void set_get_replace_and_delete(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    set_int(d, "one", 1);
    set_int(d, "two", 2);
    set_int(d, "", 0); /* the empty string is a key like any other */
    assert_int_equal(rcy_dict_len(d), 3);
    assert_int_equal(get_int(d, "one"), 1);
    assert_int_equal(get_int(d, "two"), 2);
    assert_int_equal(get_int(d, ""), 0);
    set_int(d, "one", 11);
    assert_int_equal(rcy_dict_len(d), 3);
    assert_int_equal(get_int(d, "one"), 11);
    assert_int_equal(rcy_dict_del(d, "two"), RCY_OK);
    assert_null(rcy_dict_get(d, "two"));
    assert_int_equal(rcy_dict_del(d, "two"), RCY_ENOTFOUND);
    assert_int_equal(rcy_dict_len(d), 2);
    set_int(d, "two", 22);
    assert_int_equal(get_int(d, "two"), 22);
    rcy_decref(d);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void keys_are_copied(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    char key[16];
    strcpy(key, "alpha");
    set_int(d, key, 1);
    strcpy(key, "beta");
    set_int(d, key, 2);
    assert_int_equal(get_int(d, "alpha"), 1);
    assert_int_equal(get_int(d, "beta"), 2);
    size_t pos = 0;
    const char *k;
    assert_true(rcy_dict_next(d, &pos, &k, NULL));
    assert_string_equal(k, "alpha");
    assert_ptr_not_equal(k, key);
    rcy_decref(d);
}

static void values_are_held_by_the_dict(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    rcy_list *v = rcy_list_new(h);
    assert_int_equal(rcy_dict_set(d, "a", v), RCY_OK);
    assert_int_equal(rcy_dict_set(d, "b", v), RCY_OK);
    assert_int_equal(rcy_getrefcount(v), 3);
    assert_int_equal(rcy_dict_set(d, "a", v), RCY_OK); /* same value again */
    assert_int_equal(rcy_getrefcount(v), 3);
    assert_ptr_equal(rcy_dict_get(d, "b"), v);
    assert_int_equal(rcy_dict_del(d, "a"), RCY_OK);
    assert_int_equal(rcy_getrefcount(v), 2);
    rcy_decref(d);
    assert_int_equal(rcy_getrefcount(v), 1);
    rcy_decref(v);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void iteration_follows_insertion_order(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    const char *names[] = {"zeta", "alpha", "mid", "beta", "omega"};
    for (int i = 0; i < 5; i++)
        set_int(d, names[i], i);
    assert_int_equal(rcy_dict_del(d, "mid"), RCY_OK);
    set_int(d, "mid", 99);   /* re-inserted: goes last */
    set_int(d, "zeta", 100); /* replaced: keeps its place */
    const char *want[] = {"zeta", "alpha", "beta", "omega", "mid"};
    long want_v[] = {100, 1, 3, 4, 99};
    size_t pos = 0;
    const char *k;
    void *v;
    int n = 0;
    while (rcy_dict_next(d, &pos, &k, &v)) {
        assert_true(n < 5);
        assert_string_equal(k, want[n]);
        assert_int_equal(rcy_int_value(v), want_v[n]);
        n++;
    }
    assert_int_equal(n, 5);
    assert_false(rcy_dict_next(d, &pos, &k, &v)); /* stays finished */
    rcy_decref(d);
}

/* Random operations against a plain array model. */
static void many_keys_match_a_model(void **state) {
    rcy_heap *h = *state;
    enum { KEYS = 3000 };
    static long model[KEYS]; /* -1 = absent */
    for (int i = 0; i < KEYS; i++)
        model[i] = -1;
    rcy_dict *d = rcy_dict_new(h);
    unsigned seed = 12345;
    char key[32];
    size_t live = 0;
    for (int step = 0; step < 60000; step++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % KEYS);
        snprintf(key, sizeof key, "key-%d", k);
        if ((seed >> 4) % 3 == 0) {
            int rc = rcy_dict_del(d, key);
            assert_int_equal(rc, model[k] >= 0 ? RCY_OK : RCY_ENOTFOUND);
            if (model[k] >= 0)
                live--;
            model[k] = -1;
        } else {
            if (model[k] < 0)
                live++;
            model[k] = step;
            set_int(d, key, step);
        }
        assert_int_equal(rcy_dict_len(d), live);
    }
    for (int k = 0; k < KEYS; k++) {
        snprintf(key, sizeof key, "key-%d", k);
        rcy_int *v = rcy_dict_get(d, key);
        if (model[k] < 0)
            assert_null(v);
        else
            assert_int_equal(rcy_int_value(v), model[k]);
    }
    size_t pos = 0, seen = 0;
    const char *kk;
    while (rcy_dict_next(d, &pos, &kk, NULL))
        seen++;
    assert_int_equal(seen, live);
    rcy_decref(d);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void clear_empties_and_the_dict_stays_usable(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "%d", i);
        set_int(d, key, i);
    }
    rcy_dict_clear(d);
    assert_int_equal(rcy_dict_len(d), 0);
    assert_null(rcy_dict_get(d, "5"));
    set_int(d, "5", 5);
    assert_int_equal(get_int(d, "5"), 5);
    rcy_dict_type.clear(d); /* the collector's clear */
    assert_int_equal(rcy_dict_len(d), 0);
    rcy_decref(d);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static int count_visit(void *obj, void *arg) {
    (void)obj;
    ++*(int *)arg;
    return 0;
}

static void traverse_visits_every_value(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    set_int(d, "a", 1);
    set_int(d, "b", 2);
    set_int(d, "c", 3);
    rcy_dict_del(d, "b");
    int n = 0;
    assert_int_equal(rcy_dict_type.traverse(d, count_visit, &n), 0);
    assert_int_equal(n, 2);
    rcy_decref(d);
}

/* A value whose destructor modifies the dict that held it. */
static rcy_dict *victim;
static void meddle_destroy(void *self) {
    (void)self;
    if (victim) {
        rcy_dict_clear(victim);
        set_int(victim, "after", 1);
    }
}
static const rcy_type meddler_type = {.name = "Meddler", .size = 8, .destroy = meddle_destroy};

static void destructors_may_change_the_dict(void **state) {
    rcy_heap *h = *state;
    victim = rcy_dict_new(h);
    set_int(victim, "x", 1);
    void *m = rcy_new(h, &meddler_type);
    assert_int_equal(rcy_dict_set(victim, "m", m), RCY_OK);
    rcy_decref(m);
    assert_int_equal(rcy_dict_del(victim, "m"), RCY_OK);
    assert_int_equal(rcy_dict_len(victim), 1);
    assert_int_equal(get_int(victim, "after"), 1);
    m = rcy_new(h, &meddler_type);
    rcy_dict_set(victim, "m", m);
    rcy_decref(m);
    set_int(victim, "m", 3); /* replacing drops the meddler */
    assert_int_equal(rcy_dict_len(victim), 1);
    m = rcy_new(h, &meddler_type);
    rcy_dict_set(victim, "m", m);
    rcy_decref(m);
    rcy_dict_clear(victim);
    assert_int_equal(rcy_dict_len(victim), 1);
    rcy_dict *d = victim;
    victim = NULL;
    rcy_decref(d);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

static void bad_arguments_are_reported(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    rcy_list *l = rcy_list_new(h);
    rcy_dict *not_dict = (rcy_dict *)l;
    assert_int_equal(rcy_dict_set(d, NULL, l), RCY_EINVAL);
    assert_int_equal(rcy_dict_set(d, "k", NULL), RCY_EINVAL);
    assert_int_equal(rcy_dict_set(NULL, "k", l), RCY_EINVAL);
    assert_int_equal(rcy_dict_set(not_dict, "k", l), RCY_EINVAL);
    assert_null(rcy_dict_get(not_dict, "k"));
    assert_null(rcy_dict_get(d, NULL));
    assert_int_equal(rcy_dict_del(not_dict, "k"), RCY_EINVAL);
    assert_int_equal(rcy_dict_del(d, NULL), RCY_EINVAL);
    assert_int_equal(rcy_dict_len(not_dict), 0);
    size_t pos = 0;
    assert_false(rcy_dict_next(not_dict, &pos, NULL, NULL));
    assert_false(rcy_dict_next(d, NULL, NULL, NULL));
    rcy_dict_clear(not_dict);
    assert_null(rcy_dict_new(NULL));
    rcy_decref(d);
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
}

/* CPython's lazy dict tracking: untracked until a value whose type has
 * traverse is stored; count[0] counts the dict from then only, so empty
 * dicts made and dropped move no count. */
static void dicts_are_tracked_once_they_may_hold_a_cycle(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_gc_collect(h, 2);
    size_t before[RCY_GC_GENERATIONS], after[RCY_GC_GENERATIONS];
    rcy_gc_get_count(h, before);
    for (int i = 0; i < 100; i++)
        rcy_decref(rcy_dict_new(h));
    rcy_gc_get_count(h, after);
    assert_int_equal(after[0], before[0]);
    rcy_dict *d = rcy_dict_new(h);
    assert_false(rcy_gc_is_tracked(d));
    set_int(d, "one", 1);
    assert_false(rcy_gc_is_tracked(d));
    rcy_list *l = rcy_list_new(h);
    rcy_gc_get_count(h, before);
    assert_int_equal(rcy_dict_set(d, "list", l), RCY_OK);
    rcy_gc_get_count(h, after);
    assert_true(rcy_gc_is_tracked(d));
    assert_int_equal(after[0], before[0] + 1);
    assert_int_equal(rcy_list_append(l, d), RCY_OK); /* d <-> l */
    rcy_decref(l);
    rcy_decref(d);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(new_dict_is_empty),
        T(set_get_replace_and_delete),
        T(keys_are_copied),
        T(values_are_held_by_the_dict),
        T(iteration_follows_insertion_order),
        T(many_keys_match_a_model),
        T(clear_empties_and_the_dict_stays_usable),
        T(traverse_visits_every_value),
        T(destructors_may_change_the_dict),
        T(bad_arguments_are_reported),
        T(dicts_are_tracked_once_they_may_hold_a_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
