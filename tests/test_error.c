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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strerror_names_every_code),
        cmocka_unit_test(output_callback_receives_library_output),
        cmocka_unit_test(fatal_prints_message_and_aborts),
        cmocka_unit_test(user_handler_is_called_then_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
