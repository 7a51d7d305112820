/* src/object.c — object creation, the reference-count slow path and
 * deallocation.
 *
 * Life cycle of an object (header states, see src/object.h):
 *   rcy_new: block from rcyi_alloc(OBJECT), zero-filled, refcnt 1, type set,
 *            SLOT = NONE; traced; tracked (rcyi_gc_on_new) if the type has
 *            traverse.
 *   refcnt reaches 0 (rcy_decref_slow_ -> dealloc):
 *     1. finalize, at most once (FINALIZED set first); it runs with refcnt
 *        temporarily 1 and may resurrect the object (PEP 442);
 *     2. weak references cleared (only if WEAKREFS is set);
 *     3. untracked (rcyi_gc_on_free);
 *     4. released: destroy (or clear), then refcnt/gcword zeroed, trace
 *        removed, block freed.
 *   For a small object without weak references or a pending finalizer,
 *   while nothing is traced, rcy_decref_slow_ does steps 3-4 itself
 *   (nothing to do in 1-2) with one lookup of the block's pool.
 *   Step 4 is deferred when RCYI_DEALLOC_MAX_DEPTH deallocations are
 *   already running on this heap: the object goes on the heap's deferred
 *   stack and the outermost deallocation releases it, so freeing a chain of
 *   any length needs bounded C stack (CPython's trashcan).
 *
 * Convention shared with tracemalloc.c: an object is traced in domain 0
 * under its USER pointer (header + 16), with the size of the whole block
 * (header included). */
#include "heap.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Deallocations nested deeper than this on one heap are deferred.  Each
 * level costs a few small frames (decref slow path, dealloc, the type's
 * destroy), so this stays far below any thread's stack size. */
#define RCYI_DEALLOC_MAX_DEPTH 200u

#define HEAD_SIZE sizeof(rcy_head_)

_Static_assert(sizeof(rcy_head_) == 16, "the object header is 16 bytes");
_Static_assert(RCY_REFCNT_IMMORTAL == UINT32_MAX, "immortal is reported as the saturated count");
#define IMMORTAL_BITS (RCYI_RC_HIGH | RCYI_RC_IMMORTAL_BIT)
_Static_assert((RCYI_RC_IMMORTAL_PRIVATE & IMMORTAL_BITS) == IMMORTAL_BITS &&
                   (RCYI_RC_IMMORTAL_SHARED & IMMORTAL_BITS) == IMMORTAL_BITS,
               "both immortal words are in the immortal range");

/* ---- creation -------------------------------------------------------- */

/* memset(p, 0, n) for the small sizes most objects have, as a few
 * overlapping fixed-size stores instead of a library call. */
static inline void zero_fill(void *p, size_t n) {
    unsigned char *c = p;
    if (n >= 32) {
        if (n > 64) {
            memset(c, 0, n);
            return;
        }
        memset(c, 0, 32);
        memset(c + n - 32, 0, 32);
    } else if (n >= 16) {
        memset(c, 0, 16);
        memset(c + n - 16, 0, 16);
    } else if (n >= 8) {
        memset(c, 0, 8);
        memset(c + n - 8, 0, 8);
    } else if (n >= 4) {
        memset(c, 0, 4);
        memset(c + n - 4, 0, 4);
    } else if (n) {
        c[0] = 0;
        c[n / 2] = 0;
        c[n - 1] = 0;
    }
}

/* zero_fill for n <= RCYI_OBJ_FAST_MAX, with no library call. */
static inline void zero_small(void *p, size_t n) {
    unsigned char *c = p;
    if (n >= 32) {
        memset(c, 0, 32);
        memset(c + n - 32, 0, 32);
    } else if (n >= 16) {
        memset(c, 0, 16);
        memset(c + n - 16, 0, 16);
    } else {
        zero_fill(p, n);
    }
}

/* A failed object allocation's second chance: one emergency collection
 * (gc.h), then the request again. */
__attribute__((noinline)) static rcy_head_ *alloc_retry(rcy_heap *h, size_t size) {
    return rcyi_gc_emergency(h) ? rcyi_alloc(h, size, RCYI_KIND_OBJECT) : NULL;
}

static inline void *new_object(rcy_heap *h, const rcy_type *type, size_t extra) {
    if (RCY_UNLIKELY(!h || !type)) {
        rcyi_misuse("rcy_new", !h ? "heap is NULL" : "type is NULL");
        return NULL;
    }
    size_t size = type->size;
    if (RCY_UNLIKELY(size > SIZE_MAX / 2 || extra > SIZE_MAX / 2 - size - HEAD_SIZE))
        return NULL;
    size += extra + HEAD_SIZE;
    rcy_head_ *o = rcyi_alloc_inline(h, &h->alloc, size, RCYI_KIND_OBJECT);
    if (RCY_UNLIKELY(!o) && !(o = alloc_retry(h, size)))
        return NULL;
    zero_fill(o + 1, size - HEAD_SIZE);
    o->refcnt = 1;
    o->gcword =
        (RCYI_SLOT_NONE << RCYI_GC_SLOT_SHIFT) | (size > RCY_SMALL_LIMIT ? RCYI_GC_LARGE : 0);
    o->type = type;
    if (type->traverse)
        rcyi_gc_on_new(h, o);
    return o + 1;
}

/* Kept out of line so the untraced path need not keep the call site
 * alive across the allocation. */
__attribute__((noinline)) static void *new_traced(rcy_heap *h, const rcy_type *type, size_t extra,
                                                  const char *file, int line, const char *func) {
    void *obj = new_object(h, type, extra);
    if (obj)
        rcyi_trace_alloc(0, obj, type->size + extra + HEAD_SIZE, file, line, func);
    return obj;
}

/* rcy_new_ for everything but an untraced pop from a free list. */
__attribute__((noinline)) static void *new_other(rcy_heap *h, const rcy_type *type,
                                                 const char *file, int line, const char *func) {
    if (__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED))
        return new_traced(h, type, 0, file, line, func);
    return new_object(h, type, 0);
}

__attribute__((noinline)) static void *new_tracked(rcy_heap *h, rcy_head_ *o) {
    rcyi_gc_on_new_inline(h, &h->gc, o);
    return o + 1;
}

/* The common case as a leaf with no stack frame of its own: a fixed-size
 * object of 1 to RCYI_OBJ_FAST_MAX bytes popped from its class's free
 * list, untraced; anything else goes
 * to new_other (same result, the general path). */
void *rcy_new_(rcy_heap *heap, const rcy_type *type, const char *file, int line, const char *func) {
    if (RCY_LIKELY(heap != NULL && type != NULL) &&
        RCY_LIKELY(type->size - 1 < heap->alloc.obj_fast_max) &&
        RCY_LIKELY(!__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED))) {
        size_t size = type->size;
        rcy_head_ *o =
            rcyi_pool_pop(heap->alloc.lists[RCYI_KIND_OBJECT][(size + HEAD_SIZE - 1) >> 4].next,
                          RCYI_LINK_OBJECT);
        if (RCY_LIKELY(o != NULL)) {
            zero_small(o + 1, size);
            o->refcnt = 1;
            o->gcword = RCYI_SLOT_NONE << RCYI_GC_SLOT_SHIFT;
            o->type = type;
            if (RCY_UNLIKELY(type->traverse != NULL))
                return new_tracked(heap, o);
            return o + 1;
        }
    }
    return new_other(heap, type, file, line, func);
}

void *rcy_new_var_(rcy_heap *heap, const rcy_type *type, size_t extra, const char *file, int line,
                   const char *func) {
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)))
        return new_traced(heap, type, extra, file, line, func);
    return new_object(heap, type, extra);
}

/* ---- misuse reports -------------------------------------------------- */

/* The type of a header whose refcount is 0, if it can still be known: a
 * freed object block keeps the type of the object that died there (the
 * free-list link is past the header; object.h), NULL if no object ever
 * lived there.  A block since reused for rcy_mem_* data, or given back
 * to the OS, holds anything: a word that is misaligned or points into a
 * recycle block is not taken for a type. */
static const char *type_name_if_known(const rcy_head_ *hd) {
    const rcy_type *t = hd->type;
    if (!t || rcyi_heap_of_block(t) || ((uintptr_t)t & (sizeof(void *) - 1)))
        return NULL;
    return t->name;
}

RCY_NORETURN static void report_foreign(const char *what, const void *obj) {
    rcyi_fatal(RCY_EMISUSE, "%s of %p: a pointer recycle never handed out", what, obj);
}

RCY_NORETURN static void report_zero(const char *what, const void *obj, const rcy_head_ *hd) {
    const char *name = type_name_if_known(hd);
    if (hd->gcword == 0 || !name)
        rcyi_fatal(RCY_EMISUSE, "%s of a dead object at %p (type %s): its memory was already freed",
                   what, obj, name ? name : "unknown, the block is free");
    rcyi_fatal(RCY_EMISUSE,
               "%s of object %p of type %s would take its refcount below zero (it is "
               "already 0: the object is being deallocated)",
               what, obj, name);
}

/* The heap of a small object block at hd, using the allocator's inline
 * lookups (alloc.h): the arena map says the address is ours, the pool
 * header says which heap owns it, and the offset must be a block start of
 * an OBJECT pool.  NULL for anything else (large blocks, debug heaps,
 * pointers recycle never handed out): the caller then asks
 * rcyi_heap_of_block, which knows every case.  Same answer, minus a call,
 * on the path every deallocation takes. */
static inline rcy_heap *small_object_heap(const rcy_head_ *hd) {
    if (RCY_UNLIKELY((uintptr_t)hd >> 48))
        return NULL;
    return rcyi_object_block_heap(rcyi_pool_at(hd), hd);
}

/* Checks `obj` before a slow-path operation; returns its heap. */
static rcy_heap *checked_heap(const char *what, const void *obj) {
    if (RCY_UNLIKELY(!obj))
        rcyi_fatal(RCY_EMISUSE, "%s of a NULL object", what);
    const rcy_head_ *hd = RCY_HEAD_(obj);
    rcy_heap *h = rcyi_heap_of_object_block(hd);
    if (RCY_UNLIKELY(!h))
        report_foreign(what, obj);
    return h;
}

/* ---- deallocation ---------------------------------------------------- */

/* O4: the deaths of shared objects on this thread, whichever heap they
 * belong to (their deferred stack from libc's allocator). */
static __thread rcyi_object_state shared_deaths;

/* Step 4: destroy the contents and free the block (a shared object's
 * from any thread: alloc.h R2). */
static inline __attribute__((always_inline)) void release(rcy_heap *h, rcy_head_ *hd) {
    const rcy_type *t = hd->type;
    void *obj = hd + 1;
    if (t->destroy)
        t->destroy(obj);
    else if (t->clear)
        t->clear(obj);
    bool shared = rcyi_refcnt_load(hd) & RCYI_RC_HIGH; /* shared, count 0 */
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED))) {
        if (shared)
            rcyi_trace_free_shared(obj); /* its trace is in the shards */
        else
            rcyi_trace_free(0, obj);
    }
    if (RCY_UNLIKELY(shared)) {
        rcyi_free_object_shared(h, hd);
        return;
    }
    hd->refcnt = 0;
    hd->gcword = 0;
    rcyi_free_object_inline(h, hd);
}

/* Pushes hd on st's deferred stack (h's, or shared_deaths when st is not
 * h's); 0 when there was no room (the caller then releases it at once:
 * only out of memory makes the stack grow). */
static int defer(rcy_heap *h, rcyi_object_state *st, rcy_head_ *hd) {
    if (st->deferred_len == st->deferred_cap) {
        size_t cap = st->deferred_cap ? st->deferred_cap * 2 : 64;
        rcy_head_ **p = st != &h->obj  ? realloc(st->deferred, cap * sizeof *p)
                        : st->deferred ? rcyi_realloc(h, st->deferred, cap * sizeof *p)
                                       : rcyi_alloc(h, cap * sizeof *p, RCYI_KIND_RAW);
        if (!p)
            return 0;
        st->deferred = p;
        st->deferred_cap = cap;
    }
    st->deferred[st->deferred_len++] = hd;
    return 1;
}

/* Steps 1-3.  Returns 0 when the finalizer resurrected the object. */
static int prepare(rcy_heap *h, rcyi_object_state *st, rcy_head_ *hd) {
    const rcy_type *t = hd->type;
    /* Until a shared object leaves its shared list (below), another
     * thread's swap-remove may rewrite its SLOT (gcshared.h L3): its
     * gcword is read with atomic loads and changed with atomic RMWs. */
    if (t->finalize && !(rcyi_gcword_load(hd) & RCYI_GC_FINALIZED)) {
        /* A shared object stays shared while its finalizer runs: count 0
         * is RCYI_RC_HIGH, and the temporary reference is counted on it. */
        uint32_t zero = rcyi_refcnt_load(hd) & RCYI_RC_HIGH;
        if (zero)
            __atomic_fetch_or(&hd->gcword, RCYI_GC_FINALIZED, __ATOMIC_RELAXED);
        else
            hd->gcword |= RCYI_GC_FINALIZED;
        __atomic_store_n(&hd->refcnt, zero | 1, __ATOMIC_RELAXED); /* the finalizer may
                                                                    * incref and decref self */
        st->finalizing++;
        t->finalize(hd + 1);
        st->finalizing--;
        uint32_t rc = rcyi_refcnt_load(hd);
        if (rc != (zero | 1)) {
            /* Resurrected: drop the temporary reference.  If the finalizer
             * made it immortal, leave it so. */
            if (!zero && !rcyi_rc_is_immortal(rc))
                hd->refcnt--;
            else if (zero && !rcyi_rc_is_immortal(rc) &&
                     __atomic_fetch_sub(&hd->refcnt, 1, __ATOMIC_ACQ_REL) == (zero | 1))
                return 1; /* another thread dropped its references meanwhile */
            return 0;
        }
        __atomic_store_n(&hd->refcnt, zero, __ATOMIC_RELAXED);
    }
    if (rcyi_gcword_load(hd) & RCYI_GC_WEAKREFS)
        rcyi_weakref_clear_for(h, hd);
    rcyi_shared_forget(h, hd); /* off its heap's shared list (gcshared.h L2) */
    if (hd->gcword & RCYI_GC_TRACKED)
        rcyi_gc_on_free(h, hd);
    return 1;
}

/* Releases what deeper deallocations deferred on st (h's, or
 * shared_deaths: objects of any heap); called by the outermost one
 * (depth 1).  Each release may defer more; the loop ends when none is
 * left. */
__attribute__((noinline)) static void release_deferred(rcy_heap *h, rcyi_object_state *st) {
    bool mine = st == &h->obj;
    while (st->deferred_len) {
        rcy_head_ *hd = st->deferred[--st->deferred_len];
        release(mine ? h : rcyi_heap_of_live_block(hd), hd);
    }
    if (mine) /* deep frees are rare: keep no memory */
        rcyi_free(h, st->deferred);
    else
        free(st->deferred);
    st->deferred = NULL;
    st->deferred_cap = 0;
}

/* st: h->obj for a private object, shared_deaths for a shared one (O4). */
/* Step 4 one level deeper: releases hd, and what deeper levels deferred
 * when this is the outermost one. */
static inline __attribute__((always_inline)) void release_nested(rcy_heap *h, rcyi_object_state *st,
                                                                 rcy_head_ *hd) {
    st->depth++;
    release(h, hd);
    if (RCY_UNLIKELY(st->deferred_len) && st->depth == 1)
        release_deferred(h, st);
    st->depth--;
}

static void dealloc_on(rcy_heap *h, rcyi_object_state *st, rcy_head_ *hd) {
    if (!prepare(h, st, hd))
        return;
    if (RCY_UNLIKELY(st->depth >= RCYI_DEALLOC_MAX_DEPTH) && defer(h, st, hd))
        return;
    release_nested(h, st, hd);
}

static void dealloc(rcy_heap *h, rcy_head_ *hd) {
    dealloc_on(h, &h->obj, hd);
}

static void decref_other(void *obj);

/* A shared object: one atomic subtract, release order so that this
 * thread's writes to the object happen before its destruction on whichever
 * thread drops the last reference, which then fences (acquire) as Rust's
 * Arc does, and deallocates it there (object.h O4; the block goes back
 * to its heap by alloc.h R2). */
#ifdef RCY_TSAN_
/* ThreadSanitizer does not model fences: the last decrement acquires. */
#define DECREF_ORDER __ATOMIC_ACQ_REL
#else
#define DECREF_ORDER __ATOMIC_RELEASE
#endif

RCY_NORETURN static void report_shared_zero(const void *obj, const rcy_head_ *hd) {
    rcyi_fatal(RCY_EMISUSE,
               "decref of shared object %p of type %s would take its refcount below "
               "zero (it is already 0: the object is being deallocated)",
               obj, hd->type->name);
}

__attribute__((noinline)) static void decref_shared(void *obj) {
    rcy_head_ *hd = RCY_HEAD_(obj);
    uint32_t old = __atomic_fetch_sub(&hd->refcnt, 1, DECREF_ORDER);
    if (RCY_LIKELY(old != (RCYI_RC_HIGH | 1))) {
        if (RCY_UNLIKELY(old == RCYI_RC_HIGH)) {
            __atomic_fetch_add(&hd->refcnt, 1, __ATOMIC_RELAXED);
            report_shared_zero(obj, hd);
        }
        return;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    dealloc_on(rcyi_heap_of_live_block(hd), &shared_deaths, hd);
}

/* O5: the world is stopped by this thread, so no other thread counts:
 * the shared word rc of hd loses one with a plain load and store, and
 * at 0 the object dies here as by decref_shared (its block straight
 * into its heap when alloc.h R4 allows it). */
__attribute__((noinline)) static void die_stopped(rcy_head_ *hd);

__attribute__((noinline)) static void decref_stopped(rcy_head_ *hd, uint32_t rc) {
    if (RCY_LIKELY(rc != (RCYI_RC_HIGH | 1))) {
        if (RCY_UNLIKELY(rc == RCYI_RC_HIGH))
            report_shared_zero(hd + 1, hd);
        __atomic_store_n(&hd->refcnt, rc - 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_store_n(&hd->refcnt, RCYI_RC_HIGH, __ATOMIC_RELAXED);
    die_stopped(hd); /* a tail call: the decrement above needs no frame */
}

/* decref_stopped's death: dealloc_on's path without prepare when there
 * is nothing for it to do (no finalizer due, no weak reference, room on
 * the stack; a shared object is never TRACKED). */
__attribute__((noinline)) static void die_stopped(rcy_head_ *hd) {
    rcy_heap *h = rcyi_heap_of_live_block(hd);
    rcyi_object_state *st = &shared_deaths;
    const rcy_type *t = hd->type;
    uint32_t w = rcyi_gcword_load(hd);
    if (RCY_UNLIKELY((t->finalize && !(w & RCYI_GC_FINALIZED)) || (w & RCYI_GC_WEAKREFS) ||
                     st->depth >= RCYI_DEALLOC_MAX_DEPTH)) {
        dealloc_on(h, st, hd);
        return;
    }
    /* dealloc_on with nothing to do in steps 1-3 but leaving the shared
     * list (prepare; a shared object is never TRACKED) */
    rcyi_shared_forget(h, hd);
    release_nested(h, st, hd);
}

void rcyi_decref_shared_stopped(rcy_head_ *hd) {
    uint32_t rc = rcyi_refcnt_load(hd);
    if (RCY_LIKELY(rcyi_rc_is_shared(rc))) /* not made immortal meanwhile */
        decref_stopped(hd, rc);
}

/* A private object made immortal may be stored into shared ones: its
 * weak references move to their stripe first (weakref.h W8). */
static void immortalize_private(rcy_head_ *hd) {
    if (hd->gcword & RCYI_GC_WEAKREFS)
        rcyi_weakref_on_immortal(rcyi_heap_of_live_block(hd), hd);
    __atomic_store_n(&hd->refcnt, RCYI_RC_IMMORTAL_PRIVATE, __ATOMIC_RELAXED);
}

void rcy_incref_slow_(void *obj) {
    rcy_head_ *hd = RCY_HEAD_(obj);
    uint32_t rc = rcyi_refcnt_load(hd);
    if (rcyi_rc_is_shared(rc))
        __atomic_fetch_add(&hd->refcnt, 1, __ATOMIC_RELAXED);
    else if (rcyi_rc_is_private(rc) && rc + 1 <= RCYI_RC_HIGH - 1)
        hd->refcnt = rc + 1;
    else if (rcyi_rc_is_private(rc)) /* only 2^31 - 1 reaches here: saturate */
        immortalize_private(hd);
}

/* Every case of rcy_decref_slow_ but the fast deallocation below. */
__attribute__((noinline)) static void decref_private(void *obj, uint32_t rc);

/* A dispatcher without a frame of its own: each case is a tail call. */
__attribute__((noinline)) static void decref_other(void *obj) {
    rcy_head_ *hd = RCY_HEAD_(obj);
    uint32_t rc = rcyi_refcnt_load(hd);
    if (rcyi_rc_is_shared(rc)) {
        if (rcyi_shared_world_stopped()) /* only the requester runs (L5) */
            decref_stopped(hd, rc);
        else
            decref_shared(obj);
    } else if (!rcyi_rc_is_immortal(rc)) {
        decref_private(obj, rc);
    }
}

/* A private word rc that the inline fast path could not handle. */
__attribute__((noinline)) static void decref_private(void *obj, uint32_t rc) {
    rcy_head_ *hd = RCY_HEAD_(obj);
    if (RCY_UNLIKELY(rc == 0)) {
        /* A block in one of our arenas whose pool was given back is dead,
         * not foreign. */
        rcyi_arena *a = rcyi_arena_lookup(hd);
        bool ours = a && !((uintptr_t)hd >> 48) &&
                    (uintptr_t)a->base == ((uintptr_t)hd & ~(uintptr_t)(RCY_ARENA_SIZE - 1));
        if (!ours)
            checked_heap("decref", obj);
        report_zero("decref", obj, hd);
    }
    rcy_heap *h = small_object_heap(hd);
    if (RCY_UNLIKELY(!h))
        h = checked_heap("decref", obj);
    if (rc != 1) {
        /* Not reachable from the inline decref (it only calls us for 1, 0
         * and immortal), but callers may use the slow path directly. */
        hd->refcnt = rc - 1;
        return;
    }
    hd->refcnt = 0;
    dealloc(h, hd);
}

/* The gcword bits that send a dying object down the general path. */
#define SLOW_DEALLOC_BITS (RCYI_GC_WEAKREFS | RCYI_GC_LARGE)

/* The last reference to a small object without weak references or a
 * pending finalizer, while nothing is traced and the deallocation depth
 * leaves room: steps 1-2 have nothing to do, steps 3-4 are done here
 * without the general path's calls.  Everything else (and every misuse)
 * goes to decref_other. */
void rcy_decref_slow_(void *obj) {
    rcy_head_ *hd = RCY_HEAD_(obj);
    if (RCY_LIKELY(rcyi_refcnt_load(hd) == 1)) {
        rcyi_pool *p = rcyi_pool_at(hd);
        if (RCY_LIKELY(rcyi_is_object_block(p, hd)) &&
            RCY_LIKELY(!(hd->gcword & SLOW_DEALLOC_BITS))) {
            const rcy_type *t = hd->type;
            rcy_heap *h = rcyi_owner_heap(p->owner);
            if (RCY_LIKELY(!t->finalize && h->obj.depth < RCYI_DEALLOC_MAX_DEPTH &&
                           !__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED))) {
                hd->refcnt = 0;
                if (hd->gcword & RCYI_GC_TRACKED)
                    rcyi_gc_on_free_inline(h, &h->gc, hd);
                t = hd->type; /* reloaded: not kept in a register across the call */
                h->obj.depth++;
                if (t->destroy)
                    t->destroy(obj);
                else if (t->clear)
                    t->clear(obj);
                if (RCY_UNLIKELY(h->obj.deferred_len) && h->obj.depth == 1)
                    release_deferred(h, &h->obj);
                h->obj.depth--;
                /* Recomputed from obj rather than kept across the call:
                 * fewer registers to save on the path every object takes. */
                __asm__("" : "+r"(obj));
                hd = RCY_HEAD_(obj);
                hd->gcword = 0;
                /* Our block keeps the pool live: only its UNLINKED bit and
                 * count can have changed. */
                if (RCY_LIKELY(rcyi_pool_free_fast(
                        rcyi_pool_at(hd), hd, (uintptr_t)h | RCYI_OWNER_OBJECT, RCYI_LINK_OBJECT)))
                    return;
                rcyi_free_slow(h, hd);
                return;
            }
        }
    }
    decref_other(obj);
}

void rcyi_object_on_share(rcy_heap *h, rcy_head_ *o, rcy_visitproc visit, void *arg) {
    h->alloc.ever_shared = true; /* rcy_heap_free looks for live shared objects (alloc.h R3) */
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)))
        rcyi_trace_share(rcyi_obj(o));
    rcyi_weakref_on_share(h, o, visit, arg);
}

/* Called by rcy_heap_free before the allocator frees everything: nothing
 * can be deferred at that point, but the stack's memory goes back. */
void rcyi_object_fini(rcy_heap *h) {
    if (h->obj.deferred)
        rcyi_free(h, h->obj.deferred);
    h->obj.deferred = NULL;
    h->obj.deferred_len = h->obj.deferred_cap = 0;
}

/* ---- queries --------------------------------------------------------- */

size_t rcy_getrefcount(const void *obj) {
    RCYI_REQUIRE(obj, 0);
    checked_heap("rcy_getrefcount", obj);
    return rcyi_rc_count(rcyi_refcnt_load(RCY_HEAD_(obj)));
}

const rcy_type *rcy_type_of(const void *obj) {
    RCYI_REQUIRE(obj, NULL);
    checked_heap("rcy_type_of", obj);
    const rcy_head_ *hd = RCY_HEAD_(obj);
    if (RCY_UNLIKELY(hd->refcnt == 0 && hd->gcword == 0))
        report_zero("rcy_type_of", obj, hd);
    return hd->type;
}

rcy_heap *rcy_heap_of(const void *obj) {
    RCYI_REQUIRE(obj, NULL);
    return checked_heap("rcy_heap_of", obj);
}

void rcy_immortalize(void *obj) {
    RCYI_REQUIRE(obj, );
    checked_heap("rcy_immortalize", obj);
    rcy_head_ *hd = RCY_HEAD_(obj);
    uint32_t rc = rcyi_refcnt_load(hd);
    if (RCY_UNLIKELY(rc == 0))
        report_zero("rcy_immortalize", obj, hd);
    if (rcyi_rc_is_immortal(rc))
        return; /* a private one stays out of the shared graph */
    /* Shared: mid-range, so that racing counts stay immortal (object.h). */
    if (rcyi_rc_is_private(rc))
        immortalize_private(hd);
    else
        __atomic_store_n(&hd->refcnt, RCYI_RC_IMMORTAL_SHARED, __ATOMIC_RELAXED);
}

bool rcy_is_immortal(const void *obj) {
    RCYI_REQUIRE(obj, false);
    checked_heap("rcy_is_immortal", obj);
    return rcyi_rc_is_immortal(rcyi_refcnt_load(RCY_HEAD_(obj)));
}

void rcy_auto_release_(void *pp) {
    void *obj;
    memcpy(&obj, pp, sizeof obj);
    rcy_xdecref(obj);
}
