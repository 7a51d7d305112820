/* The C half of generations.py. */
#include "fid.h"

static void stats(rcy_heap *h, rcy_gc_stats *st) {
    st->size = sizeof *st;
    rcy_gc_get_stats(h, st);
}

static char events[32][64];
static int nevents;

static void callback(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    (void)h, (void)arg;
    if (nevents < 32)
        snprintf(events[nevents++], sizeof events[0], "%s %d %zu %zu",
                 phase == RCY_GC_START ? "start" : "stop", info->generation, info->collected,
                 info->uncollectable);
}

static node *self_cycle(rcy_heap *h) {
    node *n = mk(h, &node_type, "n");
    set_a(n, n);
    return n;
}

int main(void) {
    rcy_heap *h = fid_heap();
    rcy_gc_collect(h, 2);
    rcy_gc_stats base, now;
    stats(h, &base);
    rcy_gc_callbacks_add(h, callback, NULL);
    const char *what[5];
    ssize_t n[5];
    rcy_decref(self_cycle(h));
    what[0] = "generation 0 garbage, collect(0)", n[0] = rcy_gc_collect(h, 0);
    node *b = self_cycle(h);
    rcy_gc_collect(h, 0);
    rcy_decref(b);
    what[1] = "generation 1 garbage, collect(0)", n[1] = rcy_gc_collect(h, 0);
    what[2] = "generation 1 garbage, collect(1)", n[2] = rcy_gc_collect(h, 1);
    node *c = self_cycle(h);
    rcy_gc_collect(h, 1);
    rcy_decref(c);
    what[3] = "generation 2 garbage, collect(1)", n[3] = rcy_gc_collect(h, 1);
    what[4] = "generation 2 garbage, collect()", n[4] = rcy_gc_collect(h, 2);
    rcy_gc_callbacks_remove(h, callback, NULL);
    stats(h, &now);
    for (int i = 0; i < 5; i++)
        printf("%s %zd\n", what[i], n[i]);
    for (int i = 0; i < nevents; i++)
        printf("callback %s\n", events[i]);
    for (int g = 0; g < RCY_GC_GENERATIONS; g++)
        printf("generation %d %zu %zu %zu\n", g,
               now.generations[g].collections - base.generations[g].collections,
               now.generations[g].collected - base.generations[g].collected,
               now.generations[g].uncollectable - base.generations[g].uncollectable);
    rcy_heap_free(h);
    return 0;
}
