/* src/gc.h — the cycle collector: its per-heap state, its invariants and
 * its internal interface (gc.c: the engine — generations, trial deletion,
 * PEP 442 finalization; gcmodule.c: the front end — Python's gc module
 * API, statistics, introspection, freeze, callbacks).  Weak references
 * have their own header, src/weakref.h.
 *
 * Tracked objects are never linked to each other: generations 0 and 1 are
 * vectors of headers (gc->young[g]) and an object's index in its vector is
 * the SLOT field of its gcword; generation 2 (old) and the permanent
 * generation (frozen, GEN 3) have no vector, a full collection finds their
 * members by walking the allocator's object pools.
 *
 * Outside a collection (bits of src/object.h):
 *   TRACKED && GEN in {0,1}  =>  young[GEN].items[SLOT] == obj
 *   every other entry of young[g].items[0..len) is NULL: a hole left by an
 *     untrack, which so never writes another object's header; holes are
 *     squeezed out when the vector would grow with half its entries holes
 *     (amortised O(1)), and trailing ones are popped at once, so
 *     len == 0 || items[len-1] != NULL, and live == #non-NULL entries
 *   TRACKED && GEN == 3      =>  SLOT == RCYI_SLOT_NONE
 *   TRACKED && GEN == 2      =>  SLOT in {RCYI_SLOT_NONE, 0, 1}: 0 and 1
 *     are the incremental scan's stamps (rcyi_gc_scan below); everything
 *     else writes NONE, which a scan reads as "pending"
 *   !TRACKED                 =>  GEN == 0 && SLOT == RCYI_SLOT_NONE
 *   COLLECTING and UNREACHABLE are clear on every object
 *   ntracked == #TRACKED objects,  nfrozen == #(TRACKED && GEN == 3)
 *   trigger == the count[0] past which rcyi_gc_on_new must do more than
 *     append (rcyi_gc_update_trigger() after every change of what it depends on)
 * A young vector that cannot grow, or an index past RCYI_SLOT_MAX, puts
 * the object straight into generation 2 (always safe: a full collection
 * still finds it; only its collection is later than it could be).
 *
 * During a collection of generations 0..G (the "set" = TRACKED objects
 * with GEN <= G and refcnt > 0; the work list c->set holds it, from the
 * young vectors, generation 1's before 0's as CPython merges them, or for
 * G = 2 from one walk of the pools; U keeps that order, which finalizers
 * and callbacks follow), phase by phase:
 *   1. refs    COLLECTING set, SLOT = gc_refs = refcnt minus references
 *              from set members seen so far (saturating at RCYI_SLOT_MAX:
 *              a saturated count is never decremented, so the object
 *              counts as reachable from outside — always safe).  A member
 *              is initialised by whichever comes first: its own turn in
 *              the scan or a visit from another member.  G < 2: the scan
 *              runs newest first and sets a scratch GEN bit (gc.c's
 *              SUBTRACTED; members are in GEN 0 or 1, so it is clear on
 *              them before) on each member it has traversed, telling an
 *              edge to an older member from one to a newer member (a
 *              self-reference shows as the member's own count changing
 *              during its traversal); edges all one way and no self-reference prove
 *              the set acyclic.  With two or more heaps alive, a child that
 *              looks like a member but belongs to another heap is fatal
 *              misuse naming both objects and heaps (an object may refer
 *              only to its own heap's).
 *   2. mark    G < 2 with the set proved acyclic in step 1: every member
 *              survives (exact reference counts), finished in set order,
 *              nothing traversed.  Otherwise:
 *              gc_refs > 0 means referenced from outside the set.  Such
 *              members, and every member they reach (explicit stack, never
 *              recursion), are "finished": COLLECTING cleared and the object
 *              placed in generation min(G+1, 2) as a survivor.  (G < 2:
 *              room for every member is reserved first, in young[1] for
 *              G = 0, on the stack for G = 1, and the survivors appended
 *              there are the work queue, breadth first.  G = 2: one scan
 *              in allocation order, arena by arena, as CPython's
 *              move_unreachable: a promoted member sets gc_refs = 1 on the
 *              members ahead of the scan it reaches, which the scan then
 *              promotes in turn; only members behind it go on the stack.
              Both passes of G = 2 are address-order streams and
              prefetch a fixed distance ahead: neither changes state.)
 *              A member
 *              the scan meets with gc_refs == 0 is put in U tentatively:
 *              UNREACHABLE set and one reference (the "hold") taken; if
 *              propagation reaches it later it gives the hold back and is
 *              finished.  What still has COLLECTING after the scan is U.
 *              (Out of memory for the stack: everything survives.)
 *   3. U      COLLECTING|UNREACHABLE set, SLOT meaningless; every member
 *              holds the collector's reference, so no member of U is freed
 *              before step 4, whatever finalizers and callbacks do.
 *              a. legacy finalizers and all they reach in U form L:
 *                 UNREACHABLE cleared, COLLECTING and hold kept; L is
 *                 packed after U in the work list;
 *              b. weak references to U cleared, weak references that are
 *                 themselves in U killed (no callback ever runs for them),
 *                 then callbacks of the others run, newest first per
 *                 object;
 *              c. every finalizer in U runs once (FINALIZED set first);
 *              d. resurrection (only if a finalizer ran): SLOT = refcnt - 1
 *                 - references from U; > 0 means resurrected: it and all it
 *                 reaches in U are finished into generation 2, holds
 *                 dropped;
 *              e. the rest (final garbage F): weak references made by
 *                 finalizers are cleared; members only the hold and other
 *                 such members keep, acyclically (SLOT == 0 after
 *                 refcount_dead), are those CPython freed by refcounting
 *                 during finalization: not counted (DEBUG_SAVEALL: F
 *                 minus those is appended to garbage and survives).
 *   4. release for each member of F in order: SLOT = its index in the
 *              chunk (gc->release), `clear`, hold dropped.  A member dies
 *              when its last reference goes — now or when a later member
 *              is cleared; rcyi_gc_on_free of a member (COLLECTING|
 *              UNREACHABLE) nulls its entry and counts it, so stats count
 *              only what was really freed.  Entries still set afterwards
 *              survived (a cycle no `clear` broke) and are finished into
 *              generation 2.  More than RCYI_SLOT_MAX members:
 *              all are cleared first, then released in chunks of
 *              RCYI_SLOT_MAX.
 *   5. L       members that refcounting alone frees (refcount_dead) are
 *              finished and their holds dropped, so they die now; the
 *              others are finished into generation 2 (uncollectable;
 *              those with a legacy finalizer appended to garbage), then
 *              their holds dropped.
 * User code (finalizers, callbacks, clear, destroy) runs only in steps
 * 3b..5, when every object outside U obeys the "outside" invariants and
 * young[] holds no member of the set.  gc->collecting forbids nesting.
 *
 * Life of the collector (gc->stage): RUNNING from rcyi_gc_init; TEARDOWN
 * while rcyi_gc_fini releases gc.garbage and weakref.c's tables (nowhere
 * to keep new garbage: collections free or leave it); DONE afterwards:
 * the hooks are no-ops and new objects are not tracked.
 */
#ifndef RCY_SRC_GC_H
#define RCY_SRC_GC_H

#include <stddef.h>
#include <sys/types.h>

#include "object.h"

/* ---- the state (one per heap; a heap is used by one thread at a time,
 * so nothing here is locked) ------------------------------------------ */

/* A growable array of object headers (generations 0 and 1); an untracked
 * object leaves a hole (NULL) behind, see above. */
typedef struct rcyi_gc_vec {
    rcy_head_ **items;
    size_t len, cap;
    size_t live; /* non-NULL entries */
    size_t hint; /* capacity to start with after the vector emptied */
} rcyi_gc_vec;

/* One registered rcy_gc_callback (gcmodule.c). */
typedef struct rcyi_gc_callback_entry {
    rcy_gc_callback *fn;
    void *arg;
} rcyi_gc_callback_entry;

/* The incremental collector's scan of the old generation (gcincr.c).
 * An old object is VISITED in the current scan when its SLOT equals
 * `epoch` (0 or 1), PENDING otherwise (RCYI_SLOT_NONE, or the other
 * epoch's stamp left by the scan before).  A scan walks the arenas that
 * existed when it started, in address order, pool by pool (`arena`,
 * `pool`, `block`: where the walk resumes); when it ends `epoch` flips, so every
 * visited object becomes pending at once.
 *   V1  at a flip no live old object has SLOT == the new epoch: a scan
 *       meets every object alive when it started (objects do not move),
 *       and stamps only with its own epoch, so the stamps of the scan
 *       before were all replaced or died.
 *   V2  visited-ness never decides an object's fate, only whether a scan
 *       takes it again: any subset of the tracked objects is a safe set
 *       for trial deletion (refcounts are exact), so no write barrier is
 *       needed; it matters for completeness only (see gcincr.c). */
typedef struct rcyi_gc_scan {
    uintptr_t *arenas; /* bases, ascending; NULL: no scan started */
    size_t narenas;
    size_t arena;         /* cursor: next arena index */
    unsigned pool;        /* cursor: next pool of that arena */
    uint32_t block;       /* cursor: next block of that pool */
    uint32_t epoch;       /* the SLOT of a visited old object */
    int ended;            /* the cursor passed the last pool: flip after this increment */
    size_t increments;    /* increments of this scan */
    size_t scans;         /* scans ended */
    size_t examined;      /* the last gather's: objects walked and old members taken */
    rcy_head_ **members;  /* the increment being gathered */
    size_t nmembers, cap; /* (freed when the increment ends) */
} rcyi_gc_scan;

/* gc->stage, in the order it moves through. */
typedef enum rcyi_gc_stage {
    RCYI_GC_RUNNING = 0,  /* collections and hooks work */
    RCYI_GC_DONE = 1,     /* rcyi_gc_fini finished: hooks are no-ops */
    RCYI_GC_TEARDOWN = 2, /* rcyi_gc_fini running: garbage is not kept */
} rcyi_gc_stage;

typedef struct rcyi_gc_state {
    rcyi_gc_vec young[2];    /* generations 0 and 1 */
    size_t count[3];         /* rcy_gc_get_count */
    size_t trigger;          /* count[0] above which on_new needs its slow path */
    size_t threshold[3];     /* rcy_gc_get_threshold */
    size_t long_lived_total; /* generation 2's size after the last full collection */
    size_t ntracked;         /* tracked objects, frozen included */
    size_t nfrozen;          /* tracked objects in the permanent generation */
    int enabled;             /* automatic collection on */
    int collecting;          /* a collection is running (no nesting) */
    int hard;                /* full collection at every tracked allocation */
    int emergency;           /* rcy_gc_set_emergency: collect when an allocation fails */
    int incremental;         /* rcy_gc_set_incremental: automatic collections are increments */
    rcyi_gc_scan scan;       /* gcincr.c */
    size_t emergencies;      /* emergency collections run (rcy_gc_stats) */
    rcyi_gc_stage stage;
    unsigned debug; /* RCY_GC_DEBUG_* */
    rcy_gc_gen_stats stats[3];
    struct rcy_list *garbage;          /* rcy_gc_garbage, created on demand */
    rcyi_gc_callback_entry *callbacks; /* rcy_gc_callbacks_add */
    size_t ncallbacks, callbacks_cap;
    /* Release phase of a collection: final garbage indexed by SLOT. */
    rcy_head_ **release;
    size_t released_freed;
} rcyi_gc_state;

/* ---- gcword values the collector writes ------------------------------ */

/* Bits that survive every change of generation. */
#define RCYI_GC_KEEP_BITS (RCYI_GC_TRACKED | RCYI_GC_FINALIZED | RCYI_GC_WEAKREFS | RCYI_GC_LARGE)
/* A member of U during a collection. */
#define RCYI_GC_IN_U (RCYI_GC_COLLECTING | RCYI_GC_UNREACHABLE)

/* w as generation g outside any vector (g = 2, old, or 3, frozen). */
static inline uint32_t rcyi_gc_unlisted_word(uint32_t w, unsigned g) {
    return (w & RCYI_GC_KEEP_BITS) | rcyi_gen_bits(g) | rcyi_slot_bits(RCYI_SLOT_NONE);
}
/* w once its object is untracked. */
static inline uint32_t rcyi_gc_untracked_word(uint32_t w) {
    return (w & (RCYI_GC_FINALIZED | RCYI_GC_WEAKREFS | RCYI_GC_LARGE)) |
           rcyi_slot_bits(RCYI_SLOT_NONE);
}

/* Tracked objects in generation 2 (outside a collection). */
static inline size_t rcyi_gc_old_count(const rcyi_gc_state *gc) {
    return gc->ntracked - gc->nfrozen - gc->young[0].live - gc->young[1].live;
}

/* ---- gc.c: the collector's hooks in the object life cycle ----------- */

int rcyi_gc_init(rcy_heap *h);
/* Collect until nothing more is found, run pending finalizers, report
 * what remains per the debug flags.  Called by rcy_heap_free first. */
void rcyi_gc_fini(rcy_heap *h);
/* A new object whose type has traverse: make it tracked in generation 0
 * (may run an automatic collection). */
void rcyi_gc_on_new(rcy_heap *h, rcy_head_ *obj);
/* A tracked object is being freed by refcount: drop it from its
 * generation. */
void rcyi_gc_on_free(rcy_heap *h, rcy_head_ *obj);
/* Their slow paths, and the pop of trailing holes (len - 1 is a hole). */
void rcyi_gc_on_new_slow(rcy_heap *h, rcy_head_ *obj);
void rcyi_gc_on_free_slow(rcy_heap *h, rcy_head_ *obj);
void rcyi_gc_vec_pop_holes(rcy_heap *h, rcyi_gc_vec *v);

/* rcyi_gc_on_new inlined (gc is &h->gc; object.c's allocation paths): a
 * new object is never tracked yet, so one compare decides whether
 * anything but an append to generation 0 is due (see
 * rcyi_gc_update_trigger).  Inlined into object.c's tracked allocation,
 * this and rcyi_gc_on_free_inline saved 2.5% of binary_trees 16 tracked's
 * instructions (callgrind). */
static inline void rcyi_gc_on_new_inline(rcy_heap *h, rcyi_gc_state *gc, rcy_head_ *obj) {
    rcyi_gc_vec *v = &gc->young[0];
    if (RCY_UNLIKELY(++gc->count[0] > gc->trigger) || RCY_UNLIKELY(v->len == v->cap)) {
        rcyi_gc_on_new_slow(h, obj);
        return;
    }
    size_t i = v->len++;
    v->items[i] = obj;
    v->live++;
    gc->ntracked++;
    obj->gcword = (obj->gcword & RCYI_GC_KEEP_BITS) | RCYI_GC_TRACKED | rcyi_slot_bits(i);
}

/* rcyi_gc_on_free inlined: the common death, a tracked object outside a
 * collection's garbage. */
static inline void rcyi_gc_on_free_inline(rcy_heap *h, rcyi_gc_state *gc, rcy_head_ *obj) {
    uint32_t w = obj->gcword;
    if (RCY_UNLIKELY((w & (RCYI_GC_TRACKED | RCYI_GC_COLLECTING)) != RCYI_GC_TRACKED) ||
        RCY_UNLIKELY(gc->stage == RCYI_GC_DONE)) {
        rcyi_gc_on_free_slow(h, obj);
        return;
    }
    gc->ntracked--;
    obj->gcword = rcyi_gc_untracked_word(w);
    gc->count[0] -= gc->count[0] != 0;
    unsigned g = rcyi_gcword_gen(w);
    if (g < 2) {
        rcyi_gc_vec *v = &gc->young[g];
        uint32_t i = rcyi_gcword_slot(w);
        v->items[i] = NULL;
        v->live--;
        if (RCY_UNLIKELY(i + 1 == v->len))
            rcyi_gc_vec_pop_holes(h, v);
    } else if (g == RCYI_GC_GEN_FROZEN) {
        gc->nfrozen--;
    }
}
/* Lazy tracking (dict.c): untrack a new object as if it had never been
 * tracked (count[0] gives back what rcyi_gc_on_new added), and track it
 * later, counting it as allocated then. */
void rcyi_gc_untrack_new(rcy_heap *h, rcy_head_ *obj);
void rcyi_gc_track_late(rcy_heap *h, rcy_head_ *obj);

/* ---- gc.c: the engine, for the front end (gcmodule.c) ---------------- */

/* One collection of generations 0..gen (the phases above); returns the
 * number of unreachable objects found, or RCY_ENOMEM. */
ssize_t rcyi_gc_collect(rcy_heap *h, unsigned gen);
/* One increment (gcincr.c, CPython 3.14's incremental collection): the
 * young generations and the old objects rcyi_gc_incr_gather picks, with
 * their transitive closure, collected as one set (phases 1 to 5, counted
 * as a collection of generation 1); survivors become old and are stamped
 * visited.  Returns as rcyi_gc_collect. */
ssize_t rcyi_gc_collect_increment(rcy_heap *h, size_t budget);
/* Recompute gc->trigger after a change of what it depends on. */
void rcyi_gc_update_trigger(rcyi_gc_state *gc);
/* Track obj (no-op when tracked) in generation 0, without counting it. */
void rcyi_gc_track(rcy_heap *h, rcy_head_ *obj);
/* Remove a tracked object from its generation (untrack); a member of the
 * set being collected stays tracked until the collection ends. */
void rcyi_gc_untrack(rcy_heap *h, rcy_head_ *obj);
/* Empty a young vector (its entries are found elsewhere), keeping `hint`
 * as the capacity of its next fill. */
void rcyi_gc_vec_reset(rcy_heap *h, rcyi_gc_vec *v, size_t hint);
/* gc->garbage, created on first use (NULL when out of memory). */
struct rcy_list *rcyi_gc_garbage_list(rcy_heap *h);

/* ---- gcincr.c: the incremental scan, for the engine and the front end */

/* Inside rcyi_gc_collect_increment, after the START callbacks: the
 * members of the increment into gc->scan.members (young ones first, in
 * CPython's order, then old ones), old ones marked COLLECTING with their
 * initial gc_refs; up to `budget` objects examined beyond the young ones
 * (the cursor's walked objects and the old members).  RCY_ENOMEM (nothing
 * marked) or RCY_OK. */
int rcyi_gc_incr_gather(rcy_heap *h, size_t budget);
/* An automatic collection of an incremental heap while a scan runs, or
 * when a full collection is due (which starts a scan): one increment of
 * the automatic size; also rcy_gc_collect(heap, 1) on such a heap. */
ssize_t rcyi_gc_incr_auto(rcy_heap *h);
/* A full collection is due on an incremental heap: a scan starts (the
 * automatic collections after this one are increments); returns the
 * generation to collect now: 1, or 2 when out of memory for the scan
 * (the full collection then). */
int rcyi_gc_incr_begin(rcy_heap *h);
/* rcy_gc_step: increments until `budget` objects were examined; 1 when a
 * scan ended during the step, 0 if not, RCY_ENOMEM. */
int rcyi_gc_incr_step(rcy_heap *h, size_t budget);
/* The members array freed; `unmark`: its old members' marks undone first
 * (the increment did not run). */
void rcyi_gc_incr_release(rcy_heap *h, int unmark);
/* The scan's memory (rcyi_gc_fini, and when incremental mode goes off). */
void rcyi_gc_incr_fini(rcy_heap *h);

/* ---- gcmodule.c: the front end, for the engine ----------------------- */

/* Call every registered callback with (phase, info), in registration
 * order, over a copy of the registry (a callback may add or remove). */
void rcyi_gc_run_callbacks(rcy_heap *h, rcy_gc_phase phase, const rcy_gc_info *info);

/* ---- gcmodule.c: emergency collection, for the allocator, object.c and
 * the containers ------------------------------------------------------- */

/* An allocation of h failed (memory_limit, the raw allocator or an arena
 * mapping): run one full collection when allowed — emergency collection
 * on, automatic collection enabled, and none of a collection, a
 * finalizer, a deallocation or rcy_heap_free running on the heap — and
 * return true, so the caller retries once; false (nothing ran) otherwise.
 * User code runs inside (finalizers, callbacks): a caller must hold no
 * pointer into state a finalizer could change, which is why list.c and
 * dict.c allocate without it (rcyi_mem_try_alloc_at) and call this at the
 * start of the operation they then redo. */
bool rcyi_gc_emergency(rcy_heap *h);

/* ---- list.c ------------------------------------------------------- */

/* A list's items (all non-NULL) and their number, read once: what
 * list_traverse visits, for the collector's loops that walk a list's
 * edges without an indirect call per edge (see gc.c, subtract_one and
 * mark_edges).  Valid until the list is next changed. */
void *const *rcyi_list_items(const rcy_list *l, size_t *n);

#endif
