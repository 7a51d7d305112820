/* tests/test_cross_heap.c — references across heaps: the containers
 * refuse to store an object of another heap (misuse, RCY_EINVAL, nothing
 * stored), and the collector that meets such a reference names both
 * objects' types and heaps before it stops. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static int reports;
static char last[512];
static void record(int err, const char *msg, void *arg) {
    (void)arg;
    assert_int_equal(err, RCY_EMISUSE);
    reports++;
    snprintf(last, sizeof last, "%s", msg);
}

static const rcy_type big_type = {.name = "Big", .size = 2000};

/* The report a store of `obj` (of heap `other`) into a container of heap
 * `own` must give, from function `func`. */
static void expect_report(const char *func, const char *arg, const char *type, void *other,
                          void *own) {
    char want[512];
    snprintf(want, sizeof want,
             "%s: %s is an object of type %s in heap %p, not heap %p (an object may refer "
             "only to objects of its own heap)",
             func, arg, type, other, own);
    assert_int_equal(reports, 1);
    assert_string_equal(last, want);
    reports = 0;
}

static void stores_of_another_heaps_objects_are_refused(rcy_heap *a, rcy_heap *b) {
    rcy_list *l = rcy_list_new(a);
    rcy_dict *d = rcy_dict_new(a);
    rcy_int *mine = rcy_int_new(a, 1), *theirs = rcy_int_new(b, 2);
    void *big = rcy_new(b, &big_type); /* a large block: the other lookup */
    assert_non_null(big);
    assert_int_equal(rcy_list_append(l, mine), RCY_OK);
    rcy_set_error_handler(record, NULL);
    reports = 0;
    assert_int_equal(rcy_list_append(l, theirs), RCY_EINVAL);
    expect_report("rcy_list_insert_", "item", "int", b, a);
    assert_int_equal(rcy_list_insert(l, 0, big), RCY_EINVAL);
    expect_report("rcy_list_insert_", "item", "Big", b, a);
    assert_int_equal(rcy_list_set(l, 0, theirs), RCY_EINVAL);
    expect_report("rcy_list_set", "item", "int", b, a);
    assert_int_equal(rcy_dict_set(d, "k", theirs), RCY_EINVAL);
    expect_report("rcy_dict_set_", "value", "int", b, a);
    assert_int_equal(rcy_dict_set(d, "k", big), RCY_EINVAL);
    expect_report("rcy_dict_set_", "value", "Big", b, a);
    rcy_set_error_handler(NULL, NULL);
    /* Nothing was stored, no reference taken. */
    assert_int_equal(rcy_list_len(l), 1);
    assert_ptr_equal(rcy_list_get(l, 0), mine);
    assert_int_equal(rcy_dict_len(d), 0);
    assert_int_equal(rcy_getrefcount(theirs), 1);
    assert_int_equal(rcy_getrefcount(big), 1);
    /* Objects of the container's own heap are stored as before. */
    assert_int_equal(rcy_dict_set(d, "k", mine), RCY_OK);
    assert_int_equal(rcy_list_set(l, 0, l), RCY_OK);
    rcy_decref(big);
    rcy_decref(theirs);
    rcy_decref(mine);
    rcy_decref(d);
    rcy_decref(l);
}

static void lists_and_dicts_refuse_objects_of_another_heap(void **state) {
    (void)state;
    rcy_heap *a = rcy_heap_new(NULL), *b = rcy_heap_new(NULL);
    stores_of_another_heaps_objects_are_refused(a, b);
    stores_of_another_heaps_objects_are_refused(b, a);
    rcy_heap_free(a);
    rcy_heap_free(b);
}

static void debug_heaps_refuse_them_too(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *a = rcy_heap_new(&cfg), *b = rcy_heap_new(&cfg);
    stores_of_another_heaps_objects_are_refused(a, b);
    rcy_heap_free(a);
    rcy_heap_free(b);
}

/* A user type whose traverse shows the collector a reference the
 * containers would have refused. */
typedef struct node {
    struct node *ref;
} node;
static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((node *)self)->ref, visit, arg);
    return 0;
}
static void node_clear(void *self) {
    RCY_CLEAR(((node *)self)->ref);
}
static const rcy_type a_node = {
    .name = "ANode", .size = sizeof(node), .traverse = node_traverse, .clear = node_clear};
static const rcy_type b_node = {
    .name = "BNode", .size = sizeof(node), .traverse = node_traverse, .clear = node_clear};

static char expected[512];
static void compare(int err, const char *msg, void *arg) {
    (void)arg;
    fprintf(stderr, "%s\n", msg);
    if (err == RCY_EMISUSE && strcmp(msg, expected) == 0)
        fputs("the report names both objects and both heaps\n", stderr);
}

static void collect_across_heaps(void *arg) {
    (void)arg;
    rcy_heap *a = rcy_heap_new(NULL), *b = rcy_heap_new(NULL);
    node *x = rcy_new(a, &a_node), *y = rcy_new(b, &b_node);
    x->ref = y; /* the store a list or dict would refuse */
    rcy_incref(y);
    y->ref = x;
    rcy_incref(x);
    snprintf(expected, sizeof expected,
             "gc: object of type ANode (%p) in heap %p refers to object of type BNode (%p) in "
             "heap %p: an object may refer only to objects of its own heap",
             (void *)x, (void *)a, (void *)y, (void *)b);
    rcy_set_error_handler(compare, NULL);
    rcy_gc_collect(a, 0);
}

static void the_collector_names_both_types_and_heaps_of_a_cross_heap_reference(void **state) {
    (void)state;
    rcy_expect_death(collect_across_heaps, NULL, "the report names both objects and both heaps");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_and_dicts_refuse_objects_of_another_heap),
        cmocka_unit_test(debug_heaps_refuse_them_too),
        cmocka_unit_test(the_collector_names_both_types_and_heaps_of_a_cross_heap_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
