/* src/gcmodule.c — the collector's front end: Python's gc module API
 * (enable/disable, thresholds, collect), statistics and their printing,
 * tracking queries, freeze, gc.garbage, callbacks and introspection
 * (get_objects / get_referrers / get_referents).  The engine it drives —
 * generations, trial deletion, finalization — is gc.c; the state and
 * invariants both keep are in src/gc.h. */
#include "heap.h"

#include <stdio.h>
#include <string.h>

static void free_array(rcy_heap *h, void *p) {
    if (p)
        rcyi_free(h, p);
}

/* ---- switches and thresholds ---------------------------------------- */

void rcy_gc_enable(rcy_heap *heap) {
    RCYI_REQUIRE(heap, );
    heap->gc.enabled = 1;
    rcyi_gc_update_trigger(&heap->gc);
}
void rcy_gc_disable(rcy_heap *heap) {
    RCYI_REQUIRE(heap, );
    heap->gc.enabled = 0;
    rcyi_gc_update_trigger(&heap->gc);
}
bool rcy_gc_isenabled(rcy_heap *heap) {
    RCYI_REQUIRE(heap, false);
    return heap->gc.enabled != 0;
}
void rcy_gc_set_hard(rcy_heap *heap, bool on) {
    RCYI_REQUIRE(heap, );
    heap->gc.hard = on;
    rcyi_gc_update_trigger(&heap->gc);
}
bool rcy_gc_get_hard(rcy_heap *heap) {
    RCYI_REQUIRE(heap, false);
    return heap->gc.hard != 0;
}
void rcy_gc_set_emergency(rcy_heap *heap, bool on) {
    RCYI_REQUIRE(heap, );
    heap->gc.emergency = on;
}
bool rcy_gc_get_emergency(rcy_heap *heap) {
    RCYI_REQUIRE(heap, false);
    return heap->gc.emergency != 0;
}

void rcy_gc_set_incremental(rcy_heap *heap, bool on) {
    RCYI_REQUIRE(heap, );
    heap->gc.incremental = on;
}
bool rcy_gc_get_incremental(rcy_heap *heap) {
    RCYI_REQUIRE(heap, false);
    return heap->gc.incremental != 0;
}

int rcy_gc_step(rcy_heap *heap, size_t budget) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    if (heap->gc.collecting || heap->gc.stage != RCYI_GC_RUNNING)
        return 0;
    return rcyi_gc_incr_step(heap, budget);
}

bool rcyi_gc_emergency(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    if (!gc->emergency || !gc->enabled || gc->collecting || gc->stage != RCYI_GC_RUNNING ||
        h->obj.finalizing || h->obj.depth || h->freeing || h->alloc.walking)
        return false;
    gc->emergencies++;
    (void)rcyi_gc_collect(h, 2); /* RCY_ENOMEM: nothing changed, the retry fails too */
    return true;
}

void rcy_gc_set_debug(rcy_heap *heap, unsigned flags) {
    RCYI_REQUIRE(heap, );
    heap->gc.debug = flags;
}
unsigned rcy_gc_get_debug(rcy_heap *heap) {
    RCYI_REQUIRE(heap, 0);
    return heap->gc.debug;
}

ssize_t rcy_gc_collect(rcy_heap *heap, int generation) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    if (generation < -1 || generation > 2)
        return RCY_EINVAL;
    if (heap->gc.collecting || heap->gc.stage != RCYI_GC_RUNNING)
        return 0;
    if (generation == 1 && heap->gc.incremental)
        return rcyi_gc_incr_auto(heap);
    return rcyi_gc_collect(heap, generation < 0 ? 2u : (unsigned)generation);
}

void rcy_gc_get_count(rcy_heap *heap, size_t count[RCY_GC_GENERATIONS]) {
    RCYI_REQUIRE(heap, );
    RCYI_REQUIRE(count, );
    memcpy(count, heap->gc.count, sizeof heap->gc.count);
}

void rcy_gc_get_threshold(rcy_heap *heap, size_t threshold[RCY_GC_GENERATIONS]) {
    RCYI_REQUIRE(heap, );
    RCYI_REQUIRE(threshold, );
    memcpy(threshold, heap->gc.threshold, sizeof heap->gc.threshold);
}

void rcy_gc_set_threshold(rcy_heap *heap, size_t t0, size_t t1, size_t t2) {
    RCYI_REQUIRE(heap, );
    heap->gc.threshold[0] = t0;
    heap->gc.threshold[1] = t1;
    heap->gc.threshold[2] = t2;
    rcyi_gc_update_trigger(&heap->gc);
}

/* ---- statistics ------------------------------------------------------ */

int rcy_gc_get_stats(rcy_heap *heap, rcy_gc_stats *stats) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    RCYI_REQUIRE(stats, RCY_EINVAL);
    if (stats->size < offsetof(rcy_gc_stats, generations))
        return RCY_EINVAL;
    rcy_gc_stats full;
    memset(&full, 0, sizeof full);
    full.size = stats->size;
    full.version = RCY_GC_STATS_VERSION;
    memcpy(full.generations, heap->gc.stats, sizeof full.generations);
    full.emergency_collections = heap->gc.emergencies;
    memcpy(stats, &full, stats->size < sizeof full ? stats->size : sizeof full);
    return RCY_OK;
}

int rcy_gc_print_stats(rcy_heap *heap, FILE *out) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    rcyi_gc_state *gc = &heap->gc;
    rcyi_put(out, "gc: generation %11s %10s %13s %11s %10s\n", "collections", "collected",
             "uncollectable", "candidates", "duration");
    for (int g = 0; g < 3; g++) {
        const rcy_gc_gen_stats *st = &gc->stats[g];
        rcyi_put(out, "gc: %10d %11zu %10zu %13zu %11zu %9.4fs\n", g, st->collections,
                 st->collected, st->uncollectable, st->candidates, st->duration);
    }
    rcyi_put(out, "gc: objects in each generation: %zu %zu %zu\n", gc->young[0].live,
             gc->young[1].live, rcyi_gc_old_count(gc));
    rcyi_put(out, "gc: objects in permanent generation: %zu\n", gc->nfrozen);
    rcyi_put(out, "gc: count %zu %zu %zu, threshold %zu %zu %zu, %s\n", gc->count[0], gc->count[1],
             gc->count[2], gc->threshold[0], gc->threshold[1], gc->threshold[2],
             gc->enabled ? "enabled" : "disabled");
    rcyi_put(out, "gc: emergency collections: %zu (%s)\n", gc->emergencies,
             gc->emergency ? "on" : "off");
    return RCY_OK;
}

int rcy_gc_print_stats_json(rcy_heap *heap, FILE *out) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    rcyi_gc_state *gc = &heap->gc;
    rcyi_put(out, "{\"version\": %d, \"generations\": [", RCY_GC_STATS_VERSION);
    for (int g = 0; g < 3; g++) {
        const rcy_gc_gen_stats *st = &gc->stats[g];
        rcyi_put(out,
                 "%s{\"collections\": %zu, \"collected\": %zu, \"uncollectable\": %zu, "
                 "\"candidates\": %zu, \"duration\": %.6f}",
                 g ? ", " : "", st->collections, st->collected, st->uncollectable, st->candidates,
                 st->duration);
    }
    rcyi_put(out,
             "], \"objects\": [%zu, %zu, %zu], \"frozen\": %zu, \"count\": [%zu, %zu, %zu], "
             "\"threshold\": [%zu, %zu, %zu], \"enabled\": %s, "
             "\"emergency_collections\": %zu}\n",
             gc->young[0].live, gc->young[1].live, rcyi_gc_old_count(gc), gc->nfrozen, gc->count[0],
             gc->count[1], gc->count[2], gc->threshold[0], gc->threshold[1], gc->threshold[2],
             gc->enabled ? "true" : "false", gc->emergencies);
    return RCY_OK;
}

/* ---- tracking --------------------------------------------------------- */

bool rcy_gc_is_tracked(const void *obj) {
    RCYI_REQUIRE(obj, false);
    return (rcyi_head(obj)->gcword & RCYI_GC_TRACKED) != 0;
}

bool rcy_gc_is_finalized(const void *obj) {
    RCYI_REQUIRE(obj, false);
    return (rcyi_head(obj)->gcword & RCYI_GC_FINALIZED) != 0;
}

int rcy_gc_track(void *obj) {
    RCYI_REQUIRE(obj, RCY_EINVAL);
    rcy_head_ *o = rcyi_head(obj);
    if (!o->type->traverse || rcyi_rc_in_shared_graph(rcyi_refcnt_load(o)))
        return RCY_EINVAL; /* shared => untracked (object.h) */
    rcy_heap *h = rcy_heap_of(obj);
    if (h->gc.stage == RCYI_GC_DONE)
        return RCY_ESTATE;
    rcyi_gc_track(h, o);
    return RCY_OK;
}

void rcy_gc_untrack(void *obj) {
    RCYI_REQUIRE(obj, );
    rcy_head_ *o = rcyi_head(obj);
    if (!(o->gcword & RCYI_GC_TRACKED))
        return;
    rcyi_gc_untrack(rcy_heap_of(obj), o);
}

/* ---- the permanent generation and garbage ------------------------------ */

static void freeze_walk(rcy_head_ *o, void *arg) {
    rcyi_gc_state *gc = arg;
    uint32_t w = o->gcword;
    if ((w & RCYI_GC_TRACKED) && !(w & RCYI_GC_COLLECTING) &&
        rcyi_gcword_gen(w) != RCYI_GC_GEN_FROZEN) {
        o->gcword = rcyi_gc_unlisted_word(w, RCYI_GC_GEN_FROZEN);
        gc->nfrozen++;
    }
}

void rcy_gc_freeze(rcy_heap *heap) {
    RCYI_REQUIRE(heap, );
    rcyi_gc_state *gc = &heap->gc;
    rcyi_walk_objects(heap, freeze_walk, gc);
    rcyi_gc_vec_reset(heap, &gc->young[0], 0);
    rcyi_gc_vec_reset(heap, &gc->young[1], 0);
    gc->count[0] = 0;
}

static void unfreeze_walk(rcy_head_ *o, void *arg) {
    (void)arg;
    uint32_t w = o->gcword;
    if ((w & RCYI_GC_TRACKED) && rcyi_gcword_gen(w) == RCYI_GC_GEN_FROZEN)
        o->gcword = (w & ~(uint32_t)RCYI_GC_GEN_MASK) | rcyi_gen_bits(2);
}

void rcy_gc_unfreeze(rcy_heap *heap) {
    RCYI_REQUIRE(heap, );
    rcyi_walk_objects(heap, unfreeze_walk, NULL);
    heap->gc.nfrozen = 0;
}

size_t rcy_gc_get_freeze_count(rcy_heap *heap) {
    RCYI_REQUIRE(heap, 0);
    return heap->gc.nfrozen;
}

rcy_list *rcy_gc_garbage(rcy_heap *heap) {
    RCYI_REQUIRE(heap, NULL);
    if (heap->gc.stage != RCYI_GC_RUNNING)
        return NULL;
    return rcyi_gc_garbage_list(heap);
}

/* ---- callbacks -------------------------------------------------------- */

void rcyi_gc_run_callbacks(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info) {
    rcyi_gc_state *gc = &h->gc;
    size_t n = gc->ncallbacks;
    if (n == 0)
        return;
    rcyi_gc_callback_entry small[16];
    rcyi_gc_callback_entry *copy = small;
    if (n > 16) {
        copy = rcyi_alloc(h, n * sizeof *copy, RCYI_KIND_RAW);
        if (!copy) { /* no memory for a snapshot: call in place */
            for (size_t i = 0; i < gc->ncallbacks; i++)
                gc->callbacks[i].fn(h, phase, info, gc->callbacks[i].arg);
            return;
        }
    }
    memcpy(copy, gc->callbacks, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i].fn(h, phase, info, copy[i].arg);
    if (copy != small)
        rcyi_free(h, copy);
}

int rcy_gc_callbacks_add(rcy_heap *heap, rcy_gc_callback *fn, void *arg) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    RCYI_REQUIRE(fn, RCY_EINVAL);
    rcyi_gc_state *gc = &heap->gc;
    if (gc->ncallbacks == gc->callbacks_cap) {
        size_t ncap = gc->callbacks_cap ? gc->callbacks_cap * 2 : 4;
        void *p = rcyi_realloc(heap, gc->callbacks, ncap * sizeof *gc->callbacks);
        if (!p)
            return RCY_ENOMEM;
        gc->callbacks = p;
        gc->callbacks_cap = ncap;
    }
    gc->callbacks[gc->ncallbacks].fn = fn;
    gc->callbacks[gc->ncallbacks].arg = arg;
    gc->ncallbacks++;
    return RCY_OK;
}

int rcy_gc_callbacks_remove(rcy_heap *heap, rcy_gc_callback *fn, void *arg) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    RCYI_REQUIRE(fn, RCY_EINVAL);
    rcyi_gc_state *gc = &heap->gc;
    for (size_t i = 0; i < gc->ncallbacks; i++) {
        if (gc->callbacks[i].fn == fn && gc->callbacks[i].arg == arg) {
            memmove(gc->callbacks + i, gc->callbacks + i + 1,
                    (gc->ncallbacks - i - 1) * sizeof *gc->callbacks);
            if (--gc->ncallbacks == 0) {
                free_array(heap, gc->callbacks);
                gc->callbacks = NULL;
                gc->callbacks_cap = 0;
            }
            return RCY_OK;
        }
    }
    return RCY_ENOTFOUND;
}

/* ---- get_objects / get_referrers / get_referents ------------------- */

/* Walks never allocate: the array is sized from ntracked first. */
typedef struct gather {
    rcy_head_ **a;
    size_t n, cap;
    int gen;               /* -1: every non-frozen generation */
    const rcy_head_ *skip; /* the result list */
    void *const *targets;  /* get_referrers */
    size_t ntargets;
    int hit;
} gather;

static void gather_walk(rcy_head_ *o, void *arg) {
    gather *g = arg;
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_TRACKED) || (w & RCYI_GC_COLLECTING) || o == g->skip || o->refcnt == 0)
        return;
    unsigned gen = rcyi_gcword_gen(w);
    if (gen == RCYI_GC_GEN_FROZEN || (g->gen >= 0 && gen != (unsigned)g->gen))
        return;
    if (g->n < g->cap)
        g->a[g->n++] = o;
}

static rcy_list *list_of(rcy_heap *h, rcy_list *l, gather *g) {
    for (size_t i = 0; i < g->n; i++) {
        if (rcy_list_append(l, rcyi_obj(g->a[i])) < 0) {
            free_array(h, g->a);
            rcy_decref(l);
            return NULL;
        }
    }
    free_array(h, g->a);
    return l;
}

static int gather_alloc(rcy_heap *h, gather *g, size_t cap) {
    g->cap = cap;
    g->a = cap ? rcyi_alloc(h, cap * sizeof *g->a, RCYI_KIND_RAW) : NULL;
    return cap && !g->a ? RCY_ENOMEM : RCY_OK;
}

rcy_list *rcy_gc_get_objects(rcy_heap *heap, int generation) {
    RCYI_REQUIRE(heap, NULL);
    if (generation < -1 || generation > 2)
        return NULL;
    rcy_list *l = rcy_list_new(heap);
    if (!l)
        return NULL;
    gather g;
    memset(&g, 0, sizeof g);
    g.gen = generation;
    g.skip = rcyi_head(l);
    if (gather_alloc(heap, &g, heap->gc.ntracked) < 0) {
        rcy_decref(l);
        return NULL;
    }
    if (generation == 0 || generation == 1) {
        rcyi_gc_vec *v = &heap->gc.young[generation];
        for (size_t i = 0; i < v->len; i++)
            if (v->items[i])
                gather_walk(v->items[i], &g);
    } else {
        rcyi_walk_objects(heap, gather_walk, &g);
    }
    return list_of(heap, l, &g);
}

static int visit_find_target(void *obj, void *arg) {
    gather *g = arg;
    for (size_t i = 0; i < g->ntargets; i++) {
        if (g->targets[i] == obj) {
            g->hit = 1;
            return 1;
        }
    }
    return 0;
}

static void referrers_walk(rcy_head_ *o, void *arg) {
    gather *g = arg;
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_TRACKED) || (w & RCYI_GC_COLLECTING) || o == g->skip || o->refcnt == 0 ||
        rcyi_gcword_gen(w) == RCYI_GC_GEN_FROZEN)
        return;
    g->hit = 0;
    o->type->traverse(rcyi_obj(o), visit_find_target, g);
    if (g->hit && g->n < g->cap)
        g->a[g->n++] = o;
}

rcy_list *rcy_gc_get_referrers(rcy_heap *heap, void *const *objs, size_t n) {
    RCYI_REQUIRE(heap, NULL);
    if (n)
        RCYI_REQUIRE(objs, NULL);
    rcy_list *l = rcy_list_new(heap);
    if (!l)
        return NULL;
    gather g;
    memset(&g, 0, sizeof g);
    g.skip = rcyi_head(l);
    g.targets = objs;
    g.ntargets = n;
    if (gather_alloc(heap, &g, heap->gc.ntracked) < 0) {
        rcy_decref(l);
        return NULL;
    }
    if (n)
        rcyi_walk_objects(heap, referrers_walk, &g);
    return list_of(heap, l, &g);
}

typedef struct referents {
    rcy_heap *h;
    rcy_head_ **a;
    size_t n, cap;
    int err;
} referents;

static int visit_referent(void *obj, void *arg) {
    referents *r = arg;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        void *p = rcyi_realloc(r->h, r->a, ncap * sizeof *r->a);
        if (!p) {
            r->err = 1;
            return 1;
        }
        r->a = p;
        r->cap = ncap;
    }
    r->a[r->n++] = rcyi_head(obj);
    return 0;
}

rcy_list *rcy_gc_get_referents(rcy_heap *heap, void *const *objs, size_t n) {
    RCYI_REQUIRE(heap, NULL);
    if (n)
        RCYI_REQUIRE(objs, NULL);
    referents r = {heap, NULL, 0, 0, 0};
    for (size_t i = 0; i < n && !r.err; i++) {
        rcy_head_ *o = rcyi_head(objs[i]);
        if (o->type->traverse)
            o->type->traverse(objs[i], visit_referent, &r);
    }
    rcy_list *l = r.err ? NULL : rcy_list_new(heap);
    if (!l) {
        free_array(heap, r.a);
        return NULL;
    }
    gather g;
    memset(&g, 0, sizeof g);
    g.a = r.a;
    g.n = r.n;
    return list_of(heap, l, &g);
}
