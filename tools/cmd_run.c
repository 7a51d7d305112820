/* tools/cmd_run.c — `recycle run [-n FRAMES] [-o FILE] [--interval MS] --
 * PROGRAM ARGS...`: run an unmodified program with librecycle-preload.so.
 *
 * recycle forks, the child execs the program with LD_PRELOAD and the
 * RCY_RUN_* variables (tools/preload.c reads them), and the parent waits.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RCY_PRELOAD_NAME
#define RCY_PRELOAD_NAME "librecycle-preload.so"
#endif

static const char run_usage[] =
    "usage: recycle run [-n FRAMES] [-o FILE] [--interval MS] [-q] -- PROGRAM [ARGS...]\n"
    "\n"
    "Run PROGRAM (dynamically linked, unmodified) with every malloc, calloc,\n"
    "realloc, reallocarray, free, posix_memalign, aligned_alloc, memalign,\n"
    "valloc and pvalloc traced, and write a snapshot file when it exits.\n"
    "\n"
    "  -n, --frames N     frames kept per traceback, 1..65535 (default 16)\n"
    "  -o, --output FILE  snapshot file (default recycle.PID.rcy); processes\n"
    "                     the program forks write FILE with .PID inserted\n"
    "  -i, --interval MS  timeline sampling interval in ms, 0 = none (default 10)\n"
    "  -q, --quiet        do not print where the snapshot went\n"
    "  -h, --help         this help\n"
    "\n"
    "The program's output, exit status and signals pass through: recycle run\n"
    "exits with the program's status, or is killed by the same signal.\n"
    "Its own failures: 125 (recycle failed, or the program is statically\n"
    "linked), 126 (cannot execute), 127 (not found), 2 (bad usage).\n";

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

/* Name the files the program's other processes wrote: main.PID.ext (or
 * main.PID without an extension) in the same directory, written since the
 * run started. */
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
        size_t digits = len - slen - 1 - elen;
        if (strspn(name + slen + 1, "0123456789") != digits)
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

int cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"frames", required_argument, NULL, 'n'},   {"output", required_argument, NULL, 'o'},
        {"interval", required_argument, NULL, 'i'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    long frames = 16, interval = 10;
    const char *output = NULL;
    bool quiet = false;
    int c;
    optind = 1;
    opterr = 0;
    /* "+": stop at the first non-option, so PROGRAM's options stay its own. */
    while ((c = getopt_long(argc, argv, "+n:o:i:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_parse_long(optarg, 1, 65535, &frames)) {
                cli_error("--frames: expected a number from 1 to 65535, got '%s'", optarg);
                return CLI_EUSAGE;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'i':
            if (!cli_parse_long(optarg, 0, 3600000, &interval)) {
                cli_error("--interval: expected milliseconds from 0 to 3600000, got '%s'", optarg);
                return CLI_EUSAGE;
            }
            break;
        case 'q':
            quiet = true;
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
    char **prog_argv = argv + optind;

    char path[PATH_MAX], final[PATH_MAX];
    int err;
    if (!cli_find_program(prog_argv[0], path, sizeof path, &err)) {
        cli_error("%s: %s", prog_argv[0], err == ENOENT ? "command not found" : strerror(err));
        return err == ENOENT ? CLI_RUN_ENOTFOUND : CLI_RUN_ENOEXEC;
    }
    switch (cli_elf_check_program(path, final, sizeof final)) {
    case CLI_ELF_DYNAMIC:
        break;
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

    char preload[PATH_MAX];
    if (!find_preload(preload, sizeof preload))
        return CLI_RUN_EFAIL;

    /* The output path, made absolute: the program may chdir. */
    char outabs[PATH_MAX + 32];
    outabs[0] = 0;
    if (output) {
        if (output[0] == '/') {
            snprintf(outabs, sizeof outabs, "%s", output);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd)) {
                cli_error("cannot get the current directory: %s", strerror(errno));
                return CLI_RUN_EFAIL;
            }
            snprintf(outabs, sizeof outabs, "%s/%s", cwd, output);
        }
    }

    char start[32];
    snprintf(start, sizeof start, "%llu", (unsigned long long)mono_ns());
    time_t start_sec = time(NULL);
    fflush(NULL);

    /* Signals: ignore the terminal's, forward the rest, as a shell's
     * foreground job would see them. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward_signal};
    struct sigaction old_int, old_quit;
    sigemptyset(&fwd.sa_mask);
    fwd.sa_flags = SA_RESTART;
    static const int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCONT};
    struct sigaction old_fwd[sizeof forwarded / sizeof forwarded[0]];
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &fwd, &old_fwd[i]);

    child_pid = fork();
    if (child_pid < 0) {
        cli_error("fork: %s", strerror(errno));
        return CLI_RUN_EFAIL;
    }
    if (child_pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
            sigaction(forwarded[i], &old_fwd[i], NULL);
        char buf[PATH_MAX * 2 + 64], num[32];
        const char *old = getenv("LD_PRELOAD");
        if (old && *old)
            snprintf(buf, sizeof buf, "%s:%s", preload, old);
        else
            snprintf(buf, sizeof buf, "%s", preload);
        set_env_or_die("LD_PRELOAD", buf);
        set_env_or_die("RCY_RUN_PRELOAD", preload);
        if (outabs[0]) {
            set_env_or_die("RCY_RUN_OUTPUT", outabs);
        } else {
            char cwd[PATH_MAX];
            if (getcwd(cwd, sizeof cwd))
                snprintf(buf, sizeof buf, "%s/recycle.%ld.rcy", cwd, (long)getpid());
            else
                snprintf(buf, sizeof buf, "recycle.%ld.rcy", (long)getpid());
            set_env_or_die("RCY_RUN_OUTPUT", buf);
        }
        snprintf(num, sizeof num, "%ld", (long)getpid());
        set_env_or_die("RCY_RUN_MAIN_PID", num);
        snprintf(num, sizeof num, "%ld", frames);
        set_env_or_die("RCY_RUN_FRAMES", num);
        snprintf(num, sizeof num, "%ld", interval);
        set_env_or_die("RCY_RUN_INTERVAL_MS", num);
        set_env_or_die("RCY_RUN_START_NS", start);
        execv(path, prog_argv);
        int e = errno;
        fprintf(stderr, "recycle run: %s: %s\n", prog_argv[0], strerror(e));
        _exit(e == ENOENT ? CLI_RUN_ENOTFOUND : CLI_RUN_ENOEXEC);
    }

    int status;
    while (waitpid(child_pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cli_error("waitpid: %s", strerror(errno));
            return CLI_RUN_EFAIL;
        }
    }
    pid_t pid = child_pid; /* names the default output file */
    child_pid = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &old_fwd[i], NULL);

    /* Where did the snapshot go? */
    char written[PATH_MAX + 64];
    if (outabs[0])
        snprintf(written, sizeof written, "%s", output);
    else
        snprintf(written, sizeof written, "recycle.%ld.rcy", (long)pid);
    struct stat st;
    bool launched = !(WIFEXITED(status) && (WEXITSTATUS(status) == CLI_RUN_ENOEXEC ||
                                            WEXITSTATUS(status) == CLI_RUN_ENOTFOUND));
    if (stat(outabs[0] ? outabs : written, &st) != 0) {
        if (launched && WIFSIGNALED(status))
            cli_error("%s was killed by signal %d (%s) before it could write %s", prog_argv[0],
                      WTERMSIG(status), strsignal(WTERMSIG(status)), written);
        else if (launched)
            cli_error("%s exited without writing %s", prog_argv[0], written);
    } else if (!quiet && isatty(STDERR_FILENO)) {
        fprintf(stderr, "recycle: wrote %s\n", written);
    }
    if (!quiet && isatty(STDERR_FILENO))
        list_child_files(written, start_sec);

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
