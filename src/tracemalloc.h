/* src/tracemalloc.h — the tracer's header: the hooks the allocator and
 * object layer call on every traced event, the raw memory and busy flag
 * that framesource.c and symbols.c use too, and the raw tracebacks the
 * snapshot files (snapshot.h) copy.  tools/preload_hooks.c, which
 * compiles the sources again, uses the take/put-back pair for realloc.
 * Native stacks and script frames: frames.h; symbols: symbols.h.
 *
 * Events, stoppers and what protects each piece of state (the engine's
 * state lives in tracemalloc.c):
 *
 *  - An EVENT (a traced allocation or free, track, untrack, take, put
 *    back) runs between ev_enter and ev_leave, which set the thread's
 *    record's in_event flag.
 *    A STOPPER (snapshot, clear, stop, start, get_traced_memory,
 *    reset_peak, get_counters, keep_peak, get_object_traceback, fork)
 *    takes the world lock, sets ST_STOPPED, runs membarrier(2) (or, where
 *    the kernel has none, every event fences after setting in_event), then
 *    waits until no other thread is in an event.  Until it resumes, no
 *    event runs: the stopper may read and reset everything below.
 *  - block table entries (one per block of recycle's own pools): written
 *    only in events of the thread whose heap owns the pool (a heap is used
 *    by one thread at a time), so no lock.  The directory levels are
 *    installed with compare-and-swap; arrays and arena records come from
 *    the bt lock's free lists (or the thread's spare array, lock-free).
 *  - shard lock (one per shard, 64 shards chosen by a hash of the
 *    address): the shard's trace table and its list of traces of 4 GiB or
 *    more, between events.  Taken only while more than one thread is
 *    registered (gs.multi, read once per event at ev_enter): the second
 *    thread's registration sets multi and stops the world once, so no event
 *    that skipped the locks is still running when locking starts.
 *  - peak picture (keep_peak): the first free after a new peak (grown by
 *    1/64 since the last picture) leaves its event, stops the world and
 *    totals the live traces per traceback; nothing is kept per event.
 *  - a thread's record: its delta of traced bytes, its event counters and
 *    caches are written by its owner in events; stoppers fold and reset
 *    them.  Registration and release take the registry lock (thr_lock).
 *  - intern lock: the traceback intern table, the traceback arena and the
 *    id -> traceback directory, taken on a thread-cache miss inside an
 *    event (lock order: shard < intern; the bt lock nests inside neither).
 *    Tracebacks are immutable once published, but for their counters
 *    (allocs, allocated, temporary: see rcyi_tb), and freed only by a
 *    stopper, so any event may read any traceback.
 *  - a thread's last allocation (tm_thread.tmp_*): written by its owner
 *    in events, to count temporary allocations; forgotten by a clear.
 *  - frame source (framesource.c): the installed source (gs.source) is an
 *    immutable record, replaced under world_lock; an event that reads it
 *    LEAVES the event (in_event = 0, still busy) to call it and to intern
 *    its frames under the script-frame lock, then enters again: a source
 *    may block or call a stopper, and what it allocates is not traced.
 *    Script-frame records are never freed, so tracebacks and snapshots
 *    may point to their strings.
 *
 * Invariant: with the world stopped, current == cur + sum of every
 * thread's delta == sum of the sizes of all traces (block table and
 * shards); a stopper folds the deltas, so get_traced_memory is exact.
 * Peak: a thread folds its delta when the folded total plus its own delta
 * would pass the peak, so the peak is exact when one thread traces at a
 * time; with threads tracing concurrently it may miss up to DELTA_MAX
 * (64 KiB) per other thread's unfolded delta.
 * Invariant: a block-table array is non-NULL exactly when its pool has a
 * live trace; its geometry is changed only then, so a traced address maps
 * to the same entry from its allocation to its free.  When an arena goes
 * back to the OS (alloc.c calls rcyi_trace_forget_arena first) its
 * records are emptied, so no record outlives its arena with live entries:
 * a record is only ever touched by the thread of the heap that owns its
 * arena (a raw block later mapped in the same range finds no entry).
 * Invariant: every trace's traceback id is non-zero and names a traceback
 * of the same domain as the trace.
 * Invariant: the tracer never calls malloc on the event path: its memory
 * comes from mmap (rcyi_tm_map).  (A thread's first event registers it
 * with pthread_setspecific, which glibc serves from the thread descriptor
 * for the first 32 keys.)  Code that may call malloc (snapshots, libdw)
 * runs with the thread's busy flag set, so events it causes are not traced
 * and never re-enter the engine; every stopper is busy too, so it never
 * waits for itself.
 */
#ifndef RCY_SRC_TRACEMALLOC_H
#define RCY_SRC_TRACEMALLOC_H

#include "recycle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- tracemalloc.c: hooks on every traced event --------------------- */

/* Objects are traced in domain 0 under their USER pointer (the address
 * rcy_new returned, header + 16) with the size of the whole block, header
 * included; rcy_tracemalloc_get_object_traceback(obj) looks up that
 * pointer. */

/* Non-zero while tracing; read (relaxed) on every allocation and free. */
/* Hidden: one RIP-relative load instead of a GOT load and a load. */
extern int rcyi_tracing __attribute__((visibility("hidden")));
void rcyi_trace_alloc(unsigned domain, const void *ptr, size_t size, const char *file, int line,
                      const char *func);
void rcyi_trace_free(unsigned domain, const void *ptr);
/* An arena of base `base` goes back to the OS (alloc.c, before the unmap):
 * the traces of its blocks go with it (rcy_heap_free with live blocks). */
void rcyi_trace_forget_arena(const void *base);
/* Called by rcy_heap_new: the first call starts tracing when
 * RCY_TRACEMALLOC=N (N frames) is set, like PYTHONTRACEMALLOC. */
void rcyi_tracemalloc_on_heap_new(void);

/* ---- tracemalloc.c: raw memory and the per-thread busy flag ----------- */

/* Fresh zeroed pages from mmap, counted in get_tracemalloc_memory.  NULL on
 * failure. */
void *rcyi_tm_map(size_t size);
void rcyi_tm_unmap(void *p, size_t size);

/* A thread is "busy" while it runs tracer code: events it causes (a malloc
 * inside libdw, a snapshot's own memory) are not traced.  enter returns the
 * previous state for exit. */
int rcyi_tm_enter(void);
void rcyi_tm_exit(int prev);
/* Tests: synchronize events with stoppers by fences, as on a kernel
 * without membarrier(2).  Only before the first rcy_tracemalloc_start. */
void rcyi_tm_use_fences(void);

/* ---- tracemalloc.c: a trace taken out and put back (preload realloc) --- */

/* A trace held aside while the real realloc runs: the block's address
 * must be untraced before realloc may give it back (another thread may get
 * it at once), yet a realloc that fails leaves the block as it was. */
typedef struct rcyi_taken {
    uintptr_t ptr;
    size_t size;
    unsigned domain;
    uint32_t tb;  /* traceback id; 0 = nothing taken */
    uint32_t gen; /* the traces' generation (a clear makes ids stale) */
} rcyi_taken;

/* An event: remove (domain, ptr)'s trace from the shards (not the block
 * table: for rcy_tracemalloc_track's traces) and its bytes from current
 * memory, counting no free.  false (out->tb == 0) when it has none. */
bool rcyi_tracemalloc_take(unsigned domain, uintptr_t ptr, rcyi_taken *out);
/* The block lives on: trace it again exactly as it was (size, traceback),
 * counting no allocation.  Dropped if the traces were cleared or tracing
 * stopped meanwhile. */
void rcyi_tracemalloc_put_back(const rcyi_taken *t);
/* The block is gone: count the free that take did not. */
void rcyi_tracemalloc_taken_freed(const rcyi_taken *t);

/* ---- tracemalloc.c: a snapshot with its blocks' addresses (leak scan) --- */

/* rcy_tracemalloc_take_snapshot, and in *addrs (malloc'd, untraced) the
 * address of the block of each of its traces, in the snapshot's order (0
 * for blocks of recycle's own pools, which the preload library never
 * has).  NULL (and *addrs NULL) when not tracing or out of memory. */
rcy_snapshot *rcyi_tracemalloc_take_snapshot_addrs(uintptr_t **addrs);

/* ---- tracemalloc.c: raw tracebacks as the engine keeps them ----------- */

/* Native frames captured beyond the limit for call-site traces, so the
 * report can drop the library's own frames and the user's function (which
 * the call-site frame already names) without knowing their depth when the
 * stack is walked. */
#define RCYI_TM_SLACK 6

typedef struct rcyi_tb {
    uint32_t hash;
    uint32_t domain;
    uint16_t npcs;    /* native return addresses stored in pcs       */
    uint16_t total;   /* native frames the stack had (capped 65535)  */
    int line;         /* call-site line                              */
    const char *file; /* call-site file, NULL when there is none     */
    const char *func; /* call-site function                          */
    uint32_t next;    /* hint: the traceback that followed this one in
                       * some thread's last event after it (atomic; 0) */
    uint32_t id;      /* its own id (tracemalloc.c's directory)       */
    /* Per call site counters (tracemalloc.c: count_alloc, count_free),
     * the only mutable part of a published traceback: plain adds while
     * one thread traces, atomic adds once several do (gs.multi). */
    /* (temporary sits between the two that every allocation adds to, so
     * the compiler makes two adds of them, not six vector instructions) */
    uint64_t allocs;    /* allocations traced with this traceback     */
    uint64_t temporary; /* freed before the thread's next allocation  */
    uint64_t allocated; /* their bytes, summed                        */
    uintptr_t pcs[];    /* newest first                                */
} rcyi_tb;

/* A copy of the engine's traces taken under all locks (tracemalloc.c
 * fills it for take_snapshot).  Owned by the snapshot code (malloc). */
typedef struct rcyi_raw_trace {
    uint32_t domain;
    uint32_t tb; /* index into rcyi_raw.tbs */
    uint64_t size;
    uint64_t count; /* 1, or the number of blocks of a peak aggregate */
} rcyi_raw_trace;

#endif
