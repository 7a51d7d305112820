/* tests/fidelity/fid.h — what the C halves of the differential tests
 * share: a heap with automatic collection off (the Python halves call
 * gc.disable()), library output sent to stdout in order with printf, and
 * `Node`, the twin of the Python halves'
 *     class Node: __slots__ = ('a', 'b', 'name', '__weakref__')
 * with variants that share its layout (finalizers print as __del__ does). */
#ifndef RCY_FIDELITY_H
#define RCY_FIDELITY_H

#include <recycle.h>
#include <stdio.h>
#include <stdlib.h>

#define FID_UNUSED __attribute__((unused))

typedef struct node {
    void *a, *b;
    const char *name;
} node;

static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->a, visit, arg);
    RCY_VISIT(n->b, visit, arg);
    return 0;
}

static void node_clear(void *self) {
    node *n = self;
    RCY_CLEAR(n->a);
    RCY_CLEAR(n->b);
}

FID_UNUSED static const rcy_type node_type = {"Node",     sizeof(node), 0,   node_traverse,
                                              node_clear, NULL,         NULL};

/* The Python halves' `def __del__(self): print("del", self.name)`. */
FID_UNUSED static void node_print_del(void *self) {
    printf("del %s\n", ((node *)self)->name);
}

FID_UNUSED static node *mk(rcy_heap *h, const rcy_type *t, const char *name) {
    node *n = rcy_new(h, t);
    if (!n)
        abort();
    n->name = name;
    return n;
}

/* from.a = to (a new reference), dropping the old value */
FID_UNUSED static void set_a(node *from, void *to) {
    rcy_xincref(to);
    RCY_SETREF(from->a, to);
}
FID_UNUSED static void set_b(node *from, void *to) {
    rcy_xincref(to);
    RCY_SETREF(from->b, to);
}

static void fid_output(const char *text, void *arg) {
    (void)arg;
    fputs(text, stdout);
}

FID_UNUSED static rcy_heap *fid_heap(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    rcy_set_output(fid_output, NULL);
    rcy_heap *h = rcy_heap_new(NULL);
    if (!h)
        abort();
    rcy_gc_disable(h);
    rcy_gc_set_hard(h, false); /* automatic collection is not the point */
    return h;
}

#endif
