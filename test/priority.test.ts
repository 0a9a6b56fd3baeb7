// Priorities (higher first, FIFO within one) with batches, delays, leases and retries (issue 3).
import t from "tap";
import { harness, queueName, sleep } from "./helpers.js";

const h = await harness(t);

async function push(q: string, body: unknown, query = ""): Promise<string> {
  const r = await h.http("POST", `/q/${q}${query}`, { body });
  if (r.status !== 201) throw new Error(`push answered ${r.status} ${r.text}`);
  return r.json.id;
}

/** Takes every ready job, one GET at a time, and returns their bodies' `n`. */
async function drain(q: string, query = ""): Promise<unknown[]> {
  const out: unknown[] = [];
  for (;;) {
    const r = await h.http("GET", `/q/${q}${query}`);
    if (r.status === 404) return out;
    if (r.status !== 200) throw new Error(`GET answered ${r.status} ${r.text}`);
    out.push(r.json.n);
  }
}

const figures = async (q: string) => (await h.http("GET", `/j/${q}`)).json;

t.test("higher priorities first, the default 0 in the middle, FIFO within each", async (t) => {
  const q = queueName("order");
  const plan: Array<[string, number | null]> = [
    ["a0", null],
    ["b5", 5],
    ["c-3", -3],
    ["d5", 5],
    ["e10", 10],
    ["f0", 0],
    ["g-3", -3],
    ["hmax", 1_000_000],
    ["imin", -1_000_000],
  ];
  for (const [n, p] of plan) await push(q, { n }, p === null ? "" : `?priority=${p}`);
  t.match(await figures(q), { job_count: 9, job_prioritized: 7 });
  const peek = await h.http("GET", `/status/${q}?with_desc=1`);
  const expected = ["hmax", "e10", "b5", "d5", "a0", "f0", "c-3", "g-3", "imin"];
  t.same(
    peek.json.jobs.map((j: { n: string }) => j.n),
    expected,
    "/status with_desc shows delivery order",
  );
  t.same(await drain(q), expected);
  t.match(await figures(q), { job_count: 0, job_prioritized: 0, job_processed: 9 });
});

t.test("equal priorities stay FIFO over many jobs, across single and batch pops", async (t) => {
  const q = queueName("fifo");
  const priorities = [3, 0, -2];
  const pushed: Record<number, number[]> = { 3: [], 0: [], [-2]: [] };
  // a deterministic interleaving of the three priorities
  for (let i = 0; i < 90; i++) {
    const p = priorities[(i * 7) % 3];
    await push(q, { n: i }, `?priority=${p}`);
    pushed[p].push(i);
  }
  const expected = [...pushed[3], ...pushed[0], ...pushed[-2]];
  const got: number[] = [];
  // odd batch sizes, so that batches straddle the priority set and the FIFO list
  for (let size = 1; got.length < 90; size = (size % 13) + 4) {
    const r = await h.http("GET", `/qb/${q}?batch_size=${size}`);
    t.equal(r.status, 200);
    got.push(...r.json.map((j: { n: number }) => j.n));
  }
  t.same(got, expected);
  t.equal((await h.http("GET", `/qb/${q}`)).status, 404);
});

t.test("batches: ?priority applies to all the jobs of a POST /qb; GET /qb takes across priorities", async (t) => {
  const q = queueName("batch");
  await push(q, { n: "p0" });
  const low = await h.http("POST", `/qb/${q}?priority=-1`, { body: { jobs: [{ n: "l1" }, { n: "l2" }] } });
  const high = await h.http("POST", `/qb/${q}?priority=2`, { body: { jobs: [{ n: "h1" }, { n: "h2" }] } });
  t.equal(low.status, 201);
  t.equal(high.status, 201);
  for (const id of [...low.json.ids, ...high.json.ids]) {
    const v = await h.http("GET", `/q/${q}/${id}`);
    t.equal(v.json.priority, low.json.ids.includes(id) ? -1 : 2);
  }
  const first = await h.http("GET", `/qb/${q}?batch_size=3&lease=30`);
  t.same(first.json, [{ n: "h1" }, { n: "h2" }, { n: "p0" }]);
  t.equal(first.headers.get("x-presque-jobids"), [...high.json.ids, "1"].join(","));
  t.equal(first.headers.get("x-presque-attempts"), "1,1,1");
  t.match(await figures(q), { job_count: 2, job_prioritized: 2, job_leased: 3 });
  const rest = await h.http("GET", `/qb/${q}?batch_size=10`);
  t.same(rest.json, [{ n: "l1" }, { n: "l2" }]);
  t.equal(rest.headers.get("x-presque-jobids"), low.json.ids.join(","));
});

t.test("delayed jobs keep their priority when they come due", async (t) => {
  const q = queueName("delayed");
  await push(q, { n: "ready0" });
  await push(q, { n: "ready5" }, "?priority=5");
  await push(q, { n: "late7" }, "?priority=7&delay=0.3");
  await push(q, { n: "late-1" }, "?priority=-1&delay=0.3");
  const epoch = (Date.now() + 300) / 1000;
  await h.http("POST", `/qb/${q}?priority=6&delayed=${epoch.toFixed(3)}`, { body: { jobs: [{ n: "bl1" }, { n: "bl2" }] } });
  t.match(await figures(q), { job_count: 2, job_delayed: 4 });
  const delayedView = await h.http("GET", `/q/${q}/3`);
  t.match(delayedView.json, { state: "delayed", priority: 7 });
  await sleep(400);
  t.same(await drain(q), ["late7", "bl1", "bl2", "ready5", "ready0", "late-1"]);
});

t.test("an expired lease puts the job back at its priority", async (t) => {
  const q = queueName("lease");
  await push(q, { n: "A5" }, "?priority=5");
  await push(q, { n: "B1" }, "?priority=1");
  await push(q, { n: "C0" });
  const taken = await h.http("GET", `/q/${q}?lease=0.3`);
  t.same(taken.json, { n: "A5" });
  await push(q, { n: "D9" }, "?priority=9");
  await push(q, { n: "E5" }, "?priority=5");
  await sleep(400);
  const again = await h.http("GET", `/q/${q}?lease=30`);
  t.same(again.json, { n: "D9" });
  const back = await h.http("GET", `/q/${q}?lease=30`);
  t.same(back.json, { n: "A5" }, "behind the higher priority, ahead of the newer job of its own");
  t.equal(back.headers.get("x-presque-attempt"), "2");
  t.same(await drain(q), ["E5", "B1", "C0"]);
});

t.test("a failed job retries at its priority; so does a dead job put back", async (t) => {
  const q = queueName("retry");
  await h.http("POST", `/control/${q}`, { body: { backoff_base: 0, max_attempts: 2 } });
  const a = await push(q, { n: "A3" }, "?priority=3");
  await push(q, { n: "B0" });
  await push(q, { n: "C-3" }, "?priority=-3");
  const first = await h.http("GET", `/q/${q}?lease=30`);
  t.same(first.json, { n: "A3" });
  await push(q, { n: "D3" }, "?priority=3");
  const failed = await h.http("PUT", `/q/${q}/${a}`, { body: { error: "once" } });
  t.equal(failed.json.state, "delayed");
  const second = await h.http("GET", `/q/${q}?lease=30`);
  t.same(second.json, { n: "A3" }, "the retry comes before lower priorities (and, by id, before D3)");
  t.equal(second.headers.get("x-presque-attempt"), "2");
  t.equal((await h.http("PUT", `/q/${q}/${a}`, { body: { error: "twice" } })).json.state, "dead");
  t.equal((await h.http("POST", `/dead/${q}/${a}/retry`)).status, 200);
  t.match((await h.http("GET", `/q/${q}/${a}`)).json, { state: "ready", priority: 3 });
  t.same(await drain(q), ["A3", "D3", "B0", "C-3"]);
});

t.test("presque's PUT /q re-insert takes a priority too", async (t) => {
  const q = queueName("put");
  await push(q, { n: "x" });
  const r = await h.http("PUT", `/q/${q}?priority=4`, { body: { n: "again" } });
  t.equal(r.status, 201);
  t.same(await drain(q), ["again", "x"]);
});

t.test("bad priorities get 400", async (t) => {
  const q = queueName("bad");
  for (const p of ["1000001", "-1000001", "1.5", "x", "", "1e3", " 1"]) {
    const r = await h.http("POST", `/q/${q}?priority=${encodeURIComponent(p)}`, { body: {} });
    t.equal(r.status, 400, `priority=${JSON.stringify(p)}`);
    t.match(r.json, { error: /priority/ });
  }
  t.equal((await h.http("POST", `/qb/${q}?priority=x`, { body: { jobs: [{}] } })).status, 400);
  t.equal((await h.http("PUT", `/q/${q}?priority=x`, { body: {} })).status, 400);
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 0, "nothing was stored");
});
