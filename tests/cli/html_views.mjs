// tests/cli/html_views.mjs — the HTML report's views in a real browser
// (headless Chromium through tests/cli/cdp.mjs): every flame graph tab
// draws frames with the expected names, the search box highlights the
// frames it names and says their total, the bottom-up table lists a
// function's callers, the counter tables are filled.
//
//   node html_views.mjs REPORT.html EXPECT.json
//
// EXPECT (written by tests/cli/chromium.sh from `recycle top` and
// `recycle leaks` of the same file):
//   {"tabs": {VIEW: [frame name, ...]},          names drawn in each tab
//    "disabled": [VIEW, ...],                     tabs the file cannot fill
//    "search": [{"view", "term", "total"}],       the matched total shown
//    "empty": {VIEW: text},                        what a tab without data says
//    "bottom_up": [{"view", "func", "caller", "total"?}],  a function's caller
//    "tables": {TABLE_ID: the end of the first row's "where"}}
// Prints "ok - ..." / "FAIL - ..." lines and exits 1 on any failure.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { launch } from "./cdp.mjs";

const [report, expectFile] = process.argv.slice(2);
const expect = JSON.parse(readFileSync(expectFile, "utf8"));
let failed = 0;
function ok(name) {
  console.log("ok   - " + name);
}
function fail(name, ...why) {
  failed++;
  console.log("FAIL - " + name);
  for (const w of why) console.log("       " + w);
}
function check(name, cond, ...why) {
  if (cond) ok(name);
  else fail(name, ...why);
}

const browser = await launch(process.env.CHROMIUM || "chromium");
try {
  const page = await browser.open("file://" + resolve(report));
  const js = (f, ...args) => page.evaluate(`(${f})(...${JSON.stringify(args)})`);
  // Wait until fn() in the page is truthy (d3's transitions run on timers).
  async function until(f, args = [], what = "the page") {
    for (let i = 0; i < 100; i++) {
      const v = await js(f, ...args);
      if (v) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("timed out waiting for " + what);
  }
  const frames = () =>
    [...document.querySelectorAll("#flame g.frame")].map((g) => ({
      name: g.getAttribute("name"),
      width: Number(g.querySelector("rect").getAttribute("width")),
      fill: g.querySelector("rect").getAttribute("fill"),
    }));
  const clickTab = (id) => {
    const b = document.querySelector(`#views .tab[data-view="${id}"]`);
    if (!b) return "no tab " + id;
    b.click();
    return b.classList.contains("active") ? "" : "tab " + id + " is not active after a click";
  };
  const setSearch = (term) => {
    const s = document.getElementById("search");
    s.value = term;
    s.dispatchEvent(new Event("input", { bubbles: true }));
  };

  check("the page loads without errors", page.errors.length === 0, ...page.errors);

  // ---- a flame graph per tab --------------------------------------------
  for (const [view, names] of Object.entries(expect.tabs || {})) {
    const err = await js(clickTab, view);
    if (err) {
      fail(`tab ${view}`, err);
      continue;
    }
    let drawn = [];
    try {
      drawn = await until(
        (n) => {
          const f = [...document.querySelectorAll("#flame g.frame rect")];
          return f.length >= n && f.every((r) => r.getAttribute("width") !== null) && f.length;
        },
        [2],
        "the frames of tab " + view,
      );
      drawn = await js(frames);
    } catch (e) {
      fail(`tab ${view}: the flame graph is drawn`, String(e));
      continue;
    }
    const hint = await js(() => document.getElementById("view-hint").textContent);
    ok(`tab ${view}: ${drawn.length} frames drawn (${hint.slice(0, 60)}...)`);
    for (const name of names) {
      const f = drawn.find((d) => d.name === name);
      check(`tab ${view}: a frame named "${name}" with a width`, f && f.width > 0,
        "drawn: " + drawn.map((d) => d.name).join(" | "));
    }
  }

  for (const [view, says] of Object.entries(expect.empty || {})) {
    await js(clickTab, view);
    const got = await js(() => ({
      text: document.getElementById("flame").textContent,
      frames: document.querySelectorAll("#flame g.frame").length,
    }));
    check(`tab ${view}: no flame graph, it says "${says}"`, got.frames === 0 && got.text.includes(says), JSON.stringify(got));
  }

  for (const view of expect.disabled || []) {
    const state = await js((id) => {
      const b = document.querySelector(`#views .tab[data-view="${id}"]`);
      return b ? { disabled: b.disabled, title: b.title } : null;
    }, view);
    check(`tab ${view} is disabled, saying why`, state && state.disabled && state.title.length > 10, JSON.stringify(state));
  }

  // ---- search -----------------------------------------------------------
  for (const s of expect.search || []) {
    await js(clickTab, s.view);
    await js(setSearch, s.term);
    const got = await js(() => {
      const out = document.getElementById("search-result");
      return { value: out.dataset.value, text: out.textContent };
    });
    check(`search "${s.term}" in ${s.view}: the matched total is ${s.total}`, got.value === String(s.total),
      `got: ${got.value} (${got.text})`);
    const drawn = await js(frames);
    const lit = drawn.filter((d) => d.fill && d.fill.toUpperCase() === "#E600E6");
    check(`search "${s.term}" in ${s.view}: the matching frames are highlighted, and only they`,
      lit.length > 0 && lit.every((d) => d.name.toLowerCase().includes(s.term.toLowerCase())) &&
        drawn.filter((d) => d.name.toLowerCase().includes(s.term.toLowerCase())).every((d) => lit.includes(d)),
      "highlighted: " + lit.map((d) => d.name).join(" | "));
    const rows = await js(() => [...document.querySelectorAll("#bottom-up tr.fn")].map((r) => r.dataset.func));
    check(`search "${s.term}" in ${s.view}: the bottom-up table keeps only the matching functions`,
      rows.length > 0 && rows.every((f) => f.toLowerCase().includes(s.term.toLowerCase())), "rows: " + rows.join(" | "));
  }
  await js(setSearch, "");
  check("an empty search clears the highlight and the total",
    await js(() => document.getElementById("search-result").textContent === "" &&
      ![...document.querySelectorAll("#flame g.frame rect")].some((r) => r.getAttribute("fill").toUpperCase() === "#E600E6")));

  // ---- bottom-up --------------------------------------------------------
  for (const b of expect.bottom_up || []) {
    await js(clickTab, b.view);
    const got = await js((func) => {
      const row = [...document.querySelectorAll("#bottom-up tr.fn")].find((r) => r.dataset.func === func);
      if (!row) return { error: "no row for " + func };
      const cells = [...row.cells].map((c) => c.textContent);
      row.querySelector("button.toggle").click();
      const callers = [];
      for (let r = row.nextElementSibling; r && r.classList.contains("caller"); r = r.nextElementSibling)
        callers.push({ func: r.dataset.func, total: r.cells[3].textContent });
      return { cells, callers };
    }, b.func);
    if (got.error) {
      fail(`bottom-up (${b.view}): ${b.func}`, got.error);
      continue;
    }
    check(`bottom-up (${b.view}): ${b.func} (self ${got.cells[2]}, total ${got.cells[3]}) expands to its caller ${b.caller}`,
      got.callers.some((c) => c.func === b.caller), "callers: " + JSON.stringify(got.callers));
    if (b.total !== undefined)
      check(`bottom-up (${b.view}): ${b.func}'s total is ${b.total}`, got.cells[3] === b.total, "row: " + got.cells.join(" | "));
  }

  // ---- tables -----------------------------------------------------------
  for (const [id, where] of Object.entries(expect.tables || {})) {
    const first = await js((tid) => {
      const t = document.getElementById("top-" + tid);
      const r = t && t.tBodies[0] && t.tBodies[0].rows[0];
      return r ? r.cells[1].textContent : null;
    }, id);
    check(`table ${id}: the first row is at ${where}`, first !== null && first.endsWith(where), "got: " + first);
  }
  check("no errors after all that", page.errors.length === 0, ...page.errors);
} catch (e) {
  fail("the browser session", String(e && e.stack ? e.stack : e));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
