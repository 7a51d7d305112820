/* src/weakref.c — weak references and one-shot finalize objects.
 *
 * The tables, the stripes, the registry and their invariants (W1..W7)
 * are described in src/weakref.h. */
#include "heap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct rcy_weakref {
    void *obj; /* the referent, NULL once cleared */
    rcy_weakref_callback cb;
    void *arg;
    rcy_heap *heap;
    rcy_weakref *prev, *next; /* list of weak references to obj */
    rcy_weakref *pending;     /* callback chain while clearing */
};

struct rcy_finalize {
    rcy_weakref wr;
    rcy_finalize_fn fn;
    void *arg;
    bool alive, atexit;
    rcy_finalize *reg_prev, *reg_next; /* registry, newest first */
};

static int wr_traverse(void *self, rcy_visitproc visit, void *arg) {
    /* Holds no strong references; tracked so the collector can tell
     * whether the weak reference itself is garbage. */
    (void)self, (void)visit, (void)arg;
    return 0;
}

static void wr_destroy(void *self);
static void fin_destroy(void *self);

const rcy_type rcy_weakref_type = {"weakref", sizeof(rcy_weakref), 0, wr_traverse, NULL,
                                   NULL,      wr_destroy};
const rcy_type rcyi_finalize_type = {"finalize", sizeof(rcy_finalize), 0, wr_traverse, NULL,
                                     NULL,       fin_destroy};

/* ---- the table ---------------------------------------------------- */

static size_t hash_ptr(const void *p, size_t mask) {
    uint64_t x = (uint64_t)(uintptr_t)p >> 4;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & mask;
}

static rcyi_wr_slot *table_find(rcyi_weakref_state *wk, const rcy_head_ *key) {
    if (!wk->cap)
        return NULL;
    size_t mask = wk->cap - 1;
    for (size_t i = hash_ptr(key, mask);; i = (i + 1) & mask) {
        rcyi_wr_slot *s = &wk->table[i];
        if (s->key == key)
            return s;
        if (!s->key)
            return NULL;
    }
}

/* A table's memory: from heap h, or from libc for a stripe's (h NULL). */
static void *table_mem(rcy_heap *h, size_t n) {
    return h ? rcyi_alloc(h, n, RCYI_KIND_RAW) : malloc(n);
}
static void table_mem_free(rcy_heap *h, void *p) {
    if (h)
        rcyi_free(h, p);
    else
        free(p);
}

static int table_grow(rcy_heap *h, rcyi_weakref_state *wk) {
    size_t ncap = wk->cap ? wk->cap * 2 : 64;
    rcyi_wr_slot *nt = table_mem(h, ncap * sizeof *nt);
    if (!nt)
        return RCY_ENOMEM;
    memset(nt, 0, ncap * sizeof *nt);
    for (size_t i = 0; i < wk->cap; i++) {
        rcyi_wr_slot *s = &wk->table[i];
        if (!s->key)
            continue;
        size_t j = hash_ptr(s->key, ncap - 1);
        while (nt[j].key)
            j = (j + 1) & (ncap - 1);
        nt[j] = *s;
    }
    if (wk->table)
        table_mem_free(h, wk->table);
    wk->table = nt;
    wk->cap = ncap;
    return RCY_OK;
}

static rcyi_wr_slot *table_insert(rcy_heap *h, rcyi_weakref_state *wk, rcy_head_ *key) {
    if ((wk->used + 1) * 2 > wk->cap && table_grow(h, wk) < 0)
        return NULL;
    size_t mask = wk->cap - 1;
    size_t i = hash_ptr(key, mask);
    while (wk->table[i].key)
        i = (i + 1) & mask;
    wk->table[i].key = key;
    wk->table[i].head = NULL;
    wk->used++;
    return &wk->table[i];
}

/* Backward-shift deletion keeps probe chains without tombstones. */
static void table_remove(rcyi_weakref_state *wk, rcyi_wr_slot *s) {
    size_t mask = wk->cap - 1;
    size_t i = (size_t)(s - wk->table);
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        rcyi_wr_slot *t = &wk->table[j];
        if (!t->key)
            break;
        size_t home = hash_ptr(t->key, mask);
        /* t may move to i if its home is not in (i, j] cyclically */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            wk->table[i] = *t;
            i = j;
        }
    }
    wk->table[i].key = NULL;
    wk->table[i].head = NULL;
    wk->used--;
}

/* An empty table holds no memory (as the young vectors: rcyi_gc_vec_reset). */
static void table_release_if_empty(rcy_heap *h, rcyi_weakref_state *wk) {
    if (wk->used == 0 && wk->table) {
        table_mem_free(h, wk->table);
        wk->table = NULL;
        wk->cap = 0;
    }
}

/* ---- the stripes: lists of shared referents (W5..W7) ---------------- */

#define STRIPES 64

typedef struct stripe {
    pthread_mutex_t mu;
    rcyi_weakref_state tab; /* fin_first unused */
} __attribute__((aligned(64))) stripe;

static stripe stripes[STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void) {
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i].mu, NULL);
}

/* The stripe of an address: the hash's top bits (the tables index by its
 * low ones, so the keys of one stripe still spread in its table). */
static stripe *stripe_of(const void *p) {
    pthread_once(&stripes_once, stripes_init);
    uint64_t x = ((uint64_t)(uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull;
    return &stripes[x >> 58];
}

/* A shared weak reference (W5): other threads may reach it. */
static bool wr_shared(const rcy_weakref *wr) {
    return rcyi_rc_in_shared_graph(rcyi_refcnt_load(rcyi_head(wr)));
}

static void *wr_obj(const rcy_weakref *wr) {
    return __atomic_load_n(&wr->obj, __ATOMIC_ACQUIRE);
}

/* A referent whose list is a stripe's (W8): its word's bit 31 is set
 * (shared, dying shared, or immortal). */
static bool striped_referent(const rcy_head_ *oh) {
    return (rcyi_refcnt_load(oh) & RCYI_RC_HIGH) != 0;
}

/* A weak reference on a stripe's list: shared, or private with an
 * immortal referent (a private one's referent cannot be dying elsewhere,
 * W5, so its header may be read here). */
static bool wr_striped(const rcy_weakref *wr) {
    if (wr_shared(wr))
        return true;
    void *obj = wr_obj(wr);
    return obj && striped_referent(rcyi_head(obj));
}

/* W6: unlink a weak reference from its referent's list on a stripe,
 * under the stripe's lock (wr->obj is re-read there: it only ever goes
 * from the referent to NULL). */
static void unlink_striped(rcy_weakref *wr) {
    void *obj = wr_obj(wr);
    if (!obj)
        return;
    rcy_head_ *oh = rcyi_head(obj);
    stripe *st = stripe_of(oh);
    pthread_mutex_lock(&st->mu);
    if (wr_obj(wr) == obj) {
        if (wr->next)
            wr->next->prev = wr->prev;
        if (wr->prev) {
            wr->prev->next = wr->next;
        } else {
            rcyi_wr_slot *s = table_find(&st->tab, oh);
            if (s && wr->next) {
                s->head = wr->next;
            } else if (s) {
                table_remove(&st->tab, s);
                table_release_if_empty(NULL, &st->tab);
            }
        }
        __atomic_store_n(&wr->obj, NULL, __ATOMIC_RELEASE);
        wr->prev = wr->next = NULL;
    }
    pthread_mutex_unlock(&st->mu);
}

/* The extra reference a weak reference waiting for its callback holds;
 * false when it is being freed itself (count 0) and gets no callback. */
static bool hold_for_callback(rcy_head_ *wh) {
    uint32_t rc = rcyi_refcnt_load(wh);
    if (rcyi_rc_is_private(rc)) {
        if (rc == 0)
            return false;
        wh->refcnt = rc + 1;
        return true;
    }
    return rcyi_try_incref_shared(wh);
}

static void pending_add(rcyi_wr_pending *pending, rcy_weakref *wr) {
    wr->pending = NULL;
    if (pending->tail)
        pending->tail->pending = wr;
    else
        pending->head = wr;
    pending->tail = wr;
}

/* Clears the list of obj found in `tab` (the heap's table, or a stripe's
 * with its lock held): each weak reference's obj goes to NULL (a release
 * store: shared readers load it unlocked first, W6) and its callback, if
 * any, joins `pending` with the weak reference held, except for a weak
 * reference that is garbage itself (skip_unreachable: a collection's) or
 * being freed.  The list runs newest first, and so do the callbacks.
 * With pending NULL nothing is called back (the heap's teardown). */
static void detach_list(rcy_heap *h, rcyi_weakref_state *tab, rcy_head_ *obj,
                        rcyi_wr_pending *pending, int skip_unreachable) {
    rcyi_wr_slot *s = table_find(tab, obj);
    if (!s)
        return;
    rcy_weakref *wr = s->head;
    table_remove(tab, s);
    table_release_if_empty(h, tab);
    while (wr) {
        rcy_weakref *next = wr->next;
        __atomic_store_n(&wr->obj, NULL, __ATOMIC_RELEASE);
        wr->prev = wr->next = NULL;
        rcy_head_ *wh = rcyi_head(wr);
        if (pending && wr->cb && !(skip_unreachable && (wh->gcword & RCYI_GC_UNREACHABLE)) &&
            hold_for_callback(wh))
            pending_add(pending, wr);
        wr = next;
    }
}

/* W7: the list of a shared referent (dying on any thread, or garbage of
 * a shared collection), or of an immortal one at its heap's teardown
 * (W8), is taken from its stripe and cleared under the lock, before its
 * memory can be freed; the caller runs the callbacks. */
static void detach_shared(rcy_head_ *obj, rcyi_wr_pending *pending, int skip_unreachable) {
    stripe *st = stripe_of(obj);
    pthread_mutex_lock(&st->mu);
    detach_list(NULL, &st->tab, obj, pending, skip_unreachable);
    pthread_mutex_unlock(&st->mu);
    __atomic_fetch_and(&obj->gcword, ~(uint32_t)RCYI_GC_WEAKREFS, __ATOMIC_RELAXED);
}

/* W5, W8: a weak reference to a referent on a stripe is linked there; one
 * to a shared referent is shared first (nothing of the list is reachable
 * from another thread before). */
static int link_striped(rcy_weakref *wr, void *obj, bool share) {
    rcy_head_ *oh = rcyi_head(obj);
    if (share) {
        int rc = rcy_share(wr);
        if (rc != RCY_OK)
            return rc;
    }
    stripe *st = stripe_of(oh);
    pthread_mutex_lock(&st->mu);
    rcyi_wr_slot *s = table_find(&st->tab, oh);
    if (!s) {
        if (!(s = table_insert(NULL, &st->tab, oh))) {
            pthread_mutex_unlock(&st->mu);
            return RCY_ENOMEM;
        }
        wr->heap->weak.striped++;
    }
    wr->next = s->head;
    if (s->head)
        s->head->prev = wr;
    wr->prev = NULL;
    s->head = wr;
    __atomic_store_n(&wr->obj, obj, __ATOMIC_RELEASE);
    __atomic_fetch_or(&oh->gcword, RCYI_GC_WEAKREFS, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&st->mu);
    return RCY_OK;
}

/* o's list leaves its heap's table for its stripe (o is about to be, or
 * has just been, shared or made immortal, on its heap's thread, before
 * another thread can reach it); its first weak reference, or NULL. */
static rcy_weakref *move_to_stripe(rcy_heap *h, rcy_head_ *o, const char *who) {
    rcyi_wr_slot *hs = table_find(&h->weak, o);
    if (!hs)
        return NULL;
    rcy_weakref *first = hs->head;
    table_remove(&h->weak, hs);
    table_release_if_empty(h, &h->weak);
    stripe *st = stripe_of(o);
    pthread_mutex_lock(&st->mu);
    rcyi_wr_slot *s = table_insert(NULL, &st->tab, o);
    if (s)
        s->head = first;
    pthread_mutex_unlock(&st->mu);
    if (!s)
        rcyi_fatal(RCY_ENOMEM, "%s: out of memory moving the weak references of %p", who,
                   rcyi_obj(o));
    h->weak.striped++;
    __atomic_fetch_or(&o->gcword, RCYI_GC_WEAKREFS, __ATOMIC_RELAXED);
    return first;
}

void rcyi_weakref_on_share(rcy_heap *h, rcy_head_ *o, rcy_visitproc visit, void *arg) {
    if (rcyi_is_weakref_type(o->type)) {
        rcy_weakref *wr = rcyi_obj(o);
        if (wr->obj) /* W5 the other way: its referent is shared with it */
            visit(wr->obj, arg);
    }
    /* o is on its heap's shared list already: another thread's swap-remove
     * may rewrite its SLOT meanwhile (gcshared.c set_slot). */
    if (!(rcyi_gcword_load(o) & RCYI_GC_WEAKREFS))
        return;
    for (rcy_weakref *wr = move_to_stripe(h, o, "rcy_share"); wr; wr = wr->next)
        visit(wr, arg); /* each is shared too (W5) */
}

void rcyi_weakref_on_immortal(rcy_heap *h, rcy_head_ *o) {
    if (o->gcword & RCYI_GC_WEAKREFS)
        (void)move_to_stripe(h, o, "rcy_immortalize");
}

/* ---- linking -------------------------------------------------------- */

static void unlink_wr(rcy_weakref *wr) {
    if (wr_striped(wr)) {
        unlink_striped(wr);
        return;
    }
    rcy_heap *h = wr->heap;
    rcy_head_ *oh = rcyi_head(wr->obj);
    if (wr->next)
        wr->next->prev = wr->prev;
    if (wr->prev) {
        wr->prev->next = wr->next;
    } else {
        rcyi_wr_slot *s = table_find(&h->weak, oh);
        if (s) {
            if (wr->next) {
                s->head = wr->next;
            } else {
                table_remove(&h->weak, s);
                table_release_if_empty(h, &h->weak);
                oh->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
            }
        }
    }
    wr->obj = NULL;
    wr->prev = wr->next = NULL;
}

/* Off its referent's list, if on one (the heap's table is gone once its
 * collector finished: rcyi_weakref_fini cleared those lists). */
static void detach_wr(rcy_weakref *wr) {
    if (wr_striped(wr))
        unlink_striped(wr);
    else if (wr->obj && wr->heap->gc.stage != RCYI_GC_DONE)
        unlink_wr(wr);
}

static void wr_destroy(void *self) {
    detach_wr(self);
}

static int link_wr(rcy_weakref *wr, void *obj) {
    rcy_heap *h = wr->heap;
    rcy_head_ *oh = rcyi_head(obj);
    uint32_t rc = rcyi_refcnt_load(oh);
    if (rc & RCYI_RC_HIGH)
        return link_striped(wr, obj, rcyi_rc_in_shared_graph(rc));
    rcyi_wr_slot *s = (oh->gcword & RCYI_GC_WEAKREFS) ? table_find(&h->weak, oh) : NULL;
    if (!s) {
        s = table_insert(h, &h->weak, oh);
        if (!s)
            return RCY_ENOMEM;
        oh->gcword |= RCYI_GC_WEAKREFS;
    }
    wr->next = s->head;
    if (s->head)
        s->head->prev = wr;
    wr->prev = NULL;
    s->head = wr;
    wr->obj = obj;
    return RCY_OK;
}

static rcy_weakref *new_wr(void *obj, const rcy_type *type, rcy_weakref_callback cb, void *arg,
                           const char *file, int line, const char *func) {
    rcy_heap *h = rcy_heap_of(obj);
    if (!h || h->gc.stage != RCYI_GC_RUNNING)
        return NULL;
    rcy_weakref *wr = rcy_new_(h, type, file, line, func);
    if (!wr)
        return NULL;
    wr->heap = h;
    wr->cb = cb;
    wr->arg = arg;
    if (link_wr(wr, obj) < 0) {
        rcy_decref(wr);
        return NULL;
    }
    return wr;
}

/* ---- hooks used by gc.c and object.c -------------------------------- */

void rcyi_weakref_detach_all(rcy_heap *h, rcy_head_ *obj, rcyi_wr_pending *pending,
                             int skip_unreachable) {
    if (striped_referent(obj)) { /* W5, W8: on a stripe */
        detach_shared(obj, pending, skip_unreachable);
        return;
    }
    obj->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
    detach_list(h, &h->weak, obj, pending, skip_unreachable);
}

size_t rcyi_weakref_run_pending(rcyi_wr_pending *pending) {
    size_t freed = 0;
    /* Every weak reference on the chain is cleared before any callback
     * runs, and each is held, so a callback cannot free the next one. */
    for (rcy_weakref *wr = pending->head; wr; wr = wr->pending) {
        /* A finalize object counts as freed once it fires: Python's
         * weakref.finalize frees the weak reference it keeps inside. */
        if (rcyi_head(wr)->type == &rcyi_finalize_type && ((rcy_finalize *)wr)->alive)
            freed++;
        wr->cb(wr, wr->arg);
    }
    for (rcy_weakref *wr = pending->head; wr;) {
        rcy_weakref *next = wr->pending;
        wr->pending = NULL;
        freed += rcyi_rc_count(rcyi_refcnt_load(rcyi_head(wr))) == 1 &&
                 rcyi_head(wr)->type == &rcy_weakref_type;
        rcy_decref(wr);
        wr = next;
    }
    pending->head = pending->tail = NULL;
    return freed;
}

void rcyi_weakref_kill_if_weakref(rcy_head_ *obj) {
    if (rcyi_is_weakref_type(obj->type)) {
        rcy_weakref *wr = rcyi_obj(obj);
        if (wr->obj)
            unlink_wr(wr);
    }
}

void rcyi_weakref_clear_for(rcy_heap *h, rcy_head_ *obj) {
    if (rcyi_refcnt_load(obj) & RCYI_RC_HIGH) { /* shared, count 0 */
        rcyi_wr_pending pending = {NULL, NULL};
        detach_shared(obj, &pending, 0);
        if (pending.head)
            (void)rcyi_weakref_run_pending(&pending);
        return;
    }
    if (h->gc.stage == RCYI_GC_DONE) {
        obj->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
        return;
    }
    /* Leave the collector first: a callback may allocate and collect,
     * and must not find this dying object among the tracked ones. */
    if (obj->gcword & (RCYI_GC_TRACKED | RCYI_GC_COLLECTING))
        rcyi_gc_on_free(h, obj);
    rcyi_wr_pending pending = {NULL, NULL};
    rcyi_weakref_detach_all(h, obj, &pending, 0);
    if (pending.head)
        (void)rcyi_weakref_run_pending(&pending);
}

static void clear_immortal_list(rcy_head_ *o, void *arg) {
    (void)arg;
    if (rcyi_rc_is_immortal(rcyi_refcnt_load(o)) && (rcyi_gcword_load(o) & RCYI_GC_WEAKREFS))
        detach_shared(o, NULL, 0);
}

void rcyi_weakref_fini(rcy_heap *h) {
    rcyi_weakref_state *wk = &h->weak;
    /* Objects still alive keep their weak references valid-looking until
     * the heap's memory goes; clear them so nothing points into it. */
    for (size_t i = 0; i < wk->cap; i++) {
        rcyi_wr_slot *s = &wk->table[i];
        if (!s->key)
            continue;
        for (rcy_weakref *wr = s->head; wr;) {
            rcy_weakref *next = wr->next;
            wr->obj = NULL;
            wr->prev = wr->next = NULL;
            wr = next;
        }
        s->key->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
    }
    if (wk->table)
        rcyi_free(h, wk->table);
    wk->table = NULL;
    wk->cap = wk->used = 0;
    /* W8: the immortal objects go with the heap; their lists leave the
     * stripes, so a shared weak reference that outlives the heap returns
     * NULL and the address can be a new referent's. */
    if (wk->striped)
        rcyi_walk_all_objects(h, clear_immortal_list, NULL);
    wk->striped = 0;
}

/* ---- public weakref API ------------------------------------------------ */

rcy_weakref *rcy_weakref_new_(void *obj, rcy_weakref_callback cb, void *arg, const char *file,
                              int line, const char *func) {
    RCYI_REQUIRE(obj, NULL);
    return new_wr(obj, &rcy_weakref_type, cb, arg, file, line, func);
}

void *rcy_weakref_get(rcy_weakref *wr) {
    RCYI_REQUIRE(wr, NULL);
    if (RCY_UNLIKELY(!rcyi_is_weakref_type(rcyi_head(wr)->type))) {
        rcyi_misuse_type(__func__, "wr", wr, &rcy_weakref_type);
        return NULL;
    }
    if (RCY_UNLIKELY(wr_shared(wr))) {
        /* W6: the referent may be dying on another thread; its list is
         * cleared under this lock before its memory goes. */
        void *obj = wr_obj(wr);
        if (!obj)
            return NULL;
        stripe *st = stripe_of(rcyi_head(obj));
        pthread_mutex_lock(&st->mu);
        bool alive = wr_obj(wr) == obj && rcyi_try_incref_shared(rcyi_head(obj));
        pthread_mutex_unlock(&st->mu);
        return alive ? obj : NULL;
    }
    if (!wr->obj)
        return NULL;
    rcy_incref(wr->obj);
    return wr->obj;
}

size_t rcy_weakref_getweakrefcount(const void *obj) {
    RCYI_REQUIRE(obj, 0);
    const rcy_head_ *oh = rcyi_head(obj);
    if (!(__atomic_load_n(&oh->gcword, __ATOMIC_RELAXED) & RCYI_GC_WEAKREFS))
        return 0;
    if (striped_referent(oh)) {
        stripe *st = stripe_of(oh);
        size_t n = 0;
        pthread_mutex_lock(&st->mu);
        rcyi_wr_slot *s = table_find(&st->tab, oh);
        for (rcy_weakref *wr = s ? s->head : NULL; wr; wr = wr->next)
            n++;
        pthread_mutex_unlock(&st->mu);
        return n;
    }
    rcy_heap *h = rcy_heap_of(obj);
    rcyi_wr_slot *s = table_find(&h->weak, oh);
    size_t n = 0;
    for (rcy_weakref *wr = s ? s->head : NULL; wr; wr = wr->next)
        n++;
    return n;
}

/* ---- finalize objects ---------------------------------------------- */

static void registry_unlink(rcy_finalize *f) {
    rcyi_weakref_state *wk = &f->wr.heap->weak;
    if (f->reg_prev)
        f->reg_prev->reg_next = f->reg_next;
    else
        wk->fin_first = f->reg_next;
    if (f->reg_next)
        f->reg_next->reg_prev = f->reg_prev;
    f->reg_prev = f->reg_next = NULL;
}

/* Mark dead, leave the registry, optionally run; the registry's
 * reference is dropped last, so f stays valid during fn.  A finalize
 * object of a shared referent may fire on any thread: `alive` and the
 * registry are changed under the lock of the heap's stripe (W4). */
static bool fire(rcy_finalize *f, bool run) {
    stripe *reg = stripe_of(f->wr.heap);
    pthread_mutex_lock(&reg->mu);
    bool was = __atomic_load_n(&f->alive, __ATOMIC_RELAXED);
    if (was) {
        __atomic_store_n(&f->alive, false, __ATOMIC_RELAXED);
        registry_unlink(f);
    }
    pthread_mutex_unlock(&reg->mu);
    if (!was)
        return false;
    /* A dead finalize no longer points to its object (Python drops the
     * weak reference inside at once): getweakrefcount stops counting it
     * and no callback comes later. */
    detach_wr(&f->wr);
    if (run)
        f->fn(f->arg);
    rcy_decref(f);
    return true;
}

static void fin_callback(rcy_weakref *wr, void *arg) {
    (void)arg;
    fire((rcy_finalize *)wr, true);
}

static void fin_destroy(void *self) {
    wr_destroy(self);
}

rcy_finalize *rcy_finalize_new_(void *obj, rcy_finalize_fn fn, void *arg, const char *file,
                                int line, const char *func) {
    RCYI_REQUIRE(obj, NULL);
    RCYI_REQUIRE(fn, NULL);
    rcy_finalize *f =
        (rcy_finalize *)new_wr(obj, &rcyi_finalize_type, fin_callback, NULL, file, line, func);
    if (!f)
        return NULL;
    rcyi_weakref_state *wk = &f->wr.heap->weak;
    f->fn = fn;
    f->arg = arg;
    f->atexit = true;
    rcy_incref(f); /* the registry's reference */
    stripe *reg = stripe_of(f->wr.heap);
    pthread_mutex_lock(&reg->mu);
    __atomic_store_n(&f->alive, true, __ATOMIC_RELAXED);
    f->reg_next = wk->fin_first;
    if (wk->fin_first)
        wk->fin_first->reg_prev = f;
    wk->fin_first = f;
    pthread_mutex_unlock(&reg->mu);
    return f;
}

bool rcy_finalize_call(rcy_finalize *f) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, false);
    return fire(f, true);
}
bool rcy_finalize_detach(rcy_finalize *f) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, false);
    return fire(f, false);
}
bool rcy_finalize_alive(const rcy_finalize *f) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, false);
    return __atomic_load_n(&f->alive, __ATOMIC_RELAXED);
}
void rcy_finalize_set_atexit(rcy_finalize *f, bool atexit) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, );
    f->atexit = atexit;
}
bool rcy_finalize_get_atexit(const rcy_finalize *f) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, false);
    return f->atexit;
}

/* The newest alive finalize object of h's registry (with atexit on, when
 * `atexit`), held by one more reference; NULL when none. */
static rcy_finalize *registry_pick(rcy_heap *h, bool atexit) {
    stripe *reg = stripe_of(h);
    pthread_mutex_lock(&reg->mu);
    rcy_finalize *f = h->weak.fin_first;
    while (f && atexit && !f->atexit)
        f = f->reg_next;
    if (f)
        rcy_incref(f);
    pthread_mutex_unlock(&reg->mu);
    return f;
}

void rcyi_finalize_run_atexit(rcy_heap *h) {
    /* fn may create or kill finalize objects: restart from the newest. */
    rcy_finalize *f;
    while ((f = registry_pick(h, true))) {
        fire(f, true);
        rcy_decref(f);
    }
    while ((f = registry_pick(h, false))) {
        fire(f, false);
        rcy_decref(f);
    }
}
