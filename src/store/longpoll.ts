// Long polling: handing jobs to a consumer, waiting for them when it asked to. This module owns
// all of it (the pub/sub subscription, the sleepers, the wake-up timers and the wait loop) and
// knows nothing of HTTP: a consumer that goes away aborts its AbortSignal.
//
// A request that finds no job sleeps until a script announces ready jobs on the queue's channel
// (a push, a delayed job coming due, an expired lease), or its time is up. Messages: "<n>" n jobs
// became ready; "due:<ms>" a job will be ready at that time (the queue is swept then, so that it
// is promoted on time even if nobody pops); "stopped" the queue was stopped (every waiter answers).
// Idle waiters cost Redis next to nothing: one sharded subscription (SSUBSCRIBE: on a cluster a
// push reaches only its queue's shard) per queue with waiters, in each process.
// A notification for n jobs wakes n sleepers, oldest first; the pop script is atomic, so each
// job still goes to exactly one of them.
// Pub/sub drops messages while a subscription is re-made (a failover, a reconnection), and
// processes of an older build announce with PUBLISH (earlier script versions), which sharded
// subscribers do not hear. So after the subscriber reconnects, every queue with sleepers pops
// again at once; and every RECHECK_MS the oldest sleepers of RECHECK_BATCH queues pop again, in
// turn over the queues with sleepers. That costs a few pops a second per process whatever the
// number of queues waited on (waiting on 1,000 unknown queues must not cost 1,000 pops a second),
// and bounds what a lost message costs: a delay of ceil(queues with sleepers / RECHECK_BATCH)
// seconds at most (one second up to RECHECK_BATCH queues), never past the waiter's own wait.
import type { Logger } from "pino";
import { classify, HttpError } from "../shared/errors.js";
import type { PopResult, Store } from "./store.js";
import type { RedisClient } from "./topology.js";

export interface TakeRequest {
  queue: string;
  count: number;
  worker: string;
  lease?: number;
  /** seconds to wait for a job when none is ready; 0 answers at once */
  wait: number;
  /** who waits (a token id), for the per-token cap; absent: counted only in the process's */
  owner?: string;
}

export interface WaitLimits {
  /** requests waiting at once in this process; past it, 503 */
  maxWaiters: number;
  /** per owner (token) in this process; past it, 429 */
  maxPerOwner: number;
}

interface Channel {
  name: string;
  queue: string;
  members: number;
  /** bumped by every notification, so that a waiter whose pop raced with one tries again */
  generation: number;
  sleepers: Array<() => void>;
  /** consumers that pop by themselves (see watch): told of every notification and re-check */
  watchers?: Set<() => void>;
  subscribed: Promise<unknown>;
  /** when the queue's rate allows a job again: the one timer that wakes the oldest sleeper then */
  refill?: { at: number; timer: NodeJS.Timeout };
  /** a pop here was rate limited: a sleeper that gets a job passes the turn on (see wait) */
  rateLimited?: boolean;
}

/** How often the oldest sleepers of RECHECK_BATCH queues pop again without a message. */
export const RECHECK_MS = 1000;
export const RECHECK_BATCH = 8;

/** A watch on a queue (LongPoll.watch): `dueAt` sweeps the queue then (a pop's nextWakeMs). */
export interface QueueWatch {
  dueAt(atMs: number): void;
  close(): void;
}

const NOTHING: PopResult = { jobs: [], lease: 0, nextWakeMs: null };

export class LongPoll {
  private readonly channels = new Map<string, Channel>();
  /** per queue with waiters: the one timer that sweeps it when its next job comes due */
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private closing = false;
  private rechecks: NodeJS.Timeout | undefined;
  private waiting = 0;
  private readonly byOwner = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly sub: RedisClient,
    private readonly log: Logger,
    private readonly limits: WaitLimits = { maxWaiters: Infinity, maxPerOwner: Infinity },
  ) {
    sub.on("smessage", (channel: string, message: string) => this.notified(channel, message));
    // connected before this is made (start.ts): every "ready" from now on is a reconnection, after
    // which messages may have been lost; the moment lets ioredis subscribe again first
    sub.on("ready", () => setTimeout(() => this.recheckAll(), 100).unref());
  }

  /** requests waiting right now */
  get count(): number {
    return this.waiting;
  }

  /** Jobs for a consumer: at once, or (want.wait > 0) once some are ready or the wait is over.
   *  A consumer that aborts gets nothing popped for it: a job deleted then would be lost. */
  take(want: TakeRequest, signal?: AbortSignal): Promise<PopResult> {
    if (want.wait <= 0 || this.closing) return this.pop(want);
    return this.wait(want, signal);
  }

  /** For a consumer that pops by itself (the streaming dispatcher, src/server/stream): `wake` is
   *  called whenever the queue may have ready jobs (a notification, "stopped", the RECHECK_MS
   *  re-check), on the same one subscription per queue as the sleepers. Nothing is popped here. */
  async watch(queue: string, wake: () => void): Promise<QueueWatch> {
    const channel = await this.join(queue);
    (channel.watchers ??= new Set()).add(wake);
    let open = true;
    return {
      dueAt: (atMs) => open && this.sweepAt(queue, atMs),
      close: () => {
        if (!open) return;
        open = false;
        channel.watchers!.delete(wake);
        this.leave(channel);
      },
    };
  }

  /** Lets every waiter go (they answer with no job) and refuses new sleeps. */
  close(): void {
    this.closing = true;
    clearInterval(this.rechecks);
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const channel of this.channels.values()) {
      for (const wake of [...channel.sleepers]) wake();
    }
  }

  private pop(want: TakeRequest): Promise<PopResult> {
    const { store } = this;
    return want.count === 1
      ? store.popOne(want.queue, want.worker, want.lease)
      : store.pop(want.queue, want.count, want.worker, want.lease);
  }

  private async wait(want: TakeRequest, signal?: AbortSignal): Promise<PopResult> {
    const deadline = Date.now() + want.wait * 1000;
    const { owner } = want;
    if (this.waiting >= this.limits.maxWaiters) {
      throw new HttpError(503, `${this.waiting} long polls are waiting here already (server.max_waiters)`, { "retry-after": "1" });
    }
    const owned = owner === undefined ? 0 : (this.byOwner.get(owner) ?? 0);
    if (owner !== undefined && owned >= this.limits.maxPerOwner) {
      throw new HttpError(429, `token ${owner} has ${owned} long polls waiting here already (server.max_waiters_per_token)`, {
        "retry-after": "1",
      });
    }
    this.waiting++;
    if (owner !== undefined) this.byOwner.set(owner, owned + 1);
    try {
      return await this.waitInLine(want, deadline, signal);
    } finally {
      this.waiting--;
      if (owner !== undefined) {
        const left = (this.byOwner.get(owner) ?? 1) - 1;
        if (left > 0) this.byOwner.set(owner, left);
        else this.byOwner.delete(owner);
      }
    }
  }

  private async waitInLine(want: TakeRequest, deadline: number, signal?: AbortSignal): Promise<PopResult> {
    // subscribe before the first pop, so that no push between the pop and the sleep goes unheard
    const channel = await this.join(want.queue);
    try {
      for (let first = true; ; first = false) {
        const generation = channel.generation;
        if (signal?.aborted) return NOTHING;
        let result: PopResult;
        try {
          result = await this.pop(want);
        } catch (err) {
          // a re-check's pop while Redis is away (see RECHECK_MS): the waiter sleeps on, as it did
          // before re-checks, and answers 503 only if Redis is still away at its deadline
          if (first || Date.now() >= deadline || this.closing || classify(err).status !== 503) throw err;
          await this.sleep(channel, deadline, signal);
          continue;
        }
        // on a rate-limited queue the next sleeper pops at once: it takes what tokens are left, or
        // learns when the next one comes, which no message will tell
        if (result.jobs.length > 0 && channel.rateLimited) channel.sleepers[0]?.();
        if (result.jobs.length > 0 || Date.now() >= deadline || signal?.aborted || this.closing) return result;
        if (channel.generation !== generation) continue;
        if (result.nextWakeMs !== null && result.nextWakeMs < deadline) this.sweepAt(want.queue, result.nextWakeMs);
        // a rate-limited queue: a token comes at a time the script told, with no message to say so
        if (result.rateLimitedUntilMs !== undefined) {
          channel.rateLimited = true;
          if (result.rateLimitedUntilMs < deadline) this.wakeAt(channel, result.rateLimitedUntilMs);
        }
        await this.sleep(channel, deadline, signal);
      }
    } finally {
      this.leave(channel);
    }
  }

  /** Joins a queue's channel; the subscription is in place when this resolves. */
  private async join(queue: string): Promise<Channel> {
    const name = this.store.keys(queue).notify;
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { name, queue, members: 0, generation: 0, sleepers: [], subscribed: this.sub.ssubscribe(name) };
      this.channels.set(name, channel);
      if (!this.rechecks) {
        this.rechecks = setInterval(() => this.recheckSome(), RECHECK_MS);
        this.rechecks.unref();
      }
    }
    channel.members++;
    try {
      await channel.subscribed;
    } catch (err) {
      this.leave(channel);
      throw err;
    }
    return channel;
  }

  private leave(channel: Channel): void {
    if (--channel.members > 0) return;
    this.channels.delete(channel.name);
    if (channel.refill) clearTimeout(channel.refill.timer);
    if (this.channels.size === 0) {
      clearInterval(this.rechecks);
      this.rechecks = undefined;
    }
    this.sub.sunsubscribe(channel.name).catch(() => {
      // the connection is gone: so is the subscription
    });
  }

  /** Sleeps until a notification, the deadline, the consumer leaving, or shutdown. */
  private sleep(channel: Channel, untilMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", wake);
        const i = channel.sleepers.indexOf(wake);
        if (i >= 0) channel.sleepers.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, untilMs - Date.now()));
      signal?.addEventListener("abort", wake, { once: true });
      channel.sleepers.push(wake);
    });
  }

  /** Wakes the oldest sleeper of the next RECHECK_BATCH queues without a message: it pops, and
   *  sleeps again at the back of the line when there was nothing. Not a notification: the
   *  generation stays. The queues woken go to the end of the map, so that each tick takes the
   *  next ones in turn. */
  private recheckSome(): void {
    const next: Channel[] = [];
    for (const channel of this.channels.values()) {
      if (next.length === RECHECK_BATCH) break;
      next.push(channel);
    }
    for (const channel of next) {
      this.channels.delete(channel.name);
      this.channels.set(channel.name, channel);
      this.wakeOldest(channel);
    }
  }

  /** A re-check's wake-up: the oldest sleeper pops again, and so does every watcher. */
  private wakeOldest(channel: Channel): void {
    channel.sleepers[0]?.();
    if (channel.watchers) for (const wake of channel.watchers) wake();
  }

  /** After a reconnection: every queue's oldest sleeper pops again, once. */
  private recheckAll(): void {
    if (this.closing) return;
    for (const channel of this.channels.values()) this.wakeOldest(channel);
  }

  /** Wakes a queue's oldest sleeper at `atMs` (the earliest asked for wins): it pops the token that
   *  comes then, and if it is beaten to it, learns the next token's time and sets this again. */
  private wakeAt(channel: Channel, atMs: number): void {
    if (this.closing || (channel.refill && channel.refill.at <= atMs)) return;
    if (channel.refill) clearTimeout(channel.refill.timer);
    const timer = setTimeout(
      () => {
        channel.refill = undefined;
        channel.generation++;
        this.wakeOldest(channel);
      },
      Math.max(0, atMs - Date.now()),
    );
    timer.unref();
    channel.refill = { at: atMs, timer };
  }

  private notified(name: string, message: string): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    if (message.startsWith("due:")) {
      this.sweepAt(channel.queue, Number(message.slice(4)));
      return;
    }
    const jobs = message === "stopped" ? Infinity : Number(message) || 1;
    channel.generation++;
    // a sleeper whose consumer left was already taken off the list by its abort
    for (const wake of channel.sleepers.slice(0, jobs)) wake();
    if (channel.watchers) for (const wake of channel.watchers) wake();
  }

  /** Sweeps one queue at `atMs` (the earliest asked for wins), so that its waiters are woken on
   *  time by the job that comes due then; while waiters remain, the timer moves on to the next. */
  private sweepAt(queue: string, atMs: number): void {
    if (this.closing) return;
    const pending = this.timers.get(queue);
    if (pending && pending.at <= atMs) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(queue);
        this.store.sweep(queue).then(
          ({ nextWakeMs }) => nextWakeMs !== null && this.channels.has(this.store.keys(queue).notify) && this.sweepAt(queue, nextWakeMs),
          (err) => this.log.debug({ err, queue }, "sweep failed"),
        );
      },
      Math.max(0, atMs - Date.now()) + 5,
    );
    timer.unref();
    this.timers.set(queue, { at: atMs, timer });
  }
}
