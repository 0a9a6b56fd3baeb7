// PLACEHOLDER (dashboard branch): the metrics work provides the real module, which reads the
// counters, the run-time histogram and the per-minute ring that the scripts keep in Redis. This one
// has the same signature and answers zeros, so that the dashboard compiles and draws empty figures;
// the lead replaces it at merge.
import type { Store } from "./store.js";

export interface QueueMetrics {
  queue: string;
  counters: { pushed: number; delivered: number; acked: number; failed_error: number; failed_lease_expired: number; dead: number };
  /** bounds: seconds ascending without +Inf; counts per bucket (not cumulative), length bounds.length+1; sum seconds */
  runtime: { bounds: number[]; counts: number[]; sum: number; count: number };
  /** the last 15 epoch-minutes including the current one, oldest first, zero-filled */
  minutes: Array<{ minute: number; pushed: number; acked: number; failed: number }>;
}

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export async function readQueueMetrics(_store: Store, queues: string[], nowMs = Date.now()): Promise<QueueMetrics[]> {
  const current = Math.floor(nowMs / 60_000);
  return queues.map((queue) => ({
    queue,
    counters: { pushed: 0, delivered: 0, acked: 0, failed_error: 0, failed_lease_expired: 0, dead: 0 },
    runtime: { bounds: BOUNDS, counts: new Array(BOUNDS.length + 1).fill(0), sum: 0, count: 0 },
    minutes: Array.from({ length: 15 }, (_, i) => ({ minute: current - 14 + i, pushed: 0, acked: 0, failed: 0 })),
  }));
}
