/* src/options.c — the runtime option table.
 *
 * One row per option; docs/environment.md documents each row and must be
 * kept in step with this table.  Values are read lazily from the
 * environment; a malformed value is reported once through the output
 * callback and the default is used instead. */
#include "options.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef int (*parse_fn)(const char *text, long long *out);

typedef struct option_row {
    const char *env;      /* environment variable */
    long long def;        /* default value        */
    parse_fn parse;       /* 0 on success         */
    const char *expected; /* for the warning      */
} option_row;

/* Any case; BOOL_EXPECTED names every word, for the warning. */
#define BOOL_EXPECTED "1, yes, on, true or y; 0, no, off, false, n or empty"
static int parse_bool(const char *s, long long *out) {
    static const char *const yes[] = {"1", "yes", "on", "true", "y"};
    static const char *const no[] = {"0", "no", "off", "false", "n", ""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    return -1;
}

/* A byte count: digits with an optional K, M or G suffix (powers of 1024,
 * an optional trailing "iB" or "B" accepted). */
static int parse_size(const char *s, long long *out) {
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        shift = 10, end++;
        break;
    case 'M':
        shift = 20, end++;
        break;
    case 'G':
        shift = 30, end++;
        break;
    case 'T':
        shift = 40, end++;
        break;
    default:
        break;
    }
    if (shift && (end[0] == 'i' || end[0] == 'I'))
        end++;
    if (end[0] == 'b' || end[0] == 'B')
        end++;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    if (shift && v > (ULLONG_MAX >> 1) >> shift)
        return -1;
    v <<= shift;
    if (v > (unsigned long long)LLONG_MAX)
        return -1;
    *out = (long long)v;
    return 0;
}

/* A non-negative count (PYTHONTRACEMALLOC-style frame count). */
static int parse_count(const char *s, long long *out) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return -1;
    *out = v;
    return 0;
}

/* A percentage, 0 to 100. */
static int parse_percent(const char *s, long long *out) {
    long long v;
    if (parse_count(s, &v) != 0 || v > 100)
        return -1;
    *out = v;
    return 0;
}

/* The native unwinder: frame pointers first, or always libunwind. */
static int parse_unwinder(const char *s, long long *out) {
    if (strcmp(s, "fp") == 0)
        *out = 0;
    else if (strcmp(s, "libunwind") == 0)
        *out = 1;
    else
        return -1;
    return 0;
}

/* How native stacks are walked when RCY_TRACEMALLOC_UNWIND is unset: frame
 * pointers for the library (a program that links recycle is built as it
 * says), libunwind for recycle run's preload library, which traces
 * programs built without them (Debian's). */
#ifdef RCY_UNWIND_DEFAULT_LIBUNWIND
#define UNWIND_DEFAULT 1
#else
#define UNWIND_DEFAULT 0
#endif

static const option_row table[RCYI_OPTION_COUNT] = {
    [RCYI_OPTION_DEBUG] = {"RCY_DEBUG", 0, parse_bool, BOOL_EXPECTED},
    [RCYI_OPTION_MEMORY_LIMIT] = {"RCY_MEMORY_LIMIT", 0, parse_size,
                                  "a byte count such as 65536, 512K, 64M or 2G"},
    [RCYI_OPTION_TRACEMALLOC] = {"RCY_TRACEMALLOC", 0, parse_count, "a number of frames >= 0"},
    [RCYI_OPTION_GC_HARD] = {"RCY_GC_HARD", 0, parse_bool, BOOL_EXPECTED},
    [RCYI_OPTION_TRACEMALLOC_UNWIND] = {"RCY_TRACEMALLOC_UNWIND", UNWIND_DEFAULT, parse_unwinder,
                                        "fp or libunwind"},
    [RCYI_OPTION_ARENA_CACHE] = {"RCY_ARENA_CACHE", 25, parse_percent,
                                 "a percentage of the peak arena count, 0 to 100"},
    [RCYI_OPTION_GC_INCREMENTAL] = {"RCY_GC_INCREMENTAL", 0, parse_bool, BOOL_EXPECTED},
};

/* state: 0 = not read yet, 1 = value valid.  Written with release after
 * value, read with acquire: two threads racing on the first read both
 * parse the environment and store the same value. */
static long long values[RCYI_OPTION_COUNT];
static int states[RCYI_OPTION_COUNT];

static long long read_env(rcyi_option opt) {
    const option_row *row = &table[opt];
    const char *text = getenv(row->env);
    long long v = row->def;
    if (text && row->parse(text, &v) != 0) {
        rcyi_output("recycle: warning: ignoring %s=\"%s\": expected %s\n", row->env, text,
                    row->expected);
        v = row->def;
    }
    return v;
}

long long rcyi_option_get(rcyi_option opt) {
    if ((unsigned)opt >= RCYI_OPTION_COUNT)
        return 0;
    if (__atomic_load_n(&states[opt], __ATOMIC_ACQUIRE))
        return __atomic_load_n(&values[opt], __ATOMIC_RELAXED);
    long long v = read_env(opt);
    __atomic_store_n(&values[opt], v, __ATOMIC_RELAXED);
    __atomic_store_n(&states[opt], 1, __ATOMIC_RELEASE);
    return v;
}

void rcyi_option_set(rcyi_option opt, long long value) {
    if ((unsigned)opt >= RCYI_OPTION_COUNT)
        return;
    __atomic_store_n(&values[opt], value, __ATOMIC_RELAXED);
    __atomic_store_n(&states[opt], 1, __ATOMIC_RELEASE);
}

void rcyi_option_reset(rcyi_option opt) {
    if ((unsigned)opt < RCYI_OPTION_COUNT)
        __atomic_store_n(&states[opt], 0, __ATOMIC_RELEASE);
}

const char *rcyi_option_env_name(rcyi_option opt) {
    return (unsigned)opt < RCYI_OPTION_COUNT ? table[opt].env : NULL;
}
