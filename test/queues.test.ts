// /j, /status, /control, /stats and the dashboard page.
import t from "tap";
import { harness, ON_CLUSTER, queueName, rawRequest as rawRequestTo } from "./helpers.js";

// the limits of issue 12, at their defaults (config `queues`)
// issue 20 added rate, burst, concurrency and expires_in: null when unset
const LIMITS = {
  max_length: 0,
  max_payload: 0,
  idempotency_window: 86400,
  max_idempotency_keys: 100_000,
  rate: null,
  burst: null,
  concurrency: null,
  expires_in: null,
};
const h = await harness(t);

const rawRequest = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
  rawRequestTo(h.url, method, path, body, headers);

const post = (q: string, body: unknown, query = "") => h.http("POST", `/q/${q}${query}`, { body });
const nowS = () => Date.now() / 1000;

t.test("GET /j/:queue: figures are numbers", async (t) => {
  const q = queueName("j");
  const empty = await h.http("GET", `/j/${q}`);
  t.equal(empty.status, 200);
  t.match(empty.headers.get("content-type"), /^application\/json/);
  t.same(empty.json, {
    queue_name: q,
    job_count: 0,
    job_prioritized: 0,
    job_delayed: 0,
    job_leased: 0,
    job_dead: 0,
    job_processed: 0,
    job_failed: 0,
  });

  await post(q, { n: 1 });
  await post(q, { n: 2 });
  await post(q, { n: 3 }, "?priority=5");
  await post(q, { n: 4 }, `?delayed=${Math.floor(nowS()) + 3600}`);
  await post(q, { n: 5 }, "?max_attempts=1&priority=-1");

  // n:3 first (priority 5), deleted on fetch: processed at once
  const first = await h.http("GET", `/q/${q}`);
  t.same(first.json, { n: 3 });
  // n:1 under a lease: leased, not yet processed
  const leased = await h.http("GET", `/q/${q}?lease=60`);
  t.same(leased.json, { n: 1 });
  // presque's retry of a failed job: a failure, and the job back in the queue
  t.equal((await h.http("PUT", `/q/${q}`, { body: { n: 6 } })).status, 201);

  const mid = await h.http("GET", `/j/${q}`);
  t.same(mid.json, {
    queue_name: q,
    job_count: 3, // n:2, n:6, n:5
    job_prioritized: 1, // n:5
    job_delayed: 1,
    job_leased: 1,
    job_dead: 0,
    job_processed: 1,
    job_failed: 1,
  });
  for (const [k, v] of Object.entries(mid.json)) if (k !== "queue_name") t.type(v, "number", `${k} is a number`);

  // ack the leased job: processed; lease n:5 (max_attempts=1) after draining the others and fail it: dead
  const ack = await h.http("DELETE", `/q/${q}/${leased.headers.get("x-presque-jobid")}`, {
    headers: { "x-presque-attempt": leased.headers.get("x-presque-attempt")! },
  });
  t.equal(ack.status, 204);
  t.same((await h.http("GET", `/q/${q}`)).json, { n: 2 });
  t.same((await h.http("GET", `/q/${q}`)).json, { n: 6 });
  const last = await h.http("GET", `/q/${q}?lease=60`);
  t.same(last.json, { n: 5 });
  const failed = await h.http("PUT", `/q/${q}/${last.headers.get("x-presque-jobid")}`, { body: { error: "boom" } });
  t.equal(failed.json.state, "dead");

  t.same((await h.http("GET", `/j/${q}`)).json, {
    queue_name: q,
    job_count: 0,
    job_prioritized: 0,
    job_delayed: 1,
    job_leased: 0,
    job_dead: 1,
    job_processed: 4,
    job_failed: 2,
  });
});

t.test("GET /j with a bad queue name is 400", async (t) => {
  const r = await h.http("GET", `/j/${encodeURIComponent("bad{name}")}`);
  t.equal(r.status, 400);
  t.same(r.json, { error: "invalid queue name" });
});

t.test("GET /status/ lists queues and their number", async (t) => {
  const a = queueName("sa");
  const b = queueName("sb");
  await post(a, { x: 1 });
  await post(b, { x: 1 }, `?delayed=${Math.floor(nowS()) + 3600}`);
  for (const path of ["/status/", "/status"]) {
    const r = await h.http("GET", path);
    t.equal(r.status, 200, path);
    t.same(Object.keys(r.json).sort(), ["queues", "size"]);
    t.ok(Array.isArray(r.json.queues));
    t.ok(r.json.queues.includes(a) && r.json.queues.includes(b), "both queues listed");
    t.type(r.json.size, "number");
    t.equal(r.json.size, r.json.queues.length);
  }
  // a purge takes the queue off the list
  t.equal((await h.http("DELETE", `/q/${a}`)).status, 204);
  const after = await h.http("GET", "/status/");
  t.notOk(after.json.queues.includes(a), "purged queue is gone");
  t.ok(after.json.queues.includes(b));
  t.equal(after.json.size, after.json.queues.length);
});

t.test("GET /status/:queue: size, and waiting jobs in delivery order with with_desc", async (t) => {
  const q = queueName("desc");
  const plain = await h.http("GET", `/status/${q}`);
  t.equal(plain.status, 200);
  t.same(plain.json, { queue: q, size: 0 });

  await post(q, { n: "a" });
  await post(q, { n: "b" }, "?priority=10");
  await post(q, { n: "c" });
  await post(q, { n: "d" }, "?priority=-3");
  await post(q, { n: "e" }, "?priority=10");
  await post(q, { n: "later" }, `?delayed=${Math.floor(nowS()) + 3600}`);

  t.same((await h.http("GET", `/status/${q}`)).json, { queue: q, size: 5 });
  t.same((await h.http("GET", `/status/${q}?with_desc=0`)).json, { queue: q, size: 5 }, "with_desc=0: no jobs");

  const desc = await h.http("GET", `/status/${q}?with_desc=1`);
  t.equal(desc.status, 200);
  const order = [{ n: "b" }, { n: "e" }, { n: "a" }, { n: "c" }, { n: "d" }];
  t.same(desc.json, { queue: q, size: 5, jobs: order }, "higher priority first, FIFO within one, delayed left out");

  const limited = await h.http("GET", `/status/${q}?with_desc=1&limit=2`);
  t.same(limited.json, { queue: q, size: 5, jobs: order.slice(0, 2) });

  // peeking takes nothing: the queue hands the jobs out in the order shown
  const delivered = [];
  for (let i = 0; i < 5; i++) delivered.push((await h.http("GET", `/q/${q}`)).json);
  t.same(delivered, order);
  t.same((await h.http("GET", `/status/${q}?with_desc=1`)).json, { queue: q, size: 0, jobs: [] });
});

t.test("GET /status/:queue?with_desc=1 is capped at 100 by default", async (t) => {
  const q = queueName("cap");
  const jobs = Array.from({ length: 130 }, (_, i) => ({ i }));
  t.equal((await h.http("POST", `/qb/${q}`, { body: { jobs } })).status, 201);
  const r = await h.http("GET", `/status/${q}?with_desc=1`);
  t.equal(r.json.size, 130);
  t.equal(r.json.jobs.length, 100);
  t.same(r.json.jobs, jobs.slice(0, 100));
  t.equal((await h.http("GET", `/status/${q}?with_desc=1&limit=120`)).json.jobs.length, 120);
});

t.test("GET /status/:queue: bad limit or with_desc is 400", async (t) => {
  const q = queueName("badlimit");
  for (const limit of ["0", "-1", "abc", "1.5", "10001", "1e3"]) {
    const r = await h.http("GET", `/status/${q}?with_desc=1&limit=${limit}`);
    t.equal(r.status, 400, `limit=${limit}`);
    t.match(r.json, { error: /limit/ }, `limit=${limit} names the parameter`);
  }
  const twice = await h.http("GET", `/status/${q}?with_desc=1&limit=1&limit=2`);
  t.equal(twice.status, 400);
  const wd = await h.http("GET", `/status/${q}?with_desc=yes`);
  t.equal(wd.status, 400);
  t.match(wd.json, { error: /with_desc/ });
});

t.test("GET /control/:queue: open by default, with the default settings", async (t) => {
  const q = queueName("ctl");
  const r = await h.http("GET", `/control/${q}`);
  t.equal(r.status, 200);
  t.same(r.json, { queue: q, status: 1, lease: 0, max_attempts: 5, backoff_base: 1, backoff_cap: 3600, ...LIMITS });
});

t.test("POST /control/:queue stop and start", async (t) => {
  const q = queueName("stop");
  await post(q, { x: 1 });

  const stop = await h.http("POST", `/control/${q}`, { body: { status: "stop" } });
  t.equal(stop.status, 200);
  t.same(stop.json, { response: "updated", queue: q });
  t.match((await h.http("GET", `/control/${q}`)).json, { queue: q, status: 0 });

  // a stopped queue takes jobs but hands none out
  t.equal((await post(q, { x: 2 })).status, 201);
  const closed = await h.http("GET", `/q/${q}`);
  t.equal(closed.status, 404);
  t.same(closed.json, { error: "queue is closed" });
  t.match(
    (await h.http("GET", `/stats/`)).json.queues.find((s: { queue_name: string }) => s.queue_name === q),
    { status: 0 },
  );

  const start = await h.http("POST", `/control/${q}`, { body: { status: "start" } });
  t.equal(start.status, 200);
  t.same(start.json, { response: "updated", queue: q });
  t.match((await h.http("GET", `/control/${q}`)).json, { status: 1 });
  t.same((await h.http("GET", `/q/${q}`)).json, { x: 1 });
});

t.test("POST /control/:queue without a JSON Content-Type, as presque's clients sent it", async (t) => {
  const q = queueName("loose");
  const none = await rawRequest("POST", `/control/${q}`, '{"status":"stop"}');
  t.equal(none.status, 200, "no Content-Type");
  t.same(none.json, { response: "updated", queue: q });
  t.equal((await h.http("GET", `/control/${q}`)).json.status, 0);

  // curl -d sends application/x-www-form-urlencoded
  const form = await rawRequest("POST", `/control/${q}`, '{"status":"start"}', {
    "content-type": "application/x-www-form-urlencoded",
  });
  t.equal(form.status, 200, "form Content-Type");
  t.same(form.json, { response: "updated", queue: q });
  t.equal((await h.http("GET", `/control/${q}`)).json.status, 1);

  const typed = await rawRequest("POST", `/control/${q}`, '{"status":"stop"}', { "content-type": "application/json; charset=utf-8" });
  t.equal(typed.status, 200, "JSON Content-Type with charset");
  t.equal((await h.http("GET", `/control/${q}`)).json.status, 0);
});

t.test("POST /control/:queue: bad bodies are 400 JSON and change nothing", async (t) => {
  const q = queueName("ctlbad");
  const cases: Array<[string, string, RegExp]> = [
    ["bad status", '{"status":"pause"}', /status/],
    ["numeric status", '{"status":0}', /status/],
    ["array", '["stop"]', /object/],
    ["string", '"stop"', /object/],
    ["null", "null", /object/],
    ["malformed JSON", '{"status":', /JSON/],
    ["form-encoded", "status=stop", /JSON/],
    ["empty body", "", /missing/],
    ["empty object", "{}", /status/],
    ["unknown key", '{"status":"stop","colour":"red"}', /colour/],
  ];
  for (const [what, body, message] of cases) {
    const r = await rawRequest("POST", `/control/${q}`, body, { "content-type": "application/json" });
    t.equal(r.status, 400, what);
    t.match(r.headers.get("content-type"), /^application\/json/, `${what}: JSON`);
    t.match(r.json, { error: message }, `${what}: says why`);
  }
  t.same((await h.http("GET", `/control/${q}`)).json.status, 1, "still open: the unknown key did not half-apply");

  const badName = await h.http("POST", `/control/${encodeURIComponent("a b")}`, { body: { status: "stop" } });
  t.equal(badName.status, 400);
  t.same(badName.json, { error: "invalid queue name" });
});

t.test("POST /control/:queue: queue settings show in GET /control, null resets", async (t) => {
  const q = queueName("settings");
  const set = await h.http("POST", `/control/${q}`, { body: { lease: 30, max_attempts: 3, backoff_base: 2, backoff_cap: 60 } });
  t.equal(set.status, 200);
  t.same(set.json, { response: "updated", queue: q });
  t.same((await h.http("GET", `/control/${q}`)).json, {
    queue: q,
    status: 1,
    lease: 30,
    max_attempts: 3,
    backoff_base: 2,
    backoff_cap: 60,
    ...LIMITS,
  });

  // the queue default lease applies to a plain GET /q
  await post(q, { x: 1 });
  const got = await h.http("GET", `/q/${q}`);
  t.equal(got.status, 200);
  t.ok(got.headers.get("x-presque-lease-expires"), "leased by the queue default");
  t.equal((await h.http("GET", `/j/${q}`)).json.job_leased, 1);

  // status and a setting together; then a reset
  t.equal((await h.http("POST", `/control/${q}`, { body: { status: "stop", backoff_cap: null } })).status, 200);
  t.same((await h.http("GET", `/control/${q}`)).json, {
    queue: q,
    status: 0,
    lease: 30,
    max_attempts: 3,
    backoff_base: 2,
    backoff_cap: 3600,
    ...LIMITS,
  });
  t.equal((await h.http("POST", `/control/${q}`, { body: { lease: null, max_attempts: null, backoff_base: null } })).status, 200);
  t.same((await h.http("GET", `/control/${q}`)).json, {
    queue: q,
    status: 0,
    lease: 0,
    max_attempts: 5,
    backoff_base: 1,
    backoff_cap: 3600,
    ...LIMITS,
  });
});

t.test("POST /control/:queue: out-of-range settings are 400", async (t) => {
  const q = queueName("range");
  const bad: Array<Record<string, unknown>> = [
    { lease: -1 },
    { lease: 43201 },
    { lease: "thirty" },
    { lease: "30" },
    { lease: 1.5 },
    { max_attempts: 0 },
    { max_attempts: 1001 },
    { backoff_base: -1 },
    { backoff_cap: 30 * 86400 + 1 },
    { max_attempts: true },
  ];
  for (const body of bad) {
    const key = Object.keys(body)[0];
    const r = await h.http("POST", `/control/${q}`, { body });
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.json, { error: new RegExp(key) }, `${JSON.stringify(body)} names ${key}`);
  }
  t.same((await h.http("GET", `/control/${q}`)).json, {
    queue: q,
    status: 1,
    lease: 0,
    max_attempts: 5,
    backoff_base: 1,
    backoff_cap: 3600,
    ...LIMITS,
  });
});

t.test("/control: other methods are 405 with Allow", async (t) => {
  const r = await h.http("DELETE", `/control/${queueName()}`);
  t.equal(r.status, 405);
  t.match(r.json, { error: String });
  t.match(r.headers.get("allow"), /GET/);
  t.match(r.headers.get("allow"), /POST/);
});

t.test("GET /stats/: Redis, queues with figures, workers", async (t) => {
  const q = queueName("stats");
  const worker = queueName("statsworker");
  const before = await h.http("GET", "/stats/");
  t.equal(before.status, 200);
  await post(q, { x: 1 });
  await post(q, { x: 2 }, `?delayed=${Math.floor(nowS()) + 3600}`);
  t.equal((await h.http("POST", `/w/${q}`, { headers: { "x-presque-workerid": worker } })).status, 201);

  for (const path of ["/stats/", "/stats"]) {
    const r = await h.http("GET", path);
    t.equal(r.status, 200, path);
    if (ON_CLUSTER) {
      // the cluster pass: the target names the masters, and every node is listed with its role
      t.match(r.json.redis.target, /^redis cluster, masters 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
      t.equal(r.json.redis.nodes.filter((n: { role: string }) => n.role === "master").length, 3, "three masters");
      t.equal(r.json.redis.nodes.length, 6, "and their three replicas");
    } else {
      const redisPort = await h.redisServer.getPort();
      t.equal(r.json.redis.target, `redis://127.0.0.1:${redisPort}/0`);
      t.equal(r.json.redis.nodes, undefined, "no node list for one Redis");
    }
    const version = /redis_version:(\S+)/.exec(await h.redis.info("server"))![1];
    t.equal(r.json.redis.version, version);
    t.equal(r.json.redis.embedded, false);
    t.equal(r.json.workers, before.json.workers + 1);
    const mine = r.json.queues.find((s: { queue_name: string }) => s.queue_name === q);
    t.match(mine, {
      queue_name: q,
      status: 1,
      job_count: 1,
      job_delayed: 1,
      job_processed: 0,
      job_failed: 0,
      job_leased: 0,
      job_dead: 0,
    });
    t.equal(r.json.queues.length, (await h.http("GET", "/status/")).json.size, "every listed queue");
  }
  await h.http("DELETE", `/w/${q}`, { headers: { "x-presque-workerid": worker } });
});

t.test("GET / is a self-contained HTML page", async (t) => {
  const r = await h.http("GET", "/");
  t.equal(r.status, 200);
  t.match(r.headers.get("content-type"), /^text\/html/);
  t.match(r.text, /^<!doctype html>/i);

  const refs = [...r.text.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]*)/gi)].map((m) => m[1]);
  for (const ref of refs) t.notMatch(ref, /^(?:[a-z][a-z0-9+.-]*:)?\/\//i, `${ref} is relative`);
  t.notMatch(r.text, /https?:\/\//, "no absolute URL anywhere");
  // its script and style are this server's own files (a strict Content-Security-Policy allows no
  // inline script), and they load nothing from elsewhere either
  const linked = refs.filter((ref) => ref.startsWith("/"));
  t.same(linked.sort(), ["/dashboard/app.css", "/dashboard/app.js"]);
  for (const ref of linked) {
    const file = await h.http("GET", ref);
    t.equal(file.status, 200, ref);
    t.notMatch(file.text, /@import|@font-face|url\(\s*["']?(?:https?:)?\/\//i, `${ref}: no external CSS or fonts`);
    // the SVG namespace is a name, not something fetched
    t.notMatch(file.text.replaceAll("http://www.w3.org/2000/svg", ""), /https?:\/\//, `${ref}: no absolute URL`);
  }
  t.match((await h.http("GET", "/dashboard/app.js")).text, /\/events/, "draws from /events");
});

t.test("with_desc over more jobs than Lua can unpack at once", async (t) => {
  const q = queueName("bigpeek");
  for (let batch = 0; batch < 9; batch++) {
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ n: batch * 1000 + i }));
    t.equal((await h.http("POST", `/qb/${q}`, { body: { jobs } })).status, 201);
  }
  const r = await h.http("GET", `/status/${q}?with_desc=1&limit=10000`);
  t.equal(r.status, 200);
  t.equal(r.json.jobs.length, 9000);
  t.same(r.json.jobs[8999], { n: 8999 });
  await h.http("DELETE", `/q/${q}`);
});
