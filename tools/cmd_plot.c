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
    "  OUT.html  one self-contained page (works offline): the timeline;\n"
    "            flame graphs of the memory live at peak, the allocations,\n"
    "            the bytes allocated, the temporary allocations, the\n"
    "            definitely lost blocks and what was left at exit, with a\n"
    "            search box; a bottom-up table of functions and their\n"
    "            callers; the top lines at peak, at exit and by each counter\n"
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

/* Per traceback of one source, its leaf in the call tree (its frames are
 * named once) and whether a built-in suppression hides it. */
typedef struct leaf_cache {
    const rcy_traceback **key;
    cli_flame **leaf;
    signed char *suppressed; /* -1: not asked yet */
    size_t cap, n;
} leaf_cache;

static void cache_free(leaf_cache *c) {
    free(c->key);
    free(c->leaf);
    free(c->suppressed);
    memset(c, 0, sizeof *c);
}

static size_t cache_slot(const leaf_cache *c, const rcy_traceback *tb) {
    size_t h = ((uintptr_t)tb >> 4) * 0x9E3779B97F4A7C15u & (c->cap - 1);
    while (c->key[h] && c->key[h] != tb)
        h = (h + 1) & (c->cap - 1);
    return h;
}

static bool cache_grow(leaf_cache *c) {
    leaf_cache g = {.cap = c->cap ? c->cap * 2 : 1024, .n = c->n};
    g.key = calloc(g.cap, sizeof *g.key);
    g.leaf = calloc(g.cap, sizeof *g.leaf);
    g.suppressed = malloc(g.cap);
    if (!g.key || !g.leaf || !g.suppressed) {
        cache_free(&g);
        return false;
    }
    for (size_t i = 0; i < c->cap; i++) {
        if (c->key[i]) {
            size_t j = cache_slot(&g, c->key[i]);
            g.key[j] = c->key[i];
            g.leaf[j] = c->leaf[i];
            g.suppressed[j] = c->suppressed[i];
        }
    }
    cache_free(c);
    *c = g;
    return true;
}

/* The node of tb's whole stack (the oldest frame under the root), or
 * NULL on out of memory; *slot is its cache entry. */
static cli_flame *stack_node(cli_report *r, leaf_cache *c, const rcy_traceback *tb, size_t *slot) {
    if ((c->n + 1) * 2 > c->cap && !cache_grow(c))
        return NULL;
    size_t h = cache_slot(c, tb);
    *slot = h;
    if (c->key[h])
        return c->leaf[h];
    cli_flame *node = r->flame;
    char label[512];
    if (tb && tb->total_nframe > tb->nframe) {
        uint32_t id = cli_frame_id(&r->frames, "[older frames not kept]", NULL);
        node = id == UINT32_MAX ? NULL : cli_flame_child(node, id);
    }
    for (size_t k = tb ? tb->nframe : 0; node && k-- > 0;) {
        const rcy_frame *f = &tb->frames[k];
        frame_name(f, label, sizeof label);
        uint32_t id = cli_frame_id(&r->frames, label, f->function);
        node = id == UINT32_MAX ? NULL : cli_flame_child(node, id);
    }
    if (!node)
        return NULL;
    c->key[h] = tb;
    c->leaf[h] = node;
    c->suppressed[h] = -1;
    c->n++;
    return node;
}

/* Whether the built-in suppressions (as `recycle leaks` applies them)
 * hide the stack of cache entry slot. */
static bool stack_suppressed(leaf_cache *c, size_t slot, cli_suppressions *sp) {
    if (c->suppressed[slot] < 0)
        c->suppressed[slot] = cli_suppressed(sp, c->key[slot]) != NULL;
    return c->suppressed[slot] > 0;
}

/* Add the traces of s to the tree: bytes and blocks under metrics mb and
 * mb + 1; at exit (leaks), also the definitely lost ones no built-in
 * suppression hides. */
static int add_traces(cli_report *r, const rcy_snapshot *s, cli_metric mb, cli_suppressions *leaks,
                      const char *what) {
    size_t n = 0;
    const rcy_trace *traces = rcy_snapshot_traces(s, &n);
    leaf_cache c = {0};
    cli_progress prog;
    cli_progress_begin(&prog, what, n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t slot;
        cli_flame *node = stack_node(r, &c, traces[i].traceback, &slot);
        if (!node) {
            rc = -1;
            break;
        }
        cli_flame_add_value(node, mb, traces[i].size);
        cli_flame_add_value(node, mb + 1, traces[i].count);
        if (leaks && traces[i].leak != RCY_LEAK_UNKNOWN)
            r->have_leaks = true;
        if (leaks && traces[i].leak == RCY_LEAK_DEFINITE && !stack_suppressed(&c, slot, leaks)) {
            cli_flame_add_value(node, CLI_M_LOST_BYTES, traces[i].size);
            cli_flame_add_value(node, CLI_M_LOST_BLOCKS, traces[i].count);
        }
        if ((i & 1023) == 0)
            cli_progress_update(&prog, i);
    }
    cli_progress_end(&prog);
    cache_free(&c);
    return rc;
}

/* Add the per call site counters of s, by whole call stack. */
static int add_counters(cli_report *r, const rcy_snapshot *s) {
    rcy_stats *st = rcy_snapshot_statistics_by(s, RCY_KEY_TRACEBACK, false, RCY_ORDER_ALLOCATIONS);
    if (!st)
        return -1;
    leaf_cache c = {0};
    int rc = 0;
    for (size_t i = 0; i < st->len && rc == 0; i++) {
        const rcy_statistic *it = &st->items[i];
        size_t slot;
        cli_flame *node = it->allocations ? stack_node(r, &c, it->traceback, &slot) : NULL;
        if (!node) {
            rc = it->allocations ? -1 : 0;
            continue;
        }
        cli_flame_add_value(node, CLI_M_ALLOCS, it->allocations);
        cli_flame_add_value(node, CLI_M_ALLOCATED, it->allocated);
        cli_flame_add_value(node, CLI_M_TEMPORARY, it->temporary);
    }
    cache_free(&c);
    rcy_stats_free(st);
    return rc;
}

/* The call tree of every metric the file has. */
static int build_tree(cli_report *r, const rcy_snapshot *s) {
    r->flame = cli_flame_new(UINT32_MAX);
    if (!r->flame)
        return -1;
    cli_suppressions sp = {0};
    int rc = cli_suppressions_add_builtin(&sp) == CLI_OK ? 0 : -1;
    if (rc == 0)
        rc = add_traces(r, s, CLI_M_EXIT_BYTES, &sp, "call tree at exit");
    cli_suppressions_free(&sp);
    const rcy_snapshot *peak = cli_peak_traces(s, NULL);
    r->have_peak_traces = peak != NULL;
    if (rc == 0 && peak)
        rc = add_traces(r, peak, CLI_M_PEAK_BYTES, NULL, "call tree at peak");
    r->have_counters = rcy_snapshot_has_site_counters(s);
    if (rc == 0 && r->have_counters)
        rc = add_counters(r, s);
    return rc;
}

/* One table of the page: the top lines of s by size (order RCY_ORDER_SIZE)
 * or by a per call site counter; s NULL gives an empty table. */
static int build_table(cli_report *r, const rcy_snapshot *s, rcy_stat_order order, size_t limit,
                       const char *id, const char *title, const char *empty) {
    cli_table *t = &r->tables[r->ntables++];
    *t = (cli_table){.id = id, .title = title, .counters = order != RCY_ORDER_SIZE, .empty = empty};
    if (!s)
        return 0;
    rcy_stats *st = rcy_snapshot_statistics_by(s, RCY_KEY_LINENO, false, order);
    if (!st)
        return -1;
    size_t n = st->len < limit ? st->len : limit;
    cli_row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) {
        rcy_stats_free(st);
        return -1;
    }
    t->rows = rows;
    for (size_t i = 0; i < n; i++) {
        const rcy_statistic *it = &st->items[i];
        uint64_t by = order == RCY_ORDER_ALLOCATIONS ? it->allocations
                      : order == RCY_ORDER_ALLOCATED ? it->allocated
                                                     : it->temporary;
        if (t->counters && by == 0)
            break; /* sorted: the rest have none of it either */
        char buf[1024];
        if (t->counters)
            rcy_statistic_format_counters(it, buf, sizeof buf);
        else
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
        rows[i].allocations = it->allocations;
        rows[i].allocated = it->allocated;
        rows[i].temporary = it->temporary;
        t->nrows = i + 1;
        if (!rows[i].text || !rows[i].where)
            break;
    }
    rcy_stats_free(st);
    return 0;
}

/* The tables: top lines at peak and at exit, and by each counter. */
static int build_tables(cli_report *r, const rcy_snapshot *s) {
    static const char no_counters[] =
        "This file has no per call site counters (written by a recycle before format 1.2).";
    const rcy_snapshot *peak = cli_peak_traces(s, NULL);
    const rcy_snapshot *counted = rcy_snapshot_has_site_counters(s) ? s : NULL;
    if (build_table(r, peak, RCY_ORDER_SIZE, 25, "peak", "Top lines at peak",
                    "This file holds no copy of the traces at peak.") != 0 ||
        build_table(r, s, RCY_ORDER_SIZE, 25, "exit", "Top lines still allocated at exit",
                    "Nothing was still allocated at exit.") != 0 ||
        build_table(r, counted, RCY_ORDER_ALLOCATIONS, 25, "count", "Top lines by allocations",
                    no_counters) != 0 ||
        build_table(r, counted, RCY_ORDER_ALLOCATED, 25, "allocated",
                    "Top lines by bytes allocated", no_counters) != 0 ||
        build_table(r, counted, RCY_ORDER_TEMPORARY, 25, "temporary",
                    "Top lines by temporary allocations",
                    counted ? "No temporary allocations: no block was freed before its thread's "
                              "next allocation."
                            : no_counters) != 0)
        return -1;
    return 0;
}

/* Fill r from snapshot s (borrowing its timeline); the call tree and the
 * tables only for the HTML page. */
static int build_report(cli_report *r, const rcy_snapshot *s, const char *file, const char *title,
                        bool html) {
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
    if (html && (build_tree(r, s) != 0 || build_tables(r, s) != 0))
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
    if (build_report(&r, s, file, title, html) != 0) {
        cli_error("out of memory");
        rc = CLI_EFILE;
    } else {
        rc = write_plot(&r, output, html);
    }
    cli_report_clear(&r);
    rcy_snapshot_free(s);
    return rc;
}
