// The call tree of the report's data block and the views built from it: a
// flame graph per metric, the total a search matches, and the bottom-up
// table (each function's self and total, expandable to its callers, as
// heaptrack's bottom-up view).  Pure functions, no DOM:
// tests/cli/html_stacks.mjs runs them under node.
//
// The data block holds the tree as rows [parent, frame, v0, v1, ...] in
// preorder (a parent before its children, the root first with parent and
// frame -1); data.metrics names the values, data.frames labels the frames
// ("parse (conf.c:12)") and data.funcs gives each frame's function.  A
// node's value never exceeds its parent's, for every metric.

// The tree in columns: parent and frame per node, one array per metric.
export function callTree(data) {
  const rows = data.tree || [];
  const n = rows.length;
  const parent = new Int32Array(n);
  const frame = new Int32Array(n);
  const values = data.metrics.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    parent[i] = r[0];
    frame[i] = r[1];
    for (let m = 0; m < values.length; m++) values[m][i] = r[2 + m];
  }
  return { n, parent, frame, values, metrics: data.metrics, labels: data.frames || [], funcs: data.funcs || [] };
}

export function metricIndex(t, name) {
  const m = t.metrics.indexOf(name);
  if (m < 0) throw new Error("no metric " + name);
  return m;
}

export function labelOf(t, i) {
  return t.frame[i] < 0 ? "all" : t.labels[t.frame[i]];
}

export function funcOf(t, i) {
  return t.frame[i] < 0 ? "all" : t.funcs[t.frame[i]];
}

export function total(t, m) {
  return t.n ? t.values[m][0] : 0;
}

// d3-flame-graph's input for metric m ({name, value, children}), without
// the nodes whose value is 0; null when the whole is 0.
export function flameData(t, m) {
  const v = t.values[m];
  const nodes = new Array(t.n);
  for (let i = 0; i < t.n; i++) {
    if (!(v[i] > 0)) continue;
    const p = t.parent[i];
    if (p >= 0 && !nodes[p]) continue;
    const node = { name: labelOf(t, i), value: v[i], children: [] };
    nodes[i] = node;
    if (p >= 0) nodes[p].children.push(node);
  }
  return t.n && nodes[0] ? nodes[0] : null;
}

// A case-insensitive substring test, as the search box matches frames.
export function matcher(term) {
  const needle = (term || "").trim().toLowerCase();
  if (!needle) return null;
  return (name) => typeof name === "string" && name.toLowerCase().includes(needle);
}

// What a search matches in metric m: the frames (nodes with a value) whose
// label matches, and their total, each stack counted once (a match inside
// a matched frame adds nothing: memray's and d3-flame-graph's sum).
export function searchTotal(t, m, match) {
  const v = t.values[m];
  const covered = new Uint8Array(t.n);
  let sum = 0;
  let frames = 0;
  for (let i = 1; i < t.n; i++) {
    if (!(v[i] > 0)) continue;
    const p = t.parent[i];
    const hit = match(labelOf(t, i));
    if (hit) {
      frames++;
      if (!covered[p]) sum += v[i];
    }
    covered[i] = covered[p] || hit ? 1 : 0;
  }
  return { frames, sum };
}

// Each node's own value (what no child accounts for) in metric m.
function selfValues(t, m) {
  const v = t.values[m];
  const self = Float64Array.from(v);
  for (let i = 1; i < t.n; i++) self[t.parent[i]] -= v[i];
  return self;
}

// Walk the tree in preorder with the functions of the path above each
// node: visit(i, outermost) where outermost says no ancestor of i is the
// same function (recursion is counted once).
function walkPaths(t, visit) {
  const onPath = new Map();
  const stack = [];
  for (let i = 1; i < t.n; i++) {
    const p = t.parent[i];
    while (stack.length && stack[stack.length - 1] !== p) {
      const f = funcOf(t, stack.pop());
      onPath.set(f, onPath.get(f) - 1);
    }
    const f = funcOf(t, i);
    const k = onPath.get(f) || 0;
    visit(i, k === 0);
    onPath.set(f, k + 1);
    stack.push(i);
  }
}

// The bottom-up table for metric m with its paired metric pm: one row per
// function {func, self, total, pself, ptotal, entries}, the largest self
// first (the functions that allocate, then their callers by total).  entries are where its total comes from, the input of callers:
// its nodes with no ancestor of the same function, each {node, v, pv}.
export function bottomUp(t, m, pm) {
  const self = selfValues(t, m);
  const pself = selfValues(t, pm);
  const v = t.values[m];
  const pv = t.values[pm];
  const rows = new Map();
  walkPaths(t, (i, outermost) => {
    if (!(v[i] > 0) && !(pv[i] > 0)) return;
    const f = funcOf(t, i);
    let r = rows.get(f);
    if (!r) {
      r = { func: f, self: 0, total: 0, pself: 0, ptotal: 0, entries: [] };
      rows.set(f, r);
    }
    r.self += self[i];
    r.pself += pself[i];
    if (outermost) {
      r.total += v[i];
      r.ptotal += pv[i];
      r.entries.push({ node: i, v: v[i], pv: pv[i] });
    }
  });
  return [...rows.values()].sort(
    (a, b) => b.self - a.self || b.total - a.total || b.ptotal - a.ptotal || (a.func < b.func ? -1 : a.func > b.func ? 1 : 0));
}

// The callers one level up from entries (a bottomUp row's, or a previous
// callers group's): grouped by the caller's function, each with the
// values that reach it through that call, largest first.  A stack's
// outermost frame has no caller.
export function callers(t, entries) {
  const by = new Map();
  for (const e of entries) {
    const p = t.parent[e.node];
    if (p <= 0) continue;
    const f = funcOf(t, p);
    let g = by.get(f);
    if (!g) {
      g = { func: f, v: 0, pv: 0, entries: [] };
      by.set(f, g);
    }
    g.v += e.v;
    g.pv += e.pv;
    g.entries.push({ node: p, v: e.v, pv: e.pv });
  }
  return [...by.values()].sort((a, b) => b.v - a.v || b.pv - a.pv || (a.func < b.func ? -1 : 1));
}
