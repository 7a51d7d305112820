/* src/snapformat.c — the text formats of tracemalloc's results: sizes as
 * Python's _format_size, a statistic or diff line, and a traceback with
 * its source lines (Python's Traceback.format).
 */
#include "snapshot.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTER() int busy_prev_ = rcyi_tm_enter()
#define LEAVE() rcyi_tm_exit(busy_prev_)

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
const rcy_frame *rcyi_label_frame(const rcy_traceback *tb) {
    static const rcy_frame unknown = {rcyi_unknown_file, 0, NULL, 0, NULL};
    return tb && tb->nframe ? &tb->frames[0] : &unknown;
}

/* "file:line", or the function when the file is unknown (a native frame
 * without line information): "?:0" only when nothing is known. */
static const char *frame_label(const rcy_frame *f, char *buf, size_t len) {
    if (f->function && (!f->filename || strcmp(f->filename, rcyi_unknown_file) == 0))
        snprintf(buf, len, "%s", f->function);
    else
        snprintf(buf, len, "%s:%u", f->filename ? f->filename : rcyi_unknown_file, f->lineno);
    return buf;
}

int rcy_statistic_format(const rcy_statistic *st, char *buf, size_t len) {
    if (!st)
        return -1;
    char lab[600];
    frame_label(rcyi_label_frame(st->traceback), lab, sizeof lab);
    char sz[64], avg[64];
    format_size_d((double)st->size, false, sz, sizeof sz);
    if (!st->count)
        return snprintf(buf, len, "%s: size=%s, count=%zu", lab, sz, st->count);
    format_size_d((double)st->size / (double)st->count, false, avg, sizeof avg);
    return snprintf(buf, len, "%s: size=%s, count=%zu, average=%s", lab, sz, st->count, avg);
}

int rcy_statistic_format_counters(const rcy_statistic *st, char *buf, size_t len) {
    if (!st)
        return -1;
    char lab[600];
    frame_label(rcyi_label_frame(st->traceback), lab, sizeof lab);
    char al[64], sz[64];
    format_size_d((double)st->allocated, false, al, sizeof al);
    format_size_d((double)st->size, false, sz, sizeof sz);
    return snprintf(buf, len,
                    "%s: allocations=%" PRIu64 ", allocated=%s, temporary=%" PRIu64
                    ", size=%s, count=%zu",
                    lab, st->allocations, al, st->temporary, sz, st->count);
}

int rcy_statistic_diff_format(const rcy_statistic_diff *d, char *buf, size_t len) {
    if (!d)
        return -1;
    char lab[600];
    frame_label(rcyi_label_frame(d->traceback), lab, sizeof lab);
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
    if (!lineno || !path || strcmp(path, rcyi_unknown_file) == 0)
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
    rcyi_blob b = {0};
    bool ok = rcyi_blob_add(&b, "") != SIZE_MAX;
    b.len = 0;
    for (size_t k = 0; ok && k < hi - lo; k++) {
        /* oldest first unless most_recent_first */
        const rcy_frame *f = most_recent_first ? &tb->frames[lo + k] : &tb->frames[hi - 1 - k];
        char line[1024], src[512];
        if (f->function && strcmp(f->filename, rcyi_unknown_file) == 0)
            snprintf(line, sizeof line, "  in %.900s\n", f->function); /* no line information */
        else
            snprintf(line, sizeof line, "  File \"%s\", line %u\n", f->filename, f->lineno);
        ok = rcyi_blob_add(&b, line) != SIZE_MAX;
        b.len--;
        if (ok && source_line(f->filename, f->lineno, src, sizeof src)) {
            snprintf(line, sizeof line, "    %s\n", src);
            ok = rcyi_blob_add(&b, line) != SIZE_MAX;
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
