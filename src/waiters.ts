// Long polling. A request that finds no job sleeps here until a script announces ready jobs on
// the queue's channel (a push, a delayed job coming due, an expired lease), or its time is up.
// Messages: "<n>" n jobs became ready; "due:<ms>" a job will be ready at that time (the sweeper
// is asked to promote it then); "stopped" the queue was stopped (every waiter answers).
// Idle waiters cost Redis nothing: one subscription per queue with waiters, in each process.
// A notification for n jobs wakes n sleepers, oldest first; the pop script is atomic, so each
// job still goes to exactly one of them.
import type { Redis } from "ioredis";
import type { Res } from "./http.js";

interface Sleeper {
  res: Res;
  wake: () => void;
}

interface Channel {
  name: string;
  queue: string;
  members: number;
  /** bumped by every notification, so that a waiter whose pop raced with one tries again */
  generation: number;
  sleepers: Sleeper[];
  subscribed: Promise<unknown>;
}

export class Waiters {
  private readonly channels = new Map<string, Channel>();
  private closing = false;

  constructor(
    private readonly sub: Redis,
    /** the pub/sub channel of a queue (Store.keys(queue).notify) */
    private readonly channelOf: (queue: string) => string,
    private readonly onDue: (queue: string, atMs: number) => void,
  ) {
    sub.on("message", (channel: string, message: string) => this.notified(channel, message));
  }

  get stopping(): boolean {
    return this.closing;
  }

  get count(): number {
    let n = 0;
    for (const c of this.channels.values()) n += c.members;
    return n;
  }

  waiting(queue: string): boolean {
    return this.channels.has(this.channelOf(queue));
  }

  /** Joins a queue's channel; the subscription is in place when this resolves. */
  async join(queue: string): Promise<Channel> {
    const name = this.channelOf(queue);
    let channel = this.channels.get(name);
    if (!channel) {
      channel = { name, queue, members: 0, generation: 0, sleepers: [], subscribed: this.sub.subscribe(name) };
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

  leave(channel: Channel): void {
    if (--channel.members > 0) return;
    this.channels.delete(channel.name);
    this.sub.unsubscribe(channel.name).catch(() => {
      // the connection is gone: so is the subscription
    });
  }

  /** Sleeps until a notification, the deadline, the client leaving, or shutdown. */
  sleep(channel: Channel, untilMs: number, res: Res): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        res,
        wake: () => {
          clearTimeout(timer);
          res.off("close", sleeper.wake);
          const i = channel.sleepers.indexOf(sleeper);
          if (i >= 0) channel.sleepers.splice(i, 1);
          resolve();
        },
      };
      const timer = setTimeout(sleeper.wake, Math.max(0, untilMs - Date.now()));
      res.once("close", sleeper.wake);
      channel.sleepers.push(sleeper);
    });
  }

  private notified(name: string, message: string): void {
    const channel = this.channels.get(name);
    if (!channel) return;
    if (message.startsWith("due:")) {
      this.onDue(channel.queue, Number(message.slice(4)));
      return;
    }
    const jobs = message === "stopped" ? Infinity : Number(message) || 1;
    channel.generation++;
    let woken = 0;
    for (const sleeper of [...channel.sleepers]) {
      if (woken >= jobs) break;
      if (sleeper.res.destroyed) continue; // gone: its close handler takes it off the list
      sleeper.wake();
      woken++;
    }
  }

  /** Lets every waiter go (they answer "no job") and refuses new sleeps. */
  close(): void {
    this.closing = true;
    for (const channel of this.channels.values()) for (const s of [...channel.sleepers]) s.wake();
  }
}

export type { Channel };
