// Keeps every queue's figures true when nobody pops: due delayed jobs and expired leases are
// promoted once a second, and right on time for a queue whose long-poll waiters wait for one.
import type { Logger } from "pino";
import type { Store } from "./store.js";

export class Sweeper {
  private readonly interval: NodeJS.Timeout;
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private running = false;
  private clockSyncedAt = 0;
  // at start-up and every five minutes: queues whose listing failed or was cut short by a crash
  private relistedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    /** whether some request in this process is waiting for a job of the queue */
    private readonly hasWaiters: (queue: string) => boolean,
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
        await this.store.relistQueues();
      }
      const queues = await this.store.queues();
      await Promise.all(queues.map((queue) => this.store.sweep(queue)));
    } catch (err) {
      this.log.debug({ err }, "sweep failed");
    } finally {
      this.running = false;
    }
  }

  /** Sweeps one queue at `atMs` (the earliest asked for wins), to wake its waiters on time. */
  at(queue: string, atMs: number): void {
    const pending = this.timers.get(queue);
    if (pending && pending.at <= atMs) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(queue);
      this.store.sweep(queue).then(
        // one timer per queue: while waiters remain, it moves on to the next due job or lease deadline
        ({ nextWakeMs }) => nextWakeMs !== null && this.hasWaiters(queue) && this.at(queue, nextWakeMs),
        (err) => this.log.debug({ err, queue }, "sweep failed"),
      );
    }, Math.max(0, atMs - Date.now()) + 5);
    timer.unref();
    this.timers.set(queue, { at: atMs, timer });
  }

  stop(): void {
    clearInterval(this.interval);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
