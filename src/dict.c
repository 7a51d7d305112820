/* src/dict.c — dict objects: string keys (copied) to object references,
 * iterated in insertion order.
 *
 * Layout (the compact dict of CPython 3.6+, in our own words): one block
 * holds an open-addressing index table of `mask + 1` uint32 slots followed
 * by an array of `usable` entries in insertion order.  A slot holds EMPTY,
 * DUMMY (a deleted entry was there: probing continues past it) or the
 * position of an entry.
 *
 * Invariants: len <= used <= usable = (mask + 1) * 2 / 3 (or all 0 with no
 * table); entries[0..used) are live (key != NULL, value a strong
 * reference) or deleted (key == value == NULL); exactly `len` are live and
 * each live entry is named by exactly one slot.  Keys are NUL-terminated
 * copies from rcy_mem_* on the dict's heap.  Like list.c, every mutation
 * is complete before a reference is dropped.
 *
 * Tracking (CPython's lazy dict tracking): a dict is untracked until a
 * value whose type has traverse is stored in it, and stays tracked from
 * then on (CPython 3.11-3.13 also untrack, in full collections, dicts
 * that no longer hold such values; recycle does not).  A dict holding no
 * such value reaches no tracked object, so it can be in no cycle. */
#include "internal.h"
#include "hash.h"

#include <string.h>

#define SLOT_EMPTY  UINT32_MAX
#define SLOT_DUMMY  (UINT32_MAX - 1)
#define MIN_TABLE   8u
#define MAX_ENTRIES ((size_t)UINT32_MAX - 2)

typedef struct entry {
    size_t hash;
    char *key;
    void *value;
} entry;

struct rcy_dict {
    rcy_heap *heap;
    size_t len, used, usable, mask;
    uint32_t *index; /* the block; NULL when the dict never held anything */
    entry *entries;  /* inside the same block, after the index table */
};

static size_t hash_key(const char *s) {
    return (size_t)rcyi_hash_avalanche(rcyi_hash_str(s));
}

/* The slot naming `key`, or -1.  *free_slot (if given) receives the first
 * EMPTY or DUMMY slot on the probe path, where a new key would go. */
static ptrdiff_t find(const rcy_dict *d, const char *key, size_t hash, size_t *free_slot) {
    if (!d->index)
        return -1;
    size_t i = hash & d->mask, perturb = hash;
    size_t first_free = SIZE_MAX;
    for (;;) {
        uint32_t ix = d->index[i];
        if (ix == SLOT_EMPTY) {
            if (free_slot)
                *free_slot = first_free != SIZE_MAX ? first_free : i;
            return -1;
        }
        if (ix == SLOT_DUMMY) {
            if (first_free == SIZE_MAX)
                first_free = i;
        } else {
            const entry *e = &d->entries[ix];
            if (e->hash == hash && strcmp(e->key, key) == 0)
                return (ptrdiff_t)i;
        }
        perturb >>= 5;
        i = (i * 5 + perturb + 1) & d->mask;
    }
}

/* Rebuilds the table with room for `need` entries, dropping deleted ones. */
static int resize(rcy_dict *d, size_t need, const char *file, int line, const char *func) {
    if (need > MAX_ENTRIES)
        return RCY_ENOMEM;
    size_t tsize = MIN_TABLE;
    while (tsize * 2 / 3 < need)
        tsize <<= 1;
    size_t usable = tsize * 2 / 3;
    size_t bytes = tsize * sizeof(uint32_t) + usable * sizeof(entry);
    uint32_t *index = rcyi_mem_try_alloc_at(d->heap, bytes, file, line, func);
    if (!index)
        return RCY_ENOMEM;
    memset(index, 0xFF, tsize * sizeof(uint32_t)); /* SLOT_EMPTY */
    entry *entries = (entry *)(void *)(index + tsize);
    size_t n = 0, mask = tsize - 1;
    for (size_t k = 0; k < d->used; k++) {
        const entry *e = &d->entries[k];
        if (!e->key)
            continue;
        size_t i = e->hash & mask, perturb = e->hash;
        while (index[i] != SLOT_EMPTY) {
            perturb >>= 5;
            i = (i * 5 + perturb + 1) & mask;
        }
        index[i] = (uint32_t)n;
        entries[n++] = *e;
    }
    if (d->index)
        rcy_mem_free(d->heap, d->index);
    d->index = index;
    d->entries = entries;
    d->mask = mask;
    d->usable = usable;
    d->used = n;
    return RCY_OK;
}

/* entries and used are read once: a visit function never changes the dict
 * it is called for (see list_traverse in list.c for every caller). */
static int dict_traverse(void *self, rcy_visitproc visit, void *arg) {
    const rcy_dict *d = self;
    const entry *entries = d->entries;
    size_t used = d->used;
    for (size_t k = 0; k < used; k++)
        RCY_VISIT(entries[k].value, visit, arg);
    return 0;
}

static void dict_clear(void *self) {
    rcy_dict *d = self;
    uint32_t *block = d->index;
    entry *entries = d->entries;
    size_t used = d->used;
    d->index = NULL;
    d->entries = NULL;
    d->len = d->used = d->usable = d->mask = 0;
    for (size_t k = 0; k < used; k++) {
        if (entries[k].key) {
            rcy_mem_free(d->heap, entries[k].key);
            rcy_decref(entries[k].value);
        }
    }
    if (block)
        rcy_mem_free(d->heap, block);
}

const rcy_type rcy_dict_type = {
    .name = "dict",
    .size = sizeof(rcy_dict),
    .traverse = dict_traverse,
    .clear = dict_clear,
};

rcy_dict *rcy_dict_new_(rcy_heap *heap, const char *file, int line, const char *func) {
    RCYI_REQUIRE(heap, NULL);
    rcy_dict *d = rcy_new_(heap, &rcy_dict_type, file, line, func);
    if (d) {
        d->heap = heap;
        rcyi_gc_untrack_new(heap, rcyi_head(d)); /* until a value may be tracked */
    }
    return d;
}

size_t rcy_dict_len(const rcy_dict *d) {
    RCYI_REQUIRE_TYPE(d, &rcy_dict_type, 0);
    return d->len;
}

/* rcy_dict_set_ once its arguments are checked; allocates without an
 * emergency collection (gc.h), so a failure leaves d consistent. */
static int dict_set(rcy_dict *d, const char *key, void *value, const char *file, int line,
                    const char *func) {
    /* CPython's MAINTAIN_TRACKING: a value that may be tracked (its type
     * has traverse, tracked now or not) may put the dict in a cycle. */
    rcy_head_ *dh = rcyi_head(d);
    if (!(dh->gcword & RCYI_GC_TRACKED) && rcyi_head(value)->type->traverse &&
        rcyi_rc_is_private(rcyi_refcnt_load(dh))) /* shared => untracked (object.h) */
        rcyi_gc_track_late(d->heap, dh);
    size_t hash = hash_key(key);
    ptrdiff_t slot = find(d, key, hash, NULL);
    if (slot >= 0) {
        entry *e = &d->entries[d->index[slot]];
        rcy_incref(value);
        void *old = e->value;
        e->value = value;
        rcy_decref(old);
        return RCY_OK;
    }
    if (d->used == d->usable) {
        int rc = resize(d, d->len + 1 + d->len / 2, file, line, func);
        if (rc != RCY_OK)
            return rc;
    }
    size_t n = strlen(key) + 1;
    char *copy = rcyi_mem_try_alloc_at(d->heap, n, file, line, func);
    if (!copy)
        return RCY_ENOMEM;
    memcpy(copy, key, n);
    size_t free_slot = 0;
    find(d, key, hash, &free_slot);
    d->index[free_slot] = (uint32_t)d->used;
    rcy_incref(value);
    d->entries[d->used++] = (entry){hash, copy, value};
    d->len++;
    return RCY_OK;
}

int rcy_dict_set_(rcy_dict *d, const char *key, void *value, const char *file, int line,
                  const char *func) {
    RCYI_REQUIRE_TYPE(d, &rcy_dict_type, RCY_EINVAL);
    RCYI_REQUIRE(key, RCY_EINVAL);
    RCYI_REQUIRE(value, RCY_EINVAL);
    int rc = rcyi_share_store(d, value);
    if (rc != RCY_OK)
        return rc;
    RCYI_REQUIRE_HEAP(value, d->heap, RCY_EINVAL);
    rc = dict_set(d, key, value, file, line, func);
    /* The emergency collection may change d (finalizers): the store is
     * redone from the start. */
    if (rc == RCY_ENOMEM && rcyi_gc_emergency(d->heap))
        rc = dict_set(d, key, value, file, line, func);
    return rc;
}

void *rcy_dict_get(const rcy_dict *d, const char *key) {
    RCYI_REQUIRE_TYPE(d, &rcy_dict_type, NULL);
    RCYI_REQUIRE(key, NULL);
    ptrdiff_t slot = find(d, key, hash_key(key), NULL);
    return slot < 0 ? NULL : d->entries[d->index[slot]].value;
}

int rcy_dict_del(rcy_dict *d, const char *key) {
    RCYI_REQUIRE_TYPE(d, &rcy_dict_type, RCY_EINVAL);
    RCYI_REQUIRE(key, RCY_EINVAL);
    ptrdiff_t slot = find(d, key, hash_key(key), NULL);
    if (slot < 0)
        return RCY_ENOTFOUND;
    entry *e = &d->entries[d->index[slot]];
    char *k = e->key;
    void *v = e->value;
    d->index[slot] = SLOT_DUMMY;
    e->key = NULL;
    e->value = NULL;
    d->len--;
    rcy_mem_free(d->heap, k);
    rcy_decref(v);
    return RCY_OK;
}

void rcy_dict_clear(rcy_dict *d) {
    RCYI_REQUIRE_TYPE(d, &rcy_dict_type, );
    dict_clear(d);
}

bool rcy_dict_next(const rcy_dict *d, size_t *pos, const char **key, void **value) {
    RCYI_REQUIRE_TYPE(d, &rcy_dict_type, false);
    RCYI_REQUIRE(pos, false);
    while (*pos < d->used) {
        const entry *e = &d->entries[(*pos)++];
        if (e->key) {
            if (key)
                *key = e->key;
            if (value)
                *value = e->value;
            return true;
        }
    }
    return false;
}
