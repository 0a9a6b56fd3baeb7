// Queue operations, one script call each; routes call these and nothing else. The global lists
// of queues and workers are kept by single-key commands beside the script call (for a queue, only
// after the push that created it). Single-job pushes and pops go through a Coalescer.
import type { Redis } from "ioredis";
import { globalKeys, queueKeys, type QueueKeys } from "./keys.js";
import { Coalescer } from "./coalesce.js";
import { callScript } from "./scripts.js";

export interface JobDefaults {
  max_attempts: number;
  backoff_base: number;
  backoff_cap: number;
}

export interface PushOptions {
  dueMs?: number;
  priority?: number;
  uniq?: string;
  maxAttempts?: number;
}

export interface PoppedJob {
  id: string;
  payload: Buffer;
  attempt: number;
}

export interface PopResult {
  jobs: PoppedJob[];
  /** lease length in seconds, 0 when the jobs were deleted as they went */
  lease: number;
  /** when no job came: the earliest time (ms) a delayed job or an expired lease may make one ready */
  nextWakeMs: number | null;
}

export interface QueueFigures {
  queue_name: string;
  status: 0 | 1;
  job_count: number;
  job_prioritized: number;
  job_delayed: number;
  job_leased: number;
  job_dead: number;
  job_processed: number;
  job_failed: number;
}

export interface QueueSettings {
  lease: number;
  max_attempts: number;
  backoff_base: number;
  backoff_cap: number;
}

export type JobState = "ready" | "delayed" | "leased" | "dead";

export interface JobView {
  id: string;
  state: JobState;
  payload: Buffer;
  attrs: { p?: number; a?: number; m?: number; e?: string };
  atMs: number | null;
}

/** The scripts' "next wake" reply: a time in ms, or '' for none. */
const wakeMs = (reply: string): number | null => (reply === "" ? null : Number(reply));

const SETTINGS = ["lease", "max_attempts", "backoff_base", "backoff_cap"] as const;

export class Store {
  private readonly global: ReturnType<typeof globalKeys>;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly defaults: JobDefaults,
  ) {
    this.global = globalKeys(prefix);
  }

  private readonly keyCache = new Map<string, QueueKeys>();

  /** Redis's clock minus ours, in ms (see popDeadline). */
  private clockOffsetMs = 0;

  /** Measures how far Redis's clock is from this process's, so that deadlines sent to scripts
   *  are in Redis's time. Run at start-up and now and then. */
  async syncClock(): Promise<void> {
    const before = Date.now();
    const [seconds, micros] = await this.redis.time();
    const after = Date.now();
    this.clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (before + after) / 2;
  }

  /** A pop delayed past the command timeout (Redis stalled, the request already failed with 503)
   *  must not delete a job nobody will receive: the script gets a deadline, in Redis's time. */
  private popDeadline(): number | "" {
    const timeout = this.redis.options.commandTimeout;
    return timeout ? Math.floor(Date.now() + this.clockOffsetMs + timeout) : "";
  }

  keys(queue: string): QueueKeys {
    let k = this.keyCache.get(queue);
    if (!k) {
      // bounded: queue names come from clients
      if (this.keyCache.size >= 10_000) this.keyCache.clear();
      k = queueKeys(this.prefix, queue);
      this.keyCache.set(queue, k);
    }
    return k;
  }

  /** The keys every state-changing job script takes, in its KEYS order. */
  private jobKeys(k: QueueKeys): string[] {
    return [k.meta, k.wait, k.prio, k.delayed, k.leased, k.jobs, k.attrs, k.uniq, k.wstats, k.dead];
  }

  private readonly pushes = new Coalescer<{ queue: string; payload: string; opts: PushOptions }, string>(
    async (_key, items) => this.push(items[0].queue, items.map((i) => i.payload), items[0].opts),
    1000,
  );

  private readonly pops = new Coalescer<{ queue: string; worker: string; lease?: number }, PopResult>(async (_key, items) => {
    const { queue, worker, lease } = items[0];
    const { jobs, ...rest } = await this.pop(queue, items.length, worker, lease);
    return items.map((_, i) => ({ ...rest, jobs: i < jobs.length ? [jobs[i]] : [] }));
  }, 1000);

  /** One job, stored together with the other single jobs for the same queue and options that
   *  arrive at the same time (see Coalescer). A uniq job goes alone: its refusal is its own. */
  async pushOne(queue: string, payload: string, opts: PushOptions = {}): Promise<string> {
    if (opts.uniq !== undefined) return (await this.push(queue, [payload], opts))[0];
    const key = `${queue}\n${opts.dueMs ?? 0}\n${opts.priority ?? 0}\n${opts.maxAttempts ?? ""}`;
    return this.pushes.add(key, { queue, payload, opts });
  }

  /** One job for one consumer, handed out together with the other single-job fetches of the same
   *  queue, worker and lease that arrive at the same time, in arrival order. */
  popOne(queue: string, worker: string, lease?: number): Promise<PopResult> {
    return this.pops.add(`${queue}\n${worker}\n${lease ?? ""}`, { queue, worker, lease });
  }

  /** Payloads go as strings (checked UTF-8 JSON); ioredis copies Buffer arguments once more. */
  async push(queue: string, payloads: string[], opts: PushOptions = {}): Promise<string[]> {
    const k = this.keys(queue);
    const [first, ...ids] = await callScript<[number, ...string[]]>(
      this.redis,
      "pushJobs",
      [k.seq, k.wait, k.prio, k.delayed, k.jobs, k.attrs, k.uniq, k.meta],
      [Date.now(), opts.dueMs ?? 0, opts.priority ?? 0, opts.uniq ?? "", opts.maxAttempts ?? "", k.notify, ...payloads],
    );
    if (first === 1) await this.list(queue);
    return ids;
  }

  async retry(queue: string, payload: string, opts: PushOptions, worker: string): Promise<string> {
    const k = this.keys(queue);
    const [first, id] = await callScript<[number, string]>(
      this.redis,
      "retryJob",
      [k.seq, k.wait, k.prio, k.delayed, k.jobs, k.attrs, k.uniq, k.meta, k.wstats],
      [Date.now(), opts.dueMs ?? 0, opts.priority ?? 0, worker, k.notify, payload],
    );
    if (first === 1) await this.list(queue);
    return id;
  }

  /** Adds a queue to the global list: once per queue, after the push that created it (a second
   *  round trip then only). A purge clears the flag the scripts keep, so the next push lists it again. */
  private async list(queue: string): Promise<void> {
    // the job is stored whatever happens here: a failure must not turn its 201 into a 503 (and a
    // retried duplicate); the sweeper's periodic relistQueues lists the queue later
    await this.redis.sadd(this.global.queues, queue).catch(() => 0);
  }

  /** Lists again every queue holding jobs whose first push was not followed by its listing (the
   *  process died in between, or the SADD failed). The sweeper runs it at start-up and every five
   *  minutes; SCAN does not block Redis. */
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

  async pop(queue: string, count: number, worker: string, lease?: number): Promise<PopResult> {
    const k = this.keys(queue);
    const reply = await callScript<Buffer[]>(
      this.redis,
      "popJobs",
      this.jobKeys(k),
      [Date.now(), count, worker, lease ?? "", this.defaults.max_attempts, k.notify, this.popDeadline()],
      true,
    );
    const jobs: PoppedJob[] = [];
    for (let i = 2; i < reply.length; i += 3) {
      jobs.push({ id: reply[i].toString(), payload: reply[i + 1], attempt: Number(reply[i + 2]) });
    }
    // Redis turns a Lua number into an integer reply: a lease of 0.5 s would come back as 0.
    // The queue's default (reply[1]) is a whole number of seconds; a requested lease may not be.
    return { jobs, lease: lease ?? Number(reply[1]), nextWakeMs: wakeMs(reply[0].toString()) };
  }

  /** Acknowledges a leased job, or cancels a waiting one. */
  remove(queue: string, id: string, attempt: number | undefined, worker: string): Promise<"acked" | "cancelled"> {
    return callScript(this.redis, "removeJob", this.jobKeys(this.keys(queue)), [id, attempt ?? "", worker]);
  }

  async fail(queue: string, id: string, attempt: number | undefined, worker: string, error: string) {
    const [state, at] = await callScript<[string, number]>(this.redis, "failJob", this.jobKeys(this.keys(queue)), [
      id,
      attempt ?? "",
      worker,
      Date.now(),
      error,
      this.defaults.max_attempts,
      this.defaults.backoff_base,
      this.defaults.backoff_cap,
      this.keys(queue).notify,
    ]);
    return { state: state as "delayed" | "dead", atMs: Number(at) };
  }

  async extendLease(queue: string, id: string, seconds: number, attempt: number | undefined): Promise<number> {
    const k = this.keys(queue);
    return Number(
      await callScript(this.redis, "extendLease", [k.leased, k.jobs, k.attrs], [id, seconds, attempt ?? "", Date.now()]),
    );
  }

  async job(queue: string, id: string): Promise<JobView | null> {
    const k = this.keys(queue);
    const reply = await callScript<Buffer[] | null>(this.redis, "getJob", [k.jobs, k.attrs, k.delayed, k.leased, k.dead], [id], true);
    if (!reply) return null;
    const [state, payload, attrs, at] = reply;
    return {
      id,
      state: state.toString() as JobState,
      payload,
      attrs: attrs.length ? JSON.parse(attrs.toString()) : {},
      atMs: at.length ? Number(at.toString()) : null,
    };
  }

  async purge(queue: string): Promise<void> {
    const k = this.keys(queue);
    // before the script: see push()
    const unlisted = this.redis.srem(this.global.queues, queue);
    await Promise.all([unlisted, callScript(this.redis, "purgeQueue", this.jobKeys(k), [])]);
  }

  async configure(queue: string, fields: Record<string, string | number>): Promise<void> {
    const k = this.keys(queue);
    await callScript(this.redis, "configureQueue", [k.meta], [k.notify, ...Object.entries(fields).flat()]);
  }

  async figures(queue: string): Promise<QueueFigures & { settings: QueueSettings }> {
    const k = this.keys(queue);
    const reply = await callScript<(number | string)[]>(this.redis, "queueStats", [k.meta, k.wait, k.prio, k.delayed, k.leased, k.dead], []);
    const [waiting, prioritized, delayed, leased, dead] = reply.slice(0, 5).map(Number);
    const meta: Record<string, string> = {};
    for (let i = 5; i < reply.length; i += 2) meta[reply[i]] = String(reply[i + 1]);
    const setting = (name: (typeof SETTINGS)[number], fallback: number) => (meta[name] === undefined ? fallback : Number(meta[name]));
    return {
      queue_name: queue,
      status: meta.status === "0" ? 0 : 1,
      job_count: waiting + prioritized,
      job_prioritized: prioritized,
      job_delayed: delayed,
      job_leased: leased,
      job_dead: dead,
      job_processed: Number(meta.processed ?? 0),
      job_failed: Number(meta.failed ?? 0),
      settings: {
        lease: setting("lease", 0),
        max_attempts: setting("max_attempts", this.defaults.max_attempts),
        backoff_base: setting("backoff_base", this.defaults.backoff_base),
        backoff_cap: setting("backoff_cap", this.defaults.backoff_cap),
      },
    };
  }

  peek(queue: string, limit: number): Promise<Buffer[]> {
    const k = this.keys(queue);
    return callScript(this.redis, "peekJobs", [k.wait, k.prio, k.jobs], [limit], true);
  }

  async queues(): Promise<string[]> {
    return (await this.redis.smembers(this.global.queues)).sort();
  }

  async sweep(queue: string): Promise<{ made: number; nextWakeMs: number | null }> {
    const k = this.keys(queue);
    const [made, wake] = await callScript<[number, string]>(
      this.redis,
      "sweepQueue",
      [k.meta, k.wait, k.prio, k.delayed, k.leased, k.attrs, k.dead],
      [Date.now(), this.defaults.max_attempts, k.notify],
    );
    return { made, nextWakeMs: wakeMs(wake) };
  }

  // --- dead jobs

  async dead(queue: string, offset: number, limit: number) {
    const k = this.keys(queue);
    const reply = await callScript<Buffer[]>(this.redis, "listDead", [k.dead, k.jobs, k.attrs], [offset, limit], true);
    const jobs: JobView[] = [];
    for (let i = 1; i < reply.length; i += 4) {
      const attrs = reply[i + 2].toString();
      jobs.push({
        id: reply[i].toString(),
        state: "dead",
        payload: reply[i + 1],
        attrs: attrs ? JSON.parse(attrs) : {},
        atMs: Number(reply[i + 3].toString()),
      });
    }
    return { total: Number(reply[0]), jobs };
  }

  async retryDead(queue: string, id: string): Promise<void> {
    const k = this.keys(queue);
    await callScript(this.redis, "retryDead", [k.dead, k.attrs, k.wait, k.prio], [id, k.notify]);
  }

  purgeDead(queue: string): Promise<number> {
    const k = this.keys(queue);
    return callScript(this.redis, "purgeDead", [k.dead, k.jobs, k.attrs, k.uniq], []);
  }

  // --- workers

  async registerWorker(queue: string, worker: string): Promise<void> {
    const k = this.keys(queue);
    const g = this.global;
    await Promise.all([
      callScript(this.redis, "registerWorker", [k.workers, k.wstats], [worker]),
      this.redis.sadd(g.workers, worker),
      this.redis.hset(g.worker(worker), "started_at", Math.floor(Date.now() / 1000)),
      this.redis.sadd(g.workerQueues(worker), queue),
    ]);
  }

  async unregisterWorker(queue: string, worker: string): Promise<void> {
    const k = this.keys(queue);
    const g = this.global;
    const [, , left] = await Promise.all([
      callScript(this.redis, "unregisterWorker", [k.workers, k.wstats], [worker]),
      this.redis.srem(g.workerQueues(worker), queue),
      this.redis.scard(g.workerQueues(worker)),
    ]);
    if (left === 0) await Promise.all([this.redis.srem(g.workers, worker), this.redis.del(g.worker(worker))]);
  }

  async workers(): Promise<string[]> {
    return (await this.redis.smembers(this.global.workers)).sort();
  }

  /** A worker's figures, summed over the queues it is registered on; null when unknown. */
  async worker(worker: string) {
    const g = this.global;
    const [startedAt, queues] = await Promise.all([this.redis.hget(g.worker(worker), "started_at"), this.redis.smembers(g.workerQueues(worker))]);
    if (startedAt === null) return null;
    const counts = await Promise.all(queues.map((q) => this.redis.hmget(this.keys(q).wstats, `p:${worker}`, `f:${worker}`)));
    let processed = 0;
    let failed = 0;
    for (const [p, f] of counts) {
      processed += Number(p ?? 0);
      failed += Number(f ?? 0);
    }
    return { worker_id: worker, started_at: Number(startedAt), queues: queues.sort(), processed, failed };
  }

  async queueWorkers(queue: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys(queue).workers)).sort();
  }
}
