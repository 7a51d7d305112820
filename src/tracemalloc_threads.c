/* src/tracemalloc_threads.c — the tracer's thread registry and
 * stop-the-world: one record per thread that traces (its delta of traced
 * bytes, counters and caches), the folding of those into the global
 * totals and the peak, the stopper bracket that every operation reading
 * or resetting the whole state goes through (membarrier(2), or fences),
 * and what happens to the records on thread exit and fork.
 *
 * Locks and invariants: src/tracemalloc_engine.h.
 */
#include "tracemalloc_engine.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the registry ------------------------------------------------------------ */

#define THR_PER_CHUNK 32u
#define THR_CHUNKS    2048u
static rcyi_tm_thread *thr_chunk[THR_CHUNKS];
static unsigned thr_hi;    /* slots [0, thr_hi) exist (release-stored)  */
static unsigned thr_nused; /* slots in use (thr_lock)                */
static int thr_lock;       /* registration, release, and stoppers       */
static pthread_key_t thr_key;
static int thr_key_ok;

RCYI_TLS int rcyi_tm_busy;
RCYI_TLS rcyi_tm_thread *rcyi_tm_self;

static inline rcyi_tm_thread *thr_at(unsigned i) {
    return &thr_chunk[i / THR_PER_CHUNK][i % THR_PER_CHUNK];
}

int rcyi_tm_enter(void) {
    int prev = rcyi_tm_busy;
    rcyi_tm_busy = 1;
    return prev;
}
void rcyi_tm_exit(int prev) {
    rcyi_tm_busy = prev;
}

/* ---- global state ---------------------------------------------------------- */

rcyi_tm_state rcyi_tm_gs = {.limit = 1, .site_only = 1};
int rcyi_tm_world_lock;
uint64_t rcyi_tm_allocs, rcyi_tm_frees;

/* ---- stopping the world ------------------------------------------------------ */

static int fences_forced; /* rcyi_tm_use_fences */

void rcyi_tm_use_fences(void) {
    __atomic_store_n(&fences_forced, 1, __ATOMIC_RELAXED);
    __atomic_or_fetch(&rcyi_tm_gs.state, RCYI_TM_FENCE, __ATOMIC_SEQ_CST);
}

static void membarrier_register(void) {
    long q = __atomic_load_n(&fences_forced, __ATOMIC_RELAXED)
                 ? -1
                 : syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    bool ok = q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
              syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    if (ok)
        __atomic_and_fetch(&rcyi_tm_gs.state, ~RCYI_TM_FENCE, __ATOMIC_SEQ_CST);
    else
        __atomic_or_fetch(&rcyi_tm_gs.state, RCYI_TM_FENCE, __ATOMIC_SEQ_CST);
}

/* Every thread passes a full barrier (or, in fence mode, fences itself). */
static void membar_all(void) {
    if (__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_RELAXED) & RCYI_TM_FENCE)
        return;
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return;
    /* Not registered (cannot happen after a successful registration, which
     * fork children inherit and redo): register and retry. */
    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

/* Stop the world: afterwards no other thread is inside an event, and none
 * enters one until rcyi_tm_world_resume.  The caller must be busy (rcyi_tm_enter)
 * so that its own events are ignored instead of waiting for itself. */
void rcyi_tm_world_stop(void) {
    rcyi_spin_lock(&rcyi_tm_world_lock);
    __atomic_or_fetch(&rcyi_tm_gs.state, RCYI_TM_STOPPED, __ATOMIC_SEQ_CST);
    membar_all();
    rcyi_spin_lock(&thr_lock);
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    rcyi_tm_thread *self = rcyi_tm_self;
    for (unsigned i = 0; i < hi; i++) {
        rcyi_tm_thread *t = thr_at(i);
        unsigned spins = 0;
        if (t != self)
            while (__atomic_load_n(&t->in_event, __ATOMIC_ACQUIRE))
                rcyi_spin_pause(&spins);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void rcyi_tm_world_resume(void) {
    rcyi_spin_unlock(&thr_lock);
    __atomic_and_fetch(&rcyi_tm_gs.state, ~RCYI_TM_STOPPED, __ATOMIC_RELEASE);
    rcyi_spin_unlock(&rcyi_tm_world_lock);
}

/* The stopper bracket (one helper: every stopper goes through it). */
int rcyi_tm_stopper_begin(void) {
    int prev = rcyi_tm_enter();
    rcyi_tm_world_stop();
    return prev;
}

void rcyi_tm_stopper_end(int prev) {
    rcyi_tm_world_resume();
    rcyi_tm_exit(prev);
}

/* ---- thread registry ------------------------------------------------------- */

static void thr_exit(void *arg);

rcyi_tm_thread *rcyi_tm_thr_register(void) {
    rcyi_tm_thread *t = NULL;
    rcyi_spin_lock(&thr_lock);
    unsigned hi = thr_hi;
    for (unsigned i = 0; i < hi; i++) {
        if (!thr_at(i)->used) {
            t = thr_at(i);
            break;
        }
    }
    if (!t && hi < THR_PER_CHUNK * THR_CHUNKS) {
        if (!thr_chunk[hi / THR_PER_CHUNK])
            thr_chunk[hi / THR_PER_CHUNK] = rcyi_tm_map(THR_PER_CHUNK * sizeof(rcyi_tm_thread));
        if (thr_chunk[hi / THR_PER_CHUNK]) {
            t = thr_at(hi);
            __atomic_store_n(&thr_hi, hi + 1, __ATOMIC_RELEASE);
        }
    }
    bool need_multi = false;
    if (t) {
        t->used = 1;
        need_multi = ++thr_nused >= 2 && !__atomic_load_n(&rcyi_tm_gs.multi, __ATOMIC_RELAXED);
    }
    rcyi_spin_unlock(&thr_lock);
    if (need_multi) {
        /* The one other thread may be in an event that skips the shard
         * locks: wait it out with the world stopped, and only then set
         * multi.  So whoever sees multi set (this thread, or a third one
         * registering meanwhile, which otherwise stops the world too) knows
         * no lock-free event is still running. */
        rcyi_tm_world_stop();
        __atomic_store_n(&rcyi_tm_gs.multi, 1, __ATOMIC_RELAXED);
        rcyi_tm_world_resume();
    }
    if (t) {
        rcyi_tm_self = t;
        /* glibc keeps the first 32 keys' values in the thread descriptor:
         * no allocation here in practice. */
        if (__atomic_load_n(&thr_key_ok, __ATOMIC_ACQUIRE))
            pthread_setspecific(thr_key, t);
    }
    return t;
}

__attribute__((noinline)) bool rcyi_tm_ev_enter_slow(rcyi_tm_thread *t, bool any_state) {
    for (;;) {
        uint32_t s = __atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_ACQUIRE);
        if (s & RCYI_TM_FENCE) {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            s = __atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_ACQUIRE);
        }
        if (!(s & RCYI_TM_STOPPED)) {
            if ((s & RCYI_TM_TRACING) || any_state)
                return true;
            __atomic_store_n(&t->in_event, 0, __ATOMIC_RELEASE);
            return false;
        }
        __atomic_store_n(&t->in_event, 0, __ATOMIC_RELEASE);
        unsigned spins = 0;
        while (__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_ACQUIRE) & RCYI_TM_STOPPED)
            rcyi_spin_pause(&spins);
        __atomic_store_n(&t->in_event, 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
}

/* ---- accounting: folding deltas ------------------------------------------------ */

void rcyi_tm_peak_raise(size_t c) {
    size_t pk = __atomic_load_n(&rcyi_tm_gs.peak, __ATOMIC_RELAXED);
    while (c > pk && !__atomic_compare_exchange_n(&rcyi_tm_gs.peak, &pk, c, true, __ATOMIC_RELAXED,
                                                  __ATOMIC_RELAXED)) {
    }
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_tm_peak.keep, __ATOMIC_RELAXED)) && c > pk) {
        /* A copy is due only once the peak grew by 1/64 since the last
         * one: test that here, not in the free that would stop the world
         * for nothing. */
        size_t last = __atomic_load_n(&rcyi_tm_peak.bytes, __ATOMIC_RELAXED);
        if (!last || c > last + last / 64)
            __atomic_store_n(&rcyi_tm_peak.dirty, 1, __ATOMIC_RELAXED);
    }
}

/* Move a thread's delta and event counters into the globals (the thread
 * is stopped, ending, or gone); returns the new current total. */
static size_t thr_fold(rcyi_tm_thread *t) {
    size_t c = __atomic_add_fetch(&rcyi_tm_gs.cur, (size_t)t->delta, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rcyi_tm_allocs, t->allocs, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rcyi_tm_frees, t->frees, __ATOMIC_RELAXED);
    t->delta = 0;
    t->allocs = t->frees = 0;
    return c;
}

/* A thread's caches name tracebacks: forget them when those go, or when
 * the slot goes to another thread. */
static void thr_forget_caches(rcyi_tm_thread *t) {
    memset(t->cs, 0, sizeof t->cs);
    memset(t->tbc, 0, sizeof t->tbc);
    t->last_id = 0;
    t->tmp_id = 0;
}

void rcyi_tm_fold_counters_locked(void) {
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < hi; i++)
        thr_fold(thr_at(i));
    rcyi_tm_peak_raise(__atomic_load_n(&rcyi_tm_gs.cur, __ATOMIC_RELAXED));
}

/* A thread ends: its deltas and spare arrays go to the globals, its slot
 * to the next thread. */
static void thr_exit(void *arg) {
    rcyi_tm_thread *t = arg;
    if (!t)
        return;
    int prev = rcyi_tm_busy;
    rcyi_tm_busy = 1;
    __atomic_store_n(&t->in_event, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_ACQUIRE) != RCYI_TM_TRACING)
        rcyi_tm_ev_enter_slow(t, true);
    bool grew = t->delta > 0;
    size_t c = thr_fold(t);
    if (grew)
        rcyi_tm_peak_raise(c);
    rcyi_tm_bt_spares_release(t);
    rcyi_tm_ev_leave(t);
    rcyi_spin_lock(&thr_lock);
    thr_forget_caches(t);
    t->used = 0;
    /* Back to one thread: its events may skip the shard locks again (each
     * event reads the flag once, at its start). */
    if (--thr_nused <= 1)
        __atomic_store_n(&rcyi_tm_gs.multi, 0, __ATOMIC_RELAXED);
    rcyi_spin_unlock(&thr_lock);
    if (rcyi_tm_self == t)
        rcyi_tm_self = NULL;
    rcyi_tm_busy = prev;
}

void rcyi_tm_threads_clear_locked(void) {
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < hi; i++) {
        rcyi_tm_thread *t = thr_at(i);
        t->delta = 0;
        memset(t->spare, 0, sizeof t->spare);
        thr_forget_caches(t);
    }
}

/* ---- fork and first start ----------------------------------------------------- */

/* fork(): no thread may be inside an event, or hold a lock, in the child.
 * The forking thread stops the world before the fork and both sides
 * resume after; the child keeps the traces (as Python's tracemalloc
 * does) and the other threads' records, minus the threads. */
static int atfork_busy;
static void atfork_prepare(void) {
    atfork_busy = rcyi_tm_stopper_begin();
}
static void atfork_parent(void) {
    rcyi_tm_stopper_end(atfork_busy);
}
static void atfork_child(void) {
    unsigned hi = __atomic_load_n(&thr_hi, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < hi; i++) {
        rcyi_tm_thread *t = thr_at(i);
        if (t == rcyi_tm_self)
            continue;
        /* A thread that does not exist here: keep its numbers, free its
         * slot. */
        thr_fold(t);
        rcyi_tm_bt_spares_release(t);
        thr_forget_caches(t);
        t->used = 0;
        /* It may have been caught between marking an event and seeing the
         * stop flag (it would have backed off): no thread here will. */
        __atomic_store_n(&t->in_event, 0, __ATOMIC_RELAXED);
    }
    thr_nused = rcyi_tm_self ? 1 : 0;
    __atomic_store_n(&rcyi_tm_gs.multi, 0, __ATOMIC_RELAXED);
    if (!(__atomic_load_n(&rcyi_tm_gs.state, __ATOMIC_RELAXED) & RCYI_TM_FENCE))
        membarrier_register();
    rcyi_tm_stopper_end(atfork_busy);
}

void rcyi_tm_init_once(void) {
    static int done;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    membarrier_register();
    if (pthread_key_create(&thr_key, thr_exit) == 0)
        __atomic_store_n(&thr_key_ok, 1, __ATOMIC_RELEASE);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
