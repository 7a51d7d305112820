/* src/tracemalloc.c — the tracemalloc engine: records every traced
 * allocation and free, process-wide and thread-safe.
 *
 * Traces live in 64 shards, each an open-addressing table (linear probing,
 * backward-shift deletion, no tombstones) of 16-byte slots
 * {address, size, traceback id} under its own spin lock; the shard is
 * chosen by a hash of the address, so threads freeing and allocating
 * different blocks rarely meet.  A table grows by 3/2 at 3/4 load, so it
 * stays between 1/2 and 3/4 full: 21 to 32 bytes of tracer memory per live
 * block.  Sizes of 4 GiB and more keep UINT32_MAX in the slot and the real
 * size in a small per-shard side list.
 *
 * Tracebacks are interned (hash-consed) in an arena that lives until
 * clear_traces/stop, named by 32-bit ids; the domain is part of the
 * interned key, so a slot needs no domain field.  Each thread keeps a small
 * cache hash -> id, so the common event takes no global lock at all: one
 * shard lock, and two atomic adds for current and peak.
 *
 * At one frame the traceback is the call-site the hook receives, with no
 * unwinding.  Above one frame, native return addresses follow (frames.c),
 * resolved to symbols only when a snapshot is reported (symbols.c).
 *
 * Locks and invariants: see src/tracemalloc.h.
 */
#include "tracemalloc.h"
#include "options.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- raw memory --------------------------------------------------------- */

static size_t tm_mapped; /* bytes mapped by the tracer (atomic) */

void *rcyi_tm_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    __atomic_add_fetch(&tm_mapped, size, __ATOMIC_RELAXED);
    return p;
}

void rcyi_tm_unmap(void *p, size_t size) {
    if (!p)
        return;
    munmap(p, size);
    __atomic_sub_fetch(&tm_mapped, size, __ATOMIC_RELAXED);
}

static size_t page_round(size_t n) {
    return (n + 4095) & ~(size_t)4095;
}

/* ---- locks ---------------------------------------------------------------- */

static inline void spin_lock(int *l) {
    unsigned spins = 0;
    while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(l, __ATOMIC_RELAXED)) {
            if (++spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                sched_yield();
            }
        }
    }
}
static inline void spin_unlock(int *l) {
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* ---- per-thread state ----------------------------------------------------- */

#define TB_CACHE 32
typedef struct tb_cache_ent {
    uint32_t hash, id;
} tb_cache_ent;

static TLS int tls_busy;
static TLS uint32_t tls_gen;
static TLS tb_cache_ent tls_cache[TB_CACHE];
/* The thread's last call-site traceback: a loop allocating at one line
 * finds its id with four compares, no hashing. */
static TLS struct {
    const char *file, *func;
    int line;
    unsigned domain;
    uint32_t id, gen;
} tls_last;

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

static int traceback_limit = 1;
static int tracing;                  /* the truth, read under a shard lock          */
static uint32_t generation;          /* bumped by clear: invalidates thread caches  */
static size_t cur_bytes, peak_bytes; /* atomics; written under a shard lock */

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
#define GROUP   8 /* slots per group: 128 bytes, two cache lines */

typedef struct shard {
    int lock;
    slot *slots;
    uint8_t *over;  /* per group: entries that probed past it (saturating) */
    size_t ngroups; /* capacity = ngroups * GROUP */
    size_t count;
    size_t map_bytes;
    uint64_t allocs, frees;
    big_ent *big;
    size_t nbig, capbig;
} __attribute__((aligned(64))) shard;

static shard shards[NSHARDS];

/* One multiply per address.  A 64-byte line of blocks shares a group, so
 * blocks allocated one after another touch the same two cache lines of
 * the table; the shard comes from the top bits, the group from the low. */
static inline uint64_t addr_hash(uintptr_t ptr) {
    uint64_t h = (uint64_t)(ptr >> 6) * 0x9e3779b97f4a7c15ULL;
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
static uint32_t tb_count; /* ids 1..tb_count are in use */

static uint32_t *intern_tab; /* ids; 0 = empty */
static size_t intern_cap;    /* power of two */

static inline rcyi_tb *tb_get(uint32_t id) {
    return tb_dir[id / DIR_CHUNK][id % DIR_CHUNK];
}

static void *arena_alloc_locked(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!arena || arena->size - arena->used < n) {
        size_t sz = page_round(n + sizeof(chunk) + 15);
        if (sz < 65536)
            sz = 65536;
        chunk *c = rcyi_tm_map(sz);
        if (!c)
            return NULL;
        c->size = sz;
        c->used = (sizeof(chunk) + 15) & ~(size_t)15;
        c->next = arena;
        arena = c;
    }
    void *p = (char *)arena + arena->used;
    arena->used += n;
    return p;
}

static bool tb_equal(const rcyi_tb *t, uint32_t hash, unsigned domain, const char *file, int line,
                     const char *func, const uintptr_t *pcs, int npcs, int total) {
    return t->hash == hash && t->domain == domain && t->file == file && t->line == line &&
           t->func == func && t->npcs == npcs && t->total == total &&
           (npcs == 0 || memcmp(t->pcs, pcs, (size_t)npcs * sizeof *pcs) == 0);
}

static bool intern_grow_locked(void) {
    size_t ncap = intern_cap ? intern_cap * 2 : 1024;
    uint32_t *nt = rcyi_tm_map(ncap * sizeof *nt);
    if (!nt)
        return false;
    for (size_t i = 0; i < intern_cap; i++) {
        uint32_t id = intern_tab[i];
        if (!id)
            continue;
        size_t j = tb_get(id)->hash & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = id;
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
            uint32_t id = intern_tab[j];
            if (!id)
                break;
            if (tb_equal(tb_get(id), hash, domain, file, line, func, pcs, npcs, total))
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
    rcyi_tb *t = arena_alloc_locked(sizeof *t + (size_t)npcs * sizeof *pcs);
    if (!t)
        return 0;
    t->hash = hash;
    t->domain = domain;
    t->npcs = (uint16_t)npcs;
    t->total = (uint16_t)total;
    t->file = file;
    t->line = line;
    t->func = func;
    if (npcs)
        memcpy(t->pcs, pcs, (size_t)npcs * sizeof *pcs);
    tb_dir[id / DIR_CHUNK][id % DIR_CHUNK] = t;
    size_t j = hash & (intern_cap - 1);
    while (intern_tab[j])
        j = (j + 1) & (intern_cap - 1);
    intern_tab[j] = id;
    tb_count = id;
    return id;
}

/* Cheap on purpose: one multiply per word, one final mix. */
static uint32_t tb_hash(unsigned domain, const char *file, int line, const char *func,
                        const uintptr_t *pcs, int npcs, int total) {
    uint64_t h = (uintptr_t)file * 0x9e3779b97f4a7c15ULL;
    h ^= (uintptr_t)func * 0xc2b2ae3d27d4eb4fULL;
    h ^= ((uint64_t)(unsigned)line << 32 | (uint64_t)(unsigned)total) * 0x165667b19e3779f9ULL;
    h ^= domain;
    for (int i = 0; i < npcs; i++)
        h = (h ^ pcs[i]) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
    return (uint32_t)h ? (uint32_t)h : 1;
}

/* Under a shard lock: the id for this traceback, through the thread's
 * cache, else the intern table. */
static uint32_t tb_lookup_hashed(unsigned domain, const char *file, int line, const char *func,
                                 const uintptr_t *pcs, int npcs, int total) {
    uint32_t hash = tb_hash(domain, file, line, func, pcs, npcs, total);
    uint32_t gen = __atomic_load_n(&generation, __ATOMIC_RELAXED);
    if (RCY_UNLIKELY(tls_gen != gen)) {
        memset(tls_cache, 0, sizeof tls_cache);
        tls_gen = gen;
    }
    tb_cache_ent *e = &tls_cache[(hash ^ (hash >> 16)) % TB_CACHE];
    if (e->hash == hash && e->id &&
        tb_equal(tb_get(e->id), hash, domain, file, line, func, pcs, npcs, total))
        return e->id;
    spin_lock(&intern_lock);
    uint32_t id = intern_locked(hash, domain, file, line, func, pcs, npcs, total);
    spin_unlock(&intern_lock);
    if (id) {
        e->hash = hash;
        e->id = id;
    }
    return id;
}

static uint32_t tb_lookup(unsigned domain, const char *file, int line, const char *func,
                          const uintptr_t *pcs, int npcs, int total) {
    if (npcs == 0 && total == 0) {
        if (tls_last.file == file && tls_last.line == line && tls_last.func == func &&
            tls_last.domain == domain && tls_last.id &&
            tls_last.gen == __atomic_load_n(&generation, __ATOMIC_RELAXED))
            return tls_last.id;
    }
    uint32_t id = tb_lookup_hashed(domain, file, line, func, pcs, npcs, total);
    if (npcs == 0 && total == 0 && id) {
        tls_last.file = file;
        tls_last.func = func;
        tls_last.line = line;
        tls_last.domain = domain;
        tls_last.id = id;
        tls_last.gen = __atomic_load_n(&generation, __ATOMIC_RELAXED);
    }
    return id;
}

/* ---- peak aggregates (keep_peak) ------------------------------------------------ */

/* When on, every traceback keeps live totals (atomics, in a side array
 * indexed by id).  Reaching a new peak marks the totals "at peak"; the
 * first event that lowers the traced memory afterwards copies them before
 * it applies, so the copy is the picture at the peak itself.  To bound the
 * cost of a peak that creeps up by a few bytes at a time, a copy is made
 * only when the peak grew by more than 1/64 since the last copy: the kept
 * picture is within 1/64 of the peak (exact in one thread otherwise; other
 * threads' concurrent events may blur it slightly). */
typedef struct tb_total {
    uint64_t size, count;
} tb_total;
static int keep_peak;
static tb_total *live_tot; /* indexed by id; protected by atomics */
static size_t live_cap;    /* entries; grows under intern lock   */
static struct {
    void *p;
    size_t bytes;
} retired_tot[64]; /* arrays replaced by growth, freed by clear */
static size_t nretired;
static int peak_copy_lock;
static tb_total *peak_copy; /* indexed by id                      */
static size_t peak_copy_n, peak_copy_map;
static size_t peak_copy_bytes; /* peak when the copy was made      */
static int peak_dirty;         /* a new peak since the last copy  */

/* Under a shard lock. */
static void peak_account(uint32_t id, int64_t dsize, int64_t dcount) {
    if (id >= live_cap) {
        spin_lock(&intern_lock);
        if (id >= live_cap) {
            size_t ncap = live_cap ? live_cap : 1024;
            while (ncap <= tb_count + 1 || ncap <= id)
                ncap *= 2;
            size_t bytes = page_round(ncap * sizeof(tb_total));
            tb_total *n = rcyi_tm_map(bytes);
            if (!n) {
                spin_unlock(&intern_lock);
                return;
            }
            /* Other shards may add to the old array meanwhile: they hold
             * their own shard lock, not this one.  Copy with atomics and
             * keep the old array until clear so no access touches a freed
             * page; an update lost to the race is a small drift, which the
             * "near the peak" contract allows. */
            for (size_t i = 0; i < live_cap; i++) {
                n[i].size = __atomic_load_n(&live_tot[i].size, __ATOMIC_RELAXED);
                n[i].count = __atomic_load_n(&live_tot[i].count, __ATOMIC_RELAXED);
            }
            if (live_tot && nretired < 64) {
                retired_tot[nretired].p = live_tot;
                retired_tot[nretired++].bytes = page_round(live_cap * sizeof(tb_total));
            }
            __atomic_store_n(&live_tot, n, __ATOMIC_RELEASE);
            __atomic_store_n(&live_cap, ncap, __ATOMIC_RELEASE);
        }
        spin_unlock(&intern_lock);
    }
    tb_total *t = __atomic_load_n(&live_tot, __ATOMIC_ACQUIRE);
    __atomic_add_fetch(&t[id].size, (uint64_t)dsize, __ATOMIC_RELAXED);
    __atomic_add_fetch(&t[id].count, (uint64_t)dcount, __ATOMIC_RELAXED);
}

static void peak_maybe_copy(size_t peak) {
    size_t last = __atomic_load_n(&peak_copy_bytes, __ATOMIC_RELAXED);
    if (peak <= last + last / 64 && last)
        return;
    if (__atomic_exchange_n(&peak_copy_lock, 1, __ATOMIC_ACQUIRE))
        return; /* someone else is copying */
    size_t n = __atomic_load_n(&live_cap, __ATOMIC_ACQUIRE);
    tb_total *src = __atomic_load_n(&live_tot, __ATOMIC_ACQUIRE);
    size_t bytes = page_round(n * sizeof(tb_total));
    if (bytes > peak_copy_map) {
        tb_total *c = rcyi_tm_map(bytes);
        if (!c)
            goto out;
        rcyi_tm_unmap(peak_copy, peak_copy_map);
        peak_copy = c;
        peak_copy_map = bytes;
    }
    for (size_t i = 0; i < n; i++) {
        peak_copy[i].size = __atomic_load_n(&src[i].size, __ATOMIC_RELAXED);
        peak_copy[i].count = __atomic_load_n(&src[i].count, __ATOMIC_RELAXED);
    }
    peak_copy_n = n;
    __atomic_store_n(&peak_copy_bytes, peak, __ATOMIC_RELAXED);
out:
    __atomic_store_n(&peak_copy_lock, 0, __ATOMIC_RELEASE);
}

/* Under a shard lock, before an event lowers the traced memory. */
static void peak_before_decrease(void) {
    if (__atomic_load_n(&peak_dirty, __ATOMIC_RELAXED) &&
        __atomic_exchange_n(&peak_dirty, 0, __ATOMIC_RELAXED))
        peak_maybe_copy(__atomic_load_n(&peak_bytes, __ATOMIC_RELAXED));
}

/* ---- the trace table ----------------------------------------------------------- */

/* Start loading the group of hash h while the lock is taken.  Read
 * without the lock: a stale table only makes a useless prefetch, which
 * never faults. */
static inline void prefetch_group(const shard *s, uint64_t h) {
    uintptr_t slots = (uintptr_t)__atomic_load_n(&s->slots, __ATOMIC_RELAXED);
    size_t ng = __atomic_load_n(&s->ngroups, __ATOMIC_RELAXED);
    if (!slots)
        return;
    uintptr_t g = slots + (((h & 0xffffffffu) * (uint64_t)ng) >> 32) * GROUP * sizeof(slot);
    __builtin_prefetch((const void *)g, 1);
    __builtin_prefetch((const void *)(g + 64), 1);
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
    s->count++;
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
    s->slots = ns;
    s->over = (uint8_t *)(ns + ng * GROUP);
    s->ngroups = ng;
    s->map_bytes = bytes;
    s->count = 0;
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
static size_t find_locked(shard *s, uint64_t h, uintptr_t ptr, unsigned domain, size_t *empty) {
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
    s->count--;
}

static inline void add_current_locked(int64_t delta) {
    size_t cur = __atomic_add_fetch(&cur_bytes, (size_t)delta, __ATOMIC_RELAXED);
    if (delta > 0) {
        size_t pk = __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED);
        while (cur > pk && !__atomic_compare_exchange_n(&peak_bytes, &pk, cur, true,
                                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        }
        if (RCY_UNLIKELY(__atomic_load_n(&keep_peak, __ATOMIC_RELAXED)) && cur > pk)
            __atomic_store_n(&peak_dirty, 1, __ATOMIC_RELAXED);
    }
}

/* Record (domain, ptr) -> size, tb.  Returns false on out of memory (the
 * event is then not traced, as Python drops it with a MemoryError). */
static bool add_trace(unsigned domain, uintptr_t ptr, size_t size, const char *file, int line,
                      const char *func, const uintptr_t *pcs, int npcs, int total) {
    uint64_t h = addr_hash(ptr);
    shard *s = shard_of(h);
    bool ok = false;
    prefetch_group(s, h);
    spin_lock(&s->lock);
    if (RCY_UNLIKELY(!__atomic_load_n(&tracing, __ATOMIC_RELAXED)))
        goto out;
    uint32_t id = tb_lookup(domain, file, line, func, pcs, npcs, total);
    if (RCY_UNLIKELY(!id))
        goto out;
    uint32_t sz32 = (uint32_t)size;
    if (RCY_UNLIKELY((uint64_t)size >= UINT32_MAX))
        sz32 = UINT32_MAX;
    size_t empty;
    size_t j = find_locked(s, h, ptr, domain, &empty);
    if (RCY_UNLIKELY(j != SIZE_MAX)) {
        /* Same address traced again (a realloc in place, or a user
         * allocator's reuse): replace, as Python does. */
        slot *e = &s->slots[j];
        int64_t old = (int64_t)(e->size == UINT32_MAX ? big_take_locked(s, ptr, domain) : e->size);
        if (sz32 == UINT32_MAX && !big_put_locked(s, ptr, domain, size)) {
            remove_at_locked(s, h, j);
            add_current_locked(-old);
            goto out;
        }
        if (keep_peak) {
            peak_before_decrease();
            peak_account(e->tb, -old, -1);
            peak_account(id, (int64_t)size, 1);
        }
        e->size = sz32;
        e->tb = id;
        s->allocs++;
        add_current_locked((int64_t)size - old);
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
    s->allocs++;
    if (RCY_UNLIKELY(keep_peak))
        peak_account(id, (int64_t)size, 1);
    add_current_locked((int64_t)size);
    ok = true;
out:
    spin_unlock(&s->lock);
    return ok;
}

static bool remove_trace(unsigned domain, uintptr_t ptr) {
    uint64_t h = addr_hash(ptr);
    shard *s = shard_of(h);
    bool found = false;
    prefetch_group(s, h);
    spin_lock(&s->lock);
    if (!__atomic_load_n(&tracing, __ATOMIC_RELAXED))
        goto out;
    size_t j = find_locked(s, h, ptr, domain, NULL);
    if (j == SIZE_MAX)
        goto out;
    slot *e = &s->slots[j];
    uint64_t size = e->size == UINT32_MAX ? big_take_locked(s, ptr, domain) : e->size;
    if (RCY_UNLIKELY(keep_peak)) {
        peak_before_decrease();
        peak_account(e->tb, -(int64_t)size, -1);
    }
    remove_at_locked(s, h, j);
    s->frees++;
    add_current_locked(-(int64_t)size);
    if (RCY_UNLIKELY(s->count * 8 < s->ngroups * GROUP))
        shard_maybe_shrink_locked(s);
    found = true;
out:
    spin_unlock(&s->lock);
    return found;
}

/* ---- stop the world (for the tracer's own data only) ------------------------------ */

static void lock_all(void) {
    for (int i = 0; i < NSHARDS; i++)
        spin_lock(&shards[i].lock);
    spin_lock(&intern_lock);
}

static void unlock_all(void) {
    spin_unlock(&intern_lock);
    for (int i = NSHARDS - 1; i >= 0; i--)
        spin_unlock(&shards[i].lock);
}

static void clear_locked(void) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        rcyi_tm_unmap(s->slots, s->map_bytes);
        rcyi_tm_unmap(s->big, page_round(s->capbig * sizeof(big_ent)));
        s->slots = NULL;
        s->over = NULL;
        s->big = NULL;
        s->ngroups = s->count = s->map_bytes = s->nbig = s->capbig = 0;
    }
    while (arena) {
        chunk *c = arena;
        arena = c->next;
        rcyi_tm_unmap(c, c->size);
    }
    for (size_t i = 0; i < DIR_CHUNKS && tb_dir[i]; i++) {
        rcyi_tm_unmap(tb_dir[i], DIR_CHUNK * sizeof(rcyi_tb *));
        tb_dir[i] = NULL;
    }
    rcyi_tm_unmap(intern_tab, intern_cap * sizeof *intern_tab);
    intern_tab = NULL;
    intern_cap = 0;
    tb_count = 0;
    if (live_tot)
        rcyi_tm_unmap(live_tot, page_round(live_cap * sizeof(tb_total)));
    for (size_t i = 0; i < nretired; i++)
        rcyi_tm_unmap(retired_tot[i].p, retired_tot[i].bytes);
    nretired = 0;
    live_tot = NULL;
    live_cap = 0;
    rcyi_tm_unmap(peak_copy, peak_copy_map);
    peak_copy = NULL;
    peak_copy_map = 0;
    peak_copy_n = 0;
    peak_copy_bytes = 0;
    peak_dirty = 0;
    __atomic_store_n(&cur_bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&peak_bytes, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&generation, 1, __ATOMIC_RELAXED);
}

/* ---- hooks ---------------------------------------------------------------------- */

#define STACK_PCS 128

/* The walker fills the stack buffers; gcc cannot see that through the
 * call. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/* Native frames + call-site; pcs buffer from the caller. */
static int capture(uintptr_t fp, uintptr_t *buf, int max, int skip, int *total) {
    if (max <= 0) {
        *total = 0;
        return 0;
    }
    return rcyi_walk_stack(fp, buf, max, skip, total);
}

/* Above one frame: the native stack from the hook's own frame `fp`. */
__attribute__((noinline)) static void trace_alloc_frames(uintptr_t fp, int limit, unsigned domain,
                                                         const void *ptr, size_t size,
                                                         const char *file, int line,
                                                         const char *func) {
    uintptr_t stackbuf[STACK_PCS], *pcs = stackbuf;
    int total = 0;
    int want = limit - 1 + RCYI_TM_SLACK;
    size_t mapped = 0;
    if (want > STACK_PCS) {
        mapped = page_round((size_t)want * sizeof *pcs);
        pcs = rcyi_tm_map(mapped);
        if (!pcs) {
            pcs = stackbuf;
            want = STACK_PCS;
            mapped = 0;
        }
    }
    int npcs = rcyi_walk_stack(fp, pcs, want, 0, &total);
    add_trace(domain, (uintptr_t)ptr, size, file, line, func, pcs, npcs, total);
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
}

__attribute__((noinline)) void rcyi_trace_alloc(unsigned domain, const void *ptr, size_t size,
                                                const char *file, int line, const char *func) {
    if (tls_busy)
        return;
    tls_busy = 1;
    int limit = __atomic_load_n(&traceback_limit, __ATOMIC_RELAXED);
    if (RCY_LIKELY(limit == 1))
        add_trace(domain, (uintptr_t)ptr, size, file, line, func, NULL, 0, 0);
    else
        trace_alloc_frames((uintptr_t)__builtin_frame_address(0), limit, domain, ptr, size, file,
                           line, func);
    /* keeps this frame alive across the calls (no tail call): the walk
     * starts from it */
    __asm__ volatile("" ::: "memory");
    tls_busy = 0;
}

void rcyi_trace_free(unsigned domain, const void *ptr) {
    if (tls_busy)
        return;
    tls_busy = 1;
    remove_trace(domain, (uintptr_t)ptr);
    tls_busy = 0;
}

static inline __attribute__((always_inline)) int
track_common(uintptr_t fp, unsigned domain, uintptr_t ptr, size_t size, unsigned skip) {
    if (!__atomic_load_n(&tracing, __ATOMIC_RELAXED))
        return RCY_ESTATE;
    if (tls_busy)
        return RCY_OK;
    tls_busy = 1;
    int limit = __atomic_load_n(&traceback_limit, __ATOMIC_RELAXED);
    uintptr_t stackbuf[STACK_PCS], *pcs = stackbuf;
    size_t mapped = 0;
    int want = limit;
    if (want > STACK_PCS) {
        mapped = page_round((size_t)want * sizeof *pcs);
        pcs = rcyi_tm_map(mapped);
        if (!pcs) {
            pcs = stackbuf;
            want = STACK_PCS;
            mapped = 0;
        }
    }
    int total = 0;
    int npcs = capture(fp, pcs, want, (int)(skip > 65535 ? 65535 : skip), &total);
    bool ok = add_trace(domain, ptr, size, NULL, 0, NULL, pcs, npcs, total);
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
    tls_busy = 0;
    return ok ? RCY_OK : RCY_ENOMEM;
}

__attribute__((noinline)) int rcy_tracemalloc_track(unsigned domain, uintptr_t ptr, size_t size) {
    return track_common((uintptr_t)__builtin_frame_address(0), domain, ptr, size, 0);
}

__attribute__((noinline)) int rcy_tracemalloc_track_from(unsigned domain, uintptr_t ptr,
                                                         size_t size, unsigned skip) {
    return track_common((uintptr_t)__builtin_frame_address(0), domain, ptr, size, skip);
}

int rcy_tracemalloc_untrack(unsigned domain, uintptr_t ptr) {
    if (!__atomic_load_n(&tracing, __ATOMIC_RELAXED))
        return RCY_ESTATE;
    if (tls_busy)
        return RCY_OK;
    tls_busy = 1;
    remove_trace(domain, ptr);
    tls_busy = 0;
    return RCY_OK;
}

/* ---- control ------------------------------------------------------------------- */

/* fork(): no shard may be locked by a thread that will not exist in the
 * child.  The forking thread takes every lock before the fork and both
 * sides release them after (the child keeps the traces, as Python's
 * tracemalloc does). */
static void atfork_prepare(void) {
    int prev = rcyi_tm_enter();
    lock_all();
    rcyi_tm_exit(prev);
}
static void atfork_release(void) {
    unlock_all();
}

int rcy_tracemalloc_start(int nframe) {
    if (nframe < 1 || nframe > 65535)
        return RCY_EINVAL;
    int prev = rcyi_tm_enter();
    static int atfork_done;
    if (!__atomic_exchange_n(&atfork_done, 1, __ATOMIC_RELAXED))
        pthread_atfork(atfork_prepare, atfork_release, atfork_release);
    if (rcyi_option_tracemalloc_libunwind())
        rcyi_walk_use_libunwind(true);
    lock_all();
    if (!tracing) {
        __atomic_store_n(&traceback_limit, nframe, __ATOMIC_RELAXED);
        for (int i = 0; i < NSHARDS; i++)
            shards[i].allocs = shards[i].frees = 0;
        __atomic_store_n(&tracing, 1, __ATOMIC_RELAXED);
    }
    unlock_all();
    __atomic_store_n(&rcyi_tracing, 1, __ATOMIC_RELEASE);
    rcyi_tm_exit(prev);
    return RCY_OK;
}

void rcy_tracemalloc_stop(void) {
    __atomic_store_n(&rcyi_tracing, 0, __ATOMIC_RELEASE);
    lock_all();
    __atomic_store_n(&tracing, 0, __ATOMIC_RELAXED);
    clear_locked();
    unlock_all();
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
    return __atomic_load_n(&tracing, __ATOMIC_RELAXED);
}

void rcy_tracemalloc_clear_traces(void) {
    lock_all();
    if (tracing)
        clear_locked();
    unlock_all();
}

void rcy_tracemalloc_get_traced_memory(size_t *current, size_t *peak) {
    /* Read both under one shard lock: writers hold some shard lock, but a
     * consistent pair only needs peak >= current, which the order below
     * keeps (peak is raised before anyone can read the higher current). */
    size_t c = __atomic_load_n(&cur_bytes, __ATOMIC_ACQUIRE);
    size_t p = __atomic_load_n(&peak_bytes, __ATOMIC_ACQUIRE);
    if (p < c)
        p = c;
    if (current)
        *current = c;
    if (peak)
        *peak = p;
}

void rcy_tracemalloc_reset_peak(void) {
    lock_all();
    if (tracing) {
        __atomic_store_n(&peak_bytes, __atomic_load_n(&cur_bytes, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        peak_copy_bytes = 0;
        peak_dirty = keep_peak;
    }
    unlock_all();
}

size_t rcy_tracemalloc_get_tracemalloc_memory(void) {
    return __atomic_load_n(&tm_mapped, __ATOMIC_RELAXED);
}

int rcy_tracemalloc_get_traceback_limit(void) {
    return __atomic_load_n(&traceback_limit, __ATOMIC_RELAXED);
}

int rcy_tracemalloc_get_counters(rcy_tracemalloc_counters *out) {
    if (!out || out->size < offsetof(rcy_tracemalloc_counters, allocs))
        return RCY_EINVAL;
    rcy_tracemalloc_counters c = {0};
    c.size = out->size < sizeof c ? out->size : sizeof c;
    c.version = RCY_TRACEMALLOC_COUNTERS_VERSION;
    lock_all();
    for (int i = 0; i < NSHARDS; i++) {
        c.allocs += shards[i].allocs;
        c.frees += shards[i].frees;
    }
    c.current = __atomic_load_n(&cur_bytes, __ATOMIC_RELAXED);
    c.peak = __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED);
    unlock_all();
    memcpy(out, &c, c.size);
    return RCY_OK;
}

int rcy_tracemalloc_keep_peak(bool on) {
    lock_all();
    if (on && !keep_peak && tb_count) {
        /* Start the live totals from the traces already there. */
        for (int i = 0; i < NSHARDS; i++) {
            shard *s = &shards[i];
            for (size_t j = 0; j < s->ngroups * GROUP; j++) {
                if (!s->slots[j].tb)
                    continue;
                spin_unlock(&intern_lock); /* peak_account may take it */
                uint32_t id = s->slots[j].tb;
                peak_account(id, (int64_t)slot_size_locked(s, &s->slots[j], tb_get(id)->domain), 1);
                spin_lock(&intern_lock);
            }
        }
    }
    __atomic_store_n(&keep_peak, on ? 1 : 0, __ATOMIC_RELAXED);
    peak_copy_bytes = 0;
    peak_dirty = on;
    unlock_all();
    return RCY_OK;
}

/* ---- snapshots ------------------------------------------------------------------ */

static void counters_locked(rcy_tracemalloc_counters *c) {
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
    c->version = RCY_TRACEMALLOC_COUNTERS_VERSION;
    for (int i = 0; i < NSHARDS; i++) {
        c->allocs += shards[i].allocs;
        c->frees += shards[i].frees;
    }
    c->current = __atomic_load_n(&cur_bytes, __ATOMIC_RELAXED);
    c->peak = __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED);
}

rcy_snapshot *rcy_tracemalloc_take_snapshot(void) {
    int prev = rcyi_tm_enter();
    rcy_snapshot *snap = NULL;
    rcyi_raw_trace *traces = NULL, *ptraces = NULL;
    const rcyi_tb **tbs = NULL;
    uint32_t *remap = NULL;
    lock_all();
    if (!tracing)
        goto out;
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++)
        n += shards[i].count;
    traces = malloc((n ? n : 1) * sizeof *traces);
    remap = calloc((size_t)tb_count + 1, sizeof *remap);
    tbs = malloc(((size_t)tb_count + 1) * sizeof *tbs);
    if (!traces || !remap || !tbs)
        goto out;
    size_t k = 0, ntb = 0;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        for (size_t j = 0; j < s->ngroups * GROUP; j++) {
            slot *e = &s->slots[j];
            if (!e->tb)
                continue;
            const rcyi_tb *t = tb_get(e->tb);
            if (!remap[e->tb]) {
                tbs[ntb] = t;
                remap[e->tb] = (uint32_t)++ntb;
            }
            traces[k].domain = t->domain;
            traces[k].tb = remap[e->tb] - 1;
            traces[k].size = slot_size_locked(s, e, t->domain);
            traces[k].count = 1;
            k++;
        }
    }
    if (keep_peak)
        peak_before_decrease(); /* now may be the peak */
    snap = rcyi_snapshot_from_raw(traceback_limit, traces, k, tbs, ntb);
    if (snap)
        counters_locked(&snap->counters);
    if (snap && keep_peak && peak_copy_bytes) {
        /* The aggregates at peak, as traces with counts. */
        size_t np = 0;
        for (size_t id = 1; id < peak_copy_n && id <= tb_count; id++)
            np += peak_copy[id].count != 0;
        ptraces = malloc((np ? np : 1) * sizeof *ptraces);
        memset(remap, 0, ((size_t)tb_count + 1) * sizeof *remap);
        ntb = 0;
        if (ptraces) {
            size_t m = 0;
            for (uint32_t id = 1; id < peak_copy_n && id <= tb_count; id++) {
                if (!peak_copy[id].count)
                    continue;
                const rcyi_tb *t = tb_get(id);
                if (!remap[id]) {
                    tbs[ntb] = t;
                    remap[id] = (uint32_t)++ntb;
                }
                ptraces[m++] = (rcyi_raw_trace){t->domain, remap[id] - 1, peak_copy[id].size,
                                                peak_copy[id].count};
            }
            snap->peak = rcyi_snapshot_from_raw(traceback_limit, ptraces, m, tbs, ntb);
            if (snap->peak) {
                snap->peak->counters = snap->counters;
                snap->peak->counters.current = peak_copy_bytes;
                snap->peak->counters.peak = snap->counters.peak;
            }
        }
    }
out:
    unlock_all();
    free(traces);
    free(ptraces);
    free(remap);
    free(tbs);
    rcyi_tm_exit(prev);
    return snap;
}

rcy_traceback *rcy_tracemalloc_get_object_traceback(const void *obj) {
    if (!obj || !tracing)
        return NULL;
    int prev = rcyi_tm_enter();
    uint64_t h = addr_hash((uintptr_t)obj);
    shard *s = shard_of(h);
    const char *file = NULL, *func = NULL;
    int line = 0, npcs = 0, total = 0;
    uintptr_t pcs[STACK_PCS];
    uintptr_t *big = NULL;
    int limit = 0;
    bool found = false;
    spin_lock(&s->lock);
    size_t j = find_locked(s, h, (uintptr_t)obj, RCY_DOMAIN_DEFAULT, NULL);
    if (j != SIZE_MAX) {
        const rcyi_tb *t = tb_get(s->slots[j].tb);
        file = t->file;
        func = t->func;
        line = t->line;
        npcs = t->npcs;
        total = t->total;
        limit = traceback_limit;
        if (npcs > STACK_PCS)
            big = malloc((size_t)npcs * sizeof *big);
        if (npcs <= STACK_PCS || big) {
            memcpy(big ? big : pcs, t->pcs, (size_t)npcs * sizeof *pcs);
            found = true;
        }
    }
    spin_unlock(&s->lock);
    rcy_traceback *tb = NULL;
    if (found) {
        size_t nf = 0, tot = 0;
        rcy_frame *frames = rcyi_resolve_frames(file, line, func, big ? big : pcs, (size_t)npcs,
                                                (size_t)total, limit, &nf, &tot);
        tb = frames ? malloc(sizeof *tb) : NULL;
        if (tb) {
            tb->nframe = nf;
            tb->total_nframe = tot;
            tb->frames = frames;
        } else {
            free(frames);
        }
    }
    free(big);
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
