/* src/snapfilter.c — filters on snapshots (Python's Filter and
 * DomainFilter, with fnmatch on file names): rcy_snapshot_filter_traces
 * and rcy_snapshot_select (any predicate) give a new snapshot holding the
 * kept traces, with copies of their tracebacks and strings.
 */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

#define ENTER() int busy_prev_ = rcyi_tm_enter()
#define LEAVE() rcyi_tm_exit(busy_prev_)

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
        res = match_frame_impl(f, rcyi_label_frame(tb)) ^ !f->inclusive;
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

/* A resolved copy of the traces of s that keep_trace_flags keeps, with
 * their tracebacks and strings of its own. */
static rcy_snapshot *copy_subset(const rcy_snapshot *s, const bool *keep_trace_flags) {
    rcy_snapshot *d = rcyi_snapshot_alloc();
    if (!d)
        return NULL;
    rcyi_snapshot_set_meta(d, s->traceback_limit, &s->counters);
    rcyi_snapshot_set_resolved(d, true);
    size_t *map = calloc(s->ntb ? s->ntb : 1, sizeof *map); /* new index + 1 */
    size_t nt = 0, ntb = 0;
    for (size_t i = 0; i < s->ntraces; i++) {
        if (!keep_trace_flags[i])
            continue;
        nt++;
        size_t tbi = rcyi_snapshot_tb_index(s, &s->traces[i]);
        if (map && !map[tbi])
            map[tbi] = ++ntb;
    }
    rcy_trace *traces = rcyi_snapshot_new_traces(d, nt);
    rcyi_snap_tb *tbs = rcyi_snapshot_new_tracebacks(d, ntb, 0, NULL);
    const rcy_traceback **src = malloc((ntb ? ntb : 1) * sizeof *src);
    rcyi_result r = {0};
    if (!map || !traces || !tbs || !src)
        goto fail;
    for (size_t i = 0; i < s->ntb; i++)
        if (map[i])
            src[map[i] - 1] = &s->tbs[i].pub;
    if (rcyi_result_fill_tracebacks(&r, src, ntb))
        goto fail;
    rcyi_snapshot_adopt_strings(d, r.strings); /* the copied frames point into it */
    for (size_t i = 0; i < ntb; i++) {
        /* each traceback owns a slice of the copied frames */
        size_t nf = r.tbs[i].nframe;
        tbs[i].frames = malloc(nf * sizeof *tbs[i].frames);
        if (!tbs[i].frames)
            goto fail;
        memcpy(tbs[i].frames, r.tbs[i].frames, nf * sizeof *tbs[i].frames);
        tbs[i].pub.frames = tbs[i].frames;
        tbs[i].pub.nframe = nf;
        tbs[i].pub.total_nframe = src[i]->total_nframe;
    }
    nt = 0;
    for (size_t i = 0; i < s->ntraces; i++) {
        if (!keep_trace_flags[i])
            continue;
        traces[nt] = s->traces[i];
        traces[nt].traceback = &tbs[map[rcyi_snapshot_tb_index(s, &s->traces[i])] - 1].pub;
        nt++;
    }
    free(r.tbs);
    free(r.frames);
    free(map);
    free(src);
    return d;
fail:
    free(r.tbs);
    free(r.frames);
    free(map);
    free(src);
    rcy_snapshot_free(d);
    return NULL;
}

typedef struct filter_set {
    const rcy_filter *filters;
    size_t n;
} filter_set;

static bool keep_filtered(const rcy_trace *t, void *arg) {
    const filter_set *f = arg;
    return keep_trace(f->filters, f->n, t);
}

rcy_snapshot *rcy_snapshot_filter_traces(const rcy_snapshot *s, const rcy_filter *filters,
                                         size_t n) {
    if (n && !filters)
        return NULL;
    filter_set f = {filters, n};
    return rcy_snapshot_select(s, keep_filtered, &f);
}

rcy_snapshot *rcy_snapshot_select(const rcy_snapshot *s,
                                  bool (*keep_fn)(const rcy_trace *t, void *arg), void *arg) {
    if (!s || !keep_fn)
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
        keep[i] = keep_fn(&s->traces[i], arg);
    d = copy_subset(s, keep);
out:
    free(keep);
    LEAVE();
    return d;
}
