/* src/thread.h — which thread a heap is attached to (thread.c).
 *
 * A heap is attached to at most one thread at a time, like a lua_State:
 * rcy_heap_attach takes it, rcy_heap_detach lets it go, with acquire and
 * release order, so everything one thread did to the heap happens before
 * what the next one does.  A heap never attached is UNBOUND: as before
 * attach existed, any one thread at a time may use it, unchecked (a
 * program that hands heaps over with its own locks keeps working).  The owner of any object or
 * block is found from its pool header (pool->owner, alloc.h) and then heap->thread; no object
 * carries a thread id.
 *
 *   T1  heap->thread == the token (rcyi_thread_self, never 0 or 1) of the
 *       attached thread, RCYI_THREAD_DETACHED once detached or
 *       abandoned, or RCYI_THREAD_UNBOUND (0) if never attached; written
 *       only by attach (CAS from UNBOUND or DETACHED), detach (by the
 *       attached thread) and rcy_heap_free when it abandons the heap
 *       (alloc.h R3: no later death frees into it directly).
 *   T2  once a heap has been attached, a thread uses its private objects
 *       and allocator only while the heap is attached to it.  Debug heaps
 *       check it on every allocation and free (they all take the
 *       allocator's slow path): a use from another thread, or of a
 *       detached heap, is fatal misuse naming both threads.  The one
 *       exception is rcy_mem_free_remote, which any thread may call: it
 *       touches only the block and the heap's remote list (alloc.h R1).
 *
 * The world (thread.c): the threads attached to at least one heap, and
 * the cooperative stop-the-world of the shared collector (gcshared.c),
 * CPython's protocol (research/threads.md 7.6).  A thread's state
 * (rcyi_tstate, one per thread, thread-local) is changed under the world
 * lock, except OFF <-> ATTACHED, which the thread itself makes without
 * it when its first heap is attached or its last detached (a sequentially
 * consistent store of its state, then a load of the stop flag; the
 * requester stores the flag, then loads the states: one of the two sees
 * the other's store, and an attach that sees a stop pending takes the
 * lock and waits as WAITING):
 *   S1  a thread is on the world's list from its first attach until it
 *       exits; its state is ATTACHED (a heap attached, `nattached` > 0,
 *       running), PARKED (stopped at a safepoint), WAITING (in attach
 *       while the world is stopped) or OFF (no heap attached: detached,
 *       or blocked between rcy_blocking_begin and _end).  Stopping the
 *       world does not wait for OFF threads, and they cannot attach until
 *       it restarts.  With no stop pending, attach and detach take no
 *       lock.
 *   S2  the world is stopped <=> `stopping` and no thread on the list is
 *       ATTACHED other than the requester; rcyi_world_stop returns only
 *       then, and `stop_flag` (what a safepoint loads, relaxed) is set
 *       from the request until the restart.  Every change of a listed
 *       thread away from ATTACHED while a stop is pending bumps
 *       `world.left` under the lock, so the requester spins on that
 *       counter without the lock and re-counts only when it moved.
 *   S3  no starvation: the restart hands every WAITING thread its heap
 *       (WAITING -> ATTACHED) before a new stop can be requested, so an
 *       attach that waited returns after at most one stop, however many
 *       follow back to back; the next stop then waits for that thread's
 *       next safepoint.  It holds even when the requester wins every race
 *       for the lock (rcyi_world_restart_and_stop forces that in a test:
 *       an attach that merely retried on wake-up would wait forever).
 *   S4  a safepoint is a point where the thread's heaps and every object
 *       it touches are consistent: rcy_safepoint, the top of the
 *       allocation slow path (before any state is read), rcy_share
 *       (before the walk), attach.  The requester acts for every stopped
 *       thread: it may free into their heaps (T2's debug check lets it).
 * Threads of never-attached heaps are not on the list: a program that
 * uses them together with shared objects must itself keep them from
 * touching shared objects during rcy_gc_collect_shared (thread.h of the
 * public API says so). */
#ifndef RCY_SRC_THREAD_H
#define RCY_SRC_THREAD_H

#include <stdint.h>

#include "recycle.h"

#define RCYI_THREAD_UNBOUND  ((uintptr_t)0)
#define RCYI_THREAD_DETACHED ((uintptr_t)1)

/* The calling thread's token: the address of a thread-local, never 0. */
uintptr_t rcyi_thread_self(void);
/* T2 for debug heaps: fatal misuse when h is not attached to the caller. */
void rcyi_thread_check(rcy_heap *h, const char *what);

/* S2: set while a stop is requested or the world is stopped. */
extern int rcyi_world_stop_flag __attribute__((visibility("hidden")));
void rcyi_safepoint_slow(void);
/* A safepoint (S4): one relaxed load when no stop is requested. */
static inline void rcyi_safepoint_poll(void) {
    if (RCY_UNLIKELY(__atomic_load_n(&rcyi_world_stop_flag, __ATOMIC_RELAXED)))
        rcyi_safepoint_slow();
}
/* Stop every other attached thread at its next safepoint (S2), the
 * caller parking first if another thread's stop is under way; start them
 * again.  Not nested. */
void rcyi_world_stop(void);
void rcyi_world_start(void);
/* For tests of S3 (tests/test_thread_safepoint.c), the interleaving a
 * requester that always wins the race for the world lock would force:
 * the restart and the next stop request under one hold of the lock, so
 * no thread the restart woke can run in between; then the wait as in
 * rcyi_world_stop.  And the number of listed threads WAITING in attach. */
void rcyi_world_restart_and_stop(void);
unsigned rcyi_world_waiting(void);
/* How many times the world lock was taken (tests of attach's fast path). */
unsigned long rcyi_world_locks(void);
/* Between forbid and allow (nested) the calling thread does not park:
 * rcy_share's walk, whose half-shared graph is no safepoint (S4). */
void rcyi_safepoint_forbid(void);
void rcyi_safepoint_allow(void);
/* rcy_heap_free of a heap attached to the caller: the thread goes OFF
 * if it was its last heap (S1: a freed heap holds no thread up). */
void rcyi_thread_heap_freed(rcy_heap *h);
/* True on the thread that stopped the world, until it restarts it. */
bool rcyi_world_acting(void);

#endif
