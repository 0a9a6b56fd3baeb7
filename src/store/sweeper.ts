// Keeps every queue's figures true when nobody pops: once a second, the queues whose delayed jobs
// came due or whose leases ran out (and only those: see src/store/due.ts) are swept, and their due
// jobs promoted. (A queue with long-poll waiters is also swept right on time by src/store/longpoll.ts.)
import type { Logger } from "pino";
import type { Store } from "./store.js";

const PAGE = 500;
// a bound on one round; what is left is the next round's
const MAX_PAGES = 20;

export class Sweeper {
  private readonly interval: NodeJS.Timeout;
  private running = false;
  private clockSyncedAt = 0;
  // at start-up and every five minutes: queues whose listing failed or was cut short by a crash
  private relistedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    everyMs = 1000,
  ) {
    this.interval = setInterval(() => void this.sweepAll(), everyMs);
    this.interval.unref();
  }

  async sweepAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (Date.now() - this.clockSyncedAt > 60_000) {
        this.clockSyncedAt = Date.now();
        await this.store.syncClock();
        // during a rolling deploy only: older builds' sweeps may drop a schedule's due entry
        if (this.store.olderBuildsLive) await this.store.remarkSchedules();
      }
      if (Date.now() - this.relistedAt > 300_000) {
        this.relistedAt = Date.now();
        await this.store.lists.relistQueues();
      }
      await this.sweepDue();
    } catch (err) {
      this.log.debug({ err }, "sweep failed");
    } finally {
      this.running = false;
    }
  }

  /** Sweeps the queues with due work, a page at a time; a queue whose entry changed meanwhile
   *  (new work was noted) stays due and is swept again in the next round. */
  private async sweepDue(): Promise<void> {
    const { store } = this;
    const now = store.redisNow();
    for (let page = 0; page < MAX_PAGES; page++) {
      const due = await store.due.due(now, PAGE);
      const settled = await Promise.all(
        due.map(async ({ queue, score }) => {
          // the settlement below records the next wake: no mark of its own (it would unsettle it)
          const { nextWakeMs } = await store.sweep(queue, false);
          return store.due.settle(queue, score, nextWakeMs);
        }),
      );
      // a full page none of which settled would come back unchanged: leave it to the next round
      if (due.length < PAGE || !settled.includes(1)) return;
    }
  }

  stop(): void {
    clearInterval(this.interval);
  }
}
