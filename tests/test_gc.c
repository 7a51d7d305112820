/* tests/test_gc.c — the cycle collector and Python's gc API: cycles of
 * every shape, collect counts, generations, counts and thresholds,
 * statistics, introspection, freeze, callbacks, garbage, debug output.
 * Every test creates garbage and collects it without allocating in
 * between, so it also passes with RCY_GC_HARD=1. */
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

static size_t list_count(rcy_list *l, const void *item) {
    size_t n = 0;
    for (size_t i = 0; i < rcy_list_len(l); i++)
        n += rcy_list_get(l, (ptrdiff_t)i) == item;
    return n;
}

/* ---- cycles ---------------------------------------------------------- */

static void self_cycle_is_collected(void **state) {
    rcy_heap *h = *state;
    node *n = mk(h, &node_type, 1);
    link_a(n, n);
    rcy_gc_collect(h, 2);
    assert_int_equal(destroyed[1], 0);
    rcy_decref(n);
    assert_int_equal(destroyed[1], 0); /* refcounting cannot free it */
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_int_equal(destroyed[1], 1);
}

static void list_cycle_is_collected(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = rcy_list_new(h);
    assert_int_equal(rcy_list_append(l, l), RCY_OK);
    rcy_gc_collect(h, 2);
    rcy_decref(l);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
}

static void dict_cycle_is_collected(void **state) {
    rcy_heap *h = *state;
    rcy_dict *d = rcy_dict_new(h);
    assert_int_equal(rcy_dict_set(d, "self", d), RCY_OK);
    rcy_gc_collect(h, 2);
    rcy_decref(d);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
}

static void list_dict_node_cycle_is_collected(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = rcy_list_new(h);
    rcy_dict *d = rcy_dict_new(h);
    node *n = mk(h, &node_type, 3);
    rcy_int *i = rcy_int_new(h, 42); /* untracked, reached only from the cycle */
    assert_int_equal(rcy_list_append(l, d), RCY_OK);
    assert_int_equal(rcy_dict_set(d, "n", n), RCY_OK);
    assert_int_equal(rcy_dict_set(d, "i", i), RCY_OK);
    link_a(n, l);
    rcy_gc_collect(h, 2);
    rcy_decref(l);
    rcy_decref(d);
    rcy_decref(n);
    rcy_decref(i);
    assert_int_equal(rcy_gc_collect(h, 2), 3); /* only tracked objects count */
    assert_int_equal(destroyed[3], 1);
}

/* The collector subtracts runs of equal list items at once: every
 * repeated reference must still count exactly once, in young and full
 * collections, live or garbage. */
static void repeated_list_items_count_once_each(void **state) {
    rcy_heap *h = *state;
    for (int gen = 0; gen <= 2; gen += 2) {
        rcy_list *l = rcy_list_new(h);
        node *x = mk(h, &node_type, 1), *y = mk(h, &node_type, 2);
        void *items[] = {x, x, x, y, y, x, l, l};
        for (size_t i = 0; i < sizeof items / sizeof *items; i++)
            assert_int_equal(rcy_list_append(l, items[i]), RCY_OK);
        link_a(x, l);
        rcy_decref(l);
        rcy_decref(y);
        /* x: 1 external + 4 from the list; the cycle hangs off x */
        assert_int_equal(rcy_gc_collect(h, gen), 0);
        assert_int_equal(total_destroyed, 0);
        assert_int_equal(rcy_list_len(l), 8);
        rcy_decref(x);
        /* survivors moved up (all the way under RCY_GC_HARD) */
        assert_int_equal(rcy_gc_collect(h, gen == 2 || rcy_gc_get_hard(h) ? 2 : 1), 3);
        assert_int_equal(destroyed[1], 1);
        assert_int_equal(destroyed[2], 1);
        reset_tallies();
    }
}

static void reachable_objects_survive_intact(void **state) {
    rcy_heap *h = *state;
    node *root = mk(h, &node_type, 1);
    node *x = mk(h, &node_type, 2);
    node *y = mk(h, &node_type, 3);
    link_a(root, x);
    link_a(x, y);
    link_a(y, x); /* a cycle, reachable from root */
    rcy_decref(x);
    rcy_decref(y);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    assert_int_equal(total_destroyed, 0);
    assert_ptr_equal(((node *)root->a)->a, y);
    assert_ptr_equal(y->a, x);
    rcy_decref(root);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(total_destroyed, 3);
}

static size_t chain_length(node *n) {
    size_t len = 0;
    for (; n; n = n->a)
        len++;
    return len;
}

/* A full collection scans the heap arena by arena, oldest first; garbage
 * spread over many arenas, a live chain whose root is the newest object
 * (everything before it looks unreachable until the scan meets it) and
 * one whose root is the oldest: the count is exact, the chains intact. */
static void full_collection_over_many_arenas_is_exact(void **state) {
    rcy_heap *h = *state;
    if (rcy_gc_get_hard(h))
        skip(); /* a full collection per allocation: far too slow here */
    rcy_gc_disable(h);
    enum { N = 60000 }; /* ~10 MiB: about ten arenas */
    node *newest = NULL, *oldest = mk(h, &node_type, 2), *tail = oldest;
    for (int i = 0; i < N; i++) {
        node *n = mk(h, &node_type, 1);
        n->a = newest; /* takes the reference to the previous one */
        newest = n;
        node *x = mk(h, &node_type, 2);
        tail->a = x;
        tail = x;
        if (i % 2 == 0) { /* a garbage 2-cycle */
            node *p = mk(h, &node_type, 3), *q = mk(h, &node_type, 3);
            link_a(p, q);
            link_a(q, p);
            rcy_decref(p);
            rcy_decref(q);
        }
    }
    assert_int_equal(rcy_gc_collect(h, 2), N);
    assert_int_equal(destroyed[3], N);
    assert_int_equal(destroyed[1] + destroyed[2], 0);
    assert_int_equal(chain_length(newest), N);
    assert_int_equal(chain_length(oldest), N + 1);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    link_a(tail, oldest); /* one big cycle */
    rcy_decref(oldest);
    assert_int_equal(rcy_gc_collect(h, 2), N + 1);
    assert_int_equal(destroyed[2], N + 1);
    rcy_decref(newest);
    assert_int_equal(destroyed[1], N);
}

static void collect_returns_zero_without_garbage(void **state) {
    rcy_heap *h = *state;
    node *n = mk(h, &node_type, 1);
    for (int g = -1; g <= 2; g++)
        assert_int_equal(rcy_gc_collect(h, g), 0);
    rcy_decref(n);
    assert_int_equal(destroyed[1], 1);
}

static void collect_rejects_bad_generation(void **state) {
    rcy_heap *h = *state;
    assert_int_equal(rcy_gc_collect(h, 3), RCY_EINVAL);
    assert_int_equal(rcy_gc_collect(h, -2), RCY_EINVAL);
    assert_int_equal(rcy_gc_collect(NULL, 0), RCY_EINVAL);
    assert_null(rcy_gc_get_objects(h, 3));
}

static void many_two_cycles_are_collected(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        node *x = mk(h, &node_type, 0), *y = mk(h, &node_type, 0);
        link_a(x, y);
        link_a(y, x);
        rcy_decref(x);
        rcy_decref(y);
    }
    assert_int_equal(rcy_gc_collect(h, 0), 2 * N);
    assert_int_equal(total_destroyed, 2 * N);
}

static void long_chain_needs_no_deep_recursion(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    enum { N = 200000 };
    node *head = mk(h, &node_type, 1), *tail = head;
    for (int i = 0; i < N; i++) {
        node *n = mk(h, &node_type, 0);
        link_a(tail, n);
        rcy_decref(n);
        tail = n;
    }
    assert_int_equal(rcy_gc_collect(h, 2), 0); /* all reachable from head */
    assert_int_equal(total_destroyed, 0);
    link_a(tail, head); /* close the ring: a long cycle */
    rcy_decref(head);
    assert_int_equal(rcy_gc_collect(h, 2), N + 1);
    assert_int_equal(total_destroyed, N + 1);
}

/* ---- generations ------------------------------------------------------- */

static int in_generation(rcy_heap *h, int gen, const void *obj) {
    rcy_list *l = rcy_gc_get_objects(h, gen);
    assert_non_null(l);
    int found = list_count(l, obj) > 0;
    rcy_decref(l);
    return found;
}

static void survivors_move_to_older_generations(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *n = mk(h, &node_type, 1);
    assert_true(in_generation(h, 0, n));
    assert_false(in_generation(h, 1, n));
    rcy_gc_collect(h, 0);
    assert_false(in_generation(h, 0, n));
    assert_true(in_generation(h, 1, n));
    rcy_gc_collect(h, 1);
    assert_true(in_generation(h, 2, n));
    assert_true(in_generation(h, -1, n));
    rcy_decref(n);
}

/* A young collection whose edges all point one way (all to older objects,
 * or all to newer ones) proves its set acyclic in one pass and skips
 * marking (src/gc.c, SUBTRACTED); a self-reference is the one cycle such
 * edges can close, and must still be found: alone in the set (a node, a
 * list, each also referred to by a newer object first) or both at once. */
static void self_cycles_among_one_way_edges_are_collected(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    for (int forward = 0; forward < 2; forward++) {
        for (int which = 1; which <= 3; which++) { /* bit 0: a node, bit 1: a list */
            reset_tallies();
            node *keep = mk(h, &node_type, 0);
            node *s = NULL;
            rcy_list *l = NULL;
            if (which & 1) {
                s = mk(h, &node_type, 1);
                link_a(s, s);
            }
            if (which & 2) { /* a list holding itself */
                l = rcy_list_new(h);
                assert_int_equal(rcy_list_append(l, l), RCY_OK);
            }
            node *t = mk(h, &node_type, 2);
            if (forward) {
                link_a(keep, t); /* older -> newer */
            } else {
                link_a(t, keep); /* newer -> older */
                if (s)           /* and one more to the cycle, met before its own turn */
                    link_b(t, s);
            }
            if (s)
                rcy_decref(s); /* only itself keeps it (and t, going back) */
            if (l)
                rcy_decref(l);
            if (!forward && s) {
                assert_int_equal(rcy_gc_collect(h, 0), which == 3 ? 1 : 0);
                assert_int_equal(destroyed[1], 0); /* t keeps it */
                RCY_CLEAR(t->b);
            }
            int expect = (s != NULL) + (l != NULL) - (!forward && s && l);
            assert_int_equal(rcy_gc_collect(h, forward || !s ? 0 : 1), expect);
            assert_int_equal(destroyed[1], s ? 1 : 0);
            assert_int_equal(destroyed[0] + destroyed[2], 0);
            rcy_decref(t);
            rcy_decref(keep);
            assert_int_equal(total_destroyed, 2 + (s != NULL));
        }
    }
}

/* A collection of generation 1 takes generation 1's objects first, then
 * generation 0's, as CPython merges them: the order finalizers, callbacks
 * and gc.garbage (DEBUG_SAVEALL) see them in. */
static void generation_1_collection_orders_older_generation_first(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *n[6];
    for (int i = 0; i < 6; i++)
        n[i] = mk(h, &node_type, i);
    for (int i = 0; i < 6; i += 2) { /* three 2-cycles */
        link_a(n[i], n[i + 1]);
        link_a(n[i + 1], n[i]);
    }
    rcy_gc_collect(h, 0); /* all six to generation 1 */
    node *m[4];
    for (int i = 0; i < 4; i++)
        m[i] = mk(h, &node_type, 6 + i);
    link_a(m[0], m[1]);
    link_a(m[1], m[0]);
    link_a(m[2], m[3]);
    link_a(m[3], m[2]);
    for (int i = 0; i < 6; i++)
        rcy_decref(n[i]);
    for (int i = 0; i < 4; i++)
        rcy_decref(m[i]);
    rcy_gc_set_debug(h, RCY_GC_DEBUG_SAVEALL);
    assert_int_equal(rcy_gc_collect(h, 1), 10);
    rcy_list *g = rcy_gc_garbage(h);
    assert_int_equal(rcy_list_len(g), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(((node *)rcy_list_get(g, i))->id, i);
    rcy_gc_set_debug(h, 0);
    rcy_list_clear(g);
}

/* Survivors of a young collection without cycles go to generation 1 in
 * allocation order, as CPython's do (not in the order marking reached
 * them: a tree built from its root, depth first). */
static void young_survivors_keep_allocation_order(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *r = mk(h, &node_type, 0), *c1 = mk(h, &node_type, 1);
    link_a(r, c1);
    node *g1 = mk(h, &node_type, 2);
    link_a(c1, g1);
    node *c2 = mk(h, &node_type, 3);
    link_b(r, c2);
    node *g2 = mk(h, &node_type, 4);
    link_a(c2, g2);
    node *all[] = {r, c1, g1, c2, g2};
    for (int i = 1; i < 5; i++)
        rcy_decref(all[i]);
    assert_int_equal(rcy_gc_collect(h, 0), 0);
    rcy_list *objs = rcy_gc_get_objects(h, 1);
    assert_non_null(objs);
    assert_int_equal(rcy_list_len(objs), 5);
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(rcy_list_get(objs, i), all[i]);
    rcy_decref(objs);
    assert_int_equal(rcy_gc_collect(h, 1), 0);
    assert_true(in_generation(h, 2, g2));
    assert_int_equal(total_destroyed, 0);
    rcy_decref(r);
    assert_int_equal(total_destroyed, 5);
}

static void young_collection_leaves_old_cycles(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *x = mk(h, &node_type, 1), *y = mk(h, &node_type, 2);
    link_a(x, y);
    link_a(y, x);
    rcy_gc_collect(h, 2); /* now old */
    rcy_decref(x);
    rcy_decref(y);
    assert_int_equal(rcy_gc_collect(h, 0), 0);
    assert_int_equal(rcy_gc_collect(h, 1), 0);
    assert_int_equal(total_destroyed, 0);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
}

static void old_references_keep_young_objects_alive(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *old = mk(h, &node_type, 1);
    rcy_gc_collect(h, 2);
    node *young = mk(h, &node_type, 2);
    link_a(young, young);
    link_a(old, young);
    rcy_decref(young);
    assert_int_equal(rcy_gc_collect(h, 0), 0);
    assert_int_equal(destroyed[2], 0);
    RCY_CLEAR(old->a);
    assert_int_equal(rcy_gc_collect(h, 0), 0); /* promoted to 1 by the last one */
    assert_int_equal(rcy_gc_collect(h, 1), 1);
    rcy_decref(old);
}

static void get_count_counts_net_tracked_allocations(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    size_t c[3];
    rcy_gc_collect(h, 2);
    rcy_gc_get_count(h, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 0);
    node *a = mk(h, &node_type, 1), *b = mk(h, &node_type, 2), *d = mk(h, &node_type, 3);
    rcy_int *i = rcy_int_new(h, 5); /* untracked: not counted */
    rcy_gc_get_count(h, c);
    assert_int_equal(c[0], 3);
    rcy_decref(b);
    rcy_gc_get_count(h, c);
    assert_int_equal(c[0], 2);
    rcy_gc_collect(h, 0);
    rcy_gc_get_count(h, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 1);
    rcy_gc_collect(h, 0);
    rcy_gc_collect(h, 1);
    rcy_gc_get_count(h, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 1);
    rcy_decref(a);
    rcy_decref(d);
    rcy_decref(i);
}

static void threshold_triggers_young_collections(void **state) {
    rcy_heap *h = *state;
    if (rcy_gc_get_hard(h))
        skip();
    size_t t[3];
    rcy_gc_get_threshold(h, t);
    assert_int_equal(t[0], 2000);
    assert_int_equal(t[1], 10);
    assert_int_equal(t[2], 10);
    rcy_gc_set_threshold(h, 5, 10, 10);
    rcy_gc_get_threshold(h, t);
    assert_int_equal(t[0], 5);
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    size_t before = st.generations[0].collections;
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_decref(x); /* garbage the automatic collection finds */
    node *keep[6];
    for (int i = 0; i < 6; i++)
        keep[i] = mk(h, &node_type, 10 + i);
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[0].collections, before + 1);
    assert_int_equal(destroyed[1], 1);
    for (int i = 0; i < 6; i++)
        rcy_decref(keep[i]);
}

static void disabled_or_zero_threshold_means_no_automatic_collection(void **state) {
    rcy_heap *h = *state;
    rcy_gc_set_threshold(h, 3, 10, 10);
    rcy_gc_stats st = {.size = sizeof st};
    assert_true(rcy_gc_isenabled(h));
    rcy_gc_disable(h);
    assert_false(rcy_gc_isenabled(h));
    node *keep[20];
    for (int i = 0; i < 20; i++)
        keep[i] = mk(h, &node_type, i);
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[0].collections, 0);
    rcy_gc_enable(h);
    assert_true(rcy_gc_isenabled(h));
    rcy_gc_set_threshold(h, 0, 10, 10);
    bool hard = rcy_gc_get_hard(h);
    rcy_gc_set_hard(h, false);
    for (int i = 0; i < 20; i++)
        rcy_decref(keep[i]);
    for (int i = 0; i < 20; i++)
        keep[i] = mk(h, &node_type, i);
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[0].collections, 0);
    assert_int_equal(st.generations[2].collections, 0);
    rcy_gc_set_hard(h, hard);
    for (int i = 0; i < 20; i++)
        rcy_decref(keep[i]);
}

static void hard_mode_collects_at_every_tracked_allocation(void **state) {
    rcy_heap *h = *state;
    rcy_gc_set_hard(h, true);
    assert_true(rcy_gc_get_hard(h));
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    size_t before = st.generations[2].collections;
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_decref(x);
    node *y = mk(h, &node_type, 2); /* this allocation collects x */
    assert_int_equal(destroyed[1], 1);
    rcy_int *i = rcy_int_new(h, 1); /* untracked: no collection */
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].collections, before + 2);
    rcy_decref(i);
    rcy_decref(y);
    rcy_gc_set_hard(h, false);
}

static void long_lived_rule_postpones_full_collections(void **state) {
    rcy_heap *h = *state;
    if (rcy_gc_get_hard(h))
        skip();
    rcy_gc_set_threshold(h, 10, 1, 1);
    enum { N = 3000 };
    node *head = mk(h, &node_type, 0), *tail = head;
    for (int i = 0; i < N; i++) {
        node *n = mk(h, &node_type, 0);
        link_a(tail, n);
        rcy_decref(n);
        tail = n;
    }
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    /* Without the rule: one full collection every 4 young ones (~75).
     * With it, the number grows only logarithmically with N. */
    size_t total = st.generations[0].collections + st.generations[1].collections +
                   st.generations[2].collections;
    assert_true(total >= N / 11 - 1);
    assert_true(st.generations[2].collections >= 1);
    assert_true(st.generations[2].collections <= 16);
    rcy_decref(head);
}

/* ---- statistics ------------------------------------------------------- */

static void get_stats_reports_known_collections(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_gc_stats st;
    memset(&st, 0xff, sizeof st);
    st.size = sizeof st;
    assert_int_equal(rcy_gc_get_stats(h, &st), RCY_OK);
    assert_int_equal(st.version, RCY_GC_STATS_VERSION);
    size_t c0 = st.generations[0].collections, k0 = st.generations[0].collected;
    node *x = mk(h, &node_type, 1), *y = mk(h, &node_type, 2);
    node *live = mk(h, &node_type, 3);
    link_a(x, y);
    link_a(y, x);
    rcy_decref(x);
    rcy_decref(y);
    assert_int_equal(rcy_gc_collect(h, 0), 2);
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[0].collections, c0 + 1);
    assert_int_equal(st.generations[0].collected, k0 + 2);
    assert_int_equal(st.generations[0].uncollectable, 0);
    assert_true(st.generations[0].candidates >= 3);
    assert_true(st.generations[0].duration >= 0.0);
    rcy_decref(live);
}

static void get_stats_respects_the_callers_size(void **state) {
    rcy_heap *h = *state;
    struct {
        rcy_gc_stats st;
        int canary;
    } s;
    memset(&s, 0x5a, sizeof s);
    s.st.size = offsetof(rcy_gc_stats, generations) + sizeof(rcy_gc_gen_stats);
    assert_int_equal(rcy_gc_get_stats(h, &s.st), RCY_OK);
    unsigned char *gen1 = (unsigned char *)&s.st.generations[1];
    assert_int_equal(gen1[0], 0x5a); /* not written past size */
    s.st.size = 2;
    assert_int_equal(rcy_gc_get_stats(h, &s.st), RCY_EINVAL);
}

static void print_stats_as_text_and_json(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 0), 1);
    node *keep = mk(h, &node_type, 2);
    rcy_test_capture_output();
    rcy_test_reset_output();
    assert_int_equal(rcy_gc_print_stats(h, NULL), RCY_OK);
    const char *out = rcy_test_output();
    assert_non_null(strstr(out, "gc: generation collections  collected uncollectable"));
    assert_non_null(strstr(out, "gc:          0           1          1             0"));
    assert_non_null(strstr(out, "gc: objects in each generation: 1 0 0\n"));
    assert_non_null(strstr(out, "gc: count 1 1 0, threshold 2000 10 10, disabled\n"));
    assert_non_null(strstr(out, "gc: emergency collections: 0 (on)\n"));
    rcy_test_reset_output();
    assert_int_equal(rcy_gc_print_stats_json(h, NULL), RCY_OK);
    out = rcy_test_output();
    assert_non_null(strstr(out, "{\"version\": 2, \"generations\": [{\"collections\": 1, "
                                "\"collected\": 1, \"uncollectable\": 0, \"candidates\": 1, "));
    assert_non_null(strstr(out, "\"objects\": [1, 0, 0], \"frozen\": 0, \"count\": [1, 1, 0], "
                                "\"threshold\": [2000, 10, 10], \"enabled\": false, "
                                "\"emergency_collections\": 0}\n"));
    rcy_set_output(NULL, NULL);
    assert_int_equal(rcy_gc_print_stats(NULL, NULL), RCY_EINVAL);
    assert_int_equal(rcy_gc_print_stats_json(NULL, NULL), RCY_EINVAL);
    rcy_decref(keep);
}

/* "objects": [g0, g1, g2] of rcy_gc_print_stats_json */
static void objects_per_generation(rcy_heap *h, size_t out[3]) {
    rcy_test_capture_output();
    rcy_test_reset_output();
    assert_int_equal(rcy_gc_print_stats_json(h, NULL), RCY_OK);
    const char *o = strstr(rcy_test_output(), "\"objects\": [");
    assert_non_null(o);
    assert_int_equal(sscanf(o, "\"objects\": [%zu, %zu, %zu]", &out[0], &out[1], &out[2]), 3);
    rcy_set_output(NULL, NULL);
}

static size_t objects_in(rcy_heap *h, int gen) {
    rcy_list *l = rcy_gc_get_objects(h, gen);
    assert_non_null(l);
    size_t n = rcy_list_len(l);
    rcy_decref(l);
    return n;
}

/* Objects untracked in the middle of a young generation (freed in any
 * order, many more than the generation ever held at once) leave every
 * count, list and collection exact; the debug build's validator checks
 * each object's SLOT at every collection. */
static void untracking_in_any_order_keeps_generations_exact(void **state) {
    rcy_heap *h = *state;
    if (rcy_gc_get_hard(h))
        skip(); /* every object is old there */
    rcy_gc_disable(h);
    rcy_gc_collect(h, 2);
    enum { N = 600 };
    node *keep[N];
    size_t nkeep = 0, per[3];
    for (int round = 0; round < 8; round++) {
        node *tmp[N];
        for (int i = 0; i < N; i++)
            tmp[i] = mk(h, &node_type, 1);
        for (int i = 0; i < N; i++) { /* keep one in 8, from the middle */
            if (i % 8 == 3 && nkeep < N)
                keep[nkeep++] = tmp[i];
            else
                rcy_decref(tmp[i]);
        }
    }
    assert_int_equal(nkeep, N);
    objects_per_generation(h, per);
    assert_int_equal(per[0], N);
    assert_int_equal(per[1], 0);
    assert_int_equal(objects_in(h, 0), N);
    assert_int_equal(rcy_gc_collect(h, 0), 0);
    objects_per_generation(h, per);
    assert_int_equal(per[0], 0);
    assert_int_equal(per[1], N);
    for (size_t i = 0; i < N; i += 2) /* holes all over generation 1 */
        rcy_decref(keep[i]);
    objects_per_generation(h, per);
    assert_int_equal(per[1], N / 2);
    assert_int_equal(objects_in(h, 1), N / 2);
    node *x = mk(h, &node_type, 2); /* a cycle in generation 0 */
    link_a(x, x);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 1), 1);
    objects_per_generation(h, per);
    assert_int_equal(per[0] + per[1], 0);
    assert_int_equal(per[2], N / 2);
    for (size_t i = 1; i < N; i += 2)
        rcy_decref(keep[i]);
    objects_per_generation(h, per);
    assert_int_equal(per[0] + per[1] + per[2], 0);
}

/* ---- introspection ----------------------------------------------------- */

static void tracking_follows_the_type(void **state) {
    rcy_heap *h = *state;
    rcy_list *l = rcy_list_new(h);
    rcy_int *i = rcy_int_new(h, 3);
    assert_true(rcy_gc_is_tracked(l));
    assert_false(rcy_gc_is_tracked(i));
    assert_int_equal(rcy_gc_track(i), RCY_EINVAL);
    rcy_gc_untrack(l);
    assert_false(rcy_gc_is_tracked(l));
    rcy_gc_untrack(l); /* idempotent */
    assert_false(in_generation(h, -1, l));
    assert_int_equal(rcy_gc_track(l), RCY_OK);
    assert_int_equal(rcy_gc_track(l), RCY_OK);
    assert_true(rcy_gc_is_tracked(l));
    assert_true(in_generation(h, -1, l));
    rcy_decref(l);
    rcy_decref(i);
}

static void untracked_cycles_are_not_collected(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_gc_untrack(x);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    assert_int_equal(destroyed[1], 0);
    rcy_gc_track(x);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_int_equal(destroyed[1], 1);
}

static void get_objects_lists_tracked_objects_but_not_itself(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_gc_collect(h, 2);
    rcy_list *before = rcy_gc_get_objects(h, -1);
    assert_non_null(before);
    size_t n0 = rcy_list_len(before);
    node *a = mk(h, &node_type, 1), *b = mk(h, &node_type, 2);
    rcy_int *i = rcy_int_new(h, 1);
    rcy_list *all = rcy_gc_get_objects(h, -1);
    assert_int_equal(rcy_list_len(all), n0 + 3); /* a, b and `before` */
    assert_int_equal(list_count(all, a), 1);
    assert_int_equal(list_count(all, i), 0);
    assert_int_equal(list_count(all, all), 0);
    rcy_list *g0 = rcy_gc_get_objects(h, 0);
    assert_int_equal(list_count(g0, a), 1);
    rcy_list *g2 = rcy_gc_get_objects(h, 2);
    assert_int_equal(list_count(g2, a), 0);
    rcy_decref(g0);
    rcy_decref(g2);
    rcy_decref(all);
    rcy_decref(before);
    rcy_decref(a);
    rcy_decref(b);
    rcy_decref(i);
}

static void referrers_and_referents(void **state) {
    rcy_heap *h = *state;
    node *a = mk(h, &node_type, 1), *b = mk(h, &node_type, 2), *c = mk(h, &node_type, 3);
    rcy_list *l = rcy_list_new(h);
    rcy_int *i = rcy_int_new(h, 9);
    link_a(a, c);
    link_b(a, c); /* twice: a is listed once */
    link_a(b, i);
    rcy_list_append(l, c);
    void *objs[] = {c, i};
    rcy_list *r = rcy_gc_get_referrers(h, objs, 2);
    assert_non_null(r);
    assert_int_equal(rcy_list_len(r), 3);
    assert_int_equal(list_count(r, a), 1);
    assert_int_equal(list_count(r, b), 1);
    assert_int_equal(list_count(r, l), 1);
    rcy_decref(r);
    void *src[] = {a, b, i};
    rcy_list *e = rcy_gc_get_referents(h, src, 3);
    assert_non_null(e);
    assert_int_equal(rcy_list_len(e), 3); /* c, c, i; ints have none */
    assert_int_equal(list_count(e, c), 2);
    assert_int_equal(list_count(e, i), 1);
    rcy_decref(e);
    rcy_list *none = rcy_gc_get_referrers(h, NULL, 0);
    assert_int_equal(rcy_list_len(none), 0);
    rcy_decref(none);
    rcy_decref(a);
    rcy_decref(b);
    rcy_decref(c);
    rcy_decref(l);
    rcy_decref(i);
}

/* ---- freeze ------------------------------------------------------------- */

static void frozen_objects_are_ignored_until_unfrozen(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_gc_collect(h, 2);
    rcy_list *objs = rcy_gc_get_objects(h, -1);
    size_t base = rcy_list_len(objs);
    rcy_decref(objs);
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_gc_freeze(h);
    assert_int_equal(rcy_gc_get_freeze_count(h), base + 1);
    assert_false(in_generation(h, -1, x));
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    assert_int_equal(destroyed[1], 0);
    assert_true(rcy_gc_is_tracked(x));
    rcy_gc_unfreeze(h);
    assert_int_equal(rcy_gc_get_freeze_count(h), 0);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    assert_int_equal(destroyed[1], 1);
}

static void frozen_objects_freed_by_refcount_leave_the_count(void **state) {
    rcy_heap *h = *state;
    node *x = mk(h, &node_type, 1);
    rcy_gc_freeze(h);
    size_t n = rcy_gc_get_freeze_count(h);
    assert_true(n >= 1);
    rcy_decref(x);
    assert_int_equal(rcy_gc_get_freeze_count(h), n - 1);
    rcy_gc_unfreeze(h);
}

/* ---- callbacks ---------------------------------------------------------- */

typedef struct cbrec {
    int starts, stops;
    int last_gen;
    size_t last_collected, last_uncollectable;
    long nested;
    rcy_gc_callback *remove_me;
} cbrec;

static void record_cb(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    cbrec *r = arg;
    if (phase == RCY_GC_START) {
        r->starts++;
        r->nested = (long)rcy_gc_collect(h, 2);
    } else {
        r->stops++;
        r->last_collected = info->collected;
        r->last_uncollectable = info->uncollectable;
        assert_true(info->duration >= 0.0);
    }
    r->last_gen = info->generation;
}

static void callbacks_see_start_and_stop(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    cbrec r;
    memset(&r, 0, sizeof r);
    assert_int_equal(rcy_gc_callbacks_add(h, record_cb, &r), RCY_OK);
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_decref(x);
    assert_int_equal(rcy_gc_collect(h, 1), 1);
    assert_int_equal(r.starts, 1);
    assert_int_equal(r.stops, 1);
    assert_int_equal(r.last_gen, 1);
    assert_int_equal(r.last_collected, 1);
    assert_int_equal(r.last_uncollectable, 0);
    assert_int_equal(r.nested, 0); /* no nested collection */
    assert_int_equal(rcy_gc_callbacks_remove(h, record_cb, &r), RCY_OK);
    assert_int_equal(rcy_gc_callbacks_remove(h, record_cb, &r), RCY_ENOTFOUND);
    rcy_gc_collect(h, 0);
    assert_int_equal(r.starts, 1);
    assert_int_equal(rcy_gc_callbacks_add(h, NULL, NULL), RCY_EINVAL);
}

static void self_removing_cb(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    (void)info;
    cbrec *r = arg;
    if (phase == RCY_GC_START) {
        r->starts++;
        rcy_gc_callbacks_remove(h, self_removing_cb, arg);
    } else {
        r->stops++;
    }
}

static void callback_may_remove_itself(void **state) {
    rcy_heap *h = *state;
    cbrec r;
    memset(&r, 0, sizeof r);
    rcy_gc_callbacks_add(h, self_removing_cb, &r);
    rcy_gc_collect(h, 0);
    rcy_gc_collect(h, 0);
    assert_int_equal(r.starts, 1);
    assert_int_equal(r.stops, 0);
}

/* ---- garbage: legacy finalizers and DEBUG_SAVEALL ------------------------ */

static void legacy_finalizer_cycles_go_to_garbage(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *lg = mk(h, &legacy_type, 1);
    node *x = mk(h, &node_type, 2);
    node *tail = mk(h, &node_type, 3);                         /* reached from the cycle only */
    node *y = mk(h, &node_type, 4), *z = mk(h, &node_type, 5); /* plain cycle */
    link_a(lg, x);
    link_a(x, lg);
    link_b(x, tail);
    link_a(y, z);
    link_a(z, y);
    rcy_decref(lg);
    rcy_decref(x);
    rcy_decref(tail);
    rcy_decref(y);
    rcy_decref(z);
    assert_int_equal(rcy_gc_collect(h, 2), 5);
    assert_int_equal(destroyed[4] + destroyed[5], 2);
    assert_int_equal(destroyed[1] + destroyed[2] + destroyed[3], 0);
    rcy_list *g = rcy_gc_garbage(h);
    assert_non_null(g);
    /* Only the legacy object is listed; x and tail live through it. */
    assert_int_equal(rcy_list_len(g), 1);
    assert_int_equal(list_count(g, lg), 1);
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].uncollectable, 3);
    assert_int_equal(st.generations[2].collected, 2);
    /* They stay there: collecting again finds nothing. */
    assert_int_equal(rcy_gc_collect(h, 2), 0);
    /* The user breaks the cycle and empties garbage. */
    RCY_CLEAR(x->a);
    rcy_list_clear(g);
    assert_int_equal(destroyed[1] + destroyed[2] + destroyed[3], 3);
}

/* L is reached from a garbage cycle but is in none: refcounting frees it
 * once the cycle is cleared, as CPython does (collect counts the cycle). */
static void legacy_finalizer_outside_any_cycle_is_freed(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *a = mk(h, &node_type, 1), *b = mk(h, &node_type, 2);
    node *lg = mk(h, &legacy_type, 3), *kept = mk(h, &node_type, 4);
    link_a(a, b);
    link_a(b, a);
    link_b(a, lg);
    link_a(lg, kept);
    rcy_decref(a);
    rcy_decref(b);
    rcy_decref(lg);
    rcy_decref(kept);
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    assert_int_equal(destroyed[1] + destroyed[2] + destroyed[3] + destroyed[4], 4);
    rcy_list *g = rcy_gc_garbage(h);
    assert_true(g == NULL || rcy_list_len(g) == 0);
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    assert_int_equal(st.generations[2].uncollectable, 0);
    assert_int_equal(st.generations[2].collected, 2);
}

/* CPython prints the collectable objects first, the uncollectable ones
 * after the garbage is cleared. */
static void debug_prints_collectable_before_uncollectable(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *lg = mk(h, &legacy_type, 1), *x = mk(h, &node_type, 2);
    link_a(lg, lg);
    link_a(x, x);
    rcy_decref(lg);
    rcy_decref(x);
    rcy_gc_set_debug(h, RCY_GC_DEBUG_COLLECTABLE | RCY_GC_DEBUG_UNCOLLECTABLE);
    rcy_test_capture_output();
    rcy_test_reset_output();
    assert_int_equal(rcy_gc_collect(h, 2), 2);
    const char *out = rcy_test_output();
    const char *c = strstr(out, "gc: collectable <Node ");
    const char *u = strstr(out, "gc: uncollectable <Legacy ");
    assert_non_null(c);
    assert_non_null(u);
    assert_true(c < u);
    rcy_set_output(NULL, NULL);
    rcy_gc_set_debug(h, 0);
    rcy_list_clear(rcy_gc_garbage(h));
    RCY_CLEAR(lg->a);
}

static void saveall_keeps_every_unreachable_object(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_gc_set_debug(h, RCY_GC_DEBUG_SAVEALL);
    assert_int_equal(rcy_gc_get_debug(h), RCY_GC_DEBUG_SAVEALL);
    rcy_list *l = rcy_list_new(h);
    rcy_list_append(l, l);
    rcy_decref(l);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    rcy_list *g = rcy_gc_garbage(h);
    assert_int_equal(rcy_list_len(g), 1);
    assert_ptr_equal(rcy_list_get(g, 0), l);
    assert_ptr_equal(rcy_list_get(l, 0), l); /* not cleared */
    rcy_gc_set_debug(h, 0);
    rcy_list_clear(g);
    assert_int_equal(rcy_gc_collect(h, 2), 1);
}

/* ---- debug output ---------------------------------------------------------- */

static void debug_stats_prints_what_python_prints(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_gc_collect(h, 2);
    node *x = mk(h, &node_type, 1);
    link_a(x, x);
    rcy_decref(x);
    rcy_gc_set_debug(h, RCY_GC_DEBUG_STATS | RCY_GC_DEBUG_COLLECTABLE);
    rcy_test_capture_output();
    rcy_test_reset_output();
    assert_int_equal(rcy_gc_collect(h, 0), 1);
    const char *out = rcy_test_output();
    char expect[256];
    snprintf(expect, sizeof expect, "gc: collectable <Node %p>\n", (void *)x);
    assert_non_null(strstr(out, "gc: collecting generation 0...\n"));
    assert_non_null(strstr(out, "gc: objects in each generation: 1 0 0\n"));
    assert_non_null(strstr(out, "gc: objects in permanent generation: 0\n"));
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, "gc: done, 1 unreachable, 0 uncollectable, "));
    assert_non_null(strstr(out, "s elapsed\n"));
    rcy_set_output(NULL, NULL);
    rcy_gc_set_debug(h, 0);
}

static void debug_uncollectable_names_legacy_objects(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    node *lg = mk(h, &legacy_type, 1);
    link_a(lg, lg);
    rcy_decref(lg);
    rcy_gc_set_debug(h, RCY_GC_DEBUG_UNCOLLECTABLE);
    rcy_test_capture_output();
    rcy_test_reset_output();
    assert_int_equal(rcy_gc_collect(h, 2), 1);
    char expect[256];
    snprintf(expect, sizeof expect, "gc: uncollectable <Legacy %p>\n", (void *)lg);
    assert_non_null(strstr(rcy_test_output(), expect));
    rcy_test_reset_output();
    rcy_heap_free(h); /* reports what remains in garbage */
    *state = new_heap();
    assert_non_null(strstr(rcy_test_output(), "gc: 1 uncollectable objects at shutdown\n"));
    assert_non_null(strstr(rcy_test_output(), expect));
    rcy_set_output(NULL, NULL);
}

/* ---- out of memory ---------------------------------------------------------- */

/* Whatever bookkeeping request fails, a collection either reports
 * RCY_ENOMEM having changed nothing, or finishes safely (if the work stack
 * cannot grow, everything survives); the next collection with memory
 * frees all the garbage, and no finalizer runs twice. */
static void collections_survive_every_failed_request(void **state) {
    rcy_heap *h = *state;
    rcy_gc_disable(h);
    rcy_list *wide = rcy_list_new(h); /* makes the work stack grow */
    for (int i = 0; i < 3000; i++) {
        node *n = mk(h, &node_type, 0);
        rcy_list_append(wide, n);
        rcy_decref(n);
    }
    int failures = 0;
    for (unsigned long k = 1; k <= 40; k++) {
        node *x = mk(h, &fnode_type, 1), *y = mk(h, &legacy_type, 2);
        link_a(x, y);
        link_a(y, x);
        rcy_weakref *w = rcy_weakref_new(x, NULL, NULL);
        rcy_decref(x);
        rcy_decref(y);
        rcy_heap_fail_nth(h, k);
        ssize_t r = rcy_gc_collect(h, k <= 3 ? 2 : (int)(k % 3));
        rcy_heap_fail_nth(h, 0);
        assert_true(r >= 0 || r == RCY_ENOMEM);
        failures += r == RCY_ENOMEM;
        rcy_decref(w);
        rcy_list *g = rcy_gc_garbage(h);
        if (g)
            rcy_list_clear(g);
        /* Break what the legacy object kept, then collect with memory. */
        rcy_gc_collect(h, 2);
        if (g)
            for (size_t i = 0; i < rcy_list_len(g); i++)
                node_clear(rcy_list_get(g, (ptrdiff_t)i));
        if (g)
            rcy_list_clear(g);
        rcy_gc_collect(h, 2);
    }
    assert_true(finalized[1] <= 40);
    for (int i = 0; i < MAX_IDS; i++)
        assert_true(destroyed[i] <= (i == 0 ? 3000 : 40));
    assert_int_equal(destroyed[1], 40);
    assert_int_equal(destroyed[2], 40);
    assert_true(failures > 0);
    rcy_decref(wide);
    assert_int_equal(destroyed[0], 3000);
}

/* ---- heap free ------------------------------------------------------------ */

static void heap_free_collects_cycles_and_runs_finalizers(void **state) {
    (void)state;
    rcy_heap *h = new_heap();
    node *x = mk(h, &fnode_type, 1), *y = mk(h, &node_type, 2);
    link_a(x, y);
    link_a(y, x);
    rcy_decref(x);
    rcy_decref(y);
    rcy_heap_free(h);
    assert_int_equal(finalized[1], 1);
    assert_int_equal(destroyed[1] + destroyed[2], 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(self_cycle_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(list_cycle_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(dict_cycle_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(list_dict_node_cycle_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_list_items_count_once_each, setup, teardown),
        cmocka_unit_test_setup_teardown(reachable_objects_survive_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(full_collection_over_many_arenas_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(collect_returns_zero_without_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(collect_rejects_bad_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(many_two_cycles_are_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(long_chain_needs_no_deep_recursion, setup, teardown),
        cmocka_unit_test_setup_teardown(survivors_move_to_older_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(self_cycles_among_one_way_edges_are_collected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(generation_1_collection_orders_older_generation_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(young_survivors_keep_allocation_order, setup, teardown),
        cmocka_unit_test_setup_teardown(young_collection_leaves_old_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(old_references_keep_young_objects_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(get_count_counts_net_tracked_allocations, setup, teardown),
        cmocka_unit_test_setup_teardown(threshold_triggers_young_collections, setup, teardown),
        cmocka_unit_test_setup_teardown(disabled_or_zero_threshold_means_no_automatic_collection,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(hard_mode_collects_at_every_tracked_allocation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(long_lived_rule_postpones_full_collections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(get_stats_reports_known_collections, setup, teardown),
        cmocka_unit_test_setup_teardown(get_stats_respects_the_callers_size, setup, teardown),
        cmocka_unit_test_setup_teardown(print_stats_as_text_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(untracking_in_any_order_keeps_generations_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(tracking_follows_the_type, setup, teardown),
        cmocka_unit_test_setup_teardown(untracked_cycles_are_not_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(get_objects_lists_tracked_objects_but_not_itself, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(referrers_and_referents, setup, teardown),
        cmocka_unit_test_setup_teardown(frozen_objects_are_ignored_until_unfrozen, setup, teardown),
        cmocka_unit_test_setup_teardown(frozen_objects_freed_by_refcount_leave_the_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(callbacks_see_start_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_may_remove_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_finalizer_cycles_go_to_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(legacy_finalizer_outside_any_cycle_is_freed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(debug_prints_collectable_before_uncollectable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(saveall_keeps_every_unreachable_object, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_stats_prints_what_python_prints, setup, teardown),
        cmocka_unit_test_setup_teardown(debug_uncollectable_names_legacy_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(collections_survive_every_failed_request, setup, teardown),
        cmocka_unit_test_setup_teardown(heap_free_collects_cycles_and_runs_finalizers, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
