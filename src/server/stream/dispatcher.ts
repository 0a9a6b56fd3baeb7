// Hands jobs to streaming consumers: per queue and lease in this process, one leased pop at a time
// for all the credit its sockets have (up to batch.max_fetch), then one job each in turn (round
// robin, in delivery order). A queue with no credit on it costs nothing; one with credit and no
// job waits for the long-poll owner's wake-ups (LongPoll.watch), not a pop per socket per tick.
import type { Logger } from "pino";
import { classify } from "../../shared/errors.js";
import type { LongPoll, QueueWatch } from "../../store/longpoll.js";
import type { PopResult, Store } from "../../store/store.js";
import type { Session } from "./session.js";

/** How long a queue that refused a pop (stopped, Redis away) waits before it pops again. */
const PAUSE_MS = 1000;

class Group {
  readonly sessions: Session[] = [];
  /** where the next round of the round robin starts */
  private cursor = 0;
  private watch?: QueueWatch;
  private watching?: Promise<void>;
  private popping = false;
  /** woken while a pop was in flight: pop again once it answers */
  private dirty = false;
  private pausedUntil = 0;
  private pauseTimer?: NodeJS.Timeout;
  /** jobs may be ready: false after a pop came back empty, true again on a wake-up. Credit alone
   *  pops only while it is true, so consumers acking and asking for more on an empty queue cost
   *  Redis nothing; a wake-up lost in pub/sub is made up by the once-a-second re-check */
  private hint = true;
  closed = false;

  constructor(
    readonly queue: string,
    readonly lease: number,
    private readonly owner: Dispatcher,
  ) {}

  /** Subscribes to the queue's wake-ups before the first pop, so no push in between goes unheard. */
  async open(): Promise<void> {
    this.watching ??= this.owner.longPoll
      .watch(this.queue, () => this.wake())
      .then((watch) => {
        if (this.closed) watch.close();
        else this.watch = watch;
      });
    await this.watching;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.pauseTimer);
    this.watch?.close();
  }

  wake(): void {
    this.hint = true;
    this.kick();
  }

  kick(): void {
    if (!this.hint) return;
    if (this.popping) {
      this.dirty = true;
      return;
    }
    if (!this.watch || this.closed || this.owner.stopping || Date.now() < this.pausedUntil) return;
    this.popping = true;
    this.run().finally(() => (this.popping = false));
  }

  private async run(): Promise<void> {
    for (;;) {
      this.dirty = false;
      if (this.closed || this.owner.stopping) return;
      const plan = this.reserve();
      if (plan.total === 0) return;
      let result: PopResult;
      try {
        result = await this.owner.store.pop(this.queue, plan.total, "", this.lease);
      } catch (err) {
        this.release(plan);
        this.pause(err);
        return;
      }
      this.distribute(result, plan);
      if (result.jobs.length === 0) {
        if (result.nextWakeMs !== null) this.watch?.dueAt(result.nextWakeMs);
        if (!this.dirty) {
          this.hint = false;
          return;
        }
      }
    }
  }

  /** Sets aside credit for one pop: a unit at a time round the sockets from the cursor, so that
   *  with more credit than max_fetch each socket still gets its share. */
  private reserve(): Plan {
    const n = this.sessions.length;
    const order = Array.from({ length: n }, (_, i) => this.sessions[(this.cursor + i) % n]);
    // a socket on several queues offers each a share of its credit, so that one queue's pop does
    // not hold all of it while the others' jobs wait
    const free = order.map((s) => {
      const available = Math.max(0, s.available);
      if (available === 0 && s.reserved > 0) s.blocked = true;
      return Math.ceil(available / Math.max(1, s.queues.size));
    });
    const take = order.map(() => 0);
    const max = this.owner.maxFetch;
    let total = 0;
    for (let progress = true; progress && total < max;) {
      progress = false;
      for (let i = 0; i < n && total < max; i++) {
        if (free[i] > take[i]) {
          take[i]++;
          total++;
          progress = true;
        }
      }
    }
    order.forEach((s, i) => (s.reserved += take[i]));
    return { order, take, total };
  }

  /** Gives back what a pop did not use; a socket whose credit another queue found all set aside
   *  is offered to its other queues now (never to this one again: no two queues ping-pong). */
  private release(plan: Plan): void {
    plan.order.forEach((s, i) => {
      if (plan.take[i] === 0) return;
      s.reserved -= plan.take[i];
      if (s.blocked && s.available > 0) {
        s.blocked = false;
        this.owner.ready(s, this.queue);
      }
    });
    plan.take.fill(0);
  }

  /** One job each in turn to the sockets that reserved credit; each gets its jobs in one frame.
   *  During shutdown, or to a socket gone meanwhile, they are handed back rather than sent. */
  private distribute(result: PopResult, plan: Plan): void {
    const { order, take } = plan;
    const given: number[][] = order.map(() => []);
    const left = [...take];
    let i = 0;
    let last = -1;
    for (let j = 0; j < result.jobs.length; j++) {
      while (left[i] === 0) i = (i + 1) % order.length;
      given[i].push(j);
      left[i]--;
      last = i;
      i = (i + 1) % order.length;
    }
    if (last >= 0) this.cursor = (this.cursor + last + 1) % Math.max(1, this.sessions.length);
    order.forEach((session, k) => {
      if (given[k].length === 0) return;
      const jobs = given[k].map((j) => result.jobs[j]);
      if (this.owner.stopping) void this.owner.handBack(this.queue, jobs, session.worker, "the server stopped before the job was sent");
      else session.deliver(this.queue, jobs, result.lease);
    });
    this.release(plan);
  }

  /** A stopped queue (404 STOPPED) or Redis away: pop again later, on a wake-up after PAUSE_MS. */
  private pause(err: unknown): void {
    const { status, bug } = classify(err);
    if (bug) this.owner.log.error({ err, queue: this.queue }, "stream pop failed");
    else if (status !== 404) this.owner.log.debug({ err: (err as Error).message, queue: this.queue }, "stream pop refused");
    this.pausedUntil = Date.now() + PAUSE_MS;
    clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => this.wake(), PAUSE_MS + 5);
    this.pauseTimer.unref();
  }
}

interface Plan {
  order: Session[];
  take: number[];
  total: number;
}

export class Dispatcher {
  private readonly groups = new Map<string, Group>();
  stopping = false;

  constructor(
    readonly store: Store,
    readonly longPoll: LongPoll,
    readonly log: Logger,
    readonly maxFetch: number,
    readonly handBack: (queue: string, jobs: Array<{ id: string; attempt: number }>, worker: string, why: string) => Promise<void>,
  ) {}

  async add(session: Session, queue: string): Promise<void> {
    const id = `${queue}\n${session.opts.lease}`;
    let group = this.groups.get(id);
    if (!group) this.groups.set(id, (group = new Group(queue, session.opts.lease, this)));
    group.sessions.push(session);
    await group.open();
    group.kick();
  }

  remove(session: Session, queue: string): void {
    const id = `${queue}\n${session.opts.lease}`;
    const group = this.groups.get(id);
    if (!group) return;
    const i = group.sessions.indexOf(session);
    if (i >= 0) group.sessions.splice(i, 1);
    if (group.sessions.length === 0) {
      group.close();
      this.groups.delete(id);
    }
  }

  /** The session has credit to spend: every queue it consumes may pop for it. */
  ready(session: Session, except?: string): void {
    // from a queue that turns each time, so that one socket's queues take turns at its credit
    const queues = [...session.queues];
    const start = session.turn++ % Math.max(1, queues.length);
    for (let i = 0; i < queues.length; i++) {
      const queue = queues[(start + i) % queues.length];
      if (queue !== except) this.groups.get(`${queue}\n${session.opts.lease}`)?.kick();
    }
  }

  stop(): void {
    this.stopping = true;
    for (const group of this.groups.values()) group.close();
    this.groups.clear();
  }
}
