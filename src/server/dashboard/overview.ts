// One reading of what the dashboard shows: a page of queues (by name, optionally those whose name
// starts with a prefix) with their figures and metrics, and a few workers. Its cost is bounded by
// the page, never by how many queues or workers there are.
import type { Context } from "../router.js";
import { readQueueMetrics } from "../../store/metrics.js";
import { queueFigures } from "./figures.js";
import type { View } from "./hub.js";

/** The most queues one page of the dashboard shows, and the most workers. */
export const MAX_PAGE = 100;
export const WORKERS_SHOWN = 20;

export async function readOverview(ctx: Context, view: View) {
  const { store } = ctx;
  const [[names, total], workerTotal, workerIds] = await Promise.all([
    store.lists.queuePageByPrefix(view.prefix, view.offset, view.limit),
    store.lists.workerCount(),
    store.lists.workers(WORKERS_SHOWN),
  ]);
  // the clock of Redis, which the scripts count minutes by
  const now = store.redisNow();
  const [states, metrics, workers] = await Promise.all([
    Promise.all(names.map((name) => store.state(name))),
    readQueueMetrics(store, names, now),
    Promise.all(workerIds.map((id) => store.lists.worker(id))),
  ]);
  const queues = names.map((name, i) => {
    const s = states[i];
    const m = metrics.find((x) => x.queue === name);
    return {
      name,
      open: s.open,
      ready: s.waiting + s.prioritized,
      delayed: s.delayed,
      leased: s.leased,
      dead: s.dead,
      processed: s.processed,
      failed: s.failed,
      // not among the queue's figures yet: the metrics work may fill it (null: not known)
      oldest_ready_age: null as number | null,
      ...(m ? queueFigures(m, now) : { rates: null, series: null, p50: null, p95: null }),
    };
  });
  const { nodes: _nodes, ...redis } = ctx.redisInfo;
  return {
    at: now,
    view,
    total,
    queues,
    workers: { total: workerTotal, shown: workers.filter((w) => w !== null) },
    redis,
  };
}

export type Overview = Awaited<ReturnType<typeof readOverview>>;
