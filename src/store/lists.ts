// The lists that span queues: which queues exist and which workers are registered. Each is kept by
// single-key commands beside a queue's script call (a script touches one queue's keys only, so that
// every queue can live on its own Redis Cluster slot), and read only by listings, never per job.
//
// The queues are listed twice: in a set (`queues`, which presque of layouts 1 and 2 still writes
// alone during a rolling deploy) and in a sorted set ordered by name (`queuenames`, since layout 3),
// which listings read a page at a time. relistQueues brings the second in line with the first.
import { globalKeys, type QueueKeys } from "./keys.js";
import { acrossQueues, scanEveryMaster, type RedisClient } from "./topology.js";

/** Names read, or sizes asked, per round trip when a listing must go through every queue. */
const CHUNK = 1000;

/** How long one process reuses a ranking of every queue by size (see queuesBySize). */
export const SIZE_RANKING_MS = 5000;

export type Order = "asc" | "desc";

export class Lists {
  private readonly global: ReturnType<typeof globalKeys>;
  private ranking?: { at: number; queues: Promise<Array<{ name: string; size: number }>> };

  constructor(
    private readonly redis: RedisClient,
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
    await Promise.all([this.redis.sadd(this.global.queues, queue), this.redis.zadd(this.global.queueNames, 0, queue)]).catch(() => 0);
  }

  /** Unlists a queue; sent before its purge, so that a push racing the purge lists it again. */
  async removeQueue(queue: string): Promise<number> {
    const [removed] = await Promise.all([this.redis.srem(this.global.queues, queue), this.redis.zrem(this.global.queueNames, queue)]);
    return removed;
  }

  queueCount(): Promise<number> {
    return this.redis.zcard(this.global.queueNames);
  }

  /** A page of queue names in name order: O(log n + limit) in Redis. */
  queuePage(offset: number, limit: number, order: Order = "asc"): Promise<string[]> {
    const last = offset + limit - 1;
    return order === "asc"
      ? this.redis.zrange(this.global.queueNames, offset, last)
      : this.redis.zrevrange(this.global.queueNames, offset, last);
  }

  /** A page of the queue names that start with `prefix`, in name order, and how many there are:
   *  two O(log n + limit) commands (all scores are 0, so the sorted set is ordered by name). */
  async queuePageByPrefix(prefix: string, offset: number, limit: number): Promise<[string[], number]> {
    // queue names are ASCII: every name that starts with the prefix sorts below prefix + "ÿ" (C3 BF)
    const [min, max] = prefix === "" ? ["-", "+"] : [`[${prefix}`, `[${prefix}\xff`];
    const [names, total] = await Promise.all([
      this.redis.zrangebylex(this.global.queueNames, min, max, "LIMIT", offset, limit),
      this.redis.zlexcount(this.global.queueNames, min, max),
    ]);
    return [names, total];
  }

  /** Every queue with its size (ready jobs), largest first, ties by name. Reading it costs two O(1)
   *  commands per queue, sent CHUNK queues per round trip (at 100,000 queues: 100 round trips and
   *  200,000 commands, a few hundred ms, never one long command); a process therefore keeps a
   *  ranking for SIZE_RANKING_MS and shares one reading among the requests that ask meanwhile. */
  queuesBySize(): Promise<Array<{ name: string; size: number }>> {
    const now = Date.now();
    if (!this.ranking || now - this.ranking.at > SIZE_RANKING_MS) {
      const queues = this.rankBySize();
      this.ranking = { at: now, queues };
      // a failed reading is not kept: the next request tries again
      queues.catch(() => {
        if (this.ranking?.queues === queues) this.ranking = undefined;
      });
    }
    return this.ranking.queues;
  }

  private async rankBySize(): Promise<Array<{ name: string; size: number }>> {
    const ranked: Array<{ name: string; size: number }> = [];
    for (let offset = 0; ; offset += CHUNK) {
      const names = await this.redis.zrange(this.global.queueNames, offset, offset + CHUNK - 1);
      if (names.length === 0) break;
      // the queues' keys are in many slots: one pipeline on one Redis, per master on a cluster
      const replies = await acrossQueues(
        this.redis,
        names.flatMap((name) => {
          const k = this.keysOf(name);
          return [["llen", k.wait] as [string, string], ["zcard", k.prio] as [string, string]];
        }),
      );
      names.forEach((name, i) => ranked.push({ name, size: Number(replies[2 * i] ?? 0) + Number(replies[2 * i + 1] ?? 0) }));
      if (names.length < CHUNK) break;
    }
    return ranked.sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Lists again every queue holding jobs whose first push was not followed by its listing (the
   *  process died in between, or the SADD failed), and brings the sorted list in line with the set
   *  that presque of layouts 1 and 2 writes alone. Run at start-up and every five minutes; SCAN
   *  (of every master, on a cluster), SSCAN and ZSCAN do not block Redis, and each step is one chunk (at 100,000 queues, a few
   *  hundred round trips). */
  async relistQueues(): Promise<number> {
    const g = this.global;
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}{*}:jobs`;
    let relisted = 0;
    // on a cluster every master holds some of the queues
    await scanEveryMaster(this.redis, pattern, async (found) => {
      const names = found.map((key) => key.slice(this.prefix.length + 1, -"}:jobs".length));
      // into the set; the copy below puts every name in the set into the sorted set
      relisted += await this.redis.sadd(g.queues, ...names);
    });
    // names an older process unlisted (a purge) from the set only
    let cursor = "0";
    do {
      const [next, found] = await this.redis.zscan(g.queueNames, cursor, "COUNT", CHUNK);
      cursor = next;
      const names = found.filter((_, i) => i % 2 === 0);
      if (names.length === 0) continue;
      const pipeline = this.redis.pipeline();
      for (const name of names) pipeline.sismember(g.queues, name);
      const listed = (await pipeline.exec()) ?? [];
      const gone = names.filter((_, i) => listed[i]?.[1] === 0);
      if (gone.length > 0) await this.redis.zrem(g.queueNames, ...gone);
    } while (cursor !== "0");
    // names an older process listed in the set only
    await copyQueueSet(this.redis, this.prefix);
    return relisted;
  }

  // --- workers

  async addWorker(queue: string, worker: string): Promise<void> {
    const g = this.global;
    await Promise.all([
      this.redis.sadd(g.workers, worker),
      // the first registration's: registering again (on another queue, or another worker taking
      // the id) does not make a worker younger
      this.redis.hsetnx(g.worker(worker), "started_at", Math.floor(Date.now() / 1000)),
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

  /** The registered workers, sorted; with a limit, at most that many of them (which ones is up to
   *  SSCAN: the set has no order to page by), read a chunk at a time. */
  async workers(limit?: number): Promise<string[]> {
    if (limit === undefined) return (await this.redis.smembers(this.global.workers)).sort();
    const found = new Set<string>();
    let cursor = "0";
    do {
      const [next, names] = await this.redis.sscan(this.global.workers, cursor, "COUNT", Math.min(limit, CHUNK));
      cursor = next;
      for (const name of names) if (found.size < limit) found.add(name);
    } while (cursor !== "0" && found.size < limit);
    return [...found].sort();
  }

  workerCount(): Promise<number> {
    return this.redis.scard(this.global.workers);
  }

  /** Of these workers, those registered on at least one queue that `visible` lets through. */
  async workersOn(workers: string[], visible: (queue: string) => boolean): Promise<string[]> {
    const queues = await Promise.all(workers.map((w) => this.redis.smembers(this.global.workerQueues(w))));
    return workers.filter((_, i) => queues[i].some(visible));
  }

  /** A worker's figures, summed over the queues it is registered on (those `visible` lets through);
   *  null when unknown, or registered on none of those. */
  async worker(worker: string, visible: (queue: string) => boolean = () => true) {
    const g = this.global;
    const [startedAt, all] = await Promise.all([
      this.redis.hget(g.worker(worker), "started_at"),
      this.redis.smembers(g.workerQueues(worker)),
    ]);
    const queues = all.filter(visible);
    if (startedAt === null || (queues.length === 0 && all.length > 0)) return null;
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

/** Copies the set of queue names into the sorted one, a chunk at a time (layout 3's migration, and
 *  the catch-up after older presque listed queues in the set alone). Idempotent. */
export async function copyQueueSet(redis: RedisClient, prefix: string): Promise<number> {
  const g = globalKeys(prefix);
  let copied = 0;
  let cursor = "0";
  do {
    const [next, names] = await redis.sscan(g.queues, cursor, "COUNT", CHUNK);
    cursor = next;
    if (names.length > 0) copied += await redis.zadd(g.queueNames, ...names.flatMap((n) => [0, n]));
  } while (cursor !== "0");
  return copied;
}
