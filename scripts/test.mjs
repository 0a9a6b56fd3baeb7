// npm test: runs tap, then repeats its count as one plain line ("tests: N passed, N failed"),
// which CI logs can read whatever the reporter printed. With PRESQUE_CLUSTER_PASS=1 (.ci/run sets
// it) a second pass follows: the route suite again, each file against a real 3-master, 3-replica
// Redis Cluster of its own (test/support/cluster.ts), and the last line counts both passes.
// Exits non-zero if either pass failed.
import { spawn } from "node:child_process";

// Files that start, stop, fill or measure their own redis-server (auth, bounded, cli, faults,
// limits, lua, redis, versions, ...) stay single-Redis; test/cluster*.test.ts start their own
// clusters in the first pass.
const CLUSTER_PASS = [
  "test/batch.test.ts",
  "test/batchack.test.ts",
  "test/concurrency.test.ts",
  "test/idempotency.test.ts",
  "test/jobs.test.ts",
  "test/leases.test.ts",
  "test/longpoll.test.ts",
  "test/priority.test.ts",
  "test/properties.test.ts",
  "test/queues.test.ts",
  "test/stream.test.ts",
  "test/workers.test.ts",
];

/** Runs tap on `args`; resolves to its exit code and its counts. */
function tap(args, env = process.env) {
  const child = spawn(process.execPath, ["node_modules/tap/dist/esm/run.mjs", ...args], { stdio: ["ignore", "pipe", "inherit"], env });
  let tail = "";
  child.stdout.on("data", (chunk) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-4096);
  });
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
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
