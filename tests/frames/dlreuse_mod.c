/* tests/frames/dlreuse_mod.c — built twice with different PAD (frame
 * sizes that encode in the same number of bytes, so malloc returns to the
 * same offset in both modules) and no frame pointer, for dlreuse.c. */
#include <stdlib.h>
#include <string.h>

void *mod_alloc(size_t n);

__attribute__((noinline)) void *mod_alloc(size_t n) {
    char pad[PAD];
    memset(pad, 0, sizeof pad);
    void *p = malloc(n);
    __asm__ volatile("" ::"r"(pad) : "memory");
    return p;
}
