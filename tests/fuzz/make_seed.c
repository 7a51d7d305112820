/* tests/fuzz/make_seed.c — writes a few valid snapshot files as the seed
 * corpus of the loader fuzzer: make_seed DIR.  rcy_snapshot_dump writes
 * zstd-compressed files when the library has libzstd (so the fuzzer
 * reaches the decompression checks); seed-full-raw.rcy is the same
 * snapshot uncompressed (so it reaches the section parser directly);
 * seed-addresses.rcy is rcy_snapshot_dump_raw's layout (modules and
 * addresses, major version 2). */
#include <stdio.h>
#include <stdlib.h>

#include "snapshot.h"

#define ADDR(i) ((const void *)(uintptr_t)(0x400000u + 16u * (uintptr_t)(i)))

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    char path[4096];
    rcy_tracemalloc_start(4);
    rcy_tracemalloc_keep_peak(true);
    for (int i = 0; i < 6; i++)
        rcyi_trace_alloc((unsigned)i % 2, ADDR(i), 10u * (unsigned)i + 1, i % 3 ? "a.c" : "b.c", i,
                         "f");
    rcyi_trace_free(0, ADDR(2));
    rcy_snapshot *s = rcy_tracemalloc_take_snapshot();
    snprintf(path, sizeof path, "%s/seed-small.rcy", argv[1]);
    int rc = rcy_snapshot_dump(s, path);
    rcy_sample smp[2] = {{1, 2, 3, 0}, {4, 5, 6, 0}};
    rcy_snapshot_set_timeline(s, smp, 2);
    rcy_snapshot_set_info(s, "k", "v");
    snprintf(path, sizeof path, "%s/seed-full.rcy", argv[1]);
    rc |= rcy_snapshot_dump(s, path);
    unsigned char *raw = NULL;
    size_t n = 0;
    rc |= rcyi_snapshot_encode(s, false, &raw, &n);
    snprintf(path, sizeof path, "%s/seed-full-raw.rcy", argv[1]);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(raw, 1, n, f) != n)
        rc = 1;
    if (f && fclose(f) != 0)
        rc = 1;
    free(raw);
    snprintf(path, sizeof path, "%s/seed-addresses.rcy", argv[1]);
    rc |= rcy_snapshot_dump_raw(s, path);
    rcy_snapshot_free(s);
    rcy_tracemalloc_stop();
    return rc ? 1 : 0;
}
