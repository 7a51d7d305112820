/* src/object.h — the object header and its invariants, and the object
 * layer's per-heap state (object.c).
 *
 * Every object is laid out as [rcy_head_ (16 bytes)][user struct].  The
 * pointer users hold points just past the header.
 *
 *   refcnt   the refcount word, three states told by its top two bits
 *            (threads.md 7.1; docs/internals.md "Threads"):
 *              bit 31 = 0          PRIVATE: bits 0..30 are the count.
 *                                  Only the thread attached to the
 *                                  object's heap reads or writes it, with
 *                                  plain loads and stores (the inline
 *                                  rcy_incref/rcy_decref of core.h).
 *              bits 31,30 = 1,0    SHARED: bits 0..29 are the count; any
 *                                  thread changes it with one atomic add
 *                                  (never a CAS loop), the last decrement
 *                                  with release order and an acquire fence.
 *              bits 31,30 = 1,1    IMMORTAL: never counted.  A private
 *                                  object made immortal holds
 *                                  RCYI_RC_IMMORTAL_PRIVATE, a shared one
 *                                  RCYI_RC_IMMORTAL_SHARED (both mid-range),
 *                                  so that increments or decrements racing
 *                                  with its immortalisation or with a
 *                                  count overflowing into bit 30 (which
 *                                  makes a shared object immortal, as
 *                                  CPython does) stay immortal.
 *            No live word is all ones (the incref fast path relies on it:
 *            its sum is never 0).  rcy_getrefcount reports
 *            RCY_REFCNT_IMMORTAL for every immortal word.
 *            0 only for a freed block (the allocator's free object blocks
 *            have refcnt == 0 and gcword == 0).  The fast paths test the
 *            sign of the word after the add: shared and immortal objects,
 *            and a private count about to reach bit 31 (it saturates to
 *            immortal), take the slow path.
 *   type     the object's rcy_type.  A FREE block keeps the type of the
 *            object that died there (NULL if none ever lived there): the
 *            allocator links free object blocks through the word after
 *            the header (RCYI_LINK_OBJECT; in debug mode through the front
 *            guard), so "decref of a dead object" can name the type.  An
 *            object block is therefore at least RCYI_OBJ_MIN_BLOCK (32)
 *            bytes, even for a type of size 0.
 *   gcword   bits below.  Outside a collection the SLOT field holds the
 *            object's index in its young generation's vector (generations
 *            0 and 1), or RCYI_SLOT_NONE for objects in the old generation
 *            (found by walking the allocator's object pools) and for
 *            untracked objects.  During a collection SLOT holds gc_refs,
 *            saturating at RCYI_SLOT_MAX (a saturated count is never
 *            decremented: such an object is treated as reachable from
 *            outside, which is always safe).
 *
 * Invariant: TRACKED => type->traverse != NULL.
 * Invariant: !TRACKED => GEN == 0, and SLOT == RCYI_SLOT_NONE unless the
 *            object is on a shared list (src/gcshared.h L2).
 * Invariant: FINALIZED is set once, before `finalize` runs, and never
 *            cleared (PEP 442: finalizers run at most once).
 * Invariant (sharing, share.c): SHARED is set once, by the thread attached
 *            to the object's heap, before any other thread can reach the
 *            object, and never cleared (an object may become IMMORTAL).
 *            A SHARED object refers only to SHARED or IMMORTAL objects,
 *            so every cycle is wholly private to one heap or wholly
 *            shared.  SHARED => !TRACKED: heap-local collections never
 *            see shared objects (their gcword is written only by the
 *            thread that shares them, by their deallocation and by the
 *            shared collector with the world stopped; SLOT holds the
 *            index in the heap's shared list, src/gcshared.h L1).
 *            Checked by rcy_share_check, and at every full collection in
 *            debug mode.
 */
#ifndef RCY_SRC_OBJECT_H
#define RCY_SRC_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recycle.h"

#define RCYI_GC_TRACKED     0x01u /* the collector sees this object            */
#define RCYI_GC_FINALIZED   0x02u /* type->finalize has been called            */
#define RCYI_GC_GEN_SHIFT   2     /* 2 bits: generation 0, 1, 2; 3 = frozen    */
#define RCYI_GC_GEN_MASK    0x0Cu
#define RCYI_GC_GEN_FROZEN  3u
#define RCYI_GC_WEAKREFS    0x10u /* some weak reference may point here        */
#define RCYI_GC_COLLECTING  0x20u /* member of the set being collected         */
#define RCYI_GC_UNREACHABLE 0x40u /* tentatively unreachable in this collection */
#define RCYI_GC_LARGE       0x80u /* block came from the raw allocator         */
#define RCYI_GC_SLOT_SHIFT  8     /* 24 bits: vector index or gc_refs          */
#define RCYI_SLOT_MAX       0xFFFFFEu
#define RCYI_SLOT_NONE      0xFFFFFFu

/* The refcount word's states (above). */
#define RCYI_RC_HIGH             0x80000000u /* shared or immortal          */
#define RCYI_RC_IMMORTAL_BIT     0x40000000u /* with HIGH: immortal         */
#define RCYI_RC_SHARED_MAX       0x3FFFFFFFu /* a shared count's largest    */
#define RCYI_RC_IMMORTAL_SHARED  0xE0000000u /* a shared object made immortal */
#define RCYI_RC_IMMORTAL_PRIVATE 0xF0000000u /* a private object made immortal */
static inline bool rcyi_rc_is_private(uint32_t rc) {
    return !(rc & RCYI_RC_HIGH);
}
static inline bool rcyi_rc_is_immortal(uint32_t rc) {
    return (rc & (RCYI_RC_HIGH | RCYI_RC_IMMORTAL_BIT)) == (RCYI_RC_HIGH | RCYI_RC_IMMORTAL_BIT);
}
static inline bool rcyi_rc_is_shared(uint32_t rc) {
    return (rc & (RCYI_RC_HIGH | RCYI_RC_IMMORTAL_BIT)) == RCYI_RC_HIGH;
}
/* The number of references a refcount word stands for (immortal: the
 * public RCY_REFCNT_IMMORTAL). */
static inline uint32_t rcyi_rc_count(uint32_t rc) {
    if (rcyi_rc_is_private(rc))
        return rc;
    return rcyi_rc_is_shared(rc) ? rc & RCYI_RC_SHARED_MAX : RCY_REFCNT_IMMORTAL;
}
static inline uint32_t rcyi_refcnt_load(const rcy_head_ *h) {
    return __atomic_load_n(&h->refcnt, __ATOMIC_RELAXED);
}
/* A gcword another thread may change (a shared object's: WEAKREFS by an
 * atomic or, SLOT by a shared list's swap-remove under its lock). */
static inline uint32_t rcyi_gcword_load(const rcy_head_ *h) {
    return __atomic_load_n(&h->gcword, __ATOMIC_RELAXED);
}
/* A new reference to an object in the shared graph unless its count is 0
 * (it is dying on some thread): false then.  The library's one CAS loop
 * on a refcount word (weakref.h W6: a weak reference's referent, and a
 * weak reference held for its callback, may be dying elsewhere). */
static inline bool rcyi_try_incref_shared(rcy_head_ *h) {
    uint32_t rc = rcyi_refcnt_load(h);
    for (;;) {
        if ((rc & (RCYI_RC_HIGH | RCYI_RC_IMMORTAL_BIT)) != RCYI_RC_HIGH)
            return (rc & RCYI_RC_HIGH) != 0; /* immortal: yes; private: not ours to count */
        if ((rc & RCYI_RC_SHARED_MAX) == 0)
            return false;
        if (__atomic_compare_exchange_n(&h->refcnt, &rc, rc + 1, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    }
}
/* In the shared graph: shared, or a shared object made immortal (only a
 * private object made immortal holds exactly RCYI_RC_IMMORTAL_PRIVATE).  What
 * the store barrier tests on the object stored into. */
static inline bool rcyi_rc_in_shared_graph(uint32_t rc) {
    return (rc & RCYI_RC_HIGH) && rc != RCYI_RC_IMMORTAL_PRIVATE;
}

static inline rcy_head_ *rcyi_head(const void *obj) {
    return RCY_HEAD_(obj);
}
static inline void *rcyi_obj(rcy_head_ *h) {
    return (void *)(h + 1);
}
/* The fields of a gcword, and gcword bits from field values (the
 * collector builds and reads words with these, never with raw shifts). */
#define RCYI_GC_FLAG_BITS 0xFFu /* every bit below SLOT */
#define RCYI_GC_SLOT_ONE  (1u << RCYI_GC_SLOT_SHIFT)
static inline unsigned rcyi_gcword_gen(uint32_t w) {
    return (w & RCYI_GC_GEN_MASK) >> RCYI_GC_GEN_SHIFT;
}
static inline uint32_t rcyi_gcword_slot(uint32_t w) {
    return w >> RCYI_GC_SLOT_SHIFT;
}
static inline uint32_t rcyi_gen_bits(unsigned g) {
    return (uint32_t)g << RCYI_GC_GEN_SHIFT;
}
static inline uint32_t rcyi_slot_bits(uint32_t slot) {
    return slot << RCYI_GC_SLOT_SHIFT;
}
/* w with its SLOT replaced by `slot`, every flag kept. */
static inline uint32_t rcyi_gcword_with_slot(uint32_t w, uint32_t slot) {
    return (w & RCYI_GC_FLAG_BITS) | rcyi_slot_bits(slot);
}
static inline uint32_t rcyi_slot(const rcy_head_ *h) {
    return rcyi_gcword_slot(h->gcword);
}

/* ---- object.c: the object layer's per-heap state --------------------- */

/* Deallocation depth and the deferred-deallocation stack (the
 * "trashcan").
 *   O1  depth == the number of object deallocations in progress on this
 *       heap's call stack; finalizing == the number of finalizers running
 *   O2  an object whose deallocation starts at depth >=
 *       RCYI_DEALLOC_MAX_DEPTH is pushed on `deferred` (refcnt 0,
 *       untracked, finalized, type intact) and released by the outermost
 *       deallocation (depth 1), so deferred_len == 0 whenever depth == 0
 *   O3  deferred == NULL <=> deferred_cap == 0 (deep frees are rare: the
 *       stack's memory goes back as soon as it empties)
 *   O4  a SHARED object dies on the thread that drops its last reference,
 *       whichever heap it belongs to and whether or not that heap is
 *       attached there: its finalizer, weak reference callbacks and
 *       destructor run on that thread (its children are shared or
 *       immortal, so their decrefs are atomic), counted in a per-THREAD
 *       rcyi_object_state (object.c's shared_deaths, O1-O3 with "this
 *       thread" for "this heap"; its deferred stack from libc), never in
 *       the heap's, which only its attached thread touches.  Its block
 *       goes back by rcyi_free_object_shared (alloc.h R2): freed at once
 *       when the thread is attached to the heap, otherwise pushed on the
 *       heap's remote list with refcnt and gcword zeroed, and reused by
 *       the owner after its next allocation slow path.  The dying
 *       object's refcount word stays in the shared range (count 0) until
 *       the owner takes the block back, so the owner's heap-local walks
 *       (which skip the shared graph) never read the header the dying
 *       thread writes.  If the heap was freed meanwhile, the last of its
 *       shared objects to die frees what is left of it (alloc.h R3).
 *   O5  while a thread has the world stopped (thread.h S2: every other
 *       thread that may touch a shared object is parked, since a thread
 *       touches them only while attached), it is the only one counting
 *       shared objects: it changes their words with plain loads and
 *       stores instead of atomic adds (decref_other, and the shared
 *       collector's holds, gcshared.c), and the blocks of the shared
 *       objects that die go straight back into their heaps' pools when
 *       alloc.h R4 allows it, not by the remote list. */
typedef struct rcyi_object_state {
    unsigned depth;
    unsigned finalizing; /* finalizers running on this heap's call stack */
    size_t deferred_len, deferred_cap;
    rcy_head_ **deferred; /* from rcyi_alloc(RAW); freed by rcy_heap_free */
} rcyi_object_state;

/* O5: one reference to shared object hd (count > 0; nothing if it was
 * made immortal) dropped by the thread that has the world stopped; it
 * dies here at 0. */
void rcyi_decref_shared_stopped(rcy_head_ *hd);
/* Frees the object layer's per-heap bookkeeping (rcy_heap_free). */
void rcyi_object_fini(rcy_heap *h);
/* rcy_share just marked o (share.c): its trace moves where any thread may
 * remove it (tracemalloc.h rcyi_trace_share) and its weak references
 * follow it (weakref.h W5; visit shares what they need shared). */
void rcyi_object_on_share(rcy_heap *h, rcy_head_ *o, rcy_visitproc visit, void *arg);

/* ---- share.c: the store barrier ---------------------------------------- */

/* The containers' store barrier (RCY_STORE for library code): `value`,
 * about to be stored into `owner`, is shared when owner is in the shared
 * graph.  One load and test on an owner that is being written anyway.
 * 0, or rcy_share's error. */
static inline int rcyi_share_store(const void *owner, void *value) {
    if (RCY_UNLIKELY(rcyi_rc_in_shared_graph(rcyi_refcnt_load(RCY_HEAD_(owner)))))
        return rcy_share(value);
    return 0;
}
/* Debug mode (RCY_DEBUG builds, at every full collection; heaps in debug
 * mode, at rcy_heap_free): the sharing invariant over the heap, each
 * shared-to-private edge reported as misuse with both types. */
size_t rcyi_share_validate(rcy_heap *h);
/* The same check over one shared object's children: the number of
 * private children, the first reported (gcshared.c, in debug mode). */
size_t rcyi_share_check_children(rcy_head_ *o);

#endif
