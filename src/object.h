/* src/object.h — the object header and its invariants.
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
static inline unsigned rcyi_gen(const rcy_head_ *h) {
    return (h->gcword & RCYI_GC_GEN_MASK) >> RCYI_GC_GEN_SHIFT;
}
static inline uint32_t rcyi_slot(const rcy_head_ *h) {
    return h->gcword >> RCYI_GC_SLOT_SHIFT;
}
static inline void rcyi_set_slot(rcy_head_ *h, uint32_t slot) {
    h->gcword = (h->gcword & 0xFFu) | (slot << RCYI_GC_SLOT_SHIFT);
}

#endif
