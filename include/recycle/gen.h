/* recycle/gen.h — generators: sequences produced one item at a time.
 * Included by <recycle.h>; do not include directly.
 *
 * A generator is a recycle object made from a step function and a state.
 * Each call to rcy_gen_next runs the step function once and hands back the
 * one item it produced, so a sequence of any length costs the memory of
 * its state plus one item, the way a Python generator keeps one frame.
 *
 * Why a state machine.  A generator here is a step function with its
 * state kept explicitly in the generator object (a few bytes, allocated
 * inline, usually 48-80 bytes in all).  The alternative, stackful
 * coroutines (ucontext, hand-written context switches), gives each
 * generator its own machine stack: at least a few KiB per generator even
 * for a counter, a context switch on every item (swapcontext also makes a
 * sigprocmask system call), no portability guarantees, and stacks that
 * AddressSanitizer and the collector cannot see into.  A step function is
 * an ordinary call: a few nanoseconds per item, nothing hidden from the
 * collector (all references live in the state, visited by its
 * `traverse`), and generators compose (map, filter, take) by holding
 * each other in their states.  RCY_GEN_BEGIN / RCY_GEN_YIELD / RCY_GEN_END
 * let a step function be written in the shape of a Python generator body
 * (the resume point is a switch on a field of the state; locals that must
 * survive a yield live in the state).
 *
 * Life cycle.  A generator is OPEN until one of: its step function
 * reports the end (exhausted), its step function fails (error), or
 * rcy_gen_close.  At that moment its cleanup runs, exactly once: the
 * spec's `close`, then its `clear` (the references in the state are
 * dropped at once, so a finished generator holds nothing).  Dropping the
 * last reference to an open generator closes it (the generator type's
 * PEP 442 finalizer does it), and so does the cycle collector when a
 * generator is part of unreachable garbage: finalizers run first, so the
 * generator is closed before `clear` breaks the cycle.
 *
 * Invariant: CLOSED is set before the spec's close runs and never cleared;
 *            a closed generator never calls its step function again.
 * Invariant: a generator is tracked by the collector iff its spec has
 *            `traverse` (a state without references cannot be in a cycle).
 */
#ifndef RECYCLE_GEN_H
#define RECYCLE_GEN_H

#include "containers.h"
#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rcy_gen rcy_gen;

/** One step: store a NEW reference in *item and return 1 (an item was
 * produced), return 0 when the sequence is exhausted, or a negative
 * rcy_err when it failed.  `heap` is the generator's heap (to make items);
 * `state` is the generator's state. */
typedef int (*rcy_gen_step_fn)(rcy_heap *heap, void *state, void **item);

/** What a kind of generator is.  Usually a static const. */
typedef struct rcy_gen_spec {
    const char *name;     /**< for messages; NULL = "generator"                */
    size_t state_size;    /**< bytes of state kept inline, zero-filled at birth */
    rcy_gen_step_fn next; /**< required                                       */
    /** Visit each object the state holds a reference to (like a type's
     * traverse).  Required when the state holds references; a generator
     * whose spec has it is tracked by the collector. */
    int (*traverse)(void *state, rcy_visitproc visit, void *arg);
    /** Drop the state's references (set to NULL, then decref).  Called at
     * close and again by the collector or at destruction: must be
     * idempotent. */
    void (*clear)(void *state);
    /** Cleanup (Python's `finally` in a generator body): runs exactly once,
     * at exhaustion, error, rcy_gen_close, last decref or collection.
     * Optional. */
    void (*close)(void *state);
} rcy_gen_spec;

/** The type of every generator (the untracked ones have an internal twin
 * type; test with rcy_gen_check). */
RCY_API extern const rcy_type rcy_gen_type;

/** A new open generator (refcount 1) with a zero-filled state of
 * spec->state_size bytes, aligned for any type; fill it through
 * rcy_gen_state.  No function steals a reference: when you store an object
 * in the state, take your own reference (rcy_incref), the spec's clear
 * drops it.  NULL when out of memory or when spec or spec->next is NULL.
 * `spec` must outlive the generator. */
RCY_API rcy_gen *rcy_gen_new_(rcy_heap *heap, const rcy_gen_spec *spec, RCY_SITE_PARAMS);
#define rcy_gen_new(h, spec) rcy_gen_new_((h), (spec), RCY_SITE)

/** The generator's state (spec->state_size bytes). */
RCY_API void *rcy_gen_state(rcy_gen *g);
RCY_API const rcy_gen_spec *rcy_gen_spec_of(const rcy_gen *g);
/** True when obj is a generator. */
RCY_API bool rcy_gen_check(const void *obj);

/** Status values of rcy_gen_next (negative values are rcy_err codes). */
#define RCY_GEN_ITEM 1
#define RCY_GEN_DONE 0

/** The next item as a NEW reference, or NULL.  *status (if status is not
 * NULL) is set to RCY_GEN_ITEM with an item, RCY_GEN_DONE when the
 * generator is finished (exhausted, closed, or failed earlier), or a
 * negative rcy_err when this step failed.  An error finishes the
 * generator (as an exception ends a Python generator): later calls report
 * RCY_GEN_DONE, and rcy_gen_error keeps the code.  Calling it from inside
 * the generator's own step function reports RCY_ESTATE ("generator already
 * executing") and leaves the generator as it was. */
RCY_API void *rcy_gen_next(rcy_gen *g, int *status);

/** The error that ended the generator, or 0 when it did not fail. */
RCY_API int rcy_gen_error(const rcy_gen *g);

/** Close the generator: its cleanup runs (once; a second close does
 * nothing) and later rcy_gen_next calls report RCY_GEN_DONE.  0, or
 * RCY_ESTATE when called from its own step function. */
RCY_API int rcy_gen_close(rcy_gen *g);
RCY_API bool rcy_gen_is_closed(const rcy_gen *g);

/** Loop over every item of a generator:
 *
 *     RCY_FOR_EACH(item, g) {
 *         printf("%ld\n", rcy_int_value(item));
 *     }
 *     if (rcy_gen_error(g)) ... // tell an error from the end
 *
 * `item` is a `void *` local to the loop, holding a reference that the
 * loop drops at the end of each iteration (before the next item is made,
 * so only one item is alive at a time).  `break`, `return` and `goto` out
 * of the body also drop it (the variable has the cleanup attribute), so
 * `item` must not be used after the loop: to keep it, rcy_incref it (or
 * store it in a container) before leaving.  The generator stays open after
 * a break; it is closed when exhausted, by rcy_gen_close, or when its last
 * reference goes.  `g` is evaluated once per item: pass a variable. */
#define RCY_FOR_EACH(item, g)                                                                      \
    for (void *item __attribute__((cleanup(rcy_auto_release_))) = rcy_gen_next((g), NULL);         \
         item != NULL; item = rcy_gen_advance_((g), item))

/** Used by RCY_FOR_EACH: drop prev, then return the next item (or NULL). */
RCY_API void *rcy_gen_advance_(rcy_gen *g, void *prev);

/* ---- writing a step function like a generator body ------------------ */

/** Write a step function in the shape of a Python generator body:
 *
 *     struct numbers { int pc; long i, n; };
 *     static int numbers_next(rcy_heap *h, void *s, void **item) {
 *         struct numbers *st = s;
 *         RCY_GEN_BEGIN(st->pc);
 *         for (st->i = 0; st->i < st->n; st->i++)
 *             RCY_GEN_YIELD(st->pc, item, rcy_int_new(h, st->i));
 *         RCY_GEN_END(st->pc);
 *     }
 *
 * `pc` is an int field of the state (0 at birth).  Each RCY_GEN_YIELD
 * stores its value (a new reference; NULL counts as out of memory) and
 * returns; the next call resumes just after it.  Locals of the function do
 * not survive a yield: keep loop variables in the state.  At most one
 * RCY_GEN_YIELD per source line; no RCY_GEN_YIELD inside a nested switch. */
#define RCY_GEN_BEGIN(pc)                                                                          \
    switch (pc) {                                                                                  \
    case -1:                                                                                       \
        return RCY_GEN_DONE;                                                                       \
    case 0:
#define RCY_GEN_YIELD(pc, item, value)                                                             \
    do {                                                                                           \
        (pc) = __LINE__;                                                                           \
        if ((*(item) = (void *)(value)) == NULL)                                                   \
            return RCY_ENOMEM;                                                                     \
        return RCY_GEN_ITEM;                                                                       \
    case __LINE__:;                                                                                \
    } while (0)
#define RCY_GEN_END(pc)                                                                            \
    }                                                                                              \
    (pc) = -1;                                                                                     \
    return RCY_GEN_DONE

/* ---- building blocks (all compose without building lists) ----------- */

/** Python's range(start, stop, step): rcy_int items.  NULL when step is 0
 * or out of memory. */
RCY_API rcy_gen *rcy_gen_range_(rcy_heap *heap, long start, long stop, long step, RCY_SITE_PARAMS);
#define rcy_gen_range(h, start, stop, step) rcy_gen_range_((h), (start), (stop), (step), RCY_SITE)

/** map(fn, src): fn gets a borrowed item and stores a new reference in
 * *out, returning 0, or returns a negative rcy_err (which ends the
 * generator with that error).  ctx is passed through; it is not an object
 * reference and must outlive the generator.  The map holds a reference to
 * src. */
typedef int (*rcy_gen_map_fn)(rcy_heap *heap, void *item, void **out, void *ctx);
RCY_API rcy_gen *rcy_gen_map_(rcy_gen *src, rcy_gen_map_fn fn, void *ctx, RCY_SITE_PARAMS);
#define rcy_gen_map(src, fn, ctx) rcy_gen_map_((src), (fn), (ctx), RCY_SITE)

/** filter(pred, src): pred returns 1 to keep a (borrowed) item, 0 to skip
 * it, or a negative rcy_err. */
typedef int (*rcy_gen_pred_fn)(void *item, void *ctx);
RCY_API rcy_gen *rcy_gen_filter_(rcy_gen *src, rcy_gen_pred_fn pred, void *ctx, RCY_SITE_PARAMS);
#define rcy_gen_filter(src, pred, ctx) rcy_gen_filter_((src), (pred), (ctx), RCY_SITE)

/** itertools.islice(src, n): at most n items of src.  src is not advanced
 * past the n-th item. */
RCY_API rcy_gen *rcy_gen_take_(rcy_gen *src, size_t n, RCY_SITE_PARAMS);
#define rcy_gen_take(src, n) rcy_gen_take_((src), (n), RCY_SITE)

/** iter(list): the items of a list, in order, read one at a time (the
 * generator holds a reference to the list; items appended meanwhile are
 * seen, as in Python). */
RCY_API rcy_gen *rcy_gen_from_list_(rcy_list *list, RCY_SITE_PARAMS);
#define rcy_gen_from_list(l) rcy_gen_from_list_((l), RCY_SITE)

/** list(g): drain the generator into a new list.  NULL on failure: when
 * rcy_gen_error(g) is non-zero the generator failed, else memory ran out
 * (the generator then stays open, its remaining items not taken). */
RCY_API rcy_list *rcy_gen_to_list_(rcy_gen *g, RCY_SITE_PARAMS);
#define rcy_gen_to_list(g) rcy_gen_to_list_((g), RCY_SITE)

#ifdef __cplusplus
}
#endif
#endif /* RECYCLE_GEN_H */
