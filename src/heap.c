/* src/heap.c — heap life cycle and configuration (minimal first version:
 * the allocator and collector states; the object piece extends it). */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

static int env_flag(const char *name, int dflt) {
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    return strcmp(v, "0") != 0;
}

void rcy_config_init(rcy_config *cfg) {
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->version = RCY_CONFIG_VERSION;
    cfg->debug = -1;
    cfg->raw = NULL;
    const char *lim = getenv("RCY_MEMORY_LIMIT");
    if (lim && *lim) {
        char *end = NULL;
        unsigned long long v = strtoull(lim, &end, 10);
        if (end && *end == '\0')
            cfg->memory_limit = (size_t)v;
    }
}

rcy_heap *rcy_heap_new(const rcy_config *cfg) {
    rcy_config dflt;
    if (!cfg) {
        rcy_config_init(&dflt);
        cfg = &dflt;
    }
    rcy_heap *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    int debug = cfg->size >= offsetof(rcy_config, debug) + sizeof cfg->debug ? cfg->debug : -1;
    h->debug = debug < 0 ? env_flag("RCY_DEBUG", 0) : debug != 0;
    if (rcyi_alloc_init(h, cfg) != RCY_OK) {
        free(h);
        return NULL;
    }
    if (rcyi_gc_init(h) != 0) {
        rcyi_alloc_fini(h);
        free(h);
        return NULL;
    }
    return h;
}

void rcy_heap_free(rcy_heap *heap) {
    if (!heap)
        return;
    rcyi_gc_fini(heap);
    rcyi_alloc_fini(heap);
    free(heap);
}
