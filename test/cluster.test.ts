// presque on a real Redis Cluster (3 masters, 3 replicas; test/support/cluster.ts): sharded
// long-poll wake-ups, and a master SIGKILLed under load while its replica takes over, with and
// without redis.wait_replicas. Every figure is reported; 500s must be 0 and, with
// wait_replicas, no job answered 201 may be lost. One cluster for the file (two failovers:
// each kills a different master that still has its replica). And wait_replicas on one Redis.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import { Redis } from "ioredis";
import t, { type Test } from "tap";
import { createLogger } from "../src/shared/log.js";
import { startServer, type RunningServer } from "../src/server/start.js";
import { masters, nodeKey, type RedisClient } from "../src/store/topology.js";
import { type DeepPartial, queueName, redisUrl, sleep, startRedis, testConfig } from "./helpers.js";
import type { Config } from "../src/server/config.js";
import { startCluster, type TestCluster } from "./support/cluster.js";

let shared: Promise<TestCluster> | undefined;
function cluster(): Promise<TestCluster> {
  if (!shared) {
    shared = startCluster();
    const started = shared;
    t.teardown(async () => (await started.catch(() => undefined))?.stop());
  }
  return shared;
}

async function presqueOn(t: Test, c: TestCluster, overrides: DeepPartial<Config> = {}): Promise<RunningServer> {
  const config = testConfig("", overrides);
  delete config.redis.url;
  config.redis.cluster = c.urls;
  const presque = await startServer(config, createLogger(config.log.level), { sweepEveryMs: 200 });
  t.teardown(() => presque.close());
  return presque;
}

/** A request that gives up after 15 s rather than hanging a test. */
async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text };
}

/** A queue name whose slot a master serves that is one of `ports` (a master with a replica). */
async function queueServedBy(c: TestCluster, ports: number[]): Promise<string> {
  const owners = await c.slotOwners();
  for (;;) {
    const q = queueName("failover");
    if (ports.includes(owners(calculateSlot(q)))) return q;
  }
}

t.test("long polls on a cluster: a sharded subscription on the queue's shard, and a lost message only delays", async (t) => {
  const c = await cluster();
  const presque = await presqueOn(t, c);
  const q = queueName("sharded");
  const keys = presque.context.store.keys(q);
  // a long wait: a waiter that misses the message gets its job only at the end (its last pop)
  const waiting = call(presque.url, "GET", `/q/${q}?wait=30`);
  const redis = presque.context.store.redis;
  const owner = (await c.slotOwners())(calculateSlot(q));
  const shard = masters(redis).find((n) => nodeKey(n) === `127.0.0.1:${owner}`)!;
  let subscribers = 0;
  for (let until = Date.now() + 5000; subscribers === 0 && Date.now() < until; await sleep(50)) {
    subscribers = Number(((await shard.call("PUBSUB", "SHARDNUMSUB", keys.notify)) as [string, number])[1]);
  }
  t.equal(subscribers, 1, "one sharded subscriber, on the master of the queue's slot");

  // (the subscription shows on the server before the waiter's first pop: let that pop find nothing)
  await sleep(300);
  // a push whose message is lost: the long-poll subscriber's listeners are off while it is made
  const sub = (presque.context.longPoll as unknown as { sub: RedisClient }).sub;
  const listeners = sub.listeners("smessage") as Array<(...args: unknown[]) => void>;
  for (const l of listeners) sub.off("smessage", l);
  const pushedAt = Date.now();
  const pushed = await call(presque.url, "POST", `/q/${q}`, { silent: true });
  await sleep(300); // its message has come and gone
  for (const l of listeners) sub.on("smessage", l);
  const id = JSON.parse(pushed.text).id;
  const got = await waiting;
  const tookMs = Date.now() - pushedAt;
  t.equal(got.status, 200);
  // a generous bound where the bound is the point: the re-check runs every second
  t.ok(tookMs < 15_000, `the waiter found the job without a message (the re-check) in ${tookMs} ms, long before its 30 s were up`);
  t.equal(got.headers.get("x-presque-jobid"), id);

  // and a normal push wakes a waiter by its message
  const second = call(presque.url, "GET", `/q/${q}?wait=8`);
  await sleep(100);
  t.equal((await call(presque.url, "POST", `/q/${q}`, { loud: true })).status, 201);
  t.same(JSON.parse((await second).text), { loud: true });

  const stats = JSON.parse((await call(presque.url, "GET", "/stats/")).text);
  t.equal(stats.redis.nodes.length, 6, "/stats/ lists the six nodes");
});

/** Producers and leasing consumers on one queue, keeping the books by payload number (job ids
 *  are not enough: a failover can lose the id counter's last increments, so an id may repeat). */
class Load {
  readonly pushed = new Set<number>();
  readonly delivered = new Map<number, number>();
  readonly acked = new Set<number>();
  readonly statuses = new Map<string, number>();
  private producing = true;
  private consuming = true;
  private readonly running: Promise<void>[] = [];
  private seq = 0;

  constructor(
    readonly base: string,
    readonly queue: string,
  ) {}

  start(producers: number, consumers: number): void {
    for (let i = 0; i < producers; i++) this.running.push(this.produce());
    for (let i = 0; i < consumers; i++) this.running.push(this.consume());
  }

  count(what: string): void {
    this.statuses.set(what, (this.statuses.get(what) ?? 0) + 1);
  }

  countOf(status: number): number {
    let n = 0;
    for (const [what, count] of this.statuses) if (what.endsWith(` ${status}`)) n += count;
    return n;
  }

  stopProducing(): void {
    this.producing = false;
  }

  async stop(): Promise<void> {
    this.producing = false;
    this.consuming = false;
    await Promise.all(this.running);
  }

  private async produce(): Promise<void> {
    while (this.producing) {
      const n = this.seq++;
      try {
        const r = await call(this.base, "POST", `/q/${this.queue}`, { n });
        this.count(`POST ${r.status}`);
        if (r.status === 201) this.pushed.add(n);
        else await sleep(50);
      } catch {
        this.count("POST error");
        await sleep(50);
      }
      await sleep(10);
    }
  }

  private async consume(): Promise<void> {
    while (this.consuming) {
      let r;
      try {
        r = await call(this.base, "GET", `/q/${this.queue}?lease=2&wait=0.5`);
      } catch {
        this.count("GET error");
        await sleep(50);
        continue;
      }
      this.count(`GET ${r.status}`);
      if (r.status !== 200) {
        if (r.status !== 404) await sleep(50);
        continue;
      }
      const n = JSON.parse(r.text).n as number;
      this.delivered.set(n, (this.delivered.get(n) ?? 0) + 1);
      const id = r.headers.get("x-presque-jobid")!;
      const attempt = r.headers.get("x-presque-attempt")!;
      for (let tries = 0; tries < 20; tries++) {
        try {
          const ack = await call(this.base, "DELETE", `/q/${this.queue}/${id}`, undefined, { "x-presque-attempt": attempt });
          this.count(`DELETE ${ack.status}`);
          if (ack.status === 204) this.acked.add(n);
          if (ack.status !== 503) break;
        } catch {
          this.count("DELETE error");
        }
        await sleep(100);
      }
    }
  }

  report() {
    const lost = [...this.pushed].filter((n) => !this.delivered.has(n));
    return {
      answered_201: this.pushed.size,
      delivered: this.delivered.size,
      acked: this.acked.size,
      lost: lost.length,
      duplicated: [...this.delivered.values()].filter((k) => k > 1).length,
      answered_503: this.countOf(503),
      answered_500: this.countOf(500),
      statuses: Object.fromEntries([...this.statuses].sort()),
      lostSample: lost.slice(0, 10),
    };
  }
}

async function failoverUnderLoad(t: Test, waitReplicas: number) {
  const c = await cluster();
  const presque = await presqueOn(t, c, { redis: { wait_replicas: waitReplicas, command_timeout: 2000 } as never });
  // a master that still has a replica: the other failover test may have taken one already
  const withReplica = await c.mastersWithReplicas();
  const q = await queueServedBy(c, withReplica);
  const load = new Load(presque.url, q);
  load.start(4, 4);
  await sleep(1500);
  const killedAt = Date.now();
  const { killed, promoted } = await c.killMasterOf(calculateSlot(q));
  t.comment(`master ${killed} killed; replica ${promoted} serves the queue after ${Date.now() - killedAt} ms`);
  await sleep(1500);
  load.stopProducing();
  // drain: every job is handed out (leases of 2 s expire and come back) until the queue is empty
  const figures = async () => JSON.parse((await call(presque.url, "GET", `/j/${q}`)).text);
  for (let until = Date.now() + 30_000; Date.now() < until; await sleep(200)) {
    const f = await figures().catch(() => null);
    if (f && f.job_count + f.job_delayed + f.job_leased === 0) break;
  }
  await load.stop();
  const report = load.report();
  t.comment(`wait_replicas ${waitReplicas}: ${JSON.stringify(report)}`);
  t.equal(report.answered_500, 0, "no 500 during the failover");
  t.ok(report.answered_201 > 0 && report.delivered > 0, "jobs went in and out");
  t.ok(report.answered_503 >= 0);
  // the service works on the new master; it has no replica left, so with wait_replicas a push is
  // stored but refused with a 503 that says so
  const after = await call(presque.url, "POST", `/q/${q}`, { after: true });
  if (waitReplicas === 0) t.equal(after.status, 201, "pushes work after the failover");
  else {
    t.equal(after.status, 503, "the new master has no replica to confirm a push");
    t.same(JSON.parse(after.text), { error: "the job is stored, but only 0 of 1 replicas confirmed it" });
  }
  // (a job whose push answered 503 may still come first: look a few jobs ahead)
  let fetched: unknown;
  for (let i = 0; i < 20 && !(fetched as { after?: boolean } | undefined)?.after; i++) {
    const r = await call(presque.url, "GET", `/q/${q}`);
    if (r.status !== 200) break;
    fetched = JSON.parse(r.text);
  }
  t.same(fetched, { after: true }, "and fetches");
  return report;
}

t.test("a master SIGKILLed under load, replies asynchronous (wait_replicas 0): no 500, figures reported", async (t) => {
  const report = await failoverUnderLoad(t, 0);
  // lost jobs are possible here (the replication window); the README states it. Report only.
  t.ok(report.lost <= report.answered_201, `${report.lost} jobs answered 201 were lost in the window`);
});

t.test("a master SIGKILLed under load with wait_replicas 1: no job answered 201 is lost", async (t) => {
  const report = await failoverUnderLoad(t, 1);
  t.equal(report.lost, 0, "every job answered 201 was delivered", { lost: report.lostSample });
});

t.test("wait_replicas on a single Redis: 201 once its replica has the push, 503 (stored) without one", async (t) => {
  // a replica writes the RDB of its full sync into its dir: a temporary one, not the checkout
  const dir = mkdtempSync(join(tmpdir(), "presque-replica-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const primary = await startRedis(["--dir", dir, "--dbfilename", "primary.rdb"]);
  const port = await primary.getPort();
  const replica = await startRedis(["--replicaof", "127.0.0.1", String(port), "--dir", dir, "--dbfilename", "replica.rdb"]);
  const probe = new Redis(await redisUrl(replica));
  probe.on("error", () => {}); // the replica is stopped below
  t.teardown(async () => {
    probe.disconnect();
    await replica.stop();
    await primary.stop();
  });
  for (let until = Date.now() + 10_000; !/master_link_status:up/.test(await probe.info("replication")) && Date.now() < until;)
    await sleep(50);
  const config = testConfig(await redisUrl(primary), { redis: { wait_replicas: 1, command_timeout: 1000 } as never });
  const presque = await startServer(config, createLogger(config.log.level));
  t.teardown(() => presque.close());
  const q = queueName("wait");
  const pushed = await call(presque.url, "POST", `/q/${q}`, { replicated: true });
  t.equal(pushed.status, 201, "the replica confirmed");
  t.equal(await probe.hlen(presque.context.store.keys(q).jobs), 1, "and has the job when the 201 comes");

  await replica.stop();
  const refused = await call(presque.url, "POST", `/q/${q}`, { alone: true });
  t.equal(refused.status, 503, "no replica to confirm");
  t.same(JSON.parse(refused.text), { error: "the job is stored, but only 0 of 1 replicas confirmed it" });
  t.equal(refused.headers.get("retry-after"), "1");
  const batch = await call(presque.url, "POST", `/qb/${q}`, { jobs: [{ b: 1 }] });
  t.equal(batch.status, 503, "batches wait too");
  const taken = await call(presque.url, "GET", `/qb/${q}?batch_size=10`);
  t.same(JSON.parse(taken.text), [{ replicated: true }, { alone: true }, { b: 1 }], "the refused pushes were stored, as the 503 says");
});
