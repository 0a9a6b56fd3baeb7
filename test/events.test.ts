// GET /events/:queue and Client.waitFor: the job events the scripts publish, in order, with a
// count of what a watcher that does not read has missed, and nothing left behind by a disconnect.
import { request, type IncomingMessage } from "node:http";
import t from "tap";
import { Client } from "../src/client/client.js";
import { harness, ON_CLUSTER, queueName, sleep, until } from "./helpers.js";
import { checkAnswer, checkEvent } from "./support/openapi.js";

const h = await harness(t);
const push = async (q: string, body: unknown) => (await h.http("POST", `/q/${q}`, { body })).json.id as string;

/** node:http's headers as fetch's Headers, for the answer checker. */
function headersOf(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers.set(name, String(value));
  return headers;
}

interface Seen {
  type: string;
  data: { id?: string; attempt?: number; reason?: string; missed?: number };
}

/** A watcher of one queue's events: resolves once the server says it is subscribed. */
function watch(q: string, opts: { paused?: boolean } = {}) {
  const seen: Seen[] = [];
  let response: IncomingMessage | undefined;
  let buffered = "";
  const read = (text: string) => {
    buffered += text;
    for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const type = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (type && data) {
        checkEvent(type, JSON.parse(data), "/events/:queue");
        seen.push({ type, data: JSON.parse(data) });
      }
    }
  };
  const req = request(`${h.url}/events/${q}`);
  const opened = new Promise<void>((resolve, reject) => {
    req.on("response", (res) => {
      response = res;
      // the stream's status and headers; its events are judged one by one as they come
      if (res.statusCode === 200) {
        try {
          checkAnswer("GET", `/events/${q}`, { status: 200, headers: headersOf(res), text: "" });
        } catch (err) {
          return reject(err);
        }
      }
      res.setEncoding("utf8");
      res.on("data", read);
      res.on("error", () => {});
      void until("subscribed", () => seen.some((s) => s.type === "subscribed")).then(() => {
        if (opts.paused) res.pause();
        resolve();
      }, reject);
    });
    req.on("error", reject);
  });
  req.end();
  return {
    seen,
    opened,
    status: () => response?.statusCode,
    resume: () => response?.resume(),
    close: () => req.destroy(),
    of: (id: string) =>
      seen.filter((s) => s.data.id === id).map((s) => [s.type, s.data.attempt, s.data.reason].filter((x) => x !== undefined)),
  };
}

t.test("a watcher sees a job pushed, delivered and acked, in order", async (t) => {
  const q = queueName("events");
  const w = watch(q);
  t.teardown(w.close);
  await w.opened;
  t.equal(w.status(), 200);
  const id = await push(q, { n: 1 });
  const got = await h.http("GET", `/q/${q}?lease=30`);
  t.equal(got.headers.get("x-presque-jobid"), id);
  t.equal((await h.http("DELETE", `/q/${q}/${id}`, { headers: { "x-presque-attempt": "1" } })).status, 204);
  await until("acked", () => w.seen.some((s) => s.type === "acked"));
  t.same(w.of(id), [
    ["pushed", 0],
    ["delivered", 1],
    ["acked", 1],
  ]);
});

t.test("failures, leases that run out and deaths are events too", async (t) => {
  const q = queueName("events-fail");
  await h.http("POST", `/control/${q}`, { body: { max_attempts: 2 } });
  const w = watch(q);
  t.teardown(w.close);
  await w.opened;
  const id = await push(q, { n: 1 });
  await h.http("GET", `/q/${q}?lease=1`);
  await sleep(1200);
  // the next fetch takes the lease back first
  t.equal((await h.http("GET", `/q/${q}?lease=30`)).headers.get("x-presque-attempt"), "2");
  await h.http("PUT", `/q/${q}/${id}`, { body: { error: "boom" }, headers: { "x-presque-attempt": "2" } });
  await until("dead", () => w.seen.some((s) => s.type === "dead"));
  t.same(w.of(id), [
    ["pushed", 0],
    ["delivered", 1],
    ["failed", 1, "lease_expired"],
    ["delivered", 2],
    ["failed", 2, "error"],
    ["dead", 2],
  ]);
  t.notOk(JSON.stringify(w.seen).includes("boom"), "no error text, no payload");
});

t.test("a watcher that does not read is told how many events it missed", async (t) => {
  const q = queueName("events-slow");
  const w = watch(q, { paused: true });
  t.teardown(w.close);
  await w.opened;
  // far more than the socket buffers on both sides and the server's bound (MAX_BUFFERED) hold
  const batches = 150;
  const jobs = Array.from({ length: 1000 }, (_, n) => ({ n }));
  let stored = 0;
  for (let i = 0; i < batches; i++) stored += (await h.http("POST", `/qb/${q}`, { body: { jobs } })).json.ids.length;
  t.equal(stored, batches * 1000);
  w.resume();
  await until("the missed count", () => w.seen.some((s) => s.type === "missed"));
  const missed = w.seen.find((s) => s.type === "missed")!.data.missed!;
  const pushed = w.seen.filter((s) => s.type === "pushed").length;
  t.ok(missed > 0, `missed ${missed}`);
  t.equal(pushed + missed, batches * 1000, `every event seen (${pushed}) or counted as missed`);
  // and it goes on
  const id = await push(q, { last: true });
  await until("the next event", () => w.seen.some((s) => s.data.id === id));
});

t.test("Client.waitFor resolves with the job's outcome", async (t) => {
  const q = queueName("events-wait");
  const client = new Client({ url: h.url });
  t.teardown(() => client.close());

  const id = await client.push(q, { n: 1 });
  const waiting = client.waitFor(q, id, { timeout: 10_000 });
  await sleep(100);
  const job = (await client.fetch(q, { lease: 30 }))!;
  await client.ack(q, job.id, job.attempt);
  t.same(await waiting, { id, state: "acked", attempt: 1 });

  t.same(await client.waitFor(q, id), { id, state: "gone", attempt: 0 }, "a job already done with");
  await client.configure(q, { max_attempts: 1 });
  const doomed = await client.push(q, { n: 2 });
  const dying = client.waitFor(q, doomed);
  const leased = (await client.fetch(q, { lease: 30 }))!;
  await client.fail(q, leased.id, leased.attempt, "no");
  t.same(await dying, { id: doomed, state: "dead", attempt: 1 });
  t.same(await client.waitFor(q, doomed), { id: doomed, state: "dead", attempt: 1 }, "a dead job, at once");

  const cancelled = await client.push(q, { n: 3 });
  const removal = client.waitFor(q, cancelled);
  await sleep(100);
  await client.cancel(q, cancelled);
  t.match(await removal, { id: cancelled, state: "removed" });

  const never = await client.push(q, { n: 4 });
  await t.rejects(client.waitFor(q, never, { timeout: 300 }), { name: "TimeoutError" });
  const stop = new AbortController();
  const aborted = client.waitFor(q, never, { signal: stop.signal });
  stop.abort();
  await t.rejects(aborted, { name: "AbortError" });
});

t.test("a watcher that subscribes while events flow gets its headers and `subscribed` first", async (t) => {
  // an event can come in the same read as the subscription's confirmation, before the route has
  // written its headers: it waits for them (it once went out first and left a listener behind)
  const q = queueName("events-busy");
  let pushing = true;
  const produce = async () => {
    while (pushing) await h.http("POST", `/qb/${q}`, { body: { jobs: [{ n: 1 }, { n: 2 }] } });
  };
  const producers = Array.from({ length: 4 }, produce);
  try {
    for (let i = 0; i < 40; i++) {
      const w = watch(q);
      await w.opened;
      if (w.seen[0].type !== "subscribed") t.fail(`watcher ${i} heard ${w.seen[0].type} before subscribed`);
      w.close();
      await until("the watcher gone", () => h.presque.context.jobEvents.size.listeners === 0);
    }
  } finally {
    pushing = false;
    await Promise.all(producers);
  }
  t.pass("every watcher's stream began with its headers and subscribed");
});

t.test("a disconnect leaves nothing behind", async (t) => {
  const q = queueName("events-gone");
  const events = h.presque.context.jobEvents;
  // the watchers of the tests above, and the waits that were aborted, included
  await until("the earlier watchers gone", () => events.size.listeners === 0);
  t.same(events.size, { queues: 0, listeners: 0 });
  const watchers = [watch(q), watch(q), watch(q)];
  await Promise.all(watchers.map((w) => w.opened));
  t.same(events.size, { queues: 1, listeners: 3 });
  watchers[0].close();
  watchers[1].close();
  await until("two gone", () => events.size.listeners === 1);
  t.equal(events.size.queues, 1, "the subscription stays for the last watcher");
  watchers[2].close();
  await until("all gone", () => events.size.listeners === 0);
  t.same(events.size, { queues: 0, listeners: 0 }, "the queue's subscription was dropped");
  if (!ON_CLUSTER) {
    const [, subscribers] = (await h.redis.call("PUBSUB", "SHARDNUMSUB", h.presque.context.store.keys(q).events)) as [string, number];
    t.equal(subscribers, 0, "and Redis has no subscriber left");
  }
});
