// Fault tests (issue 3): real processes on loopback, each scenario bounded well under a minute.
// A killed worker, a killed presque, a Redis restarted under load, and many unreliable workers.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import t, { type Test } from "tap";
import { createLogger } from "../src/shared/log.js";
import { startServer } from "../src/server/start.js";
import { freePort, harness, queueName, redisUrl, sleep, startRedis, testConfig, until } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WORKER = join(ROOT, "test", "fixtures", "worker.mjs");

function exited(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", resolve));
}

/** Producers and leasing consumers hammering one queue, keeping the books of what happened. */
class Load {
  /** ids answered 201 */
  readonly pushed = new Set<string>();
  readonly pushedAt: number[] = [];
  /** deliveries per job id */
  readonly delivered = new Map<string, number>();
  /** 204 acks per job id */
  readonly acked = new Map<string, number>();
  /** ack answered 404 after an earlier try got no answer: that try was done (or the job's next holder acked it) */
  readonly presumed = new Set<string>();
  readonly statuses = new Map<string, number>();
  private producing = true;
  private consuming = true;
  private readonly running: Promise<void>[] = [];
  private seq = 0;

  constructor(
    readonly base: string,
    readonly queue: string,
    readonly lease: number,
    /** how long a consumer works on a job before it acks, so that a fault finds jobs in hand */
    readonly workMs = 0,
  ) {}

  start(producers: number, consumers: number): void {
    for (let i = 0; i < producers; i++) this.running.push(this.produce(i));
    for (let i = 0; i < consumers; i++) this.running.push(this.consume());
  }

  stopProducing(): void {
    this.producing = false;
  }

  async stop(): Promise<void> {
    this.producing = false;
    this.consuming = false;
    await Promise.all(this.running);
  }

  count(key: string): void {
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }

  private async produce(p: number): Promise<void> {
    while (this.producing) {
      try {
        const r = await fetch(`${this.base}/q/${this.queue}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ p, n: this.seq++ }),
        });
        this.count(`POST ${r.status}`);
        const text = await r.text();
        if (r.status === 201) {
          this.pushed.add(JSON.parse(text).id);
          this.pushedAt.push(Date.now());
        } else await sleep(25);
      } catch {
        this.count("POST error");
        await sleep(25);
      }
      await sleep(20); // a little slower than the consumers, so that the queue stays short
    }
  }

  private async consume(): Promise<void> {
    while (this.consuming) {
      let r: Response;
      try {
        r = await fetch(`${this.base}/q/${this.queue}?lease=${this.lease}&wait=0.5`);
      } catch {
        this.count("GET error");
        await sleep(25);
        continue;
      }
      this.count(`GET ${r.status}`);
      await r.arrayBuffer().catch(() => undefined);
      if (r.status !== 200) {
        if (r.status !== 404) await sleep(25);
        continue;
      }
      const id = r.headers.get("x-presque-jobid")!;
      this.delivered.set(id, (this.delivered.get(id) ?? 0) + 1);
      if (this.workMs) await sleep(this.workMs);
      await this.ack(id, r.headers.get("x-presque-attempt")!);
    }
  }

  private async ack(id: string, attempt: string): Promise<void> {
    let uncertain = false;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      try {
        const r = await fetch(`${this.base}/q/${this.queue}/${id}`, { method: "DELETE", headers: { "x-presque-attempt": attempt } });
        await r.text();
        this.count(`DELETE ${r.status}`);
        if (r.status === 204) this.acked.set(id, (this.acked.get(id) ?? 0) + 1);
        if (r.status === 404 && uncertain) this.presumed.add(id);
        if (r.status !== 503) return;
      } catch {
        this.count("DELETE error");
      }
      uncertain = true;
      await sleep(50);
    }
  }

  duplicates(): string[] {
    return [...this.delivered].filter(([, n]) => n > 1).map(([id]) => id);
  }

  undelivered(): string[] {
    return [...this.pushed].filter((id) => !this.delivered.has(id));
  }

  unacked(): string[] {
    return [...this.pushed].filter((id) => !this.acked.has(id) && !this.presumed.has(id));
  }

  ackedTwice(): string[] {
    return [...this.acked].filter(([, n]) => n > 1).map(([id]) => id);
  }

  summary(): string {
    return JSON.stringify(Object.fromEntries([...this.statuses].sort()));
  }
}

t.test("a worker killed with SIGKILL never acks: its job is handed out again after the lease and acked once", async (t) => {
  const h = await harness(t);
  const q = queueName("killworker");
  const id = (await h.http("POST", `/q/${q}`, { body: { task: "crash me" } })).json.id;

  const run = (mode: string) => {
    const child = spawn(process.execPath, [WORKER, h.url, q, "1", mode], { stdio: ["ignore", "pipe", "inherit"] });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    return { child, next: async () => JSON.parse((await lines.next()).value as string) };
  };

  const doomed = run("hang");
  const taken = await doomed.next();
  t.match(taken, { status: 200, id, attempt: "1" }, "the worker took the job");
  t.match((await h.http("GET", `/q/${q}/${id}`)).json, { state: "leased", attempts: 1 });
  const killedAt = Date.now();
  doomed.child.kill("SIGKILL");
  await exited(doomed.child);
  t.equal(doomed.child.signalCode, "SIGKILL");

  const second = run("ack");
  const again = await second.next();
  t.match(again, { status: 200, id, attempt: "2", body: JSON.stringify({ task: "crash me" }) }, "handed out again");
  t.ok(Date.now() - killedAt < 3000, "soon after the lease ran out");
  t.same(await second.next(), { ack: 204 }, "the second worker acked it");
  await exited(second.child);
  t.equal(second.child.exitCode, 0);

  t.equal((await h.http("DELETE", `/q/${q}/${id}`)).status, 404, "nothing left to ack");
  t.match((await h.http("GET", `/j/${q}`)).json, { job_count: 0, job_leased: 0, job_dead: 0, job_processed: 1, job_failed: 1 });
});

t.test("presque killed with SIGKILL under load and restarted: every job answered 201 is acked", async (t) => {
  const redisServer = await startRedis();
  const url = await redisUrl(redisServer);
  const inspect = new Redis(url);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  let server: ChildProcess | undefined;

  const startPresque = async () => {
    // its own process group: tsx runs the server in a child process of its own
    const child = spawn(join(ROOT, "node_modules", ".bin", "tsx"), ["src/cli/main.ts", "--port", String(port), "--redis", url], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 200) output.shift();
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    server = child;
    const took = await until("presque to listen", async () => (await fetch(`${base}/status/`).catch(() => null))?.status === 200, 20_000);
    return took;
  };
  const killGroup = (signal: NodeJS.Signals) => {
    if (server?.pid && server.exitCode === null && server.signalCode === null) process.kill(-server.pid, signal);
  };
  t.teardown(async () => {
    killGroup("SIGKILL");
    inspect.disconnect();
    await redisServer.stop();
  });

  const q = queueName("killserver");
  // a lease shorter than the outage below, so that jobs in hand at the kill come back
  const lease = 1.5;
  const startedIn = await startPresque();
  t.comment(`presque started in ${startedIn} ms`);

  const consumers = 6;
  const load = new Load(base, q, lease, 50);
  load.start(2, consumers);
  await until("some load", () => load.acked.size >= 50, 15_000);

  killGroup("SIGKILL");
  await exited(server!);
  const killedAt = Date.now();
  await sleep(200); // whatever the dead server had sent, Redis has run by now
  const leasedAtKill = new Set(await inspect.zrange(`presque:{${q}}:leased`, 0, -1));
  const pushedAtKill = load.pushed.size;
  t.comment(`killed with ${pushedAtKill} jobs answered 201, ${load.acked.size} acked, ${leasedAtKill.size} leased`);
  await sleep(1000);

  const restartedIn = await startPresque();
  t.comment(`down for ${Date.now() - killedAt} ms (restart took ${restartedIn} ms)`);
  await until("load after the restart", () => load.pushed.size >= pushedAtKill + 50, 15_000);
  load.stopProducing();
  await drained(t, load, inspect, q);
  t.comment(`statuses: ${load.summary()}`);

  t.ok(load.pushed.size > pushedAtKill, `${load.pushed.size} jobs answered 201 (${pushedAtKill} before the kill)`);
  t.same(load.undelivered(), [], "every job answered 201 was delivered");
  t.same(load.unacked(), [], "and acked");
  t.same(load.ackedTwice(), [], "no job acked twice");
  t.equal(await inspect.hlen(`presque:{${q}}:jobs`), 0, "nothing is left in Redis");
  t.equal(await inspect.zcard(`presque:{${q}}:leased`), 0);
  const dups = load.duplicates();
  t.comment(
    `${dups.length} jobs delivered twice: ${dups.join(",") || "none"}; leased at the kill: ${[...leasedAtKill].join(",") || "none"}`,
  );
  t.same(
    dups.filter((id) => !leasedAtKill.has(id)),
    [],
    "every duplicate delivery was of a job leased when presque died",
  );
  t.ok(leasedAtKill.size <= consumers, "no more jobs were leased at the kill than there are consumers");
  t.notOk(
    [...load.statuses.keys()].some((k) => / 5\d\d$/.test(k)),
    "no 5xx",
  );

  // a clean stop at the end: SIGTERM, exit 0
  killGroup("SIGTERM");
  await exited(server!);
  t.equal(server!.exitCode, 0, "SIGTERM stops presque with exit code 0");
  if (t.passing() === false) t.comment(output.join("").slice(-3000));
});

t.test("Redis killed (SIGKILL) and restarted under load: 503 meanwhile, recovery by itself, no acknowledged job lost", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "presque-aof-"));
  const redisPort = await freePort();
  // appendfsync always: with everysec, Redis may postpone its file write while a background fsync
  // runs, yet still answer, and a SIGKILL then loses acknowledged writes (an ack comes undone and
  // its job is delivered again); this test is about presque, not Redis's fsync window
  const redisServer = await startRedis(["--appendonly", "yes", "--appendfsync", "always", "--dir", dir], redisPort);
  t.equal(await redisServer.getPort(), redisPort);
  const config = testConfig(await redisUrl(redisServer));
  const presque = await startServer(config, createLogger("silent"));
  t.teardown(async () => {
    await presque.close();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const inspect = new Redis(config.redis.url!);
  inspect.on("error", () => {}); // it reconnects once Redis is back
  t.teardown(() => inspect.disconnect());

  const q = queueName("redisdown");
  const load = new Load(presque.url, q, 3, 50);
  load.start(2, 6);
  await until("some load", () => load.acked.size >= 50, 15_000);

  // a long poll that sleeps through the outage, on a queue of its own: it is woken only by a
  // notification, so it answers in time only if presque's subscription came back with Redis
  const idle = queueName("idle");
  const sleeper = fetch(`${presque.url}/q/${idle}?wait=20`);
  const idleChannel = presque.context.store.keys(idle).notify;
  // sharded pub/sub since the scripts' SPUBLISH versions: the subscription shows in SHARDNUMSUB
  await until(
    "the long poll to subscribe",
    async () => ((await inspect.call("PUBSUB", "SHARDNUMSUB", idleChannel)) as [string, number])[1] === 1,
    5000,
    10,
  );
  await sleep(100);

  // jobs that sit in Redis through the crash, ready and leased, on a queue nobody consumes
  const kept = queueName("kept");
  const keptPush = await fetch(`${presque.url}/qb/${kept}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jobs: Array.from({ length: 100 }, (_, n) => ({ n })) }),
  });
  t.equal(keptPush.status, 201);
  const keptIds: string[] = (await keptPush.json()).ids;
  const keptLeased = await fetch(`${presque.url}/qb/${kept}?batch_size=10&lease=600`);
  t.equal(keptLeased.status, 200);

  const pushedBefore = load.pushed.size;
  // a crash rather than a shutdown: Redis writes and syncs its append-only file before it answers,
  // so even kill -9 keeps every write presque answered 201 for
  const info = redisServer.getInstanceInfo();
  if (!info || !info.childProcess) throw new Error("no redis-server process");
  info.childProcess.kill("SIGKILL");
  await exited(info.childProcess);
  const stoppedAt = Date.now();
  await redisServer.stop(); // forgets the dead instance (and stops its watchdog)
  const unavailable = () => (load.statuses.get("POST 503") ?? 0) + (load.statuses.get("GET 503") ?? 0);
  await until("503 answers", () => unavailable() > 10, 5000);
  const direct = await fetch(`${presque.url}/j/${q}`);
  t.equal(direct.status, 503, "a request while Redis is down");
  t.same(await direct.json(), { error: "redis unavailable" });
  t.equal(direct.headers.get("retry-after"), "1");
  await sleep(500);

  await redisServer.start();
  t.equal(await redisServer.getPort(), redisPort, "Redis is back on its port");
  const restartedAt = Date.now();
  t.comment(`Redis was down for ${restartedAt - stoppedAt} ms; ${pushedBefore} jobs answered 201 before`);
  const recovered = await until("a push answered 201 again", () => load.pushedAt.some((at) => at > restartedAt), 15_000);
  t.comment(`presque recovered ${recovered} ms after Redis came back`);
  await until("load after the restart", () => load.pushed.size >= pushedBefore + 100, 15_000);
  load.stopProducing();

  const wokenAt = Date.now();
  t.equal(
    (await fetch(`${presque.url}/q/${idle}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status,
    201,
  );
  const woken = await sleeper;
  t.equal(woken.status, 200, "a long poll from before the outage still gets its job");
  t.ok(Date.now() - wokenAt < 2000, `woken ${Date.now() - wokenAt} ms after the push`);

  await drained(t, load, inspect, q);
  t.comment(`statuses: ${load.summary()}; ${load.duplicates().length} delivered twice`);

  t.ok(unavailable() > 0, "requests got 503 while Redis was away");
  t.match(
    await (await fetch(`${presque.url}/j/${kept}`)).json(),
    { job_count: 90, job_leased: 10 },
    "jobs waiting through the crash are all there",
  );
  const keptAfter = await fetch(`${presque.url}/qb/${kept}?batch_size=1000`);
  t.same(
    [...keptLeased.headers.get("x-presque-jobids")!.split(","), ...keptAfter.headers.get("x-presque-jobids")!.split(",")],
    keptIds,
    "in their order",
  );
  t.same(load.undelivered(), [], "every job answered 201 was delivered: none lost with Redis's restart");
  t.same(load.unacked(), [], "and acked");
  t.same(load.ackedTwice(), [], "no job acked twice");
  t.equal(await inspect.hlen(`presque:{${q}}:jobs`), 0);
  t.same(
    [...load.statuses.keys()].filter((k) => / 5\d\d$/.test(k) && !k.endsWith(" 503")),
    [],
    "no 5xx but 503",
  );
});

/** A small seeded PRNG, so that a failing run can be replayed with the same choices. */
/** Waits until every job answered 201 is acked and Redis holds none of the queue's jobs, then
 *  stops the load; a timeout is a failure of the test, not an exception. */
async function drained(t: Test, load: Load, inspect: Redis, q: string): Promise<void> {
  await until(
    "every job to be acked",
    async () => load.unacked().length === 0 && (await inspect.hlen(`presque:{${q}}:jobs`)) === 0,
    20_000,
    100,
  ).catch((err) => t.fail(String(err)));
  await load.stop();
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test("many leasing consumers with random failures and expiries: every job acked or dead, none lost, none acked twice", async (t) => {
  const h = await harness(t);
  const q = queueName("chaos");
  const seed = Number(process.env.PRESQUE_CHAOS_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (PRESQUE_CHAOS_SEED to replay)`);
  const random = mulberry32(seed);
  t.equal((await h.http("POST", `/control/${q}`, { body: { max_attempts: 3, backoff_base: 0 } })).status, 200);

  const total = 300;
  const posted = await h.http("POST", `/qb/${q}`, { body: { jobs: Array.from({ length: total }, (_, n) => ({ n })) } });
  const ids: string[] = posted.json.ids;
  t.equal(ids.length, total);

  const outcomes = new Map<string, number>();
  const acks = new Map<string, number>();
  const note = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  let slowPending = 0;
  let done = false;

  const ack = async (id: string, attempt: string, what: string) => {
    const r = await h.http("DELETE", `/q/${q}/${id}`, { headers: { "x-presque-attempt": attempt } });
    note(`${what} ${r.status}`);
    if (r.status === 204) acks.set(id, (acks.get(id) ?? 0) + 1);
  };

  const consumer = async () => {
    while (!done) {
      const r = await h.http("GET", `/q/${q}?lease=1&wait=0.5`);
      if (r.status === 404) continue;
      if (r.status !== 200) {
        note(`GET ${r.status}`);
        continue;
      }
      const id = r.headers.get("x-presque-jobid")!;
      const attempt = r.headers.get("x-presque-attempt")!;
      const dice = random();
      if (dice < 0.5) await ack(id, attempt, "ack");
      else if (dice < 0.72) {
        const f = await h.http("PUT", `/q/${q}/${id}?attempt=${attempt}`, { body: { error: `failed attempt ${attempt}` } });
        note(`fail ${f.status}`);
      } else if (dice < 0.86) {
        note("abandon"); // never acks: the lease expires
      } else {
        // acks after its lease ran out: 409 when the job went to someone else, 204 when it did not
        slowPending++;
        const late = 1100 + Math.floor(random() * 300);
        void sleep(late)
          .then(() => ack(id, attempt, "late ack"))
          .finally(() => slowPending--);
      }
    }
  };

  const started = Date.now();
  const consumers = Array.from({ length: 16 }, consumer);
  const figures = async () => (await h.http("GET", `/j/${q}`)).json;
  await until(
    "every job to be acked or dead",
    async () => {
      const f = await figures();
      return slowPending === 0 && f.job_count + f.job_delayed + f.job_leased === 0;
    },
    45_000,
    100,
  ).catch((err) => t.fail(String(err)));
  done = true;
  await Promise.all(consumers);
  t.comment(`${Date.now() - started} ms; outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);

  const dead = await h.http("GET", `/dead/${q}?limit=1000`);
  const deadIds = new Set<string>(dead.json.jobs.map((j: { id: string }) => j.id));
  const ackedIds = new Set(acks.keys());
  t.same(
    [...acks].filter(([, n]) => n > 1),
    [],
    "no job acked twice",
  );
  t.same(
    [...ackedIds].filter((id) => deadIds.has(id)),
    [],
    "no job both acked and dead",
  );
  t.same(
    ids.filter((id) => !ackedIds.has(id) && !deadIds.has(id)),
    [],
    "none lost: every job acked or dead",
  );
  t.equal(ackedIds.size + deadIds.size, total);
  const f = await figures();
  t.match(f, { job_count: 0, job_delayed: 0, job_leased: 0, job_dead: deadIds.size, job_processed: ackedIds.size });
  t.equal(await h.redis.hlen(`presque:{${q}}:jobs`), deadIds.size, "only the dead jobs remain in Redis");
  for (const j of dead.json.jobs) {
    if (j.attempts !== 3 || typeof j.last_error !== "string") {
      t.fail(`dead job ${j.id} has attempts ${j.attempts}, last_error ${j.last_error}`);
      break;
    }
  }
  t.ok((outcomes.get("fail 200") ?? 0) > 0 && (outcomes.get("abandon") ?? 0) > 0, "failures and expiries both happened");
  t.notOk(
    [...outcomes.keys()].some((k) => / 5\d\d$/.test(k)),
    "no 5xx",
  );
});
