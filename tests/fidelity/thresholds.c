/* The C half of thresholds.py. */
#include "fid.h"

static size_t count(rcy_heap *h, int g) {
    size_t c[RCY_GC_GENERATIONS];
    rcy_gc_get_count(h, c);
    return c[g];
}

static void collections(rcy_heap *h, size_t out[RCY_GC_GENERATIONS]) {
    rcy_gc_stats st = {.size = sizeof st};
    rcy_gc_get_stats(h, &st);
    for (int g = 0; g < RCY_GC_GENERATIONS; g++)
        out[g] = st.generations[g].collections;
}

int main(void) {
    rcy_heap *h = fid_heap();
    size_t t[RCY_GC_GENERATIONS];
    rcy_gc_get_threshold(h, t);
    printf("thresholds %zu %zu %zu\n", t[0], t[1], t[2]);
    rcy_gc_set_threshold(h, 100, 5, 3);
    rcy_gc_get_threshold(h, t);
    printf("set %zu %zu %zu\n", t[0], t[1], t[2]);
    rcy_gc_collect(h, 2);

    size_t b1 = count(h, 1), b2 = count(h, 2);
    size_t b0 = count(h, 0);
    node *x = mk(h, &node_type, "x"), *y = mk(h, &node_type, "y"), *z = mk(h, &node_type, "z");
    printf("after 3 allocations %zu\n", count(h, 0) - b0);
    rcy_decref(x);
    printf("after a free %zu\n", count(h, 0) - b0);
    rcy_gc_collect(h, 0);
    printf("after collect(0) %zu %zu %zu\n", count(h, 0), count(h, 1) - b1, count(h, 2) - b2);
    rcy_gc_collect(h, 1);
    printf("after collect(1) %zu %zu %zu\n", count(h, 0), count(h, 1), count(h, 2) - b2);
    rcy_decref(y);
    rcy_decref(z);
    rcy_gc_collect(h, 2);
    printf("after collect() %zu %zu %zu\n", count(h, 0), count(h, 1), count(h, 2));

    printf("automatic\n");
    rcy_gc_set_threshold(h, 10, 2, 100);
    size_t s0[RCY_GC_GENERATIONS], s1[RCY_GC_GENERATIONS];
    collections(h, s0);
    node *keep[40];
    rcy_gc_collect(h, 2);
    rcy_gc_enable(h);
    for (int i = 0; i < 40; i++)
        keep[i] = mk(h, &node_type, "keep");
    rcy_gc_disable(h);
    collections(h, s1);
    printf("collections %zu %zu\n", s1[0] - s0[0], s1[1] - s0[1]);
    printf("count %zu %zu %zu\n", count(h, 0), count(h, 1), count(h, 2));
    for (int i = 0; i < 40; i++)
        rcy_decref(keep[i]);
    rcy_heap_free(h);
    return 0;
}
