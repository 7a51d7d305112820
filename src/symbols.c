/* src/symbols.c — return addresses to file:line:function, with libdw
 * (elfutils' dwfl) when the build has it, else dladdr (function names of
 * exported symbols only): of this process (rcyi_symbolize), or of another
 * process from the modules it recorded (rcyi_modules_capture in that
 * process, rcyi_symbolize_in in the reader: recycle run's files).
 *
 * Called only when a snapshot is reported or dumped, never on the
 * allocation path.  Every answer is cached for the life of the process
 * (strings included), so the strings handed out stay valid.  The cache and
 * the libdw session are protected by the symbol lock.  Callers run with the
 * tracer's busy flag set: libdw's own mallocs are not traced.
 *
 * API: src/symbols.h.
 */
#define _GNU_SOURCE
#include "symbols.h"
#include "tracemalloc.h"
#include "hash.h"

#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RCY_HAVE_LIBDW
#include <dwarf.h>
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
    return rcyi_hash_str(s);
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

rcy_demangle_fn *rcyi_demangler;

void rcy_tracemalloc_set_demangler(rcy_demangle_fn *fn) {
    pthread_mutex_lock(&sym_lock);
    rcyi_demangler = fn;
    pthread_mutex_unlock(&sym_lock);
}

/* A function name without the compiler's clone suffix ("f.constprop.0",
 * "f.isra.0", "f.cold" are all f: no C identifier contains a dot) or a
 * symbol version ("f@GLIBC_2.34"), demangled when a demangler is set. */
static const char *intern_fn_locked(const char *fn) {
    const char *dot = fn + strcspn(fn, ".@");
    if (!*dot)
        dot = NULL;
    char buf[512];
    if (dot && dot != fn && (size_t)(dot - fn) < sizeof buf) {
        size_t n = (size_t)(dot - fn);
        memcpy(buf, fn, n);
        buf[n] = 0;
        fn = buf;
    }
    if (rcyi_demangler && fn[0] == '_' && fn[1] == 'Z') {
        int prev = rcyi_tm_enter();
        char *d = rcyi_demangler(fn);
        rcyi_tm_exit(prev);
        if (d) {
            const char *r = intern_str_locked(d);
            free(d);
            if (r)
                return r;
        }
    }
    return intern_str_locked(fn);
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
/* A module's function symbols, sorted (below); for this process's modules
 * kept per module until the modules are reported again. */
struct fsyms;
static struct fsyms *load_fsyms(Dwfl_Module *dm);
static const char *fsyms_find(const struct fsyms *f, uintptr_t a);
static void fsyms_free(struct fsyms *f);
static struct {
    Dwfl_Module *m;
    struct fsyms *f;
} live_fsyms[128];
static size_t nlive_fsyms;

static const char *live_addrname_locked(Dwfl_Module *m, Dwarf_Addr a) {
    for (size_t i = 0; i < nlive_fsyms; i++)
        if (live_fsyms[i].m == m)
            return live_fsyms[i].f ? fsyms_find(live_fsyms[i].f, (uintptr_t)a) : NULL;
    if (nlive_fsyms == sizeof live_fsyms / sizeof live_fsyms[0])
        return dwfl_module_addrname(m, a);
    struct fsyms *f = load_fsyms(m);
    live_fsyms[nlive_fsyms].m = m;
    live_fsyms[nlive_fsyms++].f = f;
    return f ? fsyms_find(f, (uintptr_t)a) : NULL;
}

static void dwfl_refresh_locked(void) {
    for (size_t i = 0; i < nlive_fsyms; i++)
        fsyms_free(live_fsyms[i].f);
    nlive_fsyms = 0;
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

/* The source file and line of address a (and, when asked, its unit and the
 * unit's bias).  .debug_aranges can be partial (clang emits none, gcc
 * does, and one binary may mix both): without an answer from them, every
 * unit's ranges are looked at. */
static const char *src_line(Dwfl_Module *m, Dwarf_Addr a, int *line, Dwarf_Die *cu_out,
                            Dwarf_Addr *bias_out) {
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dwfl_module_addrdie(m, a, &bias);
    if (!cu) {
        cu = NULL;
        while ((cu = dwfl_module_nextcu(m, cu, &bias)) != NULL)
            if (dwarf_haspc(cu, a - bias) > 0)
                break;
    }
    if (cu && cu_out) {
        *cu_out = *cu;
        *bias_out = bias;
    }
    const char *src = NULL;
    Dwfl_Line *l = dwfl_module_getsrc(m, a);
    if (l)
        src = dwfl_lineinfo(l, NULL, line, NULL, NULL, NULL);
    if (!src && cu) {
        Dwarf_Line *dl = dwarf_getsrc_die(cu, a - bias);
        if (dl) {
            src = dwarf_linesrc(dl, NULL, NULL);
            if (dwarf_lineno(dl, line) != 0)
                *line = 0;
        }
    }
    return src;
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
    const char *fn = live_addrname_locked(m, a);
    if (fn)
        out->function = intern_fn_locked(fn);
    GElf_Addr mbias = 0;
    if (!fn && modname && dwfl_module_getelf(m, &mbias)) {
        /* as a reader of the file would name it (rcyi_symbolize_in) */
        const char *base = strrchr(modname, '/');
        char buf[512];
        snprintf(buf, sizeof buf, "%s+0x%llx", base ? base + 1 : modname,
                 (unsigned long long)(pc - mbias));
        out->function = intern_str_locked(buf);
    }
    int line = 0;
    const char *src = src_line(m, a, &line, NULL, NULL);
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
    *out = (rcyi_symbol){"?", 0, NULL, NULL, NULL};
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

/* ---- modules: recorded in the traced process, resolved in another ------- */

typedef struct mod_acc {
    const uintptr_t *pcs; /* sorted */
    size_t npcs;
    rcyi_module *mods;
    size_t n, cap;
    size_t strbytes;
    char (*bids)[41];
    bool oom;
} mod_acc;

/* The NT_GNU_BUILD_ID note of a loaded object, as hex in out[41]. */
static void note_build_id(const struct dl_phdr_info *info, char out[41]) {
    out[0] = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            size_t name = (nh->n_namesz + 3u) & ~3u, desc = (nh->n_descsz + 3u) & ~3u;
            const unsigned char *d = p + sizeof *nh + name;
            if ((size_t)(end - p) < sizeof *nh + name + desc)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= 20) {
                static const char hex[] = "0123456789abcdef";
                for (unsigned k = 0; k < nh->n_descsz; k++) {
                    out[2 * k] = hex[d[k] >> 4];
                    out[2 * k + 1] = hex[d[k] & 15];
                }
                out[2 * nh->n_descsz] = 0;
                return;
            }
            p += sizeof *nh + name + desc;
        }
    }
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    mod_acc *a = arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (s < lo)
            lo = s;
        if (s + ph->p_memsz > hi)
            hi = s + ph->p_memsz;
    }
    if (lo >= hi)
        return 0;
    /* any of the (sorted) addresses inside? */
    size_t l = 0, r = a->npcs;
    while (l < r) {
        size_t m = (l + r) / 2;
        if (a->pcs[m] < lo)
            l = m + 1;
        else
            r = m;
    }
    if (l == a->npcs || a->pcs[l] >= hi)
        return 0;
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 16;
        rcyi_module *nm = realloc(a->mods, ncap * sizeof *nm);
        char(*nb)[41] = realloc(a->bids, ncap * sizeof *nb);
        if (nm)
            a->mods = nm;
        if (nb)
            a->bids = nb;
        if (!nm || !nb) {
            a->oom = true;
            return 1;
        }
        a->cap = ncap;
    }
    const char *name = info->dlpi_name;
    char exe[PATH_MAX];
    if (!name || !*name) {
        ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[k > 0 ? k : 0] = 0;
        name = exe;
    }
    char *copy = strdup(name);
    if (!copy) {
        a->oom = true;
        return 1;
    }
    note_build_id(info, a->bids[a->n]);
    a->mods[a->n] = (rcyi_module){copy, NULL, info->dlpi_addr, lo, hi};
    a->strbytes += strlen(copy) + 1 + strlen(a->bids[a->n]) + 1;
    a->n++;
    return 0;
}

static int cmp_uptr(const void *x, const void *y) {
    uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
    return a < b ? -1 : a > b;
}

static int cmp_mod(const void *x, const void *y) {
    const rcyi_module *a = x, *b = y;
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

rcyi_modset *rcyi_modules_capture(const uintptr_t *pcs, size_t n) {
    rcyi_modset *m = calloc(1, sizeof *m);
    uintptr_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!m || !sorted) {
        free(m);
        free(sorted);
        return NULL;
    }
    memcpy(sorted, pcs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_uptr);
    mod_acc a = {.pcs = sorted, .npcs = n};
    dl_iterate_phdr(add_module, &a);
    free(sorted);
    char *blob = a.oom ? NULL : malloc(a.strbytes ? a.strbytes : 1);
    if (!blob) {
        for (size_t i = 0; i < a.n; i++)
            free((char *)a.mods[i].path);
        free(a.mods);
        free(a.bids);
        free(m);
        return NULL;
    }
    size_t at = 0;
    for (size_t i = 0; i < a.n; i++) {
        size_t pl = strlen(a.mods[i].path) + 1, bl = strlen(a.bids[i]) + 1;
        memcpy(blob + at, a.mods[i].path, pl);
        free((char *)a.mods[i].path);
        a.mods[i].path = blob + at;
        at += pl;
        memcpy(blob + at, a.bids[i], bl);
        a.mods[i].build_id = bl > 1 ? blob + at : NULL;
        at += bl;
    }
    free(a.bids);
    if (a.n) /* a.mods is NULL when no address lies in a module */
        qsort(a.mods, a.n, sizeof *a.mods, cmp_mod);
    m->n = a.n;
    m->mods = a.mods;
    m->strings = blob;
    return m;
}

/* Resolver state of one module set: the answers so far (open addressing,
 * pc -> symbol) and, with libdw, an offline session holding the module
 * files that could be opened and match their build-id. */
typedef struct rcyi_symstate {
    uintptr_t *keys; /* 0 = empty */
    rcyi_symbol *vals;
    size_t cap, count;
#ifdef RCY_HAVE_LIBDW
    Dwfl *dwfl;
    Dwfl_Module **dmods;      /* per module of the set, NULL when unusable */
    struct fsyms **fsyms;     /* per module: its functions sorted, lazily */
    struct inl_node *inlined; /* the callers of inlined code, for freeing */
#endif
} rcyi_symstate;

#ifdef RCY_HAVE_LIBDW
typedef struct inl_node {
    struct inl_node *next;
    rcyi_symbol sym;
} inl_node;
#endif

#ifdef RCY_HAVE_LIBDW
/* A module's function symbols sorted by address: libdw's
 * dwfl_module_addrname scans every symbol on each call (5 s for cc1's
 * 2,300 distinct addresses); sorted once, each lookup is a binary search. */
typedef struct fsym {
    uintptr_t addr, size;
    const char *name; /* libelf's string, valid while the session lives */
} fsym;
typedef struct fsyms {
    size_t n;
    fsym *s;
} fsyms;
#endif

void rcyi_modset_free(rcyi_modset *m) {
    if (!m)
        return;
    if (m->sym) {
#ifdef RCY_HAVE_LIBDW
        if (m->sym->dwfl)
            dwfl_end(m->sym->dwfl);
        free(m->sym->dmods);
        for (size_t i = 0; m->sym->fsyms && i < m->n; i++)
            fsyms_free(m->sym->fsyms[i]);
        for (inl_node *n = m->sym->inlined, *nx; n; n = nx) {
            nx = n->next;
            free(n);
        }
        free(m->sym->fsyms);
#endif
        free(m->sym->keys);
        free(m->sym->vals);
        free(m->sym);
    }
    free(m->mods);
    free(m->strings);
    free(m);
}

#ifdef RCY_HAVE_LIBDW
/* Separate debug files are looked up by build-id and .gnu_debuglink in the
 * usual directories; never through debuginfod (a network fetch per module)
 * unless RCY_DEBUGINFOD=1 asks for it. */
static int find_debuginfo_local(Dwfl_Module *mod, void **userdata, const char *modname,
                                Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                                GElf_Word debuglink_crc, char **debuginfo_file_name) {
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                          debuglink_crc, debuginfo_file_name);
    if (fd >= 0)
        return fd;
    const char *dbg = getenv("RCY_DEBUGINFOD");
    if (dbg && strcmp(dbg, "1") == 0)
        return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                            debuglink_crc, debuginfo_file_name);
    return -1;
}

static char *offline_debuginfo_path;
static const Dwfl_Callbacks offline_cb = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo_local,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &offline_debuginfo_path,
};

static bool build_id_matches(Dwfl_Module *dm, const char *want) {
    if (!want)
        return true;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(dm, &bits, &vaddr);
    if (len <= 0 || (size_t)len * 2 != strlen(want))
        return false;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < len; i++)
        if (want[2 * i] != hex[bits[i] >> 4] || want[2 * i + 1] != hex[bits[i] & 15])
            return false;
    return true;
}

static int cmp_fsym(const void *x, const void *y) {
    const fsym *a = x, *b = y;
    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    return a->size > b->size ? -1 : a->size < b->size; /* the sized one first */
}

static void fsyms_free(fsyms *f) {
    if (f)
        free(f->s);
    free(f);
}

static fsyms *load_fsyms(Dwfl_Module *dm) {
    fsyms *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    int n = dwfl_module_getsymtab(dm);
    if (n <= 0)
        return f;
    f->s = malloc((size_t)n * sizeof *f->s);
    if (!f->s)
        return f;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(dm, i, &sym, &addr, NULL, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info);
        if (!name || !*name || (type != STT_FUNC && type != STT_GNU_IFUNC) ||
            sym.st_shndx == SHN_UNDEF)
            continue;
        f->s[f->n++] = (fsym){(uintptr_t)addr, (uintptr_t)sym.st_size, name};
    }
    qsort(f->s, f->n, sizeof *f->s, cmp_fsym);
    return f;
}

/* The function holding address a: the nearest symbol at or below it that
 * covers it (or has no size, as hand-written assembly often has). */
static const char *fsyms_find(const fsyms *f, uintptr_t a) {
    size_t l = 0, r = f->n;
    while (l < r) {
        size_t k = (l + r) / 2;
        if (f->s[k].addr <= a)
            l = k + 1;
        else
            r = k;
    }
    for (size_t k = l; k-- > 0;) {
        const fsym *y = &f->s[k];
        if (a < y->addr + y->size || (y->size == 0 && k + 1 == l))
            return y->name;
        if (y->addr != f->s[l - 1].addr)
            break; /* only symbols at the same address are alternatives */
    }
    return NULL;
}

/* A DIE's name, through its abstract origin or specification: the
 * linkage name when there is one (demangled, it says which class). */
static const char *die_name(Dwarf_Die *d) {
    Dwarf_Attribute at;
    const char *n = NULL;
    if (dwarf_attr_integrate(d, DW_AT_linkage_name, &at) ||
        dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &at))
        n = dwarf_formstring(&at);
    if (!n && dwarf_attr_integrate(d, DW_AT_name, &at))
        n = dwarf_formstring(&at);
    return n;
}

/* Code inlined at address a: out becomes the innermost inlined function
 * (at a's line, already in out), each caller a symbol of its own at the
 * line of its inlined call, up to the real function. */
static void expand_inlined_locked(rcyi_symstate *st, Dwarf_Die *cu, Dwarf_Addr a,
                                  rcyi_symbol *out) {
    Dwarf_Die *scopes = NULL;
    int ns = dwarf_getscopes(cu, a, &scopes);
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    rcyi_symbol *cur = out;
    const char *outer_name = out->function; /* the symbol table's */
    for (int i = 0; i < ns; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
            continue;
        const char *name = die_name(&scopes[i]);
        if (tag == DW_TAG_subprogram) {
            /* the real function: out's symbol-table name stays when this
             * is out itself */
            if (cur != out)
                cur->function = outer_name ? outer_name : name ? intern_fn_locked(name) : NULL;
            break;
        }
        if (name)
            cur->function = intern_fn_locked(name);
        Dwarf_Attribute at;
        Dwarf_Word file = 0, line = 0;
        if (dwarf_attr(&scopes[i], DW_AT_call_file, &at))
            dwarf_formudata(&at, &file);
        if (dwarf_attr(&scopes[i], DW_AT_call_line, &at))
            dwarf_formudata(&at, &line);
        if (!files && dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
            files = NULL;
        const char *fname = files && file < nfiles ? dwarf_filesrc(files, file, NULL, NULL) : NULL;
        inl_node *node = calloc(1, sizeof *node); /* freed with the module set */
        if (!node)
            break;
        node->next = st->inlined;
        st->inlined = node;
        rcyi_symbol *caller = &node->sym;
        caller->file = fname ? intern_str_locked(fname) : NULL;
        if (!caller->file)
            caller->file = "?";
        caller->line = (unsigned)line;
        caller->object = out->object;
        caller->function = outer_name; /* until a scope names it */
        cur->inlined_into = caller;
        cur = caller;
    }
    free(scopes);
}

static void offline_open_locked(rcyi_modset *m) {
    rcyi_symstate *st = m->sym;
    st->dmods = calloc(m->n ? m->n : 1, sizeof *st->dmods);
    st->fsyms = calloc(m->n ? m->n : 1, sizeof *st->fsyms);
    st->dwfl = st->dmods && st->fsyms ? dwfl_begin(&offline_cb) : NULL;
    if (!st->dwfl)
        return;
    dwfl_report_begin(st->dwfl);
    for (size_t i = 0; i < m->n; i++) {
        const rcyi_module *md = &m->mods[i];
        struct stat sb;
        if (md->path[0] != '/' || stat(md->path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
            access(md->path, R_OK) != 0)
            continue; /* [vdso], a file no longer there, or no file (a FIFO never blocks us) */
        Dwfl_Module *dm =
            dwfl_report_elf(st->dwfl, md->path, md->path, -1, (GElf_Addr)md->bias, false);
        if (dm && build_id_matches(dm, md->build_id))
            st->dmods[i] = dm;
    }
    dwfl_report_end(st->dwfl, NULL, NULL);
}
#endif

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void resolve_in_locked(rcyi_modset *m, uintptr_t pc, rcyi_symbol *out) {
    *out = (rcyi_symbol){"?", 0, NULL, NULL, NULL};
    size_t l = 0, r = m->n;
    while (l < r) {
        size_t k = (l + r) / 2;
        if (m->mods[k].hi <= pc - 1)
            l = k + 1;
        else
            r = k;
    }
    if (l == m->n || m->mods[l].lo > pc - 1)
        return;
    const rcyi_module *md = &m->mods[l];
    out->object = intern_str_locked(md->path);
#ifdef RCY_HAVE_LIBDW
    Dwfl_Module *dm = m->sym->dmods ? m->sym->dmods[l] : NULL;
    if (dm) {
        Dwarf_Addr a = (Dwarf_Addr)pc - 1;
        if (!m->sym->fsyms[l])
            m->sym->fsyms[l] = load_fsyms(dm);
        const char *fn = m->sym->fsyms[l] ? fsyms_find(m->sym->fsyms[l], (uintptr_t)a) : NULL;
        if (fn)
            out->function = intern_fn_locked(fn);
        int line = 0;
        Dwarf_Die cu;
        Dwarf_Addr cbias = 0;
        cu.addr = NULL;
        const char *src = src_line(dm, a, &line, &cu, &cbias);
        if (src) {
            out->file = intern_str_locked(src);
            if (!out->file)
                out->file = "?";
            out->line = line > 0 ? (unsigned)line : 0;
            if (cu.addr)
                expand_inlined_locked(m->sym, &cu, a - cbias, out);
        }
    }
#endif
    if (!out->function) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s+0x%llx", base_name(md->path),
                 (unsigned long long)(pc - md->bias));
        out->function = intern_str_locked(buf);
    }
}

void rcyi_symbolize_in(rcyi_modset *m, uintptr_t pc, rcyi_symbol *out) {
    pthread_mutex_lock(&sym_lock);
    if (!m->sym) {
        m->sym = calloc(1, sizeof *m->sym);
#ifdef RCY_HAVE_LIBDW
        if (m->sym)
            offline_open_locked(m);
#endif
    }
    rcyi_symstate *st = m->sym;
    if (st && st->cap && pc) {
        for (size_t j = (pc * 0x9e3779b97f4a7c15ULL >> 20) & (st->cap - 1); st->keys[j];
             j = (j + 1) & (st->cap - 1)) {
            if (st->keys[j] == pc) {
                *out = st->vals[j];
                pthread_mutex_unlock(&sym_lock);
                return;
            }
        }
    }
    resolve_in_locked(m, pc, out);
    if (st && pc && (st->count + 1) * 2 > st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 1024;
        uintptr_t *nk = calloc(ncap, sizeof *nk);
        rcyi_symbol *nv = malloc(ncap * sizeof *nv);
        if (nk && nv) {
            for (size_t i = 0; i < st->cap; i++) {
                if (!st->keys[i])
                    continue;
                size_t j = (st->keys[i] * 0x9e3779b97f4a7c15ULL >> 20) & (ncap - 1);
                while (nk[j])
                    j = (j + 1) & (ncap - 1);
                nk[j] = st->keys[i];
                nv[j] = st->vals[i];
            }
            free(st->keys);
            free(st->vals);
            st->keys = nk;
            st->vals = nv;
            st->cap = ncap;
        } else {
            free(nk);
            free(nv);
        }
    }
    if (st && pc && (st->count + 1) * 2 <= st->cap) {
        size_t j = (pc * 0x9e3779b97f4a7c15ULL >> 20) & (st->cap - 1);
        while (st->keys[j])
            j = (j + 1) & (st->cap - 1);
        st->keys[j] = pc;
        st->vals[j] = *out;
        st->count++;
    }
    pthread_mutex_unlock(&sym_lock);
}
