/* tools/cmd_plot.c — `recycle plot FILE -o OUT.svg|OUT.html`: builds the
 * report model (cli_report) from a snapshot file and renders it. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char plot_usage[] =
    "usage: recycle plot FILE -o OUT.svg|OUT.html [--title TEXT]\n"
    "\n"
    "  OUT.svg   memory over time, mprof-style: traced memory (and the\n"
    "            process's RSS) as sampled by recycle run, the peak marked\n"
    "  OUT.html  one self-contained page (works offline): the timeline, a\n"
    "            flame graph of the memory live at peak, and the top lines\n"
    "            at peak and at exit\n"
    "\n"
    "  -o, --output FILE  where to write; the format follows the extension\n"
    "  -t, --title TEXT   title of the plot (default: the program's command)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 done, 1 a file is missing, corrupt or not writable,\n"
    "2 bad usage.\n";

static void add_summary(cli_report *r, const char *k, const char *v) {
    if (!v || r->nsummary >= sizeof r->summary / sizeof r->summary[0])
        return;
    r->summary[r->nsummary][0] = strdup(k);
    r->summary[r->nsummary][1] = strdup(v);
    if (!r->summary[r->nsummary][0] || !r->summary[r->nsummary][1]) {
        free(r->summary[r->nsummary][0]);
        free(r->summary[r->nsummary][1]);
        return;
    }
    r->nsummary++;
}

static void frame_name(const rcy_frame *f, char *buf, size_t len) {
    const char *file = f->filename && strcmp(f->filename, "?") != 0 ? f->filename : NULL;
    const char *base = file ? strrchr(file, '/') : NULL;
    base = base ? base + 1 : file;
    if (f->function && base)
        snprintf(buf, len, "%s (%s:%u)", f->function, base, f->lineno);
    else if (f->function)
        snprintf(buf, len, "%s", f->function);
    else if (base)
        snprintf(buf, len, "%s:%u", base, f->lineno);
    else if (f->object) {
        const char *ob = strrchr(f->object, '/');
        snprintf(buf, len, "%s @ 0x%" PRIxPTR, ob ? ob + 1 : f->object, f->address);
    } else
        snprintf(buf, len, "0x%" PRIxPTR, f->address);
}

static int build_flame(cli_report *r, const rcy_snapshot *s) {
    size_t n = 0;
    const rcy_trace *traces = rcy_snapshot_traces(s, &n);
    r->flame = cli_flame_new("all");
    if (!r->flame)
        return -1;
    cli_progress prog;
    cli_progress_begin(&prog, "flame graph", n);
    char name[512];
    for (size_t i = 0; i < n; i++) {
        const rcy_traceback *tb = traces[i].traceback;
        uint64_t size = traces[i].size;
        r->flame->value += size;
        cli_flame *node = r->flame;
        if (tb && tb->total_nframe > tb->nframe) {
            node = cli_flame_add(node, "[older frames not kept]", size);
            if (!node)
                return -1;
        }
        for (size_t k = tb ? tb->nframe : 0; k-- > 0;) {
            frame_name(&tb->frames[k], name, sizeof name);
            node = cli_flame_add(node, name, size);
            if (!node)
                return -1;
        }
        if ((i & 1023) == 0)
            cli_progress_update(&prog, i);
    }
    cli_progress_end(&prog);
    return 0;
}

static int build_rows(const rcy_snapshot *s, size_t limit, cli_row **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    rcy_stats *st = rcy_snapshot_statistics(s, RCY_KEY_LINENO, false);
    if (!st)
        return -1;
    size_t n = st->len < limit ? st->len : limit;
    cli_row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) {
        rcy_stats_free(st);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const rcy_statistic *it = &st->items[i];
        char buf[1024];
        rcy_statistic_format(it, buf, sizeof buf);
        rows[i].text = strdup(buf);
        const rcy_frame *f =
            it->traceback && it->traceback->nframe ? &it->traceback->frames[0] : NULL;
        /* The line when it is known, else the function and object. */
        if (f)
            frame_name(f, buf, sizeof buf);
        else
            snprintf(buf, sizeof buf, "?");
        rows[i].where = strdup(buf);
        rows[i].size = it->size;
        rows[i].count = it->count;
        *nout = i + 1;
        if (!rows[i].text || !rows[i].where)
            break;
    }
    *out = rows;
    rcy_stats_free(st);
    return 0;
}

/* Fill r from snapshot s (borrowing its timeline). */
static int build_report(cli_report *r, const rcy_snapshot *s, const char *file, const char *title) {
    char buf[256];
    const char *cmd = rcy_snapshot_get_info(s, "command");
    if (title) {
        r->title = strdup(title);
    } else if (cmd) {
        if (asprintf(&r->title, "recycle: %s", cmd) < 0)
            r->title = NULL;
    } else {
        if (asprintf(&r->title, "recycle: %s", file) < 0)
            r->title = NULL;
    }
    add_summary(r, "command", cmd);
    add_summary(r, "pid", rcy_snapshot_get_info(s, "pid"));
    add_summary(r, "exit status", rcy_snapshot_get_info(s, "exit_status"));
    const rcy_tracemalloc_counters *c = rcy_snapshot_counters(s);
    r->samples = rcy_snapshot_timeline(s, &r->nsamples);
    if (c) {
        snprintf(buf, sizeof buf, "%" PRIu64, c->allocs);
        add_summary(r, "allocations", buf);
        snprintf(buf, sizeof buf, "%" PRIu64, c->frees);
        add_summary(r, "frees", buf);
        char sz[64];
        rcy_format_usize(c->peak, sz, sizeof sz);
        snprintf(buf, sizeof buf, "%s (%" PRIu64 " B)", sz, c->peak);
        add_summary(r, "peak traced memory", buf);
        r->have_peak = true;
        r->peak = c->peak;
        r->peak_t = 0;
        for (size_t i = 0; i < r->nsamples; i++) {
            if (r->samples[i].peak >= c->peak) {
                r->peak_t = (double)r->samples[i].time_ns / 1e9;
                break;
            }
            r->peak_t = (double)r->samples[i].time_ns / 1e9;
        }
    }
    size_t live = 0, blocks = 0;
    rcy_snapshot_totals(s, &live, &blocks);
    char sz[64];
    rcy_format_usize(live, sz, sizeof sz);
    snprintf(buf, sizeof buf, "%s in %zu blocks", sz, blocks);
    add_summary(r, "still allocated at exit", buf);
    if (r->nsamples) {
        snprintf(buf, sizeof buf, "%.3f s (%zu samples)",
                 (double)r->samples[r->nsamples - 1].time_ns / 1e9, r->nsamples);
        add_summary(r, "duration", buf);
    }
    const rcy_snapshot *peak = rcy_snapshot_at_peak(s);
    if (build_flame(r, peak ? peak : s) != 0)
        return -1;
    if (peak && build_rows(peak, 25, &r->top_peak, &r->ntop_peak) != 0)
        return -1;
    if (build_rows(s, 25, &r->top_exit, &r->ntop_exit) != 0)
        return -1;
    return 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Rendered in memory, then written by the library's one writer: a
 * temporary renamed into place, or through a device or FIFO. */
static int write_plot(const cli_report *r, const char *output, bool html) {
    char *page = NULL;
    size_t pagelen = 0;
    FILE *out = open_memstream(&page, &pagelen);
    if (!out) {
        cli_error("out of memory");
        return CLI_EFILE;
    }
    int rc = CLI_OK;
    int w = html ? cli_render_html(r, out) : cli_render_svg(r, out);
    if (fclose(out) != 0 || w != 0) {
        cli_error("out of memory");
        rc = CLI_EFILE;
    } else {
        errno = 0;
        int e = rcy_file_write(output, page, pagelen);
        if (e != RCY_OK) {
            cli_error("%s: %s", output,
                      e == RCY_EIO ? strerror(errno ? errno : EIO) : rcy_strerror(e));
            rc = CLI_EFILE;
        }
    }
    free(page);
    return rc;
}

int cmd_plot(int argc, char **argv) {
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"title", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *output = NULL, *title = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 't':
            title = optarg;
            break;
        case 'h':
            fputs(plot_usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option(argv);
        }
    }
    if (argc - optind != 1) {
        cli_error("expected one snapshot file (see --help)");
        return CLI_EUSAGE;
    }
    if (!output) {
        cli_error("-o OUT.svg or -o OUT.html is required (see --help)");
        return CLI_EUSAGE;
    }
    bool html = ends_with(output, ".html") || ends_with(output, ".htm");
    if (!html && !ends_with(output, ".svg")) {
        cli_error("%s: the output must end in .svg or .html", output);
        return CLI_EUSAGE;
    }
    const char *file = argv[optind];
    rcy_snapshot *s = cli_load(file);
    if (!s)
        return CLI_EFILE;
    cli_report r = {0};
    int rc;
    if (build_report(&r, s, file, title) != 0) {
        cli_error("out of memory");
        rc = CLI_EFILE;
    } else {
        rc = write_plot(&r, output, html);
    }
    cli_report_clear(&r);
    rcy_snapshot_free(s);
    return rc;
}
