/* tests/test_weakref.c — weak references and finalize objects: clearing
 * on refcount death and on collection, Python's callback rules, the
 * per-heap table, weakref.finalize semantics. */
#include "test_gc_util.h"

static int setup(void **state) {
    reset_tallies();
    *state = new_heap();
    return 0;
}

static int teardown(void **state) {
    rcy_heap_free(*state);
    return 0;
}

typedef struct cbstate {
    int calls;
    rcy_weakref *last;
    int saw_live_referent; /* a callback must never see its referent */
    rcy_weakref *others[4];
    int nothers;
} cbstate;

static void record(rcy_weakref *wr, void *arg) {
    cbstate *s = arg;
    s->calls++;
    s->last = wr;
    void *o = rcy_weakref_get(wr);
    if (o) {
        s->saw_live_referent = 1;
        rcy_decref(o);
    }
    for (int i = 0; i < s->nothers; i++) {
        o = rcy_weakref_get(s->others[i]);
        if (o) {
            s->saw_live_referent = 1;
            rcy_decref(o);
        }
    }
}

static void get_returns_a_new_reference_while_alive(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &node_type, 1);
    rcy_weakref *wr = rcy_weakref_new(x, NULL, NULL);
    assert_non_null(wr);
    assert_ptr_equal(rcy_type_of(wr), &rcy_weakref_type);
    assert_int_equal(rcy_getrefcount(x), 1); /* weak: no reference taken */
    node *y = rcy_weakref_get(wr);
    assert_ptr_equal(y, x);
    assert_int_equal(rcy_getrefcount(x), 2);
    rcy_decref(y);
    rcy_decref(x);
    assert_int_equal(destroyed[1], 1);
    assert_null(rcy_weakref_get(wr));
    rcy_decref(wr);
}

static void callback_runs_once_after_refcount_death(void **state) {
    rcy_heap *h = *state;
    cbstate s;
    memset(&s, 0, sizeof s);
    rcy_int *i = rcy_int_new(h, 5); /* untracked referents work too */
    rcy_weakref *w1 = rcy_weakref_new(i, record, &s);
    rcy_weakref *w2 = rcy_weakref_new(i, record, &s);
    s.others[0] = w1;
    s.others[1] = w2;
    s.nothers = 2;
    assert_int_equal(rcy_weakref_getweakrefcount(i), 2);
    rcy_decref(i);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.saw_live_referent, 0);
    rcy_decref(w1);
    rcy_decref(w2);
}

static void dropped_weakref_gets_no_callback(void **state) {
    rcy_heap *h = *state;
    cbstate s;
    memset(&s, 0, sizeof s);
    node *x = mk(h, &node_type, 1);
    rcy_weakref *a = rcy_weakref_new(x, record, &s);
    rcy_weakref *b = rcy_weakref_new(x, record, &s);
    rcy_weakref *c = rcy_weakref_new(x, record, &s);
    assert_int_equal(rcy_weakref_getweakrefcount(x), 3);
    rcy_decref(b); /* middle of the list */
    assert_int_equal(rcy_weakref_getweakrefcount(x), 2);
    rcy_decref(c); /* head */
    rcy_decref(a); /* last: the table entry goes */
    assert_int_equal(rcy_weakref_getweakrefcount(x), 0);
    rcy_decref(x);
    assert_int_equal(s.calls, 0);
}

static void collector_clears_weakrefs_and_runs_callbacks(void **state) {
    rcy_heap *h = *state;
    cbstate s;
    memset(&s, 0, sizeof s);
    node *x = mk(h, &node_type, 1), *y = mk(h, &node_type, 2);
    link_a(x, y);
    link_a(y, x);
    rcy_weakref *wx = rcy_weakref_new(x, record, &s);
    rcy_weakref *wy = rcy_weakref_new(y, record, &s);
    s.others[0] = wx;
    s.others[1] = wy;
    s.nothers = 2;
    rcy_decref(x);
    rcy_decref(y);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.saw_live_referent, 0);
    assert_null(rcy_weakref_get(wx));
    assert_null(rcy_weakref_get(wy));
    rcy_decref(wx);
    rcy_decref(wy);
}

static void weakref_inside_the_garbage_gets_no_callback(void **state) {
    rcy_heap *h = *state;
    cbstate s;
    memset(&s, 0, sizeof s);
    node *x = mk(h, &node_type, 1);
    node *other = mk(h, &node_type, 2);
    rcy_list *l = rcy_list_new(h);
    link_a(x, x);
    /* x holds a weakref (with callback) to itself and one to a live
     * object: both weakrefs are garbage along with x. */
    rcy_weakref *self_ref = rcy_weakref_new(x, record, &s);
    rcy_weakref *other_ref = rcy_weakref_new(other, record, &s);
    link_b(x, self_ref);
    rcy_decref(self_ref);
    rcy_decref(x);
    /* other_ref held by a list that is itself in a cycle */
    rcy_list_append(l, l);
    rcy_list_append(l, other_ref);
    rcy_decref(other_ref);
    rcy_decref(l);
    assert_int_equal(rcy_gc_collect(h, 2), 4); /* x, self_ref, l, other_ref */
    assert_int_equal(s.calls, 0);
    rcy_decref(other);
    assert_int_equal(s.calls, 0);
}

static node *peer_seen_by_finalizer;
static rcy_weakref *peer_ref;
static int finalizer_saw_peer;

static void look_at_peer(void *self) {
    (void)self;
    void *o = rcy_weakref_get(peer_ref);
    if (o) {
        finalizer_saw_peer = 1;
        rcy_decref(o);
    }
}

static const rcy_type peeker_type = {"Peeker",   sizeof(node), 0,           node_traverse,
                                     node_clear, look_at_peer, node_destroy};

static void weakrefs_are_cleared_before_finalizers_run(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &peeker_type, 1), *y = mk(h, &node_type, 2);
    link_a(x, y);
    link_a(y, x);
    peer_ref = rcy_weakref_new(y, NULL, NULL);
    rcy_decref(x);
    rcy_decref(y);
    finalizer_saw_peer = 0;
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(finalizer_saw_peer, 0);
    rcy_decref(peer_ref);
    (void)peer_seen_by_finalizer;
}

static rcy_weakref *late_ref;
static cbstate late_state;

static void make_weakref_to_self(void *self) {
    if (!late_ref)
        late_ref = rcy_weakref_new(self, record, &late_state);
}

static const rcy_type late_type = {"Late",     sizeof(node),         0,           node_traverse,
                                   node_clear, make_weakref_to_self, node_destroy};

static void weakref_made_by_a_finalizer_is_cleared_too(void **state) {
    rcy_heap *h = *state;
    memset(&late_state, 0, sizeof late_state);
    late_ref = NULL;
    node *x = mk(h, &late_type, 1);
    link_a(x, x);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_non_null(late_ref);
    assert_null(rcy_weakref_get(late_ref));
    assert_int_equal(late_state.calls, 1);
    assert_int_equal(late_state.saw_live_referent, 0);
    RCY_CLEAR(late_ref);
}

static void callback_may_allocate_and_collect(void **state);

static int alloc_cb_calls;
static long alloc_cb_collect = -99;
static void allocating_cb(rcy_weakref *wr, void *arg) {
    rcy_heap *h = arg;
    (void)wr;
    alloc_cb_calls++;
    node *n = mk(h, &node_type, 100);
    link_a(n, n);
    rcy_decref(n);
    alloc_cb_collect = (long)rcy_gc_collect(h, 2);
}

static void callback_may_allocate_and_collect(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_weakref *w = rcy_weakref_new(x, allocating_cb, h);
    rcy_decref(x);
    alloc_cb_calls = 0;
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_int_equal(alloc_cb_calls, 1);
    assert_int_equal(alloc_cb_collect, 0);     /* inside a collection: no nesting */
    assert_int_equal(rcy_gc_collect(h, 2), 1); /* the cycle the callback made */
    rcy_decref(w);
}

static void refcount_death_callback_may_collect(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &node_type, 1);
    rcy_weakref *w = rcy_weakref_new(x, allocating_cb, h);
    alloc_cb_calls = 0;
    rcy_gc_set_hard(h, true); /* the callback's allocation collects fully */
    rcy_decref(x);
    rcy_gc_set_hard(h, false);
    assert_int_equal(alloc_cb_calls, 1);
    /* Not inside a collection: it finds the callback's cycle, and never
     * the dying x, which left the collector before its callbacks ran. */
    assert_int_equal(alloc_cb_collect, 1);
    assert_int_equal(destroyed[1], 1);
    assert_int_equal(destroyed[100], 1);
    rcy_decref(w);
}

static void many_weakrefs_to_many_objects(void **state) {
    rcy_heap *h = *state;
    enum { N = 2000 };
    static node *objs[N];
    static rcy_weakref *refs[N][2];
    for (int i = 0; i < N; i++) {
        objs[i] = mk(h, &node_type, 0);
        refs[i][0] = rcy_weakref_new(objs[i], NULL, NULL);
        refs[i][1] = rcy_weakref_new(objs[i], NULL, NULL);
        assert_non_null(refs[i][1]);
    }
    for (int i = 0; i < N; i += 2)
        rcy_decref(objs[i]);
    for (int i = 0; i < N; i++) {
        void *o = rcy_weakref_get(refs[i][i % 3 == 0]);
        if (i % 2 == 0) {
            assert_null(o);
        } else {
            assert_ptr_equal(o, objs[i]);
            assert_int_equal(rcy_weakref_getweakrefcount(objs[i]), 2);
            rcy_decref(o);
        }
    }
    for (int i = 1; i < N; i += 2) {
        rcy_decref(refs[i][0]);
        assert_int_equal(rcy_weakref_getweakrefcount(objs[i]), 1);
        rcy_decref(objs[i]);
    }
    for (int i = 0; i < N; i++) {
        assert_null(rcy_weakref_get(refs[i][1]));
        rcy_decref(refs[i][1]);
        if (i % 2 == 0)
            rcy_decref(refs[i][0]);
    }
}

/* ---- finalize ------------------------------------------------------------ */

static int fin_log[16];
static int fin_nlog;
static void log_fn(void *arg) {
    if (fin_nlog < 16)
        fin_log[fin_nlog++] = (int)(intptr_t)arg;
}

static void finalize_runs_once_when_the_object_dies(void **state) {
    rcy_heap *h = *state;
    fin_nlog = 0;
    node *x = mk(h, &node_type, 1);
    rcy_finalize *f = rcy_finalize_new(x, log_fn, (void *)7);
    assert_non_null(f);
    assert_true(rcy_finalize_alive(f));
    assert_true(rcy_finalize_get_atexit(f));
    rcy_decref(f); /* the heap keeps it alive */
    rcy_decref(x);
    assert_int_equal(fin_nlog, 1);
    assert_int_equal(fin_log[0], 7);
}

static void finalize_runs_when_the_collector_frees_the_object(void **state) {
    rcy_heap *h = *state;
    fin_nlog = 0;
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_finalize *f = rcy_finalize_new(x, log_fn, (void *)3);
    rcy_decref(x);
    /* x, and the finalize that fired (Python counts the weak reference it
     * frees inside) */
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(fin_nlog, 1);
    assert_false(rcy_finalize_alive(f));
    assert_false(rcy_finalize_call(f));
    rcy_decref(f);
}

/* Python's order: the callbacks of one object run newest first, whether
 * it dies by refcounting or in a collection. */
static int order_log[8], norder;
static void log_order(rcy_weakref *wr, void *arg) {
    (void)wr;
    order_log[norder++] = (int)(intptr_t)arg;
}
static void log_order_fin(void *arg) {
    order_log[norder++] = (int)(intptr_t)arg;
}

static void callbacks_of_one_object_run_newest_first(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    for (int cyclic = 0; cyclic < 2; cyclic++) {
        norder = 0;
        node *x = mk(h, &node_type, 1);
        if (cyclic)
            link_a(x, x);
        rcy_weakref *r[3];
        for (int i = 0; i < 3; i++)
            r[i] = rcy_weakref_new(x, log_order, (void *)(intptr_t)(i + 1));
        rcy_finalize *f = rcy_finalize_new(x, log_order_fin, (void *)(intptr_t)4);
        rcy_decref(f);
        rcy_decref(x);
        if (cyclic)
            rcy_gc_collect(h, 2);
        assert_int_equal(norder, 4);
        assert_int_equal(order_log[0], 4);
        assert_int_equal(order_log[1], 3);
        assert_int_equal(order_log[2], 2);
        assert_int_equal(order_log[3], 1);
        for (int i = 0; i < 3; i++)
            rcy_decref(r[i]);
    }
}

/* A callback that drops its own weak reference frees it: the collector
 * counts it, as CPython's handle_weakrefs does. */
static rcy_weakref *self_dropping;
static void drop_self(rcy_weakref *wr, void *arg) {
    (void)arg;
    assert_ptr_equal(wr, self_dropping);
    self_dropping = NULL;
    rcy_decref(wr);
}

static void weakref_freed_after_its_callback_is_counted(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    self_dropping = rcy_weakref_new(x, drop_self, NULL);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_null(self_dropping);
}

/* A called or detached finalize no longer counts as a weak reference. */
static void dead_finalize_is_not_a_weak_reference(void **state) {
    rcy_heap *h = *state;
    fin_nlog = 0;
    node *x = mk(h, &node_type, 1);
    rcy_finalize *f = rcy_finalize_new(x, log_fn, (void *)1);
    rcy_finalize *g = rcy_finalize_new(x, log_fn, (void *)2);
    assert_int_equal(rcy_weakref_getweakrefcount(x), 2);
    assert_true(rcy_finalize_call(f));
    assert_int_equal(rcy_weakref_getweakrefcount(x), 1);
    assert_true(rcy_finalize_detach(g));
    assert_int_equal(rcy_weakref_getweakrefcount(x), 0);
    rcy_decref(x);
    assert_int_equal(fin_nlog, 1);
    rcy_decref(f);
    rcy_decref(g);
}

static void finalize_call_and_detach(void **state) {
    rcy_heap *h = *state;
    fin_nlog = 0;
    node *x = mk(h, &node_type, 1);
    rcy_finalize *f = rcy_finalize_new(x, log_fn, (void *)1);
    rcy_finalize *g = rcy_finalize_new(x, log_fn, (void *)2);
    assert_true(rcy_finalize_call(f));
    assert_false(rcy_finalize_call(f));
    assert_false(rcy_finalize_alive(f));
    assert_true(rcy_finalize_detach(g));
    assert_false(rcy_finalize_detach(g));
    assert_false(rcy_finalize_alive(g));
    rcy_decref(x);
    assert_int_equal(fin_nlog, 1);
    assert_int_equal(fin_log[0], 1);
    rcy_decref(f);
    rcy_decref(g);
    assert_null(rcy_finalize_new(x == NULL ? NULL : NULL, log_fn, NULL));
}

static void pending_finalizers_run_at_heap_free_newest_first(void **state) {
    (void)state;
    fin_nlog = 0;
    rcy_heap *h = new_heap();
    node *x = mk(h, &node_type, 1);
    rcy_finalize *a = rcy_finalize_new(x, log_fn, (void *)1);
    rcy_finalize *b = rcy_finalize_new(x, log_fn, (void *)2);
    rcy_finalize *c = rcy_finalize_new(x, log_fn, (void *)3);
    rcy_finalize_set_atexit(b, false);
    assert_false(rcy_finalize_get_atexit(b));
    rcy_decref(a);
    rcy_decref(b);
    rcy_decref(c);
    /* x is leaked on purpose: its finalizers are still pending. */
    rcy_heap_free(h);
    assert_int_equal(fin_nlog, 2);
    assert_int_equal(fin_log[0], 3);
    assert_int_equal(fin_log[1], 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_returns_a_new_reference_while_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_runs_once_after_refcount_death, setup, teardown),
        cmocka_unit_test_setup_teardown(dropped_weakref_gets_no_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(collector_clears_weakrefs_and_runs_callbacks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(weakref_inside_the_garbage_gets_no_callback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(weakrefs_are_cleared_before_finalizers_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(weakref_made_by_a_finalizer_is_cleared_too, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(callback_may_allocate_and_collect, setup, teardown),
        cmocka_unit_test_setup_teardown(refcount_death_callback_may_collect, setup, teardown),
        cmocka_unit_test_setup_teardown(many_weakrefs_to_many_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(finalize_runs_once_when_the_object_dies, setup, teardown),
        cmocka_unit_test_setup_teardown(finalize_runs_when_the_collector_frees_the_object, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(finalize_call_and_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(callbacks_of_one_object_run_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(weakref_freed_after_its_callback_is_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(dead_finalize_is_not_a_weak_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(pending_finalizers_run_at_heap_free_newest_first, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
