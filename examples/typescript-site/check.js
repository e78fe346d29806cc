// The check: no optional peer of the package is installed, and the site compiles under strict
// TypeScript with skipLibCheck off. Results, TAP: test-results.tap.
const { spawnSync } = require("node:child_process");
const { writeFileSync } = require("node:fs");

const lines = [];
const check = (ok, description) => lines.push(`${ok ? "ok" : "not ok"} ${lines.length + 1} - ${description}`);
for (const peer of ["redis", "prom-client"]) {
  let installed = true;
  try {
    require.resolve(peer);
  } catch {
    installed = false;
  }
  check(!installed, `${peer} is not installed`);
}
const tsc = spawnSync("npx", ["tsc", "-p", "."], { encoding: "utf8" });
process.stdout.write(tsc.stdout + tsc.stderr);
check(tsc.status === 0, "the site compiles with strict: true and skipLibCheck: false");
writeFileSync("test-results.tap", `${lines.join("\n")}\n`);
console.log(lines.join("\n"));
process.exit(lines.some((l) => l.startsWith("not ok")) ? 1 : 0);
