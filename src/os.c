/* src/os.c — the only file that talks to the operating system about memory
 * and time (POSIX: mmap, munmap, madvise, mincore, sysconf, clock_gettime)
 * and reads /proc (the mapping of an address, the resident set).
 * Everything here is thread-safe and keeps no state but the cached page
 * size. */
#define _GNU_SOURCE /* process_vm_readv */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

size_t rcyi_os_page_size(void) {
    static size_t cached;
    size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!ps) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
    }
    return ps;
}

void *rcyi_os_map(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *rcyi_os_map_aligned(size_t size, size_t align) {
    /* Usually the kernel hands out consecutive addresses, so a plain
     * mapping is often aligned already; otherwise over-map and trim. */
    char *p = rcyi_os_map(size);
    if (!p)
        return NULL;
    if (((uintptr_t)p & (align - 1)) == 0)
        return p;
    rcyi_os_unmap(p, size);
    if (size + align < size)
        return NULL;
    p = rcyi_os_map(size + align);
    if (!p)
        return NULL;
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t head = start - (uintptr_t)p;
    size_t tail = align - head;
    if (head)
        munmap(p, head);
    if (tail)
        munmap((char *)start + size, tail);
    return (void *)start;
}

/* Arenas of big heaps come in pairs from one mapping aligned to twice
 * their size and marked for transparent huge pages; the second of a pair
 * waits here for the next such request (from any thread).  So at most one
 * arena-sized range is mapped and not in use; it is resident only if a
 * huge page covered it together with its first half. */
static void *spare_half;

void *rcyi_os_map_arena(size_t size, bool huge) {
    if (!huge)
        return rcyi_os_map_aligned(size, size);
    void *p = __atomic_exchange_n(&spare_half, NULL, __ATOMIC_ACQ_REL);
    if (p)
        return p;
    char *pair = rcyi_os_map_aligned(2 * size, 2 * size);
    if (!pair)
        return rcyi_os_map_aligned(size, size);
#ifdef MADV_HUGEPAGE
    (void)madvise(pair, 2 * size, MADV_HUGEPAGE);
#endif
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&spare_half, &expected, pair + size, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        munmap(pair + size, size);
    return pair;
}

void rcyi_os_unmap(void *p, size_t size) {
    if (p)
        munmap(p, size);
}

void rcyi_os_decommit(void *p, size_t size) {
    (void)madvise(p, size, MADV_DONTNEED);
}

/* Probes one byte: process_vm_readv on ourselves fails with EFAULT where
 * a read would fault (unmapped or PROT_NONE pages; mincore cannot tell the
 * latter).  Where that call is refused, write(2) into a pipe does the same
 * test. */
static bool byte_readable(const void *p) {
    char c;
    struct iovec local = {&c, 1}, remote = {(void *)(uintptr_t)p, 1};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n == 1)
        return true;
    if (n < 0 && errno == EFAULT)
        return false;
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    bool ok = write(fds[1], p, 1) == 1;
    close(fds[0]);
    close(fds[1]);
    return ok;
}

bool rcyi_os_readable(const void *p, size_t n) {
    size_t ps = rcyi_os_page_size();
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(ps - 1);
    uintptr_t last = ((uintptr_t)p + (n ? n - 1 : 0)) & ~(uintptr_t)(ps - 1);
    if (last < start)
        return false;
    int saved = errno;
    bool ok = true;
    for (uintptr_t a = start; ok && a <= last; a += ps)
        ok = byte_readable((const void *)(a < (uintptr_t)p ? (uintptr_t)p : a));
    errno = saved;
    return ok;
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

bool rcyi_os_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    size_t have = 0;
    bool found = false;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            uintptr_t l, h;
            if (parse_range(buf + start, buf + i, &l, &h) && l <= addr && addr < h) {
                found = true;
                *lo = l;
                *hi = h;
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

size_t rcyi_os_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (size_t)resident * rcyi_os_page_size() : 0;
}

double rcyi_os_clock_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
