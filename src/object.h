/* src/object.h — the object header and its invariants, and the object
 * layer's per-heap state (object.c).
 *
 * Every object is laid out as [rcy_head_ (16 bytes)][user struct].  The
 * pointer users hold points just past the header.
 *
 *   refcnt   0 only for a freed block (the allocator's free object blocks
 *            have refcnt == 0 and gcword == 0); RCY_REFCNT_IMMORTAL for
 *            immortal objects; otherwise the number of strong references.
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
 * Invariant: !TRACKED => GEN == 0 and SLOT == RCYI_SLOT_NONE.
 * Invariant: FINALIZED is set once, before `finalize` runs, and never
 *            cleared (PEP 442: finalizers run at most once).
 */
#ifndef RCY_SRC_OBJECT_H
#define RCY_SRC_OBJECT_H

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
 *       stack's memory goes back as soon as it empties) */
typedef struct rcyi_object_state {
    unsigned depth;
    unsigned finalizing; /* finalizers running on this heap's call stack */
    size_t deferred_len, deferred_cap;
    rcy_head_ **deferred; /* from rcyi_alloc(RAW); freed by rcy_heap_free */
} rcyi_object_state;

/* Frees the object layer's per-heap bookkeeping (rcy_heap_free). */
void rcyi_object_fini(rcy_heap *h);

#endif
