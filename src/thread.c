/* src/thread.c — heaps attached to threads (thread.h, T1..T2):
 * rcy_heap_attach, rcy_heap_detach, and the debug check that a heap is
 * used only by the thread it is attached to. */
#include "thread.h"
#include "heap.h"

static __thread char self_token;

uintptr_t rcyi_thread_self(void) {
    return (uintptr_t)&self_token;
}

static uintptr_t attached(const rcy_heap *h) {
    return __atomic_load_n(&h->thread, __ATOMIC_ACQUIRE);
}

int rcy_heap_attach(rcy_heap *heap) {
    RCYI_REQUIRE(heap, RCY_EINVAL);
    uintptr_t self = rcyi_thread_self(), none = attached(heap);
    while (none == RCYI_THREAD_UNBOUND || none == RCYI_THREAD_DETACHED) {
        if (__atomic_compare_exchange_n(&heap->thread, &none, self, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_ACQUIRE))
            return RCY_OK;
    }
    if (none == self)
        return RCY_OK; /* attached already: idempotent */
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
    return RCY_OK;
}

bool rcy_heap_is_attached(rcy_heap *heap) {
    RCYI_REQUIRE(heap, false);
    return attached(heap) == rcyi_thread_self();
}

void rcyi_thread_check(rcy_heap *h, const char *what) {
    uintptr_t now = attached(h), self = rcyi_thread_self();
    if (RCY_UNLIKELY(now != self) && now != RCYI_THREAD_UNBOUND) {
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
