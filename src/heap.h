/* src/heap.h — struct rcy_heap: one state struct per piece, each owned by
 * the file named beside it.  A heap is used by one thread at a time, so
 * nothing here is locked. */
#ifndef RCY_SRC_HEAP_H
#define RCY_SRC_HEAP_H

#include "alloc.h"
#include "gcstate.h"
#include "internal.h"

struct rcy_heap {
    rcyi_alloc_state alloc; /* alloc.c */
    rcyi_gc_state gc;       /* gc.c, weakref.c */
    int debug;              /* heap.c: guard bytes and fill patterns on */
};

#endif
