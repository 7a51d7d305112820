/* tests/frames/nofp_calls.c — a call chain built without frame pointers
 * (-fomit-frame-pointer -O2) for test_cfi_walk: frames whose CFA is rsp
 * plus an offset that changes inside the function, and one with alloca,
 * whose CFA is rbp-based.  Each calls back into the test, which walks. */
#include <stddef.h>

typedef int (*nofp_cb)(int);
int nofp_leaf(nofp_cb cb, int x);
int nofp_mid(nofp_cb cb, int x);
int nofp_alloca(nofp_cb cb, int n);

__attribute__((noinline)) int nofp_leaf(nofp_cb cb, int x) {
    volatile char pad[200];
    pad[x & 127] = (char)x;
    return cb(x) + pad[0];
}

__attribute__((noinline)) int nofp_mid(nofp_cb cb, int x) {
    return nofp_leaf(cb, x + 1) + 1;
}

__attribute__((noinline)) int nofp_alloca(nofp_cb cb, int n) {
    char *p = __builtin_alloca((size_t)n);
    p[0] = 1;
    __asm__ volatile("" ::"r"(p) : "memory");
    return nofp_mid(cb, n) + p[0];
}
