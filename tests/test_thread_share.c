/* tests/test_thread_share.c — sharing objects between threads: the
 * refcount word's three states (private, shared, immortal), rcy_share's
 * transitive marking, the store barrier (RCY_STORE, lists, dicts), the
 * invariant checker, and shared counts changed by two threads at once. */
#include "testutil.h"

#include "object.h"

#include <pthread.h>
#include <string.h>

/* ---- a node type with two references ---------------------------------- */

typedef struct node {
    struct node *left, *right;
    int destroyed_mark;
} node;

static int destroyed;

static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->left, visit, arg);
    RCY_VISIT(n->right, visit, arg);
    return 0;
}

static void node_clear(void *self) {
    node *n = self;
    RCY_CLEAR(n->left);
    RCY_CLEAR(n->right);
}

static void node_destroy(void *self) {
    destroyed++;
    node_clear(self);
}

static const rcy_type node_type = {
    .name = "node",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .destroy = node_destroy,
};

static node *new_node(rcy_heap *h, node *l, node *r) {
    node *n = rcy_new(h, &node_type);
    assert_non_null(n);
    n->left = l;
    n->right = r;
    return n;
}

static uint32_t word(const void *obj) {
    return rcyi_refcnt_load(RCY_HEAD_(obj));
}

/* ---- the refcount word ------------------------------------------------- */

static void private_objects_count_as_before(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    node *n = new_node(h, NULL, NULL);
    rcy_incref(n);
    rcy_incref(n);
    assert_int_equal(word(n), 3);
    rcy_decref(n);
    assert_int_equal(rcy_getrefcount(n), 2);
    assert_false(rcy_is_shared(n));
    assert_true(rcy_gc_is_tracked(n));
    rcy_decref(n);
    destroyed = 0;
    rcy_decref(n);
    assert_int_equal(destroyed, 1);
    rcy_heap_free(h);
}

static void share_marks_what_the_object_reaches_and_nothing_else(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    node *leaf = new_node(h, NULL, NULL);
    node *mid = new_node(h, leaf, NULL);
    node *root = new_node(h, mid, NULL);
    node *other = new_node(h, NULL, NULL);
    rcy_incref(mid);  /* two references: count 2 kept in the shared word */
    mid->right = mid; /* a self-cycle: the walk must stop */
    assert_int_equal(rcy_share(root), RCY_OK);
    assert_true(rcy_is_shared(root) && rcy_is_shared(mid) && rcy_is_shared(leaf));
    assert_false(rcy_is_shared(other));
    assert_int_equal(word(mid), RCYI_RC_HIGH | 2);
    assert_int_equal(rcy_getrefcount(mid), 2);
    /* shared objects leave the heap's collector, and cannot rejoin it */
    assert_false(rcy_gc_is_tracked(root) || rcy_gc_is_tracked(mid) || rcy_gc_is_tracked(leaf));
    assert_true(rcy_gc_is_tracked(other));
    assert_int_equal(rcy_gc_track(root), RCY_EINVAL);
    assert_int_equal(rcy_share_check(h), 0);
    /* sharing again is a no-op */
    assert_int_equal(rcy_share(root), RCY_OK);
    assert_int_equal(word(root), RCYI_RC_HIGH | 1);
    mid->right = NULL;
    rcy_decref(mid);
    destroyed = 0;
    rcy_decref(root); /* last reference dropped on the owner thread */
    assert_int_equal(destroyed, 3);
    rcy_decref(other);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

static void shared_count_overflowing_makes_the_object_immortal(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    node *n = new_node(h, NULL, NULL);
    assert_int_equal(rcy_share(n), RCY_OK);
    __atomic_store_n(&RCY_HEAD_(n)->refcnt, RCYI_RC_HIGH | RCYI_RC_SHARED_MAX, __ATOMIC_RELAXED);
    rcy_incref(n);
    assert_true(rcy_is_immortal(n));
    assert_true(rcy_is_shared(n));
    assert_int_equal(rcy_getrefcount(n), RCY_REFCNT_IMMORTAL);
    uint32_t before = word(n);
    rcy_incref(n);
    rcy_decref(n);
    rcy_decref(n);
    assert_int_equal(word(n), before);
    rcy_heap_free(h);
}

static void immortal_objects_stay_immortal_private_or_shared(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    node *p = new_node(h, NULL, NULL);
    node *s = new_node(h, NULL, NULL);
    rcy_immortalize(p);
    assert_int_equal(word(p), RCYI_RC_IMMORTAL_PRIVATE);
    assert_int_equal(rcy_share(s), RCY_OK);
    rcy_immortalize(s);
    assert_int_equal(word(s), RCYI_RC_IMMORTAL_SHARED);
    for (int i = 0; i < 3; i++) {
        rcy_decref(p);
        rcy_decref(s);
    }
    assert_true(rcy_is_immortal(p) && rcy_is_immortal(s));
    assert_false(rcy_is_shared(p)); /* a private immortal is not shared */
    assert_true(rcy_is_shared(s));
    /* sharing stops at an immortal object: its children stay private */
    node *child = new_node(h, NULL, NULL);
    p->left = child;
    node *root = new_node(h, p, NULL);
    assert_int_equal(rcy_share(root), RCY_OK);
    assert_false(rcy_is_shared(child));
    rcy_decref(root); /* a heap keeps its live shared objects (alloc.h R3) */
    rcy_heap_free(h);
}

/* ---- the store barrier -------------------------------------------------- */

static void rcy_store_shares_the_value_only_when_the_owner_is_shared(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    node *priv = new_node(h, NULL, NULL);
    node *shared = new_node(h, NULL, NULL);
    assert_int_equal(rcy_share(shared), RCY_OK);
    node *a = new_node(h, NULL, NULL), *b = new_node(h, NULL, NULL);
    RCY_STORE(priv, priv->left, a);
    assert_ptr_equal(priv->left, a);
    assert_false(rcy_is_shared(a));
    RCY_STORE(shared, shared->left, b);
    assert_ptr_equal(shared->left, b);
    assert_true(rcy_is_shared(b));
    RCY_STORE(shared, shared->right, NULL);
    assert_null(shared->right);
    assert_int_equal(rcy_share_check(h), 0);
    rcy_decref(priv);
    rcy_decref(shared);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

static void containers_share_what_is_stored_into_a_shared_container(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_list *l = rcy_list_new(h);
    rcy_dict *d = rcy_dict_new(h);
    assert_int_equal(rcy_share(l), RCY_OK);
    assert_int_equal(rcy_share(d), RCY_OK);
    node *a = new_node(h, NULL, NULL), *b = new_node(h, NULL, NULL), *c = new_node(h, NULL, NULL);
    assert_int_equal(rcy_list_append(l, a), RCY_OK);
    assert_int_equal(rcy_list_set(l, 0, b), RCY_OK);
    assert_int_equal(rcy_dict_set(d, "k", c), RCY_OK);
    assert_true(rcy_is_shared(a) && rcy_is_shared(b) && rcy_is_shared(c));
    assert_false(rcy_gc_is_tracked(d)); /* a dict storing a container stays untracked */
    /* a private container keeps its items private */
    rcy_list *pl = rcy_list_new(h);
    node *e = new_node(h, NULL, NULL);
    assert_int_equal(rcy_list_append(pl, e), RCY_OK);
    assert_false(rcy_is_shared(e));
    assert_int_equal(rcy_share_check(h), 0);
    rcy_decref(a);
    rcy_decref(b);
    rcy_decref(c);
    rcy_decref(e);
    rcy_decref(l);
    rcy_decref(d);
    rcy_decref(pl);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

static void a_shared_object_of_another_heap_may_be_stored_a_private_one_may_not(void **state) {
    (void)state;
    rcy_heap *h1 = rcy_heap_new(NULL), *h2 = rcy_heap_new(NULL);
    rcy_test_capture_output();
    rcy_list *l = rcy_list_new(h1);
    node *priv = new_node(h2, NULL, NULL), *shared = new_node(h2, NULL, NULL);
    assert_int_equal(rcy_share(shared), RCY_OK);
    assert_int_equal(rcy_list_append(l, priv), RCY_EINVAL);
    assert_non_null(strstr(rcy_test_output(), "not heap"));
    assert_int_equal(rcy_list_append(l, shared), RCY_OK);
    assert_int_equal(rcy_gc_collect(h1, 2), 0); /* the collector does not follow it */
    rcy_decref(l);
    rcy_decref(priv);
    rcy_decref(shared);
    rcy_heap_free(h1);
    rcy_heap_free(h2);
    rcy_set_output(NULL, NULL);
}

/* ---- the checker -------------------------------------------------------- */

static void the_checker_reports_a_shared_to_private_edge_with_both_types(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_test_capture_output();
    node *s = new_node(h, NULL, NULL);
    assert_int_equal(rcy_share(s), RCY_OK);
    rcy_list *bad = rcy_list_new(h);
    s->left = (node *)(void *)bad; /* a store that bypasses the barrier */
    assert_int_equal(rcy_share_check(h), 1);
    const char *out = rcy_test_output();
    assert_non_null(strstr(out, "shared object of type node"));
    assert_non_null(strstr(out, "refers to private object of type list"));
    s->left = NULL;
    assert_int_equal(rcy_share_check(h), 0);
    rcy_decref(bad);
    rcy_decref(s);
    rcy_heap_free(h);
    rcy_set_output(NULL, NULL);
}

/* ---- two threads ------------------------------------------------------- */

#define ROUNDS 200000

static void *hammer(void *arg) {
    node *n = arg;
    for (int i = 0; i < ROUNDS; i++) {
        rcy_incref(n);
        rcy_incref(n->left);
        rcy_decref(n->left);
        rcy_decref(n);
    }
    return NULL;
}

static void two_threads_counting_a_shared_object_lose_no_update(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    node *n = new_node(h, new_node(h, NULL, NULL), NULL);
    assert_int_equal(rcy_share(n), RCY_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer, n), 0);
    for (int i = 0; i < ROUNDS; i++) {
        rcy_incref(n);
        rcy_decref(n);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(rcy_getrefcount(n), 1);
    assert_int_equal(rcy_getrefcount(n->left), 1);
    destroyed = 0;
    rcy_decref(n);
    assert_int_equal(destroyed, 2);
    rcy_heap_free(h);
}

/* rcy_heap_of (and rcy_is_shared) of a shared object, asked on another
 * thread while the owner carves new blocks from the same pool: the pool's
 * virgin offset moves under the reader (alloc.h P4; ThreadSanitizer saw
 * the race in test_thread_shared_stress). */
typedef struct {
    node *n;
    rcy_heap *h;
    int stop, mismatches;
} asker;

static void *ask_heap(void *arg) {
    asker *a = arg;
    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE))
        if (rcy_heap_of(a->n) != a->h || !rcy_is_shared(a->n))
            a->mismatches++;
    return NULL;
}

static void the_heap_of_a_shared_object_is_found_while_its_pool_grows(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    asker a = {new_node(h, NULL, NULL), h, 0, 0};
    assert_int_equal(rcy_share(a.n), RCY_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, ask_heap, &a), 0);
    enum { N = 20000 };
    static node *more[N];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < N; i++)
            more[i] = new_node(h, NULL, NULL); /* carves the pool past a.n */
        for (int i = N - 1; i >= 0; i--)
            rcy_decref(more[i]);
    }
    __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.mismatches, 0);
    rcy_decref(a.n);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(private_objects_count_as_before),
        cmocka_unit_test(share_marks_what_the_object_reaches_and_nothing_else),
        cmocka_unit_test(shared_count_overflowing_makes_the_object_immortal),
        cmocka_unit_test(immortal_objects_stay_immortal_private_or_shared),
        cmocka_unit_test(rcy_store_shares_the_value_only_when_the_owner_is_shared),
        cmocka_unit_test(containers_share_what_is_stored_into_a_shared_container),
        cmocka_unit_test(a_shared_object_of_another_heap_may_be_stored_a_private_one_may_not),
        cmocka_unit_test(the_checker_reports_a_shared_to_private_edge_with_both_types),
        cmocka_unit_test(two_threads_counting_a_shared_object_lose_no_update),
        cmocka_unit_test(the_heap_of_a_shared_object_is_found_while_its_pool_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
