/* src/gcshared.h — the shared graph's collector (gcshared.c): the per-heap
 * shared lists, the registry of heaps that have one, and the collection
 * of shared cycles with the world stopped (thread.h S1..S4).
 *
 * Shared objects leave their heap's collector at rcy_share (object.h:
 * SHARED => !TRACKED), so a cycle of shared objects is found here instead.
 * Every shared object whose type has traverse is put on the shared list
 * of the heap it was allocated from, and its SLOT holds its index there:
 *   L1  for a heap h and i < h->shared.len:
 *         rcyi_gcword_slot(h->shared.items[i]->gcword) == i, the object is
 *         !TRACKED, in the shared graph, and its block is h's;
 *       a shared object with traverse that is on no list (the list could
 *       not grow, or holds RCYI_SLOT_MAX entries already) has SLOT ==
 *       RCYI_SLOT_NONE: it is never a candidate, so it and what it reaches
 *       only outlive their cycle (always safe).
 *   L2  so !TRACKED && SLOT != RCYI_SLOT_NONE <=> on a shared list (every
 *       other untracked object has SLOT == RCYI_SLOT_NONE, gc.h); object.c
 *       prepare() unlinks a dying object with rcyi_shared_forget (swap
 *       with the last entry, whose SLOT is rewritten).
 *   L3  items/len/cap are changed only under `lock` (a spinlock held for a
 *       few instructions: append, swap-remove); the collector reads them
 *       with the world stopped, under the lock too.  One exception: while
 *       the requester frees the garbage (world stopped, every death on its
 *       thread) a dying entry becomes a hole (NULL, counted in `holes`),
 *       without the lock; the holes are filled before the restart.
 *   L4  a heap is on the registry (rcyi_shared_heaps, under the registry
 *       lock) <=> it has had a shared list since rcy_heap_new; rcy_heap_free
 *       takes it off and empties its list, leaving the SLOTs of what it
 *       held (they may be dying on other threads, writing their gcword):
 *       an object of a freed heap may keep a stale SLOT, which nothing
 *       reads but rcyi_shared_forget, which then finds the list empty.
 * During a shared collection (world stopped, no user code running) SLOT
 * holds gc_refs and COLLECTING marks the candidates, as gc.h's phase 1-2;
 * every SLOT is rewritten to its list index (L1) before any finalizer,
 * weakref callback or `clear` runs, and the members of U carry only
 * UNREACHABLE then (no heap-local collection reads that bit without
 * COLLECTING). */
#ifndef RCY_SRC_GCSHARED_H
#define RCY_SRC_GCSHARED_H

#include <stddef.h>

#include "object.h"

typedef struct rcyi_shared_list {
    rcy_head_ **items; /* from the heap's raw allocator */
    size_t len, cap;
    size_t holes;          /* NULL entries, only while the requester sweeps */
    int lock;              /* L3 */
    int registered;        /* L4 */
    rcy_heap *next, *prev; /* the registry, under its lock */
} rcyi_shared_list;

/* share.c: obj has just become shared; put it on its heap's list when its
 * type has traverse. */
void rcyi_shared_add(rcy_heap *h, rcy_head_ *o);
/* object.c prepare(): a dying object leaves its list (L2). */
void rcyi_shared_forget_slow(rcy_heap *h, rcy_head_ *o);
static inline void rcyi_shared_forget(rcy_heap *h, rcy_head_ *o) {
    uint32_t w = o->gcword;
    if (RCY_UNLIKELY(!(w & RCYI_GC_TRACKED) && rcyi_gcword_slot(w) != RCYI_SLOT_NONE))
        rcyi_shared_forget_slow(h, o);
}
/* heap.c rcy_heap_free: off the registry, the list freed (L4). */
void rcyi_shared_fini(rcy_heap *h);

#endif
