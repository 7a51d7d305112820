/* recycle/core.h — errors, output, heaps, memory, types, objects and
 * reference counting.  Included by <recycle.h>; do not include directly.
 *
 * Conventions (the whole API follows them):
 *  - Functions that can fail return NULL or a negative rcy_err code.
 *  - No function steals a reference: arguments are borrowed, and the callee
 *    takes its own reference when it stores one.  Functions that return an
 *    object return a NEW reference, except getters named `..._get` /
 *    `..._borrow`, which return a BORROWED one (valid while its container
 *    holds it), as in CPython's C API.
 *  - Misuse that would corrupt memory (decref of a dead object, refcount
 *    below zero, a pointer recycle never handed out) is fatal: it goes to the
 *    error handler, which by default prints the message and aborts.
 */
#ifndef RECYCLE_CORE_H
#define RECYCLE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RCY_API         __attribute__((visibility("default")))
#define RCY_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RCY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RCY_NORETURN    __attribute__((noreturn))
#else
#define RCY_API
#define RCY_LIKELY(x)   (x)
#define RCY_UNLIKELY(x) (x)
#define RCY_NORETURN
#endif

#define RCY_VERSION_MAJOR  0
#define RCY_VERSION_MINOR  1
#define RCY_VERSION_PATCH  0
#define RCY_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------ */
/* Errors and output                                                   */
/* ------------------------------------------------------------------ */

typedef enum rcy_err {
    RCY_OK = 0,
    RCY_ENOMEM = -1,           /* out of memory (or the heap's limit was hit)     */
    RCY_EINVAL = -2,           /* invalid argument                                */
    RCY_EIO = -3,              /* input/output error; errno has the detail        */
    RCY_EFORMAT = -4,          /* not a recycle file, or a malformed one          */
    RCY_ECORRUPT = -5,         /* checksum mismatch or truncated file             */
    RCY_EVERSION = -6,         /* file written by an incompatible version         */
    RCY_ESTATE = -7,           /* not allowed in the current state (e.g. not tracing) */
    RCY_ERANGE = -8,           /* index or value out of range                     */
    RCY_ENOTFOUND = -9,        /* key or item not present                         */
    RCY_EMISUSE = -10,         /* API misuse detected (fatal unless the handler returns) */
    RCY_ECORRUPTED_HEAP = -11, /* debug allocator found a broken guard    */
    RCY_EUNSUPPORTED = -12     /* not supported on this platform or build      */
} rcy_err;

/* A static, human-readable description of an rcy_err code. */
RCY_API const char *rcy_strerror(int err);

/* All library output (statistics, gc debug messages, warnings) goes
 * through one callback.  The default writes to stderr.  NULL restores the
 * default.  Process-wide; set it before creating heaps. */
typedef void rcy_output_fn(const char *text, void *arg);
RCY_API void rcy_set_output(rcy_output_fn *fn, void *arg);

/* Fatal misuse and corruption go through one handler: it receives the
 * error code and a full message (type, address, and when tracing, where
 * the object was allocated).  The default prints through the output
 * callback and calls abort().  If a user handler returns, recycle aborts
 * anyway: the heap is not in a state that can go on.
 *
 * One rule for NULL and wrong-type arguments, kept by every public
 * function: given a NULL heap, object, generator, container, weak
 * reference, callback or output pointer where it needs one, or an object
 * of the wrong type where it needs a list, dict, int or finalize object
 * (rcy_list_len of a dict, rcy_int_value of a list), a function reports it
 * through the same handler as RCY_EMISUSE ("rcy_gc_get_count: heap is
 * NULL", "rcy_list_len: l has type dict, not list"; the default
 * prints it through the output callback) and returns its neutral value:
 * RCY_EINVAL for an int result, NULL for a pointer, false or 0 for a bool
 * or a count, nothing for a void function (rcy_mem_free of a block with a
 * NULL heap leaves the block allocated).  Storing an object of one heap
 * in a list or dict of another is misuse of the same kind
 * ("rcy_list_insert_: item is an object of type int in heap 0x..., not
 * heap 0x..."): nothing is stored and the store returns RCY_EINVAL.  An
 * object may refer only to objects of its own heap; a reference across
 * heaps that a type's traverse shows the collector is fatal ("gc: object
 * of type node (0x...) in heap 0x... refers to object of type node
 * (0x...) in heap 0x..."), as it would free objects the other heap uses.  Nothing is harmed, so
 * this misuse is never fatal, and rcy_mem_alloc with a NULL heap is misuse, not "out of memory".
 * (Optional arguments documented as such — rcy_xdecref's object, rcy_gc_print_stats's FILE,
 * rcy_dict_next's key and value — are not misuse; rcy_incref and rcy_decref are inline and check
 * nothing.) */
typedef void rcy_error_fn(int err, const char *message, void *arg);
RCY_API void rcy_set_error_handler(rcy_error_fn *fn, void *arg);

/* ------------------------------------------------------------------ */
/* Heaps                                                               */
/* ------------------------------------------------------------------ */

/* The raw allocator serves requests larger than the small-object limit and
 * the library's own bookkeeping (like PyMem_SetAllocator's RAW domain).
 * Arenas come from the arena allocator below, not from here. */
typedef struct rcy_raw_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} rcy_raw_allocator;

/* The arena allocator supplies the small-object allocator's arenas
 * (CPython's PyObjectArenaAllocator); without one they are mapped from
 * the OS.  alloc(ctx, size, align) returns `size` bytes aligned to
 * `align`, or NULL; both are RCY_ARENA_SIZE (1 MiB) today, and the
 * alignment is required, not a hint: a block's arena record is found by
 * masking its address.  The memory need not be zeroed.  A block that is
 * not aligned is reported as misuse (RCY_EMISUSE through the error
 * handler, not fatal), handed back to free at once, and the allocation
 * that needed it fails as out of memory.  free(ctx, ptr, size) gets back
 * each block alloc gave, with the same size: when the arena empties and
 * the arena cache does not keep it (RCY_ARENA_CACHE), or at rcy_heap_free.
 * Kept arenas stay resident (recycle gives back the pages of a cached
 * arena to the OS only when it mapped the arena itself).  Both functions
 * are called from the thread using the heap.  The memory_limit counts
 * arenas from here as from the OS. */
typedef struct rcy_arena_allocator {
    void *ctx;
    void *(*alloc)(void *ctx, size_t size, size_t align);
    void (*free)(void *ctx, void *ptr, size_t size);
} rcy_arena_allocator;

#define RCY_CONFIG_VERSION 2

typedef struct rcy_config {
    size_t size;                  /* sizeof(rcy_config), set by rcy_config_init      */
    uint32_t version;             /* RCY_CONFIG_VERSION, set by rcy_config_init      */
    int debug;                    /* guard bytes + fill patterns; -1 = from RCY_DEBUG */
    const rcy_raw_allocator *raw; /* NULL = libc malloc family           */
    size_t memory_limit;          /* bytes; 0 = none (from RCY_MEMORY_LIMIT) */
    /* Version 2: */
    const rcy_arena_allocator *arena; /* NULL = mapped from the OS (mmap) */
} rcy_config;

typedef struct rcy_heap rcy_heap;

/* Fill *cfg with the defaults (environment variables read where the field
 * says so). */
RCY_API void rcy_config_init(rcy_config *cfg);

/* A heap is used by one thread at a time; heaps in different threads need
 * no lock.  cfg may be NULL for the defaults.  NULL on failure. */
RCY_API rcy_heap *rcy_heap_new(const rcy_config *cfg);

/* Collect cycles until nothing more is found, run pending finalizers, then
 * free every block of the heap.  With debug on, objects still alive are
 * listed through the output callback first.  Called from inside the heap's
 * own work (one of its finalizers, destroy callbacks or gc callbacks, or a
 * collection) it is fatal misuse with a message saying so, instead of a
 * crash in the frames that still use the heap.  (Objects of other heaps
 * that still point into a freed heap are not detected.) */
RCY_API void rcy_heap_free(rcy_heap *heap);

/* One pointer per heap for the embedder (QuickJS's runtime opaque, Lua's
 * ud): recycle never reads it.  NULL until set. */
RCY_API void rcy_heap_set_userdata(rcy_heap *heap, void *userdata);
RCY_API void *rcy_heap_get_userdata(rcy_heap *heap);

/* Fault injection (tests): make the n-th raw request from now fail (arena
 * mmap, large block, or bookkeeping), n >= 1; 0 turns it off.  Every API
 * must then report RCY_ENOMEM / NULL, leak nothing and crash nothing. */
RCY_API void rcy_heap_fail_nth(rcy_heap *heap, unsigned long n);

/* ------------------------------------------------------------------ */
/* Memory (the PyMem_Malloc family), per heap                          */
/* ------------------------------------------------------------------ */

/* Call sites are captured by macros so tracemalloc can name the line with
 * no unwinding.  The trailing-underscore functions take them explicitly. */
#define RCY_SITE        __FILE__, __LINE__, __func__
#define RCY_SITE_PARAMS const char *file, int line, const char *func

/* rcy_mem_alloc and friends: on failure they call the error handler with
 * RCY_ENOMEM ("out of memory", default: abort).  The try flavour never
 * calls it and returns NULL.  Size 0 returns a unique pointer. */
RCY_API void *rcy_mem_alloc_(rcy_heap *heap, size_t size, RCY_SITE_PARAMS);
RCY_API void *rcy_mem_calloc_(rcy_heap *heap, size_t nelem, size_t elsize, RCY_SITE_PARAMS);
RCY_API void *rcy_mem_realloc_(rcy_heap *heap, void *ptr, size_t size, RCY_SITE_PARAMS);
RCY_API void *rcy_mem_try_alloc_(rcy_heap *heap, size_t size, RCY_SITE_PARAMS);
RCY_API void *rcy_mem_try_calloc_(rcy_heap *heap, size_t nelem, size_t elsize, RCY_SITE_PARAMS);
RCY_API void *rcy_mem_try_realloc_(rcy_heap *heap, void *ptr, size_t size, RCY_SITE_PARAMS);
RCY_API void rcy_mem_free(rcy_heap *heap, void *ptr);

#define rcy_mem_alloc(h, n)          rcy_mem_alloc_((h), (n), RCY_SITE)
#define rcy_mem_calloc(h, n, s)      rcy_mem_calloc_((h), (n), (s), RCY_SITE)
#define rcy_mem_realloc(h, p, n)     rcy_mem_realloc_((h), (p), (n), RCY_SITE)
#define rcy_mem_try_alloc(h, n)      rcy_mem_try_alloc_((h), (n), RCY_SITE)
#define rcy_mem_try_calloc(h, n, s)  rcy_mem_try_calloc_((h), (n), (s), RCY_SITE)
#define rcy_mem_try_realloc(h, p, n) rcy_mem_try_realloc_((h), (p), (n), RCY_SITE)

/* Small-object allocator limits. */
#define RCY_SMALL_LIMIT  512 /* largest block served from pools           */
#define RCY_ALIGNMENT    16  /* size classes are multiples of this        */
#define RCY_SIZE_CLASSES (RCY_SMALL_LIMIT / RCY_ALIGNMENT)
#define RCY_POOL_SIZE    (16u * 1024u)
#define RCY_ARENA_SIZE   (1024u * 1024u)

#define RCY_MEM_STATS_VERSION 2

typedef struct rcy_mem_class_stats {
    size_t block_size;  /* bytes per block in this class              */
    size_t pools;       /* pools currently assigned to the class      */
    size_t blocks_used; /* blocks handed out                          */
    size_t blocks_free; /* blocks available in those pools (free + virgin) */
} rcy_mem_class_stats;

typedef struct rcy_mem_stats {
    size_t size;             /* caller sets sizeof(rcy_mem_stats)                 */
    uint32_t version;        /* filled: RCY_MEM_STATS_VERSION                     */
    size_t arenas;           /* arenas mapped now                      */
    size_t arenas_allocated; /* arenas mapped since the heap was made  */
    size_t arenas_reclaimed; /* arenas given back to the OS            */
    size_t arenas_highwater; /* most arenas mapped at once             */
    size_t pools_used, pools_free;
    size_t small_bytes_used;          /* bytes in handed-out small blocks       */
    size_t large_blocks, large_bytes; /* raw-allocator blocks now          */
    size_t mapped_bytes;              /* bytes mapped from the OS now           */
    rcy_mem_class_stats classes[RCY_SIZE_CLASSES];
    /* Blocks freed by other threads (rcy_mem_free_remote, <recycle/thread.h>)
     * and taken back by the heap's thread so far, and the pushes whose one
     * CAS lost a race and was retried: CAS per remote free =
     * 1 + remote_retries / remote_taken. */
    size_t remote_taken, remote_retries;
} rcy_mem_stats;

/* stats->size must be set by the caller; fields past it are not written.
 * Called on the heap's thread, it first takes back the blocks other
 * threads freed (so they count as free). */
RCY_API int rcy_mem_get_stats(rcy_heap *heap, rcy_mem_stats *stats);
/* One row per size class and the arena totals, like sys._debugmallocstats;
 * the JSON object has every field of rcy_mem_stats (remote_taken and
 * remote_retries included).  Both take remote frees back first, as
 * rcy_mem_get_stats does. */
RCY_API int rcy_mem_print_stats(rcy_heap *heap, FILE *out);
RCY_API int rcy_mem_print_stats_json(rcy_heap *heap, FILE *out);

/* ------------------------------------------------------------------ */
/* Types and objects                                                   */
/* ------------------------------------------------------------------ */

/* Visit one referenced object; return non-zero to stop the traversal
 * (traverse must then return that value). */
typedef int (*rcy_visitproc)(void *obj, void *arg);

/* Only types with `traverse` are tracked by the cycle collector. */
typedef struct rcy_type {
    const char *name; /* required */
    size_t size;      /* required: sizeof the user struct                 */
    unsigned flags;   /* RCY_TYPE_* */
    /* Call visit(child, arg) for every object this one holds a strong
     * reference to (NULL children are skipped by the caller's macro
     * RCY_VISIT or must not be passed). */
    int (*traverse)(void *self, rcy_visitproc visit, void *arg);
    /* Drop the references this object holds (set fields to NULL first,
     * then decref), breaking cycles; the object stays valid. */
    void (*clear)(void *self);
    /* PEP 442 finalizer: runs at most once per object, before the object
     * is destroyed, whether by refcount or by the collector.  May
     * resurrect the object by storing a new reference to it. */
    void (*finalize)(void *self);
    /* Release what the object owns (references, buffers).  Memory of the
     * object itself is freed by recycle afterwards.  When NULL, `clear`
     * is called instead (if any). */
    void (*destroy)(void *self);
} rcy_type;

/* Like CPython's tp_del: the collector never finalizes nor clears such
 * an object, nor what it reaches.  Once the rest of the garbage is freed,
 * those refcounting did not free (in a cycle, or reached from one) are
 * uncollectable and go to rcy_gc_garbage(), keeping what they reach
 * alive; the others died by refcounting. */
#define RCY_TYPE_LEGACY_FINALIZER 0x1u

#define RCY_VISIT(child, visit, arg)                                                               \
    do {                                                                                           \
        if (child) {                                                                               \
            int rcy_visit_rc_ = (visit)((void *)(child), (arg));                                   \
            if (rcy_visit_rc_)                                                                     \
                return rcy_visit_rc_;                                                              \
        }                                                                                          \
    } while (0)

/* New object of `type` (size type->size, or + extra bytes for the
 * variable part), zero-filled, refcount 1; NULL on failure (never aborts).
 * Tracked by the collector when the type has `traverse`. */
RCY_API void *rcy_new_(rcy_heap *heap, const rcy_type *type, RCY_SITE_PARAMS);
RCY_API void *rcy_new_var_(rcy_heap *heap, const rcy_type *type, size_t extra, RCY_SITE_PARAMS);
#define rcy_new(h, t)            rcy_new_((h), (t), RCY_SITE)
#define rcy_new_var(h, t, extra) rcy_new_var_((h), (t), (extra), RCY_SITE)

/* The 16-byte header before every object.  Public only so that
 * incref/decref can be inline; treat it as opaque.  The layout and the
 * meaning of each bit are stated in src/object.h. */
typedef struct rcy_head_ {
    uint32_t refcnt; /* bit 31 clear: private count; set: shared or immortal */
    uint32_t gcword; /* collector bits; see src/object.h                 */
    const rcy_type *type;
} rcy_head_;

/* What rcy_getrefcount reports for an immortal object. */
#define RCY_REFCNT_IMMORTAL UINT32_MAX
#define RCY_HEAD_(o)        ((rcy_head_ *)(void *)(o)-1)

/* The refcount word, read by the fast paths.  Another thread may add to
 * a shared object's word at the same time; the fast path only reads it
 * and sends such a word to the slow path (atomic operations), never
 * storing it.  An aligned 32-bit load is atomic on every target we build
 * for, so the read is a plain load: a relaxed __atomic_load_n costs the
 * owner's pointer chase over 1M objects 15 instead of 13 instructions per
 * step (callgrind, gcc -O3: the compiler keeps the header pointer live
 * across the slow-path call), the bound is <= 1.02x today's 14.  Under
 * ThreadSanitizer the load is the relaxed atomic one, so the race is
 * declared. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RCY_TSAN_ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(RCY_TSAN_)
#define RCY_TSAN_ 1
#endif
#ifdef RCY_TSAN_
#define RCY_REFCNT_LOAD_(h) __atomic_load_n(&(h)->refcnt, __ATOMIC_RELAXED)
#else
#define RCY_REFCNT_LOAD_(h) ((h)->refcnt)
#endif

/* Out of line: the object is shared (one atomic add), immortal, or its
 * private count would overflow (it becomes immortal). */
RCY_API void rcy_incref_slow_(void *obj);
/* Out of line: refcount reached zero, the object is shared (one atomic
 * subtract), dead or immortal, or the count was already zero (misuse). */
RCY_API void rcy_decref_slow_(void *obj);

/* A private object (bit 31 clear, src/object.h) is counted with a plain
 * load, add and store, as before objects could be shared; the new value's
 * sign is the one test that sends shared and immortal objects, and a
 * count about to reach bit 31, to the slow path (the add sets the sign
 * flag: no extra instruction; no live word is all ones, so the sum is
 * never 0 for them). */
static inline void rcy_incref(void *obj) {
    rcy_head_ *h = RCY_HEAD_(obj);
    uint32_t rc = RCY_REFCNT_LOAD_(h) + 1;
    if (RCY_LIKELY((int32_t)rc >= 0))
        h->refcnt = rc;
    else
        rcy_incref_slow_(obj);
}

static inline void rcy_decref(void *obj) {
    rcy_head_ *h = RCY_HEAD_(obj);
    uint32_t rc = RCY_REFCNT_LOAD_(h) - 1;
    /* One compare: rc in [1, 2^31) is the ordinary case.  rc == 0 (last
     * reference), and a negative rc (shared, immortal, or a count that was
     * already 0: misuse) go to the slow path. */
    if (RCY_LIKELY((int32_t)rc > 0)) {
        h->refcnt = rc;
        return;
    }
    rcy_decref_slow_(obj);
}

static inline void rcy_xincref(void *obj) {
    if (obj)
        rcy_incref(obj);
}
static inline void rcy_xdecref(void *obj) {
    if (obj)
        rcy_decref(obj);
}

/* The true number of references (Python's sys.getrefcount reports one
 * more, for its own argument).  RCY_REFCNT_IMMORTAL for immortal objects. */
RCY_API size_t rcy_getrefcount(const void *obj);
RCY_API const rcy_type *rcy_type_of(const void *obj);
RCY_API rcy_heap *rcy_heap_of(const void *obj);
/* Make an object immortal: incref/decref no longer change it; it is freed
 * only by rcy_heap_free. */
RCY_API void rcy_immortalize(void *obj);
RCY_API bool rcy_is_immortal(const void *obj);

/* Set *pp to NULL, then drop the reference it held (safe if a destructor
 * looks at *pp). */
#define RCY_CLEAR(p)                                                                               \
    do {                                                                                           \
        void *rcy_tmp_ = (void *)(p);                                                              \
        if (rcy_tmp_) {                                                                            \
            (p) = NULL;                                                                            \
            rcy_decref(rcy_tmp_);                                                                  \
        }                                                                                          \
    } while (0)

/* Store v (a reference the caller gives up) into p, then drop the old
 * value. */
#define RCY_SETREF(p, v)                                                                           \
    do {                                                                                           \
        void *rcy_old_ = (void *)(p);                                                              \
        (p) = (v);                                                                                 \
        rcy_xdecref(rcy_old_);                                                                     \
    } while (0)

/* A scope-bound reference: `rcy_auto rcy_list *l = rcy_list_new(h);` drops
 * the reference when l goes out of scope (GCC/Clang). */
RCY_API void rcy_auto_release_(void *pp);
#if defined(__GNUC__) || defined(__clang__)
#define rcy_auto __attribute__((cleanup(rcy_auto_release_)))
#endif

#ifdef __cplusplus
}
#endif
#endif /* RECYCLE_CORE_H */
