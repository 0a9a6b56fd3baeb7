// test/worker.test.ts over the stream transport (GET /c/:queue), and what only streams do: the
// fall-back to long polls on a server that does not upgrade, and a socket lost under running jobs.
import t from "tap";
import { Client } from "../src/client/client.js";
import { StreamRefused } from "../src/client/stream.js";
import { Worker } from "../src/client/worker.js";
import { createLogger } from "../src/shared/log.js";
import { startServer } from "../src/server/start.js";
import { harness, queueName, until } from "./helpers.js";

process.env.PRESQUE_TEST_TRANSPORT = "stream";
await import("./worker.test.js");

const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

t.test('a server that answers the upgrade 404 (an older presque): the Worker long-polls; given "stream", start() fails', async (t) => {
  const old = await startServer(h.config, createLogger("silent"));
  t.teardown(() => old.close());
  old.server.removeAllListeners("upgrade");
  old.server.on("upgrade", (_req, socket) =>
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{"error":"not found"}'),
  );
  const q = queueName();
  await c.pushBatch(q, [{ n: 1 }, { n: 2 }]);
  const w = new Worker({ url: old.url, queues: q, handleSignals: false, wait: 1, handler: () => {} });
  await w.start();
  t.equal(w.transport, "poll");
  await until("done", () => w.counts.done === 2);
  await w.stop();
  const strict = new Worker({ url: old.url, queues: q, handleSignals: false, transport: "stream", handler: () => {} });
  const refused = await strict.start().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(refused instanceof StreamRefused, "refused");
  t.equal((refused as StreamRefused).status, 404);
});

t.test("the socket lost under running jobs: their handlers are told, the jobs go out again, the Worker reconnects", async (t) => {
  const q = queueName();
  const [id] = await c.pushBatch(q, [{ n: 1 }]);
  let runs = 0;
  let aborted: unknown;
  const w = new Worker({
    url: h.url,
    queues: q,
    handleSignals: false,
    lease: 600,
    handler: async (_job, ctx) => {
      if (++runs > 1) return;
      await new Promise((ok) => ctx.signal.addEventListener("abort", ok));
      aborted = ctx.signal.reason;
    },
  });
  await w.start();
  t.equal(w.transport, "stream");
  await until("running", () => runs === 1);
  // the connection breaks (a proxy restarting, say)
  (w as unknown as { stream: { ws: { terminate(): void } } }).stream.ws.terminate();
  await until("told", () => aborted !== undefined);
  t.match(String(aborted), /lease lost/);
  await until("run again and done", () => w.counts.done === 1, 10_000);
  t.equal(runs, 2, "handed back at once, not after the 600 s lease, and taken again over the new socket");
  await w.stop();
  t.equal(await c.job(q, id), null, "acknowledged");
});

t.test("a prefetched job whose lease ran out while it waited is not run: it goes out again, with its next attempt", async (t) => {
  const q = queueName();
  const ids = await c.pushBatch(q, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  const runs: string[] = [];
  const w = new Worker({
    url: h.url,
    queues: q,
    handleSignals: false,
    concurrency: 1,
    prefetch: 2,
    lease: 2,
    handler: async (job) => {
      runs.push(`${job.id}:${job.attempt}`);
      // the first job outlasts the others' leases while they wait for its slot (its own is extended)
      if (runs.length === 1) await new Promise((ok) => setTimeout(ok, 2500));
    },
  });
  await w.start();
  t.equal(w.transport, "stream");
  await until("all done", () => w.counts.done === 3, 10_000);
  await w.stop();
  t.same(
    runs,
    [`${ids[0]}:1`, `${ids[1]}:2`, `${ids[2]}:2`],
    "the two that waited past their leases ran once each, on their second attempt",
  );
  for (const id of ids) t.equal(await c.job(q, id), null, `${id} acknowledged`);
});
