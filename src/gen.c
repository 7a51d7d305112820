/* src/gen.c — generator objects and the building blocks (range, map,
 * filter, take, list iteration).
 *
 * A generator is [rcy_head_][struct rcy_gen][state].  Two types share one
 * implementation: rcy_gen_type (has traverse: tracked by the collector) for
 * specs whose state holds references, and an untracked twin for specs
 * without traverse, so a range costs the collector nothing.
 *
 * Invariants (see also include/recycle/gen.h):
 *   RUNNING is set exactly while the step function runs (re-entry is
 *   refused, and the generator holds an extra reference to itself then);
 *   CLOSED is set before the cleanup runs and never cleared.
 */
#include "internal.h"

#include <limits.h>
#include <stdalign.h>
#include <string.h>

enum {
    GEN_RUNNING = 0x1u,
    GEN_CLOSED = 0x2u,
};

struct rcy_gen {
    const rcy_gen_spec *spec;
    rcy_heap *heap;
    uint32_t flags;
    int32_t error; /* the rcy_err that ended the generator, or 0 */
    alignas(max_align_t) unsigned char state[];
};

/* Runs the cleanup once: CLOSED first, so a cleanup that looks at the
 * generator sees it finished. */
static void gen_finish(rcy_gen *g) {
    if (g->flags & GEN_CLOSED)
        return;
    g->flags |= GEN_CLOSED;
    if (g->spec->close)
        g->spec->close(g->state);
    if (g->spec->clear)
        g->spec->clear(g->state);
}

static int gen_traverse(void *self, rcy_visitproc visit, void *arg) {
    rcy_gen *g = self;
    if (g->spec && g->spec->traverse)
        return g->spec->traverse(g->state, visit, arg);
    return 0;
}

static void gen_clear(void *self) {
    rcy_gen *g = self;
    if (g->spec && g->spec->clear)
        g->spec->clear(g->state);
}

/* PEP 442: an open generator that is about to die is closed first. */
static void gen_finalize(void *self) {
    rcy_gen *g = self;
    if (g->spec)
        gen_finish(g);
}

static void gen_destroy(void *self) {
    rcy_gen *g = self;
    if (!g->spec)
        return; /* died before rcy_gen_new_ filled it in */
    gen_finish(g);
    gen_clear(g);
}

const rcy_type rcy_gen_type = {
    .name = "generator",
    .size = sizeof(struct rcy_gen),
    .traverse = gen_traverse,
    .clear = gen_clear,
    .finalize = gen_finalize,
    .destroy = gen_destroy,
};

static const rcy_type gen_untracked_type = {
    .name = "generator",
    .size = sizeof(struct rcy_gen),
    .finalize = gen_finalize,
    .destroy = gen_destroy,
};

rcy_gen *rcy_gen_new_(rcy_heap *heap, const rcy_gen_spec *spec, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    if (!spec || !spec->next)
        return NULL;
    const rcy_type *type = spec->traverse ? &rcy_gen_type : &gen_untracked_type;
    size_t extra = spec->state_size;
    if (extra > SIZE_MAX / 2)
        return NULL;
    /* Round the state up so the allocation stays a multiple of the
     * alignment the state was promised. */
    extra = (extra + alignof(max_align_t) - 1) & ~(size_t)(alignof(max_align_t) - 1);
    rcy_gen *g = rcy_new_var_(heap, type, extra, file, line, func);
    if (!g)
        return NULL;
    g->spec = spec;
    g->heap = heap;
    return g;
}

void *rcy_gen_state(rcy_gen *g) {
    RCYI_REQUIRE(g, NULL);
    return g->state;
}
const rcy_gen_spec *rcy_gen_spec_of(const rcy_gen *g) {
    RCYI_REQUIRE(g, NULL);
    return g->spec;
}

bool rcy_gen_check(const void *obj) {
    if (!obj)
        return false;
    const rcy_type *t = rcy_type_of(obj);
    return t == &rcy_gen_type || t == &gen_untracked_type;
}

static void *gen_done(int *status, int code) {
    if (status)
        *status = code;
    return NULL;
}

void *rcy_gen_next(rcy_gen *g, int *status) {
    if (RCY_UNLIKELY(!g)) {
        rcyi_misuse(__func__, "g is NULL");
        return gen_done(status, RCY_EINVAL);
    }
    if (g->flags & GEN_RUNNING)
        return gen_done(status, RCY_ESTATE);
    if (g->flags & GEN_CLOSED)
        return gen_done(status, RCY_GEN_DONE);
    void *item = NULL;
    g->flags |= GEN_RUNNING;
    /* The step function may drop what held the generator: keep it alive
     * until the step returns. */
    rcy_incref(g);
    int rc = g->spec->next(g->heap, g->state, &item);
    g->flags &= ~(uint32_t)GEN_RUNNING;
    if (rc > 0 && item == NULL)
        rc = RCY_EINVAL; /* the step claimed an item but gave none */
    if (rc <= 0 && item != NULL) {
        rcy_decref(item); /* an item with an end or an error is dropped */
        item = NULL;
    }
    if (rc <= 0) {
        if (rc < 0)
            g->error = rc;
        gen_finish(g);
    }
    rcy_decref(g);
    if (status)
        *status = rc > 0 ? RCY_GEN_ITEM : rc;
    return item;
}

void *rcy_gen_advance_(rcy_gen *g, void *prev) {
    rcy_decref(prev);
    return rcy_gen_next(g, NULL);
}

int rcy_gen_error(const rcy_gen *g) {
    RCYI_REQUIRE(g, RCY_EINVAL);
    return g->error;
}

int rcy_gen_close(rcy_gen *g) {
    RCYI_REQUIRE(g, RCY_EINVAL);
    if (g->flags & GEN_RUNNING)
        return RCY_ESTATE;
    if (g->flags & GEN_CLOSED)
        return RCY_OK;
    rcy_incref(g); /* the cleanup may drop the last other reference */
    gen_finish(g);
    rcy_decref(g);
    return RCY_OK;
}

bool rcy_gen_is_closed(const rcy_gen *g) {
    RCYI_REQUIRE(g, true);
    return (g->flags & GEN_CLOSED) != 0;
}

/* ---- range ------------------------------------------------------------ */

typedef struct range_state {
    long cur, stop, step;
} range_state;

static int range_next(rcy_heap *heap, void *s, void **item) {
    range_state *st = s;
    if (st->step > 0 ? st->cur >= st->stop : st->cur <= st->stop)
        return RCY_GEN_DONE;
    rcy_int *v = rcy_int_new(heap, st->cur);
    if (!v)
        return RCY_ENOMEM;
    *item = v;
    long next;
    /* Past the end of long: the item just made was the last one. */
    st->cur = __builtin_add_overflow(st->cur, st->step, &next) ? st->stop : next;
    return RCY_GEN_ITEM;
}

static const rcy_gen_spec range_spec = {
    .name = "range",
    .state_size = sizeof(range_state),
    .next = range_next,
};

rcy_gen *rcy_gen_range_(rcy_heap *heap, long start, long stop, long step, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    if (step == 0)
        return NULL;
    rcy_gen *g = rcy_gen_new_(heap, &range_spec, file, line, func);
    if (!g)
        return NULL;
    range_state *st = rcy_gen_state(g);
    st->cur = start;
    st->stop = stop;
    st->step = step;
    return g;
}

/* ---- generators over one source: map, filter, take ------------------- */

typedef struct src_state {
    rcy_gen *src;
    union {
        rcy_gen_map_fn map;
        rcy_gen_pred_fn pred;
    } fn;
    void *ctx;
    size_t left; /* take */
} src_state;

static int src_traverse(void *s, rcy_visitproc visit, void *arg) {
    src_state *st = s;
    RCY_VISIT(st->src, visit, arg);
    return 0;
}

static void src_clear(void *s) {
    src_state *st = s;
    RCY_CLEAR(st->src);
}

/* The source's next item, or its end / error as the step's result. */
static int src_pull(src_state *st, void **item) {
    if (!st->src)
        return RCY_GEN_DONE;
    int status;
    *item = rcy_gen_next(st->src, &status);
    return status;
}

static int map_next(rcy_heap *heap, void *s, void **item) {
    src_state *st = s;
    void *in;
    int rc = src_pull(st, &in);
    if (rc <= 0)
        return rc;
    void *out = NULL;
    rc = st->fn.map(heap, in, &out, st->ctx);
    rcy_decref(in);
    if (rc < 0) {
        rcy_xdecref(out);
        return rc;
    }
    if (!out)
        return RCY_EINVAL;
    *item = out;
    return RCY_GEN_ITEM;
}

static int filter_next(rcy_heap *heap, void *s, void **item) {
    (void)heap;
    src_state *st = s;
    for (;;) {
        void *in;
        int rc = src_pull(st, &in);
        if (rc <= 0)
            return rc;
        rc = st->fn.pred(in, st->ctx);
        if (rc > 0) {
            *item = in;
            return RCY_GEN_ITEM;
        }
        rcy_decref(in);
        if (rc < 0)
            return rc;
    }
}

static int take_next(rcy_heap *heap, void *s, void **item) {
    (void)heap;
    src_state *st = s;
    if (st->left == 0)
        return RCY_GEN_DONE;
    int rc = src_pull(st, item);
    if (rc > 0)
        st->left--;
    return rc;
}

static const rcy_gen_spec map_spec = {.name = "map",
                                      .state_size = sizeof(src_state),
                                      .next = map_next,
                                      .traverse = src_traverse,
                                      .clear = src_clear};
static const rcy_gen_spec filter_spec = {.name = "filter",
                                         .state_size = sizeof(src_state),
                                         .next = filter_next,
                                         .traverse = src_traverse,
                                         .clear = src_clear};
static const rcy_gen_spec take_spec = {.name = "take",
                                       .state_size = sizeof(src_state),
                                       .next = take_next,
                                       .traverse = src_traverse,
                                       .clear = src_clear};

/* `api`: the public function, named in a misuse message. */
static src_state *new_over(const char *api, rcy_gen **out, const rcy_gen_spec *spec, rcy_gen *src,
                           RCY_SITE_PARAMS) {
    *out = NULL;
    if (!src) {
        rcyi_misuse(api, "src is NULL");
        return NULL;
    }
    rcy_gen *g = rcy_gen_new_(src->heap, spec, file, line, func);
    if (!g)
        return NULL;
    src_state *st = rcy_gen_state(g);
    rcy_incref(src);
    st->src = src;
    *out = g;
    return st;
}

rcy_gen *rcy_gen_map_(rcy_gen *src, rcy_gen_map_fn fn, void *ctx, RCY_SITE_PARAMS) {
    rcy_gen *g;
    if (!fn)
        return NULL;
    src_state *st = new_over(__func__, &g, &map_spec, src, file, line, func);
    if (st) {
        st->fn.map = fn;
        st->ctx = ctx;
    }
    return g;
}

rcy_gen *rcy_gen_filter_(rcy_gen *src, rcy_gen_pred_fn pred, void *ctx, RCY_SITE_PARAMS) {
    rcy_gen *g;
    if (!pred)
        return NULL;
    src_state *st = new_over(__func__, &g, &filter_spec, src, file, line, func);
    if (st) {
        st->fn.pred = pred;
        st->ctx = ctx;
    }
    return g;
}

rcy_gen *rcy_gen_take_(rcy_gen *src, size_t n, RCY_SITE_PARAMS) {
    rcy_gen *g;
    src_state *st = new_over(__func__, &g, &take_spec, src, file, line, func);
    if (st)
        st->left = n;
    return g;
}

/* ---- lists ------------------------------------------------------------ */

typedef struct list_state {
    rcy_list *list;
    size_t index;
} list_state;

static int list_next(rcy_heap *heap, void *s, void **item) {
    (void)heap;
    list_state *st = s;
    if (!st->list || st->index >= rcy_list_len(st->list))
        return RCY_GEN_DONE;
    void *v = rcy_list_get(st->list, (ptrdiff_t)st->index++);
    rcy_incref(v);
    *item = v;
    return RCY_GEN_ITEM;
}

static int list_traverse(void *s, rcy_visitproc visit, void *arg) {
    list_state *st = s;
    RCY_VISIT(st->list, visit, arg);
    return 0;
}

static void list_clear(void *s) {
    list_state *st = s;
    RCY_CLEAR(st->list);
}

static const rcy_gen_spec list_spec = {.name = "list_iterator",
                                       .state_size = sizeof(list_state),
                                       .next = list_next,
                                       .traverse = list_traverse,
                                       .clear = list_clear};

rcy_gen *rcy_gen_from_list_(rcy_list *list, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(list, NULL);
    rcy_gen *g = rcy_gen_new_(rcy_heap_of(list), &list_spec, file, line, func);
    if (!g)
        return NULL;
    list_state *st = rcy_gen_state(g);
    rcy_incref(list);
    st->list = list;
    return g;
}

rcy_list *rcy_gen_to_list_(rcy_gen *g, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(g, NULL);
    rcy_list *l = rcy_list_new_(g->heap, file, line, func);
    if (!l)
        return NULL;
    for (;;) {
        int status;
        void *item = rcy_gen_next(g, &status);
        if (status == RCY_GEN_DONE)
            return l;
        if (status < 0) {
            rcy_decref(l);
            return NULL;
        }
        int rc = rcy_list_append_(l, item, file, line, func);
        rcy_decref(item);
        if (rc < 0) {
            rcy_decref(l);
            return NULL;
        }
    }
}
