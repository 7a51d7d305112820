/* src/snapshot.c — the front end of tracemalloc: snapshots, statistics
 * grouped by line / file / traceback, compare_to, filters and the text
 * formats, following Python's tracemalloc.py (the engine, like CPython's
 * _tracemalloc, only records raw traces).
 *
 * A snapshot holds its traces and one entry per distinct traceback.
 * Native frames stay raw addresses until the snapshot is first read; then
 * they are symbolized once (rcyi_snapshot_resolve).  Strings come from
 * three places, all outliving the frames that point to them: call-site
 * literals of the program, the process-wide symbol cache, and (for loaded
 * files) the snapshot's own string blob.  Results (statistics, diffs,
 * filtered snapshots) copy what they point to, so they outlive their
 * source snapshot.
 *
 * Every public function here runs with the thread's tracer-busy flag set:
 * the memory it mallocs is never traced, even under the preload library.
 */
#include "snapshot.h"
#include "hash.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ENTER() int busy_prev_ = rcyi_tm_enter()
#define LEAVE() rcyi_tm_exit(busy_prev_)

static const char unknown_file[] = "?";

/* ---- construction ------------------------------------------------------------- */

rcy_snapshot *rcyi_snapshot_alloc(void) {
    rcy_snapshot *s = calloc(1, sizeof *s);
    if (s) {
        s->traceback_limit = 1;
        s->counters.size = sizeof s->counters;
        s->counters.version = RCY_TRACEMALLOC_COUNTERS_VERSION;
    }
    return s;
}

/* ---- setters: the only writers of a snapshot's fields from outside ---------------------- */

void rcyi_snapshot_set_meta(rcy_snapshot *s, int limit, const rcy_tracemalloc_counters *c) {
    s->traceback_limit = limit;
    s->counters = *c;
}

rcyi_snap_tb *rcyi_snapshot_new_tracebacks(rcy_snapshot *s, size_t n, size_t npcs,
                                           uintptr_t **pcs) {
    s->tbs = calloc(n ? n : 1, sizeof *s->tbs);
    if (!s->tbs)
        return NULL;
    s->ntb = s->tbcap = n;
    if (npcs) {
        s->pcs_block = malloc(npcs * sizeof *s->pcs_block);
        if (!s->pcs_block)
            return NULL;
    }
    if (pcs)
        *pcs = s->pcs_block;
    return s->tbs;
}

void rcyi_snapshot_use_tracebacks(rcy_snapshot *s, size_t n) {
    s->ntb = n;
}

rcy_trace *rcyi_snapshot_new_traces(rcy_snapshot *s, size_t n) {
    s->traces = malloc((n ? n : 1) * sizeof *s->traces);
    s->ntraces = s->traces ? n : 0;
    return s->traces;
}

rcy_sample *rcyi_snapshot_new_timeline(rcy_snapshot *s, size_t n) {
    s->timeline = calloc(n ? n : 1, sizeof *s->timeline);
    s->ntimeline = s->timeline ? n : 0;
    return s->timeline;
}

char *rcyi_snapshot_new_strings(rcy_snapshot *s, size_t size) {
    s->strings = malloc(size ? size : 1);
    return s->strings;
}

void rcyi_snapshot_set_modules(rcy_snapshot *s, rcyi_modset *m) {
    s->modules = m;
    s->modules_borrowed = false;
}

void rcyi_snapshot_set_resolved(rcy_snapshot *s, bool resolved) {
    s->resolved = resolved;
}

void rcyi_snapshot_set_peak(rcy_snapshot *s, rcy_snapshot *peak) {
    s->peak = peak;
    if (peak && s->modules) {
        peak->modules = s->modules;
        peak->modules_borrowed = true;
    }
    if (peak)
        peak->resolved = s->resolved;
}

rcy_snapshot *rcyi_snapshot_from_raw(int limit, const rcyi_raw_trace *traces, size_t ntraces,
                                     const rcyi_tb *const *tbs, size_t ntb) {
    rcy_snapshot *s = rcyi_snapshot_alloc();
    if (!s)
        return NULL;
    s->traceback_limit = limit;
    size_t npcs = 0;
    for (size_t i = 0; i < ntb; i++)
        npcs += tbs[i]->npcs;
    uintptr_t *pcs = NULL;
    if (!rcyi_snapshot_new_traces(s, ntraces) ||
        !rcyi_snapshot_new_tracebacks(s, ntb, npcs ? npcs : 1, &pcs)) {
        rcy_snapshot_free(s);
        return NULL;
    }
    for (size_t i = 0; i < ntb; i++) {
        rcyi_snap_tb *t = &s->tbs[i];
        t->site_file = tbs[i]->file;
        t->site_func = tbs[i]->func;
        t->site_line = tbs[i]->line;
        t->npcs = tbs[i]->npcs;
        t->total = tbs[i]->total;
        t->pcs = pcs;
        memcpy(pcs, tbs[i]->pcs, t->npcs * sizeof *pcs);
        pcs += t->npcs;
    }
    for (size_t i = 0; i < ntraces; i++) {
        s->traces[i].domain = traces[i].domain;
        s->traces[i].size = (size_t)traces[i].size;
        s->traces[i].count = (size_t)traces[i].count;
        s->traces[i].traceback = &s->tbs[traces[i].tb].pub;
    }
    return s;
}

void rcy_snapshot_free(rcy_snapshot *s) {
    if (!s)
        return;
    ENTER();
    for (size_t i = 0; i < (s->tbcap > s->ntb ? s->tbcap : s->ntb); i++)
        free(s->tbs[i].frames);
    free(s->pcs_block);
    free(s->tbs);
    free(s->traces);
    free(s->timeline);
    for (size_t i = 0; i < s->ninfo; i++) {
        free(s->info[i].key);
        free(s->info[i].value);
    }
    free(s->info);
    rcy_snapshot_free(s->peak);
    if (!s->modules_borrowed)
        rcyi_modset_free(s->modules);
    free(s->strings);
    free(s);
    LEAVE();
}

/* ---- resolution --------------------------------------------------------------- */

static bool is_library_function(const char *fn) {
    return fn && (strncmp(fn, "rcy_", 4) == 0 || strncmp(fn, "rcyi_", 5) == 0);
}

static void symbolize(rcyi_modset *mods, uintptr_t pc, rcyi_symbol *out) {
    if (mods)
        rcyi_symbolize_in(mods, pc, out);
    else
        rcyi_symbolize(pc, out);
}

rcy_frame *rcyi_resolve_frames(rcyi_modset *mods, const char *site_file, int site_line,
                               const char *site_func, const uintptr_t *pcs, size_t npcs,
                               size_t total, int limit, size_t *n, size_t *total_out) {
    size_t cap = limit > 0 ? (size_t)limit : 1;
    rcy_frame *f = calloc(cap, sizeof *f);
    if (!f)
        return NULL;
    size_t k = 0, drop = 0;
    rcyi_symbol sym[RCYI_TM_SLACK + 2];
    size_t nsym = 0;
    if (site_file) {
        f[k++] =
            (rcy_frame){site_file, site_line > 0 ? (unsigned)site_line : 0, site_func, 0, NULL};
        /* Drop the library's frames and the user's own function (named
         * by the call-site frame): the first native frame in a function of
         * the call-site's name, else past the run of rcy_/rcyi_ functions,
         * else the two frames of a hook called from the entry point. */
        nsym = npcs < RCYI_TM_SLACK + 2 ? npcs : RCYI_TM_SLACK + 2;
        for (size_t i = 0; i < nsym; i++)
            symbolize(mods, pcs[i], &sym[i]);
        size_t i;
        for (i = 0; i < nsym; i++)
            if (site_func && sym[i].function && strcmp(sym[i].function, site_func) == 0)
                break;
        if (i < nsym) {
            drop = i + 1;
        } else {
            for (i = 0; i < nsym && is_library_function(sym[i].function); i++) {
            }
            drop = i ? i + 1 : 2;
        }
        if (drop > npcs)
            drop = npcs;
    }
    size_t extra = 0; /* frames of inlined calls, beyond one per address */
    for (size_t i = drop; i < npcs && k < cap; i++) {
        rcyi_symbol s;
        if (i < nsym)
            s = sym[i];
        else
            symbolize(mods, pcs[i], &s);
        f[k++] = (rcy_frame){s.file ? s.file : unknown_file, s.line, s.function, pcs[i], s.object};
        for (const rcyi_symbol *in = s.inlined_into; in; in = in->inlined_into) {
            extra++;
            if (k < cap)
                f[k++] = (rcy_frame){in->file, in->line, in->function, pcs[i], in->object};
        }
    }
    size_t tot = (site_file ? 1 : 0) + (total > drop ? total - drop : 0) + extra;
    if (k == 0) {
        f[k++] = (rcy_frame){unknown_file, 0, NULL, 0, NULL};
    }
    if (tot < k)
        tot = k;
    *n = k;
    *total_out = tot;
    return f;
}

static int resolve_progress(const rcy_snapshot *cs, rcy_progress_fn *fn, void *arg, size_t base,
                            size_t all) {
    rcy_snapshot *s = (rcy_snapshot *)cs; /* resolution is a cache */
    if (s->resolved)
        return RCY_OK;
    for (size_t i = 0; i < s->ntb; i++) {
        rcyi_snap_tb *t = &s->tbs[i];
        if (fn && (i & 255) == 0)
            fn(base + i, all, arg);
        if (t->frames)
            continue;
        size_t n, tot;
        t->frames = rcyi_resolve_frames(s->modules, t->site_file, t->site_line, t->site_func,
                                        t->pcs, t->npcs, t->total, s->traceback_limit, &n, &tot);
        if (!t->frames)
            return RCY_ENOMEM;
        t->pub.frames = t->frames;
        t->pub.nframe = n;
        t->pub.total_nframe = tot;
    }
    s->resolved = true;
    return RCY_OK;
}

int rcyi_snapshot_resolve(const rcy_snapshot *s) {
    return resolve_progress(s, NULL, NULL, 0, 0);
}

int rcy_snapshot_symbolize(const rcy_snapshot *s, rcy_progress_fn *fn, void *arg) {
    if (!s)
        return RCY_EINVAL;
    ENTER();
    size_t all = s->ntb + (s->peak ? s->peak->ntb : 0);
    int rc = resolve_progress(s, fn, arg, 0, all);
    if (!rc && s->peak)
        rc = resolve_progress(s->peak, fn, arg, s->ntb, all);
    if (!rc && fn)
        fn(all, all, arg);
    LEAVE();
    return rc;
}

const rcy_trace *rcy_snapshot_traces(const rcy_snapshot *s, size_t *n) {
    if (!s) {
        if (n)
            *n = 0;
        return NULL;
    }
    ENTER();
    int rc = rcyi_snapshot_resolve(s);
    LEAVE();
    if (n)
        *n = rc ? 0 : s->ntraces;
    return rc ? NULL : s->traces;
}

int rcy_snapshot_traceback_limit(const rcy_snapshot *s) {
    return s ? s->traceback_limit : 0;
}

/* Sums of sizes and counts saturate: a crafted file can hold sizes near
 * 2^64, and a wrapped total would print as a small or negative figure. */
static size_t sat_add(size_t a, size_t b) {
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* a - b as a signed difference, clamped to int64_t. */
static int64_t sat_diff(uint64_t a, uint64_t b) {
    if (a >= b)
        return a - b > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(a - b);
    return b - a > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)(b - a);
}

void rcy_snapshot_totals(const rcy_snapshot *s, size_t *size, size_t *count) {
    size_t sz = 0, c = 0;
    for (size_t i = 0; s && i < s->ntraces; i++) {
        sz = sat_add(sz, s->traces[i].size);
        c = sat_add(c, s->traces[i].count);
    }
    if (size)
        *size = sz;
    if (count)
        *count = c;
}

/* ---- frames as keys --------------------------------------------------------------- */

/* Two frames are the same key when file and line match (Python's Frame
 * equality); unresolved native frames ("?") also compare their address,
 * so different unknown functions are not lumped together. */
static bool frame_eq(const rcy_frame *a, const rcy_frame *b, bool file_only) {
    if (strcmp(a->filename, b->filename) != 0)
        return false;
    if (file_only)
        return true;
    if (a->lineno != b->lineno)
        return false;
    return strcmp(a->filename, unknown_file) != 0 || a->address == b->address;
}

static uint64_t frame_hash(const rcy_frame *f, bool file_only) {
    uint64_t h = rcyi_hash_str(f->filename);
    if (!file_only) {
        h = rcyi_hash_step(h, f->lineno);
        if (strcmp(f->filename, unknown_file) == 0)
            h = rcyi_hash_step(h, f->address);
    }
    return h;
}

/* Python's Frame ordering: (filename, lineno). */
static int frame_cmp(const rcy_frame *a, const rcy_frame *b) {
    int c = strcmp(a->filename, b->filename);
    if (c)
        return c < 0 ? -1 : 1;
    if (a->lineno != b->lineno)
        return a->lineno < b->lineno ? -1 : 1;
    return 0;
}

/* Python's Traceback ordering: tuples of frames, oldest frame first. */
static int tb_cmp(const rcy_traceback *a, const rcy_traceback *b) {
    size_t na = a->nframe, nb = b->nframe;
    for (size_t i = 0; i < na && i < nb; i++) {
        int c = frame_cmp(&a->frames[na - 1 - i], &b->frames[nb - 1 - i]);
        if (c)
            return c;
    }
    if (na != nb)
        return na < nb ? -1 : 1;
    /* Equal for Python; order unknown frames by address, for a stable
     * answer. */
    for (size_t i = 0; i < na; i++)
        if (a->frames[i].address != b->frames[i].address)
            return a->frames[i].address < b->frames[i].address ? -1 : 1;
    return 0;
}

/* A grouping key: frames[0..n) of some traceback (file_only: one frame
 * with line 0). */
typedef struct key {
    const rcy_frame *frames;
    size_t n;
    bool file_only;
    uint64_t hash;
} gkey;

static uint64_t key_hash(const rcy_frame *f, size_t n, bool file_only) {
    uint64_t h = n;
    for (size_t i = 0; i < n; i++)
        h = rcyi_hash_ptr(h) ^ frame_hash(&f[i], file_only);
    return h ? h : 1;
}

static bool key_eq(const gkey *a, const gkey *b) {
    if (a->hash != b->hash || a->n != b->n || a->file_only != b->file_only)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!frame_eq(&a->frames[i], &b->frames[i], a->file_only))
            return false;
    return true;
}

/* A group: key + totals (size and count in two snapshots for diffs). */
typedef struct group {
    gkey k;
    size_t size[2], count[2];
} group;

typedef struct group_tab {
    group *g;
    size_t n, cap; /* groups in insertion order */
    size_t *idx;   /* open addressing: index+1, 0 = empty */
    size_t icap;
} group_tab;

static void gt_free(group_tab *t) {
    free(t->g);
    free(t->idx);
}

/* The group for k, created if absent; NULL on out of memory. */
static group *gt_get(group_tab *t, const gkey *k) {
    if ((t->n + 1) * 2 > t->icap) {
        size_t ncap = t->icap ? t->icap * 2 : 64;
        size_t *ni = calloc(ncap, sizeof *ni);
        if (!ni)
            return NULL;
        for (size_t i = 0; i < t->n; i++) {
            size_t j = t->g[i].k.hash & (ncap - 1);
            while (ni[j])
                j = (j + 1) & (ncap - 1);
            ni[j] = i + 1;
        }
        free(t->idx);
        t->idx = ni;
        t->icap = ncap;
    }
    size_t j = k->hash & (t->icap - 1);
    for (; t->idx[j]; j = (j + 1) & (t->icap - 1))
        if (key_eq(&t->g[t->idx[j] - 1].k, k))
            return &t->g[t->idx[j] - 1];
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        group *ng = realloc(t->g, ncap * sizeof *ng);
        if (!ng)
            return NULL;
        t->g = ng;
        t->cap = ncap;
    }
    group *g = &t->g[t->n];
    memset(g, 0, sizeof *g);
    g->k = *k;
    t->idx[j] = ++t->n;
    return g;
}

/* Add every trace of s into column `col` of the table.  Cumulative mode
 * counts a trace once per distinct key among its frames (Python counts a
 * frame again each time it repeats in a recursive traceback, which
 * inflates recursive functions; we do not). */
static int group_snapshot(group_tab *t, const rcy_snapshot *s, rcy_key_type kt, bool cumulative,
                          int col) {
    int rc = rcyi_snapshot_resolve(s);
    if (rc)
        return rc;
    bool file_only = kt == RCY_KEY_FILENAME;
    /* Per traceback, its list of groups, computed once. */
    size_t *first = malloc((s->ntb + 1) * sizeof *first);
    size_t cap = s->ntb ? s->ntb : 1, len = 0;
    group **lists = malloc(cap * sizeof *lists);
    if (!first || !lists) {
        free(first);
        free(lists);
        return RCY_ENOMEM;
    }
    for (size_t i = 0; i < s->ntb; i++) {
        const rcy_traceback *tb = &s->tbs[i].pub;
        first[i] = len;
        size_t nkeys = kt == RCY_KEY_TRACEBACK || !cumulative ? 1 : tb->nframe;
        for (size_t f = 0; f < nkeys; f++) {
            gkey k;
            k.file_only = file_only;
            if (kt == RCY_KEY_TRACEBACK) {
                k.frames = tb->frames;
                k.n = tb->nframe;
            } else {
                k.frames = &tb->frames[f];
                k.n = 1;
            }
            k.hash = key_hash(k.frames, k.n, file_only);
            group *g = gt_get(t, &k);
            if (!g)
                goto oom;
            /* groups may move on growth: store indexes */
            size_t gi = (size_t)(g - t->g);
            bool dup = false;
            for (size_t d = first[i]; d < len; d++)
                dup |= (size_t)(uintptr_t)lists[d] == gi;
            if (dup)
                continue;
            if (len == cap) {
                cap *= 2;
                group **nl = realloc(lists, cap * sizeof *nl);
                if (!nl)
                    goto oom;
                lists = nl;
            }
            lists[len++] = (group *)(uintptr_t)gi;
        }
    }
    first[s->ntb] = len;
    for (size_t i = 0; i < s->ntraces; i++) {
        size_t tbi = (size_t)((const rcyi_snap_tb *)(const void *)s->traces[i].traceback - s->tbs);
        for (size_t d = first[tbi]; d < first[tbi + 1]; d++) {
            group *g = &t->g[(size_t)(uintptr_t)lists[d]];
            g->size[col] = sat_add(g->size[col], s->traces[i].size);
            g->count[col] = sat_add(g->count[col], s->traces[i].count);
        }
    }
    free(first);
    free(lists);
    return RCY_OK;
oom:
    free(first);
    free(lists);
    return RCY_ENOMEM;
}

/* ---- results own copies of their tracebacks ------------------------------------------- */

/* A string blob builder: strings are copied once each (by address). */
typedef struct blob {
    char *buf;
    size_t len, cap;
} blob;

static size_t blob_add(blob *b, const char *s) {
    size_t n = strlen(s) + 1;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        char *nb = realloc(b->buf, ncap);
        if (!nb)
            return SIZE_MAX;
        b->buf = nb;
        b->cap = ncap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    return b->len - n;
}

/* Results: one block with the items, then tracebacks, frames, strings. */
typedef struct result {
    rcy_traceback *tbs;
    rcy_frame *frames;
    char *strings;
} result;

typedef struct stats_impl {
    rcy_stats pub;
    result r;
} stats_impl;

typedef struct diffs_impl {
    rcy_stat_diffs pub;
    result r;
} diffs_impl;

/* Copy the keys of the given groups into r: tbs[i] for groups[i]. */
static int result_fill(result *r, group *const *gs, size_t n) {
    size_t nf = 0;
    for (size_t i = 0; i < n; i++)
        nf += gs[i]->k.n;
    r->tbs = calloc(n ? n : 1, sizeof *r->tbs);
    r->frames = calloc(nf ? nf : 1, sizeof *r->frames);
    /* offsets first, pointers after the blob stops moving */
    size_t *off = malloc((nf ? nf : 1) * 3 * sizeof *off);
    blob b = {0};
    if (!r->tbs || !r->frames || !off)
        goto oom;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const gkey *ky = &gs[i]->k;
        r->tbs[i].frames = &r->frames[k];
        r->tbs[i].nframe = ky->n;
        r->tbs[i].total_nframe = ky->n;
        for (size_t f = 0; f < ky->n; f++, k++) {
            const rcy_frame *src = &ky->frames[f];
            r->frames[k] = *src;
            if (ky->file_only) {
                r->frames[k].lineno = 0;
                r->frames[k].function = NULL;
                r->frames[k].address = 0;
                r->frames[k].object = NULL;
            }
            off[3 * k] = blob_add(&b, r->frames[k].filename);
            off[3 * k + 1] =
                r->frames[k].function ? blob_add(&b, r->frames[k].function) : SIZE_MAX - 1;
            off[3 * k + 2] = r->frames[k].object ? blob_add(&b, r->frames[k].object) : SIZE_MAX - 1;
            if (off[3 * k] == SIZE_MAX || off[3 * k + 1] == SIZE_MAX || off[3 * k + 2] == SIZE_MAX)
                goto oom;
        }
    }
    for (k = 0; k < nf; k++) {
        r->frames[k].filename = b.buf + off[3 * k];
        r->frames[k].function = off[3 * k + 1] == SIZE_MAX - 1 ? NULL : b.buf + off[3 * k + 1];
        r->frames[k].object = off[3 * k + 2] == SIZE_MAX - 1 ? NULL : b.buf + off[3 * k + 2];
    }
    r->strings = b.buf;
    free(off);
    return RCY_OK;
oom:
    free(off);
    free(b.buf);
    free(r->tbs);
    free(r->frames);
    r->tbs = NULL;
    r->frames = NULL;
    return RCY_ENOMEM;
}

static void result_free(result *r) {
    free(r->tbs);
    free(r->frames);
    free(r->strings);
}

/* ---- statistics -------------------------------------------------------------------- */

/* Python: sorted(key=Statistic._sort_key, reverse=True), key =
 * (size, count, traceback). */
static int stat_cmp(const void *pa, const void *pb) {
    const rcy_statistic *a = pa, *b = pb;
    if (a->size != b->size)
        return a->size > b->size ? -1 : 1;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return -tb_cmp(a->traceback, b->traceback);
}

rcy_stats *rcy_snapshot_statistics(const rcy_snapshot *s, rcy_key_type key, bool cumulative) {
    if (!s || (unsigned)key > RCY_KEY_TRACEBACK || (cumulative && key == RCY_KEY_TRACEBACK))
        return NULL;
    ENTER();
    group_tab t = {0};
    stats_impl *st = NULL;
    group **gs = NULL;
    if (group_snapshot(&t, s, key, cumulative, 0))
        goto out;
    size_t n = 0;
    gs = malloc((t.n ? t.n : 1) * sizeof *gs);
    st = calloc(1, sizeof *st);
    if (!gs || !st)
        goto fail;
    for (size_t i = 0; i < t.n; i++)
        if (t.g[i].count[0])
            gs[n++] = &t.g[i];
    rcy_statistic *items = calloc(n ? n : 1, sizeof *items);
    if (!items || result_fill(&st->r, gs, n)) {
        free(items);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = (rcy_statistic){&st->r.tbs[i], gs[i]->size[0], gs[i]->count[0]};
    qsort(items, n, sizeof *items, stat_cmp);
    st->pub.items = items;
    st->pub.len = n;
    goto out;
fail:
    free(st);
    st = NULL;
out:
    free(gs);
    gt_free(&t);
    LEAVE();
    return st ? &st->pub : NULL;
}

void rcy_stats_free(rcy_stats *stats) {
    if (!stats)
        return;
    ENTER();
    stats_impl *st = (stats_impl *)stats;
    free((void *)st->pub.items);
    result_free(&st->r);
    free(st);
    LEAVE();
}

static uint64_t absdiff(int64_t v) {
    return v < 0 ? -(uint64_t)v : (uint64_t)v;
}

/* Python: sort key (abs(size_diff), size, abs(count_diff), count,
 * traceback), reverse=True. */
static int diff_cmp(const void *pa, const void *pb) {
    const rcy_statistic_diff *a = pa, *b = pb;
    if (absdiff(a->size_diff) != absdiff(b->size_diff))
        return absdiff(a->size_diff) > absdiff(b->size_diff) ? -1 : 1;
    if (a->size != b->size)
        return a->size > b->size ? -1 : 1;
    if (absdiff(a->count_diff) != absdiff(b->count_diff))
        return absdiff(a->count_diff) > absdiff(b->count_diff) ? -1 : 1;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return -tb_cmp(a->traceback, b->traceback);
}

rcy_stat_diffs *rcy_snapshot_compare_to(const rcy_snapshot *newer, const rcy_snapshot *older,
                                        rcy_key_type key, bool cumulative) {
    if (!newer || !older || (unsigned)key > RCY_KEY_TRACEBACK ||
        (cumulative && key == RCY_KEY_TRACEBACK))
        return NULL;
    ENTER();
    group_tab t = {0};
    diffs_impl *d = NULL;
    group **gs = NULL;
    if (group_snapshot(&t, newer, key, cumulative, 0) ||
        group_snapshot(&t, older, key, cumulative, 1))
        goto out;
    size_t n = 0;
    gs = malloc((t.n ? t.n : 1) * sizeof *gs);
    d = calloc(1, sizeof *d);
    if (!gs || !d)
        goto fail;
    for (size_t i = 0; i < t.n; i++)
        if (t.g[i].count[0] || t.g[i].count[1])
            gs[n++] = &t.g[i];
    rcy_statistic_diff *items = calloc(n ? n : 1, sizeof *items);
    if (!items || result_fill(&d->r, gs, n)) {
        free(items);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const group *g = gs[i];
        items[i] = (rcy_statistic_diff){&d->r.tbs[i], g->size[0], sat_diff(g->size[0], g->size[1]),
                                        g->count[0], sat_diff(g->count[0], g->count[1])};
    }
    qsort(items, n, sizeof *items, diff_cmp);
    d->pub.items = items;
    d->pub.len = n;
    goto out;
fail:
    free(d);
    d = NULL;
out:
    free(gs);
    gt_free(&t);
    LEAVE();
    return d ? &d->pub : NULL;
}

void rcy_stat_diffs_free(rcy_stat_diffs *diffs) {
    if (!diffs)
        return;
    ENTER();
    diffs_impl *d = (diffs_impl *)diffs;
    free((void *)d->pub.items);
    result_free(&d->r);
    free(d);
    LEAVE();
}

/* ---- text ------------------------------------------------------------------------- */

/* Python's _format_size: B, KiB, ... TiB; "%.1f" under 100 units (not for
 * bytes), "%.0f" under 10 * 1024 units (and always for TiB). */
static int format_size_d(double size, bool sign, char *buf, size_t len) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    for (int i = 0; i < 5; i++) {
        if (fabs(size) < 100 && i != 0)
            return snprintf(buf, len, sign ? "%+.1f %s" : "%.1f %s", size, units[i]);
        if (fabs(size) < 10 * 1024 || i == 4)
            return snprintf(buf, len, sign ? "%+.0f %s" : "%.0f %s", size, units[i]);
        size /= 1024;
    }
    return -1; /* not reached */
}

int rcy_format_size(int64_t size, bool sign, char *buf, size_t len) {
    return format_size_d((double)size, sign, buf, len);
}

int rcy_format_usize(uint64_t size, char *buf, size_t len) {
    return format_size_d((double)size, false, buf, len);
}

/* The label of a statistic: its most recent frame, "file:line".  (Python
 * since 3.7 labels a traceback-key statistic by its oldest frame, which
 * for a C program is main() on every line; the allocating line is what a
 * reader looks for.) */
static const rcy_frame *label_frame(const rcy_traceback *tb) {
    static const rcy_frame unknown = {unknown_file, 0, NULL, 0, NULL};
    return tb && tb->nframe ? &tb->frames[0] : &unknown;
}

/* "file:line", or the function when the file is unknown (a native frame
 * without line information): "?:0" only when nothing is known. */
static const char *frame_label(const rcy_frame *f, char *buf, size_t len) {
    if (f->function && (!f->filename || strcmp(f->filename, unknown_file) == 0))
        snprintf(buf, len, "%s", f->function);
    else
        snprintf(buf, len, "%s:%u", f->filename ? f->filename : unknown_file, f->lineno);
    return buf;
}

int rcy_statistic_format(const rcy_statistic *st, char *buf, size_t len) {
    if (!st)
        return -1;
    char lab[600];
    frame_label(label_frame(st->traceback), lab, sizeof lab);
    char sz[64], avg[64];
    format_size_d((double)st->size, false, sz, sizeof sz);
    if (!st->count)
        return snprintf(buf, len, "%s: size=%s, count=%zu", lab, sz, st->count);
    format_size_d((double)st->size / (double)st->count, false, avg, sizeof avg);
    return snprintf(buf, len, "%s: size=%s, count=%zu, average=%s", lab, sz, st->count, avg);
}

int rcy_statistic_diff_format(const rcy_statistic_diff *d, char *buf, size_t len) {
    if (!d)
        return -1;
    char lab[600];
    frame_label(label_frame(d->traceback), lab, sizeof lab);
    char sz[64], sd[64], avg[64];
    format_size_d((double)d->size, false, sz, sizeof sz);
    format_size_d((double)d->size_diff, true, sd, sizeof sd);
    if (!d->count)
        return snprintf(buf, len, "%s: size=%s (%s), count=%zu (%+lld)", lab, sz, sd, d->count,
                        (long long)d->count_diff);
    format_size_d((double)d->size / (double)d->count, false, avg, sizeof avg);
    return snprintf(buf, len, "%s: size=%s (%s), count=%zu (%+lld), average=%s", lab, sz, sd,
                    d->count, (long long)d->count_diff, avg);
}

/* Line `lineno` of `path`, stripped (Python's linecache.getline().strip());
 * false when there is none. */
static bool source_line(const char *path, unsigned lineno, char *out, size_t len) {
    if (!lineno || !path || strcmp(path, unknown_file) == 0)
        return false;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    unsigned cur = 1;
    int c;
    size_t n = 0;
    bool got = false;
    while ((c = getc(fp)) != EOF) {
        if (cur == lineno) {
            got = true;
            if (c == '\n')
                break;
            if (n + 1 < len)
                out[n++] = (char)c;
        } else if (c == '\n') {
            cur++;
        }
    }
    fclose(fp);
    if (!got)
        return false;
    out[n] = 0;
    char *s = out;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1]))
        s[--l] = 0;
    memmove(out, s, l + 1);
    return l > 0;
}

/* Python's Traceback.format: limit > 0 keeps the `limit` most recent
 * frames, limit < 0 the |limit| oldest (as Python documents), 0 all. */
char *rcy_traceback_format(const rcy_traceback *tb, int limit, bool most_recent_first) {
    if (!tb)
        return NULL;
    ENTER();
    size_t n = tb->nframe, lo = 0, hi = n; /* newest-first indexes [lo, hi) */
    if (limit > 0 && (size_t)limit < n)
        hi = (size_t)limit;
    else if (limit < 0 && (size_t)(-(long)limit) < n)
        lo = n - (size_t)(-(long)limit);
    blob b = {0};
    bool ok = blob_add(&b, "") != SIZE_MAX;
    b.len = 0;
    for (size_t k = 0; ok && k < hi - lo; k++) {
        /* oldest first unless most_recent_first */
        const rcy_frame *f = most_recent_first ? &tb->frames[lo + k] : &tb->frames[hi - 1 - k];
        char line[1024], src[512];
        if (f->function && strcmp(f->filename, unknown_file) == 0)
            snprintf(line, sizeof line, "  in %.900s\n", f->function); /* no line information */
        else
            snprintf(line, sizeof line, "  File \"%s\", line %u\n", f->filename, f->lineno);
        ok = blob_add(&b, line) != SIZE_MAX;
        b.len--;
        if (ok && source_line(f->filename, f->lineno, src, sizeof src)) {
            snprintf(line, sizeof line, "    %s\n", src);
            ok = blob_add(&b, line) != SIZE_MAX;
            b.len--;
        }
    }
    LEAVE();
    if (!ok) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

/* ---- filters ------------------------------------------------------------------------ */

/* The set `[...]` starting at p (just past '['): whether c is in it, and
 * *end past its ']'.  Python's rules: '!' first negates, ']' first is a
 * member, '-' between two members is a range (an empty one, like z-a,
 * matches nothing), '-' first or last is a member; '^' is a member like
 * any other.  False with *end == NULL when no ']' closes it: then '[' is
 * an ordinary character. */
static bool set_match(const char *p, unsigned char c, const char **end) {
    bool neg = *p == '!', in = false;
    const char *q = p + neg;
    if (*q == ']')
        q++;
    while (*q && *q != ']')
        q++;
    if (!*q) {
        *end = NULL;
        return false;
    }
    *end = q + 1;
    for (const char *m = p + neg; m < q; m++) {
        unsigned char lo = (unsigned char)*m, hi = lo;
        if (m[1] == '-' && m + 2 < q) {
            hi = (unsigned char)m[2];
            m += 2;
        }
        in |= lo <= c && c <= hi;
    }
    return in != neg;
}

/* Python's fnmatch.fnmatchcase (what tracemalloc's filters use on POSIX),
 * on bytes: '*' any run (also '/'), '?' one byte, '[...]' a set (see
 * set_match); no escape character.  Greedy with one backtrack point, the
 * last '*'. */
static bool py_fnmatch(const char *pat, const char *s) {
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*pat == '*') {
            star = ++pat;
            retry = s;
            continue;
        }
        const char *next = NULL; /* the pattern after matching *s */
        if (*pat == '[') {
            const char *end;
            bool in = set_match(pat + 1, (unsigned char)*s, &end);
            if (end)
                next = in ? end : NULL;
            else if (*s == '[')
                next = pat + 1;
        } else if (*pat == '?' || (*pat && *pat == *s)) {
            next = pat + 1;
        }
        if (next) {
            pat = next;
            s++;
            continue;
        }
        if (!star)
            return false;
        pat = star;
        s = ++retry;
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static bool match_frame_impl(const rcy_filter *f, const rcy_frame *fr) {
    if (!py_fnmatch(f->filename_pattern ? f->filename_pattern : "*", fr->filename))
        return false;
    return f->lineno == 0 || fr->lineno == f->lineno;
}

/* Python's Filter._match / DomainFilter._match. */
static bool filter_match(const rcy_filter *f, const rcy_trace *t) {
    if (f->domain_only)
        return (f->domain >= 0 && t->domain == (unsigned)f->domain) == f->inclusive;
    const rcy_traceback *tb = t->traceback;
    bool res;
    if (f->all_frames) {
        bool any = false;
        for (size_t i = 0; i < tb->nframe && !any; i++)
            any = match_frame_impl(f, &tb->frames[i]);
        res = any ? f->inclusive : !f->inclusive;
    } else {
        res = match_frame_impl(f, label_frame(tb)) ^ !f->inclusive;
    }
    if (f->domain >= 0) {
        if (f->inclusive)
            return res && t->domain == (unsigned)f->domain;
        return res || t->domain != (unsigned)f->domain;
    }
    return res;
}

static bool keep_trace(const rcy_filter *fs, size_t n, const rcy_trace *t) {
    bool have_incl = false, any_incl = false;
    for (size_t i = 0; i < n; i++) {
        if (!fs[i].inclusive)
            continue;
        have_incl = true;
        if (filter_match(&fs[i], t)) {
            any_incl = true;
            break;
        }
    }
    if (have_incl && !any_incl)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!fs[i].inclusive && !filter_match(&fs[i], t))
            return false;
    return true;
}

/* A resolved copy of the tracebacks `used` (flags per tb) of s, with its
 * own strings. */
static rcy_snapshot *copy_subset(const rcy_snapshot *s, const bool *keep_trace_flags) {
    rcy_snapshot *d = rcyi_snapshot_alloc();
    if (!d)
        return NULL;
    d->traceback_limit = s->traceback_limit;
    d->counters = s->counters;
    d->resolved = true;
    size_t *map = calloc(s->ntb ? s->ntb : 1, sizeof *map); /* new index + 1 */
    size_t nt = 0, ntb = 0;
    for (size_t i = 0; i < s->ntraces; i++) {
        if (!keep_trace_flags[i])
            continue;
        nt++;
        size_t tbi = (size_t)((const rcyi_snap_tb *)(const void *)s->traces[i].traceback - s->tbs);
        if (map && !map[tbi])
            map[tbi] = ++ntb;
    }
    d->traces = malloc((nt ? nt : 1) * sizeof *d->traces);
    d->tbs = calloc(ntb ? ntb : 1, sizeof *d->tbs);
    group **gs = malloc((ntb ? ntb : 1) * sizeof *gs);
    group *g = calloc(ntb ? ntb : 1, sizeof *g);
    result r = {0};
    if (!map || !d->traces || !d->tbs || !gs || !g)
        goto fail;
    for (size_t i = 0; i < s->ntb; i++) {
        if (!map[i])
            continue;
        group *x = &g[map[i] - 1];
        x->k.frames = s->tbs[i].pub.frames;
        x->k.n = s->tbs[i].pub.nframe;
        gs[map[i] - 1] = x;
    }
    if (result_fill(&r, gs, ntb))
        goto fail;
    /* The copied frames live in r.frames; tbs own a slice each. */
    d->ntb = ntb;
    for (size_t i = 0; i < s->ntb; i++) {
        if (!map[i])
            continue;
        rcyi_snap_tb *t = &d->tbs[map[i] - 1];
        size_t nf = r.tbs[map[i] - 1].nframe;
        t->frames = malloc(nf * sizeof *t->frames);
        if (!t->frames)
            goto fail_r;
        memcpy(t->frames, r.tbs[map[i] - 1].frames, nf * sizeof *t->frames);
        t->pub.frames = t->frames;
        t->pub.nframe = nf;
        t->pub.total_nframe = s->tbs[i].pub.total_nframe;
    }
    d->strings = r.strings; /* owned: frames point into it */
    free(r.tbs);
    free(r.frames);
    nt = 0;
    for (size_t i = 0; i < s->ntraces; i++) {
        if (!keep_trace_flags[i])
            continue;
        size_t tbi = (size_t)((const rcyi_snap_tb *)(const void *)s->traces[i].traceback - s->tbs);
        d->traces[nt] = s->traces[i];
        d->traces[nt].traceback = &d->tbs[map[tbi] - 1].pub;
        nt++;
    }
    d->ntraces = nt;
    free(map);
    free(gs);
    free(g);
    return d;
fail_r:
    d->ntb = ntb;
    d->strings = r.strings;
    free(r.tbs);
    free(r.frames);
fail:
    free(map);
    free(gs);
    free(g);
    rcy_snapshot_free(d);
    return NULL;
}

rcy_snapshot *rcy_snapshot_filter_traces(const rcy_snapshot *s, const rcy_filter *filters,
                                         size_t n) {
    if (!s || (n && !filters))
        return NULL;
    ENTER();
    rcy_snapshot *d = NULL;
    bool *keep = NULL;
    if (rcyi_snapshot_resolve(s))
        goto out;
    keep = malloc((s->ntraces ? s->ntraces : 1) * sizeof *keep);
    if (!keep)
        goto out;
    for (size_t i = 0; i < s->ntraces; i++)
        keep[i] = keep_trace(filters, n, &s->traces[i]);
    d = copy_subset(s, keep);
out:
    free(keep);
    LEAVE();
    return d;
}

/* ---- extra sections: timeline, counters, info, peak ----------------------------------- */

int rcy_snapshot_set_timeline(rcy_snapshot *s, const rcy_sample *samples, size_t n) {
    if (!s || (n && !samples) || n > SIZE_MAX / sizeof *samples)
        return RCY_EINVAL;
    ENTER();
    rcy_sample *c = NULL;
    if (n) {
        c = malloc(n * sizeof *c);
        if (!c) {
            LEAVE();
            return RCY_ENOMEM;
        }
        memcpy(c, samples, n * sizeof *c);
    }
    free(s->timeline);
    s->timeline = c;
    s->ntimeline = n;
    LEAVE();
    return RCY_OK;
}

const rcy_sample *rcy_snapshot_timeline(const rcy_snapshot *s, size_t *n) {
    if (n)
        *n = s ? s->ntimeline : 0;
    return s ? s->timeline : NULL;
}

const rcy_tracemalloc_counters *rcy_snapshot_counters(const rcy_snapshot *s) {
    return s ? &s->counters : NULL;
}

int rcy_snapshot_set_info(rcy_snapshot *s, const char *key, const char *value) {
    if (!s || !key)
        return RCY_EINVAL;
    ENTER();
    int rc = RCY_OK;
    size_t i;
    for (i = 0; i < s->ninfo; i++)
        if (strcmp(s->info[i].key, key) == 0)
            break;
    if (!value) { /* remove */
        if (i < s->ninfo) {
            free(s->info[i].key);
            free(s->info[i].value);
            s->info[i] = s->info[--s->ninfo];
        }
        goto out;
    }
    char *v = strdup(value);
    if (!v) {
        rc = RCY_ENOMEM;
        goto out;
    }
    if (i < s->ninfo) {
        free(s->info[i].value);
        s->info[i].value = v;
        goto out;
    }
    char *k = strdup(key);
    rcyi_info *ni = realloc(s->info, (s->ninfo + 1) * sizeof *ni);
    if (!k || !ni) {
        free(k);
        free(v);
        if (ni)
            s->info = ni;
        rc = RCY_ENOMEM;
        goto out;
    }
    s->info = ni;
    s->info[s->ninfo].key = k;
    s->info[s->ninfo].value = v;
    s->ninfo++;
out:
    LEAVE();
    return rc;
}

const char *rcy_snapshot_get_info(const rcy_snapshot *s, const char *key) {
    if (!s || !key)
        return NULL;
    for (size_t i = 0; i < s->ninfo; i++)
        if (strcmp(s->info[i].key, key) == 0)
            return s->info[i].value;
    return NULL;
}

const rcy_snapshot *rcy_snapshot_at_peak(const rcy_snapshot *s) {
    return s ? s->peak : NULL;
}
