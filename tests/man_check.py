#!/usr/bin/env python3
"""tests/man_check.py — the man pages, `--help` and the code agree.

  man_check.py RECYCLE SOURCE_DIR

For the `recycle` command and each subcommand, three lists must be equal:
what docs/man/ documents, what `--help` prints, and what the program does:

  subcommands  recycle.1's SYNOPSIS and its man pages; the "Commands:" of
               `recycle --help`; the command table of tools/recycle.c, each
               answering `recycle X --help` with its usage;
  options      the SYNOPSIS and OPTIONS of recycle-X.1; the option lines of
               `recycle X --help`; the options the program accepts, found
               by trying every letter and every long name of the source's
               getopt tables and every "--name" string of tools/*.c
               (`recycle X OPT [VALUE] --help` prints the
               usage iff X takes OPT), with or without a value alike;
  exit codes   EXIT STATUS of recycle-X.1 and of recycle.1; the last
               paragraph of `recycle X --help`; for each code, a command
               line that must exit with it (PROVOKE below), and every
               CLI_* code of tools/cli.h is documented.

Environment: CLI_STATIC, a statically linked program (`recycle run` must
refuse it with 125).  Prints every disagreement, exits 1 if there is one.
"""
import os
import re
import string
import subprocess
import sys
import tempfile

OPT = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
REPORTS = ["top", "diff", "leaks", "stats", "plot", "export"]
VALUES = ["5", "lineno", "out.svg", "all"]  # one of these suits every option's value

problems = []


def problem(msg):
    problems.append(msg)


# ---- man pages ---------------------------------------------------------

def roff_text(line):
    """One roff line as plain text (macros' quoted arguments joined)."""
    line = line.replace("\\-", "-")
    m = re.match(r"^\.(B|I|BR|RB|IR|RI|BI|IB)\s+(.*)$", line)
    if m:
        args = [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', m.group(2))]
        # .B and .I join their arguments with spaces, .BR and the like alternate fonts
        line = (" " if len(m.group(1)) == 1 else "").join(args)
    elif line.startswith("."):
        return ""
    return re.sub(r"\\f[BIRP]", "", line)


def man_sections(path):
    """{SECTION: [raw lines]} of a man page."""
    sections, cur = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r'^\.SH\s+"?([^"]*)"?$', line)
            if m:
                cur = m.group(1).strip()
                sections[cur] = []
            elif cur:
                sections[cur].append(line)
    return sections


def options_in(text, opts):
    """Add to opts {option: takes_value} the options of a usage line or an
    option heading: a value follows an option after one space ("-n N",
    "[--by KEY]"); "-n, --frames N" gives -n the value of --frames."""
    for m in OPT.finditer(text):
        rest = text[m.end():]
        value = bool(re.match(r" [^\s\-\[\]|]", rest))
        opts[m.group(1)] = opts.get(m.group(1), False) or value
    for m in re.finditer(r"(?<![\w-])(-\w), (--[\w-]+)", text):
        v = opts[m.group(1)] or opts[m.group(2)]
        opts[m.group(1)] = opts[m.group(2)] = v
    return opts


def man_options(sections):
    """{option: takes_value}: the SYNOPSIS and the OPTIONS headings (the
    line after each .TP; prose that mentions an option does not count)."""
    opts = {}
    for raw in sections.get("SYNOPSIS", []):
        options_in(roff_text(raw), opts)
    lines = sections.get("OPTIONS", [])
    for i in range(1, len(lines)):
        if lines[i - 1].startswith(".TP"):
            options_in(roff_text(lines[i]), opts)
    return opts


def codes_in(text):
    """Exit codes named in a text: numbers, except 128 of "128+signal"."""
    return {int(n) for n in re.findall(r"(?<![\w.+])(\d+)(?![\w.+])", text)}


# ---- the program -------------------------------------------------------

def run(recycle, args, cwd):
    p = subprocess.run([recycle] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def help_options(text):
    """{option: takes_value}: the usage (first paragraph) and the option
    lines ("  -n, --frames N   ...") of a --help text."""
    opts = {}
    options_in(text.split("\n\n", 1)[0], opts)
    for m in re.finditer(r"^  +(-\w, --[\w-]+(?: [A-Z]+)?)", text, re.M):
        options_in(m.group(1), opts)
    return opts


def accepted_options(recycle, cmd, candidates, cwd):
    """{option: takes_value} the subcommand accepts, by trying each."""
    usage = "usage: recycle " + cmd
    found = {}
    for opt in candidates:
        rc, out, err = run(recycle, [cmd, opt, "--help"], cwd)
        if rc == 0 and out.startswith(usage):
            found[opt] = False
            continue
        if "unknown option" in err:
            continue
        for v in VALUES:
            rc, out, _ = run(recycle, [cmd, opt, v, "--help"], cwd)
            if rc == 0 and out.startswith(usage):
                found[opt] = True
                break
    return found


def compare(what, lists):
    """lists: {source: {option: takes_value}}; report every difference."""
    names = list(lists)
    union = set().union(*[set(d) for d in lists.values()])
    for o in sorted(union):
        missing = [n for n in names if o not in lists[n]]
        if missing:
            have = [n for n in names if o in lists[n]]
            problem("%s: %s is in %s but not in %s" % (what, o, ", ".join(have), ", ".join(missing)))
            continue
        vals = {n: lists[n][o] for n in names}
        if len(set(vals.values())) > 1:
            problem("%s: %s takes a value according to %s only" %
                    (what, o, ", ".join(n for n in names if vals[n])))


def main():
    recycle, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    mandir = os.path.join(src, "docs", "man")
    tools = os.path.join(src, "tools")
    tmp = tempfile.mkdtemp(prefix="rcy-man-")

    # -- subcommands
    main_man = man_sections(os.path.join(mandir, "recycle.1"))
    man_cmds = []
    for raw in main_man["SYNOPSIS"]:
        m = re.match(r"^\.B recycle (\w+)", raw)
        if m:
            man_cmds.append(m.group(1))
    pages = sorted(f[len("recycle-"):-2] for f in os.listdir(mandir)
                   if f.startswith("recycle-") and f.endswith(".1"))
    rc, main_help, _ = run(recycle, ["--help"], tmp)
    block = main_help.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    help_cmds = re.findall(r"^  (\w+)\s", block, re.M)
    with open(os.path.join(tools, "recycle.c"), encoding="utf-8") as f:
        code_cmds = re.findall(r'\{"(\w+)", cmd_\w+\}', f.read())
    for name, lst in [("recycle --help", help_cmds), ("tools/recycle.c", code_cmds),
                      ("docs/man/recycle-*.1", pages)]:
        if sorted(lst) != sorted(man_cmds):
            problem("subcommands: recycle.1 has %s, %s has %s" % (sorted(man_cmds), name, sorted(lst)))
    for c in code_cmds:
        rc, out, _ = run(recycle, [c, "--help"], tmp)
        if rc != 0 or not out.startswith("usage: recycle " + c):
            problem("recycle %s --help: exit %d, no usage line" % (c, rc))
    if run(recycle, ["no-such-command"], tmp)[0] != 2:
        problem("recycle no-such-command does not exit with 2")

    # -- options: every letter and every long name of the getopt tables
    longs = set()
    for f in os.listdir(tools):
        if f.endswith(".c"):
            with open(os.path.join(tools, f), encoding="utf-8") as fh:
                text = fh.read()
            longs |= set(re.findall(r'\{"([\w-]+)", (?:no|required|optional)_argument', text))
            longs |= set(re.findall(r'"--([A-Za-z][\w-]*)"', text))  # compared by hand
    candidates = ["-" + c for c in string.ascii_letters] + ["--" + n for n in sorted(longs)]

    main_code = {}
    for opt in candidates:
        if run(recycle, [opt], tmp)[0] == 0:
            main_code[opt] = False
    main_help_opts = {}
    for line in re.findall(r"^Options: (.*)$", main_help, re.M):
        options_in(line.replace("/", ", "), main_help_opts)
    main_man_opts = man_options({"OPTIONS": main_man.get("OPTIONS", [])})
    compare("recycle", {"recycle.1": main_man_opts, "recycle --help": main_help_opts,
                        "the program": main_code})

    synopsis_of = {}
    for raw in main_man["SYNOPSIS"] + [""]:
        m = re.match(r"^\.B recycle (\w+)", raw)
        if m:
            cur = m.group(1)
            synopsis_of[cur] = []
        elif raw.startswith(".br") or raw.startswith(".SH"):
            cur = None
        elif synopsis_of and cur:
            synopsis_of[cur].append(raw)

    man_codes = {}
    for c in code_cmds:
        page = os.path.join(mandir, "recycle-%s.1" % c)
        if not os.path.exists(page):
            continue
        sec = man_sections(page)
        man_opts = man_options(sec)
        _, h, _ = run(recycle, [c, "--help"], tmp)
        code = accepted_options(recycle, c, candidates, tmp)
        compare("recycle " + c, {"recycle-%s.1" % c: man_opts, "recycle %s --help" % c:
                                 help_options(h), "the program": code})
        for o in man_options({"SYNOPSIS": synopsis_of.get(c, [])}):
            if o not in code:
                problem("recycle.1's SYNOPSIS gives recycle %s %s, which it does not take" % (c, o))
        # exit codes: the man page's EXIT STATUS and the help's last paragraph
        man_codes[c] = codes_in(" ".join(roff_text(l) for l in sec.get("EXIT STATUS", [])))
        help_codes = codes_in(h.rstrip("\n").split("\n\n")[-1])
        if man_codes[c] != help_codes:
            problem("recycle %s: exit codes %s in its man page, %s in --help" %
                    (c, sorted(man_codes[c]), sorted(help_codes)))

    # recycle.1's EXIT STATUS: one .TP item for run, one for the reports
    items, cur = {}, None
    lines = main_man.get("EXIT STATUS", [])
    for i, raw in enumerate(lines):
        if raw.startswith(".TP") and i + 1 < len(lines):
            cur = roff_text(lines[i + 1]).strip()
            items[cur] = ""
        elif cur and not lines[i - 1].startswith(".TP"):
            items[cur] += " " + roff_text(raw)
    groups = {"recycle run": ["run"], "the reports": REPORTS}
    for title, cmds in groups.items():
        if title not in items:
            problem("recycle.1: EXIT STATUS has no item '%s'" % title)
            continue
        got = codes_in(items[title])
        for c in cmds:
            if c in man_codes and man_codes[c] != got:
                problem("recycle.1 gives exit codes %s for %s, recycle-%s.1 gives %s" %
                        (sorted(got), c, c, sorted(man_codes[c])))

    # every CLI_* exit code of tools/cli.h is documented where it applies
    with open(os.path.join(tools, "cli.h"), encoding="utf-8") as f:
        enum = f.read().split("enum", 1)[1].split("}", 1)[0]
    for name, val in re.findall(r"\b(CLI_\w+) = (\d+)", enum):
        cmds = ["run"] if name.startswith("CLI_RUN_") else REPORTS
        for c in cmds:
            if int(val) not in man_codes.get(c, set()):
                problem("%s (%s) of tools/cli.h is not documented for recycle %s" % (name, val, c))

    # and each documented code happens
    snap = os.path.join(tmp, "snap.rcy")
    rc, _, err = run(recycle, ["run", "-q", "-o", snap, "--", "true"], tmp)
    if rc != 0 or not os.path.exists(snap):
        problem("recycle run -- true: exit %d, no snapshot: %s" % (rc, err))
    plain = os.path.join(tmp, "not-executable")
    open(plain, "w").close()
    missing = os.path.join(tmp, "missing.rcy")
    static = os.environ.get("CLI_STATIC", "")
    provoke = {
        ("run", 2): ["run", "--no-such-option"],
        ("run", 125): ["run", "-q", "-o", os.path.join(tmp, "s.rcy"), "--", static],
        ("run", 126): ["run", "--", plain],
        ("run", 127): ["run", "--", "rcy-no-such-program"],
    }
    for c in REPORTS:
        files = [snap, snap] if c == "diff" else [snap]
        out = ["-o", os.path.join(tmp, "out.svg")] if c == "plot" else []
        provoke[(c, 0)] = [c] + files + out
        provoke[(c, 1)] = [c] + [missing] * len(files) + out
        provoke[(c, 2)] = [c, "--no-such-option"]
    for c, codes in sorted(man_codes.items()):
        for code in sorted(codes):
            args = provoke.get((c, code))
            if args is None:
                problem("recycle %s: exit code %d is documented; add a way to provoke it to "
                        "tests/man_check.py" % (c, code))
                continue
            rc, _, err = run(recycle, args, tmp)
            if rc != code:
                problem("recycle %s exits %d, expected %d (documented): %s" %
                        (" ".join(args), rc, code, err.strip()))

    for p in problems:
        print("man_check: " + p)
    if not problems:
        print("man_check: %d subcommands, their options and exit codes agree" % len(code_cmds))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
