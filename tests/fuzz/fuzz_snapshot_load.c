/* tests/fuzz/fuzz_snapshot_load.c — libFuzzer target for the snapshot
 * file loader.  Each input is parsed as it is, then again with its length
 * and checksum fields repaired, so mutations reach the structure checks
 * behind the checksum (the flags are kept: a compressed seed stays
 * compressed, so mutations also reach the decompression checks).  Whatever loads must be usable:
 * statistics, a diff against itself and a dump must all work on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tracemalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int err;
    exercise(rcyi_snapshot_parse(data, size, &err));
    if (size >= 32) {
        uint8_t *c = malloc(size);
        if (!c)
            return 0;
        memcpy(c, data, size);
        memcpy(c, "RCYTRACE", 8);
        c[8] = data[8] == 2 ? 2 : 1, c[9] = 0; /* 2: the raw layout */
        uint64_t body = size - 32;
        for (int i = 0; i < 8; i++)
            c[16 + i] = (uint8_t)(body >> (8 * i));
        uint32_t crc = rcyi_crc32(0, c + 32, body);
        for (int i = 0; i < 4; i++)
            c[24 + i] = (uint8_t)(crc >> (8 * i));
        exercise(rcyi_snapshot_parse(c, size, &err));
        free(c);
    }
    return 0;
}
