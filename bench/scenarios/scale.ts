// Issue 9's scenarios: presque with many idle queues, idle, and purging a huge queue.
import type { Redis } from "ioredis";
import { consumer, helloBound, measure } from "../measure.js";
import type { Child } from "../procs.js";
import { JOB, JSON_HEADERS } from "../queue.js";
import { usedMemory } from "../redisstats.js";
import { ratio, type Scenario } from "../report.js";
import { fillIdleQueues, fillQueue, idleCost, stallDuring } from "../scale.js";
import { sleep } from "../load.js";
import { log, machine, report, serverPid, WARMUP, wanted, type Section } from "../settings.js";

/** issue 9: idle queues present while POST /q and GET /q run, and the size of the queue purged */
const IDLE_QUEUES = 100_000;
const PURGE_JOBS = 10_000_000;

export const scaleSection: Section = { groups: ["scale"], run: ({ presque, redis, redisUrl }) => scale(presque, redis, redisUrl) };

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
    const idle = await idleCost(redis, serverPid(presque), machine.redisPid, 5);
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
