/* The C half of legacy_finalizers.py: Legacy's destroy stands for
 * __tp_del__ (both run when the object is freed). */
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
    printf("in no cycle\n");
    node *a = mk(h, &node_type, "a"), *b = mk(h, &node_type, "b");
    node *lg = mk(h, &legacy_type, "L"), *kept = mk(h, &node_type, "kept");
    set_a(a, b);
    set_a(b, a);
    set_b(a, lg);
    set_a(lg, kept);
    rcy_decref(a);
    rcy_decref(b);
    rcy_decref(lg);
    rcy_decref(kept);
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    rcy_list *g = rcy_gc_garbage(h);
    printf("garbage %zu\n", rcy_list_len(g));

    printf("in a cycle\n");
    lg = mk(h, &legacy_type, "L2");
    node *x = mk(h, &node_type, "x"), *tail = mk(h, &node_type, "tail");
    set_a(lg, x);
    set_a(x, lg);
    set_b(x, tail);
    rcy_decref(lg);
    rcy_decref(x);
    rcy_decref(tail);
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    printf("garbage %zu\n", rcy_list_len(g));
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    printf("stats %s\n", st.generations[2].uncollectable > 0 ? "True" : "False");
    for (size_t i = 0; i < rcy_list_len(g); i++)
        set_a(rcy_list_get(g, (ptrdiff_t)i), NULL);
    rcy_list_clear(g);
    printf("end\n");
    rcy_heap_free(h);
    return 0;
}
