/* tests/cli/nofp_chain.c — main (with a frame pointer) calls outer, which
 * calls inner, which mallocs; outer and inner (nofp_chain_calls.c) keep no
 * frame pointer, as Debian's binaries.  A frame-pointer walk from malloc finds inner's return
 * address and then main's frame, silently losing outer and main's call
 * line; a DWARF unwinder gives inner, outer, main.  Then a malloc in a
 * function inlined into main: its frames are the inlined function at the
 * malloc line and main at the line of the inlined call. */
#include <stdio.h>
#include <stdlib.h>

void *nofp_outer(size_t n); /* nofp_chain_calls.c: outer -> inner -> malloc */

static inline __attribute__((always_inline)) void *inlined_alloc(size_t n) {
    void *p = malloc(n);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

int main(void) {
    void *big = inlined_alloc(20u << 20); /* the call of the inlined function */
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = nofp_outer(100000);
    printf("%s\n", keep[0] && big ? "ok" : "out of memory");
    return 0;
}
