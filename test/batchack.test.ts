// POST /qb/:queue/ack and /qb/:queue/fail: many acknowledgements or failures in one request, each
// job answered by the rules of its single route, one refusal leaving the others alone.
import t from "tap";
import { harness, queueName } from "./helpers.js";

const h = await harness(t, { batch: { max_push: 4 }, jobs: { max_attempts: 2, backoff_base: 10 } });

/** Pushes n jobs and takes them under a lease: [{id, attempt}] */
async function leased(q: string, n: number, lease = 30) {
  await h.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: n }, (_, i) => ({ i })) } });
  const got = await h.http("GET", `/qb/${q}?batch_size=${n}&lease=${lease}`);
  const ids = got.headers.get("x-presque-jobids")!.split(",");
  const attempts = got.headers.get("x-presque-attempts")!.split(",").map(Number);
  return ids.map((id, i) => ({ id, attempt: attempts[i] }));
}
const figures = async (q: string) => (await h.http("GET", `/j/${q}`)).json;

t.test("ack: every job acked in one request, counted for the queue and the worker", async (t) => {
  const q = queueName();
  const jobs = await leased(q, 3);
  const res = await h.http("POST", `/qb/${q}/ack`, { body: { jobs }, headers: { "x-presque-workerid": "w1" } });
  t.equal(res.status, 200);
  t.same(res.json, { results: jobs.map(({ id }) => ({ id, status: 204, state: "acked" })) });
  t.match(await figures(q), { job_count: 0, job_leased: 0, job_processed: 3 });
  t.equal(await h.redis.hget(`${h.config.redis.prefix}{${q}}:wstats`, "p:w1"), "3");
  t.equal(await h.redis.hlen(`${h.config.redis.prefix}{${q}}:jobs`), 0, "the jobs are gone");
});

t.test("ack: a stale attempt and an unknown id are refused per job; the others are acked", async (t) => {
  const q = queueName();
  const [a, b] = await leased(q, 2);
  const res = await h.http("POST", `/qb/${q}/ack`, {
    body: { jobs: [{ id: a.id, attempt: a.attempt + 1 }, { id: Number(b.id), attempt: b.attempt }, { id: "999" }] },
  });
  t.equal(res.status, 200);
  t.same(res.json.results, [
    { id: a.id, status: 409, error: `attempt ${a.attempt + 1} does not match: the job is on attempt ${a.attempt}` },
    { id: b.id, status: 204, state: "acked" },
    { id: "999", status: 404, error: "no such job" },
  ]);
  t.match(await figures(q), { job_leased: 1, job_processed: 1 });
  const single = await h.http("DELETE", `/q/${q}/${a.id}`, { headers: { "x-presque-attempt": String(a.attempt) } });
  t.equal(single.status, 204, "the refused job is still held by its lease");
});

t.test("ack: an id named twice is acked once; a leased job's attributes go with it; no attempt acks too", async (t) => {
  const q = queueName();
  const [a, b] = await leased(q, 2);
  const twice = await h.http("POST", `/qb/${q}/ack`, { body: { jobs: [a, a] } });
  t.same(twice.json.results, [
    { id: a.id, status: 204, state: "acked" },
    { id: a.id, status: 404, error: "no such job" },
  ]);
  await h.http("POST", `/q/${q}?priority=5&max_attempts=3`, { body: { c: 1 } });
  const got = await h.http("GET", `/qb/${q}?batch_size=1&lease=30`);
  const c = { id: got.headers.get("x-presque-jobids")!, attempt: 1 };
  const res = await h.http("POST", `/qb/${q}/ack`, { body: { jobs: [c, { id: b.id }] } });
  t.same(res.json.results, [
    { id: c.id, status: 204, state: "acked" },
    { id: b.id, status: 204, state: "acked" },
  ]);
  t.match(await figures(q), { job_count: 0, job_leased: 0, job_processed: 3 });
  const prefix = `${h.config.redis.prefix}{${q}}`;
  t.equal(await h.redis.hlen(`${prefix}:attrs`), 0, "no attributes are left behind");
  t.equal(await h.redis.hlen(`${prefix}:jobs`), 0);
});

t.test("ack without an attempt cancels a waiting job, as DELETE /q/:queue/:id does", async (t) => {
  const q = queueName();
  const pushed = await h.http("POST", `/q/${q}`, { body: { x: 1 } });
  const res = await h.http("POST", `/qb/${q}/ack`, { body: { jobs: [{ id: pushed.json.id }] } });
  t.same(res.json.results, [{ id: pushed.json.id, status: 204, state: "cancelled" }]);
  t.match(await figures(q), { job_count: 0, job_processed: 0 });
});

t.test("fail: each job retried after backoff or dead, with its error; refusals per job", async (t) => {
  const q = queueName();
  const [a, b] = await leased(q, 2);
  const before = Date.now();
  const res = await h.http("POST", `/qb/${q}/fail`, {
    body: { jobs: [{ ...a, error: "smtp timeout" }, { ...b }, { id: a.id, attempt: a.attempt }] },
    headers: { "x-presque-workerid": "w2" },
  });
  t.equal(res.status, 200);
  const [first, second, again] = res.json.results;
  t.match(first, { id: a.id, status: 200, state: "delayed" });
  t.ok(first.due_at * 1000 >= before + 9_000, "due after backoff_base * 2^0 seconds");
  t.match(second, { id: b.id, status: 200, state: "delayed" });
  t.same(again, { id: a.id, status: 409, error: "the job is not leased" }, "a job failed twice in one batch");
  const job = await h.http("GET", `/q/${q}/${a.id}`);
  t.match(job.json, { state: "delayed", last_error: "smtp timeout", attempts: 1 });
  t.match((await h.http("GET", `/q/${q}/${b.id}`)).json, { last_error: "failed" });
  t.match(await figures(q), { job_delayed: 2, job_leased: 0, job_failed: 2 });
  t.equal(await h.redis.hget(`${h.config.redis.prefix}{${q}}:wstats`, "f:w2"), "2");

  // the last attempt: dead
  await h.redis.zadd(`${h.config.redis.prefix}{${q}}:delayed`, 0, a.id);
  const again2 = await h.http("GET", `/q/${q}?lease=30`);
  const attempt = Number(again2.headers.get("x-presque-attempt"));
  const dead = await h.http("POST", `/qb/${q}/fail`, { body: { jobs: [{ id: a.id, attempt, error: { code: 7 } }] } });
  t.match(dead.json.results, [{ id: a.id, status: 200, state: "dead" }]);
  t.ok(dead.json.results[0].died_at > 0);
  t.match((await h.http("GET", `/q/${q}/${a.id}`)).json, { state: "dead", last_error: '{"code":7}' });
});

t.test("bad batch bodies: 400 for the whole request, nothing changed", async (t) => {
  const q = queueName();
  const [job] = await leased(q, 1);
  const cases: Array<[string, unknown, RegExp]> = [
    ["no jobs", {}, /body must be \{"jobs"/],
    ["empty", { jobs: [] }, /at least one job/],
    ["too many", { jobs: Array(5).fill(job) }, /at most 4 jobs/],
    ["not an object", { jobs: [job, 7] }, /jobs\[1\] must be a JSON object/],
    ["bad id", { jobs: [{ id: "x1" }] }, /jobs\[0\]\.id must be a job id/],
    ["bad attempt", { jobs: [{ id: job.id, attempt: 0 }] }, /jobs\[0\]\.attempt must be a positive integer/],
    ["fractional attempt", { jobs: [{ id: job.id, attempt: 1.5 }] }, /attempt must be a positive integer/],
  ];
  for (const route of ["ack", "fail"]) {
    for (const [what, body, error] of cases) {
      const res = await h.http("POST", `/qb/${q}/${route}`, { body });
      t.equal(res.status, 400, `${route}: ${what}`);
      t.match(res.json.error, error, `${route}: ${what}`);
    }
    const untyped = await h.http("POST", `/qb/${q}/${route}`, { raw: JSON.stringify({ jobs: [job] }) });
    t.equal(untyped.status, 400, `${route}: a body without a JSON Content-Type`);
    const badName = await h.http("POST", `/qb/bad{name}/${route}`, { body: { jobs: [job] } });
    t.equal(badName.status, 400, `${route}: a bad queue name`);
    const wrongMethod = await h.http("GET", `/qb/${q}/${route}`);
    t.equal(wrongMethod.status, 405, `${route}: GET is 405`);
    t.equal(wrongMethod.headers.get("allow"), "POST");
  }
  t.match(await figures(q), { job_leased: 1, job_processed: 0, job_failed: 0 });
});

t.test("retry_in: a worker's own retry time; 0 hands the job back, first in line, at once", async (t) => {
  const q = queueName();
  await h.http("POST", `/q/${q}`, { body: { behind: true } });
  const [a, b] = await leased(q, 2);
  const res = await h.http("POST", `/qb/${q}/fail`, {
    body: {
      jobs: [
        { ...a, error: "stopping", retry_in: 0 },
        { ...b, retry_in: 2.5 },
      ],
    },
  });
  const [now, later] = res.json.results;
  t.same(now, { id: a.id, status: 200, state: "ready" }, "ready again at once, whatever the backoff (10 s here)");
  t.match(later, { id: b.id, status: 200, state: "delayed" });
  t.ok(later.due_at * 1000 - Date.now() < 2600, "due in 2.5 s, not after the backoff");
  const again = await h.http("GET", `/q/${q}?lease=30`);
  t.equal(again.headers.get("x-presque-jobid"), a.id, "ahead of the job that was waiting");
  t.equal(again.headers.get("x-presque-attempt"), "2", "the attempt counted");

  const single = await h.http("PUT", `/q/${q}/${a.id}`, { headers: { "x-presque-attempt": "2" }, body: { retry_in: 0 } });
  t.equal(single.status, 200);
  t.match(single.json, { id: a.id, state: "dead", died_at: Number }, "its last attempt: dead, retry_in or not");
  for (const retry_in of [-1, "soon", 86400 * 31]) {
    const bad = await h.http("POST", `/qb/${q}/fail`, { body: { jobs: [{ id: b.id, retry_in }] } });
    t.equal(bad.status, 400, `retry_in ${JSON.stringify(retry_in)}`);
    t.match(bad.json.error, /^jobs\[0\]\.retry_in must be a number of seconds/);
  }
  const badSingle = await h.http("PUT", `/q/${q}/${b.id}`, { body: { retry_in: "x" } });
  t.match(badSingle.json.error, /^retry_in must be a number of seconds/);
});
