// The interleaved rounds: hello-world, naive and presque side by side, each presque run seconds
// after the baseline run it is compared with (see bench/README.md, "Rounds").
import { resolve } from "node:path";
import type { Redis } from "ioredis";
import { measure, consumer, type HttpScenario, type RunSettings } from "../measure.js";
import { startBaseline, startPresque, type Child } from "../procs.js";
import { JOB, JSON_HEADERS } from "../queue.js";
import { fromRounds, type Scenario } from "../report.js";
import { DURATION, flags, report, ROUNDS, section, WARMUP, wanted } from "../settings.js";

/** The scenarios whose ratios matter most, in the order a round runs them: each presque run right
 *  after its baseline's, so that the runs a ratio compares are seconds apart, not minutes. */
export const ROUND_ORDER = ["hello.get", "naive.post", "presque.post_q", "naive.get", "presque.get_q"];
/** the order of the table: baselines first, as the other sections print */
export const ROUND_TABLE_ORDER = ["hello.get", "naive.post", "naive.get", "presque.post_q", "presque.get_q"];

export const NAIVE_LIST = "naive:jobs";

/** The servers under test. Each starts once, when a wanted scenario needs it, and stays up through
 *  every round: an idle server costs nothing, and a restart between runs would put its start-up
 *  and JIT warm-up between the runs a ratio compares. */
export interface Servers {
  hello?: Child;
  naive?: Child;
  presque?: Child;
}

export async function startServers(redisUrl: string, presqueWanted: boolean): Promise<Servers> {
  const hello = section("hello") ? await startBaseline("hello", "hello.ts") : undefined;
  const naive = section("naive") ? await startBaseline("naive", "naive.ts", [redisUrl, NAIVE_LIST]) : undefined;
  const presque = presqueWanted
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
export const roundWarmup = (round: number) => (round === 1 ? WARMUP : WARMUP / 2);

/** The ratio-critical scenarios, ROUNDS times over in ROUND_ORDER. Throughput drifts by a fifth over
 *  minutes on a shared machine; within a round the runs a ratio compares are seconds apart. */
export async function rounds(servers: Servers, redis: Redis): Promise<void> {
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
