/* src/frames.h — where a traceback's frames come from: the native stack
 * (frames.c: frame pointers, cached DWARF CFA rules, libunwind) and the
 * script frames an interpreter supplies (framesource.c).  The tracer
 * (tracemalloc*.c) captures with both; snapshots decode script-frame
 * words (rcyi_sframe_of); the preload library forgets cached rules on
 * dlclose.
 *
 * Invariants: no return address of user space has bit 63 set, so a word
 * with RCYI_SFRAME_TAG names a script-frame record; such a record, once
 * published, is never changed or freed (framesource.c states how).  The
 * native walk never faults and never allocates (frames.c's banner).
 */
#ifndef RCY_SRC_FRAMES_H
#define RCY_SRC_FRAMES_H

#include "recycle.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- frames.c: native stacks ------------------------------------------ */

/* Walk the native stack from frame address `fp` (a frame of the caller's
 * own code, compiled with frame pointers): store the return addresses of
 * at most `max` frames after skipping `skip`, newest first.  Sets *total to
 * the frames the stack had after the skip (counting on past max, bounded).
 * Never faults: every frame pointer is checked against the thread's stack.
 * Falls back to libunwind when the frame pointers are unusable. */
int rcyi_walk_stack(uintptr_t fp, uintptr_t *out, int max, int skip, int *total);
/* Force libunwind (RCY_TRACEMALLOC_UNWIND=libunwind); false when the build
 * has no libunwind. */
bool rcyi_walk_use_libunwind(bool on);
/* With libunwind forced: walk with cached DWARF CFA rules (the default),
 * or (false) ask libunwind for every stack.  False when the build has no
 * CFI walk. */
bool rcyi_walk_use_cfi(bool on);
/* Forget the cached rules (a module was unloaded: its addresses may be
 * reused).  Unloads are also noticed on the next cache miss. */
void rcyi_walk_forget(void);
/* How many CFI walks met a frame their rules cannot follow and were handed
 * to libunwind (tests check that the fast walk is the one taken). */
unsigned long rcyi_walk_fallbacks(void);

/* ---- framesource.c: script frames an interpreter supplies ------------- */

/* A script frame in a traceback's pcs: RCYI_SFRAME_TAG | the index of its
 * record.  No return address of user space has bit 63 set.  Only this
 * process's snapshots decode these words (a loaded file's addresses are
 * never taken for script frames). */
#define RCYI_SFRAME_TAG ((uintptr_t)1 << 63)

typedef struct rcyi_sframe {
    const char *file; /* owned copies, for the life of the process; NULL = unknown */
    const char *func;
    unsigned line;
    uint32_t hash;
    uint32_t next; /* hash chain (framesource.c's lock) */
} rcyi_sframe;

/* The record a word names, or NULL when w is a native address (or names no
 * record). */
const rcyi_sframe *rcyi_sframe_of(uintptr_t w);

/* An installed frame source; immutable and never freed, so an event may
 * use the one it read while another is installed. */
typedef struct rcyi_fsource {
    rcy_frame_source_fn *fn;
    void *arg;
    unsigned flags; /* RCY_FRAMES_* */
    struct rcyi_fsource *next;
} rcyi_fsource;

/* The record of (fn, arg, flags); NULL on out of memory. */
const rcyi_fsource *rcyi_fsource_make(rcy_frame_source_fn *fn, void *arg, unsigned flags);

/* A thread's cache of script frames (in its tracer record). */
#define RCYI_SF_CACHE 32
typedef struct rcyi_sf_cache_ent {
    const char *file, *func; /* the source's pointers: a hint, checked by content */
    unsigned line;
    uint32_t id;
} rcyi_sf_cache_ent;
typedef struct rcyi_sf_cache {
    rcyi_sf_cache_ent ent[RCYI_SF_CACHE];
} rcyi_sf_cache;

/* Call src for at most max frames and store them in out[] as tagged words,
 * newest first; returns how many (0: the source had none).  *total: the
 * depth the source reported (capped at 65535).  The caller is busy
 * (rcyi_tm_enter) and outside any event; cache may be NULL. */
int rcyi_fsource_capture(const rcyi_fsource *src, rcyi_sf_cache *cache, int max, uintptr_t *out,
                         int *total);

#endif
