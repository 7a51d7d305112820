/* src/gc.c — PLACEHOLDER until the cycle collector lands: objects are
 * never tracked, so only reference counting frees them. */
#include "heap.h"

int rcyi_gc_init(rcy_heap *h) {
    h->gc.enabled = 1;
    return 0;
}
void rcyi_gc_fini(rcy_heap *h) {
    (void)h;
}
void rcyi_gc_on_new(rcy_heap *h, rcy_head_ *obj) {
    (void)h, (void)obj;
}
void rcyi_gc_on_free(rcy_heap *h, rcy_head_ *obj) {
    (void)h, (void)obj;
}
void rcyi_weakref_clear_for(rcy_heap *h, rcy_head_ *obj) {
    (void)h, (void)obj;
}
