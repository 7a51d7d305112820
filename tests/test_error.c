/* tests/test_error.c — error codes, the error handler and the output callback. */
#include "testutil.h"

#include <string.h>

#include "internal.h"

static void strerror_names_every_code(void **state) {
    (void)state;
    for (int e = RCY_OK; e >= RCY_EUNSUPPORTED; e--)
        assert_string_not_equal(rcy_strerror(e), "unknown error");
    assert_string_equal(rcy_strerror(RCY_ENOMEM), "out of memory");
    assert_string_equal(rcy_strerror(12345), "unknown error");
}

static void output_callback_receives_library_output(void **state) {
    (void)state;
    rcy_test_capture_output();
    rcyi_output("hello %d\n", 42);
    assert_string_equal(rcy_test_output(), "hello 42\n");
    rcy_set_output(NULL, NULL);
}

static void fatal_default(void *arg) {
    (void)arg;
    rcyi_fatal(RCY_EMISUSE, "decref of dead object %p of type %s", (void *)0x10, "Node");
}

static void fatal_prints_message_and_aborts(void **state) {
    (void)state;
    rcy_expect_death(fatal_default, NULL, "recycle: fatal: decref of dead object");
}

static void returning_handler(int err, const char *msg, void *arg) {
    (void)err;
    (void)arg;
    fprintf(stderr, "handler saw: %s\n", msg);
}

static void fatal_with_handler(void *arg) {
    (void)arg;
    rcy_set_error_handler(returning_handler, NULL);
    rcyi_fatal(RCY_EMISUSE, "bad pointer %s", "0xdead");
}

static void user_handler_is_called_then_abort(void **state) {
    (void)state;
    rcy_expect_death(fatal_with_handler, NULL, "handler saw: bad pointer 0xdead");
}

static int misuse_reports;
static char misuse_last[256];
static void count_misuse(int err, const char *msg, void *arg) {
    (void)arg;
    assert_int_equal(err, RCY_EMISUSE);
    misuse_reports++;
    snprintf(misuse_last, sizeof misuse_last, "%s", msg);
}

static void counter_callback(rcy_heap *heap, rcy_gc_phase phase, const rcy_gc_info *info,
                             void *arg) {
    (void)heap, (void)phase, (void)info, (void)arg;
}

/* One rule for every public function given a NULL heap or generator:
 * reported through the error handler as RCY_EMISUSE, and the neutral
 * value returned; never a crash. */
static void null_heap_or_generator_is_reported_not_fatal(void **state) {
    (void)state;
    rcy_set_error_handler(count_misuse, NULL);
    misuse_reports = 0;
    size_t v[RCY_GC_GENERATIONS] = {7, 7, 7};
    rcy_gc_enable(NULL);
    rcy_gc_disable(NULL);
    assert_false(rcy_gc_isenabled(NULL));
    rcy_gc_set_hard(NULL, true);
    assert_false(rcy_gc_get_hard(NULL));
    rcy_gc_set_debug(NULL, 1);
    assert_int_equal(rcy_gc_get_debug(NULL), 0);
    rcy_gc_get_count(NULL, v);
    rcy_gc_get_threshold(NULL, v);
    assert_int_equal(v[0], 7);
    rcy_gc_set_threshold(NULL, 1, 2, 3);
    rcy_gc_freeze(NULL);
    rcy_gc_unfreeze(NULL);
    assert_int_equal(rcy_gc_get_freeze_count(NULL), 0);
    assert_null(rcy_gc_garbage(NULL));
    assert_int_equal(rcy_gc_callbacks_add(NULL, counter_callback, NULL), RCY_EINVAL);
    assert_int_equal(rcy_gc_callbacks_remove(NULL, counter_callback, NULL), RCY_EINVAL);
    assert_int_equal(rcy_gc_collect(NULL, 0), RCY_EINVAL);
    assert_null(rcy_gc_get_objects(NULL, -1));
    assert_int_equal(misuse_reports, 18);
    assert_string_equal(misuse_last, "rcy_gc_get_objects: heap is NULL");
    misuse_reports = 0;
    int status = 0;
    assert_null(rcy_gen_state(NULL));
    assert_null(rcy_gen_spec_of(NULL));
    assert_null(rcy_gen_next(NULL, &status));
    assert_int_equal(status, RCY_EINVAL);
    assert_int_equal(rcy_gen_error(NULL), RCY_EINVAL);
    assert_int_equal(rcy_gen_close(NULL), RCY_EINVAL);
    assert_true(rcy_gen_is_closed(NULL));
    assert_null(rcy_gen_range(NULL, 0, 3, 1));
    assert_null(rcy_gen_take(NULL, 3));
    assert_null(rcy_gen_to_list(NULL));
    assert_int_equal(misuse_reports, 9);
    misuse_reports = 0;
    /* rcy_mem_alloc never returns NULL for want of memory: with no heap it
     * is misuse, not "out of memory" */
    assert_null(rcy_mem_alloc(NULL, 16));
    assert_string_equal(misuse_last, "rcy_mem_alloc: heap is NULL");
    assert_null(rcy_mem_calloc(NULL, 2, 8));
    assert_int_equal(misuse_reports, 2);
    rcy_set_error_handler(NULL, NULL);
    /* the default handler prints the report and returns */
    rcy_test_capture_output();
    rcy_gc_enable(NULL);
    assert_non_null(strstr(rcy_test_output(), "recycle: misuse: rcy_gc_enable: heap is NULL"));
    rcy_set_output(NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(output_callback_receives_library_output),
        cmocka_unit_test(fatal_prints_message_and_aborts),
        cmocka_unit_test(user_handler_is_called_then_abort),
        cmocka_unit_test(null_heap_or_generator_is_reported_not_fatal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
