/* src/error.h — the library's single error path and single output path
 * (error.c).
 *
 * Invariants:
 *   E1  every message the library prints goes through rcyi_output (or
 *       rcyi_put with out == NULL), so the user's output callback sees all
 *   E2  misuse that would corrupt a heap (and detected corruption) goes
 *       through rcyi_fatal: the error handler, then abort()
 *   E3  misuse that harms nothing (a NULL or wrong-type argument to a public
 *       function, an object of another heap given to a container's store)
 *       goes through rcyi_misuse: reported as RCY_EMISUSE, never fatal, and
 *       the function returns its neutral value (the rule is stated for
 *       users in include/recycle/core.h) */
#ifndef RCY_SRC_ERROR_H
#define RCY_SRC_ERROR_H

#include <stdio.h>

#include "recycle.h"

RCY_NORETURN void rcyi_fatal(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rcyi_output(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Misuse that harms no heap (E3): reported to the error handler as
 * RCY_EMISUSE (by default printed); the caller then returns its neutral
 * value. */
void rcyi_misuse(const char *func, const char *what);
/* The entry check of a public function: `RCYI_REQUIRE(heap, NULL);`
 * (`RCYI_REQUIRE(heap, );` in a void function). */
#define RCYI_REQUIRE(arg, ret)                                                                     \
    do {                                                                                           \
        if (RCY_UNLIKELY(!(arg))) {                                                                \
            rcyi_misuse(__func__, #arg " is NULL");                                                \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)
/* The entry check of a public function taking an object of one type
 * (`RCYI_REQUIRE_TYPE(l, &rcy_list_type, RCY_EINVAL);`): NULL, or an
 * object of another type, is misuse (E3). */
#define RCYI_REQUIRE_TYPE(arg, want, ret)                                                          \
    do {                                                                                           \
        if (RCY_UNLIKELY(!(arg) || RCY_HEAD_(arg)->type != (want))) {                              \
            rcyi_misuse_type(__func__, #arg, (arg), (want));                                       \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)
/* The report of RCYI_REQUIRE_TYPE: "f: l is NULL" or "f: l has type dict,
 * not list". */
void rcyi_misuse_type(const char *func, const char *arg, const void *obj, const rcy_type *want);
/* The store check of a container on heap h (`RCYI_REQUIRE_HEAP(item,
 * l->heap, RCY_EINVAL);`): an object of another heap is misuse (E3), as a
 * reference across heaps would be followed by h's collector.  A shared
 * object (object.h) may be stored anywhere: no heap's collector follows
 * it. */
#define RCYI_REQUIRE_HEAP(arg, h, ret)                                                             \
    do {                                                                                           \
        if (RCY_UNLIKELY(rcyi_heap_of_head(RCY_HEAD_(arg)) != (h)) &&                              \
            !rcyi_rc_in_shared_graph(rcyi_refcnt_load(RCY_HEAD_(arg)))) {                          \
            rcyi_misuse_heap(__func__, #arg, (arg), (h));                                          \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)
/* The report of RCYI_REQUIRE_HEAP: "f: item is an object of type T in
 * heap B, not heap A (...)". */
void rcyi_misuse_heap(const char *func, const char *arg, const void *obj, const rcy_heap *h);
/* Print a line of a report to `out`, or through the output callback when
 * out is NULL (the statistics printers' convention). */
void rcyi_put(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
