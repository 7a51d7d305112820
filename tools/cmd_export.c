/* tools/cmd_export.c — `recycle export`: a snapshot file's live blocks
 * (at exit, or at the peak) in the formats other profilers read.
 *
 *  collapsed  one line per distinct call stack, "outer;...;inner BYTES"
 *             (flamegraph.pl, speedscope, inferno).  A frame is its
 *             function's name, else "file:line", else "[object]", else
 *             "[unknown]"; ';' in a name becomes ':' and control
 *             characters '?', so every line splits as those tools split
 *             it (frames on ';', the count after the last space).  A stack
 *             whose oldest frames were not kept starts with "[truncated]".
 *  pprof      pprof's profile.proto (tools/pprof.proto), gzip-compressed,
 *             sample types inuse_space/bytes and inuse_objects/count, and
 *             from the per call site counters (a file that has them, not
 *             --peak) alloc_space/bytes, alloc_objects/count and
 *             temporary_objects/count; one sample per distinct stack.  It
 *             needs protobuf-c and zlib at build time (RCY_HAVE_PPROF).
 *
 * --sample picks the value: the collapsed lines' number, pprof's default
 * sample type.  The counters cover the whole run; the live blocks are
 * those at exit (or at the peak).
 *
 * Both are built in memory and written at once: to -o OUT through
 * rcy_file_write (never half a file), else to stdout. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef RCY_HAVE_PPROF
#include "pprof.pb-c.h"
#include <zlib.h>
#endif

static const char export_usage[] =
    "usage: recycle export FILE [--format collapsed|pprof] [--output OUT]\n"
    "                           [--sample TYPE] [--peak]\n"
    "\n"
    "The blocks still allocated at exit (or live at the peak), and the\n"
    "allocations counted over the whole run, by call stack, in a format\n"
    "other tools read:\n"
    "  collapsed  outer;...;inner VALUE lines for flamegraph.pl, speedscope\n"
    "             and inferno (the default)\n"
    "  pprof      gzipped profile.proto for go tool pprof, with every sample\n"
    "             type the file has\n"
    "\n"
    "  -f, --format FMT   collapsed (default) or pprof\n"
    "  -o, --output OUT   write OUT instead of standard output\n"
    "  -s, --sample TYPE  the value: inuse_space (bytes live, the default),\n"
    "                     inuse_objects (blocks live), alloc_space (bytes\n"
    "                     allocated over the run), alloc_objects (allocations)\n"
    "                     or temporary_objects (temporary allocations); for\n"
    "                     pprof, its default sample type\n"
    "  -p, --peak         the traces at the moment of peak traced memory\n"
    "                     instead of those still allocated at exit (inuse_*\n"
    "                     samples only)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 done, 1 the file is missing or corrupt, has no per call\n"
    "site counters for an alloc_* or temporary_objects sample, or OUT cannot\n"
    "be written, 2 bad usage (or pprof in a build without protobuf-c).\n";

typedef enum { FORMAT_COLLAPSED, FORMAT_PPROF } export_format;

/* The values a stack carries, in pprof's order of sample types.  The first
 * two are the live blocks; the others, the per call site counters. */
enum { V_INUSE_SPACE, V_INUSE_OBJECTS, V_ALLOC_SPACE, V_ALLOC_OBJECTS, V_TEMPORARY, NVALUES };
#define NLIVE_VALUES 2
static const struct {
    const char *name, *unit;
} sample_types[NVALUES] = {{"inuse_space", "bytes"},
                           {"inuse_objects", "count"},
                           {"alloc_space", "bytes"},
                           {"alloc_objects", "count"},
                           {"temporary_objects", "count"}};

typedef struct export_opts {
    export_format format;
    const char *output, *file;
    int sample; /* a V_ index */
    bool peak;
} export_opts;

/* Returns -1 to go on, else the exit code.  The format is checked after
 * the loop, so `--format X --help` prints the usage as for every option. */
static int parse_export_opts(int argc, char **argv, export_opts *o) {
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"sample", required_argument, NULL, 's'}, {"peak", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *format = "collapsed", *sample = sample_types[V_INUSE_SPACE].name;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "f:o:s:ph", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 's':
            sample = optarg;
            break;
        case 'p':
            o->peak = true;
            break;
        case 'h':
            fputs(export_usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option(argv);
        }
    }
    if (strcmp(format, "collapsed") == 0) {
        o->format = FORMAT_COLLAPSED;
    } else if (strcmp(format, "pprof") == 0) {
        o->format = FORMAT_PPROF;
    } else {
        cli_error("--format: expected collapsed or pprof, got '%s'", format);
        return CLI_EUSAGE;
    }
    for (o->sample = 0; o->sample < NVALUES; o->sample++)
        if (strcmp(sample, sample_types[o->sample].name) == 0)
            break;
    if (o->sample == NVALUES) {
        cli_error("--sample: expected inuse_space, inuse_objects, alloc_space, alloc_objects or "
                  "temporary_objects, got '%s'",
                  sample);
        return CLI_EUSAGE;
    }
    if (o->peak && o->sample >= NLIVE_VALUES) {
        /* the counters cover the whole run, not the moment of the peak */
        cli_error("--sample %s cannot be used with --peak", sample);
        return CLI_EUSAGE;
    }
    if (argc - optind != 1) {
        cli_error("expected one snapshot file, got %d arguments (see --help)", argc - optind);
        return CLI_EUSAGE;
    }
    o->file = argv[optind];
#ifndef RCY_HAVE_PPROF
    if (o->format == FORMAT_PPROF) {
        cli_error("this recycle was built without protobuf-c and zlib, which --format pprof "
                  "needs: install libprotobuf-c-dev, protobuf-c-compiler and zlib1g-dev "
                  "(scripts/deps.sh build) and build it again");
        return CLI_EUSAGE;
    }
#endif
    if (o->format == FORMAT_PPROF && !o->output && isatty(STDOUT_FILENO)) {
        cli_error("--format pprof writes binary data: give --output FILE or redirect stdout");
        return CLI_EUSAGE;
    }
    return -1;
}

/* ---- the live blocks by call stack -------------------------------------- */

/* The values of one traceback: its live blocks' bytes and count, or its
 * per call site counters (one entry each; the writers merge equal stacks). */
typedef struct stack_total {
    const rcy_traceback *tb; /* owned by the snapshot or the counters' stats */
    uint64_t v[NVALUES];
    size_t first; /* index of its first trace: the output's order */
} stack_total;

static int cmp_stack_tb(const void *a, const void *b) {
    const stack_total *x = a, *y = b;
    if (x->tb != y->tb)
        return (uintptr_t)x->tb < (uintptr_t)y->tb ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int cmp_stack_first(const void *a, const void *b) {
    const stack_total *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The traces of s summed per traceback, then (when counters is not NULL)
 * one entry per call stack of the counters with allocations (malloc'd, *n
 * set); NULL on out of memory. */
static stack_total *group_by_stack(const rcy_snapshot *s, const rcy_stats *counters, size_t *n) {
    size_t nt = 0, nc = counters ? counters->len : 0;
    const rcy_trace *traces = rcy_snapshot_traces(s, &nt);
    stack_total *g = calloc(nt + nc ? nt + nc : 1, sizeof *g);
    if (!g)
        return NULL;
    for (size_t i = 0; i < nt; i++)
        g[i] = (stack_total){
            .tb = traces[i].traceback, .v = {traces[i].size, traces[i].count}, .first = i};
    qsort(g, nt, sizeof *g, cmp_stack_tb);
    size_t out = 0;
    for (size_t i = 0; i < nt; i++) {
        if (out > 0 && g[out - 1].tb == g[i].tb) {
            for (int k = 0; k < NLIVE_VALUES; k++)
                g[out - 1].v[k] = sat_add(g[out - 1].v[k], g[i].v[k]);
        } else {
            g[out++] = g[i];
        }
    }
    qsort(g, out, sizeof *g, cmp_stack_first); /* the same file, the same bytes out */
    for (size_t i = 0; i < nc; i++) {
        const rcy_statistic *it = &counters->items[i];
        if (it->allocations)
            g[out++] = (stack_total){
                .tb = it->traceback,
                .v = {0, 0, it->allocated, it->allocations, it->temporary},
                .first = nt + i,
            };
    }
    *n = out;
    return g;
}

/* ---- collapsed stacks -------------------------------------------------- */

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* Text of a name: for collapsed stacks without ';' (the frame separator)
 * and control characters (a '\n' would end the line); as it is for pprof,
 * whose strings are length-prefixed. */
static void put_name(FILE *out, const char *s, bool collapsed) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(!collapsed ? *p : *p == ';' ? ':' : (*p < 0x20 || *p == 0x7f) ? '?' : *p, out);
}

/* A frame's name: its function's, else file:line, else [object]. */
static void put_frame_name(FILE *out, const rcy_frame *f, bool collapsed) {
    if (f->function && *f->function) {
        put_name(out, f->function, collapsed);
    } else if (f->filename && strcmp(f->filename, "?") != 0) {
        put_name(out, f->filename, collapsed);
        fprintf(out, ":%u", f->lineno);
    } else if (f->object) {
        fputc('[', out);
        put_name(out, base_name(f->object), collapsed);
        fputc(']', out);
    } else {
        fputs("[unknown]", out);
    }
}

typedef struct stack_line {
    char *text; /* "outer;...;inner" */
    uint64_t value;
    bool shown; /* a line even with value 0: a live stack of 0-byte blocks */
} stack_line;

static int cmp_stack_line(const void *a, const void *b) {
    return strcmp(((const stack_line *)a)->text, ((const stack_line *)b)->text);
}

/* The collapsed text of one traceback, outermost frame first (malloc'd). */
static char *collapse(const rcy_traceback *tb) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return NULL;
    if (tb->total_nframe > tb->nframe)
        fputs("[truncated];", m);
    for (size_t k = tb->nframe; k-- > 0;) {
        put_frame_name(m, &tb->frames[k], true);
        if (k)
            fputc(';', m);
    }
    if (fclose(m) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Distinct stacks (two tracebacks that differ only in line numbers give
 * the same text and one line), sorted, with their value of the sample. */
static int write_collapsed(const stack_total *st, size_t n, int sample, FILE *out) {
    stack_line *lines = calloc(n ? n : 1, sizeof *lines);
    if (!lines)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        lines[i].text = collapse(st[i].tb);
        lines[i].value = st[i].v[sample];
        lines[i].shown = st[i].v[sample] || (sample < NLIVE_VALUES && st[i].v[V_INUSE_OBJECTS]);
        if (!lines[i].text)
            rc = -1;
    }
    if (rc == 0) {
        qsort(lines, n, sizeof *lines, cmp_stack_line);
        for (size_t i = 0; i < n;) {
            uint64_t value = 0;
            bool shown = false;
            size_t j = i;
            for (; j < n && strcmp(lines[j].text, lines[i].text) == 0; j++) {
                value = sat_add(value, lines[j].value);
                shown |= lines[j].shown;
            }
            if (shown)
                fprintf(out, "%s %" PRIu64 "\n", lines[i].text, value);
            i = j;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
    free(lines);
    return rc;
}

/* ---- pprof ------------------------------------------------------------- */

#ifdef RCY_HAVE_PPROF

/* String keys to ids: open addressing, FNV-1a, grown at half full. */
typedef struct id_map {
    char **keys;
    uint64_t *ids;
    size_t cap, n;
} id_map;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void id_map_free(id_map *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->ids);
}

/* The slot of key: where it is, or the empty slot where it would go. */
static size_t id_map_slot(const id_map *m, const char *key) {
    size_t i = (size_t)fnv1a(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static bool id_map_grow(id_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    id_map g = {calloc(cap, sizeof *g.keys), calloc(cap, sizeof *g.ids), cap, m->n};
    if (!g.keys || !g.ids) {
        free(g.keys);
        free(g.ids);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i]) {
            size_t k = id_map_slot(&g, m->keys[i]);
            g.keys[k] = m->keys[i];
            g.ids[k] = m->ids[i];
        }
    }
    free(m->keys);
    free(m->ids);
    *m = g;
    return true;
}

/* The profile under construction: each table grows as frames are seen. */
typedef struct pprof_builder {
    RcyPprof__Profile p;
    id_map strings, functions, locations, mappings;
    id_map samples; /* a stack's location ids ("1,2,3") to its sample's index + 1 */
    size_t cap_str, cap_fn, cap_loc, cap_map, cap_sample;
    size_t nvalues; /* sample types written: 2, or NVALUES with the counters */
    bool oom;
} pprof_builder;

/* Append one pointer to a message's repeated field. */
static bool push(void ***v, size_t *n, size_t *cap, void *item) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void **g = realloc(*v, nc * sizeof *g);
        if (!g)
            return false;
        *v = g;
        *cap = nc;
    }
    (*v)[(*n)++] = item;
    return true;
}

/* The id of key in m; *fresh tells the caller to create the entry (whose
 * id is next, 1-based, or for strings the index next - 1). */
static uint64_t lookup(pprof_builder *b, id_map *m, const char *key, uint64_t next, bool *fresh) {
    *fresh = false;
    if ((m->n + 1) * 2 > m->cap && !id_map_grow(m)) {
        b->oom = true;
        return 0;
    }
    size_t i = id_map_slot(m, key);
    if (m->keys[i])
        return m->ids[i];
    if (!(m->keys[i] = strdup(key))) {
        b->oom = true;
        return 0;
    }
    m->ids[i] = next;
    m->n++;
    *fresh = true;
    return next;
}

static int64_t intern(pprof_builder *b, const char *s) {
    bool fresh;
    uint64_t id = lookup(b, &b->strings, s, b->p.n_string_table, &fresh);
    if (fresh) {
        char *copy = strdup(s);
        if (!copy || !push((void ***)&b->p.string_table, &b->p.n_string_table, &b->cap_str, copy)) {
            free(copy);
            b->oom = true;
        }
    }
    return (int64_t)id;
}

/* The mapping of a module path; mi, when known, gives its build-id and
 * where it was mapped. */
static uint64_t mapping_id(pprof_builder *b, const char *object, const rcy_module_info *mi) {
    if (!object)
        return 0;
    bool fresh;
    uint64_t id = lookup(b, &b->mappings, object, b->p.n_mapping + 1, &fresh);
    if (fresh) {
        RcyPprof__Mapping *m = malloc(sizeof *m);
        if (!m || !push((void ***)&b->p.mapping, &b->p.n_mapping, &b->cap_map, m)) {
            free(m);
            b->oom = true;
            return 0;
        }
        *m = (RcyPprof__Mapping)RCY_PPROF__MAPPING__INIT;
        m->id = id;
        m->filename = intern(b, object);
        if (mi) {
            m->build_id = mi->build_id ? intern(b, mi->build_id) : 0;
            m->memory_start = mi->start;
            m->memory_limit = mi->limit;
        }
        /* Frames are resolved already: readers must not symbolize again. */
        m->has_functions = m->has_filenames = m->has_line_numbers = true;
        m->has_inline_frames = true;
    }
    return id;
}

static char *frame_name(const rcy_frame *f) {
    char *s = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&s, &len);
    if (!m)
        return NULL;
    put_frame_name(m, f, false);
    if (fclose(m) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static uint64_t function_id(pprof_builder *b, const rcy_frame *f) {
    char *name = frame_name(f);
    const char *file = f->filename && strcmp(f->filename, "?") != 0 ? f->filename : "";
    char *key = NULL;
    if (!name || asprintf(&key, "%s\n%s", name, file) < 0) {
        free(name);
        b->oom = true;
        return 0;
    }
    bool fresh;
    uint64_t id = lookup(b, &b->functions, key, b->p.n_function + 1, &fresh);
    free(key);
    if (fresh) {
        RcyPprof__Function *fn = malloc(sizeof *fn);
        if (!fn || !push((void ***)&b->p.function, &b->p.n_function, &b->cap_fn, fn)) {
            free(fn);
            b->oom = true;
        } else {
            *fn = (RcyPprof__Function)RCY_PPROF__FUNCTION__INIT;
            fn->id = id;
            fn->name = fn->system_name = intern(b, name);
            fn->filename = intern(b, file);
        }
    }
    free(name);
    return id;
}

/* One location per distinct frame: its address, module, function and line
 * (two inlined frames at one address are two locations). */
static uint64_t location_id(pprof_builder *b, const rcy_frame *f) {
    uint64_t fid = function_id(b, f);
    char *key = NULL;
    if (asprintf(&key, "%" PRIxPTR "\n%" PRIu64 "\n%u\n%s", f->address, fid, f->lineno,
                 f->object ? f->object : "") < 0) {
        b->oom = true;
        return 0;
    }
    bool fresh;
    uint64_t id = lookup(b, &b->locations, key, b->p.n_location + 1, &fresh);
    free(key);
    if (!fresh)
        return id;
    RcyPprof__Location *loc = malloc(sizeof *loc);
    RcyPprof__Line *line = malloc(sizeof *line);
    RcyPprof__Line **lines = malloc(sizeof *lines);
    if (!loc || !line || !lines ||
        !push((void ***)&b->p.location, &b->p.n_location, &b->cap_loc, loc)) {
        free(loc);
        free(line);
        free(lines);
        b->oom = true;
        return 0;
    }
    *line = (RcyPprof__Line)RCY_PPROF__LINE__INIT;
    line->function_id = fid;
    line->line = f->lineno;
    *loc = (RcyPprof__Location)RCY_PPROF__LOCATION__INIT;
    loc->id = id;
    loc->address = f->address;
    loc->mapping_id = f->address ? mapping_id(b, f->object, NULL) : 0;
    lines[0] = line;
    loc->line = lines;
    loc->n_line = 1;
    return id;
}

/* Every module of the file, the program itself first: pprof takes the
 * first mapping as the main binary.  Without modules (a snapshot resolved
 * where it was taken) frames still get a mapping per object path. */
static void add_mappings(pprof_builder *b, const rcy_snapshot *s) {
    const char *exe = rcy_snapshot_get_info(s, "executable");
    rcy_module_info mi;
    bool found = false;
    for (size_t i = 0; exe && !found && rcy_snapshot_module(s, i, &mi); i++) {
        if (strcmp(mi.path, exe) == 0) {
            mapping_id(b, mi.path, &mi);
            found = true;
        }
    }
    if (exe && !found)
        mapping_id(b, exe, NULL);
    for (size_t i = 0; rcy_snapshot_module(s, i, &mi); i++)
        mapping_id(b, mi.path, &mi);
}

static RcyPprof__ValueType *value_type(pprof_builder *b, const char *type, const char *unit) {
    RcyPprof__ValueType *vt = malloc(sizeof *vt);
    if (!vt) {
        b->oom = true;
        return NULL;
    }
    *vt = (RcyPprof__ValueType)RCY_PPROF__VALUE_TYPE__INIT;
    vt->type = intern(b, type);
    vt->unit = intern(b, unit);
    return vt;
}

/* The sample of st's stack (one per distinct list of locations: a live
 * stack and its counters are one sample), with st's values added. */
static void add_sample(pprof_builder *b, const stack_total *st) {
    const rcy_traceback *tb = st->tb;
    uint64_t *ids = malloc((tb->nframe ? tb->nframe : 1) * sizeof *ids);
    char *key = NULL;
    size_t keylen = 0;
    FILE *m = ids ? open_memstream(&key, &keylen) : NULL;
    if (!m) {
        free(ids);
        b->oom = true;
        return;
    }
    for (size_t k = 0; k < tb->nframe; k++) { /* innermost first, as pprof wants */
        ids[k] = location_id(b, &tb->frames[k]);
        fprintf(m, "%" PRIu64 ",", ids[k]);
    }
    bool fresh = false;
    uint64_t at = fclose(m) == 0 ? lookup(b, &b->samples, key, b->p.n_sample + 1, &fresh) : 0;
    free(key);
    if (at == 0) {
        free(ids);
        b->oom = true;
        return;
    }
    RcyPprof__Sample *smp = fresh ? malloc(sizeof *smp) : b->p.sample[at - 1];
    int64_t *values = fresh ? calloc(b->nvalues, sizeof *values) : NULL;
    if (fresh &&
        (!smp || !values || !push((void ***)&b->p.sample, &b->p.n_sample, &b->cap_sample, smp))) {
        free(smp);
        free(values);
        free(ids);
        b->oom = true;
        return;
    }
    if (fresh) {
        *smp = (RcyPprof__Sample)RCY_PPROF__SAMPLE__INIT;
        smp->location_id = ids;
        smp->n_location_id = tb->nframe;
        smp->value = values;
        smp->n_value = b->nvalues;
    } else {
        free(ids);
    }
    for (size_t k = 0; k < b->nvalues; k++) {
        uint64_t v = sat_add((uint64_t)smp->value[k], st->v[k]);
        smp->value[k] = v > INT64_MAX ? INT64_MAX : (int64_t)v;
    }
}

static void builder_free(pprof_builder *b) {
    RcyPprof__Profile *p = &b->p;
    for (size_t i = 0; i < p->n_sample; i++) {
        free(p->sample[i]->location_id);
        free(p->sample[i]->value);
        free(p->sample[i]);
    }
    for (size_t i = 0; i < p->n_location; i++) {
        free(p->location[i]->line[0]);
        free(p->location[i]->line);
        free(p->location[i]);
    }
    for (size_t i = 0; i < p->n_function; i++)
        free(p->function[i]);
    for (size_t i = 0; i < p->n_mapping; i++)
        free(p->mapping[i]);
    for (size_t i = 0; i < p->n_string_table; i++)
        free(p->string_table[i]);
    for (size_t i = 0; i < p->n_sample_type; i++)
        free(p->sample_type[i]);
    free(p->sample);
    free(p->location);
    free(p->function);
    free(p->mapping);
    free(p->string_table);
    free(p->sample_type);
    free(p->comment);
    id_map_free(&b->strings);
    id_map_free(&b->functions);
    id_map_free(&b->locations);
    id_map_free(&b->mappings);
    id_map_free(&b->samples);
}

/* gzip (deflate with a gzip header: windowBits 15 + 16) to out. */
static int write_gzip(const uint8_t *data, size_t len, FILE *out) {
    z_stream z = {0};
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    unsigned char chunk[1 << 16];
    int rc = 0, zr;
    z.next_in = (Bytef *)(uintptr_t)data;
    do {
        size_t step = len > (1u << 30) ? (1u << 30) : len; /* avail_in is 32 bits */
        z.avail_in = (uInt)step;
        len -= step;
        do {
            z.next_out = chunk;
            z.avail_out = sizeof chunk;
            zr = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
            if (zr == Z_STREAM_ERROR) {
                rc = -1;
                break;
            }
            fwrite(chunk, 1, sizeof chunk - z.avail_out, out);
        } while (z.avail_out == 0);
    } while (rc == 0 && len > 0);
    deflateEnd(&z);
    return rc == 0 && zr == Z_STREAM_END ? 0 : -1;
}

static int write_pprof(const rcy_snapshot *s, const stack_total *st, size_t n, const export_opts *o,
                       bool counters, FILE *out) {
    pprof_builder b = {.p = RCY_PPROF__PROFILE__INIT, .nvalues = counters ? NVALUES : NLIVE_VALUES};
    size_t cap_vt = 0;
    bool peak = o->peak;
    const char *file = o->file;
    intern(&b, ""); /* index 0 is the empty string */
    for (size_t i = 0; i < b.nvalues; i++) {
        RcyPprof__ValueType *t = value_type(&b, sample_types[i].name, sample_types[i].unit);
        if (!t || !push((void ***)&b.p.sample_type, &b.p.n_sample_type, &cap_vt, t)) {
            free(t);
            b.oom = true;
        }
    }
    b.p.default_sample_type = intern(&b, sample_types[o->sample].name);
    add_mappings(&b, s);
    for (size_t i = 0; i < n && !b.oom; i++)
        add_sample(&b, &st[i]);

    size_t ns = 0;
    const rcy_sample *tl = rcy_snapshot_timeline(s, &ns);
    if (ns > 0 && tl[ns - 1].time_ns <= INT64_MAX)
        b.p.duration_nanos = (int64_t)tl[ns - 1].time_ns;
    char *note = NULL;
    const char *cmd = rcy_snapshot_get_info(s, "command");
    if (asprintf(&note, "recycle export of %s: inuse_* %s%s", file,
                 peak ? "live at the peak of traced memory" : "still allocated at exit",
                 counters ? "; alloc_*, temporary_objects over the whole run" : "") >= 0) {
        int64_t *c = malloc(2 * sizeof *c);
        if (c) {
            c[b.p.n_comment++] = intern(&b, note);
            if (cmd)
                c[b.p.n_comment++] = intern(&b, cmd);
            b.p.comment = c;
        } else {
            b.oom = true;
        }
        free(note);
    } else {
        b.oom = true;
    }

    int rc = -1;
    if (!b.oom) {
        size_t len = rcy_pprof__profile__get_packed_size(&b.p);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf) {
            rcy_pprof__profile__pack(&b.p, buf);
            rc = write_gzip(buf, len, out);
            free(buf);
        }
    }
    builder_free(&b);
    return rc;
}
#endif /* RCY_HAVE_PPROF */

/* ---- the command --------------------------------------------------------- */

/* Hand the finished bytes to their destination. */
static int emit(const export_opts *o, const char *data, size_t len) {
    if (o->output) {
        int rc = rcy_file_write(o->output, data, len);
        if (rc != RCY_OK) {
            cli_error("%s: %s", o->output, rc == RCY_EIO ? strerror(errno) : rcy_strerror(rc));
            return CLI_EFILE;
        }
        return CLI_OK;
    }
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("writing the export failed");
        return CLI_EFILE;
    }
    return CLI_OK;
}

int cmd_export(int argc, char **argv) {
    export_opts o = {.format = FORMAT_COLLAPSED};
    int rc = parse_export_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rcy_snapshot *s = cli_load(o.file);
    if (!s)
        return CLI_EFILE;
    if (o.sample >= NLIVE_VALUES && !rcy_snapshot_has_site_counters(s)) {
        cli_error("--sample %s: %s has no per call site counters (written by a recycle before "
                  "format 1.2)",
                  sample_types[o.sample].name, o.file);
        rcy_snapshot_free(s);
        return CLI_EFILE;
    }
    /* pprof gets every sample type the file has; collapsed only the one */
    bool counters = !o.peak && rcy_snapshot_has_site_counters(s) &&
                    (o.format == FORMAT_PPROF || o.sample >= NLIVE_VALUES);
    rcy_stats *cs =
        counters ? rcy_snapshot_statistics_by(s, RCY_KEY_TRACEBACK, false, RCY_ORDER_ALLOCATIONS)
                 : NULL;
    const rcy_snapshot *src = o.peak ? cli_peak_traces(s, o.file) : s;
    size_t n = 0;
    stack_total *st = src && (cs || !counters) ? group_by_stack(src, cs, &n) : NULL;
    if (src && !st)
        cli_error("out of memory");
    rc = CLI_EFILE;
    char *data = NULL;
    size_t len = 0;
    FILE *m = st ? open_memstream(&data, &len) : NULL;
    if (m) {
        int wr;
#ifdef RCY_HAVE_PPROF
        wr = o.format == FORMAT_PPROF ? write_pprof(s, st, n, &o, counters, m)
                                      : write_collapsed(st, n, o.sample, m);
#else
        wr = write_collapsed(st, n, o.sample, m);
#endif
        if (fclose(m) == 0 && wr == 0)
            rc = emit(&o, data, len);
        else
            cli_error("out of memory");
        free(data);
    }
    free(st);
    rcy_stats_free(cs);
    rcy_snapshot_free(s);
    return rc;
}
