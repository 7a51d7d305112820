/* src/internal.h — every internal header of the library, for the files
 * that use several layers.  Each concept has one header, which holds its
 * state, its invariants and its internal API (docs/internals.md maps
 * them); open that header, not this one.  Nothing here is exported: every
 * rcyi_ name has hidden visibility (the build sets -fvisibility=hidden;
 * only RCY_API names are exported). */
#ifndef RCY_SRC_INTERNAL_H
#define RCY_SRC_INTERNAL_H

#include "recycle.h"

#include "alloc.h"       /* the small-object allocator: arenas, pools, blocks */
#include "error.h"       /* the error path, misuse reports, output */
#include "frames.h"      /* native stacks and script frames */
#include "gc.h"          /* the cycle collector: state, phases, hooks */
#include "gcshared.h"    /* the shared graph's lists and collector */
#include "object.h"      /* object headers, refcounts, the object layer's state */
#include "os.h"          /* mmap, pages, clocks, /proc */
#include "symbols.h"     /* return addresses to file:line:function */
#include "thread.h"      /* which thread a heap is attached to */
#include "tracemalloc.h" /* the tracer: hooks, events, raw tracebacks */
#include "weakref.h"     /* weak references and finalize objects */

#endif
