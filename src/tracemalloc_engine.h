/* src/tracemalloc_engine.h — the tracemalloc engine's private header:
 * the state the engine's four files share, what protects each piece, and
 * the inlines of the event path that cross files.  Included only by
 *   tracemalloc.c             events (hooks, track, take) and the control API
 *   tracemalloc_threads.c     thread registry, accounting, stop-the-world
 *   tracemalloc_traces.c      trace tables (block table, shards), peak picture
 *   tracemalloc_tracebacks.c  traceback interning and its caches
 * The rest of the library sees the engine through tracemalloc.h only.
 *
 * The event path's helpers sit here as static inlines so that, across
 * files, an event costs what it cost in one file (callgrind: same
 * instruction count); everything they touch is declared hidden, so it is
 * one RIP-relative access, as a file's static was.
 *
 * Events, stoppers and what protects each piece of state (declared
 * below; "gs" is rcyi_tm_gs):
 *
 *  - An EVENT (a traced allocation or free, track, untrack, take, put
 *    back) runs between event_begin and event_end (tracemalloc.c: the
 *    one event guard), which make the thread busy and set its record's
 *    in_event flag (rcyi_tm_ev_enter, rcyi_tm_ev_leave).
 *    A STOPPER (snapshot, clear, stop, start, get_traced_memory,
 *    reset_peak, get_counters, keep_peak, get_object_traceback, fork)
 *    goes through the one stopper bracket (rcyi_tm_stopper_begin/end):
 *    it takes the world lock, sets RCYI_TM_STOPPED, runs membarrier(2) (or, where
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
 *    registered (gs.multi, read once per event at rcyi_tm_ev_enter): the second
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
 *  - a thread's last allocation (rcyi_tm_thread.tmp_*): written by its owner
 *    in events, to count temporary allocations; forgotten by a clear.
 *  - frame source (framesource.c): the installed source (gs.source) is an
 *    immutable record, replaced under the world lock; an event that reads it
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
 * time; with threads tracing concurrently it may miss up to RCYI_TM_DELTA_MAX
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
#ifndef RCY_SRC_TRACEMALLOC_ENGINE_H
#define RCY_SRC_TRACEMALLOC_ENGINE_H

#include "alloc.h"
#include "frames.h"
#include "os.h"
#include "tracemalloc.h"

#include <sched.h>

#define RCYI_HIDDEN __attribute__((visibility("hidden")))
#define RCYI_TLS    __thread __attribute__((tls_model("initial-exec"), visibility("hidden")))

/* ---- spin locks: every lock of the engine ------------------------------ */

static inline void rcyi_spin_pause(unsigned *spins) {
    if (++*spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

static inline void rcyi_spin_lock(int *l) {
    unsigned spins = 0;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(l, __ATOMIC_RELAXED))
            rcyi_spin_pause(&spins);
}
static inline void rcyi_spin_unlock(int *l) {
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- tracemalloc.c: raw memory ------------------------------------------- */

static inline size_t rcyi_tm_page_round(size_t n) {
    size_t ps = rcyi_os_page_size();
    return (n + ps - 1) & ~(ps - 1);
}

/* A list of mapped chunks that small pieces are cut from, freed whole. */
typedef struct rcyi_tm_chunk {
    struct rcyi_tm_chunk *next;
    size_t size, used;
} rcyi_tm_chunk;

/* n bytes (8-aligned) from a list of mapped chunks; NULL on out of memory. */
void *rcyi_tm_chunk_alloc(rcyi_tm_chunk **list, size_t n);
void rcyi_tm_chunks_free(rcyi_tm_chunk **list);

/* ---- tracemalloc_threads.c: global state ---------------------------------- */

#define RCYI_TM_TRACING 1u
#define RCYI_TM_STOPPED 2u /* a stopper holds the world                  */
#define RCYI_TM_FENCE   4u /* no membarrier: events fence on their own   */

/* Read on every event: kept on a line of their own, written rarely. */
typedef struct rcyi_tm_state {
    uint32_t state; /* RCYI_TM_* (atomic)                           */
    int limit;      /* traceback limit                              */
    int multi;      /* more than one thread registered: lock shards */
    /* limit == 1 and no frame source: the call site is the traceback, the
     * events' fast path (one load, as the limit was).  Written under
     * rcyi_tm_world_lock with the limit or the source. */
    int site_only;
    const rcyi_fsource *source; /* the frame source, or NULL (atomic)  */
    size_t cur;                 /* folded traced bytes (atomic)                 */
    size_t peak;                /* highest folded total since start/reset       */
} __attribute__((aligned(64))) rcyi_tm_state;
extern rcyi_tm_state rcyi_tm_gs RCYI_HIDDEN;

/* Taken by stoppers, and to install a frame source. */
extern int rcyi_tm_world_lock RCYI_HIDDEN;
/* Folded event counters (atomic). */
extern uint64_t rcyi_tm_allocs RCYI_HIDDEN, rcyi_tm_frees RCYI_HIDDEN;

/* A thread's delta is folded once it passes this bound either way: with
 * several threads tracing at once, the peak can miss at most this much per
 * other thread (see rcy_tracemalloc_get_traced_memory). */
#define RCYI_TM_DELTA_MAX ((int64_t)1 << 16)

/* ---- tracemalloc_threads.c: per-thread records -------------------------- */

#define RCYI_TM_CS_CACHE   64 /* call-site cache entries (power of two)     */
#define RCYI_TM_TB_CACHE   64 /* hash -> id cache entries (power of two)    */
#define RCYI_TM_BT_BUCKETS 6  /* block-table array sizes: 256 B << 0..5     */

typedef struct rcyi_tm_cs_ent {
    const char *file, *func;
    int line;
    unsigned domain;
    rcyi_tb *tb; /* NULL = empty */
} rcyi_tm_cs_ent;

typedef struct rcyi_tm_tbc_ent {
    uint32_t hash, id;
} rcyi_tm_tbc_ent;

/* One per registered thread, in the registry.  The owner writes it during
 * its events; a stopper reads and resets it only while the world is
 * stopped (or, for `used`, under thr_lock). */
typedef struct rcyi_tm_thread {
    int in_event;     /* the owner is inside an event (atomic)          */
    int used;         /* slot taken by a live thread (thr_lock)         */
    int64_t delta;    /* traced bytes not yet folded into gs.cur        */
    uint32_t last_id; /* the thread's last traceback (0 = none) */
    int locking;      /* this event takes the shard locks (rcyi_tm_gs.multi at rcyi_tm_ev_enter) */
    uint64_t allocs, frees;
    /* The thread's last traced allocation, until its free or the next
     * allocation: a free of it counts one temporary (count_free). */
    uintptr_t tmp_ptr;
    uint32_t tmp_id;                 /* its traceback (which names the domain); 0 = none */
    void *spare[RCYI_TM_BT_BUCKETS]; /* one empty block-table array per size */
    rcyi_tm_cs_ent cs[RCYI_TM_CS_CACHE];
    rcyi_tm_tbc_ent tbc[RCYI_TM_TB_CACHE];
    /* Script frames (framesource.c): process-lifetime records, so a clear
     * leaves it, and the owner writes it outside events. */
    rcyi_sf_cache sfc;
} __attribute__((aligned(64))) rcyi_tm_thread;

/* The thread's busy flag (rcyi_tm_enter) and its record (NULL until its
 * first event). */
extern RCYI_TLS int rcyi_tm_busy;
extern RCYI_TLS rcyi_tm_thread *rcyi_tm_self;

/* A record for the calling thread (registering it), or NULL. */
rcyi_tm_thread *rcyi_tm_thr_register(void);
/* Mark t in an event and wait out a stopper.  false when not tracing (t is
 * then out of the event again); any_state: true in any state. */
bool rcyi_tm_ev_enter_slow(rcyi_tm_thread *t, bool any_state);

/* The calling thread's record, inside an event, or NULL (not tracing, or
 * no record could be made).  The caller has set rcyi_tm_busy. */
static inline rcyi_tm_thread *rcyi_tm_ev_enter(void) {
    rcyi_tm_thread *t = rcyi_tm_self;
    if (RCY_UNLIKELY(!t) && !(t = rcyi_tm_thr_register()))
        return NULL;
    __atomic_store_n(&t->in_event, 1, __ATOMIC_RELAXED);
    /* Pairs with membar_all in rcyi_tm_world_stop: either this thread sees
     * RCYI_TM_STOPPED below, or the stopper sees in_event == 1. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_ACQUIRE) != RCYI_TM_TRACING) &&
        !rcyi_tm_ev_enter_slow(t, false))
        return NULL;
    /* Read after the state: a registration that sets multi stops the
     * world before the new thread's first event. */
    t->locking = __atomic_load_n(&rcyi_tm_gs.multi, __ATOMIC_RELAXED);
    return t;
}

static inline void rcyi_tm_ev_leave(rcyi_tm_thread *t) {
    __atomic_store_n(&t->in_event, 0, __ATOMIC_RELEASE);
}

/* ---- tracemalloc_threads.c: stopping the world ---------------------------- */

/* Stop the world: afterwards no other thread is inside an event, and none
 * enters one until rcyi_tm_world_resume.  The caller must be busy
 * (rcyi_tm_enter) so that its own events are ignored instead of waiting
 * for itself. */
void rcyi_tm_world_stop(void);
void rcyi_tm_world_resume(void);
/* A stopper's bracket: busy (so its own events are ignored and it never
 * waits for itself), then the world stopped.  Returns the busy state that
 * rcyi_tm_stopper_end restores. */
int rcyi_tm_stopper_begin(void);
void rcyi_tm_stopper_end(int prev);
/* Once, before the first start: membarrier, the thread key, fork hooks. */
void rcyi_tm_init_once(void);

/* ---- tracemalloc_threads.c: accounting ----------------------------------- */

/* A new folded total c: raise the peak to it. */
void rcyi_tm_peak_raise(size_t c);

/* Bytes in (and the peak), counting no allocation: rcyi_tm_acct_alloc's
 * half that rcyi_tracemalloc_put_back also uses. */
static inline void rcyi_tm_acct_grow(rcyi_tm_thread *t, size_t size) {
    int64_t d = t->delta + (int64_t)size;
    size_t cur = __atomic_load_n(&rcyi_tm_gs.cur, __ATOMIC_RELAXED);
    size_t peak = __atomic_load_n(&rcyi_tm_gs.peak, __ATOMIC_RELAXED);
    if (RCY_LIKELY(d <= RCYI_TM_DELTA_MAX && (int64_t)(cur + (size_t)d) <= (int64_t)peak)) {
        t->delta = d;
        return;
    }
    t->delta = 0;
    size_t c = __atomic_add_fetch(&rcyi_tm_gs.cur, (size_t)d, __ATOMIC_RELAXED);
    if (d > 0)
        rcyi_tm_peak_raise(c);
}

static inline void rcyi_tm_acct_alloc(rcyi_tm_thread *t, size_t size) {
    t->allocs++;
    rcyi_tm_acct_grow(t, size);
}

/* Bytes out, counting no free (rcyi_tracemalloc_take). */
static inline void rcyi_tm_acct_shrink(rcyi_tm_thread *t, size_t size) {
    int64_t d = t->delta - (int64_t)size;
    if (RCY_LIKELY(d >= -RCYI_TM_DELTA_MAX)) {
        t->delta = d;
        return;
    }
    t->delta = 0;
    __atomic_add_fetch(&rcyi_tm_gs.cur, (size_t)d, __ATOMIC_RELAXED);
}

static inline void rcyi_tm_acct_free(rcyi_tm_thread *t, size_t size) {
    t->frees++;
    rcyi_tm_acct_shrink(t, size);
}

/* A trace replaced in place: old bytes out, new bytes in, one allocation
 * (none when !count: a trace put back). */
static inline void rcyi_tm_acct_replace(rcyi_tm_thread *t, size_t old, size_t size, bool count) {
    t->delta -= (int64_t)old;
    t->allocs += count;
    rcyi_tm_acct_grow(t, size);
}

/* World stopped: fold every thread's delta and counters. */
void rcyi_tm_fold_counters_locked(void);
/* World stopped, traces cleared: every thread's deltas, spare arrays and
 * caches go (they name traces and tracebacks that are gone). */
void rcyi_tm_threads_clear_locked(void);

/* ---- tracemalloc_tracebacks.c: the interned tracebacks -------------------- */

#define RCYI_TM_DIR_CHUNK  4096u
#define RCYI_TM_DIR_CHUNKS 65536u
/* id -> traceback (intern lock to write; any event may read ids <= count) */
extern rcyi_tb **rcyi_tm_tb_dir[RCYI_TM_DIR_CHUNKS] RCYI_HIDDEN;
extern uint32_t rcyi_tm_tb_count RCYI_HIDDEN; /* ids 1..rcyi_tm_tb_count are in use */
/* Bumped by every clear: a taken trace's ids are stale. */
extern uint32_t rcyi_tm_trace_gen RCYI_HIDDEN;

static inline rcyi_tb *rcyi_tm_tb_get(uint32_t id) {
    return rcyi_tm_tb_dir[id / RCYI_TM_DIR_CHUNK][id % RCYI_TM_DIR_CHUNK];
}

/* In an event: the id for this traceback, through the thread's cache,
 * else the intern table.  0 on out of memory. */
uint32_t rcyi_tm_tb_lookup(rcyi_tm_thread *thr, unsigned domain, const char *file, int line,
                           const char *func, const uintptr_t *pcs, int npcs, int total);
/* The call-site cache missed entry e: look the site up and fill e. */
rcyi_tb *rcyi_tm_cs_miss(rcyi_tm_thread *thr, rcyi_tm_cs_ent *e, unsigned domain, const char *file,
                         int line, const char *func);
/* The traceback of a one-frame call site; NULL on out of memory. */
static inline rcyi_tb *rcyi_tm_cs_lookup(rcyi_tm_thread *thr, unsigned domain, const char *file,
                                         int line, const char *func) {
    rcyi_tm_cs_ent *e =
        &thr->cs[(((uintptr_t)file >> 4) + (unsigned)line * 7u) & (RCYI_TM_CS_CACHE - 1)];
    if (RCY_LIKELY(e->file == file && e->line == line && e->func == func && e->domain == domain &&
                   e->tb))
        return e->tb;
    return rcyi_tm_cs_miss(thr, e, domain, file, line, func);
}

/* World stopped: every traceback goes (ids restart at 1). */
void rcyi_tm_tracebacks_clear_locked(void);

/* ---- tracemalloc_traces.c: the block table -------------------------------- */

/* Per pool: its geometry as the table last copied it, and the array of
 * entries ((size << 32) | traceback id; 0 = no trace).  ent != NULL
 * exactly when live > 0.  Written only by the thread whose heap owns the
 * pool (or with the world stopped). */
typedef struct rcyi_tm_bt_pool {
    uint64_t *ent;
    uintptr_t first; /* traced address of block 0 */
    uint32_t bsize, recip, nblocks, live;
} rcyi_tm_bt_pool;

typedef struct rcyi_tm_bt_arena {
    rcyi_tm_bt_pool pools[RCYI_POOLS_PER_ARENA];
} rcyi_tm_bt_arena;

#define RCYI_TM_BT_L2 4096u /* arenas per 4 GiB region */
/* address >> 32 -> region (atomic) */
extern rcyi_tm_bt_arena **rcyi_tm_bt_dir[1u << 16] RCYI_HIDDEN;

/* p (a block the thread's heap just handed out) has no entry yet: set up
 * its pool's array from the allocator's geometry, unless the pool's array
 * is in use with another geometry (then p goes to the shards). */
uint64_t *rcyi_tm_bt_prepare(rcyi_tm_thread *thr, uintptr_t p, rcyi_tm_bt_pool **out);
/* Give back an all-zero array: kept as the thread's spare, so a pool that
 * empties and fills again takes no lock. */
void rcyi_tm_bt_array_put(rcyi_tm_thread *thr, uint64_t *a, uint32_t nblocks);
/* A thread ends: its spare arrays go back to the table's free lists. */
void rcyi_tm_bt_spares_release(rcyi_tm_thread *t);
/* In an event: the traces of the arena at base go (it returns to the OS). */
void rcyi_tm_bt_forget_arena(rcyi_tm_thread *thr, const void *base);

/* The table's record for the arena of p, or NULL. */
static inline rcyi_tm_bt_arena *rcyi_tm_bt_arena_of(uintptr_t p) {
    if (RCY_UNLIKELY(p >> 48))
        return NULL;
    rcyi_tm_bt_arena **l2 = __atomic_load_n(&rcyi_tm_bt_dir[p >> 32], __ATOMIC_ACQUIRE);
    if (!l2)
        return NULL;
    return __atomic_load_n(&l2[(p >> 20) % RCYI_TM_BT_L2], __ATOMIC_ACQUIRE);
}

/* The table's record for the pool of p, or NULL. */
static inline rcyi_tm_bt_pool *rcyi_tm_bt_pool_of(uintptr_t p) {
    rcyi_tm_bt_arena *a = rcyi_tm_bt_arena_of(p);
    return a ? &a->pools[(p / RCY_POOL_SIZE) % RCYI_POOLS_PER_ARENA] : NULL;
}

/* The entry of p in bp's array, or NULL when p is not a block position of
 * the geometry the array was set up for. */
static inline uint64_t *rcyi_tm_bt_entry(const rcyi_tm_bt_pool *bp, uintptr_t p) {
    if (!bp->ent)
        return NULL;
    uintptr_t off = p - bp->first;
    if (off >= RCY_POOL_SIZE)
        return NULL;
    /* off / bsize by multiplication: exact below 2^14. */
    uint32_t q = (uint32_t)(((uint64_t)(uint32_t)off * bp->recip) >> 32);
    if (q * bp->bsize != (uint32_t)off || q >= bp->nblocks)
        return NULL;
    return &bp->ent[q];
}

/* In an event: trace p in the block table.  false when p is not a block of
 * recycle's pools (or on out of memory): the caller uses the shards. */
static inline bool rcyi_tm_bt_add(rcyi_tm_thread *thr, uintptr_t p, size_t size, uint32_t id) {
    rcyi_tm_bt_pool *bp = rcyi_tm_bt_pool_of(p);
    uint64_t *e = bp ? rcyi_tm_bt_entry(bp, p) : NULL;
    if (RCY_UNLIKELY(!e)) {
        e = rcyi_tm_bt_prepare(thr, p, &bp);
        if (!e) {
            if (bp && !bp->live && bp->ent) {
                rcyi_tm_bt_array_put(thr, bp->ent, bp->nblocks);
                bp->ent = NULL;
            }
            return false;
        }
    }
    uint64_t old = *e;
    *e = (uint64_t)size << 32 | id;
    if (RCY_LIKELY(!old)) {
        bp->live++;
        rcyi_tm_acct_alloc(thr, size);
    } else {
        rcyi_tm_acct_replace(thr, old >> 32, size, true);
    }
    return true;
}

/* In an event: untrace p from the block table; the traceback id its entry
 * had, 0 when it has none there. */
static inline uint32_t rcyi_tm_bt_remove(rcyi_tm_thread *thr, uintptr_t p) {
    rcyi_tm_bt_pool *bp = rcyi_tm_bt_pool_of(p);
    uint64_t *e = bp ? rcyi_tm_bt_entry(bp, p) : NULL;
    if (!e || !*e)
        return 0;
    uint64_t v = *e;
    *e = 0;
    if (--bp->live == 0) {
        rcyi_tm_bt_array_put(thr, bp->ent, bp->nblocks);
        bp->ent = NULL;
    }
    rcyi_tm_acct_free(thr, v >> 32);
    return (uint32_t)v;
}

/* ---- tracemalloc_traces.c: the shards -------------------------------------- */

/* In an event: record (domain, ptr) -> size, id in the shards, counted as
 * an allocation when `count` (not when a taken trace is put back).  false
 * on out of memory (the event is then not traced, as Python drops it with
 * a MemoryError). */
bool rcyi_tm_shard_add(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size,
                       uint32_t id, bool count);
/* In an event: remove (domain, ptr)'s trace from the shards, with no
 * accounting; *size and *id get what it was.  false when there is none. */
bool rcyi_tm_shard_take(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, uint64_t *size,
                        uint32_t *id);
/* The removed trace's traceback id, 0 when there was none. */
uint32_t rcyi_tm_shard_remove(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr);

/* ---- tracemalloc_traces.c: every trace, with the world stopped ------------ */

/* How many traces there are. */
size_t rcyi_tm_traces_count_locked(void);
/* Calls f for every trace: its traceback id, size and the block's address
 * (0 for the block table, whose addresses are not kept). Shards first. */
typedef void rcyi_tm_trace_fn(void *arg, uint32_t id, uint64_t size, uintptr_t addr);
void rcyi_tm_traces_foreach_locked(rcyi_tm_trace_fn *f, void *arg);
/* The traceback id of obj's trace in domain 0, 0 when it has none. */
uint32_t rcyi_tm_trace_id_locked(const void *obj);
/* Every trace goes, and the picture at peak with them. */
void rcyi_tm_traces_clear_locked(void);

/* ---- tracemalloc_traces.c: the picture at peak (keep_peak) ---------------- */

/* When on, reaching a new peak marks the picture "at peak"; the first free
 * afterwards, before it applies, stops the world and totals the live
 * traces per traceback, so the copy is the picture at the peak itself.
 * Events pay nothing for it but one flag test on a free.  To bound the
 * cost of a peak that creeps up by a few bytes at a time, a copy is made
 * only when the traced memory grew by more than 1/64 since the last copy:
 * the kept picture is within 1/64 of the peak (exact in one thread
 * otherwise; other threads' events between the peak and the copy may blur
 * it slightly). */
typedef struct rcyi_tm_tb_total {
    uint64_t size, count;
} rcyi_tm_tb_total;
typedef struct rcyi_tm_peak_state {
    int keep;               /* keep_peak is on                                */
    int dirty;              /* a new peak since the last copy (atomic)       */
    rcyi_tm_tb_total *copy; /* indexed by id; world stopped                  */
    size_t n, map;          /* ids in copy, bytes mapped                      */
    size_t bytes;           /* traced bytes when the copy was made           */
} rcyi_tm_peak_state;
extern rcyi_tm_peak_state rcyi_tm_peak RCYI_HIDDEN;

/* World stopped: the live traces totalled per traceback, if the peak grew
 * by 1/64 since the last copy. */
void rcyi_tm_peak_copy_locked(void);

#endif
