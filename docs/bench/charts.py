#!/usr/bin/env python3
"""docs/bench/charts.py OUTPUT.txt OUTDIR [REPORT.md] — SVG bar charts of
the ratios that `make bench` printed, and optionally the benchmark report
(docs/benchmarks.md): every section's output verbatim beside its chart.

Reads the saved output of `make bench` (bench/run.sh): its first lines name
the machine and the date, each `=== NN-name ===` line starts a benchmark
(a script re-run later, after its own machine/date lines, replaces it),
and every table row whose last field is a ratio such as `0.40x` gives one
bar per ratio in it (named by the header words above it when there are
several).  A table's header (the column names: recycle and its peers) is
the line just above its first row; its title opens the paragraph that
header ends (or is the benchmark's first line).  One SVG per benchmark section is written to OUTDIR
(NN-name.svg), each bar labelled with its row label and ratio, a rule at
1.0x, and the header, the machine and the date below.  Nothing is
computed but the bar lengths: every figure shown is one the run printed.
"""
import html
import os
import re
import sys

RATIO = re.compile(r"^\(?(\d+(?:\.\d+)?)x\)?$")
NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:/\d+(?:\.\d+)?)?%?$")
SECTION = re.compile(r"^=== (\S+) ===$")
TOKEN = re.compile(r"(\S+)")
SEGMENT = re.compile(r"\S+(?: \S+)*")


def column_name(header, row_tokens, k, ratio_idx):
    """The header text above the k-th token of a row.  First choice: the
    header segment (words joined by single spaces) that overlaps this token
    and no other ratio of the row.  Else the header words that end after
    the previous token and no later than this one (printf-aligned tables
    line a column's name up with its values)."""
    start, end = row_tokens[k][0], row_tokens[k][1]
    for m in SEGMENT.finditer(header):
        if m.start() < end and start < m.end():
            others = [j for j in ratio_idx if j != k and m.start() < row_tokens[j][1]
                      and row_tokens[j][0] < m.end()]
            if not others:
                return " ".join(w for w in m.group(0).split() if w != "(x)")
    lo = row_tokens[k - 1][1] if k > 0 else 0
    words = [m.group(1) for m in TOKEN.finditer(header)
             if lo < m.end() <= end + 1 and m.group(1) != "(x)"]
    return " ".join(words)


def parse(text):
    """Sections in order of first appearance; a section printed again by a
    later run (a later `machine:`/`date:` header) replaces the earlier one.
    Each section keeps its run's machine and date and its verbatim text."""
    machine, date = "", ""
    sections = {}
    cur = None
    prev_lines = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("machine:"):
            machine = line[len("machine:"):].strip()
            cur = None
            continue
        if line.startswith("date:"):
            date = line[len("date:"):].strip()
            cur = None
            continue
        m = SECTION.match(line)
        if m:
            cur = {"name": m.group(1), "tables": [], "machine": machine, "date": date,
                   "body": []}
            sections[m.group(1)] = cur
            prev_lines = []
            continue
        if cur is None:
            continue
        cur["body"].append(line)
        fields = line.split()
        toks = [(m.start(), m.end(), m.group(1)) for m in TOKEN.finditer(line)]
        # A ratio is a token like 0.40x or (0.40x); one after <= or >= is a
        # target, not a measurement.
        ratio_idx = [k for k, tk in enumerate(toks) if RATIO.match(tk[2])
                     and not (k > 0 and toks[k - 1][2] in ("<=", ">=", "<", ">"))]
        if len(fields) >= 3 and ratio_idx and not RATIO.match(fields[0]):
            # The label: the words before the trailing run of figures.
            figure = lambda f: (NUMBER.match(f) or RATIO.match(f)
                                or f in ("-", "<=", ">=", "<", ">"))
            first_num = len(fields)
            while first_num > 1 and figure(fields[first_num - 1]):
                first_num -= 1
            label = " ".join(fields[:first_num])
            if any(RATIO.match(f) for f in fields[:first_num]):
                continue  # a ratio inside the label: not a table row
            tables = cur["tables"]
            if not tables or tables[-1]["closed"]:
                nonblank = [p for p in prev_lines if p.strip()]
                header = nonblank[-1] if nonblank else ""
                # The title opens the paragraph that ends with the header;
                # a header that opens its own paragraph takes the
                # section's first line.
                i = len(prev_lines) - 1
                while i > 0 and prev_lines[i - 1].strip():
                    i -= 1
                title = prev_lines[i].strip() if i < len(prev_lines) - 1 else ""
                if not title and nonblank:
                    title = nonblank[0].strip()
                tables.append({"title": title, "header": header, "rows": [],
                               "closed": False,
                               "higher_better": bool(re.search(r"speedup", header)),
                               # slowdowns against a plain run: no better/worse
                               "neutral": not re.search(r"ratio|\bvs\b|speedup", header),
                               "charted": bool(re.search(r"ratio|\bvs\b|speedup|\(x\)",
                                                         header))})
            t = tables[-1]
            many = len(ratio_idx) > 1
            for k in ratio_idx:
                name = column_name(t["header"], toks, k, ratio_idx) if many else ""
                tok = toks[k][2]
                t["rows"].append((label + (" · " + name if name else ""),
                                  float(RATIO.match(tok).group(1)), tok))
        else:
            if cur["tables"]:
                cur["tables"][-1]["closed"] = True
            prev_lines.append(line)
    for sec in sections.values():
        sec["text"] = "\n".join(sec.pop("body")).strip("\n")
        sec["tables"] = [t for t in sec["tables"] if t["charted"] and t["rows"]]
    return sorted(sections.values(), key=lambda sec: sec["name"])


def esc(s):
    return html.escape(s, quote=True)


def svg(section):
    machine, date = section["machine"], section["date"]
    width, left, right = 860, 330, 90
    bar_h, gap = 18, 6
    plot_w = width - left - right
    top_max = max([r[1] for t in section["tables"] for r in t["rows"]] + [1.0])
    scale_max = top_max * 1.1
    out = []
    y = 30
    body = []
    body.append('<text x="10" y="20" font-size="16" font-weight="bold">%s</text>'
                % esc(section["name"]))
    for t in section["tables"]:
        y += 14
        if t["title"]:
            body.append('<text x="10" y="%d" font-size="13" font-weight="bold">%s</text>'
                        % (y, esc(t["title"])))
            y += 16
        if t["header"]:
            body.append('<text x="10" y="%d" font-size="11" fill="#555">columns: %s</text>'
                        % (y, esc(" ".join(t["header"].split()))))
            y += 10
        top = y
        for label, ratio, printed in t["rows"]:
            w = plot_w * ratio / scale_max
            good = ratio >= 1.0 if t["higher_better"] else ratio <= 1.0
            color = "#546e7a" if t["neutral"] else "#2f7d32" if good else "#c62828"
            body.append('<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>'
                        % (left - 8, y + 13, esc(label)))
            body.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                        % (left, y, max(w, 1.0), bar_h, color))
            body.append('<text x="%.1f" y="%d" font-size="12">%s</text>'
                        % (left + w + 4, y + 13, esc(printed)))
            y += bar_h + gap
        x1 = left + plot_w / scale_max
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" '
                    'stroke-dasharray="4,3"/>' % (x1, top - 4, x1, y - gap + 4))
        body.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">1.0x</text>'
                    % (x1, y + 8))
        y += 14
    y += 8
    body.append('<text x="10" y="%d" font-size="11" fill="#555">each bar: a ratio the run '
                'printed (its row, and its column when a row has several); green: '
                'recycle better (ratio at most 1.0x, or at least 1.0x for a speedup); '
                'gray: a slowdown against the plain run</text>' % y)
    y += 14
    body.append('<text x="10" y="%d" font-size="11" fill="#555">machine: %s; %s</text>'
                % (y, esc(machine), esc(date)))
    y += 12
    out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
               'font-family="sans-serif">' % (width, y))
    out.append('<rect width="100%" height="100%" fill="#fff"/>')
    out.extend(body)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report(sections, outdir, md_path, source):
    rel = os.path.relpath(outdir, os.path.dirname(os.path.abspath(md_path)))
    src_rel = os.path.relpath(source, os.path.dirname(os.path.abspath(md_path)))
    runs = sorted({(s["machine"], s["date"]) for s in sections}, key=lambda r: r[1])
    lines = [
        "# Benchmarks",
        "",
        "Every figure on this page was printed by `make bench` (`bench/run.sh`,",
        "which runs each `bench/run.d/*.sh` in order) or by one of those scripts",
        "run on its own the same way; nothing was edited or added.  Each",
        "benchmark measures recycle and its peers side by side in the same run",
        "and prints the ratio (recycle / peer unless its table says otherwise);",
        "the peers are the columns of each table.  The raw output is",
        "[%s](%s); the charts are drawn from it by `docs/bench/charts.py` (one"
        % (os.path.basename(source), src_rel),
        "bar per printed ratio; the dashed rule is 1.0x).",
        "",
        "Runs (machine, date):",
        "",
    ]
    for machine, date in runs:
        names = ", ".join(s["name"] for s in sections if (s["machine"], s["date"]) == (machine, date))
        lines.append("- %s, %s: %s" % (machine or "machine not printed", date or "date not printed",
                                       names))
    lines += [
        "",
        "The machine was shared with other jobs while the benchmarks ran, so",
        "wall-clock figures carry noise: the scripts print medians of several",
        "runs, CPU time where they say so, and instruction counts (callgrind)",
        "where they give them.",
        "",
        "To reproduce: `make bench | sed -n '/^machine:/,$p' > out.txt`, then",
        "`python3 docs/bench/charts.py out.txt docs/bench docs/benchmarks.md`.",
        "",
    ]
    for sec in sections:
        lines.append("## %s" % sec["name"])
        lines.append("")
        lines.append("Measured on %s, %s." % (sec["machine"] or "a machine not printed",
                                               sec["date"] or "date not printed"))
        lines.append("")
        if sec["tables"]:
            lines.append("![%s](%s/%s.svg)" % (sec["name"], rel, sec["name"]))
            lines.append("")
        lines.append("```text")
        lines.append(sec["text"] if sec["text"] else "(no output)")
        lines.append("```")
        lines.append("")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        text = f.read()
    sections = parse(text)
    os.makedirs(argv[2], exist_ok=True)
    for s in sections:
        if not s["tables"]:
            continue
        path = os.path.join(argv[2], s["name"] + ".svg")
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg(s))
        print(path)
    if len(argv) == 4:
        report(sections, argv[2], argv[3], argv[1])
        print(argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
