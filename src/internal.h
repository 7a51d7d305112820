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

/* ---- object.c: the object layer (see object.h) --------------------- */

#include "object.h"

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

/* ---- gc.c, weakref.c: the collector's hooks in the object life cycle */

#include "gc.h"
#include "weakref.h"

/* ---- error.c: the single error path and output ---------------------- */

#include "error.h"

#endif
