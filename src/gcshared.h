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
 *   L4  a heap is on the registry (registry_first, under the registry
 *       lock) <=> it has had a shared list since rcy_heap_new, and
 *       neither rcy_heap_free took it off (its list then held nothing
 *       mortal: immortal entries leave the list with SLOT = NONE) nor its
 *       list, kept for an abandoned heap, has emptied since.  A heap
 *       freed while its list holds mortal shared objects is abandoned
 *       (alloc.h R3) with one PIN, and `abandoned` set once the
 *       allocator has counted it: its cycles stay candidates, and the
 *       thread that empties the list (a death, or the requester filling
 *       the holes of a sweep) takes it off the registry and unpins it,
 *       so the heap struct outlives every registry walk.
 *   L5  rcyi_shared_stopped != 0 exactly from the return of the
 *       collection's rcyi_world_stop to just before its rcyi_world_start,
 *       written only by the requester: while it is set every thread
 *       attached to a heap is parked (thread.h S2) and no thread but the
 *       requester touches a shared object (a thread touches them only
 *       while attached; threads of never-attached heaps are kept off them
 *       by the program, <recycle/thread.h>), so the requester counts and
 *       frees them without atomics (object.h O5, alloc.h R4).
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
    int abandoned;         /* L4: the heap was freed, its list kept */
    rcy_heap *next, *prev; /* the registry, under its lock */
} rcyi_shared_list;

/* L5: the world is stopped for a shared collection (relaxed loads). */
extern int rcyi_shared_stopped __attribute__((visibility("hidden")));
static inline bool rcyi_shared_world_stopped(void) {
    return RCY_UNLIKELY(__atomic_load_n(&rcyi_shared_stopped, __ATOMIC_RELAXED) != 0);
}

/* share.c: obj has just become shared; put it on its heap's list when its
 * type has traverse. */
void rcyi_shared_add(rcy_heap *h, rcy_head_ *o);
/* object.c prepare(): a dying object leaves its list (L2). */
void rcyi_shared_forget_slow(rcy_heap *h, rcy_head_ *o);
static inline void rcyi_shared_forget(rcy_heap *h, rcy_head_ *o) {
    uint32_t w = rcyi_gcword_load(o);
    if (RCY_UNLIKELY(!(w & RCYI_GC_TRACKED) && rcyi_gcword_slot(w) != RCYI_SLOT_NONE))
        rcyi_shared_forget_slow(h, o);
}
/* heap.c rcy_heap_free, before the allocator goes: immortal entries
 * leave the list; an empty list leaves the registry (0), a list holding
 * mortal shared objects stays and the heap must be abandoned with the
 * pin returned (1), then rcyi_shared_abandoned called (L4). */
size_t rcyi_shared_on_heap_free(rcy_heap *h);
/* After rcyi_alloc_fini(h, 1): the kept list may now leave the registry
 * when it empties (L4). */
void rcyi_shared_abandoned(rcy_heap *h);

#endif
