/* src/hash.h — the library's two hash functions, used by every table
 * keyed by a string or an address (dict keys, interned symbol strings,
 * snapshot string tables and grouping keys, the tracer's trace table and
 * the symbol caches).
 *
 *  - strings: 64-bit FNV-1a.  Byte at a time, no length needed, good
 *    enough spread for the power-of-two tables here; rcyi_hash_avalanche
 *    finishes it where the low bits alone pick the slot of a table that
 *    users fill (dict.c).  The same step, rcyi_hash_step, folds further
 *    words into a string's hash (a frame's line and address).
 *  - addresses: Fibonacci hashing (one multiply by 2^64 / golden ratio);
 *    the HIGH bits are the well-mixed ones, so callers shift down or fold
 *    (aligned addresses have their low bits all zero).
 *
 * Hash values are never written to a file: changing these changes no
 * output, only where entries sit in memory. */
#ifndef RCY_SRC_HASH_H
#define RCY_SRC_HASH_H

#include <stdint.h>

#define RCYI_HASH_STR_SEED 0xcbf29ce484222325ULL /* FNV-1a 64 offset basis */
#define RCYI_HASH_PRIME    0x100000001b3ULL      /* FNV-1a 64 prime */
#define RCYI_HASH_GOLDEN   0x9e3779b97f4a7c15ULL /* 2^64 / golden ratio */

/* One FNV-1a step: fold v into h. */
static inline uint64_t rcyi_hash_step(uint64_t h, uint64_t v) {
    return (h ^ v) * RCYI_HASH_PRIME;
}

/* Continue hash h over the bytes of s (up to its NUL). */
static inline uint64_t rcyi_hash_str_from(uint64_t h, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = rcyi_hash_step(h, *p);
    return h;
}

static inline uint64_t rcyi_hash_str(const char *s) {
    return rcyi_hash_str_from(RCYI_HASH_STR_SEED, s);
}

/* Spread every bit of h over the low bits (MurmurHash3's finalizer
 * halves). */
static inline uint64_t rcyi_hash_avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* An address (or any word): use the high bits. */
static inline uint64_t rcyi_hash_ptr(uintptr_t p) {
    return (uint64_t)p * RCYI_HASH_GOLDEN;
}

#endif
