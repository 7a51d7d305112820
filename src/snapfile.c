/* src/snapfile.c — snapshot files: dump and load.
 *
 * Layout (all integers little-endian):
 *
 *   header, 32 bytes:
 *     0  magic    "RCYTRACE"
 *     8  u16 major (1), u16 minor (1)   a different major is RCY_EVERSION
 *     12 u32 flags                       bit 0: the body is zstd-compressed;
 *                                        other bits are ignored
 *     16 u64 stored body length          the file is exactly 32 + this
 *     24 u32 CRC-32 (IEEE) of the body as stored
 *     28 u32 number of sections
 *   stored body: the sections themselves or, with flag bit 0,
 *     u64 length of the sections, then one zstd frame holding them (its
 *     content size is recorded in the frame and must equal that length)
 *   sections, each {u32 tag, u32 flags, u64 length, payload}:
 *     STRS u32 n, n x {u32 len, bytes}                  the string table
 *     FRMS u32 n, n x {u32 file, u32 line, u32 function, u32 object,
 *                      u64 address}                     (string ids; ~0 = none)
 *     TBCK u32 n, n x {u32 nframe, u32 total, nframe x u32 frame id}
 *     META i32 traceback limit, u32 0, u64 allocs, frees, current, peak
 *     TRAC u64 n, n x {u32 domain, u32 traceback id, u64 size, u64 count}
 *     TIME u64 n, n x {u64 time_ns, u64 current, u64 peak}       optional
 *     TRSS u64 n, n x {u64 rss}: the TIME samples' resident set, optional
 *          written when one is not 0; n equals TIME's (missing: all 0)
 *     INFO u32 n, n x {u32 key, u32 value}                       optional
 *     PEAK like META then TRAC, for rcy_snapshot_at_peak         optional
 *     TCNT u64 n, n x {u32 traceback id, u64 allocations, u64 bytes
 *          allocated, u64 temporary}: per call site counters (S7 of
 *          snapshot.h), optional; its tracebacks are written even when
 *          no trace uses them; one with no entry counted nothing
 *     LEAK u64 n, n x u8: the rcy_leak_class of each TRAC trace, optional
 *          (1.3/2.2); n equals TRAC's; written when one is not UNKNOWN
 *   A section refers only to sections before it; unknown tags are skipped
 *   (a newer minor version may add some).
 *
 * Version history: 1.0 had no compression (flags always 0); 1.1 adds flag
 * bit 0; 1.2 (and 2.1) add TCNT, written only for a snapshot with per
 * call site counters; 1.3 (and 2.2) add LEAK, written only when a trace
 * has a known leak class.  A file is marked with the oldest minor
 * version that holds its sections (one with neither is still 1.1 or
 * 2.0).  1.0 and 1.1 files load unchanged, with the counters unknown and
 * their traces of class RCY_LEAK_UNKNOWN.  Built with libzstd (RCY_HAVE_ZSTD),
 * dump compresses; built with libc alone it writes uncompressed bodies and
 * a compressed file loads as RCY_EUNSUPPORTED.
 *
 * In a 1.x file symbols are resolved before writing, so it reads the same
 * on any machine; a 2.0 file names its modules by path and build-id.  The
 * loader checks the magic, version, length and checksum
 * first, then every count against the bytes that remain before it
 * allocates anything: a truncated, corrupted or foreign file gives an
 * error code, never a crash or an allocation larger than the file.  For a
 * compressed body the declared length must match the zstd frame's content
 * size, be at most ZRATIO times the compressed size and under a hard cap
 * (RAW_MAX) before the buffer is allocated.  rcy_snapshot_load reads the
 * header before the body: a regular file must be exactly as long as its
 * header says, any other file (FIFO, device) is read only up to that
 * length, and a FIFO with no writer reads as empty instead of blocking.
 */
#define _GNU_SOURCE /* getrandom, realpath */
#include "snapshot.h"
#include "frames.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef RCY_HAVE_ZSTD
#include <zstd.h>
#endif

#define ENTER() int busy_prev_ = rcyi_tm_enter()
#define LEAVE() rcyi_tm_exit(busy_prev_)

#define MAGIC     "RCYTRACE"
#define MAJOR     1
#define MAJOR_RAW 2 /* addresses and modules (rcy_snapshot_dump_raw) */
#define MINOR     1
/* The minor versions of a file with a TCNT section (1.2, 2.1), and with
 * a LEAK section (1.3, 2.2). */
#define MINOR_CNT      2
#define MINOR_RAW_CNT  1
#define MINOR_LEAK     3
#define MINOR_RAW_LEAK 2
#define HEADER         32
#define NONE           UINT32_MAX

#define F_ZSTD 1u /* header flag: the body is compressed */
/* The most a compressed body may expand: what a file makes the reader
 * allocate stays proportional to its own size (zstd itself could expand
 * ~32768x, so a 33 KB file could ask for 1 GiB).  Real snapshots compress
 * 2x to 6x (cli_target, gcc's cc1 and as); a body that would compress
 * more is written uncompressed instead. */
#define ZRATIO 256u
/* 1 GiB of sections, far beyond any real snapshot; a body above it is
 * written uncompressed. */
#define RAW_MAX ((uint64_t)1 << 30)

#define TAG(a, b, c, d)                                                                            \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define T_STRS TAG('S', 'T', 'R', 'S')
#define T_FRMS TAG('F', 'R', 'M', 'S')
#define T_TBCK TAG('T', 'B', 'C', 'K')
#define T_META TAG('M', 'E', 'T', 'A')
#define T_TRAC TAG('T', 'R', 'A', 'C')
#define T_TIME TAG('T', 'I', 'M', 'E')
#define T_TRSS TAG('T', 'R', 'S', 'S')
#define T_INFO TAG('I', 'N', 'F', 'O')
#define T_PEAK TAG('P', 'E', 'A', 'K')
#define T_MODS TAG('M', 'O', 'D', 'S')
#define T_RTBK TAG('R', 'T', 'B', 'K')
#define T_TCNT TAG('T', 'C', 'N', 'T')
#define T_LEAK TAG('L', 'E', 'A', 'K')

/* ---- CRC-32 ------------------------------------------------------------------- */

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t rcyi_crc32(uint32_t crc, const void *data, size_t n) {
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
        crc_init(); /* idempotent: racing threads write the same table */
    const unsigned char *p = data;
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- writing a file in place ------------------------------------------------------ */

/* What the destination of rcy_file_write is (after following symlinks). */
typedef enum dest_kind { DEST_NEW, DEST_REGULAR, DEST_THROUGH, DEST_REFUSE } dest_kind;

static dest_kind dest_classify(const char *path, struct stat *st) {
    if (stat(path, st) != 0)
        return errno == ENOENT ? DEST_NEW : DEST_REFUSE;
    if (S_ISREG(st->st_mode))
        return DEST_REGULAR;
    if (S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode))
        return DEST_THROUGH;
    errno = S_ISDIR(st->st_mode) ? EISDIR : EINVAL; /* block device, socket */
    return DEST_REFUSE;
}

/* The file a symbolic link at `path` finally names, malloc'd; NULL (errno
 * ENOENT for a dangling link) when it cannot be found.  Without a link,
 * a copy of path. */
static char *dest_target(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
        return strdup(path);
    /* A link to a device or FIFO is written through as it is: the kernel
     * follows /dev/stdout -> /proc/self/fd/1 -> "pipe:[N]", realpath
     * cannot. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return strdup(path);
    return realpath(path, NULL);
}

/* The process's umask, without changing it (umask() would, for a moment,
 * in every thread). */
static mode_t current_umask(void) {
    FILE *f = fopen("/proc/self/status", "re");
    unsigned mask = 077;
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "Umask: %o", &mask) == 1)
                break;
        fclose(f);
    }
    return (mode_t)(mask & 0777);
}

/* A new, empty file in the directory of `path` with a name nobody can
 * guess, opened O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600.  Its name goes
 * to *tmp (malloc'd). */
static int open_temp(const char *path, char **tmp) {
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t cap = dirlen + 32;
    char *name = malloc(cap);
    if (!name) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(name, path, dirlen);
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
                (uint64_t)(uintptr_t)&r;
        }
        snprintf(name + dirlen, cap - dirlen, ".rcy-%016llx.tmp", (unsigned long long)r);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            *tmp = name;
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    int saved = errno;
    free(name);
    errno = saved;
    return -1;
}

static bool write_all(int fd, const void *data, size_t len) {
    const unsigned char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Into a device or FIFO as it is: never created, truncated or replaced.
 * A FIFO without a reader fails (ENXIO) instead of waiting for one. */
static int write_through(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return RCY_EIO;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    bool ok = write_all(fd, data, len);
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    errno = saved;
    return ok ? RCY_OK : RCY_EIO;
}

static int write_replace(const char *path, const void *data, size_t len, dest_kind kind,
                         const struct stat *st) {
    char *tmp = NULL;
    int fd = open_temp(path, &tmp);
    if (fd < 0)
        return errno == ENOMEM ? RCY_ENOMEM : RCY_EIO;
    mode_t mode = kind == DEST_REGULAR ? st->st_mode & 07777 : 0666 & ~current_umask();
    bool ok = write_all(fd, data, len) && fchmod(fd, mode & 0777) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    errno = saved;
    return ok ? RCY_OK : RCY_EIO;
}

int rcy_file_write(const char *path, const void *data, size_t len) {
    if (!path || !*path || (!data && len)) {
        errno = EINVAL;
        return RCY_EINVAL;
    }
    char *target = dest_target(path);
    if (!target)
        return errno == ENOMEM ? RCY_ENOMEM : RCY_EIO;
    struct stat st;
    int rc;
    dest_kind kind = dest_classify(target, &st);
    switch (kind) {
    case DEST_NEW:
    case DEST_REGULAR:
        rc = write_replace(target, data, len, kind, &st);
        break;
    case DEST_THROUGH:
        rc = write_through(target, data, len);
        break;
    default:
        rc = RCY_EIO;
        break;
    }
    int saved = errno;
    free(target);
    errno = saved;
    return rc;
}

int rcy_file_check(const char *path) {
    if (!path || !*path) {
        errno = EINVAL;
        return RCY_EINVAL;
    }
    char *target = dest_target(path);
    if (!target)
        return errno == ENOMEM ? RCY_ENOMEM : RCY_EIO;
    struct stat st;
    int rc = RCY_OK;
    switch (dest_classify(target, &st)) {
    case DEST_NEW:
    case DEST_REGULAR: {
        /* The one sure test that rename will work: make a temporary. */
        char *tmp = NULL;
        int fd = open_temp(target, &tmp);
        if (fd < 0) {
            rc = errno == ENOMEM ? RCY_ENOMEM : RCY_EIO;
        } else {
            close(fd);
            unlink(tmp);
            free(tmp);
        }
        break;
    }
    case DEST_THROUGH:
        if (access(target, W_OK) != 0)
            rc = RCY_EIO;
        break;
    default:
        rc = RCY_EIO;
        break;
    }
    int saved = errno;
    free(target);
    errno = saved;
    return rc;
}

/* ---- writing ------------------------------------------------------------------- */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} wbuf;

static void w_bytes(wbuf *w, const void *d, size_t n) {
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 65536;
        while (ncap < w->len + n)
            ncap *= 2;
        unsigned char *np = realloc(w->p, ncap);
        if (!np) {
            w->oom = true;
            return;
        }
        w->p = np;
        w->cap = ncap;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void w_u32(wbuf *w, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    w_bytes(w, b, 4);
}

static void w_u64(wbuf *w, uint64_t v) {
    w_u32(w, (uint32_t)v);
    w_u32(w, (uint32_t)(v >> 32));
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static size_t w_section_begin(wbuf *w, uint32_t tag) {
    w_u32(w, tag);
    w_u32(w, 0);
    w_u64(w, 0);
    return w->len;
}

static void w_section_end(wbuf *w, size_t start) {
    if (w->oom)
        return;
    uint64_t len = w->len - start;
    for (int i = 0; i < 8; i++)
        w->p[start - 8 + i] = (unsigned char)(len >> (8 * i));
}

/* Deduplicating tables built while dumping. */
typedef struct strtab {
    const char **s;
    size_t n, cap;
    uint32_t *idx; /* open addressing: id + 1 */
    size_t icap;
} strtab;

static uint64_t str_hash(const char *s) {
    return rcyi_hash_str(s);
}

static uint32_t strtab_id(strtab *t, const char *s, bool *oom) {
    if (!s)
        return NONE;
    if ((t->n + 1) * 2 > t->icap) {
        size_t ncap = t->icap ? t->icap * 2 : 256;
        uint32_t *ni = calloc(ncap, sizeof *ni);
        if (!ni) {
            *oom = true;
            return NONE;
        }
        for (size_t i = 0; i < t->n; i++) {
            size_t j = str_hash(t->s[i]) & (ncap - 1);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = (uint32_t)i + 1;
        }
        free(t->idx);
        t->idx = ni;
        t->icap = ncap;
    }
    size_t j = str_hash(s) & (t->icap - 1);
    for (; t->idx[j]; j = (j + 1) & (t->icap - 1))
        if (strcmp(t->s[t->idx[j] - 1], s) == 0)
            return t->idx[j] - 1;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        const char **ns = realloc(t->s, ncap * sizeof *ns);
        if (!ns) {
            *oom = true;
            return NONE;
        }
        t->s = ns;
        t->cap = ncap;
    }
    t->s[t->n] = s;
    t->idx[j] = (uint32_t)++t->n;
    return (uint32_t)t->n - 1;
}

typedef struct frec {
    uint32_t file, line, func, obj;
    uint64_t addr;
} frec;

typedef struct frametab {
    frec *f;
    size_t n, cap;
    uint32_t *idx;
    size_t icap;
} frametab;

static uint64_t frec_hash(const frec *r) {
    uint64_t h = r->file * 0x9e3779b97f4a7c15ULL;
    h = (h ^ r->line) * 0xff51afd7ed558ccdULL;
    h = (h ^ r->func) * 0xc4ceb9fe1a85ec53ULL;
    h = (h ^ r->obj) * 0x9e3779b97f4a7c15ULL;
    h = (h ^ r->addr) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
}

static uint32_t frametab_id(frametab *t, const frec *r, bool *oom) {
    if ((t->n + 1) * 2 > t->icap) {
        size_t ncap = t->icap ? t->icap * 2 : 256;
        uint32_t *ni = calloc(ncap, sizeof *ni);
        if (!ni) {
            *oom = true;
            return 0;
        }
        for (size_t i = 0; i < t->n; i++) {
            size_t j = frec_hash(&t->f[i]) & (ncap - 1);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = (uint32_t)i + 1;
        }
        free(t->idx);
        t->idx = ni;
        t->icap = ncap;
    }
    size_t j = frec_hash(r) & (t->icap - 1);
    for (; t->idx[j]; j = (j + 1) & (t->icap - 1))
        if (memcmp(&t->f[t->idx[j] - 1], r, sizeof *r) == 0)
            return t->idx[j] - 1;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        frec *nf = realloc(t->f, ncap * sizeof *nf);
        if (!nf) {
            *oom = true;
            return 0;
        }
        t->f = nf;
        t->cap = ncap;
    }
    t->f[t->n] = *r;
    t->idx[j] = (uint32_t)++t->n;
    return (uint32_t)t->n - 1;
}

static void w_meta(wbuf *w, const rcy_snapshot *s) {
    w_u32(w, (uint32_t)s->traceback_limit);
    w_u32(w, 0);
    w_u64(w, s->counters.allocs);
    w_u64(w, s->counters.frees);
    w_u64(w, s->counters.current);
    w_u64(w, s->counters.peak);
}

/* ids[i]: the file's id of traceback i of s, NONE when no trace uses it. */
static void w_traces(wbuf *w, const rcy_snapshot *s, const uint32_t *ids) {
    w_u64(w, s->ntraces);
    for (size_t i = 0; i < s->ntraces; i++) {
        const rcy_trace *t = &s->traces[i];
        w_u32(w, t->domain);
        w_u32(w, ids[rcyi_snapshot_tb_index(s, t)]);
        w_u64(w, t->size);
        w_u64(w, t->count);
    }
}

#ifdef RCY_HAVE_ZSTD
/* Compression level for raw bytes of sections.  Measured on a cc1 run
 * (475 KB of sections): level 19 gives 68 KB in 0.18 s, level 12 77 KB in
 * 0.01 s, level 3 83 KB.  Small bodies get the smallest file; big ones a
 * level whose time stays small next to the traced run. */
static int zlevel(size_t raw) {
    return raw <= ((size_t)1 << 20) ? 19 : raw <= ((size_t)16 << 20) ? 12 : 6;
}

/* Replace the sections in w by {u64 length, zstd frame} when that is
 * smaller; returns the header flags to record. */
static int compress_body(wbuf *w, uint32_t *flags) {
    size_t raw = w->len - HEADER;
    if (raw > RAW_MAX)
        return RCY_OK; /* the loader would refuse it compressed */
    size_t bound = ZSTD_compressBound(raw);
    unsigned char *np = malloc(HEADER + 8 + bound);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    int rc = RCY_OK;
    if (!np || !cc) {
        rc = RCY_ENOMEM;
        goto out;
    }
    /* the frame records its content size (checked against ours on load) and
     * a checksum of the content, which catches damage behind a repaired CRC */
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, zlevel(raw));
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    size_t z = ZSTD_compress2(cc, np + HEADER + 8, bound, w->p + HEADER, raw);
    if (ZSTD_isError(z)) {
        rc = RCY_ENOMEM; /* the only way compressing a buffer can fail */
        goto out;
    }
    if (8 + z < raw && raw <= (uint64_t)z * ZRATIO) {
        memcpy(np, w->p, HEADER);
        put_u64(np + HEADER, (uint64_t)raw);
        free(w->p);
        w->p = np;
        w->len = w->cap = HEADER + 8 + z;
        np = NULL;
        *flags |= F_ZSTD;
    }
out:
    ZSTD_freeCCtx(cc);
    free(np);
    return rc;
}
#endif

/* Fill in the header of w (which holds the sections after it),
 * compressing the body first if asked and possible. */
static int finish(wbuf *w, uint32_t nsec, bool compress, int major, int minor) {
    uint32_t flags = 0;
#ifdef RCY_HAVE_ZSTD
    if (compress) {
        int rc = compress_body(w, &flags);
        if (rc)
            return rc;
    }
#else
    (void)compress;
#endif
    memcpy(w->p, MAGIC, 8);
    w->p[8] = (unsigned char)major, w->p[9] = 0, w->p[10] = (unsigned char)minor, w->p[11] = 0;
    put_u32(w->p + 12, flags);
    uint64_t body = w->len - HEADER;
    put_u64(w->p + 16, body);
    put_u32(w->p + 24, rcyi_crc32(0, w->p + HEADER, body));
    put_u32(w->p + 28, nsec);
    return RCY_OK;
}

bool rcyi_snapfile_have_zstd(void) {
#ifdef RCY_HAVE_ZSTD
    return true;
#else
    return false;
#endif
}

/* Whether s (and its peak) still hold the raw addresses of every traceback
 * (a snapshot of this process, or a loaded file of major version 2). */
static bool has_raw(const rcy_snapshot *s) {
    for (const rcy_snapshot *p = s; p; p = p == s ? s->peak : NULL)
        for (size_t i = 0; i < p->ntb; i++)
            if (p->tbs[i].npcs && !p->tbs[i].pcs)
                return false;
    return s->pcs_block != NULL || s->ntb == 0;
}

/* Whether s (a snapshot of this process) holds script frames, which only
 * this process can name: such a snapshot is written resolved. */
static bool has_script_frames(const rcy_snapshot *s) {
    for (const rcy_snapshot *p = s; p && !s->modules; p = p == s ? s->peak : NULL)
        for (size_t i = 0; i < p->ntb; i++)
            for (size_t f = 0; f < p->tbs[i].npcs && p->tbs[i].pcs; f++)
                if (rcyi_sframe_of(p->tbs[i].pcs[f]))
                    return true;
    return false;
}

/* What the encoder collects before it writes: which tracebacks go out
 * and under which ids, the string and frame tables, the modules. */
typedef struct enc {
    const rcy_snapshot *s;
    const rcy_snapshot *parts[2]; /* s and its peak (or NULL) */
    bool raw;                     /* major 2: addresses and modules */
    rcyi_modset *mods;
    bool own_mods;
    strtab st;
    frametab ft;
    /* ids[p][i]: the file's id of traceback i of parts[p], NONE when no
     * trace uses it */
    uint32_t *ids[2];
    uint32_t *fids; /* frame ids of the written tracebacks, in order */
    size_t ntb_out, total_frames;
    uint32_t nsec;
    bool oom;
} enc;

#define FOR_PARTS(e, p) for (int p = 0; p < 2 && (e)->parts[p]; p++)
/* Every traceback of part p that is written, in file order. */
#define FOR_WRITTEN(e, p, i)                                                                       \
    FOR_PARTS(e, p)                                                                                \
    for (size_t i = 0; i < (e)->parts[p]->ntb; i++)                                                \
        if ((e)->ids[p][i] != NONE)

/* Only tracebacks some trace uses are written (a loaded snapshot holds its
 * peak's too), and those of s's call sites with counters (S7), so a
 * loaded file dumps to the same bytes. */
static bool has_site_counts(const rcy_snapshot *s, size_t i) {
    return s->site_counters && (s->tbs[i].allocs || s->tbs[i].allocated || s->tbs[i].temporary);
}

static void number_tracebacks(enc *e) {
    FOR_PARTS(e, p) {
        const rcy_snapshot *s = e->parts[p];
        e->ids[p] = malloc((s->ntb ? s->ntb : 1) * sizeof *e->ids[p]);
        if (!e->ids[p]) {
            e->oom = true;
            return;
        }
        for (size_t i = 0; i < s->ntb; i++)
            e->ids[p][i] = NONE;
        for (size_t i = 0; i < s->ntraces; i++)
            e->ids[p][rcyi_snapshot_tb_index(s, &s->traces[i])] = 0;
        for (size_t i = 0; p == 0 && i < s->ntb; i++)
            if (has_site_counts(s, i))
                e->ids[p][i] = 0;
        for (size_t i = 0; i < s->ntb; i++) {
            if (e->ids[p][i] == NONE)
                continue;
            e->ids[p][i] = (uint32_t)e->ntb_out++;
            e->total_frames += e->raw ? s->tbs[i].npcs : s->tbs[i].pub.nframe;
        }
    }
}

/* Raw layout: the modules holding every written address, and the strings
 * of modules and call sites. */
static void collect_raw(enc *e) {
    size_t k = 0;
    uintptr_t *all = malloc((e->total_frames ? e->total_frames : 1) * sizeof *all);
    if (!all) {
        e->oom = true;
        return;
    }
    FOR_WRITTEN(e, p, i)
    for (size_t f = 0; f < e->parts[p]->tbs[i].npcs; f++)
        all[k++] = e->parts[p]->tbs[i].pcs[f];
    if (e->s->modules) {
        e->mods = e->s->modules;
    } else {
        e->mods = rcyi_modules_capture(all, k);
        e->own_mods = true;
    }
    free(all);
    if (!e->mods) {
        e->oom = true;
        return;
    }
    for (size_t i = 0; i < e->mods->n; i++) {
        strtab_id(&e->st, e->mods->mods[i].path, &e->oom);
        strtab_id(&e->st, e->mods->mods[i].build_id, &e->oom);
    }
    FOR_WRITTEN(e, p, i) {
        strtab_id(&e->st, e->parts[p]->tbs[i].site_file, &e->oom);
        strtab_id(&e->st, e->parts[p]->tbs[i].site_func, &e->oom);
    }
}

/* Resolved layout: every frame once in the frame table, its strings in
 * the string table; fids lists the frames of each written traceback. */
static void collect_frames(enc *e) {
    size_t k = 0;
    FOR_WRITTEN(e, p, i) {
        const rcy_traceback *tb = &e->parts[p]->tbs[i].pub;
        for (size_t f = 0; f < tb->nframe; f++) {
            const rcy_frame *fr = &tb->frames[f];
            frec r = {strtab_id(&e->st, fr->filename ? fr->filename : "?", &e->oom), fr->lineno,
                      strtab_id(&e->st, fr->function, &e->oom),
                      strtab_id(&e->st, fr->object, &e->oom), fr->address};
            e->fids[k++] = frametab_id(&e->ft, &r, &e->oom);
        }
    }
}

static void collect(enc *e) {
    number_tracebacks(e);
    if (e->oom)
        return;
    e->fids = malloc((e->total_frames ? e->total_frames : 1) * sizeof *e->fids);
    if (!e->fids) {
        e->oom = true;
        return;
    }
    if (e->raw)
        collect_raw(e);
    else
        collect_frames(e);
    if (e->oom)
        return;
    for (size_t i = 0; i < e->s->ninfo; i++) {
        strtab_id(&e->st, e->s->info[i].key, &e->oom);
        strtab_id(&e->st, e->s->info[i].value, &e->oom);
    }
}

/* ---- one writer per section ---- */

static void w_strs(enc *e, wbuf *w) {
    w_u32(w, (uint32_t)e->st.n);
    for (size_t i = 0; i < e->st.n; i++) {
        size_t len = strlen(e->st.s[i]);
        w_u32(w, (uint32_t)len);
        w_bytes(w, e->st.s[i], len);
    }
}

static void w_mods(enc *e, wbuf *w) {
    w_u32(w, (uint32_t)e->mods->n);
    for (size_t i = 0; i < e->mods->n; i++) {
        const rcyi_module *m = &e->mods->mods[i];
        w_u32(w, strtab_id(&e->st, m->path, &e->oom));
        w_u32(w, strtab_id(&e->st, m->build_id, &e->oom));
        w_u64(w, m->bias);
        w_u64(w, m->lo);
        w_u64(w, m->hi);
    }
}

static void w_rtbk(enc *e, wbuf *w) {
    w_u32(w, (uint32_t)e->ntb_out);
    FOR_WRITTEN(e, p, i) {
        const rcyi_snap_tb *t = &e->parts[p]->tbs[i];
        w_u32(w, strtab_id(&e->st, t->site_file, &e->oom));
        w_u32(w, t->site_line > 0 ? (uint32_t)t->site_line : 0);
        w_u32(w, strtab_id(&e->st, t->site_func, &e->oom));
        w_u32(w, t->npcs);
        w_u32(w, t->total);
        for (size_t f = 0; f < t->npcs; f++)
            w_u64(w, t->pcs[f]);
    }
}

static void w_frms(enc *e, wbuf *w) {
    w_u32(w, (uint32_t)e->ft.n);
    for (size_t i = 0; i < e->ft.n; i++) {
        w_u32(w, e->ft.f[i].file);
        w_u32(w, e->ft.f[i].line);
        w_u32(w, e->ft.f[i].func);
        w_u32(w, e->ft.f[i].obj);
        w_u64(w, e->ft.f[i].addr);
    }
}

static void w_tbck(enc *e, wbuf *w) {
    w_u32(w, (uint32_t)e->ntb_out);
    size_t k = 0;
    FOR_WRITTEN(e, p, i) {
        const rcy_traceback *tb = &e->parts[p]->tbs[i].pub;
        w_u32(w, (uint32_t)tb->nframe);
        w_u32(w, (uint32_t)tb->total_nframe);
        for (size_t f = 0; f < tb->nframe; f++)
            w_u32(w, e->fids[k++]);
    }
}

static void w_meta_sec(enc *e, wbuf *w) {
    w_meta(w, e->s);
}

static void w_trac(enc *e, wbuf *w) {
    w_traces(w, e->s, e->ids[0]);
}

static void w_time(enc *e, wbuf *w) {
    w_u64(w, e->s->ntimeline);
    for (size_t i = 0; i < e->s->ntimeline; i++) {
        w_u64(w, e->s->timeline[i].time_ns);
        w_u64(w, e->s->timeline[i].current);
        w_u64(w, e->s->timeline[i].peak);
    }
}

static void w_trss(enc *e, wbuf *w) {
    w_u64(w, e->s->ntimeline);
    for (size_t i = 0; i < e->s->ntimeline; i++)
        w_u64(w, e->s->timeline[i].rss);
}

static void w_info(enc *e, wbuf *w) {
    w_u32(w, (uint32_t)e->s->ninfo);
    for (size_t i = 0; i < e->s->ninfo; i++) {
        w_u32(w, strtab_id(&e->st, e->s->info[i].key, &e->oom));
        w_u32(w, strtab_id(&e->st, e->s->info[i].value, &e->oom));
    }
}

static void w_peak(enc *e, wbuf *w) {
    w_meta(w, e->s->peak);
    w_traces(w, e->s->peak, e->ids[1]);
}

static void w_tcnt(enc *e, wbuf *w) {
    const rcy_snapshot *s = e->s;
    uint64_t n = 0;
    for (size_t i = 0; i < s->ntb; i++)
        n += e->ids[0][i] != NONE && has_site_counts(s, i);
    w_u64(w, n);
    for (size_t i = 0; i < s->ntb; i++) {
        if (e->ids[0][i] == NONE || !has_site_counts(s, i))
            continue;
        w_u32(w, e->ids[0][i]);
        w_u64(w, s->tbs[i].allocs);
        w_u64(w, s->tbs[i].allocated);
        w_u64(w, s->tbs[i].temporary);
    }
}

static void w_leak(enc *e, wbuf *w) {
    w_u64(w, e->s->ntraces);
    for (size_t i = 0; i < e->s->ntraces; i++) {
        unsigned char c = (unsigned char)e->s->traces[i].leak;
        w_bytes(w, &c, 1);
    }
}

/* LEAK is written only when some trace has a known class. */
static bool has_leak_classes(const rcy_snapshot *s) {
    for (size_t i = 0; i < s->ntraces; i++)
        if (s->traces[i].leak != RCY_LEAK_UNKNOWN)
            return true;
    return false;
}

/* TRSS is written only when some sample has a resident set. */
static bool has_rss(const rcy_snapshot *s) {
    for (size_t i = 0; i < s->ntimeline; i++)
        if (s->timeline[i].rss != 0)
            return true;
    return false;
}

static void put_section(enc *e, wbuf *w, uint32_t tag, void (*write)(enc *, wbuf *)) {
    size_t at = w_section_begin(w, tag);
    write(e, w);
    w_section_end(w, at);
    e->nsec++;
}

/* The sections in file order (each refers only to sections before it). */
static void write_sections(enc *e, wbuf *w) {
    const rcy_snapshot *s = e->s;
    put_section(e, w, T_STRS, w_strs);
    if (e->raw) {
        put_section(e, w, T_MODS, w_mods);
        put_section(e, w, T_RTBK, w_rtbk);
    } else {
        put_section(e, w, T_FRMS, w_frms);
        put_section(e, w, T_TBCK, w_tbck);
    }
    put_section(e, w, T_META, w_meta_sec);
    put_section(e, w, T_TRAC, w_trac);
    if (s->ntimeline)
        put_section(e, w, T_TIME, w_time);
    if (s->ntimeline && has_rss(s))
        put_section(e, w, T_TRSS, w_trss);
    if (s->ninfo)
        put_section(e, w, T_INFO, w_info);
    if (s->peak)
        put_section(e, w, T_PEAK, w_peak);
    if (s->site_counters)
        put_section(e, w, T_TCNT, w_tcnt);
    if (has_leak_classes(s))
        put_section(e, w, T_LEAK, w_leak);
}

/* The oldest minor version that holds what s has. */
static int minor_of(const rcy_snapshot *s, bool raw) {
    if (has_leak_classes(s))
        return raw ? MINOR_RAW_LEAK : MINOR_LEAK;
    if (s->site_counters)
        return raw ? MINOR_RAW_CNT : MINOR_CNT;
    return raw ? 0 : MINOR;
}

static void enc_free(enc *e) {
    if (e->own_mods)
        rcyi_modset_free(e->mods);
    free(e->ids[0]);
    free(e->ids[1]);
    free(e->fids);
    free(e->st.s);
    free(e->st.idx);
    free(e->ft.f);
    free(e->ft.idx);
}

/* Serialize s into w (header and body); raw: addresses and modules
 * instead of resolved frames (major version 2). */
static int encode(const rcy_snapshot *s, wbuf *w, bool compress, bool raw) {
    raw = raw && has_raw(s) && !has_script_frames(s);
    int rc = RCY_OK;
    if (!raw) {
        rc = rcyi_snapshot_resolve(s);
        if (!rc && s->peak)
            rc = rcyi_snapshot_resolve(s->peak);
    }
    if (rc)
        return rc;
    enc e = {.s = s, .parts = {s, s->peak}, .raw = raw};
    collect(&e);
    if (!e.oom) {
        unsigned char hdr[HEADER] = {0};
        w_bytes(w, hdr, HEADER);
        write_sections(&e, w);
        if (!w->oom)
            w->oom = finish(w, e.nsec, compress, raw ? 2 : 1, minor_of(s, raw)) != RCY_OK;
    }
    enc_free(&e);
    return e.oom || w->oom ? RCY_ENOMEM : RCY_OK;
}

static int encode_to(const rcy_snapshot *s, bool compress, bool raw, unsigned char **out,
                     size_t *len) {
    if (!s || !out || !len)
        return RCY_EINVAL;
    ENTER();
    wbuf w = {0};
    int rc = encode(s, &w, compress, raw);
    if (rc) {
        free(w.p);
        w.p = NULL;
        w.len = 0;
    }
    *out = w.p;
    *len = w.len;
    LEAVE();
    return rc;
}

int rcyi_snapshot_encode(const rcy_snapshot *s, bool compress, unsigned char **out, size_t *len) {
    return encode_to(s, compress, false, out, len);
}

int rcyi_snapshot_encode_raw(const rcy_snapshot *s, unsigned char **out, size_t *len) {
    return encode_to(s, false, true, out, len);
}

static int dump(const rcy_snapshot *s, const char *path, bool raw) {
    if (!s || !path)
        return RCY_EINVAL;
    ENTER();
    wbuf w = {0};
    int rc = encode(s, &w, true, raw);
    if (!rc)
        rc = rcy_file_write(path, w.p, w.len);
    int saved = errno;
    free(w.p);
    LEAVE();
    errno = saved;
    return rc;
}

int rcy_snapshot_dump(const rcy_snapshot *s, const char *path) {
    return dump(s, path, false);
}

int rcy_snapshot_dump_raw(const rcy_snapshot *s, const char *path) {
    return dump(s, path, true);
}

/* ---- reading ---------------------------------------------------------------------- */

typedef struct rd {
    const unsigned char *p, *end;
    bool bad;
} rd;

static size_t rd_left(const rd *r) {
    return (size_t)(r->end - r->p);
}

static uint32_t r_u32(rd *r) {
    if (rd_left(r) < 4) {
        r->bad = true;
        r->p = r->end;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static uint64_t r_u64(rd *r) {
    uint64_t lo = r_u32(r);
    return lo | (uint64_t)r_u32(r) << 32;
}

/* What the reader has seen so far: each section may come once, and only
 * after the sections it refers to. */
typedef struct loadctx {
    rcy_snapshot *s;
    bool raw_layout; /* major version 2: MODS and RTBK instead of FRMS and TBCK */
    /* string table: offsets into strings (the snapshot's blob) */
    char *strings;
    size_t nstr;
    size_t *stroff;
    size_t nframes;
    rcy_frame *frames;
    rcyi_snap_tb *tbs; /* the file's tracebacks (s's entries) */
    size_t ntb;
    rcyi_modset *mods;
    rcy_sample *timeline;
    size_t ntimeline;
    bool have_meta, have_trac, have_trss, have_info, have_tcnt, have_leak;
} loadctx;

static const char *str_at(loadctx *c, uint32_t id, bool allow_none, bool *bad) {
    if (id == NONE && allow_none)
        return NULL;
    if (id >= c->nstr) {
        *bad = true;
        return NULL;
    }
    return c->strings + c->stroff[id];
}

static int parse_strs(loadctx *c, rd *r) {
    if (c->strings)
        return RCY_EFORMAT;
    uint32_t n = r_u32(r);
    if (r->bad || n > rd_left(r) / 4)
        return RCY_EFORMAT;
    /* every string costs at least 4 bytes of file: n and the blob are
     * bounded by the section's size */
    c->stroff = malloc((n ? n : 1) * sizeof *c->stroff);
    c->strings = rcyi_snapshot_new_strings(c->s, rd_left(r) + 1);
    if (!c->stroff || !c->strings)
        return RCY_ENOMEM;
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = r_u32(r);
        if (r->bad || len > rd_left(r))
            return RCY_EFORMAT;
        if (memchr(r->p, 0, len))
            return RCY_EFORMAT;
        c->stroff[i] = at;
        memcpy(c->strings + at, r->p, len);
        at += len;
        c->strings[at++] = 0;
        r->p += len;
    }
    c->nstr = n;
    return rd_left(r) ? RCY_EFORMAT : RCY_OK;
}

static int parse_frms(loadctx *c, rd *r) {
    if (c->raw_layout || !c->strings || c->frames)
        return RCY_EFORMAT;
    uint32_t n = r_u32(r);
    if (r->bad || n > rd_left(r) / 24 || rd_left(r) != (size_t)n * 24)
        return RCY_EFORMAT;
    c->frames = malloc((n ? n : 1) * sizeof *c->frames);
    if (!c->frames)
        return RCY_ENOMEM;
    bool bad = false;
    for (uint32_t i = 0; i < n; i++) {
        rcy_frame *f = &c->frames[i];
        f->filename = str_at(c, r_u32(r), false, &bad);
        f->lineno = r_u32(r);
        f->function = str_at(c, r_u32(r), true, &bad);
        f->object = str_at(c, r_u32(r), true, &bad);
        f->address = (uintptr_t)r_u64(r);
    }
    c->nframes = n;
    return bad || r->bad ? RCY_EFORMAT : RCY_OK;
}

static int parse_tbck(loadctx *c, rd *r) {
    if (c->raw_layout || !c->frames || c->tbs)
        return RCY_EFORMAT;
    uint32_t n = r_u32(r);
    if (r->bad || n > rd_left(r) / 8)
        return RCY_EFORMAT;
    c->tbs = rcyi_snapshot_new_tracebacks(c->s, n, 0, NULL);
    if (!c->tbs)
        return RCY_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nf = r_u32(r), total = r_u32(r);
        if (r->bad || nf == 0 || nf > rd_left(r) / 4 || total < nf)
            return RCY_EFORMAT;
        rcyi_snap_tb *t = &c->tbs[i];
        t->frames = malloc(nf * sizeof *t->frames);
        if (!t->frames)
            return RCY_ENOMEM;
        for (uint32_t f = 0; f < nf; f++) {
            uint32_t id = r_u32(r);
            if (id >= c->nframes)
                return RCY_EFORMAT;
            t->frames[f] = c->frames[id];
        }
        t->pub.frames = t->frames;
        t->pub.nframe = nf;
        t->pub.total_nframe = total;
    }
    c->ntb = n;
    return rd_left(r) ? RCY_EFORMAT : RCY_OK;
}

static int cmp_module(const void *x, const void *y) {
    const rcyi_module *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* MODS: the modules of a raw file; strings stay in the snapshot's blob. */
static int parse_mods(loadctx *c, rd *r) {
    if (!c->raw_layout || !c->strings || c->mods)
        return RCY_EFORMAT;
    uint32_t n = r_u32(r);
    if (r->bad || n > rd_left(r) / 32 || rd_left(r) != (size_t)n * 32)
        return RCY_EFORMAT;
    rcyi_modset *m = calloc(1, sizeof *m);
    if (!m)
        return RCY_ENOMEM;
    rcyi_snapshot_set_modules(c->s, m);
    c->mods = m;
    m->mods = malloc((n ? n : 1) * sizeof *m->mods);
    if (!m->mods)
        return RCY_ENOMEM;
    bool bad = false;
    for (uint32_t i = 0; i < n; i++) {
        rcyi_module *md = &m->mods[i];
        md->path = str_at(c, r_u32(r), false, &bad);
        md->build_id = str_at(c, r_u32(r), true, &bad);
        md->bias = r_u64(r);
        md->lo = r_u64(r);
        md->hi = r_u64(r);
        if (md->lo >= md->hi)
            bad = true;
    }
    m->n = n;
    qsort(m->mods, n, sizeof *m->mods, cmp_module);
    for (uint32_t i = 1; i < n; i++)
        if (m->mods[i].lo < m->mods[i - 1].hi)
            bad = true; /* the lookup needs disjoint ranges */
    return bad || r->bad ? RCY_EFORMAT : RCY_OK;
}

/* RTBK: raw tracebacks {site file, line, function, npcs, total, pcs}. */
static int parse_rtbk(loadctx *c, rd *r) {
    if (!c->raw_layout || !c->mods || c->tbs)
        return RCY_EFORMAT;
    uint32_t n = r_u32(r);
    if (r->bad || n > rd_left(r) / 20)
        return RCY_EFORMAT;
    /* every address costs 8 bytes of the section */
    uintptr_t *pcs = NULL;
    c->tbs = rcyi_snapshot_new_tracebacks(c->s, n, rd_left(r) / 8 + 1, &pcs);
    if (!c->tbs)
        return RCY_ENOMEM;
    bool bad = false;
    for (uint32_t i = 0; i < n && !bad; i++) {
        rcyi_snap_tb *t = &c->tbs[i];
        t->site_file = str_at(c, r_u32(r), true, &bad);
        uint32_t line = r_u32(r);
        t->site_func = str_at(c, r_u32(r), true, &bad);
        uint32_t np = r_u32(r), total = r_u32(r);
        if (r->bad || line > INT32_MAX || np > 65535 || total > 65535 || total < np ||
            np > rd_left(r) / 8)
            return RCY_EFORMAT;
        t->site_line = (int)line;
        t->npcs = (uint16_t)np;
        t->total = (uint16_t)total;
        t->pcs = pcs;
        for (uint32_t k = 0; k < np; k++)
            *pcs++ = (uintptr_t)r_u64(r);
    }
    c->ntb = n;
    rcyi_snapshot_set_resolved(c->s, false);
    return bad || r->bad || rd_left(r) ? RCY_EFORMAT : RCY_OK;
}

/* META's payload (also the start of PEAK's) into s. */
static int read_meta(rcy_snapshot *s, rd *r) {
    rcy_tracemalloc_counters k = *rcy_snapshot_counters(s);
    uint32_t limit = r_u32(r);
    r_u32(r);
    k.allocs = r_u64(r);
    k.frees = r_u64(r);
    k.current = r_u64(r);
    k.peak = r_u64(r);
    if (r->bad || limit < 1 || limit > 65535)
        return RCY_EFORMAT;
    rcyi_snapshot_set_meta(s, (int)limit, &k);
    return RCY_OK;
}

static int parse_meta(loadctx *c, rd *r) {
    if (c->have_meta)
        return RCY_EFORMAT;
    c->have_meta = true;
    int e = read_meta(c->s, r);
    return e ? e : r->p != r->end ? RCY_EFORMAT : RCY_OK;
}

/* Traces of snapshot d referring to the tracebacks of the file (c->tbs):
 * their traceback pointers hold the file's ids until own_tracebacks. */
static int read_traces(loadctx *c, rcy_snapshot *d, rd *r, rcy_trace **out, size_t *nout) {
    uint64_t n = r_u64(r);
    if (r->bad || n > rd_left(r) / 24 || rd_left(r) != n * 24)
        return RCY_EFORMAT;
    rcy_trace *traces = *out = rcyi_snapshot_new_traces(d, (size_t)n);
    *nout = (size_t)n;
    if (!traces)
        return RCY_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        rcy_trace *t = &traces[i];
        t->domain = r_u32(r);
        uint32_t tb = r_u32(r);
        t->size = (size_t)r_u64(r);
        t->count = (size_t)r_u64(r);
        if (tb >= c->ntb)
            return RCY_EFORMAT;
        t->traceback = (const rcy_traceback *)(uintptr_t)tb; /* fixed up below */
    }
    return RCY_OK;
}

/* Point d's traces at tracebacks of its own (copies of the file's). */
static int own_tracebacks(loadctx *c, rcy_snapshot *d, rcy_trace *traces, size_t ntraces) {
    if (d == c->s) {
        for (size_t i = 0; i < ntraces; i++)
            traces[i].traceback = &c->tbs[(uintptr_t)traces[i].traceback].pub;
        return RCY_OK;
    }
    rcyi_snap_tb *tbs = rcyi_snapshot_new_tracebacks(d, c->ntb, 0, NULL);
    size_t *used = calloc(c->ntb ? c->ntb : 1, sizeof *used);
    int rc = tbs && used ? RCY_OK : RCY_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < ntraces && !rc; i++) {
        size_t tb = (uintptr_t)traces[i].traceback;
        if (!used[tb]) {
            const rcyi_snap_tb *src = &c->tbs[tb];
            rcyi_snap_tb *t = &tbs[n];
            *t = *src; /* a raw file's addresses stay in the parent's block */
            t->frames = NULL;
            used[tb] = ++n;
            if (src->frames) {
                t->frames = malloc(src->pub.nframe * sizeof *t->frames);
                if (!t->frames) {
                    rc = RCY_ENOMEM;
                    break;
                }
                memcpy(t->frames, src->frames, src->pub.nframe * sizeof *t->frames);
                t->pub.frames = t->frames;
            }
        }
        traces[i].traceback = &tbs[used[tb] - 1].pub;
    }
    if (tbs)
        rcyi_snapshot_use_tracebacks(d, n);
    free(used);
    return rc;
}

static int parse_trac(loadctx *c, rd *r) {
    if (!c->tbs || c->have_trac)
        return RCY_EFORMAT;
    c->have_trac = true;
    rcy_trace *traces;
    size_t n;
    int e = read_traces(c, c->s, r, &traces, &n);
    return e ? e : own_tracebacks(c, c->s, traces, n);
}

static int parse_time(loadctx *c, rd *r) {
    uint64_t m = r_u64(r);
    if (r->bad || c->timeline || m > rd_left(r) / 24 || rd_left(r) != m * 24)
        return RCY_EFORMAT;
    c->timeline = rcyi_snapshot_new_timeline(c->s, (size_t)m);
    if (!c->timeline)
        return RCY_ENOMEM;
    for (uint64_t k = 0; k < m; k++) {
        c->timeline[k].time_ns = r_u64(r);
        c->timeline[k].current = r_u64(r);
        c->timeline[k].peak = r_u64(r);
    }
    c->ntimeline = (size_t)m;
    return RCY_OK;
}

static int parse_trss(loadctx *c, rd *r) {
    uint64_t m = r_u64(r);
    if (r->bad || !c->timeline || c->have_trss || m != c->ntimeline || rd_left(r) / 8 != m ||
        rd_left(r) % 8)
        return RCY_EFORMAT;
    for (uint64_t k = 0; k < m; k++)
        c->timeline[k].rss = r_u64(r);
    c->have_trss = true;
    return RCY_OK;
}

static int parse_info(loadctx *c, rd *r) {
    uint32_t m = r_u32(r);
    if (r->bad || !c->strings || c->have_info || m > rd_left(r) / 8 || rd_left(r) != (size_t)m * 8)
        return RCY_EFORMAT;
    int e = RCY_OK;
    for (uint32_t k = 0; k < m && !e; k++) {
        bool bad = false;
        const char *key = str_at(c, r_u32(r), false, &bad);
        const char *val = str_at(c, r_u32(r), false, &bad);
        e = bad ? RCY_EFORMAT : rcy_snapshot_set_info(c->s, key, val);
    }
    c->have_info = m > 0; /* an empty INFO leaves room for another */
    return e;
}

static int parse_peak(loadctx *c, rd *r) {
    if (!c->tbs || rcy_snapshot_at_peak(c->s))
        return RCY_EFORMAT;
    rcy_snapshot *peak = rcyi_snapshot_alloc();
    if (!peak)
        return RCY_ENOMEM;
    rcyi_snapshot_set_peak(c->s, peak);
    rd meta = {r->p, r->p + (rd_left(r) < 40 ? rd_left(r) : 40), false};
    int e = read_meta(peak, &meta);
    r->p = meta.p;
    rcy_trace *traces;
    size_t n;
    e = e ? e : read_traces(c, peak, r, &traces, &n);
    return e ? e : own_tracebacks(c, peak, traces, n);
}

static int parse_tcnt(loadctx *c, rd *r) {
    if (!c->have_trac || c->have_tcnt)
        return RCY_EFORMAT;
    c->have_tcnt = true;
    uint64_t n = r_u64(r);
    if (r->bad || n > rd_left(r) / 28 || rd_left(r) != n * 28)
        return RCY_EFORMAT;
    for (uint64_t k = 0; k < n; k++) {
        uint32_t tb = r_u32(r);
        if (tb >= c->ntb)
            return RCY_EFORMAT;
        c->tbs[tb].allocs = r_u64(r);
        c->tbs[tb].allocated = r_u64(r);
        c->tbs[tb].temporary = r_u64(r);
    }
    rcyi_snapshot_set_site_counters(c->s, true);
    return RCY_OK;
}

static int parse_leak(loadctx *c, rd *r) {
    uint64_t m = r_u64(r);
    if (r->bad || !c->have_trac || c->have_leak || m != c->s->ntraces || rd_left(r) != m)
        return RCY_EFORMAT;
    c->have_leak = true;
    for (uint64_t k = 0; k < m; k++) {
        if (r->p[k] > RCY_LEAK_REACHABLE)
            return RCY_EFORMAT;
    }
    rcyi_snapshot_set_leak_classes(c->s, r->p, (size_t)m);
    r->p += m;
    return RCY_OK;
}

/* One parser per section tag; a tag not here is a section of a newer
 * minor version, skipped. */
static const struct {
    uint32_t tag;
    int (*parse)(loadctx *c, rd *r);
} section_parsers[] = {
    {T_STRS, parse_strs}, {T_FRMS, parse_frms}, {T_TBCK, parse_tbck}, {T_MODS, parse_mods},
    {T_RTBK, parse_rtbk}, {T_META, parse_meta}, {T_TRAC, parse_trac}, {T_TIME, parse_time},
    {T_TRSS, parse_trss}, {T_INFO, parse_info}, {T_PEAK, parse_peak}, {T_TCNT, parse_tcnt},
    {T_LEAK, parse_leak},
};

/* The sections of a compressed body {u64 length, zstd frame} into *out.
 * The declared length is checked against the frame and against the most
 * zstd could expand the bytes we have before anything is allocated. */
static int decompress(const unsigned char *body, size_t n, wbuf *out) {
#ifdef RCY_HAVE_ZSTD
    rd r = {body, body + n, false};
    uint64_t raw = r_u64(&r);
    if (r.bad)
        return RCY_EFORMAT;
    size_t zn = rd_left(&r);
    if (raw > RAW_MAX || raw > (uint64_t)zn * ZRATIO || raw > SIZE_MAX - 1)
        return RCY_EFORMAT;
    unsigned long long fcs = ZSTD_getFrameContentSize(r.p, zn);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs != raw)
        return RCY_EFORMAT;
    size_t fz = ZSTD_findFrameCompressedSize(r.p, zn);
    if (ZSTD_isError(fz) || fz != zn)
        return RCY_EFORMAT; /* one frame, nothing after it */
    out->p = malloc((size_t)raw + 1);
    if (!out->p)
        return RCY_ENOMEM;
    size_t got = ZSTD_decompress(out->p, (size_t)raw, r.p, zn);
    if (ZSTD_isError(got) || got != raw)
        return RCY_EFORMAT;
    out->len = (size_t)raw;
    return RCY_OK;
#else
    (void)body, (void)n, (void)out;
    return RCY_EUNSUPPORTED; /* a compressed file, a build without libzstd */
#endif
}

/* The header of a file image: the error it shows, or RCY_OK with the
 * version and the body's sections (decompressed into *raw if need be). */
static int parse_header(const unsigned char *data, size_t n, loadctx *c, rd *body, uint32_t *nsec,
                        wbuf *raw) {
    if (n < HEADER || memcmp(data, MAGIC, 8) != 0) {
        int e = n < HEADER && n >= 8 && memcmp(data, MAGIC, 8) == 0 ? RCY_ECORRUPT : RCY_EFORMAT;
        if (n < 8 && n > 0 && memcmp(data, MAGIC, n) == 0)
            e = RCY_ECORRUPT;
        return e;
    }
    rd h = {data + 8, data + HEADER, false};
    uint32_t ver = r_u32(&h);
    uint32_t flags = r_u32(&h);
    uint64_t len = r_u64(&h);
    uint32_t crc = r_u32(&h);
    *nsec = r_u32(&h);
    c->raw_layout = (ver & 0xFFFF) == MAJOR_RAW;
    if ((ver & 0xFFFF) != MAJOR && !c->raw_layout)
        return RCY_EVERSION;
    if (len != n - HEADER)
        return RCY_ECORRUPT;
    if (rcyi_crc32(0, data + HEADER, n - HEADER) != crc)
        return RCY_ECORRUPT;
    *body = (rd){data + HEADER, data + n, false};
    if (flags & F_ZSTD) {
        int e = decompress(body->p, rd_left(body), raw);
        if (e)
            return e;
        *body = (rd){raw->p, raw->p + raw->len, false};
    }
    return RCY_OK;
}

/* nsec sections {tag, flags, length, payload}, each by its parser. */
static int parse_sections(loadctx *c, rd *r, uint32_t nsec) {
    int e = RCY_OK;
    for (uint32_t i = 0; i < nsec && !e; i++) {
        uint32_t tag = r_u32(r);
        r_u32(r);
        uint64_t len = r_u64(r);
        if (r->bad || len > rd_left(r))
            return RCY_EFORMAT;
        rd sec = {r->p, r->p + len, false};
        r->p += len;
        for (size_t k = 0; k < sizeof section_parsers / sizeof *section_parsers; k++)
            if (section_parsers[k].tag == tag)
                e = section_parsers[k].parse(c, &sec);
    }
    if (!e && (rd_left(r) || !c->have_meta || !c->have_trac))
        e = RCY_EFORMAT;
    return e;
}

rcy_snapshot *rcyi_snapshot_parse(const unsigned char *data, size_t n, int *err) {
    loadctx c = {0};
    wbuf raw = {0};
    rd body;
    uint32_t nsec = 0;
    int e = parse_header(data, n, &c, &body, &nsec, &raw);
    if (!e && !(c.s = rcyi_snapshot_alloc()))
        e = RCY_ENOMEM;
    if (!e) {
        rcyi_snapshot_set_resolved(c.s, true);
        e = parse_sections(&c, &body, nsec);
    }
    free(raw.p);
    free(c.stroff);
    free(c.frames);
    if (e) {
        rcy_snapshot_free(c.s);
        c.s = NULL;
    }
    if (err)
        *err = e;
    return c.s;
}

/* Read exactly n bytes (less only at end of file); false on a read error. */
static bool read_full(int fd, unsigned char *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, buf + *got, n - *got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return false;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return true;
}

/* The whole file into *data / *len, the header checked before the body
 * is read: a regular file must be as long as its header says; any other
 * file (a FIFO, a device) is read up to the length its header declares,
 * at most RAW_MAX.  So neither /dev/zero, a huge sparse file nor a
 * lying header makes the reader allocate more than the file holds. */
static int read_file(int fd, const struct stat *st, unsigned char **data, size_t *len) {
    unsigned char hdr[HEADER];
    size_t got;
    *data = NULL;
    *len = 0;
    if (!read_full(fd, hdr, HEADER, &got))
        return RCY_EIO;
    if (got < HEADER || memcmp(hdr, MAGIC, 8) != 0) {
        /* too short, or no magic: rcyi_snapshot_parse names the error */
        *data = malloc(got ? got : 1);
        if (!*data)
            return RCY_ENOMEM;
        memcpy(*data, hdr, got);
        *len = got;
        return RCY_OK;
    }
    unsigned major = hdr[8] | hdr[9] << 8;
    if (major != MAJOR && major != MAJOR_RAW)
        return RCY_EVERSION;
    uint64_t body = (uint64_t)hdr[16] | (uint64_t)hdr[17] << 8 | (uint64_t)hdr[18] << 16 |
                    (uint64_t)hdr[19] << 24 | (uint64_t)hdr[20] << 32 | (uint64_t)hdr[21] << 40 |
                    (uint64_t)hdr[22] << 48 | (uint64_t)hdr[23] << 56;
    if (S_ISREG(st->st_mode)
            ? (uint64_t)st->st_size < HEADER || body != (uint64_t)st->st_size - HEADER
            : body > RAW_MAX)
        return RCY_ECORRUPT; /* truncated, or longer than it says */
    if (body > SIZE_MAX - HEADER)
        return RCY_ENOMEM;
    *data = malloc(HEADER + (size_t)body);
    if (!*data)
        return RCY_ENOMEM;
    memcpy(*data, hdr, HEADER);
    if (!read_full(fd, *data + HEADER, (size_t)body, &got))
        return RCY_EIO;
    *len = HEADER + got; /* short: the parser says truncated */
    return RCY_OK;
}

rcy_snapshot *rcy_snapshot_load(const char *path, int *err) {
    if (!path) {
        if (err)
            *err = RCY_EINVAL;
        return NULL;
    }
    ENTER();
    rcy_snapshot *s = NULL;
    int e = RCY_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    /* O_NONBLOCK: opening a FIFO without a writer must not wait for one;
     * reads are made blocking again below (a FIFO with no writer then
     * reads as empty). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        e = RCY_EIO;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        e = RCY_EIO;
        goto out;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    e = read_file(fd, &st, &data, &len);
    if (!e)
        s = rcyi_snapshot_parse(data, len, &e);
out:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    free(data);
    errno = saved;
    if (err)
        *err = e;
    LEAVE();
    return s;
}
