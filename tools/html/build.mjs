// Bundles the report page into ONE self-contained HTML template:
// dist/report.html.  The recycle command embeds that file and fills in
// the data block.  Run `npm ci && npm run build` after changing src/.
import { build } from "esbuild";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "dist", "report.html");

const js = await build({
  entryPoints: [join(here, "src", "report.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "inline",
  // The CSS files the libraries import are inlined below instead.
  loader: { ".css": "empty" },
  metafile: true,
  write: false,
});
let code = js.outputFiles[0].text;

// The licence of every npm package that ends up in the bundle, in front of
// the code (the libraries' own dist files carry none).
const pkgs = new Set();
for (const input of Object.keys(js.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgs.add(m[1]);
}
pkgs.add("d3-flame-graph"); // its CSS is inlined below as well
let notices = "";
for (const name of [...pkgs].sort()) {
  const dir = join(here, "node_modules", name);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"].find((f) => existsSync(join(dir, f)));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : "";
  notices += `/*! ${meta.name}@${meta.version} (${meta.license})\n${text.replace(/\*\//g, "* /")}\n*/\n`;
}
code = notices + code;
// Keep the bundle from closing its own <script> element.
code = code.replace(/<\/(script)/gi, "<\\/$1");
const css = [
  readFileSync(join(here, "node_modules", "d3-flame-graph", "dist", "d3-flamegraph.css"), "utf8"),
  readFileSync(join(here, "node_modules", "uplot", "dist", "uPlot.min.css"), "utf8"),
  readFileSync(join(here, "src", "report.css"), "utf8"),
].join("\n");
const page = readFileSync(join(here, "src", "template.html"), "utf8")
  .replace("/*RECYCLE_CSS*/", () => css)
  .replace("/*RECYCLE_JS*/", () => code);
if (page.split("/*RECYCLE_DATA*/").length !== 2) throw new Error("template must hold exactly one data slot");
writeFileSync(out, page);
console.log(`wrote ${out} (${page.length} bytes)`);
