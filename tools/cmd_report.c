/* tools/cmd_report.c — the text reports: `recycle top`, `recycle diff`,
 * `recycle leaks` and `recycle stats`.  Lines are tracemalloc's own format
 * (rcy_statistic_format and friends); headers are the ones of the Python
 * documentation's snippets ("[ Top 10 ]", "[ Top 10 differences ]"). */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char top_usage[] =
    "usage: recycle top FILE [--by lineno|filename|traceback] [--limit N]\n"
    "                        [--cumulative] [--peak]\n"
    "       recycle top FILE --by count|allocated|temporary [--limit N]\n"
    "                        [--cumulative]\n"
    "\n"
    "The places holding the most memory in a snapshot file, biggest first,\n"
    "one line each in tracemalloc's format:\n"
    "  file.c:12: size=3437 KiB, count=76685, average=46 B\n"
    "\n"
    "  -b, --by KEY       group by lineno (default), filename or traceback\n"
    "                     (traceback prints each call stack under its line);\n"
    "                     or, per line over the whole run, the most\n"
    "                     allocations (count), bytes allocated (allocated) or\n"
    "                     temporary allocations (temporary: freed before the\n"
    "                     thread's next allocation), e.g.\n"
    "  file.c:12: allocations=900, allocated=45.0 KiB, temporary=800, size=4096 B, count=100\n"
    "  -l, --limit N      how many lines, 0 = all (default 10)\n"
    "  -c, --cumulative   count each block for every frame of its stack\n"
    "  -p, --peak         the traces at the moment of peak traced memory\n"
    "                     instead of those still allocated at exit\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 done, 1 the file is missing or corrupt, 2 bad usage.\n";

static const char diff_usage[] =
    "usage: recycle diff OLD NEW [--by lineno|filename|traceback] [--limit N]\n"
    "                            [--cumulative] [--peak]\n"
    "\n"
    "What grew and shrank from the snapshot file OLD to NEW (tracemalloc's\n"
    "Snapshot.compare_to), biggest change first:\n"
    "  file.c:12: size=1024 KiB (+512 KiB), count=10 (+5), average=102 KiB\n"
    "\n"
    "  -b, --by KEY       group by lineno (default), filename or traceback\n"
    "  -l, --limit N      how many lines, 0 = all (default 10)\n"
    "  -c, --cumulative   count each block for every frame of its stack\n"
    "  -p, --peak         compare the traces at each file's peak of traced\n"
    "                     memory instead of those still allocated at exit\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 done, 1 a file is missing or corrupt, 2 bad usage.\n";

static const char leaks_usage[] =
    "usage: recycle leaks FILE [--show KINDS] [--suppressions FILE]...\n"
    "                          [--no-builtin-suppressions] [--limit N] [--oldest-first]\n"
    "\n"
    "Blocks still allocated when the program exited, by leak class: definitely\n"
    "lost (nothing pointed to them), then indirectly lost (only lost blocks\n"
    "pointed to them), each grouped by call stack, largest first, with its full\n"
    "stack (allocating frame first).  Still reachable blocks are counted, and\n"
    "listed with --show reachable.  A file without leak classes (not written by\n"
    "recycle run, or older) lists every block still allocated.\n"
    "\n"
    "  -s, --show KINDS    the classes to list, comma-separated: definite,\n"
    "                      indirect, reachable, or all (default definite,indirect)\n"
    "  -S, --suppressions FILE  hide the stacks a `leak:PATTERN` line of FILE\n"
    "                      matches (LeakSanitizer's syntax; may be repeated)\n"
    "  -B, --no-builtin-suppressions  also list the C library's one-time buffers\n"
    "                      (stdio, locale, time zone, the dynamic loader)\n"
    "  -l, --limit N       how many call stacks per class, 0 = all (default 0)\n"
    "  -o, --oldest-first  print each stack from main() down instead\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 done, 1 a file is missing or corrupt, 2 bad usage.\n";

static const char stats_usage[] =
    "usage: recycle stats FILE\n"
    "\n"
    "Summary of a snapshot file: the program, allocation and free counts,\n"
    "peak traced memory and when it happened, what was still allocated at\n"
    "exit, and a histogram of block sizes.\n"
    "\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: 0 done, 1 the file is missing or corrupt, 2 bad usage.\n";

/* A grouping key, or (top only) a per call site counter to sort lines by. */
static bool parse_key(const char *s, rcy_key_type *key, rcy_stat_order *order) {
    static const char *const orders[] = {"count", "allocated", "temporary"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, orders[i]) == 0) {
            *key = RCY_KEY_LINENO;
            *order = (rcy_stat_order)(RCY_ORDER_ALLOCATIONS + i);
            return true;
        }
    }
    *order = RCY_ORDER_SIZE;
    if (strcmp(s, "lineno") == 0)
        *key = RCY_KEY_LINENO;
    else if (strcmp(s, "filename") == 0)
        *key = RCY_KEY_FILENAME;
    else if (strcmp(s, "traceback") == 0)
        *key = RCY_KEY_TRACEBACK;
    else
        return false;
    return true;
}

/* The options of the report commands.  Each command accepts only those
 * whose letter is in its short-option string: one table, no option of one
 * command silently ignored by another. */
typedef struct report_opts {
    rcy_key_type key;
    rcy_stat_order order; /* top --by count|allocated|temporary */
    long limit;
    bool cumulative, peak, oldest_first;
    char *files[2];
    /* leaks */
    unsigned show; /* bit (1 << rcy_leak_class) per class listed */
    bool no_builtin;
    size_t nsupp;
    const char *supp[16];
} report_opts;

static const struct option report_long_opts[] = {
    {"by", required_argument, NULL, 'b'},
    {"limit", required_argument, NULL, 'l'},
    {"cumulative", no_argument, NULL, 'c'},
    {"peak", no_argument, NULL, 'p'},
    {"oldest-first", no_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {"show", required_argument, NULL, 's'},
    {"suppressions", required_argument, NULL, 'S'},
    {"no-builtin-suppressions", no_argument, NULL, 'B'}};
#define NREPORT_OPTS (sizeof report_long_opts / sizeof report_long_opts[0])

static const char *optarg_order_name(rcy_stat_order order) {
    return order == RCY_ORDER_ALLOCATIONS ? "count"
           : order == RCY_ORDER_ALLOCATED ? "allocated"
                                          : "temporary";
}

/* "definite,indirect,reachable" or "all" into a mask of classes. */
static bool parse_show(const char *arg, unsigned *mask) {
    static const struct {
        const char *name;
        unsigned bits;
    } kinds[] = {
        {"definite", 1u << RCY_LEAK_DEFINITE},
        {"indirect", 1u << RCY_LEAK_INDIRECT},
        {"reachable", 1u << RCY_LEAK_REACHABLE},
        {"all", 1u << RCY_LEAK_DEFINITE | 1u << RCY_LEAK_INDIRECT | 1u << RCY_LEAK_REACHABLE}};
    unsigned m = 0;
    for (const char *p = arg; *p;) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (strlen(kinds[k].name) == len && strncmp(p, kinds[k].name, len) == 0) {
                m |= kinds[k].bits;
                found = true;
            }
        if (!found)
            return false;
        p += len + (p[len] == ',');
    }
    *mask = m;
    return m != 0;
}

/* Returns -1 to go on, else the exit code. */
static int parse_report_opts(int argc, char **argv, const char *usage, int nfiles,
                             const char *shortopts, report_opts *o) {
    struct option opts[NREPORT_OPTS + 1];
    size_t n = 0;
    for (size_t i = 0; i < NREPORT_OPTS; i++)
        if (strchr(shortopts, report_long_opts[i].val))
            opts[n++] = report_long_opts[i];
    opts[n] = (struct option){NULL, 0, NULL, 0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (!parse_key(optarg, &o->key, &o->order)) {
                cli_error("--by: expected lineno, filename, traceback, count, allocated or "
                          "temporary, got '%s'",
                          optarg);
                return CLI_EUSAGE;
            }
            break;
        case 'l':
            if (!cli_parse_long(optarg, 0, 1000000000, &o->limit)) {
                cli_error("--limit: expected a number >= 0, got '%s'", optarg);
                return CLI_EUSAGE;
            }
            break;
        case 'c':
            o->cumulative = true;
            break;
        case 'p':
            o->peak = true;
            break;
        case 'o':
            o->oldest_first = true;
            break;
        case 's':
            if (!parse_show(optarg, &o->show)) {
                cli_error("--show: expected definite, indirect, reachable or all, got '%s'",
                          optarg);
                return CLI_EUSAGE;
            }
            break;
        case 'S':
            if (o->nsupp == sizeof o->supp / sizeof o->supp[0]) {
                cli_error("--suppressions: at most %zu files", o->nsupp);
                return CLI_EUSAGE;
            }
            o->supp[o->nsupp++] = optarg;
            break;
        case 'B':
            o->no_builtin = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option(argv);
        }
    }
    if (o->cumulative && o->key == RCY_KEY_TRACEBACK) {
        /* as Python's statistics('traceback', cumulative=True) refuses */
        cli_error("--cumulative cannot be used with --by traceback");
        return CLI_EUSAGE;
    }
    if (o->order != RCY_ORDER_SIZE && (nfiles != 1 || o->peak)) {
        /* the counters cover the whole run: no peak picture has them, and
         * a diff of two runs' counters is not what diff compares */
        cli_error("--by %s cannot be used with %s", optarg_order_name(o->order),
                  nfiles != 1 ? "diff" : "--peak");
        return CLI_EUSAGE;
    }
    if (argc - optind != nfiles) {
        cli_error("expected %s, got %d argument%s (see --help)",
                  nfiles == 1 ? "one snapshot file" : "two snapshot files", argc - optind,
                  argc - optind == 1 ? "" : "s");
        return CLI_EUSAGE;
    }
    for (int i = 0; i < nfiles; i++)
        o->files[i] = argv[optind + i];
    return -1;
}

/* Text from the file (names, source lines) reaches stdout only through
 * cli_put_text. */
static void put_line(const char *text) {
    cli_put_text(stdout, text, false);
    putchar('\n');
}

/* Print with a heap buffer sized by the snprintf-style formatter. */
#define PRINT_FORMATTED(fn, item)                                                                  \
    do {                                                                                           \
        char small[512];                                                                           \
        int need = fn(item, small, sizeof small);                                                  \
        if (need < 0)                                                                              \
            break;                                                                                 \
        if ((size_t)need < sizeof small) {                                                         \
            put_line(small);                                                                       \
        } else {                                                                                   \
            char *big = malloc((size_t)need + 1);                                                  \
            if (big) {                                                                             \
                fn(item, big, (size_t)need + 1);                                                   \
                put_line(big);                                                                     \
                free(big);                                                                         \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void print_traceback(const rcy_traceback *tb, bool most_recent_first) {
    char *text = rcy_traceback_format(tb, 0, most_recent_first); /* 0: all frames */
    if (!text)
        return;
    cli_put_text(stdout, text, true);
    free(text);
}

/* One frame per line, allocating frame first: "function  file:line",
 * with the shared object when the symbol is unknown. */
static void print_stack(const rcy_traceback *tb, bool oldest_first) {
    if (!tb)
        return;
    for (size_t k = 0; k < tb->nframe; k++) {
        const rcy_frame *f = &tb->frames[oldest_first ? tb->nframe - 1 - k : k];
        bool have_file = f->filename && strcmp(f->filename, "?") != 0;
        fputs("    ", stdout);
        cli_put_text(stdout, f->function ? f->function : "??", false);
        if (have_file) {
            fputs("  ", stdout);
            cli_put_text(stdout, f->filename, false);
            printf(":%u", f->lineno);
        } else if (f->object) {
            fputs("  (", stdout);
            cli_put_text(stdout, f->object, false);
            printf(" at 0x%" PRIxPTR ")", f->address);
        } else if (f->address)
            printf("  (0x%" PRIxPTR ")", f->address);
        putchar('\n');
    }
    if (tb->total_nframe > tb->nframe)
        printf("    ... %zu older frame%s not kept (recycle run -n FRAMES keeps more)\n",
               tb->total_nframe - tb->nframe, tb->total_nframe - tb->nframe == 1 ? "" : "s");
}

/* Grouping a big snapshot is one library call: say so on a terminal. */
static rcy_stats *statistics_by(const rcy_snapshot *s, rcy_key_type key, bool cumulative,
                                rcy_stat_order order) {
    size_t n = 0;
    rcy_snapshot_traces(s, &n);
    cli_progress prog;
    cli_progress_begin(&prog, "grouping", n);
    cli_progress_note(&prog, 200000);
    rcy_stats *st = rcy_snapshot_statistics_by(s, key, cumulative, order);
    cli_progress_end(&prog);
    return st;
}

static rcy_stats *statistics(const rcy_snapshot *s, rcy_key_type key, bool cumulative) {
    return statistics_by(s, key, cumulative, RCY_ORDER_SIZE);
}

static int finish_output(void) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("writing the report failed");
        return CLI_EFILE;
    }
    return CLI_OK;
}

int cmd_top(int argc, char **argv) {
    report_opts o = {.key = RCY_KEY_LINENO, .limit = 10};
    int rc = parse_report_opts(argc, argv, top_usage, 1, "b:l:cph", &o);
    if (rc >= 0)
        return rc;
    rcy_snapshot *s = cli_load(o.files[0]);
    if (!s)
        return CLI_EFILE;
    const rcy_snapshot *src = s;
    if (o.peak) {
        src = cli_peak_traces(s, o.files[0]);
        if (!src) {
            rcy_snapshot_free(s);
            return CLI_EFILE;
        }
    }
    if (o.order != RCY_ORDER_SIZE && !rcy_snapshot_has_site_counters(src)) {
        cli_error("--by %s: %s has no per call site counters (written by a recycle before "
                  "format 1.2)",
                  optarg_order_name(o.order), o.files[0]);
        rcy_snapshot_free(s);
        return CLI_EFILE;
    }
    rcy_stats *st = statistics_by(src, o.key, o.cumulative, o.order);
    if (!st) {
        cli_error("out of memory");
        rcy_snapshot_free(s);
        return CLI_EFILE;
    }
    if (o.order == RCY_ORDER_SIZE)
        printf("[ Top %ld ]\n", o.limit ? o.limit : (long)st->len);
    else
        printf("[ Top %ld by %s ]\n", o.limit ? o.limit : (long)st->len,
               o.order == RCY_ORDER_ALLOCATIONS ? "allocations"
               : o.order == RCY_ORDER_ALLOCATED ? "bytes allocated"
                                                : "temporary allocations");
    size_t n = o.limit && (size_t)o.limit < st->len ? (size_t)o.limit : st->len;
    for (size_t i = 0; i < n; i++) {
        if (o.order != RCY_ORDER_SIZE) {
            PRINT_FORMATTED(rcy_statistic_format_counters, &st->items[i]);
            continue;
        }
        PRINT_FORMATTED(rcy_statistic_format, &st->items[i]);
        if (o.key == RCY_KEY_TRACEBACK)
            print_traceback(st->items[i].traceback, false);
    }
    rcy_stats_free(st);
    rcy_snapshot_free(s);
    return finish_output();
}

int cmd_diff(int argc, char **argv) {
    report_opts o = {.key = RCY_KEY_LINENO, .limit = 10};
    int rc = parse_report_opts(argc, argv, diff_usage, 2, "b:l:cph", &o);
    if (rc >= 0)
        return rc;
    rcy_snapshot *old = cli_load(o.files[0]);
    if (!old)
        return CLI_EFILE;
    rcy_snapshot *new = cli_load(o.files[1]);
    if (!new) {
        rcy_snapshot_free(old);
        return CLI_EFILE;
    }
    const rcy_snapshot *older = old, *newer = new;
    if (o.peak) {
        older = cli_peak_traces(old, o.files[0]);
        newer = older ? cli_peak_traces(new, o.files[1]) : NULL;
        if (!newer) {
            rcy_snapshot_free(old);
            rcy_snapshot_free(new);
            return CLI_EFILE;
        }
    }
    rcy_stat_diffs *d = rcy_snapshot_compare_to(newer, older, o.key, o.cumulative);
    if (!d) {
        cli_error("out of memory");
        rcy_snapshot_free(old);
        rcy_snapshot_free(new);
        return CLI_EFILE;
    }
    printf("[ Top %ld differences ]\n", o.limit ? o.limit : (long)d->len);
    size_t n = o.limit && (size_t)o.limit < d->len ? (size_t)o.limit : d->len;
    for (size_t i = 0; i < n; i++) {
        PRINT_FORMATTED(rcy_statistic_diff_format, &d->items[i]);
        if (o.key == RCY_KEY_TRACEBACK)
            print_traceback(d->items[i].traceback, false);
    }
    rcy_stat_diffs_free(d);
    rcy_snapshot_free(old);
    rcy_snapshot_free(new);
    return finish_output();
}

/* ---- recycle leaks --------------------------------------------------- */

/* What `recycle leaks` keeps of a file: the traces of one class (or any)
 * that no suppression matches; the decision is cached per traceback. */
typedef struct leak_pick {
    unsigned cls; /* an rcy_leak_class, or ANY_CLASS */
    cli_suppressions *sp;
    const rcy_traceback **key; /* open addressing, cap a power of two */
    cli_suppression **val;     /* NULL: not suppressed */
    size_t cap;
    size_t hidden_blocks, hidden_bytes;
} leak_pick;
#define ANY_CLASS 99u

static cli_suppression *pick_suppressed(leak_pick *p, const rcy_traceback *tb) {
    if (!p->cap)
        return cli_suppressed(p->sp, tb);
    size_t h = ((uintptr_t)tb >> 4) * 0x9E3779B97F4A7C15u & (p->cap - 1);
    while (p->key[h] && p->key[h] != tb)
        h = (h + 1) & (p->cap - 1);
    if (!p->key[h]) {
        p->key[h] = tb;
        p->val[h] = cli_suppressed(p->sp, tb);
    }
    return p->val[h];
}

static bool pick_keep(const rcy_trace *t, void *arg) {
    leak_pick *p = arg;
    if (p->cls != ANY_CLASS && t->leak != p->cls)
        return false;
    cli_suppression *hit = pick_suppressed(p, t->traceback);
    if (!hit)
        return true;
    hit->traces++;
    hit->blocks += t->count;
    hit->bytes += t->size;
    p->hidden_blocks += t->count;
    p->hidden_bytes += t->size;
    return false;
}

static const char *const class_title[] = {"Still allocated at exit", "Definitely lost",
                                          "Indirectly lost", "Still reachable"};

/* One class's section: its totals, then (when listed) its call stacks,
 * numbered from *num on. */
static int print_class(const rcy_snapshot *s, leak_pick *p, const report_opts *o, bool list,
                       size_t *num) {
    rcy_snapshot *sel = rcy_snapshot_select(s, pick_keep, p);
    rcy_stats *st = sel ? statistics(sel, RCY_KEY_TRACEBACK, false) : NULL;
    if (!st) {
        rcy_snapshot_free(sel);
        cli_error("out of memory");
        return CLI_EFILE;
    }
    size_t total, blocks;
    rcy_snapshot_totals(sel, &total, &blocks);
    const char *title = class_title[p->cls == ANY_CLASS ? 0 : p->cls];
    char sz[64];
    rcy_format_usize(total, sz, sizeof sz);
    if (st->len == 0)
        printf("%s: none\n", title);
    else
        printf("%s: %s in %zu block%s from %zu call stack%s%s\n", title, sz, blocks,
               blocks == 1 ? "" : "s", st->len, st->len == 1 ? "" : "s",
               list ? "" : " (--show reachable lists them)");
    size_t n = !list ? 0 : o->limit && (size_t)o->limit < st->len ? (size_t)o->limit : st->len;
    for (size_t i = 0; i < n; i++) {
        printf("\n#%zu: ", ++*num);
        PRINT_FORMATTED(rcy_statistic_format, &st->items[i]);
        print_stack(st->items[i].traceback, o->oldest_first);
    }
    if (list && n < st->len)
        printf("\n... and %zu more call stack%s (use --limit 0 for all)\n", st->len - n,
               st->len - n == 1 ? "" : "s");
    rcy_stats_free(st);
    rcy_snapshot_free(sel);
    return CLI_OK;
}

/* The suppressions' line: how much they hid, and by which patterns. */
static void print_suppressed(const leak_pick *p) {
    if (!p->hidden_blocks)
        return;
    char sz[64];
    rcy_format_usize(p->hidden_bytes, sz, sizeof sz);
    printf("\nSuppressed: %s in %zu block%s:", sz, p->hidden_blocks,
           p->hidden_blocks == 1 ? "" : "s");
    bool any_builtin = false;
    for (size_t i = 0; i < p->sp->n; i++) {
        const cli_suppression *c = &p->sp->v[i];
        if (!c->blocks)
            continue;
        any_builtin |= c->builtin;
        rcy_format_usize(c->bytes, sz, sizeof sz);
        printf(" %sleak:", c->builtin ? "built-in " : "");
        cli_put_text(stdout, c->pattern, false);
        printf(" (%s),", sz);
    }
    printf("%s\n", any_builtin ? " --no-builtin-suppressions lists them" : "");
}

static bool has_leak_classes(const rcy_snapshot *s) {
    size_t nt = 0;
    const rcy_trace *t = rcy_snapshot_traces(s, &nt);
    for (size_t i = 0; i < nt; i++)
        if (t[i].leak != RCY_LEAK_UNKNOWN)
            return true;
    return false;
}

static int leaks_report(const rcy_snapshot *s, const report_opts *o, cli_suppressions *sp) {
    size_t nt = 0;
    rcy_snapshot_traces(s, &nt);
    leak_pick p = {.sp = sp};
    for (p.cap = 16; p.cap < 2 * nt; p.cap *= 2)
        ;
    p.key = calloc(p.cap, sizeof *p.key);
    p.val = calloc(p.cap, sizeof *p.val);
    if (!p.key || !p.val)
        p.cap = 0; /* uncached */
    int rc = CLI_OK;
    size_t num = 0;
    if (!has_leak_classes(s)) {
        p.cls = ANY_CLASS;
        rc = print_class(s, &p, o, true, &num);
    } else {
        static const unsigned order[] = {RCY_LEAK_DEFINITE, RCY_LEAK_INDIRECT, RCY_LEAK_REACHABLE};
        for (size_t k = 0; k < 3 && rc == CLI_OK; k++) {
            p.cls = order[k];
            bool list = o->show & (1u << order[k]);
            if (k)
                putchar('\n');
            rc = print_class(s, &p, o, list, &num);
        }
    }
    if (rc == CLI_OK)
        print_suppressed(&p);
    free(p.key);
    free(p.val);
    return rc;
}

int cmd_leaks(int argc, char **argv) {
    report_opts o = {.key = RCY_KEY_TRACEBACK,
                     .limit = 0,
                     .show = 1u << RCY_LEAK_DEFINITE | 1u << RCY_LEAK_INDIRECT};
    int rc = parse_report_opts(argc, argv, leaks_usage, 1, "s:S:Bl:oh", &o);
    if (rc >= 0)
        return rc;
    cli_suppressions sp = {0};
    rc = o.no_builtin ? CLI_OK : cli_suppressions_add_builtin(&sp);
    for (size_t i = 0; i < o.nsupp && rc == CLI_OK; i++)
        rc = cli_suppressions_load(&sp, o.supp[i]);
    if (rc != CLI_OK) {
        cli_suppressions_free(&sp);
        return rc;
    }
    rcy_snapshot *s = cli_load(o.files[0]);
    if (!s) {
        cli_suppressions_free(&sp);
        return CLI_EFILE;
    }
    rc = leaks_report(s, &o, &sp);
    cli_suppressions_free(&sp);
    rcy_snapshot_free(s);
    return rc == CLI_OK ? finish_output() : rc;
}

static void print_size_line(const char *label, uint64_t bytes) {
    char sz[64];
    rcy_format_usize(bytes, sz, sizeof sz);
    printf("%-18s %s (%" PRIu64 " B)\n", label, sz, bytes);
}

static void print_info_line(const char *label, const char *value) {
    printf("%-18s ", label);
    put_line(value);
}

/* `stats`'s power-of-two histogram of the blocks still allocated at exit. */
static void print_size_histogram(const rcy_trace *traces, size_t nt) {
    uint64_t count[65] = {0}, bytes[65] = {0};
    int hi = 0, lo = 64;
    for (size_t i = 0; i < nt; i++) {
        /* A trace stands for `count` blocks of `size` bytes in all. */
        size_t n = traces[i].count ? traces[i].count : 1;
        size_t sz = traces[i].size / n;
        int b = sz == 0 ? 0 : 64 - __builtin_clzll((unsigned long long)sz);
        /* saturating: a crafted file's sizes can reach 2^64 */
        if (__builtin_add_overflow(count[b], n, &count[b]))
            count[b] = UINT64_MAX;
        if (__builtin_add_overflow(bytes[b], traces[i].size, &bytes[b]))
            bytes[b] = UINT64_MAX;
        if (b > hi)
            hi = b;
        if (b < lo)
            lo = b;
    }
    uint64_t maxc = 0;
    for (int b = lo; b <= hi; b++)
        if (count[b] > maxc)
            maxc = count[b];
    printf("\nsize histogram of the blocks still allocated at exit:\n");
    for (int b = lo; b <= hi; b++) {
        char from[32], to[32], sz[32];
        uint64_t a = b == 0 ? 0 : (uint64_t)1 << (b - 1);
        uint64_t z = b == 0 ? 0 : b == 64 ? UINT64_MAX : ((uint64_t)1 << b) - 1;
        rcy_format_usize(a, from, sizeof from);
        rcy_format_usize(z, to, sizeof to);
        rcy_format_usize(bytes[b], sz, sizeof sz);
        int bar = maxc ? (int)((double)count[b] * 40 / (double)maxc) : 0;
        if (count[b] && bar == 0)
            bar = 1;
        printf("  %9s .. %-9s %9" PRIu64 " blocks %10s  %.*s\n", from, to, count[b], sz, bar,
               "########################################");
    }
}

int cmd_stats(int argc, char **argv) {
    report_opts o = {.key = RCY_KEY_LINENO};
    int rc = parse_report_opts(argc, argv, stats_usage, 1, "h", &o);
    if (rc >= 0)
        return rc;
    rcy_snapshot *s = cli_load(o.files[0]);
    if (!s)
        return CLI_EFILE;
    print_info_line("file:", o.files[0]);
    static const char *const info[][2] = {{"command", "command:"},
                                          {"executable", "executable:"},
                                          {"pid", "pid:"},
                                          {"exit_status", "exit status:"},
                                          {"frames", "frames kept:"},
                                          {"leak_scan", "leak scan:"}};
    for (size_t i = 0; i < sizeof info / sizeof info[0]; i++) {
        const char *v = rcy_snapshot_get_info(s, info[i][0]);
        if (v)
            print_info_line(info[i][1], v);
    }
    size_t ns = 0;
    const rcy_sample *samples = rcy_snapshot_timeline(s, &ns);
    const rcy_tracemalloc_counters *c = rcy_snapshot_counters(s);
    if (ns > 0)
        printf("%-18s %.3f s (%zu timeline samples)\n",
               "duration:", (double)samples[ns - 1].time_ns / 1e9, ns);
    if (c) {
        printf("%-18s %" PRIu64 "\n", "allocations:", c->allocs);
        printf("%-18s %" PRIu64 "\n", "frees:", c->frees);
        print_size_line("peak traced:", c->peak);
        const char *rss = rcy_snapshot_get_info(s, "max_rss"); /* what tracing cannot see */
        if (rss)
            printf("%-18s %s\n", "peak RSS:", rss);
        if (ns > 0) {
            for (size_t i = 0; i < ns; i++) {
                if (samples[i].peak >= c->peak) {
                    printf("%-18s %.3f s\n", "peak reached by:", (double)samples[i].time_ns / 1e9);
                    break;
                }
            }
        }
    }
    size_t nt = 0, live = 0, blocks = 0;
    const rcy_trace *traces = rcy_snapshot_traces(s, &nt);
    rcy_snapshot_totals(s, &live, &blocks);
    print_size_line("still allocated:", live);
    printf("%-18s %zu\n", "blocks at exit:", blocks);

    if (nt > 0)
        print_size_histogram(traces, nt);
    rcy_snapshot_free(s);
    return finish_output();
}
