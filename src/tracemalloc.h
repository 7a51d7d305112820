/* src/tracemalloc.h — the tracer's header: the hooks the allocator and
 * object layer call on every traced event, the raw memory and busy flag
 * that framesource.c and symbols.c use too, and the raw tracebacks the
 * snapshot files (snapshot.h) copy.  tools/preload_hooks.c, which
 * compiles the sources again, uses the take/put-back pair for realloc.
 * Native stacks and script frames: frames.h; symbols: symbols.h.
 *
 * The engine is four files (tracemalloc.c: events and control API;
 * tracemalloc_threads.c: thread registry and stop-the-world;
 * tracemalloc_traces.c: trace tables; tracemalloc_tracebacks.c:
 * traceback interning); what they share, what protects each piece of
 * state and the engine's invariants are in their private header,
 * tracemalloc_engine.h, which nothing else includes.
 */
#ifndef RCY_SRC_TRACEMALLOC_H
#define RCY_SRC_TRACEMALLOC_H

#include "recycle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* A traced object is being shared (share.c, on its heap's thread): its
 * trace moves from the block table, which only the thread of the pool's
 * heap may write, to the shards, which any thread may (tracemalloc_engine.h),
 * so that whichever thread frees it removes its trace with
 * rcyi_trace_free_shared (object.h O4).  Totals are unchanged. */
void rcyi_trace_share(const void *ptr);
void rcyi_trace_free_shared(const void *ptr);
/* An arena of base `base` goes back to the OS (alloc.c, before the unmap):
 * the traces of its blocks go with it (rcy_heap_free with live blocks). */
void rcyi_trace_forget_arena(const void *base);
/* Called by rcy_heap_new: the first call starts tracing when
 * RCY_TRACEMALLOC=N (N frames) is set, like PYTHONTRACEMALLOC. */
void rcyi_tracemalloc_on_heap_new(void);

/* ---- raw memory (tracemalloc.c) and the busy flag (tracemalloc_threads.c) */

/* Fresh zeroed pages from mmap, counted in get_tracemalloc_memory.  NULL on
 * failure. */
void *rcyi_tm_map(size_t size);
void rcyi_tm_unmap(void *p, size_t size);

/* A thread is "busy" while it runs tracer code: events it causes (a malloc
 * inside libdw, a snapshot's own memory) are not traced.  enter returns the
 * previous state for exit. */
int rcyi_tm_enter(void);
void rcyi_tm_exit(int prev);
/* Tests: synchronize events with stoppers by fences, as on a kernel
 * without membarrier(2).  Only before the first rcy_tracemalloc_start. */
void rcyi_tm_use_fences(void);

/* ---- tracemalloc.c: a trace taken out and put back (preload realloc) --- */

/* A trace held aside while the real realloc runs: the block's address
 * must be untraced before realloc may give it back (another thread may get
 * it at once), yet a realloc that fails leaves the block as it was. */
typedef struct rcyi_taken {
    uintptr_t ptr;
    size_t size;
    unsigned domain;
    uint32_t tb;  /* traceback id; 0 = nothing taken */
    uint32_t gen; /* the traces' generation (a clear makes ids stale) */
} rcyi_taken;

/* An event: remove (domain, ptr)'s trace from the shards (not the block
 * table: for rcy_tracemalloc_track's traces) and its bytes from current
 * memory, counting no free.  false (out->tb == 0) when it has none. */
bool rcyi_tracemalloc_take(unsigned domain, uintptr_t ptr, rcyi_taken *out);
/* The block lives on: trace it again exactly as it was (size, traceback),
 * counting no allocation.  Dropped if the traces were cleared or tracing
 * stopped meanwhile. */
void rcyi_tracemalloc_put_back(const rcyi_taken *t);
/* The block is gone: count the free that take did not. */
void rcyi_tracemalloc_taken_freed(const rcyi_taken *t);

/* ---- tracemalloc.c: a snapshot with its blocks' addresses (leak scan) --- */

/* rcy_tracemalloc_take_snapshot, and in *addrs (malloc'd, untraced) the
 * address of the block of each of its traces, in the snapshot's order (0
 * for blocks of recycle's own pools, which the preload library never
 * has).  NULL (and *addrs NULL) when not tracing or out of memory. */
rcy_snapshot *rcyi_tracemalloc_take_snapshot_addrs(uintptr_t **addrs);

/* ---- tracemalloc_tracebacks.c: raw tracebacks as the engine keeps them */

/* Native frames captured beyond the limit for call-site traces, so the
 * report can drop the library's own frames and the user's function (which
 * the call-site frame already names) without knowing their depth when the
 * stack is walked. */
#define RCYI_TM_SLACK 6

typedef struct rcyi_tb {
    uint32_t hash;
    uint32_t domain;
    uint16_t npcs;    /* native return addresses stored in pcs       */
    uint16_t total;   /* native frames the stack had (capped 65535)  */
    int line;         /* call-site line                              */
    const char *file; /* call-site file, NULL when there is none     */
    const char *func; /* call-site function                          */
    uint32_t next;    /* hint: the traceback that followed this one in
                       * some thread's last event after it (atomic; 0) */
    uint32_t id;      /* its own id (tracemalloc_tracebacks.c's directory) */
    /* Per call site counters (tracemalloc.c: count_alloc, count_free),
     * the only mutable part of a published traceback: plain adds while
     * one thread traces, atomic adds once several do (gs.multi). */
    /* (temporary sits between the two that every allocation adds to, so
     * the compiler makes two adds of them, not six vector instructions) */
    uint64_t allocs;    /* allocations traced with this traceback     */
    uint64_t temporary; /* freed before the thread's next allocation  */
    uint64_t allocated; /* their bytes, summed                        */
    uintptr_t pcs[];    /* newest first                                */
} rcyi_tb;

/* A copy of the engine's traces taken under all locks (tracemalloc.c
 * fills it for take_snapshot).  Owned by the snapshot code (malloc). */
typedef struct rcyi_raw_trace {
    uint32_t domain;
    uint32_t tb; /* index into rcyi_raw.tbs */
    uint64_t size;
    uint64_t count; /* 1, or the number of blocks of a peak aggregate */
} rcyi_raw_trace;

#endif
