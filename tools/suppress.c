/* tools/suppress.c — leak suppressions for `recycle leaks`: LeakSanitizer's
 * `leak:PATTERN` lines from a file, and the built-in list of the C
 * library's one-time buffers.  A pattern matches a call stack when it
 * matches the function, the source file or the module of any of its
 * frames: '*' matches any run of characters, a leading '^' and a trailing
 * '$' anchor the pattern, and otherwise it may match anywhere in the name
 * (LeakSanitizer's rules). */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the C library and its loader allocate once and keep to the end
 * (stdio buffers, locale and time zone data, the loader's own tables,
 * NSS modules): reachable or not, none is the program's leak. */
static const char *const builtin[] = {
    "_IO_file_doallocate", /* stdio's buffers (stdout, a FILE's first write) */
    "^_dl_",               /* the dynamic loader: link maps, TLS, dlopen */
    "ld-linux",            /* anything allocated inside the loader itself */
    "^setlocale$",
    "^_nl_", /* locale data */
    "^tzset$",
    "^__tzfile_read$",
    "^tzset_internal$", /* time zone data */
    "^__nss_",
    "^nss_", /* name-service modules */
    "^__libc_dlopen",
    "^__libc_setlocale_lock",
};

/* The glob match of s against p[0..n) ('*' only). */
static bool glob(const char *p, size_t n, const char *s) {
    size_t i = 0, star = SIZE_MAX;
    const char *mark = NULL;
    while (*s) {
        if (i < n && p[i] == '*') {
            star = i++;
            mark = s;
        } else if (i < n && p[i] == *s) {
            i++;
            s++;
        } else if (star != SIZE_MAX) {
            i = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (i < n && p[i] == '*')
        i++;
    return i == n;
}

bool cli_pattern_match(const char *pat, const char *name) {
    if (!name || !*name)
        return false;
    size_t n = strlen(pat);
    bool head = n && pat[0] == '^';
    bool tail = n > (size_t)head && pat[n - 1] == '$';
    size_t core = n - (size_t)head - (size_t)tail;
    /* an unanchored end is a '*' there */
    char small[256], *g = core + 3 <= sizeof small ? small : malloc(core + 3);
    if (!g)
        return false;
    size_t k = 0;
    if (!head)
        g[k++] = '*';
    memcpy(g + k, pat + head, core);
    k += core;
    if (!tail)
        g[k++] = '*';
    bool m = glob(g, k, name);
    if (g != small)
        free(g);
    return m;
}

static int add(cli_suppressions *sp, const char *pat, bool builtin_entry) {
    if (sp->n == sp->cap) {
        size_t ncap = sp->cap ? sp->cap * 2 : 16;
        cli_suppression *nv = realloc(sp->v, ncap * sizeof *nv);
        if (!nv)
            return CLI_EFILE;
        sp->v = nv;
        sp->cap = ncap;
    }
    char *copy = strdup(pat);
    if (!copy)
        return CLI_EFILE;
    sp->v[sp->n++] = (cli_suppression){copy, builtin_entry, 0, 0, 0};
    return CLI_OK;
}

int cli_suppressions_add_builtin(cli_suppressions *sp) {
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (add(sp, builtin[i], true) != CLI_OK)
            return CLI_EFILE;
    return CLI_OK;
}

int cli_suppressions_load(cli_suppressions *sp, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        cli_error("cannot read suppressions %s: %s", path, strerror(errno));
        return CLI_EFILE;
    }
    char line[4096];
    int rc = CLI_OK;
    for (unsigned no = 1; rc == CLI_OK && fgets(line, sizeof line, f); no++) {
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        char *s = line + strspn(line, " \t");
        char *end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        if (!*s || *s == '#')
            continue;
        if (strncmp(s, "leak:", 5) != 0 || !s[5]) {
            cli_error("%s:%u: expected 'leak:PATTERN', got '%s'", path, no, s);
            rc = CLI_EUSAGE;
            break;
        }
        rc = add(sp, s + 5, false);
    }
    fclose(f);
    return rc;
}

static bool frame_matches(const char *pat, const rcy_frame *fr) {
    return cli_pattern_match(pat, fr->function) || cli_pattern_match(pat, fr->filename) ||
           cli_pattern_match(pat, fr->object);
}

cli_suppression *cli_suppressed(cli_suppressions *sp, const rcy_traceback *tb) {
    if (!tb)
        return NULL;
    for (size_t i = 0; i < sp->n; i++)
        for (size_t k = 0; k < tb->nframe; k++)
            if (frame_matches(sp->v[i].pattern, &tb->frames[k]))
                return &sp->v[i];
    return NULL;
}

void cli_suppressions_free(cli_suppressions *sp) {
    for (size_t i = 0; i < sp->n; i++)
        free(sp->v[i].pattern);
    free(sp->v);
    *sp = (cli_suppressions){0};
}
