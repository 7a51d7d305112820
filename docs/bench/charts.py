#!/usr/bin/env python3
"""docs/bench/charts.py OUTPUT.txt OUTDIR — SVG bar charts of the ratios
that `make bench` printed.

Reads the saved output of `make bench` (bench/run.sh): its first lines name
the machine and the date, each `=== NN-name ===` line starts a benchmark,
and every table row whose last field is a ratio such as `0.40x` becomes one
bar.  A table's title is the last line before its header that is not a
row; its header (the column names: recycle and its peers) is the line just
above its first row.  One SVG per benchmark section is written to OUTDIR
(NN-name.svg), each bar labelled with its row label and ratio, a rule at
1.0x, and the header, the machine and the date below.  Nothing is
computed but the bar lengths: every figure shown is one the run printed.
"""
import html
import os
import re
import sys

RATIO = re.compile(r"^(\d+(?:\.\d+)?)x$")
NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?%?$")
SECTION = re.compile(r"^=== (\S+) ===$")


def parse(text):
    machine, date = "", ""
    sections = []
    cur = None
    prev_lines = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("machine:") and not machine:
            machine = line[len("machine:"):].strip()
            continue
        if line.startswith("date:") and not date:
            date = line[len("date:"):].strip()
            continue
        m = SECTION.match(line)
        if m:
            cur = {"name": m.group(1), "tables": []}
            sections.append(cur)
            prev_lines = []
            continue
        if cur is None:
            continue
        fields = line.split()
        if len(fields) >= 3 and RATIO.match(fields[-1]):
            first_num = next((i for i, f in enumerate(fields) if NUMBER.match(f)), None)
            if first_num is None or first_num == 0:
                label = " ".join(fields[:-1]) if first_num is None else fields[0]
            else:
                label = " ".join(fields[:first_num])
            tables = cur["tables"]
            if not tables or tables[-1]["closed"]:
                header = prev_lines[-1].strip() if prev_lines else ""
                title = ""
                for p in reversed(prev_lines[:-1]):
                    if p.strip():
                        title = p.strip()
                        break
                tables.append({"title": title, "header": header, "rows": [],
                               "closed": False})
            tables[-1]["rows"].append((label, float(RATIO.match(fields[-1]).group(1)),
                                       fields[-1]))
        else:
            if cur["tables"]:
                cur["tables"][-1]["closed"] = True
            if line.strip():
                prev_lines.append(line)
    return machine, date, [s for s in sections if s["tables"]]


def esc(s):
    return html.escape(s, quote=True)


def svg(section, machine, date):
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
            color = "#2f7d32" if ratio <= 1.0 else "#c62828"
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
    body.append('<text x="10" y="%d" font-size="11" fill="#555">each bar: the ratio the '
                'run printed in the last column of its row; green at most 1.0x, red '
                'above</text>' % y)
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


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        machine, date, sections = parse(f.read())
    os.makedirs(argv[2], exist_ok=True)
    for s in sections:
        path = os.path.join(argv[2], s["name"] + ".svg")
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg(s, machine, date))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
