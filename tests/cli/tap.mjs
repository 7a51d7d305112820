// tests/cli/tap.mjs — the little harness the node tests share: test(name,
// fn) prints "ok" or "FAIL" with the assertion's message, and finish()
// exits 1 when any test failed.
let failed = 0;

export function test(name, fn) {
  try {
    fn();
    console.log("ok   - " + name);
  } catch (e) {
    failed++;
    console.log("FAIL - " + name + "\n" + e.message);
  }
}

export function finish() {
  console.log(failed ? failed + " failed" : "all passed");
  process.exit(failed ? 1 : 0);
}
