// Queue operations, one script call each, at the script versions this build calls; routes call
// these and nothing else. The lists that span queues (src/store/lists.ts) are kept beside the script
// calls. Single-job pushes and pops go through a Coalescer. What comes back is decoded here, so
// that callers see real names, never the scripts' reply layout or the compact stored attributes.
import { Coalescer, MAX_GROUP_BYTES } from "./coalesce.js";
import type { Logger } from "pino";
import { DueIndex } from "./due.js";
import { restateStaleAttempt, restateStaleAttemptError, UnconfirmedPush } from "../shared/errors.js";
import { globalKeys, queueKey, queueKeys, type QueueKeys } from "./keys.js";
import { Lists } from "./lists.js";
import { definitionOf, nextRun, specOf, type ScheduleSpec, type ScheduleView } from "./schedules.js";
import { callScript, loadScripts, type Script } from "./scripts.js";
import { Clocks, scriptThenWait, type RedisClient } from "./topology.js";

/** The version of each script this build calls. A behaviour change is a new lua/<name>.v<N>.lua
 *  and a new number here, in the same commit. */
export const SCRIPT_VERSIONS = {
  ackJobs: 4,
  configureQueue: 3,
  deleteDeadJobs: 1,
  extendLease: 2,
  failJob: 5,
  failJobs: 5,
  fireSchedules: 1,
  deleteSchedule: 1,
  getJob: 1,
  listDead: 2,
  listSchedules: 1,
  markDue: 1,
  peekJobs: 3,
  popJobs: 6,
  purgeDead: 2,
  purgeQueue: 3,
  pushJobs: 4,
  queueMetrics: 3,
  queueStats: 2,
  registerWorker: 1,
  removeJob: 3,
  retryDead: 2,
  retryDeadJobs: 1,
  retryJob: 3,
  searchJobs: 1,
  setSchedule: 1,
  settleDue: 1,
  sweepQueue: 4,
  unregisterWorker: 1,
} as const;

export type ScriptName = keyof typeof SCRIPT_VERSIONS;

export interface ScriptBuild {
  versions?: Record<ScriptName, number>;
  luaDir?: string;
}
type Arg = string | number | Buffer;

export interface JobDefaults {
  max_attempts: number;
  backoff_base: number;
  backoff_cap: number;
  /** per-queue limits' defaults (config `queues`); 0 = none */
  max_length?: number;
  max_payload?: number;
  /** seconds an Idempotency-Key is remembered */
  idempotency_window?: number;
  /** live Idempotency-Keys a queue holds at most; 0 = no limit */
  max_idempotency_keys?: number;
}

/** A push that may be a repeat: the client's key and a digest of everything its request said. */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

export interface StoreOptions {
  prefix: string;
  defaults: JobDefaults;
  /** ms after which a pop that Redis has not yet run hands nothing out (its caller gave up) */
  commandTimeoutMs: number;
  /** A connection with no command timeout, for pushes: a push's late reply must be waited for
   *  (up to pushTimeoutMs), since a push that timed out may still have been stored. */
  writer?: RedisClient;
  pushTimeoutMs?: number;
  /** replicas that must confirm a push before it is answered (redis.wait_replicas: WAIT); 0 or
   *  absent for none */
  waitReplicas?: number;
  log: Logger;
}

export interface PushOptions {
  dueMs?: number;
  priority?: number;
  uniq?: string;
  maxAttempts?: number;
  /** a deadline (ms): a job not handed out by then goes to the dead set, "expired" */
  expiresAtMs?: number;
}

export interface PoppedJob {
  id: string;
  payload: Buffer;
  attempt: number;
}

/** The most payload one pop's reply carries (at least one job): a reply is built inside Redis,
 *  which serves nobody else meanwhile. The same bound as a push group's (coalesce.ts). */
const MAX_REPLY_BYTES = MAX_GROUP_BYTES;

/** Where a failed job went: retried later, handed back at once (retry_in 0), or dead. */
export type FailedState = "delayed" | "ready" | "dead";
const FAILED_STATES: FailedState[] = ["delayed", "ready", "dead"];

export interface PopResult {
  jobs: PoppedJob[];
  /** lease length in seconds, 0 when the jobs were deleted as they went */
  lease: number;
  /** when no job came: the earliest time (ms) a delayed job or an expired lease may make one ready */
  nextWakeMs: number | null;
  /** the reply stopped at MAX_REPLY_BYTES with more jobs ready */
  more?: boolean;
  /** no job because of the queue's rate: when (ms, this process's clock) a token comes */
  rateLimitedUntilMs?: number;
  /** no job because of the queue's concurrency limit (woken when a lease ends) */
  busy?: boolean;
}

export interface QueueSettings {
  lease: number;
  max_attempts: number;
  backoff_base: number;
  backoff_cap: number;
  max_length: number;
  max_payload: number;
  idempotency_window: number;
  /** issue 20's limits: null = none */
  rate: number | null;
  burst: number | null;
  concurrency: number | null;
  expires_in: number | null;
  max_idempotency_keys: number;
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

/** Which dead jobs a bulk action takes: these ids, or those whose last error (`where` "error"),
 *  payload ("payload") or either ("any") holds `match` (plain text; absent: every one). */
export interface DeadPick {
  ids?: string[];
  match?: string;
  where?: "error" | "payload" | "any";
  cursor?: string;
}

export interface DeadStep {
  /** where the next step starts; "0" when the whole dead set was gone through */
  cursor: string;
  scanned: number;
  done: number;
}

/** One job's outcome in a batch acknowledgement or failure: a state, or the refusal of that job. */
export type BatchOutcome<S extends string> = { id: string; state: S; atMs?: number } | { id: string; code: string; message: string };

/** The scripts' "next wake" reply: a time in ms, or '' for none. */
const wakeMs = (reply: string): number | null => (reply === "" ? null : Number(reply));

const SETTINGS = [
  "lease",
  "max_attempts",
  "backoff_base",
  "backoff_cap",
  "max_length",
  "max_payload",
  "idempotency_window",
  "max_idempotency_keys",
] as const;

/** Per queue: its keys, and each script's key list in the order its header declares. */
interface QueueEntry {
  k: QueueKeys;
  keyLists: Map<ScriptName, string[]>;
}

export class Store {
  readonly lists: Lists;
  readonly due: DueIndex;
  readonly prefix: string;
  readonly defaults: JobDefaults;
  private readonly queueCache = new Map<string, QueueEntry>();
  private readonly global: ReturnType<typeof globalKeys>;

  /** each master's clock minus ours (see popDeadline) */
  private readonly clocks: Clocks;

  /** Whether a cancelled ready job may leave a tombstone in its list (lua/includes/common.lua,
   *  removeOne): only once every live presque process reads them (src/store/processes.ts). */
  tombstones = false;

  /** Whether a live presque process runs scripts of a build before schedules (src/store/processes.ts):
   *  its sweeps settle a queue's due entry without counting schedules, so the sweeper marks the
   *  schedules' next runs again now and then (Sweeper, remarkSchedules) until it is gone. */
  olderBuildsLive = false;

  constructor(
    readonly redis: RedisClient,
    private readonly options: StoreOptions,
    readonly scripts: ReadonlyMap<string, Script>,
  ) {
    this.clocks = new Clocks(redis);
    this.prefix = options.prefix;
    this.defaults = options.defaults;
    this.global = globalKeys(options.prefix);
    this.lists = new Lists(redis, options.prefix, (queue) => this.keys(queue));
    this.due = new DueIndex(redis, this.global.due, (name, args) => this.runGlobal(name, args), options.log);
  }

  /** Loads this build's scripts into Redis and returns a Store that calls them. (A test stands in
   *  for another build with other versions and another lua/.) */
  static async open(redis: RedisClient, options: StoreOptions, build: ScriptBuild = {}): Promise<Store> {
    const scripts = await loadScripts(redis, build.versions ?? SCRIPT_VERSIONS, build.luaDir);
    if (options.writer)
      for (const s of scripts.values()) options.writer.defineCommand(s.command, { numberOfKeys: s.keys.length, lua: s.lua });
    return new Store(redis, options, scripts);
  }

  /** Now, by the clock of the Redis that holds `key` (by default the due index), as far as this
   *  process can tell (ms). On a cluster each master has its own clock. */
  redisNow(key: string = this.global.due): number {
    return Date.now() + this.clocks.offsetFor(key);
  }

  /** The scripts this build calls, as "name.vN", for logs and the process registry. */
  get scriptVersions(): string[] {
    return [...this.scripts.values()].map((s) => `${s.name}.v${s.version}`);
  }

  /** Measures how far each master's clock is from this process's, so that deadlines sent to
   *  scripts are in the time of the Redis that runs them. Run at start-up and now and then. */
  syncClock(): Promise<void> {
    return this.clocks.sync();
  }

  /** A pop delayed past the command timeout (Redis stalled, the request already failed with 503)
   *  must not delete a job nobody will receive: the script gets a deadline, in the clock of the
   *  master serving the queue. (The timeout comes from the config: a Cluster client has none.) */
  private popDeadline(queue: string): number {
    return Math.floor(this.redisNow(this.keys(queue).meta) + this.options.commandTimeoutMs);
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

  /** A script's keys for one queue, in the order its header declares them (cached per queue). */
  private keyList(name: ScriptName, queue: string): string[] {
    const e = this.entry(queue);
    let keys = e.keyLists.get(name);
    if (!keys) {
      keys = this.scripts.get(name)!.keys.map((key) => e.k[key as keyof QueueKeys]);
      e.keyLists.set(name, keys);
    }
    return keys;
  }

  /** Told how long each script call took (seconds), for GET /metrics; unset, nothing is timed. */
  onScript?: (name: ScriptName, seconds: number) => void;

  /** Calls a script of this build on one queue: its keys come from the script's header. */
  private run<T>(name: ScriptName, queue: string, args: Arg[], buffers = false, redis = this.redis): Promise<T> {
    const called = callScript<T>(redis, this.scripts.get(name)!.command, this.keyList(name, queue), args, buffers);
    const onScript = this.onScript;
    if (!onScript) return called;
    const start = performance.now();
    const timed = () => onScript(name, (performance.now() - start) / 1000);
    called.then(timed, timed);
    return called;
  }

  /** A script's ioredis command and its keys for one queue, for readers that pipeline it over many
   *  queues (src/store/metrics.ts). */
  scriptCall(name: ScriptName, queue: string): { command: string; keys: string[] } {
    const script = this.scripts.get(name)!;
    // a queue not in the cache is not cached by a reader that walks them all: at 10,000 queues
    // that would clear the cache the requests use, and make every key of every queue each time
    const keys = this.queueCache.has(queue) ? this.keyList(name, queue) : script.keys.map((key) => queueKey(this.prefix, queue, key));
    return { command: script.command, keys };
  }

  /** A push script's call: its reply is waited for until pushTimeoutMs, however late; after that,
   *  or when the connection went down after sending it, nobody can tell whether it ran. */
  private runPush<T>(name: "pushJobs" | "retryJob", queue: string, args: Arg[]): Promise<T> {
    const { writer, pushTimeoutMs } = this.options;
    if (!writer && !this.options.waitReplicas) return this.run<T>(name, queue, args);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new UnconfirmedPush()), pushTimeoutMs ?? 15_000);
      this.replicated<T>(name, queue, args, writer ?? this.redis).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (err) => {
          clearTimeout(timer);
          reject(/Connection is closed/.test((err as Error).message) ? new UnconfirmedPush() : err);
        },
      );
    });
  }

  /** run() for a push script with redis.wait_replicas: followed by WAIT on the connection that ran
   *  it (topology.ts, scriptThenWait), and fewer confirmations than asked answer 503
   *  (ReplicasDidNotConfirm). WAIT gets half the command timeout. */
  private replicated<T>(name: "pushJobs" | "retryJob", queue: string, args: Arg[], redis: RedisClient): Promise<T> {
    const replicas = this.options.waitReplicas ?? 0;
    if (replicas === 0) return this.run<T>(name, queue, args, false, redis);
    const waitMs = Math.max(50, Math.floor(this.options.commandTimeoutMs / 2));
    return scriptThenWait<T>(redis, this.scripts.get(name)!.command, this.keyList(name, queue), args, replicas, waitMs);
  }

  /** Calls a script of this build on its one global key. */
  private runGlobal<T>(name: "markDue" | "settleDue", args: Arg[]): Promise<T> {
    const script = this.scripts.get(name)!;
    return callScript<T>(
      this.redis,
      script.command,
      script.keys.map((key) => this.global[key as "due"]),
      args,
    );
  }

  private readonly pushes = new Coalescer<{ queue: string; payload: string; opts: PushOptions }, string>(
    async (_key, items) =>
      this.push(
        items[0].queue,
        items.map((i) => i.payload),
        items[0].opts,
      ),
    // cut by bytes too (see coalesce.ts); a job's own size is bounded only by server.max_body
    { count: 1000, bytes: MAX_GROUP_BYTES, size: (item) => Buffer.byteLength(item.payload) },
  );

  private readonly pops = new Coalescer<{ queue: string; worker: string; lease?: number }, PopResult>(async (_key, items) => {
    const { queue, worker, lease } = items[0];
    // a group of large jobs comes in more than one reply (popJobs stops at MAX_REPLY_BYTES)
    let result = await this.pop(queue, items.length, worker, lease);
    const jobs = result.jobs;
    while (result.more && jobs.length < items.length) {
      result = await this.pop(queue, items.length - jobs.length, worker, lease);
      jobs.push(...result.jobs);
    }
    const { lease: leased, nextWakeMs, rateLimitedUntilMs, busy } = result;
    const limited = { ...(rateLimitedUntilMs !== undefined && { rateLimitedUntilMs }), ...(busy && { busy }) };
    // those who got a job are most of a busy queue's fetches: a plain object each, nothing spread
    return items.map((_, i): PopResult =>
      i < jobs.length ? { lease: leased, nextWakeMs, jobs: [jobs[i]] } : { lease: leased, nextWakeMs, jobs: [], ...limited },
    );
  }, 1000);

  /** One job, stored together with the other single jobs for the same queue and options that
   *  arrive at the same time (see Coalescer). A uniq job goes alone: its refusal is its own. */
  async pushOne(queue: string, payload: string, opts: PushOptions = {}): Promise<string> {
    if (opts.uniq !== undefined) return (await this.push(queue, [payload], opts))[0];
    const key = `${queue}\n${opts.dueMs ?? 0}\n${opts.priority ?? 0}\n${opts.maxAttempts ?? ""}\n${opts.expiresAtMs ?? ""}`;
    return this.pushes.add(key, { queue, payload, opts });
  }

  /** One job for one consumer, handed out together with the other single-job fetches of the same
   *  queue, worker and lease that arrive at the same time, in arrival order. */
  popOne(queue: string, worker: string, lease?: number): Promise<PopResult> {
    return this.pops.add(`${queue}\n${worker}\n${lease ?? ""}`, { queue, worker, lease });
  }

  /** Payloads go as strings (checked UTF-8 JSON); ioredis copies Buffer arguments once more. */
  async push(queue: string, payloads: string[], opts: PushOptions = {}): Promise<string[]> {
    return (await this.pushOnce(queue, payloads, opts)).ids;
  }

  /** push() that a repeat of the same Idempotency-Key answers with the first push's ids, storing
   *  nothing (`replayed`). Never coalesced: its answer is its own. */
  async pushOnce(queue: string, payloads: string[], opts: PushOptions = {}, once?: Idempotency) {
    const d = this.defaults;
    const now = Date.now();
    const [first, deadline, ...ids] = await this.runPush<[number, string, ...string[]]>("pushJobs", queue, [
      now,
      opts.dueMs ?? 0,
      opts.priority ?? 0,
      opts.uniq ?? "",
      opts.maxAttempts ?? "",
      this.keys(queue).notify,
      once?.key ?? "",
      once?.fingerprint ?? "",
      d.max_length ?? 0,
      d.max_payload ?? 0,
      d.idempotency_window ?? 86400,
      opts.expiresAtMs ?? "",
      d.max_idempotency_keys ?? 0,
      ...payloads,
    ]);
    const replayed = first === -1;
    if (!replayed && (first === 1 || opts.dueMs)) await this.afterPush(queue, first === 1, opts.dueMs, now);
    if (!replayed && deadline !== "") await this.due.mark(queue, Number(deadline));
    return { ids, replayed };
  }

  /** What a push keeps beside its script call: the list of queues, and the due index. */
  private async afterPush(queue: string, created: boolean, dueMs: number | undefined, now: number): Promise<void> {
    await Promise.all([created && this.lists.addQueue(queue), dueMs && dueMs > now && this.due.mark(queue, dueMs)]);
  }

  async retry(queue: string, payload: string, opts: PushOptions, worker: string): Promise<string> {
    const now = Date.now();
    const [first, id] = await this.runPush<[number, string]>("retryJob", queue, [
      now,
      opts.dueMs ?? 0,
      opts.priority ?? 0,
      worker,
      this.keys(queue).notify,
      payload,
      this.defaults.max_length ?? 0,
      this.defaults.max_payload ?? 0,
    ]);
    if (first === 1 || opts.dueMs) await this.afterPush(queue, first === 1, opts.dueMs, now);
    return id;
  }

  async pop(queue: string, count: number, worker: string, lease?: number): Promise<PopResult> {
    const now = Date.now();
    const reply = await this.run<Buffer[]>(
      "popJobs",
      queue,
      [now, count, worker, lease ?? "", this.defaults.max_attempts, this.keys(queue).notify, this.popDeadline(queue), MAX_REPLY_BYTES],
      true,
    );
    const jobs: PoppedJob[] = [];
    for (let i = 2; i < reply.length; i += 3) {
      jobs.push({ id: reply[i].toString(), payload: reply[i + 1], attempt: Number(reply[i + 2]) });
    }
    // Redis turns a Lua number into an integer reply: a lease of 0.5 s would come back as 0.
    // The queue's default (reply[1]) is a whole number of seconds; a requested lease may not be.
    const leased = lease ?? Number(reply[1]);
    // not awaited: the consumer need not wait a second round trip for an entry that only matters
    // if it never acks, and a mark that never lands (a crash, a failure) leaves the lease to be
    // taken back by the queue's next pop, as any failed mark does
    if (leased > 0 && jobs.length > 0) void this.due.mark(queue, now + leased * 1000);
    const wake = reply[0].toString();
    if (wake === "busy") return { jobs, lease: leased, nextWakeMs: null, busy: true };
    if (wake.startsWith("rate:")) {
      // the token's time is Redis's: in this process's clock, for the wake-up timer
      const until = Number(wake.slice(5)) - this.clocks.offsetFor(this.keys(queue).meta);
      return { jobs, lease: leased, nextWakeMs: null, rateLimitedUntilMs: until };
    }
    return { jobs, lease: leased, nextWakeMs: wake === "more" ? null : wakeMs(wake), more: wake === "more" };
  }

  /** Acknowledges a leased job, or cancels a waiting one. */
  remove(queue: string, id: string, attempt: number | undefined, worker: string): Promise<"acked" | "cancelled"> {
    return this.run<"acked" | "cancelled">("removeJob", queue, [id, attempt ?? "", worker, this.tombstones ? 1 : 0]).catch((err) =>
      restateStaleAttemptError(err, attempt),
    );
  }

  /** removeJob for many jobs at once; one refusal does not stop the others. */
  async removeMany(queue: string, jobs: Array<{ id: string; attempt?: number }>, worker: string) {
    const reply = await this.run<string[]>("ackJobs", queue, [
      worker,
      this.tombstones ? 1 : 0,
      ...jobs.flatMap((j) => [j.id, j.attempt ?? ""]),
    ]);
    return jobs.map((j, i): BatchOutcome<"acked" | "cancelled"> => {
      const outcome = reply[i];
      return outcome === "acked" || outcome === "cancelled" ? { id: j.id, state: outcome } : refusal(j.id, outcome, j.attempt);
    });
  }

  /** A leased job failed: retried after the backoff, or `retryIn` seconds (0: at once), or dead. */
  async fail(queue: string, id: string, attempt: number | undefined, worker: string, error: string, retryIn?: number) {
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
      retryIn ?? "",
    ]).catch((err) => restateStaleAttemptError(err, attempt));
    if (state === "delayed") await this.due.mark(queue, Number(at));
    return { state: state as FailedState, atMs: Number(at) };
  }

  /** failJob for many jobs at once; one refusal does not stop the others. */
  async failMany(queue: string, jobs: Array<{ id: string; attempt?: number; error: string; retryIn?: number }>, worker: string) {
    const d = this.defaults;
    const reply = await this.run<Array<string | number>>("failJobs", queue, [
      worker,
      Date.now(),
      d.max_attempts,
      d.backoff_base,
      d.backoff_cap,
      this.keys(queue).notify,
      ...jobs.flatMap((j) => [j.id, j.attempt ?? "", j.error, j.retryIn ?? ""]),
    ]);
    const outcomes = jobs.map((j, i): BatchOutcome<FailedState> => {
      const [outcome, at] = [String(reply[2 * i]), reply[2 * i + 1]];
      return FAILED_STATES.includes(outcome as FailedState)
        ? { id: j.id, state: outcome as FailedState, atMs: Number(at) }
        : refusal(j.id, outcome, j.attempt);
    });
    const retries = outcomes.flatMap((o) => ("state" in o && o.state === "delayed" ? [o.atMs!] : []));
    if (retries.length > 0) await this.due.mark(queue, Math.min(...retries));
    return outcomes;
  }

  async extendLease(queue: string, id: string, seconds: number, attempt: number | undefined): Promise<number> {
    const reply = await this.run("extendLease", queue, [id, seconds, attempt ?? "", Date.now()]).catch((err) =>
      restateStaleAttemptError(err, attempt),
    );
    return Number(reply);
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
        max_length: setting("max_length", this.defaults.max_length ?? 0),
        max_payload: setting("max_payload", this.defaults.max_payload ?? 0),
        idempotency_window: setting("idempotency_window", this.defaults.idempotency_window ?? 86400),
        rate: meta.rate === undefined ? null : Number(meta.rate),
        burst: meta.burst === undefined ? null : Number(meta.burst),
        concurrency: meta.concurrency === undefined ? null : Number(meta.concurrency),
        expires_in: meta.expires_in === undefined ? null : Number(meta.expires_in),
        max_idempotency_keys: setting("max_idempotency_keys", this.defaults.max_idempotency_keys ?? 0),
      },
    };
  }

  /** The first ready jobs' payloads, at most `limit` and about MAX_REPLY_BYTES of them (at least
   *  one); `truncated` when the bytes cut the list short. */
  async peek(queue: string, limit: number): Promise<{ payloads: Buffer[]; truncated: boolean }> {
    const [cut, ...payloads] = await this.run<Buffer[]>("peekJobs", queue, [limit, MAX_REPLY_BYTES], true);
    return { payloads, truncated: Number(cut) === 1 };
  }

  /** Promotes due jobs, moves expired ones to the dead set, and runs the schedules that are due. */
  async sweep(queue: string, markDue = true): Promise<{ made: number; nextWakeMs: number | null }> {
    const now = Date.now();
    const [made, wake, ...due] = await this.run<[number, string, ...string[]]>("sweepQueue", queue, [
      now,
      this.defaults.max_attempts,
      this.keys(queue).notify,
    ]);
    if (due.length === 0) return { made, nextWakeMs: wakeMs(wake) };
    const fired = await this.fireSchedules(queue, due, now, markDue);
    return { made: made + fired.pushed, nextWakeMs: fired.nextWakeMs };
  }

  /** Runs due schedules (name, next run read, definition, ... as sweepQueue names them): each one's
   *  candidate next run is computed here, the script fires those still due and unchanged. */
  private async fireSchedules(queue: string, due: string[], now: number, markDue: boolean) {
    const args: Arg[] = [];
    for (let i = 0; i < due.length; i += 3) {
      const [name, read, definition] = [due[i], Number(due[i + 1]), due[i + 2]];
      let next: number;
      try {
        next = definition === "" ? Number.MAX_SAFE_INTEGER : nextRun(specOf(definition), Math.max(now, read), read);
      } catch {
        // a definition this build cannot read (a zone its ICU lacks): parked, not fired in a loop
        next = Number.MAX_SAFE_INTEGER;
      }
      args.push(name, read, next);
    }
    const [listed, pushed, wake] = await this.run<[number, number, string]>("fireSchedules", queue, [
      now,
      this.keys(queue).notify,
      this.defaults.max_length ?? 0,
      ...args,
    ]);
    const nextWakeMs = wakeMs(wake);
    await Promise.all([listed === 1 && this.lists.addQueue(queue), markDue && nextWakeMs !== null && this.due.mark(queue, nextWakeMs)]);
    return { pushed, nextWakeMs };
  }

  // --- schedules

  /** Creates or replaces a schedule; an unchanged definition keeps its next run. */
  async setSchedule(queue: string, name: string, spec: ScheduleSpec): Promise<{ nextMs: number; outcome: string }> {
    const [next, outcome] = await this.run<[string, string]>("setSchedule", queue, [name, definitionOf(spec), nextRun(spec, Date.now())]);
    const nextMs = Number(next);
    await Promise.all([this.redis.zadd(this.global.schedQueues, 0, queue), this.due.mark(queue, nextMs)]);
    return { nextMs, outcome };
  }

  async schedules(queue: string, name = ""): Promise<ScheduleView[]> {
    const reply = await this.run<string[]>("listSchedules", queue, [name]);
    const out: ScheduleView[] = [];
    for (let i = 0; i < reply.length; i += 4) {
      const [at, id] = reply[i + 3] === "" ? [] : reply[i + 3].split(",");
      out.push({
        queue,
        name: reply[i],
        ...specOf(reply[i + 1]),
        nextMs: reply[i + 2] === "" ? null : Number(reply[i + 2]),
        last: at === undefined ? null : { atMs: Number(at), id: id || null },
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Deletes a schedule; false when there was none. */
  async deleteSchedule(queue: string, name: string): Promise<boolean> {
    const [gone, left] = await this.run<[number, number]>("deleteSchedule", queue, [name]);
    if (left === 0) await this.redis.zrem(this.global.schedQueues, queue);
    return gone === 1;
  }

  /** Notes every scheduled queue's next run in the due index again (see olderBuildsLive). */
  async remarkSchedules(): Promise<void> {
    for (const queue of await this.scheduleQueues()) {
      const [, next] = await this.redis.zrange(this.keys(queue).schedx, 0, 0, "WITHSCORES");
      if (next !== undefined) await this.due.mark(queue, Number(next));
    }
  }

  /** The queues that have schedules, by name (at most `limit`). */
  scheduleQueues(limit = 10_000): Promise<string[]> {
    return this.redis.zrange(this.global.schedQueues, 0, limit - 1);
  }

  // --- dead jobs

  async dead(queue: string, offset: number, limit: number) {
    const reply = await this.run<Buffer[]>("listDead", queue, [offset, limit, MAX_REPLY_BYTES], true);
    const jobs: JobView[] = [];
    for (let i = 2; i < reply.length; i += 4) {
      jobs.push(jobView(reply[i].toString(), "dead", reply[i + 1], reply[i + 2].toString(), Number(reply[i + 3].toString())));
    }
    // truncated: the page stopped at MAX_REPLY_BYTES of payload before `limit` jobs
    return { total: Number(reply[0]), jobs, truncated: Number(reply[1]) === 1 };
  }

  async retryDead(queue: string, id: string): Promise<void> {
    await this.run("retryDead", queue, [id, this.keys(queue).notify]);
  }

  /** Deletes every dead job, a bounded step at a time so that Redis serves others in between;
   *  jobs that die meanwhile may be deleted too, but the steps stop once the first count is done. */
  async purgeDead(queue: string, step = 1000): Promise<number> {
    let [deleted, left] = await this.run<[number, number]>("purgeDead", queue, [step]);
    for (let steps = Math.ceil(left / step); left > 0 && steps > 0; steps--) {
      const [more, rest] = await this.run<[number, number]>("purgeDead", queue, [step]);
      deleted += more;
      left = rest;
    }
    return deleted;
  }

  /** One bounded step of a bulk action on dead jobs: the ids named, or about `step` dead jobs from
   *  a ZSCAN cursor whose last error or payload holds `match`. The caller goes on with `cursor`
   *  until it is "0". */
  async deadBulk(action: "retry" | "delete", queue: string, pick: DeadPick, step = 1000): Promise<DeadStep> {
    const args = [pick.ids ? "ids" : "scan", pick.cursor ?? "0", step, pick.match ?? "", pick.where ?? "any", ...(pick.ids ?? [])];
    const [cursor, scanned, done] =
      action === "retry"
        ? await this.run<[string, number, number]>("retryDeadJobs", queue, [this.keys(queue).notify, ...args])
        : await this.run<[string, number, number]>("deleteDeadJobs", queue, args);
    return { cursor: String(cursor), scanned: Number(scanned), done: Number(done) };
  }

  /** One bounded step of a search of the ready and delayed jobs for a text in their payload. */
  async search(queue: string, text: string, cursor: string, step: number, budget: number) {
    const reply = await this.run<Buffer[]>("searchJobs", queue, [cursor, step, text, budget], true);
    const jobs: Array<{ id: string; state: "ready" | "delayed"; payload: Buffer | null; dueMs: number | null }> = [];
    for (let i = 2; i < reply.length; i += 4) {
      const due = reply[i + 3].toString();
      jobs.push({
        id: reply[i].toString(),
        state: reply[i + 1].toString() as "ready" | "delayed",
        payload: reply[i + 2].length ? reply[i + 2] : null,
        dueMs: due ? Number(due) : null,
      });
    }
    return { cursor: reply[0].toString(), scanned: Number(reply[1].toString()), jobs };
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
function refusal(id: string, reply: string, attempt?: number): { id: string; code: string; message: string } {
  const space = reply.indexOf(" ");
  return { id, code: reply.slice(0, space), message: restateStaleAttempt(reply.slice(space + 1), attempt) };
}
