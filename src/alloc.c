/* src/alloc.c — the per-heap small-object allocator's engine (pymalloc's
 * design: size classes, pools, arenas) plus large blocks from the raw
 * allocator, the rcy_mem_* API and fault injection.  Debug mode is in
 * alloc_debug.c, the validator in alloc_validate.c, the statistics in
 * alloc_stats.c.
 *
 * Layout and invariants are stated in alloc.h.  The fast paths
 * (rcyi_alloc / rcyi_free on a small block) take no lock and touch no
 * counter beyond the pool's own `used`: a heap belongs to one thread at a
 * time.  The only process-wide structure is the arena map, a bitmap
 * whose words are changed with atomic read-modify-write operations and
 * whose bits are written only by the heap that owns the arena. */
#include "heap.h"
#include "options.h"
#include "os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SIZE  ((size_t)RCY_POOL_SIZE)
#define ARENA_SIZE ((size_t)RCY_ARENA_SIZE)
#define NPOOLS     RCYI_POOLS_PER_ARENA
/* A heap with this many arenas gets the next ones in huge-page pairs
 * (rcyi_os_map_arena): small heaps stay small, big ones spare the TLB. */
#define HUGE_AFTER 4

_Static_assert(sizeof(rcyi_pool) == RCYI_POOL_HEADER, "pool header size");
_Static_assert(RCY_ARENA_SIZE % RCY_POOL_SIZE == 0, "arena is not whole pools");

/* Left in a released block: a second free of it is then reported as a
 * double free (best effort: the raw allocator may reuse the memory). */
static inline uint32_t large_freed_magic(const rcyi_large *l) {
    return ~rcyi_large_magic(l);
}

/* Reads of a large prefix that may already be freed (double-free checks):
 * done outside the address sanitizer, which would stop at the read. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define RCY_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define RCY_NO_ASAN
#endif
RCY_NO_ASAN static uint32_t peek_magic(const rcyi_large *l) {
    return *(const volatile uint32_t *)&l->magic;
}
RCY_NO_ASAN size_t rcyi_large_size_copy(const rcyi_large *l) {
    return (size_t) * (const volatile uint64_t *)&l->size_copy;
}
bool rcyi_large_live(const rcyi_large *l) {
    return peek_magic(l) == rcyi_large_magic(l);
}

/* ---- the process-wide arena map ------------------------------------- */

uint64_t rcyi_arena_bits[RCYI_MAP_WORDS];

static int map_set(void *base, bool present) {
    uintptr_t a = (uintptr_t)base;
    if (a >> 48)
        return -1;
    uint64_t *w = &rcyi_arena_bits[a >> 26];
    uint64_t bit = (uint64_t)1 << ((a >> 20) & 63);
    if (present)
        __atomic_fetch_or(w, bit, __ATOMIC_RELEASE);
    else
        __atomic_fetch_and(w, ~bit, __ATOMIC_RELEASE);
    return 0;
}

/* ---- small helpers -------------------------------------------------- */

static inline uint32_t link_off(const rcyi_alloc_state *st, unsigned kind) {
    return rcyi_link_offset(st->debug, (int)kind);
}

static void *libc_malloc(void *ctx, size_t n) {
    (void)ctx;
    return malloc(n);
}
static void *libc_calloc(void *ctx, size_t n, size_t s) {
    (void)ctx;
    return calloc(n, s);
}
static void *libc_realloc(void *ctx, void *p, size_t n) {
    (void)ctx;
    return realloc(p, n);
}
static void libc_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static void arena_unmap(rcyi_alloc_state *st, rcyi_arena *a);
static rcyi_arena *cache_pop(rcyi_alloc_state *st);

static bool over_limit(const rcyi_alloc_state *st, size_t bytes) {
    return st->memory_limit &&
           (bytes > st->memory_limit || st->footprint > st->memory_limit - bytes);
}

/* Every raw request (arena record, arena mapping, large block) passes
 * here: fault injection first, then the memory limit, which cached empty
 * arenas do not hold up. */
static bool raw_request_ok(rcyi_alloc_state *st, size_t bytes) {
    if (st->fail_nth && --st->fail_nth == 0)
        return false;
    while (over_limit(st, bytes) && st->cache) {
        arena_unmap(st, cache_pop(st));
        st->arenas_reclaimed++;
    }
    return !over_limit(st, bytes);
}

/* ---- class lists (circular, sentinel-headed) ------------------------ */

static inline void list_push_front(rcyi_pool *head, rcyi_pool *p) {
    p->next = head->next;
    p->prev = head;
    head->next->prev = p;
    head->next = p;
    p->linked = 1;
    __atomic_store_n(&p->owner, p->owner & ~RCYI_OWNER_UNLINKED, __ATOMIC_RELAXED); /* P4a */
}
static inline void list_unlink(rcyi_pool *p) {
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->next = p->prev = NULL;
    p->linked = 0;
    __atomic_store_n(&p->owner, p->owner | RCYI_OWNER_UNLINKED, __ATOMIC_RELAXED); /* P4a */
}

/* ---- the usable-arena list, most-full first ------------------------- */

static void usable_unlink(rcyi_alloc_state *st, rcyi_arena *a) {
    if (a->prev)
        a->prev->next = a->next;
    else
        st->usable = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->next = a->prev = NULL;
}

static void usable_remove(rcyi_alloc_state *st, rcyi_arena *a) {
    uint32_t n = a->nfree;
    if (st->nfp2last[n] == a)
        st->nfp2last[n] = (a->prev && a->prev->nfree == n) ? a->prev : NULL;
    usable_unlink(st, a);
}

/* Only valid when a->nfree <= the head's nfree. */
static void usable_push_front(rcyi_alloc_state *st, rcyi_arena *a) {
    a->prev = NULL;
    a->next = st->usable;
    if (st->usable)
        st->usable->prev = a;
    st->usable = a;
    if (!st->nfp2last[a->nfree])
        st->nfp2last[a->nfree] = a;
}

static void usable_insert_after(rcyi_arena *dest, rcyi_arena *a) {
    a->prev = dest;
    a->next = dest->next;
    if (dest->next)
        dest->next->prev = a;
    dest->next = a;
}

/* ---- arenas --------------------------------------------------------- */

static void all_link(rcyi_alloc_state *st, rcyi_arena *a) {
    a->all_prev = NULL;
    a->all_next = st->all;
    if (st->all)
        st->all->all_prev = a;
    st->all = a;
}
static void all_unlink(rcyi_alloc_state *st, rcyi_arena *a) {
    if (a->all_prev)
        a->all_prev->all_next = a->all_next;
    else
        st->all = a->all_next;
    if (a->all_next)
        a->all_next->all_prev = a->all_prev;
    a->all_next = a->all_prev = NULL;
}

/* ---- the arena cache (C1) ------------------------------------------ */

static rcyi_arena *cache_pop(rcyi_alloc_state *st) {
    rcyi_arena *a = st->cache;
    st->cache = a->next;
    st->ncache--;
    return a;
}

/* C1's bound when in_use arenas are in use (the floor of one aside). */
size_t rcyi_cache_bound(const rcyi_alloc_state *st, size_t in_use) {
    size_t b = st->arenas_highwater * st->cache_pct / 100;
    return b < in_use ? b : in_use;
}

/* Unmaps the cached arenas over C1's bound, most recently cached first.
 * When nothing is in use the one arena left gives its pages back, unless
 * it only ever used a pool or two (then an alloc/free pair on an idle
 * heap costs no system call, and at most 32 KiB stay resident). */
static void cache_trim(rcyi_alloc_state *st) {
    size_t keep = rcyi_cache_bound(st, st->arenas - st->ncache);
    while (st->ncache > (keep ? keep : 1)) {
        arena_unmap(st, cache_pop(st));
        st->arenas_reclaimed++;
    }
    rcyi_arena *a = st->cache;
    if (st->ncache > keep && !a->decommitted) {
        if (a->ncarved > 2 && !st->arena.alloc) { /* an embedder's memory is left alone */
            size_t rec = rcyi_os_page_round(RCYI_ARENA_META); /* the record stays */
            rcyi_os_decommit(a->base + rec, ARENA_SIZE - rec);
        }
        a->decommitted = 1;
    }
}

/* An arena from the embedder's allocator (rcy_config.arena), which must
 * be ARENA_SIZE-aligned (A3). */
static char *hook_arena(rcyi_alloc_state *st) {
    char *base = st->arena.alloc(st->arena.ctx, ARENA_SIZE, ARENA_SIZE);
    if (base && ((uintptr_t)base & (ARENA_SIZE - 1)) != 0) {
        char what[128];
        snprintf(what, sizeof what,
                 "alloc returned %p, not aligned to %zu bytes (the block is given back)",
                 (void *)base, ARENA_SIZE);
        rcyi_misuse("rcy_config.arena", what);
        st->arena.free(st->arena.ctx, base, ARENA_SIZE);
        return NULL;
    }
    return base;
}

/* An arena's memory back to where it came from. */
static void give_back(rcyi_alloc_state *st, char *base) {
    if (st->arena.alloc)
        st->arena.free(st->arena.ctx, base, ARENA_SIZE);
    else
        rcyi_os_unmap(base, ARENA_SIZE);
}

static rcyi_arena *arena_new(rcy_heap *h, rcyi_alloc_state *st) {
    rcyi_arena *a = st->cache ? cache_pop(st) : NULL;
    if (a) {
        /* Its pools are carved afresh even when its pages were kept: a
         * new structure then gets its blocks in address order, where the
         * free lists left by the last one are in the order it died
         * (binary_trees 18: 0.83 s user carving again, 1.96 s reusing). */
        a->decommitted = 0;
    } else {
        char *base = NULL;
        if (raw_request_ok(st, ARENA_SIZE))
            base = st->arena.alloc ? hook_arena(st)
                                   : rcyi_os_map_arena(ARENA_SIZE, st->arenas >= HUGE_AFTER);
        if (!base)
            return NULL;
        a = (rcyi_arena *)(void *)base; /* the record heads its own arena */
        a->base = base;
        a->heap = h;
        a->decommitted = 0;
        if (map_set(base, true) != 0) {
            give_back(st, base);
            return NULL;
        }
        st->footprint += ARENA_SIZE;
        st->arenas++;
        st->arenas_allocated++;
        if (st->arenas > st->arenas_highwater)
            st->arenas_highwater = st->arenas;
    }
    a->freepools = NULL;
    a->ncarved = 0;
    a->nfree = NPOOLS;
    a->nretained = 0;
    a->next = a->prev = NULL;
    all_link(st, a);
    return a;
}

/* arena_unmap without the tracer's forget (done when it was abandoned). */
static void arena_unmap_untraced(rcyi_alloc_state *st, rcyi_arena *a) {
    char *base = a->base;
    map_set(base, false);
    st->footprint -= ARENA_SIZE;
    st->arenas--;
    give_back(st, base); /* the record goes with it */
}

static void arena_unmap(rcyi_alloc_state *st, rcyi_arena *a) {
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)))
        rcyi_trace_forget_arena(a->base);
    arena_unmap_untraced(st, a);
}

/* The arena has no pool in use: into the cache, within C1's bound. */
static void arena_release(rcyi_alloc_state *st, rcyi_arena *a) {
    all_unlink(st, a);
    a->next = st->cache;
    st->cache = a;
    st->ncache++;
    cache_trim(st);
}

/* ---- pools ---------------------------------------------------------- */

static rcyi_pool *pool_take(rcy_heap *h, rcyi_alloc_state *st, unsigned kind, unsigned cls) {
    rcyi_arena *a = st->usable;
    if (!a) {
        a = arena_new(h, st);
        if (!a)
            return NULL;
        usable_push_front(st, a);
    }
    rcyi_pool *p;
    bool same = false;
    if (a->freepools) {
        p = a->freepools;
        a->freepools = p->next;
        /* Released by this heap with every block free: for the same class
         * and kind its free list and carved blocks are still good (P2, P4),
         * so a heap that frees and rebuilds big structures does not carve
         * them again. */
        same = p->cls == cls && p->kind == kind;
    } else {
        p = &a->pools[a->ncarved];
        p->mem = a->base + (a->ncarved ? (size_t)a->ncarved * POOL_SIZE : RCYI_ARENA_META);
        p->limit = a->ncarved ? (uint32_t)POOL_SIZE : (uint32_t)(POOL_SIZE - RCYI_ARENA_META);
        a->ncarved++;
    }
    /* a is the head, so it stays the most-full arena after the decrement. */
    usable_remove(st, a);
    if (--a->nfree)
        usable_push_front(st, a);
    if (!same) {
        p->free = NULL;
        __atomic_store_n(&p->virgin, 0, __ATOMIC_RELAXED); /* P4a */
        p->bsize = (uint32_t)rcyi_class_size(cls);
        p->recip = (uint32_t)((((uint64_t)1 << 32) + p->bsize - 1) / p->bsize);
        p->cls = (uint8_t)cls;
        p->kind = (uint8_t)kind;
    }
    p->used = 0;
    p->linked = 0;
    p->retained = 0;
    __atomic_store_n(&p->owner,
                     (uintptr_t)h | (st->debug ? RCYI_OWNER_DEBUG : 0) | RCYI_OWNER_UNLINKED |
                         (kind == RCYI_KIND_OBJECT ? RCYI_OWNER_OBJECT : 0),
                     __ATOMIC_RELAXED); /* P4a */
    p->next = p->prev = NULL;
    return p;
}

/* Returns true when the pool's arena was released with it. */
static bool pool_release(rcyi_alloc_state *st, rcyi_pool *p) {
    if (p->linked)
        list_unlink(p);
    rcyi_arena *a = rcyi_pool_arena(p);
    if (p->retained) {
        p->retained = 0;
        a->nretained--;
    }
    __atomic_store_n(&p->owner, 0, __ATOMIC_RELAXED); /* P4a */
    p->next = a->freepools;
    a->freepools = p;
    uint32_t old = a->nfree;
    if (old == 0) {
        a->nfree = 1;
        usable_push_front(st, a);
        return false;
    }
    if (old + 1 == NPOOLS) {
        usable_remove(st, a);
        a->nfree = NPOOLS;
        arena_release(st, a);
        return true;
    }
    /* Move a from the group with nfree == old to the end of the group with
     * old + 1, keeping the list sorted. */
    rcyi_arena *last_old = st->nfp2last[old];
    if (last_old == a)
        st->nfp2last[old] = (a->prev && a->prev->nfree == old) ? a->prev : NULL;
    rcyi_arena *dest = st->nfp2last[old + 1];
    if (!dest && last_old != a)
        dest = last_old;
    a->nfree = old + 1;
    if (dest) {
        usable_unlink(st, a);
        usable_insert_after(dest, a);
    }
    st->nfp2last[old + 1] = a;
    return false;
}

/* Every empty pool of the arena goes back; so does the arena when that
 * leaves it empty. */
static void release_empty_pools(rcyi_alloc_state *st, rcyi_arena *a) {
    for (uint32_t i = 0, n = a->ncarved; i < n; i++) {
        rcyi_pool *p = &a->pools[i];
        if (p->owner && p->used == 0 && pool_release(st, p))
            return;
    }
}

/* Release the empty pools left on the class lists while a walk was in
 * progress. */
static void sweep_empty_pools(rcyi_alloc_state *st) {
    for (rcyi_arena *a = st->all, *next; a; a = next) {
        next = a->all_next;
        release_empty_pools(st, a);
    }
}

/* ---- small blocks --------------------------------------------------- */

/* Hands out the pool's next virgin block (its free list is empty).  Outside
 * debug mode, the rest of the blocks on the same 4 KiB page go on the free
 * list at once, so the fast path serves them: pages are still touched only
 * when needed, and the slow path runs once per page, not once per block.
 * The words before their link are zeroed (P4; an object block's type
 * word too: no object lived there yet). */
static void *carve(const rcyi_alloc_state *st, rcyi_pool *p) {
    char *b = p->mem + p->virgin;
    uint32_t end = p->virgin + p->bsize;
    if (!st->debug) {
        uint32_t link = link_off(st, p->kind);
        uint32_t page_end =
            p->virgin + (uint32_t)(((uintptr_t)b | (RCYI_OS_PAGE - 1)) + 1 - (uintptr_t)b);
        uint32_t limit = page_end < p->limit ? page_end : p->limit;
        char *prev = NULL;
        for (uint32_t off = end; off + p->bsize <= limit; off += p->bsize) {
            char *c = p->mem + off;
            memset(c, 0, link);
            if (prev)
                rcyi_block_set_link(prev, link, c);
            else
                p->free = c;
            prev = c;
            end = off + p->bsize;
        }
        if (prev)
            rcyi_block_set_link(prev, link, NULL);
    }
    __atomic_store_n(&p->virgin, end, __ATOMIC_RELAXED); /* P4a */
    p->used++;
    return b;
}

static void *alloc_slow(rcy_heap *h, rcyi_alloc_state *st, unsigned kind, unsigned cls) {
    rcyi_pool *head = &st->lists[kind][cls];
    for (rcyi_pool *p = head->next; p != head; p = head->next) {
        void *b = rcyi_pool_pop(p, link_off(st, kind));
        if (b)
            return b;
        if (p->virgin + p->bsize <= p->limit)
            return carve(st, p);
        list_unlink(p); /* full: in use again, so no longer retained (P5) */
        if (p->retained) {
            p->retained = 0;
            rcyi_pool_arena(p)->nretained--;
        }
    }
    rcyi_pool *p = pool_take(h, st, kind, cls);
    if (!p)
        return NULL;
    list_push_front(head, p);
    void *b = rcyi_pool_pop(p, link_off(st, kind)); /* a reused pool comes with its free list */
    return b ? b : carve(st, p);
}

static inline void *small_alloc(rcy_heap *h, rcyi_alloc_state *st, unsigned kind, unsigned cls) {
    void *b = rcyi_pool_pop(st->lists[kind][cls].next, link_off(st, kind));
    if (RCY_LIKELY(b != NULL))
        return b;
    return alloc_slow(h, st, kind, cls);
}

/* A free that emptied the pool, or went into a pool off its class list. */
static void free_slow(rcyi_alloc_state *st, rcyi_pool *p) {
    if (!p->linked)
        list_push_front(&st->lists[p->kind][p->cls], p);
    if (p->used != 0 || st->walking)
        return;
    rcyi_arena *a = rcyi_pool_arena(p);
    /* Pools of the arena in use, not counting retained ones or p. */
    uint32_t others = NPOOLS - a->nfree - a->nretained - (p->retained ? 0 : 1);
    rcyi_pool *head = &st->lists[p->kind][p->cls];
    if (others > 0 && head->next == p && p->next == head) {
        if (!p->retained) {
            p->retained = 1;
            a->nretained++;
        }
        return;
    }
    if (others == 0 && a->nretained > (p->retained ? 1u : 0u))
        release_empty_pools(st, a); /* retained ones may be idle too */
    else
        pool_release(st, p);
}

static inline void small_free(rcyi_alloc_state *st, rcyi_pool *p, void *b) {
    uint32_t u = rcyi_pool_push(p, b, link_off(st, p->kind));
    if (RCY_LIKELY(p->linked && u != 0))
        return;
    free_slow(st, p);
}

void *rcyi_small_alloc(rcy_heap *h, rcyi_alloc_state *st, unsigned kind, unsigned cls) {
    return small_alloc(h, st, kind, cls);
}
void rcyi_small_free(rcyi_alloc_state *st, rcyi_pool *p, void *b) {
    small_free(st, p, b);
}

/* ---- large blocks --------------------------------------------------- */

void *rcyi_large_alloc(rcy_heap *h, rcyi_alloc_state *st, size_t size, unsigned kind) {
    if (size > SIZE_MAX - sizeof(rcyi_large))
        return NULL;
    size_t total = size + sizeof(rcyi_large);
    if (!raw_request_ok(st, total))
        return NULL;
    rcyi_large *l = st->raw.malloc(st->raw.ctx, total);
    if (!l)
        return NULL;
    l->heap = h;
    l->size = size;
    l->magic = rcyi_large_magic(l);
    l->kind = kind;
    l->size_copy = size;
    l->prev = NULL;
    l->next = st->large[kind];
    if (l->next)
        l->next->prev = l;
    st->large[kind] = l;
    st->large_blocks++;
    st->large_bytes += size;
    st->footprint += total;
    return l + 1;
}

static void large_unlink(rcyi_alloc_state *st, rcyi_large *l) {
    if (l->prev)
        l->prev->next = l->next;
    else
        st->large[l->kind] = l->next;
    if (l->next)
        l->next->prev = l->prev;
}

static void large_release(rcyi_alloc_state *st, rcyi_large *l) {
    large_unlink(st, l);
    st->large_blocks--;
    st->large_bytes -= l->size;
    st->footprint -= l->size + sizeof *l;
    l->magic = large_freed_magic(l);
    st->raw.free(st->raw.ctx, l);
}

/* The prefix of a pointer that is not in any arena, if it looks like one
 * of ours; reading it may touch memory that is not ours (misuse checks
 * only), so it is read only where mapped and outside the sanitizer. */
RCY_NO_ASAN rcyi_large *rcyi_large_of(const void *p, size_t front) {
    uintptr_t u = (uintptr_t)p;
    if (u % RCY_ALIGNMENT != 0 || u < front + sizeof(rcyi_large) + 4096 || (u >> 48))
        return NULL;
    rcyi_large *l = (rcyi_large *)(u - front) - 1;
    size_t ps = rcyi_os_page_size();
    if (((uintptr_t)l & ~(ps - 1)) != (u & ~(ps - 1)) && !rcyi_os_readable(l, sizeof *l))
        return NULL;
    uint32_t magic = *(volatile uint32_t *)&l->magic;
    if (magic != rcyi_large_magic(l) && magic != RCYI_LARGE_DEFERRED &&
        magic != large_freed_magic(l))
        return NULL;
    return l;
}

RCY_NORETURN void rcyi_bad_free(rcy_heap *h, const void *p, const char *what) {
    rcy_heap *owner = rcyi_heap_of_block(p);
    if (owner && owner != h)
        rcyi_fatal(RCY_EMISUSE, "%s of %p: the block belongs to heap %p, not heap %p", what, p,
                   (void *)owner, (void *)h);
    rcyi_fatal(RCY_EMISUSE,
               "%s of %p: double free, or a pointer recycle never handed out to heap %p", what, p,
               (void *)h);
}

RCY_NORETURN void rcyi_double_free(const void *p, size_t size, const char *what) {
    rcyi_fatal(RCY_ECORRUPTED_HEAP, "%s of %p: double free (block of size %zu)", what, p, size);
}

void rcyi_free_large(rcy_heap *h, rcyi_alloc_state *st, void *p, size_t front) {
    rcyi_large *l = rcyi_large_of(p, front);
    if (l && !rcyi_large_live(l))
        rcyi_double_free(p, rcyi_large_size_copy(l), "free");
    if (!l || l->heap != h)
        rcyi_bad_free(h, p, "free");
    if (st->walking) {
        l->magic = RCYI_LARGE_DEFERRED; /* freed after the walk */
        return;
    }
    large_release(st, l);
}

/* ---- the internal API ----------------------------------------------- */

static void *alloc_other(rcy_heap *h, rcyi_alloc_state *st, size_t size, unsigned kind) {
    if (st->debug) {
        rcyi_thread_check(h, "allocation");
        return rcyi_debug_alloc(h, st, size, kind);
    }
    if (size == 0)
        return rcyi_small_alloc(h, st, kind, 0);
    return rcyi_large_alloc(h, st, size, kind);
}

/* ---- blocks freed by other threads (R1) ----------------------------- */

/* The tag of an object block in a remote-list link (R2; blocks are
 * 16-aligned). */
#define REMOTE_OBJECT    ((uintptr_t)1)
#define REMOTE_ABANDONED ((void *)(uintptr_t)2) /* the head of an abandoned heap's list (R3) */

/* Where a block on the remote list keeps its link: its first caller
 * bytes (an object's: the word after its header, R2), or in debug mode
 * the 0xFD word of its front guard (a size-0 debug block has no caller
 * bytes). */
static inline char *remote_link(const rcyi_alloc_state *st, void *p, uintptr_t object) {
    if (st->debug)
        return (char *)p - sizeof(void *);
    return (char *)p + (object ? RCYI_LINK_OBJECT : 0);
}

/* Frees the blocks of a list taken from `remote`. */
static void free_remote_list(rcy_heap *h, rcyi_alloc_state *st, char *t) {
    while (t) {
        uintptr_t object = (uintptr_t)t & REMOTE_OBJECT;
        char *b = (char *)((uintptr_t)t & ~REMOTE_OBJECT);
        char *link = remote_link(st, b, object);
        memcpy(&t, link, sizeof t);
        if (object) { /* now a free object block (P4) */
            __atomic_store_n(&((rcy_head_ *)(void *)b)->refcnt, 0, __ATOMIC_RELAXED);
            ((rcy_head_ *)(void *)b)->gcword = 0;
        }
        if (!object && __atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED))
            rcyi_trace_free(0, b); /* here: only this thread writes its block table */
        if (st->debug) {
            memset(link, 0xFD, sizeof(void *)); /* the guard word it borrowed */
            rcyi_debug_free(h, st, b);
        } else {
            rcyi_free(h, b);
        }
        st->remote_taken++;
    }
}

__attribute__((noinline)) static void take_remote(rcy_heap *h, rcyi_alloc_state *st) {
    free_remote_list(h, st, __atomic_exchange_n((char **)&st->remote, NULL, __ATOMIC_ACQUIRE));
}

/* One CAS, retried (and counted) only when another push or the owner's
 * exchange came between. */
static bool remote_push(rcyi_alloc_state *st, char *link, void *item) {
    void *head = __atomic_load_n(&st->remote, __ATOMIC_ACQUIRE);
    for (;;) {
        if (RCY_UNLIKELY(head == REMOTE_ABANDONED))
            return false; /* R3: not pushed */
        memcpy(link, &head, sizeof head);
        if (RCY_LIKELY(__atomic_compare_exchange_n(&st->remote, &head, item, true, __ATOMIC_RELEASE,
                                                   __ATOMIC_ACQUIRE)))
            return true;
        __atomic_fetch_add(&st->remote_retries, 1, __ATOMIC_RELAXED);
    }
}

static void abandoned_free(rcy_heap *h);

/* Debug mode: the front guard word a remote free borrows must be intact. */
static void remote_check_guard(const char *link, const void *ptr, const char *what) {
    static const unsigned char guard[sizeof(void *)] = {0xFD, 0xFD, 0xFD, 0xFD,
                                                        0xFD, 0xFD, 0xFD, 0xFD};
    if (memcmp(link, guard, sizeof guard) != 0)
        rcyi_fatal(RCY_ECORRUPTED_HEAP, "%s(%p): front guard overwritten or block already freed",
                   what, ptr);
}

void rcyi_alloc_take_remote(rcy_heap *h) {
    rcyi_alloc_state *st = &h->alloc;
    void *r = __atomic_load_n(&st->remote, __ATOMIC_RELAXED);
    if (RCY_UNLIKELY(r != NULL) && r != REMOTE_ABANDONED)
        take_remote(h, st);
}

void rcy_mem_free_remote(rcy_heap *heap, void *ptr) {
    if (!ptr)
        return;
    if (!heap) {
        rcyi_misuse("rcy_mem_free_remote", "heap is NULL (the block is not freed)");
        return;
    }
    uintptr_t t = __atomic_load_n(&heap->thread, __ATOMIC_ACQUIRE);
    if (t == RCYI_THREAD_UNBOUND || t == rcyi_thread_self()) {
        rcy_mem_free(heap, ptr); /* the heap's own thread: an ordinary free */
        return;
    }
    rcyi_alloc_state *st = &heap->alloc;
    char *link = remote_link(st, ptr, 0); /* its trace goes when the owner takes it back */
    if (st->debug) /* the owner checks the rest when it takes the block back */
        remote_check_guard(link, ptr, "rcy_mem_free_remote");
    (void)remote_push(st, link, ptr); /* a freed heap's block goes with the heap */
}

/* R4: h's allocator is the calling thread's to use now -- h is attached
 * to it, or the world is stopped for a shared collection (gcshared.h L5:
 * the caller is its requester) and h is attached to a thread (parked,
 * thread.h S1, S2) that is not freeing it. */
static inline bool may_free_into(rcy_heap *h) {
    uintptr_t t = __atomic_load_n(&h->thread, __ATOMIC_ACQUIRE);
    if (rcyi_shared_world_stopped())
        return t > RCYI_THREAD_DETACHED && !h->freeing;
    return t == rcyi_thread_self();
}

void rcyi_free_object_shared(rcy_heap *h, rcy_head_ *hd) {
    if (may_free_into(h)) {
        __atomic_store_n(&hd->refcnt, 0, __ATOMIC_RELAXED);
        hd->gcword = 0;
        rcyi_free_object_inline(h, hd);
        return;
    }
    /* The header stays a shared word at count 0 until the owner takes the
     * block back (R2); the link goes past it. */
    rcyi_alloc_state *st = &h->alloc;
    char *link = remote_link(st, hd, REMOTE_OBJECT);
    if (st->debug)
        remote_check_guard(link, hd + 1, "shared object free");
    if (RCY_LIKELY(remote_push(st, link, (char *)hd + REMOTE_OBJECT)))
        return;
    /* R3: the heap was freed; the last of its shared objects frees it. */
    rcyi_alloc_unpin(h);
}

void rcyi_alloc_unpin(rcy_heap *h) {
    if (__atomic_fetch_sub(&h->alloc.abandoned_live, 1, __ATOMIC_ACQ_REL) == 1)
        abandoned_free(h);
}

rcy_heap *rcyi_heap_of_live_block(const void *p) {
    rcyi_arena *a = rcyi_arena_lookup_checked(p);
    return a ? a->heap : rcyi_heap_of_other_block(p);
}

/* ---- the internal API, continued ------------------------------------ */

void *rcyi_alloc_slow(rcy_heap *h, size_t size, int kind) {
    rcyi_alloc_state *st = &h->alloc;
    rcyi_safepoint_poll(); /* thread.h S4 */
    rcyi_alloc_take_remote(h);
    /* Room for the link after an object's header: the OBJECT lists of
     * smaller classes stay empty, so the inline path always comes here. */
    if (kind == RCYI_KIND_OBJECT && size < RCYI_OBJ_MIN_BLOCK)
        size = RCYI_OBJ_MIN_BLOCK;
    if (size - 1 < st->fast_limit)
        return alloc_slow(h, st, (unsigned)kind, rcyi_size_class(size));
    return alloc_other(h, st, size, (unsigned)kind);
}

void *rcyi_alloc(rcy_heap *h, size_t size, int kind) {
    return rcyi_alloc_inline(h, &h->alloc, size, kind);
}

void rcyi_free_slow(rcy_heap *h, void *p) {
    rcyi_alloc_state *st = &h->alloc;
    rcyi_arena *a = rcyi_arena_lookup(p);
    if (a && !st->debug) {
        rcyi_pool *pl = rcyi_pool_at(p);
        if (RCY_UNLIKELY(rcyi_pool_heap(pl) != h))
            rcyi_bad_free(h, p, "free");
        small_free(st, pl, p);
        return;
    }
    if (!p)
        return;
    if (st->debug) {
        rcyi_thread_check(h, "free");
        rcyi_debug_free(h, st, p);
    } else {
        rcyi_free_large(h, st, p, 0);
    }
}

void rcyi_free(rcy_heap *h, void *p) {
    rcyi_free_inline(h, p);
}

size_t rcyi_alloc_usable_size(rcy_heap *h, const void *p) {
    rcyi_alloc_state *st = &h->alloc;
    if (st->debug)
        return rcyi_debug_size(h, p, "size");
    if (rcyi_arena_lookup_checked(p)) {
        rcyi_pool *pl = rcyi_pool_at(p);
        if (rcyi_pool_heap(pl) != h)
            rcyi_bad_free(h, p, "size");
        return pl->bsize;
    }
    rcyi_large *l = rcyi_large_of(p, 0);
    if (!l || l->heap != h || !rcyi_large_live(l))
        rcyi_bad_free(h, p, "size");
    return l->size;
}

void *rcyi_realloc(rcy_heap *h, void *p, size_t size) {
    if (!p)
        return rcyi_alloc(h, size, RCYI_KIND_RAW);
    rcyi_alloc_state *st = &h->alloc;
    size_t old;
    if (st->debug) {
        old = rcyi_debug_size(h, p, "realloc");
    } else if (rcyi_arena_lookup_checked(p)) {
        rcyi_pool *pl = rcyi_pool_at(p);
        if (rcyi_pool_heap(pl) != h || pl->kind != RCYI_KIND_RAW)
            rcyi_bad_free(h, p, "realloc");
        old = pl->bsize;
        /* Stay in place unless the block would be less than 3/4 used. */
        if (size <= old && (size * 4 > old * 3 || old == RCY_ALIGNMENT))
            return p;
    } else {
        rcyi_large *l = rcyi_large_of(p, 0);
        if (!l || l->heap != h || l->kind != RCYI_KIND_RAW || !rcyi_large_live(l))
            rcyi_bad_free(h, p, "realloc");
        old = l->size;
        if (size > RCY_SMALL_LIMIT && !st->walking) {
            if (size > SIZE_MAX - sizeof *l)
                return NULL;
            if (size > old && !raw_request_ok(st, size - old))
                return NULL;
            rcyi_large *prev = l->prev, *next = l->next;
            rcyi_large *nl = st->raw.realloc(st->raw.ctx, l, size + sizeof *l);
            if (!nl)
                return NULL;
            nl->magic = rcyi_large_magic(nl);
            if (prev)
                prev->next = nl;
            else
                st->large[RCYI_KIND_RAW] = nl;
            if (next)
                next->prev = nl;
            st->large_bytes += size - old;
            st->footprint += size - old;
            nl->size = size;
            nl->size_copy = size;
            return nl + 1;
        }
    }
    void *q = rcyi_alloc(h, size, RCYI_KIND_RAW);
    if (!q)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    rcyi_free(h, p);
    return q;
}

rcy_heap *rcyi_heap_of_block(const void *p) {
    return rcyi_heap_of_block_inline(p);
}

rcy_heap *rcyi_heap_of_object_block(const void *p) {
    rcy_heap *h = rcyi_heap_of_block_inline(p);
    if (!h)
        return NULL;
    if (rcyi_arena_lookup_checked(p))
        return (__atomic_load_n(&rcyi_pool_at(p)->owner, __ATOMIC_RELAXED) & RCYI_OWNER_OBJECT)
                   ? h
                   : NULL;
    rcyi_large *l = rcyi_large_of(p, h->alloc.debug ? RCYI_DBG_FRONT : 0);
    return l && l->kind == RCYI_KIND_OBJECT ? h : NULL;
}

rcy_heap *rcyi_heap_of_other_block(const void *p) {
    if (!p || rcyi_arena_lookup_checked(p))
        return NULL; /* an arena's record or an interior pointer was refused inline */
    rcyi_large *l = rcyi_large_of(p, 0);
    if (l && rcyi_large_live(l) && !l->heap->alloc.debug)
        return l->heap;
    l = rcyi_large_of(p, RCYI_DBG_FRONT);
    if (l && rcyi_large_live(l) && l->heap->alloc.debug)
        return l->heap;
    return NULL;
}

/* A walk's test of a block's refcount word (R2): alive, and private
 * unless `shared` (rcyi_walk_all_objects); a shared word at count 0 is a
 * death in progress on some thread, or a block on the remote list. */
static inline bool walk_wants(const rcy_head_ *o, bool shared) {
    uint32_t rc = rcyi_refcnt_load(o);
    if (RCY_LIKELY((int32_t)rc > 0)) /* private and alive: one test, as before */
        return true;
    return shared ? rc != 0 && rc != RCYI_RC_HIGH : rc == RCYI_RC_IMMORTAL_PRIVATE;
}

static void walk_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg, bool shared) {
    rcyi_alloc_state *st = &h->alloc;
    size_t front = st->debug ? RCYI_DBG_FRONT : 0;
    st->walking++;
    for (rcyi_arena *a = st->all; a; a = a->all_next) {
        for (uint32_t i = 0; i < a->ncarved; i++) {
            rcyi_pool *p = &a->pools[i];
            if (rcyi_pool_heap(p) != h || p->kind != RCYI_KIND_OBJECT)
                continue;
            uint32_t end = p->virgin, bs = p->bsize;
            for (uint32_t off = 0; off < end; off += bs) {
                char *b = p->mem + off;
                rcy_head_ *o = (rcy_head_ *)(void *)(b + front);
                if (walk_wants(o, shared) && !(front && (rcyi_dbg_load_size(b) & RCYI_DBG_FREED)))
                    fn(o, arg);
            }
        }
    }
    for (rcyi_large *l = st->large[RCYI_KIND_OBJECT]; l; l = l->next) {
        rcy_head_ *o = (rcy_head_ *)(void *)((char *)(l + 1) + front);
        if (l->magic != RCYI_LARGE_DEFERRED && walk_wants(o, shared))
            fn(o, arg);
    }
    if (--st->walking == 0) {
        /* Raw blocks freed by a visitor were deferred too (free_large does
         * not know which list the walk reads): release both kinds. */
        for (unsigned k = 0; k < RCYI_KINDS; k++) {
            for (rcyi_large *l = st->large[k], *next; l; l = next) {
                next = l->next;
                if (l->magic == RCYI_LARGE_DEFERRED)
                    large_release(st, l);
            }
        }
        sweep_empty_pools(st);
    }
}

void rcyi_walk_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg) {
    walk_objects(h, fn, arg, false);
}

void rcyi_walk_all_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg) {
    walk_objects(h, fn, arg, true);
}

/* The pieces of rcyi_walk_objects, for a walk spread over time (the
 * collector's incremental scan, gcincr.c): the visitor must not free. */
size_t rcyi_arena_bases(rcy_heap *h, uintptr_t *out, size_t cap) {
    size_t n = 0;
    for (rcyi_arena *a = h->alloc.all; a; a = a->all_next) {
        if (n < cap)
            out[n] = (uintptr_t)a->base;
        n++;
    }
    return n;
}

int rcyi_walk_pool(rcy_heap *h, uintptr_t base, unsigned i, uint32_t *block, rcyi_obj_stopper fn,
                   void *arg) {
    rcyi_arena *a = rcyi_arena_lookup_checked((const void *)base);
    if (!a || a->heap != h)
        return -1; /* released since: another heap's, or no arena at all */
    rcyi_pool *p = &a->pools[i];
    if (i >= a->ncarved || rcyi_pool_heap(p) != h || p->kind != RCYI_KIND_OBJECT) {
        *block = 0;
        return 0;
    }
    size_t front = h->alloc.debug ? RCYI_DBG_FRONT : 0;
    uint32_t end = p->virgin, bs = p->bsize;
    for (uint32_t off = *block * bs; off < end; off += bs) {
        char *b = p->mem + off;
        rcy_head_ *o = (rcy_head_ *)(void *)(b + front);
        if (walk_wants(o, false) && !(front && (rcyi_dbg_load_size(b) & RCYI_DBG_FREED)) &&
            fn(o, arg)) {
            *block = off / bs + 1;
            return 1;
        }
    }
    *block = 0;
    return 0;
}

void rcyi_walk_large_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg) {
    size_t front = h->alloc.debug ? RCYI_DBG_FRONT : 0;
    for (rcyi_large *l = h->alloc.large[RCYI_KIND_OBJECT]; l; l = l->next) {
        rcy_head_ *o = (rcy_head_ *)(void *)((char *)(l + 1) + front);
        if (l->magic != RCYI_LARGE_DEFERRED && walk_wants(o, false))
            fn(o, arg);
    }
}

/* ---- heap life cycle ------------------------------------------------ */

int rcyi_alloc_init(rcy_heap *h, const rcy_config *cfg) {
    rcyi_alloc_state *st = &h->alloc;
    memset(st, 0, sizeof *st);
    if ((uintptr_t)h & RCYI_OWNER_BITS)
        return RCY_EINVAL; /* pool owners keep flags in the heap pointer's low bits */
    for (unsigned k = 0; k < RCYI_KINDS; k++) {
        for (unsigned c = 0; c < RCY_SIZE_CLASSES; c++) {
            rcyi_pool *s = &st->lists[k][c];
            s->next = s->prev = s;
            s->kind = (uint8_t)k;
            s->cls = (uint8_t)c;
        }
    }
    st->debug = h->debug != 0;
    st->fast_limit = st->debug ? 0 : RCY_SMALL_LIMIT;
    st->obj_fast_max = st->debug ? 0 : RCYI_OBJ_FAST_MAX;
    st->cache_pct = (uint32_t)rcyi_option_get(RCYI_OPTION_ARENA_CACHE);
    st->raw = (rcy_raw_allocator){NULL, libc_malloc, libc_calloc, libc_realloc, libc_free};
    if (cfg) {
        size_t have = cfg->size;
        if (have >= offsetof(rcy_config, raw) + sizeof cfg->raw && cfg->raw) {
            const rcy_raw_allocator *r = cfg->raw;
            if (!r->malloc || !r->calloc || !r->realloc || !r->free)
                return RCY_EINVAL;
            st->raw = *r;
        }
        if (have >= offsetof(rcy_config, memory_limit) + sizeof cfg->memory_limit)
            st->memory_limit = cfg->memory_limit;
        if (have >= offsetof(rcy_config, arena) + sizeof cfg->arena && cfg->arena) {
            const rcy_arena_allocator *r = cfg->arena;
            if (!r->alloc || !r->free)
                return RCY_EINVAL;
            st->arena = *r;
        }
    }
    return RCY_OK;
}

/* R3: a mortal shared object that is alive, or dying and not yet on the
 * remote list (its death will find the list abandoned). */
static inline bool shared_mortal(const rcy_head_ *o) {
    uint32_t rc = rcyi_refcnt_load(o);
    return (rc & (RCYI_RC_HIGH | RCYI_RC_IMMORTAL_BIT)) == RCYI_RC_HIGH;
}

/* R3: counts the heap's mortal shared objects, marking the arenas that
 * hold one (keep) and moving such large blocks to the front of their
 * list (*nlarge of them). */
static size_t count_shared(rcy_heap *h, rcyi_alloc_state *st, size_t *nlarge) {
    size_t front = st->debug ? RCYI_DBG_FRONT : 0, n = 0;
    for (rcyi_arena *a = st->all; a; a = a->all_next) {
        a->keep = 0;
        for (uint32_t i = 0; i < a->ncarved; i++) {
            rcyi_pool *p = &a->pools[i];
            if (rcyi_pool_heap(p) != h || p->kind != RCYI_KIND_OBJECT)
                continue;
            for (uint32_t off = 0; off < p->virgin; off += p->bsize) {
                if (shared_mortal((rcy_head_ *)(void *)(p->mem + off + front))) {
                    n++;
                    a->keep = 1;
                }
            }
        }
    }
    rcyi_large *keep = NULL, *rest = NULL, *keep_last = NULL;
    *nlarge = 0;
    for (rcyi_large *l = st->large[RCYI_KIND_OBJECT], *next; l; l = next) {
        next = l->next;
        if (l->magic != RCYI_LARGE_DEFERRED &&
            shared_mortal((rcy_head_ *)(void *)((char *)(l + 1) + front))) {
            l->next = keep;
            keep = l;
            if (!keep_last)
                keep_last = l;
            ++*nlarge;
        } else {
            l->next = rest;
            rest = l;
        }
    }
    if (keep_last)
        keep_last->next = rest;
    st->large[RCYI_KIND_OBJECT] = keep ? keep : rest;
    for (rcyi_large *l = st->large[RCYI_KIND_OBJECT], *prev = NULL; l; prev = l, l = l->next)
        l->prev = prev;
    return n + *nlarge;
}

/* Frees the blocks and arenas of the heap; with `keep`, neither the first
 * nkeep large object blocks nor the arenas marked keep (their traces are
 * forgotten instead: only this thread writes their block-table records). */
static void free_all(rcyi_alloc_state *st, bool keep, size_t nkeep) {
    int traced = __atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED);
    size_t front = st->debug ? RCYI_DBG_FRONT : 0;
    for (unsigned k = 0; k < RCYI_KINDS; k++) {
        rcyi_large *l = st->large[k];
        for (size_t skip = keep && k == RCYI_KIND_OBJECT ? nkeep : 0; skip; skip--)
            l = l->next;
        while (l) {
            rcyi_large *next = l->next;
            /* Blocks still alive lose their traces with the heap (pool
             * blocks lose theirs with their arena, in arena_unmap). */
            if (traced && l->magic != RCYI_LARGE_DEFERRED) {
                char *user = (char *)(l + 1) + front;
                rcyi_trace_free(0, k == RCYI_KIND_OBJECT ? user + sizeof(rcy_head_) : user);
            }
            large_release(st, l);
            l = next;
        }
    }
    for (rcyi_arena *a = st->all, *next; a; a = next) {
        next = a->all_next;
        if (keep && a->keep) {
            if (traced)
                rcyi_trace_forget_arena(a->base);
            continue;
        }
        all_unlink(st, a);
        arena_unmap(st, a);
    }
    while (st->cache)
        arena_unmap(st, cache_pop(st));
    st->usable = NULL;
    memset(st->nfp2last, 0, sizeof st->nfp2last);
}

/* R3: the last shared object of an abandoned heap died (any thread). */
static void abandoned_free(rcy_heap *h) {
    rcyi_alloc_state *st = &h->alloc;
    for (unsigned k = 0; k < RCYI_KINDS; k++)
        while (st->large[k])
            large_release(st, st->large[k]);
    while (st->all) {
        rcyi_arena *a = st->all;
        all_unlink(st, a);
        arena_unmap_untraced(st, a);
    }
    rcy_raw_allocator raw = st->raw;
    raw.free(raw.ctx, h);
}

bool rcyi_alloc_fini(rcy_heap *h, size_t pins) {
    rcyi_alloc_state *st = &h->alloc;
#ifdef RCY_DEBUG
    rcyi_alloc_validate(h);
#endif
    /* R3: the freeing thread's hold first (a bias no count of deaths can
     * use up), then no more pushes: every death from now on counts down
     * instead, even before the walk has counted it. */
    const size_t hold = SIZE_MAX / 2;
    __atomic_store_n(&st->abandoned_live, hold + pins, __ATOMIC_RELAXED);
    free_remote_list(h, st,
                     __atomic_exchange_n((char **)&st->remote, REMOTE_ABANDONED, __ATOMIC_ACQ_REL));
    size_t nlarge = 0, live = st->ever_shared ? count_shared(h, st, &nlarge) : 0;
    __atomic_fetch_add(&st->abandoned_live, live, __ATOMIC_RELAXED);
    free_all(st, live != 0, nlarge);
    /* No death on this thread frees into the heap directly any more. */
    __atomic_store_n(&h->thread, RCYI_THREAD_DETACHED, __ATOMIC_RELEASE);
    if (__atomic_fetch_sub(&st->abandoned_live, hold, __ATOMIC_ACQ_REL) != hold)
        return true; /* abandoned: the last death frees it */
    if (live) {      /* they all died meanwhile */
        abandoned_free(h);
        return true;
    }
    return false;
}

void rcy_heap_fail_nth(rcy_heap *heap, unsigned long n) {
    if (heap)
        heap->alloc.fail_nth = n;
}

/* ---- the public rcy_mem_* family ------------------------------------ */

static inline void trace_alloc(void *p, size_t size, const char *file, int line, const char *func) {
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)))
        rcyi_trace_alloc(0, p, size, file, line, func);
}

/* A failed allocation's second chance: one emergency collection (gc.h),
 * then the request again. */
__attribute__((noinline)) static void *alloc_retry(rcy_heap *heap, size_t size) {
    return rcyi_gc_emergency(heap) ? rcyi_alloc(heap, size, RCYI_KIND_RAW) : NULL;
}

void *rcyi_mem_try_alloc_at(rcy_heap *heap, size_t size, RCY_SITE_PARAMS) {
    void *p = rcyi_alloc_inline(heap, &heap->alloc, size, RCYI_KIND_RAW);
    if (RCY_LIKELY(p != NULL))
        trace_alloc(p, size, file, line, func);
    return p;
}

void *rcy_mem_try_alloc_(rcy_heap *heap, size_t size, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    void *p = rcyi_alloc_inline(heap, &heap->alloc, size, RCYI_KIND_RAW);
    if (RCY_UNLIKELY(p == NULL))
        p = alloc_retry(heap, size);
    if (RCY_LIKELY(p != NULL))
        trace_alloc(p, size, file, line, func);
    return p;
}

void *rcy_mem_try_calloc_(rcy_heap *heap, size_t nelem, size_t elsize, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    if ((elsize && nelem > SIZE_MAX / elsize))
        return NULL;
    size_t size = nelem * elsize;
    void *p = rcyi_alloc(heap, size, RCYI_KIND_RAW);
    if (!p)
        p = alloc_retry(heap, size);
    if (p) {
        memset(p, 0, size);
        trace_alloc(p, size, file, line, func);
    }
    return p;
}

void *rcy_mem_try_realloc_(rcy_heap *heap, void *ptr, size_t size, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    void *p = rcyi_realloc(heap, ptr, size);
    if (p && __atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)) {
        if (ptr)
            rcyi_trace_free(0, ptr);
        rcyi_trace_alloc(0, p, size, file, line, func);
    }
    return p;
}

static RCY_NORETURN void out_of_memory(const char *what, size_t size, RCY_SITE_PARAMS) {
    rcyi_fatal(RCY_ENOMEM, "out of memory: %s of %zu bytes at %s:%d (%s)", what, size,
               file ? file : "?", line, func ? func : "?");
}

/* Everything but an untraced pop from a free list (kept out of line so
 * the fast path below needs no stack frame of its own). */
__attribute__((noinline)) static void *mem_alloc_other(rcy_heap *heap, size_t size, void *p,
                                                       RCY_SITE_PARAMS) {
    if (RCY_UNLIKELY(!heap)) {
        rcyi_misuse("rcy_mem_alloc", "heap is NULL"); /* misuse, not "out of memory" */
        return NULL;
    }
    if (!p)
        p = rcyi_alloc_slow(heap, size, RCYI_KIND_RAW);
    if (RCY_UNLIKELY(!p))
        p = alloc_retry(heap, size);
    if (RCY_UNLIKELY(!p))
        out_of_memory("rcy_mem_alloc", size, file, line, func);
    trace_alloc(p, size, file, line, func);
    return p;
}

void *rcy_mem_alloc_(rcy_heap *heap, size_t size, RCY_SITE_PARAMS) {
    void *b = NULL;
    if (RCY_LIKELY(heap != NULL) && RCY_LIKELY(size - 1 < heap->alloc.fast_limit)) {
        b = rcyi_pool_pop(heap->alloc.lists[RCYI_KIND_RAW][(size - 1) >> 4].next, RCYI_LINK_RAW);
        if (RCY_LIKELY(b != NULL) && RCY_LIKELY(!__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)))
            return b;
    }
    return mem_alloc_other(heap, size, b, file, line, func);
}

void *rcy_mem_calloc_(rcy_heap *heap, size_t nelem, size_t elsize, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    void *p = rcy_mem_try_calloc_(heap, nelem, elsize, file, line, func);
    if (RCY_UNLIKELY(!p))
        out_of_memory("rcy_mem_calloc", nelem * elsize, file, line, func);
    return p;
}

void *rcy_mem_realloc_(rcy_heap *heap, void *ptr, size_t size, RCY_SITE_PARAMS) {
    RCYI_REQUIRE(heap, NULL);
    void *p = rcy_mem_try_realloc_(heap, ptr, size, file, line, func);
    if (RCY_UNLIKELY(!p))
        out_of_memory("rcy_mem_realloc", size, file, line, func);
    return p;
}

__attribute__((noinline)) static void mem_free_other(rcy_heap *heap, void *ptr) {
    if (ptr && __atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED))
        rcyi_trace_free(0, ptr);
    if (!heap) {
        if (ptr) /* the block stays allocated: nothing is harmed */
            rcyi_misuse("rcy_mem_free", "heap is NULL (the block is not freed)");
        return;
    }
    rcyi_free(heap, ptr);
}

/* No test of heap against NULL here: a live pool's owner is never NULL,
 * and a released pool (owner 0) has used == 0, so a NULL heap always
 * reaches mem_free_other. */
void rcy_mem_free(rcy_heap *heap, void *ptr) {
    if (RCY_LIKELY(!__atomic_load_n(&rcyi_tracing, __ATOMIC_RELAXED)) &&
        RCY_LIKELY(rcyi_in_arena(ptr)) &&
        rcyi_pool_free_fast(rcyi_pool_at(ptr), ptr, (uintptr_t)heap, RCYI_LINK_RAW))
        return;
    mem_free_other(heap, ptr);
}
