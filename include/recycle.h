/* recycle — Python's memory management for C.
 *
 * One header for the whole public API.  Topical parts live under
 * include/recycle/ and are all included here:
 *   core.h         errors, output, heaps, memory, types, objects, refcounts
 *   containers.h   integers, lists, dicts
 *   gc.h           the cycle collector (Python's gc module) and weak refs
 *   gen.h          generators
 *   tracemalloc.h  allocation tracing, snapshots, statistics
 *   thread.h       objects shared between threads
 */
#ifndef RECYCLE_H
#define RECYCLE_H

#include "recycle/core.h"
#include "recycle/containers.h"
#include "recycle/gc.h"
#include "recycle/gen.h"
#include "recycle/tracemalloc.h"
#include "recycle/thread.h"

#endif /* RECYCLE_H */
