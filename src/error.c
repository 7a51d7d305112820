/* src/error.c — the single error path and the single output path.
 *
 * Every message the library prints goes through rcyi_output, every fatal
 * misuse through rcyi_fatal.  The user's callbacks are process-wide and
 * read with acquire loads so a thread that sets them before starting
 * workers is seen by those workers. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rcy_output_fn *volatile output_fn;
static void *volatile output_arg;
static rcy_error_fn *volatile error_fn;
static void *volatile error_arg;

const char *rcy_strerror(int err) {
    switch (err) {
    case RCY_OK:
        return "success";
    case RCY_ENOMEM:
        return "out of memory";
    case RCY_EINVAL:
        return "invalid argument";
    case RCY_EIO:
        return "input/output error";
    case RCY_EFORMAT:
        return "not a recycle file or malformed contents";
    case RCY_ECORRUPT:
        return "file is truncated or its checksum does not match";
    case RCY_EVERSION:
        return "file written by an incompatible version of recycle";
    case RCY_ESTATE:
        return "operation not allowed in the current state";
    case RCY_ERANGE:
        return "index or value out of range";
    case RCY_ENOTFOUND:
        return "not found";
    case RCY_EMISUSE:
        return "API misuse";
    case RCY_ECORRUPTED_HEAP:
        return "heap corruption detected";
    case RCY_EUNSUPPORTED:
        return "not supported on this platform or build";
    default:
        return "unknown error";
    }
}

void rcy_set_output(rcy_output_fn *fn, void *arg) {
    __atomic_store_n(&output_arg, arg, __ATOMIC_RELEASE);
    __atomic_store_n(&output_fn, fn, __ATOMIC_RELEASE);
}

void rcy_set_error_handler(rcy_error_fn *fn, void *arg) {
    __atomic_store_n(&error_arg, arg, __ATOMIC_RELEASE);
    __atomic_store_n(&error_fn, fn, __ATOMIC_RELEASE);
}

static void emit(const char *text) {
    rcy_output_fn *fn = __atomic_load_n(&output_fn, __ATOMIC_ACQUIRE);
    if (fn) {
        fn(text, __atomic_load_n(&output_arg, __ATOMIC_ACQUIRE));
    } else {
        fputs(text, stderr);
        fflush(stderr);
    }
}

/* Formats into a stack buffer, or a heap buffer for long messages; a
 * message that cannot be formatted is cut rather than lost. */
static void vemit(const char *fmt, va_list ap) {
    char small[1024];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            emit(big);
            free(big);
            va_end(ap2);
            return;
        }
    }
    va_end(ap2);
    emit(small);
}

void rcyi_output(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vemit(fmt, ap);
    va_end(ap);
}

void rcyi_fatal(int err, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rcy_error_fn *fn = __atomic_load_n(&error_fn, __ATOMIC_ACQUIRE);
    if (fn) {
        fn(err, msg, __atomic_load_n(&error_arg, __ATOMIC_ACQUIRE));
    } else {
        char line[2200];
        snprintf(line, sizeof line, "recycle: fatal: %s (%s)\n", msg, rcy_strerror(err));
        emit(line);
    }
    abort();
}

void rcyi_misuse(const char *func, const char *what) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", func, what);
    rcy_error_fn *fn = __atomic_load_n(&error_fn, __ATOMIC_ACQUIRE);
    if (fn) {
        fn(RCY_EMISUSE, msg, __atomic_load_n(&error_arg, __ATOMIC_ACQUIRE));
    } else {
        char line[600];
        snprintf(line, sizeof line, "recycle: misuse: %s (%s)\n", msg, rcy_strerror(RCY_EMISUSE));
        emit(line);
    }
}

void rcyi_put(FILE *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (out)
        vfprintf(out, fmt, ap);
    else
        vemit(fmt, ap);
    va_end(ap);
}

void rcyi_misuse_type(const char *func, const char *arg, const void *obj, const rcy_type *want) {
    char what[256];
    if (!obj)
        snprintf(what, sizeof what, "%s is NULL", arg);
    else
        snprintf(what, sizeof what, "%s has type %s, not %s", arg, RCY_HEAD_(obj)->type->name,
                 want->name);
    rcyi_misuse(func, what);
}

void rcyi_misuse_heap(const char *func, const char *arg, const void *obj, const rcy_heap *h) {
    char what[320];
    snprintf(what, sizeof what,
             "%s is an object of type %s in heap %p, not heap %p (an object may refer only to "
             "objects of its own heap)",
             arg, RCY_HEAD_(obj)->type->name, (void *)rcyi_heap_of_head(RCY_HEAD_(obj)),
             (const void *)h);
    rcyi_misuse(func, what);
}
