/* src/options.h — the runtime option table (owned by options.c).
 *
 * Every option has one row in the table in options.c: a name, the RCY_*
 * environment variable it is read from, a default and a parser.  An option
 * is read from the environment once, the first time it is asked for, and
 * can then be overridden with rcyi_option_set (tests, config fields).
 * Reads and writes are atomic (relaxed): options are process-wide and may
 * be read from several threads, each with its own heap. */
#ifndef RCY_SRC_OPTIONS_H
#define RCY_SRC_OPTIONS_H

typedef enum rcyi_option {
    RCYI_OPTION_DEBUG,              /* RCY_DEBUG: guard bytes and fill patterns (0/1)     */
    RCYI_OPTION_MEMORY_LIMIT,       /* RCY_MEMORY_LIMIT: bytes per heap, 0 = none         */
    RCYI_OPTION_TRACEMALLOC,        /* RCY_TRACEMALLOC: start tracing with N frames, 0 off */
    RCYI_OPTION_GC_HARD,            /* RCY_GC_HARD: full collection at every tracked allocation */
    RCYI_OPTION_TRACEMALLOC_UNWIND, /* RCY_TRACEMALLOC_UNWIND: "fp" (0) or "libunwind" (1) */
    RCYI_OPTION_ARENA_CACHE,        /* RCY_ARENA_CACHE: % of a heap's peak arenas kept empty */
    RCYI_OPTION_GC_INCREMENTAL,     /* RCY_GC_INCREMENTAL: new heaps collect incrementally */
    RCYI_OPTION_COUNT
} rcyi_option;

/* The option's value (read from its environment variable on first use). */
long long rcyi_option_get(rcyi_option opt);
/* Override the value for the rest of the process (or until set again). */
void rcyi_option_set(rcyi_option opt, long long value);
/* Forget any override and read the environment again on next use. */
void rcyi_option_reset(rcyi_option opt);
/* The option's environment variable name, e.g. "RCY_DEBUG". */
const char *rcyi_option_env_name(rcyi_option opt);

static inline int rcyi_option_debug(void) {
    return rcyi_option_get(RCYI_OPTION_DEBUG) != 0;
}
static inline unsigned long long rcyi_option_memory_limit(void) {
    return (unsigned long long)rcyi_option_get(RCYI_OPTION_MEMORY_LIMIT);
}
static inline int rcyi_option_tracemalloc(void) {
    return (int)rcyi_option_get(RCYI_OPTION_TRACEMALLOC);
}

static inline int rcyi_option_tracemalloc_libunwind(void) {
    return rcyi_option_get(RCYI_OPTION_TRACEMALLOC_UNWIND) == 1;
}

static inline int rcyi_option_gc_hard(void) {
    return rcyi_option_get(RCYI_OPTION_GC_HARD) != 0;
}
static inline int rcyi_option_gc_incremental(void) {
    return rcyi_option_get(RCYI_OPTION_GC_INCREMENTAL) != 0;
}

#endif
