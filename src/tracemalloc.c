/* src/tracemalloc.c — PLACEHOLDER until the tracemalloc engine lands:
 * tracing is never on, so the hooks are never called. */
#include "internal.h"

int rcyi_tracing = 0;

void rcyi_trace_alloc(unsigned domain, const void *ptr, size_t size, const char *file,
                      int line, const char *func) {
    (void)domain, (void)ptr, (void)size, (void)file, (void)line, (void)func;
}

void rcyi_trace_free(unsigned domain, const void *ptr) { (void)domain, (void)ptr; }
