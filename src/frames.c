/* src/frames.c — native stacks for tracemalloc: a frame-pointer walk, a
 * DWARF walk from cached CFA rules (the "libunwind" method), and
 * libunwind's unw_backtrace behind both.
 *
 * The frame-pointer walk never faults: every frame pointer must lie between the walker's
 * own frame and the top of the thread's stack (the end of the mapping that
 * holds the stack, found by os.c's rcyi_os_mapping_of: raw system calls,
 * no malloc, so no hook is re-entered), be 8-byte aligned, leave room for
 * the two words it reads below the top (compared as hi - fp, which cannot
 * wrap: a garbage fp such as 0xfffffffffffffff0 from code without frame
 * pointers once made fp + 16 wrap to 0 and pass), and be above the
 * previous one.  The mapping is kept per thread and used only while the
 * walker's own frame lies inside it (a handler on an alternate signal
 * stack looks it up again).  Code built without frame pointers ends the
 * walk early instead of crashing it.
 *
 * With libunwind selected, the CFI walk (below) follows each frame's rule
 * from a shared table, reading only inside the same stack bounds, and
 * hands the whole stack to unw_backtrace when a frame is beyond its
 * rules: the frames are libunwind's either way (tests/frames), at about
 * half the instructions per stack.  Nothing here allocates.
 *
 * API and invariants: src/frames.h.
 */
#define _GNU_SOURCE 1 /* _dl_find_object, dl_iterate_phdr */
#include "frames.h"
#include "os.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#ifdef RCY_HAVE_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif

/* The CFI walk below needs glibc 2.35's _dl_find_object and x86-64. */
#if defined(RCY_HAVE_LIBUNWIND) && defined(__x86_64__) && defined(DLFO_EH_SEGMENT_TYPE)
#define RCY_CFI_WALK 1
#endif

#define TLS __thread __attribute__((tls_model("initial-exec")))

/* The mapping holding this thread's stack: [tls_stack_lo, tls_stack_hi);
 * hi 0 = not yet known, 1 = unknown. */
static TLS uintptr_t tls_stack_lo, tls_stack_hi;
static int force_libunwind;
static int use_cfi = 1;             /* 0: libunwind for every stack (tests compare) */
static unsigned long cfi_fallbacks; /* CFI walks handed to libunwind */

unsigned long rcyi_walk_fallbacks(void) {
    return __atomic_load_n(&cfi_fallbacks, __ATOMIC_RELAXED);
}

bool rcyi_walk_use_libunwind(bool on) {
#ifdef RCY_HAVE_LIBUNWIND
    __atomic_store_n(&force_libunwind, on ? 1 : 0, __ATOMIC_RELAXED);
    return true;
#else
    (void)on;
    return false;
#endif
}

bool rcyi_walk_use_cfi(bool on) {
#ifdef RCY_CFI_WALK
    __atomic_store_n(&use_cfi, on ? 1 : 0, __ATOMIC_RELAXED);
    return true;
#else
    (void)on;
    return false;
#endif
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

/* ---- the CFI walk: DWARF unwinding from cached rules ------------------
 * What a frame needs on x86-64 is small: where its CFA is (rsp or rbp plus
 * an offset), that the return address sits at CFA-8, and where rbp was
 * saved, if it was.  walk_cfi finds that rule for each return address in
 * a table shared by all threads, and on a miss computes it from the
 * module's .eh_frame (found with _dl_find_object, which neither locks nor
 * allocates) by running the FDE's CFA program up to the call.  Anything
 * the rule cannot express (a CFA from another register or an expression,
 * signal frames, an address without an FDE, a read outside the thread's
 * stack) makes the walk return -1 and the caller asks libunwind for the
 * whole stack, so the frames are always libunwind's.  Entries are written
 * under a spin lock and read without one: a reader takes an entry only
 * when its key reads the same before and after its rule (the writer
 * clears the key first), and the rule carries 32 bits of its address as
 * a second check.  The table is emptied when a module goes away (glibc's
 * count of removed objects, checked on each miss, and rcyi_walk_forget for
 * callers that see dlclose), so code mapped later at a reused address is
 * never walked with a stale rule. */

#ifdef RCY_CFI_WALK
enum { RULE_RSP = 1, RULE_RBP = 2, RULE_END = 3 }; /* 0: unusable */
#define CFI_SLOTS 8192u
#define CFI_PROBE 4u
typedef struct {
    uintptr_t key; /* return address; 0 = empty */
    uint64_t rule; /* kind 2 | rbp saved 1 | cfa off/8 15 | -rbp off/8 14 | tag 32 */
} cfi_slot;
static cfi_slot cfi_table[CFI_SLOTS];
static int cfi_lock;
static unsigned long long cfi_subs; /* glibc's removed-object count the table saw */

static uint32_t cfi_tag(uintptr_t pc) {
    return (uint32_t)(pc ^ (pc >> 29));
}

static size_t cfi_index(uintptr_t pc) {
    return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 51) & (CFI_SLOTS - 1);
}

static bool cfi_get(uintptr_t pc, uint64_t *rule) {
    size_t i = cfi_index(pc);
    for (unsigned k = 0; k < CFI_PROBE; k++, i = (i + 1) & (CFI_SLOTS - 1)) {
        cfi_slot *e = &cfi_table[i];
        uintptr_t k1 = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
        if (k1 == 0)
            return false;
        if (k1 != pc)
            continue;
        uint64_t r = __atomic_load_n(&e->rule, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&e->key, __ATOMIC_RELAXED) != pc || (uint32_t)(r >> 32) != cfi_tag(pc))
            return false;
        *rule = r;
        return true;
    }
    return false;
}

/* The writers' lock, taken with a bounded spin: a child forked while
 * another thread held it, or a signal handler that allocates while its
 * own thread held it, would otherwise wait forever.  When it cannot be
 * had, a rule is not cached, and a table that must be emptied makes the
 * walk hand the stack to libunwind. */
static bool cfi_try_lock(void) {
    for (unsigned i = 0; i < (1u << 16); i++) {
        if (!__atomic_exchange_n(&cfi_lock, 1, __ATOMIC_ACQUIRE))
            return true;
        __builtin_ia32_pause();
    }
    return false;
}

static void cfi_spin_unlock(void) {
    __atomic_store_n(&cfi_lock, 0, __ATOMIC_RELEASE);
}

static void cfi_clear_locked(void) {
    for (size_t i = 0; i < CFI_SLOTS; i++)
        __atomic_store_n(&cfi_table[i].key, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void cfi_put(uintptr_t pc, uint64_t rule) {
    rule = (rule & 0xffffffffu) | (uint64_t)cfi_tag(pc) << 32;
    if (!cfi_try_lock())
        return;
    size_t i = cfi_index(pc), at = i;
    for (unsigned k = 0; k < CFI_PROBE; k++, i = (i + 1) & (CFI_SLOTS - 1)) {
        uintptr_t key = __atomic_load_n(&cfi_table[i].key, __ATOMIC_RELAXED);
        if (key == 0 || key == pc) {
            at = i;
            break;
        }
    }
    cfi_slot *e = &cfi_table[at];
    __atomic_store_n(&e->key, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->rule, rule, __ATOMIC_RELAXED);
    __atomic_store_n(&e->key, pc, __ATOMIC_RELEASE);
    cfi_spin_unlock();
}

static int count_subs(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    *(unsigned long long *)arg = info->dlpi_subs;
    return 1;
}

/* On a miss: empty the table if a module was unloaded since it was
 * filled; false when it had to be and could not. */
static bool cfi_check_unloads(void) {
    unsigned long long subs = 0;
    dl_iterate_phdr(count_subs, &subs);
    if (subs != __atomic_load_n(&cfi_subs, __ATOMIC_RELAXED)) {
        if (!cfi_try_lock())
            return false;
        cfi_clear_locked();
        __atomic_store_n(&cfi_subs, subs, __ATOMIC_RELAXED);
        cfi_spin_unlock();
    }
    return true;
}

/* ---- reading .eh_frame ---- */
typedef struct {
    const uint8_t *p, *end;
    bool bad;
} cur;

static uint64_t uleb(cur *c) {
    uint64_t v = 0;
    unsigned sh = 0;
    while (c->p < c->end) {
        uint8_t b = *c->p++;
        if (sh < 64)
            v |= (uint64_t)(b & 0x7f) << sh;
        sh += 7;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t sleb(cur *c) {
    uint64_t v = 0;
    unsigned sh = 0;
    uint8_t b = 0x80;
    while (c->p < c->end && (b & 0x80)) {
        b = *c->p++;
        if (sh < 64)
            v |= (uint64_t)(b & 0x7f) << sh;
        sh += 7;
    }
    if (b & 0x80)
        c->bad = true;
    else if (sh < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << sh;
    return (int64_t)v;
}

static uint64_t fixed(cur *c, size_t n) {
    if ((size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, c->p, n); /* little-endian */
    c->p += n;
    return v;
}

/* A pointer in DW_EH_PE encoding `enc`; `data` is the datarel base. */
static uintptr_t encoded(cur *c, uint8_t enc, uintptr_t data) {
    if (enc == 0xff)
        return 0;
    uintptr_t at = (uintptr_t)c->p, v;
    switch (enc & 0x0f) {
    case 0x00:
        v = (uintptr_t)fixed(c, 8);
        break;
    case 0x01:
        v = (uintptr_t)uleb(c);
        break;
    case 0x02:
        v = (uintptr_t)fixed(c, 2);
        break;
    case 0x03:
        v = (uintptr_t)fixed(c, 4);
        break;
    case 0x04:
        v = (uintptr_t)fixed(c, 8);
        break;
    case 0x09:
        v = (uintptr_t)sleb(c);
        break;
    case 0x0a:
        v = (uintptr_t)(int64_t)(int16_t)fixed(c, 2);
        break;
    case 0x0b:
        v = (uintptr_t)(int64_t)(int32_t)fixed(c, 4);
        break;
    case 0x0c:
        v = (uintptr_t)fixed(c, 8);
        break;
    default:
        c->bad = true;
        return 0;
    }
    switch (enc & 0x70) {
    case 0x00:
        break;
    case 0x10:
        v += at;
        break;
    case 0x30:
        v += data;
        break;
    default:
        c->bad = true;
        return 0;
    }
    if (enc & 0x80)
        c->bad = true; /* indirect: only personality routines use it */
    return v;
}

/* The FDE covering pc, from the binary-search table of .eh_frame_hdr. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t pc) {
    if (!hdr || hdr[0] != 1 || hdr[3] != 0x3b) /* datarel | sdata4 table */
        return NULL;
    cur c = {hdr + 4, hdr + 4 + 16, false};
    (void)encoded(&c, hdr[1], (uintptr_t)hdr);
    uintptr_t count = encoded(&c, hdr[2], (uintptr_t)hdr);
    if (c.bad || count == 0)
        return NULL;
    const int32_t *tab = (const int32_t *)(const void *)c.p;
    size_t lo = 0, hi = count;
    intptr_t rel = (intptr_t)(pc - (uintptr_t)hdr);
    if (rel < tab[0])
        return NULL;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tab[2 * mid] <= rel)
            lo = mid;
        else
            hi = mid;
    }
    return hdr + tab[2 * lo + 1];
}

/* The register rules walk_cfi follows, for the DWARF numbers of rbp (6),
 * rsp (7) and the return address (16). */
typedef struct {
    int cfa_reg; /* 6 or 7; anything else is unusable */
    int64_t cfa_off;
    int rbp; /* 0 same value, 1 saved at CFA + rbp_off, -1 unusable */
    int64_t rbp_off;
    int ra; /* 1 at CFA + ra_off, 0 undefined (outermost), -1 unusable */
    int64_t ra_off;
} cfi_state;

static void set_offset(cfi_state *st, uint64_t reg, int64_t off) {
    if (reg == 6)
        st->rbp = 1, st->rbp_off = off;
    else if (reg == 16)
        st->ra = 1, st->ra_off = off;
}

static void set_other(cfi_state *st, uint64_t reg, int how) {
    if (reg == 6)
        st->rbp = how;
    else if (reg == 16)
        st->ra = how;
    else if (reg == 7)
        st->cfa_reg = -1; /* rsp given a rule: not a plain frame */
}

/* Run a CFA program up to (not past) `target`; false when it uses what
 * walk_cfi cannot follow. */
static bool run_cfa(cur *c, uintptr_t loc, uintptr_t target, int64_t daf, uint8_t renc,
                    const cfi_state *init, cfi_state *st) {
    cfi_state stack[8];
    int depth = 0;
    while (c->p < c->end && !c->bad) {
        uint8_t op = *c->p++;
        uint64_t reg;
        switch (op & 0xc0) {
        case 0x40:
            loc += op & 0x3f;
            if (loc > target)
                return true;
            continue;
        case 0x80:
            set_offset(st, op & 0x3f, (int64_t)uleb(c) * daf);
            continue;
        case 0xc0:
            reg = op & 0x3f;
            if (reg == 6)
                st->rbp = init->rbp, st->rbp_off = init->rbp_off;
            else if (reg == 16)
                st->ra = init->ra, st->ra_off = init->ra_off;
            continue;
        }
        switch (op) {
        case 0x00:
            break;
        case 0x01:
            loc = encoded(c, renc, 0);
            if (loc > target)
                return true;
            break;
        case 0x02:
            loc += fixed(c, 1);
            if (loc > target)
                return true;
            break;
        case 0x03:
            loc += fixed(c, 2);
            if (loc > target)
                return true;
            break;
        case 0x04:
            loc += fixed(c, 4);
            if (loc > target)
                return true;
            break;
        case 0x05:
            reg = uleb(c);
            set_offset(st, reg, (int64_t)uleb(c) * daf);
            break;
        case 0x06:
            reg = uleb(c);
            if (reg == 6)
                st->rbp = init->rbp, st->rbp_off = init->rbp_off;
            else if (reg == 16)
                st->ra = init->ra, st->ra_off = init->ra_off;
            break;
        case 0x07:
            reg = uleb(c);
            set_other(st, reg, reg == 16 ? 0 : -1);
            break;
        case 0x08:
            reg = uleb(c);
            if (reg == 6)
                st->rbp = 0;
            else if (reg != 7)
                set_other(st, reg, -1);
            break;
        case 0x09:
            reg = uleb(c);
            (void)uleb(c);
            set_other(st, reg, -1);
            break;
        case 0x0a:
            if (depth == 8)
                return false;
            stack[depth++] = *st;
            break;
        case 0x0b:
            if (depth == 0)
                return false;
            *st = stack[--depth];
            break;
        case 0x0c:
            st->cfa_reg = (int)uleb(c);
            st->cfa_off = (int64_t)uleb(c);
            break;
        case 0x0d:
            st->cfa_reg = (int)uleb(c);
            break;
        case 0x0e:
            st->cfa_off = (int64_t)uleb(c);
            break;
        case 0x0f:
            return false;
        case 0x10:
        case 0x16:
            reg = uleb(c);
            set_other(st, reg, -1);
            c->p += uleb(c);
            if (c->p > c->end)
                return false;
            break;
        case 0x11:
            reg = uleb(c);
            set_offset(st, reg, sleb(c) * daf);
            break;
        case 0x12:
            st->cfa_reg = (int)uleb(c);
            st->cfa_off = sleb(c) * daf;
            break;
        case 0x13:
            st->cfa_off = sleb(c) * daf;
            break;
        case 0x14:
            reg = uleb(c);
            (void)uleb(c);
            set_other(st, reg, -1);
            break;
        case 0x15:
            reg = uleb(c);
            (void)sleb(c);
            set_other(st, reg, -1);
            break;
        case 0x2e:
            (void)uleb(c);
            break;
        case 0x2f:
            reg = uleb(c);
            set_offset(st, reg, -(int64_t)uleb(c) * daf);
            break;
        default:
            return false;
        }
    }
    return !c->bad;
}

/* What the walk needs of a CIE: its initial instructions, the data
 * alignment factor, the pointer encoding of its FDEs, and whether they
 * carry augmentation data ('z'). */
typedef struct cie_info {
    cur insns;
    int64_t daf;
    uint8_t renc;
    bool zaug;
} cie_info;

/* Parses the CIE at cie: version 1 or 3, augmentation empty or "z" with
 * R, L and P.  false when unusable ('S', unknown letters, a bad length). */
static bool parse_cie(const uint8_t *cie, cie_info *ci) {
    uint32_t len32;
    memcpy(&len32, cie, 4);
    if (len32 == 0 || len32 == 0xffffffffu)
        return false;
    cur c = {cie + 4, cie + 4 + len32, false};
    if (fixed(&c, 4) != 0)
        return false;
    uint8_t version = (uint8_t)fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t auglen = strnlen(aug, (size_t)(c.end - c.p));
    c.p += auglen + 1;
    if (c.p > c.end || (version != 1 && version != 3))
        return false;
    (void)uleb(&c); /* code alignment: 1 on x86-64 */
    ci->daf = sleb(&c);
    if (version == 1)
        (void)fixed(&c, 1);
    else
        (void)uleb(&c);
    ci->renc = 0;
    ci->zaug = auglen > 0 && aug[0] == 'z';
    if (ci->zaug) {
        uint64_t n = uleb(&c);
        cur a = {c.p, c.p + n, false};
        if (a.end > c.end)
            return false;
        for (size_t i = 1; i < auglen; i++) {
            if (aug[i] == 'R')
                ci->renc = (uint8_t)fixed(&a, 1);
            else if (aug[i] == 'L')
                (void)fixed(&a, 1);
            else if (aug[i] == 'P') {
                uint8_t penc = (uint8_t)fixed(&a, 1);
                (void)encoded(&a, penc & 0x7f, 0);
            } else
                return false; /* 'S' (signal frame) and the unknown */
        }
        c.p = a.end;
    } else if (auglen > 0)
        return false;
    ci->insns = c;
    return !c.bad;
}

/* The cached rule for a frame's CFI state (0: not one the fast walk can
 * follow). */
static uint64_t pack_rule(const cfi_state *st) {
    if (st->ra == 0)
        return RULE_END;
    if (st->ra != 1 || st->ra_off != -8 || st->rbp < 0 || (st->cfa_reg != 6 && st->cfa_reg != 7))
        return 0;
    if (st->cfa_off <= 0 || st->cfa_off % 8 || st->cfa_off / 8 >= (1 << 15))
        return 0;
    uint64_t rbp = 0;
    if (st->rbp == 1) {
        if (st->rbp_off >= 0 || st->rbp_off % 8 || -st->rbp_off / 8 >= (1 << 14))
            return 0;
        rbp = 4 | (uint64_t)(-st->rbp_off / 8) << 18;
    }
    return (uint64_t)(st->cfa_reg == 7 ? RULE_RSP : RULE_RBP) | rbp |
           (uint64_t)(st->cfa_off / 8) << 3;
}

/* The rule for the frame whose return address is pc (0: unusable). */
static uint64_t compute_rule(uintptr_t pc) {
    struct dl_find_object fo;
    if (_dl_find_object((void *)pc, &fo) != 0)
        return 0;
    const uint8_t *fde = find_fde(fo.dlfo_eh_frame, pc - 1);
    if (!fde)
        return 0;
    uint32_t len32;
    memcpy(&len32, fde, 4);
    if (len32 == 0 || len32 == 0xffffffffu)
        return 0;
    cur f = {fde + 8, fde + 4 + len32, false};
    int32_t cie_ptr;
    memcpy(&cie_ptr, fde + 4, 4);
    cie_info ci;
    if (cie_ptr <= 0 || !parse_cie(fde + 4 - cie_ptr, &ci))
        return 0;
    uintptr_t start = encoded(&f, ci.renc, 0);
    uintptr_t range = encoded(&f, ci.renc & 0x0f, 0);
    if (ci.zaug)
        f.p += uleb(&f);
    if (f.bad || f.p > f.end || pc - 1 < start || pc - 1 - start >= range)
        return 0;
    cfi_state init = {7, 8, 0, 0, 1, -8}, st;
    if (!run_cfa(&ci.insns, start, UINTPTR_MAX, ci.daf, ci.renc, &init, &init))
        return 0;
    st = init;
    if (!run_cfa(&f, start, pc - 1, ci.daf, ci.renc, &init, &st))
        return 0;
    return pack_rule(&st);
}

static int walk_cfi(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int skip,
                    int *total) __attribute__((no_sanitize("address")));

/* The stack from frame fp as libunwind would give it, or -1 when the rules
 * cannot follow it (the caller then asks libunwind). */
static int walk_cfi(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *out, int max, int skip,
                    int *total) {
    if (fp < lo || fp >= hi || hi - fp < 16)
        return -1;
    uintptr_t pc = ((const uintptr_t *)fp)[1], rbp = ((const uintptr_t *)fp)[0], rsp = fp + 16;
    int n = 0, seen = 0, limit = skip + max + 8;
    for (;;) {
        if (seen >= skip && n < max)
            out[n++] = pc;
        if (++seen >= limit)
            break;
        uint64_t rule;
        if (!cfi_get(pc, &rule)) {
            if (!cfi_check_unloads())
                return -1;
            rule = compute_rule(pc);
            cfi_put(pc, rule);
        }
        unsigned kind = rule & 3;
        if (kind == RULE_END)
            break;
        if (kind == 0)
            return -1;
        uintptr_t cfa = (kind == RULE_RSP ? rsp : rbp) + (uintptr_t)((rule >> 3) & 0x7fff) * 8;
        if (cfa <= rsp || cfa > hi || cfa - lo < 16)
            return -1;
        if (rule & 4) {
            uintptr_t at = cfa - (uintptr_t)((rule >> 18) & 0x3fff) * 8;
            if (at < lo)
                return -1;
            rbp = *(const uintptr_t *)at;
        }
        pc = ((const uintptr_t *)cfa)[-1];
        rsp = cfa;
        if (pc == 0)
            break;
    }
    *total = seen > skip ? seen - skip : 0;
    return n;
}
#endif

void rcyi_walk_forget(void) {
#ifdef RCY_CFI_WALK
    if (!cfi_try_lock()) { /* its holder is gone: stop trusting the table */
        __atomic_store_n(&use_cfi, 0, __ATOMIC_RELAXED);
        return;
    }
    cfi_clear_locked();
    cfi_spin_unlock();
#endif
}

/* This thread's stack mapping containing `sp`, looked up once per thread:
 * false when unknown. */
static bool stack_bounds(uintptr_t sp, uintptr_t *lo, uintptr_t *hi) {
    uintptr_t h = tls_stack_hi;
    if (h == 0 || (h > 1 && (sp < tls_stack_lo || sp >= h))) {
        /* First use, the main thread's stack grew below the mapping seen,
         * or another stack (sigaltstack): look again; keep the answer
         * only for the thread's own stack. */
        uintptr_t map_lo = 0, map_hi;
        h = rcyi_os_mapping_of(sp, &map_lo, &map_hi) ? map_hi : 1;
        if (tls_stack_hi == 0 || h == tls_stack_hi) {
            tls_stack_lo = map_lo;
            tls_stack_hi = h;
        }
        *lo = map_lo;
    } else
        *lo = tls_stack_lo;
    *hi = h;
    return h > 1;
}

__attribute__((noinline)) int rcyi_walk_stack(uintptr_t fp, uintptr_t *out, int max, int skip,
                                              int *total) {
    *total = 0;
    if (max <= 0)
        return 0;
    uintptr_t lo = (uintptr_t)__builtin_frame_address(0), map_lo, hi;
    bool bounded = stack_bounds(lo, &map_lo, &hi);
#ifdef RCY_HAVE_LIBUNWIND
    if (__atomic_load_n(&force_libunwind, __ATOMIC_RELAXED)) {
#ifdef RCY_CFI_WALK
        if (bounded && __atomic_load_n(&use_cfi, __ATOMIC_RELAXED)) {
            int n = walk_cfi(fp, lo, hi, out, max, skip, total);
            if (n >= 0)
                return n;
            __atomic_fetch_add(&cfi_fallbacks, 1, __ATOMIC_RELAXED);
        }
#endif
        return walk_unw(fp, out, max, skip, total);
    }
#endif
    int n = bounded ? walk_fp(fp, lo, hi, out, max, skip, total) : 0;
#ifdef RCY_HAVE_LIBUNWIND
    /* The frame pointers gave at most the first return address although
     * more was asked: the code that called us keeps no frame pointers, or
     * the stack could not be bounded.  Ask the unwinder. */
    if (n <= 1 && max > 1)
        n = walk_unw(fp, out, max, skip, total);
#endif
    return n;
}
