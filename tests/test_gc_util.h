/* tests/test_gc_util.h — node types shared by the collector's tests.
 *
 * A `node` holds up to two strong references (a, b) to other objects and
 * counts its finalizations and destructions in global tallies, so tests
 * can tell exactly what the collector freed, finalized and resurrected. */
#ifndef RCY_TEST_GC_UTIL_H
#define RCY_TEST_GC_UTIL_H

#include "testutil.h"

#include <string.h>

#define MAX_IDS 4096

typedef struct node {
    void *a, *b;  /* strong references (any recycle objects) */
    int id;       /* index into the tallies, < MAX_IDS */
    int behavior; /* NODE_* below */
} node;

enum {
    NODE_RESURRECT = 1,   /* finalizer stores self in `resurrected` */
    NODE_SELFBREAK = 2,   /* finalizer drops its own references */
    NODE_CHECK_PEERS = 4, /* finalizer asserts a and b are not yet cleared */
    NODE_COLLECT = 8,     /* finalizer calls rcy_gc_collect (must return 0) */
    NODE_NEW_CYCLE = 16,  /* finalizer allocates a fresh 2-cycle and drops it */
};

#define TU_UNUSED __attribute__((unused))
TU_UNUSED static int finalized[MAX_IDS];
TU_UNUSED static int destroyed[MAX_IDS];
TU_UNUSED static int total_destroyed;
TU_UNUSED static int total_finalized;
TU_UNUSED static int peer_check_failures;
TU_UNUSED static long collect_in_finalizer_result = -99;
TU_UNUSED static node *resurrected[64];
TU_UNUSED static int nresurrected;

TU_UNUSED static void reset_tallies(void) {
    memset(finalized, 0, sizeof finalized);
    memset(destroyed, 0, sizeof destroyed);
    total_destroyed = total_finalized = peer_check_failures = 0;
    nresurrected = 0;
    collect_in_finalizer_result = -99;
}

TU_UNUSED static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->a, visit, arg);
    RCY_VISIT(n->b, visit, arg);
    return 0;
}

TU_UNUSED static void node_clear(void *self) {
    node *n = self;
    RCY_CLEAR(n->a);
    RCY_CLEAR(n->b);
}

TU_UNUSED static void node_destroy(void *self) {
    node *n = self;
    destroyed[n->id]++;
    total_destroyed++;
    node_clear(self);
}

static const rcy_type node_type;
static const rcy_type fnode_type;

TU_UNUSED static void node_finalize(void *self) {
    node *n = self;
    finalized[n->id]++;
    total_finalized++;
    if (n->behavior & NODE_CHECK_PEERS) {
        /* PEP 442: nothing in the garbage is cleared before every
         * finalizer ran, so peers still hold their references. */
        node *p = n->a;
        if (!p || !p->a)
            peer_check_failures++;
    }
    if (n->behavior & NODE_COLLECT)
        collect_in_finalizer_result = (long)rcy_gc_collect(rcy_heap_of(self), 2);
    if (n->behavior & NODE_NEW_CYCLE) {
        rcy_heap *h = rcy_heap_of(self);
        node *x = rcy_new(h, &node_type);
        node *y = rcy_new(h, &node_type);
        if (x && y) {
            x->id = MAX_IDS - 1;
            y->id = MAX_IDS - 1;
            rcy_incref(y);
            x->a = y;
            rcy_incref(x);
            y->a = x;
        }
        rcy_xdecref(x);
        rcy_xdecref(y);
    }
    if (n->behavior & NODE_SELFBREAK)
        node_clear(self);
    if ((n->behavior & NODE_RESURRECT) && nresurrected < 64) {
        rcy_incref(self);
        resurrected[nresurrected++] = n;
    }
}

static const rcy_type node_type = {"Node",     sizeof(node), 0,           node_traverse,
                                   node_clear, NULL,         node_destroy};
/* Same, with a PEP 442 finalizer. */
static const rcy_type fnode_type = {"FNode",    sizeof(node),  0,           node_traverse,
                                    node_clear, node_finalize, node_destroy};
/* Like CPython's tp_del: cycles through it are uncollectable. */
TU_UNUSED static const rcy_type legacy_type = {
    "Legacy", sizeof(node), RCY_TYPE_LEGACY_FINALIZER, node_traverse, node_clear,
    NULL,     node_destroy};

TU_UNUSED static node *mk(rcy_heap *h, const rcy_type *t, int id) {
    node *n = rcy_new(h, t);
    assert_non_null(n);
    n->id = id;
    return n;
}

/* from->a = to (a new strong reference) */
TU_UNUSED static void link_a(node *from, void *to) {
    rcy_incref(to);
    RCY_SETREF(from->a, to);
}
TU_UNUSED static void link_b(node *from, void *to) {
    rcy_incref(to);
    RCY_SETREF(from->b, to);
}

TU_UNUSED static void drop_resurrected(void) {
    while (nresurrected > 0)
        rcy_decref(resurrected[--nresurrected]);
}

TU_UNUSED static rcy_heap *new_heap(void) {
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    return h;
}

#endif
