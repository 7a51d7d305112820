/* src/list.c — list objects: a growable array of strong references.
 *
 * Invariants: len <= cap; items[0..len) are non-NULL strong references;
 * items == NULL iff cap == 0; the array comes from rcy_mem_* on the list's
 * own heap (traced to the line that made it grow).
 *
 * Every mutation brings the list to a consistent state BEFORE it drops a
 * reference: a decref can run arbitrary destroy code, which may look at or
 * change this same list. */
#include "internal.h"
#include "gc.h"

#include <string.h>

struct rcy_list {
    rcy_heap *heap;
    void **items;
    size_t len, cap;
};

/* items and len are read once: a visit function never changes the list it
 * is called for.  Every caller of type->traverse relies on that: the
 * collector's visitors (gc.c) only touch gc bits, refcounts and the work
 * stack (visit_legacy appends to the `garbage` list, which is referenced
 * by the heap and so never in U, never the list being traversed);
 * get_referents / get_referrers only record the child; weakref.c's
 * traverse visits nothing.  The items are non-NULL (invariant above), so
 * no NULL test either.  With a reload after every call (which the
 * compiler must do, visit being opaque) this loop was about half of a
 * traversal-heavy collection. */
static int list_traverse(void *self, rcy_visitproc visit, void *arg) {
    const rcy_list *l = self;
    void *const *items = l->items;
    size_t n = l->len;
    for (size_t i = 0; i < n; i++) {
        int rc = visit(items[i], arg);
        if (rc)
            return rc;
    }
    return 0;
}

void *const *rcyi_list_items(const rcy_list *l, size_t *n) {
    *n = l->len;
    return l->items;
}

static void list_clear(void *self) {
    rcy_list *l = self;
    void **items = l->items;
    size_t n = l->len;
    l->items = NULL;
    l->len = l->cap = 0;
    /* Drop from the end, like CPython, so destroy code sees a valid list. */
    while (n--)
        rcy_decref(items[n]);
    if (items)
        rcy_mem_free(l->heap, items);
}

const rcy_type rcy_list_type = {
    .name = "list",
    .size = sizeof(rcy_list),
    .traverse = list_traverse,
    .clear = list_clear,
};

rcy_list *rcy_list_new_(rcy_heap *heap, const char *file, int line, const char *func) {
    RCYI_REQUIRE(heap, NULL);
    rcy_list *l = rcy_new_(heap, &rcy_list_type, file, line, func);
    if (l)
        l->heap = heap;
    return l;
}

size_t rcy_list_len(const rcy_list *l) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, 0);
    return l->len;
}

/* Makes room for one more item (CPython's over-allocation: ~1/8 extra). */
static int grow(rcy_list *l, const char *file, int line, const char *func) {
    if (l->len < l->cap)
        return RCY_OK;
    size_t want = l->len + 1;
    if (want > (SIZE_MAX / sizeof(void *)) / 2)
        return RCY_ENOMEM;
    size_t cap = (want + (want >> 3) + 6) & ~(size_t)3;
    void **p = rcy_mem_try_realloc_(l->heap, l->items, cap * sizeof *p, file, line, func);
    if (!p)
        return RCY_ENOMEM;
    l->items = p;
    l->cap = cap;
    return RCY_OK;
}

/* Gives memory back when the list falls under a quarter of its array. */
static void shrink(rcy_list *l) {
    if (l->cap <= 16 || l->len >= l->cap / 4)
        return;
    if (l->len == 0) {
        rcy_mem_free(l->heap, l->items);
        l->items = NULL;
        l->cap = 0;
        return;
    }
    size_t cap = l->len * 2;
    /* A failed shrink leaves the old, larger array in place. */
    void **p = rcy_mem_try_realloc(l->heap, l->items, cap * sizeof *p);
    if (p) {
        l->items = p;
        l->cap = cap;
    }
}

int rcy_list_append_(rcy_list *l, void *item, const char *file, int line, const char *func) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, RCY_EINVAL);
    return rcy_list_insert_(l, PTRDIFF_MAX, item, file, line, func);
}

int rcy_list_insert_(rcy_list *l, ptrdiff_t index, void *item, const char *file, int line,
                     const char *func) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, RCY_EINVAL);
    RCYI_REQUIRE(item, RCY_EINVAL);
    int rc = rcyi_share_store(l, item);
    if (rc != RCY_OK)
        return rc;
    RCYI_REQUIRE_HEAP(item, l->heap, RCY_EINVAL);
    rc = grow(l, file, line, func);
    /* grow allocates without an emergency collection (gc.h): here, with
     * nothing changed yet, is where one may run, then grow reads the
     * list afresh. */
    if (rc != RCY_OK && (!rcyi_gc_emergency(l->heap) || (rc = grow(l, file, line, func)) != RCY_OK))
        return rc;
    size_t n = l->len, at;
    if (index < 0) {
        index += (ptrdiff_t)n;
        at = index < 0 ? 0 : (size_t)index;
    } else {
        at = (size_t)index > n ? n : (size_t)index;
    }
    memmove(l->items + at + 1, l->items + at, (n - at) * sizeof *l->items);
    rcy_incref(item);
    l->items[at] = item;
    l->len = n + 1;
    return RCY_OK;
}

/* Python's index rule for get/set/pop: negative counts from the end; -1
 * when out of range. */
static ptrdiff_t resolve(const rcy_list *l, ptrdiff_t index) {
    if (index < 0)
        index += (ptrdiff_t)l->len;
    if (index < 0 || (size_t)index >= l->len)
        return -1;
    return index;
}

int rcy_list_set(rcy_list *l, ptrdiff_t index, void *item) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, RCY_EINVAL);
    RCYI_REQUIRE(item, RCY_EINVAL);
    int rc = rcyi_share_store(l, item);
    if (rc != RCY_OK)
        return rc;
    RCYI_REQUIRE_HEAP(item, l->heap, RCY_EINVAL);
    ptrdiff_t i = resolve(l, index);
    if (i < 0)
        return RCY_ERANGE;
    rcy_incref(item);
    void *old = l->items[i];
    l->items[i] = item;
    rcy_decref(old);
    return RCY_OK;
}

void *rcy_list_get(const rcy_list *l, ptrdiff_t index) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, NULL);
    ptrdiff_t i = resolve(l, index);
    return i < 0 ? NULL : l->items[i];
}

void *rcy_list_pop(rcy_list *l, ptrdiff_t index) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, NULL);
    ptrdiff_t i = resolve(l, index);
    if (i < 0)
        return NULL;
    void *item = l->items[i];
    memmove(l->items + i, l->items + i + 1, (l->len - (size_t)i - 1) * sizeof *l->items);
    l->len--;
    shrink(l);
    return item; /* the list's reference becomes the caller's */
}

int rcy_list_remove(rcy_list *l, const void *item) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, RCY_EINVAL);
    RCYI_REQUIRE(item, RCY_EINVAL);
    for (size_t i = 0; i < l->len; i++) {
        if (l->items[i] == item) {
            void *old = rcy_list_pop(l, (ptrdiff_t)i);
            rcy_decref(old);
            return RCY_OK;
        }
    }
    return RCY_ENOTFOUND;
}

void rcy_list_clear(rcy_list *l) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, );
    list_clear(l);
}

bool rcy_list_contains(const rcy_list *l, const void *item) {
    RCYI_REQUIRE_TYPE(l, &rcy_list_type, false);
    RCYI_REQUIRE(item, false);
    for (size_t i = 0; i < l->len; i++)
        if (l->items[i] == item)
            return true;
    return false;
}
