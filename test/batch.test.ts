// POST/GET /qb/:queue: many jobs per request.
import t from "tap";
import { harness, queueName, type Harness } from "./helpers.js";

const h = await harness(t);
const limited = await harness(t, { batch: { max_push: 5, max_fetch: 3 }, server: { max_body: 2048 } });

const pushBatch = (q: string, jobs: unknown[], query = "", on: Harness = h) => on.http("POST", `/qb/${q}${query}`, { body: { jobs } });
const figures = async (q: string, on: Harness = h) => (await on.http("GET", `/j/${q}`)).json;
const queueKeys = (q: string, on: Harness = h) => on.redis.keys(`${on.config.redis.prefix}{${q}}:*`);
const numbered = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ n: from + i }));

t.test("POST /qb: 201 {ids} in order; GET /qb: the jobs in queue order with X-presque-jobids", async (t) => {
  const q = queueName();
  const posted = await pushBatch(q, numbered(5));
  t.equal(posted.status, 201);
  t.same(posted.json, { ids: ["1", "2", "3", "4", "5"] });
  t.match(await figures(q), { job_count: 5 });

  const first = await h.http("GET", `/qb/${q}?batch_size=3`);
  t.equal(first.status, 200);
  t.match(first.headers.get("content-type"), /^application\/json/);
  t.same(first.json, numbered(3));
  t.equal(first.headers.get("x-presque-jobids"), "1,2,3");

  const rest = await h.http("GET", `/qb/${q}?batch_size=3`);
  t.same(rest.json, numbered(2, 3), "fewer than asked when fewer are left");
  t.equal(rest.headers.get("x-presque-jobids"), "4,5");
  t.match(await figures(q), { job_count: 0, job_processed: 5 });
  t.equal(await h.redis.hlen(`${h.config.redis.prefix}{${q}}:jobs`), 0);

  const more = await pushBatch(q, numbered(2, 5));
  t.same(more.json, { ids: ["6", "7"] }, "ids continue the queue's sequence");
});

t.test("batch and single jobs share one queue, in order", async (t) => {
  const q = queueName();
  await h.http("POST", `/q/${q}`, { body: { n: 0 } });
  await pushBatch(q, numbered(2, 1));
  await h.http("POST", `/q/${q}`, { body: { n: 3 } });
  const got = await h.http("GET", `/qb/${q}?batch_size=10`);
  t.same(got.json, numbered(4));
  t.equal(got.headers.get("x-presque-jobids"), "1,2,3,4");
});

t.test("a batch of one is still an array", async (t) => {
  const q = queueName();
  await h.http("POST", `/q/${q}`, { raw: '{ "a" : 1 }', headers: { "content-type": "application/json" } });
  const got = await h.http("GET", `/qb/${q}?batch_size=1`);
  t.equal(got.status, 200);
  t.equal(got.text, '[{ "a" : 1 }]', "the stored bytes, in an array");
  t.equal(got.headers.get("x-presque-jobids"), "1");
});

t.test("default batch_size is 10", async (t) => {
  const q = queueName();
  t.equal((await pushBatch(q, numbered(15))).status, 201);
  const first = await h.http("GET", `/qb/${q}`);
  t.equal(first.json.length, 10);
  t.same(first.json, numbered(10));
  t.equal(first.headers.get("x-presque-jobids"), "1,2,3,4,5,6,7,8,9,10");
  const second = await h.http("GET", `/qb/${q}`);
  t.same(second.json, numbered(5, 10));
});

t.test("GET /qb on an empty queue: 404 no job", async (t) => {
  const q = queueName();
  const r = await h.http("GET", `/qb/${q}`);
  t.equal(r.status, 404);
  t.same(r.json, { error: "no job" });
  t.equal(r.headers.get("x-presque-jobids"), null);
});

t.test("GET /qb follows priorities", async (t) => {
  const q = queueName();
  await pushBatch(q, [{ p: 0 }]);
  await pushBatch(q, [{ p: -1 }], "?priority=-1");
  await pushBatch(
    q,
    [
      { p: 2, i: 0 },
      { p: 2, i: 1 },
    ],
    "?priority=2",
  );
  const got = await h.http("GET", `/qb/${q}?batch_size=10`);
  t.same(got.json, [{ p: 2, i: 0 }, { p: 2, i: 1 }, { p: 0 }, { p: -1 }]);
  t.equal(got.headers.get("x-presque-jobids"), "3,4,1,2");
});

t.test("stopped queue: GET /qb 404 queue is closed, POST /qb still 201", async (t) => {
  const q = queueName();
  await h.http("POST", `/control/${q}`, { body: { status: "stop" } });
  t.equal((await pushBatch(q, numbered(2))).status, 201);
  const closed = await h.http("GET", `/qb/${q}`);
  t.equal(closed.status, 404);
  t.same(closed.json, { error: "queue is closed" });
  await h.http("POST", `/control/${q}`, { body: { status: "start" } });
  t.same((await h.http("GET", `/qb/${q}`)).json, numbered(2));
});

t.test("GET /qb counts processed for the queue and the worker", async (t) => {
  const q = queueName();
  const worker = `w-${q}`;
  t.equal((await h.http("POST", `/w/${q}`, { body: { worker_id: worker } })).status, 201);
  await pushBatch(q, numbered(4));
  t.equal((await h.http("GET", `/qb/${q}?batch_size=3`, { headers: { "x-presque-workerid": worker } })).status, 200);
  t.match(await figures(q), { job_processed: 3, job_count: 1 });
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { processed: 3, failed: 0 });
});

t.test("limits: batch.max_push and batch.max_fetch", async (t) => {
  const q = queueName();
  const over = await pushBatch(q, numbered(6), "", limited);
  t.equal(over.status, 400, "more than max_push jobs");
  t.match(over.json, { error: /at most 5/ });
  t.same(await queueKeys(q, limited), [], "nothing stored");

  const atMax = await pushBatch(q, numbered(5), "", limited);
  t.equal(atMax.status, 201, "max_push jobs are fine");
  t.equal(atMax.json.ids.length, 5);

  for (const size of ["4", "0", "-1", "abc", "1.5", "", "2&batch_size=3", "1000"]) {
    const r = await limited.http("GET", `/qb/${q}?batch_size=${size}`);
    t.equal(r.status, 400, `batch_size=${size}`);
    t.match(r.json, { error: /batch_size/ }, `batch_size=${size}`);
  }
  t.equal((await figures(q, limited)).job_count, 5, "a refused GET takes nothing");

  const atFetch = await limited.http("GET", `/qb/${q}?batch_size=3`);
  t.equal(atFetch.status, 200, "max_fetch is fine");
  t.same(atFetch.json, numbered(3));

  // the default of 10 is above this max_fetch of 3: it is capped, not a way around the limit
  t.equal((await pushBatch(q, numbered(5, 5), "", limited)).status, 201);
  const byDefault = await limited.http("GET", `/qb/${q}`);
  t.equal(byDefault.status, 200);
  t.same(byDefault.json, numbered(3, 3), "max_fetch jobs, not 10");

  const big = await limited.http("POST", `/qb/${q}`, { body: { jobs: [{ a: "x".repeat(3000) }] } });
  t.equal(big.status, 413, "a body over max_body");
});

t.test("bad batch bodies: 400, nothing stored", async (t) => {
  const q = queueName();
  const cases: Array<[string, unknown]> = [
    ["a number among the jobs", [{ a: 1 }, 2, { c: 3 }]],
    ["an array among the jobs", [{ a: 1 }, [1]]],
    ["null among the jobs", [null]],
    ["a string among the jobs", [{ a: 1 }, "job"]],
    ["no jobs", []],
  ];
  for (const [what, jobs] of cases) {
    const r = await pushBatch(q, jobs as unknown[]);
    t.equal(r.status, 400, what);
    t.type(r.json?.error, "string", what);
  }
  const notObject = await pushBatch(q, [{ a: 1 }, 2]);
  t.match(notObject.json, { error: /jobs\[1\]/ }, "names the job at fault");

  const bodies: Array<[string, string]> = [
    ["empty", ""],
    ["malformed", '{"jobs":[{"a":1}'],
    ["an array", '[{"a":1}]'],
    ["jobs not an array", '{"jobs":{"a":1}}'],
    ["no jobs key", '{"job":[{"a":1}]}'],
  ];
  for (const [what, raw] of bodies) {
    const r = await h.http("POST", `/qb/${q}`, { raw, headers: { "content-type": "application/json" } });
    t.equal(r.status, 400, what);
    t.type(r.json?.error, "string", what);
  }
  const textPlain = await h.http("POST", `/qb/${q}`, { raw: '{"jobs":[{"a":1}]}', headers: { "content-type": "text/plain" } });
  t.equal(textPlain.status, 400, "text/plain");
  t.match(textPlain.json, { error: /Content-Type/ });

  t.same(await queueKeys(q), [], "no key written");
  t.match(await figures(q), { job_count: 0, job_delayed: 0 });
});

t.test("?delayed and ?delay apply to every job of the batch", async (t) => {
  const q = queueName();
  const future = await pushBatch(q, numbered(3), `?delayed=${Math.floor(Date.now() / 1000) + 60}`);
  t.equal(future.status, 201);
  t.match(await figures(q), { job_count: 0, job_delayed: 3 });
  t.equal((await h.http("GET", `/qb/${q}`)).status, 404, "none handed out");
  t.equal((await pushBatch(q, numbered(2, 3), "?delay=60")).status, 201);
  t.match(await figures(q), { job_count: 0, job_delayed: 5 });

  const past = await pushBatch(q, numbered(2, 10), "?delayed=1000000000");
  t.equal(past.status, 201);
  t.match(await figures(q), { job_count: 2, job_delayed: 5 });
  t.same((await h.http("GET", `/qb/${q}`)).json, numbered(2, 10));

  for (const bad of ["delayed=abc", "delay=-1", "delayed=1&delay=1", "uniq=k"]) {
    t.equal((await pushBatch(q, numbered(1), `?${bad}`)).status, 400, bad);
  }
  t.match(await figures(q), { job_count: 0, job_delayed: 5 }, "the refused batches stored nothing");
});

t.test("invalid queue names on /qb", async (t) => {
  for (const name of ["%7B", "a%20b", "x".repeat(129)]) {
    const post = await pushBatch(name, numbered(1));
    t.equal(post.status, 400);
    t.same(post.json, { error: "invalid queue name" });
    const get = await h.http("GET", `/qb/${name}`);
    t.equal(get.status, 400);
    t.same(get.json, { error: "invalid queue name" });
  }
});

t.test("PUT and DELETE on /qb: 405 with Allow", async (t) => {
  const q = queueName();
  await pushBatch(q, numbered(1));
  for (const method of ["PUT", "DELETE", "PATCH"]) {
    const r = await h.http(method, `/qb/${q}`, method === "DELETE" ? {} : { body: { jobs: [{ a: 1 }] } });
    t.equal(r.status, 405, method);
    t.same(r.json, { error: "method not allowed" }, method);
    t.same((r.headers.get("allow") ?? "").split(/,\s*/).sort(), ["GET", "POST"], method);
  }
  t.match(await figures(q), { job_count: 1, job_failed: 0 }, "the queue is untouched");
});
