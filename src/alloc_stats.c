/* src/alloc_stats.c — the allocator's statistics: rcy_mem_get_stats and
 * its text and JSON printers.  Nothing is counted on the fast paths
 * (alloc.h); the figures are derived here by walking the heap's arenas
 * and pools when asked. */
#include "heap.h"

#include <inttypes.h>
#include <string.h>

static void collect_stats(rcy_heap *h, rcy_mem_stats *s) {
    rcyi_alloc_state *st = &h->alloc;
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    s->version = RCY_MEM_STATS_VERSION;
    for (unsigned c = 0; c < RCY_SIZE_CLASSES; c++)
        s->classes[c].block_size = rcyi_class_size(c);
    size_t pools_total = 0;
    for (rcyi_arena *a = st->all; a; a = a->all_next) {
        pools_total += RCYI_POOLS_PER_ARENA;
        for (uint32_t i = 0; i < a->ncarved; i++) {
            rcyi_pool *p = &a->pools[i];
            if (rcyi_pool_heap(p) != h)
                continue;
            rcy_mem_class_stats *c = &s->classes[p->cls];
            size_t cap = p->limit / p->bsize;
            c->pools++;
            c->blocks_used += p->used;
            c->blocks_free += cap - p->used;
            s->pools_used++;
            s->small_bytes_used += (size_t)p->used * p->bsize;
        }
    }
    pools_total += st->ncache * RCYI_POOLS_PER_ARENA;
    s->pools_free = pools_total - s->pools_used;
    s->arenas = st->arenas;
    s->arenas_allocated = st->arenas_allocated;
    s->arenas_reclaimed = st->arenas_reclaimed;
    s->arenas_highwater = st->arenas_highwater;
    s->large_blocks = st->large_blocks;
    s->large_bytes = st->large_bytes;
    s->mapped_bytes = st->arenas * RCY_ARENA_SIZE;
    s->remote_taken = st->remote_taken;
    s->remote_retries = __atomic_load_n(&st->remote_retries, __ATOMIC_RELAXED);
}

/* Called on the heap's thread, the statistics first take back the blocks
 * other threads freed, so they count as free (R1: only that thread may). */
static void take_back_remote(rcy_heap *heap) {
    uintptr_t t = __atomic_load_n(&heap->thread, __ATOMIC_ACQUIRE);
    if (t == RCYI_THREAD_UNBOUND || t == rcyi_thread_self())
        rcyi_alloc_take_remote(heap);
}

int rcy_mem_get_stats(rcy_heap *heap, rcy_mem_stats *stats) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    if (!stats || stats->size < offsetof(rcy_mem_stats, version) + sizeof(uint32_t))
        return RCY_EINVAL;
    take_back_remote(heap);
    rcy_mem_stats full;
    collect_stats(heap, &full);
    size_t n = stats->size < sizeof full ? stats->size : sizeof full;
    size_t caller = stats->size;
    memcpy(stats, &full, n);
    stats->size = caller;
    return RCY_OK;
}

int rcy_mem_print_stats(rcy_heap *heap, FILE *out) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    take_back_remote(heap);
    rcy_mem_stats s;
    collect_stats(heap, &s);
    rcyi_put(out, "Small block threshold = %d, in %d size classes.\n\n", RCY_SMALL_LIMIT,
             RCY_SIZE_CLASSES);
    rcyi_put(out, "class   size   num pools   blocks in use  avail blocks\n");
    rcyi_put(out, "-----   ----   ---------   -------------  ------------\n");
    for (unsigned c = 0; c < RCY_SIZE_CLASSES; c++) {
        const rcy_mem_class_stats *k = &s.classes[c];
        rcyi_put(out, "%5u   %4zu   %9zu   %13zu  %12zu\n", c, k->block_size, k->pools,
                 k->blocks_used, k->blocks_free);
    }
    rcyi_put(out, "\n");
    rcyi_put(out, "# arenas allocated total           = %14zu\n", s.arenas_allocated);
    rcyi_put(out, "# arenas reclaimed                 = %14zu\n", s.arenas_reclaimed);
    rcyi_put(out, "# arenas highwater mark            = %14zu\n", s.arenas_highwater);
    rcyi_put(out, "# arenas allocated current         = %14zu\n", s.arenas);
    rcyi_put(out, "%zu arenas * %u bytes/arena%*s= %14zu\n", s.arenas, RCY_ARENA_SIZE,
             s.arenas < 10    ? 7
             : s.arenas < 100 ? 6
                              : 5,
             "", s.mapped_bytes);
    rcyi_put(out, "\n");
    rcyi_put(out, "# pools used                       = %14zu\n", s.pools_used);
    rcyi_put(out, "# pools free                       = %14zu\n", s.pools_free);
    rcyi_put(out, "# bytes in allocated blocks        = %14zu\n", s.small_bytes_used);
    rcyi_put(out, "# large blocks                     = %14zu\n", s.large_blocks);
    rcyi_put(out, "# bytes in large blocks            = %14zu\n", s.large_bytes);
    rcyi_put(out, "# bytes mapped from the OS         = %14zu\n", s.mapped_bytes);
    return RCY_OK;
}

int rcy_mem_print_stats_json(rcy_heap *heap, FILE *out) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    take_back_remote(heap);
    rcy_mem_stats s;
    collect_stats(heap, &s);
    rcyi_put(out,
             "{\"version\": %" PRIu32 ", \"arenas\": %zu, \"arenas_allocated\": %zu, "
             "\"arenas_reclaimed\": %zu, \"arenas_highwater\": %zu, \"pools_used\": %zu, "
             "\"pools_free\": %zu, \"small_bytes_used\": %zu, \"large_blocks\": %zu, "
             "\"large_bytes\": %zu, \"mapped_bytes\": %zu, \"remote_taken\": %zu, "
             "\"remote_retries\": %zu, \"classes\": [",
             s.version, s.arenas, s.arenas_allocated, s.arenas_reclaimed, s.arenas_highwater,
             s.pools_used, s.pools_free, s.small_bytes_used, s.large_blocks, s.large_bytes,
             s.mapped_bytes, s.remote_taken, s.remote_retries);
    for (unsigned c = 0; c < RCY_SIZE_CLASSES; c++) {
        const rcy_mem_class_stats *k = &s.classes[c];
        rcyi_put(out,
                 "%s{\"size\": %zu, \"pools\": %zu, \"blocks_used\": %zu, \"blocks_free\": %zu}",
                 c ? ", " : "", k->block_size, k->pools, k->blocks_used, k->blocks_free);
    }
    rcyi_put(out, "]}\n");
    return RCY_OK;
}
