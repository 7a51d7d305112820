/* src/tracemalloc.h — the tracer's header: the hooks the allocator and
 * object layer call on every traced event, and the engine's internals
 * shared by tracemalloc.c (the engine), framesource.c (an interpreter's
 * script frames), frames.c (native stacks),
 * symbols.c (DWARF symbolization) and the snapshot files (snapshot.h:
 * the snapshot object, statistics, filters, formats, the file format);
 * tools/preload_hooks.c, which compiles the sources again, uses the
 * take/put-back pair for realloc.
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
 *  - symbol lock (symbols.c): the address -> symbol cache, the libdw
 *    session, the demangler, and each module set's resolver state (its
 *    cache, offline libdw session and sorted symbols).  Never taken on
 *    the allocation path.
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

/* ---- framesource.c: script frames an interpreter supplies ------------- */

/* A script frame in a traceback's pcs: RCYI_SFRAME_TAG | the index of its
 * record.  No return address of user space has bit 63 set.  Only this
 * process's snapshots decode these words (a loaded file's addresses are
 * never taken for script frames). */
#define RCYI_SFRAME_TAG ((uintptr_t)1 << 63)

typedef struct rcyi_sframe {
    const char *file; /* owned copies, for the life of the process; NULL = unknown */
    const char *func;
    unsigned line;
    uint32_t hash;
    uint32_t next; /* hash chain (framesource.c's lock) */
} rcyi_sframe;

/* The record a word names, or NULL when w is a native address (or names no
 * record). */
const rcyi_sframe *rcyi_sframe_of(uintptr_t w);

/* An installed frame source; immutable and never freed, so an event may
 * use the one it read while another is installed. */
typedef struct rcyi_fsource {
    rcy_frame_source_fn *fn;
    void *arg;
    unsigned flags; /* RCY_FRAMES_* */
    struct rcyi_fsource *next;
} rcyi_fsource;

/* The record of (fn, arg, flags); NULL on out of memory. */
const rcyi_fsource *rcyi_fsource_make(rcy_frame_source_fn *fn, void *arg, unsigned flags);

/* A thread's cache of script frames (in its tracer record). */
#define RCYI_SF_CACHE 32
typedef struct rcyi_sf_cache_ent {
    const char *file, *func; /* the source's pointers: a hint, checked by content */
    unsigned line;
    uint32_t id;
} rcyi_sf_cache_ent;
typedef struct rcyi_sf_cache {
    rcyi_sf_cache_ent ent[RCYI_SF_CACHE];
} rcyi_sf_cache;

/* Call src for at most max frames and store them in out[] as tagged words,
 * newest first; returns how many (0: the source had none).  *total: the
 * depth the source reported (capped at 65535).  The caller is busy
 * (rcyi_tm_enter) and outside any event; cache may be NULL. */
int rcyi_fsource_capture(const rcyi_fsource *src, rcyi_sf_cache *cache, int max, uintptr_t *out,
                         int *total);

/* ---- frames.c: native stacks ------------------------------------------ */

/* Walk the native stack from frame address `fp` (a frame of the caller's
 * own code, compiled with frame pointers): store the return addresses of
 * at most `max` frames after skipping `skip`, newest first.  Sets *total to
 * the frames the stack had after the skip (counting on past max, bounded).
 * Never faults: every frame pointer is checked against the thread's stack.
 * Falls back to libunwind when the frame pointers are unusable. */
int rcyi_walk_stack(uintptr_t fp, uintptr_t *out, int max, int skip, int *total);
/* Force libunwind (RCY_TRACEMALLOC_UNWIND=libunwind); false when the build
 * has no libunwind. */
bool rcyi_walk_use_libunwind(bool on);
/* With libunwind forced: walk with cached DWARF CFA rules (the default),
 * or (false) ask libunwind for every stack.  False when the build has no
 * CFI walk. */
bool rcyi_walk_use_cfi(bool on);
/* Forget the cached rules (a module was unloaded: its addresses may be
 * reused).  Unloads are also noticed on the next cache miss. */
void rcyi_walk_forget(void);
/* How many CFI walks met a frame their rules cannot follow and were handed
 * to libunwind (tests check that the fast walk is the one taken). */
unsigned long rcyi_walk_fallbacks(void);

/* ---- symbols.c: addresses to file:line:function ----------------------- */

typedef struct rcyi_symbol {
    const char *file;     /* "?" when unknown */
    unsigned line;        /* 0 when unknown   */
    const char *function; /* NULL when unknown */
    const char *object;   /* shared object path, or NULL */
    /* When the address is in code inlined into another function: that
     * function, at the line of the inlined call (a chain up to the real
     * function; owned by the module set that resolved it).  NULL
     * otherwise. */
    const struct rcyi_symbol *inlined_into;
} rcyi_symbol;

/* Names that start with "_Z" go through this when set (C++ demangling
 * lives in the caller, so the library needs nothing beyond libc). */
extern rcy_demangle_fn *rcyi_demangler;

/* Resolve a return address (looks up pc - 1, the call).  Strings are kept
 * for the life of the process.  Thread-safe; caches every answer. */
void rcyi_symbolize(uintptr_t pc, rcyi_symbol *out);

/* The modules (executable, shared objects) a set of addresses of a process
 * lies in, recorded so the addresses can be resolved later by another
 * process: runtime address = address in the file + bias. */
typedef struct rcyi_module {
    const char *path;     /* the file; the program itself as /proc/self/exe names it */
    const char *build_id; /* lower-case hex, or NULL */
    uint64_t bias;        /* load bias (0 for a non-PIE executable) */
    uint64_t lo, hi;      /* [lo, hi): its PT_LOAD segments at run time */
} rcyi_module;

typedef struct rcyi_modset {
    size_t n;
    rcyi_module *mods;         /* sorted by lo, disjoint */
    char *strings;             /* owned strings of a captured set, or NULL */
    struct rcyi_symstate *sym; /* the resolver's state (symbols.c), lazily */
} rcyi_modset;

/* The modules of this process that hold some of pcs[0..n) (dl_iterate_phdr:
 * reads the loader's tables and the mapped notes, resolves nothing).
 * malloc'd; NULL on out of memory. */
rcyi_modset *rcyi_modules_capture(const uintptr_t *pcs, size_t n);
void rcyi_modset_free(rcyi_modset *m);
/* Resolve a return address of the process that m describes from the module
 * files (their symbol tables and DWARF, with libdw), never from this
 * process's memory.  A module whose file is missing or whose build-id
 * differs gives function "NAME+0xOFFSET" (file offset in the module).
 * Strings live as long as the process.  Caches every answer in m. */
void rcyi_symbolize_in(rcyi_modset *m, uintptr_t pc, rcyi_symbol *out);

#endif
