/* tests/testutil.h — helpers shared by the test programs (cmocka). */
#ifndef RCY_TESTUTIL_H
#define RCY_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first */
#include <cmocka.h>

#include "recycle.h"

/* Run fn(arg) in a forked child.  The test passes when the child dies by a
 * signal (abort) and what it wrote to stderr contains `expect`.  Death
 * tests are skipped (pass) under ASan when RCY_SKIP_DEATH is set. */
void rcy_expect_death_(void (*fn)(void *), void *arg, const char *expect, const char *file,
                       int line);
#define rcy_expect_death(fn, arg, expect)                                                          \
    rcy_expect_death_((fn), (arg), (expect), __FILE__, __LINE__)

/* Capture everything the library writes through its output callback into
 * a growing buffer (tests read it with rcy_test_output()). */
void rcy_test_capture_output(void);
const char *rcy_test_output(void);
void rcy_test_reset_output(void);

/* Bytes the heap's allocator has handed out and not got back (small and
 * large blocks): 0 once everything is freed. */
size_t rcy_test_bytes_in_use(rcy_heap *h);

/* Counting raw and arena allocators for rcy_config: what heaps built
 * with them still hold, in raw blocks and in arenas (atomic counters;
 * 0 once every such heap has given everything back). */
extern long rcy_test_raw_live, rcy_test_arenas_live;
extern const rcy_raw_allocator rcy_test_counting_raw;
extern const rcy_arena_allocator rcy_test_counting_arena;

/* While other threads allocate and free under tracing: take `rounds`
 * snapshots, each of whose traces must add up to the counters' current
 * total with peak >= current, and clear the traces at every round k with
 * k % clear_every == clear_at (clear_every 0: never). */
void rcy_test_snapshots_stay_exact(int rounds, int clear_every, int clear_at);

#endif
