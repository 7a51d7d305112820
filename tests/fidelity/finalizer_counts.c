/* The C half of finalizer_counts.py. */
#include "fid.h"

static void breaker_finalize(void *self) {
    node *n = self;
    printf("del %s\n", n->name);
    set_a(n, NULL);
}

static rcy_list *saved;
static void resurrector_finalize(void *self) {
    printf("del %s\n", ((node *)self)->name);
    rcy_list_append(saved, self);
}

static const rcy_type breaker_type = {"Breaker",  sizeof(node),     0,   node_traverse,
                                      node_clear, breaker_finalize, NULL};
static const rcy_type resurrector_type = {"Resurrector", sizeof(node),         0,   node_traverse,
                                          node_clear,    resurrector_finalize, NULL};

typedef struct gen_state {
    rcy_list *held;
    int step;
} gen_state;

static int gen_next(rcy_heap *h, void *state, void **item) {
    gen_state *st = state;
    if (st->step++)
        return 0;
    *item = rcy_int_new(h, 1);
    return *item ? 1 : RCY_ENOMEM;
}
static int gen_traverse(void *state, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((gen_state *)state)->held, visit, arg);
    return 0;
}
static void gen_clear(void *state) {
    RCY_CLEAR(((gen_state *)state)->held);
}
static void gen_close(void *state) {
    (void)state;
    printf("generator closed\n");
}
static const rcy_gen_spec gen_spec = {.name = "gen",
                                      .state_size = sizeof(gen_state),
                                      .next = gen_next,
                                      .traverse = gen_traverse,
                                      .clear = gen_clear,
                                      .close = gen_close};

static void ring(rcy_heap *h, const rcy_type *first, const char *name, int n) {
    node *r[8];
    for (int i = 0; i < n; i++)
        r[i] = mk(h, i == 0 ? first : &node_type, i == 0 ? name : "plain");
    for (int i = 0; i < n; i++)
        set_a(r[i], r[(i + 1) % n]);
    for (int i = 0; i < n; i++)
        rcy_decref(r[i]);
}

int main(void) {
    rcy_heap *h = fid_heap();
    saved = rcy_list_new(h);
    rcy_gc_collect(h, 2);
    printf("a finalizer breaks its own cycle\n");
    ring(h, &breaker_type, "a", 2);
    printf("collected %zd\n", rcy_gc_collect(h, 2));

    printf("a ring of 4, one breaker\n");
    ring(h, &breaker_type, "r0", 4);
    printf("collected %zd\n", rcy_gc_collect(h, 2));

    printf("a ring of 3, one resurrector\n");
    ring(h, &resurrector_type, "s0", 3);
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    printf("saved %zu\n", rcy_list_len(saved));
    rcy_list_clear(saved);
    printf("collected %zd\n", rcy_gc_collect(h, 2));

    printf("a suspended generator in a cycle\n");
    rcy_list *held = rcy_list_new(h);
    rcy_gen *g = rcy_gen_new(h, &gen_spec);
    rcy_incref(held);
    ((gen_state *)rcy_gen_state(g))->held = held;
    rcy_decref(rcy_gen_next(g, NULL));
    rcy_list_append(held, g);
    rcy_decref(g);
    rcy_decref(held);
    printf("collected %zd\n", rcy_gc_collect(h, 2));
    rcy_decref(saved);
    rcy_heap_free(h);
    return 0;
}
