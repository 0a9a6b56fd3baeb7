// GET /c/:queue upgraded to a WebSocket (docs/streaming.md): the upgrade's checks, answered as plain
// HTTP before upgrading; the sockets' pings; the shutdown that hands back what the consumers hold.
import type { IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import type { Guard } from "../auth/guard.js";
import type { Config } from "../config.js";
import type { Query, Req } from "../http.js";
import { secondsParam, takeOptions, workerId } from "../params.js";
import type { Router } from "../router.js";
import { classify, HttpError } from "../../shared/errors.js";
import { isQueueName } from "../../store/keys.js";
import type { LongPoll } from "../../store/longpoll.js";
import type { Store } from "../../store/store.js";
import { Dispatcher } from "./dispatcher.js";
import { CLOSE, MAX_MESSAGE_BYTES, MAX_QUEUES } from "./protocol.js";
import { Session, type SessionHost } from "./session.js";
import type { JobEvents } from "../../store/events.js";

/** A socket's lease when ?lease= is not given: every streamed job is leased, whatever the queue's
 *  default (a lease of 0 would delete jobs as they are sent, and a disconnect would lose them). */
export const DEFAULT_STREAM_LEASE = 30;

/** A round of pings goes out in this many slices, one every pingMs / PING_SLICES, each socket in
 *  its own: pinging every socket at once held the event loop for 60 ms every round with 1,000. */
const PING_SLICES = 15;

export interface StreamOptions {
  /** ms between pings; a socket that has not answered the last one by the next is closed */
  pingMs?: number;
  /** ms that shutdown waits for acknowledgements before handing the rest back */
  stopTimeoutMs?: number;
}

export class StreamServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, clientTracking: false });
  private readonly sessions = new Set<Session>();
  private readonly dispatcher: Dispatcher;
  private readonly host: SessionHost;
  private readonly pinger: NodeJS.Timeout;
  private pingTick = 0;
  private nextPingSlot = 0;
  private readonly handingBack = new Set<Promise<void>>();
  private closing?: Promise<void>;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    longPoll: LongPoll,
    private readonly guard: Guard | undefined,
    private readonly log: Logger,
    private readonly opts: StreamOptions = {},
    jobEvents?: JobEvents,
    /** the Host and Origin checks every request gets (src/server/origin.ts) */
    private readonly refusal: (req: IncomingMessage) => string | null = () => null,
  ) {
    const handBack = (queue: string, jobs: Array<{ id: string; attempt: number }>, worker: string, why: string) =>
      this.handBack(queue, jobs, worker, why);
    this.dispatcher = new Dispatcher(store, longPoll, log, config.batch.max_fetch, handBack);
    this.host = {
      store,
      log,
      limits: { maxBatch: config.batch.max_push, maxLease: config.jobs.max_lease },
      subscribe: (session, queue) => this.dispatcher.add(session, queue),
      unsubscribe: (session, queue) => this.dispatcher.remove(session, queue),
      ready: (session) => this.dispatcher.ready(session),
      handBack,
      jobEvents,
    };
    // one timer for every socket, however many
    this.pinger = setInterval(() => this.ping(), (opts.pingMs ?? 15_000) / PING_SLICES);
    this.pinger.unref();
  }

  get count(): number {
    return this.sessions.size;
  }

  /** The http server's 'upgrade' event. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {}); // a client that resets mid-handshake is not our failure
    this.admit(req).then(
      (opts) => {
        if (socket.destroyed) return;
        this.wss.handleUpgrade(req, socket, head, (ws) => this.opened(ws, opts));
      },
      (err) => {
        const { status, message, headers, bug } = classify(err);
        if (bug) this.log.error({ err, url: req.url }, "stream upgrade failed");
        refuse(socket, status, message, headers);
      },
    );
  }

  /** The upgrade's checks, as GET /qb checks its request: queue names, lease, worker id, token. */
  private async admit(req: IncomingMessage) {
    if (this.closing) throw new HttpError(503, "the server is shutting down", { "retry-after": "1" });
    const refused = this.refusal(req);
    if (refused) throw new HttpError(403, refused);
    const url = new URL(req.url ?? "/", "http://presque");
    const m = /^\/c\/([^/]+)\/?$/.exec(url.pathname);
    if (!m) throw new HttpError(404, "not found");
    const query: Query = {};
    for (const [k, v] of url.searchParams) {
      const had = query[k];
      query[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    let first: string;
    try {
      first = decodeURIComponent(m[1]);
    } catch {
      throw new HttpError(400, "invalid queue name");
    }
    const more = typeof query.queues === "string" ? query.queues.split(",").filter(Boolean) : [];
    if (Array.isArray(query.queues)) throw new HttpError(400, "queues is given more than once");
    const queues = [...new Set([first, ...more])];
    if (queues.length > MAX_QUEUES) throw new HttpError(400, `at most ${MAX_QUEUES} queues per socket`);
    const bad = queues.find((q) => !isQueueName(q));
    if (bad !== undefined) throw new HttpError(400, "invalid queue name");
    takeOptions(query, this.config); // ?wait= is checked as on /qb; a socket waits as long as it is open
    const lease = secondsParam(query, "lease", this.config.jobs.max_lease) ?? DEFAULT_STREAM_LEASE;
    if (lease === 0)
      throw new HttpError(400, `lease must be more than 0 (at most ${this.config.jobs.max_lease}): streamed jobs are leased`);
    const worker = workerId(Object.assign(req, { query }) as unknown as Req);
    const allowed = this.guard ? await this.guard.authorizeConsumer(req.headers.authorization, queues) : { token: null };
    if (!("token" in allowed)) throw new HttpError(allowed.status, allowed.error, allowed.headers);
    return { queues, lease, worker, token: allowed.token };
  }

  private opened(ws: import("ws").WebSocket, opts: Awaited<ReturnType<StreamServer["admit"]>>): void {
    if (this.closing) return ws.close(CLOSE.goingAway, "the server is shutting down");
    const session = new Session(ws, opts, this.host);
    session.pingSlot = this.nextPingSlot++ % PING_SLICES;
    this.sessions.add(session);
    ws.once("close", () => this.sessions.delete(session));
    session.start().catch((err) => {
      const { status, message, bug } = classify(err);
      if (bug) this.log.error({ err }, "stream subscription failed");
      // 1011: the server could not subscribe (Redis away); the client connects again
      ws.close(1011, `${status} ${message}`.slice(0, 120));
    });
  }

  /** This slice's sockets: each is pinged once every pingMs, and closed if it did not answer the last. */
  private ping(): void {
    const slot = this.pingTick++ % PING_SLICES;
    for (const s of this.sessions) {
      if (s.pingSlot !== slot) continue;
      if (!s.alive) {
        s.ws.terminate(); // no pong since the last ping: 'close' hands its jobs back
        continue;
      }
      s.alive = false;
      s.prune();
      s.ws.ping();
    }
  }

  /** Fails jobs back with retry_in 0: ready again at once, first in line; the attempt counts. Tried
   *  again while Redis is away for a few seconds; after that the leases run out as they would. */
  handBack(queue: string, jobs: Array<{ id: string; attempt: number }>, worker: string, why: string): Promise<void> {
    const entries = jobs.map((j) => ({ id: j.id, attempt: j.attempt, error: why, retryIn: 0 }));
    const attempt = async () => {
      for (let tries = 0; ; tries++) {
        try {
          await this.store.failMany(queue, entries, worker);
          return;
        } catch (err) {
          if (classify(err).status !== 503 || tries >= 5) {
            this.log.warn(
              { err: (err as Error).message, queue, jobs: entries.length },
              "jobs not handed back: they come back when their leases end",
            );
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 500 * (tries + 1)));
        }
      }
    };
    const flight = attempt();
    this.handingBack.add(flight);
    return flight.finally(() => this.handingBack.delete(flight));
  }

  /** Shutdown: no more jobs go out; acknowledgements are waited for up to stopTimeoutMs; what is
   *  still held is handed back, and the sockets close with 1001. Resolves once the hand-backs are
   *  done, before Redis is closed. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      clearInterval(this.pinger);
      this.dispatcher.stop();
      for (const s of this.sessions) s.draining = true;
      const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 10_000);
      while (Date.now() < deadline && [...this.sessions].some((s) => s.holding > 0)) await new Promise((r) => setTimeout(r, 20));
      await Promise.all([...this.sessions].map((s) => s.handBackAll("the server stopped before the job was acknowledged")));
      for (const s of this.sessions) s.close(CLOSE.goingAway, "the server is shutting down");
      await Promise.allSettled([...this.handingBack]);
      // a client that does not answer the close handshake is cut off
      await new Promise((r) => setTimeout(r, this.sessions.size ? 200 : 0));
      for (const s of this.sessions) s.ws.terminate();
      this.wss.close();
    })());
  }
}

/** A plain GET /c/:queue, not an upgrade: 426, so that a client that meant to stream is told why. */
export function registerStreamRoute(router: Router): void {
  router.route("/c/:queue", {
    GET: (_req, res) => {
      throw new HttpError(426, "GET /c/:queue is a WebSocket (Upgrade: websocket): see docs/streaming.md", { upgrade: "websocket" });
    },
  });
}

function refuse(socket: Duplex, status: number, error: string, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
  );
}
