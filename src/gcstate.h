/* src/gcstate.h — the collector's per-heap state (gc.c owns every field
 * but the weak-reference ones, which weakref.c owns).  A heap is used by
 * one thread at a time: nothing here is locked.  The invariants that tie
 * these fields to the object headers are stated in src/gc.h. */
#ifndef RCY_SRC_GCSTATE_H
#define RCY_SRC_GCSTATE_H

#include <stddef.h>

#include "recycle.h"

struct rcy_weakref;
struct rcy_finalize;

/* A growable array of object headers (generations 0 and 1); an untracked
 * object leaves a hole (NULL) behind, see src/gc.h. */
typedef struct rcyi_gc_vec {
    rcy_head_ **items;
    size_t len, cap;
    size_t live; /* non-NULL entries */
    size_t hint; /* capacity to start with after the vector emptied */
} rcyi_gc_vec;

typedef struct rcyi_gc_cbent {
    rcy_gc_callback *fn;
    void *arg;
} rcyi_gc_cbent;

/* weakref.c: open-addressing table, referent header -> newest weakref. */
typedef struct rcyi_wr_slot {
    rcy_head_ *key; /* NULL = empty */
    struct rcy_weakref *head;
} rcyi_wr_slot;

typedef struct rcyi_gc_state {
    rcyi_gc_vec young[2];    /* generations 0 and 1 */
    size_t count[3];         /* rcy_gc_get_count */
    size_t trigger;          /* count[0] above which on_new needs its slow path */
    size_t threshold[3];     /* rcy_gc_get_threshold */
    size_t long_lived_total; /* generation 2's size after the last full collection */
    size_t ntracked;         /* tracked objects, frozen included */
    size_t nfrozen;          /* tracked objects in the permanent generation */
    int enabled;             /* automatic collection on */
    int collecting;          /* a collection is running (no nesting) */
    int hard;                /* full collection at every tracked allocation */
    int finished;            /* rcyi_gc_fini ran: hooks are no-ops */
    unsigned debug;          /* RCY_GC_DEBUG_* */
    rcy_gc_gen_stats stats[3];
    struct rcy_list *garbage; /* rcy_gc_garbage, created on demand */
    rcyi_gc_cbent *cbs;       /* rcy_gc_callbacks_add */
    size_t ncbs, cbcap;
    /* Release phase of a collection: final garbage indexed by SLOT. */
    rcy_head_ **release;
    size_t released_freed;
    /* weakref.c */
    rcyi_wr_slot *wr_table;
    size_t wr_cap, wr_used;
    struct rcy_finalize *fin_first; /* registry of alive finalize objects */
} rcyi_gc_state;

#endif
