/* src/gcstate.h — the collector's per-heap state (owned by gc.c). */
#ifndef RCY_SRC_GCSTATE_H
#define RCY_SRC_GCSTATE_H

#include <stddef.h>

typedef struct rcyi_gc_state {
    int enabled;
} rcyi_gc_state;

#endif
