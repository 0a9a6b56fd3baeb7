// npm test: runs tap, then repeats its count as one plain line ("tests: N passed, N failed"),
// which CI logs can read whatever the reporter printed. Exits with tap's own code.
import { spawn } from "node:child_process";

const tap = spawn(process.execPath, ["node_modules/tap/dist/esm/run.mjs", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "inherit"],
});
let tail = "";
tap.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
tap.on("close", (code, signal) => {
  const summary = /# \{ ([^}]*) \}\s*# time=[^\n]*\s*$/.exec(tail)?.[1] ?? "";
  const count = (name) => Number(new RegExp(`\\b${name}: (\\d+)`).exec(summary)?.[1] ?? 0);
  const skipped = count("skip") + count("todo");
  if (summary) {
    process.stdout.write(`\ntests: ${count("pass")} passed, ${count("fail")} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
