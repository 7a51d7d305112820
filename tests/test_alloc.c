/* tests/test_alloc.c — the small-object allocator: integrity under random
 * operations, arenas going back to the OS, the object walker, large blocks,
 * heap ownership, several heaps in several threads. */
#include "testutil.h"

#include <pthread.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "options.h"
#include "os.h"

/* xorshift64*: a small seeded generator, so every run does the same. */
static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static rcy_heap *heap_with(int debug, size_t limit) {
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = debug;
    cfg.memory_limit = limit;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    return h;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}
static int check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

typedef struct slot {
    unsigned char *p;
    size_t n;
    unsigned seed;
} slot;

/* Random alloc/free/realloc over every size class (and some large sizes),
 * each block's contents checked when it is touched again. */
static void random_ops(rcy_heap *h, uint64_t seed, size_t nslots, size_t ops) {
    slot *s = calloc(nslots, sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < ops; i++) {
        size_t k = rng_next(&seed) % nslots;
        uint64_t r = rng_next(&seed);
        size_t n = (r >> 8) % 16 == 0 ? 513 + (r >> 16) % 3000 : (r >> 16) % 513;
        if (!s[k].p) {
            s[k].p = rcy_mem_alloc(h, n);
            assert_non_null(s[k].p);
            assert_true((uintptr_t)s[k].p % RCY_ALIGNMENT == 0);
            s[k].n = n;
            s[k].seed = (unsigned)r;
            fill(s[k].p, n, s[k].seed);
        } else if (r % 3 == 0) {
            assert_true(check(s[k].p, s[k].n, s[k].seed));
            unsigned char *q = rcy_mem_realloc(h, s[k].p, n);
            assert_non_null(q);
            assert_true(check(q, n < s[k].n ? n : s[k].n, s[k].seed));
            s[k].p = q;
            s[k].n = n;
            fill(q, n, s[k].seed);
        } else {
            assert_true(check(s[k].p, s[k].n, s[k].seed));
            rcy_mem_free(h, s[k].p);
            s[k].p = NULL;
        }
        if (i % 20000 == 0)
            rcyi_alloc_validate(h);
    }
    rcyi_alloc_validate(h);
    for (size_t k = 0; k < nslots; k++) {
        if (s[k].p) {
            assert_true(check(s[k].p, s[k].n, s[k].seed));
            rcy_mem_free(h, s[k].p);
        }
    }
    rcyi_alloc_validate(h);
    free(s);
}

static void random_ops_keep_contents(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    random_ops(h, 42, 5000, 150000);
    rcy_mem_stats st = {.size = sizeof st};
    assert_int_equal(rcy_mem_get_stats(h, &st), RCY_OK);
    assert_int_equal(st.pools_used, 0);
    assert_int_equal(st.large_blocks, 0);
    assert_true(st.arenas <= 1);
    rcy_heap_free(h);
}

static void random_ops_keep_contents_in_debug_mode(void **state) {
    (void)state;
    rcy_heap *h = heap_with(1, 0);
    random_ops(h, 7, 3000, 60000);
    rcy_heap_free(h);
}

static void every_size_gets_its_class(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    for (size_t n = 0; n <= RCY_SMALL_LIMIT; n++) {
        void *p = rcy_mem_alloc(h, n);
        size_t want = n == 0 ? 16 : (n + 15) / 16 * 16;
        assert_int_equal(rcyi_alloc_usable_size(h, p), want);
        rcy_mem_free(h, p);
    }
    void *p = rcy_mem_alloc(h, RCY_SMALL_LIMIT + 1);
    assert_int_equal(rcyi_alloc_usable_size(h, p), RCY_SMALL_LIMIT + 1);
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.large_blocks, 1);
    assert_int_equal(st.large_bytes, RCY_SMALL_LIMIT + 1);
    rcy_mem_free(h, p);
    rcy_heap_free(h);
}

static void zero_size_gives_unique_pointers(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    void *a = rcy_mem_alloc(h, 0), *b = rcy_mem_alloc(h, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    void *c = rcy_mem_realloc(h, a, 0);
    assert_non_null(c);
    rcy_mem_free(h, b);
    rcy_mem_free(h, c);
    rcy_mem_free(h, NULL);
    rcy_heap_free(h);
}

static void calloc_zeroes_and_checks_overflow(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    /* Dirty a block, free it, and get it back through calloc. */
    unsigned char *p = rcy_mem_alloc(h, 100);
    memset(p, 0xAB, 100);
    rcy_mem_free(h, p);
    unsigned char *q = rcy_mem_calloc(h, 10, 10);
    for (int i = 0; i < 100; i++)
        assert_int_equal(q[i], 0);
    unsigned char *big = rcy_mem_calloc(h, 1000, 3);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(big[i], 0);
    assert_null(rcy_mem_try_calloc(h, SIZE_MAX / 2, 3));
    rcy_mem_free(h, q);
    rcy_mem_free(h, big);
    rcy_heap_free(h);
}

static void realloc_moves_between_small_and_large(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    unsigned char *p = rcy_mem_alloc(h, 40);
    fill(p, 40, 3);
    p = rcy_mem_realloc(h, p, 5000); /* small -> large */
    assert_true(check(p, 40, 3));
    fill(p, 5000, 4);
    p = rcy_mem_realloc(h, p, 100000); /* large -> large */
    assert_true(check(p, 5000, 4));
    p = rcy_mem_realloc(h, p, 200); /* large -> small */
    assert_true(check(p, 200, 4));
    unsigned char *same = rcy_mem_realloc(h, p, 190); /* fits: stays */
    assert_ptr_equal(same, p);
    p = rcy_mem_realloc(h, same, 20); /* much smaller: moves */
    assert_true(check(p, 20, 4));
    assert_int_equal(rcyi_alloc_usable_size(h, p), 32);
    rcy_mem_free(h, p);
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.large_blocks, 0);
    assert_int_equal(st.large_bytes, 0);
    rcy_heap_free(h);
}

static void shuffle(void **v, size_t n, uint64_t *seed) {
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_next(seed) % i;
        void *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static void empty_arenas_go_back_to_the_os(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    size_t n = 40u * 1024 * 1024 / 64;
    void **v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rcy_mem_alloc(h, 48 + (i % 2) * 16);
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_true(st.arenas >= 30);
    assert_int_equal(st.arenas_reclaimed, 0);
    assert_int_equal(st.mapped_bytes, st.arenas * RCY_ARENA_SIZE);
    size_t peak = st.arenas;
    uint64_t seed = 99;
    shuffle(v, n, &seed);
    for (size_t i = 0; i < n; i++) {
        rcy_mem_free(h, v[i]);
        if (i == n / 2)
            rcyi_alloc_validate(h);
    }
    rcyi_alloc_validate(h);
    rcy_mem_get_stats(h, &st);
    assert_true(st.arenas <= 1); /* at most one kept for reuse */
    assert_int_equal(st.arenas_reclaimed, peak - st.arenas);
    assert_true(st.mapped_bytes <= RCY_ARENA_SIZE);
    assert_int_equal(st.arenas_highwater, peak);
    assert_int_equal(st.pools_used, 0);
    free(v);
    rcy_heap_free(h);
}

/* Arenas emptied while the heap still holds many others are kept, with
 * their pages, and taken again: a heap that frees and rebuilds a big
 * structure maps nothing new.  With RCY_ARENA_CACHE=0 each round maps
 * its arenas again. */
static size_t arenas_mapped_by_rebuilds(long long cache_pct) {
    rcyi_option_set(RCYI_OPTION_ARENA_CACHE, cache_pct);
    rcy_heap *h = heap_with(0, 0);
    enum { BASE = 40 * 2048, BURST = 8 * 2048 }; /* 512-byte blocks: ~40 and ~8 arenas */
    void **base = malloc(BASE * sizeof *base), **burst = malloc(BURST * sizeof *burst);
    for (size_t i = 0; i < BASE; i++)
        base[i] = rcy_mem_alloc(h, 512);
    rcy_mem_stats st = {.size = sizeof st};
    size_t first = 0;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < BURST; i++)
            burst[i] = rcy_mem_alloc(h, 512);
        for (size_t i = 0; i < BURST; i++)
            rcy_mem_free(h, burst[i]);
        rcyi_alloc_validate(h);
        rcy_mem_get_stats(h, &st);
        if (round == 0)
            first = st.arenas_allocated;
    }
    /* The cached arenas still count as mapped. */
    assert_int_equal(st.mapped_bytes, st.arenas * RCY_ARENA_SIZE);
    assert_int_equal(st.arenas, st.arenas_allocated - st.arenas_reclaimed);
    for (size_t i = 0; i < BASE; i++)
        rcy_mem_free(h, base[i]);
    rcyi_alloc_validate(h);
    rcy_mem_get_stats(h, &st);
    assert_true(st.arenas <= 1); /* nothing in use: the cache shrank with the heap */
    free(base);
    free(burst);
    rcy_heap_free(h);
    rcyi_option_reset(RCYI_OPTION_ARENA_CACHE);
    return st.arenas_allocated - first;
}

static void emptied_arenas_are_reused_while_the_heap_is_big(void **state) {
    (void)state;
    assert_int_equal(arenas_mapped_by_rebuilds(25), 0);
    assert_true(arenas_mapped_by_rebuilds(0) >= 3 * 7);
}

/* The cache follows RCY_ARENA_CACHE, a percentage: 25 by default, and a
 * value above 100 is refused with a warning. */
static void arena_cache_option_is_a_percentage(void **state) {
    (void)state;
    unsetenv("RCY_ARENA_CACHE");
    rcyi_option_reset(RCYI_OPTION_ARENA_CACHE);
    assert_int_equal(rcyi_option_get(RCYI_OPTION_ARENA_CACHE), 25);
    setenv("RCY_ARENA_CACHE", "50", 1);
    rcyi_option_reset(RCYI_OPTION_ARENA_CACHE);
    rcy_heap *h = heap_with(0, 0);
    assert_int_equal(h->alloc.cache_pct, 50);
    rcy_heap_free(h);
    setenv("RCY_ARENA_CACHE", "101", 1);
    rcyi_option_reset(RCYI_OPTION_ARENA_CACHE);
    rcy_test_capture_output();
    assert_int_equal(rcyi_option_get(RCYI_OPTION_ARENA_CACHE), 25);
    assert_non_null(strstr(rcy_test_output(), "ignoring RCY_ARENA_CACHE=\"101\""));
    rcy_set_output(NULL, NULL);
    unsetenv("RCY_ARENA_CACHE");
    rcyi_option_reset(RCYI_OPTION_ARENA_CACHE);
}

/* The resident set comes back within 10% of where it started once 1 GiB
 * of small blocks (16..512 bytes, freed every other one first so no pool
 * empties early) is freed: the arena cache keeps nothing resident when
 * nothing is in use.  Skipped under the sanitizers, whose shadow memory
 * grows with the blocks touched. */
static void resident_set_comes_back_after_a_gib_is_freed(void **state) {
    (void)state;
    if (getenv("RCY_SANITIZED"))
        skip();
    rcy_heap *h = heap_with(0, 0);
    rcy_mem_free(h, rcy_mem_alloc(h, 64));
    size_t before = rcyi_os_rss();
    uint64_t seed = 42;
    void *chains[2] = {NULL, NULL};
    for (size_t i = 0, total = 0; total < ((size_t)1 << 30); i++) {
        size_t n = 16 + rng_next(&seed) % 497;
        void **p = rcy_mem_alloc(h, n);
        memset(p, 1, n);
        total += n;
        *p = chains[i & 1];
        chains[i & 1] = p;
    }
    size_t peak = rcyi_os_rss();
    assert_true(peak > before + ((size_t)1 << 30));
    for (int c = 0; c < 2; c++) {
        for (void **p = chains[c]; p;) {
            void **next = *p;
            rcy_mem_free(h, p);
            p = next;
        }
    }
    size_t after = rcyi_os_rss();
    rcy_heap_free(h);
    assert_true(after <= before + before / 10);
}

static void most_full_arena_is_used_first(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    /* Fill three arenas with one pool-sized chunk per pool. */
    size_t per_pool = RCYI_POOL_BLOCKS(512);
    size_t n = 3 * ((RCYI_POOLS_PER_ARENA - 1) * per_pool +
                    (RCY_POOL_SIZE - RCYI_ARENA_META) / 512); /* pool 0 holds the record */
    void **v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rcy_mem_alloc(h, 512);
    assert_int_equal(h->alloc.arenas, 3);
    /* Free 60 pools of the arena holding v[0], 2 pools of another. */
    rcyi_arena *a0 = rcyi_arena_lookup(v[0]), *a1 = NULL;
    for (size_t i = 0; i < n; i++) {
        rcyi_arena *a = rcyi_arena_lookup(v[i]);
        size_t pi = ((uintptr_t)v[i] / RCY_POOL_SIZE) % RCYI_POOLS_PER_ARENA;
        if (a != a0 && !a1)
            a1 = a;
        if ((a == a0 && pi < 60) || (a == a1 && pi < 2)) {
            rcy_mem_free(h, v[i]);
            v[i] = NULL;
        }
    }
    assert_int_equal(a0->nfree, 60);
    assert_int_equal(a1->nfree, 2);
    rcyi_alloc_validate(h);
    /* The next new pool comes from the fuller arena, not from a0. */
    void *x = rcy_mem_alloc(h, 256);
    assert_ptr_equal(rcyi_arena_lookup(x), a1);
    rcy_mem_free(h, x);
    for (size_t i = 0; i < n; i++)
        rcy_mem_free(h, v[i]);
    rcyi_alloc_validate(h);
    free(v);
    rcy_heap_free(h);
}

/* Past its fourth arena a heap gets new arenas two at a time, from one
 * mapping aligned to 2 MiB (advised for huge pages); the first four are
 * plain 1 MiB mappings, so a small heap stays small. */
static void big_heaps_get_arenas_in_huge_page_pairs(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    enum { N = 20000 };
    void **v = malloc(N * sizeof *v);
    uintptr_t bases[8];
    size_t nb = 0;
    for (size_t i = 0; i < N && nb < 8; i++) {
        v[i] = rcy_mem_alloc(h, 512);
        uintptr_t b = (uintptr_t)rcyi_arena_lookup(v[i]);
        if (nb == 0 || bases[nb - 1] != b)
            bases[nb++] = b;
    }
    assert_int_equal(nb, 8);
    /* A half left over by an earlier heap may come first; then a pair. */
    int pair = 0;
    for (size_t i = 4; i + 1 < nb; i++)
        pair |= bases[i] % (2u << 20) == 0 && bases[i + 1] == bases[i] + RCY_ARENA_SIZE;
    assert_true(pair);
    assert_int_equal(h->alloc.arenas, 8);
    free(v);
    rcy_heap_free(h); /* frees every block, and every arena goes back */
}

/* An alloc/free pair on a class with nothing else alive neither maps nor
 * unmaps anything, and a pool kept for such pairs does not pin its arena
 * once the rest of the arena is idle. */
static void idle_class_pairs_do_not_churn(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    for (int i = 0; i < 1000; i++) /* nothing else alive at all */
        rcy_mem_free(h, rcy_mem_alloc(h, 100));
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.arenas_allocated, 1);
    assert_int_equal(st.arenas_reclaimed, 0);

    void *other = rcy_mem_alloc(h, 300); /* another class stays alive */
    for (int i = 0; i < 1000; i++) {
        rcy_mem_free(h, rcy_mem_alloc(h, 100));
        if (i % 100 == 0)
            rcyi_alloc_validate(h);
    }
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.classes[6].pools, 1); /* the idle class keeps its pool */
    assert_int_equal(st.classes[6].blocks_used, 0);
    assert_int_equal(st.arenas_allocated, 1);
    rcy_mem_free(h, other);
    rcyi_alloc_validate(h);
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.pools_used, 0); /* both gone: the arena is idle */
    assert_int_equal(st.classes[6].pools, 0);
    rcy_heap_free(h);
}

/* The rcy_mem_* family reports every event to the tracer while it runs. */
static void mem_functions_are_traced(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    void *before = rcy_mem_alloc(h, 64); /* allocated untraced */
    assert_int_equal(rcy_tracemalloc_start(1), RCY_OK);
    size_t cur = 0, peak = 0;
    void *a = rcy_mem_alloc(h, 100);
    void *b = rcy_mem_calloc(h, 3, 10);
    void *c = rcy_mem_try_alloc(h, 5000);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 100 + 30 + 5000);
    a = rcy_mem_realloc(h, a, 300);
    c = rcy_mem_try_realloc(h, c, 7000);
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 300 + 30 + 7000);
    assert_int_equal(peak, 300 + 30 + 7000);
    rcy_mem_free(h, a);
    rcy_mem_free(h, b);
    rcy_mem_free(h, c);
    rcy_mem_free(h, before); /* untraced block: no effect on the total */
    rcy_tracemalloc_get_traced_memory(&cur, &peak);
    assert_int_equal(cur, 0);
    rcy_tracemalloc_stop();
    rcy_heap_free(h);
}

/* ---- the object walker ------------------------------------------------ */

static const rcy_type fake_type = {.name = "Fake", .size = 8};

typedef struct walk_log {
    rcy_head_ **seen;
    size_t n, cap;
} walk_log;

static void record(rcy_head_ *o, void *arg) {
    walk_log *w = arg;
    if (w->n < w->cap)
        w->seen[w->n] = o;
    w->n++;
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static rcy_head_ *new_fake(rcy_heap *h, size_t size) {
    rcy_head_ *o = rcyi_alloc(h, size, RCYI_KIND_OBJECT);
    assert_non_null(o);
    o->refcnt = 1;
    o->gcword = 0;
    o->type = &fake_type;
    return o;
}

static void free_fake(rcy_heap *h, rcy_head_ *o) {
    o->refcnt = 0;
    o->gcword = 0;
    rcyi_free(h, o);
}

static void walk_and_compare(rcy_heap *h, rcy_head_ **live, size_t nlive) {
    walk_log w = {malloc((nlive + 1) * sizeof(rcy_head_ *)), 0, nlive + 1};
    rcyi_walk_objects(h, record, &w);
    assert_int_equal(w.n, nlive);
    qsort(w.seen, w.n, sizeof *w.seen, cmp_ptr);
    rcy_head_ **want = malloc((nlive + 1) * sizeof *want);
    memcpy(want, live, nlive * sizeof *want);
    qsort(want, nlive, sizeof *want, cmp_ptr);
    for (size_t i = 0; i < nlive; i++) {
        assert_ptr_equal(w.seen[i], want[i]);
        assert_ptr_equal(w.seen[i]->type, &fake_type);
    }
    free(want);
    free(w.seen);
}

static void walker_sees_exactly_the_live_objects_in(int debug) {
    rcy_heap *h = heap_with(debug, 0);
    enum { N = 20000 };
    rcy_head_ **objs = calloc(N, sizeof *objs);
    void *raw[64];
    uint64_t seed = 5;
    for (int i = 0; i < 64; i++)
        raw[i] = rcy_mem_alloc(h, 32 + (size_t)i * 8); /* RAW blocks: never visited */
    for (size_t i = 0; i < N; i++) {
        size_t sz = 16 + rng_next(&seed) % (i % 100 == 0 ? 3000 : 500);
        objs[i] = new_fake(h, sz);
    }
    for (size_t i = 0; i < N; i++) {
        if (rng_next(&seed) % 3 == 0) {
            free_fake(h, objs[i]);
            objs[i] = NULL;
        }
    }
    size_t nlive = 0;
    for (size_t i = 0; i < N; i++)
        if (objs[i])
            objs[nlive++] = objs[i];
    walk_and_compare(h, objs, nlive);
    rcyi_alloc_validate(h);
    for (size_t i = 0; i < nlive; i++)
        free_fake(h, objs[i]);
    walk_and_compare(h, objs, 0);
    for (int i = 0; i < 64; i++)
        rcy_mem_free(h, raw[i]);
    free(objs);
    rcy_heap_free(h);
}

static void walker_sees_exactly_the_live_objects(void **state) {
    (void)state;
    walker_sees_exactly_the_live_objects_in(0);
}

static void walker_sees_exactly_the_live_objects_in_debug_mode(void **state) {
    (void)state;
    walker_sees_exactly_the_live_objects_in(1);
}

/* Pools emptied and taken again by the same class keep their free lists:
 * the walker and the validator still see exactly what is live, and a
 * released RAW pool taken by OBJECTs (or the other way) starts clean. */
static void rebuilt_structures_reuse_pools(void **state) {
    (void)state;
    for (int debug = 0; debug <= 1; debug++) {
        rcy_heap *h = heap_with(debug, 0);
        enum { N = 5000 };
        rcy_head_ **objs = calloc(N, sizeof *objs);
        void **raw = calloc(N, sizeof *raw);
        /* held throughout: the arena stays mapped, so emptied pools go to
         * its free pools and are taken again (not carved from a fresh
         * cached arena) */
        void *keep = rcy_mem_alloc(h, 400);
        size_t arenas_after_first = 0;
        for (int round = 0; round < 4; round++) {
            for (size_t i = 0; i < N; i++)
                objs[i] = new_fake(h, 32 + (i % 3) * 16);
            walk_and_compare(h, objs, N);
            rcyi_alloc_validate(h);
            for (size_t i = 0; i < N; i++)
                free_fake(h, objs[i]);
            /* The same classes as RAW blocks, dirtied: taken by OBJECTs next. */
            for (size_t i = 0; i < N; i++) {
                raw[i] = rcy_mem_alloc(h, 32 + (i % 3) * 16);
                memset(raw[i], 0xAB, 32);
            }
            rcyi_alloc_validate(h);
            for (size_t i = 0; i < N; i++)
                rcy_mem_free(h, raw[i]);
            rcyi_alloc_validate(h);
            rcy_mem_stats st = {.size = sizeof st};
            rcy_mem_get_stats(h, &st);
            if (round == 0)
                arenas_after_first = st.arenas_allocated;
            assert_int_equal(st.arenas_allocated, arenas_after_first);
        }
        rcy_mem_free(h, keep);
        walk_and_compare(h, objs, 0);
        free(objs);
        free(raw);
        rcy_heap_free(h);
    }
}

/* A visitor may free objects (a collector does): pools and large blocks
 * stay in place until the walk is over, then empty ones are released. */
typedef struct free_ctx {
    rcy_heap *h;
    size_t visited;
} free_ctx;

static void free_visited(rcy_head_ *o, void *arg) {
    free_ctx *c = arg;
    c->visited++;
    free_fake(c->h, o);
}

static void visitor_may_free_objects(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    enum { N = 30000 };
    for (size_t i = 0; i < N; i++)
        new_fake(h, i % 10 == 0 ? 2000 : 16 + i % 200);
    free_ctx c = {h, 0};
    rcyi_walk_objects(h, free_visited, &c);
    assert_int_equal(c.visited, N);
    rcyi_alloc_validate(h);
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.pools_used, 0);
    assert_int_equal(st.large_blocks, 0);
    assert_true(st.arenas <= 1);
    rcy_heap_free(h);
}

/* Raw blocks a visitor frees (large or small) are released once the walk
 * is over too: nothing stays counted or mapped. */
typedef struct raw_ctx {
    rcy_heap *h;
    void **raw;
    size_t n, next;
} raw_ctx;

static void free_raw_while_walking(rcy_head_ *o, void *arg) {
    (void)o;
    raw_ctx *c = arg;
    if (c->next < c->n)
        rcy_mem_free(c->h, c->raw[c->next++]);
}

static void visitor_may_free_raw_blocks(void **state) {
    (void)state;
    rcy_heap *h = heap_with(0, 0);
    enum { NOBJ = 100, NRAW = 40 };
    rcy_head_ *objs[NOBJ];
    void *raw[NRAW];
    for (size_t i = 0; i < NOBJ; i++)
        objs[i] = new_fake(h, 32);
    for (size_t i = 0; i < NRAW; i++)
        raw[i] = rcy_mem_alloc(h, i % 2 ? 5000 + i : 64);
    raw_ctx c = {h, raw, NRAW, 0};
    rcyi_walk_objects(h, free_raw_while_walking, &c);
    assert_int_equal(c.next, NRAW);
    rcyi_alloc_validate(h);
    rcy_mem_stats st = {.size = sizeof st};
    rcy_mem_get_stats(h, &st);
    assert_int_equal(st.large_blocks, 0);
    for (size_t i = 0; i < NOBJ; i++)
        free_fake(h, objs[i]);
    rcy_heap_free(h);
}

/* ---- ownership -------------------------------------------------------- */

static int a_global;

static void heap_of_block_knows_its_blocks(void **state) {
    (void)state;
    rcy_heap *h1 = heap_with(0, 0), *h2 = heap_with(0, 0);
    void *s1 = rcy_mem_alloc(h1, 24), *l1 = rcy_mem_alloc(h1, 4000);
    void *s2 = rcy_mem_alloc(h2, 24), *l2 = rcy_mem_alloc(h2, 4000);
    assert_ptr_equal(rcyi_heap_of_block(s1), h1);
    assert_ptr_equal(rcyi_heap_of_block(l1), h1);
    assert_ptr_equal(rcyi_heap_of_block(s2), h2);
    assert_ptr_equal(rcyi_heap_of_block(l2), h2);
    int local = 0;
    void *m = malloc(64);
    assert_null(rcyi_heap_of_block(&local));
    assert_null(rcyi_heap_of_block(m));
    assert_null(rcyi_heap_of_block(&a_global));
    assert_null(rcyi_heap_of_block(NULL));
    assert_null(rcyi_heap_of_block((char *)s1 + 8)); /* not a block start */
    /* Every block start of every class, and no offset in between. */
    for (size_t bs = 16; bs <= RCY_SMALL_LIMIT; bs += 16) {
        unsigned char *blk[40];
        for (int i = 0; i < 40; i++) {
            blk[i] = rcy_mem_alloc(h2, bs);
            assert_ptr_equal(rcyi_heap_of_block(blk[i]), h2);
            for (size_t off = 16; off < bs; off += 16)
                assert_null(rcyi_heap_of_block(blk[i] + off));
        }
        for (int i = 0; i < 40; i++)
            rcy_mem_free(h2, blk[i]);
    }
    /* A page-aligned foreign pointer after a guard page: looking for a
     * large-block prefix before it must not fault. */
    char *guard = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(guard != MAP_FAILED);
    assert_int_equal(mprotect(guard, 4096, PROT_NONE), 0);
    assert_null(rcyi_heap_of_block(guard + 4096));
    assert_null(rcyi_heap_of_block(guard + 4096 + 16));
    munmap(guard, 8192);
    free(m);
    rcy_mem_free(h1, s1);
    rcy_mem_free(h1, l1);
    rcy_mem_free(h2, s2);
    rcy_mem_free(h2, l2);
    rcy_heap_free(h1);
    rcy_heap_free(h2);
}

/* ---- several heaps in several threads -------------------------------- */

typedef struct thread_arg {
    uint64_t seed;
    int ok;
} thread_arg;

static void *thread_body(void *arg) {
    thread_arg *t = arg;
    rcy_heap *h = rcy_heap_new(NULL);
    enum { NS = 2000 };
    slot *s = calloc(NS, sizeof *s);
    t->ok = h && s;
    for (size_t i = 0; t->ok && i < 80000; i++) {
        size_t k = rng_next(&t->seed) % NS;
        if (s[k].p) {
            t->ok &= check(s[k].p, s[k].n, s[k].seed);
            t->ok &= rcyi_heap_of_block(s[k].p) == h;
            rcy_mem_free(h, s[k].p);
            s[k].p = NULL;
        } else {
            s[k].n = rng_next(&t->seed) % 700;
            s[k].seed = (unsigned)i;
            s[k].p = rcy_mem_alloc(h, s[k].n);
            fill(s[k].p, s[k].n, s[k].seed);
        }
    }
    if (t->ok)
        rcyi_alloc_validate(h);
    for (size_t k = 0; k < NS; k++)
        if (s[k].p)
            rcy_mem_free(h, s[k].p);
    free(s);
    rcy_heap_free(h);
    return NULL;
}

static void heaps_in_threads_run_at_once(void **state) {
    (void)state;
    enum { T = 4 };
    pthread_t th[T];
    thread_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thread_arg){(uint64_t)i * 7919 + 1, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_body, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
    }
}

/* ---- custom raw allocator -------------------------------------------- */

typedef struct counting {
    size_t mallocs, frees, reallocs;
} counting;

static void *c_malloc(void *ctx, size_t n) {
    ((counting *)ctx)->mallocs++;
    return malloc(n);
}
static void *c_calloc(void *ctx, size_t n, size_t s) {
    ((counting *)ctx)->mallocs++;
    return calloc(n, s);
}
static void *c_realloc(void *ctx, void *p, size_t n) {
    ((counting *)ctx)->reallocs++;
    return realloc(p, n);
}
static void c_free(void *ctx, void *p) {
    if (p)
        ((counting *)ctx)->frees++;
    free(p);
}

static void raw_allocator_is_pluggable(void **state) {
    (void)state;
    counting c = {0};
    rcy_raw_allocator raw = {&c, c_malloc, c_calloc, c_realloc, c_free};
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.raw = &raw;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    void *small = rcy_mem_alloc(h, 100); /* arena record from raw */
    void *big = rcy_mem_alloc(h, 10000);
    big = rcy_mem_realloc(h, big, 20000);
    assert_true(c.mallocs >= 2);
    assert_int_equal(c.reallocs, 1);
    rcy_mem_free(h, big);
    rcy_mem_free(h, small);
    rcy_heap_free(h);
    assert_int_equal(c.mallocs, c.frees);

    rcy_raw_allocator bad = {NULL, c_malloc, NULL, c_realloc, c_free};
    cfg.raw = &bad;
    assert_null(rcy_heap_new(&cfg));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_ops_keep_contents),
        cmocka_unit_test(random_ops_keep_contents_in_debug_mode),
        cmocka_unit_test(every_size_gets_its_class),
        cmocka_unit_test(zero_size_gives_unique_pointers),
        cmocka_unit_test(calloc_zeroes_and_checks_overflow),
        cmocka_unit_test(realloc_moves_between_small_and_large),
        cmocka_unit_test(empty_arenas_go_back_to_the_os),
        cmocka_unit_test(emptied_arenas_are_reused_while_the_heap_is_big),
        cmocka_unit_test(arena_cache_option_is_a_percentage),
        cmocka_unit_test(resident_set_comes_back_after_a_gib_is_freed),
        cmocka_unit_test(most_full_arena_is_used_first),
        cmocka_unit_test(big_heaps_get_arenas_in_huge_page_pairs),
        cmocka_unit_test(idle_class_pairs_do_not_churn),
        cmocka_unit_test(mem_functions_are_traced),
        cmocka_unit_test(walker_sees_exactly_the_live_objects),
        cmocka_unit_test(walker_sees_exactly_the_live_objects_in_debug_mode),
        cmocka_unit_test(visitor_may_free_objects),
        cmocka_unit_test(visitor_may_free_raw_blocks),
        cmocka_unit_test(rebuilt_structures_reuse_pools),
        cmocka_unit_test(heap_of_block_knows_its_blocks),
        cmocka_unit_test(heaps_in_threads_run_at_once),
        cmocka_unit_test(raw_allocator_is_pluggable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
