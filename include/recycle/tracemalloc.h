/* recycle/tracemalloc.h — Python's tracemalloc for C: traces, snapshots,
 * statistics, diffs, filters, dump and load.  Included by <recycle.h>.
 *
 * The tracer is process-wide and thread-safe.  Python's tracemalloc
 * documentation is the specification; where C forces a difference, the
 * comment on the function says how and why.
 *
 * Frames.  With a limit of one frame a trace's traceback is the call-site
 * that rcy_new / rcy_mem_alloc and friends capture (file, line, function):
 * no stack is walked.  Above one frame, native frames follow it: the
 * callers of the allocating function, found by walking frame pointers
 * (libunwind where they fail, or always with RCY_TRACEMALLOC_UNWIND=
 * libunwind), and named file:line:function with libdw when a snapshot is
 * first read or dumped, never while allocating.  Traces made by
 * rcy_tracemalloc_track / track_from have native frames only.  An
 * interpreter may supply the frames of the script it runs instead of, or
 * above, those (rcy_tracemalloc_set_frame_source).
 *
 * Snapshots and the results computed from them are plain values: use each
 * from one thread at a time (the engine itself may be used from any
 * number of threads meanwhile).  Results (statistics, diffs, filtered
 * snapshots) own copies of everything they point to.
 *
 * Choices where Python has a quirk (each said again where it applies):
 *  - a statistic is labelled by its most recent frame, the allocating
 *    line, for every key type (Python labels a traceback-key statistic by
 *    its oldest frame since 3.7: main() for every line of a C program);
 *  - cumulative statistics count a trace once per key, even when a
 *    recursive traceback holds the same frame (or file) several times
 *    (Python counts it again each time, inflating recursive functions);
 *  - rcy_traceback_format with a negative limit keeps the |limit| oldest
 *    frames, as Python documents (its code drops the |limit| newest), and
 *    limit 0 means all frames. */
#ifndef RECYCLE_TRACEMALLOC_H
#define RECYCLE_TRACEMALLOC_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Address spaces of traces (Python's "domain"). */
#define RCY_DOMAIN_DEFAULT 0u /* recycle heaps: objects, containers, rcy_mem_* */
#define RCY_DOMAIN_MALLOC  1u /* malloc family, through the preload library   */

/* ---- frames and tracebacks ---------------------------------------- */

typedef struct rcy_frame {
    const char *filename; /* "?" when unknown                            */
    unsigned lineno;      /* 0 when unknown                              */
    const char *function; /* NULL when unknown                           */
    uintptr_t address;    /* return address of a native frame; 0 for a call-site frame */
    const char *object;   /* shared object of a native frame, or NULL    */
} rcy_frame;

/* frames[0] is the most recent frame (the allocating line).  Note: Python's
 * Traceback indexes from the oldest frame; here index 0 is the newest, and
 * the format functions take most_recent_first as Python's do.  Every
 * traceback has at least one frame ("?", line 0 when nothing is known).
 * Frames compare as Python's do, by (filename, lineno); unresolved native
 * frames ("?") also by address. */
typedef struct rcy_traceback {
    size_t nframe;       /* frames stored                                 */
    size_t total_nframe; /* frames the stack had before truncation        */
    const rcy_frame *frames;
} rcy_traceback;

/* ---- frames an interpreter supplies -------------------------------- */

/* A frame of the interpreted program (CPython's tracemalloc shows Python
 * lines the same way): "fib.lisp", 12, "fib". */
typedef struct rcy_source_frame {
    const char *filename; /* NULL when unknown                    */
    unsigned lineno;      /* 0 when unknown                       */
    const char *function; /* NULL when unknown                    */
} rcy_source_frame;

/* Fill frames[0..max) with the script's current frames, most recent
 * first, and return the depth of the script's stack (which may exceed max:
 * only max are stored, the depth becomes total_nframe).  0: no script is
 * running; the allocation gets its native traceback.  The strings need
 * live only until the function returns: the tracer copies them (once per
 * distinct frame, kept for the life of the process). */
typedef size_t rcy_frame_source_fn(rcy_source_frame *frames, size_t max, void *arg);

/* Script frames above the native traceback (call site and stack), as
 * memray shows Python and native frames; without it a traced allocation
 * made while the script runs has script frames only. */
#define RCY_FRAMES_NATIVE 1u

/* Install fn (NULL removes it) as the source of script frames for every
 * traced allocation and rcy_tracemalloc_track call, with at most the
 * traceback limit of script frames; with RCY_FRAMES_NATIVE the native
 * frames follow them, the limit still counting all.  Snapshots, dumped
 * files, statistics and every recycle report show the script frames like
 * any other (a statistic by line names the script's line).  May be set
 * while tracing or not; process-wide.
 * C: fn runs on the allocating thread with the tracer "busy" (what it
 * allocates is not traced, so it cannot recurse into the tracer) but
 * outside the tracer's locks, so it may allocate, block or even take a
 * snapshot.  Each distinct (fn, arg, flags) installed keeps a few bytes
 * for the life of the process.  rcy_snapshot_dump_raw writes a snapshot
 * holding script frames as rcy_snapshot_dump does (resolved).
 * RCY_EINVAL for unknown flags, RCY_ENOMEM. */
RCY_API int rcy_tracemalloc_set_frame_source(rcy_frame_source_fn *fn, void *arg);
RCY_API int rcy_tracemalloc_set_frame_source_flags(rcy_frame_source_fn *fn, void *arg,
                                                   unsigned flags);
/* The installed source (NULL when none), its arg and flags. */
RCY_API rcy_frame_source_fn *rcy_tracemalloc_get_frame_source(void **arg, unsigned *flags);

/* ---- the engine --------------------------------------------------- */

/* Start tracing, storing at most nframe frames per traceback
 * (1..65535, else RCY_EINVAL).  RCY_TRACEMALLOC=N in the environment starts
 * tracing with N frames when the first heap is made.  Starting while
 * tracing keeps the running limit (as Python). */
RCY_API int rcy_tracemalloc_start(int nframe);
/* Stop tracing and clear all traces (as Python). */
RCY_API void rcy_tracemalloc_stop(void);
RCY_API bool rcy_tracemalloc_is_tracing(void);
RCY_API void rcy_tracemalloc_clear_traces(void);
/* Traced bytes now and at peak.  Exact when called: the tracer briefly
 * stops other threads' events (membarrier(2)) and folds the per-thread
 * counts.  The peak is exact when one thread traces at a time; while
 * several threads trace at once it may miss up to 64 KiB per other
 * thread (each thread folds its count into the shared total when it
 * passes 64 KiB or would make a new peak). */
RCY_API void rcy_tracemalloc_get_traced_memory(size_t *current, size_t *peak);
RCY_API void rcy_tracemalloc_reset_peak(void);
/* Bytes the tracer itself uses (never counted as traced). */
RCY_API size_t rcy_tracemalloc_get_tracemalloc_memory(void);
RCY_API int rcy_tracemalloc_get_traceback_limit(void);
/* Where obj (a recycle object, or a block of rcy_mem_*: the pointer the
 * user holds) was allocated: a copy the caller frees with
 * rcy_traceback_free, or NULL when it was not traced. */
RCY_API rcy_traceback *rcy_tracemalloc_get_object_traceback(const void *obj);
RCY_API void rcy_traceback_free(rcy_traceback *tb);

/* Trace a block of a user's own allocator (Python's PyTraceMalloc_Track).
 * The traceback is the caller's native stack: frame 0 is the line that
 * called track.  Tracing the same (domain, ptr) again replaces the trace.
 * Blocks recycle's own allocator hands out are traced by recycle itself,
 * in domain 0, in a table of their own: tracking one of them in domain 0
 * adds a second trace rather than replacing the first (use another
 * domain for a sub-allocator's blocks).
 * RCY_ESTATE when not tracing.  Calls made while the tracer itself runs on
 * this thread (its own mallocs, under a preload library) are ignored and
 * return RCY_OK, so a malloc hook may call these without a guard of its
 * own against recursion. */
RCY_API int rcy_tracemalloc_track(unsigned domain, uintptr_t ptr, size_t size);
/* Same, skipping `skip` innermost native frames (for malloc wrappers):
 * skip 1 makes frame 0 the caller of the function that calls track_from. */
RCY_API int rcy_tracemalloc_track_from(unsigned domain, uintptr_t ptr, size_t size, unsigned skip);
/* Forget a trace (RCY_OK when there was none; RCY_ESTATE when not
 * tracing).  A wrapper must untrack before it really frees the block:
 * after the free, another thread may get the same address and track it. */
RCY_API int rcy_tracemalloc_untrack(unsigned domain, uintptr_t ptr);

#define RCY_TRACEMALLOC_COUNTERS_VERSION 1
typedef struct rcy_tracemalloc_counters {
    size_t size;      /* caller sets sizeof(rcy_tracemalloc_counters)    */
    uint32_t version; /* filled                                          */
    uint64_t allocs;  /* traced allocation events since start            */
    uint64_t frees;   /* traced free events since start                  */
    uint64_t current; /* traced bytes now                                */
    uint64_t peak;    /* most traced bytes at once since start/reset     */
} rcy_tracemalloc_counters;
RCY_API int rcy_tracemalloc_get_counters(rcy_tracemalloc_counters *out);

/* ---- snapshots ---------------------------------------------------- */

typedef struct rcy_snapshot rcy_snapshot;

/* What a conservative scan at the program's exit found of a block (recycle
 * run; LeakSanitizer's and memcheck's classes): no pointer to it anywhere
 * (DEFINITE), pointers to it only from lost blocks (INDIRECT), reachable
 * from the roots (REACHABLE: globals, thread stacks and registers, and the
 * blocks they reach).  UNKNOWN when nothing was scanned (any snapshot not
 * written by recycle run, files of format 1.1 and older). */
typedef enum rcy_leak_class {
    RCY_LEAK_UNKNOWN = 0,
    RCY_LEAK_DEFINITE = 1,
    RCY_LEAK_INDIRECT = 2,
    RCY_LEAK_REACHABLE = 3
} rcy_leak_class;

typedef struct rcy_trace {
    unsigned domain;
    unsigned leak; /* an rcy_leak_class (in what was padding: no offset moved) */
    size_t size;
    const rcy_traceback *traceback; /* owned by the snapshot */
    /* Blocks this trace stands for: 1, except in a snapshot returned by
     * rcy_snapshot_at_peak, whose traces are per-traceback aggregates. */
    size_t count;
} rcy_trace;

/* NULL when not tracing (Python raises) or out of memory.  While the
 * traces are copied, other threads' traced events wait. */
RCY_API rcy_snapshot *rcy_tracemalloc_take_snapshot(void);
RCY_API void rcy_snapshot_free(rcy_snapshot *s);
RCY_API const rcy_trace *rcy_snapshot_traces(const rcy_snapshot *s, size_t *n);
RCY_API int rcy_snapshot_traceback_limit(const rcy_snapshot *s);

typedef enum rcy_key_type {
    RCY_KEY_LINENO = 0,
    RCY_KEY_FILENAME = 1,
    RCY_KEY_TRACEBACK = 2
} rcy_key_type;

typedef struct rcy_statistic {
    const rcy_traceback *traceback;
    size_t size;
    size_t count;
    /* C: per call site counters over the whole traced run (Python has
     * none; heaptrack's "calls", "allocated" and "temporary"), when the
     * snapshot has them (rcy_snapshot_has_site_counters), else 0:
     * allocations traced with the key's tracebacks, their bytes summed,
     * and how many of them were temporary: freed before the allocating
     * thread traced another allocation (a realloc that moves the block
     * counts as a free and an allocation). */
    uint64_t allocations;
    uint64_t allocated;
    uint64_t temporary;
} rcy_statistic;

typedef struct rcy_statistic_diff {
    const rcy_traceback *traceback;
    size_t size;
    int64_t size_diff;
    size_t count;
    int64_t count_diff;
} rcy_statistic_diff;

/* Result lists own their tracebacks; free them with the matching _free. */
typedef struct rcy_stats {
    size_t len;
    const rcy_statistic *items;
} rcy_stats;
typedef struct rcy_stat_diffs {
    size_t len;
    const rcy_statistic_diff *items;
} rcy_stat_diffs;

/* Grouped by the traceback's most recent frame (LINENO), its file
 * (FILENAME: line 0) or the whole traceback, and sorted as Python sorts
 * them: by (size, count, traceback), biggest first.  A TRACEBACK item's
 * total_nframe is the most frames any of its stacks had (more than nframe:
 * older frames were not kept).  cumulative (LINENO and
 * FILENAME only; NULL for TRACEBACK, as Python refuses it) counts a trace
 * under every key among its frames, once per key.  NULL also on out of
 * memory. */
RCY_API rcy_stats *rcy_snapshot_statistics(const rcy_snapshot *s, rcy_key_type key,
                                           bool cumulative);
RCY_API void rcy_stats_free(rcy_stats *stats);

/* C: what statistics are sorted by.  RCY_ORDER_SIZE is Python's order
 * (rcy_snapshot_statistics).  The others sort by a per call site counter
 * of rcy_statistic, biggest first (ties: size, count, traceback), and also
 * list the keys no live block holds any more; they need a snapshot with
 * counters (else NULL). */
typedef enum rcy_stat_order {
    RCY_ORDER_SIZE = 0,
    RCY_ORDER_ALLOCATIONS = 1,
    RCY_ORDER_ALLOCATED = 2,
    RCY_ORDER_TEMPORARY = 3
} rcy_stat_order;
RCY_API rcy_stats *rcy_snapshot_statistics_by(const rcy_snapshot *s, rcy_key_type key,
                                              bool cumulative, rcy_stat_order order);
/* C: whether s has per call site counters: a snapshot the engine took, or
 * a file of format 1.2 / 2.1 or later.  Not a peak, a filtered snapshot
 * or an older file (their counters are unknown). */
RCY_API bool rcy_snapshot_has_site_counters(const rcy_snapshot *s);
/* Statistics of newer with size_diff and count_diff against older (keys
 * only in older appear with size 0), sorted as Python sorts them: by
 * (|size_diff|, size, |count_diff|, count, traceback), biggest first. */
RCY_API rcy_stat_diffs *rcy_snapshot_compare_to(const rcy_snapshot *newer,
                                                const rcy_snapshot *older, rcy_key_type key,
                                                bool cumulative);
RCY_API void rcy_stat_diffs_free(rcy_stat_diffs *diffs);

/* Python's str(Statistic) / str(StatisticDiff), e.g.
 * "tour.c:42: size=3437 KiB, count=76685, average=46 B".  snprintf-style:
 * returns the length the full text needs. */
RCY_API int rcy_statistic_format(const rcy_statistic *st, char *buf, size_t len);
RCY_API int rcy_statistic_diff_format(const rcy_statistic_diff *d, char *buf, size_t len);
/* C: a statistic with its per call site counters, e.g. "parse.c:120:
 * allocations=900, allocated=45.0 KiB, temporary=800, size=4096 B,
 * count=100" (size and count: what is still live); labelled as
 * rcy_statistic_format labels it. */
RCY_API int rcy_statistic_format_counters(const rcy_statistic *st, char *buf, size_t len);
/* Python's tracemalloc._format_size(size, sign). */
RCY_API int rcy_format_size(int64_t size, bool sign, char *buf, size_t len);
/* The same for an unsigned size (up to 2^64 - 1, which the int64_t of
 * rcy_format_size would show negative). */
RCY_API int rcy_format_usize(uint64_t size, char *buf, size_t len);
/* Python's Traceback.format(limit, most_recent_first): a malloc'd string
 * of lines ending in '\n' (free with free()), NULL on out of memory.  Each
 * frame gives '  File "file", line N' and, when the source file can be
 * read, the stripped source line indented by four spaces.  limit > 0: the
 * limit most recent frames; limit < 0: the |limit| oldest; 0: all. */
RCY_API char *rcy_traceback_format(const rcy_traceback *tb, int limit, bool most_recent_first);

/* Python's Filter and DomainFilter in one struct.  The pattern is matched
 * by Python's fnmatch rules (not fnmatch(3)'s): '*' and '?' also match
 * '/', '[!a]' is a negated set and '[^a]' the set of '^' and 'a', a
 * backslash is an ordinary character, an unclosed '[' is itself.  C:
 * bytes, not code points: '?' and ranges see one byte of a UTF-8
 * character (ASCII file names match alike); no '.pyc' to '.py'
 * normalisation.  Without all_frames only the most recent frame is
 * matched. */
typedef struct rcy_filter {
    bool inclusive;
    bool domain_only;             /* a DomainFilter: only `domain` is used */
    const char *filename_pattern; /* NULL = "*"; ignored if domain_only    */
    unsigned lineno;              /* 0 = any line                          */
    bool all_frames;
    int domain; /* -1 = any domain                       */
} rcy_filter;

/* A new snapshot with the traces the filters keep, combined as Python
 * combines them (all inclusive filters: any must match; exclusive: none). */
RCY_API rcy_snapshot *rcy_snapshot_filter_traces(const rcy_snapshot *s, const rcy_filter *filters,
                                                 size_t n);
/* A new snapshot with the traces for which keep(trace, arg) is true (a
 * trace's traceback is resolved when keep sees it); NULL when keep is NULL
 * or out of memory. */
RCY_API rcy_snapshot *rcy_snapshot_select(const rcy_snapshot *s,
                                          bool (*keep)(const rcy_trace *t, void *arg), void *arg);
/* Total size and count of the snapshot's traces (counts of aggregates
 * included). */
RCY_API void rcy_snapshot_totals(const rcy_snapshot *s, size_t *size, size_t *count);

/* Write len bytes to path so that a reader never sees half a file and
 * nothing but a regular file is ever replaced (rcy_snapshot_dump and the
 * recycle command write every file through it):
 *  - no file, or a regular file: the bytes go to a temporary file in the
 *    same directory, with a name nobody can guess, created O_CREAT |
 *    O_EXCL | O_NOFOLLOW with mode 0600, which is renamed over path once
 *    complete, with the mode of the file it replaces (or 0666 & ~umask);
 *  - a symbolic link: the same for the file it names; the link stays;
 *  - a character device or a FIFO (/dev/null, /dev/stdout, a pipe):
 *    written through, never created, truncated or replaced; a FIFO with
 *    no reader fails (ENXIO) instead of blocking;
 *  - a directory, block device or socket: refused.
 * RCY_OK, RCY_EINVAL, RCY_ENOMEM, or RCY_EIO with errno saying why (EISDIR
 * for a directory, EINVAL for a block device or socket). */
RCY_API int rcy_file_write(const char *path, const void *data, size_t len);
/* Would rcy_file_write(path, ...) work now?  Same rules and codes; for a
 * regular file, creates and removes a temporary in its directory (the
 * only sure test), for a device or FIFO checks write permission. */
RCY_API int rcy_file_check(const char *path);

/* Versioned, checksummed binary file with resolved symbols (the layout is
 * described at the top of src/snapfile.c), written with rcy_file_write.  Dumping resolves symbols
 * but creates no traces. When the library is built with libzstd the body is zstd-compressed;
 * without it files are written uncompressed.  Both kinds load, as do
 * files of format 1.0 (always uncompressed).
 * load sets *err: RCY_EIO (cannot read), RCY_EFORMAT (not a snapshot file,
 * or malformed, including a damaged compressed body), RCY_ECORRUPT
 * (truncated, or checksum mismatch), RCY_EVERSION (another major version),
 * RCY_EUNSUPPORTED (a compressed file, and a library built without
 * libzstd), RCY_ENOMEM.  load checks the header before it reads the body:
 * a regular file must be exactly as long as its header says; a FIFO or
 * device is read only up to that length (at most 1 GiB), and a FIFO with
 * no writer reads as empty instead of blocking; a directory is RCY_EIO
 * with errno EISDIR.  A bad file never makes load allocate more than a
 * small multiple of its size: a compressed body's declared size must
 * match its zstd frame, be at most 256 times the compressed bytes (dump
 * writes a body that would compress more uncompressed) and at most 1 GiB. */
RCY_API int rcy_snapshot_dump(const rcy_snapshot *s, const char *path);
RCY_API rcy_snapshot *rcy_snapshot_load(const char *path, int *err);

/* Dump without resolving symbols, for a process that should not run a
 * symbolizer (recycle run's preload library, at the traced program's
 * exit): native frames are written as addresses with the list of modules
 * they lie in (path, build-id, load bias), a file of major version 2.
 * Loading it resolves them from the module files, in the loading process,
 * once per distinct address; a module that is gone or was rebuilt (another
 * build-id) gives frames named "module+0xOFFSET".  Call-site frames and
 * snapshots that hold no raw addresses (loaded ones) are written as
 * rcy_snapshot_dump writes them.  Errors as rcy_snapshot_dump. */
RCY_API int rcy_snapshot_dump_raw(const rcy_snapshot *s, const char *path);

/* Readable names for mangled symbols (C++ "_Z..."): fn returns a malloc'd
 * string (freed by the library) or NULL to keep the name.  Used for every
 * native frame resolved after the call; NULL turns it off.  The recycle
 * command passes libstdc++'s __cxa_demangle; the library itself needs
 * nothing beyond libc. */
typedef char *rcy_demangle_fn(const char *mangled);
RCY_API void rcy_tracemalloc_set_demangler(rcy_demangle_fn *fn);

/* Resolve every frame of s (and of its peak) now; the functions that read
 * frames otherwise do it on first use.  fn, when not NULL, is called now
 * and then with the tracebacks done so far and their total (for a progress
 * bar: a large file's symbols may take seconds).  0 or RCY_ENOMEM. */
typedef void rcy_progress_fn(size_t done, size_t total, void *arg);
RCY_API int rcy_snapshot_symbolize(const rcy_snapshot *s, rcy_progress_fn *fn, void *arg);

/* Extra data the recycle command stores in the same file. */
typedef struct rcy_sample {
    uint64_t time_ns; /* since the start of the run */
    uint64_t current; /* traced bytes */
    uint64_t peak;
    uint64_t rss; /* the process's resident set, bytes; 0 = not recorded */
} rcy_sample;
RCY_API int rcy_snapshot_set_timeline(rcy_snapshot *s, const rcy_sample *samples, size_t n);
RCY_API const rcy_sample *rcy_snapshot_timeline(const rcy_snapshot *s, size_t *n);
/* Counters as they were when the snapshot was taken (or loaded). */
RCY_API const rcy_tracemalloc_counters *rcy_snapshot_counters(const rcy_snapshot *s);
/* Free-form key/value text (command line, pid, exit status, ...). */
RCY_API int rcy_snapshot_set_info(rcy_snapshot *s, const char *key, const char *value);
RCY_API const char *rcy_snapshot_get_info(const rcy_snapshot *s, const char *key);
/* The traces as they were at the moment of peak traced memory, when the
 * engine kept them (see rcy_tracemalloc_keep_peak), else NULL.  Owned by s.
 * Its traces are per-traceback aggregates (rcy_trace.count = blocks). */
RCY_API const rcy_snapshot *rcy_snapshot_at_peak(const rcy_snapshot *s);
/* Ask the engine to keep a copy of the per-traceback totals at (near) the
 * peak, for flame graphs at peak.  Off by default.  The copy is taken when
 * traced memory first drops after a new peak, if it grew by more than 1/64
 * since the last copy: the first free after such a peak briefly stops
 * other threads' events and totals the live traces.  So it is the picture
 * at the peak within 1/64 (and exact in one thread for a peak that grew
 * more); events pay nothing else for it.  reset_peak starts over. */
RCY_API int rcy_tracemalloc_keep_peak(bool on);

/* A module (executable or shared object) of the process a file of
 * recycle run traced, as it was mapped there.  The rcy_frame.object of
 * its native frames is `path`; their addresses lie in [start, limit). */
typedef struct rcy_module_info {
    const char *path;     /* owned by the snapshot                        */
    const char *build_id; /* lower-case hex, or NULL when it had none     */
    uint64_t start, limit;
} rcy_module_info;
/* The i-th module of s (and of its peak) into *out: true, or false past
 * the last one.  Only a loaded file of recycle run (major version 2) has
 * modules; a snapshot taken or resolved in this process has none. */
RCY_API bool rcy_snapshot_module(const rcy_snapshot *s, size_t i, rcy_module_info *out);

#ifdef __cplusplus
}
#endif
#endif /* RECYCLE_TRACEMALLOC_H */
