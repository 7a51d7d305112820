/* tests/fuzz/fuzz_snapshot_load.c — libFuzzer target for the snapshot
 * file loader.  Each input is parsed as it is, then again with its length
 * and checksum fields repaired, so mutations reach the structure checks
 * behind the checksum (the flags are kept: a compressed seed stays
 * compressed, so mutations also reach the decompression checks).  Whatever loads must be usable:
 * statistics, a diff against itself and a dump must all work on it.
 *
 * Files as well as buffers: each input is also loaded through a pipe (the
 * loader's path for FIFOs and devices) and, with its declared body and
 * uncompressed lengths made absurd, through a pipe and a sparse regular
 * file; at start-up, /dev/zero, /dev/null, /dev/urandom, a FIFO with no
 * writer, a 100 GiB sparse file and a directory must each be refused
 * quickly with an error code. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void use(const rcy_snapshot *s) {
    for (int k = 0; k <= RCY_KEY_TRACEBACK; k++) {
        rcy_stats *st = rcy_snapshot_statistics(s, (rcy_key_type)k, false);
        if (st && st->len) {
            char buf[256];
            rcy_statistic_format(&st->items[0], buf, sizeof buf);
            char *tb = rcy_traceback_format(st->items[0].traceback, 0, false);
            free(tb);
        }
        rcy_stats_free(st);
    }
    rcy_stat_diffs *d = rcy_snapshot_compare_to(s, s, RCY_KEY_LINENO, true);
    rcy_stat_diffs_free(d);
    rcy_filter f = {.inclusive = true, .filename_pattern = "*.c", .domain = -1};
    rcy_snapshot_free(rcy_snapshot_filter_traces(s, &f, 1));
}

static void exercise(rcy_snapshot *s) {
    if (!s)
        return;
    use(s);
    if (rcy_snapshot_at_peak(s))
        use(rcy_snapshot_at_peak(s));
    rcy_snapshot_free(s);
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Load the bytes through a pipe: the loader reads at most what the
 * header declares, never waits past the end. */
static void load_through_pipe(const uint8_t *data, size_t size) {
    int fds[2];
    if (size > 60000 || pipe(fds) != 0)
        return;
    if (write(fds[1], data, size) != (ssize_t)size) {
        close(fds[0]), close(fds[1]);
        return;
    }
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
    int err;
    exercise(rcy_snapshot_load(path, &err));
    close(fds[0]);
}

/* A sparse regular file: the bytes, then a hole up to `total`. */
static void load_sparse(const uint8_t *data, size_t size, uint64_t total) {
    char path[] = "/tmp/rcy-fuzz-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return;
    unlink(path);
    if (write(fd, data, size) == (ssize_t)size && ftruncate(fd, (off_t)total) == 0) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        int err;
        rcy_snapshot *s = rcy_snapshot_load(p, &err);
        if (s)
            abort(); /* a hole of zeros is never a valid body */
    }
    close(fd);
}

static void expect_refused(const char *what, const char *path) {
    int err = 0;
    rcy_snapshot *s = rcy_snapshot_load(path, &err);
    if (s || err == RCY_OK || err == RCY_ENOMEM) {
        fprintf(stderr, "fuzz: %s (%s) was not refused cleanly: %s\n", what, path,
                rcy_strerror(err));
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    expect_refused("an endless device", "/dev/zero");
    expect_refused("random bytes", "/dev/urandom");
    expect_refused("an empty device", "/dev/null");
    expect_refused("a directory", "/");
    char dir[] = "/tmp/rcy-fuzz-dir-XXXXXX";
    if (mkdtemp(dir)) {
        char fifo[sizeof dir + 16], sparse[sizeof dir + 16];
        snprintf(fifo, sizeof fifo, "%s/fifo", dir);
        snprintf(sparse, sizeof sparse, "%s/sparse", dir);
        if (mkfifo(fifo, 0600) == 0)
            expect_refused("a FIFO with no writer", fifo);
        int fd = open(sparse, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0 && ftruncate(fd, (off_t)100 << 30) == 0)
            expect_refused("a 100 GiB sparse file", sparse);
        if (fd >= 0)
            close(fd);
        unlink(fifo);
        unlink(sparse);
        rmdir(dir);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int err;
    exercise(rcyi_snapshot_parse(data, size, &err));
    load_through_pipe(data, size);
    if (size >= 32) {
        uint8_t *c = malloc(size);
        if (!c)
            return 0;
        memcpy(c, data, size);
        memcpy(c, "RCYTRACE", 8);
        c[8] = data[8] == 2 ? 2 : 1, c[9] = 0; /* 2: the raw layout */
        uint64_t body = size - 32;
        put_le64(c + 16, body);
        uint32_t crc = rcyi_crc32(0, c + 32, body);
        for (int i = 0; i < 4; i++)
            c[24 + i] = (uint8_t)(crc >> (8 * i));
        exercise(rcyi_snapshot_parse(c, size, &err));
        load_through_pipe(c, size);
        /* absurd declared sizes: the body, then a compressed body's
         * uncompressed length (taken from the input's last bytes) */
        static const uint64_t absurd[] = {(uint64_t)1 << 40, UINT64_MAX, UINT64_MAX - 31,
                                          ((uint64_t)1 << 30) + 1};
        uint64_t pick = absurd[data[size - 1] % 4];
        if (size >= 40 && (c[12] & 1)) {
            put_le64(c + 32, pick);
            crc = rcyi_crc32(0, c + 32, body);
            for (int i = 0; i < 4; i++)
                c[24 + i] = (uint8_t)(crc >> (8 * i));
            exercise(rcyi_snapshot_parse(c, size, &err));
        }
        put_le64(c + 16, pick);
        exercise(rcyi_snapshot_parse(c, size, &err));
        load_through_pipe(c, size);
        if ((data[size - 1] & 0x30) == 0)
            load_sparse(c, size, (uint64_t)1 << 36);
        free(c);
    }
    return 0;
}
