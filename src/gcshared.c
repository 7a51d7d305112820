/* src/gcshared.c — the shared graph's collector (gcshared.h L1..L4): the
 * per-heap shared lists, the registry of heaps that have one, and
 * rcy_gc_collect_shared, trial deletion over every heap's shared objects
 * with the world stopped (thread.h S1..S4).
 *
 * The phases mirror gc.c's (src/gc.h), over a set gathered from the
 * lists instead of the generations:
 *   0. stop the world; candidates = every listed object whose word is
 *      shared (not immortal) with a count > 0: COLLECTING set, SLOT =
 *      gc_refs = its count (saturating).  Debug: each candidate's edges
 *      checked for the sharing invariant (share.c), the first
 *      shared-to-private edge reported with both types.
 *   1. refs: each candidate's edges to candidates subtracted.
 *   2. mark: from every candidate with gc_refs > 0, what it reaches loses
 *      COLLECTING; what keeps it is U: UNREACHABLE instead of COLLECTING,
 *      held by one reference.  Every SLOT is then its list index again.
 *      With `markers` == 2 (automatic above RCYI_SHARED_PARALLEL
 *      candidates on a machine with two or more processors) phases 1 and
 *      2 run on the requester and one helper thread, each over half of
 *      the candidates: gc_refs decremented and COLLECTING cleared with
 *      atomic read-modify-writes, each with its own mark stack.
 *   3. legacy finalizers: they and what they reach in U leave U
 *      (uncollectable; they stay alive, nothing is put in a garbage list);
 *      weak references to U cleared and their callbacks run; finalizers
 *      (PEP 442, once: FINALIZED first); resurrection checked as gc.c's
 *      3d (gc_refs recomputed over U, what a count from outside reaches
 *      survives).
 *   4. the rest: `clear` on each, holds dropped; what dies is freed by
 *      refcounting into its own heap.
 * The world stays stopped until the end, finalizers and callbacks
 * included (so a finalizer or weakref callback of a shared object must
 * not wait for another thread), and rcyi_shared_stopped says so (L5):
 * the requester alone counts shared objects meanwhile, with plain loads
 * and stores (the holds here, every decref in object.c, O5), and the
 * blocks of those that die go straight into the pools of heaps whose
 * threads are parked (alloc.h R4) instead of by their remote lists. */
#include "heap.h"
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define RCYI_SHARED_PARALLEL 100000 /* candidates above which 2 markers run */

/* ---- the registry and the lists (L1..L4) ------------------------------ */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static rcy_heap *registry_first;

static struct {
    size_t collections, collected, uncollectable, candidates, markers;
    double stop_seconds, pause_seconds;
} shared_stats;                 /* written by the requester, under registry_lock */
static unsigned markers_wanted; /* 0: automatic */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void list_lock(rcyi_shared_list *l) {
    while (__atomic_exchange_n(&l->lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&l->lock, __ATOMIC_RELAXED))
            cpu_relax();
}

static void list_unlock(rcyi_shared_list *l) {
    __atomic_store_n(&l->lock, 0, __ATOMIC_RELEASE);
}

static void registry_add(rcy_heap *h) {
    pthread_mutex_lock(&registry_lock);
    if (!h->shared.registered) {
        h->shared.registered = 1;
        h->shared.prev = NULL;
        h->shared.next = registry_first;
        if (registry_first)
            registry_first->shared.prev = h;
        registry_first = h;
    }
    pthread_mutex_unlock(&registry_lock);
}

/* A live shared object's SLOT rewritten, its flags kept: another thread
 * may set WEAKREFS (an atomic or, weakref.h W5) meanwhile, so a plain
 * read-modify-write could lose it. */
static void set_slot(rcy_head_ *o, uint32_t slot) {
    uint32_t w = __atomic_load_n(&o->gcword, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&o->gcword, &w, rcyi_gcword_with_slot(w, slot), true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

void rcyi_shared_add(rcy_heap *h, rcy_head_ *o) {
    rcyi_shared_list *l = &h->shared;
    if (!l->registered)
        registry_add(h); /* only the heap's thread adds: no race on the flag */
    list_lock(l);
    if (l->len == l->cap && l->len < RCYI_SLOT_MAX) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        if (cap > RCYI_SLOT_MAX)
            cap = RCYI_SLOT_MAX;
        rcy_raw_allocator *raw = &h->alloc.raw;
        rcy_head_ **p = raw->realloc(raw->ctx, l->items, cap * sizeof *p);
        if (p) {
            l->items = p;
            l->cap = cap;
        }
    }
    if (l->len < l->cap) {
        o->gcword = rcyi_gcword_with_slot(o->gcword, (uint32_t)l->len);
        l->items[l->len++] = o;
    } /* else: on no list (L1), never a candidate */
    list_unlock(l);
}

/* Set by the requester while it frees the garbage (world stopped, so
 * every death is on its thread): a dying object leaves a hole (NULL) in
 * its list, no lock taken, and fill_holes closes them before the world
 * restarts (L1 holds again). */
static int sweeping;

int rcyi_shared_stopped; /* L5 */

/* Unlinks h from the registry (registry lock held) and frees its list;
 * true if it was on it. */
static bool unregister_locked(rcy_heap *h) {
    rcyi_shared_list *l = &h->shared;
    if (!l->registered)
        return false;
    if (l->prev)
        l->prev->shared.next = l->next;
    else
        registry_first = l->next;
    if (l->next)
        l->next->shared.prev = l->prev;
    l->registered = 0;
    list_lock(l);
    h->alloc.raw.free(h->alloc.raw.ctx, l->items);
    l->items = NULL;
    l->len = l->cap = 0;
    list_unlock(l);
    return true;
}

/* L4: an abandoned heap whose list emptied leaves the registry, and its
 * pin goes (the heap may be freed by the unpin, or later by its last
 * unlisted shared object). */
static void abandoned_list_empty(rcy_heap *h) {
    pthread_mutex_lock(&registry_lock);
    bool mine = unregister_locked(h);
    pthread_mutex_unlock(&registry_lock);
    if (mine)
        rcyi_alloc_unpin(h);
}

__attribute__((noinline)) static void forget_locked(rcy_heap *h, rcy_head_ *o);

void rcyi_shared_forget_slow(rcy_heap *h, rcy_head_ *o) {
    rcyi_shared_list *l = &h->shared;
    if (__atomic_load_n(&sweeping, __ATOMIC_RELAXED)) { /* so on the requester (L5) */
        uint32_t i = rcyi_slot(o);
        if (i < l->len && l->items[i] == o) {
            l->items[i] = NULL;
            l->holes++;
        }
        o->gcword = rcyi_gcword_with_slot(o->gcword, RCYI_SLOT_NONE);
        return;
    }
    forget_locked(h, o); /* a tail call: the hole above needs no frame */
}

static void forget_locked(rcy_heap *h, rcy_head_ *o) {
    rcyi_shared_list *l = &h->shared;
    list_lock(l);
    uint32_t i = rcyi_slot(o);
    if (i < l->len && l->items[i] == o) {
        rcy_head_ *last = l->items[--l->len];
        l->items[i] = last;
        if (last != o)
            set_slot(last, i);
    }
    o->gcword = rcyi_gcword_with_slot(o->gcword, RCYI_SLOT_NONE);
    bool emptied = l->abandoned && l->len == 0;
    list_unlock(l);
    if (emptied) /* o itself still counts in the heap's R3 count: h stays */
        abandoned_list_empty(h);
}

size_t rcyi_shared_on_heap_free(rcy_heap *h) {
    rcyi_shared_list *l = &h->shared;
    if (!l->registered)
        return 0;
    list_lock(l);
    for (size_t i = 0; i < l->len;) {
        rcy_head_ *o = l->items[i];
        if (!rcyi_rc_is_immortal(rcyi_refcnt_load(o))) {
            i++;
            continue;
        }
        set_slot(o, RCYI_SLOT_NONE);
        rcy_head_ *last = l->items[--l->len];
        l->items[i] = last;
        if (last != o)
            set_slot(last, (uint32_t)i);
    }
    size_t keep = l->len != 0;
    list_unlock(l);
    if (!keep) {
        pthread_mutex_lock(&registry_lock);
        unregister_locked(h);
        pthread_mutex_unlock(&registry_lock);
    }
    return keep;
}

void rcyi_shared_abandoned(rcy_heap *h) {
    rcyi_shared_list *l = &h->shared;
    list_lock(l);
    l->abandoned = 1;
    bool empty = l->len == 0;
    list_unlock(l);
    if (empty)
        abandoned_list_empty(h);
}

/* ---- phases 1 and 2, on one or two markers ---------------------------- */

/* One marker: SLOT = gc_refs, as gc.c.  Two markers: SLOT = the
 * candidate's index k in cand[] (n <= RCYI_SLOT_MAX), gc_refs in refs[k];
 * marker 0 decrements refs[] and marker 1 counts into its own delta[]
 * with plain stores (an atomic per edge cost more than the second core
 * gave back), summed after the barrier; marking clears COLLECTING with a
 * relaxed store (see take). */
typedef struct marker {
    rcy_head_ **cand;
    size_t lo, hi;
    int two, id;
    uint32_t *refs;  /* two markers: gc_refs by index */
    uint32_t *delta; /* marker 1: its subtractions by index */
    rcy_head_ **stack;
    size_t sp, cap;
    int overflow; /* out of memory for the stack: everything survives */
    pthread_barrier_t *barrier;
} marker;

/* A candidate's gcword: COLLECTING on an untracked object (a private
 * object of a heap parked in its own collection is TRACKED). */
static inline int is_candidate(uint32_t w) {
    return (w & (RCYI_GC_COLLECTING | RCYI_GC_TRACKED)) == RCYI_GC_COLLECTING;
}

static int visit_subtract(void *obj, void *arg) {
    (void)arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if (is_candidate(w) && rcyi_gcword_slot(w) - 1u < RCYI_SLOT_MAX - 1u)
        o->gcword = w - RCYI_GC_SLOT_ONE; /* not 0 (counts are exact), not saturated */
    return 0;
}

static int visit_subtract_refs(void *obj, void *arg) {
    marker *m = arg;
    uint32_t w = __atomic_load_n(&rcyi_head(obj)->gcword, __ATOMIC_RELAXED);
    if (is_candidate(w))
        m->refs[rcyi_gcword_slot(w)]--;
    return 0;
}

static int visit_subtract_delta(void *obj, void *arg) {
    marker *m = arg;
    uint32_t w = __atomic_load_n(&rcyi_head(obj)->gcword, __ATOMIC_RELAXED);
    if (is_candidate(w))
        m->delta[rcyi_gcword_slot(w)]++;
    return 0;
}

static void push(marker *m, rcy_head_ *o) {
    if (m->sp == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        rcy_head_ **p = realloc(m->stack, cap * sizeof *p);
        if (!p) {
            m->overflow = 1;
            return;
        }
        m->stack = p;
        m->cap = cap;
    }
    m->stack[m->sp++] = o;
}

/* Clears COLLECTING on a candidate; true when it was set.  With two
 * markers a relaxed store, not a read-modify-write: in index mode only
 * COLLECTING changes in a gcword during marking, so two markers racing on
 * one object store the same word, and marking twice is idempotent (a
 * locked instruction per object cost more than the second core saved). */
static inline int take(marker *m, rcy_head_ *o) {
    uint32_t w = __atomic_load_n(&o->gcword, __ATOMIC_RELAXED);
    if (!is_candidate(w))
        return 0;
    if (m->two) /* both markers may take it at once: each then traverses it, harmlessly */
        __atomic_store_n(&o->gcword, w & ~RCYI_GC_COLLECTING, __ATOMIC_RELAXED);
    else
        o->gcword = w & ~RCYI_GC_COLLECTING;
    return 1;
}

static int visit_mark(void *obj, void *arg) {
    marker *m = arg;
    rcy_head_ *o = rcyi_head(obj);
    if (take(m, o))
        push(m, o);
    return 0;
}

static void *run_marker(void *arg) {
    marker *m = arg;
    rcy_visitproc sub = !m->two ? visit_subtract
                        : m->id ? visit_subtract_delta
                                : visit_subtract_refs;
    for (size_t i = m->lo; i < m->hi; i++)
        m->cand[i]->type->traverse(rcyi_obj(m->cand[i]), sub, m);
    if (m->barrier)
        pthread_barrier_wait(m->barrier);
    for (size_t i = m->lo; i < m->hi; i++) {
        rcy_head_ *o = m->cand[i];
        uint32_t w = __atomic_load_n(&o->gcword, __ATOMIC_RELAXED);
        int root = m->two ? m->refs[i] != (m->delta ? m->delta[i] : 0) : rcyi_gcword_slot(w) != 0;
        if (!(w & RCYI_GC_COLLECTING) || !root || !take(m, o))
            continue;
        push(m, o);
        while (m->sp) {
            rcy_head_ *p = m->stack[--m->sp];
            p->type->traverse(rcyi_obj(p), visit_mark, m);
        }
    }
    return NULL;
}

static unsigned markers_for(size_t n) {
    if (markers_wanted)
        return markers_wanted;
    if (n <= RCYI_SHARED_PARALLEL)
        return 1;
    return sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
}

/* Phases 1-2 over cand[0..n) (SLOT = gc_refs on entry); returns the
 * markers used, or -1 when a marker ran out of memory (then nothing is
 * garbage). */
static int mark_phases(rcy_head_ **cand, size_t n, uint32_t *refs) {
    marker m[2] = {{cand, 0, n, 0, 0, NULL, NULL, NULL, 0, 0, 0, NULL},
                   {cand, n, n, 0, 1, NULL, NULL, NULL, 0, 0, 0, NULL}};
    pthread_barrier_t barrier;
    pthread_t helper;
    uint32_t *delta = refs ? calloc(n ? n : 1, sizeof *delta) : NULL;
    int two = delta && n >= 2 && pthread_barrier_init(&barrier, NULL, 2) == 0;
    if (refs) {
        /* Index mode (SLOT = k, refs[k] = gc_refs, set by the gather);
         * without delta[] or a helper, marker 0 does it all alone. */
        m[0].two = m[1].two = 1;
        m[0].refs = m[1].refs = refs;
        m[0].delta = m[1].delta = delta;
    }
    if (two) {
        m[0].hi = m[1].lo = n / 2;
        m[0].barrier = m[1].barrier = &barrier;
        if (pthread_create(&helper, NULL, run_marker, &m[1]) != 0) {
            pthread_barrier_destroy(&barrier);
            two = 0;
            m[0].hi = m[1].lo = n;
            m[0].barrier = NULL;
        }
    }
    run_marker(&m[0]);
    if (two) {
        pthread_join(helper, NULL);
        pthread_barrier_destroy(&barrier);
    }
    free(delta);
    free(m[0].stack);
    free(m[1].stack);
    return m[0].overflow || m[1].overflow ? -1 : two ? 2 : 1;
}

/* ---- the collection -------------------------------------------------- */

/* Each hole takes the list's last entry (moves <= holes objects). */
static void fill_holes(void) {
    rcy_heap *emptied = NULL; /* abandoned heaps whose list emptied (L4) */
    pthread_mutex_lock(&registry_lock);
    for (rcy_heap *h = registry_first, *next; h; h = next) {
        rcyi_shared_list *l = &h->shared;
        next = l->next;
        if (!l->holes)
            continue;
        list_lock(l);
        for (size_t i = 0; i < l->len; i++) {
            while (l->len > i && !l->items[l->len - 1])
                l->len--;
            if (i < l->len && !l->items[i]) {
                rcy_head_ *last = l->items[--l->len];
                l->items[i] = last;
                set_slot(last, (uint32_t)i);
            }
        }
        l->holes = 0;
        bool drop = l->abandoned && l->len == 0;
        list_unlock(l);
        if (drop && unregister_locked(h)) {
            l->next = emptied; /* off the registry: the link is free */
            emptied = h;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    while (emptied) {
        rcy_heap *h = emptied;
        emptied = h->shared.next;
        rcyi_alloc_unpin(h); /* may free h */
    }
}

static int debug_mode(void) {
#ifdef RCY_DEBUG
    return 1;
#else
    for (rcy_heap *h = registry_first; h; h = h->shared.next)
        if (h->debug)
            return 1;
    return 0;
#endif
}

/* U members leave U: UNREACHABLE cleared, hold dropped (they are alive:
 * something else still refers to them, so the drop frees nothing). */
static void unhold(rcy_head_ *o) {
    o->gcword &= ~RCYI_GC_UNREACHABLE;
    rcyi_decref_shared_stopped(o); /* object.h O5: nobody else counts */
}

typedef struct rescue {
    rcy_head_ **stack;
    size_t sp, cap;
    int overflow;
} rescue;

static int visit_rescue(void *obj, void *arg) {
    rescue *r = arg;
    rcy_head_ *o = rcyi_head(obj);
    if ((o->gcword & RCYI_GC_UNREACHABLE) && rcyi_rc_is_shared(rcyi_refcnt_load(o))) {
        unhold(o);
        if (r->sp == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 256;
            rcy_head_ **p = realloc(r->stack, cap * sizeof *p);
            if (!p) {
                r->overflow = 1;
                return 0;
            }
            r->stack = p;
            r->cap = cap;
        }
        r->stack[r->sp++] = o;
    }
    return 0;
}

/* o (already out of U) and what it reaches in U leave U. */
static void rescue_from(rescue *r, rcy_head_ *o) {
    o->type->traverse(rcyi_obj(o), visit_rescue, r);
    while (r->sp) {
        rcy_head_ *p = r->stack[--r->sp];
        p->type->traverse(rcyi_obj(p), visit_rescue, r);
    }
}

static int visit_resurrect_sub(void *obj, void *arg) {
    (void)arg;
    rcy_head_ *o = rcyi_head(obj);
    uint32_t w = o->gcword;
    if ((w & RCYI_GC_UNREACHABLE) && rcyi_rc_is_shared(rcyi_refcnt_load(o)) &&
        rcyi_gcword_slot(w) - 1u < RCYI_SLOT_MAX - 1u)
        o->gcword = w - RCYI_GC_SLOT_ONE;
    return 0;
}

/* 3d: which members of U are referenced from outside U again?  No user
 * code runs here, so SLOT may hold gc_refs for a while (saved first). */
static void handle_resurrected(rcy_head_ **u, size_t nu, rescue *r) {
    uint32_t *save = malloc(nu * sizeof *save);
    if (!save) { /* conservatively: everything resurrected */
        for (size_t i = 0; i < nu; i++)
            if (u[i]->gcword & RCYI_GC_UNREACHABLE)
                unhold(u[i]);
        return;
    }
    for (size_t i = 0; i < nu; i++) {
        rcy_head_ *o = u[i];
        save[i] = rcyi_slot(o);
        uint32_t c = rcyi_rc_count(rcyi_refcnt_load(o)) - 1; /* minus the hold */
        o->gcword = rcyi_gcword_with_slot(o->gcword, c >= RCYI_SLOT_MAX ? RCYI_SLOT_MAX : c);
    }
    for (size_t i = 0; i < nu; i++)
        if (u[i]->gcword & RCYI_GC_UNREACHABLE)
            u[i]->type->traverse(rcyi_obj(u[i]), visit_resurrect_sub, NULL);
    /* Roots first (by their own gc_refs, before any rescue changes a
     * SLOT), then their closures. */
    size_t nroots = 0;
    for (size_t i = 0; i < nu; i++)
        if ((u[i]->gcword & RCYI_GC_UNREACHABLE) && rcyi_slot(u[i]) > 0) {
            rcy_head_ *t = u[nroots];
            u[nroots] = u[i];
            u[i] = t;
            uint32_t s = save[nroots];
            save[nroots] = save[i];
            save[i] = s;
            nroots++;
        }
    for (size_t i = 0; i < nroots; i++)
        if (u[i]->gcword & RCYI_GC_UNREACHABLE) {
            unhold(u[i]);
            rescue_from(r, u[i]);
        }
    for (size_t i = 0; i < nu; i++)
        u[i]->gcword = rcyi_gcword_with_slot(u[i]->gcword, save[i]);
    free(save);
}

static ssize_t collect(void) {
    double t0 = rcyi_os_clock_seconds();
    rcyi_world_stop();
    __atomic_store_n(&rcyi_shared_stopped, 1, __ATOMIC_RELAXED);
    double t1 = rcyi_os_clock_seconds();
    pthread_mutex_lock(&registry_lock);
    size_t total = 0;
    for (rcy_heap *h = registry_first; h; h = h->shared.next)
        total += h->shared.len;
    rcy_head_ **cand = malloc((total ? total : 1) * sizeof *cand);
    uint32_t *lidx = malloc((total ? total : 1) * sizeof *lidx); /* list index by candidate */
    /* Two markers: index mode (see mark_phases). */
    uint32_t *refs = markers_for(total) >= 2 && total <= RCYI_SLOT_MAX
                         ? malloc((total ? total : 1) * sizeof *refs)
                         : NULL;
    if (!cand || !lidx) {
        free(cand);
        free(lidx);
        free(refs);
        pthread_mutex_unlock(&registry_lock);
        __atomic_store_n(&rcyi_shared_stopped, 0, __ATOMIC_RELAXED);
        rcyi_world_start();
        return RCY_ENOMEM;
    }
    size_t n = 0;
    for (rcy_heap *h = registry_first; h; h = h->shared.next) {
        rcyi_shared_list *l = &h->shared;
        list_lock(l);
        for (size_t i = 0; i < l->len; i++) {
            rcy_head_ *o = l->items[i];
            uint32_t rc = rcyi_refcnt_load(o);
            uint32_t c = rcyi_rc_count(rc);
            if (!rcyi_rc_is_shared(rc) || c == 0)
                continue; /* immortal, or being deallocated by a parked thread */
            if (refs) {
                refs[n] = c;
                o->gcword = rcyi_gcword_with_slot(o->gcword, (uint32_t)n) | RCYI_GC_COLLECTING;
            } else {
                o->gcword =
                    rcyi_gcword_with_slot(o->gcword, c >= RCYI_SLOT_MAX ? RCYI_SLOT_MAX : c) |
                    RCYI_GC_COLLECTING;
            }
            lidx[n] = (uint32_t)i;
            cand[n++] = o;
        }
        list_unlock(l);
    }
    if (debug_mode()) {
        size_t bad = 0;
        for (size_t i = 0; i < n && !bad; i++)
            bad += rcyi_share_check_children(cand[i]);
    }
    int used = mark_phases(cand, n, refs);
    free(refs);
    /* U: what still has COLLECTING (nothing, out of memory); every SLOT
     * its list index again (L1). */
    size_t nu = 0;
    int any_legacy = 0, any_weak = 0, any_fin = 0; /* skip 3a-3d when nothing needs them */
    for (size_t i = 0; i < n; i++) {
        rcy_head_ *o = cand[i];
        uint32_t w = rcyi_gcword_with_slot(o->gcword & ~RCYI_GC_COLLECTING, lidx[i]);
        if ((o->gcword & RCYI_GC_COLLECTING) && used > 0) {
            const rcy_type *t = o->type;
            any_legacy |= (t->flags & RCY_TYPE_LEGACY_FINALIZER) != 0;
            any_weak |= (w & RCYI_GC_WEAKREFS) || rcyi_is_weakref_type(t);
            any_fin |= t->finalize && !(w & RCYI_GC_FINALIZED);
            w |= RCYI_GC_UNREACHABLE;
            /* The hold: a plain add, the world is stopped (object.h O5). */
            __atomic_store_n(&o->refcnt, rcyi_refcnt_load(o) + 1, __ATOMIC_RELAXED);
            cand[nu++] = o;
        }
        o->gcword = w;
    }
    free(lidx);
    shared_stats.collections++;
    shared_stats.candidates = n;
    shared_stats.markers = used > 0 ? (unsigned)used : 1;
    pthread_mutex_unlock(&registry_lock);

    rcy_head_ **u = cand;
    rescue r = {NULL, 0, 0, 0};
    /* 3a: legacy finalizers and what they reach in U stay. */
    size_t uncollectable = 0, k = 0;
    if (any_legacy) {
        for (size_t i = 0; i < nu; i++)
            if ((u[i]->type->flags & RCY_TYPE_LEGACY_FINALIZER) &&
                (u[i]->gcword & RCYI_GC_UNREACHABLE)) {
                unhold(u[i]);
                rescue_from(&r, u[i]);
            }
        for (size_t i = 0; i < nu; i++)
            if (u[i]->gcword & RCYI_GC_UNREACHABLE)
                u[k++] = u[i];
            else
                uncollectable++;
        nu = k;
    }
    /* 3b: weak references. */
    if (any_weak) {
        rcyi_wr_pending pending = {NULL, NULL};
        for (size_t i = 0; i < nu; i++)
            rcyi_weakref_kill_if_weakref(u[i]);
        for (size_t i = 0; i < nu; i++)
            if (u[i]->gcword & RCYI_GC_WEAKREFS)
                rcyi_weakref_detach_all(rcyi_heap_of_head(u[i]), u[i], &pending, 1);
        if (pending.head)
            (void)rcyi_weakref_run_pending(&pending);
    }
    /* 3c: finalizers, once each. */
    int finalized = 0;
    for (size_t i = 0; i < nu && any_fin; i++) {
        rcy_head_ *o = u[i];
        if (o->type->finalize && !(o->gcword & RCYI_GC_FINALIZED)) {
            o->gcword |= RCYI_GC_FINALIZED;
            o->type->finalize(rcyi_obj(o));
            finalized = 1;
        }
    }
    /* 3d: resurrection. */
    if (finalized) {
        handle_resurrected(u, nu, &r);
        k = 0;
        for (size_t i = 0; i < nu; i++)
            if (u[i]->gcword & RCYI_GC_UNREACHABLE)
                u[k++] = u[i];
        nu = k;
    }
    if (r.overflow) { /* a rescue lost part of its walk: keep the rest too */
        for (size_t i = 0; i < nu; i++)
            unhold(u[i]);
        nu = 0;
    }
    free(r.stack);
    /* 4: clear, then drop the holds (a member cleared early stays alive
     * while later members still refer to it). */
    __atomic_store_n(&sweeping, 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < nu; i++) {
        u[i]->gcword &= ~RCYI_GC_UNREACHABLE;
        if (u[i]->type->clear)
            u[i]->type->clear(rcyi_obj(u[i]));
        rcyi_decref_shared_stopped(u[i]); /* the hold (O5) */
    }
    __atomic_store_n(&sweeping, 0, __ATOMIC_RELAXED);
    fill_holes();
    free(cand);
    pthread_mutex_lock(&registry_lock);
    shared_stats.collected += nu;
    shared_stats.uncollectable += uncollectable;
    shared_stats.stop_seconds = t1 - t0;
    shared_stats.pause_seconds = rcyi_os_clock_seconds() - t0;
    pthread_mutex_unlock(&registry_lock);
    __atomic_store_n(&rcyi_shared_stopped, 0, __ATOMIC_RELAXED);
    rcyi_world_start();
    return (ssize_t)nu;
}

ssize_t rcy_gc_collect_shared(void) {
    if (rcyi_world_acting())
        return 0; /* from a finalizer or callback of this collection */
    return collect();
}

void rcy_gc_set_shared_markers(unsigned markers) {
    __atomic_store_n(&markers_wanted, markers > 2 ? 2 : markers, __ATOMIC_RELAXED);
}

int rcy_gc_get_shared_stats(rcy_gc_shared_stats *stats) {
    RCYI_REQUIRE(stats, RCY_EINVAL);
    if (stats->size < offsetof(rcy_gc_shared_stats, collections))
        return RCY_EINVAL;
    rcy_gc_shared_stats full;
    memset(&full, 0, sizeof full);
    full.size = stats->size;
    full.version = RCY_GC_SHARED_STATS_VERSION;
    pthread_mutex_lock(&registry_lock);
    full.collections = shared_stats.collections;
    full.collected = shared_stats.collected;
    full.uncollectable = shared_stats.uncollectable;
    full.last_candidates = shared_stats.candidates;
    full.last_markers = shared_stats.markers;
    full.last_stop_seconds = shared_stats.stop_seconds;
    full.last_pause_seconds = shared_stats.pause_seconds;
    for (rcy_heap *h = registry_first; h; h = h->shared.next) {
        list_lock(&h->shared);
        full.listed += h->shared.len;
        list_unlock(&h->shared);
    }
    pthread_mutex_unlock(&registry_lock);
    memcpy(stats, &full, stats->size < sizeof full ? stats->size : sizeof full);
    return RCY_OK;
}
