// What the scripts count (lua/includes/metrics.lua), read back for GET /metrics and the dashboard:
// one queueMetrics script call per queue, a few hundred queues per round trip (one pipeline on one
// Redis; on a cluster, concurrent calls that the client sends to each queue's master).
import type { Store } from "./store.js";
import { isCluster } from "./topology.js";

/** Upper bounds of the run-time buckets in seconds, as the scripts keep them (in ms). */
export const RUN_BOUNDS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** The minute ring's slots (RING_SLOTS in the Lua); the readers show the last MINUTES of them. */
const RING_SLOTS = 16;
export const MINUTES = 15;
/** Queues per round trip. */
export const READ_CHUNK = 250;

export interface QueueMetrics {
  queue: string;
  counters: { pushed: number; delivered: number; acked: number; failed_error: number; failed_lease_expired: number; dead: number };
  /** bounds: upper bounds in seconds ascending, without +Inf; counts: per bucket (not cumulative),
   *  bounds.length + 1 of them (the last is +Inf); sum in seconds */
  runtime: { bounds: number[]; counts: number[]; sum: number; count: number };
  /** the last 15 epoch-minutes (Math.floor(ms / 60000)) up to and including the current one, oldest first, zero-filled */
  minutes: Array<{ minute: number; pushed: number; acked: number; failed: number }>;
}

/** The queue's figures now, read in the same script call (GET /metrics's gauges). */
export interface QueueGauges {
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  stopped: boolean;
  workers: number;
  /** seconds since the oldest ready job was pushed (by Redis's clock); 0 with none ready, null
   *  when its push time is unknown (pushed by a presque that does not mark pushes) */
  oldestReadyAge: number | null;
}

export type QueueReading = QueueMetrics & { gauges: QueueGauges };

export async function readQueueMetrics(store: Store, queues: string[], nowMs?: number): Promise<QueueMetrics[]> {
  return (await readQueues(store, queues, nowMs)).map(({ gauges: _, ...m }) => m);
}

/** readQueueMetrics with each queue's gauges (and without the minutes, which GET /metrics does not
 *  show, unless withMinutes). A queue whose reading failed (its node is down) is left out. */
export async function readQueues(store: Store, queues: string[], nowMs?: number, withMinutes = true): Promise<QueueReading[]> {
  const out: QueueReading[] = [];
  for (let i = 0; i < queues.length; i += READ_CHUNK) {
    const names = queues.slice(i, i + READ_CHUNK);
    const replies = await callEach(store, names, withMinutes);
    names.forEach((queue, j) => {
      const reply = replies[j];
      if (reply) out.push(decode(queue, reply, nowMs, withMinutes));
    });
  }
  return out;
}

/** queueMetrics v3's integers: the gauges and Redis's clock (GAUGES of them), the counters
 *  (COUNTERS), then with the minutes each ring slot's tag, pushed, acked and failed. */
type Reply = number[];
const GAUGES = 8;
const COUNTER_FIELDS = ["pushed", "delivered", "acked", "failed_error", "failed_lease_expired", "dead"] as const;
/** the counters, rsum (ms), rcount, then a count per run-time bucket, +Inf last */
const COUNTERS = COUNTER_FIELDS.length + 2 + RUN_BOUNDS_SECONDS.length + 1;
const RING = GAUGES + COUNTERS;

async function callEach(store: Store, queues: string[], withMinutes: boolean): Promise<Array<Reply | null>> {
  // without the minutes, the script leaves the minute ring out of its reply
  const ring = withMinutes ? "1" : "";
  const calls = queues.map((q) => store.scriptCall("queueMetrics", q));
  const redis = store.redis;
  if (!isCluster(redis)) {
    const pipeline = redis.pipeline() as unknown as Record<string, (...a: string[]) => unknown> & {
      exec(): Promise<Array<[Error | null, unknown]> | null>;
    };
    for (const c of calls) pipeline[c.command](...c.keys, ring);
    const results = (await pipeline.exec()) ?? [];
    return calls.map((_, i) => (results[i]?.[0] ? null : ((results[i]?.[1] as Reply) ?? null)));
  }
  const client = redis as unknown as Record<string, (...a: string[]) => Promise<Reply>>;
  return Promise.all(calls.map((c) => client[c.command](...c.keys, ring).catch(() => null)));
}

function decode(queue: string, reply: Reply, nowMs: number | undefined, withMinutes: boolean): QueueReading {
  const [ready, delayed, leased, dead, stopped, workers, pushedAt, redisNow] = reply;
  const now = nowMs ?? redisNow;
  const current = Math.floor(now / 60000);
  const minutes: QueueMetrics["minutes"] = [];
  for (let minute = current - MINUTES + 1; withMinutes && minute <= current; minute++) {
    const at = RING + 4 * (((minute % RING_SLOTS) + RING_SLOTS) % RING_SLOTS);
    const tagged = reply[at] === minute;
    minutes.push({ minute, pushed: tagged ? reply[at + 1] : 0, acked: tagged ? reply[at + 2] : 0, failed: tagged ? reply[at + 3] : 0 });
  }
  const counters = {} as QueueMetrics["counters"];
  COUNTER_FIELDS.forEach((field, i) => (counters[field] = reply[GAUGES + i]));
  const runtime = GAUGES + COUNTER_FIELDS.length;
  return {
    queue,
    counters,
    runtime: {
      bounds: RUN_BOUNDS_SECONDS,
      counts: reply.slice(runtime + 2, RING),
      sum: reply[runtime] / 1000,
      count: reply[runtime + 1],
    },
    minutes,
    gauges: {
      ready,
      delayed,
      leased,
      dead,
      stopped: stopped === 1,
      workers,
      oldestReadyAge: ready === 0 ? 0 : pushedAt < 0 ? null : Math.max(0, (redisNow - pushedAt) / 1000),
    },
  };
}
