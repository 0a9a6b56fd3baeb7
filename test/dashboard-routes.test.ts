// The dashboard's routes without a browser: the page's headers, GET /whoami, the live feed of
// GET /events (shared readings, nothing left behind), the dead jobs' bulk actions and the search.
import t from "tap";
import { newToken, type TokenSpec } from "../src/server/auth/tokens.js";
import { quantile, rates, series } from "../src/server/dashboard/figures.js";
import { harness, ON_CLUSTER, queueName, sleep, until } from "./helpers.js";
import { deadJobs, openEvents } from "./support/dashboard.js";

const TICK_MS = 200;

t.test("figures: percentiles from the buckets, rates and series from the minutes", async (t) => {
  const runtime = { bounds: [0.1, 1, 10], counts: [0, 10, 0, 0], sum: 5, count: 10 };
  t.equal(quantile(runtime, 0.5), 0.55, "half-way through the (0.1, 1] bucket");
  t.equal(quantile(runtime, 0.95), 0.955);
  t.equal(quantile({ bounds: [1, 2], counts: [0, 0, 0], sum: 0, count: 0 }, 0.5), null, "no data: null");
  t.equal(quantile({ bounds: [1, 2], counts: [0, 0, 4], sum: 40, count: 4 }, 0.95), 2, "above every bound: the highest bound");
  t.equal(quantile({ bounds: [1, 2], counts: [4, 0, 0], sum: 2, count: 4 }, 0.5), 0.5, "the first bucket starts at 0");
  const now = 100 * 60_000 + 30_000; // 30 s into minute 100
  const minutes = Array.from({ length: 15 }, (_, i) => ({
    minute: 86 + i,
    pushed: i === 14 ? 30 : 60,
    acked: 0,
    failed: i === 13 ? 12 : 0,
  }));
  const r = rates(minutes, now);
  t.equal(r.pushed, (4 * 60 + 30) / (4 * 60 + 30), "four whole minutes and half the current one: 1 a second");
  t.equal(r.failed, 12 / 270);
  t.equal(rates(minutes.slice(0, 14), now).pushed, 1, "the current minute missing: whole minutes only");
  t.same(series(minutes).failed.length, 15);
});

t.test("the page: no inline script, a strict policy, never framed", async (t) => {
  const h = await harness(t);
  const page = await h.http("GET", "/");
  t.equal(page.status, 200);
  t.match(page.headers.get("content-type"), /^text\/html/);
  t.match(page.headers.get("content-security-policy"), /default-src 'self'/);
  t.match(page.headers.get("content-security-policy"), /script-src 'self'(;|$)/, "no 'unsafe-inline'");
  t.match(page.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  t.equal(page.headers.get("x-frame-options"), "DENY");
  t.notMatch(page.text, /<script>|<script(?![^>]*\bsrc=)[^>]*>/, "every script of the page has a src");
  t.notMatch(page.text, /https?:\/\//, "nothing from another origin");
  const js = await h.http("GET", "/dashboard/app.js");
  t.equal(js.status, 200);
  t.match(js.headers.get("content-type"), /^text\/javascript/);
  t.notMatch(js.text, /innerHTML|insertAdjacentHTML|document\.write/, "data never goes in as HTML");
  t.equal((await h.http("GET", "/dashboard/app.css")).status, 200);
});

t.test("whoami with no tokens: every role, every queue", async (t) => {
  const h = await harness(t);
  const r = await h.http("GET", "/whoami");
  t.same(r.json, { tokens: false, roles: ["producer", "consumer", "monitor", "admin"], queues: ["*"], deny: [] });
});

t.test("whoami and /events with tokens", async (t) => {
  const monitor = newToken("mon");
  const producer = newToken("prod");
  const tokens: TokenSpec[] = [
    { id: "mon", sha256: monitor.sha256, roles: ["monitor"], queues: ["a-*"], deny: ["a-secret"] },
    { id: "prod", sha256: producer.sha256, roles: ["producer"] },
  ];
  const h = await harness(t, { auth: { tokens } }, { eventsEveryMs: TICK_MS });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  t.equal((await h.http("GET", "/whoami")).status, 401, "a token is needed");
  t.same((await h.http("GET", "/whoami", { headers: as(monitor.token) })).json, {
    tokens: true,
    id: "mon",
    roles: ["monitor"],
    queues: ["a-*"],
    deny: ["a-secret"],
  });
  t.same((await h.http("GET", "/whoami", { headers: as(producer.token) })).json.roles, ["producer"]);
  t.equal((await h.http("GET", "/events")).status, 401);
  t.equal((await h.http("GET", "/events", { headers: as(producer.token) })).status, 403, "the monitor role");
  t.equal((await h.http("GET", "/events?token=" + monitor.token)).status, 401, "a token in the URL is not read");
  for (const queue of ["a-1", "a-secret", "b-1"]) await h.http("POST", `/q/${queue}`, { body: { n: 1 }, headers: as(producer.token) });
  const feed = openEvents(h.url + "/events", as(monitor.token));
  t.teardown(feed.close);
  t.equal((await feed.opened).status, 200);
  const e = await feed.next();
  t.equal(e.event, "overview");
  t.same(
    e.data.queues.map((q: { name: string }) => q.name),
    ["a-1"],
    "a token kept to some queues sees only those",
  );
  t.equal((await h.http("GET", "/", {})).status, 200, "the page itself is public");
});

t.test("/events: the whole state on connect, then every tick; one reading per tick for all pages", async (t) => {
  const h = await harness(t, {}, { eventsEveryMs: TICK_MS });
  const queue = queueName("ev");
  await h.http("POST", `/q/${queue}`, { body: { n: 1 } });
  const hub = h.presque.context.events;

  const first = openEvents(`${h.url}/events?prefix=${queue}`);
  const res = await first.opened;
  t.equal(res.status, 200);
  t.match(res.headers.get("content-type"), /^text\/event-stream/);
  const e = await first.next();
  t.equal(e.event, "overview");
  t.match(e.data, { total: 1, view: { prefix: queue, offset: 0, limit: 25 }, queues: [{ name: queue, ready: 1, open: true }] });
  t.ok("p95" in e.data.queues[0] && "rates" in e.data.queues[0] && "oldest_ready_age" in e.data.queues[0]);

  await h.http("POST", `/q/${queue}`, { body: { n: 2 } });
  let seen = e.data;
  await until("the push in the feed", async () => ((seen = (await first.next()).data), seen.queues[0].ready === 2), 5000, 0);
  t.pass("a push shows in the next readings");

  // twenty more pages of the same view: the readings stay one per tick
  const others = Array.from({ length: 20 }, () => openEvents(`${h.url}/events?prefix=${queue}`));
  t.teardown(() => others.forEach((o) => o.close()));
  await Promise.all(others.map((o) => o.next()));
  t.equal(hub.listeners, 21);
  t.equal(hub.views, 1, "one view read for 21 pages");
  const readsBefore = hub.reads;
  const started = Date.now();
  await sleep(TICK_MS * 5);
  const ticks = (Date.now() - started) / TICK_MS;
  t.ok(hub.reads - readsBefore <= Math.ceil(ticks) + 1, `${hub.reads - readsBefore} readings in ${ticks.toFixed(1)} ticks for 21 pages`);

  // another view is read on its own; leaving closes it
  const other = openEvents(`${h.url}/events?prefix=zzz-none`);
  t.match((await other.next()).data, { total: 0, queues: [] });
  t.equal(hub.views, 2);
  other.close();
  first.close();
  others.forEach((o) => o.close());
  await until("every page gone", () => hub.listeners === 0, 5000);
  t.equal(hub.views, 0, "a view nobody listens to is not read");
  const reads = hub.reads;
  await sleep(TICK_MS * 3);
  t.equal(hub.reads, reads, "no reading without pages");
});

// INFO commandstats counts one node's commands: on a cluster it would see a part of them
t.test("/events: Redis commands per tick do not grow with the number of pages (INFO commandstats)", { skip: ON_CLUSTER }, async (t) => {
  const h = await harness(t, {}, { eventsEveryMs: TICK_MS });
  for (let i = 0; i < 5; i++) await h.http("POST", `/q/${queueName("cmd")}`, { body: { i } });
  const calls = async () => {
    const info = await h.redis.info("commandstats");
    return [...info.matchAll(/calls=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  };
  const perTick = async (pages: number) => {
    const feeds = Array.from({ length: pages }, () => openEvents(`${h.url}/events`));
    await Promise.all(feeds.map((f) => f.next()));
    const [before, t0] = [await calls(), Date.now()];
    await sleep(TICK_MS * 10);
    const [after, t1] = [await calls(), Date.now()];
    feeds.forEach((f) => f.close());
    await until("pages gone", () => h.presque.context.events.listeners === 0, 5000);
    return (after - before) / ((t1 - t0) / TICK_MS);
  };
  const one = await perTick(1);
  const many = await perTick(40);
  t.ok(one > 0, `1 page: ${one.toFixed(1)} commands a tick`);
  // were each page read on its own, 40 pages would cost 40 times as much
  t.ok(many < one * 2 + 5, `40 pages: ${many.toFixed(1)} commands a tick`);
});

t.test("/events: bad views are refused", async (t) => {
  const h = await harness(t);
  for (const q of ["limit=0", "limit=101", "offset=-1", "prefix=a%20b", "prefix=" + "a".repeat(129)]) {
    const r = await h.http("GET", `/events?${q}`);
    t.equal(r.status, 400, q);
    t.type(r.json.error, "string");
  }
});

t.test("dead jobs: retry and delete the selected ones, or those matching a filter, a bounded step at a time", async (t) => {
  const h = await harness(t);
  const queue = queueName("dead");
  const ids = await deadJobs(
    h.http,
    queue,
    Array.from({ length: 12 }, (_, i) => ({ n: i, kind: i % 3 === 0 ? "invoice" : "mail" })),
    (i) => (i % 2 === 0 ? "smtp timeout" : "bad address"),
  );
  t.equal((await h.http("GET", `/dead/${queue}`)).json.total, 12);

  // by filter on the error: jobs 0, 2, 4, 6, 8, 10
  const byError = await h.http("POST", `/dead/${queue}/retry`, { body: { match: "smtp", in: "error" } });
  t.equal(byError.status, 200);
  t.match(byError.json, { queue, retried: 6, scanned: 12, cursor: "0", finished: true });
  const state = await h.http("GET", `/j/${queue}`);
  t.match(state.json, { job_count: 6, job_dead: 6 });
  const back = await h.http("GET", `/q/${queue}/${ids[0]}`);
  t.match(back.json, { state: "ready", attempts: 0, last_error: "smtp timeout" }, "a fresh set of attempts; the error stays");

  // by filter on the payload: of the dead 1,3,5,7,9,11 the invoices are 3 and 9
  const byPayload = await h.http("POST", `/dead/${queue}/delete`, { body: { match: '"invoice"', in: "payload" } });
  t.match(byPayload.json, { deleted: 2, finished: true });
  t.equal((await h.http("GET", `/q/${queue}/${ids[3]}`)).status, 404, "deleted");

  // selected ids; one that is not dead is left alone
  // an id named twice is retried once: enqueued twice, it would be handed out twice
  const selected = await h.http("POST", `/dead/${queue}/retry`, { body: { ids: [ids[1], ids[5], ids[0], ids[5]] } });
  t.match(selected.json, { retried: 2, scanned: 4 });
  const leased = await h.http("GET", `/qb/${queue}?batch_size=100&lease=30`);
  const handed = (leased.headers.get("x-presque-jobids") ?? "").split(",");
  t.equal(handed.filter((id) => id === ids[5]).length, 1, "the job twice named is handed out once");
  await h.http("POST", `/qb/${queue}/ack`, { body: { jobs: handed.map((id) => ({ id, attempt: 1 })) } });
  const rest = await h.http("GET", `/dead/${queue}`);
  t.same(
    rest.json.jobs.map((j: { id: string }) => j.id),
    [ids[7], ids[11]],
  );
  t.match(rest.json.jobs[0], { last_error: "bad address", attempts: 1, job: { n: 7 } }, "the page shows error, attempts and payload");
  t.match((await h.http("POST", `/dead/${queue}/delete`, { body: { ids: [ids[7]] } })).json, { deleted: 1 });
  t.match((await h.http("POST", `/dead/${queue}/retry`, { body: {} })).json, { retried: 1, finished: true }, "no filter: every one");
  t.equal((await h.http("GET", `/dead/${queue}`)).json.total, 0);

  for (const [body, what] of [
    [{ ids: [] }, "no ids"],
    [{ ids: ["x"] }, "a bad id"],
    [{ ids: Array.from({ length: 1001 }, (_, i) => String(i + 1)) }, "too many ids"],
    [{ ids: ["1"], match: "a" }, "ids and a filter"],
    [{ match: 5 }, "a match that is no text"],
    [{ in: "both" }, "a bad in"],
    [{ cursor: "abc" }, "a bad cursor"],
    [{ other: 1 }, "an unknown key"],
  ] as const) {
    const r = await h.http("POST", `/dead/${queue}/retry`, { body });
    t.equal(r.status, 400, what);
    t.type(r.json.error, "string", what);
  }
});

t.test("dead jobs: a filter over a large dead set goes in steps of about a thousand, each with a cursor", async (t) => {
  const h = await harness(t);
  const queue = queueName("many");
  const k = h.presque.context.store.keys(queue);
  // 3000 dead jobs written directly (the scripts' layout: payload in jobs, death in dead)
  const pipeline = h.redis.pipeline();
  for (let i = 1; i <= 3000; i++) {
    pipeline.hset(k.jobs, String(i), JSON.stringify({ i, even: i % 2 === 0 }));
    pipeline.zadd(k.dead, i, String(i));
  }
  await pipeline.exec();
  let cursor = "0";
  let steps = 0;
  let retried = 0;
  let scanned = 0;
  do {
    const r = await h.http("POST", `/dead/${queue}/retry`, { body: { match: '"even":true', in: "payload", cursor } });
    t.ok(r.json.scanned <= 1100, `step ${steps}: ${r.json.scanned} looked at`);
    cursor = r.json.cursor;
    retried += r.json.retried;
    scanned += r.json.scanned;
    steps++;
  } while (cursor !== "0" && steps < 50);
  t.ok(steps >= 3, `${steps} steps`);
  t.equal(retried, 1500, "every even job once");
  t.ok(scanned >= 3000, "every dead job looked at");
  t.equal(await h.redis.zcard(k.dead), 1500);
  t.equal(await h.redis.llen(k.wait), 1500);
});

t.test("search: ready and delayed jobs whose payload holds a text, in steps with a cursor", async (t) => {
  const h = await harness(t);
  const queue = queueName("search");
  for (let i = 0; i < 300; i++)
    await h.http("POST", `/q/${queue}`, { body: { i, who: i % 50 === 0 ? "needle-user" : "someone", pad: "x".repeat(80) } });
  await h.http("POST", `/q/${queue}?delay=600`, { body: { who: "needle-later" } });
  // leased and dead jobs are not searched
  await h.http("POST", `/q/${queue}-x`, { body: { who: "needle" } });
  // (payloads over 64 bytes: a hash kept as a listpack would come whole in one step)
  const found: Array<{ id: string; state: string; payload: string }> = [];
  let cursor = "0";
  let steps = 0;
  do {
    const r = await h.http("GET", `/search/${queue}?q=needle&count=100&cursor=${cursor}`);
    t.equal(r.status, 200);
    found.push(...r.json.jobs);
    cursor = r.json.cursor;
    steps++;
  } while (cursor !== "0" && steps < 100);
  t.ok(steps > 1, `${steps} steps`);
  t.equal(found.length, 7, "six ready, one delayed");
  t.equal(found.filter((j) => j.state === "delayed").length, 1);
  t.ok(
    found.every((j) => j.payload.includes("needle")),
    "each with its payload, as text",
  );

  const leased = await h.http("GET", `/q/${queue}?lease=60`);
  t.equal(leased.status, 200);
  const all = await h.http("GET", `/search/${queue}?q=%22i%22%3A0%2C&count=1000`);
  t.same(
    all.json.jobs.filter((j: { payload: string }) => j.payload.startsWith('{"i":0,')),
    [],
    "a leased job is not among the matches",
  );
  t.equal((await h.http("GET", `/search/${queue}`)).status, 400, "q is needed");
  t.equal((await h.http("GET", `/search/${queue}?q=a&cursor=x`)).status, 400, "a bad cursor");
  t.equal((await h.http("GET", `/search/${queue}?q=a&count=0`)).status, 400, "a bad count");
  t.match((await h.http("GET", `/search/nothing-here?q=a`)).json, { jobs: [], cursor: "0", done: true });
});
