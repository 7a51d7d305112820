/* src/weakref.h — weak references and finalize objects: the per-heap
 * state weakref.c owns, its invariants, and the hooks the collector
 * (gc.c) and the object layer (object.c) call.
 *
 * Each heap keeps an open-addressing table from a referent's header to the
 * newest weak reference to it; the weak references to one object form a
 * doubly linked list through the weakref objects themselves.
 *
 * Invariants:
 *   W1  wr->obj != NULL  <=>  wr is on the list of head(wr->obj)
 *   W2  an object has a table entry  <=>  its WEAKREFS bit is set  <=>  its
 *       list is non-empty (so dealloc looks the table up only when needed)
 *   W3  used == #entries with key != NULL, and used * 2 <= cap; an empty
 *       table holds no memory (table == NULL, cap == 0)
 *   W4  a finalize object is in the registry (fin_first) <=> it is alive,
 *       and the registry holds one reference to it.
 * A heap is used by one thread at a time: nothing here is locked. */
#ifndef RCY_SRC_WEAKREF_H
#define RCY_SRC_WEAKREF_H

#include <stddef.h>

#include "object.h"

struct rcy_weakref;
struct rcy_finalize;

/* One table entry: referent header -> newest weak reference to it. */
typedef struct rcyi_wr_slot {
    rcy_head_ *key; /* NULL = empty */
    struct rcy_weakref *head;
} rcyi_wr_slot;

typedef struct rcyi_weakref_state {
    rcyi_wr_slot *table; /* cap entries, cap a power of two (or 0) */
    size_t cap, used;
    struct rcy_finalize *fin_first; /* registry of alive finalize objects */
} rcyi_weakref_state;

extern const rcy_type rcyi_finalize_type;
static inline int rcyi_is_weakref_type(const rcy_type *t) {
    return t == &rcy_weakref_type || t == &rcyi_finalize_type;
}

/* Weak references whose callbacks are due, in the order they run. */
typedef struct rcyi_wr_pending {
    struct rcy_weakref *head, *tail;
} rcyi_wr_pending;
/* Clear every weak reference to obj (they now return NULL) and append
 * those whose callback must run to *pending, newest first (Python's
 * order), each held by one extra reference.  When `skip_unreachable`,
 * weak references that are themselves members of U get no callback. */
void rcyi_weakref_detach_all(rcy_heap *h, rcy_head_ *obj, rcyi_wr_pending *pending,
                             int skip_unreachable);
/* Run the chained callbacks, then drop the references held on them.
 * Returns how many weak references that frees, counting a finalize object
 * that fired as one (what Python's collector adds to its count). */
size_t rcyi_weakref_run_pending(rcyi_wr_pending *pending);
/* If obj is a weak reference, clear it without a callback. */
void rcyi_weakref_kill_if_weakref(rcy_head_ *obj);
/* Weak references to obj are cleared and their callbacks run (called by
 * object.c when RCYI_GC_WEAKREFS is set, before the object is destroyed). */
void rcyi_weakref_clear_for(rcy_heap *h, rcy_head_ *obj);
/* Run every alive finalize object with atexit on (newest first), then
 * release the registry. */
void rcyi_finalize_run_atexit(rcy_heap *h);
/* Free weakref.c's tables (after the last collection). */
void rcyi_weakref_fini(rcy_heap *h);

#endif
