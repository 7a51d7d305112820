/* src/tracemalloc_tracebacks.c — the tracer's interned tracebacks and
 * the caches in front of them.
 *
 * Tracebacks are interned (hash-consed) in an arena that lives until
 * clear_traces/stop, named by 32-bit ids; the domain is part of the
 * interned key.  Each thread caches call-site -> id (direct-mapped on file
 * pointer and line) and hash -> id, and every traceback keeps a hint to
 * the one that followed it last time, so a repeated sequence of stacks
 * finds each one without touching a table: the common event takes no lock
 * at all.  The intern table keeps each id's hash beside it, so a probe
 * reads a traceback only when the hashes match.
 *
 * Locks and invariants: src/tracemalloc_engine.h.
 */
#include "tracemalloc_engine.h"

#include <string.h>

/* ---- arena, directory, intern table ----------------------------------------- */

static int intern_lock; /* the intern table, the arena, the directory */

static rcyi_tm_chunk *arena; /* newest first */

rcyi_tb **rcyi_tm_tb_dir[RCYI_TM_DIR_CHUNKS];
uint32_t rcyi_tm_tb_count;
uint32_t rcyi_tm_trace_gen;

typedef struct intern_slot {
    uint32_t hash, id; /* id 0 = empty; the hash spares a probe the traceback */
} intern_slot;
static intern_slot *intern_tab;
static size_t intern_cap; /* power of two */

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
                tb_equal(rcyi_tm_tb_get(id), hash, domain, file, line, func, pcs, npcs, total))
                return id;
        }
    }
    if ((size_t)(rcyi_tm_tb_count + 1) * 2 > intern_cap && !intern_grow_locked())
        return 0;
    uint32_t id = rcyi_tm_tb_count + 1;
    if (id / RCYI_TM_DIR_CHUNK >= RCYI_TM_DIR_CHUNKS)
        return 0;
    if (!rcyi_tm_tb_dir[id / RCYI_TM_DIR_CHUNK]) {
        rcyi_tm_tb_dir[id / RCYI_TM_DIR_CHUNK] = rcyi_tm_map(RCYI_TM_DIR_CHUNK * sizeof(rcyi_tb *));
        if (!rcyi_tm_tb_dir[id / RCYI_TM_DIR_CHUNK])
            return 0;
    }
    rcyi_tb *t = rcyi_tm_chunk_alloc(&arena, sizeof *t + (size_t)npcs * sizeof *pcs);
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
    rcyi_tm_tb_dir[id / RCYI_TM_DIR_CHUNK][id % RCYI_TM_DIR_CHUNK] = t;
    size_t j = hash & (intern_cap - 1);
    while (intern_tab[j].id)
        j = (j + 1) & (intern_cap - 1);
    intern_tab[j] = (intern_slot){hash, id};
    /* Published last: another thread's event may read the directory. */
    __atomic_store_n(&rcyi_tm_tb_count, id, __ATOMIC_RELEASE);
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

uint32_t rcyi_tm_tb_lookup(rcyi_tm_thread *thr, unsigned domain, const char *file, int line,
                           const char *func, const uintptr_t *pcs, int npcs, int total) {
    uint32_t hash = tb_hash(domain, file, line, func, pcs, npcs, total);
    /* First the thread's cache of recent tracebacks.  Then, since a
     * program that repeats a sequence of allocations (a loop building the
     * same structure again) meets its tracebacks in the same order again:
     * the one that followed the thread's last traceback the previous time
     * (a hint kept in that traceback), the next one interned, and the last
     * itself.  Only then the intern table. */
    rcyi_tm_tbc_ent *e = &thr->tbc[(hash ^ (hash >> 16)) % RCYI_TM_TB_CACHE];
    if (e->hash == hash && e->id &&
        tb_equal(rcyi_tm_tb_get(e->id), hash, domain, file, line, func, pcs, npcs, total))
        return thr->last_id = e->id;
    uint32_t last = thr->last_id, count = __atomic_load_n(&rcyi_tm_tb_count, __ATOMIC_ACQUIRE),
             id = 0;
    rcyi_tb *lt = last && last <= count ? rcyi_tm_tb_get(last) : NULL;
    if (lt) {
        uint32_t hint = __atomic_load_n(&lt->next, __ATOMIC_RELAXED);
        if (hint && hint <= count) {
            const rcyi_tb *t = rcyi_tm_tb_get(hint);
            if (tb_equal(t, hash, domain, file, line, func, pcs, npcs, total)) {
                id = hint;
                goto cache;
            }
        }
        if (last < count) {
            const rcyi_tb *t = rcyi_tm_tb_get(last + 1);
            if (tb_equal(t, hash, domain, file, line, func, pcs, npcs, total)) {
                id = last + 1;
                goto cache;
            }
        }
    }
    rcyi_spin_lock(&intern_lock);
    id = intern_locked(hash, domain, file, line, func, pcs, npcs, total);
    rcyi_spin_unlock(&intern_lock);
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
__attribute__((noinline)) rcyi_tb *rcyi_tm_cs_miss(rcyi_tm_thread *thr, rcyi_tm_cs_ent *e,
                                                   unsigned domain, const char *file, int line,
                                                   const char *func) {
    uint32_t id = rcyi_tm_tb_lookup(thr, domain, file, line, func, NULL, 0, 0);
    if (!id)
        return NULL;
    *e = (rcyi_tm_cs_ent){file, func, line, domain, rcyi_tm_tb_get(id)};
    return e->tb;
}

void rcyi_tm_tracebacks_clear_locked(void) {
    rcyi_tm_chunks_free(&arena);
    for (size_t i = 0; i < RCYI_TM_DIR_CHUNKS && rcyi_tm_tb_dir[i]; i++) {
        rcyi_tm_unmap(rcyi_tm_tb_dir[i], RCYI_TM_DIR_CHUNK * sizeof(rcyi_tb *));
        rcyi_tm_tb_dir[i] = NULL;
    }
    rcyi_tm_unmap(intern_tab, intern_cap * sizeof *intern_tab);
    intern_tab = NULL;
    intern_cap = 0;
    rcyi_tm_tb_count = 0;
    __atomic_store_n(&rcyi_tm_trace_gen, rcyi_tm_trace_gen + 1, __ATOMIC_RELAXED);
}
