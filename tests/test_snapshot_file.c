/* tests/test_snapshot_file.c — snapshot files: dump -> load round trip
 * (traces, frames with resolved symbols, timeline, info, counters, peak),
 * compressed (zstd) and uncompressed bodies, 1.0 files, and bad files:
 * every truncation, byte flips, foreign and future files, a missing file,
 * damaged compressed payloads and absurd declared sizes.  A bad file must
 * give an error code, never a crash or a huge allocation.  Also built
 * without libzstd (tests/snapfile.cmake): compressed files are then
 * RCY_EUNSUPPORTED.  The bytes of the format are fixed by a golden image
 * (snapfile_golden.h): the encoder must write it again, the reader must
 * read it back to the same bytes. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"

#include "snapfile_golden.h"

#define ADDR(i) ((const void *)(uintptr_t)(0x300000u + 16u * (uintptr_t)(i)))

static char path[64];

static int setup_path(void **state) {
    (void)state;
    strcpy(path, "/tmp/rcy_snapfileXXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    rcy_tracemalloc_stop();
    unlink(path);
    return 0;
}

__attribute__((noinline)) static void native_site(const void *p, size_t n) {
    rcyi_trace_alloc(0, p, n, __FILE__, __LINE__, __func__);
    __asm__ volatile("" ::: "memory");
}

/* A snapshot of the traces now, with a timeline of three samples and two
 * info entries. */
static rcy_snapshot *snapshot_with_extras(const rcy_sample smp[3], const char *command,
                                          const char *pid) {
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    assert_non_null(s);
    assert_int_equal(rcy_snapshot_set_timeline(s, smp, 3), RCY_OK);
    assert_int_equal(rcy_snapshot_set_info(s, "command", command), RCY_OK);
    assert_int_equal(rcy_snapshot_set_info(s, "pid", pid), RCY_OK);
    return s;
}

static rcy_snapshot *make_snapshot(void) {
    assert_int_equal(rcy_tracemalloc_start(6), RCY_OK);
    assert_int_equal(rcy_tracemalloc_keep_peak(true), RCY_OK);
    for (int i = 0; i < 50; i++)
        native_site(ADDR(i), 100 + (size_t)i);
    rcyi_trace_alloc(1, ADDR(100), 7, "x.c", 3, "xf");
    rcyi_trace_alloc(0, ADDR(101), (size_t)1 << 33, "huge.c", 1, NULL);
    rcyi_trace_free(0, ADDR(101));
    for (int i = 0; i < 10; i++)
        rcyi_trace_free(0, ADDR(i));
    const rcy_sample smp[3] = {{10, 5, 5, 4096}, {20, 8, 8, 8192}, {30, 2, 8, 0}};
    return snapshot_with_extras(smp, "./a.out -v", "1234");
}

/* "[libfoo.so.1+0x58f8 obj]" -> "[+0x58f8 obj]": the process names a
 * module by its real path, the file by the name it was loaded as. */
static void strip_module_names(char *t) {
    char *o = t;
    for (char *p = t; *p;) {
        if (*p == '[') {
            char *plus = strstr(p, "+0x"), *end = strchr(p, ']');
            if (plus && end && plus < end) {
                *o++ = '[';
                p = plus;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = 0;
}

static void count_progress(size_t done, size_t total, void *arg) {
    assert_true(done <= total);
    ++*(size_t *)arg;
}

static char *stats_text(const rcy_snapshot *s, rcy_key_type k) {
    rcy_stats *st = rcy_snapshot_statistics(s, k, false);
    assert_non_null(st);
    size_t cap = 256 * (st->len + 1), len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (size_t i = 0; i < st->len; i++) {
        len += (size_t)rcy_statistic_format(&st->items[i], out + len, cap - len);
        const rcy_traceback *tb = st->items[i].traceback;
        for (size_t f = 0; f < tb->nframe; f++)
            len += (size_t)snprintf(out + len, cap - len, " [%s %s]",
                                    tb->frames[f].function ? tb->frames[f].function : "-",
                                    tb->frames[f].object ? "obj" : "-");
        out[len++] = '\n';
        out[len] = 0;
    }
    rcy_stats_free(st);
    return out;
}

static unsigned char *read_all(const char *p, size_t *n) {
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_all(const char *p, const unsigned char *b, size_t n) {
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The file image of s, compressed (when this build can) or not. */
static unsigned char *encoded(const rcy_snapshot *s, bool compress, size_t *n) {
    unsigned char *b = NULL;
    assert_int_equal(rcyi_snapshot_encode(s, compress, &b, n), RCY_OK);
    assert_non_null(b);
    return b;
}

static void set_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void repair_crc(unsigned char *b, size_t n) {
    uint32_t crc = rcyi_crc32(0, b + 32, n - 32);
    for (int i = 0; i < 4; i++)
        b[24 + i] = (unsigned char)(crc >> (8 * i));
}

static void dump_then_load_gives_the_same_snapshot(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    size_t mem_before = rcy_tracemalloc_get_tracemalloc_memory();
    rcy_tracemalloc_counters before = {.size = sizeof before};
    rcy_tracemalloc_get_counters(&before);
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    /* dumping creates no traces */
    rcy_tracemalloc_counters after = {.size = sizeof after};
    rcy_tracemalloc_get_counters(&after);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.current, before.current);
    assert_int_equal(rcy_tracemalloc_get_tracemalloc_memory(), mem_before);
    int err = 1;
    rcy_snapshot *l = rcy_snapshot_load(path, &err);
    assert_int_equal(err, RCY_OK);
    assert_non_null(l);
    for (int k = 0; k <= RCY_KEY_TRACEBACK; k++) {
        char *a = stats_text(s, (rcy_key_type)k), *b = stats_text(l, (rcy_key_type)k);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    /* frames: the native caller is named in the file */
    size_t n;
    const rcy_trace *t = rcy_snapshot_traces(l, &n);
    assert_int_equal(n, 41);
    bool named = false;
    for (size_t i = 0; i < n; i++)
        if (t[i].traceback->nframe > 1 && t[i].traceback->frames[1].function &&
            strcmp(t[i].traceback->frames[1].function, "make_snapshot") == 0)
            named = true;
    assert_true(named);
    assert_int_equal(rcy_snapshot_traceback_limit(l), 6);
    assert_memory_equal(rcy_snapshot_counters(l), rcy_snapshot_counters(s),
                        sizeof(rcy_tracemalloc_counters));
    const rcy_sample *tl = rcy_snapshot_timeline(l, &n);
    assert_int_equal(n, 3);
    assert_int_equal(tl[2].time_ns, 30);
    assert_int_equal(tl[1].peak, 8);
    /* the resident set of each sample too (TRSS) */
    assert_int_equal(tl[0].rss, 4096);
    assert_int_equal(tl[1].rss, 8192);
    assert_int_equal(tl[2].rss, 0);
    assert_string_equal(rcy_snapshot_get_info(l, "command"), "./a.out -v");
    assert_string_equal(rcy_snapshot_get_info(l, "pid"), "1234");
    /* the picture at peak survives too: 8 GiB + the 51 small blocks */
    const rcy_snapshot *pk = rcy_snapshot_at_peak(l);
    assert_non_null(pk);
    size_t total, count;
    rcy_snapshot_totals(pk, &total, &count);
    assert_int_equal(count, 52);
    assert_int_equal(total, ((size_t)1 << 33) + 7 + 50 * 100 + 49 * 50 / 2 * 1 + 0);
    char *a = stats_text(rcy_snapshot_at_peak(s), RCY_KEY_LINENO);
    char *b = stats_text(pk, RCY_KEY_LINENO);
    assert_string_equal(a, b);
    free(a);
    free(b);
    /* a loaded snapshot dumps again to the same bytes */
    char path2[] = "/tmp/rcy_snapfile2XXXXXX";
    int fd = mkstemp(path2);
    close(fd);
    assert_int_equal(rcy_snapshot_dump(l, path2), RCY_OK);
    size_t n1, n2;
    unsigned char *f1 = read_all(path, &n1), *f2 = read_all(path2, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    free(f1);
    free(f2);
    unlink(path2);
    rcy_snapshot_free(l);
    rcy_snapshot_free(s);
}

static void filtered_and_empty_snapshots_round_trip(void **state) {
    (void)state;
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    int err;
    rcy_snapshot *l = rcy_snapshot_load(path, &err);
    assert_non_null(l);
    size_t n;
    rcy_snapshot_traces(l, &n);
    assert_int_equal(n, 0);
    rcy_snapshot_free(l);
    rcy_snapshot_free(s);
    rcyi_trace_alloc(0, ADDR(1), 5, "keep.c", 1, "f");
    rcyi_trace_alloc(0, ADDR(2), 6, "drop.c", 1, "f");
    s = rcy_tracemalloc_take_snapshot();
    rcy_filter f = {.inclusive = false, .filename_pattern = "drop.c", .domain = -1};
    rcy_snapshot *fs = rcy_snapshot_filter_traces(s, &f, 1);
    assert_int_equal(rcy_snapshot_dump(fs, path), RCY_OK);
    l = rcy_snapshot_load(path, &err);
    const rcy_trace *t = rcy_snapshot_traces(l, &n);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].traceback->frames[0].filename, "keep.c");
    rcy_snapshot_free(l);
    rcy_snapshot_free(fs);
    rcy_snapshot_free(s);
}

static void every_truncation_is_an_error(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    rcy_snapshot_free(s);
    size_t n;
    unsigned char *b = read_all(path, &n);
    for (size_t len = 0; len < n; len++) {
        int err = 0;
        rcy_snapshot *l = rcyi_snapshot_parse(b, len, &err);
        assert_null(l);
        if (len >= 1)
            assert_int_equal(err, RCY_ECORRUPT); /* our magic, cut short */
        else
            assert_int_equal(err, RCY_EFORMAT);
    }
    /* and through the file API for a few lengths */
    write_all(path, b, n / 2);
    int err;
    assert_null(rcy_snapshot_load(path, &err));
    assert_int_equal(err, RCY_ECORRUPT);
    free(b);
}

static void byte_flips_are_detected(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    for (int compress = 0; compress < 2; compress++) {
        size_t n;
        unsigned char *b = encoded(s, compress, &n);
        unsigned seed = 99;
        for (int k = 0; k < 3000; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 4) % n;
            unsigned char bit = (unsigned char)(1u << ((seed >> 24) % 8));
            b[at] ^= bit;
            int err = 0;
            rcy_snapshot *l = rcyi_snapshot_parse(b, n, &err);
            /* the minor version (10..11) and flags other than bit 0
             * (12..15) are not checked: a newer minor version loads;
             * everything else is caught by magic, major version, length,
             * checksum, or (the compression flag) the body's structure */
            if (at >= 10 && at < 16 && !(at == 12 && bit == 1)) {
                assert_non_null(l);
            } else {
                assert_null(l);
                if (at == 12 && !rcyi_snapfile_have_zstd())
                    assert_int_equal(err, RCY_EUNSUPPORTED);
                else if (at == 12)
                    assert_int_equal(err, RCY_EFORMAT);
                else
                    assert_true(err == RCY_ECORRUPT || err == RCY_EFORMAT || err == RCY_EVERSION);
            }
            rcy_snapshot_free(l);
            b[at] ^= bit;
        }
        free(b);
    }
    rcy_snapshot_free(s);
}

static void stats_equal(const rcy_snapshot *a, const rcy_snapshot *b) {
    for (int k = 0; k <= RCY_KEY_TRACEBACK; k++) {
        char *x = stats_text(a, (rcy_key_type)k), *y = stats_text(b, (rcy_key_type)k);
        assert_string_equal(x, y);
        free(x);
        free(y);
    }
    char *x = stats_text(rcy_snapshot_at_peak(a), RCY_KEY_TRACEBACK);
    char *y = stats_text(rcy_snapshot_at_peak(b), RCY_KEY_TRACEBACK);
    assert_string_equal(x, y);
    free(x);
    free(y);
}

static unsigned u32_at(const unsigned char *p) {
    return (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24;
}

/* dump compresses when the build has libzstd; both kinds of file load to
 * the same snapshot, and a 1.0 file (no flags) still loads. */
static void compressed_and_uncompressed_files_load_alike(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    size_t nz, nr;
    unsigned char *z = read_all(path, &nz);
    unsigned char *r = encoded(s, false, &nr);
    assert_int_equal(z[10], 2); /* minor version 2: with per call site counters */
    assert_int_equal(u32_at(r + 12), 0);
    if (rcyi_snapfile_have_zstd()) {
        assert_int_equal(u32_at(z + 12), 1); /* flag bit 0: compressed */
        assert_true(nz < nr);
        print_message("file: %zu bytes compressed, %zu uncompressed\n", nz, nr);
        /* the declared length is the sections' length */
        uint64_t raw = 0;
        for (int i = 7; i >= 0; i--)
            raw = raw << 8 | z[32 + i];
        assert_int_equal(raw, nr - 32);
    } else {
        assert_int_equal(nz, nr);
        assert_memory_equal(z, r, nr);
    }
    int err = 1;
    rcy_snapshot *lz = rcy_snapshot_load(path, &err);
    assert_int_equal(err, RCY_OK);
    stats_equal(s, lz);
    /* uncompressed, as 1.1 and as a 1.0 file */
    for (int minor = 1; minor >= 0; minor--) {
        r[10] = (unsigned char)minor;
        write_all(path, r, nr);
        rcy_snapshot *lr = rcy_snapshot_load(path, &err);
        assert_int_equal(err, RCY_OK);
        stats_equal(s, lr);
        rcy_snapshot_free(lr);
    }
    /* a loaded compressed file dumps again to the same bytes */
    assert_int_equal(rcy_snapshot_dump(lz, path), RCY_OK);
    size_t n2;
    unsigned char *z2 = read_all(path, &n2);
    assert_int_equal(n2, nz);
    assert_memory_equal(z2, z, nz);
    free(z2);
    free(z);
    free(r);
    rcy_snapshot_free(lz);
    rcy_snapshot_free(s);
}

/* Damage behind a repaired CRC inside the compressed payload: zstd's frame
 * checks and content checksum, then the section checks, refuse it. */
static void damaged_compressed_payload_is_refused(void **state) {
    (void)state;
    if (!rcyi_snapfile_have_zstd()) {
        skip();
        return;
    }
    rcy_snapshot *s = make_snapshot();
    size_t n;
    unsigned char *orig = encoded(s, true, &n);
    assert_int_equal(u32_at(orig + 12), 1);
    int loaded = 0;
    unsigned char *b = malloc(n);
    unsigned seed = 1234;
    for (int k = 0; k < 3000; k++) {
        memcpy(b, orig, n);
        int flips = 1 + k % 3;
        size_t first = 0;
        for (int j = 0; j < flips; j++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = 40 + (seed >> 4) % (n - 40);
            first = j ? first : at;
            b[at] = (unsigned char)(k % 5 == 0 ? 0 : b[at] ^ (1u << ((seed >> 24) % 8)));
        }
        if (memcmp(b, orig, n) == 0)
            continue;
        repair_crc(b, n);
        int err = 0;
        rcy_snapshot *l = rcyi_snapshot_parse(b, n, &err);
        if (l) {
            /* a few frame header bits (the window size) leave the content
             * as it was: then it must load as the original */
            print_message("flip at %zu loaded\n", first);
            stats_equal(s, l);
            rcy_snapshot_free(l);
            loaded++;
        } else {
            assert_int_equal(err, RCY_EFORMAT);
        }
    }
    assert_true(loaded < 30);
    /* the payload cut short (length and CRC repaired), or with bytes after
     * the frame */
    for (size_t cut = 33; cut < n; cut += 7) {
        memcpy(b, orig, cut);
        set_u64(b + 16, cut - 32);
        repair_crc(b, cut);
        int err = 0;
        assert_null(rcyi_snapshot_parse(b, cut, &err));
        assert_true(err == RCY_EFORMAT);
    }
    unsigned char *longer = malloc(n + 3);
    memcpy(longer, orig, n);
    memset(longer + n, 0, 3);
    set_u64(longer + 16, n + 3 - 32);
    repair_crc(longer, n + 3);
    int err = 0;
    assert_null(rcyi_snapshot_parse(longer, n + 3, &err));
    assert_int_equal(err, RCY_EFORMAT);
    free(longer);
    free(b);
    free(orig);
    rcy_snapshot_free(s);
}

/* Declared uncompressed lengths that do not match the frame, exceed what
 * zstd could expand to or pass the hard cap are refused before anything is
 * allocated (an attempt to allocate 2^40 or 2^62 bytes would fail with
 * RCY_ENOMEM here, or abort under ASan). */
static void absurd_declared_sizes_are_refused(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    size_t n;
    unsigned char *b = encoded(s, true, &n);
    rcy_snapshot_free(s);
    if (!rcyi_snapfile_have_zstd()) {
        /* a compressed file in a build without libzstd */
        b[12] |= 1;
        int err = 0;
        assert_null(rcyi_snapshot_parse(b, n, &err));
        assert_int_equal(err, RCY_EUNSUPPORTED);
        write_all(path, b, n);
        assert_null(rcy_snapshot_load(path, &err));
        assert_int_equal(err, RCY_EUNSUPPORTED);
        free(b);
        return;
    }
    uint64_t raw = 0;
    for (int i = 7; i >= 0; i--)
        raw = raw << 8 | b[32 + i];
    const uint64_t bad[] = {
        raw + 1,
        raw - 1,
        0,
        (uint64_t)(n - 40) * 32768u + 1, /* more than zstd can expand to */
        ((uint64_t)1 << 30) + 1,         /* over the hard cap */
        (uint64_t)1 << 40,
        (uint64_t)1 << 62,
        UINT64_MAX,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set_u64(b + 32, bad[i]);
        repair_crc(b, n);
        int err = 0;
        assert_null(rcyi_snapshot_parse(b, n, &err));
        assert_int_equal(err, RCY_EFORMAT);
    }
    /* a body too short to hold the length */
    unsigned char tiny[36];
    memcpy(tiny, b, 32);
    memset(tiny + 32, 0, 4);
    set_u64(tiny + 16, 4);
    repair_crc(tiny, sizeof tiny);
    int err = 0;
    assert_null(rcyi_snapshot_parse(tiny, sizeof tiny, &err));
    assert_int_equal(err, RCY_EFORMAT);
    /* with the true length back it loads: the sizes alone were refused */
    set_u64(b + 32, raw);
    repair_crc(b, n);
    assert_non_null(s = rcyi_snapshot_parse(b, n, &err));
    rcy_snapshot_free(s);
    free(b);
}

/* Flips with the checksum repaired: the structure checks alone must keep
 * the loader safe (ASan watches). */
static void structural_damage_never_crashes(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    size_t n;
    unsigned char *orig = encoded(s, false, &n); /* the sections in the clear */
    rcy_snapshot_free(s);
    unsigned char *b = malloc(n);
    unsigned seed = 7;
    int loaded = 0, refused = 0;
    for (int k = 0; k < 4000; k++) {
        memcpy(b, orig, n);
        int flips = 1 + k % 4;
        for (int j = 0; j < flips; j++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = 32 + (seed >> 4) % (n - 32);
            b[at] = (unsigned char)(k % 3 == 0 ? 0xFF : b[at] ^ (1u << ((seed >> 24) % 8)));
        }
        uint32_t crc = rcyi_crc32(0, b + 32, n - 32);
        for (int i = 0; i < 4; i++)
            b[24 + i] = (unsigned char)(crc >> (8 * i));
        int err = 0;
        rcy_snapshot *l = rcyi_snapshot_parse(b, n, &err);
        if (l) {
            loaded++;
            /* whatever loaded must be usable */
            rcy_stats *st = rcy_snapshot_statistics(l, RCY_KEY_TRACEBACK, false);
            rcy_stats_free(st);
            rcy_snapshot_free(l);
        } else {
            refused++;
            assert_true(err == RCY_EFORMAT || err == RCY_ENOMEM);
        }
    }
    assert_true(refused > 0);
    print_message("structural damage: %d loaded, %d refused\n", loaded, refused);
    free(b);
    free(orig);
}

/* recycle run's files: addresses and modules, resolved by the reader from
 * the module files; they read as the process itself resolved them. */
static void raw_files_resolve_from_their_modules(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    char *want = stats_text(s, RCY_KEY_TRACEBACK);
    char *want_peak = stats_text(rcy_snapshot_at_peak(s), RCY_KEY_TRACEBACK);
    assert_int_equal(rcy_snapshot_dump_raw(s, path), RCY_OK);
    rcy_snapshot_free(s);
    size_t n;
    unsigned char *b = read_all(path, &n);
    assert_int_equal(b[8], 2); /* major version 2: the raw layout */
    free(b);
    int err = -1;
    rcy_snapshot *l = rcy_snapshot_load(path, &err);
    assert_non_null(l);
    size_t calls = 0;
    assert_int_equal(rcy_snapshot_symbolize(l, count_progress, &calls), RCY_OK);
    assert_true(calls >= 1);
    char *got = stats_text(l, RCY_KEY_TRACEBACK);
    char *got_peak = stats_text(rcy_snapshot_at_peak(l), RCY_KEY_TRACEBACK);
    strip_module_names(want), strip_module_names(want_peak);
    strip_module_names(got), strip_module_names(got_peak);
    assert_string_equal(got, want);
    assert_string_equal(got_peak, want_peak);
    assert_non_null(strstr(got, "[make_snapshot obj]"));
    /* dumped again (resolved now, or raw from its modules), it reads the same */
    assert_int_equal(rcy_snapshot_dump_raw(l, path), RCY_OK);
    rcy_snapshot *l2 = rcy_snapshot_load(path, &err);
    assert_non_null(l2);
    char *got2 = stats_text(l2, RCY_KEY_TRACEBACK);
    strip_module_names(got2);
    assert_string_equal(got2, want);
    rcy_snapshot_free(l2);
    rcy_snapshot_free(l);
    free(want), free(want_peak), free(got), free(got_peak), free(got2);
}

static void foreign_future_and_missing_files(void **state) {
    (void)state;
    int err = 0;
    assert_null(rcy_snapshot_load("/nonexistent/dir/file.rcy", &err));
    assert_int_equal(err, RCY_EIO);
    const char *text = "this is not a snapshot file, just some text that is long enough\n";
    write_all(path, (const unsigned char *)text, strlen(text));
    assert_null(rcy_snapshot_load(path, &err));
    assert_int_equal(err, RCY_EFORMAT);
    write_all(path, (const unsigned char *)"", 0);
    assert_null(rcy_snapshot_load(path, &err));
    assert_int_equal(err, RCY_EFORMAT);
    /* a future major version (2 is the raw layout of rcy_snapshot_dump_raw) */
    rcy_snapshot *s = make_snapshot();
    assert_int_equal(rcy_snapshot_dump(s, path), RCY_OK);
    size_t n;
    unsigned char *b = read_all(path, &n);
    b[8] = 3;
    write_all(path, b, n);
    assert_null(rcy_snapshot_load(path, &err));
    assert_int_equal(err, RCY_EVERSION);
    free(b);
    /* a huge count with a valid checksum: refused without allocating it */
    b = encoded(s, false, &n);
    rcy_snapshot_free(s);
    /* the first section is STRS: its count is at 32 + 16 */
    b[48] = b[49] = b[50] = 0xFF;
    b[51] = 0x7F;
    uint32_t crc = rcyi_crc32(0, b + 32, n - 32);
    for (int i = 0; i < 4; i++)
        b[24 + i] = (unsigned char)(crc >> (8 * i));
    write_all(path, b, n);
    assert_null(rcy_snapshot_load(path, &err));
    assert_int_equal(err, RCY_EFORMAT);
    free(b);
    assert_int_equal(rcy_snapshot_dump(NULL, path), RCY_EINVAL);
    assert_null(rcy_snapshot_load(NULL, &err));
    assert_int_equal(err, RCY_EINVAL);
    assert_int_equal(rcy_snapshot_dump(s = rcy_tracemalloc_take_snapshot(), "/nonexistent/x"),
                     RCY_EIO);
    rcy_snapshot_free(s);
}

/* ---- the format of record: bytes fixed by a golden image ---------------- */

/* A snapshot with nothing of this process in it (one frame: call sites
 * only, made-up addresses), so its file image is the same on every run.
 * Without its per call site counters it is written as before they
 * existed (1.1 and 2.0). */
static rcy_snapshot *golden_snapshot(bool counters) {
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    assert_int_equal(rcy_tracemalloc_keep_peak(true), RCY_OK);
    for (int i = 0; i < 8; i++)
        rcyi_trace_alloc((unsigned)i % 2, ADDR(i), 100u * (unsigned)i + 1, i % 3 ? "g.c" : "h.c",
                         10 + i % 4, i % 2 ? "gf" : NULL);
    rcyi_trace_free(0, ADDR(4));
    rcyi_trace_free(0, ADDR(6));
    rcyi_trace_alloc(1, ADDR(20), 3, "h.c", 99, "late");
    if (counters) { /* a temporary: counted, not live */
        rcyi_trace_alloc(0, ADDR(21), 5, "t.c", 7, "tmp");
        rcyi_trace_free(0, ADDR(21));
    }
    const rcy_sample smp[3] = {{10, 5, 5, 4096}, {20, 8, 8, 0}, {30, 2, 8, 8192}};
    rcy_snapshot *s = snapshot_with_extras(smp, "./golden", "42");
    rcyi_snapshot_set_site_counters(s, counters);
    return s;
}

static void print_c_array(const char *name, const unsigned char *b, size_t n) {
    printf("static const unsigned char %s[%zu] = {", name, n);
    for (size_t i = 0; i < n; i++)
        printf("%s0x%02x,", i % 12 ? " " : "\n    ", b[i]);
    printf("\n};\n");
}

/* `test_snapshot_file --print-golden` writes tests/snapfile_golden.h: run
 * it only when the format changes on purpose (a new minor version). */
static void print_golden(void) {
    rcy_snapshot *s = golden_snapshot(false);
    unsigned char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (rcyi_snapshot_encode(s, false, &b1, &n1) || rcyi_snapshot_encode_raw(s, &b2, &n2))
        exit(1);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
    s = golden_snapshot(true);
    unsigned char *b3 = NULL, *b4 = NULL;
    size_t n3 = 0, n4 = 0;
    if (rcyi_snapshot_encode(s, false, &b3, &n3) || rcyi_snapshot_encode_raw(s, &b4, &n4))
        exit(1);
    printf("/* tests/snapfile_golden.h — generated by `test_snapshot_file --print-golden`\n"
           " * (golden_snapshot() in test_snapshot_file.c): the uncompressed file images\n"
           " * of major versions 1 (resolved frames) and 2 (addresses and modules), as the\n"
           " * encoder wrote them when the format was fixed: 1.1 and 2.0 (no per call site\n"
           " * counters), 1.2 and 2.1 (with them, section TCNT). */\n");
    print_c_array("golden_v1", b1, n1);
    print_c_array("golden_v2", b2, n2);
    print_c_array("golden_v1_2", b3, n3);
    print_c_array("golden_v2_1", b4, n4);
    free(b1);
    free(b2);
    free(b3);
    free(b4);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
}

static void assert_same_bytes(const unsigned char *got, size_t ngot, const unsigned char *want,
                              size_t nwant) {
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, nwant);
}

static void files_keep_their_recorded_bytes(void **state) {
    (void)state;
    const unsigned char *images[4] = {golden_v1, golden_v2, golden_v1_2, golden_v2_1};
    size_t sizes[4] = {sizeof golden_v1, sizeof golden_v2, sizeof golden_v1_2, sizeof golden_v2_1};
    for (int c = 0; c < 2; c++) {
        rcy_snapshot *s = golden_snapshot(c == 1);
        unsigned char *b = NULL;
        size_t n = 0;
        assert_int_equal(rcyi_snapshot_encode(s, false, &b, &n), RCY_OK);
        assert_same_bytes(b, n, images[2 * c], sizes[2 * c]);
        free(b);
        assert_int_equal(rcyi_snapshot_encode_raw(s, &b, &n), RCY_OK);
        assert_same_bytes(b, n, images[2 * c + 1], sizes[2 * c + 1]);
        free(b);
        rcy_snapshot_free(s);
        rcy_tracemalloc_stop();
    }
    unsigned char *b = NULL;
    size_t n = 0;
    /* a loaded file encodes back to the bytes it was read from; the old
     * ones have no counters, the new ones theirs */
    for (int v = 0; v < 4; v++) {
        write_all(path, images[v], sizes[v]);
        int err = -1;
        rcy_snapshot *l = rcy_snapshot_load(path, &err);
        assert_non_null(l);
        assert_int_equal(err, RCY_OK);
        b = NULL;
        assert_int_equal(v ? rcyi_snapshot_encode_raw(l, &b, &n)
                           : rcyi_snapshot_encode(l, false, &b, &n),
                         RCY_OK);
        assert_same_bytes(b, n, images[v], sizes[v]);
        free(b);
        assert_int_equal(rcy_snapshot_has_site_counters(l), v >= 2);
        rcy_snapshot_free(l);
    }
}

static bool is_definite(const rcy_trace *t, void *arg) {
    (void)arg;
    return t->leak == RCY_LEAK_DEFINITE;
}

/* The leak class of every trace goes through both kinds of file (which
 * then say 1.2 and 2.1) and through rcy_snapshot_select; files of the
 * recorded formats, which have no LEAK section, load with every class
 * UNKNOWN. */
static void leak_classes_survive_files_and_old_files_have_none(void **state) {
    (void)state;
    rcy_snapshot *s = make_snapshot();
    size_t nt = 0;
    const rcy_trace *t = rcy_snapshot_traces(s, &nt);
    assert_true(nt > 4);
    unsigned char cls[64];
    size_t ndef = 0;
    for (size_t i = 0; i < nt && i < sizeof cls; i++) {
        cls[i] = (unsigned char)(1 + i % 3);
        ndef += cls[i] == RCY_LEAK_DEFINITE;
    }
    rcyi_snapshot_set_leak_classes(s, cls, nt);
    for (int raw = 0; raw < 2; raw++) {
        unsigned char *b = NULL;
        size_t n = 0;
        assert_int_equal(raw ? rcyi_snapshot_encode_raw(s, &b, &n)
                             : rcyi_snapshot_encode(s, false, &b, &n),
                         RCY_OK);
        assert_int_equal(b[8], raw ? 2 : 1);
        assert_int_equal(b[10], raw ? 2 : 3);
        int err = -1;
        rcy_snapshot *l = rcyi_snapshot_parse(b, n, &err);
        assert_non_null(l);
        size_t nl = 0;
        const rcy_trace *lt = rcy_snapshot_traces(l, &nl);
        assert_int_equal(nl, nt);
        for (size_t i = 0; i < nt; i++) {
            assert_int_equal(lt[i].leak, t[i].leak);
            assert_int_equal(lt[i].size, t[i].size);
        }
        rcy_snapshot *d = rcy_snapshot_select(l, is_definite, NULL);
        assert_non_null(d);
        size_t nd = 0;
        rcy_snapshot_traces(d, &nd);
        assert_int_equal(nd, ndef);
        rcy_snapshot_free(d);
        rcy_snapshot_free(l);
        free(b);
    }
    rcy_snapshot_free(s);
    const unsigned char *images[2] = {golden_v1, golden_v2};
    size_t sizes[2] = {sizeof golden_v1, sizeof golden_v2};
    for (int v = 0; v < 2; v++) {
        int err = -1;
        rcy_snapshot *l = rcyi_snapshot_parse(images[v], sizes[v], &err);
        assert_non_null(l);
        size_t nl = 0;
        const rcy_trace *lt = rcy_snapshot_traces(l, &nl);
        assert_true(nl > 0);
        for (size_t i = 0; i < nl; i++)
            assert_int_equal(lt[i].leak, RCY_LEAK_UNKNOWN);
        rcy_snapshot_free(l);
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--print-golden") == 0) {
        print_golden();
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(dump_then_load_gives_the_same_snapshot, setup_path,
                                        teardown),
        cmocka_unit_test_setup_teardown(filtered_and_empty_snapshots_round_trip, setup_path,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_truncation_is_an_error, setup_path, teardown),
        cmocka_unit_test_setup_teardown(byte_flips_are_detected, setup_path, teardown),
        cmocka_unit_test_setup_teardown(structural_damage_never_crashes, setup_path, teardown),
        cmocka_unit_test_setup_teardown(foreign_future_and_missing_files, setup_path, teardown),
        cmocka_unit_test_setup_teardown(raw_files_resolve_from_their_modules, setup_path, teardown),
        cmocka_unit_test_setup_teardown(compressed_and_uncompressed_files_load_alike, setup_path,
                                        teardown),
        cmocka_unit_test_setup_teardown(damaged_compressed_payload_is_refused, setup_path,
                                        teardown),
        cmocka_unit_test_setup_teardown(absurd_declared_sizes_are_refused, setup_path, teardown),
        cmocka_unit_test_setup_teardown(files_keep_their_recorded_bytes, setup_path, teardown),
        cmocka_unit_test_setup_teardown(leak_classes_survive_files_and_old_files_have_none,
                                        setup_path, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
