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

cli_flame *cli_flame_new(const char *name) {
    cli_flame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = strdup(name);
    if (!f->name) {
        free(f);
        return NULL;
    }
    return f;
}

cli_flame *cli_flame_add(cli_flame *parent, const char *name, uint64_t value) {
    cli_flame **link = &parent->children;
    for (cli_flame *c = parent->children; c; link = &c->next, c = c->next) {
        if (strcmp(c->name, name) == 0) {
            /* Move to the front: stacks sharing a prefix come in runs. */
            *link = c->next;
            c->next = parent->children;
            parent->children = c;
            c->value += value;
            return c;
        }
    }
    cli_flame *c = cli_flame_new(name);
    if (!c)
        return NULL;
    c->value = value;
    c->next = parent->children;
    parent->children = c;
    return c;
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
        free(f->name);
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
    rows_free(r->top_peak, r->ntop_peak);
    rows_free(r->top_exit, r->ntop_exit);
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

int cli_render_svg(const cli_report *r, FILE *out) {
    enum { W = 960, H = 480, ML = 90, MR = 30, MT = 50, MB = 60 };
    const double pw = W - ML - MR, ph = H - MT - MB;
    double tmax = 0, ymax = 0;
    bool rss = false; /* the file has the resident set beside traced memory */
    for (size_t i = 0; i < r->nsamples; i++) {
        double t = (double)r->samples[i].time_ns / 1e9;
        if (t > tmax)
            tmax = t;
        if ((double)r->samples[i].current > ymax)
            ymax = (double)r->samples[i].current;
        if ((double)r->samples[i].rss > ymax)
            ymax = (double)r->samples[i].rss;
        rss = rss || r->samples[i].rss;
    }
    if (r->have_peak && (double)r->peak > ymax)
        ymax = (double)r->peak;
    if (r->have_peak && r->peak_t > tmax)
        tmax = r->peak_t;
    if (tmax <= 0)
        tmax = 1;
    /* The y axis is in the unit of the largest value, mprof-like. */
    static const char *const units[] = {"B", "KiB", "MiB", "GiB"};
    int u = 0;
    double scale = 1;
    while (u < 3 && ymax / scale >= 1024) {
        scale *= 1024;
        u++;
    }
    double ystep = nice_step(ymax / scale > 0 ? ymax / scale * 1.08 : 1, 6);
    double ytop = ceil((ymax / scale * 1.08) / ystep) * ystep;
    if (ytop <= 0)
        ytop = ystep;
    double tstep = nice_step(tmax, 8);
    double ttop = ceil(tmax / tstep) * tstep;
#define X(t) (ML + (t) / ttop * pw)
#define Y(v) (MT + ph - (v) / scale / ytop * ph)

    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fputs("<text x=\"480\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", out);
    xml_text(out, r->title ? r->title : "recycle: traced memory");
    fputs("</text>\n", out);
    /* grid and axes */
    fputs("<g stroke=\"#e5e5e5\">\n", out);
    for (double v = 0; v <= ytop + ystep / 2; v += ystep)
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>\n", ML, W - MR,
                MT + ph - v / ytop * ph, MT + ph - v / ytop * ph);
    for (double t = 0; t <= ttop + tstep / 2; t += tstep)
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>\n", X(t), X(t), MT,
                H - MB);
    fputs("</g>\n<g fill=\"#333\">\n", out);
    for (double v = 0; v <= ytop + ystep / 2; v += ystep)
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", ML - 8,
                MT + ph - v / ytop * ph + 4, v);
    for (double t = 0; t <= ttop + tstep / 2; t += tstep)
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", X(t),
                H - MB + 18, t);
    fprintf(out,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (s)</text>\n"
            "<text transform=\"translate(22 %d) rotate(-90)\" text-anchor=\"middle\">"
            "%s (%s)</text>\n</g>\n",
            ML + (int)pw / 2, H - 14, MT + (int)ph / 2, rss ? "memory" : "traced memory", units[u]);
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#555\"/>\n",
            ML, MT, (int)pw, (int)ph);

    if (r->nsamples == 0) {
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#888\">no timeline samples "
                "in this file</text>\n",
                ML + (int)pw / 2, MT + (int)ph / 2);
    } else {
        size_t *idx = malloc((r->nsamples < 4000 ? r->nsamples : 4000) * sizeof *idx + 16);
        if (!idx)
            return -1;
        size_t k = pick_samples(r->samples, r->nsamples, 4000, idx);
        if (rss) {
            /* under the traced line: RSS is the larger, drawn first */
            fputs("<polyline class=\"rss\" fill=\"none\" stroke=\"#2ca02c\" "
                  "stroke-width=\"1.5\" points=\"",
                  out);
            for (size_t i = 0; i < k; i++) {
                const rcy_sample *s = &r->samples[idx[i]];
                fprintf(out, "%s%.1f,%.1f", i ? " " : "", X((double)s->time_ns / 1e9),
                        Y((double)s->rss));
            }
            fputs("\"/>\n", out);
        }
        fputs("<polyline class=\"current\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" "
              "points=\"",
              out);
        for (size_t i = 0; i < k; i++) {
            const rcy_sample *s = &r->samples[idx[i]];
            fprintf(out, "%s%.1f,%.1f", i ? " " : "", X((double)s->time_ns / 1e9),
                    Y((double)s->current));
        }
        fputs("\"/>\n", out);
        free(idx);
    }
    if (r->have_peak) {
        char sz[32];
        rcy_format_usize(r->peak, sz, sizeof sz); /* as `recycle stats` says it */
        double px = X(r->peak_t), py = Y((double)r->peak);
        fprintf(
            out,
            "<line class=\"peak\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" "
            "stroke-dasharray=\"6 4\"/>\n"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#d62728\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" fill=\"#d62728\" text-anchor=\"%s\">peak %s at "
            "%.3f s</text>\n",
            ML, W - MR, py, py, px, py, px > ML + pw * 0.7 ? px - 8 : px + 8, py - 8,
            px > ML + pw * 0.7 ? "end" : "start", sz, r->peak_t);
    }
    /* legend */
    fprintf(out,
            "<g font-size=\"12\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#1f77b4\" "
            "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">current</text>"
            "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#d62728\" "
            "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%d\">peak</text></g>\n",
            W - MR - 170, W - MR - 150, MT - 12, MT - 12, W - MR - 145, MT - 8, W - MR - 80,
            W - MR - 60, MT - 12, MT - 12, W - MR - 55, MT - 8);
    if (rss)
        fprintf(out,
                "<g font-size=\"12\"><line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" "
                "stroke=\"#2ca02c\" stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">RSS</text></g>\n",
                W - MR - 240, W - MR - 220, MT - 12, MT - 12, W - MR - 215, MT - 8);
    fputs("</svg>\n", out);
#undef X
#undef Y
    return ferror(out) ? -1 : 0;
}

/* ---- JSON --------------------------------------------------------- */

static void json_flame_open(FILE *out, const cli_flame *f) {
    fputs("{\"name\":", out);
    cli_json_string(out, f->name);
    fprintf(out, ",\"value\":%" PRIu64, f->value);
}

/* Depth first with a stack of our own, not the C stack: a real stack of
 * 65,535 frames (or a crafted one of a million) is that many levels. */
static int json_flame(FILE *out, const cli_flame *root, uint64_t min) {
    typedef struct level {
        const cli_flame *next; /* the next child to write */
        bool opened;           /* ",\"children\":[" written */
    } level;
    size_t cap = 256, n = 0;
    level *st = malloc(cap * sizeof *st);
    if (!st)
        return -1;
    json_flame_open(out, root);
    st[n++] = (level){root->children, false};
    while (n) {
        level *t = &st[n - 1];
        const cli_flame *c = t->next;
        while (c && c->value < min)
            c = c->next; /* too thin to see: stays in the parent's width */
        if (!c) {
            fputs(t->opened ? "]}" : "}", out);
            n--;
            continue;
        }
        t->next = c->next;
        fputs(t->opened ? "," : ",\"children\":[", out);
        t->opened = true;
        if (n == cap) {
            level *ns = realloc(st, 2 * cap * sizeof *st);
            if (!ns) {
                free(st);
                return -1;
            }
            st = ns;
            cap *= 2;
        }
        json_flame_open(out, c);
        st[n++] = (level){c->children, false};
    }
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
        fprintf(out, ",\"size\":%" PRIu64 ",\"count\":%" PRIu64 "}", rows[i].size, rows[i].count);
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
    static const char *const keys[] = {"t", "current", "peak"};
    for (int key = 0; key < 3; key++) {
        fprintf(out, "%s\"%s\":[", key ? "," : "", keys[key]);
        for (size_t i = 0; i < k; i++) {
            const rcy_sample *s = &r->samples[idx[i]];
            if (i)
                fputc(',', out);
            if (key == 0)
                fprintf(out, "%.6f", (double)s->time_ns / 1e9);
            else
                fprintf(out, "%" PRIu64, key == 1 ? s->current : s->peak);
        }
        fputc(']', out);
    }
    free(idx);
    fputs("},\"peak\":", out);
    if (r->have_peak)
        fprintf(out, "{\"t\":%.6f,\"bytes\":%" PRIu64 "}", r->peak_t, r->peak);
    else
        fputs("null", out);
    fputs(",\"flame\":", out);
    int rc = 0;
    if (r->flame)
        rc = json_flame(out, r->flame, r->flame->value / 20000);
    else
        fputs("null", out);
    fputs(",\"top_peak\":", out);
    json_rows(out, r->top_peak, r->ntop_peak);
    fputs(",\"top_exit\":", out);
    json_rows(out, r->top_exit, r->ntop_exit);
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
