// The timeline chart's layout rules, the same as the SVG's (tools/render.c):
// one unit per chart, chosen once from the largest value and used by the
// axis, the legend and the peak note; and the peak note placed inside the
// plot where it touches no curve.  Pure functions: tests/cli/html_chart.mjs
// runs them under node.

const UNITS = ["B", "KiB", "MiB", "GiB"];

// The unit of a chart whose largest value is maxBytes: {name, scale}.
export function chooseUnit(maxBytes) {
  let u = 0;
  let scale = 1;
  while (u < UNITS.length - 1 && maxBytes / scale >= 1024) {
    scale *= 1024;
    u++;
  }
  return { name: UNITS[u], scale };
}

// bytes in the chart's unit, as the SVG writes it: "25.0 MiB".
export function formatIn(unit, bytes) {
  const v = bytes / unit.scale;
  let s;
  if (v >= 100 || unit.scale === 1) s = v.toFixed(0);
  else if (v >= 1 || v === 0) s = v.toFixed(1);
  else s = String(Number(v.toPrecision(2)));
  return s + " " + unit.name;
}

// Does the segment (x0,y0)-(x1,y1) touch the box {x0,y0,x1,y1}?
function segmentHitsBox(x0, y0, x1, y1, b) {
  let t0 = 0;
  let t1 = 1;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const p = [-dx, dx, -dy, dy];
  const q = [x0 - b.x0, b.x1 - x0, y0 - b.y0, b.y1 - y0];
  for (let i = 0; i < 4; i++) {
    if (p[i] === 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const t = q[i] / p[i];
    if (p[i] < 0) t0 = Math.max(t0, t);
    else t1 = Math.min(t1, t);
    if (t0 > t1) return false;
  }
  return true;
}

// Where the note of size w x h goes, for the point (px, py) in a plot
// `area` {left, top, width, height}: beside the point on the side with room
// (above or below, right or left), else in a corner of the plot; the first
// place inside the plot that touches none of `curves` (arrays of [x, y]
// points, in the same pixels), else the one that touches the fewest.
// Returns {x, y, align}: y is the text's baseline, align "left" or "right"
// (x is then the text's right end).
export function placeLabel(px, py, w, h, area, curves, gap = 8) {
  const right = area.left + area.width;
  const bottom = area.top + area.height;
  const leftFirst = px > area.left + area.width * 0.7;
  const near = leftFirst ? -gap : gap;
  const far = -near;
  const cand = [
    { x: px + near, y: py - gap, align: leftFirst ? "right" : "left" },
    { x: px + far, y: py - gap, align: leftFirst ? "left" : "right" },
    { x: px + near, y: py + gap + h, align: leftFirst ? "right" : "left" },
    { x: px + far, y: py + gap + h, align: leftFirst ? "left" : "right" },
    { x: area.left + gap, y: area.top + gap + h, align: "left" },
    { x: right - gap, y: area.top + gap + h, align: "right" },
    { x: area.left + gap, y: bottom - gap, align: "left" },
    { x: right - gap, y: bottom - gap, align: "right" },
  ];
  const pad = 3;
  let best = null;
  let bestHits = Infinity;
  for (const c of cand) {
    const x0 = c.align === "right" ? c.x - w : c.x;
    const box = { x0: x0 - pad, y0: c.y - h - pad, x1: x0 + w + pad, y1: c.y + h / 4 + pad };
    if (x0 < area.left || x0 + w > right || c.y - h < area.top || c.y + h / 4 > bottom) continue;
    let hits = 0;
    for (const pts of curves) {
      for (let i = 0; i + 1 < pts.length; i++) {
        if (segmentHitsBox(pts[i][0], pts[i][1], pts[i + 1][0], pts[i + 1][1], box)) hits++;
      }
    }
    if (hits < bestHits) {
      best = c;
      bestHits = hits;
    }
    if (hits === 0) break;
  }
  return best || { x: area.left + gap, y: area.top + gap + h, align: "left" };
}
