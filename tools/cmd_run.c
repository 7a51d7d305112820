/* tools/cmd_run.c — `recycle run [-n FRAMES] [-o FILE] [--interval MS] --
 * PROGRAM ARGS...`: run an unmodified program with librecycle-preload.so.
 *
 * recycle forks, the child execs the program with LD_PRELOAD and the
 * RCY_RUN_* variables (tools/run_contract.h; the preload library reads
 * them), and the parent waits.
 * The program keeps the terminal, stdin, stdout and stderr; recycle exits
 * with its status, or dies of the same signal.  While waiting, the parent
 * ignores SIGINT and SIGQUIT (the terminal sends them to the child too) and
 * passes SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 and SIGALRM on to the child. */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RCY_PRELOAD_NAME
#define RCY_PRELOAD_NAME "librecycle-preload.so"
#endif

static const char run_usage[] =
    "usage: recycle run [-n FRAMES] [-o FILE] [--interval MS] [--no-follow]\n"
    "                   [--python-malloc] [-q] -- PROGRAM [ARGS...]\n"
    "\n"
    "Run PROGRAM (dynamically linked, unmodified) with every malloc, calloc,\n"
    "realloc, reallocarray, free, posix_memalign, aligned_alloc, memalign,\n"
    "valloc and pvalloc traced, and write a snapshot file when it exits.\n"
    "\n"
    "  -n, --frames N     frames kept per traceback, 1..65535 (default 16)\n"
    "  -o, --output FILE  snapshot file (default recycle.PROGRAM.PID.rcy);\n"
    "                     processes the program starts write FILE with\n"
    "                     .PROGRAM.PID inserted (out.sh.1234.rcy)\n"
    "  -i, --interval MS  timeline sampling interval in ms, 0 = none (default 10)\n"
    "      --no-follow    trace only the process recycle starts (and the\n"
    "                     programs it execs), not the processes it forks\n"
    "      --python-malloc\n"
    "                     set PYTHONMALLOC=malloc for the program: CPython\n"
    "                     then allocates every object with malloc, traced\n"
    "                     (pymalloc's objects are invisible otherwise)\n"
    "  -q, --quiet        do not print where the snapshot went\n"
    "  -h, --help         this help\n"
    "\n"
    "The program's output, exit status and signals pass through: recycle run\n"
    "exits with the program's status, or is killed by the same signal.\n"
    "Its own failures: 2 (bad usage), 125 (recycle failed: the program is\n"
    "statically linked, the output cannot be written, or no snapshot was\n"
    "written by a program that succeeded), 126 (cannot execute), 127 (not\n"
    "found).  The output is checked before the program starts.\n";

static pid_t child_pid;

static void forward_signal(int sig) {
    if (child_pid > 0)
        kill(child_pid, sig);
}

/* The preload library: $RCY_PRELOAD_LIB, next to this executable, in
 * ../lib/recycle/ (the install layout), or the install path. */
static bool find_preload(char *out, size_t len) {
    const char *env = getenv("RCY_PRELOAD_LIB");
    if (env && *env) {
        if (realpath(env, out) && access(out, R_OK) == 0)
            return true;
        cli_error("RCY_PRELOAD_LIB=%s: no such library", env);
        return false;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            char cand[PATH_MAX + 64];
            const char *rel[] = {"/" RCY_PRELOAD_NAME, "/../lib/recycle/" RCY_PRELOAD_NAME,
                                 "/../lib64/recycle/" RCY_PRELOAD_NAME};
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                snprintf(cand, sizeof cand, "%s%s", self, rel[i]);
                if (access(cand, R_OK) == 0 && realpath(cand, out))
                    return true;
            }
        }
    }
#ifdef RCY_PRELOAD_INSTALL_PATH
    if (access(RCY_PRELOAD_INSTALL_PATH, R_OK) == 0) {
        snprintf(out, len, "%s", RCY_PRELOAD_INSTALL_PATH);
        return true;
    }
#endif
    cli_error("cannot find %s (set RCY_PRELOAD_LIB to its path)", RCY_PRELOAD_NAME);
    return false;
}

/* Name the files the program's other processes wrote: main.TAG.PID.ext
 * (or main.TAG.PID without an extension) in the same directory, written
 * since the run started. */
static void list_child_files(const char *main_path, time_t since) {
    char dir[PATH_MAX + 64], stem[PATH_MAX + 64], ext[64] = "";
    const char *slash = strrchr(main_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - main_path) : 1,
             slash ? main_path : ".");
    if (slash && slash == main_path)
        snprintf(dir, sizeof dir, "/");
    snprintf(stem, sizeof stem, "%s", slash ? slash + 1 : main_path);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem && strlen(dot) < sizeof ext) {
        snprintf(ext, sizeof ext, "%s", dot);
        *dot = 0;
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t n = 0, slen = strlen(stem), elen = strlen(ext);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (len <= slen + 1 + elen || strncmp(name, stem, slen) != 0 || name[slen] != '.' ||
            strcmp(name + len - elen, ext) != 0)
            continue;
        /* ".TAG.PID" between the stem and the extension */
        const char *mid = name + slen + 1, *end = name + len - elen;
        const char *pid = end;
        while (pid > mid && pid[-1] >= '0' && pid[-1] <= '9')
            pid--;
        if (pid == end || pid - mid < 2 || pid[-1] != '.')
            continue;
        char path[PATH_MAX + 384];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (stat(path, &st) != 0 || st.st_mtime < since)
            continue;
        if (n++ < 8)
            fprintf(stderr, "recycle: a child process wrote %s\n", path);
    }
    closedir(d);
    if (n > 8)
        fprintf(stderr, "recycle: ... and %zu more files of child processes\n", n - 8);
}

typedef struct run_opts {
    long frames, interval;
    const char *output;
    bool quiet, follow, python_malloc;
    char **prog_argv;
} run_opts;

/* -1 to go on, else the exit code. */
static int parse_run_opts(int argc, char **argv, run_opts *o) {
    enum { OPT_NO_FOLLOW = 256, OPT_PYTHON_MALLOC };
    static const struct option opts[] = {{"frames", required_argument, NULL, 'n'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"no-follow", no_argument, NULL, OPT_NO_FOLLOW},
                                         {"python-malloc", no_argument, NULL, OPT_PYTHON_MALLOC},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    /* "+": stop at the first non-option, so PROGRAM's options stay its own. */
    while ((c = getopt_long(argc, argv, "+n:o:i:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_long(optarg, RCY_RUN_FRAMES_MIN, RCY_RUN_FRAMES_MAX, &o->frames)) {
                cli_error("--frames: expected a number from 1 to 65535, got '%s'", optarg);
                return CLI_EUSAGE;
            }
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'i':
            if (!cli_parse_long(optarg, 0, RCY_RUN_INTERVAL_MS_MAX, &o->interval)) {
                cli_error("--interval: expected milliseconds from 0 to 3600000, got '%s'", optarg);
                return CLI_EUSAGE;
            }
            break;
        case OPT_NO_FOLLOW:
            o->follow = false;
            break;
        case OPT_PYTHON_MALLOC:
            o->python_malloc = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return CLI_OK;
        default:
            return cli_bad_option(argv);
        }
    }
    if (optind >= argc) {
        cli_error("no program given (usage: recycle run [OPTIONS] -- PROGRAM [ARGS...])");
        return CLI_EUSAGE;
    }
    o->prog_argv = argv + optind;
    return -1;
}

/* The program's path through PATH and the executable that will really run
 * (a script's interpreter); -1 to go on, else the exit code. */
static int check_program(const char *prog, char *path, char *final, size_t len) {
    int err;
    if (!cli_find_program(prog, path, len, &err)) {
        cli_error("%s: %s", prog, err == ENOENT ? "command not found" : strerror(err));
        return err == ENOENT ? CLI_RUN_ENOTFOUND : CLI_RUN_ENOEXEC;
    }
    switch (cli_elf_check_program(path, final, len)) {
    case CLI_ELF_DYNAMIC:
        return -1;
    case CLI_ELF_STATIC:
        cli_error("%s is statically linked: there is no malloc to hook (LD_PRELOAD needs a "
                  "dynamically linked program)",
                  final);
        return CLI_RUN_EFAIL;
    case CLI_ELF_NOT_ELF:
        cli_error("%s is not an ELF executable", final);
        return CLI_RUN_ENOEXEC;
    default:
        cli_error("%s: cannot read the executable", final);
        return CLI_RUN_ENOEXEC;
    }
}

/* Why the dynamic loader will ignore LD_PRELOAD for `exe` (it runs in
 * secure-execution mode when the exec changes our user or group, or
 * grants capabilities), or NULL. */
static const char *secure_exec_reason(const char *exe) {
    struct stat st;
    struct statvfs fs;
    if (stat(exe, &st) != 0 || (statvfs(exe, &fs) == 0 && (fs.f_flag & ST_NOSUID)))
        return NULL;
    if ((st.st_mode & S_ISUID) && st.st_uid != geteuid())
        return "it is set-user-ID";
    if ((st.st_mode & S_ISGID) && st.st_gid != getegid())
        return "it is set-group-ID";
    if (geteuid() != 0 && getxattr(exe, "security.capability", NULL, 0) > 0)
        return "it has file capabilities";
    return NULL;
}

/* The absolute output path (the program may chdir): run_contract.h's
 * name for the first process; for the default name, the pid is filled in
 * after the fork (pid > 0).  False on failure. */
static bool output_path(const run_opts *o, const char *tag, pid_t pid, char *out, size_t len) {
    char name[PATH_MAX + 64], cwd[PATH_MAX];
    rcy_run_output_name(name, sizeof name, o->output, tag, (long)pid, true);
    if (name[0] == '/') {
        snprintf(out, len, "%s", name);
        return true;
    }
    if (!getcwd(cwd, sizeof cwd)) {
        cli_error("cannot get the current directory: %s", strerror(errno));
        return false;
    }
    snprintf(out, len, "%s/%s", cwd, name);
    return true;
}

/* Can the snapshot be written where it is asked for?  Checked before the
 * program runs: a run that cannot save its result should not start. */
static bool check_output(const run_opts *o, const char *tag) {
    char path[PATH_MAX + 64];
    if (!output_path(o, tag, 0, path, sizeof path))
        return false;
    errno = 0;
    int e = rcy_file_check(path);
    if (e == RCY_OK)
        return true;
    const char *shown = o->output ? o->output : ".";
    cli_error("cannot write the snapshot to %s: %s", shown,
              e == RCY_EIO ? strerror(errno ? errno : EIO) : rcy_strerror(e));
    return false;
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_env_or_die(const char *name, const char *value) {
    if (setenv(name, value, 1) != 0) {
        fprintf(stderr, "recycle run: setenv %s: %s\n", name, strerror(errno));
        _exit(CLI_RUN_EFAIL);
    }
}

/* In the forked child: the environment of the preload library, then exec. */
static void exec_traced(const run_opts *o, const char *path, const char *preload, const char *tag,
                        const char *start) {
    char buf[PATH_MAX * 2 + 64], num[32];
    const char *old = getenv("LD_PRELOAD");
    if (old && *old)
        snprintf(buf, sizeof buf, "%s:%s", preload, old);
    else
        snprintf(buf, sizeof buf, "%s", preload);
    set_env_or_die("LD_PRELOAD", buf);
    set_env_or_die(RCY_RUN_PRELOAD, preload);
    if (!output_path(o, tag, getpid(), buf, sizeof buf))
        _exit(CLI_RUN_EFAIL);
    set_env_or_die(RCY_RUN_OUTPUT, buf);
    snprintf(num, sizeof num, "%ld", (long)getpid());
    set_env_or_die(RCY_RUN_MAIN_PID, num);
    snprintf(num, sizeof num, "%ld", o->frames);
    set_env_or_die(RCY_RUN_FRAMES, num);
    snprintf(num, sizeof num, "%ld", o->interval);
    set_env_or_die(RCY_RUN_INTERVAL_MS, num);
    set_env_or_die(RCY_RUN_START_NS, start);
    set_env_or_die(RCY_RUN_FOLLOW, o->follow ? "1" : "0");
    if (o->python_malloc)
        set_env_or_die("PYTHONMALLOC", "malloc");
    execv(path, o->prog_argv);
    int e = errno;
    fprintf(stderr, "recycle run: %s: %s\n", o->prog_argv[0], strerror(e));
    _exit(e == ENOENT ? CLI_RUN_ENOTFOUND : CLI_RUN_ENOEXEC);
}

/* Signals while the program runs: ignore the terminal's, forward the rest,
 * as a shell's foreground job would see them. */
static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};
typedef struct saved_signals {
    struct sigaction intr, quit, fwd[sizeof forwarded / sizeof forwarded[0]];
} saved_signals;

static void signals_take(saved_signals *old) {
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward_signal};
    sigemptyset(&fwd.sa_mask);
    fwd.sa_flags = SA_RESTART;
    sigaction(SIGINT, &ign, &old->intr);
    sigaction(SIGQUIT, &ign, &old->quit);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &fwd, &old->fwd[i]);
}

static void signals_restore(const saved_signals *old) {
    sigaction(SIGINT, &old->intr, NULL);
    sigaction(SIGQUIT, &old->quit, NULL);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &old->fwd[i], NULL);
}

/* recycle's exit: the program's status or its signal. */
static int pass_status(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        /* Die the same way, without a core file of our own. */
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        fflush(NULL);
        signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        return 128 + sig;
    }
    return CLI_RUN_EFAIL;
}

/* After the program: say where the snapshot went, or why there is none.
 * True when it was written. */
static bool report_output(const run_opts *o, const char *path, const char *shown, int status,
                          const char *secure, time_t since) {
    const char *prog = o->prog_argv[0];
    struct stat st;
    bool launched = !(WIFEXITED(status) && (WEXITSTATUS(status) == CLI_RUN_ENOEXEC ||
                                            WEXITSTATUS(status) == CLI_RUN_ENOTFOUND));
    /* A device or FIFO written through keeps no trace of it: trust it. */
    bool written = stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_mtime >= since);
    if (written) {
        if (!o->quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "recycle: wrote %s\n", shown);
    } else if (!launched) {
        /* the exec failed: the child said why */
    } else if (secure) {
        cli_error("%s exited without writing %s: %s, so the dynamic loader ignored LD_PRELOAD "
                  "(trace it as the user it runs as)",
                  prog, shown, secure);
    } else if (WIFSIGNALED(status)) {
        cli_error("%s was killed by signal %d (%s) before it could write %s", prog,
                  WTERMSIG(status), strsignal(WTERMSIG(status)), shown);
    } else {
        cli_error("%s exited without writing %s", prog, shown);
    }
    if (!o->quiet && isatty(STDERR_FILENO))
        list_child_files(shown, since);
    return written || !launched;
}

/* The run itself: fork, exec the program traced in the child, wait for
 * it with the terminal's signals ignored and the others passed on.  Its
 * pid and wait status; -1 to go on, else the exit code. */
static int run_traced(const run_opts *o, const char *path, const char *preload, const char *tag,
                      pid_t *pid, int *status) {
    char start[32];
    snprintf(start, sizeof start, "%llu", (unsigned long long)mono_ns());
    fflush(NULL);
    saved_signals old;
    signals_take(&old);
    child_pid = fork();
    if (child_pid < 0) {
        cli_error("fork: %s", strerror(errno));
        signals_restore(&old);
        return CLI_RUN_EFAIL;
    }
    if (child_pid == 0) {
        signals_restore(&old);
        exec_traced(o, path, preload, tag, start);
    }
    while (waitpid(child_pid, status, 0) < 0) {
        if (errno != EINTR) {
            cli_error("waitpid: %s", strerror(errno));
            return CLI_RUN_EFAIL;
        }
    }
    *pid = child_pid; /* names the default output file */
    child_pid = 0;
    signals_restore(&old);
    return -1;
}

int cmd_run(int argc, char **argv) {
    run_opts o = {.frames = RCY_RUN_FRAMES_DEFAULT,
                  .interval = RCY_RUN_INTERVAL_MS_DEFAULT,
                  .follow = RCY_RUN_FOLLOW_DEFAULT};
    int rc = parse_run_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char path[PATH_MAX], final[PATH_MAX], preload[PATH_MAX], tag[64];
    rc = check_program(o.prog_argv[0], path, final, sizeof path);
    if (rc >= 0)
        return rc;
    if (!find_preload(preload, sizeof preload))
        return CLI_RUN_EFAIL;
    cli_program_tag(o.prog_argv[0], tag, sizeof tag);
    if (!check_output(&o, tag))
        return CLI_RUN_EFAIL;
    const char *secure = secure_exec_reason(final);
    if (secure)
        cli_error("warning: %s: %s, so the dynamic loader will ignore LD_PRELOAD and nothing "
                  "will be traced",
                  final, secure);

    /* a written file's mtime is at least this (whole seconds, floor) */
    time_t start_sec = time(NULL) - 1;
    pid_t pid;
    int status;
    rc = run_traced(&o, path, preload, tag, &pid, &status);
    if (rc >= 0)
        return rc;

    char outabs[PATH_MAX + 64], shown[PATH_MAX + 64];
    if (!output_path(&o, tag, pid, outabs, sizeof outabs))
        return CLI_RUN_EFAIL;
    rcy_run_output_name(shown, sizeof shown, o.output, tag, (long)pid, true);
    bool written = report_output(&o, outabs, shown, status, secure, start_sec);
    /* A run that saved nothing never looks like a success. */
    if (!written && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return CLI_RUN_EFAIL;
    return pass_status(status);
}
