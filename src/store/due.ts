// The due-work index: which queues have work that comes due by itself (a delayed job, a retry after
// backoff, a lease deadline), and when. The sweeper reads only the entries that are due, so idle
// queues cost nothing however many there are. Entries are written by markDue after the queue's own
// script (this key is global: it is kept beside the queue's script call, never inside it) and
// settled by the sweeper with a compare-and-set (see lua/markDue.v1.lua for why none is lost).
import type { RedisClient } from "./topology.js";
import type { Logger } from "pino";

type Runner = (name: "markDue" | "settleDue", args: Array<string | number>) => Promise<unknown>;

export class DueIndex {
  private warnedAt = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly run: Runner,
    private readonly log: Logger,
  ) {}

  /** Notes that `queue` has work coming due at `atMs`. A failure is logged, not thrown: the job is
   *  stored and answered for; without its entry it is promoted by the next pop of its queue. */
  async mark(queue: string, atMs: number): Promise<void> {
    try {
      await this.run("markDue", [queue, Math.floor(atMs)]);
    } catch (err) {
      if (Date.now() - this.warnedAt > 5000) {
        this.warnedAt = Date.now();
        this.log.warn({ err: (err as Error).message, queue }, "could not note due work");
      }
    }
  }

  /** Up to `limit` queues whose work is due at `nowMs`, with the score each was read at. */
  async due(nowMs: number, limit: number): Promise<Array<{ queue: string; score: string }>> {
    const flat = await this.redis.zrangebyscore(this.key, "-inf", nowMs, "WITHSCORES", "LIMIT", 0, limit);
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ queue: flat[i], score: flat[i + 1] });
    return out;
  }

  /** After a sweep: the queue's next due time, unless its entry changed since it was read. */
  settle(queue: string, score: string, nextMs: number | null): Promise<unknown> {
    return this.run("settleDue", [queue, score, nextMs ?? ""]);
  }
}
