// Streaming consumers (GET /c/:queue as a WebSocket, src/server/stream): credit, fairness, order,
// stopped queues, per-job answers, hand-back on close, malformed frames.
import t from "tap";
import { WebSocket } from "ws";
import { Client } from "../src/client/client.js";
import { harness, queueName, sleep, until } from "./helpers.js";
import { connect, type Consumer } from "./support/stream.js";

const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

const open = new Set<Consumer>();
t.afterEach(() => {
  for (const s of open) s.ws.terminate();
  open.clear();
});
async function consumer(path: string, headers: Record<string, string> = {}): Promise<Consumer> {
  const s = await connect(h.url, path, headers);
  open.add(s);
  return s;
}
const push = (q: string, n: number) =>
  c.pushBatch(
    q,
    Array.from({ length: n }, (_, i) => ({ n: i })),
  );

t.test("credit: never more jobs outstanding than granted; in delivery order; acks answered per job", async (t) => {
  const q = queueName();
  const ids = await push(q, 10);
  const s = await consumer(`/c/${q}?lease=20`);
  t.match(s.messages[0], { hello: { queues: [q], lease: 20 } });
  s.send({ credit: 3 });
  const first = await s.waitJobs(3);
  await sleep(300);
  t.equal(s.jobs.length, 3, "no more than the credit");
  t.same(
    first.map((j) => j.id),
    ids.slice(0, 3),
    "oldest first",
  );
  t.match(first[0], { queue: q, attempt: 1, data: { n: 0 } });
  t.ok(first[0].lease_expires > Date.now() / 1000 + 15, "leased for 20 s");
  t.match(await c.queueStats(q), { job_count: 7, job_leased: 3 });
  const acked = await s.ask({ ack: first.map((j) => ({ id: j.id, attempt: j.attempt })) });
  t.same(
    acked.ack.map((r: { status: number; state: string }) => [r.status, r.state]),
    [
      [204, "acked"],
      [204, "acked"],
      [204, "acked"],
    ],
  );
  await sleep(200);
  t.equal(s.jobs.length, 3, "an ack is not credit");
  s.send({ credit: 100 });
  await s.waitJobs(10);
  t.same(
    s.jobs.map((j) => j.id),
    ids,
    "the rest, in order",
  );
  // pushed while the socket waits with credit: delivered as they come
  const later = await c.push(q, { late: true });
  const all = await s.waitJobs(11);
  t.equal(all[10].id, later);
});

t.test("two consumers with credit share the jobs in turn; each job goes to one", async (t) => {
  const q = queueName();
  const a = await consumer(`/c/${q}`);
  const b = await consumer(`/c/${q}`);
  a.send({ credit: 50 });
  b.send({ credit: 50 });
  await sleep(100);
  const ids = await push(q, 40);
  await until("all delivered", () => a.jobs.length + b.jobs.length === 40);
  t.equal(a.jobs.length, 20, "half each");
  t.equal(b.jobs.length, 20);
  const seen = [...a.jobs, ...b.jobs].map((j) => j.id).sort();
  t.same(seen, [...ids].sort(), "each job once");
  // one at a time: the turns alternate
  for (let i = 0; i < 6; i++) await c.push(q, { i });
  await until("six more", () => a.jobs.length + b.jobs.length === 46);
  t.ok(Math.abs(a.jobs.length - b.jobs.length) <= 1, `turns alternate (${a.jobs.length}, ${b.jobs.length})`);
});

t.test("a stopped queue sends nothing until it is started", async (t) => {
  const q = queueName();
  await push(q, 2);
  t.equal((await h.http("POST", `/control/${q}`, { body: { status: "stop" } })).status, 200);
  const s = await consumer(`/c/${q}`);
  s.send({ credit: 5 });
  await sleep(700);
  t.equal(s.jobs.length, 0, "nothing while stopped");
  await h.http("POST", `/control/${q}`, { body: { status: "start" } });
  await s.waitJobs(2, 5000);
  t.pass("delivered once started");
});

t.test("several queues on one socket: ?queues= and subscribe; acks name the queue", async (t) => {
  const [a, b, d] = [queueName("a"), queueName("b"), queueName("d")];
  const s = await consumer(`/c/${a}?queues=${b}`);
  t.same(s.messages[0].hello.queues, [a, b]);
  const sub = await s.ask({ subscribe: [d, "bad name!"] });
  t.same(sub.subscribe, [
    { queue: d, status: 200 },
    { queue: "bad name!", status: 400, error: "invalid queue name" },
  ]);
  await c.push(a, { q: "a" });
  await c.push(b, { q: "b" });
  await c.push(d, { q: "d" });
  s.send({ credit: 10 });
  const jobs = await s.waitJobs(3);
  t.same(jobs.map((j) => j.queue).sort(), [a, b, d].sort());
  const answer = await s.ask({ ack: [{ id: jobs[0].id, attempt: 1 }] });
  t.match(answer.ack[0], { status: 400, error: /queue is needed/ });
  const other = queueName("other");
  const acks = await s.ask({ ack: [...jobs.map((j) => ({ queue: j.queue, id: j.id, attempt: j.attempt })), { queue: other, id: "1" }] });
  t.same(
    acks.ack.map((r: { status: number }) => r.status),
    [204, 204, 204, 403],
  );
});

t.test("fail and extend answered per job; jobs never sent to the socket get the store's 404/409", async (t) => {
  const q = queueName();
  const [x, y, z] = await push(q, 3);
  const s = await consumer(`/c/${q}?lease=5`);
  s.send({ credit: 2 });
  const [j1, j2] = await s.waitJobs(2);
  const ext = await s.ask({
    extend: [
      { id: j1.id, attempt: 1, seconds: 60 },
      { id: j2.id, attempt: 9, seconds: 60 },
      { id: z, attempt: 1, seconds: 60 },
    ],
  });
  t.match(ext.extend, [
    { id: j1.id, status: 200 },
    { id: j2.id, status: 409 },
    { id: z, status: 409 },
  ]);
  t.ok(ext.extend[0].lease_expires_at > Date.now() / 1000 + 50, "extended");
  const failed = await s.ask({ fail: [{ id: j1.id, attempt: 1, error: "boom", retry_in: 0 }, { id: "999999" }] });
  t.match(failed.fail, [
    { id: x, status: 200, state: "ready" },
    { id: "999999", status: 404 },
  ]);
  const acked = await s.ask({
    ack: [
      { id: z, attempt: 1 },
      { id: j2.id, attempt: 2 },
      { id: j2.id, attempt: 1 },
    ],
  });
  t.same(
    acked.ack.map((r: { status: number }) => r.status),
    [409, 409, 204],
    "a job it was never sent, a wrong attempt, then its own",
  );
  t.equal(y, j2.id);
  const bad = await s.ask({ ack: [{ id: "x" }] });
  t.match(bad, { for: "ack", status: 400, error: /ack\[0\]\.id must be a job id/ }, "bad fields: answered, the socket stays open");
  t.equal(s.ws.readyState, WebSocket.OPEN);
});

t.test("a socket that closes with jobs in hand: they are ready again at once, the attempt counted", async (t) => {
  const q = queueName();
  const ids = await push(q, 5);
  const s = await consumer(`/c/${q}?lease=600`);
  s.send({ credit: 5 });
  await s.waitJobs(5);
  await s.ask({ ack: [{ id: ids[0], attempt: 1 }] });
  s.close();
  const again = await consumer(`/c/${q}`);
  again.send({ credit: 10 });
  const jobs = await again.waitJobs(4, 5000);
  t.same(jobs.map((j) => j.id).sort(), ids.slice(1).sort(), "the four unacknowledged ones, not waiting for the 600 s lease");
  t.ok(
    jobs.every((j) => j.attempt === 2),
    "second attempt",
  );
  t.match(await c.job(q, ids[1]), { last_error: /consumer went away/ });
});

t.test("malformed frames close that socket with a clear code; the others are served", async (t) => {
  const q = queueName();
  const bystander = await consumer(`/c/${q}`);
  const cases: Array<[string, (s: Consumer) => void, number, RegExp]> = [
    ["not JSON", (s) => s.ws.send("{nope"), 1007, /not valid JSON/],
    ["not an object", (s) => s.ws.send("[1]"), 1007, /JSON object/],
    ["an unknown type", (s) => s.send({ gimme: 1 }), 1008, /unknown message type "gimme"/],
    ["two types", (s) => s.send({ credit: 1, ack: [] }), 1008, /one of/],
    ["a binary frame", (s) => s.ws.send(Buffer.from("{}"), { binary: true }), 1003, /JSON text/],
    ["a 1 MB frame", (s) => s.ws.send(JSON.stringify({ ack: [{ id: "1", pad: "x".repeat(1024 * 1024) }] })), 1009, /./],
  ];
  for (const [what, send, code, reason] of cases) {
    const s = await consumer(`/c/${q}`);
    send(s);
    const closed = await s.closed;
    t.equal(closed.code, code, `${what}: ${code}`);
    if (code !== 1009) t.match(closed.reason, reason, `${what}: ${closed.reason}`);
  }
  bystander.send({ credit: 1 });
  await c.push(q, { still: "served" });
  const [job] = await bystander.waitJobs(1);
  t.same(job.data, { still: "served" });
});

t.test("upgrade refusals are plain HTTP answers", async (t) => {
  const refused = async (path: string, headers: Record<string, string> = {}) => {
    try {
      (await connect(h.url, path, headers)).ws.terminate();
      return 101;
    } catch (err) {
      return (err as { status: number }).status;
    }
  };
  t.equal(await refused("/c/bad%20name"), 400);
  t.equal(await refused(`/c/${queueName()}?lease=0`), 400);
  t.equal(await refused(`/c/${queueName()}?lease=x`), 400);
  t.equal(await refused("/nowhere"), 404);
  // a page may open a WebSocket to any address: its Origin (and a rebound Host) is refused as for GET /q
  t.equal(await refused(`/c/${queueName()}`, { origin: "http://evil.example" }), 403, "a foreign Origin");
  t.equal(await refused(`/c/${queueName()}`, { host: "rebind.evil.example" }), 403, "a foreign Host");
  t.equal(await refused(`/c/${queueName()}`, { origin: h.url }), 101, "presque's own page");
  const plain = await h.http("GET", `/c/${queueName()}`);
  t.equal(plain.status, 426, "a plain GET is told to upgrade");
  t.match(plain.json, { error: /WebSocket/ });
});

t.test('{"events":true}: the socket also carries its queues\' job events, as GET /events/:queue sends them', async (t) => {
  const q = queueName();
  const s = await consumer(`/c/${q}`);
  const answer = await s.ask({ events: true });
  t.same(answer.events, { queues: [q] }, "answered with the queues it listens to");
  const id = await c.push(q, { n: 1 });
  s.send({ credit: 1 });
  const [job] = await s.waitJobs(1);
  await s.ask({ ack: [{ id: job.id, attempt: job.attempt }] });
  const seen = () => s.messages.flatMap((m) => (Array.isArray(m.events) ? m.events : []));
  await until("pushed, delivered and acked events", () => seen().filter((e: { id: string }) => e.id === id).length >= 3);
  t.same(
    seen()
      .filter((e: { id: string }) => e.id === id)
      .map((e: { type: string; queue: string }) => [e.type, e.queue]),
    [
      ["pushed", q],
      ["delivered", q],
      ["acked", q],
    ],
    "in order, each naming its queue",
  );
});
