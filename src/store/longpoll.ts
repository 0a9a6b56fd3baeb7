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
// subscribers do not hear: so each queue with sleepers also wakes its oldest sleeper every
// RECHECK_MS to pop again. A lost message delays a waiter by that much at most; never strands it.
import type { Logger } from "pino";
import { classify } from "../shared/errors.js";
import type { PopResult, Store } from "./store.js";
import type { RedisClient } from "./topology.js";

export interface TakeRequest {
  queue: string;
  count: number;
  worker: string;
  lease?: number;
  /** seconds to wait for a job when none is ready; 0 answers at once */
  wait: number;
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
  recheck: NodeJS.Timeout;
}

/** How often a queue's oldest sleeper pops again without a message: one pop per queue with
 *  sleepers per process, whatever the number of waiters. */
export const RECHECK_MS = 1000;

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

  constructor(
    private readonly store: Store,
    private readonly sub: RedisClient,
    private readonly log: Logger,
  ) {
    sub.on("smessage", (channel: string, message: string) => this.notified(channel, message));
  }

  /** requests waiting right now */
  get count(): number {
    let n = 0;
    for (const c of this.channels.values()) n += c.members;
    return n;
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
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const channel of this.channels.values()) {
      clearInterval(channel.recheck);
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
        if (result.jobs.length > 0 || Date.now() >= deadline || signal?.aborted || this.closing) return result;
        if (channel.generation !== generation) continue;
        if (result.nextWakeMs !== null && result.nextWakeMs < deadline) this.sweepAt(want.queue, result.nextWakeMs);
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
      const recheck = setInterval(() => this.recheck(name), RECHECK_MS);
      recheck.unref();
      channel = { name, queue, members: 0, generation: 0, sleepers: [], subscribed: this.sub.ssubscribe(name), recheck };
      this.channels.set(name, channel);
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
    clearInterval(channel.recheck);
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

  /** Wakes a queue's oldest sleeper without a message (see RECHECK_MS): it pops, and sleeps again
   *  at the back of the line when there was nothing. Not a notification: the generation stays. */
  private recheck(name: string): void {
    const channel = this.channels.get(name);
    channel?.sleepers[0]?.();
    if (channel?.watchers) for (const wake of channel.watchers) wake();
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
