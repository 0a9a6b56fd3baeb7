// Costs that stay bounded: idle queues cost nothing, big queues do not block Redis, and a full Redis
// can still be drained.
import t from "tap";
import { harness, type Harness, queueName, sleep } from "./helpers.js";

/** Calls of one Redis command so far (scripts' own calls included), from INFO commandstats. */
async function calls(h: Harness, command: string): Promise<number> {
  const info = await h.redis.info("commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

t.test("idle queues cost nothing: the sweeper visits only queues with due work", async (t) => {
  const h = await harness(t, {}, { sweepEveryMs: 50 });
  const queues = Array.from({ length: 2000 }, (_, i) => `idle-${i}`);
  for (let i = 0; i < queues.length; i += 100) {
    await Promise.all(queues.slice(i, i + 100).map((q) => h.http("POST", `/q/${q}`, { body: { i } })));
  }
  const busy = queueName("due");
  await h.http("POST", `/q/${busy}?delay=0.3`, { body: { late: true } });
  t.equal((await h.http("GET", "/status/")).json.size, 2001);

  await sleep(200);
  const before = await calls(h, "evalsha");
  await sleep(1000); // about 20 sweeper rounds
  const sweeps = (await calls(h, "evalsha")) - before;
  t.ok(sweeps <= 5, `${sweeps} script calls in 1 s of sweeping with 2001 queues (one has due work)`);
  t.match((await h.http("GET", `/j/${busy}`)).json, { job_count: 1, job_delayed: 0 }, "the due job was promoted without a pop");
  t.equal(await h.redis.zcard(`${h.config.redis.prefix}due`), 0, "and the due index is empty again");
});

t.test("an expired lease reaches a long poll that is already waiting, with no periodic sweep", async (t) => {
  const h = await harness(t, {}, { sweepEveryMs: 600_000 });
  const q = queueName("lease");
  const waiting = h.http("GET", `/q/${q}?wait=5&lease=30`);
  await sleep(100);
  // a job that arrives unannounced (the waiter sleeps on), taken by another consumer under a short lease
  const k = h.presque.context.store.keys(q);
  await h.redis.multi().hset(k.jobs, "1", '{"n":1}').rpush(k.wait, "1").exec();
  const taken = await h.http("GET", `/q/${q}?lease=0.3`);
  t.equal(taken.status, 200);
  const started = Date.now();
  const woken = await waiting;
  t.equal(woken.status, 200, "the waiter got the job back when the lease ran out");
  t.same(woken.json, { n: 1 });
  t.equal(woken.headers.get("x-presque-attempt"), "2");
  t.ok(Date.now() - started < 4000, "well before the waiter's own deadline");
});

t.test("cancelling a ready job leaves a tombstone that pops and peeks pass over", async (t) => {
  const h = await harness(t);
  const q = queueName("cancel");
  const ids = (await h.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: 6 }, (_, n) => ({ n })) } })).json.ids;
  // every live process reads tombstones once the registry says so; this harness is the only one
  for (let i = 0; i < 50 && !h.presque.context.store.tombstones; i++) await sleep(100);
  t.ok(h.presque.context.store.tombstones, "tombstones are on");
  const listLength = () => h.redis.llen(`${h.config.redis.prefix}{${q}}:wait`);
  for (const id of [ids[1], ids[2], ids[4]]) t.equal((await h.http("DELETE", `/q/${q}/${id}`)).status, 204);
  t.equal(await listLength(), 6, "the ids stay in the list: no walk through it");
  t.match((await h.http("GET", `/j/${q}`)).json, { job_count: 3 }, "but are not counted");
  t.same((await h.http("GET", `/status/${q}?with_desc=1`)).json, { queue: q, size: 3, jobs: [{ n: 0 }, { n: 3 }, { n: 5 }] });
  t.equal((await h.http("GET", `/q/${q}/${ids[2]}`)).status, 404, "a cancelled job is gone");
  t.equal((await h.http("DELETE", `/q/${q}/${ids[2]}`)).status, 404, "and cannot be cancelled twice");
  const got = await h.http("GET", `/qb/${q}?batch_size=2`);
  t.same(got.json, [{ n: 0 }, { n: 3 }], "a pop passes over tombstones");
  t.equal(got.headers.get("x-presque-jobids"), `${ids[0]},${ids[3]}`);
  t.same((await h.http("GET", `/qb/${q}?batch_size=5`)).json, [{ n: 5 }]);
  t.match((await h.http("GET", `/j/${q}`)).json, { job_count: 0, job_processed: 3 });
  t.equal(await listLength(), 0);
  t.equal(await h.redis.hget(`${h.config.redis.prefix}{${q}}:meta`, "ghosts"), "0", "every tombstone was passed over once");

  // while some live process does not read tombstones, cancel walks the list as before
  h.presque.context.store.tombstones = false;
  const more = (await h.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }, { a: 2 }] } })).json.ids;
  t.equal((await h.http("DELETE", `/q/${q}/${more[0]}`)).status, 204);
  t.equal(await listLength(), 1, "removed from the list");
});

t.test("purges free memory without blocking: UNLINK, and dead jobs in bounded steps", async (t) => {
  const h = await harness(t, { jobs: { max_attempts: 1 } });
  const q = queueName("purge");
  await h.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: 35 }, (_, n) => ({ n })) } });
  const taken = await h.http("GET", `/qb/${q}?batch_size=35&lease=30`);
  const attempts = taken.headers.get("x-presque-attempts")!.split(",");
  const jobs = taken.headers
    .get("x-presque-jobids")!
    .split(",")
    .map((id, i) => ({ id, attempt: Number(attempts[i]) }));
  await h.http("POST", `/qb/${q}/fail`, { body: { jobs } });
  t.match((await h.http("GET", `/j/${q}`)).json, { job_dead: 35 });
  t.equal(await h.presque.context.store.purgeDead(q, 10), 35, "four steps of at most 10");
  t.match((await h.http("GET", `/j/${q}`)).json, { job_dead: 0 });
  t.equal(await h.redis.hlen(`${h.config.redis.prefix}{${q}}:jobs`), 0);

  await h.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }] } });
  const [unlinks, dels] = [await calls(h, "unlink"), await calls(h, "del")];
  t.equal((await h.http("DELETE", `/q/${q}`)).status, 204);
  t.equal((await calls(h, "unlink")) - unlinks, 1, "a purge is one UNLINK");
  t.equal((await calls(h, "del")) - dels, 0, "and no DEL");
  const left = (await h.redis.keys(`${h.config.redis.prefix}{${q}}:*`)).filter((k) => !k.endsWith(":seq") && !k.endsWith(":counters"));
  t.same(left, [], "nothing left but the id sequence and the Prometheus counters");
});

t.test("a full Redis can be drained: fetch, ack, fail, cancel and purge work while pushes cannot", async (t) => {
  const h = await harness(t, { jobs: { max_attempts: 3 } });
  const q = queueName("full");
  await h.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: 20 }, (_, n) => ({ n, pad: "x".repeat(1000) })) } });
  await h.http("POST", `/q/${q}?delay=0.05`, { body: { due: true } }); // comes due while Redis is full
  const leased = await h.http("GET", `/qb/${q}?batch_size=4&lease=30`);
  const ids = leased.headers.get("x-presque-jobids")!.split(",");
  await h.redis.config("SET", "maxmemory-policy", "noeviction");
  const used = Number(/used_memory:(\d+)/.exec(await h.redis.info("memory"))![1]);
  await h.redis.config("SET", "maxmemory", String(used - 100_000));
  t.teardown(() => h.redis.config("SET", "maxmemory", "0"));
  await sleep(60);

  const refused = await h.http("POST", `/q/${q}`, { body: { more: 1 } });
  t.equal(refused.status, 503, "a push is refused while Redis is full");
  t.same(refused.json, { error: "redis is out of memory" });
  t.equal((await h.http("GET", `/q/${q}`)).status, 200, "a plain fetch (which promotes the due job first)");
  t.equal((await h.http("GET", `/q/${q}?lease=30`)).status, 200, "a leased fetch");
  t.equal((await h.http("DELETE", `/q/${q}/${ids[0]}`, { headers: { "x-presque-attempt": "1" } })).status, 204, "an ack");
  t.equal(
    (await h.http("PUT", `/q/${q}/${ids[1]}`, { headers: { "x-presque-attempt": "1" }, body: { error: "x" } })).status,
    200,
    "a failure",
  );
  t.equal(
    (await h.http("POST", `/qb/${q}/ack`, { body: { jobs: [{ id: ids[2], attempt: 1 }] } })).json.results[0].status,
    204,
    "a batch ack",
  );
  t.equal(
    (await h.http("POST", `/q/${q}/${ids[3]}/lease`, { headers: { "x-presque-attempt": "1" }, body: { seconds: 60 } })).status,
    200,
    "a lease extension",
  );
  t.equal((await h.http("DELETE", `/q/${q}/10`)).status, 204, "a cancellation");
  t.equal((await h.http("DELETE", `/dead/${q}`)).status, 200, "a dead-letter purge");
  t.equal((await h.http("DELETE", `/q/${q}`)).status, 204, "a purge");
});

t.test("a fetch of large jobs stops at about 4 MB a reply; grouped single fetches still all get one", async (t) => {
  const h = await harness(t);
  const q = queueName("big");
  const big = (n: number) => ({ n, pad: "x".repeat(900_000) });
  for (let n = 0; n < 12; n++) await h.http("POST", `/q/${q}`, { body: big(n) });
  const batch = await h.http("GET", `/qb/${q}?batch_size=12`);
  t.equal(batch.json.length, 4, "four 900 KB jobs: a fifth would pass 4 MB");
  t.same(
    batch.json.map((j: { n: number }) => j.n),
    [0, 1, 2, 3],
    "in order",
  );
  const singles = await Promise.all(Array.from({ length: 8 }, () => h.http("GET", `/q/${q}`)));
  t.same(
    singles.map((r) => r.status),
    Array(8).fill(200),
    "eight fetches arriving together: eight jobs, over two replies",
  );
  t.same(
    singles.map((r) => r.json.n).sort((x, y) => x - y),
    [4, 5, 6, 7, 8, 9, 10, 11],
  );
  t.match((await h.http("GET", `/j/${q}`)).json, { job_count: 0, job_processed: 12 });
});
