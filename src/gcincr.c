/* src/gcincr.c — incremental collection of the old generation, CPython
 * 3.14's design on recycle's collector: each automatic collection of an
 * incremental heap (rcy_gc_set_incremental) is one INCREMENT, the young
 * generations plus a slice of the old one, collected as one set by gc.c's
 * phases (rcyi_gc_collect_increment); rcy_gc_step runs increments at a
 * host's own safe points.  Where CPython 3.13's rules would run a full
 * collection, an incremental heap starts a SCAN of the old generation
 * instead, and every automatic collection is an increment until it ends;
 * in between, young collections run as by default (a scan costs every
 * increment the old objects it examines: run all the time, as CPython
 * 3.14 does, it cost binary_trees 16 tracked 84% more instructions).  The state, and the invariants
 * V1 and V2 that make it safe without a write barrier, are in src/gc.h (rcyi_gc_scan).
 *
 * The slice is taken with its transitive closure: an old PENDING object
 * the scan's cursor meets is taken with every pending old object it
 * reaches, so a garbage cycle of old objects is never cut in two by an
 * increment's edge.  What that buys (completeness): a cycle of the
 * garbage that no other garbage refers to, all old when a scan starts, is
 * freed by that scan: the first of its members the scan takes brings all
 * the others, none of which can have been visited before, and nothing
 * outside refers to them.  Garbage below it (referred to by other
 * garbage) may be taken first and survive, visited, until the next scan:
 * one scan per level of the garbage, and a scan that frees nothing proves
 * none was left when it started (tests/test_gc_stress.c relies on that).
 * Young members are not expanded
 * (CPython's choice: their edges into the old generation are mostly into
 * live structures, which would make every increment big).
 *
 * The old generation has no list here (gc.h): the cursor walks the
 * allocator's pools, arena by arena in address order, over the arenas the
 * scan saw when it started (rcyi_walk_pool checks each is still the
 * heap's), stopping inside a pool once `budget` objects were examined
 * (each object the cursor passes, and each old member the closure adds).
 * The cost of one increment is the young generation plus that budget,
 * plus the closure of the last object taken.  The closure is not
 * bounded: one connected structure reached from a pending object is taken
 * whole (the worst case, measured in docs/benchmarks.md). */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

/* Automatic increments examine this many old objects at least, and as
 * many as the young generation at the default threshold1 (10).  A scan
 * still ends: its cursor walks only the arenas that existed when it
 * started, and every increment passes its budget of their objects.  Old
 * objects examined per young object trade pause against memory: twice
 * the young generation made the biggest automatic pause of bench/gc_pause
 * (10M objects) 11,426 objects, 1.6-2.5 ms under load; as many, 7,244
 * objects, 1.2-1.7 ms, for 0.9% more peak RSS. */
#define INCR_MIN_OLD 512u

static int cmp_base(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* A new scan: the arenas of the heap now, in address order. */
static int start_scan(rcy_heap *h) {
    rcyi_gc_scan *sc = &h->gc.scan;
    size_t n = rcyi_arena_bases(h, NULL, 0);
    uintptr_t *a = rcyi_alloc(h, (n ? n : 1) * sizeof *a, RCYI_KIND_RAW);
    if (!a)
        return RCY_ENOMEM;
    sc->narenas = rcyi_arena_bases(h, a, n);
    qsort(a, sc->narenas, sizeof *a, cmp_base);
    sc->arenas = a;
    sc->arena = 0;
    sc->pool = 0;
    sc->block = 0;
    sc->increments = 0;
    sc->ended = 0;
    return RCY_OK;
}

#ifdef RCY_DEBUG
/* V1 of gc.h, checked at every flip in debug builds (O(heap)). */
static void check_v1(rcy_head_ *o, void *arg) {
    uint32_t w = o->gcword, e = *(const uint32_t *)arg;
    if ((w & RCYI_GC_TRACKED) && rcyi_gcword_gen(w) == 2 && rcyi_gcword_slot(w) == e)
        rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: %s object %p stamped %u at the end of the scan",
                   o->type->name, rcyi_obj(o), e);
}
#endif

static void end_scan(rcy_heap *h) {
    rcyi_gc_scan *sc = &h->gc.scan;
#ifdef RCY_DEBUG
    uint32_t next = sc->epoch ^ 1;
    rcyi_walk_objects(h, check_v1, &next);
#endif
    rcyi_free(h, sc->arenas);
    sc->arenas = NULL;
    sc->narenas = 0;
    sc->ended = 0;
    sc->epoch ^= 1; /* V1: every visited object is pending again */
    sc->scans++;
    /* what a full collection would have done: the long-lived rule starts
     * the next scan when the old generation grew by 25% again */
    h->gc.long_lived_total = rcyi_gc_old_count(&h->gc);
    h->gc.count[2] = 0;
}

static int reserve(rcy_heap *h, rcyi_gc_scan *sc, size_t more) {
    if (sc->cap - sc->nmembers >= more)
        return 1;
    size_t ncap = sc->cap ? sc->cap * 2 : 1024;
    if (ncap < sc->nmembers + more)
        ncap = sc->nmembers + more;
    void *p = rcyi_realloc(h, sc->members, ncap * sizeof *sc->members);
    if (!p)
        return 0;
    sc->members = p;
    sc->cap = ncap;
    return 1;
}

/* One gather in progress. */
typedef struct picker {
    rcy_heap *h;
    rcyi_gc_scan *sc;
    bool checked;    /* two or more heaps alive: children may be foreign */
    size_t next;     /* closure: the next member to traverse */
    size_t examined; /* objects the cursor passed, and old members taken */
    size_t budget;   /* the walk stops once examined reaches it */
    int oom;
} picker;

/* A pending old object (V1/V2 in gc.h), not taken by this increment. */
static inline bool pending_old(const rcyi_gc_scan *sc, const rcy_head_ *o) {
    uint32_t w = o->gcword;
    const uint32_t mask = RCYI_GC_TRACKED | RCYI_GC_COLLECTING | RCYI_GC_GEN_MASK;
    return (w & mask) == (RCYI_GC_TRACKED | rcyi_gen_bits(2)) && rcyi_gcword_slot(w) != sc->epoch &&
           o->refcnt != 0;
}

/* o joins the increment: COLLECTING, SLOT = its initial gc_refs (phase 1
 * of gc.h, done here so that the closure sees it is taken). */
static void take(picker *p, rcy_head_ *o) {
    rcyi_gc_scan *sc = p->sc;
    if (!reserve(p->h, sc, 1)) {
        p->oom = 1;
        return;
    }
    uint32_t rc = o->refcnt;
    o->gcword = rcyi_gcword_with_slot(o->gcword, rc >= RCYI_SLOT_MAX ? RCYI_SLOT_MAX : rc) |
                RCYI_GC_COLLECTING;
    sc->members[sc->nmembers++] = o;
    p->examined++;
}

static int visit_expand(void *obj, void *arg) {
    picker *p = arg;
    rcy_head_ *o = rcyi_head(obj);
    if (p->checked && rcyi_heap_of_head(o) != p->h)
        return 0; /* another heap's: phase 1 reports what it must */
    if (pending_old(p->sc, o))
        take(p, o);
    return p->oom;
}

/* The transitive closure of the members taken since p->next, over
 * pending old objects (breadth first: the members array is the queue). */
static void expand(picker *p) {
    rcyi_gc_scan *sc = p->sc;
    while (p->next < sc->nmembers && !p->oom) {
        rcy_head_ *o = sc->members[p->next++];
        o->type->traverse(rcyi_obj(o), visit_expand, p);
    }
}

/* The cursor meets o; stops the walk once the budget is spent. */
static int walk_pick(rcy_head_ *o, void *arg) {
    picker *p = arg;
    p->examined++;
    if (!p->oom && pending_old(p->sc, o)) {
        take(p, o);
        expand(p);
    }
    return p->oom || p->examined >= p->budget;
}

static void walk_pick_large(rcy_head_ *o, void *arg) {
    (void)walk_pick(o, arg);
}

/* The young generations, generation 1 first (CPython's merge order). */
static int take_young(rcy_heap *h, rcyi_gc_scan *sc) {
    rcyi_gc_state *gc = &h->gc;
    if (!reserve(h, sc, gc->young[0].live + gc->young[1].live))
        return RCY_ENOMEM;
    for (int g = 1; g >= 0; g--) {
        const rcyi_gc_vec *v = &gc->young[g];
        for (size_t i = 0; i < v->len; i++)
            if (v->items[i])
                sc->members[sc->nmembers++] = v->items[i];
    }
    return RCY_OK;
}

int rcyi_gc_incr_gather(rcy_heap *h, size_t budget) {
    rcyi_gc_scan *sc = &h->gc.scan;
    sc->nmembers = 0;
    if (take_young(h, sc) < 0)
        return RCY_ENOMEM;
    if (!sc->arenas && start_scan(h) < 0)
        return RCY_ENOMEM;
    size_t arena0 = sc->arena;
    unsigned pool0 = sc->pool;
    uint32_t block0 = sc->block;
    picker p = {h,
                sc,
                __atomic_load_n(&rcyi_heaps_alive, __ATOMIC_RELAXED) > 1,
                sc->nmembers,
                0,
                budget ? budget : 1,
                0};
    do {
        if (sc->arena < sc->narenas) {
            int r = rcyi_walk_pool(h, sc->arenas[sc->arena], sc->pool, &sc->block, walk_pick, &p);
            if (r < 0) {
                sc->arena++;
                sc->pool = 0;
                sc->block = 0;
            } else if (r == 0 && ++sc->pool == RCYI_POOLS_PER_ARENA) {
                sc->arena++;
                sc->pool = 0;
            }
        } else {
            rcyi_walk_large_objects(h, walk_pick_large, &p);
            sc->ended = 1;
        }
    } while (p.examined < p.budget && !sc->ended && !p.oom);
    if (p.oom) { /* undone, and the cursor back: V1 needs every pool walked */
        sc->arena = arena0;
        sc->pool = pool0;
        sc->block = block0;
        sc->ended = 0;
        rcyi_gc_incr_release(h, 1);
        return RCY_ENOMEM;
    }
    sc->examined = p.examined;
    return RCY_OK;
}

void rcyi_gc_incr_release(rcy_heap *h, int unmark) {
    rcyi_gc_scan *sc = &h->gc.scan;
    if (unmark) {
        for (size_t i = 0; i < sc->nmembers; i++) {
            rcy_head_ *o = sc->members[i];
            if (o->gcword & RCYI_GC_COLLECTING) /* old ones only: young ones are unmarked */
                o->gcword = rcyi_gc_unlisted_word(o->gcword, 2);
        }
    }
    if (sc->members)
        rcyi_free(h, sc->members);
    sc->members = NULL;
    sc->nmembers = sc->cap = 0;
}

/* After an increment: the flip when the scan ended; returns whether it
 * did. */
static int after_increment(rcy_heap *h) {
    rcyi_gc_scan *sc = &h->gc.scan;
    sc->increments++;
    int ended = sc->ended;
    if (ended)
        end_scan(h);
    return ended;
}

/* The old objects an automatic increment examines (see INCR_MIN_OLD). */
static size_t auto_budget(const rcyi_gc_state *gc) {
    size_t young = gc->young[0].live + gc->young[1].live;
    size_t t1 = gc->threshold[1] ? gc->threshold[1] : 1;
    size_t b = young * 10 / t1;
    return b > INCR_MIN_OLD ? b : INCR_MIN_OLD;
}

int rcyi_gc_incr_begin(rcy_heap *h) {
    /* Generation 1 is collected first, as by default, so that increments
     * take the young generation of one threshold0, not ten. */
    return h->gc.scan.arenas || start_scan(h) == RCY_OK ? 1 : 2;
}

ssize_t rcyi_gc_incr_auto(rcy_heap *h) {
    ssize_t r = rcyi_gc_collect_increment(h, auto_budget(&h->gc));
    if (r >= 0)
        (void)after_increment(h);
    return r;
}

int rcyi_gc_incr_step(rcy_heap *h, size_t budget) {
    rcyi_gc_state *gc = &h->gc;
    if (budget == 0)
        budget = auto_budget(gc) + gc->young[0].live + gc->young[1].live;
    size_t done = 0;
    for (;;) {
        size_t young = gc->young[0].live + gc->young[1].live;
        size_t left = budget - done;
        ssize_t r = rcyi_gc_collect_increment(h, left > young ? left - young : 1);
        if (r < 0)
            return (int)r;
        done += young + gc->scan.examined;
        if (after_increment(h))
            return 1;
        if (done >= budget || gc->collecting || gc->stage != RCYI_GC_RUNNING)
            return 0;
    }
}

void rcyi_gc_incr_fini(rcy_heap *h) {
    rcyi_gc_scan *sc = &h->gc.scan;
    rcyi_gc_incr_release(h, 0);
    if (sc->arenas)
        rcyi_free(h, sc->arenas);
    sc->arenas = NULL;
    sc->narenas = 0;
}
