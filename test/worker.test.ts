// Worker: concurrency across queues, batch acks, failures, lease extension and loss, stop().
// Run over long polls here, and over the stream transport by test/worker-stream.test.ts.
import t from "tap";
import { Client } from "../src/client/client.js";
import { Worker, type WorkerOptions } from "../src/client/worker.js";
import { harness, queueName, sleep, until } from "./helpers.js";

const TRANSPORT = (process.env.PRESQUE_TEST_TRANSPORT ?? "poll") as "stream" | "poll";
const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

/** A Worker on this server: lease 30 s, 1 s long polls, no signal handlers, unless opts say else. */
function worker<T = unknown>(queues: string | string[], handler: WorkerOptions<T>["handler"], opts: Partial<WorkerOptions<T>> = {}) {
  return new Worker<T>({ url: h.url, queues, lease: 30, wait: 1, handleSignals: false, handler, transport: TRANSPORT, ...opts });
}

t.test("drains two queues at bounded concurrency: every job once, acked, counted", async (t) => {
  const [a, b] = [queueName("a"), queueName("b")];
  await c.pushBatch(
    a,
    Array.from({ length: 300 }, (_, n) => ({ n })),
  );
  await c.pushBatch(
    b,
    Array.from({ length: 100 }, (_, n) => ({ n })),
  );
  const seen = new Map<string, number>();
  let running = 0;
  let most = 0;
  const w = worker<{ n: number }>(
    [a, b],
    async (job) => {
      running++;
      most = Math.max(most, running);
      seen.set(`${job.queue}/${job.id}`, (seen.get(`${job.queue}/${job.id}`) ?? 0) + 1);
      await sleep(job.data.n % 3);
      running--;
    },
    { concurrency: 7 },
  );
  await w.start();
  t.equal(w.transport, TRANSPORT);
  t.match(w.id, new RegExp(`:${process.pid}:worker$`), "readable id: host, pid, name");
  t.ok((await c.queueWorkers(a)).workers_list.includes(w.id), "registered");
  await until("all done", async () => w.counts.done === 400);
  await w.stop();
  t.equal(seen.size, 400, "every job ran");
  t.ok(
    [...seen.values()].every((n) => n === 1),
    "each once",
  );
  t.ok(most <= 7, `never more than 7 at once (${most})`);
  for (const [q, n] of [
    [a, 300],
    [b, 100],
  ] as const) {
    t.match(await c.queueStats(q), { job_count: 0, job_leased: 0, job_delayed: 0, job_processed: n }, `${q}: acked and counted`);
  }
  t.notOk((await c.workers()).includes(w.id), "unregistered on stop");
});

t.test("a thrown error fails the job with its message", async (t) => {
  const q = queueName();
  const id = await c.push(q, { bad: true });
  const w = worker(q, () => {
    throw new Error("smtp timeout");
  });
  await w.start();
  await until("failed", () => w.counts.failed === 1);
  await w.stop();
  t.match(await c.job(q, id), { state: "delayed", attempts: 1, last_error: "smtp timeout" });
});

t.test("handlers outliving their leases (one, then three more while it runs): each extended on time, run once", async (t) => {
  const q = queueName();
  const ids = [await c.push(q, { n: 0 })];
  let runs = 0;
  const w = worker(
    q,
    async () => {
      runs++;
      await sleep(2200);
    },
    { concurrency: 4, lease: 1 },
  );
  await w.start();
  // one job now, three more while the first is running: their extensions fall due at other times
  await sleep(300);
  for (let n = 1; n < 4; n++) ids.push(await c.push(q, { n }));
  await until("done", () => w.counts.done === 4, 15_000);
  await w.stop();
  t.equal(runs, 4, "none handed out again");
  for (const id of ids) t.equal(await c.job(q, id), null, `job ${id} acked`);
  t.match(await c.queueStats(q), { job_processed: 4, job_failed: 0 });
});

t.test("a signal first read after the job was given up on is already aborted", async (t) => {
  const q = queueName();
  await c.push(q, {});
  let started = false;
  let seen: AbortSignal | undefined;
  const w = worker(q, async (_job, ctx) => {
    started = true;
    await sleep(400);
    seen = ctx.signal;
  });
  await w.start();
  await until("started", () => started);
  await w.stop(50);
  await until("read", () => seen !== undefined);
  t.ok(seen!.aborted, "aborted");
  t.match(String(seen!.reason), /worker stopped/);
});

t.test("a lost lease aborts the handler's signal, and its result is not reported", async (t) => {
  const q = queueName();
  const id = await c.push(q, {});
  let aborted: unknown;
  const w = worker(
    q,
    async (job, ctx) => {
      await c.ack(q, job.id, job.attempt); // someone else settles the job meanwhile
      await new Promise((ok) => ctx.signal.addEventListener("abort", ok));
      aborted = ctx.signal.reason;
    },
    { lease: 1 },
  );
  await w.start();
  await until("aborted", () => aborted !== undefined, 10_000);
  await w.stop();
  t.match(String(aborted), /lease lost/);
  t.equal(w.counts.done, 0, "not counted as done");
  t.equal(await c.job(q, id), null);
});

t.test("stop(timeout): unfinished jobs are handed back, ready again at once; the worker unregisters", async (t) => {
  const q = queueName();
  const id = await c.push(q, { slow: true });
  let started = false;
  let signalled = false;
  const w = worker(
    q,
    async (_job, ctx) => {
      started = true;
      await new Promise((ok) => ctx.signal.addEventListener("abort", ok));
      signalled = true;
    },
    { lease: 60 },
  );
  await w.start();
  await until("started", () => started);
  await w.stop(100);
  t.ok(signalled, "the handler was told");
  const again = await c.fetch(q, { lease: 10 });
  t.equal(again?.id, id, "handed out again right away, though its lease was 60 s");
  t.match(await c.job(q, id), { last_error: "worker stopped before the job finished" });
  t.equal(again?.attempt, 2);
  t.notOk((await c.workers()).includes(w.id));
});

t.test("lease 0: the classic way, a failed job is posted back with PUT /q", async (t) => {
  const q = queueName();
  await c.push(q, { k: "v" });
  let runs = 0;
  const w = worker(
    q,
    () => {
      runs++;
      if (runs === 1) throw new Error("once");
    },
    { lease: 0 },
  );
  await w.start();
  t.equal(w.transport, "poll", "lease 0 always long-polls");
  await until("retried and done", () => w.counts.done === 1);
  await w.stop();
  t.equal(runs, 2);
  t.match(await c.queueStats(q), { job_count: 0, job_leased: 0, job_failed: 1 });
});

t.test("maxJobs: takes that many, finishes them, stops by itself", async (t) => {
  const q = queueName();
  await c.pushBatch(
    q,
    Array.from({ length: 10 }, (_, n) => ({ n })),
  );
  const w = worker(q, () => sleep(5), { concurrency: 4, maxJobs: 6 });
  await w.start();
  await w.stopped;
  t.equal(w.counts.done, 6);
  t.match(await c.queueStats(q), { job_count: 4, job_leased: 0 });
});

t.test("maxJobs over two queues, the jobs all in one: the other's empty polls do not keep it from the last", async (t) => {
  const [full, empty] = [queueName("full"), queueName("empty")];
  await c.pushBatch(
    full,
    Array.from({ length: 30 }, (_, n) => ({ n })),
  );
  const w = worker([full, empty], () => {}, { concurrency: 10, maxJobs: 30 });
  let stopped = false;
  void w.stopped.then(() => (stopped = true));
  await w.start();
  await until("stopped by itself", () => stopped, 10_000);
  t.equal(w.counts.done, 30);
  t.match(await c.queueStats(full), { job_count: 0, job_leased: 0, job_processed: 30 });
});

t.test("lease 0, stop(timeout) with a job still running: the job is posted back", async (t) => {
  const q = queueName();
  await c.push(q, { k: "stuck" });
  let started = false;
  const w = worker(
    q,
    (_job, ctx) => {
      started = true;
      return new Promise((ok) => ctx.signal.addEventListener("abort", ok));
    },
    { lease: 0 },
  );
  await w.start();
  await until("started", () => started);
  t.equal((await c.queueStats(q)).job_count, 0, "taken (deleted on fetch)");
  await w.stop(100);
  t.same(await c.peek(q), [{ k: "stuck" }], "back in the queue");
});

t.test(
  "jobs whose fetch answers after stop() began are handed back at once, not run",
  { skip: TRANSPORT === "stream" && "long polls only" },
  async (t) => {
    const q = queueName();
    const id = await c.push(q, {});
    let runs = 0;
    const w = worker(q, () => void runs++, { lease: 60, wait: 5 });
    // stop() begins while the answer that holds the job is on its way (as when SIGTERM arrives then)
    const fetchBatch = w.client.fetchBatch.bind(w.client);
    let stopping: Promise<void> | undefined;
    w.client.fetchBatch = (async (...args: Parameters<typeof fetchBatch>) => {
      const jobs = await fetchBatch(...args);
      stopping ??= w.stop(1000);
      return jobs;
    }) as typeof fetchBatch;
    await w.start();
    await until("stopping", () => stopping !== undefined);
    await stopping;
    t.equal(runs, 0, "not run");
    const again = await c.fetch(q, { lease: 5 });
    t.equal(again?.id, id, "ready again at once, though it was leased for 60 s");
  },
);
