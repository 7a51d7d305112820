// tests/cli/html_stacks.mjs — the HTML report's call tree views
// (tools/html/src/stacks.mjs), run under node on a hand-made data block:
// a flame graph per metric, the search total (each stack once), the
// bottom-up table (self, total with recursion counted once) and its
// callers.  Prints TAP-like lines; exits 1 on a failure.
import assert from "node:assert/strict";
import { bottomUp, callTree, callers, flameData, matcher, metricIndex, searchTotal, total } from "../../tools/html/src/stacks.mjs";
import { finish, test } from "./tap.mjs";

// main -> load -> parse -> alloc (100 B, 4 allocations)
// main -> load -> alloc        (30 B, 3 allocations)
// main -> walk -> walk -> alloc (20 B, 1 allocation: recursion)
// main -> tmp                  (0 B, 9 allocations)
const data = {
  metrics: ["bytes", "allocations"],
  frames: ["main (m.c:1)", "load (m.c:5)", "parse (p.c:9)", "alloc (a.c:3)", "walk (w.c:2)", "walk (w.c:4)", "tmp (t.c:1)"],
  funcs: ["main", "load", "parse", "alloc", "walk", "walk", "tmp"],
  tree: [
    [-1, -1, 150, 17],
    [0, 0, 150, 17], // 1 main
    [1, 1, 130, 7], // 2 load
    [2, 2, 100, 4], // 3 parse
    [3, 3, 100, 4], // 4 alloc
    [2, 3, 30, 3], // 5 alloc
    [1, 4, 20, 1], // 6 walk
    [6, 5, 20, 1], // 7 walk
    [7, 3, 20, 1], // 8 alloc
    [1, 6, 0, 9], // 9 tmp
  ],
};
const t = callTree(data);
const B = metricIndex(t, "bytes");
const A = metricIndex(t, "allocations");

test("a flame graph per metric: nodes whose value is 0 are left out", () => {
  const f = flameData(t, B);
  assert.equal(f.name, "all");
  assert.equal(f.value, 150);
  const main = f.children[0];
  assert.deepEqual(main.children.map((c) => c.name), ["load (m.c:5)", "walk (w.c:2)"]);
  const g = flameData(t, A);
  assert.deepEqual(g.children[0].children.map((c) => [c.name, c.value]),
    [["load (m.c:5)", 7], ["walk (w.c:2)", 1], ["tmp (t.c:1)", 9]]);
  assert.equal(flameData(callTree({ metrics: ["x"], frames: [], funcs: [], tree: [[-1, -1, 0]] }), 0), null);
});

test("the search total counts each stack once: a match under a match adds nothing", () => {
  const m = matcher("ALLOC");
  assert.deepEqual(searchTotal(t, B, m), { frames: 3, sum: 150 });
  assert.deepEqual(searchTotal(t, A, m), { frames: 3, sum: 8 });
  assert.deepEqual(searchTotal(t, B, matcher("walk")), { frames: 2, sum: 20 });
  assert.deepEqual(searchTotal(t, B, matcher("m.c")), { frames: 2, sum: 150 });
  assert.deepEqual(searchTotal(t, A, matcher("tmp")), { frames: 1, sum: 9 });
  assert.deepEqual(searchTotal(t, B, matcher("tmp")), { frames: 0, sum: 0 });
  assert.equal(matcher("  "), null);
  assert.equal(total(t, B), 150);
});

test("bottom-up: self and total per function, recursion counted once, allocating functions first", () => {
  const rows = bottomUp(t, B, A);
  const by = Object.fromEntries(rows.map((r) => [r.func, r]));
  assert.equal(rows[0].func, "alloc");
  assert.deepEqual([by.alloc.self, by.alloc.total, by.alloc.pself, by.alloc.ptotal], [150, 150, 8, 8]);
  assert.deepEqual([by.walk.self, by.walk.total], [0, 20]);
  assert.deepEqual([by.main.self, by.main.total, by.main.ptotal], [0, 150, 17]);
  assert.deepEqual([by.tmp.self, by.tmp.total, by.tmp.pself, by.tmp.ptotal], [0, 0, 9, 9]);
  assert.deepEqual([by.load.self, by.load.total, by.parse.total], [0, 130, 100]);
});

test("bottom-up: a function expands to its callers, with what reaches it through each, and on up", () => {
  const alloc = bottomUp(t, B, A).find((r) => r.func === "alloc");
  const up = callers(t, alloc.entries);
  assert.deepEqual(up.map((c) => [c.func, c.v, c.pv]), [["parse", 100, 4], ["load", 30, 3], ["walk", 20, 1]]);
  const walk = up.find((c) => c.func === "walk");
  assert.deepEqual(callers(t, walk.entries).map((c) => [c.func, c.v]), [["walk", 20]]);
  const parse = up.find((c) => c.func === "parse");
  const load = callers(t, parse.entries);
  assert.deepEqual(load.map((c) => [c.func, c.v]), [["load", 100]]);
  const main = callers(t, load[0].entries);
  assert.deepEqual(main.map((c) => [c.func, c.v]), [["main", 100]]);
  assert.deepEqual(callers(t, main[0].entries), [], "main is the outermost frame: no caller");
});

finish();
