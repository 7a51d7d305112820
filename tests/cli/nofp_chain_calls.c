/* tests/cli/nofp_chain_calls.c — the two functions of nofp_chain.c that
 * keep no frame pointer (this file is built with -fomit-frame-pointer). */
#include <stdlib.h>

void *nofp_outer(size_t n);

__attribute__((noinline)) static void *inner(size_t n) {
    void *p = malloc(n);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

__attribute__((noinline)) void *nofp_outer(size_t n) {
    void *p = inner(n + 1);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}
