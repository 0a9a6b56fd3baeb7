// One autocannon scenario: a warm-up, then a measured run, with what Redis and the processes spent
// on it; and the fills that keep a consumer scenario's queue from running dry.
import type { Redis } from "ioredis";
import { cannon, type CannonSpec, type Load } from "./load.js";
import type { Child } from "./procs.js";
import { figures, fill, type Figures } from "./queue.js";
import { commandCounts, commandUse, probe, socketCounts } from "./redisstats.js";
import type { Scenario } from "./report.js";
import { cpuMeter } from "./cpu.js";
import { CONNECTIONS, DURATION, log, machine, report, ROUNDS, serverPid, WARMUP, wanted } from "./settings.js";

/** at most this many requests in the MONITOR probe after each run that counts Redis commands */
const PROBE_REQUESTS = 1000;

/** Fills for a consumer scenario on `queue`. Before the warm-up: for `bound` jobs/s (the most it
 *  could take) over the warm-up. After it: 1.6 x what the warm-up took per second, over the run. */
export const consumer = (presque: Child, queue: string) => ({
  before: (bound: number, warmup: number) => fill(presque, queue, Math.ceil(bound * warmup * 1.3)),
  prepare: async (rate: number) => {
    await fill(presque, queue, Math.ceil(rate * DURATION * 1.6) + 10_000);
  },
});

export interface HttpScenario {
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
export interface RunSettings {
  warmup: number;
  probe: boolean;
  round?: number;
}

/** Warm-up, measured run, Redis probe: one scenario's figures. */
export async function measure(s: HttpScenario, run: RunSettings): Promise<Scenario> {
  log(`- ${s.label}${run.round === undefined ? "" : ` (round ${run.round}/${ROUNDS})`}`);
  const warmBefore = s.presque ? await figures(s.presque.server, s.presque.queue) : undefined;
  const warm = await cannon(s.spec, CONNECTIONS, run.warmup);
  const warmJobs = (await jobsMoved(s, warmBefore, warm)) ?? warm.ok;
  if (s.prepare) await s.prepare(warmJobs / warm.seconds);

  const before = s.presque ? await figures(s.presque.server, s.presque.queue) : undefined;
  const statsBefore = s.redis ? await commandCounts(s.redis) : undefined;
  const ioBefore = s.redis ? await socketCounts(s.redis) : undefined;
  const cpu = cpuMeter(serverPid(s.server), machine.redisPid);
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
export async function httpScenario(s: HttpScenario): Promise<Scenario | undefined> {
  if (!wanted(s.id)) return undefined;
  return report.add(await measure(s, { warmup: WARMUP, probe: true }));
}
/** jobs/s no consumer scenario can reach: the sizing of the fill before a warm-up */
export const helloBound = () => report.get("hello.get")?.reqPerSec ?? 100_000;
