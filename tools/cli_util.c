/* tools/cli_util.c — helpers shared by the subcommands: messages, number
 * parsing, loading a snapshot file with one clear line on failure. */
#define _GNU_SOURCE
#include "cli.h"

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *cli_prog = "recycle";

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_bad_option(char **argv) {
    if (optopt && optopt != '?')
        cli_error("unknown option or missing value: '-%c' (see %s --help)", optopt, cli_prog);
    else
        cli_error("unknown option '%s' (see %s --help)", argv[optind - 1], cli_prog);
    return CLI_EUSAGE;
}

bool cli_parse_long(const char *s, long lo, long hi, long *out) {
    return rcy_run_parse_long(s, lo, hi, out);
}

bool cli_is_help(const char *arg) {
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* C++ names through libstdc++'s __cxa_demangle, when libstdc++ is
 * installed (dlopen: the command itself is C and links no C++). */
typedef char *cxa_demangle_fn(const char *, char *, size_t *, int *);
static cxa_demangle_fn *cxa_demangle;

static char *demangle(const char *name) {
    int status = 0;
    return cxa_demangle ? cxa_demangle(name, NULL, NULL, &status) : NULL;
}

static void set_demangler(void) {
    static bool tried;
    if (tried)
        return;
    tried = true;
    void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    if (h)
        *(void **)&cxa_demangle = dlsym(h, "__cxa_demangle");
    if (cxa_demangle)
        rcy_tracemalloc_set_demangler(demangle);
}

static void symbol_progress(size_t done, size_t total, void *arg) {
    cli_progress *p = arg;
    p->total = total;
    cli_progress_update(p, done);
}

rcy_snapshot *cli_load(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        cli_error("%s: is a directory", path);
        return NULL;
    }
    cli_progress prog;
    /* rcy_snapshot_load reads in one call: the bar says what is happening
     * for a big file and is gone when it is done. */
    cli_progress_begin(&prog, "reading", (uint64_t)st.st_size);
    cli_progress_note(&prog, 8u << 20);
    int err = 0;
    rcy_snapshot *s = rcy_snapshot_load(path, &err);
    cli_progress_end(&prog);
    if (!s) {
        if (err == RCY_EIO)
            cli_error("%s: %s", path, strerror(errno ? errno : EIO));
        else
            cli_error("%s: %s", path, rcy_strerror(err ? err : RCY_EFORMAT));
        return NULL;
    }
    /* A file of recycle run holds addresses: resolve them here, with a bar
     * when it takes long (the bar appears only after a moment). */
    set_demangler();
    cli_progress_begin(&prog, "symbols", 0);
    rcy_snapshot_symbolize(s, symbol_progress, &prog);
    cli_progress_end(&prog);
    return s;
}

void cli_put_text(FILE *out, const char *s, bool newlines) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if (ch == '\n' && newlines) {
            fputc('\n', out);
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(out, "\\x%02x", ch);
        } else if (ch == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fprintf(out, "\\u%04x", p[1]); /* a C1 control in UTF-8 (CSI is U+009B) */
            p++;
        } else if (ch == '\\' && (p[1] == 'x' || p[1] == 'u')) {
            fputs("\\\\", out); /* so an escape in the text cannot pass for one of ours */
        } else {
            fputc(ch, out);
        }
    }
}

/* The message says why a file has no copy at peak: recycle run's rule, or
 * the library's switch for other writers. */
const rcy_snapshot *cli_peak_traces(const rcy_snapshot *s, const char *file) {
    const rcy_snapshot *p = rcy_snapshot_at_peak(s);
    if (p)
        return p;
    const rcy_tracemalloc_counters *c = rcy_snapshot_counters(s);
    if (c && c->current >= c->peak)
        return s;
    const char *tool = rcy_snapshot_get_info(s, "tool");
    if (!file)
        return NULL;
    if (tool && strncmp(tool, "recycle run", 11) == 0)
        cli_error("%s holds no traces at peak: recycle run copies them when traced memory drops "
                  "after growing by more than 1/64, and it never did in this run",
                  file);
    else
        cli_error("%s holds no traces at peak (recycle run writes them; rcy_snapshot_dump "
                  "does when the tracer kept them, see rcy_tracemalloc_keep_peak)",
                  file);
    return NULL;
}
