/* tests/cli/nofp_chain.c — main (with a frame pointer) calls outer, which
 * calls inner, which mallocs; outer and inner keep no frame pointer, as
 * Debian's binaries.  A frame-pointer walk from malloc finds inner's return
 * address and then main's frame, silently losing outer and main's call
 * line; a DWARF unwinder gives inner, outer, main. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline, optimize("omit-frame-pointer"))) static void *inner(size_t n) {
    void *p = malloc(n);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

__attribute__((noinline, optimize("omit-frame-pointer"))) static void *outer(size_t n) {
    void *p = inner(n + 1);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

int main(void) {
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = outer(100000);
    printf("%p\n", keep[0] ? (void *)"ok" : NULL);
    return 0;
}
