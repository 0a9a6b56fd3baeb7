// Client: every route through its typed method, errors with status and message, and retries only
// where a repeat is harmless.
import { createServer } from "node:http";
import t from "tap";
import { Client, ConnectionError, PresqueError } from "../src/client/client.js";
import { freePort, harness, queueName } from "./helpers.js";

const h = await harness(t);
const c = new Client({ url: h.url, workerId: "client-test" });
t.teardown(() => c.close());

t.test("push, fetch, ack; job lookup; stats", async (t) => {
  const q = queueName();
  const id = await c.push(q, { a: 1 }, { priority: 3, maxAttempts: 2 });
  t.match(id, /^\d+$/);
  t.match(await c.queueStats(q), { queue_name: q, job_count: 1, job_prioritized: 1 });
  t.same(await c.peek(q), [{ a: 1 }]);
  const job = await c.fetch<{ a: number }>(q, { lease: 30 });
  t.ok(job);
  t.same({ id: job!.id, queue: job!.queue, attempt: job!.attempt, data: job!.data }, { id, queue: q, attempt: 1, data: { a: 1 } });
  t.ok(job!.leaseExpiresAt! > Date.now() / 1000, "lease expiry in the future");
  const info = await c.job(q, id);
  t.match(info, { id, queue: q, state: "leased", attempts: 1, priority: 3, max_attempts: 2, job: { a: 1 } });
  const until = await c.extend(q, id, 1, 60);
  t.ok(until > Date.now() / 1000 + 50, "extended");
  await c.ack(q, id, 1);
  t.equal(await c.job(q, id), null, "acked: gone");
  t.equal(await c.fetch(q), null, "no job: null");
  t.ok((await c.queues()).includes(q));
  const stats = await c.stats({ sort: "name", limit: 1000 });
  t.match(stats, { sort: "name", limit: 1000, total: Number });
  t.ok(stats.queues.some((s) => s.queue_name === q));
  t.match(stats.processes[0], { id: String, version: String, layout: Number });
});

t.test("errors carry the status and the server's message", async (t) => {
  const q = queueName();
  const id = await c.push(q, { a: 1 });
  await c.fetch(q, { lease: 30 });
  const stale = await c.ack(q, id, 7).catch((e) => e);
  t.type(stale, PresqueError);
  t.equal(stale.status, 409);
  t.match(stale.message, /attempt/);
  const bad = await c.push("bad name!", {}).catch((e) => e);
  t.match(bad, { status: 400, message: "invalid queue name", method: "POST" });
  await c.stop(q);
  await t.rejects(c.fetch(q), { status: 404, message: "queue is closed" });
  await c.start(q);
});

t.test("batches: pushBatch, fetchBatch, ackBatch, failBatch", async (t) => {
  const q = queueName();
  const ids = await c.pushBatch(q, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  t.equal(ids.length, 3);
  const jobs = await c.fetchBatch<{ n: number }>(q, 10, { lease: 30 });
  t.same(
    jobs.map((j) => j.data.n),
    [1, 2, 3],
  );
  t.same(
    jobs.map((j) => j.attempt),
    [1, 1, 1],
  );
  t.same(await c.fetchBatch(q, 10, { lease: 30 }), [], "empty: []");
  const acks = await c.ackBatch(q, [
    { id: ids[0], attempt: 1 },
    { id: ids[1], attempt: 5 },
    { id: "999999", attempt: 1 },
  ]);
  t.match(acks, [
    { id: ids[0], status: 204, state: "acked" },
    { id: ids[1], status: 409 },
    { id: "999999", status: 404, error: "no such job" },
  ]);
  const fails = await c.failBatch(q, [
    { id: ids[1], attempt: 1, error: "boom" },
    { id: ids[2], attempt: 3 },
  ]);
  t.match(fails, [
    { id: ids[1], status: 200, state: "delayed" },
    { id: ids[2], status: 409 },
  ]);
  t.match(await c.job(q, ids[1]), { state: "delayed", last_error: "boom" });
  t.equal(await c.job(q, ids[0]), null);
});

t.test("fail to the dead list, list it, retry it, purge it; control and purge", async (t) => {
  const q = queueName();
  await c.configure(q, { max_attempts: 1, backoff_base: 0 });
  t.match(await c.control(q), { queue: q, status: 1, max_attempts: 1 });
  const id = await c.push(q, { d: 1 });
  const job = await c.fetch(q, { lease: 10 });
  t.match(await c.fail(q, id, job!.attempt, "fatal"), { id, state: "dead" });
  const dead = await c.dead(q);
  t.equal(dead.total, 1);
  t.match(dead.jobs[0], { id, last_error: "fatal" });
  await c.retryDead(q, id);
  t.match(await c.job(q, id), { state: "ready" });
  await c.fail(q, id, (await c.fetch(q, { lease: 10 }))!.attempt);
  t.equal(await c.purgeDead(q), 1);
  await c.push(q, { x: 1 });
  await c.purge(q);
  t.equal((await c.queueStats(q)).job_count, 0);
  const retried = await c.retry(q, { again: true });
  t.match(retried, /^\d+$/, "PUT /q re-inserts");
});

t.test("workers: register, describe, unregister", async (t) => {
  const q = queueName();
  await c.register(q);
  t.ok((await c.workers()).includes("client-test"));
  t.match(await c.worker("client-test"), { worker_id: "client-test" });
  t.match(await c.queueWorkers(q), { queue_name: q, workers_list: ["client-test"] });
  await c.unregister(q);
  t.notOk((await c.queueWorkers(q)).workers_list.includes("client-test"));
  t.equal(await c.worker("nobody-" + q), null);
});

t.test("retries: idempotent calls on 503, never a plain push", async (t) => {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    res.writeHead(calls < 3 ? 503 : 200, { "content-type": "application/json" });
    res.end(calls < 3 ? '{"error":"redis is unavailable"}' : req.method === "GET" ? '{"queue_name":"q","job_count":0}' : '{"id":"1"}');
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.teardown(() => server.close());
  const flaky = new Client({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, retryDelay: 1 });
  t.teardown(() => flaky.close());
  t.match(await flaky.queueStats("q"), { job_count: 0 }, "GET retried until it succeeded");
  t.equal(calls, 3);
  calls = 0;
  await t.rejects(flaky.push("q", {}), { status: 503, message: "redis is unavailable" }, "POST /q is not retried");
  t.equal(calls, 1, "one request only");
});

t.test("connection errors: ConnectionError after capped retries", async (t) => {
  const port = await freePort();
  const down = new Client({ url: `http://127.0.0.1:${port}`, retries: 2, retryDelay: 1 });
  const err = await down.stats().catch((e) => e);
  t.type(err, ConnectionError);
  t.match(err.message, /cannot reach presque at http:\/\/127\.0\.0\.1:\d+: connection refused/);
  down.close();
});
