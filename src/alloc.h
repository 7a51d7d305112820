/* src/alloc.h — the small-object allocator's per-heap state (owned by
 * alloc.c) and the invariants it keeps.
 *
 * Layout.  An ARENA is 1 MiB of address space from the OS, aligned to
 * 1 MiB and cut into 64 POOLS of 16 KiB (so pool = ptr & ~(POOL-1)).  Its
 * bookkeeping (rcyi_arena) lives outside it, in raw-allocator memory, and a
 * process-wide radix map from address>>20 to that record answers "is this
 * ours?" for any pointer.  A pool starts with an rcyi_pool header, then
 * equal blocks of one size class (16, 32, ... 512 bytes) and one KIND
 * (RAW for rcy_mem_*, OBJECT for objects; never mixed).  Blocks past the
 * pool's `virgin` offset were never handed out; free blocks below it are
 * on the pool's free list, linked through the word at offset 8 of the
 * block (the first 8 bytes of a free OBJECT block are zero, which is how
 * the object walker tells free from live).  Requests above 512 bytes are
 * LARGE: raw-allocator blocks with an rcyi_large prefix, kept on per-kind
 * doubly linked lists.
 *
 * Debug mode puts a 16-byte front pad (requested size, then 8 x 0xFD)
 * before and 8 x 0xFD after the caller's bytes of every block, fills with
 * 0xCD on allocation and 0xDD on free; the caller's pointer is block + 16,
 * so an object's header still sits just before the user pointer.
 *
 * Invariants (checked by rcyi_alloc_validate):
 *  A1  arena.nfree == |arena.freepools| + (POOLS_PER_ARENA - arena.ncarved).
 *  A2  The usable list holds exactly the heap's arenas with 0 < nfree, in
 *      ascending order of nfree (most-full first); nfp2last[n] is the last
 *      usable arena with nfree == n, or NULL.  No arena of the heap has
 *      nfree == POOLS_PER_ARENA (an empty arena is released at once; at
 *      most one is kept, decommitted, as `cached`).
 *  A3  radix_map(arena.base) == arena for every mapped arena.
 *  P1  A carved pool is live (heap == h, kind RAW or OBJECT) or sits on its
 *      arena's freepools list (heap == NULL); never both.
 *  P2  For a live pool: used + |free list| == (virgin - POOL_HEADER) / bsize,
 *      and every free-list entry is a block start below virgin.
 *  P3  A live pool is on its class list whenever it has a free or a virgin
 *      block; every pool on a class list is live with used > 0.
 *  P4  Every free block of an OBJECT pool has its first 8 bytes zero.
 *  L1  large_bytes == sum of the sizes of the blocks on both large lists,
 *      and footprint == arenas * ARENA_SIZE + large_bytes + overheads.
 */
#ifndef RCY_SRC_ALLOC_H
#define RCY_SRC_ALLOC_H

#include "recycle.h"

#define RCYI_POOLS_PER_ARENA (RCY_ARENA_SIZE / RCY_POOL_SIZE)
#define RCYI_KINDS           2

typedef struct rcyi_arena rcyi_arena;
typedef struct rcyi_large rcyi_large;

/* At the start of every 16 KiB pool.  The first four fields are the hot
 * ones; the rest is touched only when a pool changes state. */
typedef struct rcyi_pool {
    void *free;      /* free list head (link at block offset 8)     */
    uint32_t used;   /* blocks handed out                           */
    uint32_t virgin; /* offset of the first never-handed-out block  */
    uint32_t bsize;  /* block size of the class                     */
    uint8_t cls;     /* size class index                            */
    uint8_t kind;    /* RCYI_KIND_RAW / RCYI_KIND_OBJECT            */
    uint8_t linked;  /* on its class list                           */
    uint8_t unused_;
    rcy_heap *heap; /* owner; NULL while on the arena's freepools  */
    rcyi_arena *arena;
    struct rcyi_pool *next, *prev; /* class list, or arena freepools (next) */
} rcyi_pool;

#define RCYI_POOL_HEADER 64u /* sizeof(rcyi_pool) rounded to 16 */

typedef struct rcyi_alloc_state {
    /* Class lists: circular, with these sentinels (free == NULL, so the
     * allocation fast path needs no emptiness test). */
    rcyi_pool lists[RCYI_KINDS][RCY_SIZE_CLASSES];
    int debug; /* copied from heap->debug at init */
    int walking;
    rcyi_arena *usable; /* most-full first */
    rcyi_arena *nfp2last[RCYI_POOLS_PER_ARENA + 1];
    rcyi_arena *all;    /* every arena but the cached one */
    rcyi_arena *cached; /* one empty, decommitted arena kept for reuse */
    rcyi_large *large[RCYI_KINDS];
    size_t arenas, arenas_allocated, arenas_reclaimed, arenas_highwater;
    size_t large_blocks, large_bytes;
    size_t footprint;    /* bytes taken from the OS and the raw allocator */
    size_t memory_limit; /* 0 = none */
    rcy_raw_allocator raw;
    unsigned long fail_nth; /* rcy_heap_fail_nth countdown; 0 = off */
} rcyi_alloc_state;

int rcyi_alloc_init(rcy_heap *h, const rcy_config *cfg);
/* Frees every block and arena of the heap. */
void rcyi_alloc_fini(rcy_heap *h);
/* Check every invariant above; a broken one is reported through
 * rcyi_fatal(RCY_ECORRUPTED_HEAP, ...).  Returns 0. */
int rcyi_alloc_validate(rcy_heap *h);
/* Usable bytes of a block handed out by rcyi_alloc. */
size_t rcyi_alloc_usable_size(rcy_heap *h, const void *p);

#endif
