// presque and its Redis: a Redis that goes silent, and the queue list after a crash.
import t from "tap";
import { harness, queueName } from "./helpers.js";

t.test("a Redis that stops answering: 503 within the command timeout, then recovery", async (t) => {
  const h = await harness(t, { redis: { command_timeout: 500, push_timeout: 1000 } as never });
  const q = queueName("silent");
  t.equal((await h.http("POST", `/q/${q}`, { body: { before: 1 } })).status, 201);
  const info = h.redisServer.getInstanceInfo();
  const pid = info ? info.instance.getPid() : undefined;
  t.ok(pid, "the redis-server's pid");
  process.kill(pid!, "SIGSTOP");
  let resumed = false;
  t.teardown(() => {
    if (!resumed) process.kill(pid!, "SIGCONT");
  });

  const started = Date.now();
  const answer = await h.http("POST", `/q/${q}`, { body: { during: 1 } });
  const took = Date.now() - started;
  t.equal(answer.status, 503, "the request fails instead of hanging");
  t.same(answer.json, { error: "redis did not confirm the push in time: the job may have been stored" }, "and says the push is in doubt");
  t.ok(took < 5000, `answered in ${took} ms (push timeout 1000 ms)`);
  // while the connection is down, requests fail at once
  t.equal((await h.http("GET", `/q/${q}`)).status, 503);

  process.kill(pid!, "SIGCONT");
  resumed = true;
  const deadline = Date.now() + 10_000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await h.http("GET", `/j/${q}`)).status;
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(status, 200, "presque recovers by itself");
  const got = await h.http("GET", `/q/${q}`);
  t.same(got.json, { before: 1 }, "the job acknowledged before the stall is still there");
  t.same((await h.http("GET", `/q/${q}`)).json, { during: 1 }, "and the push in doubt was in fact stored");
});

t.test("a push whose reply comes late is answered 201, a pop 503 with its job kept", async (t) => {
  const h = await harness(t, { redis: { command_timeout: 200, push_timeout: 5000 } as never });
  const q = queueName("late");
  t.equal((await h.http("POST", `/q/${q}`, { body: { before: 1 } })).status, 201);
  const info = h.redisServer.getInstanceInfo();
  const pid = info ? info.instance.getPid()! : 0;
  t.ok(pid, "the redis-server's pid");
  process.kill(pid, "SIGSTOP");
  const resume = setTimeout(() => process.kill(pid, "SIGCONT"), 800);
  t.teardown(() => {
    clearTimeout(resume);
    process.kill(pid, "SIGCONT");
  });
  const [pushed, popped] = await Promise.all([h.http("POST", `/q/${q}`, { body: { late: 1 } }), h.http("GET", `/q/${q}`)]);
  t.equal(pushed.status, 201, "the push waited for its late reply");
  t.match(pushed.json, { id: "2" });
  t.equal(popped.status, 503, "the pop gave up at the command timeout");
  const left = await h.http("GET", `/qb/${q}?batch_size=10`);
  t.same(left.json, [{ before: 1 }, { late: 1 }], "and handed nothing out: both jobs are there");
});

t.test("a queue whose listing a crash cut short is listed again at start-up", async (t) => {
  const h = await harness(t);
  const q = queueName("relist");
  t.equal((await h.http("POST", `/q/${q}`, { body: { a: 1 } })).status, 201);
  // what a crash between the push and the SADD that follows it leaves behind
  await h.redis.srem(`${h.config.redis.prefix}queues`, q);
  await h.redis.zrem(`${h.config.redis.prefix}queuenames`, q); // the sorted list too (layout 3)
  t.notOk((await h.http("GET", "/status/")).json.queues.includes(q));
  t.equal(await h.presque.context.store.lists.relistQueues(), 1, "one queue relisted");
  t.ok((await h.http("GET", "/status/")).json.queues.includes(q), "listed again");
  t.equal(await h.presque.context.store.lists.relistQueues(), 0, "idempotent");
});

t.test("single jobs arriving together share script calls and keep their own answers", async (t) => {
  const h = await harness(t);
  const q = queueName("coalesce");
  const before = await evalCalls(h.redis);
  const posted = await Promise.all(Array.from({ length: 200 }, (_, n) => h.http("POST", `/q/${q}`, { body: { n } })));
  t.ok(
    posted.every((r) => r.status === 201),
    "all stored",
  );
  const ids = posted.map((r) => r.json.id);
  t.equal(new Set(ids).size, 200, "each request its own id");
  const uniq = await Promise.all([1, 2].map(() => h.http("POST", `/q/${q}?uniq=same`, { body: { u: 1 } })));
  t.same(uniq.map((r) => r.status).sort(), [201, 400], "a uniq job is refused alone, not with its neighbours");
  const got = await Promise.all(Array.from({ length: 205 }, () => h.http("GET", `/q/${q}`)));
  const delivered = got.filter((r) => r.status === 200).map((r) => r.headers.get("x-presque-jobid"));
  t.equal(delivered.length, 201, "every job handed out once");
  t.equal(new Set(delivered).size, 201, "no job twice");
  t.equal(got.filter((r) => r.status === 404).length, 4, "the rest find no job");
  t.ok((await evalCalls(h.redis)) - before < 405, "fewer script calls than requests");
});

async function evalCalls(redis: import("ioredis").Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  let calls = 0;
  for (const m of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(m[1]);
  return calls;
}
