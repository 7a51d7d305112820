/* tests/frames/test_cfi_walk.c — the cached-CFA-rule walk (src/frames.c)
 * gives the frames libunwind gives, on code without frame pointers, with
 * an rbp-based CFA (alloca), from a cold and a warm cache, and from
 * several threads at once. */
#include "testutil.h"
#include "frames.h"

#include <pthread.h>
#include <string.h>

typedef int (*nofp_cb)(int);
int nofp_leaf(nofp_cb cb, int x);
int nofp_mid(nofp_cb cb, int x);
int nofp_alloca(nofp_cb cb, int n);

enum { MAXF = 32 };
static __thread int mismatches, walked;

/* Walk from here both ways and compare (this file keeps frame pointers). */
__attribute__((noinline)) static int compare_walks(int x) {
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t a[MAXF], b[MAXF];
    int ta = 0, tb = 0;
    rcyi_walk_use_cfi(true);
    int na = rcyi_walk_stack(fp, a, MAXF, 0, &ta);
    rcyi_walk_use_cfi(false);
    int nb = rcyi_walk_stack(fp, b, MAXF, 0, &tb);
    rcyi_walk_use_cfi(true);
    walked++;
    if (na != nb || memcmp(a, b, (size_t)na * sizeof a[0]) != 0 || na < 4)
        mismatches++;
    return x & 1;
}

static void skip_without_cfi(void) {
    if (!rcyi_walk_use_libunwind(true) || !rcyi_walk_use_cfi(true)) {
        skip();
    }
}

static void cfi_walk_gives_libunwinds_frames_without_frame_pointers(void **state) {
    (void)state;
    skip_without_cfi();
    unsigned long fallbacks = rcyi_walk_fallbacks();
    for (int round = 0; round < 3; round++) { /* cold, then warm cache */
        nofp_mid(compare_walks, round);
        nofp_alloca(compare_walks, 64 + 48 * round);
    }
    rcyi_walk_forget();
    nofp_alloca(compare_walks, 512);
    rcyi_walk_use_libunwind(false);
    assert_int_equal(walked, 7);
    assert_int_equal(mismatches, 0);
    /* the rules followed every frame: libunwind was not asked */
    assert_int_equal(rcyi_walk_fallbacks(), fallbacks);
}

static void *thread_walks(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        if (i % 500 == 0)
            rcyi_walk_forget();
        if (i & 1)
            nofp_mid(compare_walks, i);
        else
            nofp_alloca(compare_walks, 32 + (i % 7) * 16);
    }
    return (void *)(intptr_t)mismatches;
}

static void cfi_walk_is_right_from_several_threads(void **state) {
    (void)state;
    skip_without_cfi();
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_walks, NULL), 0);
    for (int i = 0; i < 3; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    rcyi_walk_use_libunwind(false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cfi_walk_gives_libunwinds_frames_without_frame_pointers),
        cmocka_unit_test(cfi_walk_is_right_from_several_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
