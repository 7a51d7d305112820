/* src/gc.c — the generational cycle collector (CPython's trial deletion)
 * with PEP 442 finalization, and Python's gc API.
 *
 * Generations 0 and 1 are vectors of headers; the old generation is found
 * by walking the allocator's object pools, so a young collection costs
 * O(young) and a tracked object costs nothing beyond its 16-byte header.
 * The phases of a collection and what SLOT means in each are stated at the
 * top of src/gc.h; the public gc API that drives this engine is in
 * gcmodule.c. */
#include "heap.h"
#include "options.h"
#include "os.h"

#include <string.h>

/* gc->trigger: the count[0] above which rcyi_gc_on_new leaves its fast
 * path.  Recomputed whenever a field it depends on changes. */
void rcyi_gc_update_trigger(rcyi_gc_state *gc) {
    if (gc->stage == RCYI_GC_DONE)
        gc->trigger = 0; /* on_new_slow ignores the object */
    else if (!gc->enabled || gc->collecting || gc->stage != RCYI_GC_RUNNING)
        gc->trigger = SIZE_MAX;
    else if (gc->hard)
        gc->trigger = 0;
    else
        gc->trigger = gc->threshold[0] ? gc->threshold[0] : SIZE_MAX;
}

static void set_collecting(rcyi_gc_state *gc, int on) {
    gc->collecting = on;
    rcyi_gc_update_trigger(gc);
}

static void set_stage(rcyi_gc_state *gc, rcyi_gc_stage state) {
    gc->stage = state;
    rcyi_gc_update_trigger(gc);
}

#ifdef RCY_DEBUG
#define GC_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c))                                                                                  \
            rcyi_fatal(RCY_EMISUSE, "gc: internal check failed: %s (%s:%d)", #c, __FILE__,         \
                       __LINE__);                                                                  \
    } while (0)
#else
#define GC_ASSERT(c) ((void)0)
#endif

/* ------------------------------------------------------------------ */
/* Raw memory for the collector's own arrays                          */
/* ------------------------------------------------------------------ */

static void raw_free(rcy_heap *h, void *p) {
    if (p)
        rcyi_free(h, p);
}

/* ------------------------------------------------------------------ */
/* Young-generation vectors                                            */
/* ------------------------------------------------------------------ */

/* An empty vector holds no memory, so a heap whose objects are all gone
 * uses no bytes (the allocator's tests count them).  `hint` remembers the
 * capacity for the next fill. */
void rcyi_gc_vec_reset(rcy_heap *h, rcyi_gc_vec *v, size_t hint) {
    raw_free(h, v->items);
    v->items = NULL;
    v->len = v->cap = v->live = 0;
    v->hint = hint;
}

/* Squeezes the holes out, renumbering the SLOT of each moved entry: costs
 * O(len), paid for by the len - live untracks that made the holes. */
static void vec_compact(rcyi_gc_vec *v) {
    size_t k = 0;
    rcy_head_ **items = v->items;
    for (size_t i = 0; i < v->len; i++) {
        rcy_head_ *o = items[i];
        if (!o)
            continue;
        if (k != i) {
            items[k] = o;
            o->gcword = rcyi_gcword_with_slot(o->gcword, k);
        }
        k++;
    }
    v->len = k;
}

/* Room for `more` appends; 0 when the vector cannot grow or an index would
 * not fit in SLOT.  Compacts instead of growing when at least half of the
 * entries are holes. */
static __attribute__((noinline)) int vec_reserve(rcy_heap *h, rcyi_gc_vec *v, size_t more) {
    if (v->cap - v->len >= more)
        return 1;
    if (v->live <= v->len / 2) {
        vec_compact(v);
        if (v->cap - v->len >= more)
            return 1;
    }
    if (v->len + more > RCYI_SLOT_MAX)
        return 0;
    size_t ncap = v->cap ? v->cap * 2 : v->hint > 8 ? v->hint : 8;
    if (ncap < v->len + more)
        ncap = v->len + more;
    if (ncap > RCYI_SLOT_MAX)
        ncap = RCYI_SLOT_MAX;
    void *p = rcyi_realloc(h, v->items, ncap * sizeof *v->items);
    if (!p)
        return 0;
    v->items = p;
    v->cap = ncap;
    return 1;
}

/* Appends o; returns its index, or RCYI_SLOT_NONE when the vector cannot
 * grow or the index would not fit in SLOT (the caller then makes the
 * object old). */
static inline uint32_t vec_push(rcy_heap *h, rcyi_gc_vec *v, rcy_head_ *o) {
    if (RCY_UNLIKELY(v->len == v->cap) && !vec_reserve(h, v, 1))
        return RCYI_SLOT_NONE;
    v->items[v->len] = o;
    v->live++;
    return (uint32_t)v->len++;
}

/* Untrack: the entry becomes a hole (no other object's header is
 * touched); holes at the end are popped, so a vector whose objects all
 * died is empty again. */
void rcyi_gc_vec_pop_holes(rcy_heap *h, rcyi_gc_vec *v) {
    size_t n = v->len - 1;
    while (n && !v->items[n - 1])
        n--;
    v->len = n;
    if (n == 0)
        rcyi_gc_vec_reset(h, v, v->cap < 4096 ? v->cap : 4096);
}

static inline void vec_remove(rcy_heap *h, rcyi_gc_vec *v, uint32_t i) {
    GC_ASSERT(i < v->len && v->items[i]);
    v->items[i] = NULL;
    v->live--;
    if (i + 1 == v->len)
        rcyi_gc_vec_pop_holes(h, v);
}

/* Put a tracked object (not COLLECTING) into generation g.  Out of line:
 * inlined into the marking visitor through leave_set(), its vector growth
 * made that visitor save six registers on every call. */
static __attribute__((noinline)) void put_in_gen(rcy_heap *h, rcy_head_ *o, unsigned g) {
    uint32_t keep = o->gcword & RCYI_GC_KEEP_BITS;
    if (g < 2) {
        uint32_t i = vec_push(h, &h->gc.young[g], o);
        if (i != RCYI_SLOT_NONE) {
            o->gcword = keep | rcyi_gen_bits(g) | rcyi_slot_bits(i);
            return;
        }
    }
    o->gcword = rcyi_gc_unlisted_word(keep, 2);
}

/* End an object's part in a collection: clear COLLECTING/UNREACHABLE and
 * put it in generation g (or in the untracked state if a finalizer
 * untracked it). */
static inline void leave_set(rcy_heap *h, rcy_head_ *o, unsigned g) {
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_TRACKED)) {
        o->gcword = rcyi_gc_untracked_word(w);
        return;
    }
    if (g >= 2) {
        o->gcword = rcyi_gc_unlisted_word(w, 2);
        return;
    }
    o->gcword = w & RCYI_GC_KEEP_BITS;
    put_in_gen(h, o, g);
}

/* ------------------------------------------------------------------ */
/* Tracking                                                            */
/* ------------------------------------------------------------------ */

static inline void track_head(rcy_heap *h, rcy_head_ *o) {
    rcyi_gc_state *gc = &h->gc;
    uint32_t w = o->gcword;
    if (w & RCYI_GC_TRACKED)
        return;
    gc->ntracked++;
    uint32_t i = vec_push(h, &gc->young[0], o);
    uint32_t where =
        i != RCYI_SLOT_NONE ? rcyi_slot_bits(i) : rcyi_gen_bits(2) | rcyi_slot_bits(RCYI_SLOT_NONE);
    o->gcword = (w & RCYI_GC_KEEP_BITS) | RCYI_GC_TRACKED | where;
}

static inline void untrack_tracked(rcy_heap *h, rcy_head_ *o, uint32_t w) {
    rcyi_gc_state *gc = &h->gc;
    gc->ntracked--;
    unsigned g = rcyi_gcword_gen(w);
    if (g < 2)
        vec_remove(h, &gc->young[g], rcyi_gcword_slot(w));
    else if (g == RCYI_GC_GEN_FROZEN)
        gc->nfrozen--;
    o->gcword = rcyi_gc_untracked_word(w);
}

void rcyi_gc_untrack(rcy_heap *h, rcy_head_ *o) {
    uint32_t w = o->gcword;
    /* A member of the garbage being collected stays tracked until the
     * collection ends (object.c relies on TRACKED to report its death). */
    if (!(w & RCYI_GC_TRACKED) || (w & RCYI_GC_COLLECTING))
        return;
    untrack_tracked(h, o, w);
}

void rcyi_gc_untrack_new(rcy_heap *h, rcy_head_ *o) {
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_TRACKED) || (w & RCYI_GC_COLLECTING))
        return;
    untrack_tracked(h, o, w);
    h->gc.count[0] -= h->gc.count[0] != 0;
}

void rcyi_gc_track_late(rcy_heap *h, rcy_head_ *o) {
    if (o->gcword & RCYI_GC_TRACKED || h->gc.stage == RCYI_GC_DONE)
        return;
    track_head(h, o);
    h->gc.count[0]++;
}

void rcyi_gc_track(rcy_heap *h, rcy_head_ *o) {
    track_head(h, o);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void debug_object(const char *what, rcy_head_ *o) {
    rcyi_output("gc: %s <%s %p>\n", what, o->type->name, rcyi_obj(o));
}

/* ------------------------------------------------------------------ */
/* The collection                                                      */
/* ------------------------------------------------------------------ */

/* The gcword bits that decide membership of the set: TRACKED, FINALIZED
 * and GEN (the low 4 bits), so membership is one bit of a 16-bit mask. */
#define MEMBER_KEY_BITS (RCYI_GC_TRACKED | RCYI_GC_FINALIZED | RCYI_GC_GEN_MASK)
_Static_assert(MEMBER_KEY_BITS == 0xFu, "membership keys index a 16-bit mask");

/* One collection in progress (on the collector's C stack). */
typedef struct collection {
    rcy_heap *h;
    bool checked;            /* phase 1 checks children's heaps (check_child) */
    const rcy_head_ *parent; /* phase 1, checked: the member being traversed */
    uint32_t member_mask;    /* bit k set <=> a gcword whose MEMBER_KEY_BITS are
                              * k is in the set: TRACKED with GEN <= the
                              * generation collected */
    unsigned target;         /* generation survivors go to */
    rcy_head_ **set;         /* the set, then U in its prefix */
    size_t nset, set_cap;
    size_t sp;    /* work stack depth */
    int overflow; /* the stack could not grow: rescan needed */
    size_t reached;
    size_t revived;                    /* members the scan put in U tentatively, reached later */
    int any_legacy, any_weak, any_fin; /* U has work for those steps */
    const rcy_type *u_type;            /* the type note_u_type saw last */
    uint32_t u_words;                  /* the gcwords of U's members, or-ed */
    size_t uncollectable;              /* objects moved to garbage */
    uint32_t dead_bits; /* refcount_dead: the (COLLECTING|UNREACHABLE) bits of its set */
    /* young phase 1: the gcwords of the edges' targets in the set, or-ed
     * and and-ed, and whether a member refers to itself (see SUBTRACTED) */
    uint32_t edge_or, edge_and;
    int self_edge;
    rcy_head_ **set_mem; /* the block c->set lies in (freed at the end) */
    int overcounted;     /* the walk found more objects than ntracked says */
    /* Young collections: survivors are appended to queue[qlen++] (room
     * for every member reserved) and traversed from queue[qhead]. */
    rcy_head_ **queue;
    size_t qhead, qlen;
    uint32_t survivor_bits; /* GEN (and SLOT_NONE for generation 2) of survivors */
    /* Work stack for reachability propagation (freed when the collection
     * ends). */
    rcy_head_ **stack;
    size_t stack_cap;
    /* Full collections: c->set is cut into runs, one per arena the walk
     * met (seg[j] = the first index of run j), so that marking can scan
     * the arenas oldest first (see mark_full). */
    size_t *seg;
    size_t nseg, segcap;
    uintptr_t segkey; /* arena of the last object walked */
} collection;

/* A member-looking child of another heap: its gcword is not this
 * collection's to change, and the heaps' collectors would free what the
 * other still uses (E2: fatal). */
static RCY_NORETURN __attribute__((noinline)) void foreign_child(const collection *c,
                                                                 rcy_head_ *o) {
    const rcy_head_ *p = c->parent;
    rcyi_fatal(RCY_EMISUSE,
               "gc: object of type %s (%p) in heap %p refers to object of type %s (%p) in heap "
               "%p: an object may refer only to objects of its own heap",
               p ? p->type->name : "?", p ? rcyi_obj((rcy_head_ *)p) : NULL, (void *)c->h,
               o->type->name, rcyi_obj(o), (void *)rcyi_heap_of_head(o));
}

static inline int is_member(const collection *c, uint32_t w) {
    return (c->member_mask >> (w & MEMBER_KEY_BITS)) & 1;
}

/* The work stack's growth, out of line so that the visitors calling
 * stack_push stay cheap leaf functions. */
static __attribute__((noinline)) void stack_grow_push(collection *c, rcy_head_ *o) {
    size_t ncap = c->stack_cap ? c->stack_cap * 2 : 1024;
    void *p = rcyi_realloc(c->h, c->stack, ncap * sizeof *c->stack);
    if (!p) {
        c->overflow = 1; /* marked but not traversed: found by a rescan */
        return;
    }
    c->stack = p;
    c->stack_cap = ncap;
    c->stack[c->sp++] = o;
}

/* Room for n entries on the work stack; 0 when out of memory. */
static int stack_reserve(collection *c, size_t n) {
    if (c->stack_cap >= n)
        return 1;
    void *p = rcyi_realloc(c->h, c->stack, n * sizeof *c->stack);
    if (!p)
        return 0;
    c->stack = p;
    c->stack_cap = n;
    return 1;
}

static inline void stack_push(collection *c, rcy_head_ *o) {
    size_t sp = c->sp;
    if (RCY_UNLIKELY(sp == c->stack_cap)) {
        stack_grow_push(c, o);
        return;
    }
    c->stack[sp] = o;
    c->sp = sp + 1;
}

static inline uint32_t initial_refs(uint32_t rc) {
    return rc >= RCYI_SLOT_MAX ? RCYI_SLOT_MAX : rc;
}

/* Young collections' phase 1 runs over the set newest first and marks
 * each member whose own edges it has subtracted (SUBTRACTED, a GEN bit:
 * members of a young collection are in generation 0 or 1, so it is never
 * set on one, and once COLLECTING nothing reads their GEN).  An edge
 * between members goes to a member not subtracted yet, an older one
 * (back), or to one subtracted already, a newer one (forward) or the
 * member itself.  The edges' targets' gcwords are or-ed into c->edge_or
 * and and-ed into c->edge_and, two instructions per edge: SUBTRACTED
 * clear in edge_or means all edges point back, set in edge_and all
 * forward.  A self-reference is told apart after the member's traversal:
 * only it can have changed the member's own count meanwhile (a saturated
 * count never changes, but such a member counts as referenced from
 * outside anyway, so what it reaches survives either way).  (A per-edge
 * three-way test with a compare against the current member cost 8
 * instructions per edge, callgrind.)  When all edges point
 * one way (all back, as in objects made from their parts, or all
 * forward, as in trees built from the root) and none is a self-reference,
 * the set holds no cycle, and with exact reference counts every member is
 * reachable from outside (following referrers from any member ends, the
 * index moving one way, at a member only outside references keep): phase
 * 2 has nothing to find and survive_all places the set without
 * traversing it again. */
#define SUBTRACTED rcyi_gen_bits(2)

/* Phase 1 of a young collection proved the set acyclic (see SUBTRACTED). */
static inline int set_acyclic(const collection *c) {
    int all_back = !(c->edge_or & SUBTRACTED), all_forward = (c->edge_and & SUBTRACTED) != 0;
    return (all_back || all_forward) && !c->self_edge;
}

/* Phase 1: references from set members are subtracted from gc_refs; a
 * member met first as a child is initialised here.  `young`: a young
 * collection's pass, noting edges to members already subtracted. */
static inline void subtract_edge(collection *c, void *obj, int young) {
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if (w & RCYI_GC_COLLECTING) {
        if (young) {
            c->edge_or |= w;
            c->edge_and &= w;
        }
        if (rcyi_gcword_slot(w) - 1u < RCYI_SLOT_MAX - 1u)
            o->gcword = w - RCYI_GC_SLOT_ONE;
        return;
    }
    if (!is_member(c, w))
        return;
    uint32_t rc = rcyi_refcnt_load(o); /* a shared child's word may be changing */
    if (rc != 0) {
        /* initial_refs(rc), minus this reference unless saturated */
        uint32_t r = rc - 1;
        if (RCY_UNLIKELY(r >= RCYI_SLOT_MAX - 1))
            r = RCYI_SLOT_MAX;
        o->gcword = rcyi_gcword_with_slot(w, r) | RCYI_GC_COLLECTING;
        if (young)
            c->edge_and &= w; /* a back edge: w has no SUBTRACTED */
    }
}

static int visit_subtract(void *obj, void *arg) {
    subtract_edge(arg, obj, 0);
    return 0;
}

static int visit_subtract_young(void *obj, void *arg) {
    subtract_edge(arg, obj, 1);
    return 0;
}

/* With two or more heaps alive (c->checked), a child that looks like a
 * member on its first visit must be of the collected heap: an object of
 * another heap (stored by a user type, or a container that skipped the
 * check) stops the program naming both.  The checked visitors run only
 * then, so a one-heap program's edges pay nothing for it. */
static inline void check_child(collection *c, void *obj) {
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_COLLECTING) && is_member(c, w) && rcyi_refcnt_load(o) != 0 &&
        rcyi_heap_of_head(o) != c->h)
        foreign_child(c, o);
}

static int visit_subtract_checked(void *obj, void *arg) {
    check_child(arg, obj);
    subtract_edge(arg, obj, 0);
    return 0;
}

static int visit_subtract_young_checked(void *obj, void *arg) {
    check_child(arg, obj);
    subtract_edge(arg, obj, 1);
    return 0;
}

/* `run` references to obj at once: subtract_edge run times. */
static inline void subtract_run(collection *c, void *obj, uint32_t run, int young) {
    subtract_edge(c, obj, young);
    if (run == 1)
        return;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword, r = rcyi_gcword_slot(w);
    if ((w & RCYI_GC_COLLECTING) && r != RCYI_SLOT_MAX)
        o->gcword = rcyi_gcword_with_slot(w, r > run - 1 ? r - (run - 1) : 0);
}

/* What list_traverse does with visit_subtract, without an indirect call
 * per edge (lists are most of the edges of container-heavy heaps).  Runs
 * of equal items are subtracted at once: one read-modify-write of the
 * target instead of a chain of them, each waiting for the last. */
static inline void subtract_list(collection *c, rcy_head_ *o, int young) {
    size_t n;
    void *const *items = rcyi_list_items(rcyi_obj(o), &n);
    if (!n)
        return;
    void *prev = items[0];
    uint32_t run = 1;
    for (size_t i = 1; i < n; i++) {
        void *p = items[i];
        if (p == prev && run != UINT32_MAX) {
            run++;
            continue;
        }
        subtract_run(c, prev, run, young);
        prev = p;
        run = 1;
    }
    subtract_run(c, prev, run, young);
}

static __attribute__((noinline)) void subtract_checked(collection *c, rcy_head_ *o, int young) {
    c->parent = o;
    if (o->type == &rcy_list_type) {
        size_t n;
        void *const *items = rcyi_list_items(rcyi_obj(o), &n);
        for (size_t i = 0; i < n; i++)
            check_child(c, items[i]);
        subtract_list(c, o, young);
        return;
    }
    o->type->traverse(rcyi_obj(o), young ? visit_subtract_young_checked : visit_subtract_checked,
                      c);
}

static inline void subtract_edges(collection *c, rcy_head_ *o, int young) {
    if (RCY_UNLIKELY(c->checked)) {
        subtract_checked(c, o, young);
        return;
    }
    if (o->type == &rcy_list_type) {
        subtract_list(c, o, young);
        return;
    }
    o->type->traverse(rcyi_obj(o), young ? visit_subtract_young : visit_subtract, c);
}

static inline void subtract_one(collection *c, rcy_head_ *o, int young) {
    uint32_t w = o->gcword;
    if (!young) {
        if (!(w & RCYI_GC_COLLECTING))
            o->gcword = rcyi_gcword_with_slot(w, initial_refs(o->refcnt)) | RCYI_GC_COLLECTING;
        subtract_edges(c, o, 0);
        return;
    }
    if (!(w & RCYI_GC_COLLECTING))
        w = rcyi_gcword_with_slot(w, initial_refs(o->refcnt)) | RCYI_GC_COLLECTING;
    w |= SUBTRACTED;
    o->gcword = w;
    subtract_edges(c, o, 1);
    c->self_edge |= o->gcword != w; /* see SUBTRACTED */
}

/* c->seg is sized before the walk (nothing is allocated or freed during
 * one); runs past its capacity merge into the last, which only makes the
 * scan order rougher. */
static void new_segment(collection *c, uintptr_t key) {
    c->segkey = key;
    if (c->nseg < c->segcap)
        c->seg[c->nseg++] = c->nset;
}

/* The first member walked in an arena starts a run; out of line, so that
 * walk_collect stays a leaf. */
static __attribute__((noinline)) void walk_collect_new_run(collection *c, rcy_head_ *o) {
    new_segment(c, (uintptr_t)o >> 20);
    c->set[c->nset++] = o;
    subtract_one(c, o, 0);
}

/* How far ahead the full collection's two passes prefetch.  Both are
 * memory-bound streams (the headers, and a chain's next link, are met in
 * address order); the hardware prefetcher alone leaves the first touch of
 * every line a miss.  Measured on the live chain (4M objects): 11.2 ->
 * 8.6 ns/object; 256 bytes / 8 entries gave nothing. */
#define WALK_PREFETCH 2048 /* bytes past the block being walked */
#define SCAN_PREFETCH 64   /* entries of c->set past the one being scanned */

static void walk_collect(rcy_head_ *o, void *arg) {
    collection *c = arg;
    /* prefetching a block past the end of the arena is harmless: a
     * prefetch never faults */
    __builtin_prefetch((const void *)((uintptr_t)o + WALK_PREFETCH), 1);
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_TRACKED) || rcyi_gcword_gen(w) == RCYI_GC_GEN_FROZEN)
        return;
    if (o->refcnt == 0) { /* dying: not a candidate */
        leave_set(c->h, o, 2);
        return;
    }
    if (c->nset == c->set_cap) {
        c->overcounted = 1;
        return;
    }
    if (RCY_UNLIKELY((uintptr_t)o >> 20 != c->segkey)) {
        walk_collect_new_run(c, o);
        return;
    }
    c->set[c->nset++] = o;
    subtract_one(c, o, 0);
}

/* Phase 2: reachability from the members referenced from outside. */
/* A member (TRACKED: no user code runs in phases 1-2) leaves the set for
 * generation c->target. */
static inline void put_survivor(collection *c, rcy_head_ *o, uint32_t w) {
    if (c->queue) {
        size_t i = c->qlen++;
        c->queue[i] = o;
        /* i < RCYI_SLOT_MAX when the queue is young[1]; otherwise survivor_bits
         * holds SLOT_NONE, all ones, and absorbs it */
        o->gcword = (w & RCYI_GC_KEEP_BITS) | c->survivor_bits | rcyi_slot_bits(i);
    } else if (c->target == 2) {
        o->gcword = rcyi_gc_unlisted_word(w, 2);
    } else {
        leave_set(c->h, o, c->target);
    }
}

/* A member leaves the set as a survivor; one the scan had put in U
 * tentatively gives its hold back. */
static inline void survive(collection *c, rcy_head_ *o) {
    uint32_t w = o->gcword;
    if (w & RCYI_GC_UNREACHABLE) {
        o->refcnt--;
        c->revived++;
    }
    put_survivor(c, o, w);
}

static __attribute__((noinline)) int mark_slow(collection *c, rcy_head_ *o) {
    survive(c, o);
    c->reached++;
    stack_push(c, o);
    return 0;
}

/* Marking with the stack (full collections, or out of memory for a
 * queue).  The common case, a member reached for the first time in a
 * full collection, is a leaf with no stack frame. */
static int visit_mark(void *obj, void *arg) {
    collection *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_COLLECTING))
        return 0;
    size_t sp = c->sp;
    if (RCY_UNLIKELY((w & RCYI_GC_UNREACHABLE) || c->target != 2 || sp == c->stack_cap))
        return mark_slow(c, o);
    o->gcword = rcyi_gc_unlisted_word(w, 2);
    c->reached++;
    c->stack[sp] = o;
    c->sp = sp + 1;
    return 0;
}

static void drain(collection *c, int (*visit)(void *, void *)) {
    while (c->sp) {
        rcy_head_ *o = c->stack[--c->sp];
        o->type->traverse(rcyi_obj(o), visit, c);
    }
}

/* What U's members of type t need from steps 3a-3c, noted once per run
 * of members of one type (any_fin also for members finalized already:
 * run_finalizers skips them). */
static void note_u_type(collection *c, const rcy_type *t) {
    c->u_type = t;
    c->any_legacy |= (t->flags & RCY_TYPE_LEGACY_FINALIZER) != 0;
    c->any_weak |= rcyi_is_weakref_type(t);
    c->any_fin |= t->finalize != NULL;
}

/* o (gcword w, gc_refs 0 after subtraction) goes tentatively into U:
 * marked UNREACHABLE and held by one extra reference, and what the later
 * phases will need to do for it noted. */
static inline void hold_unreachable(collection *c, rcy_head_ *o, uint32_t w) {
    const rcy_type *t = o->type;
    o->gcword = w | RCYI_GC_UNREACHABLE;
    o->refcnt++;
    c->u_words |= w;
    if (RCY_UNLIKELY(t != c->u_type))
        note_u_type(c, t);
}

/* Visit o's edges for marking.  A list's items are walked inline, and a
 * repeated item is visited once per run (the first visit marked it, so the
 * repeats would find nothing to do).  Inlined with a constant visit, so
 * every call below is direct. */
static inline void mark_edges(collection *c, rcy_head_ *o, rcy_visitproc visit) {
    if (o->type == &rcy_list_type) {
        size_t n;
        void *const *items = rcyi_list_items(rcyi_obj(o), &n);
        void *prev = NULL;
        for (size_t i = 0; i < n; i++) {
            void *p = items[i];
            if (p != prev)
                (void)visit(p, c);
            prev = p;
        }
    } else {
        o->type->traverse(rcyi_obj(o), visit, c);
    }
}

/* drain(c, visit_mark), with a list's edges walked inline (as in
 * subtract_one). */
static void drain_mark(collection *c) {
    while (c->sp)
        mark_edges(c, c->stack[--c->sp], visit_mark);
}

/* Young collections: marking appends survivors to a queue with room for
 * every member (in a collection of generation 0 the queue is young[1]
 * itself), breadth first, with no check per object. */
static int visit_mark_young(void *obj, void *arg) {
    collection *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if (w & RCYI_GC_COLLECTING) {
        if (RCY_UNLIKELY(w & RCYI_GC_UNREACHABLE)) {
            o->refcnt--;
            c->revived++;
        }
        put_survivor(c, o, w);
    }
    return 0;
}

static void drain_young(collection *c) {
    size_t before = c->qlen - 1; /* the root just appended */
    for (size_t q = c->qhead; q < c->qlen; q++)
        mark_edges(c, c->queue[q], visit_mark_young);
    c->qhead = c->qlen;
    c->reached += c->qlen - 1 - before;
}

/* Young collections (mark_full for full ones): scans the set for members
 * referenced from outside and marks all they reach.  Members not (yet)
 * reached are put in U tentatively (RCYI_GC_UNREACHABLE, held), packed at the scan's
 * starting end of c->set; propagation may still take them out (survive();
 * the caller then drops them from U).  The scan stops as soon as every
 * member is reached (a live heap). */
static void mark_reachable(collection *c, rcy_head_ ***u, size_t *nu) {
    size_t k = 0, done = 0;
    rcy_head_ **a = c->set;
    size_t n = c->nset;
    for (; done < n && c->reached < n; done++) {
        rcy_head_ *o = a[done];
        uint32_t w = o->gcword;
        if (!(w & RCYI_GC_COLLECTING))
            continue;
        if (rcyi_gcword_slot(w) > 0) {
            put_survivor(c, o, w);
            c->reached++;
            if (c->queue) {
                drain_young(c);
            } else {
                stack_push(c, o);
                drain_mark(c);
            }
        } else {
            /* Tentatively in U: marked and held now, which saves a pass
             * when it stays there (garbage usually does).  Its GEN back
             * as it was: SUBTRACTED was phase 1's. */
            hold_unreachable(c, o, w & ~(uint32_t)SUBTRACTED);
            /* never overwrites an unscanned entry: k <= done */
            a[k] = o;
            k++;
        }
    }
    *u = a;
    *nu = c->reached == n ? 0 : k;
    if (RCY_UNLIKELY(c->overflow)) {
        /* Out of memory for the work stack: some marked objects were never
         * traversed.  Be safe: everything in the set survives. */
        rcy_head_ **rest = a + done;
        size_t nrest = n - done;
        for (size_t j = 0; j < k; j++)
            if ((*u)[j]->gcword & RCYI_GC_COLLECTING)
                survive(c, (*u)[j]);
        for (size_t j = 0; j < nrest; j++)
            if (rest[j]->gcword & RCYI_GC_COLLECTING)
                survive(c, rest[j]);
        c->overflow = 0;
        c->reached = n;
        *nu = 0;
    }
}

/* A member reached from a member the scan promoted: one the scan passed
 * already (tentatively in U) is revived and everything it reaches marked
 * at once, depth first; one it has yet to meet only gets gc_refs > 0, and
 * is promoted and traversed in its turn. */
static int visit_mark_scan(void *obj, void *arg) {
    collection *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if (!(w & RCYI_GC_COLLECTING))
        return 0;
    if (RCY_UNLIKELY(w & RCYI_GC_UNREACHABLE))
        return mark_slow(c, o);
    if (rcyi_gcword_slot(w) == 0)
        o->gcword = w | RCYI_GC_SLOT_ONE;
    return 0;
}

/* mark_reachable for full collections, CPython's way: one scan in
 * order, a promoted member's children marked for the scan to promote in
 * their turn (no stack: consecutive members are independent work for the
 * processor, where a depth-first walk of a long chain waits for each load
 * before the next).  The order is that of allocation, roughly: the walk
 * visits the newest arena first, each in address order, so the runs of
 * c->set (one per arena) are scanned last run first.  U is packed into the
 * positions already scanned, in scan order, then made contiguous. */
static void mark_full(collection *c, rcy_head_ ***u, size_t *nu) {
    rcy_head_ **a = c->set;
    size_t n = c->nset, zero = 0;
    const size_t *sb = c->seg;
    size_t ns = c->nseg;
    if (!sb || ns == 0 || sb[0] != 0) { /* one run */
        sb = &zero;
        ns = 1;
    }
#define RUN_END(j) ((j) + 1 < ns ? sb[(j) + 1] : n)
    /* where U's next entry goes: a[wp], in run ws, which ends at wend */
    size_t ws = ns - 1, wp = sb[ns - 1], wend = n, k = 0;
    for (size_t s = ns; s-- > 0 && c->reached < n;) {
        for (size_t i = sb[s], end = RUN_END(s); i < end; i++) {
            rcy_head_ *o = a[i];
            if (i + SCAN_PREFETCH < end)
                __builtin_prefetch(a[i + SCAN_PREFETCH], 1);
            uint32_t w = o->gcword;
            if (!(w & RCYI_GC_COLLECTING))
                continue;
            if (rcyi_gcword_slot(w) > 0) {
                o->gcword = rcyi_gc_unlisted_word(w, 2);
                if (++c->reached == n)
                    break;
                mark_edges(c, o, visit_mark_scan);
                if (c->sp)
                    drain_mark(c);
                if (c->reached == n)
                    break;
            } else {
                hold_unreachable(c, o, w);
                /* the write position trails the scan: never unscanned */
                while (wp == wend) {
                    wend = sb[ws];
                    wp = sb[--ws];
                }
                a[wp++] = o;
                k++;
            }
        }
    }
    /* U = [sb[ws], wp) + [RUN_END(ws), n) */
    size_t r = wp - sb[ws], tail = wend;
#undef RUN_END
    if (RCY_UNLIKELY(c->overflow)) {
        /* Out of memory for the work stack: some marked objects were never
         * traversed.  Be safe: everything in the set survives (a member of
         * U may also sit, stale, at its old position: the first survive()
         * clears COLLECTING, so it survives once). */
        for (size_t j = 0; j < n; j++)
            if (a[j]->gcword & RCYI_GC_COLLECTING)
                survive(c, a[j]);
        c->overflow = 0;
        c->reached = n;
    }
    if (c->reached == n || k == 0) {
        *u = a;
        *nu = 0;
        return;
    }
    if (r && tail - r != sb[ws])
        memmove(a + tail - r, a + sb[ws], r * sizeof *a);
    *u = a + tail - r;
    *nu = k;
}

/* ---- U: unreachable set ------------------------------------------- */

rcy_list *rcyi_gc_garbage_list(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    if (!gc->garbage)
        gc->garbage = rcy_list_new(h);
    return gc->garbage;
}

/* o leaves the collection for good and goes to garbage (uncollectable). */
static void to_garbage(collection *c, rcy_head_ *o, const char *debug_what) {
    rcy_heap *h = c->h;
    leave_set(h, o, 2);
    if (h->gc.stage == RCYI_GC_TEARDOWN)
        return; /* heap teardown: nowhere to keep it */
    rcy_list *g = rcyi_gc_garbage_list(h);
    if (g)
        (void)rcy_list_append(g, rcyi_obj(o)); /* on failure it just survives */
    if (debug_what && (h->gc.debug & RCY_GC_DEBUG_UNCOLLECTABLE))
        debug_object(debug_what, o);
}

/* Members of U with a legacy finalizer and all they reach in U form L:
 * UNREACHABLE cleared, COLLECTING and the hold kept (CPython's
 * move_legacy_finalizers and move_legacy_finalizer_reachable). */
static int visit_legacy(void *obj, void *arg) {
    collection *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    if ((o->gcword & RCYI_GC_IN_U) == RCYI_GC_IN_U) {
        o->gcword &= ~(uint32_t)RCYI_GC_UNREACHABLE;
        stack_push(c, o);
    }
    return 0;
}

/* Members of U holding the collector's reference that left U (finished)
 * get it back; returns the new size of U. */
static size_t compact_and_unhold(rcy_head_ **u, size_t nu) {
    size_t k = 0;
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        if (o->gcword & RCYI_GC_COLLECTING)
            u[k++] = o;
        else
            rcy_decref(rcyi_obj(o)); /* still referenced: by garbage or U */
    }
    return k;
}

/* Splits U into U (returned size) followed by L (*nl members), each in
 * its former order (L's may change when out of memory). */
static size_t move_legacy(collection *c, rcy_head_ **u, size_t nu, size_t *nl) {
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        if ((o->type->flags & RCY_TYPE_LEGACY_FINALIZER) &&
            (o->gcword & RCYI_GC_IN_U) == RCYI_GC_IN_U) {
            o->gcword &= ~(uint32_t)RCYI_GC_UNREACHABLE;
            stack_push(c, o);
            drain(c, visit_legacy);
        }
    }
    *nl = 0;
    if (RCY_UNLIKELY(c->overflow)) { /* out of stack memory: all survive */
        for (size_t i = 0; i < nu; i++)
            if (u[i]->gcword & RCYI_GC_COLLECTING)
                leave_set(c->h, u[i], 2);
        c->overflow = 0;
        return compact_and_unhold(u, nu);
    }
    rcy_head_ **tmp = stack_reserve(c, nu) ? c->stack : NULL;
    size_t k = 0, m = 0;
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        if (o->gcword & RCYI_GC_UNREACHABLE) {
            u[i] = u[k];
            u[k++] = o;
        } else if (tmp) {
            tmp[m++] = o;
        }
    }
    if (tmp)
        memcpy(u + k, tmp, m * sizeof *u);
    *nl = nu - k;
    return k;
}

/* Refcounting's verdict on a[0..n), members whose (RCYI_GC_COLLECTING|RCYI_GC_UNREACHABLE) bits are
 * `want`: which of them nothing references but the collector's hold and
 * other such members, acyclically?  CPython, which holds nothing, would
 * have freed those by refcounting already.  They get SLOT 0, the others
 * SLOT > 0; returns how many (0, all kept, when out of stack memory). */
static int visit_dead_sub(void *obj, void *arg) {
    collection *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if ((w & RCYI_GC_IN_U) == c->dead_bits && rcyi_gcword_slot(w) - 1u < RCYI_SLOT_MAX - 1u) {
        o->gcword = w - RCYI_GC_SLOT_ONE;
        if (rcyi_gcword_slot(w) == 1)
            stack_push(c, o);
    }
    return 0;
}

static size_t refcount_dead(collection *c, rcy_head_ **a, size_t n, uint32_t want) {
    c->dead_bits = want;
    for (size_t i = 0; i < n; i++) /* minus the collector's hold */
        a[i]->gcword = rcyi_gcword_with_slot(a[i]->gcword, initial_refs(a[i]->refcnt - 1));
    for (size_t i = 0; i < n; i++)
        if (rcyi_gcword_slot(a[i]->gcword) == 0)
            stack_push(c, a[i]);
    drain(c, visit_dead_sub);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        if (RCY_UNLIKELY(c->overflow))
            a[i]->gcword = rcyi_gcword_with_slot(a[i]->gcword, 1);
        nd += rcyi_gcword_slot(a[i]->gcword) == 0;
    }
    c->overflow = 0;
    return nd;
}

/* After the release of the final garbage, L's fate (CPython's: the
 * garbage cleared first, then what is left of its finalizers list is
 * uncollectable): members refcounting frees die now, the rest stay in
 * generation 2. */
static void settle_legacy(collection *c, rcy_head_ **l, size_t nl) {
    rcy_heap *h = c->h;
    (void)refcount_dead(c, l, nl, RCYI_GC_COLLECTING);
    for (size_t i = 0; i < nl; i++) {
        rcy_head_ *o = l[i];
        if (rcyi_gcword_slot(o->gcword) > 0) {
            /* Only the objects with a legacy finalizer are listed, what
             * they reach stays alive through them (CPython's
             * handle_legacy_finalizers); all are counted and printed. */
            if ((o->type->flags & RCY_TYPE_LEGACY_FINALIZER) ||
                (h->gc.debug & RCY_GC_DEBUG_SAVEALL)) {
                to_garbage(c, o, "uncollectable");
            } else {
                leave_set(h, o, 2);
                if (h->gc.debug & RCY_GC_DEBUG_UNCOLLECTABLE)
                    debug_object("uncollectable", o);
            }
            c->uncollectable += h->gc.stage != RCYI_GC_TEARDOWN;
        } else {
            leave_set(h, o, 2);
        }
    }
    /* Every member is alive until its own hold goes: one dying frees only
     * members whose holds went before it. */
    for (size_t i = 0; i < nl; i++)
        rcy_decref(rcyi_obj(l[i]));
}

/* Returns how many weak references the callbacks' end freed (Python's
 * handle_weakrefs counts them with the garbage). */
static size_t clear_weakrefs_of(rcy_heap *h, rcy_head_ **u, size_t nu, int kill) {
    rcyi_wr_pending pending = {NULL, NULL};
    if (kill)
        for (size_t i = 0; i < nu; i++)
            rcyi_weakref_kill_if_weakref(u[i]);
    for (size_t i = 0; i < nu; i++)
        if (u[i]->gcword & RCYI_GC_WEAKREFS)
            rcyi_weakref_detach_all(h, u[i], &pending, 1);
    return pending.head ? rcyi_weakref_run_pending(&pending) : 0;
}

/* Resurrection check (PEP 442): which members of U are reachable again? */
static int visit_resurrect_sub(void *obj, void *arg) {
    (void)arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if ((w & RCYI_GC_IN_U) == RCYI_GC_IN_U && rcyi_gcword_slot(w) - 1u < RCYI_SLOT_MAX - 1u)
        o->gcword = w - RCYI_GC_SLOT_ONE;
    return 0;
}

static int visit_resurrect_mark(void *obj, void *arg) {
    collection *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    if ((o->gcword & RCYI_GC_IN_U) == RCYI_GC_IN_U) {
        leave_set(c->h, o, 2);
        stack_push(c, o);
    }
    return 0;
}

static size_t handle_resurrected(collection *c, rcy_head_ **u, size_t nu) {
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        uint32_t rc = o->refcnt - 1; /* minus the collector's hold */
        o->gcword = rcyi_gcword_with_slot(o->gcword, initial_refs(rc));
    }
    for (size_t i = 0; i < nu; i++)
        u[i]->type->traverse(rcyi_obj(u[i]), visit_resurrect_sub, c);
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        uint32_t w = o->gcword;
        if ((w & RCYI_GC_IN_U) == RCYI_GC_IN_U && rcyi_gcword_slot(w) > 0) {
            leave_set(c->h, o, 2);
            stack_push(c, o);
            drain(c, visit_resurrect_mark);
        }
    }
    if (c->overflow) { /* out of stack memory: resurrect conservatively */
        for (size_t i = 0; i < nu; i++)
            if (u[i]->gcword & RCYI_GC_COLLECTING)
                leave_set(c->h, u[i], 2);
        c->overflow = 0;
    }
    /* Resurrected objects are reachable from outside: dropping the hold
     * cannot free them. */
    return compact_and_unhold(u, nu);
}

/* `clear` on every member of the final garbage and drop its hold, in one
 * pass (as CPython's delete_garbage): a member cleared and released early
 * stays alive while later members still reference it, and dies when they
 * are cleared.  SLOT = index in the chunk, so that rcyi_gc_on_free can
 * strike a dying member off and count it: stats count only what was
 * really freed.  More than RCYI_SLOT_MAX members: everything is cleared
 * first, then released chunk by chunk. */
static size_t clear_and_release(rcy_heap *h, rcy_head_ **f, size_t nf) {
    rcyi_gc_state *gc = &h->gc;
    size_t freed = 0;
    int cleared = 0;
    if (nf > RCYI_SLOT_MAX) {
        for (size_t j = 0; j < nf; j++)
            if (f[j]->type->clear)
                f[j]->type->clear(rcyi_obj(f[j]));
        cleared = 1;
    }
    for (size_t s = 0; s < nf; s += RCYI_SLOT_MAX) {
        size_t m = nf - s < RCYI_SLOT_MAX ? nf - s : RCYI_SLOT_MAX;
        rcy_head_ **chunk = f + s;
        gc->release = chunk;
        gc->released_freed = 0;
        for (size_t j = 0; j < m; j++) {
            rcy_head_ *o = chunk[j];
            /* Still held (members are released in order), so alive. */
            o->gcword = rcyi_gcword_with_slot(o->gcword, j);
            if (!cleared && o->type->clear)
                o->type->clear(rcyi_obj(o));
            rcy_decref(rcyi_obj(o));
        }
        gc->release = NULL;
        freed += gc->released_freed;
        if (gc->released_freed != m)
            for (size_t j = 0; j < m; j++)
                if (chunk[j]) /* survived: a cycle no `clear` could break */
                    leave_set(h, chunk[j], 2);
    }
    return freed;
}

#ifdef RCY_DEBUG
static void validate(rcy_heap *h, int full);
#endif

/* ---- one collection, phase by phase (src/gc.h) ---------------------- */

/* Before phase 1: the set's membership mask and target, the START
 * callbacks, the debug report; returns the start time. */
static double begin_collection(collection *c, rcy_heap *h, unsigned gen, rcy_gc_info *info) {
    rcyi_gc_state *gc = &h->gc;
    memset(c, 0, sizeof *c);
    c->h = h;
    c->checked = __atomic_load_n(&rcyi_heaps_alive, __ATOMIC_RELAXED) > 1;
    for (uint32_t k = 0; k <= MEMBER_KEY_BITS; k++)
        if ((k & RCYI_GC_TRACKED) && rcyi_gcword_gen(k) <= gen)
            c->member_mask |= 1u << k;
    c->target = gen + 1 < 2 ? gen + 1 : 2;
    set_collecting(gc, 1);
    double t0 = rcyi_os_clock_seconds();
    rcyi_gc_run_callbacks(h, RCY_GC_START, info);
    if (gc->debug & RCY_GC_DEBUG_STATS) {
        size_t n0 = gc->young[0].live, n1 = gc->young[1].live;
        rcyi_output("gc: collecting generation %u...\n", gen);
        rcyi_output("gc: objects in each generation: %zu %zu %zu\n", n0, n1, rcyi_gc_old_count(gc));
        rcyi_output("gc: objects in permanent generation: %zu\n", gc->nfrozen);
    }
#ifdef RCY_DEBUG
    validate(h, gen == 2);
#endif
    return t0;
}

/* Phase 1 of a full collection: one walk of the pools gathers the set
 * into c->set (cut into runs, one per arena) and subtracts. */
static int gather_full(collection *c) {
    rcy_heap *h = c->h;
    rcyi_gc_state *gc = &h->gc;
    c->set_cap = gc->ntracked - gc->nfrozen;
    if (c->set_cap) {
        c->set = c->set_mem = rcyi_alloc(h, c->set_cap * sizeof *c->set, RCYI_KIND_RAW);
        if (!c->set)
            return RCY_ENOMEM;
    }
    /* all found by the walk; refill without regrowing from 8 */
    rcyi_gc_vec_reset(h, &gc->young[0], gc->young[0].live);
    rcyi_gc_vec_reset(h, &gc->young[1], gc->young[1].live);
    c->segcap = h->alloc.arenas + 2; /* one run per arena, large blocks after */
    c->seg = rcyi_alloc(h, c->segcap * sizeof *c->seg, RCYI_KIND_RAW);
    if (!c->seg)
        c->segcap = 0; /* one run */
    rcyi_walk_objects(h, walk_collect, c);
    if (c->overcounted)
        rcyi_fatal(RCY_ECORRUPTED_HEAP,
                   "gc: more tracked objects in the heap than the collector counted (%zu)",
                   gc->ntracked);
    return RCY_OK;
}

/* young[1]'s entries moved to the front of young[0]'s (generation 1
 * first, as CPython merges generation 0 after it: the order finalizers
 * and callbacks run in); young[1] emptied.  young[0]'s entries are
 * appended to young[1]'s block, which then becomes young[0]'s: young[1]
 * holds up to ten times as many (callgrind, binary_trees 14: moving both
 * vectors' entries cost 0.7% of all instructions). */
static int merge_young(rcy_heap *h) {
    rcyi_gc_vec *v0 = &h->gc.young[0], *v1 = &h->gc.young[1];
    size_t need = v0->len + v1->len;
    if (need > v1->cap) {
        void *p = rcyi_realloc(h, v1->items, need * sizeof *v1->items);
        if (!p)
            return RCY_ENOMEM;
        v1->items = p;
        v1->cap = need;
    }
    if (v0->len)
        memcpy(v1->items + v1->len, v0->items, v0->len * sizeof *v0->items);
    rcyi_gc_vec merged = {v1->items, need, v1->cap, v0->live + v1->live, v0->hint};
    v1->items = NULL;
    rcyi_gc_vec_reset(h, v1, v1->live);
    rcyi_gc_vec_reset(h, v0, v0->hint);
    *v0 = merged;
    return RCY_OK;
}

/* Phase 1 of a young collection: the young vectors become c->set (holes
 * and dying objects dropped, packed at the end of the block) and
 * subtraction runs over it newest first (see SUBTRACTED). */
static int gather_young(collection *c, unsigned gen) {
    rcy_heap *h = c->h;
    rcyi_gc_vec *v0 = &h->gc.young[0];
    if (gen == 1 && h->gc.young[1].len && merge_young(h) < 0)
        return RCY_ENOMEM;
    rcy_head_ **a = v0->items;
    size_t n = v0->len, k = n;
    c->set_mem = a;
    c->set_cap = v0->cap;
    c->edge_and = UINT32_MAX; /* no edge met yet */
    v0->items = NULL;
    rcyi_gc_vec_reset(h, v0, v0->live); /* refill without regrowing from 8 */
    for (size_t i = n; i-- > 0;) {
        rcy_head_ *o = a[i];
        if (!o) /* a hole left by an untrack */
            continue;
        if (o->refcnt == 0) { /* dying: not a candidate */
            o->gcword &= ~(uint32_t)RCYI_GC_COLLECTING;
            leave_set(h, o, c->target);
            continue;
        }
        a[--k] = o; /* k >= i: never an entry still to visit */
        subtract_one(c, o, 1);
    }
    c->set = a ? a + k : NULL; /* no vector at all: no set */
    c->nset = n - k;
    return RCY_OK;
}

/* Phase 2 of a young collection whose phase 1 met no forward edge: every
 * member survives, placed in the set's order (allocation order, in which
 * the next collection of generation 1 can pass the same test). */
static void survive_all(collection *c) {
    for (size_t i = 0; i < c->nset; i++) {
        rcy_head_ *o = c->set[i];
        put_survivor(c, o, o->gcword);
    }
    c->reached = c->nset;
}

/* Phase 2: mark what is reachable from outside; survivors placed.  Young
 * collections append survivors to a queue with room for them all
 * (young[1] for generation 0), so marking checks nothing per object; out
 * of memory for it, marking falls back to the growable stack.  (A full
 * collection keeps the stack: a queue for the whole heap would be as big
 * as c->set, while a depth-first stack of a heap of chains and trees
 * stays small.)  *u, *nu: U, tentatively (see drop_revived). */
static void mark_phase(collection *c, unsigned gen, rcy_head_ ***u, size_t *nu) {
    rcyi_gc_state *gc = &c->h->gc;
    rcyi_gc_vec *v1 = &gc->young[1];
    if (gen < 2 && (gen == 0 ? vec_reserve(c->h, v1, c->nset) : stack_reserve(c, c->nset))) {
        c->queue = gen == 0 ? v1->items : c->stack;
        c->qhead = c->qlen = gen == 0 ? v1->len : 0;
        c->survivor_bits =
            gen == 0 ? rcyi_gen_bits(1) : rcyi_gen_bits(2) | rcyi_slot_bits(RCYI_SLOT_NONE);
    }
    /* Counts reset now: allocations by finalizers count towards the next. */
    if (gen < 2)
        gc->count[gen + 1]++;
    for (unsigned g = 0; g <= gen; g++)
        gc->count[g] = 0;
    if (gen == 2) {
        mark_full(c, u, nu);
    } else if (set_acyclic(c)) {
        survive_all(c);
        *u = c->set;
        *nu = 0;
    } else {
        mark_reachable(c, u, nu);
    }
    if (c->queue && gen == 0) {
        v1->live += c->qlen - v1->len;
        v1->len = c->qlen;
    }
    c->queue = NULL; /* user code may change young[1] from now on */
}

/* U without the members the scan put there tentatively and propagation
 * revived later (they survived; their holds are back already). */
static size_t drop_revived(const collection *c, rcy_head_ **u, size_t nu) {
    if (!c->revived)
        return nu;
    size_t m = 0;
    for (size_t i = 0; i < nu; i++)
        if (u[i]->gcword & RCYI_GC_COLLECTING)
            u[m++] = u[i];
    return m;
}

/* Phase 3c: every finalizer in U runs once; returns whether any ran. */
static int run_finalizers(rcy_head_ **u, size_t nu) {
    int ran = 0;
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        if (o->type->finalize && !(o->gcword & RCYI_GC_FINALIZED)) {
            o->gcword |= RCYI_GC_FINALIZED;
            o->type->finalize(rcyi_obj(o));
            ran = 1;
        }
    }
    return ran;
}

/* Phase 4 under DEBUG_SAVEALL: the final garbage goes to gc.garbage
 * instead of being freed, but for the `dead` members refcounting frees;
 * returns how many are counted. */
static size_t save_all(collection *c, rcy_head_ **f, size_t nf, size_t dead) {
    for (size_t i = 0; i < nf; i++) {
        if (dead && rcyi_gcword_slot(f[i]->gcword) == 0)
            leave_set(c->h, f[i], 2);
        else
            to_garbage(c, f[i], NULL);
        rcy_decref(rcyi_obj(f[i]));
    }
    return nf - dead;
}

/* Phases 3 to 5 on U (marked and held by the scan); returns how many
 * objects count as collected. */
static size_t collect_unreachable(collection *c, rcy_head_ **u, size_t nu) {
    rcy_heap *h = c->h;
    rcyi_gc_state *gc = &h->gc;
    size_t collected = 0, nl = 0;
    rcy_head_ **l = u;
    if (c->any_legacy) { /* 3a */
        nu = move_legacy(c, u, nu, &nl);
        l = u + nu;
    }
    if (gc->debug & RCY_GC_DEBUG_COLLECTABLE)
        for (size_t i = 0; i < nu; i++)
            debug_object("collectable", u[i]);
    if (c->any_weak || (c->u_words & RCYI_GC_WEAKREFS)) /* 3b */
        collected += clear_weakrefs_of(h, u, nu, 1);
    /* What a finalizer left to die by refcounting is not counted:
     * CPython frees it during finalization, outside its count. */
    size_t dead = 0;
    if (c->any_fin && run_finalizers(u, nu)) { /* 3c */
        nu = handle_resurrected(c, u, nu);     /* 3d */
        collected += clear_weakrefs_of(h, u, nu, 0);
        dead = refcount_dead(c, u, nu, RCYI_GC_IN_U); /* 3e */
    }
    if ((gc->debug & RCY_GC_DEBUG_SAVEALL) && gc->stage != RCYI_GC_TEARDOWN) {
        collected += save_all(c, u, nu, dead);
    } else { /* 4 */
        size_t freed = clear_and_release(h, u, nu);
        collected += freed > dead ? freed - dead : 0;
    }
    if (nl) /* 5 */
        settle_legacy(c, l, nl);
    return collected;
}

/* After phase 5: buffers freed, statistics, the debug report, the STOP
 * callbacks; returns the collection's result. */
static ssize_t end_collection(collection *c, unsigned gen, size_t collected, size_t candidates,
                              double t0, rcy_gc_info *info) {
    rcy_heap *h = c->h;
    rcyi_gc_state *gc = &h->gc;
    raw_free(h, c->set_mem);
    raw_free(h, c->stack);
    raw_free(h, c->seg);
    if (gen == 2)
        gc->long_lived_total = rcyi_gc_old_count(gc);
    double dt = rcyi_os_clock_seconds() - t0;
    rcy_gc_gen_stats *st = &gc->stats[gen];
    st->collections++;
    st->collected += collected;
    st->uncollectable += c->uncollectable;
    st->candidates += candidates;
    st->duration += dt;
    if (gc->debug & RCY_GC_DEBUG_STATS)
        rcyi_output("gc: done, %zu unreachable, %zu uncollectable, %.4fs elapsed\n",
                    collected + c->uncollectable, c->uncollectable, dt);
#ifdef RCY_DEBUG
    validate(h, gen == 2);
#endif
    info->collected = collected;
    info->uncollectable = c->uncollectable;
    info->duration = dt;
    rcyi_gc_run_callbacks(h, RCY_GC_STOP, info);
    set_collecting(gc, 0);
    return (ssize_t)(collected + c->uncollectable);
}

ssize_t rcyi_gc_collect(rcy_heap *h, unsigned gen) {
    collection c;
    rcy_gc_info info = {(int)gen, 0, 0, 0.0};
    double t0 = begin_collection(&c, h, gen, &info);
    if ((gen == 2 ? gather_full(&c) : gather_young(&c, gen)) < 0) { /* 1 */
        set_collecting(&h->gc, 0);
        return RCY_ENOMEM;
    }
    size_t candidates = c.nset;
    rcy_head_ **u;
    size_t nu;
    mark_phase(&c, gen, &u, &nu); /* 2 */
    nu = drop_revived(&c, u, nu);
    size_t collected = nu ? collect_unreachable(&c, u, nu) : 0; /* 3-5 */
    return end_collection(&c, gen, collected, candidates, t0, &info);
}

/* Phase 1 of an increment: gcincr.c's members (old ones marked already)
 * become c->set, a copy (marking reorders c->set, and the stamp needs
 * the members afterwards), and are subtracted; the young vectors, whose
 * objects are all members, are emptied. */
static int gather_increment(collection *c) {
    rcy_heap *h = c->h;
    rcyi_gc_scan *sc = &h->gc.scan;
    size_t n = sc->nmembers;
    if (n) {
        c->set = c->set_mem = rcyi_alloc(h, n * sizeof *c->set, RCYI_KIND_RAW);
        if (!c->set)
            return RCY_ENOMEM;
    }
    c->set_cap = n;
    rcyi_gc_vec_reset(h, &h->gc.young[0], h->gc.young[0].live);
    rcyi_gc_vec_reset(h, &h->gc.young[1], h->gc.young[1].live);
    for (size_t i = 0; i < n; i++) {
        rcy_head_ *o = sc->members[i];
        if (o->refcnt == 0) { /* dying: not a candidate */
            o->gcword &= ~(uint32_t)RCYI_GC_COLLECTING;
            leave_set(h, o, 2);
            continue;
        }
        c->set[c->nset++] = o;
        subtract_one(c, o, 0);
    }
    /* Old members carry no SUBTRACTED (it is a GEN bit they have set):
     * no acyclic proof, marking always runs. */
    c->self_edge = 1;
    return RCY_OK;
}

/* Survivors (old now, COLLECTING clear) are stamped visited, before any
 * user code runs: every member is alive until phase 3. */
static void stamp_survivors(rcy_heap *h) {
    rcyi_gc_scan *sc = &h->gc.scan;
    const uint32_t mask = RCYI_GC_TRACKED | RCYI_GC_COLLECTING | RCYI_GC_GEN_MASK;
    for (size_t i = 0; i < sc->nmembers; i++) {
        rcy_head_ *o = sc->members[i];
        uint32_t w = o->gcword;
        if ((w & mask) == (RCYI_GC_TRACKED | rcyi_gen_bits(2)))
            o->gcword = rcyi_gcword_with_slot(w, sc->epoch);
    }
}

ssize_t rcyi_gc_collect_increment(rcy_heap *h, size_t budget) {
    collection c;
    rcy_gc_info info = {1, 0, 0, 0.0};
    double t0 = begin_collection(&c, h, 1, &info);
    if (rcyi_gc_incr_gather(h, budget) < 0 || gather_increment(&c) < 0) { /* 1 */
        rcyi_gc_incr_release(h, 1);
        set_collecting(&h->gc, 0);
        return RCY_ENOMEM;
    }
    size_t candidates = c.nset;
    rcy_head_ **u;
    size_t nu;
    mark_phase(&c, 1, &u, &nu); /* 2 */
    nu = drop_revived(&c, u, nu);
    stamp_survivors(h);
    rcyi_gc_incr_release(h, 0);
    size_t collected = nu ? collect_unreachable(&c, u, nu) : 0; /* 3-5 */
    return end_collection(&c, 1, collected, candidates, t0, &info);
}

/* ------------------------------------------------------------------ */
/* Validator (RCY_DEBUG builds): the invariants of src/gc.h            */
/* ------------------------------------------------------------------ */

#ifdef RCY_DEBUG
typedef struct vcount {
    size_t tracked, frozen;
} vcount;

static void validate_walk(rcy_head_ *o, void *arg) {
    vcount *vc = arg;
    uint32_t w = o->gcword;
    rcy_heap *h = rcy_heap_of(rcyi_obj(o));
    if (w & RCYI_GC_IN_U)
        rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: %s object %p left marked by a collection",
                   o->type->name, rcyi_obj(o));
    if (!(w & RCYI_GC_TRACKED)) {
        if (rcyi_gcword_gen(w) != 0 || (rcyi_gcword_slot(w) != RCYI_SLOT_NONE &&
                                        !rcyi_rc_in_shared_graph(rcyi_refcnt_load(o))))
            rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: untracked %s object %p has gcword %#x",
                       o->type->name, rcyi_obj(o), w);
        return;
    }
    if (!o->type->traverse)
        rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: tracked %s object %p has no traverse", o->type->name,
                   rcyi_obj(o));
    vc->tracked++;
    unsigned g = rcyi_gcword_gen(w);
    if (g < 2) {
        rcyi_gc_vec *v = &h->gc.young[g];
        if (rcyi_gcword_slot(w) >= v->len || v->items[rcyi_gcword_slot(w)] != o)
            rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: %s object %p not at its slot of generation %u",
                       o->type->name, rcyi_obj(o), g);
    } else {
        vc->frozen += g == RCYI_GC_GEN_FROZEN;
        if (rcyi_gcword_slot(w) != RCYI_SLOT_NONE && (g != 2 || rcyi_gcword_slot(w) > 1))
            rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: old %s object %p has a slot", o->type->name,
                       rcyi_obj(o));
    }
}

/* Young vectors always; the whole heap when `full` (O(heap)). */
static void validate(rcy_heap *h, int full) {
    rcyi_gc_state *gc = &h->gc;
    for (unsigned g = 0; g < 2; g++) {
        rcyi_gc_vec *v = &gc->young[g];
        size_t live = 0;
        for (size_t i = 0; i < v->len; i++) {
            if (!v->items[i])
                continue;
            live++;
            uint32_t w = v->items[i]->gcword;
            if (!(w & RCYI_GC_TRACKED) || rcyi_gcword_gen(w) != g || rcyi_gcword_slot(w) != i ||
                (w & RCYI_GC_IN_U))
                rcyi_fatal(RCY_ECORRUPTED_HEAP, "gc: generation %u entry %zu (%p) has gcword %#x",
                           g, i, rcyi_obj(v->items[i]), w);
        }
        if (live != v->live || v->len > v->cap || (v->len && !v->items[v->len - 1]))
            rcyi_fatal(RCY_ECORRUPTED_HEAP,
                       "gc: generation %u holds %zu objects in %zu entries (%zu counted, last %s)",
                       g, live, v->len, v->live,
                       v->len && !v->items[v->len - 1] ? "a hole" : "set");
    }
    if (!full)
        return;
    rcyi_share_validate(h); /* the sharing invariant, object.h */
    vcount vc = {0, 0};
    rcyi_walk_objects(h, validate_walk, &vc);
    if (vc.tracked != gc->ntracked || vc.frozen != gc->nfrozen)
        rcyi_fatal(RCY_ECORRUPTED_HEAP,
                   "gc: counted %zu tracked / %zu frozen, the collector says %zu / %zu", vc.tracked,
                   vc.frozen, gc->ntracked, gc->nfrozen);
}
#endif

/* ------------------------------------------------------------------ */
/* Hooks called by heap.c and object.c                                 */
/* ------------------------------------------------------------------ */

int rcyi_gc_init(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    memset(gc, 0, sizeof *gc);
    gc->enabled = 1;
    gc->threshold[0] = 2000;
    gc->threshold[1] = 10;
    gc->threshold[2] = 10;
    gc->hard = rcyi_option_gc_hard();
    gc->incremental = rcyi_option_gc_incremental();
    gc->emergency = 1;
    rcyi_gc_update_trigger(gc);
    return 0;
}

static void collect_generations(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    if (gc->incremental && gc->scan.arenas) { /* a scan runs: increments only */
        rcyi_gc_incr_auto(h);
        return;
    }
    for (int g = 2; g >= 0; g--) {
        if (gc->count[g] > gc->threshold[g]) {
            /* Python's long-lived rule, counted net: a full collection only
             * when the old generation grew by 25% since the last one.
             * (CPython counts objects moved there, even those refcounting
             * freed since; counting what is still there spares programs
             * whose big structures die young, like binary_trees, a full
             * collection per structure, and still bounds the unexamined
             * growth, cyclic garbage included, to 25%.) */
            size_t old = rcyi_gc_old_count(gc);
            if (g == 2 && (old <= gc->long_lived_total ||
                           old - gc->long_lived_total <= gc->long_lived_total / 4))
                continue;
            if (g == 2 && gc->incremental) /* a scan, in increments, instead */
                g = rcyi_gc_incr_begin(h);
            else if (g == 0 && gc->incremental)
                g = 1; /* young survivors go straight to the old generation
                        * (CPython 3.14): generation 1 stays empty, so no
                        * young collection examines ten thresholds' worth */
            rcyi_gc_collect(h, (unsigned)g);
            break;
        }
    }
}

void rcyi_gc_on_new_slow(rcy_heap *h, rcy_head_ *obj) {
    rcyi_gc_state *gc = &h->gc;
    if (gc->stage == RCYI_GC_DONE) {
        gc->count[0]--;
        return;
    }
    if (gc->enabled && !gc->collecting && gc->stage == RCYI_GC_RUNNING) {
        if (gc->hard)
            rcyi_gc_collect(h, 2);
        else if (gc->threshold[0] && gc->count[0] > gc->threshold[0])
            collect_generations(h);
    }
    track_head(h, obj);
}

void rcyi_gc_on_new(rcy_heap *h, rcy_head_ *obj) {
    rcyi_gc_on_new_inline(h, &h->gc, obj);
}

static __attribute__((noinline)) void on_free_other(rcy_heap *h, rcy_head_ *obj) {
    rcyi_gc_state *gc = &h->gc;
    if (gc->stage == RCYI_GC_DONE)
        return;
    uint32_t w = obj->gcword;
    if (w & RCYI_GC_COLLECTING) {
        /* Only members of the final garbage can die while marked: the
         * collector held them until the release step. */
        rcyi_fatal(RCY_EMISUSE,
                   "gc: %s object %p freed during a collection while the collector held it",
                   obj->type->name, rcyi_obj(obj));
    } else if (w & RCYI_GC_TRACKED) {
        untrack_tracked(h, obj, w);
    } else {
        return;
    }
    if (gc->count[0] > 0)
        gc->count[0]--;
}

/* The common slow death: a member of the final garbage in the release
 * step (a leaf: the rest, out of line, kept it from being one). */
void rcyi_gc_on_free_slow(rcy_heap *h, rcy_head_ *obj) {
    rcyi_gc_state *gc = &h->gc;
    uint32_t w = obj->gcword;
    if (RCY_LIKELY((w & RCYI_GC_IN_U) == RCYI_GC_IN_U) && RCY_LIKELY(gc->release != NULL) &&
        RCY_LIKELY(gc->stage != RCYI_GC_DONE)) {
        gc->release[rcyi_gcword_slot(w)] = NULL;
        gc->released_freed++;
        gc->ntracked--;
        obj->gcword = rcyi_gc_untracked_word(w);
        gc->count[0] -= gc->count[0] != 0;
        return;
    }
    on_free_other(h, obj);
}

void rcyi_gc_on_free(rcy_heap *h, rcy_head_ *obj) {
    rcyi_gc_on_free_inline(h, &h->gc, obj);
}

static void collect_until_nothing(rcy_heap *h) {
    for (int i = 0; i < 64; i++)
        if (rcyi_gc_collect(h, 2) <= 0)
            break;
}

void rcyi_gc_fini(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    if (gc->stage != RCYI_GC_RUNNING || gc->collecting)
        return;
    collect_until_nothing(h);
    rcyi_finalize_run_atexit(h);
    collect_until_nothing(h);
    if (gc->garbage) {
        size_t n = rcy_list_len(gc->garbage);
        if (n && (gc->debug & RCY_GC_DEBUG_UNCOLLECTABLE) && !(gc->debug & RCY_GC_DEBUG_SAVEALL)) {
            rcyi_output("gc: %zu uncollectable objects at shutdown\n", n);
            for (size_t i = 0; i < n; i++)
                debug_object("uncollectable", rcyi_head(rcy_list_get(gc->garbage, (ptrdiff_t)i)));
        }
        set_stage(gc, RCYI_GC_TEARDOWN); /* garbage is gone for good now */
        rcy_list *g = gc->garbage;
        gc->garbage = NULL;
        rcy_decref(g);
        collect_until_nothing(h);
    }
    set_stage(gc, RCYI_GC_TEARDOWN);
    rcyi_weakref_fini(h);
    set_stage(gc, RCYI_GC_DONE);
    rcyi_gc_incr_fini(h);
    for (unsigned g = 0; g < 2; g++) {
        raw_free(h, gc->young[g].items);
        gc->young[g].items = NULL;
        gc->young[g].len = gc->young[g].cap = 0;
    }
    raw_free(h, gc->callbacks);
    gc->callbacks = NULL;
    gc->ncallbacks = gc->callbacks_cap = 0;
}
