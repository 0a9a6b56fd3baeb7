// A worker: takes jobs under a lease (pushed over a WebSocket with credit for its free slots, or
// long polling in batches sized to them), runs a handler on each with bounded concurrency across
// its queues, acknowledges and fails them in batches, keeps their leases alive, and stops without
// losing a job.
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import { Client, ConnectionError, PresqueError, sleep, type BatchOutcome, type ClientOptions, type Job } from "./client.js";
import { JobStream, StreamRefused } from "./stream.js";

export interface JobContext {
  /** fires when the lease is lost (another worker may now hold the job) or the worker gives up on it */
  signal: AbortSignal;
  workerId: string;
  /** asks for more time now (leases are also extended every lease/2 on their own) */
  extend(seconds?: number): Promise<void>;
}

export type Handler<T> = (job: Job<T>, ctx: JobContext) => unknown;

export interface WorkerOptions<T = unknown> {
  handler: Handler<T>;
  queues: string[] | string;
  /** the server; default PRESQUE_URL, then http://127.0.0.1:5000 */
  url?: string;
  /** client settings (retries, timeouts) */
  client?: Omit<ClientOptions, "url" | "workerId">;
  /** jobs run at once, across all queues (default 10) */
  concurrency?: number;
  /** seconds each job is leased for (default 30); 0 takes jobs the classic way (deleted on fetch,
   *  posted back with PUT /q when the handler fails) */
  lease?: number;
  /** seconds a fetch waits for a job when none is ready (default 10) */
  wait?: number;
  /** part of the worker id: <host>:<pid>:<name> (default "worker") */
  name?: string;
  /** stop on SIGINT/SIGTERM (default true) */
  handleSignals?: boolean;
  /** ms that running jobs get to finish after a signal (default 10000) */
  stopTimeout?: number;
  /** ms that acknowledgements wait to be sent together (default 2) */
  flushDelay?: number;
  /** register on the queues for statistics (default true) */
  register?: boolean;
  /** take at most this many jobs, then stop once they are finished */
  maxJobs?: number;
  /** how jobs arrive: "stream" pushes them over one WebSocket (GET /c/:queue, with credit for the
   *  free slots), "poll" long-polls GET /qb/:queue. Default: "stream" when the server offers it
   *  (an older one answers the upgrade 404: long polls then), "poll" with lease 0 (streamed jobs
   *  are always leased). "stream" given outright fails start() if the server refuses it. */
  transport?: "stream" | "poll";
  /** stream transport: jobs taken beyond the free slots, to start as slots free up, so that the
   *  next ones are on their way while these run. Default: concurrency, and more while jobs finish
   *  fast: as many as the worker finishes in PREFETCH_MS (at most MAX_PREFETCH). Their leases run
   *  while they wait: with slow handlers, less (0: only as many as there are free slots). */
  prefetch?: number;
}

export interface WorkerCounts {
  done: number;
  failed: number;
  running: number;
}

interface Running {
  job: Job<unknown>;
  /** made when the handler first reads ctx.signal, or when the job is given up on: most handlers
   *  never read it, and an AbortController per job was a tenth of a busy worker's CPU */
  controller?: AbortController;
  /** when its lease is next extended, in ms (Infinity while an extension is under way) */
  extendAt: number;
  /** the lease's end as last confirmed, in ms */
  deadline: number;
  settled: boolean;
}

interface Pending {
  id: string;
  attempt: number;
  error?: string;
  /** 0: handed back at once (a job the worker did not finish because it stopped) */
  retryIn?: number;
  deadline: number;
}

const MAX_BATCH = 1000;
/** the most credit a socket holds unspent (the server's bound) */
const MAX_CREDIT = 10_000;
/** how long stop() lets fetches in flight answer before cutting them off */
const STOP_POLL_GRACE_MS = 200;
/** The default prefetch covers this long of jobs at the rate they finish: enough to keep a pop
 *  on its way while the last one's jobs run (a stream drain went 47k -> 63k jobs/s with 400 more
 *  than concurrency 50), short enough that a prefetched job waits a small part of its lease. */
const PREFETCH_MS = 100;
const MAX_PREFETCH = 1000;

export class Worker<T = unknown> extends EventEmitter {
  readonly id: string;
  readonly client: Client;
  readonly counts: WorkerCounts = { done: 0, failed: 0, running: 0 };
  private readonly queues: string[];
  private readonly concurrency: number;
  private readonly lease: number;
  private readonly wait: number;
  private readonly handler: Handler<T>;
  private readonly opts: WorkerOptions<T>;
  private free: number;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly running = new Set<Running>();
  private readonly polls = new AbortController();
  private readonly acks = new Map<string, Pending[]>();
  private readonly fails = new Map<string, Pending[]>();
  private flushTimer?: NodeJS.Timeout;
  /** one timer for every running job's lease extension, set for the earliest */
  private extendTimer?: NodeJS.Timeout;
  private extendTimerAt = Infinity;
  private readonly flushing = new Set<Promise<void>>();
  private batchRoutes = true;
  private loops: Promise<void>[] = [];
  private stopping?: Promise<void>;
  private started = false;
  private warnedAt = 0;
  /** jobs still to take under maxJobs */
  private budget: number;
  /** fetches in flight, each holding some of the budget until it answers */
  private fetching = 0;
  /** the stream transport's socket, while it is open */
  private stream?: JobStream;
  /** slots (and budget) offered to the stream as credit, whose jobs have not arrived */
  private granted = 0;
  private granting = false;
  /** streamed jobs waiting for a free slot (see prefetch), with when they arrived (ms, this
   *  process's clock: the lease's end is the server's, whose clock may be another) */
  private waiting: Array<{ job: Job<T>; at: number }> = [];
  /** opts.prefetch; undefined: it follows the rate jobs finish at (prefetchNow) */
  private readonly prefetch?: number;
  /** jobs finished since rateAt (ms), and the rate (jobs/s) measured over the window before */
  private finishedSince = 0;
  private rateAt = 0;
  private rate = 0;
  /** how jobs arrive, once started */
  transport?: "stream" | "poll";
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (!this.stopping) return void this.stop(this.opts.stopTimeout ?? 10_000);
    // a second Ctrl-C: whoever sends it does not want to wait; the signal's own action, now
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    process.kill(process.pid, signal);
  };

  constructor(opts: WorkerOptions<T>) {
    super();
    this.opts = opts;
    this.queues = Array.isArray(opts.queues) ? [...opts.queues] : [opts.queues];
    if (this.queues.length === 0) throw new TypeError("a worker needs at least one queue");
    this.concurrency = opts.concurrency ?? 10;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new TypeError("concurrency must be a positive integer");
    this.lease = opts.lease ?? 30;
    this.wait = opts.wait ?? 10;
    this.handler = opts.handler;
    this.free = this.concurrency;
    this.budget = opts.maxJobs ?? Infinity;
    this.prefetch = opts.prefetch;
    if (this.prefetch !== undefined && !(Number.isInteger(this.prefetch) && this.prefetch >= 0)) {
      throw new TypeError("prefetch must be an integer of 0 or more");
    }
    this.id = `${hostname()}:${process.pid}:${opts.name ?? "worker"}`;
    this.client = new Client({ retries: 3, ...opts.client, url: opts.url, workerId: this.id });
  }

  /** Registers on the queues and starts fetching; resolves once fetching has begun. */
  async start(): Promise<this> {
    if (this.started) return this;
    this.started = true;
    if (this.opts.register !== false) await this.registerAll();
    if (this.opts.handleSignals !== false) {
      process.on("SIGINT", this.onSignal);
      process.on("SIGTERM", this.onSignal);
    }
    if (this.lease > 0 && this.opts.transport !== "poll") {
      try {
        await this.openStream();
      } catch (err) {
        if (this.opts.transport === "stream") {
          await this.stop(0);
          throw err;
        }
      }
    }
    if (!this.stream) this.startPolling();
    return this;
  }

  private startPolling(): void {
    this.transport = "poll";
    // one fetch in flight per queue: fewer, fuller batches cost presque less than several small
    // ones in flight (measured: 50 jobs per fetch at concurrency 50, against 25 with two)
    this.loops.push(...this.queues.map((queue) => this.poll(queue)));
  }

  // --- the stream transport

  private async openStream(): Promise<void> {
    const stream = await JobStream.open({ url: this.client.url, queues: this.queues, lease: this.lease, headers: this.client.identity() });
    if (this.stopping) return stream.close();
    this.stream = stream;
    this.transport = "stream";
    stream.onJobs = (jobs) => this.streamed(jobs as Job<T>[]);
    stream.onClose = () => this.streamClosed(stream);
    this.grant();
  }

  /** Offers the free slots (within maxJobs) as credit: once per turn of the event loop, so that
   *  jobs finishing together ask for their successors in one message. */
  private grant(): void {
    if (!this.stream || this.stopping || this.granting) return;
    this.granting = true;
    setImmediate(() => {
      this.granting = false;
      if (!this.stream?.open || this.stopping) return;
      // what the worker may hold: its slots and the prefetch, less what it holds or was promised
      const held = this.concurrency - this.free + this.waiting.length + this.granted;
      const n = Math.min(this.concurrency + this.prefetchNow() - held, this.budget, MAX_CREDIT - this.granted);
      if (n <= 0) return;
      this.budget -= n;
      this.granted += n;
      this.stream.credit(n);
    });
  }

  /** The prefetch now: the option, or concurrency and more, as jobs finish in PREFETCH_MS at the
   *  rate measured over the last window of at least PREFETCH_MS. */
  private prefetchNow(): number {
    if (this.prefetch !== undefined) return this.prefetch;
    const now = performance.now();
    if (now - this.rateAt >= PREFETCH_MS) {
      this.rate = this.rateAt === 0 ? 0 : (this.finishedSince * 1000) / (now - this.rateAt);
      this.finishedSince = 0;
      this.rateAt = now;
    }
    return Math.max(this.concurrency, Math.min(MAX_PREFETCH, Math.round((this.rate * PREFETCH_MS) / 1000)));
  }

  private streamed(jobs: Job<T>[]): void {
    this.granted -= jobs.length;
    // arrived after stop() began: handed back at once, not run
    if (this.stopping) return void this.release(jobs as Job<unknown>[]);
    const at = Date.now();
    for (const job of jobs) this.waiting.push({ job, at });
    this.startWaiting();
  }

  private startWaiting(): void {
    let lapsed = 0;
    while (this.free > 0 && this.waiting.length > 0 && !this.stopping) {
      const { job, at } = this.waiting.shift()!;
      // its lease ran out while it waited: presque hands it out again, maybe to another worker,
      // so it is not run here (and counts again towards maxJobs)
      if (Date.now() - at >= this.lease * 1000) {
        lapsed++;
        continue;
      }
      this.free--;
      this.run(job);
    }
    if (lapsed === 0) return;
    this.budget += lapsed;
    this.grant();
  }

  /** The socket closed under the worker: presque handed back every job it held, so the handlers
   *  still running are told their leases are lost; the worker connects again (or long-polls, if
   *  the server no longer offers streams). */
  private streamClosed(stream: JobStream): void {
    if (this.stream === stream) this.stream = undefined;
    // presque hands back what the socket held: the credit and the jobs not yet started go with it
    this.budget += this.granted + this.waiting.length;
    this.granted = 0;
    this.waiting = [];
    if (this.stopping) return;
    for (const r of [...this.running]) this.giveUp(r, "lease lost: the stream to presque closed");
    this.loops.push(this.reconnect());
  }

  private async reconnect(): Promise<void> {
    for (let failures = 1; !this.stopping; failures++) {
      await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)), this.polls.signal);
      if (this.stopping) return;
      try {
        await this.openStream();
        return;
      } catch (err) {
        if (err instanceof StreamRefused && this.opts.transport !== "stream" && err.status !== 503) return this.startPolling();
        this.report(err, { what: "stream" });
      }
    }
  }

  /** Resolves when the worker has stopped (after stop() or a signal). */
  get stopped(): Promise<void> {
    return new Promise((resolve) => (this.stopping ? this.stopping.then(resolve) : this.once("stopped", resolve)));
  }

  /** Stops fetching, lets running jobs finish for up to timeoutMs, hands the rest back so that they
   *  are ready again at once, sends every pending acknowledgement, unregisters, resolves. */
  stop(timeoutMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      for (const wake of this.slotWaiters.splice(0)) wake();
      // a fetch whose answer is on its way holds leased jobs: let it arrive (they are failed back
      // at once) rather than cut it off and leave them leased; a long poll is cut off soon after
      const polled = Promise.allSettled(this.loops);
      // a stream is told to send no more: what arrives before it answers is handed back
      const cancelled = this.stream?.cancel().catch(() => {});
      await Promise.race([Promise.all([polled, cancelled]), sleep(Math.min(STOP_POLL_GRACE_MS, timeoutMs))]);
      this.polls.abort(new Error("worker stopping"));
      const unstarted = this.waiting.splice(0).map((w) => w.job);
      await this.drain(timeoutMs);
      const left = [...this.running];
      for (const r of left) this.giveUp(r, "worker stopped before the job finished");
      await Promise.allSettled(this.loops);
      // acknowledgements that failed to go out are queued again: send until none are left
      for (let i = 0; i < 50 && (this.acks.size || this.fails.size || this.flushing.size); i++) await this.flushAll();
      await this.handBack([...unstarted, ...left.map((r) => r.job as Job<T>)]);
      // whatever reached the socket after this is handed back by presque when it closes
      this.stream?.close();
      if (this.opts.register !== false) await Promise.allSettled(this.queues.map((q) => this.client.unregister(q)));
      process.off("SIGINT", this.onSignal);
      process.off("SIGTERM", this.onSignal);
      clearTimeout(this.extendTimer);
      this.client.close();
      this.emit("stopped");
    })();
    return this.stopping;
  }

  // --- fetching

  private async poll(queue: string): Promise<void> {
    // busy: the last fetch brought jobs, so take as many as there are free slots without waiting;
    // idle: long-poll for one, so that an empty queue holds one slot, not all of them
    let busy = false;
    let failures = 0;
    while (!this.stopping) {
      const want = await this.reserve(busy ? Infinity : 1);
      if (this.stopping || want === 0) return this.unreserve(want);
      let jobs: Job<T>[] = [];
      this.fetching++;
      try {
        jobs = await this.client.fetchBatch<T>(queue, want, {
          lease: this.lease,
          wait: busy ? 0 : this.wait,
          signal: this.polls.signal,
        });
        failures = 0;
      } catch (err) {
        this.unreserve(want);
        this.budget += want;
        this.fetched();
        if (this.stopping) return;
        failures++;
        this.report(err, { queue, what: "fetch" });
        // a closed queue answers at once, as does a server that is down: do not spin
        await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)), this.polls.signal);
        continue;
      }
      if (this.stopping) {
        this.unreserve(want);
        this.fetched();
        return this.handBack(jobs);
      }
      this.unreserve(want - jobs.length);
      this.budget += want - jobs.length;
      this.fetched();
      busy = jobs.length > 0;
      for (const job of jobs) this.run(job);
      // came back empty: the loops that waited for what it held (a slot, the last of maxJobs) go
      // first, or an empty queue's polls could keep them from it for good
      if (!busy) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Waits for a free slot, then takes up to max of them; 0 when stopping or maxJobs is all taken. */
  private async reserve(max: number): Promise<number> {
    for (;;) {
      // maxJobs: what is left of it may be held by another queue's fetch, which gives back what it
      // did not get; this loop waits for that rather than end while jobs may still be taken
      while (!this.stopping && (this.budget > 0 ? this.free === 0 : this.fetching > 0)) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      }
      // jobs that finish in this turn of the event loop free their slots together: one fetch for all
      await new Promise((resolve) => setImmediate(resolve));
      if (this.stopping || (this.budget <= 0 && this.fetching === 0)) return 0;
      if (this.free > 0 && this.budget > 0) break; // else another queue's fetch took them meanwhile
    }
    const n = Math.min(this.free, max, MAX_BATCH, this.budget);
    this.free -= n;
    this.budget -= n;
    return n;
  }

  /** A fetch answered (or failed): with maxJobs all reserved, loops waiting on it may now end. */
  private fetched(): void {
    this.fetching--;
    if (this.budget <= 0 && this.fetching === 0) for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private unreserve(n: number): void {
    if (n <= 0) return;
    this.free += n;
    for (const wake of this.slotWaiters.splice(0)) wake();
    if (this.stream) {
      this.startWaiting();
      this.grant();
    }
  }

  // --- running

  /** Runs the handler; one that returns without a promise is finished in the same turn, with no
   *  promise of ours made for it. */
  private run(job: Job<T>): void {
    const r: Running = {
      job: job as Job<unknown>,
      deadline: (job.leaseExpiresAt ?? 0) * 1000,
      // a job that waited (prefetched) has less of its lease left: extended half a lease before its end
      extendAt: Math.min(Date.now() + (this.lease * 1000) / 2, (job.leaseExpiresAt ?? Infinity) * 1000 - (this.lease * 1000) / 2),
      settled: false,
    };
    this.running.add(r);
    this.counts.running++;
    if (this.lease > 0 && r.extendAt < this.extendTimerAt) this.armExtensions(r.extendAt);
    let result: unknown;
    try {
      result = this.handler(job, this.contextOf(r));
    } catch (err) {
      return this.finish(r, failure(err));
    }
    if (isThenable(result)) {
      // through Promise.resolve: a then() that throws is a failure of the job, not of this loop
      Promise.resolve(result).then(
        () => this.finish(r, undefined),
        (err: unknown) => this.finish(r, failure(err)),
      );
    } else {
      this.finish(r, undefined);
    }
  }

  private contextOf(r: Running): JobContext {
    return {
      get signal() {
        return (r.controller ??= new AbortController()).signal;
      },
      workerId: this.id,
      extend: (seconds = this.lease) => this.extend(r, seconds),
    };
  }

  private finish(r: Running, error: string | undefined): void {
    if (r.settled) return; // given up on (lease lost, or stop timed out): not ours to report
    const job = r.job as Job<T>;
    this.settle(r);
    this.finishedSince++;
    if (error === undefined) {
      this.counts.done++;
      this.emit("completed", job);
      if (this.lease > 0) this.enqueue(this.acks, job.queue, { id: job.id, attempt: job.attempt, deadline: r.deadline });
    } else {
      this.counts.failed++;
      this.emit("failed", job, error);
      if (this.lease === 0) return void this.repost(job).then(() => this.stopIfAllDone());
      this.enqueue(this.fails, job.queue, { id: job.id, attempt: job.attempt, deadline: r.deadline, error });
    }
    this.stopIfAllDone();
  }

  /** maxJobs taken and all of them finished: nothing is left to do. */
  private stopIfAllDone(): void {
    const streamed = this.granted + this.waiting.length;
    if (this.budget === 0 && this.free === this.concurrency && streamed === 0 && !this.stopping) void this.stop();
  }

  private settle(r: Running): void {
    r.settled = true;
    this.running.delete(r);
    this.counts.running--;
    this.unreserve(1);
  }

  /** The job is no longer this worker's to finish: its handler is told, its slot freed. */
  private giveUp(r: Running, why: string): void {
    if (r.settled) return;
    this.settle(r);
    (r.controller ??= new AbortController()).abort(new Error(why));
  }

  private armExtensions(at: number): void {
    clearTimeout(this.extendTimer);
    this.extendTimerAt = at;
    this.extendTimer = setTimeout(() => this.extendDue(), Math.max(0, at - Date.now()));
    this.extendTimer.unref();
  }

  /** Extends the lease of every running job whose time has come (every lease/2), then sets the
   *  timer for the next. Jobs fetched together come due together: one timer serves them all. */
  private extendDue(): void {
    this.extendTimer = undefined;
    this.extendTimerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const r of this.running) {
      if (r.extendAt <= now) void this.extendRunning(r);
      else next = Math.min(next, r.extendAt);
    }
    if (next < Infinity) this.armExtensions(next);
  }

  private async extendRunning(r: Running): Promise<void> {
    r.extendAt = Infinity;
    try {
      await this.extend(r, this.lease);
    } catch (err) {
      if (err instanceof PresqueError && (err.status === 409 || err.status === 404)) {
        this.giveUp(r, `lease lost: ${err.message}`);
        return;
      }
      this.report(err, { queue: r.job.queue, id: r.job.id, what: "extend" });
      if (Date.now() >= r.deadline) {
        this.giveUp(r, "lease lost: it ran out while presque could not be reached");
        return;
      }
    }
    if (r.settled) return;
    r.extendAt = Date.now() + (this.lease * 1000) / 2;
    if (r.extendAt < this.extendTimerAt) this.armExtensions(r.extendAt);
  }

  private async extend(r: Running, seconds: number): Promise<void> {
    const until = await this.client.extend(r.job.queue, r.job.id, r.job.attempt, seconds);
    r.deadline = until * 1000;
  }

  /** lease 0: the job was deleted when fetched; post it back as presque::worker did. */
  private async repost(job: Job<T>): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await this.client.retry(job.queue, job.data as object);
        return;
      } catch (err) {
        this.report(err, { queue: job.queue, id: job.id, what: "repost" });
        if (!(err instanceof ConnectionError) || tries >= 20) return;
        await sleep(Math.min(2000, 100 * 2 ** tries));
      }
    }
  }

  /** Jobs this worker will not run (left running at stop, or fetched after it began), returned:
   *  released under a lease; with lease 0, which deleted them when they were handed out, posted
   *  back. */
  private async handBack(jobs: Job<T>[]): Promise<void> {
    if (this.lease > 0) await this.release(jobs as Job<unknown>[]);
    else await Promise.allSettled(jobs.map((job) => this.repost(job)));
  }

  /** Jobs left running at stop, or fetched after it began: failed now with retry_in 0, so that any
   *  worker may take them at once (rather than when their leases run out). The attempt counts. */
  private async release(jobs: Job<unknown>[]): Promise<void> {
    const byQueue = new Map<string, Pending[]>();
    for (const job of jobs) {
      const list = byQueue.get(job.queue) ?? [];
      list.push({ id: job.id, attempt: job.attempt, deadline: Infinity, error: "worker stopped before the job finished", retryIn: 0 });
      byQueue.set(job.queue, list);
    }
    await Promise.allSettled([...byQueue].map(([queue, entries]) => this.sendBatch("fail", queue, entries)));
  }

  private drain(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const check = () => this.running.size === 0 && finish();
      const interval = setInterval(check, 10);
      function finish() {
        clearTimeout(timer);
        clearInterval(interval);
        resolve();
      }
    });
  }

  // --- acknowledgements

  private enqueue(into: Map<string, Pending[]>, queue: string, entry: Pending): void {
    let list = into.get(queue);
    if (!list) into.set(queue, (list = []));
    list.push(entry);
    if (list.length >= MAX_BATCH) this.flushAll();
    else this.flushTimer ??= setTimeout(() => void this.flushAll(), this.opts.flushDelay ?? 2);
  }

  private flushAll(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const sends: Promise<void>[] = [];
    for (const [kind, map] of [["ack", this.acks] as const, ["fail", this.fails] as const]) {
      for (const [queue, list] of map) {
        map.delete(queue);
        for (let i = 0; i < list.length; i += MAX_BATCH) sends.push(this.send(kind, queue, list.slice(i, i + MAX_BATCH)));
      }
    }
    const all = Promise.allSettled([...sends, ...this.flushing]).then(() => {});
    return all;
  }

  private async send(kind: "ack" | "fail", queue: string, entries: Pending[]): Promise<void> {
    const flight = this.sendOnce(kind, queue, entries);
    this.flushing.add(flight);
    try {
      await flight;
    } finally {
      this.flushing.delete(flight);
    }
  }

  private async sendOnce(kind: "ack" | "fail", queue: string, entries: Pending[]): Promise<void> {
    try {
      const outcomes = await this.sendBatch(kind, queue, entries);
      outcomes.forEach((o, i) => {
        if (o.status >= 300)
          this.report(new PresqueError(o.status, o.error ?? "refused", "POST", `/qb/${queue}/${kind}`), {
            queue,
            id: entries[i].id,
            what: kind,
          });
      });
    } catch (err) {
      this.report(err, { queue, what: kind, jobs: entries.length });
      // presque is away: keep what is still leased to us and try again; a job whose lease has run
      // out will be handed out again anyway
      const keep = entries.filter((e) => e.deadline > Date.now());
      if (keep.length === 0 || !(err instanceof ConnectionError || (err instanceof PresqueError && err.status === 503))) return;
      await sleep(200);
      const map = kind === "ack" ? this.acks : this.fails;
      for (const e of keep) this.enqueue(map, queue, e);
    }
  }

  private async sendBatch(kind: "ack" | "fail", queue: string, entries: Pending[]): Promise<BatchOutcome[]> {
    const stream = this.stream;
    if (stream?.open) {
      try {
        return kind === "ack" ? await stream.ack(queue, entries) : await stream.fail(queue, entries);
      } catch (err) {
        // the socket closed meanwhile: the same batch over HTTP
        if (!(err instanceof ConnectionError)) throw err;
      }
    }
    if (this.batchRoutes) {
      try {
        return kind === "ack" ? await this.client.ackBatch(queue, entries) : await this.client.failBatch(queue, entries);
      } catch (err) {
        // a presque older than the batch routes answers 404 "not found": one call per job then
        if (!(err instanceof PresqueError && err.status === 404 && err.message === "not found")) throw err;
        this.batchRoutes = false;
      }
    }
    return Promise.all(
      entries.map(async (e): Promise<BatchOutcome> => {
        try {
          if (kind === "ack") await this.client.ack(queue, e.id, e.attempt);
          else await this.client.fail(queue, e.id, e.attempt, e.error, e.retryIn);
          return { id: e.id, status: 200 };
        } catch (err) {
          if (err instanceof PresqueError) return { id: e.id, status: err.status, error: err.message };
          throw err;
        }
      }),
    );
  }

  /** Registration fails start() when presque cannot be reached (after the client's own retries):
   *  a worker that never started should say so, not wait silently. */
  private async registerAll(): Promise<void> {
    await Promise.all(this.queues.map((q) => this.client.register(q)));
  }

  private report(err: unknown, about: Record<string, unknown>): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount("error") > 0) {
      this.emit("error", error, about);
      return;
    }
    // an 'error' event nobody listens to would end the process: one line on stderr now and then
    if (Date.now() - this.warnedAt < 5000) return;
    this.warnedAt = Date.now();
    process.stderr.write(`presque worker ${this.id}: ${error.message} ${JSON.stringify(about)}\n`);
  }
}

function failure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message || "failed";
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as PromiseLike<unknown>).then === "function"
  );
}
