/* src/os.h — the operating-system layer: every mmap/munmap/madvise, page
 * size, clock and /proc call of the library lives in os.c, so the rest
 * reads as plain C and a port touches one file. */
#ifndef RCY_SRC_OS_H
#define RCY_SRC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The page the allocator cuts its layout to: virgin blocks are carved a
 * page at a time and an arena's record is kept whole when the rest is
 * decommitted.  4 KiB, the base page of the systems we run on;
 * rcyi_os_page_size() is the running system's. */
#define RCYI_OS_PAGE ((size_t)4096)
/* n rounded up to a whole number of RCYI_OS_PAGE pages. */
static inline size_t rcyi_os_page_round(size_t n) {
    return (n + RCYI_OS_PAGE - 1) & ~(RCYI_OS_PAGE - 1);
}
size_t rcyi_os_page_size(void);
/* Fresh zeroed read-write memory of `size` bytes; NULL on failure. */
void *rcyi_os_map(size_t size);
/* Like rcyi_os_map, but the address is a multiple of `align` (a power of
 * two, itself a multiple of the page size). */
void *rcyi_os_map_aligned(size_t size, size_t align);
/* rcyi_os_map_aligned(size, size) for an arena.  With `huge`, arenas are
 * mapped two at a time, 2 * size-aligned and advised for transparent huge
 * pages (the other one is handed out by the next such call), so that
 * freeing in random order over many arenas does not miss the TLB on every
 * block; without, one plain mapping. */
void *rcyi_os_map_arena(size_t size, bool huge);
void rcyi_os_unmap(void *p, size_t size);
/* Give the pages back to the OS but keep the range mapped: later reads
 * see zeros, and the resident set shrinks at once. */
void rcyi_os_decommit(void *p, size_t size);
/* True when [p, p+n) is mapped, so reading it cannot fault (used only by
 * slow misuse checks). */
bool rcyi_os_readable(const void *p, size_t n);
/* The mapping [*lo, *hi) that holds addr, from /proc/self/maps; false
 * when it cannot be found (outputs untouched).  Raw system calls and a
 * stack buffer only: no malloc, so a malloc hook may call it. */
bool rcyi_os_mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);
/* Resident set size of the process in bytes (0 when unknown). */
size_t rcyi_os_rss(void);
/* Monotonic clock in seconds (the collector's pause durations). */
double rcyi_os_clock_seconds(void);

#endif
