/* recycle/containers.h — built-in objects: integers, lists, dicts.
 * Included by <recycle.h>.  All are recycle objects (rcy_incref/decref
 * apply); lists are tracked by the collector, dicts once a value whose
 * type has traverse is stored in them (CPython's lazy dict tracking: a
 * dict of ints can be in no cycle). */
#ifndef RECYCLE_CONTAINERS_H
#define RECYCLE_CONTAINERS_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- integers (untracked, immutable) ---- */
typedef struct rcy_int rcy_int;
RCY_API extern const rcy_type rcy_int_type;
RCY_API rcy_int *rcy_int_new_(rcy_heap *heap, long value, RCY_SITE_PARAMS);
#define rcy_int_new(h, v) rcy_int_new_((h), (v), RCY_SITE)
RCY_API long rcy_int_value(const rcy_int *i);

/* ---- lists: a growable array of object references ---- */
typedef struct rcy_list rcy_list;
RCY_API extern const rcy_type rcy_list_type;
RCY_API rcy_list *rcy_list_new_(rcy_heap *heap, RCY_SITE_PARAMS);
#define rcy_list_new(h) rcy_list_new_((h), RCY_SITE)
RCY_API size_t rcy_list_len(const rcy_list *l);
/* append/insert/set take their own reference to item (never NULL). */
/* The growth of the item array is traced to the caller's line. */
RCY_API int rcy_list_append_(rcy_list *l, void *item, RCY_SITE_PARAMS);
RCY_API int rcy_list_insert_(rcy_list *l, ptrdiff_t index, void *item,
                             RCY_SITE_PARAMS); /* Python's rules: clamps, negative from end */
#define rcy_list_append(l, item)    rcy_list_append_((l), (item), RCY_SITE)
#define rcy_list_insert(l, i, item) rcy_list_insert_((l), (i), (item), RCY_SITE)
RCY_API int rcy_list_set(rcy_list *l, ptrdiff_t index,
                         void *item); /* RCY_ERANGE when out of range */
/* Borrowed reference, NULL when out of range; negative index from end. */
RCY_API void *rcy_list_get(const rcy_list *l, ptrdiff_t index);
/* New reference removed from the list (index -1 = last); NULL if empty or out of range. */
RCY_API void *rcy_list_pop(rcy_list *l, ptrdiff_t index);
/* Remove the first occurrence of item (by identity); RCY_ENOTFOUND if absent. */
RCY_API int rcy_list_remove(rcy_list *l, const void *item);
RCY_API void rcy_list_clear(rcy_list *l);
RCY_API bool rcy_list_contains(const rcy_list *l, const void *item);

/* ---- dicts: NUL-terminated string keys (copied) to object values ---- */
typedef struct rcy_dict rcy_dict;
RCY_API extern const rcy_type rcy_dict_type;
RCY_API rcy_dict *rcy_dict_new_(rcy_heap *heap, RCY_SITE_PARAMS);
#define rcy_dict_new(h) rcy_dict_new_((h), RCY_SITE)
RCY_API size_t rcy_dict_len(const rcy_dict *d);
/* Takes its own reference to value (never NULL); replaces an old value. */
RCY_API int rcy_dict_set_(rcy_dict *d, const char *key, void *value, RCY_SITE_PARAMS);
#define rcy_dict_set(d, k, v) rcy_dict_set_((d), (k), (v), RCY_SITE)
/* Borrowed reference or NULL. */
RCY_API void *rcy_dict_get(const rcy_dict *d, const char *key);
RCY_API int rcy_dict_del(rcy_dict *d, const char *key); /* RCY_ENOTFOUND if absent */
RCY_API void rcy_dict_clear(rcy_dict *d);
/* Iterate in insertion order: `size_t pos = 0; const char *k; void *v;
 * while (rcy_dict_next(d, &pos, &k, &v)) ...` (borrowed k and v).  The
 * dict must not change during the loop. */
RCY_API bool rcy_dict_next(const rcy_dict *d, size_t *pos, const char **key, void **value);

#ifdef __cplusplus
}
#endif
#endif
