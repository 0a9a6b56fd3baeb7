// Many consumers long-polling one queue while one producer posts: delivery rate and latency.
import { setMaxListeners } from "node:events";
import { Agent } from "node:http";
import type { Redis } from "ioredis";
import { cpuMeter } from "../cpu.js";
import { loops, Samples, send, sleep } from "../load.js";
import type { Child } from "../procs.js";
import { JSON_HEADERS } from "../queue.js";
import { commandCounts, commandUse, probe, socketCounts } from "../redisstats.js";
import { DURATION, log, machine, report, serverPid, WARMUP, wanted, type Section } from "../settings.js";

const LONGPOLL_CONSUMERS = 200;

export const longPollSection: Section = { groups: ["presque"], run: ({ presque, redis }) => longPoll(presque, redis) };

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
    const cpu = cpuMeter(serverPid(presque), machine.redisPid);
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
