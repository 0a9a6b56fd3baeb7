// presque push/pop/stats/stop/start/purge/dead as a user runs them: child processes of dist/cli/main.js.
import { execFileSync, spawn } from "node:child_process";
import { resolve } from "node:path";
import t from "tap";
import { renderQueueStats, renderStats, statsFormat } from "../src/cli/commands/statstable.js";
import { Client } from "../src/client/client.js";
import { freePort, harness, queueName } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "..");
execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

/** Runs the CLI; asynchronously, since the server it talks to lives in this process. */
function presque(args: string[], input?: string, env: Record<string, string> = { PRESQUE_URL: h.url }) {
  const { PRESQUE_URL: _, ...base } = process.env;
  const child = spawn(process.execPath, ["dist/cli/main.js", ...args], { cwd: REPO, env: { ...base, ...env }, stdio: "pipe" });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  child.stdin.end(input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise<{ code: number | null; out: string; err: string }>((ok) =>
    child.once("close", (code) => (clearTimeout(timer), ok({ code, out, err }))),
  );
}

t.test("push one job, pop it", async (t) => {
  const q = queueName();
  const pushed = await presque(["push", q, '{"a":1}']);
  t.equal(pushed.code, 0, pushed.err);
  t.match(JSON.parse(pushed.out), { id: /^\d+$/ });
  const popped = await presque(["pop", q]);
  t.equal(popped.code, 0);
  t.same(JSON.parse(popped.out), { a: 1 });
  const none = await presque(["pop", q]);
  t.equal(none.code, 1, "nothing to pop: exit 1");
  t.match(none.err, `no job in ${q}`);
});

t.test("push JSON lines from stdin, in batches, in order", async (t) => {
  const q = queueName();
  const lines = Array.from({ length: 2500 }, (_, n) => JSON.stringify({ n })).join("\n") + "\n\n";
  const run = await presque(["push", q, "--batch", "1000", "--in-flight", "1"], lines);
  t.equal(run.code, 0, run.err);
  t.same(JSON.parse(run.out), { queue: q, pushed: 2500 });
  t.equal((await c.queueStats(q)).job_count, 2500);
  t.same(await c.peek(q, 3), [{ n: 0 }, { n: 1 }, { n: 2 }], "in the lines' order");
  const bad = await presque(["push", q], '{"ok":1}\nnot json\n');
  t.equal(bad.code, 2);
  t.match(bad.err, "line 2 is not JSON");
});

t.test("stats, stop, start, purge", async (t) => {
  const q = queueName();
  await c.pushBatch(q, [{}, {}]);
  t.match(JSON.parse((await presque(["stats", q])).out), { queue_name: q, job_count: 2 });
  t.ok(JSON.parse((await presque(["stats"])).out).queues.some((s: { queue_name: string }) => s.queue_name === q));
  t.equal((await presque(["stop", q])).code, 0);
  t.match(await c.control(q), { status: 0 });
  const closed = await presque(["pop", q]);
  t.equal(closed.code, 1);
  t.match(closed.err, "queue is closed");
  t.equal((await presque(["start", q])).code, 0);
  t.match(await c.control(q), { status: 1 });
  t.equal((await presque(["purge", q])).code, 0);
  t.equal((await c.queueStats(q)).job_count, 0);
});

t.test("stats: JSON when piped and with --json, a table on a terminal", async (t) => {
  const q = queueName("table");
  await c.pushBatch(q, [{}, {}, {}]);
  await c.stop(q);
  t.teardown(() => c.start(q));
  t.equal(statsFormat({ isTTY: false }), "json", "piped: JSON, so that scripts keep working");
  t.equal(statsFormat({ isTTY: undefined }), "json");
  t.equal(statsFormat({ isTTY: true }), "table");
  t.equal(statsFormat({ isTTY: true, json: true }), "json");
  const flagged = await presque(["stats", "--json"]);
  t.equal(flagged.code, 0, flagged.err);
  const stats = JSON.parse(flagged.out);
  t.ok(stats.processes[0].scripts.length > 10, "--json keeps every detail");
  t.same(JSON.parse((await presque(["stats", q, "--json"])).out), await c.queueStats(q));

  const now = stats.processes[0].started_at * 1000 + 90_000;
  const shown = renderStats(stats, now);
  const lines = shown.split("\n");
  t.match(lines[0], /^redis +redis:\/\/127\.0\.0\.1:\d+\/0 \(Redis \d/, "which Redis");
  t.match(shown, /^processes +1$/m);
  t.match(
    shown,
    new RegExp(`^  \\S+  presque \\S+, layout \\d+, ${stats.processes[0].scripts.length} scripts, up 90 s$`, "m"),
    "a process in one line",
  );
  t.notMatch(shown, stats.processes[0].scripts[0], "no script names");
  t.match(shown, /^workers +\d+$/m);
  const header = lines.find((l) => l.startsWith("queue "));
  t.match(header, /^queue +status +ready +prioritized +delayed +leased +dead +processed +failed$/);
  t.match(shown, new RegExp(`^${q} +stopped +3 +0 +0 +0 +0 +0 +0$`, "m"), "a queue in one row, its figures under their headers");
  const row = lines.find((l) => l.startsWith(q))!;
  t.equal(row.length, header!.length, "right-aligned under the headers");
  t.match(shown, new RegExp(`^queues: ${stats.total} \\(by name\\)$`, "m"));
  t.match(renderStats({ ...stats, queues: stats.queues.slice(0, 1), total: 250 }), /^queues: 1-1 of 250 \(by name\)$/m, "a page of them");
  t.match(renderStats({ ...stats, queues: [], total: 0 }), /^no queues yet$/m);
  t.match(renderQueueStats(await c.queueStats(q)), new RegExp(`^queue +status.*\n${q} +3 +0`), "one queue");
});

t.test("dead: list, --retry-all", async (t) => {
  const q = queueName();
  await c.configure(q, { max_attempts: 1 });
  await c.pushBatch(q, [{ d: 1 }, { d: 2 }]);
  for (const job of await c.fetchBatch(q, 2, { lease: 10 })) await c.fail(q, job.id, job.attempt, "fatal");
  const list = await presque(["dead", q]);
  t.equal(list.code, 0);
  t.equal(list.out.trim().split("\n").length, 2);
  t.match(JSON.parse(list.out.split("\n")[0]), { last_error: "fatal", state: "dead" });
  t.same(JSON.parse((await presque(["dead", q, "--retry-all"])).out), { queue: q, retried: 2 });
  t.match(await c.queueStats(q), { job_count: 2, job_dead: 0 });
});

t.test("schedule set, list, delete; and the Client's schedule methods", async (t) => {
  const q = queueName("sched");
  const set = await presque(["schedule", "set", q, "nightly", "--cron", "0 3 * * *", "--tz", "Europe/Paris", '{"kind":"nightly"}']);
  t.equal(set.code, 0, set.err);
  t.match(JSON.parse(set.out), { queue: q, name: "nightly", cron: "0 3 * * *", tz: "Europe/Paris", outcome: "created" });
  const every = await presque(["schedule", "set", q, "beat", "--every", "3600", "--priority", "2", "{}"]);
  t.equal(every.code, 0, every.err);
  const listed = await presque(["schedule", "list", q]);
  t.same(
    listed.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).name),
    ["beat", "nightly"],
  );
  const bad = await presque(["schedule", "set", q, "x", "--cron", "nope", "{}"]);
  t.equal(bad.code, 1);
  t.match(bad.err, /400 cron "nope" is not a valid cron expression/);
  t.equal((await presque(["schedule", "set", q, "x", "--every", "5"])).code, 2, "no job");
  t.equal((await presque(["schedule", "delete", q, "beat"])).code, 0);
  t.equal((await presque(["schedule", "delete", q, "beat"])).code, 1, "none left to delete");

  t.match(await c.schedule(q, "nightly"), { name: "nightly", last_run_at: null });
  t.equal(await c.schedule(q, "beat"), null);
  t.match(await c.setSchedule(q, "beat", { every: 60, job: { a: 1 } }), { outcome: "created", every: 60 });
  t.same(
    (await c.schedules(q)).map((s) => s.name),
    ["beat", "nightly"],
  );
  t.ok((await c.schedules()).some((s) => s.queue === q));
  t.equal(await c.deleteSchedule(q, "beat"), true);
  t.equal(await c.deleteSchedule(q, "beat"), false);
  await c.deleteSchedule(q, "nightly");
});

t.test("the Client: deadlines, limits, and a rate-limited fetch is no job", async (t) => {
  const q = queueName("flow");
  await c.push(q, { a: 1 }, { expiresIn: 60 });
  await c.push(q, { a: 2 }, { expiresAt: Date.now() / 1000 + 60 });
  await c.configure(q, { rate: 0.01, burst: 1, concurrency: 5, expires_in: 30 });
  t.match(await c.control(q), { rate: 0.01, burst: 1, concurrency: 5, expires_in: 30 });
  t.ok(await c.fetch(q));
  t.equal(await c.fetch(q), null, "rate limited: no job");
  await c.configure(q, { rate: null, burst: null, concurrency: null, expires_in: null });
  t.ok(await c.fetch(q));
});

t.test("--help everywhere; bad usage exits 2; an unreachable server is one line", async (t) => {
  for (const cmd of [[], ["serve"], ["push"], ["pop"], ["stats"], ["stop"], ["start"], ["purge"], ["dead"], ["work"], ["schedule"]]) {
    const run = await presque([...cmd, "--help"]);
    t.equal(run.code, 0, `${cmd.join(" ") || "presque"} --help`);
    t.match(run.out, /^Usage: presque/);
  }
  t.equal((await presque(["frobnicate"])).code, 2);
  t.equal((await presque(["pop"])).code, 2, "no queue");
  const port = await freePort();
  for (const env of [{ PRESQUE_URL: `http://127.0.0.1:${port}` }]) {
    const run = await presque(["stats"], undefined, env);
    t.equal(run.code, 1);
    t.equal(run.err, `presque: cannot reach presque at http://127.0.0.1:${port}: connection refused\n`);
  }
  const flag = await presque(["stats", "--url", `http://127.0.0.1:${port}`], undefined, {});
  t.match(flag.err, `127.0.0.1:${port}`, "--url works too");
});
