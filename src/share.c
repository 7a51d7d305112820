/* src/share.c — sharing: rcy_share marks an object and every private
 * object it reaches as shared, for good; rcy_share_check validates the
 * sharing invariant (src/object.h) over a heap.
 *
 * Marking is Lean 4's lean_mark_mt / Koka's kk_block_mark_shared: the
 * thread attached to the heap flips the refcount word of each private
 * object it reaches from "private count c" to "shared count c", before any
 * other thread can reach the object, so the switch from plain to atomic
 * counting cannot race.  Each object is marked when first reached and
 * then pushed, so the walk stops at objects already shared or immortal and
 * is linear in the newly shared subgraph.  A shared object leaves its
 * heap's collector (SHARED => !TRACKED): heap-local collections then
 * never read a count other threads change.
 *
 * The work stack starts on the C stack and grows from the heap's raw
 * allocator; if that fails the objects still get marked, and one walk of
 * the heap per round finds the shared objects whose children were not
 * visited yet (no allocation, so rcy_share cannot fail for lack of
 * memory).  Each newly shared object with traverse goes on its heap's
 * shared list, where the shared collector (gcshared.c) finds it. */
#include "heap.h"
#include "internal.h"

#define LOCAL_STACK 64

typedef struct share_walk {
    rcy_heap *h;
    rcy_head_ **stack;
    size_t len, cap;
    bool overflow; /* a marked object could not be pushed */
    size_t marked;
    rcy_head_ *local[LOCAL_STACK];
} share_walk;

/* private -> shared, keeping the count (immortal when it does not fit). */
static void mark(share_walk *w, rcy_head_ *o) {
    uint32_t rc = o->refcnt;
    if (o->gcword & RCYI_GC_TRACKED)
        rcyi_gc_untrack(w->h, o);
    __atomic_store_n(&o->refcnt,
                     rc > RCYI_RC_SHARED_MAX ? RCYI_RC_IMMORTAL_SHARED : rc | RCYI_RC_HIGH,
                     __ATOMIC_RELAXED);
    if (o->type->traverse)
        rcyi_shared_add(w->h, o); /* the shared collector's candidates (gcshared.h L1) */
    w->marked++;
}

static void push(share_walk *w, rcy_head_ *o) {
    if (w->len == w->cap) {
        size_t cap = w->cap * 2;
        rcy_head_ **p = w->stack == w->local ? rcyi_alloc(w->h, cap * sizeof *p, RCYI_KIND_RAW)
                                             : rcyi_realloc(w->h, w->stack, cap * sizeof *p);
        if (!p) {
            w->overflow = true;
            return;
        }
        if (w->stack == w->local)
            memcpy(p, w->local, sizeof w->local);
        w->stack = p;
        w->cap = cap;
    }
    w->stack[w->len++] = o;
}

/* A child of an object being shared: private and alive => mark, push. */
static int visit_share(void *obj, void *arg) {
    share_walk *w = arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t rc = rcyi_refcnt_load(o);
    if (rcyi_rc_is_private(rc) && rc != 0) {
        mark(w, o);
        rcyi_object_on_share(w->h, o, visit_share, w); /* its trace, its weak references */
        if (o->type->traverse)
            push(w, o);
    }
    return 0;
}

static void drain(share_walk *w) {
    while (w->len) {
        rcy_head_ *o = w->stack[--w->len];
        o->type->traverse(rcyi_obj(o), visit_share, w);
    }
}

/* After an overflow: the shared objects of the heap visited again. */
/* The walks below read a shared object of the heap while another thread
 * may be destroying it (object.h O4): each holds a reference to it while
 * reading (none for an immortal one) and skips it when its count is
 * already 0; dropping that reference may be the object's last. */
static bool hold_shared(rcy_head_ *o, bool *counted) {
    uint32_t rc = rcyi_refcnt_load(o);
    if (!rcyi_rc_in_shared_graph(rc) || !o->type->traverse)
        return false;
    *counted = rcyi_rc_is_shared(rc);
    return !*counted || rcyi_try_incref_shared(o);
}

static void rescan_one(rcy_head_ *o, void *arg) {
    bool counted;
    if (hold_shared(o, &counted)) {
        o->type->traverse(rcyi_obj(o), visit_share, arg);
        drain(arg);
        if (counted)
            rcy_decref(rcyi_obj(o));
    }
}

int rcy_share(void *obj) {
    RCYI_REQUIRE(obj, RCY_EINVAL);
    rcyi_safepoint_poll(); /* thread.h S4: before the walk, not during it */
    rcy_head_ *o = rcyi_head(obj);
    uint32_t rc = rcyi_refcnt_load(o);
    if (!rcyi_rc_is_private(rc))
        return RCY_OK; /* shared or immortal already */
    rcy_heap *h = rcy_heap_of(obj);
    if (!h)
        return RCY_EINVAL;
    if (h->gc.collecting) {
        rcyi_misuse("rcy_share", "called while the object's heap is collecting (from a finalizer "
                                 "or gc callback); share it after the collection");
        return RCY_ESTATE;
    }
    share_walk w = {.h = h, .cap = LOCAL_STACK};
    w.stack = w.local;
    rcyi_safepoint_forbid();
    visit_share(obj, &w);
    drain(&w);
    while (w.overflow) {
        w.overflow = false;
        size_t before = w.marked;
        rcyi_walk_all_objects(h, rescan_one, &w);
        if (w.marked == before && !w.overflow)
            break;
    }
    if (w.stack != w.local)
        rcyi_free(h, w.stack);
    rcyi_safepoint_allow();
    return RCY_OK;
}

bool rcy_is_shared(const void *obj) {
    RCYI_REQUIRE(obj, false);
    rcy_heap_of(obj); /* the usual check of the pointer */
    return rcyi_rc_in_shared_graph(rcyi_refcnt_load(rcyi_head(obj)));
}

/* ---- the invariant checker ------------------------------------------ */

typedef struct share_check {
    rcy_head_ *parent;
    size_t bad;
} share_check;

static int visit_check(void *obj, void *arg) {
    share_check *c = arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t rc = rcyi_refcnt_load(o);
    if (!rcyi_rc_is_private(rc) || rc == 0)
        return 0;
    if (c->bad++ == 0) {
        char what[320];
        snprintf(what, sizeof what,
                 "shared object of type %s (%p) refers to private object of type %s (%p): a "
                 "store into a shared object must share what it stores (RCY_STORE, rcy_share)",
                 c->parent->type->name, rcyi_obj(c->parent), o->type->name, obj);
        rcyi_misuse("rcy_share_check", what);
    }
    return 0;
}

size_t rcyi_share_check_children(rcy_head_ *o) {
    share_check c = {o, 0};
    o->type->traverse(rcyi_obj(o), visit_check, &c);
    return c.bad;
}

static void check_one(rcy_head_ *o, void *arg) {
    bool counted;
    if (hold_shared(o, &counted)) {
        share_check *c = arg;
        c->parent = o;
        o->type->traverse(rcyi_obj(o), visit_check, c);
        if (counted)
            rcy_decref(rcyi_obj(o));
    }
}

size_t rcyi_share_validate(rcy_heap *h) {
    share_check c = {NULL, 0};
    rcyi_walk_all_objects(h, check_one, &c);
    return c.bad;
}

size_t rcy_share_check(rcy_heap *heap) {
    RCYI_REQUIRE(heap, 0);
    return rcyi_share_validate(heap);
}
