// Issue 10's figures: the Worker class draining a queue (beside BullMQ's Worker), `presque push`
// of JSON lines, and `presque work -- true` beside `xargs -P 4 -n 1 true`.
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { CpuUse } from "./cpu.js";
import type { Child } from "./procs.js";
import { ROOT } from "./procs.js";
import { fill, payload } from "./queue.js";
import type { Scenario } from "./report.js";

export const WORKER_JOBS = 50_000;
export const PUSH_LINES = 100_000;
export const WORK_JOBS = 2_000;
/** untimed drains of WORKER_JOBS before the timed one, for the Worker and for BullMQ's alike: a
 *  fresh process (worker and server) needs about three to reach the speed it then keeps */
export const WARMUP_DRAINS = 3;

type Package = typeof import("../src/index.js");
const CLI = join(ROOT, "dist", "cli.js");

/** The compiled package, as users run it (not src/ through tsx's loader, which would slow it). */
async function load(): Promise<Package> {
  const path = join(ROOT, "dist", "index.js");
  return (await import(path)) as Package;
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

/** A Worker, concurrency 50, leases on, no-op handler, draining `jobs` jobs filled beforehand. */
async function drain(presque: Child, queue: string, jobs: number): Promise<{ done: number; seconds: number }> {
  const { Worker } = await load();
  await fill(presque, queue, jobs);
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const worker = new Worker({
    url: presque.url,
    queues: queue,
    concurrency: 50,
    lease: 30,
    wait: 1,
    handleSignals: false,
    maxJobs: jobs,
    handler: () => {},
  });
  worker.on("stopped", () => finished());
  const t0 = performance.now();
  await worker.start();
  await done;
  return { done: worker.counts.done, seconds: (performance.now() - t0) / 1000 };
}

/** Untimed drains that bring a fresh Worker and server up to speed (see WARMUP_DRAINS). */
export async function warmWorker(presque: Child, queue: string): Promise<void> {
  for (let i = 0; i < WARMUP_DRAINS; i++) await drain(presque, queue, WORKER_JOBS);
}

/** The Worker draining WORKER_JOBS jobs, timed. */
export async function workerDrain(presque: Child, queue: string, meter: () => () => CpuUse): Promise<Scenario> {
  await fill(presque, queue, WORKER_JOBS);
  const cpu = meter();
  const { done, seconds } = await drain(presque, queue, WORKER_JOBS);
  const valid = done === WORKER_JOBS;
  return figure("client.worker", "Worker drain (concurrency 50, leased, no-op)", done, seconds, {
    bullmq: "bullmq.worker",
    valid,
    cpu: cpu(),
    note: valid ? `${WORKER_JOBS.toLocaleString("en-US")} jobs, batch ack` : `only ${done} done`,
  });
}

/** `presque push <queue>` with PUSH_LINES JSON lines on stdin, timed from spawn to exit. */
export async function cliPush(presque: Child, queue: string): Promise<Scenario> {
  const lines = Buffer.from(Array.from({ length: PUSH_LINES }, (_, i) => `${JSON.stringify(payload(i))}\n`).join(""));
  const t0 = performance.now();
  const { code, out } = await run(process.execPath, [CLI, "push", queue, "--url", presque.url], lines);
  const seconds = (performance.now() - t0) / 1000;
  const valid = code === 0 && out.includes(`"pushed":${PUSH_LINES}`);
  return figure("client.push", "presque push (JSON lines on stdin)", PUSH_LINES, seconds, {
    valid,
    note: valid ? `${PUSH_LINES.toLocaleString("en-US")} lines, one process, batches of 1000` : `exit ${code}: ${out}`,
  });
}

/** `presque work -c 4 -- true` over WORK_JOBS jobs, beside `xargs -P 4 -n 1 true` over as many. */
export async function cliWork(presque: Child, queue: string): Promise<Scenario[]> {
  await fill(presque, queue, WORK_JOBS);
  const t0 = performance.now();
  const work = await run(process.execPath, [
    CLI,
    "work",
    queue,
    "-c",
    "4",
    "--max-jobs",
    String(WORK_JOBS),
    "--url",
    presque.url,
    "--",
    "true",
  ]);
  const workSeconds = (performance.now() - t0) / 1000;
  const args = Buffer.from(Array.from({ length: WORK_JOBS }, (_, i) => `${i}\n`).join(""));
  const t1 = performance.now();
  const xargs = await run("xargs", ["-P", "4", "-n", "1", "true"], args);
  const xargsSeconds = (performance.now() - t1) / 1000;
  const ratio = xargsSeconds / workSeconds;
  return [
    figure("client.xargs", "xargs -P 4 -n 1 true (a process per line)", WORK_JOBS, xargsSeconds, { valid: xargs.code === 0 }),
    figure("client.work", "presque work -c 4 -- true (a process per job)", WORK_JOBS, workSeconds, {
      valid: work.code === 0,
      note: work.code === 0 ? `${ratio.toFixed(2)}x xargs's jobs/s` : `exit ${work.code}`,
    }),
  ];
}

function run(command: string, args: string[], input?: Buffer): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", () => {}); // presque work's JSON log lines: not needed here
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}
