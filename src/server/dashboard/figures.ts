// What the dashboard shows of a queue's metrics, worked out from what Redis keeps: run-time
// percentiles from the histogram's buckets, rates and 15-minute series from the per-minute ring.
// Pure functions, so that they are tested without Redis or a browser.
import type { QueueMetrics } from "../../store/metrics.js";

/**
 * The q-quantile (0..1) of a histogram whose `counts` are per bucket (not cumulative), the last one
 * above every bound: found by linear interpolation inside the bucket that holds it, from 0 for the
 * first bucket, as Prometheus's histogram_quantile does. A quantile in the open last bucket is
 * reported as the highest bound (all that is known is that it lies above). null without data.
 */
export function quantile(runtime: QueueMetrics["runtime"], q: number): number | null {
  const { bounds, counts } = runtime;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0 || bounds.length === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const inside = counts[i];
    if (inside > 0 && below + inside >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - below) / inside);
    }
    below += inside;
  }
  return bounds[bounds.length - 1];
}

export interface Series {
  pushed: number[];
  acked: number[];
  failed: number[];
}

/** How many of the last minutes the rates are averaged over (the current one included). */
export const RATE_MINUTES = 5;

/**
 * Jobs per second over the last RATE_MINUTES minutes, the current one counted for the part of it
 * that has passed, so that a rate follows a burst at once and does not drop when a minute begins.
 * The minutes are the ring's, oldest first, the last one the current minute.
 */
export function rates(minutes: QueueMetrics["minutes"], nowMs: number): { pushed: number; acked: number; failed: number } {
  const recent = minutes.slice(-RATE_MINUTES);
  const current = Math.floor(nowMs / 60_000);
  const intoCurrent = (nowMs - current * 60_000) / 1000;
  // the current minute may be missing from the ring (a reading a moment old): whole minutes then
  const last = recent[recent.length - 1];
  const seconds = last && last.minute === current ? (recent.length - 1) * 60 + Math.max(1, intoCurrent) : recent.length * 60;
  const sum = (key: "pushed" | "acked" | "failed") => recent.reduce((a, m) => a + m[key], 0);
  if (seconds <= 0) return { pushed: 0, acked: 0, failed: 0 };
  return { pushed: sum("pushed") / seconds, acked: sum("acked") / seconds, failed: sum("failed") / seconds };
}

/** The per-minute counts as three series, oldest first, for the sparklines. */
export function series(minutes: QueueMetrics["minutes"]): Series {
  return { pushed: minutes.map((m) => m.pushed), acked: minutes.map((m) => m.acked), failed: minutes.map((m) => m.failed) };
}

/** Everything the page shows of one queue's metrics. */
export function queueFigures(m: QueueMetrics, nowMs: number) {
  return { rates: rates(m.minutes, nowMs), series: series(m.minutes), p50: quantile(m.runtime, 0.5), p95: quantile(m.runtime, 0.95) };
}
