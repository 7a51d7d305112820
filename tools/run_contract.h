/* tools/run_contract.h — the contract between `recycle run` (cmd_run.c)
 * and librecycle-preload.so (preload_*.c): the RCY_RUN_* environment
 * variables, their defaults and ranges, and the one function that names a
 * snapshot file.  Both sides include this header and nothing else of the
 * other.
 *
 * Invariants:
 *  - Every variable is optional: the library preloaded by hand (no
 *    variable set) behaves as `recycle run` with its defaults.
 *  - A value out of range or not a number counts as unset (the default).
 *  - The file a process writes is rcy_run_output_name(RCY_RUN_OUTPUT, tag,
 *    pid, pid == RCY_RUN_MAIN_PID), on both sides: the command predicts the
 *    name the library writes, and lists the child files by its pattern. */
#ifndef RECYCLE_TOOLS_RUN_CONTRACT_H
#define RECYCLE_TOOLS_RUN_CONTRACT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the variables ------------------------------------------------- */

/* Snapshot file of the first process (default: rcy_run_output_name's). */
#define RCY_RUN_OUTPUT "RCY_RUN_OUTPUT"
/* pid whose images write RCY_RUN_OUTPUT itself (default: the process's). */
#define RCY_RUN_MAIN_PID "RCY_RUN_MAIN_PID"
/* 0: trace only RCY_RUN_MAIN_PID (across exec), not the processes it forks. */
#define RCY_RUN_FOLLOW "RCY_RUN_FOLLOW"
/* Frames per traceback. */
#define RCY_RUN_FRAMES "RCY_RUN_FRAMES"
/* Timeline sampling interval in ms, 0 = no timeline. */
#define RCY_RUN_INTERVAL_MS "RCY_RUN_INTERVAL_MS"
/* CLOCK_MONOTONIC origin of the timeline, in ns (default: the library's
 * start; a value in the future counts as unset). */
#define RCY_RUN_START_NS "RCY_RUN_START_NS"
/* Path of the preload library, kept in LD_PRELOAD across an exec with an
 * environment of the program's own. */
#define RCY_RUN_PRELOAD "RCY_RUN_PRELOAD"

/* Every variable, in the order the library re-adds them on exec. */
#define RCY_RUN_VARIABLES                                                                          \
    {                                                                                              \
        RCY_RUN_OUTPUT, RCY_RUN_MAIN_PID, RCY_RUN_FRAMES, RCY_RUN_INTERVAL_MS, RCY_RUN_START_NS,   \
            RCY_RUN_PRELOAD, RCY_RUN_FOLLOW                                                        \
    }
#define RCY_RUN_NVARIABLES 7

/* ---- defaults and ranges ------------------------------------------- */

#define RCY_RUN_FRAMES_DEFAULT      16
#define RCY_RUN_FRAMES_MIN          1
#define RCY_RUN_FRAMES_MAX          65535
#define RCY_RUN_INTERVAL_MS_DEFAULT 10
#define RCY_RUN_INTERVAL_MS_MAX     3600000
#define RCY_RUN_FOLLOW_DEFAULT      1

/* A decimal in [lo, hi] into *out; false on NULL, junk or out of range.
 * How both sides read the numbers of the contract (the command its
 * options, the library the variables). */
static inline bool rcy_run_parse_long(const char *s, long lo, long hi, long *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ---- file names ---------------------------------------------------- */

/* What names a snapshot file after its program (recycle.TAG.PID.rcy,
 * out.TAG.PID.rcy): the basename of `name`, at most len - 1 bytes, with
 * anything but [A-Za-z0-9._+-] made '_'. */
static inline void cli_program_tag(const char *name, char *out, size_t len) {
    const char *base = name ? name : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' && p[1])
            base = p + 1;
    size_t n = 0;
    for (; base[n] && base[n] != '/' && n + 1 < len; n++) {
        char ch = base[n];
        bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '+' || ch == '-';
        out[n] = keep ? ch : '_';
    }
    if (n == 0 && len > 1)
        out[n++] = '_';
    out[n] = 0;
}

/* The snapshot file of process `pid` running the program tagged `tag`:
 *  - no output asked for: recycle.TAG.PID.rcy (recycle.TAG.rcy when
 *    pid <= 0, for a name to check before the pid is known);
 *  - the first process (`first`): the output itself;
 *  - any other process: the output with ".TAG.PID" inserted before its
 *    extension (out.rcy -> out.sh.1234.rcy), or appended without one.
 * Relative names stay relative: the caller adds a directory.  Returns
 * snprintf's count: >= len when the name did not fit. */
static inline int rcy_run_output_name(char *buf, size_t len, const char *output, const char *tag,
                                      long pid, bool first) {
    if (!output || !*output)
        return pid > 0 ? snprintf(buf, len, "recycle.%s.%ld.rcy", tag, pid)
                       : snprintf(buf, len, "recycle.%s.rcy", tag);
    if (first)
        return snprintf(buf, len, "%s", output);
    const char *slash = strrchr(output, '/');
    const char *dot = strrchr(output, '.');
    if (dot && (!slash || dot > slash + 1))
        return snprintf(buf, len, "%.*s.%s.%ld%s", (int)(dot - output), output, tag, pid, dot);
    return snprintf(buf, len, "%.*s.%s.%ld", (int)strlen(output), output, tag, pid);
}

#endif /* RECYCLE_TOOLS_RUN_CONTRACT_H */
