/* src/tracemalloc.c — the tracemalloc engine's events and control API:
 * the event guard, the hooks that record every traced allocation and free
 * (rcyi_trace_alloc, rcyi_trace_free, rcy_tracemalloc_track/untrack, the
 * take/put-back pair), the stack captured for each, and the public
 * control functions (start, stop, clear, get_traced_memory, counters,
 * snapshots, get_object_traceback), with the tracer's raw memory.
 *
 * Every event runs between event_begin and event_end, which mark the
 * thread's record "in an event" (tracemalloc_threads.c).  Operations that
 * read or reset the whole state STOP THE WORLD through the stopper
 * bracket.  An event finds its traceback through the caches of
 * tracemalloc_tracebacks.c (above one frame, with the native return
 * addresses of frames.c, resolved to symbols only when a snapshot is
 * reported) and records the trace in the tables of tracemalloc_traces.c.
 *
 * Locks and invariants: src/tracemalloc_engine.h.
 */
#include "tracemalloc_engine.h"
#include "options.h"
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

/* ---- raw memory --------------------------------------------------------- */

static size_t tm_mapped; /* bytes mapped by the tracer (atomic) */

void *rcyi_tm_map(size_t size) {
    void *p = rcyi_os_map(size);
    if (!p)
        return NULL;
    __atomic_add_fetch(&tm_mapped, size, __ATOMIC_RELAXED);
    return p;
}

void rcyi_tm_unmap(void *p, size_t size) {
    if (!p)
        return;
    rcyi_os_unmap(p, size);
    __atomic_sub_fetch(&tm_mapped, size, __ATOMIC_RELAXED);
}

void *rcyi_tm_chunk_alloc(rcyi_tm_chunk **list, size_t n) {
    n = (n + 7) & ~(size_t)7;
    rcyi_tm_chunk *c = *list;
    if (!c || c->size - c->used < n) {
        size_t sz = rcyi_tm_page_round(n + sizeof(rcyi_tm_chunk) + 15);
        if (sz < 65536)
            sz = 65536;
        c = rcyi_tm_map(sz);
        if (!c)
            return NULL;
        c->size = sz;
        c->used = (sizeof(rcyi_tm_chunk) + 15) & ~(size_t)15;
        c->next = *list;
        *list = c;
    }
    void *p = (char *)c + c->used;
    c->used += n;
    return p;
}

void rcyi_tm_chunks_free(rcyi_tm_chunk **list) {
    while (*list) {
        rcyi_tm_chunk *c = *list;
        *list = c->next;
        rcyi_tm_unmap(c, c->size);
    }
}

/* ---- the event guard ---------------------------------------------------- */

int rcyi_tracing = 0; /* read relaxed by the hooks' callers */

/* In an event that lowers the traced memory, before it does: take the
 * picture at peak if one is due.  Leaves and re-enters the event around
 * the copy (a stopper must not wait for a thread that waits for it). */
static inline rcyi_tm_thread *peak_check(rcyi_tm_thread *thr) {
    if (RCY_LIKELY(!__atomic_load_n(&rcyi_tm_peak.dirty, __ATOMIC_RELAXED)))
        return thr;
    rcyi_tm_ev_leave(thr);
    if (__atomic_exchange_n(&rcyi_tm_peak.dirty, 0, __ATOMIC_RELAXED)) {
        rcyi_tm_world_stop();
        rcyi_tm_peak_copy_locked();
        rcyi_tm_world_resume();
    }
    return rcyi_tm_ev_enter();
}

/* The event guard, around every traced allocation, free, track, untrack,
 * take and put back: NULL when this thread already runs tracer code (its
 * own mallocs are not traced) or has no record; otherwise the thread is
 * busy and inside an event until event_end.  `lowers`: the event lowers
 * the traced memory, so the picture at peak is taken first if one is due
 * (peak_check). */
static inline __attribute__((always_inline)) rcyi_tm_thread *event_begin(bool lowers) {
    if (rcyi_tm_busy)
        return NULL;
    rcyi_tm_busy = 1;
    rcyi_tm_thread *thr = rcyi_tm_ev_enter();
    if (lowers && RCY_LIKELY(thr != NULL))
        thr = peak_check(thr);
    if (RCY_UNLIKELY(thr == NULL))
        rcyi_tm_busy = 0;
    return thr;
}

static inline __attribute__((always_inline)) void event_end(rcyi_tm_thread *thr) {
    rcyi_tm_ev_leave(thr);
    rcyi_tm_busy = 0;
}

/* In an event: record (domain, ptr) -> size, id.  `hook`: ptr comes from
 * recycle's own allocation hooks (a live block of the caller's heap), so
 * it may go to the block table. */
static inline bool add_trace(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size,
                             uint32_t id, bool hook) {
    if (RCY_LIKELY(hook && domain == 0 && size < UINT32_MAX) && rcyi_tm_bt_add(thr, ptr, size, id))
        return true;
    return rcyi_tm_shard_add(thr, domain, ptr, size, id, true);
}

/* In an event, after an allocation traced with traceback t: its call
 * site's counters, and it becomes the thread's last allocation.  Plain
 * adds while one thread traces (no other event runs meanwhile: see
 * rcyi_tm_gs.multi), atomic ones after. */
static inline __attribute__((always_inline)) void
count_alloc(rcyi_tm_thread *thr, uintptr_t ptr, size_t size, rcyi_tb *t, uint32_t id) {
    if (RCY_LIKELY(!thr->locking)) {
        t->allocs++;
        t->allocated += size;
    } else {
        __atomic_add_fetch(&t->allocs, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&t->allocated, size, __ATOMIC_RELAXED);
    }
    thr->tmp_ptr = ptr;
    thr->tmp_id = id;
}

/* The thread's last allocation was just freed: one temporary for its
 * traceback. */
__attribute__((noinline)) static void count_temporary(rcyi_tm_thread *thr) {
    rcyi_tb *t = rcyi_tm_tb_get(thr->tmp_id);
    thr->tmp_id = 0;
    if (RCY_LIKELY(!thr->locking))
        t->temporary++;
    else
        __atomic_add_fetch(&t->temporary, 1, __ATOMIC_RELAXED);
}

/* In an event, the trace of ptr with traceback id (0: none) just went: a
 * temporary allocation when it was the thread's last allocation
 * (heaptrack's definition: freed before the thread allocated anything
 * else).  The id names the domain too. */
static inline __attribute__((always_inline)) void count_free(rcyi_tm_thread *thr, uintptr_t ptr,
                                                             uint32_t id) {
    if (RCY_UNLIKELY(thr->tmp_ptr == ptr) && thr->tmp_id == id && id)
        count_temporary(thr);
}

/* add_trace, counted (t: the traceback, its id). */
static inline bool add_counted(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, size_t size,
                               rcyi_tb *t, bool hook) {
    uint32_t id = t->id; /* read once: the trace's stores may alias it */
    if (!add_trace(thr, domain, ptr, size, id, hook))
        return false;
    count_alloc(thr, ptr, size, t, id);
    return true;
}

static inline void remove_trace(rcyi_tm_thread *thr, unsigned domain, uintptr_t ptr, bool hook) {
    uint32_t id = 0;
    if (RCY_LIKELY(hook && domain == 0))
        id = rcyi_tm_bt_remove(thr, ptr);
    if (!id)
        id = rcyi_tm_shard_remove(thr, domain, ptr);
    count_free(thr, ptr, id);
}

/* ---- with the world stopped -------------------------------------------------- */

/* Every trace and traceback goes; so do the threads' deltas and caches,
 * which count and name them. */
static void clear_locked(void) {
    rcyi_tm_traces_clear_locked();
    rcyi_tm_tracebacks_clear_locked();
    rcyi_tm_threads_clear_locked();
    __atomic_store_n(&rcyi_tm_gs.cur, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&rcyi_tm_gs.peak, 0, __ATOMIC_RELAXED);
}

/* ---- hooks ---------------------------------------------------------------------- */

#define STACK_PCS 128

/* Room for *want return addresses: stackbuf (STACK_PCS entries) when that
 * is enough, else pages from the tracer's own mmap (*mapped bytes, to be
 * unmapped by the caller); when mapping fails, stackbuf with *want cut to
 * STACK_PCS. */
static uintptr_t *stack_room(uintptr_t *stackbuf, int *want, size_t *mapped) {
    *mapped = 0;
    if (*want <= STACK_PCS)
        return stackbuf;
    size_t bytes = rcyi_tm_page_round((size_t)*want * sizeof *stackbuf);
    uintptr_t *pcs = rcyi_tm_map(bytes);
    if (!pcs) {
        *want = STACK_PCS;
        return stackbuf;
    }
    *mapped = bytes;
    return pcs;
}

/* The walker fills the stack buffers; gcc cannot see that through the
 * call. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/* The script frames of the frame source, if one is set, into pcs (room
 * for `limit`), called out of the event (the thread stays busy): a source
 * that blocks, or calls the tracer, never holds up a stopper.  Returns how
 * many (*stotal: the script's depth) and the thread's record in an event
 * again, or NULL when tracing stopped meanwhile (the thread is then no
 * longer busy). */
static rcyi_tm_thread *script_frames(rcyi_tm_thread *thr, const rcyi_fsource *src, int limit,
                                     uintptr_t *pcs, int *n, int *stotal) {
    *n = *stotal = 0;
    if (!src)
        return thr;
    rcyi_tm_ev_leave(thr);
    *n = rcyi_fsource_capture(src, &thr->sfc, limit, pcs, stotal);
    thr = rcyi_tm_ev_enter();
    if (!thr)
        rcyi_tm_busy = 0;
    return thr;
}

/* With a frame source: the script frames, then (with none, or in
 * RCY_FRAMES_NATIVE mode) the call site and the native stack from the
 * hook's own frame `fp`.  Ends the event. */
__attribute__((noinline)) static void
trace_alloc_script(rcyi_tm_thread *thr, const rcyi_fsource *src, uintptr_t fp, unsigned domain,
                   const void *ptr, size_t size, const char *file, int line, const char *func) {
    int limit = __atomic_load_n(&rcyi_tm_gs.limit, __ATOMIC_RELAXED);
    uintptr_t stackbuf[STACK_PCS];
    int nscript, stotal, total = 0;
    int want = limit + limit - 1 + RCYI_TM_SLACK;
    size_t mapped;
    uintptr_t *pcs = stack_room(stackbuf, &want, &mapped);
    if (want < limit)
        limit = want;
    if (!(thr = script_frames(thr, src, limit, pcs, &nscript, &stotal)))
        goto out;
    uint32_t id;
    if (nscript && !(src->flags & RCY_FRAMES_NATIVE)) {
        id = rcyi_tm_tb_lookup(thr, domain, NULL, 0, NULL, pcs, nscript, stotal);
    } else if (limit == 1 && !nscript) {
        rcyi_tb *t = rcyi_tm_cs_lookup(thr, domain, file, line, func);
        id = t ? t->id : 0;
    } else {
        int npcs = rcyi_walk_stack(fp, pcs + nscript, want - nscript, 0, &total);
        total += stotal;
        id = rcyi_tm_tb_lookup(thr, domain, file, line, func, pcs, nscript + npcs,
                               total > 65535 ? 65535 : total);
    }
    if (id)
        add_counted(thr, domain, (uintptr_t)ptr, size, rcyi_tm_tb_get(id), true);
    event_end(thr);
out:
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
}

/* Above one frame, or with a frame source: the native stack from the
 * hook's own frame `fp` (or trace_alloc_script).  Ends the event. */
__attribute__((noinline)) static void trace_alloc_frames(rcyi_tm_thread *thr, uintptr_t fp,
                                                         unsigned domain, const void *ptr,
                                                         size_t size, const char *file, int line,
                                                         const char *func) {
    const rcyi_fsource *src = __atomic_load_n(&rcyi_tm_gs.source, __ATOMIC_ACQUIRE);
    if (RCY_UNLIKELY(src != NULL)) {
        trace_alloc_script(thr, src, fp, domain, ptr, size, file, line, func);
        return;
    }
    int limit = __atomic_load_n(&rcyi_tm_gs.limit, __ATOMIC_RELAXED);
    uintptr_t stackbuf[STACK_PCS];
    int total = 0;
    int want = limit - 1 + RCYI_TM_SLACK;
    size_t mapped;
    uintptr_t *pcs = stack_room(stackbuf, &want, &mapped);
    int npcs = rcyi_walk_stack(fp, pcs, want, 0, &total);
    uint32_t id = rcyi_tm_tb_lookup(thr, domain, file, line, func, pcs, npcs, total);
    if (id)
        add_counted(thr, domain, (uintptr_t)ptr, size, rcyi_tm_tb_get(id), true);
    event_end(thr);
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
}

__attribute__((noinline)) void rcyi_trace_alloc(unsigned domain, const void *ptr, size_t size,
                                                const char *file, int line, const char *func) {
    rcyi_tm_thread *thr = event_begin(false);
    if (RCY_LIKELY(thr != NULL)) {
        if (RCY_LIKELY(__atomic_load_n(&rcyi_tm_gs.site_only, __ATOMIC_RELAXED))) {
            rcyi_tb *t = rcyi_tm_cs_lookup(thr, domain, file, line, func);
            if (RCY_LIKELY(t != NULL))
                add_counted(thr, domain, (uintptr_t)ptr, size, t, true);
            event_end(thr);
        } else {
            trace_alloc_frames(thr, (uintptr_t)__builtin_frame_address(0), domain, ptr, size, file,
                               line, func);
        }
    }
    /* keeps this frame alive across the calls (no tail call): the walk
     * starts from it */
    __asm__ volatile("" ::: "memory");
}

void rcyi_trace_free(unsigned domain, const void *ptr) {
    rcyi_tm_thread *thr = event_begin(true);
    if (RCY_LIKELY(thr != NULL)) {
        remove_trace(thr, domain, (uintptr_t)ptr, true);
        event_end(thr);
    }
}

void rcyi_trace_share(const void *ptr) {
    rcyi_tm_thread *thr = event_begin(false);
    if (RCY_UNLIKELY(thr == NULL))
        return;
    uintptr_t p = (uintptr_t)ptr;
    rcyi_tm_bt_pool *bp = rcyi_tm_bt_pool_of(p);
    uint64_t *e = bp ? rcyi_tm_bt_entry(bp, p) : NULL;
    if (e && *e) {
        /* Out of the block table and into the shards, with the same size
         * and traceback, counting neither a free nor an allocation. */
        uint64_t v = *e;
        *e = 0;
        if (--bp->live == 0) {
            rcyi_tm_bt_array_put(thr, bp->ent, bp->nblocks);
            bp->ent = NULL;
        }
        rcyi_tm_acct_shrink(thr, v >> 32);
        if (!rcyi_tm_shard_add(thr, 0, p, v >> 32, (uint32_t)v, false))
            thr->frees++; /* out of memory: the trace is gone, as if freed */
    }
    event_end(thr);
}

void rcyi_trace_free_shared(const void *ptr) {
    rcyi_tm_thread *thr = event_begin(true);
    if (RCY_LIKELY(thr != NULL)) {
        remove_trace(thr, 0, (uintptr_t)ptr, false); /* the shards only */
        event_end(thr);
    }
}

void rcyi_trace_forget_arena(const void *base) {
    rcyi_tm_thread *thr = event_begin(true);
    if (thr) {
        rcyi_tm_bt_forget_arena(thr, base);
        event_end(thr);
    }
}

static inline __attribute__((always_inline)) int
track_common(uintptr_t fp, unsigned domain, uintptr_t ptr, size_t size, unsigned skip) {
    if (!(__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_RELAXED) & RCYI_TM_TRACING))
        return RCY_ESTATE;
    if (rcyi_tm_busy)
        return RCY_OK;
    rcyi_tm_thread *thr = event_begin(false);
    if (!thr)
        return RCY_ESTATE;
    int limit = __atomic_load_n(&rcyi_tm_gs.limit, __ATOMIC_RELAXED);
    const rcyi_fsource *src = __atomic_load_n(&rcyi_tm_gs.source, __ATOMIC_ACQUIRE);
    uintptr_t stackbuf[STACK_PCS];
    size_t mapped;
    int want = src ? 2 * limit : limit;
    uintptr_t *pcs = stack_room(stackbuf, &want, &mapped);
    int nscript, stotal, total = 0, rc = RCY_ESTATE;
    if (!(thr = script_frames(thr, src, want < limit ? want : limit, pcs, &nscript, &stotal)))
        goto out;
    int npcs = 0;
    if (!nscript || (src->flags & RCY_FRAMES_NATIVE))
        npcs = rcyi_walk_stack(fp, pcs + nscript, want - nscript,
                               (int)(skip > 65535 ? 65535 : skip), &total);
    total += stotal;
    uint32_t id = rcyi_tm_tb_lookup(thr, domain, NULL, 0, NULL, pcs, nscript + npcs,
                                    total > 65535 ? 65535 : total);
    rc = id && add_counted(thr, domain, ptr, size, rcyi_tm_tb_get(id), false) ? RCY_OK : RCY_ENOMEM;
    event_end(thr);
out:
    if (mapped)
        rcyi_tm_unmap(pcs, mapped);
    return rc;
}

__attribute__((noinline)) int rcy_tracemalloc_track(unsigned domain, uintptr_t ptr, size_t size) {
    return track_common((uintptr_t)__builtin_frame_address(0), domain, ptr, size, 0);
}

__attribute__((noinline)) int rcy_tracemalloc_track_from(unsigned domain, uintptr_t ptr,
                                                         size_t size, unsigned skip) {
    return track_common((uintptr_t)__builtin_frame_address(0), domain, ptr, size, skip);
}

int rcy_tracemalloc_untrack(unsigned domain, uintptr_t ptr) {
    if (!(__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_RELAXED) & RCYI_TM_TRACING))
        return RCY_ESTATE;
    rcyi_tm_thread *thr = event_begin(true);
    if (thr) {
        remove_trace(thr, domain, ptr, false);
        event_end(thr);
    }
    return RCY_OK;
}

bool rcyi_tracemalloc_take(unsigned domain, uintptr_t ptr, rcyi_taken *out) {
    out->tb = 0;
    if (!(__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_RELAXED) & RCYI_TM_TRACING))
        return false;
    rcyi_tm_thread *thr = event_begin(true);
    if (thr) {
        uint64_t size;
        uint32_t id;
        if (rcyi_tm_shard_take(thr, domain, ptr, &size, &id)) {
            rcyi_tm_acct_shrink(thr, size);
            *out = (rcyi_taken){ptr, size, domain, id,
                                __atomic_load_n(&rcyi_tm_trace_gen, __ATOMIC_RELAXED)};
        }
        event_end(thr);
    }
    return out->tb != 0;
}

/* Enter an event for a taken trace: NULL when there is none, the thread is
 * busy, or the traces were cleared since it was taken (its id is gone).
 * In an event (event_begin) when it returns a record. */
static rcyi_tm_thread *taken_enter(const rcyi_taken *t) {
    if (!t->tb)
        return NULL;
    rcyi_tm_thread *thr = event_begin(false);
    if (thr && __atomic_load_n(&rcyi_tm_trace_gen, __ATOMIC_RELAXED) != t->gen) {
        event_end(thr);
        return NULL;
    }
    return thr;
}

void rcyi_tracemalloc_put_back(const rcyi_taken *t) {
    rcyi_tm_thread *thr = taken_enter(t);
    if (!thr)
        return;
    rcyi_tm_shard_add(thr, t->domain, t->ptr, t->size, t->tb, false);
    event_end(thr);
}

void rcyi_tracemalloc_taken_freed(const rcyi_taken *t) {
    rcyi_tm_thread *thr = taken_enter(t);
    if (!thr)
        return;
    thr->frees++;
    count_free(thr, t->ptr, t->tb);
    event_end(thr);
}

/* ---- control ----------------------------------------------------------------- */

static void site_only_update_locked(void);

int rcy_tracemalloc_start(int nframe) {
    if (nframe < 1 || nframe > 65535)
        return RCY_EINVAL;
    int prev = rcyi_tm_enter();
    static int init_lock;
    rcyi_spin_lock(&init_lock);
    rcyi_tm_init_once();
    rcyi_spin_unlock(&init_lock);
    if (rcyi_option_tracemalloc_libunwind())
        rcyi_walk_use_libunwind(true);
    if (!rcyi_tm_self)
        rcyi_tm_thr_register(); /* the registry's first memory is mapped now, not mid-trace */
    int stopped = rcyi_tm_stopper_begin();
    if (!(rcyi_tm_gs.state & RCYI_TM_TRACING)) {
        __atomic_store_n(&rcyi_tm_gs.limit, nframe, __ATOMIC_RELAXED);
        site_only_update_locked();
        rcyi_tm_fold_counters_locked();
        rcyi_tm_allocs = rcyi_tm_frees = 0;
        __atomic_or_fetch(&rcyi_tm_gs.state, RCYI_TM_TRACING, __ATOMIC_RELAXED);
    }
    rcyi_tm_stopper_end(stopped);
    __atomic_store_n(&rcyi_tracing, 1, __ATOMIC_RELEASE);
    rcyi_tm_exit(prev);
    return RCY_OK;
}

void rcy_tracemalloc_stop(void) {
    __atomic_store_n(&rcyi_tracing, 0, __ATOMIC_RELEASE);
    int prev = rcyi_tm_stopper_begin();
    __atomic_and_fetch(&rcyi_tm_gs.state, ~RCYI_TM_TRACING, __ATOMIC_RELAXED);
    clear_locked();
    rcyi_tm_stopper_end(prev);
}

void rcyi_tracemalloc_on_heap_new(void) {
    static int done;
    if (__atomic_load_n(&done, __ATOMIC_RELAXED) || __atomic_exchange_n(&done, 1, __ATOMIC_RELAXED))
        return;
    int n = rcyi_option_tracemalloc();
    if (n >= 1)
        rcy_tracemalloc_start(n > 65535 ? 65535 : n);
}

bool rcy_tracemalloc_is_tracing(void) {
    return __atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_RELAXED) & RCYI_TM_TRACING;
}

void rcy_tracemalloc_clear_traces(void) {
    int prev = rcyi_tm_stopper_begin();
    if (rcyi_tm_gs.state & RCYI_TM_TRACING)
        clear_locked();
    rcyi_tm_stopper_end(prev);
}

/* Exact: the world is stopped and every thread's delta folded. */
void rcy_tracemalloc_get_traced_memory(size_t *current, size_t *peak) {
    int prev = rcyi_tm_stopper_begin();
    rcyi_tm_fold_counters_locked();
    size_t c = __atomic_load_n(&rcyi_tm_gs.cur, __ATOMIC_RELAXED);
    size_t p = __atomic_load_n(&rcyi_tm_gs.peak, __ATOMIC_RELAXED);
    rcyi_tm_stopper_end(prev);
    if (current)
        *current = c;
    if (peak)
        *peak = p;
}

void rcy_tracemalloc_reset_peak(void) {
    int prev = rcyi_tm_stopper_begin();
    if (rcyi_tm_gs.state & RCYI_TM_TRACING) {
        rcyi_tm_fold_counters_locked();
        __atomic_store_n(&rcyi_tm_gs.peak, __atomic_load_n(&rcyi_tm_gs.cur, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        rcyi_tm_peak.bytes = 0;
        rcyi_tm_peak.dirty = rcyi_tm_peak.keep;
    }
    rcyi_tm_stopper_end(prev);
}

size_t rcy_tracemalloc_get_tracemalloc_memory(void) {
    return __atomic_load_n(&tm_mapped, __ATOMIC_RELAXED);
}

/* rcyi_tm_world_lock held: the fast path's flag from the limit and the source. */
static void site_only_update_locked(void) {
    int on = __atomic_load_n(&rcyi_tm_gs.limit, __ATOMIC_RELAXED) == 1 &&
             !__atomic_load_n(&rcyi_tm_gs.source, __ATOMIC_RELAXED);
    __atomic_store_n(&rcyi_tm_gs.site_only, on, __ATOMIC_RELAXED);
}

int rcy_tracemalloc_set_frame_source_flags(rcy_frame_source_fn *fn, void *arg, unsigned flags) {
    if (flags & ~(unsigned)RCY_FRAMES_NATIVE)
        return RCY_EINVAL;
    int prev = rcyi_tm_enter();
    const rcyi_fsource *src = fn ? rcyi_fsource_make(fn, arg, flags) : NULL;
    if (fn && !src) {
        rcyi_tm_exit(prev);
        return RCY_ENOMEM;
    }
    rcyi_spin_lock(&rcyi_tm_world_lock);
    __atomic_store_n(&rcyi_tm_gs.source, src, __ATOMIC_RELEASE);
    site_only_update_locked();
    rcyi_spin_unlock(&rcyi_tm_world_lock);
    rcyi_tm_exit(prev);
    return RCY_OK;
}

int rcy_tracemalloc_set_frame_source(rcy_frame_source_fn *fn, void *arg) {
    return rcy_tracemalloc_set_frame_source_flags(fn, arg, 0);
}

rcy_frame_source_fn *rcy_tracemalloc_get_frame_source(void **arg, unsigned *flags) {
    const rcyi_fsource *src = __atomic_load_n(&rcyi_tm_gs.source, __ATOMIC_ACQUIRE);
    if (arg)
        *arg = src ? src->arg : NULL;
    if (flags)
        *flags = src ? src->flags : 0;
    return src ? src->fn : NULL;
}

int rcy_tracemalloc_get_traceback_limit(void) {
    return __atomic_load_n(&rcyi_tm_gs.limit, __ATOMIC_RELAXED);
}

static void counters_locked(rcy_tracemalloc_counters *c) {
    memset(c, 0, sizeof *c);
    c->size = sizeof *c;
    c->version = RCY_TRACEMALLOC_COUNTERS_VERSION;
    rcyi_tm_fold_counters_locked();
    c->allocs = rcyi_tm_allocs;
    c->frees = rcyi_tm_frees;
    c->current = __atomic_load_n(&rcyi_tm_gs.cur, __ATOMIC_RELAXED);
    c->peak = __atomic_load_n(&rcyi_tm_gs.peak, __ATOMIC_RELAXED);
}

int rcy_tracemalloc_get_counters(rcy_tracemalloc_counters *out) {
    if (!out || out->size < offsetof(rcy_tracemalloc_counters, allocs))
        return RCY_EINVAL;
    rcy_tracemalloc_counters c;
    int prev = rcyi_tm_stopper_begin();
    counters_locked(&c);
    rcyi_tm_stopper_end(prev);
    c.size = out->size < sizeof c ? out->size : sizeof c;
    memcpy(out, &c, c.size);
    return RCY_OK;
}

int rcy_tracemalloc_keep_peak(bool on) {
    int prev = rcyi_tm_stopper_begin();
    __atomic_store_n(&rcyi_tm_peak.keep, on ? 1 : 0, __ATOMIC_RELAXED);
    rcyi_tm_peak.bytes = 0;
    rcyi_tm_peak.dirty = on;
    rcyi_tm_stopper_end(prev);
    return RCY_OK;
}

/* Scratch of a snapshot: the engine's traces and tracebacks copied under
 * the stop, renumbered densely (remap: engine id -> index + 1). */
typedef struct snap_scratch {
    rcyi_raw_trace *traces;
    uintptr_t *addrs; /* when not NULL: each trace's block address (0 in the block table) */
    const rcyi_tb **tbs;
    uint32_t *remap;
    size_t ntb;
    size_t ntraces;
} snap_scratch;

/* The dense index of traceback id, recording it on first use. */
static uint32_t scratch_tb(snap_scratch *x, uint32_t id) {
    if (!x->remap[id]) {
        x->tbs[x->ntb] = rcyi_tm_tb_get(id);
        x->remap[id] = (uint32_t)++x->ntb;
    }
    return x->remap[id] - 1;
}

/* A live trace into x->traces (rcyi_tm_traces_foreach_locked). */
static void copy_trace(void *arg, uint32_t id, uint64_t size, uintptr_t addr) {
    snap_scratch *x = arg;
    uint32_t tb = scratch_tb(x, id);
    if (x->addrs)
        x->addrs[x->ntraces] = addr;
    x->traces[x->ntraces++] = (rcyi_raw_trace){x->tbs[tb]->domain, tb, size, 1};
}

/* The picture at peak (rcyi_tm_peak.keep) as a snapshot whose traces are the
 * aggregates per traceback, with counts; NULL when out of memory. */
static rcy_snapshot *peak_snapshot_locked(snap_scratch *x, const rcy_tracemalloc_counters *c) {
    size_t np = 0;
    for (size_t id = 1; id < rcyi_tm_peak.n && id <= rcyi_tm_tb_count; id++)
        np += rcyi_tm_peak.copy[id].count != 0;
    rcyi_raw_trace *ptraces = malloc((np ? np : 1) * sizeof *ptraces);
    if (!ptraces)
        return NULL;
    memset(x->remap, 0, ((size_t)rcyi_tm_tb_count + 1) * sizeof *x->remap);
    x->ntb = 0;
    size_t m = 0;
    for (uint32_t id = 1; id < rcyi_tm_peak.n && id <= rcyi_tm_tb_count; id++) {
        if (!rcyi_tm_peak.copy[id].count)
            continue;
        uint32_t tb = scratch_tb(x, id);
        ptraces[m++] = (rcyi_raw_trace){x->tbs[tb]->domain, tb, rcyi_tm_peak.copy[id].size,
                                        rcyi_tm_peak.copy[id].count};
    }
    rcy_snapshot *peak = rcyi_snapshot_from_raw(rcyi_tm_gs.limit, ptraces, m, x->tbs, x->ntb);
    free(ptraces);
    if (peak) {
        rcy_tracemalloc_counters at_peak = *c;
        at_peak.current = rcyi_tm_peak.bytes;
        rcyi_snapshot_set_meta(peak, rcyi_tm_gs.limit, &at_peak);
    }
    return peak;
}

static rcy_snapshot *take_snapshot(uintptr_t **addrs) {
    int prev = rcyi_tm_stopper_begin();
    rcy_snapshot *snap = NULL;
    snap_scratch x = {0};
    if (!(rcyi_tm_gs.state & RCYI_TM_TRACING))
        goto out;
    size_t n = rcyi_tm_traces_count_locked();
    x.traces = malloc((n ? n : 1) * sizeof *x.traces);
    x.remap = calloc((size_t)rcyi_tm_tb_count + 1, sizeof *x.remap);
    x.tbs = malloc(((size_t)rcyi_tm_tb_count + 1) * sizeof *x.tbs);
    if (addrs)
        x.addrs = *addrs = malloc((n ? n : 1) * sizeof *x.addrs);
    if (!x.traces || !x.remap || !x.tbs || (addrs && !x.addrs))
        goto out;
    rcyi_tm_traces_foreach_locked(copy_trace, &x);
    /* Call sites with no live block still have counters (S7). */
    for (uint32_t id = 1; id <= rcyi_tm_tb_count; id++)
        if (rcyi_tm_tb_get(id)->allocs)
            scratch_tb(&x, id);
    rcy_tracemalloc_counters counters;
    counters_locked(&counters);
    if (rcyi_tm_peak.keep && __atomic_exchange_n(&rcyi_tm_peak.dirty, 0, __ATOMIC_RELAXED))
        rcyi_tm_peak_copy_locked(); /* now may be the peak */
    snap = rcyi_snapshot_from_raw(rcyi_tm_gs.limit, x.traces, x.ntraces, x.tbs, x.ntb);
    if (snap) {
        rcyi_snapshot_set_meta(snap, rcyi_tm_gs.limit, &counters);
        rcyi_snapshot_set_site_counters(snap, true);
    }
    if (snap && rcyi_tm_peak.keep && rcyi_tm_peak.bytes) {
        rcy_snapshot *peak = peak_snapshot_locked(&x, &counters);
        if (peak)
            rcyi_snapshot_set_peak(snap, peak);
    }
out:
    rcyi_tm_stopper_end(prev);
    free(x.traces);
    free(x.remap);
    free(x.tbs);
    if (addrs && !snap) {
        free(*addrs);
        *addrs = NULL;
    }
    return snap;
}

rcy_snapshot *rcy_tracemalloc_take_snapshot(void) {
    return take_snapshot(NULL);
}

rcy_snapshot *rcyi_tracemalloc_take_snapshot_addrs(uintptr_t **addrs) {
    int prev = rcyi_tm_enter();
    rcy_snapshot *s = take_snapshot(addrs);
    rcyi_tm_exit(prev);
    return s;
}

/* A copy of the traceback of obj's trace (call site and addresses), taken
 * with the world stopped; false when obj has none (or out of memory for
 * a deep stack: *big is then the malloc'd room of the addresses). */
typedef struct tb_copy {
    const char *file, *func;
    int line, npcs, total, limit;
    uintptr_t pcs[STACK_PCS];
    uintptr_t *big; /* when npcs > STACK_PCS */
} tb_copy;

static bool object_traceback_locked(const void *obj, tb_copy *c) {
    uint32_t id = rcyi_tm_trace_id_locked(obj);
    if (!id)
        return false;
    const rcyi_tb *t = rcyi_tm_tb_get(id);
    c->file = t->file;
    c->func = t->func;
    c->line = t->line;
    c->npcs = t->npcs;
    c->total = t->total;
    c->limit = rcyi_tm_gs.limit;
    if (c->npcs > STACK_PCS)
        c->big = malloc((size_t)c->npcs * sizeof *c->big);
    if (c->npcs > STACK_PCS && !c->big)
        return false;
    memcpy(c->big ? c->big : c->pcs, t->pcs, (size_t)c->npcs * sizeof *c->pcs);
    return true;
}

rcy_traceback *rcy_tracemalloc_get_object_traceback(const void *obj) {
    if (!obj || !rcy_tracemalloc_is_tracing())
        return NULL;
    int prev = rcyi_tm_enter();
    tb_copy c = {0};
    int stopped = rcyi_tm_stopper_begin();
    bool found = object_traceback_locked(obj, &c);
    rcyi_tm_stopper_end(stopped);
    rcy_traceback *tb = NULL;
    if (found) {
        size_t nf = 0, tot = 0;
        rcy_frame *frames =
            rcyi_resolve_frames(NULL, c.file, c.line, c.func, c.big ? c.big : c.pcs, (size_t)c.npcs,
                                (size_t)c.total, c.limit, &nf, &tot);
        tb = frames ? malloc(sizeof *tb) : NULL;
        if (tb) {
            tb->nframe = nf;
            tb->total_nframe = tot;
            tb->frames = frames;
        } else {
            free(frames);
        }
    }
    free(c.big);
    rcyi_tm_exit(prev);
    return tb;
}

void rcy_traceback_free(rcy_traceback *tb) {
    if (!tb)
        return;
    int prev = rcyi_tm_enter();
    free((void *)tb->frames);
    free(tb);
    rcyi_tm_exit(prev);
}
