/* src/heap.h — struct rcy_heap: one state struct per piece, each owned by
 * the file named beside it and declared, with its invariants, in that
 * piece's header.  A heap is used by one thread at a time, so nothing here
 * is locked. */
#ifndef RCY_SRC_HEAP_H
#define RCY_SRC_HEAP_H

#include "alloc.h"
#include "gc.h"
#include "gcshared.h"
#include "internal.h"
#include "object.h"
#include "thread.h"
#include "weakref.h"

struct rcy_heap {
    rcyi_alloc_state alloc;  /* alloc.c (alloc.h) */
    rcyi_gc_state gc;        /* gc.c, gcmodule.c (gc.h) */
    rcyi_weakref_state weak; /* weakref.c (weakref.h) */
    rcyi_object_state obj;   /* object.c (object.h) */
    int debug;               /* heap.c: guard bytes and fill patterns on */
    bool freeing;            /* heap.c: rcy_heap_free is running */
    void *userdata;          /* heap.c: rcy_heap_set_userdata, never read by recycle */
    uintptr_t thread;        /* thread.c (thread.h T1): attached thread token */
    rcyi_shared_list shared; /* gcshared.c (gcshared.h L1..L4): locked */
};

/* heap.c: heaps created and not yet freed, process-wide (atomic).  The
 * collector checks for references across heaps only when there are two
 * or more. */
extern size_t rcyi_heaps_alive __attribute__((visibility("hidden")));

#endif
