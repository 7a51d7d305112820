/* tests/frames/dlreuse.c — dlopen a module, allocate through it, dlclose
 * it, dlopen another module that the loader puts at the same address and
 * whose function returns from malloc at the same offset with a larger
 * frame, and allocate through that one.  A stale cached unwind rule from
 * the first module would read the second one's return address inside its
 * zeroed buffer and end the stack there, without main.
 *   dlreuse MODULE_A MODULE_B   (prints "reused" or "moved") */
#define _GNU_SOURCE 1 /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void *(*alloc_fn)(size_t);

static void *base_of(const char *path, void **handle, alloc_fn *f) {
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle)
        return NULL;
    *(void **)f = dlsym(*handle, "mod_alloc");
    Dl_info info;
    if (!*f || !dladdr(*(void **)f, &info))
        return NULL;
    return info.dli_fbase;
}

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    void *h;
    alloc_fn f;
    void *a = base_of(argv[1], &h, &f);
    if (!a)
        return 1;
    for (int i = 0; i < 4; i++)
        (void)f(1111); /* the first module's rules enter the cache */
    dlclose(h);
    void *b = base_of(argv[2], &h, &f);
    if (!b)
        return 1;
    void *p = f(2222); /* the block the test looks at */
    printf("%s %p\n", a == b ? "reused" : "moved", p);
    return 0;
}
