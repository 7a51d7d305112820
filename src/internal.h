/* src/internal.h — declarations shared between the library's files,
 * grouped by the file that defines them.  Nothing here is exported:
 * every rcyi_ name has hidden visibility (the build sets
 * -fvisibility=hidden; only RCY_API names are exported). */
#ifndef RCY_SRC_INTERNAL_H
#define RCY_SRC_INTERNAL_H

#include "object.h"
#include "recycle.h"

/* ---- alloc.c: the small-object allocator ---------------------------- */

enum { RCYI_KIND_RAW = 0, RCYI_KIND_OBJECT = 1 };

/* Untraced allocation of `size` bytes of the given kind.  Blocks of kind
 * OBJECT come from pools that hold only objects, so the collector can walk
 * them; the caller of rcyi_free for an object block first sets its first 8
 * bytes (refcnt, gcword) to zero.  NULL on failure (no handler called). */
void *rcyi_alloc(rcy_heap *h, size_t size, int kind);
void *rcyi_realloc(rcy_heap *h, void *p, size_t size); /* RAW kind only */
void rcyi_free(rcy_heap *h, void *p);
/* Visit every live object (small and large) of the heap. */
typedef void (*rcyi_obj_visitor)(rcy_head_ *obj, void *arg);
void rcyi_walk_objects(rcy_heap *h, rcyi_obj_visitor fn, void *arg);
/* The heap a block belongs to, or NULL when recycle never handed it out
 * (used to report misuse). */
rcy_heap *rcyi_heap_of_block(const void *p);

/* ---- object.c ------------------------------------------------------- */

/* Frees the object layer's per-heap bookkeeping (rcy_heap_free). */
void rcyi_object_fini(rcy_heap *h);

/* ---- tracemalloc.c: hooks on every traced event (the tracer's header) */

#include "tracemalloc.h"

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
