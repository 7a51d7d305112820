// tests/cli/cdp.mjs — drive a headless Chromium through the DevTools
// protocol over a pipe (--remote-debugging-pipe: the browser reads
// NUL-terminated JSON messages on fd 3 and writes them on fd 4), with no
// npm package: open a page, collect its console errors and exceptions,
// evaluate expressions in it.  Used by tests/cli/html_views.mjs.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function launch(chromium = "chromium", args = []) {
  const profile = mkdtempSync(join(tmpdir(), "rcy-cdp-"));
  const proc = spawn(
    chromium,
    ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--remote-debugging-pipe", `--user-data-dir=${profile}`, "--window-size=1280,1700", ...args, "about:blank"],
    { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const toBrowser = proc.stdio[3];
  const fromBrowser = proc.stdio[4];
  let nextId = 1;
  const pending = new Map();
  const listeners = [];
  let buf = "";
  fromBrowser.on("data", (chunk) => {
    buf += chunk.toString("utf8");
    let end;
    while ((end = buf.indexOf("\0")) >= 0) {
      const msg = JSON.parse(buf.slice(0, end));
      buf = buf.slice(end + 1);
      if (msg.id && pending.has(msg.id)) {
        const { resolve, reject } = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) reject(new Error(JSON.stringify(msg.error)));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of listeners) l(msg);
      }
    }
  });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  exited.then(() => {
    for (const { reject } of pending.values()) reject(new Error("chromium exited: " + stderr.slice(-2000)));
    pending.clear();
  });

  function send(method, params = {}, sessionId) {
    const id = nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      toBrowser.write(JSON.stringify(msg) + "\0");
    });
  }

  function waitFor(pred, ms, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for " + what)), ms);
      listeners.push((msg) => {
        if (pred(msg)) {
          clearTimeout(timer);
          resolve(msg);
        }
      });
    });
  }

  // Open url in a new tab: {errors, evaluate(expr), close()}.
  async function open(url) {
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
    const errors = [];
    listeners.push((msg) => {
      if (msg.sessionId !== sessionId) return;
      if (msg.method === "Runtime.exceptionThrown") {
        const d = msg.params.exceptionDetails;
        errors.push("exception: " + ((d.exception && d.exception.description) || d.text));
      } else if (msg.method === "Runtime.consoleAPICalled" && ["error", "warning", "assert"].includes(msg.params.type)) {
        errors.push("console." + msg.params.type + ": " + msg.params.args.map((a) => a.value ?? a.description).join(" "));
      } else if (msg.method === "Log.entryAdded" && ["error", "warning"].includes(msg.params.entry.level)) {
        errors.push("log " + msg.params.entry.level + ": " + msg.params.entry.text);
      }
    });
    await send("Runtime.enable", {}, sessionId);
    await send("Log.enable", {}, sessionId);
    await send("Page.enable", {}, sessionId);
    const loaded = waitFor((m) => m.sessionId === sessionId && m.method === "Page.loadEventFired", 60000, "the page's load event");
    await send("Page.navigate", { url }, sessionId);
    await loaded;
    async function evaluate(expression) {
      const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
      if (r.exceptionDetails) {
        const d = r.exceptionDetails;
        throw new Error("in the page: " + ((d.exception && d.exception.description) || d.text));
      }
      return r.result.value;
    }
    return { errors, evaluate };
  }

  async function close() {
    try {
      await Promise.race([send("Browser.close"), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      // already gone
    }
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await exited;
    // Chromium's helper processes may still write to the profile for a
    // moment after the browser exits (ENOTEMPTY on a loaded machine):
    // retry, and a profile that still cannot go is a warning, not a failure.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    } catch (e) {
      console.error("warning: could not remove " + profile + ": " + e.message);
    }
  }

  return { open, close };
}
