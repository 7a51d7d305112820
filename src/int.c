/* src/int.c — integer objects: immutable, untracked (they hold no
 * references, so they can never be part of a cycle). */
#include "internal.h"

struct rcy_int {
    long value;
};

const rcy_type rcy_int_type = {
    .name = "int",
    .size = sizeof(rcy_int),
};

rcy_int *rcy_int_new_(rcy_heap *heap, long value, const char *file, int line, const char *func) {
    RCYI_REQUIRE(heap, NULL);
    rcy_int *i = rcy_new_(heap, &rcy_int_type, file, line, func);
    if (i)
        i->value = value;
    return i;
}

long rcy_int_value(const rcy_int *i) {
    RCYI_REQUIRE_TYPE(i, &rcy_int_type, 0);
    return i->value;
}
