// The lists that span queues: which queues exist and which workers are registered. Each is kept by
// single-key commands beside a queue's script call (a script touches one queue's keys only, so that
// every queue can live on its own Redis Cluster slot), and read only by listings, never per job.
import type { Redis } from "ioredis";
import { globalKeys, type QueueKeys } from "./keys.js";

export class Lists {
  private readonly global: ReturnType<typeof globalKeys>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly keysOf: (queue: string) => QueueKeys,
  ) {
    this.global = globalKeys(prefix);
  }

  // --- queues

  /** Lists a queue after the push that created it (the push script says when: once per queue,
   *  and again after a purge). */
  async addQueue(queue: string): Promise<void> {
    // the job is stored whatever happens here: a failure must not turn its 201 into a 503 (and a
    // retried duplicate); relistQueues lists the queue later
    await this.redis.sadd(this.global.queues, queue).catch(() => 0);
  }

  /** Unlists a queue; sent before its purge, so that a push racing the purge lists it again. */
  removeQueue(queue: string): Promise<number> {
    return this.redis.srem(this.global.queues, queue);
  }

  async queues(): Promise<string[]> {
    return (await this.redis.smembers(this.global.queues)).sort();
  }

  /** Lists again every queue holding jobs whose first push was not followed by its listing (the
   *  process died in between, or the SADD failed). Run at start-up and every five minutes; SCAN
   *  does not block Redis. */
  async relistQueues(): Promise<number> {
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}{*}:jobs`;
    let relisted = 0;
    let cursor = "0";
    do {
      const [next, found] = await this.redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      const names = found.map((key) => key.slice(this.prefix.length + 1, -"}:jobs".length));
      if (names.length > 0) relisted += await this.redis.sadd(this.global.queues, ...names);
    } while (cursor !== "0");
    return relisted;
  }

  // --- workers

  async addWorker(queue: string, worker: string): Promise<void> {
    const g = this.global;
    await Promise.all([
      this.redis.sadd(g.workers, worker),
      this.redis.hset(g.worker(worker), "started_at", Math.floor(Date.now() / 1000)),
      this.redis.sadd(g.workerQueues(worker), queue),
    ]);
  }

  async removeWorker(queue: string, worker: string): Promise<void> {
    const g = this.global;
    const [, left] = await Promise.all([this.redis.srem(g.workerQueues(worker), queue), this.redis.scard(g.workerQueues(worker))]);
    if (left === 0) await Promise.all([this.redis.srem(g.workers, worker), this.redis.del(g.worker(worker))]);
  }

  /** The workers registered on one queue (the set registerWorker keeps in the queue's keys). */
  async queueWorkers(queue: string): Promise<string[]> {
    return (await this.redis.smembers(this.keysOf(queue).workers)).sort();
  }

  async workers(): Promise<string[]> {
    return (await this.redis.smembers(this.global.workers)).sort();
  }

  /** A worker's figures, summed over the queues it is registered on; null when unknown. */
  async worker(worker: string) {
    const g = this.global;
    const [startedAt, queues] = await Promise.all([this.redis.hget(g.worker(worker), "started_at"), this.redis.smembers(g.workerQueues(worker))]);
    if (startedAt === null) return null;
    const counts = await Promise.all(queues.map((q) => this.redis.hmget(this.keysOf(q).wstats, `p:${worker}`, `f:${worker}`)));
    let processed = 0;
    let failed = 0;
    for (const [p, f] of counts) {
      processed += Number(p ?? 0);
      failed += Number(f ?? 0);
    }
    return { worker_id: worker, started_at: Number(startedAt), queues: queues.sort(), processed, failed };
  }
}
