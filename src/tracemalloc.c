/* src/tracemalloc.c — the tracemalloc engine: records every traced
 * allocation and free, process-wide and thread-safe.
 *
 * Two homes for traces.  A block of one of recycle's own pools, reported
 * by the allocation hooks in domain 0, is traced in the BLOCK TABLE: per
 * pool a tracer-owned array of 8-byte entries {size, traceback id} indexed
 * by block number, found from the address through a two-level directory
 * (4 GiB regions, then 1 MiB arenas) and the pool's geometry, which the
 * table copies when it is set up.  A block belongs to one heap, and a heap
 * is used by one thread at a time, so its entry is written without a lock.
 * Every other trace (large and raw blocks, other domains,
 * rcy_tracemalloc_track) lives in 64 hash SHARDS, each an open-addressing
 * table of 16-byte slots {address, size, traceback id} probed a 64-byte
 * group at a time, under its own spin lock (taken only while more than one
 * thread traces).
 *
 * Every event runs between ev_enter and ev_leave, which mark the thread's
 * record "in an event".  Operations that read or reset the whole state
 * (snapshots, clear, stop, get_traced_memory, fork) STOP THE WORLD: they
 * raise a flag, make every thread pass a memory barrier (membarrier(2), so
 * the event path itself needs no fence), and wait until no thread is in an
 * event.  Current memory is kept as per-thread deltas, folded into the
 * global counters when they grow past a bound or reach a new peak, and
 * all of them when the world is stopped: get_traced_memory is exact.
 *
 * Tracebacks are interned (hash-consed) in an arena that lives until
 * clear_traces/stop, named by 32-bit ids; the domain is part of the
 * interned key.  Each thread caches call-site -> id (direct-mapped on file
 * pointer and line) and hash -> id, and every traceback keeps a hint to
 * the one that followed it last time, so a repeated sequence of stacks
 * finds each one without touching a table: the common event takes no lock
 * at all.  The intern table keeps each id's hash beside it, so a probe
 * reads a traceback only when the hashes match.  Above one frame, native
 * return addresses follow (frames.c), resolved to symbols only when a
 * snapshot is reported (symbols.c).
 *
 * Locks and invariants: see src/tracemalloc.h.
 */
#include "tracemalloc.h"
#include "frames.h"
#include "snapshot.h"
#include "alloc.h"
#include "hash.h"
#include "options.h"
#include "os.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- raw memory --------------------------------------------------------- */

static size_t tm_mapped; /* bytes mapped by the tracer (atomic) */

void *rcyi_tm_map(size_t size) {
    void *p = rcyi_os_map(size);
    if (!p)
        return NULL;
    __atomic_add_fetch(&tm_mapped, size, __ATOMIC_RELAXED);
    return p;
}

void rcyi_tm_unmap(void *p, size_t size) {
    if (!p)
        return;
    rcyi_os_unmap(p, size);
    __atomic_sub_fetch(&tm_mapped, size, __ATOMIC_RELAXED);
}

static size_t page_round(size_t n) {
    size_t ps = rcyi_os_page_size();
    return (n + ps - 1) & ~(ps - 1);
}

/* ---- locks ---------------------------------------------------------------- */

static inline void spin_pause(unsigned *spins) {
    if (++*spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

static inline void spin_lock(int *l) {
    unsigned spins = 0;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(l, __ATOMIC_RELAXED))
            spin_pause(&spins);
}
static inline void spin_unlock(int *l) {
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- per-thread records --------------------------------------------------- */

#define CS_CACHE   64 /* call-site cache entries (power of two)     */
#define TB_CACHE   64 /* hash -> id cache entries (power of two)    */
#define BT_BUCKETS 6  /* block-table array sizes: 256 B << 0..5     */

typedef struct cs_ent {
    const char *file, *func;
    int line;
    unsigned domain;
    rcyi_tb *tb; /* NULL = empty */
} cs_ent;

typedef struct tb_cache_ent {
    uint32_t hash, id;
} tb_cache_ent;

/* One per registered thread, in the registry.  The owner writes it during
 * its events; a stopper reads and resets it only while the world is
 * stopped (or, for `used`, under thr_lock). */
typedef struct tm_thread {
    int in_event;     /* the owner is inside an event (atomic)          */
    int used;         /* slot taken by a live thread (thr_lock)         */
    int64_t delta;    /* traced bytes not yet folded into g_cur         */
    uint32_t last_id; /* the thread's last traceback (0 = none) */
    int locking;      /* this event takes the shard locks (gs.multi at ev_enter) */
    uint64_t allocs, frees;
    /* The thread's last traced allocation, until its free or the next
     * allocation: a free of it counts one temporary (count_free). */
    uintptr_t tmp_ptr;
    uint32_t tmp_id;         /* its traceback (which names the domain); 0 = none */
    void *spare[BT_BUCKETS]; /* one empty block-table array per size */
    cs_ent cs[CS_CACHE];
    tb_cache_ent tbc[TB_CACHE];
    /* Script frames (framesource.c): process-lifetime records, so a clear
     * leaves it, and the owner writes it outside events. */
    rcyi_sf_cache sfc;
} __attribute__((aligned(64))) tm_thread;

#define THR_PER_CHUNK 32u
#define THR_CHUNKS    2048u
static tm_thread *thr_chunk[THR_CHUNKS];
static unsigned thr_hi;    /* slots [0, thr_hi) exist (release-stored)  */
static unsigned thr_nused; /* slots in use (thr_lock)                */
static int thr_lock;       /* registration, release, and stoppers       */
static pthread_key_t thr_key;
static int thr_key_ok;

static TLS int tls_busy;
static TLS tm_thread *tls_thr;

static inline tm_thread *thr_at(unsigned i) {
    return &thr_chunk[i / THR_PER_CHUNK][i % THR_PER_CHUNK];
}

int rcyi_tm_enter(void) {
    int prev = tls_busy;
    tls_busy = 1;
    return prev;
}
void rcyi_tm_exit(int prev) {
    tls_busy = prev;
}

/* ---- global state ---------------------------------------------------------- */

int rcyi_tracing = 0; /* read relaxed by the hooks' callers */

#define ST_TRACING 1u
#define ST_STOPPED 2u /* a stopper holds the world                  */
#define ST_FENCE   4u /* no membarrier: events fence on their own   */

/* Read on every event: kept on a line of their own, written rarely. */
static struct {
    uint32_t state; /* ST_* (atomic)                                */
    int limit;      /* traceback limit                              */
    int multi;      /* more than one thread registered: lock shards */
    /* limit == 1 and no frame source: the call site is the traceback, the
     * events' fast path (one load, as the limit was).  Written under
     * world_lock with the limit or the source. */
    int site_only;
    const rcyi_fsource *source; /* the frame source, or NULL (atomic)  */
    size_t cur;                 /* folded traced bytes (atomic)                 */
    size_t peak;                /* highest folded total since start/reset       */
} __attribute__((aligned(64))) gs = {.limit = 1, .site_only = 1};

static int world_lock;
static uint64_t g_allocs, g_frees; /* folded event counters (atomic) */

/* A thread's delta is folded once it passes this bound either way: with
 * several threads tracing at once, the peak can miss at most this much per
 * other thread (see rcy_tracemalloc_get_traced_memory). */
#define DELTA_MAX ((int64_t)1 << 16)

static void peak_raise(size_t c);
static void fold_counters_locked(void);
static void site_only_update_locked(void);

/* ---- stopping the world ------------------------------------------------------ */

static int fences_forced; /* rcyi_tm_use_fences */

void rcyi_tm_use_fences(void) {
    __atomic_store_n(&fences_forced, 1, __ATOMIC_RELAXED);
    __atomic_or_fetch(&gs.state, ST_FENCE, __ATOMIC_SEQ_CST);
}

static void membarrier_register(void) {
    long q = __atomic_load_n(&fences_forced, __ATOMIC_RELAXED)
                 ? -1
                 : syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    bool ok = q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
              syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    if (ok)
        __atomic_and_fetch(&gs.state, ~ST_FENCE, __ATOMIC_SEQ_CST);
    else
        __atomic_or_fetch(&gs.state, ST_FENCE, __ATOMIC_SEQ_CST);
}

/* Every thread passes a full barrier (or, in fence mode, fences itself). */
static void membar_all(void) {
    if (__atomic_load_n(&gs.state, __ATOMIC_RELAXED) & ST_FENCE)
        return;
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return;
    /* Not registered (cannot happen after a successful registration, which
     * fork children inherit and redo): register and retry. */
    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

/* Stop the world: afterwards no other thread is inside an event, and none
 * enters one until world_resume.  The caller must be busy (rcyi_tm_enter)
 * so that its own events are ignored instead of waiting for itself. */
static void world_stop(void) {
    spin_lock(&world_lock);
    __atomic_or_fetch(&gs.state, ST_STOPPED, __ATOMIC_SEQ_CST);
    membar_all();
    spin_lock(&thr_lock);
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    tm_thread *self = tls_thr;
    for (unsigned i = 0; i < hi; i++) {
        tm_thread *t = thr_at(i);
        unsigned spins = 0;
        if (t != self)
            while (__atomic_load_n(&t->in_event, __ATOMIC_ACQUIRE))
                spin_pause(&spins);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void world_resume(void) {
    spin_unlock(&thr_lock);
    __atomic_and_fetch(&gs.state, ~ST_STOPPED, __ATOMIC_RELEASE);
    spin_unlock(&world_lock);
}

/* A stopper's bracket: busy (so its own events are ignored and it never
 * waits for itself), then the world stopped.  Returns the busy state that
 * stopper_end restores. */
static int stopper_begin(void) {
    int prev = rcyi_tm_enter();
    world_stop();
    return prev;
}

static void stopper_end(int prev) {
    world_resume();
    rcyi_tm_exit(prev);
}

/* ---- thread registry ------------------------------------------------------- */

static void thr_exit(void *arg);

static tm_thread *thr_register(void) {
    tm_thread *t = NULL;
    spin_lock(&thr_lock);
    unsigned hi = thr_hi;
    for (unsigned i = 0; i < hi; i++) {
        if (!thr_at(i)->used) {
            t = thr_at(i);
            break;
        }
    }
    if (!t && hi < THR_PER_CHUNK * THR_CHUNKS) {
        if (!thr_chunk[hi / THR_PER_CHUNK])
            thr_chunk[hi / THR_PER_CHUNK] = rcyi_tm_map(THR_PER_CHUNK * sizeof(tm_thread));
        if (thr_chunk[hi / THR_PER_CHUNK]) {
            t = thr_at(hi);
            __atomic_store_n(&thr_hi, hi + 1, __ATOMIC_RELEASE);
        }
    }
    bool need_multi = false;
    if (t) {
        t->used = 1;
        need_multi = ++thr_nused >= 2 && !__atomic_load_n(&gs.multi, __ATOMIC_RELAXED);
    }
    spin_unlock(&thr_lock);
    if (need_multi) {
        /* The one other thread may be in an event that skips the shard
         * locks: wait it out with the world stopped, and only then set
         * multi.  So whoever sees multi set (this thread, or a third one
         * registering meanwhile, which otherwise stops the world too) knows
         * no lock-free event is still running. */
        world_stop();
        __atomic_store_n(&gs.multi, 1, __ATOMIC_RELAXED);
        world_resume();
    }
    if (t) {
        tls_thr = t;
        /* glibc keeps the first 32 keys' values in the thread descriptor:
         * no allocation here in practice. */
        if (__atomic_load_n(&thr_key_ok, __ATOMIC_ACQUIRE))
            pthread_setspecific(thr_key, t);
    }
    return t;
}

/* Mark t in an event and wait out a stopper.  false when not tracing (t is
 * then out of the event again). */
__attribute__((noinline)) static bool ev_enter_slow(tm_thread *t, bool any_state) {
    for (;;) {
        uint32_t s = __atomic_load_n(&gs.state, __ATOMIC_ACQUIRE);
        if (s & ST_FENCE) {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            s = __atomic_load_n(&gs.state, __ATOMIC_ACQUIRE);
        }
        if (!(s & ST_STOPPED)) {
            if ((s & ST_TRACING) || any_state)
                return true;
            __atomic_store_n(&t->in_event, 0, __ATOMIC_RELEASE);
            return false;
        }
        __atomic_store_n(&t->in_event, 0, __ATOMIC_RELEASE);
        unsigned spins = 0;
        while (__atomic_load_n(&gs.state, __ATOMIC_ACQUIRE) & ST_STOPPED)
            spin_pause(&spins);
        __atomic_store_n(&t->in_event, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
}

/* The calling thread's record, inside an event, or NULL (not tracing, or
 * no record could be made).  The caller has set tls_busy. */
static inline tm_thread *ev_enter(void) {
    tm_thread *t = tls_thr;
    if (RCY_UNLIKELY(!t) && !(t = thr_register()))
        return NULL;
    __atomic_store_n(&t->in_event, 1, __ATOMIC_RELAXED);
    /* Pairs with membar_all in world_stop: either this thread sees
     * ST_STOPPED below, or the stopper sees in_event == 1. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (RCY_UNLIKELY(__atomic_load_n(&gs.state, __ATOMIC_ACQUIRE) != ST_TRACING) &&
        !ev_enter_slow(t, false))
        return NULL;
    /* Read after the state: a registration that sets multi stops the
     * world before the new thread's first event. */
    t->locking = __atomic_load_n(&gs.multi, __ATOMIC_RELAXED);
    return t;
}

static inline void ev_leave(tm_thread *t) {
    __atomic_store_n(&t->in_event, 0, __ATOMIC_RELEASE);
}

/* ---- accounting -------------------------------------------------------------- */

/* Bytes in (and the peak), counting no allocation: acct_alloc's half that
 * rcyi_tracemalloc_put_back also uses. */
static inline void acct_grow(tm_thread *t, size_t size) {
    int64_t d = t->delta + (int64_t)size;
    size_t cur = __atomic_load_n(&gs.cur, __ATOMIC_RELAXED);
    size_t peak = __atomic_load_n(&gs.peak, __ATOMIC_RELAXED);
    if (RCY_LIKELY(d <= DELTA_MAX && (int64_t)(cur + (size_t)d) <= (int64_t)peak)) {
        t->delta = d;
        return;
    }
    t->delta = 0;
    size_t c = __atomic_add_fetch(&gs.cur, (size_t)d, __ATOMIC_RELAXED);
    if (d > 0)
        peak_raise(c);
}

static inline void acct_alloc(tm_thread *t, size_t size) {
    t->allocs++;
    acct_grow(t, size);
}

/* Bytes out, counting no free (rcyi_tracemalloc_take). */
static inline void acct_shrink(tm_thread *t, size_t size) {
    int64_t d = t->delta - (int64_t)size;
    if (RCY_LIKELY(d >= -DELTA_MAX)) {
        t->delta = d;
        return;
    }
    t->delta = 0;
    __atomic_add_fetch(&gs.cur, (size_t)d, __ATOMIC_RELAXED);
}

static inline void acct_free(tm_thread *t, size_t size) {
    t->frees++;
    acct_shrink(t, size);
}

/* A trace replaced in place: old bytes out, new bytes in, one allocation
 * (none when !count: a trace put back). */
static inline void acct_replace(tm_thread *t, size_t old, size_t size, bool count) {
    t->delta -= (int64_t)old;
    t->allocs += count;
    acct_grow(t, size);
}

/* Move a thread's delta and event counters into the globals (the thread
 * is stopped, ending, or gone); returns the new current total. */
static size_t thr_fold(tm_thread *t) {
    size_t c = __atomic_add_fetch(&gs.cur, (size_t)t->delta, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_allocs, t->allocs, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_frees, t->frees, __ATOMIC_RELAXED);
    t->delta = 0;
    t->allocs = t->frees = 0;
    return c;
}

/* A thread's caches name tracebacks: forget them when those go, or when
 * the slot goes to another thread. */
static void thr_forget_caches(tm_thread *t) {
    memset(t->cs, 0, sizeof t->cs);
    memset(t->tbc, 0, sizeof t->tbc);
    t->last_id = 0;
    t->tmp_id = 0;
}

/* The world is stopped: fold every thread's delta and counters. */
static void fold_counters_locked(void) {
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < hi; i++)
        thr_fold(thr_at(i));
    peak_raise(__atomic_load_n(&gs.cur, __ATOMIC_RELAXED));
}

/* A thread ends: its deltas and spare arrays go to the globals, its slot
 * to the next thread. */
static void bt_spares_release(tm_thread *t);

static void thr_exit(void *arg) {
    tm_thread *t = arg;
    if (!t)
        return;
    int prev = tls_busy;
    tls_busy = 1;
    __atomic_store_n(&t->in_event, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&gs.state, __ATOMIC_ACQUIRE) != ST_TRACING)
        ev_enter_slow(t, true);
    bool grew = t->delta > 0;
    size_t c = thr_fold(t);
    if (grew)
        peak_raise(c);
    bt_spares_release(t);
    ev_leave(t);
    spin_lock(&thr_lock);
    thr_forget_caches(t);
    t->used = 0;
    /* Back to one thread: its events may skip the shard locks again (each
     * event reads the flag once, at its start). */
    if (--thr_nused <= 1)
        __atomic_store_n(&gs.multi, 0, __ATOMIC_RELAXED);
    spin_unlock(&thr_lock);
    if (tls_thr == t)
        tls_thr = NULL;
    tls_busy = prev;
}

/* ---- shards ------------------------------------------------------------------ */

typedef struct slot {
    uintptr_t ptr;
    uint32_t size; /* UINT32_MAX: see the shard's big list */
    uint32_t tb;   /* 0 = empty slot */
} slot;

typedef struct big_ent {
    uintptr_t ptr;
    uint32_t domain;
    uint64_t size;
} big_ent;

#define NSHARDS 64
#define GROUP   4 /* slots per group: 64 bytes, one cache line */

typedef struct shard {
    int lock;
    slot *slots;
    uint8_t *over;  /* per group: entries that probed past it (saturating) */
    size_t ngroups; /* capacity = ngroups * GROUP */
    size_t count;
    size_t map_bytes;
    big_ent *big;
    size_t nbig, capbig;
} __attribute__((aligned(64))) shard;

static shard shards[NSHARDS];

/* One multiply per address.  A 64-byte line of blocks shares a group, so
 * blocks allocated one after another touch the same cache line of the
 * table; the shard comes from the top bits, the group from the low. */
static inline uint64_t addr_hash(uintptr_t ptr) {
    uint64_t h = rcyi_hash_ptr(ptr >> 6);
    return h ^ (h >> 31);
}

static inline shard *shard_of(uint64_t h) {
    return &shards[h >> 58];
}

static inline size_t home_group(const shard *s, uint64_t h) {
    return (size_t)(((h & 0xffffffffu) * (uint64_t)s->ngroups) >> 32);
}

/* ---- tracebacks: arena, directory, intern table -------------------------------- */

static int intern_lock;

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
} chunk;
static chunk *arena; /* newest first */

#define DIR_CHUNK  4096u
#define DIR_CHUNKS 65536u
static rcyi_tb **tb_dir[DIR_CHUNKS];
static uint32_t tb_count;  /* ids 1..tb_count are in use */
static uint32_t trace_gen; /* bumped by every clear: a taken trace's ids are stale */

typedef struct intern_slot {
    uint32_t hash, id; /* id 0 = empty; the hash spares a probe the traceback */
} intern_slot;
static intern_slot *intern_tab;
static size_t intern_cap; /* power of two */

static inline rcyi_tb *tb_get(uint32_t id) {
    return tb_dir[id / DIR_CHUNK][id % DIR_CHUNK];
}

/* n bytes (8-aligned) from a list of mapped chunks. */
static void *chunk_alloc(chunk **list, size_t n) {
    n = (n + 7) & ~(size_t)7;
    chunk *c = *list;
    if (!c || c->size - c->used < n) {
        size_t sz = page_round(n + sizeof(chunk) + 15);
        if (sz < 65536)
            sz = 65536;
        c = rcyi_tm_map(sz);
        if (!c)
            return NULL;
        c->size = sz;
        c->used = (sizeof(chunk) + 15) & ~(size_t)15;
        c->next = *list;
        *list = c;
    }
    void *p = (char *)c + c->used;
    c->used += n;
    return p;
}

static void chunks_free(chunk **list) {
    while (*list) {
        chunk *c = *list;
        *list = c->next;
        rcyi_tm_unmap(c, c->size);
    }
}

static inline bool tb_equal(const rcyi_tb *t, uint32_t hash, unsigned domain, const char *file,
                            int line, const char *func, const uintptr_t *pcs, int npcs, int total) {
    if (t->hash != hash || t->domain != domain || t->file != file || t->line != line ||
        t->func != func || t->npcs != npcs || t->total != total)
        return false;
    /* A few words: a loop beats a call to memcmp. */
    for (int i = 0; i < npcs; i++)
        if (t->pcs[i] != pcs[i])
            return false;
    return true;
}

static bool intern_grow_locked(void) {
    size_t ncap = intern_cap ? intern_cap * 2 : 1024;
    intern_slot *nt = rcyi_tm_map(ncap * sizeof *nt);
    if (!nt)
        return false;
    for (size_t i = 0; i < intern_cap; i++) {
        if (!intern_tab[i].id)
            continue;
        size_t j = intern_tab[i].hash & (ncap - 1);
        while (nt[j].id)
            j = (j + 1) & (ncap - 1);
        nt[j] = intern_tab[i];
    }
    rcyi_tm_unmap(intern_tab, intern_cap * sizeof *intern_tab);
    intern_tab = nt;
    intern_cap = ncap;
    return true;
}

/* The id of the traceback, interning it if new; 0 on out of memory. */
static uint32_t intern_locked(uint32_t hash, unsigned domain, const char *file, int line,
                              const char *func, const uintptr_t *pcs, int npcs, int total) {
    if (intern_cap) {
        for (size_t j = hash & (intern_cap - 1);; j = (j + 1) & (intern_cap - 1)) {
            uint32_t id = intern_tab[j].id;
            if (!id)
                break;
            if (intern_tab[j].hash == hash &&
                tb_equal(tb_get(id), hash, domain, file, line, func, pcs, npcs, total))
                return id;
        }
    }
    if ((size_t)(tb_count + 1) * 2 > intern_cap && !intern_grow_locked())
        return 0;
    uint32_t id = tb_count + 1;
    if (id / DIR_CHUNK >= DIR_CHUNKS)
        return 0;
    if (!tb_dir[id / DIR_CHUNK]) {
        tb_dir[id / DIR_CHUNK] = rcyi_tm_map(DIR_CHUNK * sizeof(rcyi_tb *));
        if (!tb_dir[id / DIR_CHUNK])
            return 0;
    }
    rcyi_tb *t = chunk_alloc(&arena, sizeof *t + (size_t)npcs * sizeof *pcs);
    if (!t)
        return 0;
    t->hash = hash;
    t->domain = domain;
    t->npcs = (uint16_t)npcs;
    t->total = (uint16_t)total;
    t->file = file;
    t->line = line;
    t->func = func;
    t->next = 0;
    t->id = id;
    if (npcs)
        memcpy(t->pcs, pcs, (size_t)npcs * sizeof *pcs);
    tb_dir[id / DIR_CHUNK][id % DIR_CHUNK] = t;
    size_t j = hash & (intern_cap - 1);
    while (intern_tab[j].id)
        j = (j + 1) & (intern_cap - 1);
    intern_tab[j] = (intern_slot){hash, id};
    /* Published last: another thread's event may read the directory. */
    __atomic_store_n(&tb_count, id, __ATOMIC_RELEASE);
    return id;
}

/* Cheap on purpose: one multiply per word, one final mix. */
static uint32_t tb_hash(unsigned domain, const char *file, int line, const char *func,
                        const uintptr_t *pcs, int npcs, int total) {
    uint64_t h = (uintptr_t)file * 0x9e3779b97f4a7c15ULL;
    h ^= (uintptr_t)func * 0xc2b2ae3d27d4eb4fULL;
    h ^= ((uint64_t)(unsigned)line << 32 | (uint64_t)(unsigned)total) * 0x165667b19e3779f9ULL;
    h ^= domain;
    /* Four independent lanes: the multiplies overlap instead of chaining. */
    uint64_t l0 = h, l1 = 0x243f6a8885a308d3ULL, l2 = 0x13198a2e03707344ULL,
             l3 = 0xa4093822299f31d0;
    int i = 0;
    for (; i + 4 <= npcs; i += 4) {
        l0 = (l0 ^ pcs[i]) * 0x9e3779b97f4a7c15ULL;
        l1 = (l1 ^ pcs[i + 1]) * 0xc2b2ae3d27d4eb4fULL;
        l2 = (l2 ^ pcs[i + 2]) * 0x165667b19e3779f9ULL;
        l3 = (l3 ^ pcs[i + 3]) * 0xd6e8feb86659fd93ULL;
    }
    for (; i < npcs; i++)
        l0 = (l0 ^ pcs[i]) * 0x9e3779b97f4a7c15ULL;
    h = l0 ^ (l1 >> 7) ^ (l2 >> 13) ^ (l3 >> 19) ^ (l1 << 57) ^ (l2 << 51) ^ (l3 << 45);
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    return (uint32_t)h ? (uint32_t)h : 1;
}

/* In an event: the id for this traceback, through the thread's cache,
 * else the intern table.  0 on out of memory. */
static uint32_t tb_lookup(tm_thread *thr, unsigned domain, const char *file, int line,
                          const char *func, const uintptr_t *pcs, int npcs, int total) {
    uint32_t hash = tb_hash(domain, file, line, func, pcs, npcs, total);
    /* First the thread's cache of recent tracebacks.  Then, since a
     * program that repeats a sequence of allocations (a loop building the
     * same structure again) meets its tracebacks in the same order again:
     * the one that followed the thread's last traceback the previous time
     * (a hint kept in that traceback), the next one interned, and the last
     * itself.  Only then the intern table. */
    tb_cache_ent *e = &thr->tbc[(hash ^ (hash >> 16)) % TB_CACHE];
    if (e->hash == hash && e->id &&
        tb_equal(tb_get(e->id), hash, domain, file, line, func, pcs, npcs, total))
        return thr->last_id = e->id;
    uint32_t last = thr->last_id, count = __atomic_load_n(&tb_count, __ATOMIC_ACQUIRE), id = 0;
    rcyi_tb *lt = last && last <= count ? tb_get(last) : NULL;
    if (lt) {
        uint32_t hint = __atomic_load_n(&lt->next, __ATOMIC_RELAXED);
        if (hint && hint <= count) {
            const rcyi_tb *t = tb_get(hint);
            if (tb_equal(t, hash, domain, file, line, func, pcs, npcs, total)) {
                id = hint;
                goto cache;
            }
        }
        if (last < count) {
            const rcyi_tb *t = tb_get(last + 1);
            if (tb_equal(t, hash, domain, file, line, func, pcs, npcs, total)) {
                id = last + 1;
                goto cache;
            }
        }
    }
    spin_lock(&intern_lock);
    id = intern_locked(hash, domain, file, line, func, pcs, npcs, total);
    spin_unlock(&intern_lock);
    if (!id)
        return 0;
cache:
    e->hash = hash;
    e->id = id;
    /* Hints matter for sequences too long for the cache: kept up to date
     * only when the cache missed. */
    if (lt && __atomic_load_n(&lt->next, __ATOMIC_RELAXED) != id)
        __atomic_store_n(&lt->next, id, __ATOMIC_RELAXED);
    return thr->last_id = id;
}

/* The call-site cache: one frame, keyed by the site's file pointer and
 * line, so a hit costs four compares and no hashing. */
__attribute__((noinline)) static rcyi_tb *cs_miss(tm_thread *thr, cs_ent *e, unsigned domain,
                                                  const char *file, int line, const char *func) {
    uint32_t id = tb_lookup(thr, domain, file, line, func, NULL, 0, 0);
    if (!id)
        return NULL;
    *e = (cs_ent){file, func, line, domain, tb_get(id)};
    return e->tb;
}

/* The traceback of a one-frame call site; NULL on out of memory. */
static inline rcyi_tb *cs_lookup(tm_thread *thr, unsigned domain, const char *file, int line,
                                 const char *func) {
    cs_ent *e = &thr->cs[(((uintptr_t)file >> 4) + (unsigned)line * 7u) & (CS_CACHE - 1)];
    if (RCY_LIKELY(e->file == file && e->line == line && e->func == func && e->domain == domain &&
                   e->tb))
        return e->tb;
    return cs_miss(thr, e, domain, file, line, func);
}

/* ---- peak aggregates (keep_peak) ------------------------------------------------ */

/* When on, reaching a new peak marks the picture "at peak"; the first free
 * afterwards, before it applies, stops the world and totals the live
 * traces per traceback, so the copy is the picture at the peak itself.
 * Events pay nothing for it but one flag test on a free.  To bound the
 * cost of a peak that creeps up by a few bytes at a time, a copy is made
 * only when the traced memory grew by more than 1/64 since the last copy:
 * the kept picture is within 1/64 of the peak (exact in one thread
 * otherwise; other threads' events between the peak and the copy may blur
 * it slightly). */
typedef struct tb_total {
    uint64_t size, count;
} tb_total;
static int keep_peak;
static tb_total *peak_copy; /* indexed by id; world stopped        */
static size_t peak_copy_n, peak_copy_map;
static size_t peak_copy_bytes; /* traced bytes when the copy was made */
static int peak_dirty;         /* a new peak since the last copy (atomic) */

static void peak_copy_locked(void);

/* In an event that lowers the traced memory, before it does: take the
 * picture at peak if one is due.  Leaves and re-enters the event around
 * the copy (a stopper must not wait for a thread that waits for it). */
static inline tm_thread *peak_check(tm_thread *thr) {
    if (RCY_LIKELY(!__atomic_load_n(&peak_dirty, __ATOMIC_RELAXED)))
        return thr;
    ev_leave(thr);
    if (__atomic_exchange_n(&peak_dirty, 0, __ATOMIC_RELAXED)) {
        world_stop();
        peak_copy_locked();
        world_resume();
    }
    return ev_enter();
}

/* ---- the trace table ----------------------------------------------------------- */

/* Start loading the group of hash h (and, under the lock, while the lock
 * is taken).  Read without the lock: a stale table only makes a useless
 * prefetch, which never faults. */
static inline void prefetch_group(const shard *s, uint64_t h) {
    uintptr_t slots = (uintptr_t)__atomic_load_n(&s->slots, __ATOMIC_RELAXED);
    size_t ng = __atomic_load_n(&s->ngroups, __ATOMIC_RELAXED);
    if (!slots)
        return;
    uintptr_t g = slots + (((h & 0xffffffffu) * (uint64_t)ng) >> 32) * GROUP * sizeof(slot);
    __builtin_prefetch((const void *)g, 1);
}

/* Place entry e (hash h) in the first empty slot of its probe path,
 * counting it in the overflow counter of every full group it passes.
 * `empty` is that slot when a lookup already found it, else SIZE_MAX. */
static void place_locked(shard *s, uint64_t h, size_t empty, slot e) {
    size_t ng = s->ngroups, g0 = home_group(s, h);
    if (empty == SIZE_MAX) {
        for (size_t g = g0;; g = g + 1 == ng ? 0 : g + 1) {
            slot *grp = &s->slots[g * GROUP];
            for (unsigned i = 0; i < GROUP; i++) {
                if (!grp[i].tb) {
                    empty = g * GROUP + i;
                    goto found;
                }
            }
        }
    }
found:
    for (size_t g = g0; g != empty / GROUP; g = g + 1 == ng ? 0 : g + 1)
        if (s->over[g] != UINT8_MAX)
            s->over[g]++;
    s->slots[empty] = e;
}

/* Rebuild the shard's table with about ng groups (rounded up to whole
 * pages).  false on out of memory (the old table stays). */
static bool shard_resize_locked(shard *s, size_t ng) {
    size_t per_group = GROUP * sizeof(slot) + 1;
    size_t bytes = page_round(ng * per_group);
    ng = bytes / per_group;
    slot *ns = rcyi_tm_map(bytes);
    if (!ns)
        return false;
    slot *old = s->slots;
    size_t oldcap = s->ngroups * GROUP, oldbytes = s->map_bytes;
    /* Atomic stores: prefetch_group reads these without the lock. */
    __atomic_store_n(&s->slots, ns, __ATOMIC_RELAXED);
    s->over = (uint8_t *)(ns + ng * GROUP);
    __atomic_store_n(&s->ngroups, ng, __ATOMIC_RELAXED);
    s->map_bytes = bytes;
    /* count keeps its value throughout: a free on another thread reads it
     * without the lock, and must never see 0 while its trace is here. */
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].tb)
            place_locked(s, addr_hash(old[i].ptr), SIZE_MAX, old[i]);
    rcyi_tm_unmap(old, oldbytes);
    return true;
}

/* Grow by 3/2 at 3/4 load: the table stays between 1/2 and 3/4 full. */
static bool shard_grow_locked(shard *s) {
    return shard_resize_locked(s, s->ngroups ? s->ngroups + s->ngroups / 2 : 16);
}

/* Shrink to half full once below 1/8 full, so the tracer gives memory back
 * after a peak (amortized: at least 3/8 of the capacity was freed since the
 * table had this size). */
static void shard_maybe_shrink_locked(shard *s) {
    size_t cap = s->ngroups * GROUP;
    if (s->ngroups > 64 && s->count * 8 < cap)
        shard_resize_locked(s, (s->count * 2 + GROUP - 1) / GROUP + 16);
}

/* The slot of (domain, ptr), or SIZE_MAX; *empty (when empty is not NULL)
 * is set to the first empty slot seen on the probe path (SIZE_MAX if
 * none).  A probe goes on to the
 * next group only while the group's overflow counter says some entry
 * passed it. */
static inline __attribute__((always_inline)) size_t find_locked(shard *s, uint64_t h, uintptr_t ptr,
                                                                unsigned domain, size_t *empty) {
    size_t ng = s->ngroups;
    if (empty)
        *empty = SIZE_MAX;
    if (!ng)
        return SIZE_MAX;
    size_t g = home_group(s, h);
    for (size_t n = 0; n < ng; n++) {
        slot *grp = &s->slots[g * GROUP];
        /* An empty slot has ptr 0, so one compare per slot finds the key
         * (a traced ptr of 0 is checked for emptiness below). */
        for (unsigned i = 0; i < GROUP; i++)
            if (grp[i].ptr == ptr && grp[i].tb && tb_get(grp[i].tb)->domain == domain)
                return g * GROUP + i;
        if (empty && *empty == SIZE_MAX) {
            for (unsigned i = 0; i < GROUP; i++) {
                if (!grp[i].tb) {
                    *empty = g * GROUP + i;
                    break;
                }
            }
        }
        if (!s->over[g])
            return SIZE_MAX;
        g = g + 1 == ng ? 0 : g + 1;
    }
    return SIZE_MAX;
}

static uint64_t big_take_locked(shard *s, uintptr_t ptr, unsigned domain) {
    for (size_t i = 0; i < s->nbig; i++) {
        if (s->big[i].ptr == ptr && s->big[i].domain == domain) {
            uint64_t sz = s->big[i].size;
            s->big[i] = s->big[--s->nbig];
            return sz;
        }
    }
    return UINT32_MAX; /* unreachable when the invariants hold */
}

static bool big_put_locked(shard *s, uintptr_t ptr, unsigned domain, uint64_t size) {
    if (s->nbig == s->capbig) {
        size_t ncap = s->capbig ? s->capbig * 2 : 64;
        big_ent *n = rcyi_tm_map(page_round(ncap * sizeof *n));
        if (!n)
            return false;
        if (s->nbig)
            memcpy(n, s->big, s->nbig * sizeof *n);
        rcyi_tm_unmap(s->big, page_round(s->capbig * sizeof *n));
        s->big = n;
        s->capbig = ncap;
    }
    s->big[s->nbig++] = (big_ent){ptr, domain, size};
    return true;
}

static uint64_t slot_size_locked(shard *s, const slot *e, unsigned domain) {
    if (e->size != UINT32_MAX)
        return e->size;
    for (size_t i = 0; i < s->nbig; i++)
        if (s->big[i].ptr == e->ptr && s->big[i].domain == domain)
            return s->big[i].size;
    return UINT32_MAX;
}

/* Empty slot j, whose entry has hash h: the groups it had passed no
 * longer count it (a saturated counter stays: it only costs probes). */
static void remove_at_locked(shard *s, uint64_t h, size_t j) {
    size_t ng = s->ngroups;
    for (size_t g = home_group(s, h); g != j / GROUP; g = g + 1 == ng ? 0 : g + 1)
        if (s->over[g] != UINT8_MAX)
            s->over[g]--;
    s->slots[j].tb = 0;
    s->slots[j].ptr = 0;
    __atomic_store_n(&s->count, s->count - 1, __ATOMIC_RELAXED);
}

/* A new folded total c: raise the peak to it. */
static void peak_raise(size_t c) {
    size_t pk = __atomic_load_n(&gs.peak, __ATOMIC_RELAXED);
    while (c > pk && !__atomic_compare_exchange_n(&gs.peak, &pk, c, true, __ATOMIC_RELAXED,
                                                  __ATOMIC_RELAXED)) {
    }
    if (RCY_UNLIKELY(__atomic_load_n(&keep_peak, __ATOMIC_RELAXED)) && c > pk) {
        /* A copy is due only once the peak grew by 1/64 since the last
         * one: test that here, not in the free that would stop the world
         * for nothing. */
        size_t last = __atomic_load_n(&peak_copy_bytes, __ATOMIC_RELAXED);
        if (!last || c > last + last / 64)
            __atomic_store_n(&peak_dirty, 1, __ATOMIC_RELAXED);
    }
}

/* In an event: record (domain, ptr) -> size, id in the shards, counted as
 * an allocation when `count` (not when a taken trace is put back).  false
 * on out of memory (the event is then not traced, as Python drops it with
 * a MemoryError). */
static bool shard_add(tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size, uint32_t id,
                      bool count) {
    uint64_t h = addr_hash(ptr);
    shard *s = shard_of(h);
    bool ok = false;
    prefetch_group(s, h);
    if (thr->locking)
        spin_lock(&s->lock);
    uint32_t sz32 = (uint32_t)size;
    if (RCY_UNLIKELY((uint64_t)size >= UINT32_MAX))
        sz32 = UINT32_MAX;
    size_t empty;
    size_t j = find_locked(s, h, ptr, domain, &empty);
    if (RCY_UNLIKELY(j != SIZE_MAX)) {
        /* Same address traced again (a realloc in place, or a user
         * allocator's reuse): replace, as Python does. */
        slot *e = &s->slots[j];
        uint64_t old = e->size == UINT32_MAX ? big_take_locked(s, ptr, domain) : e->size;
        if (sz32 == UINT32_MAX && !big_put_locked(s, ptr, domain, size)) {
            remove_at_locked(s, h, j);
            thr->delta -= (int64_t)old;
            thr->frees++;
            goto out;
        }
        e->size = sz32;
        e->tb = id;
        acct_replace(thr, old, size, count);
        ok = true;
        goto out;
    }
    if (RCY_UNLIKELY((s->count + 1) * 4 > s->ngroups * GROUP * 3)) {
        if (!shard_grow_locked(s))
            goto out;
        empty = SIZE_MAX;
    }
    if (RCY_UNLIKELY(sz32 == UINT32_MAX) && !big_put_locked(s, ptr, domain, size))
        goto out;
    place_locked(s, h, empty, (slot){ptr, sz32, id});
    __atomic_store_n(&s->count, s->count + 1, __ATOMIC_RELAXED);
    thr->allocs += count;
    acct_grow(thr, size);
    ok = true;
out:
    if (thr->locking)
        spin_unlock(&s->lock);
    return ok;
}

/* In an event: remove (domain, ptr)'s trace from the shards, with no
 * accounting; *size and *id get what it was.  false when there is none. */
static bool shard_take(tm_thread *thr, unsigned domain, uintptr_t ptr, uint64_t *size,
                       uint32_t *id) {
    uint64_t h = addr_hash(ptr);
    shard *s = shard_of(h);
    /* An empty shard cannot hold the trace: whoever traced ptr did so
     * before ptr could reach this thread to be freed. */
    if (!__atomic_load_n(&s->count, __ATOMIC_RELAXED))
        return false;
    bool found = false;
    prefetch_group(s, h);
    if (thr->locking)
        spin_lock(&s->lock);
    size_t j = find_locked(s, h, ptr, domain, NULL);
    if (j == SIZE_MAX)
        goto out;
    slot *e = &s->slots[j];
    *id = e->tb;
    *size = e->size == UINT32_MAX ? big_take_locked(s, ptr, domain) : e->size;
    remove_at_locked(s, h, j);
    if (RCY_UNLIKELY(s->count * 8 < s->ngroups * GROUP))
        shard_maybe_shrink_locked(s);
    found = true;
out:
    if (thr->locking)
        spin_unlock(&s->lock);
    return found;
}

/* The removed trace's traceback id, 0 when there was none. */
static uint32_t shard_remove(tm_thread *thr, unsigned domain, uintptr_t ptr) {
    uint64_t size;
    uint32_t id;
    if (!shard_take(thr, domain, ptr, &size, &id))
        return 0;
    acct_free(thr, size);
    return id;
}

/* ---- the block table ----------------------------------------------------------- */

/* Per pool: its geometry as the table last copied it, and the array of
 * entries ((size << 32) | traceback id; 0 = no trace).  ent != NULL
 * exactly when live > 0.  Written only by the thread whose heap owns the
 * pool (or with the world stopped). */
typedef struct bt_pool {
    uint64_t *ent;
    uintptr_t first; /* traced address of block 0 */
    uint32_t bsize, recip, nblocks, live;
} bt_pool;

typedef struct bt_arena {
    bt_pool pools[RCYI_POOLS_PER_ARENA];
} bt_arena;

#define BT_L2 4096u                   /* arenas per 4 GiB region */
static bt_arena **bt_dir[1u << 16];   /* address >> 32 -> region (atomic) */
static uint16_t bt_regions[1u << 16]; /* indexes of bt_dir in use (bt_lock) */
static unsigned bt_nregions;
static int bt_lock; /* bt_chunks, bt_free                  */
static chunk *bt_chunks;
static void *bt_free[BT_BUCKETS + 1]; /* free arrays per size; [BT_BUCKETS]: arena records */

static inline unsigned bt_bucket(uint32_t nblocks) {
    unsigned b = 0;
    while (((size_t)256 << b) < (size_t)nblocks * 8)
        b++;
    return b;
}

/* Push array a on bucket b's free list (bt_lock held). */
static void bt_put_locked(unsigned b, void *a) {
    *(void **)a = bt_free[b];
    bt_free[b] = a;
}

static void *bt_get_locked(unsigned b, size_t bytes) {
    void *p = bt_free[b];
    if (p) {
        bt_free[b] = *(void **)p;
        *(void **)p = NULL;
        return p;
    }
    return chunk_alloc(&bt_chunks, bytes);
}

/* An all-zero array for nblocks entries. */
static uint64_t *bt_array_get(tm_thread *thr, uint32_t nblocks) {
    unsigned b = bt_bucket(nblocks);
    if (b >= BT_BUCKETS)
        return NULL;
    void *p = thr->spare[b];
    if (p) {
        thr->spare[b] = NULL;
        return p;
    }
    spin_lock(&bt_lock);
    p = bt_get_locked(b, (size_t)256 << b);
    spin_unlock(&bt_lock);
    return p;
}

/* Give back an all-zero array: kept as the thread's spare, so a pool that
 * empties and fills again takes no lock. */
static void bt_array_put(tm_thread *thr, uint64_t *a, uint32_t nblocks) {
    unsigned b = bt_bucket(nblocks);
    if (!thr->spare[b]) {
        thr->spare[b] = a;
        return;
    }
    spin_lock(&bt_lock);
    bt_put_locked(b, a);
    spin_unlock(&bt_lock);
}

static void bt_spares_release(tm_thread *t) {
    spin_lock(&bt_lock);
    for (unsigned b = 0; b < BT_BUCKETS; b++) {
        if (t->spare[b])
            bt_put_locked(b, t->spare[b]);
        t->spare[b] = NULL;
    }
    spin_unlock(&bt_lock);
}

/* The table's record for the arena of p, or NULL. */
static inline bt_arena *bt_arena_of(uintptr_t p) {
    if (RCY_UNLIKELY(p >> 48))
        return NULL;
    bt_arena **l2 = __atomic_load_n(&bt_dir[p >> 32], __ATOMIC_ACQUIRE);
    if (!l2)
        return NULL;
    return __atomic_load_n(&l2[(p >> 20) % BT_L2], __ATOMIC_ACQUIRE);
}

/* The table's record for the pool of p, or NULL. */
static inline bt_pool *bt_pool_of(uintptr_t p) {
    bt_arena *a = bt_arena_of(p);
    return a ? &a->pools[(p / RCY_POOL_SIZE) % RCYI_POOLS_PER_ARENA] : NULL;
}

/* The entry of p in bp's array, or NULL when p is not a block position of
 * the geometry the array was set up for. */
static inline uint64_t *bt_entry(const bt_pool *bp, uintptr_t p) {
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

/* The record for p's pool, making the directory levels it needs. */
static bt_pool *bt_pool_make(uintptr_t p) {
    bt_arena **l2 = __atomic_load_n(&bt_dir[p >> 32], __ATOMIC_ACQUIRE);
    if (!l2) {
        bt_arena **n = rcyi_tm_map(BT_L2 * sizeof *n);
        if (!n)
            return NULL;
        if (__atomic_compare_exchange_n(&bt_dir[p >> 32], &l2, n, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            l2 = n;
            spin_lock(&bt_lock);
            bt_regions[bt_nregions++] = (uint16_t)(p >> 32);
            spin_unlock(&bt_lock);
        } else
            rcyi_tm_unmap(n, BT_L2 * sizeof *n);
    }
    bt_arena **slotp = &l2[(p >> 20) % BT_L2];
    bt_arena *a = __atomic_load_n(slotp, __ATOMIC_ACQUIRE);
    if (!a) {
        spin_lock(&bt_lock);
        bt_arena *n = bt_get_locked(BT_BUCKETS, sizeof(bt_arena));
        spin_unlock(&bt_lock);
        if (!n)
            return NULL;
        if (__atomic_compare_exchange_n(slotp, &a, n, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            a = n;
        } else {
            spin_lock(&bt_lock);
            bt_put_locked(BT_BUCKETS, n);
            spin_unlock(&bt_lock);
        }
    }
    return &a->pools[(p / RCY_POOL_SIZE) % RCYI_POOLS_PER_ARENA];
}

/* p (a block the thread's heap just handed out) has no entry yet: set up
 * its pool's array from the allocator's geometry, unless the pool's array
 * is in use with another geometry (then p goes to the shards). */
__attribute__((noinline)) static uint64_t *bt_prepare(tm_thread *thr, uintptr_t p, bt_pool **out) {
    if (p >> 48 || !rcyi_arena_lookup((const void *)p))
        return NULL;
    uintptr_t first;
    uint32_t bsize, nblocks;
    if (!rcyi_pool_geometry((const void *)p, &first, &bsize, &nblocks) || !nblocks ||
        bsize > RCY_POOL_SIZE || p < first)
        return NULL;
    bt_pool *bp = bt_pool_make(p);
    if (!bp || bp->live)
        return NULL;
    uint64_t *a = bt_array_get(thr, nblocks);
    if (!a)
        return NULL;
    /* The traced address sits at the same offset in every block of the
     * pool (0 for raw blocks, the header size for objects, plus the
     * debug front pad). */
    bp->first = first + (p - first) % bsize;
    bp->bsize = bsize;
    bp->recip = (uint32_t)((((uint64_t)1 << 32) + bsize - 1) / bsize);
    bp->nblocks = nblocks;
    bp->ent = a;
    *out = bp;
    return bt_entry(bp, p);
}

/* In an event: trace p in the block table.  false when p is not a block of
 * recycle's pools (or on out of memory): the caller uses the shards. */
static inline bool bt_add(tm_thread *thr, uintptr_t p, size_t size, uint32_t id) {
    bt_pool *bp = bt_pool_of(p);
    uint64_t *e = bp ? bt_entry(bp, p) : NULL;
    if (RCY_UNLIKELY(!e)) {
        e = bt_prepare(thr, p, &bp);
        if (!e) {
            if (bp && !bp->live && bp->ent) {
                bt_array_put(thr, bp->ent, bp->nblocks);
                bp->ent = NULL;
            }
            return false;
        }
    }
    uint64_t old = *e;
    *e = (uint64_t)size << 32 | id;
    if (RCY_LIKELY(!old)) {
        bp->live++;
        acct_alloc(thr, size);
    } else {
        acct_replace(thr, old >> 32, size, true);
    }
    return true;
}

/* In an event: untrace p from the block table; the traceback id its entry
 * had, 0 when it has none there. */
static inline uint32_t bt_remove(tm_thread *thr, uintptr_t p) {
    bt_pool *bp = bt_pool_of(p);
    uint64_t *e = bp ? bt_entry(bp, p) : NULL;
    if (!e || !*e)
        return 0;
    uint64_t v = *e;
    *e = 0;
    if (--bp->live == 0) {
        bt_array_put(thr, bp->ent, bp->nblocks);
        bp->ent = NULL;
    }
    acct_free(thr, v >> 32);
    return (uint32_t)v;
}

/* Calls f(pool, entry index) for every traced block; world stopped. */
#define BT_FOREACH(bp, q, body)                                                                    \
    for (unsigned bt_i_ = 0; bt_i_ < bt_nregions; bt_i_++) {                                       \
        bt_arena **bt_l2_ = bt_dir[bt_regions[bt_i_]];                                             \
        for (size_t bt_j_ = 0; bt_j_ < BT_L2; bt_j_++) {                                           \
            bt_arena *bt_a_ = bt_l2_[bt_j_];                                                       \
            if (!bt_a_)                                                                            \
                continue;                                                                          \
            for (size_t bt_k_ = 0; bt_k_ < RCYI_POOLS_PER_ARENA; bt_k_++) {                        \
                bt_pool *bp = &bt_a_->pools[bt_k_];                                                \
                if (!bp->ent)                                                                      \
                    continue;                                                                      \
                for (uint32_t q = 0; q < bp->nblocks; q++) {                                       \
                    if (bp->ent[q]) {                                                              \
                        body                                                                       \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

static size_t bt_count_locked(void) {
    size_t n = 0;
    for (unsigned i = 0; i < bt_nregions; i++) {
        bt_arena **l2 = bt_dir[bt_regions[i]];
        for (size_t j = 0; j < BT_L2; j++)
            if (l2[j])
                for (size_t k = 0; k < RCYI_POOLS_PER_ARENA; k++)
                    n += l2[j]->pools[k].live;
    }
    return n;
}

static void bt_clear_locked(void) {
    for (unsigned i = 0; i < bt_nregions; i++) {
        rcyi_tm_unmap(bt_dir[bt_regions[i]], BT_L2 * sizeof(bt_arena *));
        bt_dir[bt_regions[i]] = NULL;
    }
    bt_nregions = 0;
    chunks_free(&bt_chunks);
    memset(bt_free, 0, sizeof bt_free);
}

/* ---- events ------------------------------------------------------------------- */

/* The event guard, around every traced allocation, free, track, untrack,
 * take and put back: NULL when this thread already runs tracer code (its
 * own mallocs are not traced) or has no record; otherwise the thread is
 * busy and inside an event until event_end.  `lowers`: the event lowers
 * the traced memory, so the picture at peak is taken first if one is due
 * (peak_check). */
static inline __attribute__((always_inline)) tm_thread *event_begin(bool lowers) {
    if (tls_busy)
        return NULL;
    tls_busy = 1;
    tm_thread *thr = ev_enter();
    if (lowers && RCY_LIKELY(thr != NULL))
        thr = peak_check(thr);
    if (RCY_UNLIKELY(thr == NULL))
        tls_busy = 0;
    return thr;
}

static inline __attribute__((always_inline)) void event_end(tm_thread *thr) {
    ev_leave(thr);
    tls_busy = 0;
}

/* In an event: record (domain, ptr) -> size, id.  `hook`: ptr comes from
 * recycle's own allocation hooks (a live block of the caller's heap), so
 * it may go to the block table. */
static inline bool add_trace(tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size,
                             uint32_t id, bool hook) {
    if (RCY_LIKELY(hook && domain == 0 && size < UINT32_MAX) && bt_add(thr, ptr, size, id))
        return true;
    return shard_add(thr, domain, ptr, size, id, true);
}

/* In an event, after an allocation traced with traceback t: its call
 * site's counters, and it becomes the thread's last allocation.  Plain
 * adds while one thread traces (no other event runs meanwhile: see
 * gs.multi), atomic ones after. */
static inline __attribute__((always_inline)) void
count_alloc(tm_thread *thr, uintptr_t ptr, size_t size, rcyi_tb *t, uint32_t id) {
    if (RCY_LIKELY(!thr->locking)) {
        t->allocs++;
        t->allocated += size;
    } else {
        __atomic_add_fetch(&t->allocs, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&t->allocated, size, __ATOMIC_RELAXED);
    }
    thr->tmp_ptr = ptr;
    thr->tmp_id = id;
}

/* The thread's last allocation was just freed: one temporary for its
 * traceback. */
__attribute__((noinline)) static void count_temporary(tm_thread *thr) {
    rcyi_tb *t = tb_get(thr->tmp_id);
    thr->tmp_id = 0;
    if (RCY_LIKELY(!thr->locking))
        t->temporary++;
    else
        __atomic_add_fetch(&t->temporary, 1, __ATOMIC_RELAXED);
}

/* In an event, the trace of ptr with traceback id (0: none) just went: a
 * temporary allocation when it was the thread's last allocation
 * (heaptrack's definition: freed before the thread allocated anything
 * else).  The id names the domain too. */
static inline __attribute__((always_inline)) void count_free(tm_thread *thr, uintptr_t ptr,
                                                             uint32_t id) {
    if (RCY_UNLIKELY(thr->tmp_ptr == ptr) && thr->tmp_id == id && id)
        count_temporary(thr);
}

/* add_trace, counted (t: the traceback, its id). */
static inline bool add_counted(tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size,
                               rcyi_tb *t, bool hook) {
    uint32_t id = t->id; /* read once: the trace's stores may alias it */
    if (!add_trace(thr, domain, ptr, size, id, hook))
        return false;
    count_alloc(thr, ptr, size, t, id);
    return true;
}

static inline void remove_trace(tm_thread *thr, unsigned domain, uintptr_t ptr, bool hook) {
    uint32_t id = 0;
    if (RCY_LIKELY(hook && domain == 0))
        id = bt_remove(thr, ptr);
    if (!id)
        id = shard_remove(thr, domain, ptr);
    count_free(thr, ptr, id);
}

/* ---- with the world stopped -------------------------------------------------------- */

/* The live traces totalled per traceback: the picture at peak. */
static void peak_copy_locked(void) {
    fold_counters_locked();
    size_t cur = __atomic_load_n(&gs.cur, __ATOMIC_RELAXED);
    size_t last = peak_copy_bytes;
    if (last && cur <= last + last / 64)
        return;
    size_t n = (size_t)tb_count + 1;
    size_t bytes = page_round(n * sizeof(tb_total));
    if (bytes > peak_copy_map) {
        tb_total *c = rcyi_tm_map(bytes);
        if (!c)
            return;
        rcyi_tm_unmap(peak_copy, peak_copy_map);
        peak_copy = c;
        peak_copy_map = bytes;
    } else {
        memset(peak_copy, 0, n * sizeof(tb_total));
    }
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        for (size_t j = 0; j < s->ngroups * GROUP; j++) {
            uint32_t id = s->slots[j].tb;
            if (id) {
                peak_copy[id].size += slot_size_locked(s, &s->slots[j], tb_get(id)->domain);
                peak_copy[id].count++;
            }
        }
    }
    BT_FOREACH(bp, q, {
        uint32_t id = (uint32_t)bp->ent[q];
        peak_copy[id].size += bp->ent[q] >> 32;
        peak_copy[id].count++;
    })
    peak_copy_n = n;
    peak_copy_bytes = cur;
}

static void clear_locked(void) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        rcyi_tm_unmap(s->slots, s->map_bytes);
        rcyi_tm_unmap(s->big, page_round(s->capbig * sizeof(big_ent)));
        s->slots = NULL;
        s->over = NULL;
        s->big = NULL;
        s->ngroups = s->map_bytes = s->nbig = s->capbig = 0;
        __atomic_store_n(&s->count, 0, __ATOMIC_RELAXED);
    }
    bt_clear_locked();
    chunks_free(&arena);
    for (size_t i = 0; i < DIR_CHUNKS && tb_dir[i]; i++) {
        rcyi_tm_unmap(tb_dir[i], DIR_CHUNK * sizeof(rcyi_tb *));
        tb_dir[i] = NULL;
    }
    rcyi_tm_unmap(intern_tab, intern_cap * sizeof *intern_tab);
    intern_tab = NULL;
    intern_cap = 0;
    tb_count = 0;
    __atomic_store_n(&trace_gen, trace_gen + 1, __ATOMIC_RELAXED);
    rcyi_tm_unmap(peak_copy, peak_copy_map);
    peak_copy = NULL;
    peak_copy_map = 0;
    peak_copy_n = 0;
    peak_copy_bytes = 0;
    peak_dirty = 0;
    /* Every thread's caches name tracebacks that are gone; its deltas
     * count traces that are gone. */
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < hi; i++) {
        tm_thread *t = thr_at(i);
        t->delta = 0;
        memset(t->spare, 0, sizeof t->spare);
        thr_forget_caches(t);
    }
    __atomic_store_n(&gs.cur, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&gs.peak, 0, __ATOMIC_RELAXED);
}

/* ---- hooks ---------------------------------------------------------------------- */

#define STACK_PCS 128

/* Room for *want return addresses: stackbuf (STACK_PCS entries) when that
 * is enough, else pages from the tracer's own mmap (*mapped bytes, to be
 * unmapped by the caller); when mapping fails, stackbuf with *want cut to
 * STACK_PCS. */
static uintptr_t *stack_room(uintptr_t *stackbuf, int *want, size_t *mapped) {
    *mapped = 0;
    if (*want <= STACK_PCS)
        return stackbuf;
    size_t bytes = page_round((size_t)*want * sizeof *stackbuf);
    uintptr_t *pcs = rcyi_tm_map(bytes);
    if (!pcs) {
        *want = STACK_PCS;
        return stackbuf;
    }
    *mapped = bytes;
    return pcs;
}

/* The walker fills the stack buffers; gcc cannot see that through the
 * call. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/* The script frames of the frame source, if one is set, into pcs (room
 * for `limit`), called out of the event (the thread stays busy): a source
 * that blocks, or calls the tracer, never holds up a stopper.  Returns how
 * many (*stotal: the script's depth) and the thread's record in an event
 * again, or NULL when tracing stopped meanwhile (the thread is then no
 * longer busy). */
static tm_thread *script_frames(tm_thread *thr, const rcyi_fsource *src, int limit, uintptr_t *pcs,
                                int *n, int *stotal) {
    *n = *stotal = 0;
    if (!src)
        return thr;
    ev_leave(thr);
    *n = rcyi_fsource_capture(src, &thr->sfc, limit, pcs, stotal);
    thr = ev_enter();
    if (!thr)
        tls_busy = 0;
    return thr;
}

/* With a frame source: the script frames, then (with none, or in
 * RCY_FRAMES_NATIVE mode) the call site and the native stack from the
 * hook's own frame `fp`.  Ends the event. */
__attribute__((noinline)) static void
trace_alloc_script(tm_thread *thr, const rcyi_fsource *src, uintptr_t fp, unsigned domain,
                   const void *ptr, size_t size, const char *file, int line, const char *func) {
    int limit = __atomic_load_n(&gs.limit, __ATOMIC_RELAXED);
    uintptr_t stackbuf[STACK_PCS];
    int nscript, stotal, total = 0;
    int want = limit + limit - 1 + RCYI_TM_SLACK;
    size_t mapped;
    uintptr_t *pcs = stack_room(stackbuf, &want, &mapped);
    if (want < limit)
        limit = want;
    if (!(thr = script_frames(thr, src, limit, pcs, &nscript, &stotal)))
        goto out;
    uint32_t id;
    if (nscript && !(src->flags & RCY_FRAMES_NATIVE)) {
        id = tb_lookup(thr, domain, NULL, 0, NULL, pcs, nscript, stotal);
    } else if (limit == 1 && !nscript) {
        rcyi_tb *t = cs_lookup(thr, domain, file, line, func);
        id = t ? t->id : 0;
    } else {
        int npcs = rcyi_walk_stack(fp, pcs + nscript, want - nscript, 0, &total);
        total += stotal;
        id = tb_lookup(thr, domain, file, line, func, pcs, nscript + npcs,
                       total > 65535 ? 65535 : total);
    }
    if (id)
        add_counted(thr, domain, (uintptr_t)ptr, size, tb_get(id), true);
    event_end(thr);
out:
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
}

/* Above one frame, or with a frame source: the native stack from the
 * hook's own frame `fp` (or trace_alloc_script).  Ends the event. */
__attribute__((noinline)) static void trace_alloc_frames(tm_thread *thr, uintptr_t fp,
                                                         unsigned domain, const void *ptr,
                                                         size_t size, const char *file, int line,
                                                         const char *func) {
    const rcyi_fsource *src = __atomic_load_n(&gs.source, __ATOMIC_ACQUIRE);
    if (RCY_UNLIKELY(src != NULL)) {
        trace_alloc_script(thr, src, fp, domain, ptr, size, file, line, func);
        return;
    }
    int limit = __atomic_load_n(&gs.limit, __ATOMIC_RELAXED);
    uintptr_t stackbuf[STACK_PCS];
    int total = 0;
    int want = limit - 1 + RCYI_TM_SLACK;
    size_t mapped;
    uintptr_t *pcs = stack_room(stackbuf, &want, &mapped);
    int npcs = rcyi_walk_stack(fp, pcs, want, 0, &total);
    uint32_t id = tb_lookup(thr, domain, file, line, func, pcs, npcs, total);
    if (id)
        add_counted(thr, domain, (uintptr_t)ptr, size, tb_get(id), true);
    event_end(thr);
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
}

__attribute__((noinline)) void rcyi_trace_alloc(unsigned domain, const void *ptr, size_t size,
                                                const char *file, int line, const char *func) {
    tm_thread *thr = event_begin(false);
    if (RCY_LIKELY(thr != NULL)) {
        if (RCY_LIKELY(__atomic_load_n(&gs.site_only, __ATOMIC_RELAXED))) {
            rcyi_tb *t = cs_lookup(thr, domain, file, line, func);
            if (RCY_LIKELY(t != NULL))
                add_counted(thr, domain, (uintptr_t)ptr, size, t, true);
            event_end(thr);
        } else {
            trace_alloc_frames(thr, (uintptr_t)__builtin_frame_address(0), domain, ptr, size, file,
                               line, func);
        }
    }
    /* keeps this frame alive across the calls (no tail call): the walk
     * starts from it */
    __asm__ volatile("" ::: "memory");
}

void rcyi_trace_free(unsigned domain, const void *ptr) {
    tm_thread *thr = event_begin(true);
    if (RCY_LIKELY(thr != NULL)) {
        remove_trace(thr, domain, (uintptr_t)ptr, true);
        event_end(thr);
    }
}

void rcyi_trace_forget_arena(const void *base) {
    tm_thread *thr = event_begin(true);
    if (thr) {
        bt_arena *a = bt_arena_of((uintptr_t)base);
        for (size_t k = 0; a && k < RCYI_POOLS_PER_ARENA; k++) {
            bt_pool *bp = &a->pools[k];
            if (!bp->ent)
                continue;
            for (uint32_t q = 0; q < bp->nblocks; q++) {
                if (bp->ent[q]) {
                    acct_free(thr, bp->ent[q] >> 32);
                    bp->ent[q] = 0;
                }
            }
            bt_array_put(thr, bp->ent, bp->nblocks);
            bp->ent = NULL;
            bp->live = 0;
        }
        event_end(thr);
    }
}

static inline __attribute__((always_inline)) int
track_common(uintptr_t fp, unsigned domain, uintptr_t ptr, size_t size, unsigned skip) {
    if (!(__atomic_load_n(&gs.state, __ATOMIC_RELAXED) & ST_TRACING))
        return RCY_ESTATE;
    if (tls_busy)
        return RCY_OK;
    tm_thread *thr = event_begin(false);
    if (!thr)
        return RCY_ESTATE;
    int limit = __atomic_load_n(&gs.limit, __ATOMIC_RELAXED);
    const rcyi_fsource *src = __atomic_load_n(&gs.source, __ATOMIC_ACQUIRE);
    uintptr_t stackbuf[STACK_PCS];
    size_t mapped;
    int want = src ? 2 * limit : limit;
    uintptr_t *pcs = stack_room(stackbuf, &want, &mapped);
    int nscript, stotal, total = 0, rc = RCY_ESTATE;
    if (!(thr = script_frames(thr, src, want < limit ? want : limit, pcs, &nscript, &stotal)))
        goto out;
    int npcs = 0;
    if (!nscript || (src->flags & RCY_FRAMES_NATIVE))
        npcs = rcyi_walk_stack(fp, pcs + nscript, want - nscript,
                               (int)(skip > 65535 ? 65535 : skip), &total);
    total += stotal;
    uint32_t id =
        tb_lookup(thr, domain, NULL, 0, NULL, pcs, nscript + npcs, total > 65535 ? 65535 : total);
    rc = id && add_counted(thr, domain, ptr, size, tb_get(id), false) ? RCY_OK : RCY_ENOMEM;
    event_end(thr);
out:
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
    return rc;
}

__attribute__((noinline)) int rcy_tracemalloc_track(unsigned domain, uintptr_t ptr, size_t size) {
    return track_common((uintptr_t)__builtin_frame_address(0), domain, ptr, size, 0);
}

__attribute__((noinline)) int rcy_tracemalloc_track_from(unsigned domain, uintptr_t ptr,
                                                         size_t size, unsigned skip) {
    return track_common((uintptr_t)__builtin_frame_address(0), domain, ptr, size, skip);
}

int rcy_tracemalloc_untrack(unsigned domain, uintptr_t ptr) {
    if (!(__atomic_load_n(&gs.state, __ATOMIC_RELAXED) & ST_TRACING))
        return RCY_ESTATE;
    tm_thread *thr = event_begin(true);
    if (thr) {
        remove_trace(thr, domain, ptr, false);
        event_end(thr);
    }
    return RCY_OK;
}

bool rcyi_tracemalloc_take(unsigned domain, uintptr_t ptr, rcyi_taken *out) {
    out->tb = 0;
    if (!(__atomic_load_n(&gs.state, __ATOMIC_RELAXED) & ST_TRACING))
        return false;
    tm_thread *thr = event_begin(true);
    if (thr) {
        uint64_t size;
        uint32_t id;
        if (shard_take(thr, domain, ptr, &size, &id)) {
            acct_shrink(thr, size);
            *out =
                (rcyi_taken){ptr, size, domain, id, __atomic_load_n(&trace_gen, __ATOMIC_RELAXED)};
        }
        event_end(thr);
    }
    return out->tb != 0;
}

/* Enter an event for a taken trace: NULL when there is none, the thread is
 * busy, or the traces were cleared since it was taken (its id is gone).
 * In an event (event_begin) when it returns a record. */
static tm_thread *taken_enter(const rcyi_taken *t) {
    if (!t->tb)
        return NULL;
    tm_thread *thr = event_begin(false);
    if (thr && __atomic_load_n(&trace_gen, __ATOMIC_RELAXED) != t->gen) {
        event_end(thr);
        return NULL;
    }
    return thr;
}

void rcyi_tracemalloc_put_back(const rcyi_taken *t) {
    tm_thread *thr = taken_enter(t);
    if (!thr)
        return;
    shard_add(thr, t->domain, t->ptr, t->size, t->tb, false);
    event_end(thr);
}

void rcyi_tracemalloc_taken_freed(const rcyi_taken *t) {
    tm_thread *thr = taken_enter(t);
    if (!thr)
        return;
    thr->frees++;
    count_free(thr, t->ptr, t->tb);
    event_end(thr);
}

/* ---- control ------------------------------------------------------------------- */

/* fork(): no thread may be inside an event, or hold a lock, in the child.
 * The forking thread stops the world before the fork and both sides
 * resume after; the child keeps the traces (as Python's tracemalloc
 * does) and the other threads' records, minus the threads. */
static int atfork_busy;
static void atfork_prepare(void) {
    atfork_busy = stopper_begin();
}
static void atfork_parent(void) {
    stopper_end(atfork_busy);
}
static void atfork_child(void) {
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < hi; i++) {
        tm_thread *t = thr_at(i);
        if (t == tls_thr)
            continue;
        /* A thread that does not exist here: keep its numbers, free its
         * slot. */
        thr_fold(t);
        bt_spares_release(t);
        thr_forget_caches(t);
        t->used = 0;
        /* It may have been caught between marking an event and seeing the
         * stop flag (it would have backed off): no thread here will. */
        __atomic_store_n(&t->in_event, 0, __ATOMIC_RELAXED);
    }
    thr_nused = tls_thr ? 1 : 0;
    __atomic_store_n(&gs.multi, 0, __ATOMIC_RELAXED);
    if (!(__atomic_load_n(&gs.state, __ATOMIC_RELAXED) & ST_FENCE))
        membarrier_register();
    stopper_end(atfork_busy);
}

static void tm_init_once(void) {
    static int done;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    membarrier_register();
    if (pthread_key_create(&thr_key, thr_exit) == 0)
        __atomic_store_n(&thr_key_ok, 1, __ATOMIC_RELEASE);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

int rcy_tracemalloc_start(int nframe) {
    if (nframe < 1 || nframe > 65535)
        return RCY_EINVAL;
    int prev = rcyi_tm_enter();
    static int init_lock;
    spin_lock(&init_lock);
    tm_init_once();
    spin_unlock(&init_lock);
    if (rcyi_option_tracemalloc_libunwind())
        rcyi_walk_use_libunwind(true);
    if (!tls_thr)
        thr_register(); /* the registry's first memory is mapped now, not mid-trace */
    int stopped = stopper_begin();
    if (!(gs.state & ST_TRACING)) {
        __atomic_store_n(&gs.limit, nframe, __ATOMIC_RELAXED);
        site_only_update_locked();
        fold_counters_locked();
        g_allocs = g_frees = 0;
        __atomic_or_fetch(&gs.state, ST_TRACING, __ATOMIC_RELAXED);
    }
    stopper_end(stopped);
    __atomic_store_n(&rcyi_tracing, 1, __ATOMIC_RELEASE);
    rcyi_tm_exit(prev);
    return RCY_OK;
}

void rcy_tracemalloc_stop(void) {
    __atomic_store_n(&rcyi_tracing, 0, __ATOMIC_RELEASE);
    int prev = stopper_begin();
    __atomic_and_fetch(&gs.state, ~ST_TRACING, __ATOMIC_RELAXED);
    clear_locked();
    stopper_end(prev);
}

void rcyi_tracemalloc_on_heap_new(void) {
    static int done;
    if (__atomic_load_n(&done, __ATOMIC_RELAXED) || __atomic_exchange_n(&done, 1, __ATOMIC_RELAXED))
        return;
    int n = rcyi_option_tracemalloc();
    if (n >= 1)
        rcy_tracemalloc_start(n > 65535 ? 65535 : n);
}

bool rcy_tracemalloc_is_tracing(void) {
    return __atomic_load_n(&gs.state, __ATOMIC_RELAXED) & ST_TRACING;
}

void rcy_tracemalloc_clear_traces(void) {
    int prev = stopper_begin();
    if (gs.state & ST_TRACING)
        clear_locked();
    stopper_end(prev);
}

/* Exact: the world is stopped and every thread's delta folded. */
void rcy_tracemalloc_get_traced_memory(size_t *current, size_t *peak) {
    int prev = stopper_begin();
    fold_counters_locked();
    size_t c = __atomic_load_n(&gs.cur, __ATOMIC_RELAXED);
    size_t p = __atomic_load_n(&gs.peak, __ATOMIC_RELAXED);
    stopper_end(prev);
    if (current)
        *current = c;
    if (peak)
        *peak = p;
}

void rcy_tracemalloc_reset_peak(void) {
    int prev = stopper_begin();
    if (gs.state & ST_TRACING) {
        fold_counters_locked();
        __atomic_store_n(&gs.peak, __atomic_load_n(&gs.cur, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
        peak_copy_bytes = 0;
        peak_dirty = keep_peak;
    }
    stopper_end(prev);
}

size_t rcy_tracemalloc_get_tracemalloc_memory(void) {
    return __atomic_load_n(&tm_mapped, __ATOMIC_RELAXED);
}

/* world_lock held: the fast path's flag from the limit and the source. */
static void site_only_update_locked(void) {
    int on = __atomic_load_n(&gs.limit, __ATOMIC_RELAXED) == 1 &&
             !__atomic_load_n(&gs.source, __ATOMIC_RELAXED);
    __atomic_store_n(&gs.site_only, on, __ATOMIC_RELAXED);
}

int rcy_tracemalloc_set_frame_source_flags(rcy_frame_source_fn *fn, void *arg, unsigned flags) {
    if (flags & ~(unsigned)RCY_FRAMES_NATIVE)
        return RCY_EINVAL;
    int prev = rcyi_tm_enter();
    const rcyi_fsource *src = fn ? rcyi_fsource_make(fn, arg, flags) : NULL;
    if (fn && !src) {
        rcyi_tm_exit(prev);
        return RCY_ENOMEM;
    }
    spin_lock(&world_lock);
    __atomic_store_n(&gs.source, src, __ATOMIC_RELEASE);
    site_only_update_locked();
    spin_unlock(&world_lock);
    rcyi_tm_exit(prev);
    return RCY_OK;
}

int rcy_tracemalloc_set_frame_source(rcy_frame_source_fn *fn, void *arg) {
    return rcy_tracemalloc_set_frame_source_flags(fn, arg, 0);
}

rcy_frame_source_fn *rcy_tracemalloc_get_frame_source(void **arg, unsigned *flags) {
    const rcyi_fsource *src = __atomic_load_n(&gs.source, __ATOMIC_ACQUIRE);
    if (arg)
        *arg = src ? src->arg : NULL;
    if (flags)
        *flags = src ? src->flags : 0;
    return src ? src->fn : NULL;
}

int rcy_tracemalloc_get_traceback_limit(void) {
    return __atomic_load_n(&gs.limit, __ATOMIC_RELAXED);
}

static void counters_locked(rcy_tracemalloc_counters *c) {
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
    c->version = RCY_TRACEMALLOC_COUNTERS_VERSION;
    fold_counters_locked();
    c->allocs = g_allocs;
    c->frees = g_frees;
    c->current = __atomic_load_n(&gs.cur, __ATOMIC_RELAXED);
    c->peak = __atomic_load_n(&gs.peak, __ATOMIC_RELAXED);
}

int rcy_tracemalloc_get_counters(rcy_tracemalloc_counters *out) {
    if (!out || out->size < offsetof(rcy_tracemalloc_counters, allocs))
        return RCY_EINVAL;
    rcy_tracemalloc_counters c;
    int prev = stopper_begin();
    counters_locked(&c);
    stopper_end(prev);
    c.size = out->size < sizeof c ? out->size : sizeof c;
    memcpy(out, &c, c.size);
    return RCY_OK;
}

int rcy_tracemalloc_keep_peak(bool on) {
    int prev = stopper_begin();
    __atomic_store_n(&keep_peak, on ? 1 : 0, __ATOMIC_RELAXED);
    peak_copy_bytes = 0;
    peak_dirty = on;
    stopper_end(prev);
    return RCY_OK;
}

/* Scratch of a snapshot: the engine's traces and tracebacks copied under
 * the stop, renumbered densely (remap: engine id -> index + 1). */
typedef struct snap_scratch {
    rcyi_raw_trace *traces;
    uintptr_t *addrs; /* when not NULL: each trace's block address (0 in the block table) */
    const rcyi_tb **tbs;
    uint32_t *remap;
    size_t ntb;
} snap_scratch;

/* The dense index of traceback id, recording it on first use. */
static uint32_t scratch_tb(snap_scratch *x, uint32_t id) {
    if (!x->remap[id]) {
        x->tbs[x->ntb] = tb_get(id);
        x->remap[id] = (uint32_t)++x->ntb;
    }
    return x->remap[id] - 1;
}

/* Every live trace (shards, then the block table) into x->traces; their
 * number. */
static size_t copy_traces_locked(snap_scratch *x) {
    size_t k = 0;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        for (size_t j = 0; j < s->ngroups * GROUP; j++) {
            slot *e = &s->slots[j];
            if (!e->tb)
                continue;
            const rcyi_tb *t = tb_get(e->tb);
            uint32_t tb = scratch_tb(x, e->tb);
            if (x->addrs)
                x->addrs[k] = e->ptr;
            x->traces[k++] = (rcyi_raw_trace){t->domain, tb, slot_size_locked(s, e, t->domain), 1};
        }
    }
    BT_FOREACH(bp, q, {
        uint32_t tb = scratch_tb(x, (uint32_t)bp->ent[q]);
        if (x->addrs)
            x->addrs[k] = 0;
        rcyi_raw_trace *r = &x->traces[k++];
        r->domain = 0;
        r->tb = tb;
        r->size = bp->ent[q] >> 32;
        r->count = 1;
    })
    return k;
}

/* The picture at peak (keep_peak) as a snapshot whose traces are the
 * aggregates per traceback, with counts; NULL when out of memory. */
static rcy_snapshot *peak_snapshot_locked(snap_scratch *x, const rcy_tracemalloc_counters *c) {
    size_t np = 0;
    for (size_t id = 1; id < peak_copy_n && id <= tb_count; id++)
        np += peak_copy[id].count != 0;
    rcyi_raw_trace *ptraces = malloc((np ? np : 1) * sizeof *ptraces);
    if (!ptraces)
        return NULL;
    memset(x->remap, 0, ((size_t)tb_count + 1) * sizeof *x->remap);
    x->ntb = 0;
    size_t m = 0;
    for (uint32_t id = 1; id < peak_copy_n && id <= tb_count; id++) {
        if (!peak_copy[id].count)
            continue;
        uint32_t tb = scratch_tb(x, id);
        ptraces[m++] =
            (rcyi_raw_trace){x->tbs[tb]->domain, tb, peak_copy[id].size, peak_copy[id].count};
    }
    rcy_snapshot *peak = rcyi_snapshot_from_raw(gs.limit, ptraces, m, x->tbs, x->ntb);
    free(ptraces);
    if (peak) {
        rcy_tracemalloc_counters at_peak = *c;
        at_peak.current = peak_copy_bytes;
        rcyi_snapshot_set_meta(peak, gs.limit, &at_peak);
    }
    return peak;
}

static rcy_snapshot *take_snapshot(uintptr_t **addrs) {
    int prev = stopper_begin();
    rcy_snapshot *snap = NULL;
    snap_scratch x = {0};
    if (!(gs.state & ST_TRACING))
        goto out;
    size_t n = bt_count_locked();
    for (int i = 0; i < NSHARDS; i++)
        n += shards[i].count;
    x.traces = malloc((n ? n : 1) * sizeof *x.traces);
    x.remap = calloc((size_t)tb_count + 1, sizeof *x.remap);
    x.tbs = malloc(((size_t)tb_count + 1) * sizeof *x.tbs);
    if (addrs)
        x.addrs = *addrs = malloc((n ? n : 1) * sizeof *x.addrs);
    if (!x.traces || !x.remap || !x.tbs || (addrs && !x.addrs))
        goto out;
    size_t k = copy_traces_locked(&x);
    /* Call sites with no live block still have counters (S7). */
    for (uint32_t id = 1; id <= tb_count; id++)
        if (tb_get(id)->allocs)
            scratch_tb(&x, id);
    rcy_tracemalloc_counters counters;
    counters_locked(&counters);
    if (keep_peak && __atomic_exchange_n(&peak_dirty, 0, __ATOMIC_RELAXED))
        peak_copy_locked(); /* now may be the peak */
    snap = rcyi_snapshot_from_raw(gs.limit, x.traces, k, x.tbs, x.ntb);
    if (snap) {
        rcyi_snapshot_set_meta(snap, gs.limit, &counters);
        rcyi_snapshot_set_site_counters(snap, true);
    }
    if (snap && keep_peak && peak_copy_bytes) {
        rcy_snapshot *peak = peak_snapshot_locked(&x, &counters);
        if (peak)
            rcyi_snapshot_set_peak(snap, peak);
    }
out:
    stopper_end(prev);
    free(x.traces);
    free(x.remap);
    free(x.tbs);
    if (addrs && !snap) {
        free(*addrs);
        *addrs = NULL;
    }
    return snap;
}

rcy_snapshot *rcy_tracemalloc_take_snapshot(void) {
    return take_snapshot(NULL);
}

rcy_snapshot *rcyi_tracemalloc_take_snapshot_addrs(uintptr_t **addrs) {
    int prev = rcyi_tm_enter();
    rcy_snapshot *s = take_snapshot(addrs);
    rcyi_tm_exit(prev);
    return s;
}

/* A copy of the traceback of obj's trace (call site and addresses), taken
 * with the world stopped; false when obj has none (or out of memory for
 * a deep stack: *big is then the malloc'd room of the addresses). */
typedef struct tb_copy {
    const char *file, *func;
    int line, npcs, total, limit;
    uintptr_t pcs[STACK_PCS];
    uintptr_t *big; /* when npcs > STACK_PCS */
} tb_copy;

static bool object_traceback_locked(const void *obj, tb_copy *c) {
    uint32_t id = 0;
    bt_pool *bp = bt_pool_of((uintptr_t)obj);
    uint64_t *e = bp ? bt_entry(bp, (uintptr_t)obj) : NULL;
    if (e && *e) {
        id = (uint32_t)*e;
    } else {
        uint64_t h = addr_hash((uintptr_t)obj);
        shard *s = shard_of(h);
        size_t j = find_locked(s, h, (uintptr_t)obj, RCY_DOMAIN_DEFAULT, NULL);
        if (j != SIZE_MAX)
            id = s->slots[j].tb;
    }
    if (!id)
        return false;
    const rcyi_tb *t = tb_get(id);
    c->file = t->file;
    c->func = t->func;
    c->line = t->line;
    c->npcs = t->npcs;
    c->total = t->total;
    c->limit = gs.limit;
    if (c->npcs > STACK_PCS)
        c->big = malloc((size_t)c->npcs * sizeof *c->big);
    if (c->npcs > STACK_PCS && !c->big)
        return false;
    memcpy(c->big ? c->big : c->pcs, t->pcs, (size_t)c->npcs * sizeof *c->pcs);
    return true;
}

rcy_traceback *rcy_tracemalloc_get_object_traceback(const void *obj) {
    if (!obj || !rcy_tracemalloc_is_tracing())
        return NULL;
    int prev = rcyi_tm_enter();
    tb_copy c = {0};
    int stopped = stopper_begin();
    bool found = object_traceback_locked(obj, &c);
    stopper_end(stopped);
    rcy_traceback *tb = NULL;
    if (found) {
        size_t nf = 0, tot = 0;
        rcy_frame *frames =
            rcyi_resolve_frames(NULL, c.file, c.line, c.func, c.big ? c.big : c.pcs, (size_t)c.npcs,
                                (size_t)c.total, c.limit, &nf, &tot);
        tb = frames ? malloc(sizeof *tb) : NULL;
        if (tb) {
            tb->nframe = nf;
            tb->total_nframe = tot;
            tb->frames = frames;
        } else {
            free(frames);
        }
    }
    free(c.big);
    rcyi_tm_exit(prev);
    return tb;
}

void rcy_traceback_free(rcy_traceback *tb) {
    if (!tb)
        return;
    int prev = rcyi_tm_enter();
    free((void *)tb->frames);
    free(tb);
    rcyi_tm_exit(prev);
}
