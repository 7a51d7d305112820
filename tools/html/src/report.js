// The report page of `recycle plot FILE -o OUT.html`.  The data is a JSON
// block the recycle command writes into the page; everything here runs
// offline.
import { select } from "d3-selection";
import flamegraph from "d3-flame-graph";
import uPlot from "uplot";
import { chooseUnit, formatIn, placeLabel } from "./chart.mjs";

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

function flame() {
  const el = document.getElementById("flame");
  if (!data.flame || !data.flame.value) {
    el.appendChild(text(document.createElement("p"), "No allocations were live at peak.")).className = "empty";
    return;
  }
  const details = document.getElementById("flame-details");
  const width = Math.max(400, el.clientWidth || 1100);
  const total = data.flame.value;
  const chart = flamegraph()
    .width(width)
    .cellHeight(18)
    .minFrameSize(1)
    .transitionDuration(0)
    .sort(true)
    .title("")
    .setDetailsElement(details)
    .label((d) => d.data.name + " — " + formatSize(d.value) + " (" + ((100 * d.value) / total).toFixed(1) + "%)");
  select(el).datum(data.flame).call(chart);
}

function table(id, rows, what) {
  const el = document.getElementById(id);
  if (!rows || rows.length === 0) {
    const tr = el.insertRow();
    const td = text(tr.insertCell(), "Nothing " + what + ".");
    td.className = "empty";
    return;
  }
  const head = el.createTHead().insertRow();
  for (const [h, cls] of [["#", "num"], ["where", ""], ["size", "num"], ["count", "num"], ["average", "num"]]) {
    const th = text(document.createElement("th"), h);
    if (cls) th.className = cls;
    head.appendChild(th);
  }
  const body = el.createTBody();
  rows.forEach((r, i) => {
    const tr = body.insertRow();
    const cells = [String(i + 1), r.where, formatSize(r.size), String(r.count), formatSize(r.count ? r.size / r.count : 0)];
    cells.forEach((c, j) => {
      const td = text(tr.insertCell(), c);
      if (j !== 1) td.className = "num";
    });
    tr.title = r.text;
  });
}

summary();
timeline();
flame();
table("top-peak", data.top_peak, "was live at peak");
table("top-exit", data.top_exit, "was still allocated at exit");
