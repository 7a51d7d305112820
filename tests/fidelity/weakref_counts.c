/* The C half of weakref_counts.py. */
#include "fid.h"

static rcy_weakref *holder;
static void drop(rcy_weakref *wr, void *arg) {
    (void)wr, (void)arg;
    printf("callback\n");
    RCY_CLEAR(holder);
}

static void say(void *arg) {
    printf("%s\n", (const char *)arg);
}

static const char *py_bool(bool b) {
    return b ? "True" : "False";
}

int main(void) {
    rcy_heap *h = fid_heap();
    rcy_gc_collect(h, 2);
    printf("a callback drops its own weak reference\n");
    node *x = mk(h, &node_type, "x");
    set_a(x, x);
    holder = rcy_weakref_new(x, drop, NULL);
    rcy_decref(x);
    printf("collected %zd\n", rcy_gc_collect(h, 2));

    printf("a finalize fires in a collection\n");
    node *y = mk(h, &node_type, "y");
    set_a(y, y);
    rcy_decref(rcy_finalize_new(y, say, "finalized"));
    rcy_decref(y);
    printf("collected %zd\n", rcy_gc_collect(h, 2));

    printf("getweakrefcount\n");
    node *z = mk(h, &node_type, "z");
    rcy_finalize *f = rcy_finalize_new(z, say, "f called");
    rcy_finalize *g = rcy_finalize_new(z, say, "g called");
    rcy_weakref *r = rcy_weakref_new(z, NULL, NULL);
    printf("%zu\n", rcy_weakref_getweakrefcount(z));
    rcy_finalize_call(f);
    printf("%zu %s\n", rcy_weakref_getweakrefcount(z), py_bool(rcy_finalize_alive(f)));
    rcy_finalize_detach(g);
    printf("%zu %s\n", rcy_weakref_getweakrefcount(z), py_bool(rcy_finalize_alive(g)));
    rcy_decref(r);
    printf("%zu\n", rcy_weakref_getweakrefcount(z));
    rcy_decref(z);
    printf("end\n");
    rcy_decref(f);
    rcy_decref(g);
    rcy_heap_free(h);
    return 0;
}
