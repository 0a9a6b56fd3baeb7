// Long polling: ?wait= on GET /q and GET /qb (issue 3).
import t from "tap";
import { harness, type Harness, ON_CLUSTER, queueName, type Reply, sleep } from "./helpers.js";

const h = await harness(t);

async function push(hh: Harness, q: string, body: unknown = { n: 1 }, query = ""): Promise<string> {
  const r = await hh.http("POST", `/q/${q}${query}`, { body });
  if (r.status !== 201) throw new Error(`push answered ${r.status} ${r.text}`);
  return r.json.id;
}

/** Starts a request and notes when its answer arrived. */
function timed(p: Promise<Reply>): Promise<Reply & { at: number }> {
  return p.then((r) => ({ ...r, at: Date.now() }));
}

/** Waits until the server holds `n` long polls (joined; they may still be in their first pop). */
async function waitersIn(hh: Harness, n: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (hh.presque.context.longPoll.count !== n) {
    if (Date.now() > until) throw new Error(`expected ${n} waiters, have ${hh.presque.context.longPoll.count}`);
    await sleep(10);
  }
}

t.test("a waiting GET answers soon after a push", async (t) => {
  const q = queueName("push");
  const start = Date.now();
  const waiting = timed(h.http("GET", `/q/${q}?wait=10`));
  await waitersIn(h, 1);
  await sleep(300);
  await push(h, q, { n: "hello" });
  const pushedAt = Date.now();
  const r = await waiting;
  t.equal(r.status, 200);
  t.same(r.json, { n: "hello" });
  t.ok(r.at - start >= 250, "it did wait");
  t.ok(r.at - pushedAt < 1000, `answered ${r.at - pushedAt} ms after the push`);
  t.equal(h.presque.context.longPoll.count, 0, "the waiter is gone");
});

t.test("a waiting leased GET gets the lease headers", async (t) => {
  const q = queueName("lease");
  const waiting = h.http("GET", `/q/${q}?wait=10&lease=30`);
  await waitersIn(h, 1);
  const id = await push(h, q);
  const r = await waiting;
  t.equal(r.status, 200);
  t.equal(r.headers.get("x-presque-jobid"), id);
  t.equal(r.headers.get("x-presque-attempt"), "1");
  t.ok(r.headers.get("x-presque-lease-expires"));
});

t.test("a ready job answers at once; no job after the wait answers 404 no job", async (t) => {
  const q = queueName("timeout");
  await push(h, q, { n: "ready" });
  let start = Date.now();
  const ready = await h.http("GET", `/q/${q}?wait=60`);
  t.equal(ready.status, 200);
  t.ok(Date.now() - start < 1000, "no waiting when a job is there");

  start = Date.now();
  const r = await h.http("GET", `/q/${q}?wait=1`);
  const took = Date.now() - start;
  t.equal(r.status, 404);
  t.same(r.json, { error: "no job" });
  t.ok(took >= 950 && took < 3000, `timed out after ${took} ms`);

  start = Date.now();
  const frac = await h.http("GET", `/qb/${q}?wait=0.4`);
  t.equal(frac.status, 404);
  t.ok(Date.now() - start >= 350, "fractions of a second work");
  t.equal(h.presque.context.longPoll.count, 0);
});

t.test("waiting on /qb", async (t) => {
  const q = queueName("batch");
  const waiting = timed(h.http("GET", `/qb/${q}?wait=10&batch_size=3`));
  await waitersIn(h, 1);
  const posted = await h.http("POST", `/qb/${q}`, { body: { jobs: [{ n: 1 }, { n: 2 }] } });
  const pushedAt = Date.now();
  const r = await waiting;
  t.equal(r.status, 200);
  t.same(r.json, [{ n: 1 }, { n: 2 }]);
  t.equal(r.headers.get("x-presque-jobids"), posted.json.ids.join(","));
  t.ok(r.at - pushedAt < 1000);
});

t.test("a delayed job coming due wakes a waiter", async (t) => {
  const q = queueName("delayed");
  await push(h, q, { n: "later" }, "?delay=1");
  const start = Date.now();
  const r = await h.http("GET", `/q/${q}?wait=5`);
  const took = Date.now() - start;
  t.equal(r.status, 200);
  t.same(r.json, { n: "later" });
  t.ok(took >= 800 && took < 2500, `answered after ${took} ms`);
});

t.test("an expired lease wakes a waiter", async (t) => {
  const q = queueName("expired");
  const id = await push(h, q);
  t.equal((await h.http("GET", `/q/${q}?lease=1`)).status, 200);
  const start = Date.now();
  const r = await h.http("GET", `/q/${q}?wait=5&lease=30`);
  const took = Date.now() - start;
  t.equal(r.status, 200);
  t.equal(r.headers.get("x-presque-jobid"), id);
  t.equal(r.headers.get("x-presque-attempt"), "2");
  t.ok(took >= 800 && took < 2500, `answered after ${took} ms`);
});

t.test("a stopped queue answers at once, and a queue stopped during the wait answers 'queue is closed'", async (t) => {
  const q = queueName("stopped");
  await h.http("POST", `/control/${q}`, { body: { status: "stop" } });
  let start = Date.now();
  const r = await h.http("GET", `/q/${q}?wait=10`);
  t.equal(r.status, 404);
  t.same(r.json, { error: "queue is closed" });
  t.ok(Date.now() - start < 1000);
  const b = await h.http("GET", `/qb/${q}?wait=10`);
  t.same(b.json, { error: "queue is closed" });

  await h.http("POST", `/control/${q}`, { body: { status: "start" } });
  start = Date.now();
  const waiting = h.http("GET", `/q/${q}?wait=10`);
  await waitersIn(h, 1);
  await h.http("POST", `/control/${q}`, { body: { status: "stop" } });
  const id = await push(h, q);
  const closed = await waiting;
  t.equal(closed.status, 404);
  t.same(closed.json, { error: "queue is closed" });
  t.ok(Date.now() - start < 3000);
  t.equal((await h.http("GET", `/q/${q}/${id}`)).json.state, "ready", "the job stays");
});

t.test("bad waits get 400", async (t) => {
  const q = queueName("bad");
  for (const w of ["61", "-1", "x", "1e2", ""]) {
    const r = await h.http("GET", `/q/${q}?wait=${w}`);
    t.equal(r.status, 400, `wait=${w}`);
    t.match(r.json, { error: /wait/ });
  }
  t.equal((await h.http("GET", `/qb/${q}?wait=61`)).status, 400);

  const h2 = await harness(t, { server: { max_wait: 2 } });
  t.equal((await h2.http("GET", `/q/${q}?wait=3`)).status, 400, "server.max_wait is configurable");
  t.equal((await h2.http("GET", `/q/${q}?wait=0.1`)).status, 404);
});

t.test("N waiters and N jobs pushed one by one: each waiter gets exactly one job", async (t) => {
  const q = queueName("many");
  const n = 10;
  const waiting = Array.from({ length: n }, () => h.http("GET", `/q/${q}?wait=10`));
  await waitersIn(h, n);
  await sleep(100);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(await push(h, q, { i }));
    await sleep(20);
  }
  const answers = await Promise.all(waiting);
  t.same(
    answers.map((r) => r.status),
    Array(n).fill(200),
  );
  const got = answers.map((r) => r.headers.get("x-presque-jobid")!);
  t.same([...got].sort(), [...ids].sort(), "every job went to one waiter, none twice");
  t.match((await h.http("GET", `/j/${q}`)).json, { job_count: 0, job_processed: n });
});

t.test("more waiters than jobs: each job goes to one waiter, the rest time out", async (t) => {
  const q = queueName("few");
  const waiting = Array.from({ length: 6 }, () => h.http("GET", `/q/${q}?wait=1.5&lease=30`));
  await waitersIn(h, 6);
  const posted = await h.http("POST", `/qb/${q}`, { body: { jobs: [{ n: 1 }, { n: 2 }] } });
  const answers = await Promise.all(waiting);
  const served = answers.filter((r) => r.status === 200);
  t.equal(served.length, 2);
  t.same(served.map((r) => r.headers.get("x-presque-jobid")).sort(), [...posted.json.ids].sort());
  t.same(
    answers.filter((r) => r.status !== 200).map((r) => r.json),
    Array(4).fill({ error: "no job" }),
  );
});

t.test("a push wakes only the waiters of its own queue", async (t) => {
  const q1 = queueName("mine");
  const q2 = queueName("other");
  const other = timed(h.http("GET", `/q/${q2}?wait=1`));
  const mine = h.http("GET", `/q/${q1}?wait=5`);
  await waitersIn(h, 2);
  const start = Date.now();
  await push(h, q1);
  t.equal((await mine).status, 200);
  const o = await other;
  t.equal(o.status, 404);
  t.ok(o.at - start >= 500, "the other queue's waiter kept waiting");
});

t.test("a client that disconnects is let go and does not swallow a job", async (t) => {
  const q = queueName("abort");
  const ac = new AbortController();
  const waiting = h.http("GET", `/q/${q}?wait=10`, { signal: ac.signal });
  await waitersIn(h, 1);
  await sleep(100);
  ac.abort();
  await t.rejects(waiting);
  await waitersIn(h, 0, 2000);
  const id = await push(h, q, { n: "kept" });
  await sleep(100);
  const r = await h.http("GET", `/q/${q}`);
  t.equal(r.status, 200, "a plain GET still finds the job");
  t.equal(r.headers.get("x-presque-jobid"), id);
  t.match((await h.http("GET", `/j/${q}`)).json, { job_processed: 1 });
});

t.test("a waiter that disconnected does not keep a job from another waiter", async (t) => {
  const q = queueName("abort2");
  const ac = new AbortController();
  const gone = h.http("GET", `/q/${q}?wait=10`, { signal: ac.signal });
  await waitersIn(h, 1);
  const stays = timed(h.http("GET", `/q/${q}?wait=10`));
  await waitersIn(h, 2);
  await sleep(100);
  ac.abort();
  await t.rejects(gone);
  await waitersIn(h, 1, 2000);
  await push(h, q, { n: "for the one left" });
  const pushedAt = Date.now();
  const r = await stays;
  t.equal(r.status, 200);
  t.ok(r.at - pushedAt < 1000);
});

// on the cluster pass the file's servers share one cluster, whose commandstats count them all
t.test("idle waiters cost Redis next to nothing", { skip: ON_CLUSTER && "counts every server's calls on a shared cluster" }, async (t) => {
  // its own server, so that no other file's queues are swept meanwhile
  const hh = await harness(t);
  const q = queueName("idle");
  const calls = async () => {
    const info = await hh.redis.info("commandstats");
    let n = 0;
    for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval|evalsha_ro|eval_ro):calls=(\d+)/gm)) n += Number(m[1]);
    return n;
  };
  const start = await calls();
  const n = 200;
  const waiting = Array.from({ length: n }, () => hh.http("GET", `/q/${q}?wait=20`));
  await waitersIn(hh, n, 10_000);
  // every waiter pops once before it sleeps
  for (let until = Date.now() + 10_000; (await calls()) < start + n && Date.now() < until;) await sleep(20);
  await sleep(200);
  const before = await calls();
  await sleep(2000);
  const after = await calls();
  t.ok(after - before <= 10, `${after - before} script calls in 2 s with ${n} idle waiters (${before - start} to set them up)`);

  // one batch of n jobs wakes them all, each for one job
  const posted = await hh.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: n }, (_, i) => ({ i })) } });
  const answers = await Promise.all(waiting);
  t.equal(answers.filter((r) => r.status === 200).length, n);
  const got = new Set(answers.map((r) => r.headers.get("x-presque-jobid")));
  t.equal(got.size, n, "distinct jobs");
  t.same([...got].sort(), [...posted.json.ids].sort());
  t.ok((await calls()) - after < 3 * n, "waking costs about one pop per waiter");
});

t.test("shutdown lets waiters go", async (t) => {
  const hh = await harness(t);
  const q = queueName("shutdown");
  const waiting = [
    ...Array.from({ length: 3 }, () => timed(hh.http("GET", `/q/${q}?wait=30`))),
    timed(hh.http("GET", `/qb/${q}?wait=30&lease=10`)),
  ];
  await waitersIn(hh, 4);
  await sleep(100);
  const start = Date.now();
  const closed = hh.presque.close();
  const answers = await Promise.all(waiting);
  for (const r of answers) {
    t.equal(r.status, 404);
    t.same(r.json, { error: "no job" });
    t.ok(r.at - start < 2000, `answered ${r.at - start} ms after the shutdown began`);
  }
  await closed;
  // the answered long polls leave keep-alive sockets behind, which close() waits for (up to
  // its 10 s grace); the answers themselves came at once
  t.ok(Date.now() - start < 11_000, `the server closed in ${Date.now() - start} ms`);
  await t.rejects(fetch(hh.url + "/status/"), "no longer listening");
});

t.test("a waiter whose wake-up finds the lease extended is woken when the new lease runs out", async (t) => {
  // no periodic sweep in this server: only the timed sweeps that waiters ask for can wake them
  const slow = await harness(t, {}, { sweepEveryMs: 600_000 });
  const q = queueName("rearm");
  await slow.http("POST", `/q/${q}`, { body: { a: 1 } });
  const leased = await slow.http("GET", `/q/${q}?lease=0.4`);
  const id = leased.headers.get("x-presque-jobid");
  const started = Date.now();
  const waiting = slow.http("GET", `/q/${q}?wait=8`);
  await sleep(150);
  const extended = await slow.http("POST", `/q/${q}/${id}/lease`, { body: { seconds: 1 }, headers: { "x-presque-attempt": "1" } });
  t.equal(extended.status, 200);
  const got = await waiting;
  t.equal(got.status, 200, "the waiter gets the job once the extended lease runs out");
  t.equal(got.headers.get("x-presque-jobid"), id);
  t.ok(Date.now() - started < 6000, `well before its own deadline (${Date.now() - started} ms)`);
});

t.test("stopping a queue answers its waiters at once", async (t) => {
  const q = queueName("stopwake");
  const started = Date.now();
  const waiting = h.http("GET", `/q/${q}?wait=8`);
  await sleep(150);
  t.equal((await h.http("POST", `/control/${q}`, { body: { status: "stop" } })).status, 200);
  const got = await waiting;
  t.equal(got.status, 404);
  t.same(got.json, { error: "queue is closed" });
  t.ok(Date.now() - started < 4000, `answered after ${Date.now() - started} ms, not at its 8 s deadline`);
});

t.test("a delayed job pushed while consumers wait is handed out when it comes due", async (t) => {
  // no periodic sweep: the due time announced by the push is what wakes the waiter
  const slow = await harness(t, {}, { sweepEveryMs: 600_000 });
  const q = queueName("duewake");
  const waiting = slow.http("GET", `/q/${q}?wait=8`);
  await sleep(150);
  const pushedAt = Date.now();
  t.equal((await slow.http("POST", `/q/${q}?delay=0.5`, { body: { later: 1 } })).status, 201);
  const got = await waiting;
  t.equal(got.status, 200);
  t.same(got.json, { later: 1 });
  const after = Date.now() - pushedAt;
  t.ok(after >= 450, `not before it is due (${after} ms)`);
  t.ok(after < 4000, `soon after it is due (${after} ms)`);
});

/** Commands Redis ran (INFO commandstats, those run by scripts included), summed. */
async function commandsRun(hh: Harness): Promise<number> {
  const info = await hh.redis.info("commandstats");
  let calls = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
}

/** Redis commands over `ms` while `n` polls wait on n distinct unknown queues. */
async function idleCost(hh: Harness, n: number, ms: number): Promise<number> {
  const stop = new AbortController();
  const polls = Array.from({ length: n }, () =>
    hh.http("GET", `/q/${queueName("none")}?wait=30`, { signal: stop.signal }).catch(() => undefined),
  );
  await waitersIn(hh, n, 20_000);
  await sleep(500); // their first pops are done
  const before = await commandsRun(hh);
  await sleep(ms);
  const after = await commandsRun(hh);
  stop.abort();
  await Promise.all(polls);
  await waitersIn(hh, 0, 10_000);
  return after - before - 1; // the INFO itself
}

t.test(
  "polls waiting on many unknown queues cost Redis what polls on a few do",
  { skip: ON_CLUSTER && "one Redis's commandstats" },
  async (t) => {
    const hh = await harness(t, { server: { max_waiters: 2000 } });
    const few = await idleCost(hh, 10, 3000);
    const many = await idleCost(hh, 500, 3000);
    t.comment(`Redis commands in 3 s: ${few} with 10 waiting queues, ${many} with 500`);
    // once a second per queue would be ~30 pops per queue here: 500 queues ~15,000 pops
    t.ok(many < 500, `${many} commands in 3 s for 500 queues: fewer than one per queue`);
    t.ok(many <= 3 * few + 50, `not 50 times what 10 queues cost (${few})`);
  },
);

t.test("server.max_waiters: past it, 503 with Retry-After; per token, 429", async (t) => {
  const { newToken } = await import("../src/server/auth/tokens.js");
  const [a, b] = [newToken("poll-a"), newToken("poll-b")];
  const hh = await harness(t, {
    server: { max_waiters: 3, max_waiters_per_token: 2 },
    auth: {
      tokens: [
        { id: "poll-a", sha256: a.sha256, roles: ["consumer"] },
        { id: "poll-b", sha256: b.sha256, roles: ["consumer"] },
      ],
    },
  });
  const stop = new AbortController();
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const poll = (token: string) => hh.http("GET", `/q/${queueName("cap")}?wait=20`, { headers: as(token), signal: stop.signal });
  const waiting = [poll(a.token), poll(a.token)].map((p) => p.catch(() => undefined));
  await waitersIn(hh, 2);
  const third = await poll(a.token);
  t.equal(third.status, 429, "a third poll of one token");
  t.match(third.json.error, /max_waiters_per_token/);
  t.equal(third.headers.get("retry-after"), "1");
  waiting.push(poll(b.token).catch(() => undefined));
  await waitersIn(hh, 3);
  const fourth = await poll(b.token);
  t.equal(fourth.status, 503, "past server.max_waiters");
  t.match(fourth.json.error, /max_waiters/);
  t.equal(fourth.headers.get("retry-after"), "1");
  t.equal(
    (await hh.http("GET", `/q/${queueName("cap")}`, { headers: as(b.token) })).status,
    404,
    "a poll that does not wait is not refused",
  );
  stop.abort();
  await Promise.all(waiting);
  await waitersIn(hh, 0);
  t.equal((await hh.http("GET", `/q/${queueName("cap")}?wait=0.2`, { headers: as(a.token) })).status, 404, "room again once they left");
});
