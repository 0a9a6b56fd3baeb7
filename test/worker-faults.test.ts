// No job lost: a Worker or a presque work killed with SIGKILL mid-job, SIGTERM mid-job, and the
// server restarted under a running Worker.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import t, { type Test } from "tap";
import { Client } from "../src/client/client.js";
import { createLogger } from "../src/shared/log.js";
import { startServer } from "../src/server/start.js";
import { Worker } from "../src/client/worker.js";
import { freePort, harness, queueName, sleep, until } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "..");
execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

interface Child {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function launch(t: Test, command: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((ok) => proc.once("exit", (code) => ok(code)));
  t.teardown(() => {
    try {
      process.kill(-proc.pid!, "SIGKILL");
    } catch {
      // gone
    }
  });
  return { proc, out: () => out, exited };
}

const workerChild = (t: Test, q: string, extra: Record<string, string> = {}) =>
  launch(t, process.execPath, ["--import", "tsx", "test/fixtures/worker-child.ts"], { PRESQUE_URL: h.url, QUEUE: q, LEASE: "1", ...extra });

/** A Worker in this process that finishes whatever it is handed, recording what. */
async function finisher(q: string) {
  const done: { id: string; attempt: number }[] = [];
  const w = new Worker({
    url: h.url,
    queues: q,
    lease: 5,
    wait: 1,
    handleSignals: false,
    handler: (job) => void done.push({ id: job.id, attempt: job.attempt }),
  });
  await w.start();
  return { w, done };
}

/** SIGKILLs `child` once its output shows `started`, then another worker must do the job (its
 *  second attempt, after the lease) and ack it. */
async function killedThenDoneByAnother(t: Test, q: string, id: string, child: Child, started: string) {
  await until("started", () => child.out().includes(started));
  process.kill(child.proc.pid!, "SIGKILL");
  await child.exited;
  const { w, done } = await finisher(q);
  await until("done by another", () => done.length === 1);
  await w.stop();
  t.same(done, [{ id, attempt: 2 }]);
  t.equal(await c.job(q, id), null, "acked");
}

t.test("a Worker killed with SIGKILL mid-job: the job comes back after its lease and another worker does it", async (t) => {
  const q = queueName();
  const id = await c.push(q, { n: 1 });
  await killedThenDoneByAnother(t, q, id, workerChild(t, q), `started ${id} 1`);
});

t.test("presque work killed with SIGKILL mid-job: the job comes back and another worker does it", async (t) => {
  const q = queueName();
  const id = await c.push(q, { n: 1 });
  const child = launch(t, process.execPath, ["dist/cli/main.js", "work", q, "--lease", "1", "--", "sh", "-c", "echo running; sleep 2"], {
    PRESQUE_URL: h.url,
  });
  await killedThenDoneByAnother(t, q, id, child, "running");
});

t.test("SIGTERM mid-job: the job is handed back, ready again at once (whatever the backoff), the worker exits 0", async (t) => {
  for (const kind of ["Worker", "presque work"]) {
    const q = queueName();
    const id = await c.push(q, { n: 1 });
    const child =
      kind === "Worker"
        ? workerChild(t, q, { LEASE: "60" })
        : launch(
            t,
            process.execPath,
            ["dist/cli/main.js", "work", q, "--lease", "60", "--grace", "0.1", "--", "sh", "-c", "echo running; sleep 30"],
            { PRESQUE_URL: h.url },
          );
    await until(`${kind} started`, () => /started \d|running/.test(child.out()));
    process.kill(child.proc.pid!, "SIGTERM");
    t.equal(await child.exited, 0, `${kind} exits 0`);
    const again = await c.fetch(q, { lease: 5 });
    t.equal(again?.id, id, `${kind}: handed out again at once, though its lease was 60 s`, { output: child.out() });
    await c.ack(q, id, again!.attempt);
  }
});

t.test("the server restarted under a running Worker: no crash, no job lost", async (t) => {
  const port = await freePort();
  const config = { ...h.config, server: { ...h.config.server, port } };
  let server = await startServer(config, createLogger("silent"));
  t.teardown(() => server.close());
  const q = queueName();
  const seen = new Set<string>();
  const errors: Error[] = [];
  const w = new Worker({
    url: server.url,
    queues: q,
    concurrency: 4,
    lease: 5,
    wait: 1,
    handleSignals: false,
    handler: async (job) => {
      seen.add(job.id);
      await sleep(2);
    },
  });
  w.on("error", (err) => errors.push(err));
  await w.start();
  await c.pushBatch(
    q,
    Array.from({ length: 200 }, (_, n) => ({ n })),
  );
  await until("some done", () => w.counts.done >= 20);
  await server.close();
  // longer than the client's own retries: the Worker's loop must carry on by itself
  await sleep(1500);
  server = await startServer(config, createLogger("silent"));
  await c.pushBatch(
    q,
    Array.from({ length: 100 }, (_, n) => ({ n: 200 + n })),
  );
  await until(
    "all done",
    async () => {
      const s = await c.queueStats(q);
      return s.job_count === 0 && s.job_leased === 0 && s.job_delayed === 0;
    },
    30_000,
  );
  await w.stop();
  t.equal(seen.size, 300, "every job ran");
  t.equal((await c.queueStats(q)).job_processed >= 300, true, "and was acknowledged");
  t.ok(errors.length > 0, `it noticed the outage (${errors.length} errors reported as events, none thrown)`);
});
