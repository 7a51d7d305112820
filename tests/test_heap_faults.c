/* tests/test_heap_faults.c — fault injection (Lua's failnext idea): a
 * scenario of object, list and dict operations is run once for every N,
 * with the N-th raw request of the heap made to fail.  Every API must
 * report the failure (NULL / RCY_ENOMEM), leave its container unchanged,
 * leak nothing and crash nothing. */
#include "testutil.h"

#include "heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chain {
    struct chain *next;
} chain;

static void chain_destroy(void *self) {
    chain *c = self;
    RCY_CLEAR(c->next);
}
static const rcy_type chain_type = {
    .name = "Chain", .size = sizeof(chain), .destroy = chain_destroy};
static const rcy_type blob_type = {.name = "Blob", .size = 16};

/* Counts failures; checks each failing call left things as they were. */
static void scenario(rcy_heap *h, int *fails) {
    rcy_dict *root = rcy_dict_new(h);
    if (!root) {
        ++*fails;
        return;
    }
    char key[32];
    for (int i = 0; i < 24; i++) {
        rcy_list *l = rcy_list_new(h);
        if (!l) {
            ++*fails;
            continue;
        }
        for (int k = 0; k < 200; k++) {
            rcy_int *v = rcy_int_new(h, k);
            if (!v) {
                ++*fails;
                continue;
            }
            size_t before = rcy_list_len(l);
            int rc = k % 3 ? rcy_list_append(l, v) : rcy_list_insert(l, k / 2, v);
            if (rc != RCY_OK) {
                assert_int_equal(rc, RCY_ENOMEM);
                assert_int_equal(rcy_list_len(l), before);
                assert_int_equal(rcy_getrefcount(v), 1);
                ++*fails;
            }
            rcy_decref(v);
        }
        void *big = rcy_new_var(h, &blob_type, 1000 + (size_t)i * 64);
        if (!big) {
            ++*fails;
        } else {
            if (rcy_list_append(l, big) != RCY_OK)
                ++*fails;
            rcy_decref(big);
        }
        snprintf(key, sizeof key, "list-%d", i);
        size_t before = rcy_dict_len(root);
        int rc = rcy_dict_set(root, key, l);
        if (rc != RCY_OK) {
            assert_int_equal(rc, RCY_ENOMEM);
            assert_int_equal(rcy_dict_len(root), before);
            assert_null(rcy_dict_get(root, key));
            ++*fails;
        }
        rcy_decref(l);
    }
    /* Some churn: pop, remove, delete, re-insert. */
    rcy_list *first = rcy_dict_get(root, "list-0");
    if (first) {
        for (int k = 0; k < 150; k++)
            rcy_xdecref(rcy_list_pop(first, 0));
    }
    for (int i = 0; i < 24; i += 2) {
        snprintf(key, sizeof key, "list-%d", i);
        rcy_dict_del(root, key);
    }
    /* A deep chain: its deallocation needs the deferred stack. */
    chain *head = NULL;
    for (int i = 0; i < 3000; i++) {
        chain *c = rcy_new(h, &chain_type);
        if (!c) {
            ++*fails;
            break;
        }
        c->next = head;
        head = c;
    }
    if (head && rcy_dict_set(root, "chain", head) != RCY_OK)
        ++*fails;
    rcy_xdecref(head);
    rcy_decref(root);
}

static void every_failing_raw_request_is_reported_and_nothing_leaks(void **state) {
    (void)state;
    unsigned long n;
    int total_fails = 0;
    for (n = 1; n < 100000; n++) {
        rcy_heap *h = rcy_heap_new(NULL);
        assert_non_null(h);
        rcy_gc_set_emergency(h, false); /* every failure must surface */
        rcy_heap_fail_nth(h, n);
        int fails = 0;
        scenario(h, &fails);
        assert_int_equal(rcy_test_bytes_in_use(h), 0);
        /* The countdown is still running: the scenario made fewer than N
         * raw requests, so every request has now been failed once. */
        int done = h->alloc.fail_nth != 0;
        rcy_heap_free(h);
        total_fails += fails;
        if (done) {
            assert_int_equal(fails, 0);
            break;
        }
    }
    print_message("fault injection: each of %lu raw requests failed in turn, %d errors "
                  "reported\n",
                  n - 1, total_fails);
    assert_true(n > 5);      /* the scenario makes raw requests... */
    assert_true(n < 100000); /* ...and a bounded number of them */
    /* Most injected failures surface as an error (some hit a list shrink
     * or the deferred-dealloc stack, which recover silently). */
    assert_true(total_fails >= (int)n / 2);
}

static void memory_limit_makes_every_api_fail_cleanly(void **state) {
    (void)state;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.memory_limit = 3u << 20;
    rcy_heap *h = rcy_heap_new(&cfg);
    assert_non_null(h);
    rcy_list *l = rcy_list_new(h);
    assert_non_null(l);
    int rc = RCY_OK;
    long n = 0;
    while (rc == RCY_OK && n < 10 * 1000 * 1000) {
        rcy_int *v = rcy_int_new(h, n);
        if (!v)
            break;
        rc = rcy_list_append(l, v);
        rcy_decref(v);
        n++;
    }
    assert_true(n < 10 * 1000 * 1000); /* the limit was hit */
    rcy_decref(l);
    assert_int_equal(rcy_test_bytes_in_use(h), 0);
    rcy_heap_free(h);
}

/* A raw allocator that fails after `budget` successful calls. */
typedef struct budget {
    long budget, live;
} budget;
static void *b_malloc(void *ctx, size_t n) {
    budget *b = ctx;
    if (b->budget-- <= 0)
        return NULL;
    void *p = malloc(n);
    b->live += p != NULL;
    return p;
}
static void *b_calloc(void *ctx, size_t n, size_t s) {
    budget *b = ctx;
    if (b->budget-- <= 0)
        return NULL;
    void *p = calloc(n, s);
    b->live += p != NULL;
    return p;
}
static void *b_realloc(void *ctx, void *p, size_t n) {
    budget *b = ctx;
    if (b->budget-- <= 0)
        return NULL;
    void *q = realloc(p, n);
    b->live += q && !p;
    return q;
}
static void b_free(void *ctx, void *p) {
    budget *b = ctx;
    b->live -= p != NULL;
    free(p);
}

static void heap_new_fails_cleanly_when_the_raw_allocator_fails(void **state) {
    (void)state;
    int made = 0;
    for (long k = 0; k < 50 && !made; k++) {
        budget b = {k, 0};
        rcy_raw_allocator raw = {&b, b_malloc, b_calloc, b_realloc, b_free};
        rcy_config cfg;
        rcy_config_init(&cfg);
        cfg.raw = &raw;
        rcy_heap *h = rcy_heap_new(&cfg);
        if (h) {
            made = 1;
            b.budget = 1000000;
            rcy_int *v = rcy_int_new(h, 1);
            rcy_xdecref(v);
            rcy_heap_free(h);
        }
        assert_int_equal(b.live, 0);
    }
    assert_true(made);
}

/* A finalizer that frees its own heap: a clear fatal message, not a
 * segfault in the frames that still use the heap. */
typedef struct selfish {
    int unused;
} selfish;
static rcy_heap *selfish_heap;
static void selfish_finalize(void *self) {
    (void)self;
    rcy_heap_free(selfish_heap);
}
static const rcy_type selfish_type = {
    .name = "Selfish", .size = sizeof(selfish), .finalize = selfish_finalize};
static void drop_selfish(void *arg) {
    (void)arg;
    selfish_heap = rcy_heap_new(NULL);
    rcy_decref(rcy_new(selfish_heap, &selfish_type));
}

/* The same from a collection: a cycle whose finalizer frees the heap. */
typedef struct cyclic {
    void *self;
} cyclic;
static int cyclic_traverse(void *self, rcy_visitproc visit, void *arg) {
    RCY_VISIT(((cyclic *)self)->self, visit, arg);
    return 0;
}
static void cyclic_clear(void *self) {
    RCY_CLEAR(((cyclic *)self)->self);
}
static const rcy_type cyclic_type = {.name = "Cyclic",
                                     .size = sizeof(cyclic),
                                     .traverse = cyclic_traverse,
                                     .clear = cyclic_clear,
                                     .finalize = selfish_finalize};
static void collect_selfish_cycle(void *arg) {
    (void)arg;
    selfish_heap = rcy_heap_new(NULL);
    cyclic *c = rcy_new(selfish_heap, &cyclic_type);
    rcy_incref(c);
    c->self = c;
    rcy_decref(c);
    rcy_gc_collect(selfish_heap, 2);
}

static void freeing_a_heap_from_its_own_finalizer_is_named(void **state) {
    (void)state;
    rcy_expect_death(drop_selfish, NULL, "called while the heap is in use on this thread");
    rcy_expect_death(collect_selfish_cycle, NULL, "called while the heap is in use on this thread");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_failing_raw_request_is_reported_and_nothing_leaks),
        cmocka_unit_test(memory_limit_makes_every_api_fail_cleanly),
        cmocka_unit_test(heap_new_fails_cleanly_when_the_raw_allocator_fails),
        cmocka_unit_test(freeing_a_heap_from_its_own_finalizer_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
