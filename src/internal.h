/* src/internal.h — declarations shared between the library's files,
 * grouped by the file that defines them.  Nothing here is exported:
 * every rcyi_ name has hidden visibility (the build sets
 * -fvisibility=hidden; only RCY_API names are exported). */
#ifndef RCY_SRC_INTERNAL_H
#define RCY_SRC_INTERNAL_H

#include "object.h"
#include "recycle.h"

/* ---- alloc.c: the small-object allocator (its API and invariants) --- */

#include "alloc.h"

/* ---- object.c ------------------------------------------------------- */

/* Frees the object layer's per-heap bookkeeping (rcy_heap_free). */
void rcyi_object_fini(rcy_heap *h);

/* ---- tracemalloc.c: hooks on every traced event --------------------- */

/* Objects are traced in domain 0 under their USER pointer (the address
 * rcy_new returned, header + 16) with the size of the whole block, header
 * included; rcy_tracemalloc_get_object_traceback(obj) looks up that
 * pointer. */

/* Non-zero while tracing; read (relaxed) on every allocation and free. */
/* Hidden: one RIP-relative load instead of a GOT load and a load. */
extern int rcyi_tracing __attribute__((visibility("hidden")));
void rcyi_trace_alloc(unsigned domain, const void *ptr, size_t size, const char *file, int line,
                      const char *func);
void rcyi_trace_free(unsigned domain, const void *ptr);
/* An arena of base `base` goes back to the OS (alloc.c, before the unmap):
 * the traces of its blocks go with it (rcy_heap_free with live blocks). */
void rcyi_trace_forget_arena(const void *base);
/* Called by rcy_heap_new: the first call starts tracing when
 * RCY_TRACEMALLOC=N (N frames) is set, like PYTHONTRACEMALLOC. */
void rcyi_tracemalloc_on_heap_new(void);

/* ---- gc.c: the collector's hooks in the object life cycle ----------- */

int rcyi_gc_init(rcy_heap *h);
/* Collect until nothing more is found, run pending finalizers, report
 * what remains per the debug flags.  Called by rcy_heap_free first. */
void rcyi_gc_fini(rcy_heap *h);
/* A new object whose type has traverse: make it tracked in generation 0
 * (may run an automatic collection). */
void rcyi_gc_on_new(rcy_heap *h, rcy_head_ *obj);
/* A tracked object is being freed by refcount: drop it from its
 * generation. */
void rcyi_gc_on_free(rcy_heap *h, rcy_head_ *obj);
/* Lazy tracking (dict.c): untrack a new object as if it had never been
 * tracked (count[0] gives back what rcyi_gc_on_new added), and track it
 * later, counting it as allocated then. */
void rcyi_gc_untrack_new(rcy_heap *h, rcy_head_ *obj);
void rcyi_gc_track_late(rcy_heap *h, rcy_head_ *obj);
/* Weak references to obj are cleared and their callbacks run (called
 * when RCYI_GC_WEAKREFS is set, before the object is destroyed). */
void rcyi_weakref_clear_for(rcy_heap *h, rcy_head_ *obj);

/* ---- error.c: the single error path and output ---------------------- */

RCY_NORETURN void rcyi_fatal(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rcyi_output(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Misuse that harms no heap (a NULL heap or generator given to a public
 * function): reported to the error handler as RCY_EMISUSE (by default
 * printed), never fatal; the caller then returns its neutral value. */
void rcyi_misuse(const char *func, const char *what);
/* The entry check of a public function: `RCYI_REQUIRE(heap, NULL);`
 * (`RCYI_REQUIRE(heap, );` in a void function). */
#define RCYI_REQUIRE(arg, ret)                                                                     \
    do {                                                                                           \
        if (RCY_UNLIKELY(!(arg))) {                                                                \
            rcyi_misuse(__func__, #arg " is NULL");                                                \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)
/* Print a line of a report to `out`, or through the output callback when
 * out is NULL (the statistics printers' convention). */
void rcyi_put(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
