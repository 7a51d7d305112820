/* recycle/gc.h — the cycle collector (Python's `gc` module), weak
 * references and one-shot finalizers (Python's `weakref` module).
 * Included by <recycle.h>; do not include directly.
 *
 * Python's documentation of `gc` and `weakref` is the spec.  Every function
 * behaves as there unless a note beside it (marked "C:") says how and why
 * it differs.  Differences that apply everywhere:
 *
 *  C: every function takes the heap it acts on (Python has one interpreter;
 *     recycle has one collector per heap, each used by one thread at a
 *     time).
 *  C: lists returned are new references to rcy_list objects; tuples become
 *     out-parameters (arrays of 3).
 *  C: Python raises; C returns a negative rcy_err (RCY_EINVAL for a bad
 *     argument, RCY_ENOMEM when bookkeeping memory ran out).
 *
 * Generations: 0 (young), 1, 2 (old) and the permanent generation of
 * frozen objects, which collections ignore (rcy_gc_freeze).
 */
#ifndef RECYCLE_GC_H
#define RECYCLE_GC_H

#include "core.h"
#include "containers.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RCY_GC_GENERATIONS 3

/* ---- switching automatic collection ---------------------------------- */

RCY_API void rcy_gc_enable(rcy_heap *heap);
RCY_API void rcy_gc_disable(rcy_heap *heap);
RCY_API bool rcy_gc_isenabled(rcy_heap *heap);

/* Collect generations 0..generation (-1 or 2 = a full collection, as
 * Python's default).  Returns the number of unreachable objects found:
 * those freed, plus those moved to rcy_gc_garbage() (legacy finalizers,
 * DEBUG_SAVEALL), plus the weak references a callback's end freed (a
 * finalize object that fired counts one, as the weak reference Python's
 * frees).  As in CPython, objects a finalizer resurrected are not
 * counted, nor objects a finalizer left to die by refcounting (one that
 * breaks its own cycle: CPython frees them during finalization).
 * Within one collection, weak reference callbacks and finalizers run in
 * the order of the members: for a young collection CPython's (generation
 * 1, then 0, each in the order objects entered it).  C: a full collection
 * finds the old generation by walking the allocator's pools (a header has
 * no room for list links), so its order is the walk's: arena by arena, by
 * address within one; CPython's is generation 2, 0, then 1.
 * C: returns 0 at once when called while a collection is running (from a
 * finalizer, weakref callback or gc callback): collections never nest.
 * RCY_EINVAL for a generation outside -1..2, RCY_ENOMEM when the
 * collector could not get memory for its work list (nothing is changed). */
RCY_API ssize_t rcy_gc_collect(rcy_heap *heap, int generation);

/* count[g]: for generation 0, tracked objects allocated minus tracked
 * objects freed since the last collection; for 1 and 2, collections of
 * the next younger generation since this one was last collected. */
RCY_API void rcy_gc_get_count(rcy_heap *heap, size_t count[RCY_GC_GENERATIONS]);
RCY_API void rcy_gc_get_threshold(rcy_heap *heap, size_t threshold[RCY_GC_GENERATIONS]);
/* C: all three thresholds are set at once (Python's later ones are
 * optional: pass the current values).  threshold0 == 0 disables automatic
 * collection.  Defaults: 2000, 10, 10 (CPython 3.13's; 3.12 and earlier
 * use 700, 10, 10; the rules are those of 3.11 to 3.13).  A full
 * collection also needs the
 * old generation to have grown by more than 25% since the last full
 * collection (Python's long-lived rule), so building a large structure
 * costs linear time.  C: Python counts the objects moved to the old
 * generation, even those freed since; recycle counts net growth, so big
 * structures that die by refcounting do not force full collections. */
RCY_API void rcy_gc_set_threshold(rcy_heap *heap, size_t threshold0, size_t threshold1,
                                  size_t threshold2);

/* ---- statistics -------------------------------------------------------- */

#define RCY_GC_STATS_VERSION 2

typedef struct rcy_gc_gen_stats {
    size_t collections;   /* collections of this generation             */
    size_t collected;     /* objects freed (and, with DEBUG_SAVEALL, saved) */
    size_t uncollectable; /* objects moved to garbage: legacy finalizers */
    size_t candidates;    /* objects examined, summed over collections   */
    double duration;      /* seconds spent, summed over collections      */
} rcy_gc_gen_stats;

typedef struct rcy_gc_stats {
    size_t size;      /* caller sets sizeof(rcy_gc_stats)               */
    uint32_t version; /* filled: RCY_GC_STATS_VERSION                   */
    rcy_gc_gen_stats generations[RCY_GC_GENERATIONS];
    /* C only (version 2): emergency collections run, each one full
     * collection when an allocation failed (rcy_gc_set_emergency); they
     * are counted in generations[2] as well. */
    size_t emergency_collections;
} rcy_gc_stats;

/* C: Python returns a list of dicts; here one struct.  stats->size must be
 * set; fields past it are not written.  RCY_EINVAL if it is too small to
 * hold the header fields. */
RCY_API int rcy_gc_get_stats(rcy_heap *heap, rcy_gc_stats *stats);
/* C only: the statistics, the generation sizes, counts and thresholds as a
 * table of text lines, or as one JSON object, written to `out` (NULL: the
 * output callback). */
RCY_API int rcy_gc_print_stats(rcy_heap *heap, FILE *out);
RCY_API int rcy_gc_print_stats_json(rcy_heap *heap, FILE *out);

/* ---- the shared graph (C only; objects shared between threads) ------- */

/* Shared objects (rcy_share) leave their heap's collector; cycles among
 * them, across every heap, are collected here.  The calling thread stops
 * the world (every thread with a heap attached parks at its next
 * safepoint: <recycle/thread.h>), runs trial deletion over every heap's
 * shared objects (marking on two threads above 100,000 candidates when
 * the machine has two processors), runs the finalizers and weak reference
 * callbacks of what it found (once each, PEP 442; resurrection checked),
 * clears and frees the rest, and restarts the world.  Finalizers and
 * callbacks run with the world stopped: they must not wait for another
 * thread.  Objects with a legacy finalizer, and what they reach, are left
 * alive (counted as uncollectable, not put in a garbage list).  Debug
 * builds and debug heaps check every candidate's edges (rcy_share_check's
 * report, first offending edge with both types).  Nothing is collected
 * automatically: call it when the program has shared many objects
 * (e.g. when rcy_gc_shared_stats.listed doubled since the last call).
 * Returns the number of unreachable shared objects freed, 0 when called
 * from inside a shared collection, RCY_ENOMEM. */
RCY_API ssize_t rcy_gc_collect_shared(void);
/* Markers for phases 1-2: 1, 2, or 0 for automatic (the default). */
RCY_API void rcy_gc_set_shared_markers(unsigned markers);

#define RCY_GC_SHARED_STATS_VERSION 1
typedef struct rcy_gc_shared_stats {
    size_t size;               /* caller sets sizeof(rcy_gc_shared_stats) */
    uint32_t version;          /* filled: RCY_GC_SHARED_STATS_VERSION */
    size_t collections;        /* rcy_gc_collect_shared runs */
    size_t collected;          /* unreachable shared objects freed, all runs */
    size_t uncollectable;      /* left alive for a legacy finalizer, all runs */
    size_t last_candidates;    /* shared objects examined by the last run */
    unsigned last_markers;     /* markers the last run used */
    size_t listed;             /* shared objects with traverse, all heaps, now */
    double last_stop_seconds;  /* the last run's time from its stop request to
                                  every attached thread parked */
    double last_pause_seconds; /* the last run's world-stopped time, in all */
} rcy_gc_shared_stats;
/* Process-wide; stats->size must be set, fields past it are not written;
 * RCY_EINVAL when too small for the header. */
RCY_API int rcy_gc_get_shared_stats(rcy_gc_shared_stats *stats);

/* ---- introspection ----------------------------------------------------- */

/* A new list of every object tracked by the collector in `generation`
 * (0..2), or in all of them for -1 (frozen objects excluded, as in
 * Python).  The returned list itself is not included.  NULL on bad
 * generation or out of memory. */
RCY_API rcy_list *rcy_gc_get_objects(rcy_heap *heap, int generation);
/* C: Python's *objs is an array and its length.  A new list of the
 * tracked objects whose traverse visits any of objs[0..n). */
RCY_API rcy_list *rcy_gc_get_referrers(rcy_heap *heap, void *const *objs, size_t n);
/* A new list of the objects that objs[0..n) visit in their traverse
 * (objects without traverse contribute nothing). */
RCY_API rcy_list *rcy_gc_get_referents(rcy_heap *heap, void *const *objs, size_t n);

RCY_API bool rcy_gc_is_tracked(const void *obj);
/* True once the object's PEP 442 finalizer ran (or was started). */
RCY_API bool rcy_gc_is_finalized(const void *obj);
/* C: Python has no public track/untrack (they are C-API calls).  track()
 * puts an untracked object whose type has traverse into generation 0
 * (RCY_EINVAL when the type has no traverse, or the object is shared:
 * shared objects are never in a heap's collector); both are idempotent. */
RCY_API int rcy_gc_track(void *obj);
/* C: called from a finalizer or callback on an object that is part of the
 * garbage being collected, untrack is ignored (the object stays tracked
 * until that collection decides its fate). */
RCY_API void rcy_gc_untrack(void *obj);

/* Move every tracked object into the permanent generation, which
 * collections ignore; unfreeze moves them back into the oldest one. */
RCY_API void rcy_gc_freeze(rcy_heap *heap);
RCY_API void rcy_gc_unfreeze(rcy_heap *heap);
RCY_API size_t rcy_gc_get_freeze_count(rcy_heap *heap);

/* The list of uncollectable objects (BORROWED; owned by the heap): the
 * RCY_TYPE_LEGACY_FINALIZER objects found unreachable that refcounting did
 * not free once the rest of the garbage was cleared (those in or reachable
 * from a cycle), and with DEBUG_SAVEALL every unreachable object.  What
 * they reach stays alive through them, uncollectable too (counted, and
 * printed with DEBUG_UNCOLLECTABLE) but not listed, as in CPython.  As CPython, the collectable
 * objects are printed (DEBUG_COLLECTABLE) before any uncollectable one (DEBUG_UNCOLLECTABLE), which
 * are appended after the garbage is cleared.  Users may remove items from it. NULL only when out of
 * memory. */
RCY_API rcy_list *rcy_gc_garbage(rcy_heap *heap);

/* ---- callbacks --------------------------------------------------------- */

typedef enum rcy_gc_phase { RCY_GC_START = 0, RCY_GC_STOP = 1 } rcy_gc_phase;

typedef struct rcy_gc_info {
    int generation;       /* the oldest generation collected            */
    size_t collected;     /* STOP only: objects freed                   */
    size_t uncollectable; /* STOP only: objects moved to garbage        */
    double duration;      /* STOP only: seconds                         */
} rcy_gc_info;

/* C: Python's gc.callbacks list becomes add/remove.  Called before and
 * after every collection, in the order added.  A callback may collect
 * (that returns 0) and may add or remove callbacks: the set called for
 * this phase was fixed when it started. */
typedef void rcy_gc_callback(rcy_heap *heap, rcy_gc_phase phase, const rcy_gc_info *info,
                             void *arg);
RCY_API int rcy_gc_callbacks_add(rcy_heap *heap, rcy_gc_callback *fn, void *arg);
/* Removes the first (fn, arg) pair; RCY_ENOTFOUND if absent. */
RCY_API int rcy_gc_callbacks_remove(rcy_heap *heap, rcy_gc_callback *fn, void *arg);

/* ---- debugging --------------------------------------------------------- */

/* Python's flag values.  Output goes through the output callback. */
#define RCY_GC_DEBUG_STATS         0x01u /* one summary per collection       */
#define RCY_GC_DEBUG_COLLECTABLE   0x02u /* each collectable object found    */
#define RCY_GC_DEBUG_UNCOLLECTABLE 0x04u /* each uncollectable object found  */
#define RCY_GC_DEBUG_SAVEALL       0x20u /* keep garbage in rcy_gc_garbage() */
#define RCY_GC_DEBUG_LEAK                                                                          \
    (RCY_GC_DEBUG_COLLECTABLE | RCY_GC_DEBUG_UNCOLLECTABLE | RCY_GC_DEBUG_SAVEALL)

RCY_API void rcy_gc_set_debug(rcy_heap *heap, unsigned flags);
RCY_API unsigned rcy_gc_get_debug(rcy_heap *heap);

/* C only (Lua's HARDMEMTESTS): run a full collection at every allocation
 * of a tracked object while automatic collection is enabled, so reference
 * bugs show at once.  Also on when the environment has RCY_GC_HARD=1 at
 * heap creation. */
RCY_API void rcy_gc_set_hard(rcy_heap *heap, bool on);
RCY_API bool rcy_gc_get_hard(rcy_heap *heap);

/* C only (Lua's emergency collection): when an allocation fails because
 * it would pass the heap's memory_limit or because the raw allocator (or
 * an arena mapping) failed, rcy_new, rcy_mem_alloc, rcy_mem_calloc, their
 * try flavours and the stores of lists and dicts run one full collection
 * and retry once before they fail.  Skipped while automatic collection is
 * disabled (rcy_gc_disable), during a collection (its finalizers, weak
 * reference callbacks and gc callbacks), while a finalizer or a
 * deallocation runs on the heap, and during rcy_heap_free.  An allocation
 * may so run finalizers and callbacks, as an allocation of a tracked
 * object may through automatic collection.  rcy_mem_realloc never does
 * (a finalizer could free the block it was given): on its failure, call
 * rcy_gc_collect and retry.  On by default; rcy_gc_stats counts them
 * (emergency_collections). */
RCY_API void rcy_gc_set_emergency(rcy_heap *heap, bool on);
RCY_API bool rcy_gc_get_emergency(rcy_heap *heap);

/* ---- incremental collection (CPython 3.14's) ------------------------- */

/* C only: choose, per heap, how the old generation is collected.  Off
 * (the default): CPython 3.13's generations, as described above.  On:
 * bounded pauses, with CPython 3.14's incremental collection of the old
 * generation.  Young collections run at threshold0 as by default, but
 * their survivors go straight to the old generation, as in CPython 3.14
 * (generation 1 stays empty; they count as collections of generation 1,
 * so count[1] stays 0 and count[2] counts them); where a full
 * collection would run (threshold2 and the long-lived rule), a SCAN of
 * the old generation starts instead, and until it ends every automatic
 * collection is one INCREMENT: the young generations plus a slice of the
 * old one, taken with its transitive closure (every old object it
 * reaches that the scan has not examined yet), collected as one set, so
 * that a cycle is never cut by an increment's edge and no write barrier
 * is needed.  An increment examines the young generation and about
 * 10 / threshold1 times as many old objects (at least 512), plus the
 * closure of the last object it takes: one connected structure of N
 * objects is taken whole (docs/benchmarks.md measures that worst case).
 * Each scan frees at least the top of the garbage there was when it
 * started (the cycles no other garbage refers to); garbage that other
 * garbage kept alive when the scan took it waits for a later scan (one
 * per level, as in CPython 3.14), so a whole scan that frees nothing
 * proves nothing unreachable was left; rcy_gc_collect(heap, 2) frees
 * everything at once.  In incremental mode rcy_gc_collect(heap, 1) runs
 * one increment (0 and 2 as by default); increments count as collections
 * of generation 1 in rcy_gc_get_stats (candidates: their members) and in
 * the callbacks' info; counts and thresholds keep their meaning, and the
 * end of a scan does to them what a full collection does (count[2] = 0,
 * the old generation's size remembered for the long-lived rule).
 * Switching takes effect at the next automatic collection.  New heaps
 * start incremental when the environment has RCY_GC_INCREMENTAL=1. */
RCY_API void rcy_gc_set_incremental(rcy_heap *heap, bool on);
RCY_API bool rcy_gc_get_incremental(rcy_heap *heap);

/* C only (Lua's LUA_GCSTEP): run collection work now, at a safe point of
 * the host's choosing, whether or not the heap is incremental and
 * whether or not automatic collection is enabled (a host may disable it
 * and collect only here).  Runs increments (see rcy_gc_set_incremental)
 * until `budget` objects were examined: each young object, each object
 * the scan's cursor passed in the old generation, and each old object an
 * increment took; every increment examines the whole young generation
 * and at least one pool's worth of the old one, so a step may exceed its
 * budget by that much.  budget 0: one increment of the automatic size.
 * Returns 1 when the step ended a scan of the old generation (every
 * object was examined since the scan started: Lua's "cycle finished"),
 * 0 when it did not, 0 at once when called during a collection (from a
 * finalizer or callback), RCY_ENOMEM when the collector could not get
 * memory for an increment (nothing changed), RCY_EINVAL for a NULL heap
 * (reported as misuse, RCY_EMISUSE). */
RCY_API int rcy_gc_step(rcy_heap *heap, size_t budget);

/* ---- weak references ------------------------------------------------- */

/* A weak reference is itself an object (drop it with rcy_decref).  It is
 * tracked by the collector, so the collector can tell whether the weak
 * reference itself is garbage. */
typedef struct rcy_weakref rcy_weakref;
RCY_API extern const rcy_type rcy_weakref_type;

/* Called once the referent is gone: wr is alive (held for the call) and
 * rcy_weakref_get(wr) returns NULL.  C: Python passes the weakref only;
 * here also the arg given at creation (not a reference: recycle does not
 * manage it).  The callback may allocate, drop references and collect. */
typedef void (*rcy_weakref_callback)(rcy_weakref *wr, void *arg);

/* A new weak reference to obj (any recycle object) in obj's heap; NULL
 * when out of memory.  cb may be NULL.  Rules, as in Python:
 *  - when obj is freed by refcounting, every weak reference to it is
 *    cleared first, then the callbacks run;
 *  - when the collector finds obj unreachable, weak references to it are
 *    cleared before any finalizer runs; a callback runs only if the weak
 *    reference itself is not part of the garbage;
 *  - no callback and no finalizer ever sees a cleared or dead object.
 * C: each call makes a new weak reference (Python shares callback-less
 * ones); callbacks of one object run newest first. */
RCY_API rcy_weakref *rcy_weakref_new_(void *obj, rcy_weakref_callback cb, void *arg,
                                      RCY_SITE_PARAMS);
#define rcy_weakref_new(obj, cb, arg) rcy_weakref_new_((obj), (cb), (arg), RCY_SITE)

/* The referent as a NEW reference, or NULL once it is gone.  C: an
 * exception to the `_get` = borrowed convention (core.h): a borrowed
 * pointer to an object nothing else may hold could die at any moment. */
RCY_API void *rcy_weakref_get(rcy_weakref *wr);
/* Number of weak references (and alive finalize objects) pointing to
 * obj; a called or detached finalize no longer counts. */
RCY_API size_t rcy_weakref_getweakrefcount(const void *obj);

/* ---- weakref.finalize ------------------------------------------------ */

/* A one-shot finalizer: fn(arg) runs once, when obj dies, or when
 * rcy_finalize_call is used, or at rcy_heap_free if still alive and
 * atexit is on (the default; pending ones run newest first).  The heap
 * keeps it alive until then, so callers may drop their reference at once.
 * C: fn gets one void* (Python: *args, **kwargs); like Python's, it must
 * not hold obj itself or obj would never die. */
typedef struct rcy_finalize rcy_finalize;
typedef void (*rcy_finalize_fn)(void *arg);
RCY_API rcy_finalize *rcy_finalize_new_(void *obj, rcy_finalize_fn fn, void *arg, RCY_SITE_PARAMS);
#define rcy_finalize_new(obj, fn, arg) rcy_finalize_new_((obj), (fn), (arg), RCY_SITE)
/* If alive, mark dead and run fn(arg); returns whether it ran. */
RCY_API bool rcy_finalize_call(rcy_finalize *f);
/* If alive, mark dead without running fn; returns whether it was alive. */
RCY_API bool rcy_finalize_detach(rcy_finalize *f);
RCY_API bool rcy_finalize_alive(const rcy_finalize *f);
RCY_API void rcy_finalize_set_atexit(rcy_finalize *f, bool atexit);
RCY_API bool rcy_finalize_get_atexit(const rcy_finalize *f);

#ifdef __cplusplus
}
#endif
#endif /* RECYCLE_GC_H */
