/* src/heap.c — heaps: configuration, creation and teardown.
 *
 * A heap owns everything allocated through it.  It is used by one thread at
 * a time and shares no mutable state with other heaps, so heaps in
 * different threads need no lock.  Teardown order: the collector finishes
 * (finalizers run, cycles freed), the debug report lists what is still
 * alive, the object layer frees its bookkeeping, then the allocator frees
 * every block and arena. */
#include "heap.h"
#include "options.h"

#include <stdlib.h>
#include <string.h>

size_t rcyi_heaps_alive;

void rcy_config_init(rcy_config *cfg) {
    RCYI_REQUIRE(cfg, );
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->version = RCY_CONFIG_VERSION;
    cfg->debug = -1;
    cfg->raw = NULL;
    cfg->memory_limit = (size_t)rcyi_option_memory_limit();
}

/* Copies the caller's config over the defaults, field by field as far as
 * the caller's struct reaches (an older, smaller rcy_config keeps the
 * defaults for the fields it lacks). */
static int resolve_config(const rcy_config *user, rcy_config *out) {
    rcy_config_init(out);
    if (user) {
        if (user->size < offsetof(rcy_config, debug) || user->version == 0 ||
            user->version > RCY_CONFIG_VERSION)
            return RCY_EINVAL;
        size_t n = user->size < sizeof *out ? user->size : sizeof *out;
        memcpy(out, user, n);
        out->size = sizeof *out;
        out->version = RCY_CONFIG_VERSION;
    }
    if (out->debug < 0)
        out->debug = rcyi_option_debug();
    const rcy_raw_allocator *raw = out->raw;
    if (raw && (!raw->malloc || !raw->calloc || !raw->realloc || !raw->free))
        return RCY_EINVAL;
    if (out->arena && (!out->arena->alloc || !out->arena->free))
        return RCY_EINVAL;
    return RCY_OK;
}

void rcy_heap_set_userdata(rcy_heap *heap, void *userdata) {
    RCYI_REQUIRE(heap, );
    heap->userdata = userdata;
}

void *rcy_heap_get_userdata(rcy_heap *heap) {
    RCYI_REQUIRE(heap, NULL);
    return heap->userdata;
}

rcy_heap *rcy_heap_new(const rcy_config *cfg) {
    rcyi_tracemalloc_on_heap_new();
    rcy_config c;
    if (resolve_config(cfg, &c) != RCY_OK)
        return NULL;
    rcy_heap *h = c.raw ? c.raw->calloc(c.raw->ctx, 1, sizeof *h) : calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->debug = c.debug != 0;
    if (rcyi_alloc_init(h, &c) != 0)
        goto fail_struct;
    if (rcyi_gc_init(h) != 0)
        goto fail_alloc;
    __atomic_fetch_add(&rcyi_heaps_alive, 1, __ATOMIC_RELAXED);
    return h;
fail_alloc:
    rcyi_alloc_fini(h, 0);
fail_struct:
    if (c.raw)
        c.raw->free(c.raw->ctx, h);
    else
        free(h);
    return NULL;
}

/* ---- the debug report of objects still alive ------------------------ */

#define REPORT_MAX_LINES 50

typedef struct alive_report {
    rcy_heap *heap;
    size_t count, immortal;
} alive_report;

static void report_one(rcy_head_ *o, void *arg) {
    alive_report *r = arg;
    uint32_t rc = rcyi_refcnt_load(o);
    if (rc == 0)
        return;
    if (rcyi_rc_is_immortal(rc)) {
        r->immortal++;
        return;
    }
    if (r->count == 0)
        rcyi_output("recycle: heap %p freed with objects still alive:\n", (void *)r->heap);
    if (r->count < REPORT_MAX_LINES)
        rcyi_output("  <%s object at %p> refcount=%lu\n", o->type->name, (void *)(o + 1),
                    (unsigned long)rcyi_rc_count(rc));
    r->count++;
}

static void report_alive(rcy_heap *h) {
    alive_report r = {h, 0, 0};
    rcyi_walk_all_objects(h, report_one, &r);
    if (r.count > REPORT_MAX_LINES)
        rcyi_output("  ... and %zu more\n", r.count - REPORT_MAX_LINES);
    if (r.count)
        rcyi_output("recycle: %zu object%s still alive (plus %zu immortal)\n", r.count,
                    r.count == 1 ? "" : "s", r.immortal);
}

void rcy_heap_free(rcy_heap *h) {
    if (!h)
        return;
    /* From a callback of the heap's own (a finalizer, a destroy, a
     * collection's callback): the caller's frames still use the heap. */
    if (h->freeing || h->gc.collecting || h->obj.finalizing || h->obj.depth)
        rcyi_fatal(RCY_EMISUSE,
                   "rcy_heap_free(%p) called while the heap is in use on this thread (from one of "
                   "its own finalizers, destroy callbacks or gc callbacks, or during "
                   "rcy_heap_free itself); free it after that call returns",
                   (void *)h);
    h->freeing = true;
    if (h->debug)
        rcyi_share_validate(h); /* the sharing invariant, object.h */
    rcyi_gc_fini(h);
    size_t pins = rcyi_shared_on_heap_free(h); /* gcshared.h L4 */
    __atomic_fetch_sub(&rcyi_heaps_alive, 1, __ATOMIC_RELAXED);
    if (h->debug)
        report_alive(h);
    rcyi_object_fini(h);
    /* The struct came from the configured raw allocator (libc's by
     * default), which the allocator state keeps. */
    rcy_raw_allocator raw = h->alloc.raw;
    /* Detached from the world first (thread.h S1): an abandoned heap is
     * left detached (alloc.h R3), and its thread must not stay ATTACHED. */
    rcyi_thread_heap_freed(h);
    if (!rcyi_alloc_fini(h, pins))
        raw.free(raw.ctx, h);
    else if (pins) /* abandoned (alloc.h R3), its shared list kept on the registry */
        rcyi_shared_abandoned(h);
}
