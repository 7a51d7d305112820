/* src/tracemalloc_traces.c — the tracer's trace tables: where each live
 * trace {address, size, traceback id} is kept, and the picture at peak
 * made from them.
 *
 * Two homes for traces.  A block of one of recycle's own pools, reported
 * by the allocation hooks in domain 0, is traced in the BLOCK TABLE: per
 * pool a tracer-owned array of 8-byte entries {size, traceback id} indexed
 * by block number, found from the address through a two-level directory
 * (4 GiB regions, then 1 MiB arenas) and the pool's geometry, which the
 * table copies when it is set up.  A block belongs to one heap, and a heap
 * is used by one thread at a time, so its entry is written without a lock
 * (the event path's add and remove are inlines in the engine header).
 * Every other trace (large and raw blocks, other domains,
 * rcy_tracemalloc_track) lives in 64 hash SHARDS, each an open-addressing
 * table of 16-byte slots {address, size, traceback id} probed a 64-byte
 * group at a time, under its own spin lock (taken only while more than one
 * thread traces).
 *
 * Locks and invariants: src/tracemalloc_engine.h.
 */
#include "tracemalloc_engine.h"
#include "hash.h"

#include <string.h>

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

/* ---- the shards' tables ----------------------------------------------------------- */

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
    size_t bytes = rcyi_tm_page_round(ng * per_group);
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
            if (grp[i].ptr == ptr && grp[i].tb && rcyi_tm_tb_get(grp[i].tb)->domain == domain)
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
        big_ent *n = rcyi_tm_map(rcyi_tm_page_round(ncap * sizeof *n));
        if (!n)
            return false;
        if (s->nbig)
            memcpy(n, s->big, s->nbig * sizeof *n);
        rcyi_tm_unmap(s->big, rcyi_tm_page_round(s->capbig * sizeof *n));
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

bool rcyi_tm_shard_add(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size,
                       uint32_t id, bool count) {
    uint64_t h = addr_hash(ptr);
    shard *s = shard_of(h);
    bool ok = false;
    prefetch_group(s, h);
    if (thr->locking)
        rcyi_spin_lock(&s->lock);
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
        rcyi_tm_acct_replace(thr, old, size, count);
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
    rcyi_tm_acct_grow(thr, size);
    ok = true;
out:
    if (thr->locking)
        rcyi_spin_unlock(&s->lock);
    return ok;
}

bool rcyi_tm_shard_take(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, uint64_t *size,
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
        rcyi_spin_lock(&s->lock);
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
        rcyi_spin_unlock(&s->lock);
    return found;
}

uint32_t rcyi_tm_shard_remove(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr) {
    uint64_t size;
    uint32_t id;
    if (!rcyi_tm_shard_take(thr, domain, ptr, &size, &id))
        return 0;
    rcyi_tm_acct_free(thr, size);
    return id;
}

/* ---- the block table ----------------------------------------------------------- */

rcyi_tm_bt_arena **rcyi_tm_bt_dir[1u << 16];
static uint16_t bt_regions[1u << 16]; /* indexes of rcyi_tm_bt_dir in use (bt_lock) */
static unsigned bt_nregions;
static int bt_lock; /* bt_chunks, bt_free, bt_regions */
static rcyi_tm_chunk *bt_chunks;
/* Free arrays per size; [RCYI_TM_BT_BUCKETS]: free arena records. */
static void *bt_free[RCYI_TM_BT_BUCKETS + 1];

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
    return rcyi_tm_chunk_alloc(&bt_chunks, bytes);
}

/* An all-zero array for nblocks entries. */
static uint64_t *bt_array_get(rcyi_tm_thread *thr, uint32_t nblocks) {
    unsigned b = bt_bucket(nblocks);
    if (b >= RCYI_TM_BT_BUCKETS)
        return NULL;
    void *p = thr->spare[b];
    if (p) {
        thr->spare[b] = NULL;
        return p;
    }
    rcyi_spin_lock(&bt_lock);
    p = bt_get_locked(b, (size_t)256 << b);
    rcyi_spin_unlock(&bt_lock);
    return p;
}

void rcyi_tm_bt_array_put(rcyi_tm_thread *thr, uint64_t *a, uint32_t nblocks) {
    unsigned b = bt_bucket(nblocks);
    if (!thr->spare[b]) {
        thr->spare[b] = a;
        return;
    }
    rcyi_spin_lock(&bt_lock);
    bt_put_locked(b, a);
    rcyi_spin_unlock(&bt_lock);
}

void rcyi_tm_bt_spares_release(rcyi_tm_thread *t) {
    rcyi_spin_lock(&bt_lock);
    for (unsigned b = 0; b < RCYI_TM_BT_BUCKETS; b++) {
        if (t->spare[b])
            bt_put_locked(b, t->spare[b]);
        t->spare[b] = NULL;
    }
    rcyi_spin_unlock(&bt_lock);
}

/* The record for p's pool, making the directory levels it needs. */
static rcyi_tm_bt_pool *bt_pool_make(uintptr_t p) {
    rcyi_tm_bt_arena **l2 = __atomic_load_n(&rcyi_tm_bt_dir[p >> 32], __ATOMIC_ACQUIRE);
    if (!l2) {
        rcyi_tm_bt_arena **n = rcyi_tm_map(RCYI_TM_BT_L2 * sizeof *n);
        if (!n)
            return NULL;
        if (__atomic_compare_exchange_n(&rcyi_tm_bt_dir[p >> 32], &l2, n, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            l2 = n;
            rcyi_spin_lock(&bt_lock);
            bt_regions[bt_nregions++] = (uint16_t)(p >> 32);
            rcyi_spin_unlock(&bt_lock);
        } else
            rcyi_tm_unmap(n, RCYI_TM_BT_L2 * sizeof *n);
    }
    rcyi_tm_bt_arena **slotp = &l2[(p >> 20) % RCYI_TM_BT_L2];
    rcyi_tm_bt_arena *a = __atomic_load_n(slotp, __ATOMIC_ACQUIRE);
    if (!a) {
        rcyi_spin_lock(&bt_lock);
        rcyi_tm_bt_arena *n = bt_get_locked(RCYI_TM_BT_BUCKETS, sizeof(rcyi_tm_bt_arena));
        rcyi_spin_unlock(&bt_lock);
        if (!n)
            return NULL;
        if (__atomic_compare_exchange_n(slotp, &a, n, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            a = n;
        } else {
            rcyi_spin_lock(&bt_lock);
            bt_put_locked(RCYI_TM_BT_BUCKETS, n);
            rcyi_spin_unlock(&bt_lock);
        }
    }
    return &a->pools[(p / RCY_POOL_SIZE) % RCYI_POOLS_PER_ARENA];
}

__attribute__((noinline)) uint64_t *rcyi_tm_bt_prepare(rcyi_tm_thread *thr, uintptr_t p,
                                                       rcyi_tm_bt_pool **out) {
    if (p >> 48 || !rcyi_arena_lookup((const void *)p))
        return NULL;
    uintptr_t first;
    uint32_t bsize, nblocks;
    if (!rcyi_pool_geometry((const void *)p, &first, &bsize, &nblocks) || !nblocks ||
        bsize > RCY_POOL_SIZE || p < first)
        return NULL;
    rcyi_tm_bt_pool *bp = bt_pool_make(p);
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
    return rcyi_tm_bt_entry(bp, p);
}

static size_t bt_count_locked(void) {
    size_t n = 0;
    for (unsigned i = 0; i < bt_nregions; i++) {
        rcyi_tm_bt_arena **l2 = rcyi_tm_bt_dir[bt_regions[i]];
        for (size_t j = 0; j < RCYI_TM_BT_L2; j++)
            if (l2[j])
                for (size_t k = 0; k < RCYI_POOLS_PER_ARENA; k++)
                    n += l2[j]->pools[k].live;
    }
    return n;
}

static void bt_clear_locked(void) {
    for (unsigned i = 0; i < bt_nregions; i++) {
        rcyi_tm_unmap(rcyi_tm_bt_dir[bt_regions[i]], RCYI_TM_BT_L2 * sizeof(rcyi_tm_bt_arena *));
        rcyi_tm_bt_dir[bt_regions[i]] = NULL;
    }
    bt_nregions = 0;
    rcyi_tm_chunks_free(&bt_chunks);
    memset(bt_free, 0, sizeof bt_free);
}

void rcyi_tm_bt_forget_arena(rcyi_tm_thread *thr, const void *base) {
    rcyi_tm_bt_arena *a = rcyi_tm_bt_arena_of((uintptr_t)base);
    for (size_t k = 0; a && k < RCYI_POOLS_PER_ARENA; k++) {
        rcyi_tm_bt_pool *bp = &a->pools[k];
        if (!bp->ent)
            continue;
        for (uint32_t q = 0; q < bp->nblocks; q++) {
            if (bp->ent[q]) {
                rcyi_tm_acct_free(thr, bp->ent[q] >> 32);
                bp->ent[q] = 0;
            }
        }
        rcyi_tm_bt_array_put(thr, bp->ent, bp->nblocks);
        bp->ent = NULL;
        bp->live = 0;
    }
}

/* ---- every trace, with the world stopped -------------------------------------- */

size_t rcyi_tm_traces_count_locked(void) {
    size_t n = bt_count_locked();
    for (int i = 0; i < NSHARDS; i++)
        n += shards[i].count;
    return n;
}

void rcyi_tm_traces_foreach_locked(rcyi_tm_trace_fn *f, void *arg) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        for (size_t j = 0; j < s->ngroups * GROUP; j++) {
            const slot *e = &s->slots[j];
            if (e->tb)
                f(arg, e->tb, slot_size_locked(s, e, rcyi_tm_tb_get(e->tb)->domain), e->ptr);
        }
    }
    for (unsigned i = 0; i < bt_nregions; i++) {
        rcyi_tm_bt_arena **l2 = rcyi_tm_bt_dir[bt_regions[i]];
        for (size_t j = 0; j < RCYI_TM_BT_L2; j++) {
            for (size_t k = 0; l2[j] && k < RCYI_POOLS_PER_ARENA; k++) {
                const rcyi_tm_bt_pool *bp = &l2[j]->pools[k];
                for (uint32_t q = 0; bp->ent && q < bp->nblocks; q++)
                    if (bp->ent[q])
                        f(arg, (uint32_t)bp->ent[q], bp->ent[q] >> 32, 0);
            }
        }
    }
}

uint32_t rcyi_tm_trace_id_locked(const void *obj) {
    rcyi_tm_bt_pool *bp = rcyi_tm_bt_pool_of((uintptr_t)obj);
    uint64_t *e = bp ? rcyi_tm_bt_entry(bp, (uintptr_t)obj) : NULL;
    if (e && *e)
        return (uint32_t)*e;
    uint64_t h = addr_hash((uintptr_t)obj);
    shard *s = shard_of(h);
    size_t j = find_locked(s, h, (uintptr_t)obj, RCY_DOMAIN_DEFAULT, NULL);
    return j != SIZE_MAX ? s->slots[j].tb : 0;
}

void rcyi_tm_traces_clear_locked(void) {
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &shards[i];
        rcyi_tm_unmap(s->slots, s->map_bytes);
        rcyi_tm_unmap(s->big, rcyi_tm_page_round(s->capbig * sizeof(big_ent)));
        s->slots = NULL;
        s->over = NULL;
        s->big = NULL;
        s->ngroups = s->map_bytes = s->nbig = s->capbig = 0;
        __atomic_store_n(&s->count, 0, __ATOMIC_RELAXED);
    }
    bt_clear_locked();
    rcyi_tm_unmap(rcyi_tm_peak.copy, rcyi_tm_peak.map);
    rcyi_tm_peak.copy = NULL;
    rcyi_tm_peak.map = 0;
    rcyi_tm_peak.n = 0;
    rcyi_tm_peak.bytes = 0;
    rcyi_tm_peak.dirty = 0;
}

/* ---- the picture at peak --------------------------------------------------- */

rcyi_tm_peak_state rcyi_tm_peak;

static void peak_add(void *arg, uint32_t id, uint64_t size, uintptr_t addr) {
    (void)arg;
    (void)addr;
    rcyi_tm_peak.copy[id].size += size;
    rcyi_tm_peak.copy[id].count++;
}

void rcyi_tm_peak_copy_locked(void) {
    rcyi_tm_fold_counters_locked();
    size_t cur = __atomic_load_n(&rcyi_tm_gs.cur, __ATOMIC_RELAXED);
    size_t last = rcyi_tm_peak.bytes;
    if (last && cur <= last + last / 64)
        return;
    size_t n = (size_t)rcyi_tm_tb_count + 1;
    size_t bytes = rcyi_tm_page_round(n * sizeof(rcyi_tm_tb_total));
    if (bytes > rcyi_tm_peak.map) {
        rcyi_tm_tb_total *c = rcyi_tm_map(bytes);
        if (!c)
            return;
        rcyi_tm_unmap(rcyi_tm_peak.copy, rcyi_tm_peak.map);
        rcyi_tm_peak.copy = c;
        rcyi_tm_peak.map = bytes;
    } else {
        memset(rcyi_tm_peak.copy, 0, n * sizeof(rcyi_tm_tb_total));
    }
    rcyi_tm_traces_foreach_locked(peak_add, NULL);
    rcyi_tm_peak.n = n;
    rcyi_tm_peak.bytes = cur;
}
