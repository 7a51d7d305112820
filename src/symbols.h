/* src/symbols.h — return addresses to file:line:function (symbols.c,
 * libdw when the build has it): of this process, or of another process
 * from the modules it recorded.  Used by the snapshot code when a
 * snapshot is reported or written, never on the allocation path.
 *
 * Protected by the symbol lock (symbols.c): the address -> symbol cache,
 * the libdw session, the demangler, and each module set's resolver state
 * (its cache, offline libdw session and sorted symbols).  Strings handed
 * out live as long as the process.
 */
#ifndef RCY_SRC_SYMBOLS_H
#define RCY_SRC_SYMBOLS_H

#include "recycle.h"

#include <stddef.h>
#include <stdint.h>

/* ---- symbols.c: addresses to file:line:function ----------------------- */

typedef struct rcyi_symbol {
    const char *file;     /* "?" when unknown */
    unsigned line;        /* 0 when unknown   */
    const char *function; /* NULL when unknown */
    const char *object;   /* shared object path, or NULL */
    /* When the address is in code inlined into another function: that
     * function, at the line of the inlined call (a chain up to the real
     * function; owned by the module set that resolved it).  NULL
     * otherwise. */
    const struct rcyi_symbol *inlined_into;
} rcyi_symbol;

/* Names that start with "_Z" go through this when set (C++ demangling
 * lives in the caller, so the library needs nothing beyond libc). */
extern rcy_demangle_fn *rcyi_demangler;

/* Resolve a return address (looks up pc - 1, the call).  Strings are kept
 * for the life of the process.  Thread-safe; caches every answer. */
void rcyi_symbolize(uintptr_t pc, rcyi_symbol *out);

/* The modules (executable, shared objects) a set of addresses of a process
 * lies in, recorded so the addresses can be resolved later by another
 * process: runtime address = address in the file + bias. */
typedef struct rcyi_module {
    const char *path;     /* the file; the program itself as /proc/self/exe names it */
    const char *build_id; /* lower-case hex, or NULL */
    uint64_t bias;        /* load bias (0 for a non-PIE executable) */
    uint64_t lo, hi;      /* [lo, hi): its PT_LOAD segments at run time */
} rcyi_module;

typedef struct rcyi_modset {
    size_t n;
    rcyi_module *mods;         /* sorted by lo, disjoint */
    char *strings;             /* owned strings of a captured set, or NULL */
    struct rcyi_symstate *sym; /* the resolver's state (symbols.c), lazily */
} rcyi_modset;

/* The modules of this process that hold some of pcs[0..n) (dl_iterate_phdr:
 * reads the loader's tables and the mapped notes, resolves nothing).
 * malloc'd; NULL on out of memory. */
rcyi_modset *rcyi_modules_capture(const uintptr_t *pcs, size_t n);
void rcyi_modset_free(rcyi_modset *m);
/* Resolve a return address of the process that m describes from the module
 * files (their symbol tables and DWARF, with libdw), never from this
 * process's memory.  A module whose file is missing or whose build-id
 * differs gives function "NAME+0xOFFSET" (file offset in the module).
 * Strings live as long as the process.  Caches every answer in m. */
void rcyi_symbolize_in(rcyi_modset *m, uintptr_t pc, rcyi_symbol *out);

#endif
