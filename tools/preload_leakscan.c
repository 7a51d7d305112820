/* tools/preload_leakscan.c — librecycle-preload.so's leak classes: at exit,
 * before the snapshot is written, a conservative scan of the process for
 * pointers into the live traced blocks (LeakSanitizer's and memcheck's
 * method), and the registry of the program's threads whose stacks it scans.
 *
 * Roots, each intersected with the readable mappings of /proc/self/maps
 * (nothing else is ever read, so an unmapped or PROT_NONE page cannot
 * fault the scan):
 *  - the writable PT_LOAD segments of every loaded module (.data, .bss,
 *    the GOT) except this library's own, which holds none of the program's
 *    pointers;
 *  - the exiting thread's registers (getcontext) and its stack from the
 *    scanning frame up; when main has returned (the program did not call
 *    exit itself) and the main thread exits,
 *    only the stack above the frame main returned to (main's frame and
 *    the calls it made are dead: a stale word left there by printf would
 *    make a lost block look reachable), and not its registers;
 *  - the whole stack of every other thread the program started with
 *    pthread_create (and of the main thread) that is still alive.  Their
 *    registers are not read (that needs ptrace or a signal to each thread);
 *    a blocked thread has spilled what it keeps across its call into the
 *    kernel onto its stack, and any stale word below its stack pointer only
 *    makes more blocks reachable, never fewer.
 * Then every block reachable from them (any word pointing into a block,
 * interior pointers included) is REACHABLE; of the rest, each one no other
 * lost block points to is DEFINITE, and everything a lost block reaches is
 * INDIRECT (in a cycle of lost blocks the first met in address order is
 * DEFINITE, as memcheck's clique leader).
 *
 * Invariants:
 *  - the scan allocates nothing through malloc: its tables (the sorted
 *    blocks, the mark stack, the mappings) come from rcyi_os_map;
 *  - marking uses an explicit stack of block indices, each block pushed at
 *    most once per class it takes, so the stack never exceeds the blocks;
 *  - "which live block contains p" is a binary search over the blocks
 *    sorted once by address (live blocks never overlap).
 * Not covered: blocks freed by another thread while the scan runs (the
 * program's threads are not stopped; a block munmap'ed under the scan
 * would fault it), threads made without pthread_create, and registers of
 * threads other than the exiting one. */
#define _GNU_SOURCE
#include "preload.h"

#include "os.h"
#include "snapshot.h"

#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

/* ---- the thread registry ------------------------------------------ */

#define MAX_THREADS 4096

static struct {
    _Atomic pid_t tid; /* 0: free slot */
    uintptr_t lo, hi;  /* the thread's stack */
} threads[MAX_THREADS];

static _Atomic uintptr_t main_frame;
static _Atomic bool exit_called; /* the program called exit: main may be live */

void preload_main_frame(uintptr_t frame) {
    atomic_store(&main_frame, frame);
}

void preload_exit_called(void) {
    atomic_store(&exit_called, true);
}

static pid_t gettid_now(void) {
    return (pid_t)syscall(SYS_gettid);
}

static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;

/* At the thread's end (return or pthread_exit): its slot is free. */
static void thread_ended(void *slot_plus_one) {
    preload_thread_unregister((int)((intptr_t)slot_plus_one - 1));
}

static void make_slot_key(void) {
    if (pthread_key_create(&slot_key, thread_ended) != 0)
        slot_key = (pthread_key_t)-1;
}

int preload_thread_register(void) {
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return -1;
    int rc = pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -1;
    pid_t tid = gettid_now();
    for (int i = 0; i < MAX_THREADS; i++) {
        pid_t expect = 0;
        if (atomic_load_explicit(&threads[i].tid, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&threads[i].tid, &expect, -1)) {
            threads[i].lo = (uintptr_t)addr;
            threads[i].hi = (uintptr_t)addr + size;
            atomic_store(&threads[i].tid, tid);
            pthread_once(&slot_key_once, make_slot_key);
            if (tid != getpid() && slot_key != (pthread_key_t)-1)
                pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1));
            return i;
        }
    }
    return -1;
}

void preload_thread_unregister(int slot) {
    if (slot >= 0 && slot < MAX_THREADS)
        atomic_store(&threads[slot].tid, 0);
}

void preload_threads_after_fork(void) {
    /* Only the forking thread lives on, under a new id. */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    for (int i = 0; i < MAX_THREADS; i++) {
        if (atomic_load(&threads[i].tid) <= 0)
            continue;
        bool mine = sp >= threads[i].lo && sp < threads[i].hi;
        atomic_store(&threads[i].tid, mine ? gettid_now() : 0);
    }
}

/* ---- the scan's own memory (never malloc) ------------------------- */

static void *table_map(size_t bytes) {
    return rcyi_os_map(rcyi_os_page_round(bytes ? bytes : 1));
}

static void table_unmap(void *p, size_t bytes) {
    if (p)
        rcyi_os_unmap(p, rcyi_os_page_round(bytes ? bytes : 1));
}

/* ---- readable mappings -------------------------------------------- */

typedef struct range {
    uintptr_t lo, hi;
} range;

typedef struct maps {
    range *r;
    size_t n, cap;
} maps;

static uintptr_t parse_hex(const char **s) {
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                            : 16u;
        if (d == 16)
            return v;
        v = v << 4 | d;
    }
}

/* One line "lo-hi perms ...": kept when readable.  Lines come sorted. */
static void maps_line(maps *m, const char *s) {
    uintptr_t lo = parse_hex(&s);
    if (*s++ != '-')
        return;
    uintptr_t hi = parse_hex(&s);
    if (*s++ != ' ' || *s != 'r' || hi <= lo)
        return;
    if (strstr(s, "[vvar") || strstr(s, "[vsyscall]"))
        return; /* some vvar pages fault on read (time namespaces) */
    if (m->n && m->r[m->n - 1].hi == lo) {
        m->r[m->n - 1].hi = hi;
        return;
    }
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        range *nr = table_map(ncap * sizeof *nr);
        if (!nr)
            return;
        if (m->r)
            memcpy(nr, m->r, m->n * sizeof *nr);
        table_unmap(m->r, m->cap * sizeof *m->r);
        m->r = nr;
        m->cap = ncap;
    }
    m->r[m->n++] = (range){lo, hi};
}

static void maps_read(maps *m) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[8192], line[1024];
    size_t ll = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] != '\n') {
                if (ll < sizeof line - 1)
                    line[ll++] = buf[i];
                continue;
            }
            line[ll] = 0;
            maps_line(m, line);
            ll = 0;
        }
    }
    close(fd);
}

/* ---- live blocks, sorted by address ------------------------------- */

typedef struct block {
    uintptr_t lo, hi; /* [lo, hi); a block of size 0 is [lo, lo + 1) */
    size_t trace;     /* its index in the snapshot */
} block;

/* LSD radix sort on lo, 16 bits a pass, skipping passes where all keys
 * agree: addresses hold 47 bits, so at most three passes. */
static void sort_blocks(block *b, block *tmp, size_t n) {
    uintptr_t all_or = 0, all_and = ~(uintptr_t)0;
    for (size_t i = 0; i < n; i++) {
        all_or |= b[i].lo;
        all_and &= b[i].lo;
    }
    static size_t count[1u << 16];
    for (unsigned shift = 0; shift < 64; shift += 16) {
        if ((((all_or ^ all_and) >> shift) & 0xFFFF) == 0)
            continue;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(b[i].lo >> shift) & 0xFFFF]++;
        size_t sum = 0;
        for (size_t d = 0; d < (1u << 16); d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(b[i].lo >> shift) & 0xFFFF]++] = b[i];
        memcpy(b, tmp, n * sizeof *b);
    }
}

typedef struct scan {
    block *b;
    size_t n;
    unsigned char *cls; /* per sorted block: an rcy_leak_class */
    size_t *stack;
    size_t depth;
    uintptr_t min, max; /* [min, max): every block lies inside */
    maps m;
    size_t leader; /* the lost block being flooded from */
} scan;

/* The index of the block containing p, or SIZE_MAX. */
static size_t block_at(const scan *sc, uintptr_t p) {
    if (p < sc->min || p >= sc->max)
        return SIZE_MAX;
    size_t lo = 0, hi = sc->n; /* find the last block with b.lo <= p */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (sc->b[mid].lo <= p)
            lo = mid;
        else
            hi = mid;
    }
    return sc->b[lo].lo <= p && p < sc->b[lo].hi ? lo : SIZE_MAX;
}

/* p points at block j: give it class c (REACHABLE from the roots, INDIRECT
 * from a lost block) and queue its contents. */
static void reach(scan *sc, size_t j, unsigned char c) {
    if (j == sc->leader)
        return;
    if (sc->cls[j] == RCY_LEAK_UNKNOWN) {
        sc->cls[j] = c;
        sc->stack[sc->depth++] = j;
    } else if (c == RCY_LEAK_INDIRECT && sc->cls[j] == RCY_LEAK_DEFINITE) {
        sc->cls[j] = RCY_LEAK_INDIRECT; /* an earlier leader, lost from here: what
                                         * it reaches is already INDIRECT */
    }
}

/* Every aligned word of [lo, hi) that lies in readable memory. */
static void scan_words(scan *sc, uintptr_t lo, uintptr_t hi, unsigned char c) {
    lo = (lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
    for (size_t k = 0; k < sc->m.n && lo < hi; k++) {
        const range *r = &sc->m.r[k];
        if (r->hi <= lo)
            continue;
        if (r->lo >= hi)
            break;
        uintptr_t a = lo > r->lo ? lo : r->lo, z = hi < r->hi ? hi : r->hi;
        for (const uintptr_t *w = (const uintptr_t *)a; (uintptr_t)(w + 1) <= z; w++) {
            uintptr_t v = *w;
            if (v >= sc->min && v < sc->max) {
                size_t j = block_at(sc, v);
                if (j != SIZE_MAX)
                    reach(sc, j, c);
            }
        }
    }
}

/* The readable range holding [lo, hi) whole, by binary search; the block's
 * words are then read without a per-range walk. */
static bool readable(const scan *sc, uintptr_t lo, uintptr_t hi) {
    size_t a = 0, z = sc->m.n;
    while (a < z) {
        size_t mid = a + (z - a) / 2;
        if (sc->m.r[mid].hi <= lo)
            a = mid + 1;
        else
            z = mid;
    }
    return a < sc->m.n && sc->m.r[a].lo <= lo && hi <= sc->m.r[a].hi;
}

static void drain(scan *sc, unsigned char c) {
    while (sc->depth) {
        const block *b = &sc->b[sc->stack[--sc->depth]];
        uintptr_t lo = (b->lo + sizeof(uintptr_t) - 1) & ~(uintptr_t)(sizeof(uintptr_t) - 1);
        if (b->hi - b->lo < sizeof(uintptr_t) || !readable(sc, b->lo, b->hi))
            continue;
        for (const uintptr_t *w = (const uintptr_t *)lo; (uintptr_t)(w + 1) <= b->hi; w++) {
            uintptr_t v = *w;
            if (v >= sc->min && v < sc->max) {
                size_t j = block_at(sc, v);
                if (j != SIZE_MAX)
                    reach(sc, j, c);
            }
        }
    }
}

/* ---- roots -------------------------------------------------------- */

static int module_roots(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    scan *sc = arg;
    uintptr_t self = (uintptr_t)&module_roots;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && self >= lo && self < lo + ph->p_memsz)
            return 0; /* this library */
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            scan_words(sc, lo, lo + ph->p_memsz, RCY_LEAK_REACHABLE);
        }
    }
    return 0;
}

__attribute__((noinline)) static void stack_roots(scan *sc) {
    ucontext_t regs; /* the exiting thread's registers, on its stack */
    getcontext(&regs);
    uintptr_t sp = (uintptr_t)&regs;
    pid_t me = gettid_now(), pid = getpid();
    uintptr_t after_main = me == pid && !atomic_load(&exit_called) ? atomic_load(&main_frame) : 0;
    if (after_main > sp)
        sp = after_main;
    else
        scan_words(sc, (uintptr_t)&regs, (uintptr_t)(&regs + 1), RCY_LEAK_REACHABLE);
    for (int i = 0; i < MAX_THREADS; i++) {
        pid_t tid = atomic_load(&threads[i].tid);
        if (tid <= 0)
            continue;
        if (tid == me) {
            scan_words(sc, sp < threads[i].lo ? threads[i].lo : sp, threads[i].hi,
                       RCY_LEAK_REACHABLE);
        } else if (syscall(SYS_tgkill, pid, tid, 0) == 0) {
            scan_words(sc, threads[i].lo, threads[i].hi, RCY_LEAK_REACHABLE);
        }
    }
}

/* ---- classifying -------------------------------------------------- */

static void classify(scan *sc) {
    sc->leader = SIZE_MAX;
    dl_iterate_phdr(module_roots, sc);
    stack_roots(sc);
    drain(sc, RCY_LEAK_REACHABLE);
    for (size_t j = 0; j < sc->n; j++) {
        if (sc->cls[j] != RCY_LEAK_UNKNOWN)
            continue;
        sc->cls[j] = RCY_LEAK_DEFINITE;
        sc->leader = j;
        sc->stack[sc->depth++] = j;
        drain(sc, RCY_LEAK_INDIRECT);
    }
}

void preload_leak_classes(rcy_snapshot *s, const uintptr_t *addrs) {
    size_t nt = 0;
    const rcy_trace *t = rcy_snapshot_traces(s, &nt);
    scan sc = {0};
    for (size_t i = 0; i < nt; i++)
        sc.n += addrs[i] != 0;
    if (sc.n == 0)
        return;
    block *tmp = table_map(sc.n * sizeof *tmp);
    sc.b = table_map(sc.n * sizeof *sc.b);
    sc.cls = table_map(sc.n);
    sc.stack = table_map(sc.n * sizeof *sc.stack);
    unsigned char *by_trace = table_map(nt);
    if (tmp && sc.b && sc.cls && sc.stack && by_trace) {
        size_t k = 0;
        for (size_t i = 0; i < nt; i++)
            if (addrs[i])
                sc.b[k++] = (block){addrs[i], addrs[i] + (t[i].size ? t[i].size : 1), i};
        sort_blocks(sc.b, tmp, sc.n);
        sc.min = sc.b[0].lo;
        for (size_t j = 0; j < sc.n; j++)
            sc.max = sc.b[j].hi > sc.max ? sc.b[j].hi : sc.max;
        maps_read(&sc.m);
        classify(&sc);
        for (size_t j = 0; j < sc.n; j++)
            by_trace[sc.b[j].trace] = sc.cls[j];
        rcyi_snapshot_set_leak_classes(s, by_trace, nt);
    }
    table_unmap(tmp, sc.n * sizeof *tmp);
    table_unmap(sc.b, sc.n * sizeof *sc.b);
    table_unmap(sc.cls, sc.n);
    table_unmap(sc.stack, sc.n * sizeof *sc.stack);
    table_unmap(by_trace, nt);
    table_unmap(sc.m.r, sc.m.cap * sizeof *sc.m.r);
}
