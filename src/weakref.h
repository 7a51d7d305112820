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
 *       and the registry holds one reference to it.  `alive` and the
 *       registry are changed under the lock of the heap's stripe (a
 *       finalize object of a shared referent fires on any thread).
 * W1..W3 hold for private mortal referents, whose lists stay in their
 * heap's table, used by one thread at a time, with no lock.  Shared referents
 * (in the shared graph, object.h):
 *   W5  a weak reference to a shared referent is shared itself, and
 *       sharing a weak reference shares its referent (rcy_share calls
 *       rcyi_weakref_on_share for each object it marks), so a list is a
 *       stripe's exactly when its weak references are shared.  The lists
 *       of shared referents live in 64 STRIPES (weakref.c), each a mutex
 *       and a table like the heap's (libc memory), chosen by the
 *       referent's address; the list of a referent moves from its heap's
 *       table to its stripe when the referent is shared.  Its WEAKREFS bit
 *       then means "may have weak references": set (atomic or) when one is
 *       linked, cleared only by its death.
 *   W6  a shared weak reference's obj, prev and next change only under
 *       its referent's stripe lock; obj goes from the referent to NULL
 *       once (atomic store), so a reader loads it, locks that stripe and
 *       loads it again.  rcy_weakref_get of a shared weak reference takes
 *       the lock and a try-incref (rcyi_try_incref_shared: fails on count
 *       0), so it never returns a referent that is dying elsewhere.
 *   W7  a shared referent's death (on the thread that dropped its last
 *       reference, object.h O4) clears its list under the stripe lock
 *       before its memory is freed; the callbacks run afterwards on that
 *       thread, each weak reference held by a try-incref (none for one
 *       that is dying itself).
 *   W8  an IMMORTAL referent's list is a stripe's too, shared or not: a
 *       private object made immortal may be stored into shared objects
 *       (object.h), so any thread may reach it.  So a list is a stripe's
 *       exactly when its referent's word has bit 31 set; a private object
 *       made immortal (rcy_immortalize, or a saturating count) moves its
 *       list there first (rcyi_weakref_on_immortal, on its heap's thread).
 *       Its weak references stay private until shared (W5 does not share
 *       them: the referent is not shared), but their links, like every
 *       stripe list's, change only under the stripe lock.  Immortal
 *       objects go with their heap: its teardown clears their lists
 *       (no callbacks), so a shared weak reference outliving the heap
 *       gets NULL. */
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
    size_t striped;                 /* lists of this heap's referents put on a stripe (never
                                       decremented: the teardown looks for immortal ones) */
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
/* rcy_share marked o (share.c): a weak reference's referent is shared
 * with it (visit), and o's list moves to its stripe, each weak reference
 * on it visited (W5). */
void rcyi_weakref_on_share(rcy_heap *h, rcy_head_ *o, rcy_visitproc visit, void *arg);
/* A private object with weak references is being made immortal (its
 * heap's thread, object.c): its list moves to its stripe (W8). */
void rcyi_weakref_on_immortal(rcy_heap *h, rcy_head_ *o);
/* Free weakref.c's tables (after the last collection) and clear the
 * lists of the heap's immortal referents (W8). */
void rcyi_weakref_fini(rcy_heap *h);

#endif
