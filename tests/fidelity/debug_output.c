/* The C half of debug_output.py (library output goes to stdout here, so
 * it is in place already). */
#include "fid.h"

static void legacy_destroy(void *self) {
    printf("tp_del %s\n", ((node *)self)->name);
    node_clear(self);
}

static const rcy_type legacy_type = {"Legacy",      sizeof(node), RCY_TYPE_LEGACY_FINALIZER,
                                     node_traverse, node_clear,   NULL,
                                     legacy_destroy};

int main(void) {
    rcy_heap *h = fid_heap();
    rcy_gc_collect(h, 2);
    node *lg = mk(h, &legacy_type, "L"), *x = mk(h, &node_type, "x");
    node *kept = mk(h, &node_type, "kept");
    set_a(lg, lg);
    set_a(x, x);
    set_b(lg, kept);
    rcy_decref(lg);
    rcy_decref(x);
    rcy_decref(kept);
    rcy_gc_set_debug(h, RCY_GC_DEBUG_COLLECTABLE | RCY_GC_DEBUG_UNCOLLECTABLE);
    ssize_t n = rcy_gc_collect(h, 2);
    rcy_gc_set_debug(h, 0);
    printf("collected %zd\n", n);
    rcy_list *g = rcy_gc_garbage(h);
    printf("garbage %zu\n", rcy_list_len(g));
    set_a(rcy_list_get(g, 0), NULL);
    rcy_list_clear(g);
    printf("end\n");
    rcy_heap_free(h);
    return 0;
}
