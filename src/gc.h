/* src/gc.h — the cycle collector's internal interface and invariants
 * (gc.c: generations, trial deletion, PEP 442 finalization; weakref.c:
 * weak references and finalize objects).
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
 *   TRACKED && GEN in {2,3}  =>  SLOT == RCYI_SLOT_NONE
 *   !TRACKED                 =>  GEN == 0 && SLOT == RCYI_SLOT_NONE
 *   COLLECTING and UNREACHABLE are clear on every object
 *   ntracked == #TRACKED objects,  nfrozen == #(TRACKED && GEN == 3)
 *   trigger == the count[0] past which rcyi_gc_on_new must do more than
 *     append (update_trigger() after every change of what it depends on)
 * A young vector that cannot grow, or an index past RCYI_SLOT_MAX, puts
 * the object straight into generation 2 (always safe: a full collection
 * still finds it; only its collection is later than it could be).
 *
 * During a collection of generations 0..G (the "set" = TRACKED objects
 * with GEN <= G and refcnt > 0; the work list c->a holds it, from the
 * young vectors, generation 1's before 0's as CPython merges them, or for
 * G = 2 from one walk of the pools; U keeps that order, which finalizers
 * and callbacks follow), phase by phase:
 *   1. refs    COLLECTING set, SLOT = gc_refs = refcnt minus references
 *              from set members seen so far (saturating at RCYI_SLOT_MAX:
 *              a saturated count is never decremented, so the object
 *              counts as reachable from outside — always safe).  A member
 *              is initialised by whichever comes first: its own turn in
 *              the scan or a visit from another member.
 *   2. mark    gc_refs > 0 means referenced from outside the set.  Such
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
 */
#ifndef RCY_SRC_GC_H
#define RCY_SRC_GC_H

#include "heap.h"

static inline int rcyi_gc_is_young_gen(uint32_t w) {
    return ((w & RCYI_GC_GEN_MASK) >> RCYI_GC_GEN_SHIFT) < 2;
}

/* ---- gc.c --------------------------------------------------------- */

/* Remove a tracked object from its generation (untrack). */
void rcyi_gc_untrack_head(rcy_heap *h, rcy_head_ *obj);

/* ---- list.c ------------------------------------------------------- */

/* A list's items (all non-NULL) and their number, read once: what
 * list_traverse visits, for the collector's loops that walk a list's
 * edges without an indirect call per edge (see gc.c, subtract_one and
 * drain_mark).  Valid until the list is next changed. */
void *const *rcyi_list_items(const rcy_list *l, size_t *n);

/* ---- weakref.c ---------------------------------------------------- */

extern const rcy_type rcyi_finalize_type;
static inline int rcyi_is_weakref_type(const rcy_type *t) {
    return t == &rcy_weakref_type || t == &rcyi_finalize_type;
}

/* Weak references whose callbacks are due, in the order they run. */
typedef struct rcyi_wr_pending {
    struct rcy_weakref *head, *tail;
} rcyi_wr_pending;
/* Clear every weak reference to obj (they now return NULL) and append
 * those whose callback must run to *pending, newest first (Python's
 * order), each held by one extra reference.  When `skip_unreachable`,
 * weak references that are themselves members of U get no callback. */
void rcyi_weakref_detach_all(rcy_heap *h, rcy_head_ *obj, rcyi_wr_pending *pending,
                             int skip_unreachable);
/* Run the chained callbacks, then drop the references held on them.
 * Returns how many weak references that frees, counting a finalize object
 * that fired as one (what Python's collector adds to its count). */
size_t rcyi_weakref_run_pending(rcy_heap *h, rcyi_wr_pending *pending);
/* If obj is a weak reference, clear it without a callback. */
void rcyi_weakref_kill_if_weakref(rcy_heap *h, rcy_head_ *obj);
/* Run every alive finalize object with atexit on (newest first), then
 * release the registry. */
void rcyi_finalize_run_atexit(rcy_heap *h);
/* Free weakref.c's tables (after the last collection). */
void rcyi_weakref_fini(rcy_heap *h);

#endif
