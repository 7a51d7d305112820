/* The C half of finalizer_order.py. */
#include "fid.h"

static const rcy_type del_type = {"Del",      sizeof(node),   0,   node_traverse,
                                  node_clear, node_print_del, NULL};

/* A ring of n Del nodes, returned with our references in r[]. */
static void ring(rcy_heap *h, node **r, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        r[i] = mk(h, &del_type, names[i]);
    for (int i = 0; i < n; i++)
        set_a(r[i], r[(i + 1) % n]);
}

static void drop(node **r, int n) {
    for (int i = 0; i < n; i++)
        rcy_decref(r[i]);
}

int main(void) {
    rcy_heap *h = fid_heap();
    node *old[3], *young[3];
    rcy_gc_collect(h, 2);
    printf("generation 0\n");
    ring(h, young, (const char *const[]){"a", "b", "c"}, 3);
    drop(young, 3);
    printf("collected %zd\n", rcy_gc_collect(h, 0));

    printf("generation 1\n");
    ring(h, old, (const char *const[]){"d", "e"}, 2);
    rcy_gc_collect(h, 0);
    ring(h, young, (const char *const[]){"f", "g"}, 2);
    drop(old, 2);
    drop(young, 2);
    printf("collected %zd\n", rcy_gc_collect(h, 1));

    rcy_heap_free(h);
    return 0;
}
