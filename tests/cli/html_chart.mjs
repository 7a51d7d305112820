// tests/cli/html_chart.mjs — the HTML report's chart rules
// (tools/html/src/chart.mjs), run under node: one unit per chart, shared by
// the axis and the peak note, and the peak note placed inside the plot,
// clear of the curves.  Prints TAP-like lines; exits 1 on a failure.
import assert from "node:assert/strict";
import { chooseUnit, formatIn, placeLabel } from "../../tools/html/src/chart.mjs";
import { finish, test } from "./tap.mjs";

test("the unit is the largest value's: 5000 KiB of traced beside 60 MiB of RSS is MiB", () => {
  const unit = chooseUnit(60 * 1024 * 1024);
  assert.equal(unit.name, "MiB");
  assert.equal(chooseUnit(5000 * 1024).name, "MiB");
  assert.equal(chooseUnit(900).name, "B");
  assert.equal(chooseUnit(3 * 1024 ** 3).name, "GiB");
});

test("the peak note counts in the axis's unit", () => {
  const unit = chooseUnit(60 * 1024 * 1024);
  assert.equal(formatIn(unit, 5000 * 1024), "4.9 MiB");
  assert.equal(formatIn(unit, 25 * 1024 * 1024), "25.0 MiB");
  assert.equal(formatIn(unit, 512 * 1024), "0.5 MiB");
  assert.match(formatIn(unit, 5 * 1024), / MiB$/);
});

// A 800 x 300 plot; traced memory rises to its peak at the right edge and
// RSS stays just above it, as glibc keeps what it was given.
const area = { left: 60, top: 10, width: 800, height: 300 };
const yOf = (mib) => area.top + area.height - (mib / 60) * area.height;
const current = [];
const rss = [];
for (let i = 0; i <= 49; i++) {
  const x = area.left + (i / 50) * area.width;
  current.push([x, yOf(i)]);
  rss.push([x, yOf(51)]);
}
const [px, py] = current[current.length - 1];

function hits(at, w, h, curves) {
  const x0 = at.align === "right" ? at.x - w : at.x;
  for (const pts of curves)
    for (let i = 0; i + 1 < pts.length; i++)
      for (let k = 0; k <= 64; k++) {
        const x = pts[i][0] + ((pts[i + 1][0] - pts[i][0]) * k) / 64;
        const y = pts[i][1] + ((pts[i + 1][1] - pts[i][1]) * k) / 64;
        if (x >= x0 && x <= x0 + w && y >= at.y - h && y <= at.y + h / 4) return true;
      }
  return false;
}

test("the peak note at the right edge stays inside the plot and off the curves", () => {
  const w = 170;
  const h = 12;
  const at = placeLabel(px, py, w, h, area, [current, rss]);
  const x0 = at.align === "right" ? at.x - w : at.x;
  assert.ok(x0 >= area.left && x0 + w <= area.left + area.width, "inside horizontally: " + JSON.stringify(at));
  assert.ok(at.y - h >= area.top && at.y <= area.top + area.height, "inside vertically: " + JSON.stringify(at));
  assert.ok(!hits(at, w, h, [current, rss]), "clear of the curves: " + JSON.stringify(at));
});

test("with room beside the point, the note stays beside it", () => {
  const at = placeLabel(px, py, 170, 12, area, [current]);
  assert.equal(at.align, "right"); // left of a point at the right edge
  assert.ok(Math.abs(at.y - (py - 8)) < 1e-9, JSON.stringify(at));
});

finish();
