// Keeps every queue's figures true when nobody pops: due delayed jobs and expired leases are
// promoted once a second. (A queue with long-poll waiters is also swept right on time by
// src/longpoll.ts.)
import type { Logger } from "pino";
import type { Store } from "./store.js";

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
      }
      if (Date.now() - this.relistedAt > 300_000) {
        this.relistedAt = Date.now();
        await this.store.lists.relistQueues();
      }
      const queues = await this.store.lists.queues();
      await Promise.all(queues.map((queue) => this.store.sweep(queue)));
    } catch (err) {
      this.log.debug({ err }, "sweep failed");
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.interval);
  }
}
