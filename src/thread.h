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
 *       attached thread, RCYI_THREAD_DETACHED once detached, or
 *       RCYI_THREAD_UNBOUND (0) if never attached; written only by attach
 *       (CAS from UNBOUND or DETACHED) and detach (by the attached thread).
 *   T2  once a heap has been attached, a thread uses its private objects
 *       and allocator only while the heap is attached to it.  Debug heaps
 *       check it on every allocation and free (they all take the
 *       allocator's slow path): a use from another thread, or of a
 *       detached heap, is fatal misuse naming both threads.  The one
 *       exception is rcy_mem_free_remote, which any thread may call: it
 *       touches only the block and the heap's remote list (alloc.h R1).
 */
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

#endif
