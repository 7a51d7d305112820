/* src/alloc.h — the allocator's per-heap state (owned by alloc.c). */
#ifndef RCY_SRC_ALLOC_H
#define RCY_SRC_ALLOC_H

#include "recycle.h"

typedef struct rcyi_alloc_state {
    rcy_raw_allocator raw;
    unsigned long fail_nth; /* rcy_heap_fail_nth countdown; 0 = off */
} rcyi_alloc_state;

int rcyi_alloc_init(rcy_heap *h, const rcy_config *cfg);
/* Frees every block and arena of the heap. */
void rcyi_alloc_fini(rcy_heap *h);

#endif
