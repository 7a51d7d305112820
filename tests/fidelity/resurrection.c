/* The C half of resurrection.py. */
#include "fid.h"

static rcy_list *saved;

static void phoenix_finalize(void *self) {
    node *n = self;
    void *o = rcy_weakref_get(n->b);
    printf("del %s weakref alive: %s\n", n->name, o ? "True" : "False");
    rcy_xdecref(o);
    rcy_list_append(saved, n);
}

static const rcy_type phoenix_type = {"Phoenix",  sizeof(node),     0,   node_traverse,
                                      node_clear, phoenix_finalize, NULL};

static node *phoenix(rcy_heap *h, const char *name, bool cyclic) {
    node *p = mk(h, &phoenix_type, name);
    rcy_weakref *wr = rcy_weakref_new(p, NULL, NULL);
    set_b(p, wr);
    rcy_decref(wr);
    if (cyclic)
        set_a(p, p);
    return p;
}

static const char *py_bool(bool b) {
    return b ? "True" : "False";
}

int main(void) {
    rcy_heap *h = fid_heap();
    saved = rcy_list_new(h);
    rcy_gc_collect(h, 2);
    printf("by refcounting\n");
    rcy_decref(phoenix(h, "p", false));
    printf("saved %zu finalized %s\n", rcy_list_len(saved),
           py_bool(rcy_gc_is_finalized(rcy_list_get(saved, 0))));
    rcy_list_clear(saved);
    printf("collected %zd\n", rcy_gc_collect(h, 2));

    printf("in a collection\n");
    rcy_decref(phoenix(h, "q", true));
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    node *q = rcy_list_get(saved, 0);
    printf("saved %zu finalized %s\n", rcy_list_len(saved), py_bool(rcy_gc_is_finalized(q)));
    void *o = rcy_weakref_get(q->b);
    printf("its weakref %s\n", py_bool(o == NULL));
    rcy_xdecref(o);
    rcy_list_clear(saved);
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    rcy_decref(saved);
    rcy_heap_free(h);
    return 0;
}
