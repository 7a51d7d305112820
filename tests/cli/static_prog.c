/* tests/cli/static_prog.c — linked with -static: `recycle run` must refuse
 * it with a clear message, since LD_PRELOAD cannot reach it. */
#include <stdio.h>

int main(void) {
    puts("static program ran");
    return 0;
}
