/* src/snapshot.c — the snapshot object: construction from the engine's
 * raw traces, the setters through which the engine and the file reader
 * fill one, resolution of native frames, and the extra sections
 * (timeline, counters, info, peak).  Its fields and invariants (S1..S6)
 * are in snapshot.h; what is computed from a snapshot lives apart, as in
 * Python's tracemalloc.py: statistics and diffs (snapstats.c), filters
 * (snapfilter.c), text (snapformat.c), files (snapfile.c).
 *
 * A snapshot holds its traces and one entry per distinct traceback.
 * Native frames stay raw addresses until the snapshot is first read; then
 * they are symbolized once (rcyi_snapshot_resolve).
 *
 * Every public function here runs with the thread's tracer-busy flag set:
 * the memory it mallocs is never traced, even under the preload library.
 */
#include "snapshot.h"
#include "frames.h"

#include <stdlib.h>
#include <string.h>

#define ENTER() int busy_prev_ = rcyi_tm_enter()
#define LEAVE() rcyi_tm_exit(busy_prev_)

const char rcyi_unknown_file[] = "?";

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

void rcyi_snapshot_set_leak_classes(rcy_snapshot *s, const unsigned char *classes, size_t n) {
    for (size_t i = 0; i < n && i < s->ntraces; i++)
        s->traces[i].leak = classes[i] <= RCY_LEAK_REACHABLE ? classes[i] : RCY_LEAK_UNKNOWN;
}

void rcyi_snapshot_use_tracebacks(rcy_snapshot *s, size_t n) {
    s->ntb = n;
}

rcy_trace *rcyi_snapshot_new_traces(rcy_snapshot *s, size_t n) {
    s->traces = calloc(n ? n : 1, sizeof *s->traces); /* leak: RCY_LEAK_UNKNOWN */
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

void rcyi_snapshot_adopt_strings(rcy_snapshot *s, char *strings) {
    s->strings = strings;
}

void rcyi_snapshot_set_modules(rcy_snapshot *s, rcyi_modset *m) {
    s->modules = m;
    s->modules_borrowed = false;
}

void rcyi_snapshot_set_resolved(rcy_snapshot *s, bool resolved) {
    s->resolved = resolved;
}

void rcyi_snapshot_set_site_counters(rcy_snapshot *s, bool known) {
    s->site_counters = known;
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
        t->allocs = tbs[i]->allocs;
        t->allocated = tbs[i]->allocated;
        t->temporary = tbs[i]->temporary;
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
    /* Script frames an interpreter supplied come first (only this
     * process's snapshots have them: a loaded file's words are addresses). */
    const rcyi_sframe *sf;
    for (; npcs && !mods && (sf = rcyi_sframe_of(pcs[0])) != NULL; pcs++, npcs--)
        if (k < cap)
            f[k++] =
                (rcy_frame){sf->file ? sf->file : rcyi_unknown_file, sf->line, sf->func, 0, NULL};
    rcyi_symbol sym[RCYI_TM_SLACK + 2];
    size_t nsym = 0;
    if (site_file && k < cap) {
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
        f[k++] =
            (rcy_frame){s.file ? s.file : rcyi_unknown_file, s.line, s.function, pcs[i], s.object};
        for (const rcyi_symbol *in = s.inlined_into; in; in = in->inlined_into) {
            extra++;
            if (k < cap)
                f[k++] = (rcy_frame){in->file, in->line, in->function, pcs[i], in->object};
        }
    }
    /* total counts the script's frames and the native ones. */
    size_t tot = (site_file ? 1 : 0) + (total > drop ? total - drop : 0) + extra;
    if (k == 0) {
        f[k++] = (rcy_frame){rcyi_unknown_file, 0, NULL, 0, NULL};
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

void rcy_snapshot_totals(const rcy_snapshot *s, size_t *size, size_t *count) {
    size_t sz = 0, c = 0;
    for (size_t i = 0; s && i < s->ntraces; i++) {
        sz = rcyi_sat_add(sz, s->traces[i].size);
        c = rcyi_sat_add(c, s->traces[i].count);
    }
    if (size)
        *size = sz;
    if (count)
        *count = c;
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

bool rcy_snapshot_module(const rcy_snapshot *s, size_t i, rcy_module_info *out) {
    if (!s || !out || !s->modules || i >= s->modules->n)
        return false;
    const rcyi_module *m = &s->modules->mods[i];
    *out = (rcy_module_info){m->path, m->build_id, m->lo, m->hi};
    return true;
}
