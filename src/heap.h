/* src/heap.h — struct rcy_heap: one state struct per piece, each owned by
 * the file named beside it.  A heap is used by one thread at a time, so
 * nothing here is locked. */
#ifndef RCY_SRC_HEAP_H
#define RCY_SRC_HEAP_H

#include "alloc.h"
#include "gcstate.h"
#include "internal.h"

/* object.c: deallocation depth and the deferred-deallocation stack (the
 * "trashcan").  depth = number of object deallocations in progress on this
 * heap's call stack; an object whose deallocation starts at depth >=
 * RCYI_DEALLOC_MAX_DEPTH is pushed on `deferred` (refcnt 0, untracked,
 * finalized, type intact) and released by the outermost deallocation. */
typedef struct rcyi_object_state {
    unsigned depth;
    unsigned finalizing; /* finalizers running on this heap's call stack */
    size_t deferred_len, deferred_cap;
    rcy_head_ **deferred; /* from rcyi_alloc(RAW); freed by rcy_heap_free */
} rcyi_object_state;

struct rcy_heap {
    rcyi_alloc_state alloc; /* alloc.c */
    rcyi_gc_state gc;       /* gc.c, weakref.c */
    rcyi_object_state obj;  /* object.c */
    int debug;              /* heap.c: guard bytes and fill patterns on */
    bool freeing;           /* heap.c: rcy_heap_free is running */
};

#endif
