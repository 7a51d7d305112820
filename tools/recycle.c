/* tools/recycle.c — the `recycle` command: dispatch to the subcommands and
 * the helpers they share.  It uses only the public API of <recycle.h>. */
#define _GNU_SOURCE
#include "cli.h"

#include <string.h>

static const char main_usage[] =
    "usage: recycle COMMAND [ARGS...]\n"
    "\n"
    "Trace every allocation of a program and report it the way Python's\n"
    "tracemalloc does.\n"
    "\n"
    "Commands:\n"
    "  run    run a program with malloc traced, write a snapshot file\n"
    "  top    the lines (files, call stacks) holding the most memory\n"
    "  diff   what grew or shrank between two snapshot files\n"
    "  leaks  blocks lost at exit (definitely, then indirectly), by call stack\n"
    "  stats  totals, allocation count, peak and a size histogram\n"
    "  plot   memory over time as SVG, or a full HTML report\n"
    "  export call stacks for flamegraph.pl, speedscope or go tool pprof\n"
    "\n"
    "`recycle COMMAND --help` describes each one; `man recycle` too.\n"
    "Options: -h/--help, -V/--version.\n";

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {{"run", cmd_run},      {"top", cmd_top},     {"diff", cmd_diff},
                {"leaks", cmd_leaks},  {"stats", cmd_stats}, {"plot", cmd_plot},
                {"export", cmd_export}};

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(main_usage, stderr);
        return CLI_EUSAGE;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            /* `recycle help top` == `recycle top --help` */
            char *hargv[] = {argv[2], (char *)"--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(argv[2], commands[i].name) == 0)
                    return commands[i].fn(2, hargv);
            cli_error("unknown command '%s'", argv[2]);
            return CLI_EUSAGE;
        }
        fputs(main_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("recycle %s\n", RCY_VERSION_STRING);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            static char prog[32];
            snprintf(prog, sizeof prog, "recycle %s", commands[i].name);
            cli_prog = prog;
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    cli_error("unknown command '%s' (try recycle --help)", argv[1]);
    return CLI_EUSAGE;
}
