/* The C half of weakref_order.py. */
#include "fid.h"

static void callback(rcy_weakref *wr, void *arg) {
    (void)wr;
    printf("callback %s\n", (const char *)arg);
}

static void say(void *arg) {
    printf("%s\n", (const char *)arg);
}

int main(void) {
    rcy_heap *h = fid_heap();
    for (int collect = 0; collect < 2; collect++) {
        printf("%s\n", collect ? "collect" : "refcount");
        node *x = mk(h, &node_type, "x");
        if (collect)
            set_a(x, x);
        rcy_weakref *r1 = rcy_weakref_new(x, callback, "r1");
        rcy_weakref *r2 = rcy_weakref_new(x, callback, "r2");
        rcy_weakref *r3 = rcy_weakref_new(x, callback, "r3");
        rcy_finalize *f = rcy_finalize_new(x, say, "finalize");
        rcy_decref(x);
        if (collect)
            printf("collected %zd\n", rcy_gc_collect(h, 2));
        rcy_decref(r1);
        rcy_decref(r2);
        rcy_decref(r3);
        rcy_decref(f);
    }
    rcy_heap_free(h);
    return 0;
}
