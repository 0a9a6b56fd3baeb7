// npm run bench: presque beside its baselines (a node:http hello-world, a naive node:http +
// ioredis queue) and BullMQ, on one machine, in one run, over loopback. See bench/README.md.
//
// This process is the load generator (autocannon) and hosts BullMQ; each HTTP server under
// test is a child process, and Redis is a redis-server of our own.
import { setMaxListeners } from "node:events";
import { Agent } from "node:http";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import type { Request } from "autocannon";
import * as bull from "./bullmq.js";
import { cannon, loops, Samples, send, sleep, type CannonSpec, type Load } from "./load.js";
import { killAll, ROOT, startBaseline, startPresque, startRedis, type Child } from "./procs.js";
import { batchBody, closeFill, figures, fill, JOB, JSON_HEADERS, PAYLOAD_BYTES, payload, type Figures } from "./queue.js";
import { streamScenarios } from "./stream.js";
import { fromRounds, ratio, Report, type Scenario } from "./report.js";
import { commandCounts, commandUse, probe, socketCounts, usedMemory } from "./redisstats.js";
import { cpuMeter } from "./cpu.js";
import { fillIdleQueues, fillQueue, idleCost, stallDuring } from "./scale.js";
import { cliPush, cliWork, WARMUP_DRAINS, WORKER_JOBS, warmWorker, workerDrain } from "./clients.js";

/** The scenarios whose ratios matter most, in the order a round runs them: each presque run right
 *  after its baseline's, so that the runs a ratio compares are seconds apart, not minutes. */
const ROUND_ORDER = ["hello.get", "naive.post", "presque.post_q", "naive.get", "presque.get_q"];
/** the order of the table: baselines first, as the other sections print */
const ROUND_TABLE_ORDER = ["hello.get", "naive.post", "naive.get", "presque.post_q", "presque.get_q"];

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "6" },
    warmup: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    only: { type: "string" },
    profile: { type: "string" },
    workers: { type: "string" },
    presque: { type: "string" },
    out: { type: "string", default: join(ROOT, "bench", "results", "latest.json") },
    help: { type: "boolean", short: "h" },
  },
});

if (flags.help) {
  process.stdout.write(`Usage: npm run bench -- [options]
  --duration <s>      seconds per measured run (default 6)
  --warmup <s>        seconds of warm-up before each run, not measured (default 2; half of it in rounds after the first)
  --rounds <n>        interleaved rounds of ${ROUND_ORDER.join(", ")} (default 3)
  --connections <n>   autocannon connections (default 50)
  --only <ids>        comma-separated scenario ids or groups: hello, naive, presque, presque.get_q, bullmq, memory, ...
  --profile <dir>     run presque under node --cpu-prof, writing the profile to <dir> at shutdown
  --workers <n>       start presque with --workers n
  --presque <dir>     benchmark the presque checkout in <dir> instead of this one (to compare a change)
  --out <file>        where to write the JSON (default bench/results/latest.json)
`);
  process.exit(0);
}

const DURATION = Number(flags.duration);
const WARMUP = Number(flags.warmup);
const ROUNDS = Number(flags.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`bench: --rounds must be a whole number >= 1, not ${flags.rounds}\n`);
  process.exit(2);
}
const CONNECTIONS = Number(flags.connections);
const only = flags.only
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
/** `a` names `b` itself or a group `b` is in: "presque" names "presque.get_q", "presque.post_q" names only itself */
const within = (b: string, a: string) => b === a || b.startsWith(`${a}.`);
const wanted = (id: string) => !only || only.some((p) => within(id, p));
/** whether any wanted scenario lies in a section (to start its server at all) */
const section = (name: string) => !only || only.some((p) => within(p, name) || within(name, p));

const BULL_ADD_IN_FLIGHT = 50;
const BULL_BULK_TOTAL = 50_000;
const BULL_BULK_IN_FLIGHT = 8;
/** as many as the Worker drains (issue 10 compares the two) */
const BULL_DRAIN_JOBS = WORKER_JOBS;
const MEMORY_JOBS = 200_000;
const LONGPOLL_CONSUMERS = 200;
/** issue 9: idle queues present while POST /q and GET /q run, and the size of the queue purged */
const IDLE_QUEUES = 100_000;
const PURGE_JOBS = 10_000_000;
/** at most this many requests in the MONITOR probe after each run that counts Redis commands */
const PROBE_REQUESTS = 1000;

const report = new Report();
let redisPid = 0;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Fills for a consumer scenario on `queue`. Before the warm-up: for `bound` jobs/s (the most it
 *  could take) over the warm-up. After it: 1.6 x what the warm-up took per second, over the run. */
const consumer = (presque: Child, queue: string) => ({
  before: (bound: number, warmup: number) => fill(presque, queue, Math.ceil(bound * warmup * 1.3)),
  prepare: async (rate: number) => {
    await fill(presque, queue, Math.ceil(rate * DURATION * 1.6) + 10_000);
  },
});

// --- one autocannon scenario: warm-up, then a measured run

interface HttpScenario {
  id: string;
  label: string;
  spec: CannonSpec;
  /** the process under test, for its CPU use */
  server: Child;
  /** presque only: the queue, whose size is recorded before and after the run, and whose
   *  job_processed figure counts the jobs a consumer scenario took */
  presque?: { server: Child; queue: string; jobs: "pushed" | "processed" };
  /** jobs per 2xx answer: producers (each 201 means that many jobs stored) and the naive server.
   *  Not from the queue's size, which would also count requests still in flight when the run
   *  stopped: up to 50 x 1000 jobs with POST /qb */
  jobsPerOk?: number;
  redis?: Redis;
  /** after the warm-up: make sure the run cannot find its queue empty, given the warm-up's jobs/s */
  prepare?: (warmJobsPerSec: number) => Promise<void>;
  naive?: string;
  bullmq?: string;
  /** printed beside a valid result */
  note?: string;
}

async function jobsMoved(s: HttpScenario, before: Figures | undefined, load: Load): Promise<number | undefined> {
  if (s.jobsPerOk !== undefined) return load.ok * s.jobsPerOk;
  if (s.presque?.jobs === "processed" && before) {
    const after = await figures(s.presque.server, s.presque.queue);
    return after.job_processed - before.job_processed;
  }
  return undefined;
}

/** How one run of a scenario goes. In rounds, the later ones warm up for less, and the MONITOR
 *  probe (about a second, and the same figure every time) runs in the first round only. */
interface RunSettings {
  warmup: number;
  probe: boolean;
  round?: number;
}

/** Warm-up, measured run, Redis probe: one scenario's figures. */
async function measure(s: HttpScenario, run: RunSettings): Promise<Scenario> {
  log(`- ${s.label}${run.round === undefined ? "" : ` (round ${run.round}/${ROUNDS})`}`);
  const warmBefore = s.presque ? await figures(s.presque.server, s.presque.queue) : undefined;
  const warm = await cannon(s.spec, CONNECTIONS, run.warmup);
  const warmJobs = (await jobsMoved(s, warmBefore, warm)) ?? warm.ok;
  if (s.prepare) await s.prepare(warmJobs / warm.seconds);

  const before = s.presque ? await figures(s.presque.server, s.presque.queue) : undefined;
  const statsBefore = s.redis ? await commandCounts(s.redis) : undefined;
  const ioBefore = s.redis ? await socketCounts(s.redis) : undefined;
  const cpu = cpuMeter(serverPid(s.server), redisPid);
  const load = await cannon(s.spec, CONNECTIONS, DURATION);
  const cores = cpu();
  const ioAfter = s.redis ? await socketCounts(s.redis) : undefined;
  const statsAfter = s.redis ? await commandCounts(s.redis) : undefined;
  const jobs = await jobsMoved(s, before, load);
  const after = s.presque ? await figures(s.presque.server, s.presque.queue) : undefined;
  // about half a second of requests under MONITOR, an even number (the leased scenario's cycle is two)
  const probeRequests = 2 * Math.round(Math.min(PROBE_REQUESTS, Math.max(50, load.reqPerSec / 2)) / 2);
  const sent = s.redis && run.probe ? await probe(s.redis, async () => (await cannon(s.spec, 10, 1, probeRequests)).requests) : undefined;

  const use = statsBefore && statsAfter ? commandUse(statsBefore, statsAfter) : undefined;
  const valid = load.non2xx === 0 && load.errors === 0 && load.ok > 0;
  const problems = Object.entries(load.statusCodes)
    .filter(([code]) => !code.startsWith("2"))
    .map(([code, n]) => `${n} x ${code}`);
  if (load.errors) problems.push(`${load.errors} connection errors/timeouts`);
  return {
    id: s.id,
    label: s.label,
    round: run.round,
    seconds: load.seconds,
    reqPerSec: load.reqPerSec,
    jobsPerSec: jobs === undefined ? undefined : jobs / load.seconds,
    p50: load.p50,
    p99: load.p99,
    requests: load.requests,
    jobs,
    non2xx: load.non2xx,
    errors: load.errors,
    statusCodes: load.statusCodes,
    valid,
    note: valid ? s.note : problems.join(", "),
    redis: use && {
      ...use,
      perRequest: {
        all: use.all / load.requests,
        scripts: use.scripts / load.requests,
        reads: (ioAfter!.reads - ioBefore!.reads) / load.requests,
      },
      probe: sent,
    },
    naive: s.naive,
    bullmq: s.bullmq,
    queued: before && after ? { before: before.job_count, after: after.job_count } : undefined,
    cpu: cores,
  };
}

/** A scenario outside the rounds: one warm-up, one measured run, into the report. */
async function httpScenario(s: HttpScenario): Promise<Scenario | undefined> {
  if (!wanted(s.id)) return undefined;
  return report.add(await measure(s, { warmup: WARMUP, probe: true }));
}

/** presque --workers N serves from child processes this pid does not count */
const serverPid = (server: Child) => (server.name === "presque" && Number(flags.workers ?? 1) > 1 ? undefined : server.proc.pid);

// --- the interleaved rounds: hello-world, naive and presque side by side

const NAIVE_LIST = "naive:jobs";

/** The servers under test. Each starts once, when a wanted scenario needs it, and stays up through
 *  every round: an idle server costs nothing, and a restart between runs would put its start-up
 *  and JIT warm-up between the runs a ratio compares. */
interface Servers {
  hello?: Child;
  naive?: Child;
  presque?: Child;
}

async function startServers(redisUrl: string): Promise<Servers> {
  const hello = section("hello") ? await startBaseline("hello", "hello.ts") : undefined;
  const naive = section("naive") ? await startBaseline("naive", "naive.ts", [redisUrl, NAIVE_LIST]) : undefined;
  const presque =
    section("presque") || section("stream") || section("memory") || section("scale") || section("client") || wanted("bullmq.worker")
      ? await startPresque(redisUrl, {
          dir: flags.presque && resolve(flags.presque),
          profileDir: flags.profile,
          workers: flags.workers ? Number(flags.workers) : undefined,
        })
      : undefined;
  return { hello, naive, presque };
}

/** One scenario of a round, and what makes its queue last through the warm-up. */
interface Step {
  scenario: HttpScenario;
  before?: (warmup: number) => Promise<unknown>;
}

const helloStep = (hello: Child): Step => ({
  scenario: { id: "hello.get", label: "hello-world GET", server: hello, spec: { url: hello.url } },
});

/** `bound`: jobs/s no consumer can reach, the sizing of the fill before a warm-up */
function naiveSteps(naive: Child, redis: Redis, bound: () => number): { post: Step; get: Step } {
  // GET needs a list that outlasts the warm-up and the run
  const topUp = async (want: number) => {
    const missing = want - (await redis.llen(NAIVE_LIST));
    for (let done = 0; done < missing; done += 10_000) {
      await redis.rpush(NAIVE_LIST, ...Array.from({ length: Math.min(10_000, missing - done) }, () => JOB));
    }
  };
  return {
    post: {
      scenario: {
        id: "naive.post",
        label: "naive POST (RPUSH)",
        server: naive,
        spec: { url: naive.url, method: "POST", path: "/q", headers: JSON_HEADERS, body: JOB },
        jobsPerOk: 1,
        redis,
      },
    },
    get: {
      before: (warmup) => topUp(Math.ceil(bound() * warmup * 1.3)),
      scenario: {
        id: "naive.get",
        label: "naive GET (LPOP)",
        server: naive,
        spec: { url: naive.url, path: "/q" },
        jobsPerOk: 1,
        redis,
        prepare: (rate) => topUp(Math.ceil(rate * DURATION * 1.6) + 10_000),
      },
    },
  };
}

/** POST /q fills the queue GET /q then takes from, topped up with POST /qb */
function presqueSteps(presque: Child, redis: Redis, bound: () => number): { post: Step; get: Step } {
  const url = presque.url;
  const c = consumer(presque, "bench-q");
  return {
    post: {
      scenario: {
        id: "presque.post_q",
        label: "presque POST /q",
        spec: { url, method: "POST", path: "/q/bench-q", headers: JSON_HEADERS, body: JOB },
        server: presque,
        presque: { server: presque, queue: "bench-q", jobs: "pushed" },
        jobsPerOk: 1,
        redis,
        naive: "naive.post",
        bullmq: "bullmq.add",
      },
    },
    get: {
      before: (warmup) => c.before(bound(), warmup),
      scenario: {
        id: "presque.get_q",
        label: "presque GET /q",
        spec: { url, path: "/q/bench-q" },
        server: presque,
        presque: { server: presque, queue: "bench-q", jobs: "processed" },
        redis,
        prepare: c.prepare,
        naive: "naive.get",
        bullmq: "bullmq.worker",
      },
    },
  };
}

/** After the first round, the servers are warm (JIT, connection pools): a shorter warm-up opens
 *  the connections and measures the rate the fills are sized for. */
const roundWarmup = (round: number) => (round === 1 ? WARMUP : WARMUP / 2);

/** The ratio-critical scenarios, ROUNDS times over in ROUND_ORDER. Throughput drifts by a fifth over
 *  minutes on a shared machine; within a round the runs a ratio compares are seconds apart. */
async function rounds(servers: Servers, redis: Redis): Promise<void> {
  const runs = new Map<string, Scenario[]>();
  // no consumer beats hello-world; this round's figure, as close as the drift allows
  const bound = () => {
    const last = runs.get("hello.get")?.at(-1);
    return last?.valid && last.reqPerSec ? last.reqPerSec : 100_000;
  };
  const naive = servers.naive && naiveSteps(servers.naive, redis, bound);
  const presque = servers.presque && presqueSteps(servers.presque, redis, bound);
  const all = [servers.hello && helloStep(servers.hello), naive?.post, naive?.get, presque?.post, presque?.get];
  const byId = new Map(all.filter((s): s is Step => s !== undefined).map((s) => [s.scenario.id, s]));
  const steps = ROUND_ORDER.filter(wanted).flatMap((id) => byId.get(id) ?? []);
  if (!steps.length) return;
  await redis.del(NAIVE_LIST);
  for (let round = 1; round <= ROUNDS; round++) {
    const run: RunSettings = { round, warmup: roundWarmup(round), probe: round === 1 };
    for (const step of steps) {
      await step.before?.(run.warmup);
      const s = await measure(step.scenario, run);
      runs.set(s.id, [...(runs.get(s.id) ?? []), s]);
    }
  }
  for (const id of ROUND_TABLE_ORDER) {
    const r = runs.get(id);
    if (r) report.add(fromRounds(r));
  }
}

// --- the other sections

/** jobs/s no consumer scenario can reach: the sizing of the fill before a warm-up */
const helloBound = () => report.get("hello.get")?.reqPerSec ?? 100_000;

async function presqueHttp(presque: Child, redis: Redis): Promise<void> {
  const url = presque.url;
  const q = (queue: string, jobs: "pushed" | "processed") => ({ server: presque, queue, jobs });
  for (const n of [100, 1000]) {
    await httpScenario({
      id: `presque.post_qb${n}`,
      label: `presque POST /qb (${n})`,
      spec: { url, method: "POST", path: "/qb/bench-b", headers: JSON_HEADERS, body: batchBody(n) },
      server: presque,
      presque: q("bench-b", "pushed"),
      jobsPerOk: n,
      redis,
      bullmq: "bullmq.addbulk",
    });
  }

  if (wanted("presque.get_qb100")) {
    const c = consumer(presque, "bench-b");
    await c.before(helloBound() * 10, WARMUP);
    await httpScenario({
      id: "presque.get_qb100",
      label: "presque GET /qb (100)",
      spec: { url, path: "/qb/bench-b?batch_size=100" },
      server: presque,
      presque: q("bench-b", "processed"),
      redis,
      prepare: c.prepare,
      bullmq: "bullmq.worker",
    });
  }

  // each connection posts, then takes: a GET never comes before its own POST, so the queue
  // cannot be empty when a GET arrives
  await httpScenario({
    id: "presque.mixed",
    label: "presque mixed POST+GET /q",
    spec: {
      url,
      requests: [
        { method: "POST", path: "/q/bench-mix", headers: JSON_HEADERS, body: JOB },
        { method: "GET", path: "/q/bench-mix" },
      ],
    },
    server: presque,
    presque: q("bench-mix", "processed"),
    redis,
    bullmq: "bullmq.worker",
  });

  if (wanted("presque.lease")) {
    const c = consumer(presque, "bench-lease");
    await c.before(helloBound() / 2, WARMUP);
    const header = (headers: Record<string, string>, name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
    const requests: Request[] = [
      {
        method: "GET",
        path: "/q/bench-lease?lease=30",
        onResponse: (_status, _body, context, headers) => {
          context.id = header(headers, "x-presque-jobid");
          context.attempt = header(headers, "x-presque-attempt");
        },
      },
      {
        method: "DELETE",
        setupRequest: (req, context) => ({
          ...req,
          path: `/q/bench-lease/${String(context.id)}`,
          headers: { ...req.headers, "x-presque-attempt": String(context.attempt) },
        }),
      },
    ];
    await httpScenario({
      id: "presque.lease",
      label: "presque leased GET + ack",
      spec: { url, requests },
      server: presque,
      presque: q("bench-lease", "processed"),
      redis,
      prepare: c.prepare,
      bullmq: "bullmq.worker",
      note: "2 requests per job",
    });
  }
}

/** Many consumers long-polling one queue, one producer posting back to back: jobs delivered
 *  per second and the time from the push to the delivery. */
async function longPoll(presque: Child, redis: Redis): Promise<void> {
  if (!wanted("presque.longpoll")) return;
  log(`- presque long-poll fan-in (${LONGPOLL_CONSUMERS} consumers, 1 producer)`);
  const queue = "bench-lp";
  const run = async (seconds: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: LONGPOLL_CONSUMERS + 2 });
    const abort = new AbortController();
    setMaxListeners(LONGPOLL_CONSUMERS + 10, abort.signal);
    const latency = new Samples();
    let stopping = false;
    let delivered = 0;
    let pushed = 0;
    let non2xx = 0;
    let errors = 0;
    let requests = 0;
    const consumers = loops(
      LONGPOLL_CONSUMERS,
      () => stopping,
      async () => {
        try {
          const r = await send(agent, presque.url, "GET", `/q/${queue}?wait=10`, undefined, {}, abort.signal);
          requests++;
          if (r.status === 200) {
            latency.add(performance.now() - (JSON.parse(r.body.toString()) as { t: number }).t);
            delivered++;
          } else if (!stopping) non2xx++;
        } catch {
          if (!stopping) errors++;
        }
      },
    );
    await sleep(500); // every consumer connected and waiting
    const statsBefore = await commandCounts(redis);
    const ioBefore = await socketCounts(redis);
    const cpu = cpuMeter(serverPid(presque), redisPid);
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const r = await send(agent, presque.url, "POST", `/q/${queue}`, JSON.stringify({ t: performance.now() }), JSON_HEADERS);
      requests++;
      if (r.status === 201) pushed++;
      else non2xx++;
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cores = cpu();
    for (let i = 0; i < 100 && delivered < pushed; i++) await sleep(20);
    const ioAfter = await socketCounts(redis);
    const statsAfter = await commandCounts(redis);
    stopping = true;
    abort.abort();
    await consumers;
    agent.destroy();
    return {
      elapsed,
      latency,
      delivered,
      pushed,
      non2xx,
      errors,
      requests,
      use: commandUse(statsBefore, statsAfter),
      cores,
      reads: ioAfter.reads - ioBefore.reads,
    };
  };
  await run(WARMUP);
  const r = await run(DURATION);
  const sent = await probe(redis, async () => (await run(1)).requests);
  const lost = r.pushed - r.delivered;
  const valid = r.non2xx === 0 && r.errors === 0 && lost === 0 && r.delivered > 0;
  const { p50, p99 } = r.latency.summary();
  report.add({
    id: "presque.longpoll",
    label: `presque long-poll fan-in (${LONGPOLL_CONSUMERS} waiting)`,
    seconds: r.elapsed,
    reqPerSec: r.requests / r.elapsed,
    jobsPerSec: r.delivered / r.elapsed,
    p50,
    p99,
    requests: r.requests,
    jobs: r.delivered,
    non2xx: r.non2xx,
    errors: r.errors,
    valid,
    note: valid ? "p50/p99: push to delivery" : `${r.non2xx} non-2xx, ${r.errors} errors, ${lost} pushed but not delivered`,
    redis: {
      ...r.use,
      perRequest: { all: r.use.all / r.requests, scripts: r.use.scripts / r.requests, reads: r.reads / r.requests },
      probe: sent,
    },
    cpu: r.cores,
  });
}

async function presqueMemory(presque: Child, redis: Redis): Promise<void> {
  if (!wanted("memory")) return;
  log(`- presque: Redis memory for ${MEMORY_JOBS.toLocaleString("en-US")} jobs`);
  await redis.flushall();
  const before = await usedMemory(redis);
  await fill(presque, "bench-mem", MEMORY_JOBS);
  const after = await usedMemory(redis);
  report.memory.presque = (after - before) / MEMORY_JOBS;
  await redis.flushall();
}

/** Issue 9: POST /q and GET /q with IDLE_QUEUES idle queues present, as a ratio to the same runs
 *  with one queue made just before, what presque and Redis spend while idle, and the longest
 *  Redis stall while a PURGE_JOBS-job queue is purged. Run once each (fills take a while). */
async function scale(presque: Child, redis: Redis, redisUrl: string): Promise<void> {
  const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });
  if (wanted("scale.idle")) {
    const queue = "scale-q";
    const c = consumer(presque, queue);
    const runs = async (what: string) => {
      const post = await measure(
        {
          id: `scale.post_q_${what}`,
          label: `presque POST /q, ${what === "1" ? "1 queue" : `${fmt(IDLE_QUEUES)} idle queues`}`,
          spec: { url: presque.url, method: "POST", path: `/q/${queue}`, headers: JSON_HEADERS, body: JOB },
          server: presque,
          presque: { server: presque, queue, jobs: "pushed" },
          jobsPerOk: 1,
          redis,
        },
        { warmup: WARMUP, probe: false },
      );
      await c.before(helloBound(), WARMUP);
      const get = await measure(
        {
          id: `scale.get_q_${what}`,
          label: `presque GET /q, ${what === "1" ? "1 queue" : `${fmt(IDLE_QUEUES)} idle queues`}`,
          spec: { url: presque.url, path: `/q/${queue}` },
          server: presque,
          presque: { server: presque, queue, jobs: "processed" },
          redis,
          prepare: c.prepare,
        },
        { warmup: WARMUP, probe: false },
      );
      return [report.add(post), report.add(get)];
    };
    const [post1, get1] = await runs("1");
    log(`- filling ${fmt(IDLE_QUEUES)} idle queues (one job each)`);
    const filled = await fillIdleQueues(redisUrl, IDLE_QUEUES);
    await sleep(2000); // presque's periodic work settles in with the new queues
    const idle = await idleCost(redis, serverPid(presque), redisPid, 5);
    const [postN, getN] = await runs("idle");
    const target = (what: string, one: Scenario, many: Scenario) => {
      const r = ratio(many.reqPerSec, one.reqPerSec);
      report.extraTargets.push(
        r === undefined || !one.valid || !many.valid
          ? { text: `${what} with ${fmt(IDLE_QUEUES)} idle queues >= 0.95 x one queue`, pass: null, detail: "no valid figure" }
          : {
              text: `${what} with ${fmt(IDLE_QUEUES)} idle queues >= 0.95 x one queue`,
              pass: r >= 0.95,
              detail:
                `${r.toFixed(3)}x (${fmt(many.reqPerSec!)} vs ${fmt(one.reqPerSec!)} req/s; ` +
                `p99 ${fmt(many.p99!, 1)} vs ${fmt(one.p99!, 1)} ms)`,
            },
      );
    };
    target("POST /q", post1, postN);
    target("GET /q", get1, getN);
    const top = Object.entries(idle.byCommand)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([c, n]) => `${c} ${fmt(n / 5)}/s`);
    report.notes.push(
      `${fmt(IDLE_QUEUES)} idle queues (filled in ${fmt(filled, 1)} s): ` +
        `while idle, presque used ${fmt(idle.presqueCores * 100, 1)} % of a core, ` +
        `Redis ${fmt(idle.redisCores * 100, 1)} % and ${fmt(idle.commandsPerSec)} commands/s (${top.join(", ") || "none"})`,
    );
    report.extraTargets.push(
      {
        text: "idle: presque < 2 % of a core",
        pass: idle.presqueCores < 0.02,
        detail: `${fmt(idle.presqueCores * 100, 1)} % with ${fmt(IDLE_QUEUES)} queues`,
      },
      { text: "idle: Redis < 1,000 commands/s", pass: idle.commandsPerSec < 1000, detail: `${fmt(idle.commandsPerSec)} commands/s` },
    );
    await redis.flushall();
  }
  if (wanted("scale.purge")) {
    log(`- filling one queue with ${fmt(PURGE_JOBS)} jobs`);
    const filled = await fillQueue(redisUrl, "scale-huge", PURGE_JOBS);
    const memory = await usedMemory(redis);
    log(`- purging it (DELETE /q/scale-huge) under a PING probe`);
    let status = 0;
    const stall = await stallDuring(redisUrl, async () => {
      status = (await fetch(`${presque.url}/q/scale-huge`, { method: "DELETE" })).status;
    });
    // Redis's own account of how long it was busy: the PING probe's round trips also hold the
    // time this process and Redis waited for a core, which on a shared machine is not Redis's doing
    const worst = Math.max(0, ...Object.values(stall.latency));
    const events =
      Object.entries(stall.latency)
        .map(([e, ms]) => `${e} ${ms} ms`)
        .join(", ") || "no event over 1 ms";
    report.notes.push(
      `Purge of ${fmt(PURGE_JOBS)} jobs (filled in ${fmt(filled, 1)} s, ${fmt(memory / 2 ** 20)} MB): DELETE answered ${status} in ` +
        `${fmt(stall.actionMs, 1)} ms; LATENCY monitor: ${events}; longest PING round trip ${fmt(stall.pingMaxMs, 1)} ms over ` +
        `${fmt(stall.pings)} pings (${fmt(stall.quietPingMaxMs, 1)} ms over as long a time just before, with nothing running)`,
    );
    report.extraTargets.push({
      text: `purge of a ${fmt(PURGE_JOBS)}-job queue stalls Redis <= 10 ms`,
      pass: status === 204 ? worst <= 10 : null,
      detail:
        status === 204
          ? `${worst ? `${fmt(worst)} ms` : "under 1 ms"} (LATENCY monitor); ` +
            `PING max ${fmt(stall.pingMaxMs, 1)} ms vs ${fmt(stall.quietPingMaxMs, 1)} ms quiet`
          : `DELETE answered ${status}`,
    });
    await redis.flushall();
  }
}

/** A BullMQ figure as a row of the table. */
const bullScenario = (id: string, label: string, f: bull.JobsFigure, note: string): Scenario => ({
  id,
  label,
  seconds: f.seconds,
  jobsPerSec: f.jobsPerSec,
  jobs: f.jobs,
  p50: f.p50,
  p99: f.p99,
  non2xx: 0,
  errors: 0,
  valid: true,
  note,
  cpu: f.cpu,
});

async function bullmq(connection: bull.Connection, admin: Redis): Promise<void> {
  const figure = (id: string, label: string, f: bull.JobsFigure, note: string) => report.add(bullScenario(id, label, f, note));
  const meter = () => cpuMeter(undefined, redisPid);
  if (wanted("bullmq.add")) {
    log(`- BullMQ Queue.add, ${BULL_ADD_IN_FLIGHT} in flight`);
    await bull.add(connection, WARMUP, BULL_ADD_IN_FLIGHT, payload);
    figure(
      "bullmq.add",
      `BullMQ Queue.add (${BULL_ADD_IN_FLIGHT} in flight)`,
      await bull.add(connection, DURATION, BULL_ADD_IN_FLIGHT, payload, meter),
      "p50/p99: per add",
    );
  }
  if (wanted("bullmq.addbulk")) {
    log(`- BullMQ addBulk (1000), ${BULL_BULK_IN_FLIGHT} in flight`);
    await bull.addBulk(connection, 10_000, 1000, BULL_BULK_IN_FLIGHT, payload);
    const f = await bull.addBulk(connection, BULL_BULK_TOTAL, 1000, BULL_BULK_IN_FLIGHT, payload, meter);
    figure(
      "bullmq.addbulk",
      `BullMQ addBulk (1000)`,
      f,
      `${BULL_BULK_TOTAL.toLocaleString("en-US")} jobs, ${BULL_BULK_IN_FLIGHT} calls in flight`,
    );
  }
  if (wanted("memory")) {
    log(`- BullMQ: Redis memory for ${MEMORY_JOBS.toLocaleString("en-US")} jobs`);
    report.memory.bullmq = await bull.memoryPerJob(connection, admin, MEMORY_JOBS, payload);
  }
}

/** The Worker and BullMQ's Worker draining as many jobs on the same Redis (issue 10's
 *  comparison), each warmed up alike, then in interleaved rounds: one drain of each per round,
 *  seconds apart, so that the machine's drift over a run does not fall between the two. */
async function drains(presque: Child, connection: bull.Connection): Promise<void> {
  const ours = wanted("client.worker");
  const theirs = wanted("bullmq.worker");
  if (!ours && !theirs) return;
  log(
    `- Worker and BullMQ Worker draining ${BULL_DRAIN_JOBS.toLocaleString("en-US")} jobs: ${WARMUP_DRAINS} untimed drains each, then ${ROUNDS} rounds`,
  );
  if (ours) await warmWorker(presque, "bench-worker");
  if (theirs) for (let i = 0; i < WARMUP_DRAINS; i++) await bull.drain(connection, BULL_DRAIN_JOBS, 50, payload);
  const worker: Scenario[] = [];
  const bullWorker: Scenario[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ours) worker.push({ ...(await workerDrain(presque, "bench-worker", () => cpuMeter(serverPid(presque), redisPid))), round });
    if (!theirs) continue;
    const f = await bull.drain(connection, BULL_DRAIN_JOBS, 50, payload, () => cpuMeter(undefined, redisPid));
    const note = `${BULL_DRAIN_JOBS.toLocaleString("en-US")} jobs, no-op processor`;
    bullWorker.push({ ...bullScenario("bullmq.worker", "BullMQ Worker drain (concurrency 50)", f, note), round });
  }
  if (ours) report.add(fromRounds(worker));
  if (theirs) report.add(fromRounds(bullWorker));
}

/** The Worker class and the presque CLI (issue 10). */
async function clients(presque: Child, connection: bull.Connection): Promise<void> {
  await drains(presque, connection);
  if (wanted("client.push")) {
    log("- presque push");
    report.add(await cliPush(presque, "bench-cli-push"));
  }
  if (wanted("client.work")) {
    log("- presque work -- true, xargs -P 4 true");
    for (const s of await cliWork(presque, "bench-cli-work")) report.add(s);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const serverInfo = await redis.info("server");
  const version = /redis_version:(\S+)/.exec(serverInfo)?.[1] ?? "unknown";
  redisPid = Number(/process_id:(\d+)/.exec(serverInfo)?.[1]);
  report.memory = { payloadBytes: PAYLOAD_BYTES, jobs: MEMORY_JOBS };
  log(
    `bench: redis-server ${version} at ${redisServer.url}; ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per run; ` +
      `${ROUNDS} round${ROUNDS === 1 ? "" : "s"} (${roundWarmup(2)} s warm-up after the first)`,
  );
  try {
    const servers = await startServers(redisServer.url);
    try {
      await rounds(servers, redis);
      // the baselines are done with: what follows compares presque with BullMQ
      await Promise.all([servers.hello?.stop(), servers.naive?.stop(), redis.del(NAIVE_LIST)]);
      if (servers.presque) {
        await presqueHttp(servers.presque, redis);
        await redis.flushall();
        await longPoll(servers.presque, redis);
        await presqueMemory(servers.presque, redis);
        await redis.flushall();
        await clients(servers.presque, { host: redisServer.host, port: redisServer.port });
        await redis.flushall();
        await scale(servers.presque, redis, redisServer.url);
        const streamed = { rounds: ROUNDS, duration: DURATION, redisPid };
        if (section("stream")) for (const s of await streamScenarios(servers.presque, redis, redisServer, streamed)) report.add(s);
      }
    } finally {
      await Promise.all([servers.hello?.stop(), servers.naive?.stop(), servers.presque?.stop()]);
    }
    await redis.flushall();
    await bullmq({ host: redisServer.host, port: redisServer.port }, redis);

    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`\n${report.table()}\n\n`);
    report.write(flags.out!, {
      date: new Date().toISOString(),
      seconds: Math.round(seconds),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        memory_gb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        redis: version,
      },
      settings: {
        connections: CONNECTIONS,
        duration: DURATION,
        warmup: WARMUP,
        rounds: ROUNDS,
        rounds_later_warmup: roundWarmup(2),
        round_order: ROUND_ORDER,
        payload_bytes: PAYLOAD_BYTES,
        workers: flags.workers ?? 1,
        presque: flags.presque ?? ".",
      },
    });
    log(`bench: ${Math.round(seconds)} s; JSON in ${flags.out}`);
  } finally {
    closeFill();
    redis.disconnect();
    await redisServer.stop();
  }
}

main().then(
  // a client library's stray timer or socket must not keep a finished run waiting
  () => process.exit(0),
  (err) => {
    killAll();
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
