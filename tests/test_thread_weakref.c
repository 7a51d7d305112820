/* tests/test_thread_weakref.c — weak references to shared objects
 * (weakref.h W5..W7): they are shared with their referent and listed on
 * a stripe; rcy_weakref_get on any thread never returns a referent that is
 * dying elsewhere (try-incref under the stripe lock); the referent's death
 * clears them before its memory goes, and their callbacks (and finalize
 * objects) run on the thread that dropped the last reference.  Weak
 * references to an immortal object, which shared objects may hold, are
 * listed on its stripe too (W8), and cleared when its heap goes. */
#include "testutil.h"

#include "object.h"

#include <pthread.h>

#define ALIVE 0x411FEu
#define DEAD  0xDEADu

typedef struct thing {
    unsigned magic;
} thing;

static int destroyed; /* atomic */

static void thing_destroy(void *self) {
    thing *t = self;
    t->magic = DEAD;
    __atomic_fetch_add(&destroyed, 1, __ATOMIC_RELAXED);
}

static const rcy_type thing_type = {
    .name = "thing", .size = sizeof(thing), .destroy = thing_destroy};

static thing *new_thing(rcy_heap *h) {
    thing *t = rcy_new(h, &thing_type);
    assert_non_null(t);
    t->magic = ALIVE;
    return t;
}

static pthread_t callback_thread;
static int callbacks; /* atomic */

static void note_callback(rcy_weakref *wr, void *arg) {
    (void)wr, (void)arg;
    callback_thread = pthread_self();
    __atomic_fetch_add(&callbacks, 1, __ATOMIC_RELAXED);
}

static void note_finalize(void *arg) {
    (void)arg;
    callback_thread = pthread_self();
    __atomic_fetch_add(&callbacks, 1, __ATOMIC_RELAXED);
}

static void *drop(void *obj) {
    rcy_decref(obj);
    return NULL;
}

static void *get_and_drop(void *wr) {
    void *o = rcy_weakref_get(wr);
    assert_non_null(o);
    assert_int_equal(((thing *)o)->magic, ALIVE);
    rcy_decref(o);
    return NULL;
}

static void run(void *(*fn)(void *), void *arg) {
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void weak_references_to_a_shared_object_are_shared_with_it(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    /* Created before the referent is shared: moved with it. */
    thing *t = new_thing(h);
    rcy_weakref *before = rcy_weakref_new(t, NULL, NULL);
    assert_false(rcy_is_shared(before));
    assert_int_equal(rcy_share(t), RCY_OK);
    assert_true(rcy_is_shared(before));
    /* Created after: shared at once. */
    rcy_weakref *after = rcy_weakref_new(t, note_callback, NULL);
    assert_true(rcy_is_shared(after));
    assert_int_equal(rcy_weakref_getweakrefcount(t), 2);
    run(get_and_drop, before);
    run(get_and_drop, after);
    /* Sharing a weak reference shares its referent. */
    thing *u = new_thing(h);
    rcy_weakref *wu = rcy_weakref_new(u, NULL, NULL);
    assert_int_equal(rcy_share(wu), RCY_OK);
    assert_true(rcy_is_shared(u));
    assert_int_equal(rcy_weakref_getweakrefcount(u), 1);
    /* The last reference dropped elsewhere: cleared, callback there. */
    callbacks = 0;
    callback_thread = pthread_self();
    run(drop, t);
    assert_int_equal(callbacks, 1);
    assert_false(pthread_equal(callback_thread, pthread_self()));
    assert_null(rcy_weakref_get(before));
    assert_null(rcy_weakref_get(after));
    rcy_decref(before);
    rcy_decref(after);
    /* A weak reference dropped first leaves its referent's list. */
    rcy_decref(wu);
    assert_int_equal(rcy_weakref_getweakrefcount(u), 0);
    rcy_decref(u);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

static void a_finalize_object_of_a_shared_referent_fires_where_it_dies(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    thing *t = new_thing(h);
    assert_int_equal(rcy_share(t), RCY_OK);
    rcy_finalize *f = rcy_finalize_new(t, note_finalize, NULL);
    assert_non_null(f);
    assert_true(rcy_is_shared(f));
    callbacks = 0;
    callback_thread = pthread_self();
    run(drop, t);
    assert_int_equal(callbacks, 1);
    assert_false(pthread_equal(callback_thread, pthread_self()));
    assert_false(rcy_finalize_alive(f));
    assert_false(rcy_finalize_call(f)); /* once only */
    rcy_decref(f);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

/* Two getters race the owner's drop of the last strong reference, round
 * after round: a get returns NULL or a live object, never a dying one;
 * every object is destroyed exactly once, by whoever dropped it last. */
enum { ROUNDS = 2000, GETTERS = 2 };

static rcy_weakref *current; /* atomic: the round's weak reference, shared */
static unsigned round_no;    /* atomic */
static unsigned acks;        /* atomic: getters that took their round's reference */
static unsigned hits[GETTERS];

static void *getter(void *arg) {
    unsigned me = (unsigned)(uintptr_t)arg, seen = 0;
    while (seen < ROUNDS) {
        unsigned r = __atomic_load_n(&round_no, __ATOMIC_ACQUIRE);
        if (r == seen) {
            sched_yield();
            continue;
        }
        rcy_weakref *wr = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
        __atomic_fetch_add(&acks, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < 8; i++) {
            thing *o = rcy_weakref_get(wr);
            if (!o)
                break;
            assert_int_equal(o->magic, ALIVE);
            hits[me]++;
            rcy_decref(o); /* may be the last reference: dies here */
        }
        rcy_decref(wr);
        seen = r;
    }
    return NULL;
}

static void get_racing_the_death_never_returns_a_dying_object(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    destroyed = 0;
    pthread_t t[GETTERS];
    for (uintptr_t i = 0; i < GETTERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, getter, (void *)i), 0);
    for (unsigned r = 1; r <= ROUNDS; r++) {
        thing *o = new_thing(h);
        assert_int_equal(rcy_share(o), RCY_OK);
        rcy_weakref *wr = rcy_weakref_new(o, NULL, NULL);
        for (int i = 0; i < GETTERS; i++)
            rcy_incref(wr); /* one for each getter, which drops it */
        rcy_weakref *old = __atomic_exchange_n(&current, wr, __ATOMIC_ACQ_REL);
        __atomic_store_n(&round_no, r, __ATOMIC_RELEASE);
        rcy_decref(o); /* races the getters' gets */
        if (old)
            rcy_decref(old);
        /* The next round replaces `current` once both getters took it. */
        while (__atomic_load_n(&acks, __ATOMIC_ACQUIRE) < GETTERS * r)
            sched_yield();
    }
    for (int i = 0; i < GETTERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(destroyed, ROUNDS);
    rcy_decref(current);
    current = NULL;
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

/* An immortal object (made immortal while private) may be stored into
 * shared objects, so every thread may reach it: its list of weak
 * references is a stripe's like a shared referent's (weakref.h W8).  The
 * owner links and unlinks weak references to it while another thread
 * gets and drops the shared ones, round after round; the list stays
 * exact (TSan: no race on the weak references' links). */
enum { IMMORTAL_ROUNDS = 500 };

static rcy_weakref *handed; /* atomic: a shared weak reference for the other thread */
static void *immortal_referent;

static void *get_and_drop_handed(void *arg) {
    (void)arg;
    for (unsigned r = 0; r < IMMORTAL_ROUNDS; r++) {
        rcy_weakref *wr;
        while (!(wr = __atomic_exchange_n(&handed, NULL, __ATOMIC_ACQ_REL)))
            sched_yield();
        thing *o = rcy_weakref_get(wr);
        assert_ptr_equal(o, immortal_referent);
        assert_int_equal(o->magic, ALIVE);
        rcy_decref(o);
        rcy_decref(wr); /* its last reference: it leaves the list here */
    }
    return NULL;
}

static void weak_references_to_an_immortal_object_stay_listed_exactly_across_threads(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    thing *t = new_thing(h);
    rcy_weakref *early = rcy_weakref_new(t, NULL, NULL); /* listed while t is private */
    rcy_immortalize(t);
    rcy_immortalize(t); /* again: still not in the shared graph */
    assert_false(rcy_is_shared(t));
    immortal_referent = t;
    pthread_t other;
    assert_int_equal(pthread_create(&other, NULL, get_and_drop_handed, NULL), 0);
    for (unsigned r = 0; r < IMMORTAL_ROUNDS; r++) {
        rcy_weakref *wr = rcy_weakref_new(t, NULL, NULL);
        assert_int_equal(rcy_share(wr), RCY_OK);
        rcy_weakref *mine = rcy_weakref_new(t, NULL, NULL);
        while (__atomic_load_n(&handed, __ATOMIC_ACQUIRE))
            sched_yield();
        __atomic_store_n(&handed, wr, __ATOMIC_RELEASE);
        rcy_decref(mine); /* races the other thread's drop of wr */
    }
    assert_int_equal(pthread_join(other, NULL), 0);
    assert_int_equal(rcy_weakref_getweakrefcount(t), 1);
    assert_ptr_equal(rcy_weakref_get(early), t);
    rcy_decref(early);
    assert_int_equal(rcy_weakref_getweakrefcount(t), 0);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

/* A private count that saturates makes the object immortal (object.h):
 * its weak references move to its stripe then, so a weak reference
 * shared afterwards and dropped on another thread leaves the list. */
static void weak_references_follow_an_object_whose_count_saturates(void **state) {
    (void)state;
    rcy_heap *h = rcy_heap_new(NULL);
    assert_int_equal(rcy_heap_attach(h), RCY_OK);
    thing *t = new_thing(h);
    rcy_weakref *a = rcy_weakref_new(t, NULL, NULL), *b = rcy_weakref_new(t, NULL, NULL);
    rcyi_head(t)->refcnt = RCYI_RC_HIGH - 1; /* white box: the largest private count */
    rcy_incref(t);
    assert_true(rcy_is_immortal(t));
    assert_false(rcy_is_shared(t));
    assert_int_equal(rcy_share(b), RCY_OK);
    run(drop, b); /* b's last reference, dropped elsewhere */
    assert_int_equal(rcy_weakref_getweakrefcount(t), 1);
    rcy_weakref *c = rcy_weakref_new(t, NULL, NULL); /* b's block may be c's */
    assert_int_equal(rcy_weakref_getweakrefcount(t), 2);
    assert_ptr_equal(rcy_weakref_get(a), t);
    rcy_decref(a);
    assert_int_equal(rcy_weakref_getweakrefcount(t), 1);
    rcy_decref(c);
    assert_int_equal(rcy_weakref_getweakrefcount(t), 0);
    assert_int_equal(rcy_heap_detach(h), RCY_OK);
    rcy_heap_free(h);
}

/* An immortal object goes with its heap: a shared weak reference to it
 * that another thread still holds then returns NULL, and a new object at
 * the same address starts with no weak references. */
static rcy_weakref *held;

static void *get_held(void *arg) {
    (void)arg;
    assert_null(rcy_weakref_get(held));
    rcy_decref(held);
    return NULL;
}

static void the_heap_free_clears_weak_references_to_its_immortal_objects(void **state) {
    (void)state;
    for (int shared = 0; shared < 2; shared++) {
        rcy_heap *h = rcy_heap_new(NULL);
        assert_int_equal(rcy_heap_attach(h), RCY_OK);
        thing *t = new_thing(h);
        if (shared)
            assert_int_equal(rcy_share(t), RCY_OK);
        rcy_immortalize(t);
        held = rcy_weakref_new(t, NULL, NULL);
        assert_int_equal(rcy_share(held), RCY_OK);
        assert_int_equal(rcy_heap_detach(h), RCY_OK);
        rcy_heap_free(h); /* held outlives it (alloc.h R3) */
        run(get_held, NULL);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weak_references_to_a_shared_object_are_shared_with_it),
        cmocka_unit_test(a_finalize_object_of_a_shared_referent_fires_where_it_dies),
        cmocka_unit_test(get_racing_the_death_never_returns_a_dying_object),
        cmocka_unit_test(weak_references_to_an_immortal_object_stay_listed_exactly_across_threads),
        cmocka_unit_test(weak_references_follow_an_object_whose_count_saturates),
        cmocka_unit_test(the_heap_free_clears_weak_references_to_its_immortal_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
