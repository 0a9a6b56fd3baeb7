// Issue 19's figures, streaming consumers (GET /c/:queue) against long polls and BullMQ, all in one
// run: the Worker draining 50,000 jobs over each transport beside BullMQ's Worker (interleaved
// rounds); push-to-delivery with 200 connected consumers, streamed and long-polling; the Python
// examples; 1,000 idle sockets on 100 queues. Self-contained: `node --import tsx bench/stream.ts`
// runs it alone on its own Redis and presque (`npm run bench -- --only stream` within the whole).
import { execFileSync, spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { Agent } from "node:http";
import { join } from "node:path";
import { Redis } from "ioredis";
import { WebSocket } from "ws";
import * as bull from "./bullmq.js";
import { cpuMeter, type CpuUse } from "./cpu.js";
import { loops, Samples, send, sleep } from "./load.js";
import { killAll, ROOT, startPresque, startRedis, type Child } from "./procs.js";
import { closeFill, fill, JSON_HEADERS, payload } from "./queue.js";
import { commandCounts, commandUse } from "./redisstats.js";
import { fromRounds, median, type Scenario } from "./report.js";
import { RECHECK_BATCH } from "../src/store/longpoll.js";

const DRAIN_JOBS = 50_000;
const WARMUP_DRAINS = 2;
const CONSUMERS = 200;
const PYTHON_JOBS = 20_000;
const IDLE_SOCKETS = 1000;
const IDLE_QUEUES = 100;
const IDLE_WINDOWS = 5;

const log = (msg: string) => process.stderr.write(`${msg}\n`);

export interface StreamBenchOptions {
  rounds: number;
  /** seconds of each fan-in run (after a warm-up of half as much) */
  duration: number;
  redisPid: number;
  /** some of drains, fanin, python, idle (alone: `node --import tsx bench/stream.ts fanin idle`) */
  parts?: string[];
}

type Package = typeof import("../src/index.js");
const load = async (): Promise<Package> => (await import(join(ROOT, "dist", "index.js"))) as Package;

/** Every figure of issue 19, in one run; the ratios are printed and kept in the notes. */
export async function streamScenarios(
  presque: Child,
  redis: Redis,
  connection: bull.Connection,
  opts: StreamBenchOptions,
): Promise<Scenario[]> {
  const out: Scenario[] = [];
  const meter = () => cpuMeter(presque.proc.pid, opts.redisPid);
  const part = (name: string) => !opts.parts || opts.parts.includes(name);
  await redis.flushall(); // what earlier scenarios left (the scale section's idle queues) out of these figures
  if (part("drains")) out.push(...(await drains(presque, connection, opts.rounds, meter, opts.redisPid)));
  await redis.flushall();
  if (part("fanin")) out.push(...(await fanIns(presque, opts.duration, meter)));
  await redis.flushall();
  if (part("python")) out.push(...(await pythons(presque)));
  await redis.flushall();
  if (part("idle")) out.push(await idle(presque, redis, meter));
  return out;
}

// --- the Worker over each transport, and BullMQ's

async function workerDrain(presque: Child, queue: string, transport: "stream" | "poll") {
  const { Worker } = await load();
  await fill(presque, queue, DRAIN_JOBS);
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const worker = new Worker({
    url: presque.url,
    queues: queue,
    concurrency: 50,
    lease: 30,
    wait: 1,
    handleSignals: false,
    maxJobs: DRAIN_JOBS,
    transport,
    handler: () => {},
  });
  worker.on("stopped", () => finished());
  const t0 = performance.now();
  await worker.start();
  await done;
  if (worker.transport !== transport) throw new Error(`the Worker took ${worker.transport}, not ${transport}`);
  return { done: worker.counts.done, seconds: (performance.now() - t0) / 1000 };
}

const figure = (id: string, label: string, jobs: number, seconds: number, extra: Partial<Scenario> = {}): Scenario => ({
  id,
  label,
  seconds,
  jobs,
  jobsPerSec: jobs / seconds,
  non2xx: 0,
  errors: 0,
  valid: true,
  ...extra,
});

async function drains(
  presque: Child,
  connection: bull.Connection,
  rounds: number,
  meter: () => () => CpuUse,
  redisPid: number,
): Promise<Scenario[]> {
  log(`- stream: Worker drains (stream, poll) and BullMQ's, ${DRAIN_JOBS} jobs, ${WARMUP_DRAINS} untimed each, ${rounds} rounds`);
  for (let i = 0; i < WARMUP_DRAINS; i++) {
    await workerDrain(presque, "bench-stream-worker", "stream");
    await workerDrain(presque, "bench-poll-worker", "poll");
    await bull.drain(connection, DRAIN_JOBS, 50, payload);
  }
  const runs: Record<string, Scenario[]> = { stream: [], poll: [], bull: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const transport of ["stream", "poll"] as const) {
      await fill(presque, `bench-${transport}-worker`, DRAIN_JOBS);
      const cpu = meter();
      const { done, seconds } = await workerDrain(presque, `bench-${transport}-worker`, transport);
      runs[transport].push({
        ...figure(`stream.worker_${transport}`, `Worker drain, transport ${transport} (concurrency 50)`, done, seconds, {
          valid: done === DRAIN_JOBS,
          cpu: cpu(),
        }),
        round,
      });
    }
    const f = await bull.drain(connection, DRAIN_JOBS, 50, payload, () => cpuMeter(undefined, redisPid));
    runs.bull.push({ ...figure("stream.bullmq_worker", "BullMQ Worker drain (concurrency 50)", f.jobs, f.seconds, { cpu: f.cpu }), round });
  }
  const ratios = (a: string, b: string) => runs[a].map((r, i) => r.jobsPerSec! / runs[b][i].jobsPerSec!);
  const vsPoll = ratios("stream", "poll");
  const vsBull = ratios("stream", "bull");
  const note = (xs: number[]) => `median ${median(xs)!.toFixed(2)}x (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  const stream = fromRounds(runs.stream);
  stream.note = `${note(vsPoll)} the long-poll Worker's jobs/s (target 1.5x); ${note(vsBull)} BullMQ's (target 3x)`;
  log(`  stream Worker: ${stream.note}`);
  return [stream, fromRounds(runs.poll), fromRounds(runs.bull)];
}

// --- push to delivery, 200 consumers: streamed, and long-polling

async function fanIns(presque: Child, seconds: number, meter: () => () => CpuUse): Promise<Scenario[]> {
  log(`- stream: push-to-delivery with ${CONSUMERS} consumers, streamed and long-polling, ${seconds} s each`);
  await fanIn(presque, "bench-fanin-stream", seconds / 2, "stream", meter);
  const streamed = await fanIn(presque, "bench-fanin-stream", seconds, "stream", meter);
  await fanIn(presque, "bench-fanin-poll", seconds / 2, "poll", meter);
  const polled = await fanIn(presque, "bench-fanin-poll", seconds, "poll", meter);
  streamed.note += `; p99 ${(streamed.p99! / polled.p99!).toFixed(2)}x the long-poll fan-in's (target below 1x)`;
  log(`  streamed p99 ${streamed.p99?.toFixed(2)} ms, long-poll p99 ${polled.p99?.toFixed(2)} ms`);
  return [streamed, polled];
}

async function fanIn(presque: Child, queue: string, seconds: number, how: "stream" | "poll", meter: () => () => CpuUse): Promise<Scenario> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONSUMERS + 2 });
  const latency = new Samples();
  let delivered = 0;
  let pushed = 0;
  let errors = 0;
  let stopping = false;
  const onJob = (data: { t: number }) => {
    latency.add(performance.now() - data.t);
    delivered++;
  };
  let consumers: Promise<unknown>;
  const sockets: WebSocket[] = [];
  const abort = new AbortController();
  setMaxListeners(CONSUMERS + 10, abort.signal);
  if (how === "stream") {
    // each consumer holds one job at a time: the ack and the next credit go together
    await Promise.all(
      Array.from({ length: CONSUMERS }, async () => {
        const ws = new WebSocket(`${presque.url.replace("http", "ws")}/c/${queue}?lease=30`, { perMessageDeflate: false });
        sockets.push(ws);
        ws.on("message", (raw) => {
          const m = JSON.parse(raw.toString());
          if (!m.jobs) return;
          for (const job of m.jobs) onJob(job.data);
          ws.send(JSON.stringify({ ack: m.jobs.map((j: { id: string; attempt: number }) => ({ id: j.id, attempt: j.attempt })) }));
          ws.send(`{"credit":${m.jobs.length}}`);
        });
        await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
        ws.send('{"credit":1}');
      }),
    );
    consumers = Promise.resolve();
  } else {
    consumers = loops(
      CONSUMERS,
      () => stopping,
      async () => {
        try {
          const r = await send(agent, presque.url, "GET", `/q/${queue}?wait=10`, undefined, {}, abort.signal);
          if (r.status === 200) onJob(JSON.parse(r.body.toString()));
        } catch {
          if (!stopping) errors++;
        }
      },
    );
  }
  await sleep(500);
  const cpu = meter();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const r = await send(agent, presque.url, "POST", `/q/${queue}`, JSON.stringify({ t: performance.now() }), JSON_HEADERS);
    if (r.status === 201) pushed++;
    else errors++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  const cores = cpu();
  for (let i = 0; i < 100 && delivered < pushed; i++) await sleep(20);
  stopping = true;
  abort.abort();
  for (const ws of sockets) ws.close();
  await consumers;
  agent.destroy();
  const { p50, p99 } = latency.summary();
  const lost = pushed - delivered;
  const label =
    how === "stream" ? `stream fan-in (${CONSUMERS} sockets, credit 1 each)` : `long-poll fan-in (${CONSUMERS} waiting, same run)`;
  return figure(`stream.fanin_${how}`, label, delivered, elapsed, {
    p50,
    p99,
    errors,
    valid: errors === 0 && lost === 0 && delivered > 0,
    note: `p50/p99: push to delivery${lost ? `; ${lost} pushed, not delivered` : ""}`,
    cpu: cores,
  });
}

// --- the Python examples

/** A python3 with websockets: Debian's own, if the one on PATH lacks it. */
function python(): string | undefined {
  for (const p of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(p, ["-c", "import websockets"], { stdio: "ignore" });
      return p;
    } catch {
      // not this one
    }
  }
  return undefined;
}

async function pythons(presque: Child): Promise<Scenario[]> {
  const py = python();
  if (!py) {
    log("- stream: no python3 with websockets: the Python figures are left out");
    return [];
  }
  log(`- stream: the Python examples draining ${PYTHON_JOBS} jobs each (long polls, then the stream)`);
  const run = async (script: string, queue: string) => {
    await fill(presque, queue, PYTHON_JOBS);
    const t0 = performance.now();
    const child = spawn(py, [join(ROOT, "examples", "python", script), queue], {
      env: { ...process.env, PRESQUE_URL: presque.url, WAIT: "1" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    for (;;) {
      const r = (await (await fetch(`${presque.url}/j/${queue}`)).json()) as {
        job_count: number;
        job_leased: number;
        job_processed: number;
      };
      if (r.job_count === 0 && r.job_leased === 0) break;
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    child.kill("SIGINT");
    await new Promise((resolve) => child.once("exit", resolve));
    return seconds;
  };
  const polled = await run("worker.py", "bench-py-poll");
  const streamed = await run("stream_worker.py", "bench-py-stream");
  const ratio = polled / streamed;
  log(
    `  Python: long polls ${(PYTHON_JOBS / polled).toFixed(0)} jobs/s, stream ${(PYTHON_JOBS / streamed).toFixed(0)} jobs/s: ${ratio.toFixed(2)}x`,
  );
  return [
    figure("stream.python_poll", "examples/python/worker.py (long polls, batches of 10)", PYTHON_JOBS, polled, {
      note: "from start-up to the queue drained",
    }),
    figure("stream.python_stream", "examples/python/stream_worker.py (credit 100)", PYTHON_JOBS, streamed, {
      note: `${ratio.toFixed(2)}x the long-poll example's jobs/s (target 3x); from start-up to the queue drained`,
    }),
  ];
}

// --- idle sockets

async function idle(presque: Child, redis: Redis, meter: () => () => CpuUse): Promise<Scenario> {
  log(`- stream: ${IDLE_SOCKETS} idle sockets on ${IDLE_QUEUES} queues, ${IDLE_WINDOWS} x 10 s`);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < IDLE_SOCKETS; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, k) => {
        const ws = new WebSocket(`${presque.url.replace("http", "ws")}/c/bench-idle-${(i + k) % IDLE_QUEUES}`, {
          perMessageDeflate: false,
        });
        sockets.push(ws);
        await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
        ws.send('{"credit":10}');
      }),
    );
  }
  await sleep(2000);
  // Five windows, the median the figure: one or two of the first, 5 to 20 s after the last upgrade,
  // hold V8's major GCs of the heap that the thousand upgrades grew (50 MB, 19 MB after them), a
  // cost of having connected rather than of staying connected.
  const windows: Array<{ cores: CpuUse; use: ReturnType<typeof commandUse> }> = [];
  for (let w = 0; w < IDLE_WINDOWS; w++) {
    const before = await commandCounts(redis);
    const cpu = meter();
    await sleep(10_000);
    const cores = cpu();
    windows.push({ cores, use: commandUse(before, await commandCounts(redis)) });
  }
  for (const ws of sockets) ws.terminate();
  const { cores, use } = [...windows].sort((a, b) => a.cores.server - b.cores.server)[Math.floor(IDLE_WINDOWS / 2)];
  const each = windows.map((w) => `${(w.cores.server * 100).toFixed(2)} %`).join(", ");
  const note =
    `presque ${(cores.server * 100).toFixed(2)} % of a core (median of ${IDLE_WINDOWS} windows of 10 s: ${each}), redis-server ${(cores.redis * 100).toFixed(2)} %; ` +
    `${(use.all / 10).toFixed(0)} Redis commands/s (${(use.scripts / 10).toFixed(0)} script calls/s: the once-a-second re-check of ${RECHECK_BATCH} queues)`;
  log(`  idle: ${note}`);
  return figure("stream.idle", `${IDLE_SOCKETS} idle sockets on ${IDLE_QUEUES} queues (median of ${IDLE_WINDOWS} x 10 s)`, 0, 10, {
    note,
    cpu: cores,
  });
}

// --- alone

async function main(): Promise<void> {
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]);
  const presque = await startPresque(redisServer.url);
  try {
    const scenarios = await streamScenarios(
      presque,
      redis,
      { host: redisServer.host, port: redisServer.port },
      { rounds: 3, duration: 6, redisPid, parts: process.argv.length > 2 ? process.argv.slice(2) : undefined },
    );
    for (const s of scenarios) {
      const rate = s.jobsPerSec ? `${s.jobsPerSec.toFixed(0)} jobs/s` : "";
      const p = s.p99 !== undefined ? ` p50 ${s.p50?.toFixed(2)} ms p99 ${s.p99.toFixed(2)} ms` : "";
      process.stdout.write(`${s.id.padEnd(24)} ${rate}${p}${s.valid ? "" : " (NOT VALID)"}${s.note ? `  ${s.note}` : ""}\n`);
    }
  } finally {
    await presque.stop();
    closeFill();
    redis.disconnect();
    await redisServer.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (err) => {
      killAll();
      process.stderr.write(`bench/stream: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
