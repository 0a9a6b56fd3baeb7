// Per-queue rate and concurrency limits, and job deadlines (issue 20), through the routes.
import t from "tap";
import { harness, queueName, sleep, until } from "./helpers.js";

const h = await harness(t, {}, { sweepEveryMs: 100 });
const figures = async (q: string) => (await h.http("GET", `/j/${q}`)).json;
const fill = (q: string, n: number) => h.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: n }, (_, i) => ({ i })) } });

t.test("/control sets and clears rate, burst, concurrency and expires_in", async (t) => {
  const q = queueName("ctl");
  const shown = async () => (await h.http("GET", `/control/${q}`)).json;
  t.match(await shown(), { rate: null, burst: null, concurrency: null, expires_in: null });
  t.equal((await h.http("POST", `/control/${q}`, { body: { rate: 2.5, burst: 4, concurrency: 3, expires_in: 60 } })).status, 200);
  t.match(await shown(), { rate: 2.5, burst: 4, concurrency: 3, expires_in: 60 });
  t.equal((await h.http("POST", `/control/${q}`, { body: { rate: null, burst: null, concurrency: null, expires_in: null } })).status, 200);
  t.match(await shown(), { rate: null, burst: null, concurrency: null, expires_in: null });
  const bad: Array<[unknown, RegExp]> = [
    [{ rate: 0 }, /rate must be a number of jobs per second from 0.001/],
    [{ rate: "5" }, /rate must be a number/],
    [{ burst: 0 }, /burst must be an integer from 1/],
    [{ burst: 1.5 }, /burst must be an integer/],
    [{ concurrency: -1 }, /concurrency must be an integer from 1/],
    [{ expires_in: 0 }, /expires_in must be an integer from 1/],
    [{ speed: 1 }, /unknown control key speed: .*rate, burst, concurrency, expires_in/],
  ];
  for (const [body, message] of bad) {
    const r = await h.http("POST", `/control/${q}`, { body });
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.json, { error: message });
  }
});

t.test("rate: a burst, then 404 rate limited with Retry-After; tokens come back", async (t) => {
  const q = queueName("rate");
  await fill(q, 20);
  await h.http("POST", `/control/${q}`, { body: { rate: 2, burst: 3 } });
  const got = await h.http("GET", `/qb/${q}?batch_size=10`);
  t.equal(got.status, 200);
  t.equal(got.json.length, 3, "the burst: three of the ten asked for");
  const refused = await h.http("GET", `/q/${q}`);
  t.equal(refused.status, 404);
  t.same(refused.json, { error: "rate limited" });
  t.equal(refused.headers.get("retry-after"), "1");
  await sleep(600);
  t.equal((await h.http("GET", `/q/${q}`)).status, 200, "a token came back after half a second");
  // a long poll waits for the next token instead of answering 404
  const start = Date.now();
  const waited = await h.http("GET", `/q/${q}?wait=5`);
  t.equal(waited.status, 200);
  t.ok(Date.now() - start < 2000, `woken when the token came (${Date.now() - start} ms)`);
  await h.http("POST", `/control/${q}`, { body: { rate: null } });
  t.equal((await h.http("GET", `/qb/${q}?batch_size=100`)).json.length, 20 - 5, "no limit again");
});

t.test("concurrency: at most N leased; an ack, a failure or an expired lease frees a slot and wakes a waiter", async (t) => {
  const q = queueName("conc");
  await fill(q, 10);
  await h.http("POST", `/control/${q}`, { body: { concurrency: 2 } });
  const first = await h.http("GET", `/qb/${q}?batch_size=5&lease=30`);
  t.equal(first.json.length, 2, "two of the five asked for");
  t.equal((await h.http("GET", `/q/${q}?lease=30`)).status, 404, "none while two are leased");
  t.equal((await h.http("GET", `/q/${q}`)).status, 200, "a fetch without a lease is not a lease");
  const [id1, id2] = first.headers.get("x-presque-jobids")!.split(",");
  // a waiter is woken by the ack
  const waiting = h.http("GET", `/q/${q}?lease=30&wait=5`);
  await sleep(200);
  const start = Date.now();
  t.equal((await h.http("DELETE", `/q/${q}/${id1}`)).status, 204);
  const woken = await waiting;
  t.equal(woken.status, 200);
  t.ok(Date.now() - start < 900, `woken by the ack (${Date.now() - start} ms), not by a re-check`);
  // a failure frees one too
  t.equal((await h.http("PUT", `/q/${q}/${id2}`, { body: { error: "x", retry_in: 100 } })).status, 200);
  const third = await h.http("GET", `/q/${q}?lease=0.3`);
  t.equal(third.status, 200);
  t.equal((await h.http("GET", `/q/${q}?lease=30`)).status, 404, "two leased again");
  // the 0.3 s lease runs out: its slot frees
  await until("an expired lease frees a slot", async () => (await h.http("GET", `/q/${q}?lease=30`)).status === 200, 5000);
  t.equal((await figures(q)).job_leased, 2);
});

t.test("deadlines: a job not handed out in time is dead, expired, and never delivered", async (t) => {
  const q = queueName("exp");
  t.equal((await h.http("POST", `/q/${q}?expires_in=0.3`, { body: { late: true } })).status, 201);
  t.equal((await h.http("POST", `/q/${q}?expires_at=${Date.now() / 1000 + 60}`, { body: { late: false } })).status, 201);
  await sleep(400);
  // the pop passes over the expired one (or the sweeper already moved it)
  const got = await h.http("GET", `/q/${q}`);
  t.same(got.json, { late: false });
  t.equal((await h.http("GET", `/q/${q}`)).status, 404);
  const dead = await h.http("GET", `/dead/${q}`);
  t.equal(dead.json.jobs.length, 1);
  t.match(dead.json.jobs[0], { last_error: "expired", job: { late: true } });
  t.equal((await figures(q)).job_dead, 1, "counted in the dead figures");

  // the sweeper moves an expired job when due, with nobody fetching
  const q2 = queueName("exp2");
  await h.http("POST", `/qb/${q2}?expires_in=0.3&priority=2`, { body: { jobs: [{ a: 1 }, { a: 2 }] } });
  await h.http("POST", `/q/${q2}?expires_in=0.3`, { body: { b: 1 } });
  await until("the sweeper moves them", async () => (await figures(q2)).job_dead === 3, 5000);
  t.equal((await figures(q2)).job_count, 0);

  // the queue's default, from the due time; a delayed job expires after it is due
  const q3 = queueName("exp3");
  await h.http("POST", `/control/${q3}`, { body: { expires_in: 1 } });
  await h.http("POST", `/q/${q3}?delay=0.5`, { body: { c: 1 } });
  await sleep(800);
  t.equal((await h.http("GET", `/q/${q3}`)).status, 200, "due at 0.5 s, expiring at 1.5 s: delivered at 0.8 s");
  await h.http("POST", `/q/${q3}`, { body: { c: 2 } });
  await until("the default expiry", async () => (await figures(q3)).job_dead === 1, 5000);

  // a leased job whose lease runs out after its deadline is not handed out again
  const q4 = queueName("exp4");
  await h.http("POST", `/q/${q4}?expires_in=0.5`, { body: { d: 1 } });
  t.equal((await h.http("GET", `/q/${q4}?lease=0.8`)).status, 200, "handed out in time");
  await sleep(1000);
  t.equal((await h.http("GET", `/q/${q4}?lease=5`)).status, 404, "not again after its deadline");
  t.equal((await figures(q4)).job_dead, 1);
});

t.test("bad deadlines are 400", async (t) => {
  const q = queueName("badexp");
  const cases: Array<[string, RegExp]> = [
    ["expires_in=abc", /expires_in must be a number of seconds/],
    ["expires_in=0", /expires_in must be more than 0/],
    ["expires_at=1000", /expires_at is in the past/],
    ["expires_in=5&expires_at=99999999999", /not both/],
    ["expires_in=1&delay=5", /would expire before it is due/],
  ];
  for (const [query, message] of cases) {
    const r = await h.http("POST", `/q/${q}?${query}`, { body: {} });
    t.equal(r.status, 400, query);
    t.match(r.json, { error: message });
    t.equal((await h.http("POST", `/qb/${q}?${query}`, { body: { jobs: [{}] } })).status, 400, `/qb ${query}`);
  }
  t.equal((await figures(q)).job_count, 0);
});
