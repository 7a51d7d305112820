/* src/snapstats.c — statistics and diffs of snapshots: traces grouped by
 * line, file or traceback (Python's Snapshot.statistics and compare_to),
 * sorted as Python sorts them.  Results copy every frame and string they
 * show into one block of their own, so they outlive their snapshot.
 */
#include "snapshot.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define ENTER() int busy_prev_ = rcyi_tm_enter()
#define LEAVE() rcyi_tm_exit(busy_prev_)

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
    return strcmp(a->filename, rcyi_unknown_file) != 0 || a->address == b->address;
}

static uint64_t frame_hash(const rcy_frame *f, bool file_only) {
    uint64_t h = rcyi_hash_str(f->filename);
    if (!file_only) {
        h = rcyi_hash_step(h, f->lineno);
        if (strcmp(f->filename, rcyi_unknown_file) == 0)
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
 * with line 0).  total is not part of the key: for a whole traceback, the
 * most frames any of its stacks had (> n: older frames were not kept). */
typedef struct key {
    const rcy_frame *frames;
    size_t n, total;
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
    uint64_t allocs, allocated, temporary; /* column 0's call site counters */
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
    for (; t->idx[j]; j = (j + 1) & (t->icap - 1)) {
        group *g = &t->g[t->idx[j] - 1];
        if (key_eq(&g->k, k)) {
            if (k->total > g->k.total)
                g->k.total = k->total;
            return g;
        }
    }
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
                k.total = tb->total_nframe;
            } else {
                k.frames = &tb->frames[f];
                k.n = k.total = 1;
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
            g->size[col] = rcyi_sat_add(g->size[col], s->traces[i].size);
            g->count[col] = rcyi_sat_add(g->count[col], s->traces[i].count);
        }
    }
    for (size_t i = 0; col == 0 && s->site_counters && i < s->ntb; i++) {
        const rcyi_snap_tb *tb = &s->tbs[i];
        for (size_t d = first[i]; d < first[i + 1]; d++) {
            group *g = &t->g[(size_t)(uintptr_t)lists[d]];
            g->allocs = rcyi_sat_add(g->allocs, tb->allocs);
            g->allocated = rcyi_sat_add(g->allocated, tb->allocated);
            g->temporary = rcyi_sat_add(g->temporary, tb->temporary);
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

size_t rcyi_blob_add(rcyi_blob *b, const char *s) {
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
typedef rcyi_result result;

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
    rcyi_blob b = {0};
    if (!r->tbs || !r->frames || !off)
        goto oom;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const gkey *ky = &gs[i]->k;
        r->tbs[i].frames = &r->frames[k];
        r->tbs[i].nframe = ky->n;
        r->tbs[i].total_nframe = ky->total > ky->n ? ky->total : ky->n;
        for (size_t f = 0; f < ky->n; f++, k++) {
            const rcy_frame *src = &ky->frames[f];
            r->frames[k] = *src;
            if (ky->file_only) {
                r->frames[k].lineno = 0;
                r->frames[k].function = NULL;
                r->frames[k].address = 0;
                r->frames[k].object = NULL;
            }
            off[3 * k] = rcyi_blob_add(&b, r->frames[k].filename);
            off[3 * k + 1] =
                r->frames[k].function ? rcyi_blob_add(&b, r->frames[k].function) : SIZE_MAX - 1;
            off[3 * k + 2] =
                r->frames[k].object ? rcyi_blob_add(&b, r->frames[k].object) : SIZE_MAX - 1;
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

void rcyi_result_free(rcyi_result *r) {
    free(r->tbs);
    free(r->frames);
    free(r->strings);
}

/* Copies of tracebacks tbs[0..n) (their frames and strings) into r. */
int rcyi_result_fill_tracebacks(rcyi_result *r, const rcy_traceback *const *tbs, size_t n) {
    group **gs = malloc((n ? n : 1) * sizeof *gs);
    group *g = calloc(n ? n : 1, sizeof *g);
    int rc = gs && g ? RCY_OK : RCY_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        g[i].k.frames = tbs[i]->frames;
        g[i].k.n = tbs[i]->nframe;
        gs[i] = &g[i];
    }
    if (!rc)
        rc = result_fill(r, gs, n);
    free(gs);
    free(g);
    return rc;
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

/* One counter first, then Python's order. */
#define COUNTER_CMP(name, field)                                                                   \
    static int name(const void *pa, const void *pb) {                                              \
        const rcy_statistic *a = pa, *b = pb;                                                      \
        if (a->field != b->field)                                                                  \
            return a->field > b->field ? -1 : 1;                                                   \
        return stat_cmp(pa, pb);                                                                   \
    }
COUNTER_CMP(allocs_cmp, allocations)
COUNTER_CMP(allocated_cmp, allocated)
COUNTER_CMP(temporary_cmp, temporary)

bool rcy_snapshot_has_site_counters(const rcy_snapshot *s) {
    return s && s->site_counters;
}

rcy_stats *rcy_snapshot_statistics(const rcy_snapshot *s, rcy_key_type key, bool cumulative) {
    return rcy_snapshot_statistics_by(s, key, cumulative, RCY_ORDER_SIZE);
}

rcy_stats *rcy_snapshot_statistics_by(const rcy_snapshot *s, rcy_key_type key, bool cumulative,
                                      rcy_stat_order order) {
    static int (*const cmps[])(const void *, const void *) = {stat_cmp, allocs_cmp, allocated_cmp,
                                                              temporary_cmp};
    if (!s || (unsigned)key > RCY_KEY_TRACEBACK || (cumulative && key == RCY_KEY_TRACEBACK) ||
        (unsigned)order > RCY_ORDER_TEMPORARY || (order != RCY_ORDER_SIZE && !s->site_counters))
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
        if (t.g[i].count[0] || (order != RCY_ORDER_SIZE && t.g[i].allocs))
            gs[n++] = &t.g[i];
    rcy_statistic *items = calloc(n ? n : 1, sizeof *items);
    if (!items || result_fill(&st->r, gs, n)) {
        free(items);
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = (rcy_statistic){&st->r.tbs[i], gs[i]->size[0],   gs[i]->count[0],
                                   gs[i]->allocs, gs[i]->allocated, gs[i]->temporary};
    qsort(items, n, sizeof *items, cmps[order]);
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
    rcyi_result_free(&st->r);
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
        items[i] =
            (rcy_statistic_diff){&d->r.tbs[i], g->size[0], rcyi_sat_diff(g->size[0], g->size[1]),
                                 g->count[0], rcyi_sat_diff(g->count[0], g->count[1])};
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
    rcyi_result_free(&d->r);
    free(d);
    LEAVE();
}
