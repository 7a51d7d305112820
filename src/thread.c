/* src/thread.c — heaps attached to threads (thread.h, T1..T2):
 * rcy_heap_attach, rcy_heap_detach, and the debug check that a heap is
 * used only by the thread it is attached to; the world of attached
 * threads, safepoints and the cooperative stop-the-world (S1..S4). */
#include "thread.h"
#include "heap.h"

#include <pthread.h>
#include <time.h>

enum { TS_OFF = 0, TS_ATTACHED, TS_PARKED, TS_WAITING };

/* One per thread (S1); state, next and prev under world.lock. */
typedef struct rcyi_tstate {
    int state;
    unsigned nattached; /* heaps attached to this thread (its own field) */
    int acting;         /* this thread stopped the world */
    unsigned forbid;    /* rcyi_safepoint_forbid depth: no parking here */
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
    pthread_key_t exit_key; /* a thread exiting with a heap attached leaves the list */
    pthread_once_t once;
} world = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0,
    PTHREAD_ONCE_INIT};

int rcyi_world_stop_flag;
static int nrunning; /* listed threads in state ATTACHED (atomic; written under world.lock) */

/* Every state change goes through here, so nrunning stays exact. */
static void set_state_locked(rcyi_tstate *ts, int state) {
    int d = (state == TS_ATTACHED) - (ts->state == TS_ATTACHED);
    if (d)
        __atomic_fetch_add(&nrunning, d, __ATOMIC_RELEASE);
    ts->state = state;
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
}

static void unlink_locked(rcyi_tstate *ts) {
    if (ts->prev)
        ts->prev->next = ts->next;
    else
        world.first = ts->next;
    if (ts->next)
        ts->next->prev = ts->prev;
    ts->next = ts->prev = NULL;
    set_state_locked(ts, TS_OFF);
    pthread_cond_broadcast(&world.parked);
}

static void on_thread_exit(void *arg) {
    rcyi_tstate *ts = arg;
    pthread_mutex_lock(&world.lock);
    if (ts->state != TS_OFF)
        unlink_locked(ts);
    pthread_mutex_unlock(&world.lock);
}

static void make_key(void) {
    (void)pthread_key_create(&world.exit_key, on_thread_exit);
}

/* The thread's first heap: onto the list, after the restart if the world
 * is stopped (S1, S3). */
static void world_enter(void) {
    rcyi_tstate *ts = &self_state;
    if (ts->nattached++ != 0)
        return;
    pthread_once(&world.once, make_key);
    (void)pthread_setspecific(world.exit_key, ts);
    pthread_mutex_lock(&world.lock);
    link_locked(ts);
    if (world.stopping && !ts->acting) {
        set_state_locked(ts, TS_WAITING);
        while (ts->state == TS_WAITING)
            pthread_cond_wait(&world.restart, &world.lock);
    } else {
        set_state_locked(ts, TS_ATTACHED);
    }
    pthread_mutex_unlock(&world.lock);
}

/* The thread's last heap: off the list. */
static void world_leave(void) {
    rcyi_tstate *ts = &self_state;
    if (--ts->nattached != 0)
        return;
    pthread_mutex_lock(&world.lock);
    unlink_locked(ts);
    pthread_mutex_unlock(&world.lock);
}

void rcyi_safepoint_slow(void) {
    rcyi_tstate *ts = &self_state;
    if (ts->nattached == 0 || ts->acting || ts->forbid)
        return; /* not on the list (S1), the requester itself, or mid-walk */
    pthread_mutex_lock(&world.lock);
    if (world.stopping && ts->state == TS_ATTACHED) {
        set_state_locked(ts, TS_PARKED);
        pthread_cond_broadcast(&world.parked);
        while (ts->state == TS_PARKED)
            pthread_cond_wait(&world.restart, &world.lock);
    }
    pthread_mutex_unlock(&world.lock);
}

void rcy_safepoint(rcy_heap *heap) {
    (void)heap;
    rcyi_safepoint_poll();
}

static int others_running_locked(const rcyi_tstate *self) {
    for (rcyi_tstate *t = world.first; t; t = t->next)
        if (t != self && t->state == TS_ATTACHED)
            return 1;
    return 0;
}

/* The request half of a stop, the lock held: the world is ours to stop
 * once no other stop is under way.  Whether the caller runs (it does not
 * wait for itself). */
static int request_locked(rcyi_tstate *ts) {
    while (world.stopping) {
        /* Another thread's stop: park here (we are at a safepoint), or
         * wait for its restart when not on the list. */
        if (ts->state == TS_ATTACHED) {
            set_state_locked(ts, TS_PARKED);
            pthread_cond_broadcast(&world.parked);
            while (ts->state == TS_PARKED)
                pthread_cond_wait(&world.restart, &world.lock);
        } else {
            pthread_cond_wait(&world.restart, &world.lock);
        }
    }
    world.stopping = 1;
    world.requester = ts;
    ts->acting = 1;
    __atomic_store_n(&rcyi_world_stop_flag, 1, __ATOMIC_SEQ_CST);
    return ts->state == TS_ATTACHED;
}

/* The waiting half: until no other listed thread is ATTACHED (S2). */
static void wait_stopped(rcyi_tstate *ts, int self_running) {
    /* Threads poll often: spin a little (about 100 us) before sleeping,
     * sparing the parking thread's wake-up of a sleeping requester. */
    double until = rcyi_os_clock_seconds() + 100e-6;
    while (__atomic_load_n(&nrunning, __ATOMIC_ACQUIRE) > self_running &&
           rcyi_os_clock_seconds() < until)
        for (int i = 0; i < 64; i++)
            __asm__ __volatile__("" ::: "memory");
    pthread_mutex_lock(&world.lock);
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
    pthread_mutex_unlock(&world.lock);
}

void rcyi_world_stop(void) {
    rcyi_tstate *ts = &self_state;
    pthread_mutex_lock(&world.lock);
    int self_running = request_locked(ts);
    pthread_mutex_unlock(&world.lock);
    wait_stopped(ts, self_running);
}

static void start_locked(rcyi_tstate *ts) {
    for (rcyi_tstate *t = world.first; t; t = t->next)
        if (t->state == TS_PARKED || t->state == TS_WAITING)
            set_state_locked(t, TS_ATTACHED); /* S3: waiting attaches are handed their heap */
    world.stopping = 0;
    world.requester = NULL;
    ts->acting = 0;
    __atomic_store_n(&rcyi_world_stop_flag, 0, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&world.restart);
}

void rcyi_world_start(void) {
    pthread_mutex_lock(&world.lock);
    start_locked(&self_state);
    pthread_mutex_unlock(&world.lock);
}

void rcyi_world_restart_and_stop(void) {
    rcyi_tstate *ts = &self_state;
    pthread_mutex_lock(&world.lock);
    start_locked(ts);
    int self_running = request_locked(ts);
    pthread_mutex_unlock(&world.lock);
    wait_stopped(ts, self_running);
}

unsigned rcyi_world_waiting(void) {
    unsigned n = 0;
    pthread_mutex_lock(&world.lock);
    for (rcyi_tstate *t = world.first; t; t = t->next)
        n += t->state == TS_WAITING;
    pthread_mutex_unlock(&world.lock);
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
