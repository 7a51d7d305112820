/* src/alloc_debug.c — the allocator's debug mode (rcy_config.debug): every
 * block gets a front pad holding its requested size and guard bytes, and
 * guard bytes after it (layout at the top of alloc.h); blocks are filled
 * on allocation and on free, and every free, size query and realloc
 * checks the guards and reports a double free, an underrun or an overrun
 * through rcyi_fatal.  The blocks themselves come from the engine
 * (alloc.c). */
#include "heap.h"

#include <string.h>

#define DBG_GUARD 0xFD
#define DBG_CLEAN 0xCD
#define DBG_DEAD  0xDD

void *rcyi_debug_alloc(rcy_heap *h, rcyi_alloc_state *st, size_t size, unsigned kind) {
    if (size > SIZE_MAX / 2)
        return NULL;
    size_t total = size + RCYI_DBG_FRONT + RCYI_DBG_BACK;
    char *b = total <= RCY_SMALL_LIMIT ? rcyi_small_alloc(h, st, kind, rcyi_size_class(total))
                                       : rcyi_large_alloc(h, st, total, kind);
    if (!b)
        return NULL;
    rcyi_dbg_store_size(b, size);
    memset(b + 8, DBG_GUARD, 8);
    memset(b + RCYI_DBG_FRONT, DBG_CLEAN, size);
    memset(b + RCYI_DBG_FRONT + size, DBG_GUARD, RCYI_DBG_BACK);
    return b + RCYI_DBG_FRONT;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* Checks a debug block's guards; returns its requested size. */
size_t rcyi_debug_check(const void *p, size_t capacity, const char *what) {
    const unsigned char *b = (const unsigned char *)p - RCYI_DBG_FRONT;
    size_t size = rcyi_dbg_load_size(b);
    if (size & RCYI_DBG_FREED)
        rcyi_fatal(RCY_ECORRUPTED_HEAP, "%s of %p: double free (block of size %zu)", what, p,
                   size & ~RCYI_DBG_FREED);
    if (size > capacity || !all_bytes(b + 8, 8, DBG_GUARD))
        rcyi_fatal(RCY_ECORRUPTED_HEAP,
                   "%s of %p: buffer underrun, the guard bytes before the block "
                   "are damaged (block of size %zu)",
                   what, p, size > capacity ? (size_t)0 : size);
    if (!all_bytes(b + RCYI_DBG_FRONT + size, RCYI_DBG_BACK, DBG_GUARD))
        rcyi_fatal(RCY_ECORRUPTED_HEAP,
                   "%s of %p: buffer overrun, the guard bytes after the block "
                   "are damaged (block of size %zu)",
                   what, p, size);
    return size;
}

/* Finds the pool of a small debug block and checks it is a block start
 * owned by h. */
static rcyi_pool *debug_small_pool(rcy_heap *h, const void *p, const char *what) {
    const char *b = (const char *)p - RCYI_DBG_FRONT;
    rcyi_pool *pl = rcyi_pool_at(b);
    if (rcyi_pool_heap(pl) != h || !rcyi_pool_block_start(pl, b))
        rcyi_bad_free(h, p, what);
    return pl;
}

void rcyi_debug_free(rcy_heap *h, rcyi_alloc_state *st, void *p) {
    char *b = (char *)p - RCYI_DBG_FRONT;
    if (rcyi_arena_lookup_checked(b)) {
        rcyi_pool *pl = debug_small_pool(h, p, "free");
        size_t size = rcyi_debug_check(p, pl->bsize - RCYI_DBG_FRONT - RCYI_DBG_BACK, "free");
        if (pl->kind == RCYI_KIND_OBJECT) {
            /* refcount and gcword zeroed (P4), the type word kept */
            memset(p, 0, 8);
            memset((char *)p + sizeof(rcy_head_), DBG_DEAD, size - sizeof(rcy_head_));
        } else {
            memset(p, DBG_DEAD, size);
        }
        rcyi_dbg_store_size(b, size | RCYI_DBG_FREED);
        rcyi_small_free(st, pl, b);
        return;
    }
    rcyi_large *l = rcyi_large_of(p, RCYI_DBG_FRONT);
    if (l && !rcyi_large_live(l))
        rcyi_double_free(p, rcyi_large_size_copy(l) - RCYI_DBG_FRONT - RCYI_DBG_BACK, "free");
    if (!l || l->heap != h)
        rcyi_bad_free(h, p, "free");
    size_t size = rcyi_debug_check(p, l->size - RCYI_DBG_FRONT - RCYI_DBG_BACK, "free");
    memset(p, DBG_DEAD, size);
    rcyi_dbg_store_size(b, size | RCYI_DBG_FREED);
    rcyi_free_large(h, st, b, 0);
}

size_t rcyi_debug_size(rcy_heap *h, const void *p, const char *what) {
    const char *b = (const char *)p - RCYI_DBG_FRONT;
    if (rcyi_arena_lookup_checked(b)) {
        rcyi_pool *pl = debug_small_pool(h, p, what);
        return rcyi_debug_check(p, pl->bsize - RCYI_DBG_FRONT - RCYI_DBG_BACK, what);
    }
    rcyi_large *l = rcyi_large_of(p, RCYI_DBG_FRONT);
    if (l && !rcyi_large_live(l))
        rcyi_double_free(p, rcyi_large_size_copy(l) - RCYI_DBG_FRONT - RCYI_DBG_BACK, what);
    if (!l || l->heap != h)
        rcyi_bad_free(h, p, what);
    return rcyi_debug_check(p, l->size - RCYI_DBG_FRONT - RCYI_DBG_BACK, what);
}
