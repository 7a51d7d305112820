// The report page of `recycle plot FILE -o OUT.html`.  The data is a JSON
// block the recycle command writes into the page; everything here runs
// offline.
import { select } from "d3-selection";
import flamegraph from "d3-flame-graph";
import uPlot from "uplot";
import { chooseUnit, formatIn, placeLabel } from "./chart.mjs";
import { bottomUp, callTree, callers, flameData, matcher, metricIndex, searchTotal, total } from "./stacks.mjs";

const data = JSON.parse(document.getElementById("recycle-data").textContent);

function formatSize(n) {
  // Python's tracemalloc._format_size, without the sign.
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = n;
  for (const unit of units) {
    if (Math.abs(size) < 100 && unit !== "B") return size.toFixed(1) + " " + unit;
    if (Math.abs(size) < 10 * 1024 || unit === "TiB") return Math.round(size) + " " + unit;
    size /= 1024;
  }
  return String(n);
}

function text(el, s) {
  el.textContent = s;
  return el;
}

function summary() {
  document.title = data.title || "recycle report";
  text(document.getElementById("title"), data.title || "recycle report");
  const dl = document.getElementById("summary");
  for (const [k, v] of data.summary || []) {
    dl.appendChild(text(document.createElement("dt"), k));
    dl.appendChild(text(document.createElement("dd"), v));
  }
}

// The curves as drawn, in canvas pixels, for placing notes clear of them.
function drawnCurves(u, series) {
  const xs = u.data[0];
  const step = Math.max(1, Math.floor(xs.length / 2000));
  return series.map((k) => {
    const pts = [];
    for (let i = 0; i < xs.length; i += step) pts.push([u.valToPos(xs[i], "x", true), u.valToPos(u.data[k][i], "y", true)]);
    return pts;
  });
}

function timeline() {
  const el = document.getElementById("timeline");
  const t = data.timeline;
  if (!t || t.t.length === 0) {
    el.appendChild(text(document.createElement("p"), "No timeline samples in this file.")).className = "empty";
    return;
  }
  // One unit for the axis, the legend and the peak note, from the largest value.
  const rss = Array.isArray(t.rss) && t.rss.some((v) => v > 0);
  let max = data.peak ? data.peak.bytes : 0;
  for (const a of [t.current, t.peak, rss ? t.rss : []]) for (const v of a) if (v > max) max = v;
  const unit = chooseUnit(max);
  const scaled = (a) => a.map((b) => b / unit.scale);
  const value = (u, v) => (v == null ? "-" : formatIn(unit, v * unit.scale));
  const width = Math.max(400, el.clientWidth || 1100);
  const series = [
    { label: "t (s)", value: (u, v) => (v == null ? "-" : v.toFixed(3)) },
    { label: "current", stroke: "#1f77b4", width: 2, fill: "rgba(31,119,180,0.12)", value },
    { label: "peak", stroke: "#d62728", width: 1, dash: [6, 4], value },
  ];
  const columns = [t.t, scaled(t.current), scaled(t.peak)];
  if (rss) {
    // the resident set beside traced memory: the gap is what tracing cannot see
    series.push({ label: "RSS", stroke: "#2ca02c", width: 1.5, value });
    columns.push(scaled(t.rss));
  }
  const opts = {
    width: width,
    height: 320,
    scales: { x: { time: false } },
    axes: [
      { label: "time (s)" },
      { label: (rss ? "memory" : "traced memory") + " (" + unit.name + ")", size: 70,
        values: (u, v) => v.map((x) => x.toFixed(x < 10 ? 2 : 1)) },
    ],
    series,
    hooks: {
      draw: [
        (u) => {
          if (!data.peak) return;
          const ctx = u.ctx;
          const dpr = devicePixelRatio;
          const x = u.valToPos(data.peak.t, "x", true);
          const y = u.valToPos(data.peak.bytes / unit.scale, "y", true);
          ctx.save();
          ctx.fillStyle = "#d62728";
          ctx.beginPath();
          ctx.arc(x, y, 5 * dpr, 0, 2 * Math.PI);
          ctx.fill();
          ctx.font = 12 * dpr + "px sans-serif";
          const note = "peak " + formatIn(unit, data.peak.bytes) + " at " + data.peak.t.toFixed(3) + " s";
          const curves = drawnCurves(u, rss ? [1, 3] : [1]);
          const at = placeLabel(x, y, ctx.measureText(note).width, 12 * dpr, u.bbox, curves, 8 * dpr);
          ctx.textAlign = at.align;
          ctx.fillText(note, at.x, at.y);
          ctx.restore();
        },
      ],
    },
  };
  new uPlot(opts, columns, el);
}

// ---- call stacks: one flame graph per metric, search, bottom-up -------

const tree = callTree(data);
const have = data.have || {};

// The views of the call tree.  pair: the value shown beside (bytes beside
// counts and the other way round).
const VIEWS = [
  { id: "peak", label: "Memory at peak", metric: "peak_bytes", pair: "peak_blocks", needs: "peak",
    missing: "This file holds no copy of the traces at the peak.",
    none: "Nothing was live at the peak.",
    hint: "Width: bytes allocated and still live at the moment of peak traced memory." },
  { id: "allocations", label: "Allocations", metric: "allocations", pair: "allocated", needs: "counters",
    none: "No allocations were counted.",
    hint: "Width: number of allocations over the whole run, freed or not (heaptrack's calls)." },
  { id: "allocated", label: "Bytes allocated", metric: "allocated", pair: "allocations", needs: "counters",
    none: "No allocations were counted.",
    hint: "Width: bytes allocated over the whole run, freed or not." },
  { id: "temporary", label: "Temporary", metric: "temporary", pair: "allocations", needs: "counters",
    none: "No temporary allocations: no block was freed before its thread's next allocation.",
    hint: "Width: temporary allocations, freed before the allocating thread allocated anything else (heaptrack's definition)." },
  { id: "leaked", label: "Leaked", metric: "lost_bytes", pair: "lost_blocks", needs: "leaks",
    missing: "This file has no leak classes (not written by recycle run, or older).",
    none: "No block was definitely lost.",
    hint: "Width: bytes definitely lost at exit (no pointer to them anywhere), the C library's one-time buffers left out as recycle leaks does." },
  { id: "exit", label: "At exit", metric: "exit_bytes", pair: "exit_blocks",
    none: "Nothing was still allocated at exit.",
    hint: "Width: bytes still allocated when the program exited, reachable or not." },
];
const NO_COUNTERS = "This file has no per call site counters (written by a recycle before format 1.2).";
const BYTES = new Set(["peak_bytes", "allocated", "lost_bytes", "exit_bytes"]);
const NAMES = {
  peak_bytes: "bytes", peak_blocks: "blocks", allocations: "allocations", allocated: "bytes allocated",
  temporary: "temporary", lost_bytes: "bytes", lost_blocks: "blocks", exit_bytes: "bytes", exit_blocks: "blocks",
};

function formatValue(metric, v) {
  return BYTES.has(metric) ? formatSize(v) : String(v);
}

let view = null;
let chart = null;

function available(v) {
  return !v.needs || have[v.needs];
}

function tabs() {
  const bar = document.getElementById("views");
  for (const v of VIEWS) {
    const b = text(document.createElement("button"), v.label);
    b.type = "button";
    b.className = "tab";
    b.dataset.view = v.id;
    b.setAttribute("role", "tab");
    if (!available(v)) {
      b.disabled = true;
      b.title = v.missing || NO_COUNTERS;
    }
    b.addEventListener("click", () => show(v));
    bar.appendChild(b);
  }
  const first = VIEWS.find((v) => v.id === "peak" && available(v)) || VIEWS.find((v) => v.id === "exit");
  show(first);
}

function show(v) {
  view = v;
  for (const b of document.querySelectorAll("#views .tab")) {
    const on = b.dataset.view === v.id;
    b.classList.toggle("active", on);
    b.setAttribute("aria-selected", on ? "true" : "false");
  }
  text(document.getElementById("view-hint"), v.hint + " Click a frame to zoom, click the bottom bar to zoom out.");
  flame();
  search();
}

function flame() {
  const el = document.getElementById("flame");
  el.textContent = "";
  chart = null;
  const m = metricIndex(tree, view.metric);
  const root = flameData(tree, m);
  if (!root) {
    el.appendChild(text(document.createElement("p"), view.none)).className = "empty";
    return;
  }
  const details = document.getElementById("flame-details");
  details.textContent = "";
  const width = Math.max(400, el.clientWidth || 1100);
  const whole = root.value;
  const metric = view.metric;
  chart = flamegraph()
    .width(width)
    .cellHeight(18)
    .minFrameSize(1)
    .transitionDuration(0)
    .sort(true)
    .title("")
    .setDetailsElement(details)
    .setSearchMatch((d, term) => {
      const match = matcher(term);
      return match !== null && match(d.data.name);
    })
    .setSearchHandler(() => {})
    .label((d) => d.data.name + " — " + formatValue(metric, d.value) + " (" + ((100 * d.value) / whole).toFixed(1) + "%)");
  select(el).datum(root).call(chart);
}

// Highlight the frames that match, say their total, and narrow the
// bottom-up table to the matching functions.
function search() {
  const term = document.getElementById("search").value;
  const out = document.getElementById("search-result");
  const match = matcher(term);
  if (chart) {
    if (match) chart.search(term);
    else chart.clear();
  }
  if (!match) {
    out.textContent = "";
    delete out.dataset.value;
  } else {
    const m = metricIndex(tree, view.metric);
    const found = searchTotal(tree, m, match);
    const whole = total(tree, m);
    out.dataset.value = String(found.sum);
    text(out, found.frames + " frame" + (found.frames === 1 ? "" : "s") + " match: " +
      formatValue(view.metric, found.sum) + " " + NAMES[view.metric] + " of " + formatValue(view.metric, whole) +
      " (" + (whole ? ((100 * found.sum) / whole).toFixed(1) : "0.0") + "%)");
  }
  bottomUpTable(match);
}

const BOTTOM_UP_ROWS = 200;

function cell(tr, s, cls) {
  const td = text(tr.insertCell(), s);
  if (cls) td.className = cls;
  return td;
}

function bottomUpTable(match) {
  const el = document.getElementById("bottom-up");
  el.textContent = "";
  if (!available(view)) {
    cell(el.insertRow(), view.missing || NO_COUNTERS, "empty");
    return;
  }
  const m = metricIndex(tree, view.metric);
  const pm = metricIndex(tree, view.pair);
  let rows = bottomUp(tree, m, pm);
  if (match) rows = rows.filter((r) => match(r.func));
  if (rows.length === 0) {
    cell(el.insertRow(), match ? "No function matches the search." : view.none, "empty");
    return;
  }
  const head = el.createTHead().insertRow();
  const what = NAMES[view.metric];
  const pair = NAMES[view.pair];
  for (const [h, cls] of [["", ""], ["function (and its callers)", ""], ["self " + what, "num"], ["total " + what, "num"],
    ["self " + pair, "num"], ["total " + pair, "num"]]) {
    const th = text(document.createElement("th"), h);
    if (cls) th.className = cls;
    head.appendChild(th);
  }
  const body = el.createTBody();
  for (const r of rows.slice(0, BOTTOM_UP_ROWS)) {
    const tr = body.insertRow();
    tr.className = "fn";
    tr.dataset.func = r.func;
    tr.dataset.depth = "0";
    toggle(tr, r.entries);
    cell(tr, r.func, "name");
    cell(tr, formatValue(view.metric, r.self), "num");
    cell(tr, formatValue(view.metric, r.total), "num");
    cell(tr, formatValue(view.pair, r.pself), "num");
    cell(tr, formatValue(view.pair, r.ptotal), "num");
  }
  if (rows.length > BOTTOM_UP_ROWS) {
    const td = cell(body.insertRow(), "… and " + (rows.length - BOTTOM_UP_ROWS) + " more functions: narrow them with the search box.", "empty");
    td.colSpan = 6;
  }
}

// The expander of a row: its callers, one level each click, indented.
function toggle(tr, entries) {
  const td = tr.insertCell();
  const b = text(document.createElement("button"), "▸");
  b.type = "button";
  b.className = "toggle";
  b.title = "callers";
  const up = callers(tree, entries);
  if (up.length === 0) {
    b.disabled = true;
    b.title = "no caller: the outermost frame";
  }
  b.addEventListener("click", () => {
    const depth = Number(tr.dataset.depth);
    if (b.textContent === "▾") {
      while (tr.nextSibling && Number(tr.nextSibling.dataset.depth) > depth) tr.nextSibling.remove();
      b.textContent = "▸";
      return;
    }
    b.textContent = "▾";
    let after = tr;
    for (const c of up) {
      const row = document.createElement("tr");
      row.className = "caller";
      row.dataset.func = c.func;
      row.dataset.depth = String(depth + 1);
      after.after(row);
      after = row;
      toggle(row, c.entries);
      const name = cell(row, c.func, "name");
      name.style.paddingLeft = 8 + 16 * (depth + 1) + "px";
      cell(row, "", "num");
      cell(row, formatValue(view.metric, c.v), "num");
      cell(row, "", "num");
      cell(row, formatValue(view.pair, c.pv), "num");
    }
  });
  td.appendChild(b);
}

// ---- tables of top lines ----------------------------------------------

function table(t) {
  const section = document.createElement("section");
  const h = text(document.createElement("h2"), t.title);
  h.id = "top-" + t.id + "-title";
  section.appendChild(h);
  const el = document.createElement("table");
  el.id = "top-" + t.id;
  el.className = "top";
  section.appendChild(el);
  document.getElementById("tables").appendChild(section);
  if (!t.rows || t.rows.length === 0) {
    cell(el.insertRow(), t.empty, "empty");
    return;
  }
  const cols = t.counters
    ? [["allocations", (r) => String(r.allocations)], ["allocated", (r) => formatSize(r.allocated)],
      ["temporary", (r) => String(r.temporary)], ["size at exit", (r) => formatSize(r.size)], ["count at exit", (r) => String(r.count)]]
    : [["size", (r) => formatSize(r.size)], ["count", (r) => String(r.count)],
      ["average", (r) => formatSize(r.count ? r.size / r.count : 0)]];
  const head = el.createTHead().insertRow();
  for (const [h2, cls] of [["#", "num"], ["where", ""], ...cols.map(([c]) => [c, "num"])]) {
    const th = text(document.createElement("th"), h2);
    if (cls) th.className = cls;
    head.appendChild(th);
  }
  const body = el.createTBody();
  t.rows.forEach((r, i) => {
    const tr = body.insertRow();
    cell(tr, String(i + 1), "num");
    cell(tr, r.where);
    for (const [, f] of cols) cell(tr, f(r), "num");
    tr.title = r.text;
  });
}

summary();
timeline();
tabs();
document.getElementById("search").addEventListener("input", search);
for (const t of data.tables || []) table(t);
