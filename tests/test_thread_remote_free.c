/* tests/test_thread_remote_free.c — blocks freed by a thread the heap is
 * not attached to (rcy_mem_free_remote, alloc.h R1): a producer allocates
 * batches from its attached heap and hands them through a queue to a
 * consumer that frees them; the producer's heap stays bounded and reuses
 * the freed blocks, each remote free costs one CAS when uncontended, and
 * the heap's own thread frees through the same call as rcy_mem_free. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

enum { BATCH = 1000, ROUNDS = 300, SLOTS = 2, BLOCK = 64 };

/* A bounded queue of batches (SLOTS of them in flight at most). */
typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void **slot[SLOTS];
    unsigned head, count;
    rcy_heap *h;
    bool lockstep; /* the producer waits until each batch is freed */
    unsigned freed;
} queue;

static void put(queue *q, void **batch) {
    pthread_mutex_lock(&q->mu);
    while (q->count == SLOTS)
        pthread_cond_wait(&q->cv, &q->mu);
    q->slot[(q->head + q->count++) % SLOTS] = batch;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void **take(queue *q) {
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->cv, &q->mu);
    void **b = q->slot[q->head];
    q->head = (q->head + 1) % SLOTS;
    q->count--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return b;
}

static void *consumer(void *arg) {
    queue *q = arg;
    for (unsigned r = 0; r < ROUNDS; r++) {
        void **batch = take(q);
        for (unsigned i = 0; i < BATCH; i++)
            rcy_mem_free_remote(q->h, batch[i]);
        free(batch);
        pthread_mutex_lock(&q->mu);
        q->freed++;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

static rcy_mem_stats stats(rcy_heap *h) {
    rcy_mem_stats s = {.size = sizeof s};
    assert_int_equal(rcy_mem_get_stats(h, &s), RCY_OK);
    return s;
}

/* Runs ROUNDS batches through the consumer. */
static void produce(rcy_heap *h, bool lockstep) {
    queue q = {.h = h, .lockstep = lockstep};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.cv, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consumer, &q), 0);
    for (unsigned r = 0; r < ROUNDS; r++) {
        void **batch = malloc(BATCH * sizeof *batch);
        assert_non_null(batch);
        for (unsigned i = 0; i < BATCH; i++) {
            batch[i] = rcy_mem_alloc(h, BLOCK);
            memset(batch[i], (int)r, BLOCK);
        }
        put(&q, batch);
        if (lockstep) {
            pthread_mutex_lock(&q.mu);
            while (q.freed != r + 1)
                pthread_cond_wait(&q.cv, &q.mu);
            pthread_mutex_unlock(&q.mu);
        }
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_cond_destroy(&q.cv);
    pthread_mutex_destroy(&q.mu);
}

/* Pools of BLOCK-byte blocks enough for n batches. */
static size_t pools_for(size_t n) {
    return n * BATCH / (RCY_POOL_SIZE / BLOCK) + 1;
}

static void blocks_freed_by_a_consumer_thread_are_reused_by_the_producer(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    produce(h, false);
    rcy_mem_stats s = stats(h); /* takes back the last batches */
    /* 300 batches of 64 KiB (19 MiB) went through, at most SLOTS + 2 in
     * use at once (queued, being freed, being filled) and one more on the
     * remote list: the pools they fill are reused, one arena holds them. */
    const rcy_mem_class_stats *c = &s.classes[BLOCK / 16 - 1];
    assert_int_equal(s.remote_taken, (size_t)ROUNDS * BATCH);
    assert_int_equal(c->blocks_used, 0);
    assert_true(c->pools <= pools_for(SLOTS + 3));
    assert_int_equal(s.arenas_highwater, 1);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

static void an_uncontended_remote_free_is_one_cas(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    /* Lockstep: the producer allocates (and takes back) only once the
     * consumer has freed the whole batch, so no push ever races. */
    produce(h, true);
    rcy_mem_stats s = stats(h);
    assert_int_equal(s.remote_taken, (size_t)ROUNDS * BATCH);
    assert_int_equal(s.remote_retries, 0);
    assert_int_equal(s.arenas_highwater, 1);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

static void on_the_heaps_own_thread_it_is_an_ordinary_free(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL); /* unbound, then attached */
    for (int attached = 0; attached < 2; attached++) {
        if (attached)
            assert_int_equal(rcy_heap_attach(h), RCY_OK);
        void *p = rcy_mem_alloc(h, BLOCK);
        rcy_mem_free_remote(h, p);
        rcy_mem_free_remote(h, NULL);
        assert_ptr_equal(rcy_mem_alloc(h, BLOCK), p); /* straight back on the free list */
        rcy_mem_free(h, p);
        assert_int_equal(stats(h).remote_taken, 0);
    }
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

typedef struct one {
    rcy_heap *h;
    void *small, *large;
} one;

static void *free_both(void *arg) {
    one *o = arg;
    rcy_mem_free_remote(o->h, o->small);
    rcy_mem_free_remote(o->h, o->large);
    return NULL;
}

/* A large block and a debug heap's guarded block go the same way, the
 * allocator's invariants hold while they wait on the list, and the
 * heap's teardown takes back what its thread never allocated again. */
static void large_and_debug_blocks_are_freed_remotely_too(void **state) {
    (void)state;
    for (int debug = 0; debug < 2; debug++) {
        rcy_config cfg;
        rcy_config_init(&cfg);
        cfg.debug = debug;
        rcy_heap *h = rcy_heap_new(&cfg);
        assert_int_equal(rcy_heap_attach(h), RCY_OK);
        one o = {.h = h, .small = rcy_mem_alloc(h, 0), .large = rcy_mem_alloc(h, 4000)};
        memset(o.large, 1, 4000);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, free_both, &o), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        rcyi_alloc_validate(h); /* R1 holds; a debug block's guard is lent, not broken */
        rcy_mem_stats s = stats(h);
        assert_int_equal(s.remote_taken, 2);
        assert_int_equal(s.large_blocks, 0);
        void *again = rcy_mem_alloc(h, 100); /* left on the list for the teardown */
        assert_int_equal(pthread_create(&t, NULL, free_both, &(one){.h = h, .small = again}), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        rcy_heap_free(h); /* debug heaps report blocks still in use: none */
    }
}

/* The JSON statistics carry the remote counts, and, printed on the heap's
 * thread, take the waiting blocks back first (as rcy_mem_get_stats). */
static void the_json_statistics_count_remote_frees(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    one o = {.h = h, .small = rcy_mem_alloc(h, BLOCK), .large = rcy_mem_alloc(h, 4000)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_both, &o), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(rcy_mem_print_stats_json(h, f), RCY_OK);
    char text[8192];
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "\"large_blocks\": 0, "));
    assert_non_null(strstr(text, "\"remote_taken\": 2, \"remote_retries\": 0, "));
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocks_freed_by_a_consumer_thread_are_reused_by_the_producer),
        cmocka_unit_test(an_uncontended_remote_free_is_one_cas),
        cmocka_unit_test(on_the_heaps_own_thread_it_is_an_ordinary_free),
        cmocka_unit_test(large_and_debug_blocks_are_freed_remotely_too),
        cmocka_unit_test(the_json_statistics_count_remote_frees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
