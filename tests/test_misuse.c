/* tests/test_misuse.c — one policy for NULL and wrong-type arguments
 * (include/recycle/core.h): every public entry point of the object layer,
 * the containers, weak references and the collector reports the misuse
 * once through the error handler as RCY_EMISUSE, names itself and the
 * argument, returns its neutral value, and never stops the program. */
#include "testutil.h"

#include <string.h>

typedef struct fixture {
    rcy_heap *h;
    rcy_list *l;
    rcy_dict *d;
    rcy_int *i;
} fixture;

static void on_gc(rcy_heap *heap, rcy_gc_phase phase, const rcy_gc_info *info, void *arg) {
    (void)heap, (void)phase, (void)info, (void)arg;
}
static void on_finalize(void *arg) {
    (void)arg;
}

/* X(name, the report's text, an expression true when the call returned
 * its neutral value); `f` is the fixture. */
#define MISUSE_CASES(X)                                                                            \
    X(new_null_type, "rcy_new: type is NULL", rcy_new(f->h, NULL) == NULL)                         \
    X(new_null_heap, "rcy_new: heap is NULL", rcy_new(NULL, &rcy_int_type) == NULL)                \
    X(getrefcount_null, "rcy_getrefcount: obj is NULL", rcy_getrefcount(NULL) == 0)                \
    X(type_of_null, "rcy_type_of: obj is NULL", rcy_type_of(NULL) == NULL)                         \
    X(heap_of_null, "rcy_heap_of: obj is NULL", rcy_heap_of(NULL) == NULL)                         \
    X(immortalize_null, "rcy_immortalize: obj is NULL", (rcy_immortalize(NULL), true))             \
    X(is_immortal_null, "rcy_is_immortal: obj is NULL", !rcy_is_immortal(NULL))                    \
    X(config_init_null, "rcy_config_init: cfg is NULL", (rcy_config_init(NULL), true))             \
    X(int_new_null, "rcy_int_new_: heap is NULL", rcy_int_new(NULL, 1) == NULL)                    \
    X(int_value_null, "rcy_int_value: i is NULL", rcy_int_value(NULL) == 0)                        \
    X(int_value_list, "rcy_int_value: i has type list, not int",                                   \
      rcy_int_value((rcy_int *)f->l) == 0)                                                         \
    X(list_new_null, "rcy_list_new_: heap is NULL", rcy_list_new(NULL) == NULL)                    \
    X(list_len_null, "rcy_list_len: l is NULL", rcy_list_len(NULL) == 0)                           \
    X(list_len_dict, "rcy_list_len: l has type dict, not list",                                    \
      rcy_list_len((rcy_list *)f->d) == 0)                                                         \
    X(list_append_dict, "rcy_list_append_: l has type dict, not list",                             \
      rcy_list_append((rcy_list *)f->d, f->i) == RCY_EINVAL)                                       \
    X(list_append_null_item, "rcy_list_insert_: item is NULL",                                     \
      rcy_list_append(f->l, NULL) == RCY_EINVAL)                                                   \
    X(list_insert_int, "rcy_list_insert_: l has type int, not list",                               \
      rcy_list_insert((rcy_list *)f->i, 0, f->i) == RCY_EINVAL)                                    \
    X(list_set_null, "rcy_list_set: l is NULL", rcy_list_set(NULL, 0, f->i) == RCY_EINVAL)         \
    X(list_get_dict, "rcy_list_get: l has type dict, not list",                                    \
      rcy_list_get((rcy_list *)f->d, 0) == NULL)                                                   \
    X(list_pop_null, "rcy_list_pop: l is NULL", rcy_list_pop(NULL, -1) == NULL)                    \
    X(list_remove_null_item, "rcy_list_remove: item is NULL",                                      \
      rcy_list_remove(f->l, NULL) == RCY_EINVAL)                                                   \
    X(list_clear_dict, "rcy_list_clear: l has type dict, not list",                                \
      (rcy_list_clear((rcy_list *)f->d), rcy_dict_len(f->d) == 1))                                 \
    X(list_contains_null, "rcy_list_contains: l is NULL", !rcy_list_contains(NULL, f->i))          \
    X(dict_new_null, "rcy_dict_new_: heap is NULL", rcy_dict_new(NULL) == NULL)                    \
    X(dict_len_list, "rcy_dict_len: d has type list, not dict",                                    \
      rcy_dict_len((rcy_dict *)f->l) == 0)                                                         \
    X(dict_set_null_key, "rcy_dict_set_: key is NULL",                                             \
      rcy_dict_set(f->d, NULL, f->i) == RCY_EINVAL)                                                \
    X(dict_set_list, "rcy_dict_set_: d has type list, not dict",                                   \
      rcy_dict_set((rcy_dict *)f->l, "k", f->i) == RCY_EINVAL)                                     \
    X(dict_get_null, "rcy_dict_get: d is NULL", rcy_dict_get(NULL, "k") == NULL)                   \
    X(dict_del_null_key, "rcy_dict_del: key is NULL", rcy_dict_del(f->d, NULL) == RCY_EINVAL)      \
    X(dict_clear_list, "rcy_dict_clear: d has type list, not dict",                                \
      (rcy_dict_clear((rcy_dict *)f->l), rcy_list_len(f->l) == 1))                                 \
    X(dict_next_null_pos, "rcy_dict_next: pos is NULL", !rcy_dict_next(f->d, NULL, NULL, NULL))    \
    X(weakref_new_null, "rcy_weakref_new_: obj is NULL",                                           \
      rcy_weakref_new(NULL, NULL, NULL) == NULL)                                                   \
    X(weakref_get_null, "rcy_weakref_get: wr is NULL", rcy_weakref_get(NULL) == NULL)              \
    X(weakref_get_list, "rcy_weakref_get: wr has type list, not weakref",                          \
      rcy_weakref_get((rcy_weakref *)f->l) == NULL)                                                \
    X(getweakrefcount_null, "rcy_weakref_getweakrefcount: obj is NULL",                            \
      rcy_weakref_getweakrefcount(NULL) == 0)                                                      \
    X(finalize_new_null, "rcy_finalize_new_: obj is NULL",                                         \
      rcy_finalize_new(NULL, on_finalize, NULL) == NULL)                                           \
    X(finalize_new_null_fn, "rcy_finalize_new_: fn is NULL",                                       \
      rcy_finalize_new(f->l, NULL, NULL) == NULL)                                                  \
    X(finalize_call_list, "rcy_finalize_call: f has type list, not finalize",                      \
      !rcy_finalize_call((rcy_finalize *)f->l))                                                    \
    X(finalize_detach_null, "rcy_finalize_detach: f is NULL", !rcy_finalize_detach(NULL))          \
    X(finalize_alive_null, "rcy_finalize_alive: f is NULL", !rcy_finalize_alive(NULL))             \
    X(finalize_set_atexit_null, "rcy_finalize_set_atexit: f is NULL",                              \
      (rcy_finalize_set_atexit(NULL, false), true))                                                \
    X(finalize_get_atexit_null, "rcy_finalize_get_atexit: f is NULL",                              \
      !rcy_finalize_get_atexit(NULL))                                                              \
    X(gc_enable_null, "rcy_gc_enable: heap is NULL", (rcy_gc_enable(NULL), true))                  \
    X(gc_get_count_null, "rcy_gc_get_count: count is NULL", (rcy_gc_get_count(f->h, NULL), true))  \
    X(gc_get_threshold_null, "rcy_gc_get_threshold: threshold is NULL",                            \
      (rcy_gc_get_threshold(f->h, NULL), true))                                                    \
    X(gc_get_stats_null, "rcy_gc_get_stats: stats is NULL",                                        \
      rcy_gc_get_stats(f->h, NULL) == RCY_EINVAL)                                                  \
    X(gc_print_stats_null, "rcy_gc_print_stats: heap is NULL",                                     \
      rcy_gc_print_stats(NULL, NULL) == RCY_EINVAL)                                                \
    X(gc_is_tracked_null, "rcy_gc_is_tracked: obj is NULL", !rcy_gc_is_tracked(NULL))              \
    X(gc_is_finalized_null, "rcy_gc_is_finalized: obj is NULL", !rcy_gc_is_finalized(NULL))        \
    X(gc_track_null, "rcy_gc_track: obj is NULL", rcy_gc_track(NULL) == RCY_EINVAL)                \
    X(gc_untrack_null, "rcy_gc_untrack: obj is NULL", (rcy_gc_untrack(NULL), true))                \
    X(gc_callbacks_add_null, "rcy_gc_callbacks_add: fn is NULL",                                   \
      rcy_gc_callbacks_add(f->h, NULL, NULL) == RCY_EINVAL)                                        \
    X(gc_callbacks_remove_null, "rcy_gc_callbacks_remove: fn is NULL",                             \
      rcy_gc_callbacks_remove(f->h, NULL, NULL) == RCY_EINVAL)                                     \
    X(gc_callbacks_remove_heap, "rcy_gc_callbacks_remove: heap is NULL",                           \
      rcy_gc_callbacks_remove(NULL, on_gc, NULL) == RCY_EINVAL)                                    \
    X(gc_get_referrers_null, "rcy_gc_get_referrers: objs is NULL",                                 \
      rcy_gc_get_referrers(f->h, NULL, 1) == NULL)                                                 \
    X(gc_get_referents_null, "rcy_gc_get_referents: objs is NULL",                                 \
      rcy_gc_get_referents(f->h, NULL, 1) == NULL)                                                 \
    X(gc_collect_null, "rcy_gc_collect: heap is NULL", rcy_gc_collect(NULL, 0) == RCY_EINVAL)      \
    X(gc_step_null, "rcy_gc_step: heap is NULL", rcy_gc_step(NULL, 100) == RCY_EINVAL)             \
    X(gc_set_incremental_null, "rcy_gc_set_incremental: heap is NULL",                             \
      (rcy_gc_set_incremental(NULL, true), true))                                                  \
    X(gc_get_incremental_null, "rcy_gc_get_incremental: heap is NULL",                             \
      !rcy_gc_get_incremental(NULL))

#define DEFINE_CASE(name, report, neutral)                                                         \
    static bool name(fixture *f) {                                                                 \
        (void)f;                                                                                   \
        return neutral;                                                                            \
    }
MISUSE_CASES(DEFINE_CASE)

typedef struct misuse_case {
    const char *name, *report;
    bool (*call)(fixture *f);
} misuse_case;

#define CASE_ROW(name, report, neutral) {#name, report, name},
static const misuse_case cases[] = {MISUSE_CASES(CASE_ROW)};

static int reports;
static char last[256];
static void record(int err, const char *msg, void *arg) {
    (void)arg;
    assert_int_equal(err, RCY_EMISUSE);
    reports++;
    snprintf(last, sizeof last, "%s", msg);
}

static void every_entry_point_reports_misuse_and_returns_its_neutral_value(void **state) {
    (void)state;
    fixture f;
    f.h = rcy_heap_new(NULL);
    f.l = rcy_list_new(f.h);
    f.d = rcy_dict_new(f.h);
    f.i = rcy_int_new(f.h, 7);
    assert_int_equal(rcy_list_append(f.l, f.i), RCY_OK);
    assert_int_equal(rcy_dict_set(f.d, "k", f.i), RCY_OK);
    rcy_set_error_handler(record, NULL);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        reports = 0;
        last[0] = '\0';
        bool neutral = cases[k].call(&f);
        if (!neutral || reports != 1 || strcmp(last, cases[k].report) != 0)
            fail_msg("%s: neutral %d, %d reports, last \"%s\" (want \"%s\")", cases[k].name,
                     neutral, reports, last, cases[k].report);
    }
    rcy_set_error_handler(NULL, NULL);
    /* nothing was harmed: the objects are intact */
    assert_int_equal(rcy_list_len(f.l), 1);
    assert_int_equal(rcy_dict_len(f.d), 1);
    assert_int_equal(rcy_int_value(f.i), 7);
    rcy_decref(f.i);
    rcy_decref(f.l);
    rcy_decref(f.d);
    rcy_heap_free(f.h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_entry_point_reports_misuse_and_returns_its_neutral_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
