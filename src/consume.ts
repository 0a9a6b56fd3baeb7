// Handing jobs to a consumer, waiting for them when it asked to (long polling).
import type { Res } from "./http.js";
import type { PopResult, Store } from "./store.js";
import type { Sweeper } from "./sweeper.js";
import type { Waiters } from "./waiters.js";

export interface TakeRequest {
  queue: string;
  count: number;
  worker: string;
  lease?: number;
  /** seconds to wait for a job when none is ready; 0 answers at once */
  wait: number;
}

/** Jobs for a consumer: at once, or (want.wait > 0) once some are ready or the wait is over. */
export function takeJobs(store: Store, waiters: Waiters, sweeper: Sweeper, res: Res, want: TakeRequest): Promise<PopResult> {
  if (want.wait <= 0 || waiters.stopping) return popFor(store, want);
  return waitForJobs(store, waiters, sweeper, res, want);
}

function popFor(store: Store, want: TakeRequest): Promise<PopResult> {
  return want.count === 1 ? store.popOne(want.queue, want.worker, want.lease) : store.pop(want.queue, want.count, want.worker, want.lease);
}

async function waitForJobs(store: Store, waiters: Waiters, sweeper: Sweeper, res: Res, want: TakeRequest): Promise<PopResult> {
  const deadline = Date.now() + want.wait * 1000;
  // subscribe before the first pop, so that no push between the pop and the sleep goes unheard
  const channel = await waiters.join(want.queue);
  try {
    for (;;) {
      const generation = channel.generation;
      // a client that left gets nothing popped for it: a deleted job would be lost
      if (res.destroyed) return { jobs: [], lease: 0, nextWakeMs: null };
      const result = await popFor(store, want);
      if (result.jobs.length > 0 || Date.now() >= deadline || res.destroyed || waiters.stopping) return result;
      if (channel.generation !== generation) continue;
      if (result.nextWakeMs !== null && result.nextWakeMs < deadline) sweeper.at(want.queue, result.nextWakeMs);
      await waiters.sleep(channel, deadline, res);
    }
  } finally {
    waiters.leave(channel);
  }
}
