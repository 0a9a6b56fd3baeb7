// presque work -- <command>: a program per job, its exit status the outcome.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import t from "tap";
import { Client } from "../src/client/client.js";
import { harness, queueName } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "..");
execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());
const dir = mkdtempSync(join(tmpdir(), "presque-work-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function work(args: string[]) {
  const child = spawn(process.execPath, ["dist/cli/main.js", "work", ...args], {
    cwd: REPO,
    env: { ...process.env, PRESQUE_URL: h.url },
    stdio: "pipe",
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  child.stdin.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise<{ code: number | null; out: string; err: string }>((ok) =>
    child.once("close", (code) => (clearTimeout(timer), ok({ code, out, err }))),
  );
}
const events = (stderr: string) =>
  stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));

t.test("job JSON on stdin, id/attempt/queue in the environment; exit 0 acks, else fails with the stderr tail", async (t) => {
  const q = queueName();
  const ids = await c.pushBatch(q, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const log = join(dir, "log");
  const script =
    `read -r body; echo "$PRESQUE_QUEUE $PRESQUE_JOB_ID $PRESQUE_ATTEMPT $body" >> ${log}; ` +
    `case "$body" in *2*) echo first >&2; echo "no luck with 2" >&2; exit 3;; esac`;
  const run = await work([q, "-c", "2", "--max-jobs", "3", "--", "sh", "-c", script]);
  t.equal(run.code, 0, run.err);
  const lines = readFileSync(log, "utf8").trim().split("\n").sort();
  t.same(lines, ids.map((id, i) => `${q} ${id} 1 {"n":${i + 1}}`).sort());
  t.equal(await c.job(q, ids[0]), null, "exit 0: acked");
  t.match(await c.job(q, ids[1]), { state: "delayed", last_error: "exit code 3: first\nno luck with 2" });
  const logged = events(run.err);
  t.match(
    logged.find((e) => e.event === "failed"),
    { id: ids[1], attempt: 1, error: /no luck with 2/ },
    "JSON log lines off a terminal",
  );
  t.equal(logged.filter((e) => e.event === "done").length, 2);
  t.match(logged.at(-1), { event: "stopped", done: 2, failed: 1 });
});

t.test("--timeout ends the program's process group and fails the job; the lease is extended while it runs", async (t) => {
  const q = queueName();
  const [slow, killed] = await c.pushBatch(q, [{ sleep: 2.5 }, { sleep: 60 }]);
  // lease 1 s: the first job outlives it three times over and must still run once
  const script = `n=$(cat | sed 's/[^0-9.]//g'); echo "$PRESQUE_JOB_ID" >> ${join(dir, "runs")}; sleep "$n" & wait`;
  const run = await work([q, "-c", "2", "--lease", "1", "--timeout", "4", "--max-jobs", "2", "--", "sh", "-c", script]);
  t.equal(run.code, 0, run.err);
  t.equal(await c.job(q, slow), null, "outlived its lease, acked");
  t.match(await c.job(q, killed), { state: "delayed", last_error: /^timed out after 4 s/ });
  t.same(readFileSync(join(dir, "runs"), "utf8").trim().split("\n").sort(), [slow, killed].sort(), "each ran once");
});
