/* src/alloc_validate.c — rcyi_alloc_validate: checks every invariant
 * alloc.h states (A1..A3, C1, P1..P5, L1, R1), by label, walking the heap's
 * arenas, pools, free lists, class lists and large blocks; in debug mode
 * also every live block's guards.  A broken invariant is reported through
 * rcyi_fatal(RCY_ECORRUPTED_HEAP, ...).  Called by the tests and, in
 * RCY_DEBUG builds, when a heap is freed. */
#include "heap.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            rcyi_fatal(RCY_ECORRUPTED_HEAP, "allocator invariant broken: " __VA_ARGS__);           \
    } while (0)

/* R1 in debug mode: a block on the remote list lends its front guard's
 * 0xFD word to the link (user is the caller's pointer). */
static bool lent_guard(const rcyi_alloc_state *st, const char *user) {
    static const unsigned char guard[sizeof(void *)] = {0xFD, 0xFD, 0xFD, 0xFD,
                                                        0xFD, 0xFD, 0xFD, 0xFD};
    if (memcmp(user - sizeof guard, guard, sizeof guard) == 0)
        return false;
    for (char *b = __atomic_load_n((char **)&st->remote, __ATOMIC_ACQUIRE); b;
         memcpy(&b, b - sizeof guard, sizeof b))
        if (b == user)
            return true;
    return false;
}

static void validate_pool(const rcyi_alloc_state *st, const rcyi_pool *p) {
    CHECK(p->kind == RCYI_KIND_RAW || p->kind == RCYI_KIND_OBJECT, "P1: pool %p kind %u", (void *)p,
          p->kind);
    CHECK(p->cls < RCY_SIZE_CLASSES && p->bsize == rcyi_class_size(p->cls), "pool %p class",
          (void *)p);
    CHECK(p->virgin <= p->limit && p->virgin % p->bsize == 0, "pool %p virgin offset %u", (void *)p,
          p->virgin);
    size_t carved = p->virgin / p->bsize, nfree = 0;
    for (char *b = p->free; b; b = rcyi_block_link(b, rcyi_link_offset(st->debug, p->kind))) {
        CHECK(rcyi_pool_at(b) == p && rcyi_pool_block_start(p, b), "P2: pool %p free list entry %p",
              (void *)p, (void *)b);
        CHECK(++nfree <= carved, "P2: pool %p free list longer than its blocks", (void *)p);
        if (p->kind == RCYI_KIND_OBJECT) {
            const rcy_head_ *o = (const rcy_head_ *)(void *)(b + (st->debug ? RCYI_DBG_FRONT : 0));
            CHECK(o->refcnt == 0 && o->gcword == 0, "P4: free object block %p not zeroed",
                  (void *)b);
        }
        if (st->debug)
            CHECK(rcyi_dbg_load_size(b) & RCYI_DBG_FREED, "free block %p not marked freed",
                  (void *)b);
    }
    CHECK(p->used + nfree == carved, "P2: pool %p used %u + free %zu != carved %zu", (void *)p,
          p->used, nfree, carved);
    bool room = p->free || p->virgin + p->bsize <= p->limit;
    CHECK(!room || p->used == 0 || p->linked, "P3: pool %p has room but is not listed", (void *)p);
    CHECK(!p->linked || p->used > 0 || p->retained || st->walking, "P3: empty pool %p still listed",
          (void *)p);
    CHECK(!p->retained || p->linked, "P5: retained pool %p not listed", (void *)p);
    if (st->debug) {
        /* Every live block's guards are intact. */
        size_t cap = p->bsize - RCYI_DBG_FRONT - RCYI_DBG_BACK;
        for (size_t off = 0; off < p->virgin; off += p->bsize) {
            char *b = p->mem + off;
            if (!(rcyi_dbg_load_size(b) & RCYI_DBG_FREED) && !lent_guard(st, b + RCYI_DBG_FRONT))
                rcyi_debug_check(b + RCYI_DBG_FRONT, cap, "validate");
        }
    }
}

int rcyi_alloc_validate(rcy_heap *h) {
    rcyi_alloc_state *st = &h->alloc;
    size_t narenas = 0;
    for (rcyi_arena *a = st->all; a; a = a->all_next) {
        narenas++;
        CHECK(a->heap == h, "arena %p heap", (void *)a);
        CHECK(rcyi_arena_lookup_checked(a->base) == a, "A3: arena %p not in the map", (void *)a);
        CHECK(a->ncarved <= RCYI_POOLS_PER_ARENA, "arena %p ncarved %u", (void *)a, a->ncarved);
        size_t nfp = 0;
        for (rcyi_pool *p = a->freepools; p; p = p->next) {
            CHECK(p->owner == 0 && rcyi_pool_arena(p) == a && ++nfp <= RCYI_POOLS_PER_ARENA,
                  "P1: arena %p free pool %p", (void *)a, (void *)p);
        }
        uint32_t nret = 0;
        for (uint32_t i = 0; i < a->ncarved; i++)
            nret += a->pools[i].owner && a->pools[i].retained;
        CHECK(nret == a->nretained, "P5: arena %p counts %u retained pools, has %u", (void *)a,
              a->nretained, nret);
        CHECK(a->nfree == nfp + (RCYI_POOLS_PER_ARENA - a->ncarved),
              "A1: arena %p nfree %u != %zu + %u", (void *)a, a->nfree, nfp,
              RCYI_POOLS_PER_ARENA - a->ncarved);
        CHECK(a->nfree < RCYI_POOLS_PER_ARENA, "A2: empty arena %p kept", (void *)a);
        for (uint32_t i = 0; i < a->ncarved; i++) {
            rcyi_pool *p = &a->pools[i];
            CHECK(rcyi_pool_arena(p) == a &&
                      p->mem == a->base + (i ? (size_t)i * RCY_POOL_SIZE : RCYI_ARENA_META) &&
                      p->limit == RCY_POOL_SIZE - (i ? 0 : RCYI_ARENA_META),
                  "pool %p arena", (void *)p);
            if (p->owner) {
                CHECK(rcyi_pool_heap(p) == h, "P1: pool %p heap", (void *)p);
                CHECK(!(p->owner & RCYI_OWNER_DEBUG) == !st->debug, "pool %p debug bit", (void *)p);
                CHECK(!(p->owner & RCYI_OWNER_UNLINKED) == !!p->linked, "pool %p linked bit",
                      (void *)p);
                CHECK(!(p->owner & RCYI_OWNER_OBJECT) == (p->kind != RCYI_KIND_OBJECT),
                      "pool %p kind bit", (void *)p);
                validate_pool(st, p);
            }
        }
    }
    size_t ncache = 0;
    for (rcyi_arena *a = st->cache; a; a = a->next) {
        CHECK(a->heap == h && rcyi_arena_lookup_checked(a->base) == a &&
                  a->nfree == RCYI_POOLS_PER_ARENA && ++ncache <= st->ncache,
              "C1: cached arena %p", (void *)a);
    }
    CHECK(ncache == st->ncache, "C1: %zu arenas cached, %zu counted", ncache, st->ncache);
    size_t bound = rcyi_cache_bound(st, narenas);
    CHECK(ncache <= (bound ? bound : 1), "C1: %zu arenas cached over the bound %zu", ncache, bound);
    CHECK(narenas + ncache == st->arenas, "arena count %zu + cached %zu != %zu", narenas, ncache,
          st->arenas);
    size_t nusable = 0;
    uint32_t prev_nfree = 0;
    for (rcyi_arena *a = st->usable; a; a = a->next) {
        nusable++;
        CHECK(a->nfree > 0 && a->nfree >= prev_nfree, "A2: usable list order at arena %p",
              (void *)a);
        CHECK(!a->next || a->next->prev == a, "A2: usable list links at %p", (void *)a);
        bool last = !a->next || a->next->nfree != a->nfree;
        CHECK(last == (st->nfp2last[a->nfree] == a), "A2: nfp2last[%u]", a->nfree);
        prev_nfree = a->nfree;
    }
    size_t want_usable = 0;
    for (rcyi_arena *a = st->all; a; a = a->all_next)
        want_usable += a->nfree > 0;
    CHECK(nusable == want_usable, "A2: %zu usable arenas listed, %zu expected", nusable,
          want_usable);
    for (unsigned n = 0; n <= RCYI_POOLS_PER_ARENA; n++)
        CHECK(!st->nfp2last[n] || st->nfp2last[n]->nfree == n, "A2: nfp2last[%u] stale", n);
    for (unsigned k = 0; k < RCYI_KINDS; k++) {
        for (unsigned c = 0; c < RCY_SIZE_CLASSES; c++) {
            rcyi_pool *head = &st->lists[k][c];
            CHECK(head->free == NULL, "class list sentinel %u/%u has a free block", k, c);
            for (rcyi_pool *p = head->next; p != head; p = p->next) {
                CHECK(rcyi_pool_heap(p) == h && p->kind == k && p->cls == c && p->linked &&
                          p->next->prev == p,
                      "P3: pool %p on class list %u/%u", (void *)p, k, c);
            }
        }
    }
    size_t lbytes = 0, lblocks = 0;
    for (unsigned k = 0; k < RCYI_KINDS; k++) {
        for (rcyi_large *l = st->large[k]; l; l = l->next) {
            CHECK(l->heap == h && l->kind == k &&
                      (l->magic == rcyi_large_magic(l) || l->magic == RCYI_LARGE_DEFERRED),
                  "L1: large block %p", (void *)(l + 1));
            CHECK(!l->next || l->next->prev == l, "L1: large list links at %p", (void *)l);
            lbytes += l->size;
            lblocks++;
            if (st->debug && l->magic != RCYI_LARGE_DEFERRED &&
                !lent_guard(st, (char *)(l + 1) + RCYI_DBG_FRONT))
                rcyi_debug_check((char *)(l + 1) + RCYI_DBG_FRONT,
                                 l->size - RCYI_DBG_FRONT - RCYI_DBG_BACK, "validate");
        }
    }
    CHECK(lbytes == st->large_bytes && lblocks == st->large_blocks,
          "L1: large blocks %zu/%zu bytes, counted %zu/%zu", lblocks, lbytes, st->large_blocks,
          st->large_bytes);
    CHECK(st->footprint == st->arenas * RCY_ARENA_SIZE + lbytes + lblocks * sizeof(rcyi_large),
          "L1: footprint %zu", st->footprint);
    size_t nremote = 0, front = st->debug ? RCYI_DBG_FRONT : 0;
    /* A snapshot of the list: other threads may push meanwhile, but every
     * block reachable from the head they published is linked for good.
     * Object blocks are tagged in bit 0 and linked past their header (R2). */
    for (uintptr_t t = (uintptr_t)__atomic_load_n(&st->remote, __ATOMIC_ACQUIRE); t > 2;) {
        char *b = (char *)(t & ~(uintptr_t)1);
        const char *link = st->debug ? b - sizeof t : b + ((t & 1) ? RCYI_LINK_OBJECT : 0);
        memcpy(&t, link, sizeof t);
        CHECK(rcyi_heap_of_block(b) == h, "R1: remote-freed block %p is not the heap's", (void *)b);
        CHECK(++nremote <= st->large_blocks + RCY_ARENA_SIZE / 16 * st->arenas,
              "R1: remote list loops at %p", (void *)b);
        if (rcyi_in_arena(b))
            CHECK(rcyi_pool_at(b - front)->used > 0, "R1: remote-freed block %p counted free",
                  (void *)b);
    }
    return 0;
}
