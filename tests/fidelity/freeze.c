/* The C half of freeze.py. */
#include "fid.h"

int main(void) {
    rcy_heap *h = fid_heap();
    rcy_gc_collect(h, 2);
    node *a = mk(h, &node_type, "a");
    set_a(a, a);
    rcy_gc_freeze(h);
    printf("frozen %s\n", rcy_gc_get_freeze_count(h) > 0 ? "True" : "False");
    printf("tracked %s\n", rcy_gc_is_tracked(a) ? "True" : "False");
    rcy_decref(a);
    printf("collected while frozen %zd\n", rcy_gc_collect(h, 2));
    rcy_gc_unfreeze(h);
    printf("frozen %zu\n", rcy_gc_get_freeze_count(h));
    printf("collected after unfreeze %zd\n", rcy_gc_collect(h, 1));
    printf("collected after unfreeze %zd\n", rcy_gc_collect(h, 2));
    rcy_heap_free(h);
    return 0;
}
