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

/* ---- tracemalloc.c: hooks on every traced event (the tracer's header) */

#include "tracemalloc.h"

/* ---- gc.c, weakref.c: the collector's hooks in the object life cycle */

#include "gc.h"
#include "weakref.h"

/* ---- error.c: the single error path and output ---------------------- */

#include "error.h"

#endif
