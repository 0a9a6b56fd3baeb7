// One consumer's WebSocket: its credit, the jobs it holds, and its messages answered with the
// Store calls behind the batch routes. Jobs come from the Dispatcher; whatever the socket still
// holds when it goes away is handed back ready at once (fail with retry_in 0: the attempt counts).
import type { Logger } from "pino";
import { WebSocket } from "ws";
import { batchResult } from "../api.js";
import { mayConsume } from "../auth/guard.js";
import type { Token } from "../auth/tokens.js";
import { classify, HttpError } from "../../shared/errors.js";
import { isQueueName } from "../../store/keys.js";
import type { JobEvent, JobEvents } from "../../store/events.js";
import type { PoppedJob, Store } from "../../store/store.js";
import {
  BadMessage,
  CLOSE,
  MAX_CREDIT,
  MAX_QUEUES,
  parseMessage,
  ProtocolError,
  type ClientMessage,
  type JobEntry,
  type Limits,
} from "./protocol.js";

/** Bytes handed to a socket and not yet written out: above this, it gets no more jobs until they are. */
export const MAX_UNFLUSHED_BYTES = 1024 * 1024;

export interface SessionOptions {
  queues: string[];
  lease: number;
  worker: string;
  token: Token | null;
}

/** What a Session needs of the rest: where it takes part in dispatching, and the hand-back. */
export interface SessionHost {
  store: Store;
  log: Logger;
  limits: Limits;
  subscribe(session: Session, queue: string): Promise<void>;
  unsubscribe(session: Session, queue: string): void;
  /** the session may take jobs again (credit, or its writes drained) */
  ready(session: Session): void;
  handBack(queue: string, jobs: Array<{ id: string; attempt: number }>, worker: string, why: string): Promise<void>;
  /** the queues' job events (src/store/events.ts), for a socket that asks for them */
  jobEvents?: JobEvents;
}

interface Held {
  queue: string;
  id: string;
  attempt: number;
  /** lease end, ms: past it the job is no longer this socket's to wait for */
  deadline: number;
}

const key = (queue: string, id: string) => `${queue}\n${id}`;

export class Session {
  readonly queues = new Set<string>();
  /** credit granted and not yet spent or reserved */
  private credit = 0;
  /** credit set aside by a pop in flight (Dispatcher.reserve) */
  reserved = 0;
  /** a queue found all of its credit set aside by another's pop (Dispatcher) */
  blocked = false;
  /** which of its queues is offered its credit first next time (Dispatcher.ready) */
  turn = 0;
  private readonly held = new Map<string, Held>();
  private unflushed = 0;
  /** answered the last ping */
  alive = true;
  /** which slice of each round of pings is this socket's (StreamServer) */
  pingSlot = 0;
  private closed = false;
  /** no more jobs (shutdown) */
  draining = false;
  /** after {"events":true}: the function that stops each of its queues' event listeners */
  private events?: Map<string, () => void>;
  /** events not sent while the socket had more than MAX_UNFLUSHED_BYTES waiting: told once it drains */
  private missedEvents = 0;

  constructor(
    readonly ws: WebSocket,
    readonly opts: SessionOptions,
    private readonly host: SessionHost,
  ) {
    ws.on("message", (data, binary) => this.received(data as Buffer, binary));
    ws.on("pong", () => (this.alive = true));
    ws.on("close", () => this.gone());
    // a reset mid-frame and the like: 'close' follows, which hands the jobs back
    ws.on("error", (err) => host.log.debug({ err: err.message, worker: opts.worker }, "consumer socket error"));
  }

  get worker(): string {
    return this.opts.worker;
  }

  /** Jobs a pop may take for this socket now. */
  get available(): number {
    if (this.closed || this.draining || this.unflushed > MAX_UNFLUSHED_BYTES || this.ws.readyState !== WebSocket.OPEN) return 0;
    return this.credit - this.reserved;
  }

  /** Jobs this socket holds whose leases have not run out. */
  get holding(): number {
    const now = Date.now();
    let n = 0;
    for (const h of this.held.values()) if (h.deadline > now) n++;
    return n;
  }

  async start(): Promise<void> {
    for (const queue of this.opts.queues) await this.join(queue);
    this.send({ hello: { queues: [...this.queues], lease: this.opts.lease, worker_id: this.opts.worker } });
  }

  private async join(queue: string): Promise<void> {
    if (this.queues.has(queue) || this.closed) return;
    this.queues.add(queue);
    await this.host.subscribe(this, queue);
    if (this.events) await this.listen(queue);
  }

  /** Job events of a queue as `{"events":[...]}` frames, as GET /events/:queue sends them: a socket
   *  that does not read is not written to, and is told how many it missed once it reads again. */
  private async listen(queue: string): Promise<void> {
    if (!this.events || this.events.has(queue) || !this.host.jobEvents) return;
    this.events.set(queue, () => {});
    const stop = await this.host.jobEvents.subscribe(queue, (events: JobEvent[]) => {
      if (this.ws.bufferedAmount > MAX_UNFLUSHED_BYTES) {
        this.missedEvents += events.length;
        return;
      }
      if (this.missedEvents > 0) this.send({ missed: { events: this.missedEvents } });
      this.missedEvents = 0;
      this.send({ events: events.map((e) => ({ queue, ...e })) });
    });
    if (this.closed) return stop();
    this.events.set(queue, stop);
  }

  /** Sends popped jobs, `reserved` of this socket's credit having been set aside for them. A send
   *  that fails leaves no job counted as sent: they are handed back. */
  deliver(queue: string, jobs: PoppedJob[], lease: number): void {
    this.credit -= jobs.length;
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      void this.host.handBack(queue, jobs, this.worker, "the consumer went away before the job was sent");
      return;
    }
    const deadline = Date.now() + lease * 1000;
    const expires = (deadline / 1000).toFixed(3);
    const q = JSON.stringify(queue);
    // the stored bytes of each job, framed without parsing them again
    const parts: Buffer[] = [OPEN_JOBS];
    jobs.forEach((job, i) => {
      parts.push(Buffer.from(`${i ? "," : ""}{"queue":${q},"id":"${job.id}","attempt":${job.attempt},"lease_expires":${expires},"data":`));
      parts.push(job.payload, CLOSE_JOB);
      this.held.set(key(queue, job.id), { queue, id: job.id, attempt: job.attempt, deadline });
    });
    parts.push(CLOSE_JOBS);
    const frame = Buffer.concat(parts);
    this.unflushed += frame.length;
    this.ws.send(frame, { binary: false }, (err) => {
      this.unflushed -= frame.length;
      if (err) {
        const lost = jobs.filter((j) => this.held.delete(key(queue, j.id)));
        if (lost.length > 0) void this.host.handBack(queue, lost, this.worker, "the job could not be sent to the consumer");
        return;
      }
      if (this.unflushed <= MAX_UNFLUSHED_BYTES && this.available > 0) this.host.ready(this);
    });
  }

  /** Everything still held, handed back (the socket closes, or the server stops). */
  async handBackAll(why: string): Promise<void> {
    const byQueue = new Map<string, Held[]>();
    for (const h of this.held.values()) {
      const list = byQueue.get(h.queue) ?? [];
      list.push(h);
      byQueue.set(h.queue, list);
    }
    this.held.clear();
    await Promise.all([...byQueue].map(([queue, jobs]) => this.host.handBack(queue, jobs, this.worker, why)));
  }

  /** Drops the records of jobs whose leases ran out (they may be another consumer's by now). */
  prune(): void {
    const now = Date.now();
    for (const [k, h] of this.held) if (h.deadline <= now) this.held.delete(k);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.queues) this.host.unsubscribe(this, queue);
    for (const stop of this.events?.values() ?? []) stop();
    void this.handBackAll("the consumer went away with the job in hand");
  }

  private send(message: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  // --- messages

  private received(data: Buffer, binary: boolean): void {
    if (binary) return this.close(CLOSE.unsupported, "messages are JSON text frames");
    let message: ClientMessage;
    try {
      message = parseMessage(data.toString("utf8"), this.host.limits);
    } catch (err) {
      if (err instanceof ProtocolError) return this.close(err.code, err.message);
      if (err instanceof BadMessage)
        return this.send({ for: err.type, ...(err.ref !== undefined && { ref: err.ref }), status: 400, error: err.message });
      // not the client's doing: this socket closes, the process serves on
      this.host.log.error({ err }, "stream message not understood");
      return this.close(1011, "internal error");
    }
    this.handle(message).then(
      (answer) => answer !== undefined && this.send({ ...(message.ref !== undefined && { ref: message.ref }), [message.type]: answer }),
      (err) => {
        const { status, message: error, bug } = classify(err);
        if (bug) this.host.log.error({ err, type: message.type }, "stream message failed");
        this.send({ for: message.type, ...(message.ref !== undefined && { ref: message.ref }), status, error });
      },
    );
  }

  private async handle(m: ClientMessage): Promise<unknown> {
    const { store } = this.host;
    switch (m.type) {
      case "credit":
        this.credit = Math.min(MAX_CREDIT, this.credit + m.credit);
        if (this.available > 0) this.host.ready(this);
        return undefined;
      case "subscribe":
        return Promise.all(m.queues.map((q) => this.subscribeTo(q)));
      case "cancel": {
        // no more jobs for this socket until it gives credit again; answered once a pop in flight
        // for it has delivered, so that no job follows the answer
        const dropped = this.credit - this.reserved;
        this.credit = this.reserved;
        for (let i = 0; i < 1000 && this.reserved > 0; i++) await new Promise((r) => setTimeout(r, 5));
        return { credit_dropped: Math.max(0, dropped) };
      }
      case "events": {
        if (!this.host.jobEvents) throw new HttpError(501, "job events are not served by this server");
        this.events ??= new Map();
        await Promise.all([...this.queues].map((q) => this.listen(q)));
        return { queues: [...this.queues] };
      }
      case "ack":
        // as POST /qb/:queue/ack: an entry without its attempt cancels the job, which is the admin's
        if (m.jobs.some((j) => j.attempt === undefined) && this.opts.token && !this.opts.token.roles.has("admin")) {
          const id = this.opts.token.id;
          throw new HttpError(403, `token ${id} may acknowledge a job with its attempt, not cancel it: that needs the role admin`);
        }
        return this.perQueue(m.jobs, async (queue, jobs) => {
          const outcomes = await store.removeMany(queue, jobs, this.worker);
          return outcomes.map((o, i) => this.settled(queue, jobs[i], batchResult(o)));
        });
      case "fail":
        return this.perQueue(m.jobs, async (queue, jobs) => {
          const outcomes = await store.failMany(queue, jobs, this.worker);
          return outcomes.map((o, i) => this.settled(queue, jobs[i], batchResult(o)));
        });
      case "extend":
        return this.perQueue(m.jobs, (queue, jobs) =>
          Promise.all(
            jobs.map(async (job) => {
              try {
                const deadline = await store.extendLease(queue, job.id, job.seconds, job.attempt);
                const held = this.held.get(key(queue, job.id));
                if (held && held.attempt === job.attempt) held.deadline = deadline;
                return { queue, id: job.id, status: 200, lease_expires_at: deadline / 1000 };
              } catch (err) {
                const { status, message, bug } = classify(err);
                if (bug || status >= 500) throw err;
                return { queue, id: job.id, status, error: message };
              }
            }),
          ),
        );
    }
  }

  private async subscribeTo(queue: string) {
    if (!isQueueName(queue)) return { queue, status: 400, error: "invalid queue name" };
    if (!mayConsume(this.opts.token, queue)) return { queue, status: 403, error: `token ${this.opts.token!.id} may not use this queue` };
    if (!this.queues.has(queue) && this.queues.size >= MAX_QUEUES)
      return { queue, status: 400, error: `at most ${MAX_QUEUES} queues per socket` };
    await this.join(queue);
    return { queue, status: 200 };
  }

  /** A job this socket acked or failed is no longer in its hands. */
  private settled<R extends { status: number }>(queue: string, job: JobEntry, result: R) {
    if (result.status < 300) {
      const held = this.held.get(key(queue, job.id));
      if (held && (job.attempt === undefined || held.attempt === job.attempt)) this.held.delete(key(queue, job.id));
    }
    return { queue, ...result };
  }

  /** Runs `call` once per queue named in the entries (one Store call each), and answers in the
   *  entries' order; an entry naming a queue this socket does not consume is refused on its own. */
  private async perQueue<E extends JobEntry, R>(entries: E[], call: (queue: string, jobs: E[]) => Promise<R[]>): Promise<unknown[]> {
    const only = this.queues.size === 1 ? [...this.queues][0] : undefined;
    const groups = new Map<string, number[]>();
    const answers: unknown[] = new Array(entries.length);
    entries.forEach((e, i) => {
      const queue = e.queue ?? only;
      if (queue === undefined) answers[i] = { id: e.id, status: 400, error: "queue is needed: this socket consumes several queues" };
      else if (!this.queues.has(queue)) answers[i] = { queue, id: e.id, status: 403, error: "this socket does not consume that queue" };
      else groups.set(queue, [...(groups.get(queue) ?? []), i]);
    });
    await Promise.all(
      [...groups].map(async ([queue, at]) => {
        const results = await call(
          queue,
          at.map((i) => entries[i]),
        );
        results.forEach((r, k) => (answers[at[k]] = r));
      }),
    );
    return answers;
  }
}

const OPEN_JOBS = Buffer.from('{"jobs":[');
const CLOSE_JOB = Buffer.from("}");
const CLOSE_JOBS = Buffer.from("]}");
