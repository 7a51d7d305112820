// The report page of `recycle plot FILE -o OUT.html`.  The data is a JSON
// block the recycle command writes into the page; everything here runs
// offline.
import { select } from "d3-selection";
import flamegraph from "d3-flame-graph";
import uPlot from "uplot";

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

function timeline() {
  const el = document.getElementById("timeline");
  const t = data.timeline;
  if (!t || t.t.length === 0) {
    el.appendChild(text(document.createElement("p"), "No timeline samples in this file.")).className = "empty";
    return;
  }
  const mib = (a) => a.map((b) => b / (1024 * 1024));
  const width = Math.max(400, el.clientWidth || 1100);
  const peakIdx = data.peak ? [data.peak.t] : [];
  const opts = {
    width: width,
    height: 320,
    scales: { x: { time: false } },
    axes: [
      { label: "time (s)" },
      { label: "MiB", size: 70, values: (u, v) => v.map((x) => x.toFixed(x < 10 ? 2 : 1)) },
    ],
    series: [
      { label: "t (s)", value: (u, v) => (v == null ? "-" : v.toFixed(3)) },
      { label: "current", stroke: "#1f77b4", width: 2, fill: "rgba(31,119,180,0.12)",
        value: (u, v) => (v == null ? "-" : formatSize(v * 1024 * 1024)) },
      { label: "peak", stroke: "#d62728", width: 1, dash: [6, 4],
        value: (u, v) => (v == null ? "-" : formatSize(v * 1024 * 1024)) },
    ],
    hooks: {
      draw: [
        (u) => {
          if (!data.peak) return;
          const ctx = u.ctx;
          const x = u.valToPos(data.peak.t, "x", true);
          const y = u.valToPos(data.peak.bytes / (1024 * 1024), "y", true);
          ctx.save();
          ctx.fillStyle = "#d62728";
          ctx.beginPath();
          ctx.arc(x, y, 5 * devicePixelRatio, 0, 2 * Math.PI);
          ctx.fill();
          ctx.font = 12 * devicePixelRatio + "px sans-serif";
          ctx.textAlign = x > u.bbox.left + u.bbox.width * 0.7 ? "right" : "left";
          const dx = ctx.textAlign === "right" ? -8 : 8;
          ctx.fillText("peak " + formatSize(data.peak.bytes), x + dx * devicePixelRatio, y + 14 * devicePixelRatio);
          ctx.restore();
        },
      ],
    },
  };
  void peakIdx;
  new uPlot(opts, [t.t, mib(t.current), mib(t.peak)], el);
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
