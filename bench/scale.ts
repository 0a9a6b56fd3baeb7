// Costs at scale on one Redis (issue 9): many idle queues, and the purge of a very large queue.
// The queues are filled through presque's own Store (the push script and the listing beside it),
// so they hold exactly what pushes would have written, only faster than over HTTP.
import { Redis } from "ioredis";
import { DEFAULTS } from "../src/server/config.js";
import { createLogger } from "../src/shared/log.js";
import { Store } from "../src/store/store.js";
import { commandCounts, commandUse } from "./redisstats.js";
import { cpuMeter } from "./cpu.js";
import { sleep } from "./load.js";
import { JOB } from "./queue.js";

const PREFIX = DEFAULTS.redis.prefix;

async function openStore(url: string): Promise<{ store: Store; redis: Redis }> {
  // no command timeout: a fill call of 50,000 jobs takes a while
  const redis = new Redis(url, { connectionName: "bench-fill" });
  const log = createLogger("warn");
  const options = { prefix: PREFIX, defaults: DEFAULTS.jobs, commandTimeoutMs: DEFAULTS.redis.command_timeout, log };
  return { store: await Store.open(redis, options), redis };
}

/** `count` queues named idle-<n> with one ready job each, pushed 1000 at a time (pipelined). */
export async function fillIdleQueues(url: string, count: number): Promise<number> {
  const { store, redis } = await openStore(url);
  const t0 = performance.now();
  try {
    for (let from = 0; from < count; from += 1000) {
      const names = Array.from({ length: Math.min(1000, count - from) }, (_, i) => `idle-${from + i}`);
      await Promise.all(names.map((q) => store.push(q, [JOB])));
    }
  } finally {
    redis.disconnect();
  }
  return (performance.now() - t0) / 1000;
}

/** One queue of `jobs` ready jobs, pushed `chunk` jobs per script call. */
export async function fillQueue(url: string, queue: string, jobs: number, chunk = 50_000): Promise<number> {
  const { store, redis } = await openStore(url);
  const t0 = performance.now();
  try {
    const payloads = new Array<string>(chunk).fill(JOB);
    for (let done = 0; done < jobs; done += chunk) await store.push(queue, payloads.slice(0, Math.min(chunk, jobs - done)));
  } finally {
    redis.disconnect();
  }
  return (performance.now() - t0) / 1000;
}

export interface Stall {
  /** the longest PING round trip seen from the start of `action` until `settleMs` after it, ms */
  pingMaxMs: number;
  /** the same over as long a time just before `action`, with nothing else running: what the
   *  machine's own scheduling adds to a round trip (on a shared 2-core machine, tens of ms) */
  quietPingMaxMs: number;
  pings: number;
  /** the largest latency Redis's LATENCY monitor recorded (threshold 1 ms), by event */
  latency: Record<string, number>;
  actionMs: number;
}

/** Runs `action` while a connection of its own PINGs Redis back to back (about one a ms or
 *  faster), and with Redis's latency monitor on: the longest time Redis kept a client waiting. */
export async function stallDuring(url: string, action: () => Promise<unknown>, settleMs = 1000): Promise<Stall> {
  const admin = new Redis(url);
  const pinger = new Redis(url);
  try {
    await admin.config("SET", "latency-monitor-threshold", "1");
    await admin.latency("RESET");
    let stop = false;
    let pingMaxMs = 0;
    let pings = 0;
    const probe = (async () => {
      while (!stop) {
        const t = performance.now();
        await pinger.ping();
        pingMaxMs = Math.max(pingMaxMs, performance.now() - t);
        pings++;
      }
    })();
    await sleep(200);
    pingMaxMs = 0;
    await sleep(settleMs + 200);
    const quietPingMaxMs = pingMaxMs;
    pingMaxMs = 0;
    pings = 0;
    await admin.latency("RESET");
    const t0 = performance.now();
    await action();
    const actionMs = performance.now() - t0;
    // memory freed in the background (UNLINK, lazyfree) must not stall Redis either
    await sleep(settleMs);
    stop = true;
    await probe;
    const latency: Record<string, number> = {};
    for (const [event, , , max] of (await admin.latency("LATEST")) as Array<[string, number, number, number]>) latency[event] = max;
    await admin.config("SET", "latency-monitor-threshold", "0");
    return { pingMaxMs, quietPingMaxMs, pings, latency, actionMs };
  } finally {
    admin.disconnect();
    pinger.disconnect();
  }
}

/** What a presque process and Redis spend per second while no request comes: the periodic work. */
export async function idleCost(redis: Redis, presquePid: number | undefined, redisPid: number, seconds: number) {
  const before = await commandCounts(redis);
  const cpu = cpuMeter(presquePid, redisPid);
  await sleep(seconds * 1000);
  const cores = cpu();
  const use = commandUse(before, await commandCounts(redis));
  return { commandsPerSec: use.all / seconds, presqueCores: cores.server, redisCores: cores.redis, byCommand: use.byCommand };
}
