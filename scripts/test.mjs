// npm test: runs tap, then repeats its count as one plain line ("tests: N passed, N failed"),
// which CI logs can read whatever the reporter printed. The console gets one line per test file as
// it ends, then every failure in full (tap's `min` reporter: its diff, source and stack), not the
// thousands of lines of raw TAP; the raw TAP goes to a file (--output-file), whose closing summary
// `# { total, pass, fail }` gives the counts. With PRESQUE_CLUSTER_PASS=1 (.ci/run sets
// it) a second pass follows: the route suite again, each file against a real 3-master, 3-replica
// Redis Cluster of its own (test/support/cluster.ts), and the last line counts both passes.
// Exits non-zero if either pass failed.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Files that start, stop, fill or measure their own redis-server (auth, bounded, cli, faults,
// limits, lua, redis, versions, ...) stay single-Redis; test/cluster*.test.ts start their own
// clusters in the first pass.
const CLUSTER_PASS = [
  "test/batch.test.ts",
  "test/batchack.test.ts",
  "test/concurrency.test.ts",
  "test/dashboard-routes.test.ts",
  "test/events.test.ts",
  "test/flow.test.ts",
  "test/idempotency.test.ts",
  "test/jobs.test.ts",
  "test/leases.test.ts",
  "test/longpoll.test.ts",
  "test/metrics.test.ts",
  "test/priority.test.ts",
  "test/properties.test.ts",
  "test/queues.test.ts",
  "test/schedules.test.ts",
  "test/stream.test.ts",
  "test/workers.test.ts",
];

/** The raw TAP file's top-level results (one per test file) not shown yet, from `shown` on. */
function fileResults(raw, shown) {
  const lines = raw.split("\n").filter((l) => /^(not )?ok \d+ - /.test(l));
  return { lines: lines.slice(shown), count: lines.length };
}

/** Runs tap on `args`; resolves to its exit code and its counts. */
function tap(args, env = process.env) {
  const dir = mkdtempSync(join(tmpdir(), "presque-test-"));
  const rawFile = join(dir, "raw.tap");
  // the user's own flags come last, so that `npm test -- --reporter=tap` still means what it says
  const child = spawn(process.execPath, ["node_modules/tap/dist/esm/run.mjs", "--reporter=min", `--output-file=${rawFile}`, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env,
  });
  let shown = 0;
  const readRaw = () => {
    try {
      return readFileSync(rawFile, "utf8");
    } catch {
      return "";
    }
  };
  const progress = () => {
    const { lines, count } = fileResults(readRaw(), shown);
    shown = count;
    for (const l of lines) process.stdout.write(`${l}\n`);
  };
  const ticker = setInterval(progress, 1000);
  // the reporter hides and shows the cursor: escape codes a CI log shows as noise
  const cursor = /\x1b\[\?25[hl]/g;
  child.stdout.on("data", (chunk) => process.stdout.write(process.stdout.isTTY ? chunk : chunk.toString().replace(cursor, "")));
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearInterval(ticker);
      progress();
      const tail = readRaw().slice(-4096);
      rmSync(dir, { recursive: true, force: true });
      const summary = /# \{ ([^}]*) \}\s*# time=[^\n]*\s*$/.exec(tail)?.[1];
      const count = (name) => Number(new RegExp(`\\b${name}: (\\d+)`).exec(summary ?? "")?.[1] ?? 0);
      resolve({
        code: code ?? (signal ? 1 : 0),
        counted: summary !== undefined,
        passed: count("pass"),
        failed: count("fail"),
        skipped: count("skip") + count("todo"),
      });
    });
  });
}

const line = ({ passed, failed, skipped }, label = "tests") =>
  `${label}: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`;

const first = await tap(process.argv.slice(2));
if (first.counted) process.stdout.write(`\n${line(first)}`);
if (process.env.PRESQUE_CLUSTER_PASS !== "1") process.exit(first.code);

process.stdout.write("\n# the route suite again, against a real Redis Cluster (PRESQUE_TEST_CLUSTER=1)\n");
const second = await tap(CLUSTER_PASS, { ...process.env, PRESQUE_TEST_CLUSTER: "1" });
if (second.counted) process.stdout.write(`\n${line(second, "cluster pass")}`);
const total = { passed: first.passed + second.passed, failed: first.failed + second.failed, skipped: first.skipped + second.skipped };
process.stdout.write(`\n${line(total, "both passes")}`);
process.exit(first.code || second.code);
