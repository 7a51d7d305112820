/* src/weakref.c — weak references and one-shot finalize objects.
 *
 * Each heap keeps an open-addressing table from a referent's header to the
 * newest weak reference to it; the weak references to one object form a
 * doubly linked list through the weakref objects themselves.  The
 * referent's WEAKREFS bit says whether it has an entry, so dealloc looks
 * only when needed.
 *
 * Invariants:
 *   wr->obj != NULL  <=>  wr is on the list of head(wr->obj)
 *   an object has a table entry  <=>  WEAKREFS is set  <=>  its list is
 *   non-empty
 *   a finalize object is in the registry (h->gc.fin_first) <=> alive, and
 *   the registry holds one reference to it.
 */
#include "gc.h"

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

static rcyi_wr_slot *table_find(rcyi_gc_state *gc, const rcy_head_ *key) {
    if (!gc->wr_cap)
        return NULL;
    size_t mask = gc->wr_cap - 1;
    for (size_t i = hash_ptr(key, mask);; i = (i + 1) & mask) {
        rcyi_wr_slot *s = &gc->wr_table[i];
        if (s->key == key)
            return s;
        if (!s->key)
            return NULL;
    }
}

static int table_grow(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    size_t ncap = gc->wr_cap ? gc->wr_cap * 2 : 64;
    rcyi_wr_slot *nt = rcyi_alloc(h, ncap * sizeof *nt, RCYI_KIND_RAW);
    if (!nt)
        return RCY_ENOMEM;
    memset(nt, 0, ncap * sizeof *nt);
    for (size_t i = 0; i < gc->wr_cap; i++) {
        rcyi_wr_slot *s = &gc->wr_table[i];
        if (!s->key)
            continue;
        size_t j = hash_ptr(s->key, ncap - 1);
        while (nt[j].key)
            j = (j + 1) & (ncap - 1);
        nt[j] = *s;
    }
    if (gc->wr_table)
        rcyi_free(h, gc->wr_table);
    gc->wr_table = nt;
    gc->wr_cap = ncap;
    return RCY_OK;
}

static rcyi_wr_slot *table_insert(rcy_heap *h, rcy_head_ *key) {
    rcyi_gc_state *gc = &h->gc;
    if ((gc->wr_used + 1) * 2 > gc->wr_cap && table_grow(h) < 0)
        return NULL;
    size_t mask = gc->wr_cap - 1;
    size_t i = hash_ptr(key, mask);
    while (gc->wr_table[i].key)
        i = (i + 1) & mask;
    gc->wr_table[i].key = key;
    gc->wr_table[i].head = NULL;
    gc->wr_used++;
    return &gc->wr_table[i];
}

/* Backward-shift deletion keeps probe chains without tombstones. */
static void table_remove(rcyi_gc_state *gc, rcyi_wr_slot *s) {
    size_t mask = gc->wr_cap - 1;
    size_t i = (size_t)(s - gc->wr_table);
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        rcyi_wr_slot *t = &gc->wr_table[j];
        if (!t->key)
            break;
        size_t home = hash_ptr(t->key, mask);
        /* t may move to i if its home is not in (i, j] cyclically */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            gc->wr_table[i] = *t;
            i = j;
        }
    }
    gc->wr_table[i].key = NULL;
    gc->wr_table[i].head = NULL;
    gc->wr_used--;
}

/* An empty table holds no memory (see vec_reset in gc.c). */
static void table_release_if_empty(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    if (gc->wr_used == 0 && gc->wr_table) {
        rcyi_free(h, gc->wr_table);
        gc->wr_table = NULL;
        gc->wr_cap = 0;
    }
}

/* ---- linking -------------------------------------------------------- */

static void unlink_wr(rcy_weakref *wr) {
    rcy_heap *h = wr->heap;
    rcy_head_ *oh = rcyi_head(wr->obj);
    if (wr->next)
        wr->next->prev = wr->prev;
    if (wr->prev) {
        wr->prev->next = wr->next;
    } else {
        rcyi_wr_slot *s = table_find(&h->gc, oh);
        if (s) {
            if (wr->next) {
                s->head = wr->next;
            } else {
                table_remove(&h->gc, s);
                table_release_if_empty(h);
                oh->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
            }
        }
    }
    wr->obj = NULL;
    wr->prev = wr->next = NULL;
}

static void wr_destroy(void *self) {
    rcy_weakref *wr = self;
    if (wr->obj && wr->heap->gc.finished != 1)
        unlink_wr(wr);
}

static int link_wr(rcy_weakref *wr, void *obj) {
    rcy_heap *h = wr->heap;
    rcy_head_ *oh = rcyi_head(obj);
    rcyi_wr_slot *s = (oh->gcword & RCYI_GC_WEAKREFS) ? table_find(&h->gc, oh) : NULL;
    if (!s) {
        s = table_insert(h, oh);
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
    if (!obj)
        return NULL;
    rcy_heap *h = rcy_heap_of(obj);
    if (!h || h->gc.finished)
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
    rcyi_gc_state *gc = &h->gc;
    rcyi_wr_slot *s = table_find(gc, obj);
    obj->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
    if (!s)
        return;
    rcy_weakref *wr = s->head;
    table_remove(gc, s);
    table_release_if_empty(h);
    /* The list runs newest first, and so do the callbacks: each is
     * appended to the chain, which runs from its head. */
    while (wr) {
        rcy_weakref *next = wr->next;
        wr->obj = NULL;
        wr->prev = wr->next = NULL;
        rcy_head_ *wh = rcyi_head(wr);
        /* No callback for a weak reference that is garbage itself, or
         * that is being freed. */
        if (wr->cb && wh->refcnt != 0 &&
            !(skip_unreachable && (wh->gcword & RCYI_GC_UNREACHABLE))) {
            wh->refcnt++;
            wr->pending = NULL;
            if (pending->tail)
                pending->tail->pending = wr;
            else
                pending->head = wr;
            pending->tail = wr;
        }
        wr = next;
    }
}

size_t rcyi_weakref_run_pending(rcy_heap *h, rcyi_wr_pending *pending) {
    (void)h;
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
        freed += rcyi_head(wr)->refcnt == 1 && rcyi_head(wr)->type == &rcy_weakref_type;
        rcy_decref(wr);
        wr = next;
    }
    pending->head = pending->tail = NULL;
    return freed;
}

void rcyi_weakref_kill_if_weakref(rcy_heap *h, rcy_head_ *obj) {
    (void)h;
    if (rcyi_is_weakref_type(obj->type)) {
        rcy_weakref *wr = rcyi_obj(obj);
        if (wr->obj)
            unlink_wr(wr);
    }
}

void rcyi_weakref_clear_for(rcy_heap *h, rcy_head_ *obj) {
    if (h->gc.finished == 1) {
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
        (void)rcyi_weakref_run_pending(h, &pending);
}

void rcyi_weakref_fini(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    /* Objects still alive keep their weak references valid-looking until
     * the heap's memory goes; clear them so nothing points into it. */
    for (size_t i = 0; i < gc->wr_cap; i++) {
        rcyi_wr_slot *s = &gc->wr_table[i];
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
    if (gc->wr_table)
        rcyi_free(h, gc->wr_table);
    gc->wr_table = NULL;
    gc->wr_cap = gc->wr_used = 0;
}

/* ---- public weakref API ------------------------------------------------ */

rcy_weakref *rcy_weakref_new_(void *obj, rcy_weakref_callback cb, void *arg, const char *file,
                              int line, const char *func) {
    return new_wr(obj, &rcy_weakref_type, cb, arg, file, line, func);
}

void *rcy_weakref_get(rcy_weakref *wr) {
    if (!wr || !wr->obj)
        return NULL;
    rcy_incref(wr->obj);
    return wr->obj;
}

size_t rcy_weakref_getweakrefcount(const void *obj) {
    const rcy_head_ *oh = rcyi_head(obj);
    if (!(oh->gcword & RCYI_GC_WEAKREFS))
        return 0;
    rcy_heap *h = rcy_heap_of(obj);
    rcyi_wr_slot *s = table_find(&h->gc, oh);
    size_t n = 0;
    for (rcy_weakref *wr = s ? s->head : NULL; wr; wr = wr->next)
        n++;
    return n;
}

/* ---- finalize objects ---------------------------------------------- */

static void registry_unlink(rcy_finalize *f) {
    rcyi_gc_state *gc = &f->wr.heap->gc;
    if (f->reg_prev)
        f->reg_prev->reg_next = f->reg_next;
    else
        gc->fin_first = f->reg_next;
    if (f->reg_next)
        f->reg_next->reg_prev = f->reg_prev;
    f->reg_prev = f->reg_next = NULL;
}

/* Mark dead, leave the registry, optionally run; the registry's
 * reference is dropped last, so f stays valid during fn. */
static bool fire(rcy_finalize *f, bool run) {
    if (!f->alive)
        return false;
    f->alive = false;
    registry_unlink(f);
    /* A dead finalize no longer points to its object (Python drops the
     * weak reference inside at once): getweakrefcount stops counting it
     * and no callback comes later. */
    if (f->wr.obj && f->wr.heap->gc.finished != 1)
        unlink_wr(&f->wr);
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
    if (!fn)
        return NULL;
    rcy_finalize *f =
        (rcy_finalize *)new_wr(obj, &rcyi_finalize_type, fin_callback, NULL, file, line, func);
    if (!f)
        return NULL;
    rcyi_gc_state *gc = &f->wr.heap->gc;
    f->fn = fn;
    f->arg = arg;
    f->alive = true;
    f->atexit = true;
    f->reg_next = gc->fin_first;
    if (gc->fin_first)
        gc->fin_first->reg_prev = f;
    gc->fin_first = f;
    rcy_incref(f); /* the registry's reference */
    return f;
}

bool rcy_finalize_call(rcy_finalize *f) {
    return f && fire(f, true);
}
bool rcy_finalize_detach(rcy_finalize *f) {
    return f && fire(f, false);
}
bool rcy_finalize_alive(const rcy_finalize *f) {
    return f && f->alive;
}
void rcy_finalize_set_atexit(rcy_finalize *f, bool atexit) {
    if (f)
        f->atexit = atexit;
}
bool rcy_finalize_get_atexit(const rcy_finalize *f) {
    return f && f->atexit;
}

void rcyi_finalize_run_atexit(rcy_heap *h) {
    rcyi_gc_state *gc = &h->gc;
    /* fn may create or kill finalize objects: restart from the newest. */
    for (;;) {
        rcy_finalize *f = gc->fin_first;
        while (f && !f->atexit)
            f = f->reg_next;
        if (!f)
            break;
        fire(f, true);
    }
    while (gc->fin_first)
        fire(gc->fin_first, false);
}
