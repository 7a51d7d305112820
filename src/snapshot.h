/* src/snapshot.h — the snapshot object (snapshot.c) and what is built on
 * it: statistics and diffs (snapstats.c), filters (snapfilter.c), text
 * formats (snapformat.c) and the file format (snapfile.c).  Only
 * snapshot.c writes the fields of struct rcy_snapshot; the engine
 * (tracemalloc.c) and the file reader fill a snapshot through the setters
 * below.
 *
 * Invariants of a snapshot s (each labelled, stated once):
 *  S1  every s->traces[i].traceback is &s->tbs[j].pub for some j < s->ntb;
 *      a traceback no trace uses may exist (a loaded file's, before
 *      trimming) but is never written to a file.
 *  S2  s->tbs[j].frames is NULL or owned, and then pub.frames ==
 *      frames; s->resolved implies every tbs[j].frames is filled.
 *      Resolution is a cache: it may run on a const snapshot.
 *  S3  an unresolved traceback keeps its raw data: the call site
 *      (site_file/line/func) and npcs addresses in pcs, which point into
 *      s->pcs_block (or, for a loaded peak, its parent's block).
 *  S4  every string a frame, module or raw traceback points to outlives
 *      s: a call-site literal, the process-wide symbol cache, or s->strings
 *      (a loaded or filtered snapshot's one blob, owned).
 *  S5  s->peak is owned, has no peak of its own, and shares s->modules
 *      (modules_borrowed): frames of both resolve from the same files.
 *      s->modules is NULL for a snapshot of this process.
 *  S6  counters.current == the sum of the traces' sizes for a snapshot the
 *      engine took (a file may say anything: it is shown, never trusted).
 *  S7  site_counters: every traceback's allocs/allocated/temporary are
 *      known (the engine's, or a file's TCNT section); then every
 *      traceback with allocs > 0 is kept and written even when no trace
 *      uses it (its blocks were all freed).  Without them (a file of
 *      before 1.2, a peak, a filtered snapshot) they mean nothing and
 *      are never shown or written.
 *
 * Strings of the info table and the timeline are copies owned by s.  All
 * functions here run with the thread's tracer-busy flag set (rcyi_tm_enter)
 * so the memory they malloc is never traced.
 */
#ifndef RCY_SRC_SNAPSHOT_H
#define RCY_SRC_SNAPSHOT_H

#include "symbols.h"
#include "tracemalloc.h"

/* ---- snapshot.c: the snapshot object ---------------------------------- */

typedef struct rcyi_snap_tb {
    rcy_traceback pub; /* what users see (frames resolved)             */
    rcy_frame *frames; /* pub.frames, owned                            */
    /* raw, until resolved: */
    const char *site_file, *site_func;
    int site_line;
    uint16_t npcs, total;
    uintptr_t *pcs;
    /* per call site counters (S7) */
    uint64_t allocs, allocated, temporary;
} rcyi_snap_tb;

typedef struct rcyi_info {
    char *key, *value;
} rcyi_info;

struct rcy_snapshot {
    int traceback_limit;
    bool resolved;      /* frames filled from the raw data (S2)          */
    bool site_counters; /* tbs[].allocs etc. are known (S7)              */
    size_t ntraces;
    rcy_trace *traces;
    size_t ntb;   /* tracebacks in use (S1)                        */
    size_t tbcap; /* tracebacks allocated: all freed with s        */
    rcyi_snap_tb *tbs;
    rcy_tracemalloc_counters counters;
    size_t ntimeline;
    rcy_sample *timeline;
    size_t ninfo;
    rcyi_info *info;
    struct rcy_snapshot *peak; /* owned, or NULL (S5) */
    char *strings;             /* loaded/filtered: one blob owning all strings (S4) */
    uintptr_t *pcs_block;      /* raw native frames of all tbs (S3)  */
    rcyi_modset *modules;      /* a loaded unresolved file's modules: frames are
                                * resolved from them; NULL = this process's */
    bool modules_borrowed;     /* the peak shares its parent's modules (S5) */
};

/* An empty snapshot (all arrays NULL, limit 1). */
rcy_snapshot *rcyi_snapshot_alloc(void);
/* A snapshot built from raw engine data: takes ownership of nothing;
 * copies what it needs.  NULL on out of memory. */
rcy_snapshot *rcyi_snapshot_from_raw(int limit, const rcyi_raw_trace *traces, size_t ntraces,
                                     const rcyi_tb *const *tbs, size_t ntb);

/* Setters: how code outside snapshot.c builds a snapshot.  The new_*
 * functions allocate zeroed storage owned by s (replacing none: each is
 * called at most once per snapshot) and return it to be filled; NULL on
 * out of memory. */
void rcyi_snapshot_set_meta(rcy_snapshot *s, int limit, const rcy_tracemalloc_counters *c);
/* Traceback entries for up to n tracebacks (all n in use until
 * rcyi_snapshot_use_tracebacks says fewer), and with npcs > 0 a block for
 * that many raw addresses (*pcs; S3). */
rcyi_snap_tb *rcyi_snapshot_new_tracebacks(rcy_snapshot *s, size_t n, size_t npcs, uintptr_t **pcs);
void rcyi_snapshot_use_tracebacks(rcy_snapshot *s, size_t n);
rcy_trace *rcyi_snapshot_new_traces(rcy_snapshot *s, size_t n);
rcy_sample *rcyi_snapshot_new_timeline(rcy_snapshot *s, size_t n);
/* The one blob of size bytes that holds s's strings (S4); or s owns the
 * malloc'd blob `strings` from now on. */
char *rcyi_snapshot_new_strings(rcy_snapshot *s, size_t size);
void rcyi_snapshot_adopt_strings(rcy_snapshot *s, char *strings);
/* s owns m from now on (S5). */
void rcyi_snapshot_set_modules(rcy_snapshot *s, rcyi_modset *m);
void rcyi_snapshot_set_resolved(rcy_snapshot *s, bool resolved);
/* Whether the tracebacks' per call site counters are known (S7). */
void rcyi_snapshot_set_site_counters(rcy_snapshot *s, bool known);
/* The leak class (rcy_leak_class) of traces[0..n) from classes[i]; a value
 * out of range stands for RCY_LEAK_UNKNOWN.  New traces are UNKNOWN. */
void rcyi_snapshot_set_leak_classes(rcy_snapshot *s, const unsigned char *classes, size_t n);
/* s owns peak from now on; peak shares s's modules and resolution state
 * (S5). */
void rcyi_snapshot_set_peak(rcy_snapshot *s, rcy_snapshot *peak);

/* Fill every traceback's frames (symbolizing native frames); idempotent.
 * 0 or RCY_ENOMEM. */
int rcyi_snapshot_resolve(const rcy_snapshot *s);
/* Fill frames of one raw traceback; returns a malloc'd array (*n set). */
rcy_frame *rcyi_resolve_frames(rcyi_modset *mods, const char *site_file, int site_line,
                               const char *site_func, const uintptr_t *pcs, size_t npcs,
                               size_t total, int limit, size_t *n, size_t *total_out);
/* The index in s->tbs of trace t's traceback (S1). */
static inline size_t rcyi_snapshot_tb_index(const rcy_snapshot *s, const rcy_trace *t) {
    return (size_t)((const rcyi_snap_tb *)(const void *)t->traceback - s->tbs);
}

/* The file name of a frame nothing is known about. */
extern const char rcyi_unknown_file[];

/* Sums of sizes and counts saturate: a crafted file can hold sizes near
 * 2^64, and a wrapped total would print as a small or negative figure. */
static inline size_t rcyi_sat_add(size_t a, size_t b) {
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* a - b as a signed difference, clamped to int64_t. */
static inline int64_t rcyi_sat_diff(uint64_t a, uint64_t b) {
    if (a >= b)
        return a - b > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(a - b);
    return b - a > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)(b - a);
}

/* ---- snapstats.c: results that own copies of their tracebacks --------- */

/* A string blob builder: strings are copied once each. */
typedef struct rcyi_blob {
    char *buf;
    size_t len, cap;
} rcyi_blob;

/* The offset of a copy of s in the blob; SIZE_MAX on out of memory. */
size_t rcyi_blob_add(rcyi_blob *b, const char *s);

/* A result's own tracebacks, frames and strings (one block each). */
typedef struct rcyi_result {
    rcy_traceback *tbs;
    rcy_frame *frames;
    char *strings;
} rcyi_result;

/* r.tbs[i]: a copy of tbs[i], its frames and their strings owned by r. */
int rcyi_result_fill_tracebacks(rcyi_result *r, const rcy_traceback *const *tbs, size_t n);
void rcyi_result_free(rcyi_result *r);

/* ---- snapformat.c ----------------------------------------------------- */

/* The frame a traceback is labelled by (its most recent), or an unknown
 * frame for an empty one. */
const rcy_frame *rcyi_label_frame(const rcy_traceback *tb);

/* ---- snapfile.c: the file format -------------------------------------- */

/* CRC-32 (IEEE) of a buffer, continuing from crc (0 to start). */
uint32_t rcyi_crc32(uint32_t crc, const void *data, size_t n);
/* Parse a snapshot file image from memory (also the fuzz entry point). */
rcy_snapshot *rcyi_snapshot_parse(const unsigned char *data, size_t n, int *err);
/* The file image of s in *out (malloc'd, *len bytes): what
 * rcy_snapshot_dump writes when compress is true (compressed when the
 * library has libzstd and that is smaller), always uncompressed otherwise. */
int rcyi_snapshot_encode(const rcy_snapshot *s, bool compress, unsigned char **out, size_t *len);
/* rcy_snapshot_dump_raw's image (major version 2), never compressed. */
int rcyi_snapshot_encode_raw(const rcy_snapshot *s, unsigned char **out, size_t *len);
/* Whether this build reads and writes zstd-compressed snapshot files. */
bool rcyi_snapfile_have_zstd(void);

#endif
