// Leases, acknowledgements, failures with backoff, dead letters and the sweep (issue 3).
import t from "tap";
import { harness, queueName, sleep } from "./helpers.js";

const h = await harness(t);
const nowS = () => Date.now() / 1000;

async function push(q: string, body: unknown = { n: 1 }, query = ""): Promise<string> {
  const r = await h.http("POST", `/q/${q}${query}`, { body });
  if (r.status !== 201) throw new Error(`push answered ${r.status} ${r.text}`);
  return r.json.id;
}

async function control(q: string, body: unknown) {
  const r = await h.http("POST", `/control/${q}`, { body });
  if (r.status !== 200) throw new Error(`control answered ${r.status} ${r.text}`);
}

const figures = async (q: string) => (await h.http("GET", `/j/${q}`)).json;
const view = (q: string, id: string) => h.http("GET", `/q/${q}/${id}`);
const lease = (q: string, seconds: number | string, extra = "") => h.http("GET", `/q/${q}?lease=${seconds}${extra}`);
const ack = (q: string, id: string, attempt?: number) =>
  h.http("DELETE", `/q/${q}/${id}`, attempt === undefined ? {} : { headers: { "x-presque-attempt": String(attempt) } });
const fail = (q: string, id: string, error?: string, attempt?: number) =>
  h.http("PUT", `/q/${q}/${id}${attempt === undefined ? "" : `?attempt=${attempt}`}`, error === undefined ? {} : { body: { error } });

t.test("GET /q?lease hands a job out with its id, attempt and deadline, and keeps it", async (t) => {
  const q = queueName("lease");
  const id = await push(q, { task: "a" });
  const before = nowS();
  const r = await lease(q, 30);
  t.equal(r.status, 200);
  t.same(r.json, { task: "a" });
  t.equal(r.headers.get("x-presque-jobid"), id);
  t.equal(r.headers.get("x-presque-attempt"), "1");
  const expires = Number(r.headers.get("x-presque-lease-expires"));
  t.ok(expires >= before + 29 && expires <= nowS() + 31, `lease expires about 30 s from now (${expires - before})`);

  const v = await view(q, id);
  t.equal(v.status, 200);
  t.equal(v.json.state, "leased");
  t.equal(v.json.attempts, 1);
  t.ok(Math.abs(v.json.lease_expires_at - expires) < 1, "the job view shows the same deadline");
  t.same(v.json.job, { task: "a" });
  t.match(await figures(q), { job_count: 0, job_leased: 1, job_processed: 0 }, "leased, not yet processed");

  t.equal((await lease(q, 30)).status, 404, "a leased job is not handed out twice");
  const acked = await ack(q, id, 1);
  t.equal(acked.status, 204);
  t.equal(acked.text, "");
  t.equal((await view(q, id)).status, 404, "an acked job is gone");
  t.match(await figures(q), { job_count: 0, job_leased: 0, job_processed: 1, job_failed: 0 });
  t.equal((await ack(q, id)).status, 404, "a second ack finds nothing");
  t.same(await h.redis.hlen(`presque:{${q}}:jobs`), 0, "nothing is left in Redis");
  t.same(await h.redis.hlen(`presque:{${q}}:attrs`), 0);
});

t.test("GET /qb?lease hands a batch out with ids, attempts and one deadline", async (t) => {
  const q = queueName("blease");
  const posted = await h.http("POST", `/qb/${q}`, { body: { jobs: [{ n: 1 }, { n: 2 }, { n: 3 }] } });
  const ids: string[] = posted.json.ids;
  const r = await h.http("GET", `/qb/${q}?lease=20&batch_size=2`);
  t.equal(r.status, 200);
  t.same(r.json, [{ n: 1 }, { n: 2 }]);
  t.equal(r.headers.get("x-presque-jobids"), ids.slice(0, 2).join(","));
  t.equal(r.headers.get("x-presque-attempts"), "1,1");
  t.ok(Math.abs(Number(r.headers.get("x-presque-lease-expires")) - (nowS() + 20)) < 2);
  t.match(await figures(q), { job_count: 1, job_leased: 2 });

  // without a lease: ids still, no attempts and no deadline
  const plain = await h.http("GET", `/qb/${q}?batch_size=5`);
  t.same(plain.json, [{ n: 3 }]);
  t.equal(plain.headers.get("x-presque-jobids"), ids[2]);
  t.equal(plain.headers.get("x-presque-attempts"), null);
  t.equal(plain.headers.get("x-presque-lease-expires"), null);

  for (const id of ids.slice(0, 2)) t.equal((await ack(q, id, 1)).status, 204);
  t.match(await figures(q), { job_count: 0, job_leased: 0, job_processed: 3 });
});

t.test("fractional leases carry their headers and their true deadline", async (t) => {
  const q = queueName("frac");
  await push(q, { n: 1 });
  await push(q, { n: 2 });
  const one = await lease(q, 0.5);
  t.equal(one.headers.get("x-presque-attempt"), "1", "a lease under a second is still a lease");
  const expires = Number(one.headers.get("x-presque-lease-expires"));
  t.ok(Math.abs(expires - (nowS() + 0.5)) < 0.3, `deadline ${(expires - nowS()).toFixed(3)} s away, not 0`);
  t.equal((await view(q, one.headers.get("x-presque-jobid")!)).json.state, "leased");
  const batch = await h.http("GET", `/qb/${q}?lease=1.5`);
  t.equal(batch.headers.get("x-presque-attempts"), "1");
  const batchExpires = Number(batch.headers.get("x-presque-lease-expires"));
  const stored = (await view(q, batch.headers.get("x-presque-jobids")!)).json.lease_expires_at;
  t.ok(Math.abs(batchExpires - stored) < 0.3, `header ${batchExpires} matches the stored deadline ${stored}`);
});

t.test("acks and failures count for the worker that reports them", async (t) => {
  const q = queueName("wstats");
  const worker = `w-${q}`;
  t.equal((await h.http("POST", `/w/${q}`, { headers: { "x-presque-workerid": worker } })).status, 201);
  await push(q);
  await push(q);
  const headers = { "x-presque-workerid": worker };
  const a = await h.http("GET", `/q/${q}?lease=30`, { headers });
  const b = await h.http("GET", `/q/${q}?lease=30`, { headers });
  t.equal((await h.http("DELETE", `/q/${q}/${a.headers.get("x-presque-jobid")}`, { headers })).status, 204);
  t.equal((await h.http("PUT", `/q/${q}/${b.headers.get("x-presque-jobid")}`, { headers, body: { error: "x" } })).status, 200);
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { processed: 1, failed: 1 });
  t.match(await figures(q), { job_processed: 1, job_failed: 1, job_delayed: 1 });
});

t.test("PUT reports a failure: backoff base * 2^(attempt-1), capped, kept error, growing attempts", async (t) => {
  const q = queueName("backoff");
  await control(q, { backoff_base: 1, backoff_cap: 3 });
  t.match((await h.http("GET", `/control/${q}`)).json, { queue: q, backoff_base: 1, backoff_cap: 3, lease: 0, max_attempts: 5 });
  const id = await push(q, { job: "flaky" });

  const expected = [1, 2, 3]; // 1, 2, then 4 capped at 3
  for (let attempt = 1; attempt <= 3; attempt++) {
    // a long poll picks the job up as soon as its backoff ends
    const r = await lease(q, 30, "&wait=5");
    t.equal(r.status, 200, `attempt ${attempt} handed out`);
    t.equal(r.headers.get("x-presque-jobid"), id);
    t.equal(r.headers.get("x-presque-attempt"), String(attempt));
    const before = Date.now();
    const f = await fail(q, id, `boom ${attempt}`, attempt);
    t.equal(f.status, 200);
    t.equal(f.json.id, id);
    t.equal(f.json.state, "delayed");
    const delay = f.json.due_at - before / 1000;
    t.ok(
      delay >= expected[attempt - 1] - 0.05 && delay <= expected[attempt - 1] + 0.5,
      `backoff ${delay.toFixed(3)} s ~ ${expected[attempt - 1]} s`,
    );

    const v = await view(q, id);
    t.match(v.json, { state: "delayed", attempts: attempt, last_error: `boom ${attempt}`, due_at: f.json.due_at });
    t.equal((await lease(q, 30)).status, 404, "not handed out during its backoff");
  }
  t.match(await figures(q), { job_failed: 3, job_delayed: 1, job_processed: 0 });
});

t.test("a failure without a body is recorded as 'failed'; JSON errors other than strings are kept as text", async (t) => {
  const q = queueName("errbody");
  await control(q, { backoff_base: 0 });
  await push(q);
  let r = await lease(q, 30);
  const id = r.headers.get("x-presque-jobid")!;
  t.equal((await fail(q, id)).status, 200);
  t.equal((await view(q, id)).json.last_error, "failed");
  r = await lease(q, 30);
  t.equal(r.headers.get("x-presque-attempt"), "2", "backoff 0 retries at once");
  const put = await h.http("PUT", `/q/${q}/${id}`, { body: { error: { code: 7 } } });
  t.equal(put.status, 200);
  t.equal((await view(q, id)).json.last_error, '{"code":7}');
  r = await lease(q, 30);
  await h.http("PUT", `/q/${q}/${id}`, { body: { error: "x".repeat(5000) } });
  t.equal((await view(q, id)).json.last_error, `${"x".repeat(4096)}…`, "long errors are cut at 4096 characters");
});

t.test("max_attempts: per job, per queue, global default; then the dead list", async (t) => {
  t.test("global default (5)", async (t) => {
    const q = queueName("maxg");
    await control(q, { backoff_base: 0 });
    const id = await push(q);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const r = await lease(q, 30);
      t.equal(r.headers.get("x-presque-attempt"), String(attempt));
      const f = await fail(q, id, `e${attempt}`, attempt);
      t.equal(f.json.state, attempt < 5 ? "delayed" : "dead");
    }
    const v = await view(q, id);
    t.match(v.json, { state: "dead", attempts: 5, last_error: "e5" });
    t.type(v.json.died_at, "number");
    t.equal((await lease(q, 30)).status, 404, "a dead job is not handed out");
    t.match(await figures(q), { job_count: 0, job_delayed: 0, job_leased: 0, job_dead: 1, job_failed: 5 });
  });

  t.test("per queue, overridden per job", async (t) => {
    const q = queueName("maxq");
    await control(q, { backoff_base: 0, max_attempts: 2 });
    t.equal((await h.http("GET", `/control/${q}`)).json.max_attempts, 2);
    const byQueue = await push(q, { n: "queue" });
    const byJob = await push(q, { n: "job" }, "?max_attempts=3");
    const attempts: Record<string, number> = {};
    for (;;) {
      const r = await lease(q, 30);
      if (r.status === 404) break;
      const id = r.headers.get("x-presque-jobid")!;
      attempts[id] = Number(r.headers.get("x-presque-attempt"));
      await fail(q, id, "no");
    }
    t.same(attempts, { [byQueue]: 2, [byJob]: 3 });
    t.match((await view(q, byJob)).json, { state: "dead", max_attempts: 3, attempts: 3 });
    t.notOk("max_attempts" in (await view(q, byQueue)).json, "a job without its own max_attempts shows none");
    t.equal((await h.http("POST", `/q/${q}?max_attempts=0`, { body: {} })).status, 400);
    t.equal((await h.http("POST", `/q/${q}?max_attempts=1001`, { body: {} })).status, 400);
    t.equal((await h.http("POST", `/control/${q}`, { body: { max_attempts: 0 } })).status, 400);
    // null restores the default
    await control(q, { max_attempts: null });
    t.equal((await h.http("GET", `/control/${q}`)).json.max_attempts, 5);
  });

  t.test("the global default comes from the config", async (t) => {
    const h2 = await harness(t, { jobs: { max_attempts: 1 } });
    const q = queueName("maxcfg");
    await h2.http("POST", `/q/${q}`, { body: {} });
    const r = await h2.http("GET", `/q/${q}?lease=30`);
    const f = await h2.http("PUT", `/q/${q}/${r.headers.get("x-presque-jobid")}`, { body: { error: "once" } });
    t.equal(f.json.state, "dead");
    t.equal((await h2.http("GET", `/control/${q}`)).json.max_attempts, 1);
  });
});

t.test("the dead list: paged listing, retry, purge", async (t) => {
  const q = queueName("dead");
  await control(q, { backoff_base: 0, max_attempts: 1 });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(await push(q, { i }, i === 1 ? "?priority=4" : ""));
  }
  // die in id order, so that the list's order (oldest death first) is known
  for (let i = 0; i < ids.length; i++) {
    const taken = (await lease(q, 30)).headers.get("x-presque-jobid")!;
    t.equal((await fail(q, taken, `bad ${taken}`)).json.state, "dead");
  }
  const all = await h.http("GET", `/dead/${q}`);
  t.equal(all.status, 200);
  t.match(all.json, { queue: q, total: 3, offset: 0, limit: 100 });
  t.equal(all.json.jobs.length, 3);
  const deadIds = all.json.jobs.map((j: { id: string }) => j.id);
  t.same([...deadIds].sort(), [...ids].sort());
  for (const j of all.json.jobs) {
    t.match(j, { queue: q, state: "dead", attempts: 1, last_error: `bad ${j.id}` });
    t.type(j.died_at, "number");
  }
  const page = await h.http("GET", `/dead/${q}?offset=1&limit=1`);
  t.match(page.json, { total: 3, offset: 1, limit: 1 });
  t.same(
    page.json.jobs.map((j: { id: string }) => j.id),
    [deadIds[1]],
  );
  t.equal((await h.http("GET", `/dead/${q}?limit=0`)).status, 400);
  t.equal((await h.http("GET", `/dead/${q}?offset=-1`)).status, 400);
  t.equal((await h.http("GET", `/dead/bad{name}`)).status, 400);

  // retry: ready again, attempts start over, the last error stays for the record
  const retried = await h.http("POST", `/dead/${q}/${ids[1]}/retry`);
  t.equal(retried.status, 200);
  t.same(retried.json, { id: ids[1], state: "ready" });
  t.match((await view(q, ids[1])).json, { state: "ready", attempts: 0, last_error: `bad ${ids[1]}`, priority: 4 });
  t.match(await figures(q), { job_count: 1, job_dead: 2 });
  t.equal((await h.http("POST", `/dead/${q}/${ids[1]}/retry`)).status, 404, "a job that is not dead cannot be retried");
  t.equal((await h.http("POST", `/dead/${q}/999/retry`)).status, 404);
  const again = await lease(q, 30);
  t.equal(again.headers.get("x-presque-jobid"), ids[1]);
  t.equal(again.headers.get("x-presque-attempt"), "1");
  t.equal((await ack(q, ids[1], 1)).status, 204);

  const purged = await h.http("DELETE", `/dead/${q}`);
  t.equal(purged.status, 200);
  t.same(purged.json, { queue: q, deleted: 2 });
  t.match((await h.http("GET", `/dead/${q}`)).json, { total: 0, jobs: [] });
  t.equal((await view(q, ids[0])).status, 404, "purged dead jobs are gone");
  t.same(await h.redis.hlen(`presque:{${q}}:jobs`), 0);
  t.same(await h.redis.hlen(`presque:{${q}}:attrs`), 0);
  t.same((await h.http("DELETE", `/dead/${q}`)).json, { queue: q, deleted: 0 });
  t.equal((await h.http("PUT", `/dead/${q}`)).status, 405);
});

t.test("POST /q/:queue/:id/lease extends a lease", async (t) => {
  const q = queueName("extend");
  const id = await push(q);
  const r = await lease(q, 1);
  const before = nowS();
  const ext = await h.http("POST", `/q/${q}/${id}/lease`, { body: { seconds: 5 }, headers: { "x-presque-attempt": "1" } });
  t.equal(ext.status, 200);
  t.equal(ext.json.id, id);
  t.ok(ext.json.lease_expires_at >= before + 4.9 && ext.json.lease_expires_at <= nowS() + 5.1);
  t.equal((await view(q, id)).json.lease_expires_at, ext.json.lease_expires_at);
  // without a Content-Type, like /control
  const loose = await h.http("POST", `/q/${q}/${id}/lease`, { raw: '{"seconds":6}' });
  t.equal(loose.status, 200);
  await sleep(1300); // past the first lease, and past a sweep
  const v = await view(q, id);
  t.equal(v.json.state, "leased", "still leased after the original second");
  t.equal((await lease(q, 30)).status, 404);
  t.equal(r.headers.get("x-presque-attempt"), "1");
  t.equal((await ack(q, id, 1)).status, 204);
  t.match(await figures(q), { job_failed: 0, job_processed: 1 });
});

t.test("extending: errors", async (t) => {
  const q = queueName("extenderr");
  const ready = await push(q);
  const id = await push(q);
  const path = `/q/${q}/${id}/lease`;
  await h.http("DELETE", `/q/${q}/${ready}`); // cancel it, so the next lease takes `id`
  t.equal((await lease(q, 30)).headers.get("x-presque-jobid"), id);
  t.equal((await h.http("POST", path, { body: {} })).status, 400, "seconds missing");
  t.equal((await h.http("POST", path, { body: { seconds: -1 } })).status, 400);
  t.equal((await h.http("POST", path, { body: { seconds: 43201 } })).status, 400, "over jobs.max_lease");
  t.equal((await h.http("POST", path, { body: { seconds: "x" } })).status, 400);
  t.equal((await h.http("POST", path, { raw: "{nope" })).status, 400);
  t.equal((await h.http("POST", path, { body: [5] })).status, 400);
  t.equal((await h.http("POST", path, { raw: "" })).status, 400);
  const wrong = await h.http("POST", `${path}?attempt=2`, { body: { seconds: 5 } });
  t.equal(wrong.status, 409, "another attempt's lease");
  t.type(wrong.json.error, "string");
  t.equal((await h.http("POST", `/q/${q}/999/lease`, { body: { seconds: 5 } })).status, 404);
  for (const seconds of [0, "", "0"]) {
    const zero = await h.http("POST", `/q/${q}/${id}/lease`, { body: { seconds }, headers: { "x-presque-attempt": "1" } });
    t.equal(zero.status, 400, `an extension by ${JSON.stringify(seconds)} seconds`);
    t.match(zero.json.error, /^seconds must be/);
  }
  const other = await push(q);
  t.equal((await h.http("POST", `/q/${q}/${other}/lease`, { body: { seconds: 5 } })).status, 409, "a job that is not leased");
  t.equal((await h.http("GET", path)).status, 405);
});

t.test("an expired lease makes the job ready again; a late ack then gets 409 and leaves the new lease alone", async (t) => {
  const q = queueName("expire");
  const id = await push(q, { job: "slow" });
  const first = await lease(q, 1);
  t.equal(first.headers.get("x-presque-attempt"), "1");
  await sleep(1100);
  const second = await lease(q, 30);
  t.equal(second.status, 200, "handed out again after the lease");
  t.equal(second.headers.get("x-presque-jobid"), id);
  t.equal(second.headers.get("x-presque-attempt"), "2");
  t.same(second.json, { job: "slow" });

  const late = await ack(q, id, 1);
  t.equal(late.status, 409, "the first worker's late ack");
  const stale = { error: "attempt 1 does not match: the job is on attempt 2" };
  t.same(late.json, stale, "names the attempt given and the current one");
  const lateFail = await fail(q, id, "late", 1);
  t.equal(lateFail.status, 409, "a late failure report too");
  t.same(lateFail.json, stale);
  const lateExtend = await h.http("POST", `/q/${q}/${id}/lease?attempt=1`, { body: { seconds: 60 } });
  t.equal(lateExtend.status, 409, "and a late extension");
  t.same(lateExtend.json, stale);
  const v = await view(q, id);
  t.match(v.json, { state: "leased", attempts: 2, last_error: "lease expired" });
  t.ok(v.json.lease_expires_at > nowS() + 25, "the second lease is untouched");
  t.match(await figures(q), { job_leased: 1, job_processed: 0, job_failed: 1 });

  t.equal((await h.http("DELETE", `/q/${q}/${id}?attempt=2`)).status, 204, "the holder acks (attempt as a query parameter)");
  t.match(await figures(q), { job_leased: 0, job_processed: 1 });
});

t.test("an expired lease goes back to the front of the queue, or to the dead list when attempts are used up", async (t) => {
  const q = queueName("front");
  const a = await push(q, { n: "a" }, "?max_attempts=1");
  const b = await push(q, { n: "b" });
  t.equal((await lease(q, 1)).headers.get("x-presque-jobid"), a);
  t.equal((await lease(q, 1)).headers.get("x-presque-jobid"), b);
  const c = await push(q, { n: "c" });
  await sleep(1100);
  const next = await lease(q, 30);
  t.equal(next.headers.get("x-presque-jobid"), b, "the expired job comes before a newer one");
  t.equal(next.headers.get("x-presque-attempt"), "2");
  t.equal((await lease(q, 30)).headers.get("x-presque-jobid"), c);
  t.match((await view(q, a)).json, { state: "dead", attempts: 1, last_error: "lease expired" });
  t.match(await figures(q), { job_dead: 1, job_leased: 2, job_failed: 2 });
});

t.test("GET /q/:queue/:id in each state, and 404s", async (t) => {
  const q = queueName("view");
  await control(q, { max_attempts: 1 });
  const ready = await push(q, { s: "ready" }, "?priority=3");
  const delayedAt = Math.floor(nowS()) + 100;
  const delayed = await push(q, { s: "delayed" }, `?delayed=${delayedAt}`);
  const leased = await push(q, { s: "leased" }, "?priority=2");
  const dead = await push(q, { s: "dead" }, "?priority=1");

  t.same((await view(q, ready)).json, { id: ready, queue: q, state: "ready", attempts: 0, priority: 3, job: { s: "ready" } });
  t.same((await view(q, delayed)).json, {
    id: delayed,
    queue: q,
    state: "delayed",
    attempts: 0,
    priority: 0,
    due_at: delayedAt,
    job: { s: "delayed" },
  });

  // take `ready` out of the way, lease `leased`, kill `dead`
  const l1 = await lease(q, 30);
  t.equal(l1.headers.get("x-presque-jobid"), ready, "a view does not move a job");
  await ack(q, ready);
  const l2 = await lease(q, 30);
  t.equal(l2.headers.get("x-presque-jobid"), leased);
  const l3 = await lease(q, 30);
  t.equal(l3.headers.get("x-presque-jobid"), dead);
  await fail(q, dead, "fatal");

  const lv = await view(q, leased);
  t.match(lv.json, { id: leased, queue: q, state: "leased", attempts: 1, priority: 2, job: { s: "leased" } });
  t.type(lv.json.lease_expires_at, "number");
  const dv = await view(q, dead);
  t.match(dv.json, { id: dead, state: "dead", attempts: 1, priority: 1, last_error: "fatal", job: { s: "dead" } });
  t.type(dv.json.died_at, "number");
  t.notOk("due_at" in dv.json || "lease_expires_at" in dv.json);

  for (const path of [`/q/${q}/999`, `/q/${q}/abc`, `/q/${q}/0`, `/q/${q}/-1`, `/q/${queueName("none")}/1`, `/q/${q}/${ready}`]) {
    const r = await h.http("GET", path);
    t.equal(r.status, 404, path);
    t.type(r.json?.error, "string");
  }
  t.equal((await h.http("GET", `/q/bad{q}/1`)).status, 400);
  t.equal((await h.http("POST", `/q/${q}/${leased}`)).status, 405);
});

t.test("DELETE on a job that is not leased cancels it, wherever it waits", async (t) => {
  const q = queueName("cancel");
  await control(q, { max_attempts: 1 });
  const ready = await push(q, { s: "ready" });
  const prio = await push(q, { s: "prio" }, "?priority=-5");
  const delayed = await push(q, { s: "delayed" }, "?delay=100");
  const toKill = await push(q, { s: "dead" }, "?priority=9");
  await lease(q, 30);
  await fail(q, toKill, "x");
  const uniq = await push(q, { s: "uniq" }, "?uniq=k1");
  t.match(await figures(q), { job_count: 3, job_prioritized: 1, job_delayed: 1, job_dead: 1 });

  for (const id of [ready, prio, delayed, toKill, uniq]) {
    const r = await h.http("DELETE", `/q/${q}/${id}`);
    t.equal(r.status, 204, `cancel ${id}`);
    t.equal((await view(q, id)).status, 404);
  }
  t.match(await figures(q), { job_count: 0, job_prioritized: 0, job_delayed: 0, job_dead: 0, job_leased: 0, job_processed: 0 });
  t.equal((await h.http("POST", `/q/${q}?uniq=k1`, { body: {} })).status, 201, "a cancelled job frees its uniq key");
  t.equal((await h.http("DELETE", `/q/${q}/999`)).status, 404);
  t.equal((await h.http("DELETE", `/q/${q}/${ready}`)).status, 404, "twice");
  // a cancellation with an attempt is a lease holder's ack: without any lease it conflicts
  const fresh = await push(q);
  t.equal((await ack(q, fresh, 1)).status, 409);
  t.equal((await view(q, fresh)).json.state, "ready");
  t.equal((await fail(q, fresh)).status, 409, "PUT on a job that is not leased");
  t.equal((await fail(q, "999")).status, 404, "PUT on an unknown job");
});

t.test("a leased job frees its uniq key", async (t) => {
  const q = queueName("uniq");
  await push(q, {}, "?uniq=only");
  t.equal((await h.http("POST", `/q/${q}?uniq=only`, { body: {} })).status, 400);
  await lease(q, 30);
  t.equal((await h.http("POST", `/q/${q}?uniq=only`, { body: {} })).status, 201);
});

t.test("a queue's default lease: plain GETs lease, ?lease=0 deletes, {lease: 0} restores delete-on-fetch", async (t) => {
  const q = queueName("deflease");
  await control(q, { lease: 30 });
  t.equal((await h.http("GET", `/control/${q}`)).json.lease, 30);
  const a = await push(q, { n: "a" });
  const r = await h.http("GET", `/q/${q}`);
  t.equal(r.status, 200);
  t.equal(r.headers.get("x-presque-jobid"), a);
  t.equal(r.headers.get("x-presque-attempt"), "1");
  t.ok(Math.abs(Number(r.headers.get("x-presque-lease-expires")) - (nowS() + 30)) < 2);
  t.equal((await view(q, a)).json.state, "leased");

  const b = await push(q, { n: "b" });
  const plain = await h.http("GET", `/q/${q}?lease=0`);
  t.equal(plain.headers.get("x-presque-jobid"), b);
  t.equal(plain.headers.get("x-presque-attempt"), null, "?lease=0 deletes on fetch");
  t.equal((await view(q, b)).status, 404);

  const c = await push(q, { n: "c" });
  const short = await h.http("GET", `/q/${q}?lease=5`);
  t.ok(Math.abs(Number(short.headers.get("x-presque-lease-expires")) - (nowS() + 5)) < 2, "?lease= overrides the default");
  await ack(q, c);

  await push(q);
  await push(q);
  const batch = await h.http("GET", `/qb/${q}`);
  t.equal(batch.headers.get("x-presque-attempts"), "1,1", "batches lease too");
  t.match(await figures(q), { job_leased: 3, job_processed: 2 });

  await control(q, { lease: 0 });
  t.equal((await h.http("GET", `/control/${q}`)).json.lease, 0);
  const d = await push(q);
  const deleted = await h.http("GET", `/q/${q}`);
  t.equal(deleted.headers.get("x-presque-attempt"), null);
  t.equal((await view(q, d)).status, 404);

  await control(q, { lease: 10 });
  await control(q, { lease: null });
  t.equal((await h.http("GET", `/control/${q}`)).json.lease, 0, "null restores the default");
});

t.test("bad values get 400", async (t) => {
  const q = queueName("bad");
  const id = await push(q);
  for (const v of ["-1", "43201", "abc", "1e3", "", "0x10"]) {
    const r = await h.http("GET", `/q/${q}?lease=${v}`);
    t.equal(r.status, 400, `lease=${v}`);
    t.match(r.json, { error: /lease/ });
  }
  await push(q);
  t.equal((await h.http("GET", `/qb/${q}?lease=-1`)).status, 400);
  t.equal((await h.http("GET", `/q/${q}?lease=1&lease=2`)).status, 400);
  const held = (await lease(q, 30)).headers.get("x-presque-jobid")!;
  t.equal(held, id);
  for (const attempt of ["x", "0", "-1", "1.5", "9999999"]) {
    t.equal((await h.http("DELETE", `/q/${q}/${held}`, { headers: { "x-presque-attempt": attempt } })).status, 400, `attempt ${attempt}`);
    t.equal((await h.http("PUT", `/q/${q}/${held}?attempt=${attempt}`)).status, 400, `?attempt=${attempt}`);
  }
  t.equal((await h.http("PUT", `/q/${q}/${held}`, { raw: "{nope", headers: { "content-type": "application/json" } })).status, 400);
  t.equal((await h.http("PUT", `/q/${q}/${held}`, { body: ["boom"] })).status, 400);
  for (const body of [{ lease: -1 }, { lease: 43201 }, { lease: 1.5 }, { backoff_base: -1 }, { backoff_cap: "x" }, { leases: 3 }, {}]) {
    t.equal((await h.http("POST", `/control/${q}`, { body })).status, 400, JSON.stringify(body));
  }
  t.match((await view(q, held)).json, { state: "leased", attempts: 1 }, "nothing moved");
});

t.test("the sweep promotes expired leases and due delayed jobs without any pop", async (t) => {
  const q = queueName("sweep");
  await push(q, { n: "later" }, "?delay=1");
  const id = await push(q, { n: "leased" });
  await lease(q, 1);
  t.match(await figures(q), { job_count: 0, job_delayed: 1, job_leased: 1, job_failed: 0 });
  const stats = (await h.http("GET", "/stats/")).json.queues.find((x: { queue_name: string }) => x.queue_name === q);
  t.match(stats, { job_leased: 1, job_delayed: 1, job_dead: 0 }, "/stats/ shows the same figures");
  await sleep(2100);
  t.match(await figures(q), { job_count: 2, job_delayed: 0, job_leased: 0, job_failed: 1 }, "promoted by the sweep alone");
  t.match((await view(q, id)).json, { state: "ready", attempts: 1, last_error: "lease expired" });

  // the lease ran out but nobody took the job since: the first worker's late ack is still taken
  t.equal((await ack(q, id, 1)).status, 204);
  t.equal((await view(q, id)).status, 404);
  t.match(await figures(q), { job_count: 1, job_processed: 1 });
});

t.test("an attempt named for a job that was never leased: 409, the job is not leased", async (t) => {
  const q = queueName("never");
  const id = (await h.http("POST", `/q/${q}`, { body: { a: 1 } })).json.id;
  for (const [method, path, body] of [
    ["DELETE", `/q/${q}/${id}`, undefined],
    ["PUT", `/q/${q}/${id}`, { error: "x" }],
    ["POST", `/q/${q}/${id}/lease`, { seconds: 5 }],
  ] as const) {
    const r = await h.http(method, path, { body, headers: { "x-presque-attempt": "1" } });
    t.equal(r.status, 409, `${method} ${path}`);
    t.same(r.json, { error: "the job is not leased" });
  }
  t.equal((await h.http("GET", `/q/${q}/${id}`)).json.state, "ready", "the job is untouched");
});
