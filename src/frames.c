/* src/frames.c — native stacks for tracemalloc: a frame-pointer walk, with
 * libunwind's unw_backtrace as the fallback.
 *
 * The walk never faults: every frame pointer must lie between the walker's
 * own frame and the top of the thread's stack (the end of the mapping that
 * holds the stack, found by reading /proc/self/maps with raw system calls:
 * no malloc, so no hook is re-entered), be 8-byte aligned, leave room for
 * the two words it reads below the top (compared as hi - fp, which cannot
 * wrap: a garbage fp such as 0xfffffffffffffff0 from code without frame
 * pointers once made fp + 16 wrap to 0 and pass), and be above the
 * previous one.  The mapping is kept per thread and used only while the
 * walker's own frame lies inside it (a handler on an alternate signal
 * stack looks it up again).  Code built without frame pointers ends the
 * walk early instead of crashing it.  Nothing here allocates.
 */
#include "tracemalloc.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#ifdef RCY_HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* The mapping holding this thread's stack: [tls_stack_lo, tls_stack_hi);
 * hi 0 = not yet known, 1 = unknown. */
static TLS uintptr_t tls_stack_lo, tls_stack_hi;
static int force_libunwind;

bool rcyi_walk_use_libunwind(bool on) {
#ifdef RCY_HAVE_LIBUNWIND
    __atomic_store_n(&force_libunwind, on ? 1 : 0, __ATOMIC_RELAXED);
    return true;
#else
    (void)on;
    return false;
#endif
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parse "start-end ..." at the beginning of a maps line. */
static bool parse_range(const char *l, const char *end, uintptr_t *lo, uintptr_t *hi) {
    uintptr_t a = 0, b = 0;
    int d;
    const char *p = l;
    if (p >= end || hexval(*p) < 0)
        return false;
    while (p < end && (d = hexval(*p)) >= 0)
        a = a * 16 + (uintptr_t)d, p++;
    if (p >= end || *p != '-')
        return false;
    p++;
    while (p < end && (d = hexval(*p)) >= 0)
        b = b * 16 + (uintptr_t)d, p++;
    *lo = a;
    *hi = b;
    return true;
}

/* The end of the mapping that contains sp (its start in *map_lo), or 1 when
 * it cannot be found. */
static uintptr_t find_stack_hi(uintptr_t sp, uintptr_t *map_lo) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    char buf[4096];
    size_t have = 0;
    uintptr_t found = 1;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            uintptr_t lo, hi;
            if (parse_range(buf + start, buf + i, &lo, &hi) && lo <= sp && sp < hi) {
                found = hi;
                *map_lo = lo;
                goto done;
            }
            start = i + 1;
        }
        if (start == 0 && have == sizeof buf)
            have = 0; /* an absurdly long line: drop it */
        else {
            memmove(buf, buf + start, have - start);
            have -= start;
        }
    }
done:
    close(fd);
    return found;
}

static int walk_fp(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int skip,
                   int *total) __attribute__((no_sanitize("address")));

static int walk_fp(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int skip,
                   int *total) {
    int n = 0, seen = 0;
    while (fp >= lo && fp < hi && hi - fp >= 2 * sizeof(uintptr_t) &&
           (fp & (sizeof(uintptr_t) - 1)) == 0) {
        const uintptr_t *f = (const uintptr_t *)fp;
        uintptr_t next = f[0], ret = f[1];
        if (ret < 4096)
            break;
        if (seen >= skip && n < max)
            out[n++] = ret;
        seen++;
        if (seen - skip >= 65535)
            break;
        if (next <= fp)
            break;
        fp = next;
    }
    *total = seen > skip ? seen - skip : 0;
    return n;
}

#ifdef RCY_HAVE_LIBUNWIND
/* unw_backtrace, aligned with the frame-pointer walk: the first frame is
 * the return address stored in frame `fp` (always one of ours, built with
 * frame pointers), found among the unwinder's first entries. */
__attribute__((noinline)) static int walk_unw(uintptr_t fp, uintptr_t *out, int max, int skip,
                                              int *total) {
    void *buf[256];
    uintptr_t ret0 = ((const uintptr_t *)fp)[1];
    int want = 8 + skip + max;
    if (want > 256)
        want = 256;
    int got = unw_backtrace(buf, want);
    int first = -1;
    for (int i = 0; i < got && i < 8; i++) {
        if ((uintptr_t)buf[i] == ret0) {
            first = i;
            break;
        }
    }
    *total = 0;
    if (first < 0)
        return 0;
    first += skip;
    int n = 0;
    for (int i = first; i < got && n < max; i++)
        out[n++] = (uintptr_t)buf[i];
    *total = got > first ? got - first : 0;
    return n;
}
#endif

__attribute__((noinline)) int rcyi_walk_stack(uintptr_t fp, uintptr_t *out, int max, int skip,
                                              int *total) {
    *total = 0;
    if (max <= 0)
        return 0;
#ifdef RCY_HAVE_LIBUNWIND
    if (__atomic_load_n(&force_libunwind, __ATOMIC_RELAXED))
        return walk_unw(fp, out, max, skip, total);
#endif
    uintptr_t lo = (uintptr_t)__builtin_frame_address(0);
    uintptr_t hi = tls_stack_hi;
    if (hi == 0 || (hi > 1 && (lo < tls_stack_lo || lo >= hi))) {
        /* First use, the main thread's stack grew below the mapping seen,
         * or another stack (sigaltstack): look again; keep the answer
         * only for the thread's own stack. */
        uintptr_t map_lo = 0;
        hi = find_stack_hi(lo, &map_lo);
        if (tls_stack_hi == 0 || hi == tls_stack_hi) {
            tls_stack_lo = map_lo;
            tls_stack_hi = hi;
        }
    }
    int n = hi > 1 ? walk_fp(fp, lo, hi, out, max, skip, total) : 0;
#ifdef RCY_HAVE_LIBUNWIND
    /* The frame pointers gave at most the first return address although
     * more was asked: the code that called us keeps no frame pointers, or
     * the stack could not be bounded.  Ask the unwinder. */
    if (n <= 1 && max > 1)
        n = walk_unw(fp, out, max, skip, total);
#endif
    return n;
}
