// presque work <queue> -- <command...>: any program becomes a worker. It runs once per job, with
// the job's JSON on stdin; exit 0 acknowledges the job, anything else fails it with the end of the
// program's stderr as the error.
import { spawn } from "node:child_process";
import { basename } from "node:path";
import type { Job } from "../../client/client.js";
import { Worker } from "../../client/worker.js";
import { number, parse, UsageError } from "./args.js";

const USAGE = `Usage: presque work <queue>[,<queue>...] [options] -- <command> [args...]
  Runs the command once per job: the job's JSON on its stdin, PRESQUE_JOB_ID, PRESQUE_ATTEMPT and
  PRESQUE_QUEUE in its environment. Exit 0 acknowledges the job; any other exit fails it (retried
  after backoff, then dead) with the last lines of the command's stderr as its error.
  SIGINT/SIGTERM: stops fetching, lets running commands finish for --grace seconds, then ends
  them and hands their jobs back, ready again at once (not when their leases run out).

Options:
  -c, --concurrency <n>  commands run at once (default 1)
  --lease <s>            lease per job, extended while the command runs (default 30)
  --timeout <s>          end a command after this long (SIGTERM, SIGKILL 5 s later) and fail its job
  --grace <s>            on SIGTERM, how long running commands may finish (default 10)
  --max-jobs <n>         stop after this many jobs
  --url <url>            presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>        API token (PRESQUE_TOKEN), when presque asks for one
`;

const KILL_AFTER_MS = 5000;
const STDERR_TAIL_BYTES = 2048;
const STDERR_TAIL_LINES = 10;

export async function workCommand(argv: string[]): Promise<number | void> {
  const dashes = argv.indexOf("--");
  const own = dashes === -1 ? argv : argv.slice(0, dashes);
  const command = dashes === -1 ? [] : argv.slice(dashes + 1);
  const args = parse(own, USAGE, {
    concurrency: { type: "string", short: "c" },
    lease: { type: "string" },
    timeout: { type: "string" },
    grace: { type: "string" },
    "max-jobs": { type: "string" },
  });
  if (!args) return;
  const queues = (args.positionals[0] ?? "").split(",").filter(Boolean);
  if (queues.length === 0) throw new UsageError(`a queue name is needed\n\n${USAGE}`);
  if (args.positionals.length > 1)
    throw new UsageError(`put the command after --: presque work ${queues.join(",")} -- ${args.positionals.slice(1).join(" ")}`);
  if (command.length === 0) throw new UsageError(`a command is needed after --\n\n${USAGE}`);
  const concurrency = Math.floor(number(args.values.concurrency, "concurrency", 1, 1));
  const lease = number(args.values.lease, "lease", 1, 30);
  const timeoutMs = args.values.timeout === undefined ? undefined : number(args.values.timeout, "timeout", 0.001, 0) * 1000;
  const graceMs = number(args.values.grace, "grace", 0, 10) * 1000;
  const maxJobs = args.values["max-jobs"] === undefined ? undefined : Math.floor(number(args.values["max-jobs"], "max-jobs", 1, 1));

  const log = progress(queues.join(","));
  const worker = new Worker({
    url: args.url,
    client: { token: args.token },
    queues,
    concurrency,
    lease,
    maxJobs,
    stopTimeout: graceMs,
    name: `work:${basename(command[0])}`,
    handler: (job, ctx) => runCommand(command, job, ctx.signal, timeoutMs),
  });
  worker.on("completed", (job: Job) => log.job("done", job));
  worker.on("failed", (job: Job, error: string) => log.job("failed", job, error));
  worker.on("error", (err: Error, about: Record<string, unknown>) => log.event("error", { error: err.message, ...about }));
  const ticker = setInterval(() => log.tick(worker.counts), 250);
  ticker.unref();
  try {
    await worker.start();
  } catch (err) {
    clearInterval(ticker);
    throw err;
  }
  log.event("started", { worker: worker.id, concurrency, lease });
  await worker.stopped;
  clearInterval(ticker);
  log.tick(worker.counts, true);
  log.event("stopped", { done: worker.counts.done, failed: worker.counts.failed });
}

/** Runs the command for one job in its own process group; resolves on exit 0, else throws. */
function runCommand(command: string[], job: Job, signal: AbortSignal, timeoutMs?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), {
      // its own process group, so that ending it ends whatever it started too
      detached: true,
      stdio: ["pipe", "inherit", "pipe"],
      env: { ...process.env, PRESQUE_JOB_ID: job.id, PRESQUE_ATTEMPT: String(job.attempt), PRESQUE_QUEUE: job.queue },
    });
    let tail = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    child.stdin!.on("error", () => {}); // a program that never reads its stdin is fine
    child.stdin!.end(JSON.stringify(job.data));

    let why: string | undefined;
    let killer: NodeJS.Timeout | undefined;
    const end = (reason: string) => {
      if (why) return;
      why = reason;
      group(child.pid, "SIGTERM");
      killer = setTimeout(() => group(child.pid, "SIGKILL"), KILL_AFTER_MS);
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => end(`timed out after ${timeoutMs / 1000} s`), timeoutMs);
    const onAbort = () => end(String((signal.reason as Error)?.message ?? "aborted"));
    signal.addEventListener("abort", onAbort, { once: true });

    child.once("error", (err) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      reject(new Error(`cannot run ${command[0]}: ${err.message}`));
    });
    child.once("close", (code, sig) => {
      clearTimeout(timer);
      clearTimeout(killer);
      signal.removeEventListener("abort", onAbort);
      if (code === 0 && !why) return resolve();
      const last = tail.trimEnd().split("\n").slice(-STDERR_TAIL_LINES).join("\n");
      const how = why ?? (sig ? `killed by ${sig}` : `exit code ${code}`);
      reject(new Error(last ? `${how}: ${last}` : how));
    });
  });
}

function group(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // gone already
  }
}

/** Live progress on a terminal (stderr), JSON lines otherwise. */
function progress(queue: string) {
  const tty = !!process.stderr.isTTY;
  const started = Date.now();
  const line = (fields: Record<string, unknown>) =>
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
  return {
    event(event: string, fields: Record<string, unknown> = {}) {
      if (tty) process.stderr.write(`\r\x1b[K${event}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ""}\n`);
      else line({ event, queue, ...fields });
    },
    job(event: "done" | "failed", job: Job, error?: string) {
      if (tty) {
        if (event === "failed")
          process.stderr.write(`\r\x1b[Kjob ${job.id} (attempt ${job.attempt}) failed: ${error?.split("\n").pop()}\n`);
        return;
      }
      line({ event, queue: job.queue, id: job.id, attempt: job.attempt, ...(error !== undefined && { error }) });
    },
    tick(counts: { done: number; failed: number; running: number }, final = false) {
      if (!tty) return;
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      const rate = (counts.done + counts.failed) / seconds;
      process.stderr.write(
        `\r\x1b[K${queue}: ${counts.done} done, ${counts.failed} failed, ${counts.running} running, ` +
          `${rate.toFixed(1)} jobs/s${final ? "\n" : ""}`,
      );
    },
  };
}
