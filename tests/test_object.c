/* tests/test_object.c — objects: creation, reference counting, finalizers,
 * immortality, scope-bound references, and misuse reports. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "heap.h"

/* An impossible request must come back as NULL, not stop the sanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1";
}

typedef struct node {
    struct node *next;
    long value;
    unsigned char pad[40];
} node;

static int destroyed, cleared, finalized;

static void node_destroy(void *self) {
    node *n = self;
    destroyed++;
    RCY_CLEAR(n->next);
}

static int node_traverse(void *self, rcy_visitproc visit, void *arg) {
    node *n = self;
    RCY_VISIT(n->next, visit, arg);
    return 0;
}

static const rcy_type node_type = {
    .name = "Node", .size = sizeof(node), .destroy = node_destroy, .traverse = node_traverse};

static void plain_clear(void *self) {
    (void)self;
    cleared++;
}
static const rcy_type clear_only_type = {.name = "ClearOnly", .size = 8, .clear = plain_clear};
static const rcy_type bare_type = {.name = "Bare", .size = 0};

static void reset_counts(void) {
    destroyed = cleared = finalized = 0;
}

static int setup(void **state) {
    reset_counts();
    rcy_heap *h = rcy_heap_new(NULL);
    assert_non_null(h);
    *state = h;
    return 0;
}

static int teardown(void **state) {
    rcy_heap_free(*state);
    return 0;
}

/* Bytes of small blocks still handed out on the heap. */
static size_t blocks_in_use(rcy_heap *h) {
    rcy_mem_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(rcy_mem_get_stats(h, &st), RCY_OK);
    return st.small_bytes_used + st.large_bytes;
}

static void new_object_is_zeroed_with_refcount_one(void **state) {
    rcy_heap *h = *state;
    node *n = rcy_new(h, &node_type);
    assert_non_null(n);
    assert_int_equal(rcy_getrefcount(n), 1);
    assert_ptr_equal(rcy_type_of(n), &node_type);
    assert_ptr_equal(rcy_heap_of(n), h);
    assert_false(rcy_is_immortal(n));
    static const unsigned char zero[sizeof(node)];
    assert_memory_equal(n, zero, sizeof *n);
    assert_int_equal((uintptr_t)n % 16, 0);
    assert_int_equal((uintptr_t)RCY_HEAD_(n) + 16, (uintptr_t)n);
    rcy_decref(n);
    assert_int_equal(destroyed, 1);
}

static void header_is_sixteen_bytes(void **state) {
    (void)state;
    assert_int_equal(sizeof(rcy_head_), 16);
}

static void new_var_zeroes_the_variable_part(void **state) {
    rcy_heap *h = *state;
    size_t sizes[] = {0, 1, 100, 480, 496, 497, 5000, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *p = rcy_new_var(h, &clear_only_type, sizes[i]);
        assert_non_null(p);
        for (size_t k = 0; k < 8 + sizes[i]; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xAB, 8 + sizes[i]);
        assert_int_equal(rcy_getrefcount(p), 1);
        assert_ptr_equal(rcy_heap_of(p), h);
        rcy_decref(p);
    }
    assert_int_equal(cleared, (int)(sizeof sizes / sizeof *sizes));
    assert_int_equal(blocks_in_use(h), 0);
}

static void new_fails_cleanly_on_bad_arguments(void **state) {
    rcy_heap *h = *state;
    assert_null(rcy_new(NULL, &node_type));
    assert_null(rcy_new(h, NULL));
    assert_null(rcy_new_var(h, &node_type, SIZE_MAX));
    assert_null(rcy_new_var(h, &node_type, SIZE_MAX / 2));
    assert_null(rcy_new_var(h, &node_type, (size_t)1 << 60)); /* too big for any allocator */
}

static void refcount_goes_one_two_one(void **state) {
    rcy_heap *h = *state;
    node *n = rcy_new(h, &node_type);
    rcy_incref(n);
    assert_int_equal(rcy_getrefcount(n), 2);
    rcy_decref(n);
    assert_int_equal(rcy_getrefcount(n), 1);
    assert_int_equal(destroyed, 0);
    rcy_xincref(n);
    rcy_xincref(NULL);
    assert_int_equal(rcy_getrefcount(n), 2);
    rcy_xdecref(n);
    rcy_xdecref(NULL);
    rcy_xdecref(n);
    assert_int_equal(destroyed, 1);
}

static void destroy_is_called_else_clear(void **state) {
    rcy_heap *h = *state;
    void *a = rcy_new(h, &clear_only_type);
    void *b = rcy_new(h, &bare_type);
    assert_non_null(b);
    rcy_decref(a);
    rcy_decref(b);
    assert_int_equal(cleared, 1);
    assert_int_equal(destroyed, 0);
    assert_int_equal(blocks_in_use(h), 0);
}

/* ---- finalizers (PEP 442) ---- */

static void *resurrect_into;
static int resurrect_times;

static void fin(void *self) {
    finalized++;
    if (resurrect_times > 0) {
        resurrect_times--;
        rcy_incref(self);
        resurrect_into = self;
    }
}

static const rcy_type fin_type = {
    .name = "Fin", .size = 16, .finalize = fin, .destroy = node_destroy};

static void finalizer_runs_once_before_destroy(void **state) {
    rcy_heap *h = *state;
    void *o = rcy_new(h, &fin_type);
    resurrect_times = 0;
    rcy_decref(o);
    assert_int_equal(finalized, 1);
    assert_int_equal(destroyed, 1);
}

static void resurrected_object_survives_and_is_not_finalized_again(void **state) {
    rcy_heap *h = *state;
    void *o = rcy_new(h, &fin_type);
    resurrect_times = 1;
    resurrect_into = NULL;
    rcy_decref(o);
    assert_int_equal(finalized, 1);
    assert_int_equal(destroyed, 0);
    assert_ptr_equal(resurrect_into, o);
    assert_int_equal(rcy_getrefcount(o), 1);
    rcy_incref(o);
    rcy_decref(o);
    rcy_decref(resurrect_into);
    assert_int_equal(finalized, 1); /* at most once */
    assert_int_equal(destroyed, 1);
}

static void self_incref_decref_in_finalizer_is_harmless(void **state);
static void fin_touch(void *self) {
    finalized++;
    rcy_incref(self);
    rcy_decref(self);
}
static const rcy_type fin_touch_type = {.name = "FinTouch", .size = 8, .finalize = fin_touch};
static void self_incref_decref_in_finalizer_is_harmless(void **state) {
    rcy_heap *h = *state;
    void *o = rcy_new(h, &fin_touch_type);
    rcy_decref(o);
    assert_int_equal(finalized, 1);
    assert_int_equal(blocks_in_use(h), 0);
}

/* ---- immortal objects and saturation ---- */

static void immortal_objects_ignore_refcounting(void **state) {
    rcy_heap *h = *state;
    node *n = rcy_new(h, &node_type);
    rcy_immortalize(n);
    assert_true(rcy_is_immortal(n));
    assert_int_equal(rcy_getrefcount(n), RCY_REFCNT_IMMORTAL);
    for (int i = 0; i < 10; i++)
        rcy_decref(n);
    rcy_incref(n);
    assert_int_equal(rcy_getrefcount(n), RCY_REFCNT_IMMORTAL);
    assert_int_equal(destroyed, 0);
    /* freed by rcy_heap_free (teardown); ASan would report a leak otherwise */
}

static void refcount_overflow_saturates_to_immortal(void **state) {
    rcy_heap *h = *state;
    node *n = rcy_new(h, &node_type);
    RCY_HEAD_(n)->refcnt = 0x7FFFFFFEu; /* a private count's largest is 2^31 - 1 */
    rcy_incref(n);
    assert_int_equal(rcy_getrefcount(n), 0x7FFFFFFFu);
    assert_false(rcy_is_immortal(n));
    rcy_incref(n);
    assert_true(rcy_is_immortal(n));
    rcy_incref(n);
    assert_true(rcy_is_immortal(n));
    rcy_decref(n);
    assert_true(rcy_is_immortal(n));
    assert_int_equal(destroyed, 0);
}

/* ---- RCY_CLEAR, RCY_SETREF, rcy_auto ---- */

static node *watched;
static int saw_null_field;
static void watch_destroy(void *self) {
    (void)self;
    destroyed++;
    saw_null_field = watched == NULL;
}
static const rcy_type watch_type = {.name = "Watch", .size = 8, .destroy = watch_destroy};

static void clear_sets_null_before_decref(void **state) {
    rcy_heap *h = *state;
    watched = rcy_new(h, &watch_type);
    RCY_CLEAR(watched);
    assert_null(watched);
    assert_int_equal(destroyed, 1);
    assert_true(saw_null_field);
    RCY_CLEAR(watched); /* NULL: nothing happens */
    assert_int_equal(destroyed, 1);
}

static void setref_stores_then_drops_the_old_value(void **state) {
    rcy_heap *h = *state;
    node *holder = rcy_new(h, &node_type);
    node *a = rcy_new(h, &node_type);
    node *b = rcy_new(h, &node_type);
    RCY_SETREF(holder->next, a); /* gives a's reference to holder */
    assert_ptr_equal(holder->next, a);
    assert_int_equal(destroyed, 0);
    RCY_SETREF(holder->next, b);
    assert_ptr_equal(holder->next, b);
    assert_int_equal(destroyed, 1); /* a */
    RCY_SETREF(holder->next, NULL);
    assert_int_equal(destroyed, 2);
    rcy_decref(holder);
    assert_int_equal(destroyed, 3);
}

static void auto_reference_is_dropped_at_scope_exit(void **state) {
    rcy_heap *h = *state;
    {
        rcy_auto node *n = rcy_new(h, &node_type);
        rcy_auto node *none = NULL;
        assert_non_null(n);
        (void)none;
        assert_int_equal(destroyed, 0);
    }
    assert_int_equal(destroyed, 1);
    for (int i = 0; i < 3; i++) {
        rcy_auto node *n = rcy_new(h, &node_type);
        (void)n;
    }
    assert_int_equal(destroyed, 4);
}

/* ---- deep structures: deallocation never recurses without bound ---- */

#include <pthread.h>

typedef struct chain_job {
    rcy_heap *heap;
    size_t length;
    int ok;
} chain_job;

static void *drop_long_chain(void *arg) {
    chain_job *job = arg;
    node *head = NULL;
    for (size_t i = 0; i < job->length; i++) {
        node *n = rcy_new(job->heap, &node_type);
        if (!n)
            return NULL;
        n->next = head; /* gives our reference to the new node */
        n->value = (long)i;
        head = n;
    }
    rcy_decref(head);
    job->ok = 1;
    return NULL;
}

/* Runs fn in a thread whose stack is exactly `stack` bytes. */
static void run_with_stack(void *(*fn)(void *), void *arg, size_t stack) {
    pthread_attr_t attr;
    pthread_t t;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, stack), 0);
    assert_int_equal(pthread_create(&t, &attr, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

static void ten_million_chain_frees_on_an_8_mib_stack(void **state) {
    rcy_heap *h = *state;
    /* Run once, on normal heaps: on debug heaps (tests/object.cmake) the
     * same code path is covered by the shorter chains below. */
    const char *debug = getenv("RCY_DEBUG");
    if (debug && strcmp(debug, "0") != 0)
        skip();
    chain_job job = {h, 10 * 1000 * 1000, 0};
    run_with_stack(drop_long_chain, &job, 8u << 20);
    assert_true(job.ok);
    assert_int_equal(destroyed, 10 * 1000 * 1000);
    assert_int_equal(blocks_in_use(h), 0);
}

static void long_chain_frees_on_a_small_stack(void **state) {
    rcy_heap *h = *state;
    chain_job job = {h, 200000, 0};
    run_with_stack(drop_long_chain, &job, 512u << 10);
    assert_true(job.ok);
    assert_int_equal(destroyed, 200000);
    assert_int_equal(blocks_in_use(h), 0);
}

/* The same without traverse: untracked objects take the deallocation fast
 * path, which must defer as the general one does. */
static const rcy_type plain_node_type = {
    .name = "PlainNode", .size = sizeof(node), .destroy = node_destroy};

static void *drop_long_plain_chain(void *arg) {
    chain_job *job = arg;
    node *head = NULL;
    for (size_t i = 0; i < job->length; i++) {
        node *n = rcy_new(job->heap, &plain_node_type);
        if (!n)
            return NULL;
        n->next = head;
        head = n;
    }
    rcy_decref(head);
    job->ok = 1;
    return NULL;
}

static void long_untracked_chain_frees_on_a_small_stack(void **state) {
    rcy_heap *h = *state;
    chain_job job = {h, 200000, 0};
    run_with_stack(drop_long_plain_chain, &job, 512u << 10);
    assert_true(job.ok);
    assert_int_equal(destroyed, 200000);
    assert_int_equal(blocks_in_use(h), 0);
}

/* A fan-out deep down: a chain of 1000 whose last node owns a list of
 * 20000 nodes, each the head of a 50-node chain.  Many objects are
 * deferred at once. */
static void wide_structure_below_the_depth_limit_is_freed(void **state) {
    rcy_heap *h = *state;
    node *head = NULL;
    rcy_list *wide = rcy_list_new(h);
    assert_non_null(wide);
    for (int i = 0; i < 20000; i++) {
        node *c = NULL;
        for (int k = 0; k < 50; k++) {
            node *n = rcy_new(h, &node_type);
            assert_non_null(n);
            n->next = c;
            c = n;
        }
        assert_int_equal(rcy_list_append(wide, c), RCY_OK);
        rcy_decref(c);
    }
    node *bottom = rcy_new(h, &node_type);
    bottom->next = (node *)wide; /* any object: destroy just decrefs it */
    head = bottom;
    for (int k = 0; k < 1000; k++) {
        node *n = rcy_new(h, &node_type);
        n->next = head;
        head = n;
    }
    rcy_decref(head);
    assert_int_equal(destroyed, 20000 * 50 + 1001);
    assert_int_equal(blocks_in_use(h), 0);
}

static void chain_of_finalized_objects_is_freed(void **state) {
    rcy_heap *h = *state;
    node *head = NULL;
    resurrect_times = 0;
    for (int i = 0; i < 100000; i++) {
        node *n = rcy_new(h, &fin_type);
        n->next = head;
        head = n;
    }
    rcy_decref(head);
    assert_int_equal(finalized, 100000);
    assert_int_equal(destroyed, 100000);
    assert_int_equal(blocks_in_use(h), 0);
}

/* ---- misuse is fatal, with the type and address ---- */

static void decref_after_free(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    node *n = rcy_new(h, &node_type);
    node *keep = rcy_new(h, &node_type); /* keeps the pool alive */
    (void)keep;
    rcy_decref(n);
    rcy_decref(n);
}

static void decref_after_its_pool_is_gone(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    node *n = rcy_new(h, &node_type);
    rcy_decref(n); /* the pool empties and goes back to its arena */
    rcy_decref(n);
}

/* An object with no fields still gets a block with room for the
 * free-list link after its header, so its type survives too. */
static const rcy_type empty_type = {.name = "Empty", .size = 0};

static void decref_after_free_empty(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    void *e = rcy_new(h, &empty_type);
    void *keep = rcy_new(h, &empty_type);
    (void)keep;
    rcy_decref(e);
    rcy_decref(e);
}

/* A freed object keeps its type word (the allocator's free-list link is
 * past the header), so the report names the type. */
static void decref_of_a_dead_object_is_fatal(void **state) {
    (void)state;
    rcy_expect_death(decref_after_free, NULL, "(type Node): its memory was already freed");
    rcy_expect_death(decref_after_its_pool_is_gone, NULL,
                     "(type Node): its memory was already freed");
    rcy_expect_death(decref_after_free_empty, NULL, "(type Empty): its memory was already freed");
}

static void decref_after_free_debug(void *arg) {
    (void)arg;
    rcy_config cfg;
    rcy_config_init(&cfg);
    cfg.debug = 1;
    rcy_heap *h = rcy_heap_new(&cfg);
    node *n = rcy_new(h, &node_type);
    node *keep = rcy_new(h, &node_type);
    (void)keep;
    rcy_decref(n);
    rcy_decref(n);
}

static void decref_of_a_dead_object_is_fatal_in_debug_mode(void **state) {
    (void)state;
    rcy_expect_death(decref_after_free_debug, NULL, "(type Node): its memory was already freed");
}

static void self_decref_destroy(void *self) {
    rcy_decref(self);
}
static const rcy_type bad_type = {.name = "SelfDropper", .size = 8, .destroy = self_decref_destroy};

static void decref_below_zero(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_decref(rcy_new(h, &bad_type));
}

static void decref_below_zero_is_fatal(void **state) {
    (void)state;
    rcy_expect_death(decref_below_zero, NULL,
                     "of type SelfDropper would take its refcount below zero");
}

static void decref_foreign(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    (void)h;
    /* A malloc'd block made to look like an object with one reference. */
    rcy_head_ *fake = calloc(1, 64);
    fake->refcnt = 1;
    fake->type = &node_type;
    rcy_decref(fake + 1);
}

static void decref_of_a_foreign_pointer_is_fatal(void **state) {
    (void)state;
    rcy_expect_death(decref_foreign, NULL, "a pointer recycle never handed out");
}

/* A block from rcy_mem_alloc (same arenas, RAW pools) made to look like
 * an object with one reference. */
static void decref_raw_block(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_head_ *fake = rcy_mem_calloc(h, 1, 64);
    fake->refcnt = 1;
    fake->type = &plain_node_type;
    rcy_decref(fake + 1);
}

static void decref_of_a_raw_block_is_fatal(void **state) {
    (void)state;
    rcy_expect_death(decref_raw_block, NULL, "a pointer recycle never handed out");
}

/* A pointer into the middle of a live object whose bytes before it look
 * like a header with one reference. */
typedef struct roomy {
    rcy_head_ inner;
    char pad[48];
} roomy;
static const rcy_type roomy_type = {.name = "Roomy", .size = sizeof(roomy)};

static void decref_interior(void *arg) {
    (void)arg;
    rcy_heap *h = rcy_heap_new(NULL);
    roomy *r = rcy_new(h, &roomy_type);
    r->inner.refcnt = 1;
    r->inner.type = &plain_node_type;
    rcy_decref(&r->inner + 1);
}

static void decref_of_an_interior_pointer_is_fatal(void **state) {
    (void)state;
    rcy_expect_death(decref_interior, NULL, "a pointer recycle never handed out");
}

static void getrefcount_foreign(void *arg) {
    (void)arg;
    static rcy_head_ fake[4];
    rcy_getrefcount(&fake[1]);
}

static void query_of_a_foreign_pointer_is_fatal(void **state) {
    (void)state;
    rcy_expect_death(getrefcount_foreign, NULL, "rcy_getrefcount of 0x");
}

/* One misuse policy (include/recycle/core.h): a non-int is reported as
 * RCY_EMISUSE, and the value is 0; the program goes on. */
static void int_value_of_a_non_int_is_reported_and_zero(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    rcy_list *l = rcy_list_new(h);
    rcy_test_capture_output();
    assert_int_equal(rcy_int_value((rcy_int *)l), 0);
    assert_non_null(
        strstr(rcy_test_output(), "recycle: misuse: rcy_int_value: i has type list, not int"));
    rcy_set_output(NULL, NULL);
    rcy_decref(l);
    rcy_heap_free(h);
}

static void ints_hold_their_value(void **state) {
    rcy_heap *h = *state;
    long vals[] = {0, 1, -1, 42, -5, 256, 257, (long)(~0UL >> 1), -(long)(~0UL >> 1) - 1};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        rcy_int *v = rcy_int_new(h, vals[i]);
        assert_non_null(v);
        assert_int_equal(rcy_int_value(v), vals[i]);
        assert_ptr_equal(rcy_type_of(v), &rcy_int_type);
        assert_null(rcy_int_type.traverse); /* ints are never tracked */
        rcy_decref(v);
    }
    assert_int_equal(blocks_in_use(h), 0);
}

static void only_types_with_traverse_are_tracked(void **state) {
    rcy_heap *h = *state;
    node *n = rcy_new(h, &node_type);
    rcy_list *l = rcy_list_new(h);
    rcy_int *i = rcy_int_new(h, 1);
    void *c = rcy_new(h, &clear_only_type);
    assert_true(RCY_HEAD_(n)->gcword & RCYI_GC_TRACKED);
    assert_true(RCY_HEAD_(l)->gcword & RCYI_GC_TRACKED);
    assert_false(RCY_HEAD_(i)->gcword & RCYI_GC_TRACKED);
    assert_false(RCY_HEAD_(c)->gcword & RCYI_GC_TRACKED);
    assert_int_equal(rcyi_slot(RCY_HEAD_(i)), RCYI_SLOT_NONE);
    rcy_decref(n);
    rcy_decref(l);
    rcy_decref(i);
    rcy_decref(c);
    assert_int_equal(blocks_in_use(h), 0);
}

static void large_objects_are_marked_large(void **state) {
    rcy_heap *h = *state;
    void *small = rcy_new_var(h, &clear_only_type, RCY_SMALL_LIMIT - 16 - 8);
    void *big = rcy_new_var(h, &clear_only_type, RCY_SMALL_LIMIT);
    assert_false(RCY_HEAD_(small)->gcword & RCYI_GC_LARGE);
    assert_true(RCY_HEAD_(big)->gcword & RCYI_GC_LARGE);
    assert_ptr_equal(rcy_heap_of(big), h);
    rcy_decref(small);
    rcy_decref(big);
    assert_int_equal(blocks_in_use(h), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_is_sixteen_bytes),
        cmocka_unit_test_setup_teardown(new_object_is_zeroed_with_refcount_one, setup, teardown),
        cmocka_unit_test_setup_teardown(new_var_zeroes_the_variable_part, setup, teardown),
        cmocka_unit_test_setup_teardown(new_fails_cleanly_on_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(refcount_goes_one_two_one, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_is_called_else_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(finalizer_runs_once_before_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(resurrected_object_survives_and_is_not_finalized_again,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(self_incref_decref_in_finalizer_is_harmless, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(immortal_objects_ignore_refcounting, setup, teardown),
        cmocka_unit_test_setup_teardown(refcount_overflow_saturates_to_immortal, setup, teardown),
        cmocka_unit_test_setup_teardown(clear_sets_null_before_decref, setup, teardown),
        cmocka_unit_test_setup_teardown(setref_stores_then_drops_the_old_value, setup, teardown),
        cmocka_unit_test_setup_teardown(auto_reference_is_dropped_at_scope_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(ten_million_chain_frees_on_an_8_mib_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(long_chain_frees_on_a_small_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(long_untracked_chain_frees_on_a_small_stack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wide_structure_below_the_depth_limit_is_freed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(chain_of_finalized_objects_is_freed, setup, teardown),
        cmocka_unit_test(decref_of_a_dead_object_is_fatal),
        cmocka_unit_test(decref_of_a_dead_object_is_fatal_in_debug_mode),
        cmocka_unit_test(decref_below_zero_is_fatal),
        cmocka_unit_test(decref_of_a_foreign_pointer_is_fatal),
        cmocka_unit_test(decref_of_a_raw_block_is_fatal),
        cmocka_unit_test(decref_of_an_interior_pointer_is_fatal),
        cmocka_unit_test(query_of_a_foreign_pointer_is_fatal),
        cmocka_unit_test(int_value_of_a_non_int_is_reported_and_zero),
        cmocka_unit_test_setup_teardown(ints_hold_their_value, setup, teardown),
        cmocka_unit_test_setup_teardown(only_types_with_traverse_are_tracked, setup, teardown),
        cmocka_unit_test_setup_teardown(large_objects_are_marked_large, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
