// Queue operations, one script call each, at the script versions this build calls; routes call
// these and nothing else. The lists that span queues (src/lists.ts) are kept beside the script
// calls. Single-job pushes and pops go through a Coalescer. What comes back is decoded here, so
// that callers see real names, never the scripts' reply layout or the compact stored attributes.
import type { Redis } from "ioredis";
import { Coalescer } from "./coalesce.js";
import { queueKeys, type QueueKeys } from "./keys.js";
import { Lists } from "./lists.js";
import { callScript, loadScripts, type Script } from "./scripts.js";

/** The version of each script this build calls. A behaviour change is a new lua/<name>.v<N>.lua
 *  and a new number here, in the same commit. */
export const SCRIPT_VERSIONS = {
  ackJobs: 1,
  configureQueue: 1,
  extendLease: 1,
  failJob: 1,
  failJobs: 1,
  getJob: 1,
  listDead: 1,
  peekJobs: 1,
  popJobs: 1,
  purgeDead: 1,
  purgeQueue: 1,
  pushJobs: 1,
  queueStats: 1,
  registerWorker: 1,
  removeJob: 1,
  retryDead: 1,
  retryJob: 1,
  sweepQueue: 1,
  unregisterWorker: 1,
} as const;

type ScriptName = keyof typeof SCRIPT_VERSIONS;

export interface ScriptBuild {
  versions?: Record<ScriptName, number>;
  luaDir?: string;
}
type Arg = string | number | Buffer;

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

export interface QueueSettings {
  lease: number;
  max_attempts: number;
  backoff_base: number;
  backoff_cap: number;
}

export interface QueueState {
  open: boolean;
  /** ready jobs of priority 0 */
  waiting: number;
  /** ready jobs of another priority */
  prioritized: number;
  delayed: number;
  leased: number;
  dead: number;
  processed: number;
  failed: number;
  settings: QueueSettings;
}

export type JobState = "ready" | "delayed" | "leased" | "dead";

export interface JobView {
  id: string;
  state: JobState;
  payload: Buffer;
  priority: number;
  /** deliveries under a lease so far */
  attempts: number;
  maxAttempts?: number;
  lastError?: string;
  /** due (delayed), lease deadline (leased) or death (dead), in ms; null for a ready job */
  atMs: number | null;
}

/** One job's outcome in a batch acknowledgement or failure: a state, or the refusal of that job. */
export type BatchOutcome<S extends string> = { id: string; state: S; atMs?: number } | { id: string; code: string; message: string };

/** The scripts' "next wake" reply: a time in ms, or '' for none. */
const wakeMs = (reply: string): number | null => (reply === "" ? null : Number(reply));

const SETTINGS = ["lease", "max_attempts", "backoff_base", "backoff_cap"] as const;

/** Per queue: its keys, and each script's key list in the order its header declares. */
interface QueueEntry {
  k: QueueKeys;
  keyLists: Map<ScriptName, string[]>;
}

export class Store {
  readonly lists: Lists;
  private readonly queueCache = new Map<string, QueueEntry>();

  /** Redis's clock minus ours, in ms (see popDeadline). */
  private clockOffsetMs = 0;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly defaults: JobDefaults,
    private readonly scripts: ReadonlyMap<string, Script>,
  ) {
    this.lists = new Lists(redis, prefix, (queue) => this.keys(queue));
  }

  /** Loads this build's scripts into Redis and returns a Store that calls them. (A test stands in
   *  for another build with other versions and another lua/.) */
  static async open(redis: Redis, prefix: string, defaults: JobDefaults, build: ScriptBuild = {}): Promise<Store> {
    return new Store(redis, prefix, defaults, await loadScripts(redis, build.versions ?? SCRIPT_VERSIONS, build.luaDir));
  }

  /** The scripts this build calls, as "name.vN", for logs and the process registry. */
  get scriptVersions(): string[] {
    return [...this.scripts.values()].map((s) => `${s.name}.v${s.version}`);
  }

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

  private entry(queue: string): QueueEntry {
    let e = this.queueCache.get(queue);
    if (!e) {
      // bounded: queue names come from clients
      if (this.queueCache.size >= 10_000) this.queueCache.clear();
      e = { k: queueKeys(this.prefix, queue), keyLists: new Map() };
      this.queueCache.set(queue, e);
    }
    return e;
  }

  keys(queue: string): QueueKeys {
    return this.entry(queue).k;
  }

  /** Calls a script of this build on one queue: its keys come from the script's header. */
  private run<T>(name: ScriptName, queue: string, args: Arg[], buffers = false): Promise<T> {
    const e = this.entry(queue);
    let keys = e.keyLists.get(name);
    const script = this.scripts.get(name)!;
    if (!keys) {
      keys = script.keys.map((key) => e.k[key]);
      e.keyLists.set(name, keys);
    }
    return callScript<T>(this.redis, script.command, keys, args, buffers);
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
    const [first, ...ids] = await this.run<[number, ...string[]]>("pushJobs", queue, [
      Date.now(),
      opts.dueMs ?? 0,
      opts.priority ?? 0,
      opts.uniq ?? "",
      opts.maxAttempts ?? "",
      this.keys(queue).notify,
      ...payloads,
    ]);
    if (first === 1) await this.lists.addQueue(queue);
    return ids;
  }

  async retry(queue: string, payload: string, opts: PushOptions, worker: string): Promise<string> {
    const [first, id] = await this.run<[number, string]>("retryJob", queue, [
      Date.now(),
      opts.dueMs ?? 0,
      opts.priority ?? 0,
      worker,
      this.keys(queue).notify,
      payload,
    ]);
    if (first === 1) await this.lists.addQueue(queue);
    return id;
  }

  async pop(queue: string, count: number, worker: string, lease?: number): Promise<PopResult> {
    const reply = await this.run<Buffer[]>(
      "popJobs",
      queue,
      [Date.now(), count, worker, lease ?? "", this.defaults.max_attempts, this.keys(queue).notify, this.popDeadline()],
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
    return this.run("removeJob", queue, [id, attempt ?? "", worker]);
  }

  /** removeJob for many jobs at once; one refusal does not stop the others. */
  async removeMany(queue: string, jobs: Array<{ id: string; attempt?: number }>, worker: string) {
    const reply = await this.run<string[]>("ackJobs", queue, [worker, ...jobs.flatMap((j) => [j.id, j.attempt ?? ""])]);
    return jobs.map((j, i): BatchOutcome<"acked" | "cancelled"> => {
      const outcome = reply[i];
      return outcome === "acked" || outcome === "cancelled" ? { id: j.id, state: outcome } : refusal(j.id, outcome);
    });
  }

  async fail(queue: string, id: string, attempt: number | undefined, worker: string, error: string) {
    const [state, at] = await this.run<[string, number]>("failJob", queue, [
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

  /** failJob for many jobs at once; one refusal does not stop the others. */
  async failMany(queue: string, jobs: Array<{ id: string; attempt?: number; error: string }>, worker: string) {
    const d = this.defaults;
    const reply = await this.run<Array<string | number>>("failJobs", queue, [
      worker,
      Date.now(),
      d.max_attempts,
      d.backoff_base,
      d.backoff_cap,
      this.keys(queue).notify,
      ...jobs.flatMap((j) => [j.id, j.attempt ?? "", j.error]),
    ]);
    return jobs.map((j, i): BatchOutcome<"delayed" | "dead"> => {
      const [outcome, at] = [String(reply[2 * i]), reply[2 * i + 1]];
      return outcome === "delayed" || outcome === "dead" ? { id: j.id, state: outcome, atMs: Number(at) } : refusal(j.id, outcome);
    });
  }

  async extendLease(queue: string, id: string, seconds: number, attempt: number | undefined): Promise<number> {
    return Number(await this.run("extendLease", queue, [id, seconds, attempt ?? "", Date.now()]));
  }

  async job(queue: string, id: string): Promise<JobView | null> {
    const reply = await this.run<Buffer[] | null>("getJob", queue, [id], true);
    if (!reply) return null;
    const [state, payload, attrs, at] = reply;
    return jobView(id, state.toString() as JobState, payload, attrs.toString(), at.length ? Number(at.toString()) : null);
  }

  async purge(queue: string): Promise<void> {
    // before the script: see Lists.removeQueue
    const unlisted = this.lists.removeQueue(queue);
    await Promise.all([unlisted, this.run("purgeQueue", queue, [])]);
  }

  async configure(queue: string, fields: Record<string, string | number>): Promise<void> {
    await this.run("configureQueue", queue, [this.keys(queue).notify, ...Object.entries(fields).flat()]);
  }

  async state(queue: string): Promise<QueueState> {
    const reply = await this.run<(number | string)[]>("queueStats", queue, []);
    const [waiting, prioritized, delayed, leased, dead] = reply.slice(0, 5).map(Number);
    const meta: Record<string, string> = {};
    for (let i = 5; i < reply.length; i += 2) meta[reply[i]] = String(reply[i + 1]);
    const setting = (name: (typeof SETTINGS)[number], fallback: number) => (meta[name] === undefined ? fallback : Number(meta[name]));
    return {
      open: meta.status !== "0",
      waiting,
      prioritized,
      delayed,
      leased,
      dead,
      processed: Number(meta.processed ?? 0),
      failed: Number(meta.failed ?? 0),
      settings: {
        lease: setting("lease", 0),
        max_attempts: setting("max_attempts", this.defaults.max_attempts),
        backoff_base: setting("backoff_base", this.defaults.backoff_base),
        backoff_cap: setting("backoff_cap", this.defaults.backoff_cap),
      },
    };
  }

  peek(queue: string, limit: number): Promise<Buffer[]> {
    return this.run("peekJobs", queue, [limit], true);
  }

  async sweep(queue: string): Promise<{ made: number; nextWakeMs: number | null }> {
    const [made, wake] = await this.run<[number, string]>("sweepQueue", queue, [Date.now(), this.defaults.max_attempts, this.keys(queue).notify]);
    return { made, nextWakeMs: wakeMs(wake) };
  }

  // --- dead jobs

  async dead(queue: string, offset: number, limit: number) {
    const reply = await this.run<Buffer[]>("listDead", queue, [offset, limit], true);
    const jobs: JobView[] = [];
    for (let i = 1; i < reply.length; i += 4) {
      jobs.push(jobView(reply[i].toString(), "dead", reply[i + 1], reply[i + 2].toString(), Number(reply[i + 3].toString())));
    }
    return { total: Number(reply[0]), jobs };
  }

  async retryDead(queue: string, id: string): Promise<void> {
    await this.run("retryDead", queue, [id, this.keys(queue).notify]);
  }

  purgeDead(queue: string): Promise<number> {
    return this.run("purgeDead", queue, []);
  }

  // --- workers

  async registerWorker(queue: string, worker: string): Promise<void> {
    await Promise.all([this.run("registerWorker", queue, [worker]), this.lists.addWorker(queue, worker)]);
  }

  async unregisterWorker(queue: string, worker: string): Promise<void> {
    await Promise.all([this.run("unregisterWorker", queue, [worker]), this.lists.removeWorker(queue, worker)]);
  }
}

/** A job as getJob and listDead describe it, with its stored attributes decoded. The scripts keep
 *  them as JSON with one-letter names (lua/includes/common.lua, STORED_AS). */
function jobView(id: string, state: JobState, payload: Buffer, attrs: string, atMs: number | null): JobView {
  const a: { p?: number; a?: number; m?: number; e?: string } = attrs ? JSON.parse(attrs) : {};
  return {
    id,
    state,
    payload,
    priority: a.p ?? 0,
    attempts: a.a ?? 0,
    ...(a.m !== undefined && { maxAttempts: a.m }),
    ...(a.e !== undefined && { lastError: a.e }),
    atMs,
  };
}

/** A script's "<CODE> <message>" for one job of a batch. */
function refusal(id: string, reply: string): { id: string; code: string; message: string } {
  const space = reply.indexOf(" ");
  return { id, code: reply.slice(0, space), message: reply.slice(space + 1) };
}
