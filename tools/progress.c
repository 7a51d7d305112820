/* tools/progress.c — a one-line progress bar on stderr, drawn only when
 * stderr is a terminal and the work lasts long enough to notice: it first
 * appears after 300 ms (RCY_PROGRESS_DELAY_MS overrides, for tests) and is
 * redrawn at most ten times a second.  A step done in one call (reading a
 * file) shows "label ..." until it is over. */
#define _GNU_SOURCE
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t first_delay_ns(void) {
    long ms = 300;
    const char *env = getenv("RCY_PROGRESS_DELAY_MS");
    if (env && *env)
        cli_parse_long(env, 0, 60000, &ms);
    return (uint64_t)ms * 1000000u;
}

void cli_progress_begin(cli_progress *p, const char *label, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->active = isatty(STDERR_FILENO) != 0;
    p->last_ns = mono_ns();
}

static void draw(cli_progress *p) {
    enum { WIDTH = 30 };
    if (p->done == 0 || p->total == 0) {
        fprintf(stderr, "\r%s: %s ...", cli_prog, p->label);
    } else {
        unsigned pct = (unsigned)(p->done * 100 / p->total);
        if (pct > 100)
            pct = 100;
        char bar[WIDTH + 1];
        unsigned fill = pct * WIDTH / 100;
        for (unsigned i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = 0;
        fprintf(stderr, "\r%s: %-12s [%s] %3u%%", cli_prog, p->label, bar, pct);
    }
    fflush(stderr);
    p->shown = true;
}

void cli_progress_update(cli_progress *p, uint64_t done) {
    p->done = done;
    if (!p->active)
        return;
    uint64_t now = mono_ns();
    uint64_t wait = p->shown ? 100000000u : first_delay_ns();
    if (now - p->last_ns < wait)
        return;
    p->last_ns = now;
    draw(p);
}

void cli_progress_note(cli_progress *p, uint64_t big) {
    /* A single long step: say so at once when the input is big. */
    if (p->active && (p->total >= big || first_delay_ns() == 0))
        draw(p);
}

void cli_progress_end(cli_progress *p) {
    if (p->active && p->shown) {
        /* Erase the line: the report that follows starts clean. */
        fprintf(stderr, "\r%*s\r", 64 + (int)strlen(cli_prog), "");
        fflush(stderr);
    }
    p->shown = false;
}
