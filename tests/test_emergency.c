/* tests/test_emergency.c — emergency collection (rcy_gc_set_emergency):
 * an allocation that fails under the heap's memory limit, or because the
 * raw allocator failed (fault injection), runs one full collection and
 * is retried; where it must not run; its counter in the gc statistics. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#define LIMIT  ((size_t)64 << 20)
#define BUFFER ((size_t)256 << 10)

/* Two of these in a cycle, each with a buffer from rcy_mem_*: few objects
 * (automatic collection never triggers) holding much memory. */
typedef struct holder {
    struct holder *other;
    void *buf;
} holder;

static int holder_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((holder *)self)->other, visit, arg);
    return 0;
}
static void holder_clear(void *self) {
    RCY_CLEAR(((holder *)self)->other);
}
static void holder_destroy(void *self) {
    holder *o = self;
    holder_clear(o);
    if (o->buf)
        rcy_mem_free(rcy_heap_of(o), o->buf);
    o->buf = NULL;
}
static const rcy_type holder_type = {
    .name = "holder",
    .size = sizeof(holder),
    .traverse = holder_traverse,
    .clear = holder_clear,
    .destroy = holder_destroy,
};

static rcy_heap *limited_heap(void) {
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.memory_limit = LIMIT;
    cfg.debug = 0;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static size_t emergencies(rcy_heap *h) {
    rcy_gc_stats st = {.size = sizeof st};
    assert_int_equal(rcy_gc_get_stats(h, &st), RCY_OK);
    assert_int_equal(st.version, RCY_GC_STATS_VERSION);
    return st.emergency_collections;
}

/* 900 garbage cycles of 2 x 256 KiB (450 MiB in all) under a 64 MiB
 * limit; returns how many cycles were made before an allocation failed. */
static int make_garbage_cycles(rcy_heap *h) {
    int i;
    for (i = 0; i < 900; i++) {
        holder *a = rcy_new(h, &holder_type);
        if (!a)
            break;
        holder *b = rcy_new(h, &holder_type);
        if (!b) {
            rcy_decref(a);
            break;
        }
        a->other = b;
        rcy_incref(b);
        b->other = a;
        rcy_incref(a);
        a->buf = rcy_mem_try_alloc(h, BUFFER);
        b->buf = a->buf ? rcy_mem_try_alloc(h, BUFFER) : NULL;
        bool ok = b->buf != NULL;
        rcy_decref(a);
        rcy_decref(b);
        if (!ok)
            break;
    }
    return i;
}

static void garbage_cycles_under_a_64mib_limit_run_to_completion(void **state) {
    (void)state;
    rcy_heap *h = limited_heap();
    assert_true(rcy_gc_get_emergency(h)); /* on by default */
    assert_int_equal(make_garbage_cycles(h), 900);
    size_t n = emergencies(h);
    print_message("900 garbage cycles of 512 KiB under 64 MiB: %zu emergency collections\n", n);
    assert_true(n >= 900 * 2 * BUFFER / LIMIT - 1);
    assert_true(n < 900);
    rcy_mem_stats ms = {.size = sizeof ms};
    rcy_mem_get_stats(h, &ms);
    assert_true(ms.large_bytes <= LIMIT);
    rcy_heap_free(h);
}

static void the_same_program_fails_without_emergency_collection(void **state) {
    (void)state;
    rcy_heap *h = limited_heap();
    rcy_gc_set_emergency(h, false);
    assert_false(rcy_gc_get_emergency(h));
    int made = make_garbage_cycles(h);
    print_message("without emergency collection: %d cycles made before RCY_ENOMEM\n", made);
    assert_true(made < 900);
    assert_true((size_t)made <= LIMIT / (2 * BUFFER));
    assert_int_equal(emergencies(h), 0);
    rcy_heap_free(h);
    /* Nor with automatic collection disabled. */
    h = limited_heap();
    rcy_gc_disable(h);
    assert_true(make_garbage_cycles(h) < 900);
    assert_int_equal(emergencies(h), 0);
    rcy_heap_free(h);
}

static void an_injected_fault_is_retried_after_one_collection(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    /* The first raw request (the arena of a new object) fails; the
     * emergency collection runs and the retry gets it. */
    rcy_heap_fail_nth(h, 1);
    rcy_int *i = rcy_int_new(h, 7);
    assert_non_null(i);
    assert_int_equal(emergencies(h), 1);
    rcy_heap_fail_nth(h, 1); /* a large block */
    void *big = rcy_mem_try_alloc(h, 10000);
    assert_non_null(big);
    assert_int_equal(emergencies(h), 2);
    rcy_heap_fail_nth(h, 1);
    void *big2 = rcy_mem_alloc(h, 10000); /* the aborting flavour too */
    assert_non_null(big2);
    rcy_heap_fail_nth(h, 1);
    void *zeroed = rcy_mem_try_calloc(h, 100, 100);
    assert_non_null(zeroed);
    assert_int_equal(emergencies(h), 4);
    /* realloc never collects (the block it was given could be freed by a
     * finalizer): the failure is reported. */
    rcy_heap_fail_nth(h, 1);
    assert_null(rcy_mem_try_realloc(h, big, 100000));
    assert_int_equal(emergencies(h), 4);
    /* Each collection was a full one. */
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].collections, 4);
    rcy_heap_fail_nth(h, 0);
    rcy_mem_free(h, big);
    rcy_mem_free(h, big2);
    rcy_mem_free(h, zeroed);
    rcy_decref(i);
    rcy_heap_free(h);
}

static void container_stores_are_retried_after_one_collection(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    rcy_list *l = rcy_list_new(h);
    rcy_dict *d = rcy_dict_new(h);
    rcy_int *v = rcy_int_new(h, 1);
    /* Every store is set to fail its first raw request; the first store
     * that makes one (an array past the small-block limit) is retried. */
    size_t n = 0;
    while (emergencies(h) == 0) {
        rcy_heap_fail_nth(h, 1);
        assert_int_equal(rcy_list_append(l, v), RCY_OK);
        n++;
        assert_true(n < 1000);
    }
    assert_int_equal(rcy_list_len(l), n);
    char key[32];
    for (n = 0; emergencies(h) == 1; n++) {
        snprintf(key, sizeof key, "key%zu", n);
        rcy_heap_fail_nth(h, 1);
        assert_int_equal(rcy_dict_set(d, key, v), RCY_OK);
        assert_true(n < 1000);
    }
    assert_int_equal(emergencies(h), 2);
    assert_int_equal(rcy_dict_len(d), n);
    assert_ptr_equal(rcy_dict_get(d, key), v);
    /* Without it the same store fails. */
    rcy_gc_set_emergency(h, false);
    rcy_list *l2 = rcy_list_new(h);
    int rc = RCY_OK;
    for (n = 0; rc == RCY_OK; n++) {
        rcy_heap_fail_nth(h, 1);
        rc = rcy_list_append(l2, v);
        assert_true(n < 1000);
    }
    assert_int_equal(rc, RCY_ENOMEM);
    rcy_heap_fail_nth(h, 0);
    rcy_decref(l2);
    rcy_decref(v);
    rcy_decref(d);
    rcy_decref(l);
    rcy_heap_free(h);
}

/* A finalizer that appends to a list: the emergency collection that a
 * failed append of the same list runs must not break that append. */
static rcy_list *target;
typedef struct fin {
    struct fin *self;
} fin;
static int fin_traverse(void *o, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((fin *)o)->self, visit, arg);
    return 0;
}
static void fin_clear(void *o) {
    RCY_CLEAR(((fin *)o)->self);
}
static void fin_finalize(void *o) {
    for (int i = 0; i < 40; i++) /* grows the list past its array */
        assert_int_equal(rcy_list_append(target, o), RCY_OK);
}
static const rcy_type fin_type = {
    .name = "fin",
    .size = sizeof(fin),
    .traverse = fin_traverse,
    .clear = fin_clear,
    .finalize = fin_finalize,
};

static void a_finalizer_changing_the_container_during_the_retry_is_safe(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    target = rcy_list_new(h);
    rcy_int *v = rcy_int_new(h, 1);
    for (int i = 0; i < 4; i++)
        rcy_list_append(target, v);
    fin *f = rcy_new(h, &fin_type);
    f->self = f;
    rcy_incref(f);
    rcy_decref(f); /* garbage with a finalizer */
    /* The first append that needs a raw request (an array past the
     * small-block limit) fails, runs the collection, whose finalizer
     * appends 40 times (the list grows under the failed append) before
     * the retry. */
    size_t before;
    do {
        before = rcy_list_len(target);
        rcy_heap_fail_nth(h, 1);
        assert_int_equal(rcy_list_append(target, v), RCY_OK);
        assert_true(before < 1000);
    } while (emergencies(h) == 0);
    assert_int_equal(rcy_list_len(target), before + 41);
    assert_ptr_equal(rcy_list_get(target, (ptrdiff_t)before + 40), v);
    rcy_heap_fail_nth(h, 0);
    rcy_decref(v);
    rcy_decref(target);
    rcy_heap_free(h);
}

/* Inside a collection (here a finalizer) no emergency collection nests:
 * the failure is reported. */
static rcy_heap *inner_heap;
static void *inner_result = (void *)1;
static void alloc_in_finalizer(void *o) {
    (void)o;
    rcy_heap_fail_nth(inner_heap, 1);
    inner_result = rcy_mem_try_alloc(inner_heap, 10000);
    rcy_heap_fail_nth(inner_heap, 0);
}
static const rcy_type alloc_fin_type = {
    .name = "alloc_fin",
    .size = sizeof(fin),
    .traverse = fin_traverse,
    .clear = fin_clear,
    .finalize = alloc_in_finalizer,
};

static void no_emergency_collection_inside_a_collection(void **state) {
    (void)state;
    inner_heap = rcy_heap_new(NULL);
    assert_non_null(inner_heap);
    fin *f = rcy_new(inner_heap, &alloc_fin_type);
    f->self = f;
    rcy_incref(f);
    rcy_decref(f);
    assert_true(rcy_gc_collect(inner_heap, 2) >= 1);
    assert_null(inner_result);
    assert_int_equal(emergencies(inner_heap), 0);
    rcy_heap_free(inner_heap);
}

static void emergency_switch_rejects_a_null_heap(void **state) {
    (void)state;
    rcy_test_capture_output();
    rcy_gc_set_emergency(NULL, true);
    assert_false(rcy_gc_get_emergency(NULL));
    assert_non_null(strstr(rcy_test_output(), "heap is NULL"));
    rcy_set_output(NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(garbage_cycles_under_a_64mib_limit_run_to_completion),
        cmocka_unit_test(the_same_program_fails_without_emergency_collection),
        cmocka_unit_test(an_injected_fault_is_retried_after_one_collection),
        cmocka_unit_test(container_stores_are_retried_after_one_collection),
        cmocka_unit_test(a_finalizer_changing_the_container_during_the_retry_is_safe),
        cmocka_unit_test(no_emergency_collection_inside_a_collection),
        cmocka_unit_test(emergency_switch_rejects_a_null_heap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
