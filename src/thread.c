/* src/thread.c — heaps attached to threads (thread.h, T1..T2):
 * rcy_heap_attach, rcy_heap_detach, and the debug check that a heap is
 * used only by the thread it is attached to; the world of attached
 * threads, safepoints and the cooperative stop-the-world (S1..S4). */
#include "thread.h"
#include "heap.h"

#include <pthread.h>
#include <time.h>

enum { TS_OFF = 0, TS_ATTACHED, TS_PARKED, TS_WAITING };

/* One per thread (S1).  state: atomic; OFF <-> ATTACHED by the thread
 * itself (no lock, the fast path of attach and detach), every other
 * change under world.lock.  next, prev, linked: under world.lock. */
typedef struct rcyi_tstate {
    int state;
    unsigned nattached; /* heaps attached to this thread (its own field) */
    int acting;         /* this thread stopped the world */
    unsigned forbid;    /* rcyi_safepoint_forbid depth: no parking here */
    int linked;         /* on the world's list (from its first attach until it exits) */
    struct rcyi_tstate *next, *prev;
} rcyi_tstate;

static __thread rcyi_tstate self_state;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t parked;  /* a thread parked or left: the requester re-counts */
    pthread_cond_t restart; /* the world restarted */
    rcyi_tstate *first;
    rcyi_tstate *requester; /* while stopping */
    int stopping;
    pthread_key_t exit_key; /* an exiting thread leaves the list */
    pthread_once_t once;
    unsigned long locks; /* times the lock was taken (tests: rcyi_world_locks) */
    unsigned long left;  /* times a listed thread stopped running (atomic; see wait_stopped) */
} world = {PTHREAD_MUTEX_INITIALIZER,
           PTHREAD_COND_INITIALIZER,
           PTHREAD_COND_INITIALIZER,
           NULL,
           NULL,
           0,
           0,
           PTHREAD_ONCE_INIT,
           0,
           0};

int rcyi_world_stop_flag;

static void world_lock(void) {
    pthread_mutex_lock(&world.lock);
    __atomic_store_n(&world.locks, world.locks + 1, __ATOMIC_RELAXED);
}

static void world_unlock(void) {
    pthread_mutex_unlock(&world.lock);
}

/* Under world.lock: a listed thread just stopped running (parked, waits,
 * went OFF or left the list); a requester spinning in wait_stopped sees
 * `left` change, a sleeping one is woken. */
static void left_running_locked(void) {
    __atomic_store_n(&world.left, world.left + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&world.parked);
}

unsigned long rcyi_world_locks(void) {
    return __atomic_load_n(&world.locks, __ATOMIC_RELAXED);
}

static int state_of(const rcyi_tstate *ts) {
    return __atomic_load_n(&ts->state, __ATOMIC_SEQ_CST);
}

/* Under world.lock, or by the thread itself between OFF and ATTACHED.
 * Sequential consistency: a thread that stores ATTACHED and then loads the
 * stop flag, and a requester that stores the flag and then loads the
 * states, cannot both miss the other's store (S2). */
static void set_state(rcyi_tstate *ts, int state) {
    __atomic_store_n(&ts->state, state, __ATOMIC_SEQ_CST);
}

uintptr_t rcyi_thread_self(void) {
    return (uintptr_t)&self_state;
}

static void link_locked(rcyi_tstate *ts) {
    ts->prev = NULL;
    ts->next = world.first;
    if (world.first)
        world.first->prev = ts;
    world.first = ts;
    ts->linked = 1;
}

static void unlink_locked(rcyi_tstate *ts) {
    if (ts->prev)
        ts->prev->next = ts->next;
    else
        world.first = ts->next;
    if (ts->next)
        ts->next->prev = ts->prev;
    ts->next = ts->prev = NULL;
    ts->linked = 0;
    set_state(ts, TS_OFF);
    left_running_locked();
}

static void on_thread_exit(void *arg) {
    rcyi_tstate *ts = arg;
    world_lock();
    if (ts->linked)
        unlink_locked(ts);
    world_unlock();
}

static void make_key(void) {
    (void)pthread_key_create(&world.exit_key, on_thread_exit);
}

/* The thread's first heap: ATTACHED, after the restart if the world is
 * stopped (S1, S3).  With no stop requested, a store and a load: the lock
 * is taken only on the thread's first attach (onto the list) and when a
 * stop is pending. */
static void world_enter(void) {
    rcyi_tstate *ts = &self_state;
    if (ts->nattached++ != 0)
        return;
    if (RCY_UNLIKELY(!ts->linked)) {
        pthread_once(&world.once, make_key);
        (void)pthread_setspecific(world.exit_key, ts);
        world_lock();
        link_locked(ts);
        world_unlock();
    }
    set_state(ts, TS_ATTACHED);
    if (RCY_LIKELY(!__atomic_load_n(&rcyi_world_stop_flag, __ATOMIC_SEQ_CST)))
        return;
    /* A stop is pending: its requester may have counted us ATTACHED or
     * not; either way we wait as WAITING until its restart hands us the
     * heap (unless the stop ended meanwhile, or it is our own). */
    world_lock();
    if (world.stopping && !ts->acting) {
        set_state(ts, TS_WAITING);
        left_running_locked();
        while (state_of(ts) == TS_WAITING)
            pthread_cond_wait(&world.restart, &world.lock);
    }
    world_unlock();
}

/* The thread's last heap: OFF (it stays on the list, S1); a requester
 * waiting for it is woken. */
static void world_leave(void) {
    rcyi_tstate *ts = &self_state;
    if (--ts->nattached != 0)
        return;
    set_state(ts, TS_OFF);
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_world_stop_flag, __ATOMIC_SEQ_CST))) {
        world_lock();
        left_running_locked();
        world_unlock();
    }
}

void rcyi_safepoint_slow(void) {
    rcyi_tstate *ts = &self_state;
    if (ts->nattached == 0 || ts->acting || ts->forbid)
        return; /* OFF (S1), the requester itself, or mid-walk */
    world_lock();
    if (world.stopping && state_of(ts) == TS_ATTACHED) {
        set_state(ts, TS_PARKED);
        left_running_locked();
        while (state_of(ts) == TS_PARKED)
            pthread_cond_wait(&world.restart, &world.lock);
    }
    world_unlock();
}

void rcy_safepoint(rcy_heap *heap) {
    (void)heap;
    rcyi_safepoint_poll();
}

static int others_running_locked(const rcyi_tstate *self) {
    for (rcyi_tstate *t = world.first; t; t = t->next)
        if (t != self && state_of(t) == TS_ATTACHED)
            return 1;
    return 0;
}

/* The request half of a stop, the lock held: the world is ours to stop
 * once no other stop is under way. */
static void request_locked(rcyi_tstate *ts) {
    while (world.stopping) {
        /* Another thread's stop: park here (we are at a safepoint), or
         * wait for its restart when not ATTACHED. */
        if (state_of(ts) == TS_ATTACHED) {
            set_state(ts, TS_PARKED);
            left_running_locked();
            while (state_of(ts) == TS_PARKED)
                pthread_cond_wait(&world.restart, &world.lock);
        } else {
            pthread_cond_wait(&world.restart, &world.lock);
        }
    }
    world.stopping = 1;
    world.requester = ts;
    ts->acting = 1;
    __atomic_store_n(&rcyi_world_stop_flag, 1, __ATOMIC_SEQ_CST);
}

/* The waiting half: until no other listed thread is ATTACHED (S2). */
static void wait_stopped(rcyi_tstate *ts) {
    /* Threads poll often: for a little while (about 100 us) spin without
     * the lock, re-counting under it only when `left` says a thread
     * stopped running, so a parking thread never waits for the lock
     * behind the requester (no global count of running threads: attach
     * and detach would pay one more locked instruction for it). */
    double until = rcyi_os_clock_seconds() + 100e-6;
    for (;;) {
        unsigned long seen = __atomic_load_n(&world.left, __ATOMIC_ACQUIRE);
        world_lock();
        int running = others_running_locked(ts);
        world_unlock();
        if (!running)
            return;
        while (__atomic_load_n(&world.left, __ATOMIC_ACQUIRE) == seen &&
               rcyi_os_clock_seconds() < until)
            for (int i = 0; i < 64; i++)
                __asm__ __volatile__("" ::: "memory");
        if (rcyi_os_clock_seconds() >= until)
            break;
    }
    world_lock();
    while (others_running_locked(ts)) {
        /* A short timeout: a thread that parks signals, but the re-count
         * also covers one that left the list between two counts. */
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        (void)pthread_cond_timedwait(&world.parked, &world.lock, &dl);
    }
    world_unlock();
}

void rcyi_world_stop(void) {
    rcyi_tstate *ts = &self_state;
    world_lock();
    request_locked(ts);
    world_unlock();
    wait_stopped(ts);
}

static void start_locked(rcyi_tstate *ts) {
    for (rcyi_tstate *t = world.first; t; t = t->next)
        if (state_of(t) == TS_PARKED || state_of(t) == TS_WAITING)
            set_state(t, TS_ATTACHED); /* S3: waiting attaches are handed their heap */
    world.stopping = 0;
    world.requester = NULL;
    ts->acting = 0;
    __atomic_store_n(&rcyi_world_stop_flag, 0, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&world.restart);
}

void rcyi_world_start(void) {
    world_lock();
    start_locked(&self_state);
    world_unlock();
}

void rcyi_world_restart_and_stop(void) {
    rcyi_tstate *ts = &self_state;
    world_lock();
    start_locked(ts);
    request_locked(ts);
    world_unlock();
    wait_stopped(ts);
}

unsigned rcyi_world_waiting(void) {
    unsigned n = 0;
    world_lock();
    for (rcyi_tstate *t = world.first; t; t = t->next)
        n += state_of(t) == TS_WAITING;
    world_unlock();
    return n;
}

void rcyi_safepoint_forbid(void) {
    self_state.forbid++;
}

void rcyi_safepoint_allow(void) {
    self_state.forbid--;
}

bool rcyi_world_acting(void) {
    return self_state.acting != 0;
}

static uintptr_t attached(const rcy_heap *h) {
    return __atomic_load_n(&h->thread, __ATOMIC_ACQUIRE);
}

int rcy_heap_attach(rcy_heap *heap) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    uintptr_t self = rcyi_thread_self(), none = attached(heap);
    if (none == self)
        return RCY_OK; /* attached already: idempotent */
    world_enter();
    while (none == RCYI_THREAD_UNBOUND || none == RCYI_THREAD_DETACHED) {
        if (__atomic_compare_exchange_n(&heap->thread, &none, self, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE))
            return RCY_OK;
    }
    world_leave();
    char what[160];
    snprintf(what, sizeof what,
             "heap %p is attached to another thread (%#lx); detach it there first", (void *)heap,
             (unsigned long)none);
    rcyi_misuse("rcy_heap_attach", what);
    return RCY_ESTATE;
}

int rcy_heap_detach(rcy_heap *heap) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    uintptr_t self = rcyi_thread_self(), now = attached(heap);
    if (now != self) {
        char what[160];
        snprintf(what, sizeof what, "heap %p is %s, not to this thread", (void *)heap,
                 now > RCYI_THREAD_DETACHED ? "attached to another thread" : "not attached");
        rcyi_misuse("rcy_heap_detach", what);
        return RCY_ESTATE;
    }
    __atomic_store_n(&heap->thread, RCYI_THREAD_DETACHED, __ATOMIC_RELEASE);
    world_leave();
    return RCY_OK;
}

void rcyi_thread_heap_freed(rcy_heap *h) {
    if (attached(h) == rcyi_thread_self())
        world_leave();
}

int rcy_blocking_begin(rcy_heap *heap) {
    return rcy_heap_detach(heap);
}

int rcy_blocking_end(rcy_heap *heap) {
    return rcy_heap_attach(heap);
}

bool rcy_heap_is_attached(rcy_heap *heap) {
    RCYI_REQUIRE(heap, false);
    return attached(heap) == rcyi_thread_self();
}

void rcyi_thread_check(rcy_heap *h, const char *what) {
    uintptr_t now = attached(h), self = rcyi_thread_self();
    if (RCY_UNLIKELY(now != self) && now != RCYI_THREAD_UNBOUND && !rcyi_world_acting()) {
        if (now == RCYI_THREAD_DETACHED)
            rcyi_fatal(RCY_EMISUSE,
                       "%s on heap %p from thread %#lx, but the heap is detached (rcy_heap_attach "
                       "it on this thread first)",
                       what, (void *)h, (unsigned long)self);
        rcyi_fatal(RCY_EMISUSE,
                   "%s on heap %p from thread %#lx, but the heap is attached to thread %#lx "
                   "(rcy_heap_detach it there, then rcy_heap_attach it here)",
                   what, (void *)h, (unsigned long)self, (unsigned long)now);
    }
}
