/* src/framesource.c — frames an interpreter supplies (script frames): the
 * frame-source records that rcy_tracemalloc_set_frame_source installs, the
 * table that interns script frames, and the capture that calls the source
 * and turns its frames into words of a traceback.
 *
 * A script frame is interned by content (file, function, line) into a
 * record that lives as long as the process, with its own copies of the
 * strings: the interpreter's strings may die right after the call, and
 * tracebacks, snapshots and the results made from them point to the
 * record's.  A traceback stores it as one word, RCYI_SFRAME_TAG | index,
 * among its native return addresses, so interning, hashing and comparing
 * tracebacks stay as they are.
 *
 * Invariants: record i (1 <= i <= sf_count) is published (its directory
 * slot written, then sf_count raised with release) before any word names
 * it, and is never changed or freed afterwards; so any thread may decode
 * a word without a lock.  A thread's cache entry names a published record
 * and is trusted only after its strings compare equal to the source's.
 * The table (buckets, chains) and the list of source records are
 * protected by sf_lock, never taken inside an event: the capture runs
 * with the thread busy (its mallocs, and the source's, are not traced)
 * but outside any event, so a source may block or call the tracer.
 *
 * API: src/frames.h; the busy flag and raw memory: src/tracemalloc.h. */
#include "frames.h"
#include "tracemalloc.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t sf_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- frame sources ------------------------------------------------------ */

/* Every source ever installed, newest first (sf_lock); installing the same
 * (fn, arg, flags) again reuses its record, so a program that toggles its
 * source does not grow this list. */
static rcyi_fsource *sources;

static char *sf_take(size_t n);

const rcyi_fsource *rcyi_fsource_make(rcy_frame_source_fn *fn, void *arg, unsigned flags) {
    pthread_mutex_lock(&sf_lock);
    rcyi_fsource *s;
    for (s = sources; s; s = s->next)
        if (s->fn == fn && s->arg == arg && s->flags == flags)
            break;
    if (!s) {
        s = (rcyi_fsource *)(void *)sf_take(sizeof *s);
        if (s) {
            *s = (rcyi_fsource){fn, arg, flags, sources};
            sources = s;
        }
    }
    pthread_mutex_unlock(&sf_lock);
    return s;
}

/* ---- the script-frame table -------------------------------------------- */

#define SF_DIR_CHUNK  4096u
#define SF_DIR_CHUNKS 16384u /* up to 2^26 distinct frames */

static rcyi_sframe *sf_dir[SF_DIR_CHUNKS]; /* index -> record */
static uint32_t sf_count;                  /* records 1..sf_count (release-stored) */
static uint32_t *sf_bucket;                /* heads of the hash chains (sf_lock) */
static size_t sf_nbucket;                  /* power of two */
static char *sf_mem;                       /* the current block records are cut from */
static size_t sf_left;

static inline rcyi_sframe *sf_get(uint32_t i) {
    return &sf_dir[i / SF_DIR_CHUNK][i % SF_DIR_CHUNK];
}

const rcyi_sframe *rcyi_sframe_of(uintptr_t w) {
    if (!(w & RCYI_SFRAME_TAG))
        return NULL;
    uintptr_t i = w & ~RCYI_SFRAME_TAG;
    if (i == 0 || i > __atomic_load_n(&sf_count, __ATOMIC_ACQUIRE))
        return NULL;
    return sf_get((uint32_t)i);
}

static uint32_t sf_hash(const char *file, const char *func, unsigned line) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = file; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ 0x100) * 0x100000001b3ULL; /* separator: no byte has this value */
    for (const char *p = func; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h ^= (uint64_t)line * 0x9e3779b97f4a7c15ULL ^ (func ? 0 : 0x5bd1e995);
    h ^= h >> 29;
    return (uint32_t)h;
}

static bool str_same(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool sf_equal(const rcyi_sframe *r, const char *file, const char *func, unsigned line) {
    return r->line == line && str_same(r->file, file) && str_same(r->func, func);
}

/* n bytes of process-lifetime memory (sf_lock). */
static char *sf_take(size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (n > sf_left) {
        size_t sz = n > 65536 ? n : 65536;
        char *m = rcyi_tm_map(sz);
        if (!m)
            return NULL;
        sf_mem = m;
        sf_left = sz;
    }
    char *p = sf_mem;
    sf_mem += n;
    sf_left -= n;
    return p;
}

static bool sf_grow_locked(void) {
    size_t n = sf_nbucket ? sf_nbucket * 2 : 4096;
    uint32_t *b = rcyi_tm_map(n * sizeof *b);
    if (!b)
        return false;
    for (uint32_t i = 1; i <= sf_count; i++) {
        rcyi_sframe *r = sf_get(i);
        r->next = b[r->hash & (n - 1)];
        b[r->hash & (n - 1)] = i;
    }
    rcyi_tm_unmap(sf_bucket, sf_nbucket * sizeof *sf_bucket);
    sf_bucket = b;
    sf_nbucket = n;
    return true;
}

/* The index of the record of (file, func, line), interned if new; 0 on out
 * of memory. */
static uint32_t sf_intern(const char *file, const char *func, unsigned line) {
    uint32_t h = sf_hash(file, func, line), id = 0;
    pthread_mutex_lock(&sf_lock);
    for (uint32_t i = sf_nbucket ? sf_bucket[h & (sf_nbucket - 1)] : 0; i; i = sf_get(i)->next) {
        if (sf_get(i)->hash == h && sf_equal(sf_get(i), file, func, line)) {
            id = i;
            goto out;
        }
    }
    uint32_t n = sf_count + 1;
    if (n / SF_DIR_CHUNK >= SF_DIR_CHUNKS)
        goto out;
    if ((size_t)n > sf_nbucket && !sf_grow_locked())
        goto out;
    if (!sf_dir[n / SF_DIR_CHUNK] &&
        !(sf_dir[n / SF_DIR_CHUNK] = rcyi_tm_map(SF_DIR_CHUNK * sizeof(rcyi_sframe))))
        goto out;
    size_t lf = file ? strlen(file) + 1 : 0, lfn = func ? strlen(func) + 1 : 0;
    char *s = sf_take(lf + lfn ? lf + lfn : 1);
    if (!s)
        goto out;
    rcyi_sframe *r = sf_get(n);
    r->file = file ? memcpy(s, file, lf) : NULL;
    r->func = func ? memcpy(s + lf, func, lfn) : NULL;
    r->line = line;
    r->hash = h;
    r->next = sf_bucket[h & (sf_nbucket - 1)];
    sf_bucket[h & (sf_nbucket - 1)] = n;
    __atomic_store_n(&sf_count, n, __ATOMIC_RELEASE);
    id = n;
out:
    pthread_mutex_unlock(&sf_lock);
    return id;
}

/* The thread's cache first: a hit costs the compares of two short
 * strings, no hashing and no lock. */
static uint32_t sf_lookup(rcyi_sf_cache *cache, const rcy_source_frame *f) {
    rcyi_sf_cache_ent *e = NULL;
    if (cache) {
        uintptr_t k = ((uintptr_t)f->filename >> 3) ^ ((uintptr_t)f->function >> 5) ^ f->lineno;
        e = &cache->ent[(k ^ (k >> 7)) & (RCYI_SF_CACHE - 1)];
        if (e->id && e->file == f->filename && e->func == f->function && e->line == f->lineno &&
            sf_equal(sf_get(e->id), f->filename, f->function, f->lineno))
            return e->id;
    }
    uint32_t id = sf_intern(f->filename, f->function, f->lineno);
    if (e && id)
        *e = (rcyi_sf_cache_ent){f->filename, f->function, f->lineno, id};
    return id;
}

/* ---- the capture --------------------------------------------------------- */

#define LOCAL_FRAMES 32

int rcyi_fsource_capture(const rcyi_fsource *src, rcyi_sf_cache *cache, int max, uintptr_t *out,
                         int *total) {
    rcy_source_frame local[LOCAL_FRAMES];
    rcy_source_frame *buf = local;
    size_t mapped = 0;
    if (max > LOCAL_FRAMES) {
        mapped = (size_t)max * sizeof *buf;
        buf = rcyi_tm_map(mapped);
        if (!buf) {
            buf = local;
            max = LOCAL_FRAMES;
            mapped = 0;
        }
    }
    memset(buf, 0, (size_t)max * sizeof *buf);
    size_t depth = src->fn(buf, (size_t)max, src->arg);
    int n = depth < (size_t)max ? (int)depth : max, k = 0;
    for (int i = 0; i < n; i++) {
        uint32_t id = sf_lookup(cache, &buf[i]);
        if (id)
            out[k++] = RCYI_SFRAME_TAG | id;
    }
    if (mapped)
        rcyi_tm_unmap(buf, mapped);
    size_t t = depth - (size_t)(n - k); /* frames lost to out of memory are gone */
    *total = k ? (int)(t > 65535 ? 65535 : t) : 0;
    return k;
}
