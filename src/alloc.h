/* src/alloc.h — the small-object allocator's one internal header: its
 * API, its per-heap state (owned by alloc.c), the block format and the
 * invariants it keeps.  alloc.c is the engine; alloc_debug.c,
 * alloc_validate.c and alloc_stats.c use the last section.
 *
 * Layout.  An ARENA is 1 MiB of address space from the OS, aligned to
 * 1 MiB and cut into 64 POOLS of 16 KiB, 16 KiB-aligned.  Its record
 * (rcyi_arena) sits at the start of the arena and holds the 64 pool
 * headers side by side; pool 0's blocks start after the record.  A
 * process-wide bitmap over address>>20 (rcyi_arena_bits) answers "is
 * this ours?" for any pointer; the record is then at ptr & ~(1 MiB - 1)
 * and the pool header of a block is arena->pools[(ptr >> 14) % 64].
 * (pymalloc puts each header at the start of its pool; keeping the 64
 * headers of an arena together on one page means freeing in random order
 * over many arenas misses the TLB about once per block instead of twice,
 * and a whole arena goes back to the OS with one munmap, record included.)
 * A pool holds equal blocks of one size class (16, 32, ... 512 bytes) and
 * one KIND (RAW for rcy_mem_*, OBJECT for objects; never mixed).  Blocks
 * past the pool's `virgin` offset were never handed out; free blocks below
 * it are on the pool's free list, linked through the word at offset
 * RCYI_LINK_RAW (8) of a RAW block and RCYI_LINK_OBJECT (16) of an OBJECT
 * block -- past the object header, so a freed object keeps its type word
 * (object.h); in debug mode the link is at offset 8 of every block, in the
 * front guard.  The first 8 bytes of a free OBJECT block (the refcount
 * and gcword) are zero, which is how the object walker tells free from
 * live; object blocks are at least RCYI_OBJ_MIN_BLOCK bytes, room for the
 * header and the link.  Virgin blocks are carved
 * a 4 KiB page at a time.  Requests above 512 bytes are LARGE:
 * raw-allocator blocks with an rcyi_large prefix, kept on per-kind doubly
 * linked lists.  An empty arena goes to the heap's arena CACHE with its
 * pages still resident, so a heap that frees and rebuilds big structures
 * neither unmaps nor faults its memory in again; the cache is bounded by
 * C1 below and anything over the bound is unmapped.  A heap's
 * first four arenas are mapped one by one; later ones come two at a time
 * from a 2 MiB-aligned mapping advised for transparent huge pages
 * (rcyi_os_map_arena), which halves the page faults of a growing heap
 * and spares the TLB when blocks are freed in random order.
 *
 * Debug mode puts a 16-byte front pad (requested size, then 8 x 0xFD)
 * before and 8 x 0xFD after the caller's bytes of every block, fills with
 * 0xCD on allocation and 0xDD on free; the caller's pointer is block + 16,
 * so an object's header still sits just before the user pointer.
 *
 * Invariants (checked by rcyi_alloc_validate, alloc_validate.c):
 *  A1  arena.nfree == |arena.freepools| + (POOLS_PER_ARENA - arena.ncarved).
 *  A2  The usable list holds exactly the heap's arenas with 0 < nfree, in
 *      ascending order of nfree (most-full first); nfp2last[n] is the last
 *      usable arena with nfree == n, or NULL.  No arena of the heap has
 *      nfree == POOLS_PER_ARENA (an empty arena is released at once, to
 *      the cache or the OS; cached arenas are off both lists).
 *  C1  ncache == |cache| <= max(1, min(arenas_highwater * cache_pct / 100,
 *      arenas - ncache)): the cache never holds more empty arenas than a
 *      fraction of the heap's peak, nor more than the heap has in use, so
 *      it shrinks with the heap and a heap with nothing in use keeps one
 *      empty arena at most.  That last one has its pages decommitted
 *      (`decommitted`) unless it only ever carved two pools; an arena
 *      kept within the bound keeps its pages.
 *  A3  The map bit of arena.base is set for every mapped arena (and
 *      arena.base == arena, a multiple of ARENA_SIZE, whether it came
 *      from the OS or from the heap's arena allocator, which goes back to
 *      the one it came from).
 *  P1  A carved pool is live (owner == h | flags, kind RAW or OBJECT) or
 *      sits on its arena's freepools list (owner == 0); never both.  In a
 *      live pool's owner, OBJECT is set iff kind == OBJECT, DEBUG iff the
 *      heap is in debug mode, UNLINKED iff the pool is off its class list.
 *  P2  For a live pool: used + |free list| == virgin / bsize, virgin <=
 *      limit, and every free-list entry is a block start below virgin.
 *  P3  A live pool is on its class list whenever it has a free or a virgin
 *      block; every pool on a class list is live with used > 0 or retained.
 *  P4  Every free block of an OBJECT pool has its first 8 bytes zero.
 *  P4a Only the owner writes a pool's `virgin` and `owner`, with relaxed
 *      atomic stores; another thread asking for the heap of a live shared
 *      object (rcy_heap_of, rcy_is_shared) reads them with relaxed atomic
 *      loads while the owner carves past that object or moves the pool on
 *      and off its class list (any `virgin` it sees is above the object,
 *      which was carved first and published to it; the UNLINKED bit is
 *      the only part of `owner` that changes while the object lives).
 *  P5  arena.nretained == |{retained pools of the arena}|.  A pool that
 *      empties stays on its class list (retained) only while it is the
 *      only pool there and its arena has pools in use that are not
 *      retained, so an alloc/free pair on an otherwise idle class does not
 *      give the pool back and take it again each time, yet an arena with
 *      nothing in use but retained pools is still released.
 *  L1  large_bytes == sum of the sizes of the blocks on both large lists,
 *      and footprint == arenas * ARENA_SIZE + large_bytes
 *      + large_blocks * sizeof(rcyi_large) (what memory_limit caps).
 *  R1  Every block on the remote list (`remote`) is a block of this heap
 *      that a thread not attached to it gave up with rcy_mem_free_remote
 *      and that is still counted as in use (its pool's `used`, or a live
 *      large block), so no pool or arena holding one is released; the
 *      list is linked through the block's first 8 caller bytes (debug
 *      mode: its front guard's 0xFD word, restored when taken back).  A
 *      push is one CAS (Treiber stack: no ABA, since only the owner pops,
 *      and it takes the whole list with one exchange); the owner takes the
 *      list back in rcyi_alloc_slow, in rcy_mem_get_stats and at
 *      rcyi_alloc_fini, freeing each block as if it had freed it itself.
 *      A raw block's trace (tracemalloc) goes then too, on the owner:
 *      only the heap's thread writes the tracer's block table.
 *  R2  An OBJECT block on the remote list (a shared object that died on a
 *      thread not attached to its heap: rcyi_free_object_shared) keeps
 *      its refcount word at shared count 0 (RCYI_RC_HIGH), which every
 *      object walk treats as not alive, until the owner takes it back and
 *      zeroes its refcnt and gcword (P4) before freeing it (so the dying
 *      thread never writes the gcword the owner's walks read); it is
 *      linked through the word after its header (RCYI_LINK_OBJECT; debug
 *      mode: the front guard word, as R1) and tagged in its link (bit 0)
 *      so the owner knows where the next link is.  The walks read a
 *      block's refcount word with a relaxed load and skip the shared
 *      graph (rcyi_walk_objects), so a death on another thread never
 *      races with the owner's collector.
 *  R3  A heap freed (rcy_heap_free) while mortal shared objects of it are
 *      alive, or dying elsewhere, is ABANDONED, as mimalloc abandons the
 *      segments of a thread that exits: its remote list is taken back and
 *      replaced by a sentinel with one exchange, so every later death of
 *      its shared objects finds the list abandoned instead of pushing;
 *      the words still in the shared range (immortal ones aside) are
 *      counted into abandoned_live (plus a bias for the freeing thread,
 *      set before the exchange and dropped last, so that deaths counted
 *      down before the walk has counted them cannot reach 0 early); its
 *      private state, every arena holding no such
 *      object, every other large block and the cache go at once, and the
 *      kept arenas' traces are forgotten.  Each later death counts down;
 *      the one that reaches 0 unmaps the kept arenas and frees the heap
 *      struct, on whichever thread.  heap->thread is then DETACHED, so no
 *      death frees into the heap directly.  The count is exact because a
 *      dying object's word stays shared at count 0 until its block is
 *      taken back (R2): a death is either on the list the exchange took,
 *      or counted by the walk and later counted down.  Another layer
 *      may PIN the abandoned heap (rcyi_alloc_fini's `pins`, each given
 *      back by rcyi_alloc_unpin): a pin counts as one more live object,
 *      so the heap struct outlives it (gcshared.h L4: a shared list kept
 *      on the registry until it empties).
 *  R4  A shared object's block goes straight into its heap's pools
 *      (rcyi_free_object_shared), not by the remote list, when the
 *      freeing thread is attached to the heap, or when it has the world
 *      stopped (thread.h S2) and the heap is attached to some thread
 *      (heap->thread a token, T1) and not being freed (heap->freeing
 *      false).  That thread is then parked at a safepoint (S1: a thread
 *      with a heap attached is on the world's list; S4: its allocator is
 *      consistent there, and a pool or arena it is walking is not
 *      released, `walking`), and it does not touch the heap until the
 *      restart, whose world lock orders these frees before its next use:
 *      the requester acts as the owner.  rcy_heap_free sets `freeing`
 *      while its thread is still in the world, before it leaves the list
 *      and frees the allocator, so a heap on its way out is never freed
 *      into.  A DETACHED heap may be in use by a thread outside the world
 *      (its rcy_heap_free after a detach), and an UNBOUND one by its
 *      thread, so their blocks still take the remote list.
 *
 * The fast paths (rcyi_alloc_inline, rcyi_free_inline, rcy_mem_alloc,
 * rcy_mem_free) take no lock and count nothing but the pool's `used`;
 * statistics are derived by walking the pools when asked.
 */
#ifndef RCY_SRC_ALLOC_H
#define RCY_SRC_ALLOC_H

#include "recycle.h"

#include <string.h>

/* ---- the internal API (alloc.c; rcyi_alloc_validate: alloc_validate.c) */

enum { RCYI_KIND_RAW = 0, RCYI_KIND_OBJECT = 1 };

/* Untraced allocation of `size` bytes of the given kind.  Blocks of kind
 * OBJECT come from pools that hold only objects, so the collector can walk
 * them; the caller of rcyi_free for an object block first sets its first 8
 * bytes (refcnt, gcword) to zero.  NULL on failure (no handler called). */
void *rcyi_alloc(rcy_heap *h, size_t size, int kind);
void *rcyi_realloc(rcy_heap *h, void *p, size_t size); /* RAW kind only */
void rcyi_free(rcy_heap *h, void *p);
/* rcy_mem_try_alloc_ without its emergency collection (gc.h,
 * rcyi_gc_emergency): for library code that holds pointers into its own
 * state across the call (list.c, dict.c). */
void *rcyi_mem_try_alloc_at(rcy_heap *h, size_t size, RCY_SITE_PARAMS);
/* Visit every live PRIVATE object (small and large) of the heap: its
 * refcount word private and non-zero, or a private object made immortal
 * (R2).  Objects in the shared graph are skipped without reading more
 * than their refcount word (relaxed): another thread may be destroying
 * one, so the heap-local collector never reads their gcword (object.h
 * O4).  rcyi_walk_all_objects visits the shared ones too: only where no
 * other thread can drop this heap's shared objects meanwhile (the debug
 * report and the sharing checker, share.c). */
typedef void (*rcyi_obj_visitor)(rcy_head_ *obj, void *arg);
void rcyi_walk_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg);
void rcyi_walk_all_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg);
/* The same walk in pieces, whose visitors must not free (gcincr.c):
 * the bases of the heap's arenas (their number; at most cap written);
 * the live objects of pool i of the arena at base from block *block on,
 * until fn returns nonzero (returns 1, *block = the block to resume at;
 * a pool carved anew since may so skip or repeat blocks), or the pool
 * ends (returns 0, *block = 0), or -1 when that arena is no longer the
 * heap's; and the large objects. */
typedef int (*rcyi_obj_stopper)(rcy_head_ *obj, void *arg);
size_t rcyi_arena_bases(rcy_heap *h, uintptr_t *out, size_t cap);
int rcyi_walk_pool(rcy_heap *h, uintptr_t base, unsigned i, uint32_t *block, rcyi_obj_stopper fn,
                   void *arg);
void rcyi_walk_large_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg);
/* The heap a block belongs to, or NULL when recycle never handed it out
 * (used to report misuse). */
rcy_heap *rcyi_heap_of_block(const void *p);
/* The heap of a live block from ANY thread: the arena record's `heap`
 * (written once, before the arena's map bit is set) or the large block's
 * prefix; never the pool header, which the owner writes unlocked.  For a
 * block the caller keeps live (a dying shared object, R2). */
rcy_heap *rcyi_heap_of_live_block(const void *p);
/* R2: the block of shared object hd (refcount word at count 0, destroyed,
 * untraced) goes back to its heap h from any thread: freed at once when
 * the calling thread is the one attached to h; otherwise pushed on h's
 * remote list, linked past its header, or counted down when h was
 * abandoned (R3). */
void rcyi_free_object_shared(rcy_heap *h, rcy_head_ *hd);

int rcyi_alloc_init(rcy_heap *h, const rcy_config *cfg);
/* Frees every block and arena of the heap; false when the caller then
 * frees the heap struct, true when the heap was abandoned instead (R3:
 * mortal shared objects of it are alive, or `pins` > 0; the last to die,
 * or the last unpin, frees the rest and the struct). */
bool rcyi_alloc_fini(rcy_heap *h, size_t pins);
/* R3: gives back one pin of an abandoned heap (any thread); the heap may
 * be gone when it returns. */
void rcyi_alloc_unpin(rcy_heap *h);
/* R1: frees the blocks other threads put on the heap's remote list (a
 * relaxed load and a branch when it is empty).  Only on the thread using
 * the heap. */
void rcyi_alloc_take_remote(rcy_heap *h);
/* Check every invariant above; a broken one is reported through
 * rcyi_fatal(RCY_ECORRUPTED_HEAP, ...).  Returns 0. */
int rcyi_alloc_validate(rcy_heap *h);
/* Usable bytes of a block handed out by rcyi_alloc. */
size_t rcyi_alloc_usable_size(rcy_heap *h, const void *p);

/* ---- the block format and the state behind the invariants --------- */

#define RCYI_POOLS_PER_ARENA (RCY_ARENA_SIZE / RCY_POOL_SIZE)
#define RCYI_KINDS           2

typedef struct rcyi_arena rcyi_arena;
typedef struct rcyi_large rcyi_large;

/* One per pool, in the arena record; exactly 64 bytes.  The first fields
 * are the ones the fast paths touch. */
typedef struct rcyi_pool {
    void *free;                    /* free list head (link: rcyi_link_offset)          */
    uint32_t used;                 /* blocks handed out                                */
    uint32_t virgin;               /* offset of the first never-handed-out block       */
    uintptr_t owner;               /* (uintptr_t)heap | RCYI_OWNER_* bits; 0 while on
                                    * freepools.  One compare on the free path checks
                                    * the owner, the kind, that no debug checks are due
                                    * and that the pool is on its class list           */
    char *mem;                     /* the pool's first block                           */
    uint32_t limit;                /* bytes available from mem (less in pool 0)        */
    uint32_t bsize;                /* block size of the class                          */
    uint8_t cls;                   /* size class index                                 */
    uint8_t kind;                  /* RCYI_KIND_RAW / RCYI_KIND_OBJECT                 */
    uint8_t linked;                /* on its class list                                */
    uint8_t retained;              /* kept on its class list after emptying (P5)      */
    uint32_t recip;                /* ceil(2^32 / bsize): offset / bsize without a divide */
    struct rcyi_pool *next, *prev; /* class list, or arena freepools (next) */
} rcyi_pool;

#define RCYI_POOL_HEADER        64u                       /* sizeof(rcyi_pool) */
#define RCYI_OWNER_DEBUG        ((uintptr_t)1)            /* heap in debug mode */
#define RCYI_OWNER_UNLINKED     ((uintptr_t)2)            /* not on its class list */
#define RCYI_OWNER_OBJECT       ((uintptr_t)4)            /* kind == RCYI_KIND_OBJECT */
#define RCYI_OWNER_BITS         ((uintptr_t)7)            /* heaps are 8-aligned */
#define RCYI_POOL_BLOCKS(bsize) (RCY_POOL_SIZE / (bsize)) /* blocks per pool but pool 0 */

struct rcyi_arena {
    rcyi_pool pools[RCYI_POOLS_PER_ARENA]; /* first: see rcyi_pool_at */
    char *base;                            /* == (char *)this, ARENA_SIZE-aligned */
    rcy_heap *heap;
    rcyi_pool *freepools;            /* released pools, linked through pool->next */
    uint32_t nfree;                  /* pools not in use (A1) */
    uint32_t ncarved;                /* pools [0, ncarved) were ever initialised */
    uint32_t nretained;              /* pools with retained set (P5) */
    uint32_t decommitted;            /* cached with its pages given back (C1) */
    uint32_t keep;                   /* R3: holds a live shared object of an abandoned heap */
    rcyi_arena *next, *prev;         /* usable list (A2); next links the cache (C1) */
    rcyi_arena *all_next, *all_prev; /* every arena of the heap */
};

typedef struct rcyi_alloc_state {
    /* Largest request + 1 served by the inline fast path: RCY_SMALL_LIMIT
     * normally, 0 in debug mode (every request then takes the slow path,
     * which adds guards). */
    size_t fast_limit;
    /* RCYI_OBJ_FAST_MAX: rcy_new_ serves objects of a type->size from 1
     * to this inline (size 0 needs the minimum block); 0 in debug mode. */
    size_t obj_fast_max;
    int debug; /* copied from heap->debug at init */
    int walking;
    /* Class lists: circular, with these sentinels (free == NULL, so the
     * allocation fast path needs no emptiness test). */
    rcyi_pool lists[RCYI_KINDS][RCY_SIZE_CLASSES];
    rcyi_arena *usable; /* most-full first */
    rcyi_arena *nfp2last[RCYI_POOLS_PER_ARENA + 1];
    rcyi_arena *all;    /* every arena but the cached ones */
    rcyi_arena *cache;  /* empty arenas kept for reuse (C1), linked through next */
    size_t ncache;      /* |cache| */
    uint32_t cache_pct; /* RCY_ARENA_CACHE: percent of arenas_highwater cached */
    rcyi_large *large[RCYI_KINDS];
    size_t arenas, arenas_allocated, arenas_reclaimed, arenas_highwater;
    size_t large_blocks, large_bytes;
    size_t footprint;    /* bytes taken from the OS and the raw allocator */
    size_t memory_limit; /* 0 = none */
    rcy_raw_allocator raw;
    rcy_arena_allocator arena; /* rcy_config.arena; alloc == NULL: arenas from the OS */
    unsigned long fail_nth;    /* rcy_heap_fail_nth countdown; 0 = off */
    /* R1: blocks freed by other threads (atomic; pushed by any thread,
     * taken by the owner), the blocks taken back so far (owner only), and
     * the pushes whose CAS failed and was retried (atomic, written only on
     * a failure: the uncontended push stays one CAS). */
    void *remote;
    size_t remote_taken;
    size_t remote_retries;
    /* R3: once the heap is freed, its mortal shared objects not yet dead,
     * plus a bias while rcy_heap_free runs (atomic); and whether any
     * object of the heap was ever shared (owner only: a heap that never
     * shared is freed without the walk that counts them). */
    size_t abandoned_live;
    bool ever_shared;
} rcyi_alloc_state;

/* Bytes at the start of an arena taken by its record. */
#define RCYI_ARENA_META ((sizeof(struct rcyi_arena) + 63) & ~(size_t)63)

/* The process-wide arena map: one bit per 1 MiB of a 48-bit address space
 * (32 MiB of zero pages in .bss, touched only where arenas are).  A bit
 * is set exactly while its 1 MiB is an arena; the record at the arena's
 * start says which heap owns it.  Bits are set with release after the
 * record is written and read with acquire, by atomic word operations, so
 * any thread may ask about any pointer. */
#define RCYI_MAP_WORDS ((size_t)1 << (48 - 20 - 6))
extern uint64_t rcyi_arena_bits[RCYI_MAP_WORDS] __attribute__((visibility("hidden")));

/* True when p lies in an arena (any heap's).  rcyi_arena_lookup without
 * the NULL test the caller would otherwise pay for on the fast paths. */
static inline bool rcyi_in_arena(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uint64_t w =
        __atomic_load_n(&rcyi_arena_bits[(a >> 26) & (RCYI_MAP_WORDS - 1)], __ATOMIC_ACQUIRE);
    return (w >> ((a >> 20) & 63)) & 1;
}

/* The arena holding p, or NULL. */
static inline rcyi_arena *rcyi_arena_lookup(const void *p) {
    uintptr_t a = (uintptr_t)p;
    uint64_t w =
        __atomic_load_n(&rcyi_arena_bits[(a >> 26) & (RCYI_MAP_WORDS - 1)], __ATOMIC_ACQUIRE);
    if (!((w >> ((a >> 20) & 63)) & 1))
        return NULL;
    return (rcyi_arena *)(a & ~(uintptr_t)(RCY_ARENA_SIZE - 1));
}

/* The header of the pool holding p, once the map said p is in an arena.
 * Computed from p alone (the record heads the arena), so the header load
 * does not wait for the map lookup: only the branch depends on it. */
static inline rcyi_pool *rcyi_pool_at(const void *p) {
    rcyi_arena *a = (rcyi_arena *)((uintptr_t)p & ~(uintptr_t)(RCY_ARENA_SIZE - 1));
    return &a->pools[((uintptr_t)p / RCY_POOL_SIZE) % RCYI_POOLS_PER_ARENA];
}

/* Largest type->size rcy_new_ zero-fills inline (bigger ones call memset
 * on the general path). */
#define RCYI_OBJ_FAST_MAX 64u

#define RCYI_DBG_FRONT 16u /* debug mode: bytes before the caller's pointer */

/* Free-list link offsets (outside debug mode) and the smallest object
 * block, which holds the 16-byte header and the link after it
 * (rcyi_alloc_slow rounds smaller OBJECT requests up to it). */
#define RCYI_LINK_RAW      8u
#define RCYI_LINK_OBJECT   16u
#define RCYI_OBJ_MIN_BLOCK 32u
/* The link offset of a free block of the given kind (RCYI_KIND_*). */
static inline uint32_t rcyi_link_offset(int debug, int kind) {
    return debug ? RCYI_LINK_RAW : kind ? RCYI_LINK_OBJECT : RCYI_LINK_RAW;
}

/* ---- the block format: the only code that reads or writes a free-list
 * link or decides "p starts a block of this pool, of which heap" ------- */

/* The free-list link of block b, stored `link` bytes in (rcyi_link_offset). */
static inline void *rcyi_block_link(const void *b, uint32_t link) {
    void *n;
    memcpy(&n, (const char *)b + link, sizeof n);
    return n;
}
static inline void rcyi_block_set_link(void *b, uint32_t link, void *next) {
    memcpy((char *)b + link, &next, sizeof next);
}

/* Takes the head of pool p's free list (links `link` bytes into each
 * block) and counts it used; NULL when the list is empty.  The class
 * lists' sentinels have an empty list, so a caller may pop from the head
 * of a class list without testing it for emptiness. */
static inline void *rcyi_pool_pop(rcyi_pool *p, uint32_t link) {
    void *b = p->free;
    if (RCY_LIKELY(b != NULL)) {
        p->free = rcyi_block_link(b, link);
        p->used++;
    }
    return b;
}

/* Puts block b at the head of pool p's free list and counts it free;
 * returns the blocks of p still in use. */
static inline uint32_t rcyi_pool_push(rcyi_pool *p, void *b, uint32_t link) {
    rcyi_block_set_link(b, link, p->free);
    p->free = b;
    return --p->used;
}

/* The free fast path's test and push: b (in pool p == rcyi_pool_at(b))
 * goes on the free list when p's owner word is exactly `owner` (the heap,
 * its kind bit, no debug checks due, on its class list) and b is not the
 * pool's last block in use (an empty pool goes back to its arena).  false
 * when the caller must take the slow path. */
static inline bool rcyi_pool_free_fast(rcyi_pool *p, void *b, uintptr_t owner, uint32_t link) {
    if (RCY_LIKELY(p->owner == owner && p->used > 1)) {
        rcyi_pool_push(p, b, link);
        return true;
    }
    return false;
}

/* True when b is the start of a block of pool pl (== rcyi_pool_at(b)) below
 * its virgin offset: a block handed out or on the free list.  Below mem
 * (the arena record) the offset wraps above virgin; off / bsize is a
 * multiplication by recip, exact below 2^14 (the error term stays under
 * 2^23). */
static inline bool rcyi_pool_block_start(const rcyi_pool *pl, const void *b) {
    uint32_t off = (uint32_t)((const char *)b - pl->mem);
    if (RCY_UNLIKELY(off >= __atomic_load_n(&pl->virgin, __ATOMIC_RELAXED))) /* P4a */
        return false;
    return (uint32_t)(((uint64_t)off * pl->recip) >> 32) * pl->bsize == off;
}

/* The heap of a pool's owner word (which holds flags in its low bits). */
static inline rcy_heap *rcyi_owner_heap(uintptr_t owner) {
    return (rcy_heap *)(owner & ~RCYI_OWNER_BITS);
}

/* For the tracer's block table (tracemalloc.c), read-only: the geometry of
 * the live pool holding p -- its blocks start at *first and follow every
 * *bsize bytes, *nblocks of them.  false when the pool is not live.  Only
 * for a block the calling thread's heap has just handed out, so that the
 * arena is mapped and the pool cannot change under the call. */
static inline bool rcyi_pool_geometry(const void *p, uintptr_t *first, uint32_t *bsize,
                                      uint32_t *nblocks) {
    const rcyi_pool *pl = rcyi_pool_at(p);
    if (!__atomic_load_n(&pl->owner, __ATOMIC_RELAXED) || !pl->bsize)
        return false;
    *first = (uintptr_t)pl->mem;
    *bsize = pl->bsize;
    *nblocks = pl->limit / pl->bsize;
    return true;
}

/* rcyi_heap_of_block with the small-block case inline: the heap whose live
 * pool holds a block starting at p; otherwise (a large block, or not
 * ours) the out-of-line answer. */
rcy_heap *rcyi_heap_of_other_block(const void *p);
static inline rcy_heap *rcyi_heap_of_block_inline(const void *p) {
    if (RCY_LIKELY(rcyi_arena_lookup(p) != NULL && (uintptr_t)p >> 48 == 0)) {
        const rcyi_pool *pl = rcyi_pool_at(p);
        uintptr_t owner = __atomic_load_n(&pl->owner, __ATOMIC_RELAXED);
        size_t front = (owner & RCYI_OWNER_DEBUG) ? RCYI_DBG_FRONT : 0;
        if (owner == 0 || !rcyi_pool_block_start(pl, (const char *)p - front))
            return NULL;
        return rcyi_owner_heap(owner);
    }
    return rcyi_heap_of_other_block(p);
}

/* The heap of live object o (by its header), cheap enough for the
 * containers' stores and the collector's cross-heap check: the owner of
 * its pool, or the prefix of its large block (debug mode included). */
static inline rcy_heap *rcyi_heap_of_head(const rcy_head_ *o) {
    if (RCY_LIKELY(rcyi_in_arena(o)))
        return rcyi_owner_heap(__atomic_load_n(&rcyi_pool_at(o)->owner, __ATOMIC_RELAXED));
    return rcyi_heap_of_other_block(o);
}

/* rcyi_heap_of_block for object blocks only: NULL as well for a block
 * handed out by rcy_mem_* (RAW kind). */
rcy_heap *rcyi_heap_of_object_block(const void *p);

/* True when p starts a block of pool pl (== rcyi_pool_at(p)) and that
 * pool is an OBJECT pool of a heap not in debug mode; false for anything
 * else (large blocks, debug heaps, raw blocks, interior pointers,
 * pointers recycle never handed out).  pl is read only once the map said
 * p is in an arena.  p must be canonical (below 2^48), or the map would
 * alias it: true of any p whose refcount the inline decref could read. */
static inline bool rcyi_is_object_block(const rcyi_pool *pl, const void *p) {
    if (RCY_UNLIKELY(!rcyi_in_arena(p)))
        return false;
    uintptr_t owner = __atomic_load_n(&pl->owner, __ATOMIC_RELAXED);
    if (RCY_UNLIKELY((owner & (RCYI_OWNER_DEBUG | RCYI_OWNER_OBJECT)) != RCYI_OWNER_OBJECT))
        return false;
    return rcyi_pool_block_start(pl, p);
}

/* The heap owning that object block, or NULL (same conditions). */
static inline rcy_heap *rcyi_object_block_heap(const rcyi_pool *pl, const void *p) {
    return rcyi_is_object_block(pl, p) ? rcyi_owner_heap(pl->owner) : NULL;
}

/* Everything the inline paths below do not handle. */
void *rcyi_alloc_slow(rcy_heap *h, size_t size, int kind);
void rcyi_free_slow(rcy_heap *h, void *p);

/* rcyi_alloc / rcyi_free with the fast path inline (same contract). */
static inline void *rcyi_alloc_inline(rcy_heap *h, rcyi_alloc_state *st, size_t size, int kind) {
    if (RCY_LIKELY(size - 1 < st->fast_limit)) {
        void *b = rcyi_pool_pop(st->lists[kind][(size - 1) >> 4].next, rcyi_link_offset(0, kind));
        if (RCY_LIKELY(b != NULL))
            return b;
    }
    return rcyi_alloc_slow(h, size, kind);
}

static inline void rcyi_free_inline(rcy_heap *h, void *b) {
    /* Owned by h as a RAW pool, no debug checks due, on its class list (a
     * full pool must be relinked), and not the last block. */
    if (RCY_LIKELY(rcyi_in_arena(b)) &&
        rcyi_pool_free_fast(rcyi_pool_at(b), b, (uintptr_t)h, RCYI_LINK_RAW))
        return;
    rcyi_free_slow(h, b);
}

/* rcyi_free_inline for a block of an OBJECT pool (or a large object). */
static inline void rcyi_free_object_inline(rcy_heap *h, void *b) {
    if (RCY_LIKELY(rcyi_in_arena(b)) &&
        rcyi_pool_free_fast(rcyi_pool_at(b), b, (uintptr_t)h | RCYI_OWNER_OBJECT, RCYI_LINK_OBJECT))
        return;
    rcyi_free_slow(h, b);
}

/* ---- the engine's parts shared with alloc_debug.c, alloc_validate.c and
 * alloc_stats.c (no other file uses these) -------------------------- */

/* Just before every large block (16-byte multiple keeps the block
 * aligned). */
struct rcyi_large {
    rcyi_large *next, *prev;
    rcy_heap *heap;
    size_t size; /* bytes after this prefix */
    uint32_t magic;
    uint32_t kind;
    uint64_t size_copy; /* survives the raw free for double-free reports
                         * (allocators reuse the first 32 bytes) */
};
_Static_assert(sizeof(rcyi_large) % RCY_ALIGNMENT == 0, "large prefix misaligns blocks");

/* The magic of a large block freed during a walk of the heap: released
 * when the walk ends (rcyi_walk_objects). */
#define RCYI_LARGE_DEFERRED 0x0DEFE44Du
/* The magic of a live large block (its own address mixed in). */
static inline uint32_t rcyi_large_magic(const rcyi_large *l) {
    return 0x52435921u ^ (uint32_t)((uintptr_t)l >> 4);
}

static inline size_t rcyi_class_size(unsigned cls) {
    return ((size_t)cls + 1) * RCY_ALIGNMENT;
}
static inline unsigned rcyi_size_class(size_t size) {
    return (unsigned)((size - 1) >> 4);
}
static inline rcyi_arena *rcyi_pool_arena(const rcyi_pool *p) {
    return (rcyi_arena *)((uintptr_t)p & ~(uintptr_t)(RCY_ARENA_SIZE - 1));
}
static inline rcy_heap *rcyi_pool_heap(const rcyi_pool *p) {
    return rcyi_owner_heap(p->owner);
}
/* rcyi_arena_lookup for an arbitrary pointer: rejects addresses outside
 * the 48 bits the map covers (they would alias). */
static inline rcyi_arena *rcyi_arena_lookup_checked(const void *p) {
    if ((uintptr_t)p >> 48)
        return NULL;
    return rcyi_arena_lookup(p);
}

/* Debug mode's block format (see the top of this file): the requested
 * size heads the block, with RCYI_DBG_FREED set once it is freed. */
#define RCYI_DBG_BACK  8u
#define RCYI_DBG_FREED ((size_t)1 << 63)
static inline void rcyi_dbg_store_size(void *b, size_t v) {
    memcpy(b, &v, sizeof v);
}
static inline size_t rcyi_dbg_load_size(const void *b) {
    size_t v;
    memcpy(&v, b, sizeof v);
    return v;
}

/* alloc.c: the engine's blocks without debug guards, for debug mode. */
void *rcyi_small_alloc(rcy_heap *h, rcyi_alloc_state *st, unsigned kind, unsigned cls);
void rcyi_small_free(rcyi_alloc_state *st, rcyi_pool *p, void *b);
void *rcyi_large_alloc(rcy_heap *h, rcyi_alloc_state *st, size_t size, unsigned kind);
/* Frees the large block at p - front, after checking it is h's. */
void rcyi_free_large(rcy_heap *h, rcyi_alloc_state *st, void *p, size_t front);
/* The prefix of a large block whose caller's pointer is p (front bytes
 * in), if it looks like one of ours, live or freed; NULL otherwise. */
rcyi_large *rcyi_large_of(const void *p, size_t front);
bool rcyi_large_live(const rcyi_large *l);
/* The size a large prefix had, read even after it was freed. */
size_t rcyi_large_size_copy(const rcyi_large *l);
/* Misuse and corruption reports of a free, size or realloc of p. */
RCY_NORETURN void rcyi_bad_free(rcy_heap *h, const void *p, const char *what);
RCY_NORETURN void rcyi_double_free(const void *p, size_t size, const char *what);
/* C1's bound when in_use arenas are in use (the floor of one aside). */
size_t rcyi_cache_bound(const rcyi_alloc_state *st, size_t in_use);

/* alloc_debug.c: debug mode.  A block of `size` bytes with its guards
 * and fills; its free and its usable size, each checking the guards. */
void *rcyi_debug_alloc(rcy_heap *h, rcyi_alloc_state *st, size_t size, unsigned kind);
void rcyi_debug_free(rcy_heap *h, rcyi_alloc_state *st, void *p);
size_t rcyi_debug_size(rcy_heap *h, const void *p, const char *what);
/* Checks the guards of the debug block at p (capacity: the most its
 * size may be); returns its requested size. */
size_t rcyi_debug_check(const void *p, size_t capacity, const char *what);

#endif
