/* tools/progress.c — a one-line progress bar on stderr, drawn only when
 * stderr is a terminal and the work lasts long enough to notice (it first
 * appears after 300 ms and is redrawn at most ten times a second). */
#define _GNU_SOURCE
#include "cli.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_progress_begin(cli_progress *p, const char *label, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->active = isatty(STDERR_FILENO) != 0;
    p->last_ns = mono_ns(); /* the first draw waits 300 ms */
}

static void draw(cli_progress *p) {
    enum { WIDTH = 30 };
    unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 0;
    if (pct > 100)
        pct = 100;
    char bar[WIDTH + 1];
    unsigned fill = pct * WIDTH / 100;
    for (unsigned i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = 0;
    fprintf(stderr, "\r%s: %-10s [%s] %3u%%", cli_prog, p->label, bar, pct);
    fflush(stderr);
    p->shown = true;
}

void cli_progress_update(cli_progress *p, uint64_t done) {
    p->done = done;
    if (!p->active)
        return;
    uint64_t now = mono_ns();
    uint64_t wait = p->shown ? 100000000u : 300000000u;
    if (now - p->last_ns < wait)
        return;
    p->last_ns = now;
    draw(p);
}

void cli_progress_end(cli_progress *p) {
    if (p->active && p->shown) {
        /* Erase the line: the report that follows starts clean. */
        fprintf(stderr, "\r%*s\r", 60 + (int)strlen(cli_prog), "");
        fflush(stderr);
    }
    p->shown = false;
}
