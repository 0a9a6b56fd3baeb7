// Recurring jobs (issue 20): PUT/GET/DELETE /schedules, their ticks, and their errors.
import t from "tap";
import { harness, queueName, sleep, until } from "./helpers.js";

// a fast sweeper, so that a 1 s schedule's ticks come on time in a short test
const h = await harness(t, {}, { sweepEveryMs: 100 });
const figures = async (q: string) => (await h.http("GET", `/j/${q}`)).json;

t.test("PUT creates a schedule (201), the same again changes nothing (200, same next run)", async (t) => {
  const q = queueName("sched");
  const put = await h.http("PUT", `/schedules/${q}/report`, { body: { cron: "*/5 * * * *", tz: "Europe/Paris", job: { kind: "report" } } });
  t.equal(put.status, 201);
  t.match(put.json, { queue: q, name: "report", cron: "*/5 * * * *", tz: "Europe/Paris", job: { kind: "report" }, outcome: "created" });
  t.ok(put.json.next_run_at > Date.now() / 1000 && put.json.next_run_at <= Date.now() / 1000 + 300, "within five minutes");
  t.equal(put.json.next_run_at % 300, 0, "on a multiple of five minutes");
  t.equal(put.json.last_run_at, null);
  const again = await h.http("PUT", `/schedules/${q}/report`, {
    body: { cron: "*/5 * * * *", tz: "Europe/Paris", job: { kind: "report" } },
  });
  t.equal(again.status, 200);
  t.equal(again.json.outcome, "unchanged");
  t.equal(again.json.next_run_at, put.json.next_run_at);
  const changed = await h.http("PUT", `/schedules/${q}/report`, { body: { every: 3600, job: { kind: "report" }, priority: 5 } });
  t.equal(changed.status, 200);
  t.match(changed.json, { outcome: "updated", every: 3600, priority: 5 });
  t.notOk("cron" in changed.json);

  const one = await h.http("GET", `/schedules/${q}/report`);
  t.equal(one.status, 200);
  t.match(one.json, { name: "report", every: 3600, next_run_at: changed.json.next_run_at });
  const list = await h.http("GET", `/schedules/${q}`);
  t.equal(list.status, 200);
  t.equal(list.json.schedules.length, 1);
  const all = await h.http("GET", "/schedules/");
  t.ok(all.json.schedules.some((s: { queue: string }) => s.queue === q));

  t.equal((await h.http("DELETE", `/schedules/${q}/report`)).status, 204);
  t.equal((await h.http("DELETE", `/schedules/${q}/report`)).status, 404);
  t.match((await h.http("GET", `/schedules/${q}/report`)).json, { error: "no such schedule" });
  t.same((await h.http("GET", `/schedules/${q}`)).json.schedules, []);
  t.notOk((await h.http("GET", "/schedules/")).json.schedules.some((s: { queue: string }) => s.queue === q));
});

t.test("an every-second schedule enqueues one job per tick, with its options", async (t) => {
  const q = queueName("tick");
  const put = await h.http("PUT", `/schedules/${q}/beat`, { body: { every: 1, job: { beat: true }, priority: 3, max_attempts: 2 } });
  t.equal(put.status, 201);
  await until("two ticks", async () => (await figures(q)).job_count >= 2, 10_000);
  const seen = await h.http("GET", `/schedules/${q}/beat`);
  t.ok(seen.json.last_run_at > 0);
  t.match(seen.json.last_job_id, /^\d+$/);
  const job = await h.http("GET", `/q/${q}/${seen.json.last_job_id}`);
  t.match(job.json, { priority: 3, max_attempts: 2, job: { beat: true } });
  t.equal((await h.http("DELETE", `/schedules/${q}/beat`)).status, 204);
  const after = (await figures(q)).job_count;
  // a tick's job is a push like any other for /metrics (lua/includes/metrics.lua)
  const scraped = (await h.http("GET", `/metrics?queue=${q}`)).text;
  t.match(scraped, new RegExp(`presque_jobs_pushed_total\\{queue="${q}"\\} ${after}\\b`), "counted as pushed");
  await sleep(1500);
  t.equal((await figures(q)).job_count, after, "no tick after the delete");
});

t.test("a tick missed while nobody ran gives one catch-up job, not one per tick", async (t) => {
  const q = queueName("catchup");
  t.equal((await h.http("PUT", `/schedules/${q}/s`, { body: { every: 1, job: {} } })).status, 201);
  // as if presque had been down for a minute: the next run a minute ago
  await h.redis.zadd(`presque:{${q}}:schedx`, Date.now() - 60_000, "s");
  await h.redis.zadd("presque:due", Date.now() - 60_000, q);
  await until("the catch-up job", async () => (await figures(q)).job_count >= 1, 5000);
  const next = (await h.http("GET", `/schedules/${q}/s`)).json.next_run_at;
  t.ok(next * 1000 > Date.now() - 1500, "the next run is after now, not a minute back");
  t.ok((await figures(q)).job_count <= 3, "one job for the missed minute (and at most the ticks since)");
  await h.http("DELETE", `/schedules/${q}/s`);
});

t.test("a full queue skips the tick", async (t) => {
  const q = queueName("full");
  await h.http("POST", `/control/${q}`, { body: { max_length: 1 } });
  await h.http("POST", `/q/${q}`, { body: {} });
  await h.http("PUT", `/schedules/${q}/s`, { body: { every: 1, job: {} } });
  await until("a tick", async () => (await h.http("GET", `/schedules/${q}/s`)).json.last_run_at !== null, 5000);
  t.equal((await h.http("GET", `/schedules/${q}/s`)).json.last_job_id, null);
  t.equal((await figures(q)).job_count, 1);
  await h.http("DELETE", `/schedules/${q}/s`);
});

t.test("bad schedules are 400 with a clear message", async (t) => {
  const q = queueName("bad");
  const cases: Array<[unknown, RegExp]> = [
    [{ cron: "not a cron", job: {} }, /cron "not a cron" is not a valid cron expression/],
    [{ cron: "61 * * * *", job: {} }, /not a valid cron expression/],
    [{ cron: "* * * * *", tz: "Mars/Olympus", job: {} }, /tz Mars\/Olympus is not a time zone/],
    [{ every: 0, job: {} }, /every must be a whole number of seconds from 1/],
    [{ every: 1.5, job: {} }, /every must be a whole number/],
    [{ every: "5", job: {} }, /every must be/],
    [{ every: 5, tz: "UTC", job: {} }, /tz applies to cron schedules only/],
    [{ cron: "* * * * *", every: 5, job: {} }, /give cron .* or every/],
    [{ job: {} }, /give cron .* or every/],
    [{ every: 5 }, /job must be a JSON object/],
    [{ every: 5, job: [1] }, /job must be a JSON object/],
    [{ every: 5, job: {}, priority: 1.5 }, /priority must be an integer/],
    [{ every: 5, job: {}, max_attempts: 0 }, /max_attempts must be an integer from 1 to 1000/],
    [{ every: 5, job: {}, color: "red" }, /unknown schedule key color/],
  ];
  for (const [body, message] of cases) {
    const r = await h.http("PUT", `/schedules/${q}/s`, { body });
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.json, { error: message });
  }
  t.equal((await h.http("PUT", `/schedules/${q}/s`, { raw: "nope", headers: { "content-type": "application/json" } })).status, 400);
  t.equal((await h.http("PUT", `/schedules/${q}/bad name`, { body: { every: 5, job: {} } })).status, 400);
  t.equal((await h.http("PUT", `/schedules/bad%20queue/s`, { body: { every: 5, job: {} } })).status, 400);
  t.equal((await h.http("GET", `/schedules/${q}/s`)).status, 404, "nothing was stored");
  t.equal((await h.http("POST", `/schedules/${q}/s`, { body: {} })).status, 405);
});

t.test("config.yaml's schedules: applied at start-up by every process, once, keeping an unchanged next run", async (t) => {
  const { startServer } = await import("../src/server/start.js");
  const { createLogger } = await import("../src/shared/log.js");
  const q = queueName("conf");
  const config = structuredClone(h.config);
  config.schedules = [
    { queue: q, name: "nightly", cron: "0 3 * * *", tz: "Europe/Paris", job: { kind: "nightly" } },
    { queue: q, name: "beat", every: 3600, job: { beat: 1 } },
  ];
  const log = createLogger("silent");
  const three = await Promise.all([1, 2, 3].map(() => startServer(structuredClone(config), log)));
  const listed = (await h.http("GET", `/schedules/${q}`)).json.schedules;
  t.same(
    listed.map((s: { name: string }) => s.name),
    ["beat", "nightly"],
  );
  const nightly = listed.find((s: { name: string }) => s.name === "nightly");
  // 03:00 in Paris is 01:00 or 02:00 UTC, by the season
  t.ok([1, 2].includes(new Date(nightly.next_run_at * 1000).getUTCHours()), "03:00 Paris time");
  await Promise.all(three.map((s) => s.close()));
  await sleep(20);
  const again = await startServer(structuredClone(config), log);
  const after = (await h.http("GET", `/schedules/${q}`)).json.schedules;
  t.same(
    after.map((s: { next_run_at: number }) => s.next_run_at),
    listed.map((s: { next_run_at: number }) => s.next_run_at),
    "a restart keeps the next runs",
  );
  await again.close();
  for (const s of listed) await h.http("DELETE", `/schedules/${q}/${s.name}`);
});

t.test("config.yaml: a bad schedule stops start-up with a message naming it", async (t) => {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const { readConfigFile } = await import("../src/server/config.js");
  const dir = mkdtempSync(join(tmpdir(), "presque-sched-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, "schedules:\n  - { queue: q, name: s, cron: '* * *', job: {} }\n");
  t.throws(() => readConfigFile(file), /schedules \[0\] \(q\/s\): cron "\* \* \*" is not a valid cron expression/);
  writeFileSync(file, "schedules:\n  - { queue: q, name: s, every: 5, job: {} }\n  - { queue: q, name: s, every: 6, job: {} }\n");
  t.throws(() => readConfigFile(file), /schedules \[1\] names q\/s a second time/);
  writeFileSync(file, "schedules:\n  - { queue: 'bad queue', name: s, every: 5, job: {} }\n");
  t.throws(() => readConfigFile(file), /schedules \[0\]\.queue must be a queue name/);
});

t.test("next runs: DST by the zone's rules (croner), every keeps its phase", async (t) => {
  const { nextRun } = await import("../src/store/schedules.js");
  const paris = { cron: "30 2 * * *", tz: "Europe/Paris", job: {} };
  // 28 March 2027: 02:30 does not exist in Paris; it runs at 03:30 CEST (01:30 UTC), once
  const spring = nextRun(paris, Date.parse("2027-03-27T12:00:00Z"));
  t.equal(new Date(spring).toISOString(), "2027-03-28T01:30:00.000Z");
  t.equal(new Date(nextRun(paris, spring)).toISOString(), "2027-03-29T00:30:00.000Z", "02:30 CEST the next day");
  // 31 October 2027: 02:30 comes twice; it runs once, at the second (02:30 CET, 01:30 UTC)
  const autumn = nextRun(paris, Date.parse("2027-10-30T12:00:00Z"));
  t.equal(new Date(autumn).toISOString(), "2027-10-31T01:30:00.000Z");
  t.equal(new Date(nextRun(paris, autumn)).toISOString(), "2027-11-01T01:30:00.000Z");
  t.equal(
    new Date(nextRun({ cron: "0 12 * * *", job: {} }, Date.parse("2027-03-28T00:00:00Z"))).toISOString(),
    "2027-03-28T12:00:00.000Z",
    "UTC by default",
  );
  const every = { every: 10, job: {} };
  t.equal(nextRun(every, 1000, 1000), 11_000, "from the run that came due");
  t.equal(nextRun(every, 35_500, 1000), 41_000, "late by three periods: the next on the same phase, after now");
});

t.test("during a rolling deploy, a schedule's due entry dropped by an older build's sweep is noted again", async (t) => {
  const q = queueName("remark");
  const put = await h.http("PUT", `/schedules/${q}/s`, { body: { every: 3600, job: {} } });
  // what an older build's sweepQueue (blind to schedules) does to the entry when it settles
  await h.redis.zrem("presque:due", q);
  await h.presque.context.store.remarkSchedules();
  t.equal(Number(await h.redis.zscore("presque:due", q)), put.json.next_run_at * 1000);
  await h.http("DELETE", `/schedules/${q}/s`);
});
