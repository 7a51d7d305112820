/* tests/test_finalization.c — PEP 442 semantics: finalizers run once,
 * before anything in the garbage is cleared; resurrected objects survive
 * with all they reach; resurrection never blocks other garbage; a
 * finalizer may allocate, drop references, collect, make new cycles. */
#include "test_gc_util.h"

static int setup(void **state) {
    reset_tallies();
    *state = new_heap();
    return 0;
}

static int teardown(void **state) {
    drop_resurrected();
    rcy_heap_free(*state);
    return 0;
}

/* A ring of n nodes of `type` with ids first..first+n-1; returns the
 * first node (the caller owns one reference to each node's ring only
 * through the returned node). */
static node *ring(rcy_heap *h, const rcy_type *type, int first, int n, int behavior) {
    node *head = mk(h, type, first), *prev = head;
    head->behavior = behavior;
    for (int i = 1; i < n; i++) {
        node *x = mk(h, type, first + i);
        x->behavior = behavior;
        link_a(prev, x);
        rcy_decref(x);
        prev = x;
    }
    link_a(prev, head);
    return head;
}

static void finalizer_runs_once_for_a_collected_cycle(void **state) {
    rcy_heap *h = *state;
    node *r = ring(h, &fnode_type, 1, 3, 0);
    rcy_decref(r);
    assert_int_equal(rcy_gc_collect(h, 2), 3);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(finalized[i], 1);
        assert_int_equal(destroyed[i], 1);
    }
}

static void finalizer_runs_once_when_freed_by_refcount(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &fnode_type, 1);
    assert_false(rcy_gc_is_finalized(x));
    rcy_decref(x);
    assert_int_equal(finalized[1], 1);
    assert_int_equal(destroyed[1], 1);
}

static void no_member_is_cleared_before_every_finalizer_ran(void **state) {
    rcy_heap *h = *state;
    node *r = ring(h, &fnode_type, 1, 50, NODE_CHECK_PEERS);
    rcy_decref(r);
    assert_int_equal(rcy_gc_collect(h, 2), 50);
    assert_int_equal(total_finalized, 50);
    assert_int_equal(peer_check_failures, 0);
}

static void resurrected_object_survives_and_is_finalized_once(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &fnode_type, 1);
    x->behavior = NODE_RESURRECT;
    link_a(x, x);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 0); /* resurrected: not counted */
    assert_int_equal(finalized[1], 1);
    assert_int_equal(destroyed[1], 0);
    assert_int_equal(nresurrected, 1);
    assert_ptr_equal(resurrected[0], x);
    assert_ptr_equal(x->a, x); /* intact, not cleared */
    assert_true(rcy_gc_is_finalized(x));
    assert_true(rcy_gc_is_tracked(x));
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].collected, 0);
    /* Garbage again: collected this time, finalizer not run again. */
    nresurrected = 0;
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_int_equal(finalized[1], 1);
    assert_int_equal(destroyed[1], 1);
}

static void resurrection_keeps_everything_it_reaches(void **state) {
    rcy_heap *h = *state;
    /* a -> b -> c -> a, only a resurrects; b and c must survive intact. */
    node *a = ring(h, &fnode_type, 1, 3, 0);
    a->behavior = NODE_RESURRECT;
    node *b = a->a, *c = b->a;
    rcy_int *payload = rcy_int_new(h, 77);
    link_b(c, payload);
    rcy_decref(payload);
    rcy_decref(a);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    assert_int_equal(total_destroyed, 0);
    assert_int_equal(total_finalized, 3);
    assert_ptr_equal(a->a, b);
    assert_ptr_equal(b->a, c);
    assert_ptr_equal(c->a, a);
    assert_int_equal(rcy_int_value(c->b), 77);
    drop_resurrected();
    assert_int_equal(rcy_gc_collect(h, 2), 3);
    assert_int_equal(total_finalized, 3);
    assert_int_equal(total_destroyed, 3);
}

static void resurrection_does_not_block_other_garbage(void **state) {
    rcy_heap *h = *state;
    node *keep = ring(h, &fnode_type, 1, 4, 0);
    keep->behavior = NODE_RESURRECT;
    node *gone = ring(h, &fnode_type, 10, 5, 0);
    node *plain = ring(h, &node_type, 20, 6, 0);
    rcy_decref(keep);
    rcy_decref(gone);
    rcy_decref(plain);
    assert_int_equal(rcy_gc_collect(h, 2), 11);
    for (int i = 10; i < 15; i++)
        assert_int_equal(destroyed[i], 1);
    for (int i = 20; i < 26; i++)
        assert_int_equal(destroyed[i], 1);
    for (int i = 1; i < 5; i++)
        assert_int_equal(destroyed[i], 0);
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].collected, 11);
}

static void resurrection_from_a_young_collection(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *x = ring(h, &fnode_type, 1, 2, NODE_RESURRECT);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 0), 0);
    assert_int_equal(nresurrected, 2);
    drop_resurrected();
    /* Resurrected objects went to the old generation. */
    assert_int_equal(rcy_gc_collect(h, 0), 0);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
}

static void mixed_chain_of_plain_resurrecting_and_self_breaking_nodes(void **state) {
    rcy_heap *h = *state;
    /* A ring of 30: every third node resurrects, every third breaks its own
     * links in its finalizer, the rest are plain (no finalizer). */
    enum { N = 30 };
    node *nodes[N];
    for (int i = 0; i < N; i++) {
        int kind = i % 3;
        nodes[i] = mk(h, kind == 2 ? &node_type : &fnode_type, i + 1);
        nodes[i]->behavior = kind == 0 ? NODE_RESURRECT : kind == 1 ? NODE_SELFBREAK : 0;
    }
    for (int i = 0; i < N; i++)
        link_a(nodes[i], nodes[(i + 1) % N]);
    for (int i = 0; i < N; i++)
        rcy_decref(nodes[i]);
    ssize_t n = rcy_gc_collect(h, 2);
    /* Resurrectors keep what follows them up to the next self-breaker:
     * node 3k resurrects and keeps 3k+1 (which broke its own link). */
    assert_int_equal(nresurrected, N / 3);
    for (int i = 0; i < N; i++) {
        int kind = i % 3;
        if (kind == 0 || kind == 1)
            assert_int_equal(destroyed[i + 1], 0);
        else
            assert_int_equal(destroyed[i + 1], 1);
        if (kind != 2)
            assert_int_equal(finalized[i + 1], 1);
    }
    /* The plain nodes died when the self-breakers dropped them: freed by
     * refcounting during finalization, which CPython does not count. */
    assert_int_equal(n, 0);
    drop_resurrected();
    /* Now plain refcounting frees the rest: their links are broken. */
    assert_int_equal(total_destroyed, N);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    for (int i = 0; i < N; i++)
        if (i % 3 != 2)
            assert_int_equal(finalized[i + 1], 1);
}

static void collect_from_a_finalizer_returns_zero(void **state) {
    rcy_heap *h = *state;
    node *x = ring(h, &fnode_type, 1, 2, NODE_COLLECT);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(collect_in_finalizer_result, 0);
    assert_int_equal(total_destroyed, 2);
}

static void finalizer_may_allocate_new_cycles(void **state) {
    rcy_heap *h = *state;
    node *x = ring(h, &fnode_type, 1, 2, NODE_NEW_CYCLE);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(destroyed[MAX_IDS - 1], 0); /* new cycles: next time */
    assert_int_equal(rcy_gc_collect(h, 2), 4);
    assert_int_equal(destroyed[MAX_IDS - 1], 4);
}

static node *global_holder;

static void drop_global(void *self) {
    (void)self;
    RCY_CLEAR(global_holder);
}

static const rcy_type dropper_type = {"Dropper",  sizeof(node), 0,           node_traverse,
                                      node_clear, drop_global,  node_destroy};

static void finalizer_may_drop_references(void **state) {
    rcy_heap *h = *state;
    global_holder = ring(h, &node_type, 10, 3, 0); /* alive through the global */
    node *d = mk(h, &dropper_type, 1);
    link_a(d, d);
    rcy_decref(d);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_null(global_holder);
    assert_int_equal(rcy_gc_collect(h, 2), 3);
    assert_int_equal(total_destroyed, 4);
}

static void heap_free_finalizes_remaining_cycles_once(void **state) {
    (void)state;
    rcy_heap *h = new_heap();
    node *x = ring(h, &fnode_type, 1, 10, 0);
    rcy_gc_collect(h, 2);
    rcy_decref(x);
    rcy_heap_free(h);
    assert_int_equal(total_finalized, 10);
    assert_int_equal(total_destroyed, 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(finalizer_runs_once_for_a_collected_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(finalizer_runs_once_when_freed_by_refcount, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(no_member_is_cleared_before_every_finalizer_ran, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(resurrected_object_survives_and_is_finalized_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(resurrection_keeps_everything_it_reaches, setup, teardown),
        cmocka_unit_test_setup_teardown(resurrection_does_not_block_other_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(resurrection_from_a_young_collection, setup, teardown),
        cmocka_unit_test_setup_teardown(mixed_chain_of_plain_resurrecting_and_self_breaking_nodes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(collect_from_a_finalizer_returns_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(finalizer_may_allocate_new_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(finalizer_may_drop_references, setup, teardown),
        cmocka_unit_test_setup_teardown(heap_free_finalizes_remaining_cycles_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
