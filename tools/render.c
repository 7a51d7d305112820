/* tools/render.c — the report model (cli_report) rendered as an mprof-style
 * SVG timeline, as the JSON data block of the HTML report, and as the whole
 * HTML page (the bundled template from tools/html with the data filled in).
 * Nothing here touches a snapshot: the commands build the model, which the
 * unit tests can also build by hand. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the model ---------------------------------------------------- */

const char *const cli_metric_names[CLI_NMETRICS] = {"peak_bytes",  "peak_blocks", "allocations",
                                                    "allocated",   "temporary",   "exit_bytes",
                                                    "exit_blocks", "lost_bytes",  "lost_blocks"};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static bool frames_grow(cli_frames *f) {
    size_t nslot = f->nslot ? f->nslot * 2 : 256;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return false;
    for (size_t i = 0; i < f->n; i++) {
        size_t j = (size_t)hash_str(f->label[i]) & (nslot - 1);
        while (slot[j])
            j = (j + 1) & (nslot - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(f->slot);
    f->slot = slot;
    f->nslot = nslot;
    return true;
}

uint32_t cli_frame_id(cli_frames *f, const char *label, const char *func) {
    if ((f->n + 1) * 2 > f->nslot && (f->n >= UINT32_MAX - 1 || !frames_grow(f)))
        return UINT32_MAX;
    size_t j = (size_t)hash_str(label) & (f->nslot - 1);
    for (; f->slot[j]; j = (j + 1) & (f->nslot - 1))
        if (strcmp(f->label[f->slot[j] - 1], label) == 0)
            return f->slot[j] - 1;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        char **l = realloc(f->label, cap * sizeof *l);
        if (!l)
            return UINT32_MAX;
        f->label = l;
        char **fn = realloc(f->func, cap * sizeof *fn);
        if (!fn)
            return UINT32_MAX;
        f->func = fn;
        f->cap = cap;
    }
    char *lc = strdup(label), *fc = strdup(func ? func : label);
    if (!lc || !fc) {
        free(lc);
        free(fc);
        return UINT32_MAX;
    }
    f->label[f->n] = lc;
    f->func[f->n] = fc;
    f->slot[j] = (uint32_t)f->n + 1;
    return (uint32_t)f->n++;
}

static void frames_free(cli_frames *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->label[i]);
        free(f->func[i]);
    }
    free(f->label);
    free(f->func);
    free(f->slot);
}

cli_flame *cli_flame_new(uint32_t frame) {
    cli_flame *f = calloc(1, sizeof *f);
    if (f)
        f->frame = frame;
    return f;
}

cli_flame *cli_flame_child(cli_flame *parent, uint32_t frame) {
    cli_flame **link = &parent->children;
    for (cli_flame *c = parent->children; c; link = &c->next, c = c->next) {
        if (c->frame == frame) {
            /* Move to the front: stacks sharing a prefix come in runs. */
            *link = c->next;
            c->next = parent->children;
            parent->children = c;
            return c;
        }
    }
    cli_flame *c = cli_flame_new(frame);
    if (!c)
        return NULL;
    c->parent = parent;
    c->next = parent->children;
    parent->children = c;
    return c;
}

void cli_flame_add_value(cli_flame *node, cli_metric m, uint64_t value) {
    for (; node; node = node->parent)
        if (__builtin_add_overflow(node->v[m], value, &node->v[m]))
            node->v[m] = UINT64_MAX;
}

void cli_flame_free(cli_flame *f) {
    /* No recursion: a file may hold a stack of a million frames.  Seen as
     * a binary tree (children left, next right), rotate the left child up
     * until there is none, then free the node and go right. */
    while (f) {
        cli_flame *c = f->children;
        if (c) {
            f->children = c->next;
            c->next = f;
            f = c;
            continue;
        }
        cli_flame *next = f->next;
        free(f);
        f = next;
    }
}

static void rows_free(cli_row *rows, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(rows[i].where);
        free(rows[i].text);
    }
    free(rows);
}

void cli_report_clear(cli_report *r) {
    free(r->title);
    for (size_t i = 0; i < r->nsummary; i++) {
        free(r->summary[i][0]);
        free(r->summary[i][1]);
    }
    cli_flame_free(r->flame);
    frames_free(&r->frames);
    for (size_t i = 0; i < r->ntables; i++)
        rows_free(r->tables[i].rows, r->tables[i].nrows);
    memset(r, 0, sizeof *r);
}

/* ---- text helpers ------------------------------------------------- */

static void xml_text(FILE *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, out);
        }
    }
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s) {
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

void cli_json_string(FILE *out, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    fputc('"', out);
    while (*s) {
        unsigned char ch = *s;
        if (ch == '"' || ch == '\\') {
            fputc('\\', out);
            fputc(ch, out);
            s++;
        } else if (ch == '<' || ch == '>' || ch == '&' || ch < 0x20) {
            fprintf(out, "\\u%04x", ch);
            s++;
        } else if (ch < 0x80) {
            fputc(ch, out);
            s++;
        } else {
            size_t n = utf8_len(s);
            if (n == 0) {
                fputs("\\ufffd", out); /* not UTF-8: keep the JSON valid */
                s++;
            } else {
                fwrite(s, 1, n, out);
                s += n;
            }
        }
    }
    fputc('"', out);
}

/* ---- downsampling --------------------------------------------------- */

/* Indices of at most ~max samples that keep the shape: the first, the
 * last, and in each bucket the lowest and highest `current`. */
static size_t pick_samples(const rcy_sample *s, size_t n, size_t max, size_t *idx) {
    if (n <= max) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        return n;
    }
    size_t buckets = max / 2, k = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = b * n / buckets, hi = (b + 1) * n / buckets;
        if (hi <= lo)
            continue;
        size_t imin = lo, imax = lo;
        for (size_t i = lo; i < hi; i++) {
            if (s[i].current < s[imin].current)
                imin = i;
            if (s[i].current > s[imax].current)
                imax = i;
        }
        size_t a = imin < imax ? imin : imax, c = imin < imax ? imax : imin;
        idx[k++] = a;
        if (c != a)
            idx[k++] = c;
    }
    if (idx[k - 1] != n - 1)
        idx[k++] = n - 1;
    return k;
}

/* ---- SVG ---------------------------------------------------------- */

static double nice_step(double range, int ticks) {
    double raw = range / ticks;
    if (raw <= 0)
        return 1;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return step * mag;
}

/* The page and the plot area inside it, in SVG user units (pixels). */
enum { SVG_W = 960, SVG_H = 480, SVG_ML = 90, SVG_MR = 30, SVG_MT = 50, SVG_MB = 60 };
#define SVG_PW ((double)(SVG_W - SVG_ML - SVG_MR))
#define SVG_PH ((double)(SVG_H - SVG_MT - SVG_MB))
/* Text sizes: a glyph of the sans-serif font is at most ~0.6 em wide on
 * average, so a text of n characters at size s needs about 0.6 * s * n. */
#define SVG_TITLE_SIZE  15
#define SVG_LABEL_SIZE  12
#define SVG_CHAR_WIDTH  0.6
#define SVG_TITLE_CHARS ((int)((SVG_W - 20) / (SVG_CHAR_WIDTH * SVG_TITLE_SIZE)))

/* The chart's scales, chosen once from the data: the axis, the curves and
 * every note use the same unit. */
typedef struct svg_chart {
    double ttop, tstep; /* the x axis: 0 .. ttop seconds */
    double ytop, ystep; /* the y axis: 0 .. ytop, in `unit` */
    double scale;       /* bytes per `unit` */
    const char *unit;   /* "B", "KiB", "MiB" or "GiB" */
    bool rss;           /* the samples have the resident set */
    size_t *idx, nidx;  /* the samples drawn (downsampled) */
} svg_chart;

static double svg_x(const svg_chart *c, double t) {
    return SVG_ML + t / c->ttop * SVG_PW;
}

static double svg_y(const svg_chart *c, double bytes) {
    return SVG_MT + SVG_PH - bytes / c->scale / c->ytop * SVG_PH;
}

/* Phase 1: ranges and unit (the largest value decides), and the samples
 * to draw.  -1 on out of memory. */
static int svg_scale(const cli_report *r, svg_chart *c) {
    double tmax = 0, ymax = 0;
    c->rss = false;
    for (size_t i = 0; i < r->nsamples; i++) {
        const rcy_sample *s = &r->samples[i];
        tmax = fmax(tmax, (double)s->time_ns / 1e9);
        ymax = fmax(ymax, fmax((double)s->current, (double)s->rss));
        c->rss = c->rss || s->rss;
    }
    if (r->have_peak) {
        ymax = fmax(ymax, (double)r->peak);
        tmax = fmax(tmax, r->peak_t);
    }
    if (tmax <= 0)
        tmax = 1;
    static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
    int u = 0;
    c->scale = 1;
    while (u < 3 && ymax / c->scale >= 1024) {
        c->scale *= 1024;
        u++;
    }
    c->unit = units[u];
    c->ystep = nice_step(ymax / c->scale > 0 ? ymax / c->scale * 1.08 : 1, 6);
    c->ytop = ceil((ymax / c->scale * 1.08) / c->ystep) * c->ystep;
    if (c->ytop <= 0)
        c->ytop = c->ystep;
    c->tstep = nice_step(tmax, 8);
    c->ttop = ceil(tmax / c->tstep) * c->tstep;
    c->idx = NULL;
    c->nidx = 0;
    if (r->nsamples) {
        c->idx = malloc((r->nsamples < 4000 ? r->nsamples : 4000) * sizeof *c->idx + 16);
        if (!c->idx)
            return -1;
        c->nidx = pick_samples(r->samples, r->nsamples, 4000, c->idx);
    }
    return 0;
}

/* A size in the chart's unit, the way the axis counts: "25.0 MiB". */
static void svg_size(const svg_chart *c, uint64_t bytes, char *buf, size_t len) {
    double v = (double)bytes / c->scale;
    if (v >= 100 || c->scale == 1)
        snprintf(buf, len, "%.0f %s", v, c->unit);
    else if (v >= 1 || v == 0)
        snprintf(buf, len, "%.1f %s", v, c->unit);
    else
        snprintf(buf, len, "%.2g %s", v, c->unit);
}

/* The title, shortened in the middle with an ellipsis when it would not
 * fit the width (a long command line keeps its start and its end); the
 * whole of it in the SVG's <title>.  Counts characters, not bytes. */
static void svg_title(FILE *out, const char *title) {
    size_t chars = 0, len = strlen(title);
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)title[i] & 0xc0) != 0x80;
    fputs("<title>", out);
    xml_text(out, title);
    fprintf(out,
            "</title>\n<text class=\"title\" x=\"%d\" y=\"24\" text-anchor=\"middle\" "
            "font-size=\"%d\">",
            SVG_W / 2, SVG_TITLE_SIZE);
    if (chars <= (size_t)SVG_TITLE_CHARS) {
        xml_text(out, title);
    } else {
        /* keep `head` characters, "…", and the last `tail` */
        size_t head = (size_t)SVG_TITLE_CHARS * 3 / 5, tail = (size_t)SVG_TITLE_CHARS - 1 - head;
        size_t a = 0, n = 0;
        for (; a < len && (n < head || ((unsigned char)title[a] & 0xc0) == 0x80); a++)
            n += ((unsigned char)title[a] & 0xc0) != 0x80;
        size_t b = len;
        for (n = 0; b > a && n < tail;)
            n += ((unsigned char)title[--b] & 0xc0) != 0x80;
        char *cut = strndup(title, a);
        if (cut) {
            xml_text(out, cut);
            fputs("\xe2\x80\xa6", out);
            xml_text(out, title + b);
            free(cut);
        }
    }
    fputs("</text>\n", out);
}

/* Phase 2: the page, the title, the grid, the axes and their labels. */
static void svg_axes(FILE *out, const cli_report *r, const svg_chart *c) {
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"%d\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            SVG_W, SVG_H, SVG_W, SVG_H, SVG_LABEL_SIZE);
    svg_title(out, r->title ? r->title : "recycle: traced memory");
    fputs("<g stroke=\"#e5e5e5\">\n", out);
    for (double v = 0; v <= c->ytop + c->ystep / 2; v += c->ystep)
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>\n", SVG_ML,
                SVG_W - SVG_MR, svg_y(c, v * c->scale), svg_y(c, v * c->scale));
    for (double t = 0; t <= c->ttop + c->tstep / 2; t += c->tstep)
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>\n", svg_x(c, t),
                svg_x(c, t), SVG_MT, SVG_H - SVG_MB);
    fputs("</g>\n<g fill=\"#333\">\n", out);
    for (double v = 0; v <= c->ytop + c->ystep / 2; v += c->ystep)
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", SVG_ML - 8,
                svg_y(c, v * c->scale) + 4, v);
    for (double t = 0; t <= c->ttop + c->tstep / 2; t += c->tstep)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", svg_x(c, t),
                SVG_H - SVG_MB + 18, t);
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (s)</text>\n"
            "<text class=\"y-label\" transform=\"translate(22 %d) rotate(-90)\" "
            "text-anchor=\"middle\">%s (%s)</text>\n</g>\n",
            SVG_ML + (int)SVG_PW / 2, SVG_H - 14, SVG_MT + (int)SVG_PH / 2,
            c->rss ? "memory" : "traced memory", c->unit);
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#555\"/>\n",
            SVG_ML, SVG_MT, (int)SVG_PW, (int)SVG_PH);
}

static uint64_t sample_current(const rcy_sample *s) {
    return s->current;
}

static uint64_t sample_rss(const rcy_sample *s) {
    return s->rss;
}

static void svg_polyline(FILE *out, const cli_report *r, const svg_chart *c, const char *cls,
                         const char *colour, uint64_t (*value)(const rcy_sample *)) {
    fprintf(out,
            "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
            cls, colour);
    for (size_t i = 0; i < c->nidx; i++) {
        const rcy_sample *s = &r->samples[c->idx[i]];
        fprintf(out, "%s%.1f,%.1f", i ? " " : "", svg_x(c, (double)s->time_ns / 1e9),
                svg_y(c, (double)value(s)));
    }
    fputs("\"/>\n", out);
}

/* Phase 3: the curves; RSS, the larger, first, under the traced line. */
static void svg_curves(FILE *out, const cli_report *r, const svg_chart *c) {
    if (r->nsamples == 0) {
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#888\">no timeline samples "
                "in this file</text>\n",
                SVG_ML + (int)SVG_PW / 2, SVG_MT + (int)SVG_PH / 2);
        return;
    }
    if (c->rss)
        svg_polyline(out, r, c, "rss", "#2ca02c", sample_rss);
    svg_polyline(out, r, c, "current", "#1f77b4", sample_current);
}

typedef struct svg_box {
    double x0, y0, x1, y1;
} svg_box;

/* Does the segment (x0,y0)-(x1,y1) touch the box?  (Liang-Barsky.) */
static bool segment_hits_box(double x0, double y0, double x1, double y1, const svg_box *b) {
    double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {x0 - b->x0, b->x1 - x0, y0 - b->y0, b->y1 - y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0)
                return false;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0)
            t0 = fmax(t0, t);
        else
            t1 = fmin(t1, t);
        if (t0 > t1)
            return false;
    }
    return true;
}

/* How many segments of the drawn curves (and the peak's dashed line) the
 * box touches. */
static size_t box_collisions(const cli_report *r, const svg_chart *c, const svg_box *b,
                             double peak_y) {
    size_t hits = segment_hits_box(SVG_ML, peak_y, SVG_W - SVG_MR, peak_y, b);
    for (int curve = 0; curve < (c->rss ? 2 : 1); curve++) {
        uint64_t (*value)(const rcy_sample *) = curve ? sample_rss : sample_current;
        for (size_t i = 0; i + 1 < c->nidx || (i == 0 && c->nidx == 1); i++) {
            const rcy_sample *s = &r->samples[c->idx[i]];
            const rcy_sample *e = &r->samples[c->idx[c->nidx > 1 ? i + 1 : i]];
            hits +=
                segment_hits_box(svg_x(c, (double)s->time_ns / 1e9), svg_y(c, (double)value(s)),
                                 svg_x(c, (double)e->time_ns / 1e9), svg_y(c, (double)value(e)), b);
        }
    }
    return hits;
}

/* Where the peak's note goes: beside the point on the side with room
 * (above or below, right or left), else in a corner of the plot; the
 * first place inside the plot that touches no curve, else the one that
 * touches the fewest. */
static void place_peak_label(const cli_report *r, const svg_chart *c, double px, double py,
                             size_t chars, double *x, double *y, bool *end) {
    double w = SVG_CHAR_WIDTH * SVG_LABEL_SIZE * (double)chars, pad = 3;
    bool left_first = px > SVG_ML + SVG_PW * 0.7;
    double top = SVG_MT + SVG_LABEL_SIZE + pad, bottom = SVG_MT + SVG_PH - pad - 3;
    const struct {
        double x, y;
        bool end; /* x is the text's right end */
    } cand[] = {
        {left_first ? px - 8 : px + 8, py - 8, left_first},
        {left_first ? px + 8 : px - 8, py - 8, !left_first},
        {left_first ? px - 8 : px + 8, py + 8 + SVG_LABEL_SIZE, left_first},
        {left_first ? px + 8 : px - 8, py + 8 + SVG_LABEL_SIZE, !left_first},
        {SVG_ML + 8, top, false},
        {SVG_W - SVG_MR - 8, top, true},
        {SVG_ML + 8, bottom, false},
        {SVG_W - SVG_MR - 8, bottom, true},
    };
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        svg_box b = {cand[i].end ? cand[i].x - w : cand[i].x, cand[i].y - SVG_LABEL_SIZE,
                     cand[i].end ? cand[i].x : cand[i].x + w, cand[i].y + 3};
        if (b.x0 < SVG_ML + 1 || b.x1 > SVG_W - SVG_MR - 1 || b.y0 < SVG_MT + 1 ||
            b.y1 > SVG_MT + SVG_PH - 1)
            continue; /* not inside the plot */
        svg_box padded = {b.x0 - pad, b.y0 - pad, b.x1 + pad, b.y1 + pad};
        size_t hits = box_collisions(r, c, &padded, py);
        if (hits < best) {
            best = hits;
            *x = cand[i].x;
            *y = cand[i].y;
            *end = cand[i].end;
        }
        if (hits == 0)
            return;
    }
    if (best == SIZE_MAX) { /* nothing fits (cannot happen at this width) */
        *x = SVG_ML + 8;
        *y = top;
        *end = false;
    }
}

/* Phase 4: the peak, its dashed level and its note, in the chart's unit. */
static void svg_peak(FILE *out, const cli_report *r, const svg_chart *c) {
    if (!r->have_peak)
        return;
    char sz[32], note[96];
    svg_size(c, r->peak, sz, sizeof sz);
    snprintf(note, sizeof note, "peak %s at %.3f s", sz, r->peak_t);
    double px = svg_x(c, r->peak_t), py = svg_y(c, (double)r->peak), lx = 0, ly = 0;
    bool end = false;
    place_peak_label(r, c, px, py, strlen(note), &lx, &ly, &end);
    fprintf(out,
            "<line class=\"peak\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" "
            "stroke-dasharray=\"6 4\"/>\n"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d62728\"/>\n"
            "<text class=\"peak-label\" x=\"%.1f\" y=\"%.1f\" fill=\"#d62728\" "
            "text-anchor=\"%s\">%s</text>\n",
            SVG_ML, SVG_W - SVG_MR, py, py, px, py, lx, ly, end ? "end" : "start", note);
}

/* Phase 5: the legend, above the plot on the right. */
static void svg_legend(FILE *out, const svg_chart *c) {
    const int x = SVG_W - SVG_MR, y = SVG_MT - 12;
    fprintf(out,
            "<g font-size=\"12\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" "
            "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">current</text>"
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#d62728\" "
            "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%d\">peak</text></g>\n",
            x - 170, x - 150, y, y, x - 145, y + 4, x - 80, x - 60, y, y, x - 55, y + 4);
    if (c->rss)
        fprintf(out,
                "<g font-size=\"12\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" "
                "stroke=\"#2ca02c\" stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">RSS</text></g>\n",
                x - 240, x - 220, y, y, x - 215, y + 4);
}

int cli_render_svg(const cli_report *r, FILE *out) {
    svg_chart c;
    if (svg_scale(r, &c) != 0)
        return -1;
    svg_axes(out, r, &c);
    svg_curves(out, r, &c);
    svg_peak(out, r, &c);
    svg_legend(out, &c);
    fputs("</svg>\n", out);
    free(c.idx);
    return ferror(out) ? -1 : 0;
}

/* ---- JSON --------------------------------------------------------- */

/* A node is drawn when one of its values is at least 1/20000 of the
 * whole (thinner ones stay in their parent's width).  Children never
 * exceed their parent, so a node left out takes its subtree with it. */
static bool node_shown(const cli_flame *n, const uint64_t *min) {
    for (int m = 0; m < CLI_NMETRICS; m++)
        if (n->v[m] && n->v[m] >= min[m])
            return true;
    return false;
}

static void json_node(FILE *out, size_t i, long parent, const cli_flame *n) {
    fprintf(out, "%s[%ld,%ld", i ? "," : "", parent, n->frame == UINT32_MAX ? -1L : (long)n->frame);
    for (int m = 0; m < CLI_NMETRICS; m++)
        fprintf(out, ",%" PRIu64, n->v[m]);
    fputc(']', out);
}

/* The call tree as rows [parent, frame, values...] in preorder (a parent
 * before its children, the root first with parent and frame -1), so the
 * page rebuilds it without recursion: a real stack of 65,535 frames (or a
 * crafted one of a million) is that many levels. */
static int json_tree(FILE *out, const cli_flame *root) {
    typedef struct level {
        const cli_flame *next; /* the next child to write */
        size_t index;          /* the parent's row */
    } level;
    uint64_t min[CLI_NMETRICS];
    for (int m = 0; m < CLI_NMETRICS; m++)
        min[m] = root->v[m] / 20000 ? root->v[m] / 20000 : 1;
    size_t cap = 256, n = 0, rows = 0;
    level *st = malloc(cap * sizeof *st);
    if (!st)
        return -1;
    fputc('[', out);
    json_node(out, rows++, -1, root);
    st[n++] = (level){root->children, 0};
    while (n) {
        level *t = &st[n - 1];
        const cli_flame *c = t->next;
        while (c && !node_shown(c, min))
            c = c->next;
        if (!c) {
            n--;
            continue;
        }
        t->next = c->next;
        if (n == cap) {
            level *ns = realloc(st, 2 * cap * sizeof *st);
            if (!ns) {
                free(st);
                return -1;
            }
            st = ns;
            cap *= 2;
        }
        size_t me = rows++;
        json_node(out, me, (long)st[n - 1].index, c);
        st[n++] = (level){c->children, me};
    }
    fputc(']', out);
    free(st);
    return 0;
}

static void json_rows(FILE *out, const cli_row *rows, size_t n) {
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",{\"where\":" : "{\"where\":", out);
        cli_json_string(out, rows[i].where);
        fputs(",\"text\":", out);
        cli_json_string(out, rows[i].text);
        fprintf(out,
                ",\"size\":%" PRIu64 ",\"count\":%" PRIu64 ",\"allocations\":%" PRIu64
                ",\"allocated\":%" PRIu64 ",\"temporary\":%" PRIu64 "}",
                rows[i].size, rows[i].count, rows[i].allocations, rows[i].allocated,
                rows[i].temporary);
    }
    fputc(']', out);
}

static void json_tables(FILE *out, const cli_report *r) {
    fputc('[', out);
    for (size_t i = 0; i < r->ntables; i++) {
        const cli_table *t = &r->tables[i];
        fputs(i ? ",{\"id\":" : "{\"id\":", out);
        cli_json_string(out, t->id);
        fputs(",\"title\":", out);
        cli_json_string(out, t->title);
        fputs(",\"empty\":", out);
        cli_json_string(out, t->empty ? t->empty : "Nothing.");
        fprintf(out, ",\"counters\":%s,\"rows\":", t->counters ? "true" : "false");
        json_rows(out, t->rows, t->nrows);
        fputc('}', out);
    }
    fputc(']', out);
}

/* The frame table: "frames" (labels) and, in the same order, "funcs"
 * (each label's function). */
static void json_frames(FILE *out, const cli_frames *f) {
    fputs("\"frames\":[", out);
    for (size_t i = 0; i < f->n; i++) {
        if (i)
            fputc(',', out);
        cli_json_string(out, f->label[i]);
    }
    fputs("],\"funcs\":[", out);
    for (size_t i = 0; i < f->n; i++) {
        if (i)
            fputc(',', out);
        cli_json_string(out, f->func[i]);
    }
    fputc(']', out);
}

int cli_render_json(const cli_report *r, FILE *out) {
    fputs("{\"title\":", out);
    cli_json_string(out, r->title ? r->title : "recycle report");
    fputs(",\"summary\":[", out);
    for (size_t i = 0; i < r->nsummary; i++) {
        fputs(i ? ",[" : "[", out);
        cli_json_string(out, r->summary[i][0]);
        fputc(',', out);
        cli_json_string(out, r->summary[i][1]);
        fputc(']', out);
    }
    fputs("],\"timeline\":{", out);
    enum { MAXPTS = 20000 };
    size_t *idx = malloc((r->nsamples < MAXPTS ? r->nsamples : MAXPTS) * sizeof *idx + 16);
    if (!idx)
        return -1;
    size_t k = r->nsamples ? pick_samples(r->samples, r->nsamples, MAXPTS, idx) : 0;
    /* "rss" only when the file has the resident set (recycle run samples it) */
    bool rss = false;
    for (size_t i = 0; i < r->nsamples && !rss; i++)
        rss = r->samples[i].rss != 0;
    static const char *const keys[] = {"t", "current", "peak", "rss"};
    for (int key = 0; key < (rss ? 4 : 3); key++) {
        fprintf(out, "%s\"%s\":[", key ? "," : "", keys[key]);
        for (size_t i = 0; i < k; i++) {
            const rcy_sample *s = &r->samples[idx[i]];
            if (i)
                fputc(',', out);
            if (key == 0)
                fprintf(out, "%.6f", (double)s->time_ns / 1e9);
            else
                fprintf(out, "%" PRIu64, key == 1 ? s->current : key == 2 ? s->peak : s->rss);
        }
        fputc(']', out);
    }
    free(idx);
    fputs("},\"peak\":", out);
    if (r->have_peak)
        fprintf(out, "{\"t\":%.6f,\"bytes\":%" PRIu64 "}", r->peak_t, r->peak);
    else
        fputs("null", out);
    fputs(",\"metrics\":[", out);
    for (int m = 0; m < CLI_NMETRICS; m++) {
        if (m)
            fputc(',', out);
        cli_json_string(out, cli_metric_names[m]);
    }
    fprintf(out, "],\"have\":{\"peak\":%s,\"counters\":%s,\"leaks\":%s},",
            r->have_peak_traces ? "true" : "false", r->have_counters ? "true" : "false",
            r->have_leaks ? "true" : "false");
    json_frames(out, &r->frames);
    fputs(",\"tree\":", out);
    int rc = 0;
    if (r->flame)
        rc = json_tree(out, r->flame);
    else
        fputs("[]", out);
    fputs(",\"tables\":", out);
    json_tables(out, r);
    fputs("}", out);
    return rc != 0 || ferror(out) ? -1 : 0;
}

int cli_render_html(const cli_report *r, FILE *out) {
    static const char slot[] = "/*RECYCLE_DATA*/";
    const char *tpl = (const char *)cli_report_template;
    const char *at = memmem(tpl, cli_report_template_len, slot, sizeof slot - 1);
    if (!at) {
        errno = EINVAL;
        return -1;
    }
    fwrite(tpl, 1, (size_t)(at - tpl), out);
    if (cli_render_json(r, out) != 0)
        return -1;
    size_t rest = cli_report_template_len - (size_t)(at - tpl) - (sizeof slot - 1);
    fwrite(at + sizeof slot - 1, 1, rest, out);
    return ferror(out) ? -1 : 0;
}
