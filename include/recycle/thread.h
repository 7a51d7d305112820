/* recycle/thread.h — objects shared between threads.  Included by
 * <recycle.h>; do not include directly.
 *
 * Objects are private to their heap's thread by default; sharing is an
 * explicit act.  rcy_share(obj) marks obj and everything it reaches as
 * shared, for good: from then on any thread may incref and decref them
 * (one atomic add each), while private objects keep the plain counting of
 * a single-threaded heap.  A shared object refers only to shared or
 * immortal objects; every store into a shared object keeps that true:
 * the containers do it themselves, user types store with RCY_STORE.
 * See the guide's "Threads" section for what works today. */
#ifndef RECYCLE_THREAD_H
#define RECYCLE_THREAD_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Heaps move between threads like a lua_State: a heap is attached to at
 * most one thread at a time.  Attach it on one thread, detach it there and
 * attach it on another (the calls order everything the first thread did
 * before what the second does).  Once attached, a heap must be used
 * only by the thread it is attached to (rcy_mem_free_remote aside):
 * debug heaps (RCY_DEBUG=1) report any allocation or free from another
 * thread, or while detached, as fatal misuse.  A heap never attached is
 * used by one thread at a time, which the program ensures (as before
 * attach existed).
 * attach: RCY_OK (also when attached to this thread already); RCY_ESTATE,
 * reported as misuse, when another thread holds it.  detach: RCY_OK, or
 * RCY_ESTATE (misuse) when the heap is not attached to this thread. */
RCY_API int rcy_heap_attach(rcy_heap *heap);
RCY_API int rcy_heap_detach(rcy_heap *heap);
/* True when heap is attached to the calling thread. */
RCY_API bool rcy_heap_is_attached(rcy_heap *heap);

/* Safepoints and the shared collector's stop-the-world.  A thread with
 * at least one heap attached is part of the "world": rcy_gc_collect_shared
 * stops every such thread at its next safepoint before it looks at the
 * shared graph, and restarts them when done.  Safepoints are
 * rcy_safepoint, the allocation slow path, rcy_share and attach; a thread
 * running long without allocating (a loop over shared objects, an
 * interpreter's backward branches) calls rcy_safepoint every so often
 * (one relaxed load when no stop is pending).  Around anything that may
 * block (a lock wait, I/O, a join, a condition wait) a thread detaches:
 * rcy_blocking_begin(heap) ... rcy_blocking_end(heap) (detach, then
 * attach again; with several heaps attached, detach them all), so a stop
 * never waits for it; while the world is stopped, an attach waits for the
 * restart, and is served before the next stop begins (no starvation).
 * A thread touches shared objects only while attached.  Threads using
 * only never-attached heaps are not part of the world: a program that
 * has them touch shared objects must keep them from doing so while
 * rcy_gc_collect_shared runs.  heap: the caller's (unused today; NULL is
 * allowed).  begin/end return as rcy_heap_detach/rcy_heap_attach. */
RCY_API void rcy_safepoint(rcy_heap *heap);
RCY_API int rcy_blocking_begin(rcy_heap *heap);
RCY_API int rcy_blocking_end(rcy_heap *heap);

/* Frees ptr, a block rcy_mem_alloc & co. handed out from heap, from any
 * thread.  On the thread heap is attached to (or when heap was never
 * attached) it is rcy_mem_free.  From any other thread -- heap attached
 * elsewhere, or detached -- the block goes onto the heap's remote-free
 * list with one CAS (a retry only when another push or the owner's take
 * raced it; rcy_mem_stats counts them), no lock, nothing else touched;
 * the heap's thread takes the list back in its allocation slow path,
 * so the memory is reused within one slow-path cycle.  That thread
 * checks the block is heap's when it takes it back (debug heaps also
 * check the front guard here).  The block's trace (rcy_tracemalloc) goes
 * at once.  heap must outlive the call.  NULL ptr: nothing; NULL heap:
 * misuse.  Objects are not freed this way yet: the last reference of an
 * object is still dropped on its heap's thread. */
RCY_API void rcy_mem_free_remote(rcy_heap *heap, void *ptr);

/* Share obj and every private object it reaches (through the types'
 * traverse), for good.  Must be called on the thread using obj's heap,
 * before another thread can see obj (a publication through a lock, a
 * queue or an atomic with release order then hands it over).  An object
 * already shared or immortal ends the walk; a private object whose count
 * no longer fits the shared count (2^30) becomes immortal.  The shared
 * objects leave the heap's cycle collector: rcy_gc_is_tracked is false
 * for them, and a cycle among shared objects is collected by
 * rcy_gc_collect_shared (<recycle/gc.h>), across every heap.
 * RCY_OK; RCY_ESTATE when called while obj's heap is collecting (from a
 * finalizer or gc callback); NULL is misuse (RCY_EINVAL). */
RCY_API int rcy_share(void *obj);
/* True if obj is shared (including a shared object made immortal). */
RCY_API bool rcy_is_shared(const void *obj);
/* The sharing invariant checked over a heap: every edge (through the
 * types' traverse) from a shared object of the heap to a private object
 * is counted, and the first is reported as misuse with both types and
 * addresses ("shared object of type doc (0x...) refers to private object
 * of type node (0x...)").  Returns the count (0 when the invariant
 * holds).  O(heap).  Debug builds run it at every full collection, heaps
 * in debug mode at rcy_heap_free. */
RCY_API size_t rcy_share_check(rcy_heap *heap);

/* Whether stores into obj must share what they store (inline test of the
 * refcount word, src/object.h): shared, or shared and made immortal. */
static inline bool rcy_in_shared_graph_(const void *obj) {
    uint32_t rc = RCY_REFCNT_LOAD_(RCY_HEAD_(obj));
    return (rc & 0x80000000u) && rc != 0xF0000000u; /* RCYI_RC_IMMORTAL_PRIVATE */
}

/* The store barrier for user types: `RCY_STORE(doc, doc->root, node);`
 * stores node into the field doc->root of object doc (a plain assignment;
 * reference counts are the caller's business, as with RCY_SETREF), and
 * shares node first when doc is shared.  Private owners pay one load and
 * test.  A store that bypasses it into a shared object breaks the
 * invariant: rcy_share_check finds it. */
#define RCY_STORE(owner, field, value)                                                             \
    do {                                                                                           \
        void *rcy_store_v_ = (void *)(value);                                                      \
        if (RCY_UNLIKELY(rcy_in_shared_graph_(owner)) && rcy_store_v_)                             \
            (void)rcy_share(rcy_store_v_);                                                         \
        (field) = rcy_store_v_;                                                                    \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* RECYCLE_THREAD_H */
