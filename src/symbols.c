/* src/symbols.c — return addresses to file:line:function, with libdw
 * (elfutils' dwfl) when the build has it, else dladdr (function names of
 * exported symbols only).
 *
 * Called only when a snapshot is reported or dumped, never on the
 * allocation path.  Every answer is cached for the life of the process
 * (strings included), so the strings handed out stay valid.  The cache and
 * the libdw session are protected by the symbol lock.  Callers run with the
 * tracer's busy flag set: libdw's own mallocs are not traced.
 */
#define _GNU_SOURCE
#include "tracemalloc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RCY_HAVE_LIBDW
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

typedef struct sym_ent {
    uintptr_t pc;
    rcyi_symbol sym;
    struct sym_ent *next;
} sym_ent;

static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static sym_ent **sym_tab;
static size_t sym_cap, sym_count;

/* Interned strings: each distinct file/function/object name kept once. */
typedef struct str_ent {
    struct str_ent *next;
    char s[];
} str_ent;
static str_ent **str_tab;
static size_t str_cap, str_count;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const char *intern_str_locked(const char *s) {
    if (!s)
        return NULL;
    if (str_count * 2 >= str_cap) {
        size_t ncap = str_cap ? str_cap * 2 : 256;
        str_ent **nt = calloc(ncap, sizeof *nt);
        if (!nt)
            return NULL;
        for (size_t i = 0; i < str_cap; i++) {
            for (str_ent *e = str_tab[i], *nx; e; e = nx) {
                nx = e->next;
                size_t j = hash_str(e->s) & (ncap - 1);
                e->next = nt[j];
                nt[j] = e;
            }
        }
        free(str_tab);
        str_tab = nt;
        str_cap = ncap;
    }
    size_t j = hash_str(s) & (str_cap - 1);
    for (str_ent *e = str_tab[j]; e; e = e->next)
        if (strcmp(e->s, s) == 0)
            return e->s;
    size_t len = strlen(s);
    str_ent *e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    memcpy(e->s, s, len + 1);
    e->next = str_tab[j];
    str_tab[j] = e;
    str_count++;
    return e->s;
}

/* A function name without the compiler's clone suffix ("f.constprop.0",
 * "f.isra.0", "f.cold" are all f: no C identifier contains a dot). */
static const char *intern_fn_locked(const char *fn) {
    const char *dot = strchr(fn, '.');
    if (!dot || dot == fn)
        return intern_str_locked(fn);
    char buf[512];
    size_t n = (size_t)(dot - fn);
    if (n >= sizeof buf)
        return intern_str_locked(fn);
    memcpy(buf, fn, n);
    buf[n] = 0;
    return intern_str_locked(buf);
}

#ifdef RCY_HAVE_LIBDW
static Dwfl *dwfl;
static char *debuginfo_path;
static const Dwfl_Callbacks dwfl_cb = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

/* (Re)report the process's modules: done once, and again when an address
 * falls in no known module (a library loaded later). */
static void dwfl_refresh_locked(void) {
    if (!dwfl) {
        dwfl = dwfl_begin(&dwfl_cb);
        if (!dwfl)
            return;
    }
    dwfl_report_begin(dwfl);
    if (dwfl_linux_proc_report(dwfl, getpid()) != 0) {
        dwfl_report_end(dwfl, NULL, NULL);
        return;
    }
    dwfl_report_end(dwfl, NULL, NULL);
}

static bool resolve_dwfl_locked(uintptr_t pc, rcyi_symbol *out) {
    static bool refreshed_for_miss;
    if (!dwfl)
        dwfl_refresh_locked();
    if (!dwfl)
        return false;
    Dwarf_Addr a = (Dwarf_Addr)pc - 1;
    Dwfl_Module *m = dwfl_addrmodule(dwfl, a);
    if (!m && !refreshed_for_miss) {
        refreshed_for_miss = true;
        dwfl_refresh_locked();
        m = dwfl_addrmodule(dwfl, a);
    }
    if (!m)
        return false;
    const char *modname = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    out->object = intern_str_locked(modname);
    const char *fn = dwfl_module_addrname(m, a);
    if (fn)
        out->function = intern_fn_locked(fn);
    int line = 0;
    const char *src = NULL;
    Dwfl_Line *l = dwfl_module_getsrc(m, a);
    if (l)
        src = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
    if (!src) {
        /* .debug_aranges can be partial (clang emits none, gcc does, and
         * one binary may mix both): look at every unit's ranges. */
        Dwarf_Die *cu = NULL;
        Dwarf_Addr bias = 0;
        while ((cu = dwfl_module_nextcu(m, cu, &bias)) != NULL) {
            if (dwarf_haspc(cu, a - bias) <= 0)
                continue;
            Dwarf_Line *dl = dwarf_getsrc_die(cu, a - bias);
            if (dl) {
                src = dwarf_linesrc(dl, NULL, NULL);
                if (dwarf_lineno(dl, &line) != 0)
                    line = 0;
            }
            break;
        }
    }
    if (src) {
        const char *f = intern_str_locked(src);
        if (f) {
            out->file = f;
            out->line = line > 0 ? (unsigned)line : 0;
        }
    }
    return true;
}
#endif

static void resolve_locked(uintptr_t pc, rcyi_symbol *out) {
    out->file = "?";
    out->line = 0;
    out->function = NULL;
    out->object = NULL;
#ifdef RCY_HAVE_LIBDW
    if (resolve_dwfl_locked(pc, out) && out->function)
        return;
#endif
    Dl_info info;
    if (dladdr((void *)(pc - 1), &info)) {
        if (!out->function && info.dli_sname)
            out->function = intern_fn_locked(info.dli_sname);
        if (!out->object && info.dli_fname)
            out->object = intern_str_locked(info.dli_fname);
    }
}

void rcyi_symbolize(uintptr_t pc, rcyi_symbol *out) {
    pthread_mutex_lock(&sym_lock);
    if (sym_cap) {
        for (sym_ent *e = sym_tab[(pc * 0x9e3779b97f4a7c15ULL >> 20) & (sym_cap - 1)]; e;
             e = e->next) {
            if (e->pc == pc) {
                *out = e->sym;
                pthread_mutex_unlock(&sym_lock);
                return;
            }
        }
    }
    resolve_locked(pc, out);
    if (sym_count * 2 >= sym_cap) {
        size_t ncap = sym_cap ? sym_cap * 2 : 1024;
        sym_ent **nt = calloc(ncap, sizeof *nt);
        if (nt) {
            for (size_t i = 0; i < sym_cap; i++) {
                for (sym_ent *e = sym_tab[i], *nx; e; e = nx) {
                    nx = e->next;
                    size_t j = (e->pc * 0x9e3779b97f4a7c15ULL >> 20) & (ncap - 1);
                    e->next = nt[j];
                    nt[j] = e;
                }
            }
            free(sym_tab);
            sym_tab = nt;
            sym_cap = ncap;
        }
    }
    sym_ent *e = sym_cap ? malloc(sizeof *e) : NULL;
    if (e) {
        size_t j = (pc * 0x9e3779b97f4a7c15ULL >> 20) & (sym_cap - 1);
        e->pc = pc;
        e->sym = *out;
        e->next = sym_tab[j];
        sym_tab[j] = e;
        sym_count++;
    }
    pthread_mutex_unlock(&sym_lock);
}
