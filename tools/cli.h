/* tools/cli.h — internals shared by the files of the recycle command.
 * The command uses only the public API of <recycle.h>; everything here is
 * the command's own code (argument parsing, rendering, the ELF check). */
#ifndef RECYCLE_TOOLS_CLI_H
#define RECYCLE_TOOLS_CLI_H

#include <recycle.h>

#include "run_contract.h" /* cli_program_tag, shared with the preload library */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of the report subcommands (docs/cli.md lists them all). */
enum {
    CLI_OK = 0,
    CLI_EFILE = 1,  /* a snapshot file is missing, unreadable or corrupt, or output failed */
    CLI_EUSAGE = 2, /* bad command line                                 */
    /* recycle run: the program's own status, or these (as env(1) does): */
    CLI_RUN_EFAIL = 125,     /* recycle itself failed (incl. a static program, an
                              * output it cannot write, and a program that
                              * exited 0 without a snapshot written) */
    CLI_RUN_ENOEXEC = 126,   /* the program exists but cannot be run            */
    CLI_RUN_ENOTFOUND = 127, /* the program was not found                      */
};

/* ---- subcommands (each returns the process exit code) ------------- */
int cmd_run(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_leaks(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* ---- small helpers (recycle.c) ------------------------------------- */
extern const char *cli_prog; /* "recycle" or "recycle top", for messages */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse a decimal in [lo, hi]; false on junk or out of range. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);
/* getopt returned '?': say which option was unknown or lacked its value
 * (from optopt / argv[optind - 1]); returns CLI_EUSAGE. */
int cli_bad_option(char **argv);
/* True when argv[i] is a help flag. */
bool cli_is_help(const char *arg);
/* Write s with every terminal control character made visible: C0 and DEL
 * as \xNN (except '\n' when `newlines`), UTF-8 C1 controls as \u00NN, and
 * a backslash that would read as such an escape doubled.  File and
 * function names in a snapshot come from the traced program: printed raw,
 * an escape sequence among them would drive the reader's terminal. */
void cli_put_text(FILE *out, const char *s, bool newlines);
/* Load a snapshot file, printing one clear line on failure. */
rcy_snapshot *cli_load(const char *path);
/* The traces at s's peak of traced memory (top, diff and export --peak),
 * or NULL after saying why `file` holds none (nothing said when file is
 * NULL).  Without a copy at peak, a run that ended at its peak has them
 * all the same: the traces at exit. */
const rcy_snapshot *cli_peak_traces(const rcy_snapshot *s, const char *file);

/* ---- progress bar on a terminal (progress.c) ---------------------- */
typedef struct cli_progress {
    const char *label;
    uint64_t total, done;
    uint64_t last_ns;
    bool active; /* stderr is a terminal */
    bool shown;
} cli_progress;
void cli_progress_begin(cli_progress *p, const char *label, uint64_t total);
void cli_progress_update(cli_progress *p, uint64_t done);
/* Draw now, for one long step, when total >= big. */
void cli_progress_note(cli_progress *p, uint64_t big);
void cli_progress_end(cli_progress *p);

/* ---- ELF check (elfcheck.c) --------------------------------------- */
typedef enum cli_elf_kind {
    CLI_ELF_DYNAMIC = 0, /* has PT_INTERP or PT_DYNAMIC: preload works  */
    CLI_ELF_STATIC = 1,  /* an ELF executable with neither             */
    CLI_ELF_NOT_ELF = 2, /* not an ELF file (and not a #! script)      */
    CLI_ELF_SCRIPT = 3,  /* "#!": *interp receives the interpreter     */
    CLI_ELF_ERROR = 4    /* cannot read, or a malformed ELF            */
} cli_elf_kind;
/* Classify the file at path.  For a script, interp (of size len) receives
 * the interpreter path. */
cli_elf_kind cli_elf_classify(const char *path, char *interp, size_t len);
/* Follow #! up to 4 levels; the kind of the final executable.  `final`
 * receives its path. */
cli_elf_kind cli_elf_check_program(const char *path, char *final, size_t len);
/* execvp's search: the path of `file` through PATH, or false. */
bool cli_find_program(const char *file, char *out, size_t len, int *err);

/* ---- the report model and its renderers (render.c) ---------------- */

/* The values the report keeps per call stack: one flame graph (and
 * bottom-up table) each in the HTML page.  The JSON names them (metric
 * names below, in this order). */
typedef enum cli_metric {
    CLI_M_PEAK_BYTES,  /* live at the peak of traced memory */
    CLI_M_PEAK_BLOCKS, /* (the per traceback aggregates' counts) */
    CLI_M_ALLOCS,      /* per call site counters, over the whole run */
    CLI_M_ALLOCATED,
    CLI_M_TEMPORARY,
    CLI_M_EXIT_BYTES, /* still allocated at exit */
    CLI_M_EXIT_BLOCKS,
    CLI_M_LOST_BYTES, /* definitely lost at exit, minus the built-in suppressions */
    CLI_M_LOST_BLOCKS,
    CLI_NMETRICS
} cli_metric;
extern const char *const cli_metric_names[CLI_NMETRICS];

/* The distinct frames of a report, each once: its label in the flame
 * graph ("parse (conf.c:12)") and its function, which the bottom-up table
 * groups by (the label when the function is unknown). */
typedef struct cli_frames {
    char **label, **func;
    size_t n, cap;
    uint32_t *slot; /* open addressing on label: index + 1, 0 = empty */
    size_t nslot;
} cli_frames;

/* The frame id of label (added when new), or UINT32_MAX on out of memory. */
uint32_t cli_frame_id(cli_frames *f, const char *label, const char *func);

/* One node of the call tree: a frame, and each value summed over the
 * stacks through it.  A node's value never exceeds its parent's (per
 * metric): the JSON prunes whole subtrees by that. */
typedef struct cli_flame {
    uint32_t frame; /* a cli_frames id; UINT32_MAX for the root ("all") */
    uint64_t v[CLI_NMETRICS];
    struct cli_flame *parent;
    struct cli_flame *children; /* first child  */
    struct cli_flame *next;     /* next sibling */
} cli_flame;

typedef struct cli_row {
    char *where; /* "file.c:12" */
    char *text;  /* tracemalloc's line, e.g. "file.c:12: size=..., count=..., ..." */
    uint64_t size, count;
    uint64_t allocations, allocated, temporary; /* a counters table's */
} cli_row;

/* One table of top lines in the page. */
typedef struct cli_table {
    const char *id, *title; /* static strings */
    bool counters;          /* rows show the per call site counters */
    const char *empty;      /* static: what an empty table says */
    cli_row *rows;
    size_t nrows;
} cli_table;

typedef struct cli_report {
    char *title;
    /* label/value pairs shown at the top of the page */
    size_t nsummary;
    char *summary[16][2];
    const rcy_sample *samples; /* borrowed */
    size_t nsamples;
    bool have_peak;
    double peak_t; /* seconds */
    uint64_t peak; /* bytes */
    /* which metrics the file has: the traces at peak, the per call site
     * counters, the leak classes */
    bool have_peak_traces, have_counters, have_leaks;
    cli_frames frames;
    cli_flame *flame; /* the call tree's root, or NULL */
    cli_table tables[8];
    size_t ntables;
} cli_report;

/* The child of parent for frame (created when new); NULL on out of
 * memory.  Values are added with cli_flame_add_value. */
cli_flame *cli_flame_child(cli_flame *parent, uint32_t frame);
/* Add value to metric m of node and of every ancestor (saturating). */
void cli_flame_add_value(cli_flame *node, cli_metric m, uint64_t value);
cli_flame *cli_flame_new(uint32_t frame);
void cli_flame_free(cli_flame *f);
void cli_report_clear(cli_report *r);

/* mprof-style SVG of the timeline: 0 or -1 with errno on a write error. */
int cli_render_svg(const cli_report *r, FILE *out);
/* The data block of the HTML report (JSON, safe inside <script>). */
int cli_render_json(const cli_report *r, FILE *out);
/* The whole self-contained HTML page: the embedded template + the data. */
int cli_render_html(const cli_report *r, FILE *out);
/* Write s as a JSON string literal, escaping '<' so "</script>" cannot
 * appear. */
void cli_json_string(FILE *out, const char *s);

/* The bundled page template (generated from tools/html/dist/report.html). */
extern const unsigned char cli_report_template[];
extern const size_t cli_report_template_len;

/* ---- leak suppressions (suppress.c) --------------------------------- */

typedef struct cli_suppression {
    char *pattern;
    bool builtin;
    size_t traces, blocks, bytes; /* what it hid (the caller counts) */
} cli_suppression;

typedef struct cli_suppressions {
    cli_suppression *v;
    size_t n, cap;
} cli_suppressions;

/* LeakSanitizer's match of one name: '*' any run, '^' and '$' anchor,
 * otherwise anywhere in the name.  A NULL or empty name never matches. */
bool cli_pattern_match(const char *pat, const char *name);
/* The `leak:PATTERN` lines of a file ('#' comments, blank lines); CLI_OK,
 * CLI_EFILE (unreadable) or CLI_EUSAGE (another kind of line). */
int cli_suppressions_load(cli_suppressions *sp, const char *path);
/* The C library's one-time buffers (stdio, locale, time zone, loader). */
int cli_suppressions_add_builtin(cli_suppressions *sp);
/* The first suppression matching a frame of tb (function, file or module),
 * or NULL. */
cli_suppression *cli_suppressed(cli_suppressions *sp, const rcy_traceback *tb);
void cli_suppressions_free(cli_suppressions *sp);

#endif /* RECYCLE_TOOLS_CLI_H */
