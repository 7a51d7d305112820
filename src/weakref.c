/* src/weakref.c — weak references and one-shot finalize objects.
 *
 * The table, the registry and their invariants (W1..W4) are described in
 * src/weakref.h. */
#include "heap.h"

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

static int table_grow(rcy_heap *h) {
    rcyi_weakref_state *wk = &h->weak;
    size_t ncap = wk->cap ? wk->cap * 2 : 64;
    rcyi_wr_slot *nt = rcyi_alloc(h, ncap * sizeof *nt, RCYI_KIND_RAW);
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
        rcyi_free(h, wk->table);
    wk->table = nt;
    wk->cap = ncap;
    return RCY_OK;
}

static rcyi_wr_slot *table_insert(rcy_heap *h, rcy_head_ *key) {
    rcyi_weakref_state *wk = &h->weak;
    if ((wk->used + 1) * 2 > wk->cap && table_grow(h) < 0)
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
static void table_release_if_empty(rcy_heap *h) {
    rcyi_weakref_state *wk = &h->weak;
    if (wk->used == 0 && wk->table) {
        rcyi_free(h, wk->table);
        wk->table = NULL;
        wk->cap = 0;
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
        rcyi_wr_slot *s = table_find(&h->weak, oh);
        if (s) {
            if (wr->next) {
                s->head = wr->next;
            } else {
                table_remove(&h->weak, s);
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
    if (wr->obj && wr->heap->gc.stage != RCYI_GC_DONE)
        unlink_wr(wr);
}

static int link_wr(rcy_weakref *wr, void *obj) {
    rcy_heap *h = wr->heap;
    rcy_head_ *oh = rcyi_head(obj);
    rcyi_wr_slot *s = (oh->gcword & RCYI_GC_WEAKREFS) ? table_find(&h->weak, oh) : NULL;
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
    rcyi_weakref_state *wk = &h->weak;
    rcyi_wr_slot *s = table_find(wk, obj);
    obj->gcword &= ~(uint32_t)RCYI_GC_WEAKREFS;
    if (!s)
        return;
    rcy_weakref *wr = s->head;
    table_remove(wk, s);
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
        freed += rcyi_head(wr)->refcnt == 1 && rcyi_head(wr)->type == &rcy_weakref_type;
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
    if (!wr->obj)
        return NULL;
    rcy_incref(wr->obj);
    return wr->obj;
}

size_t rcy_weakref_getweakrefcount(const void *obj) {
    RCYI_REQUIRE(obj, 0);
    const rcy_head_ *oh = rcyi_head(obj);
    if (!(oh->gcword & RCYI_GC_WEAKREFS))
        return 0;
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
 * reference is dropped last, so f stays valid during fn. */
static bool fire(rcy_finalize *f, bool run) {
    if (!f->alive)
        return false;
    f->alive = false;
    registry_unlink(f);
    /* A dead finalize no longer points to its object (Python drops the
     * weak reference inside at once): getweakrefcount stops counting it
     * and no callback comes later. */
    if (f->wr.obj && f->wr.heap->gc.stage != RCYI_GC_DONE)
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
    RCYI_REQUIRE(obj, NULL);
    RCYI_REQUIRE(fn, NULL);
    rcy_finalize *f =
        (rcy_finalize *)new_wr(obj, &rcyi_finalize_type, fin_callback, NULL, file, line, func);
    if (!f)
        return NULL;
    rcyi_weakref_state *wk = &f->wr.heap->weak;
    f->fn = fn;
    f->arg = arg;
    f->alive = true;
    f->atexit = true;
    f->reg_next = wk->fin_first;
    if (wk->fin_first)
        wk->fin_first->reg_prev = f;
    wk->fin_first = f;
    rcy_incref(f); /* the registry's reference */
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
    return f->alive;
}
void rcy_finalize_set_atexit(rcy_finalize *f, bool atexit) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, );
    f->atexit = atexit;
}
bool rcy_finalize_get_atexit(const rcy_finalize *f) {
    RCYI_REQUIRE_TYPE(f, &rcyi_finalize_type, false);
    return f->atexit;
}

void rcyi_finalize_run_atexit(rcy_heap *h) {
    rcyi_weakref_state *wk = &h->weak;
    /* fn may create or kill finalize objects: restart from the newest. */
    for (;;) {
        rcy_finalize *f = wk->fin_first;
        while (f && !f->atexit)
            f = f->reg_next;
        if (!f)
            break;
        fire(f, true);
    }
    while (wk->fin_first)
        fire(wk->fin_first, false);
}
