// A typed client for every presque route, over keep-alive HTTP.
//
// node:http with a keep-alive Agent rather than undici: it is built in (no dependency for a package
// whose users may only want the client), its sockets are reused across calls, and a request's body,
// headers and abort are all under our control (fetch would add a Content-Type of its own, and its
// dispatcher cannot be tuned without the undici package).
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export const DEFAULT_URL = "http://127.0.0.1:5000";

/** An answer other than the one expected: the HTTP status and the server's own message. */
export class PresqueError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly method: string,
    readonly path: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "PresqueError";
  }
}

/** The server could not be reached at all (refused, reset, timed out). */
export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "ConnectionError";
  }
}

export interface ClientOptions {
  /** default PRESQUE_URL, then http://127.0.0.1:5000 */
  url?: string;
  /** sent as X-presque-workerid, so that the server counts this worker's jobs */
  workerId?: string;
  /** API token, sent as Authorization: Bearer; default PRESQUE_TOKEN */
  token?: string;
  /** how many times an idempotent call is tried again after a 503 or a connection error (default 4) */
  retries?: number;
  /** first retry delay in ms, doubled each time (default 100) */
  retryDelay?: number;
  /** longest retry delay in ms (default 2000) */
  retryDelayCap?: number;
  /** ms before a request with no answer fails (default 30000; long polls add their wait) */
  timeout?: number;
}

export interface PushOptions {
  /** seconds from now before the job is handed out */
  delay?: number;
  /** epoch seconds before which the job is not handed out */
  delayed?: number;
  /** higher first; default 0 */
  priority?: number;
  /** one waiting job per uniq key (single pushes only) */
  uniq?: string;
  /** deliveries before the job goes to the dead list */
  maxAttempts?: number;
  /** seconds from now: a job not handed out by then goes to the dead list, "expired" */
  expiresIn?: number;
  /** the same, as epoch seconds */
  expiresAt?: number;
}

export interface FetchOptions {
  /** seconds the job stays leased to us; 0 deletes on fetch; default the queue's setting */
  lease?: number;
  /** seconds to wait for a job when none is ready (long polling) */
  wait?: number;
  signal?: AbortSignal;
}

export interface Job<T = unknown> {
  id: string;
  queue: string;
  /** the lease token to send back with ack/fail/extend; 0 when the job was not leased */
  attempt: number;
  /** epoch seconds the lease ends at, when leased */
  leaseExpiresAt?: number;
  data: T;
}

/** How a job ended, as Client.waitFor saw it. */
export interface WaitOutcome {
  id: string;
  /** gone: no longer stored when the wait began (acked or cancelled before) */
  state: "acked" | "dead" | "removed" | "gone";
  /** the attempt that ended it (0 when unknown) */
  attempt: number;
}

const FINAL_EVENTS = new Set(["acked", "dead", "removed"]);

export interface JobRef {
  id: string;
  attempt?: number;
}

export interface FailRef extends JobRef {
  error?: string;
  /** seconds until the job is tried again, instead of the queue's backoff; 0 hands it back at once */
  retryIn?: number;
}

/** One entry of a batch ack/fail answer, in request order. */
export interface BatchOutcome {
  id: string;
  status: number;
  state?: "acked" | "cancelled" | "delayed" | "ready" | "dead";
  due_at?: number;
  died_at?: number;
  error?: string;
}

export interface FailOutcome {
  id: string;
  /** ready: handed back at once (retryIn 0) */
  state: "delayed" | "ready" | "dead";
  due_at?: number;
  died_at?: number;
}

export interface JobInfo<T = unknown> {
  id: string;
  queue: string;
  state: "ready" | "delayed" | "leased" | "dead";
  attempts: number;
  priority: number;
  max_attempts?: number;
  last_error?: string;
  due_at?: number;
  lease_expires_at?: number;
  died_at?: number;
  job: T;
}

export interface QueueFigures {
  queue_name: string;
  job_count: number;
  job_delayed: number;
  job_failed: number;
  job_processed: number;
  job_leased: number;
  job_dead: number;
  job_prioritized: number;
}

export interface QueueControl {
  queue: string;
  status: number;
  lease: number;
  max_attempts: number;
  backoff_base: number;
  backoff_cap: number;
  /** jobs handed out per second at most, across every consumer (null: no limit) */
  rate?: number | null;
  burst?: number | null;
  /** jobs leased at once at most (null: no limit) */
  concurrency?: number | null;
  /** seconds after it is due before a job not handed out expires (null: never) */
  expires_in?: number | null;
}

export interface QueueSettings {
  lease?: number | null;
  max_attempts?: number | null;
  backoff_base?: number | null;
  backoff_cap?: number | null;
  max_length?: number | null;
  max_payload?: number | null;
  idempotency_window?: number | null;
  max_idempotency_keys?: number | null;
  rate?: number | null;
  burst?: number | null;
  concurrency?: number | null;
  expires_in?: number | null;
}

/** A recurring job: a cron expression (in `tz`, default UTC) or a period in seconds. */
export interface ScheduleSpec {
  cron?: string;
  tz?: string;
  every?: number;
  job: object;
  priority?: number;
  max_attempts?: number;
}

export interface Schedule extends ScheduleSpec {
  queue: string;
  name: string;
  /** epoch seconds */
  next_run_at: number | null;
  last_run_at: number | null;
  /** the job the last tick enqueued (null: none yet, or the queue was full) */
  last_job_id: string | null;
}

export interface Stats {
  redis: { target: string; version: string; embedded: boolean };
  /** one page of the queues (?offset, ?limit, ?sort=name|size, ?order=asc|desc) */
  queues: (QueueFigures & { status: number; lease: number })[];
  /** how many queues there are in all */
  total: number;
  offset: number;
  limit: number;
  sort: "name" | "size";
  order: "asc" | "desc";
  workers: number;
  /** the presque processes serving this Redis: build, data layout and script versions */
  processes: { id: string; version: string; layout: number; scripts: string[]; started_at: number }[];
}

export interface WorkerInfo {
  worker_id: string;
  started_at: number;
  queues: string[];
  processed: number;
  failed: number;
}

export interface DeadList<T = unknown> {
  queue: string;
  total: number;
  offset: number;
  limit: number;
  jobs: JobInfo<T>[];
}

interface Call {
  method: string;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** safe to send again after a 503 or a connection error */
  idempotent: boolean;
  /** statuses answered without throwing */
  accept?: number[];
  signal?: AbortSignal;
  timeout?: number;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** failures to reach the server at all, or a connection that broke: worth another try */
const RETRYABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ECONNABORTED", "EHOSTUNREACH"]);

export class Client {
  readonly url: string;
  readonly workerId?: string;
  private readonly token?: string;
  private readonly agent: Agent;
  private readonly retries: number;
  private readonly retryDelay: number;
  private readonly retryDelayCap: number;
  private readonly timeout: number;
  private readonly secure: boolean;

  constructor(options: ClientOptions | string = {}) {
    const opts = typeof options === "string" ? { url: options } : options;
    this.url = (opts.url ?? process.env.PRESQUE_URL ?? DEFAULT_URL).replace(/\/+$/, "");
    this.secure = this.url.startsWith("https:");
    this.workerId = opts.workerId;
    this.token = opts.token ?? (process.env.PRESQUE_TOKEN || undefined);
    this.retries = opts.retries ?? 4;
    this.retryDelay = opts.retryDelay ?? 100;
    this.retryDelayCap = opts.retryDelayCap ?? 2000;
    this.timeout = opts.timeout ?? 30_000;
    const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64 };
    this.agent = this.secure ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  }

  /** The headers every call carries (worker id, token), for a streaming consumer's upgrade
   *  (src/client/stream.ts). */
  identity(): Record<string, string> {
    return { ...(this.workerId && { "x-presque-workerid": this.workerId }), ...(this.token && { authorization: `Bearer ${this.token}` }) };
  }

  /** Closes the idle keep-alive sockets; calls still work afterwards (on new sockets). */
  close(): void {
    this.agent.destroy();
  }

  // --- jobs

  /** POST /q/:queue -> the new job's id. Never retried: a lost answer could mean a stored job. */
  async push(queue: string, job: object, opts: PushOptions = {}): Promise<string> {
    const answer = await this.json<{ id: string }>({
      method: "POST",
      path: `/q/${q(queue)}`,
      query: pushQuery(opts),
      body: job,
      idempotent: false,
    });
    return answer.id;
  }

  /** POST /qb/:queue -> the ids, in order. Never retried. */
  async pushBatch(queue: string, jobs: object[], opts: Omit<PushOptions, "uniq"> = {}): Promise<string[]> {
    const answer = await this.json<{ ids: string[] }>({
      method: "POST",
      path: `/qb/${q(queue)}`,
      query: pushQuery(opts),
      body: { jobs },
      idempotent: false,
    });
    return answer.ids;
  }

  /** PUT /q/:queue: presque's retry, a job posted back by the worker that failed it. Never retried. */
  async retry(queue: string, job: object, opts: Pick<PushOptions, "delay" | "delayed" | "priority"> = {}): Promise<string> {
    const answer = await this.json<{ id: string }>({
      method: "PUT",
      path: `/q/${q(queue)}`,
      query: pushQuery(opts),
      body: job,
      idempotent: false,
    });
    return answer.id;
  }

  /** GET /q/:queue -> a job, or null when none came. Retried only under a lease (a job handed out
   *  with a lost answer then comes back when its lease ends). */
  async fetch<T = unknown>(queue: string, opts: FetchOptions = {}): Promise<Job<T> | null> {
    const answer = await this.send({
      method: "GET",
      path: `/q/${q(queue)}`,
      query: { lease: opts.lease, wait: opts.wait },
      idempotent: !!opts.lease,
      accept: [200, 404],
      signal: opts.signal,
      timeout: this.timeout + (opts.wait ?? 0) * 1000,
    });
    if (answer.status === 404) return noJob(answer, "GET", `/q/${queue}`);
    const attempt = Number(header(answer.headers, "x-presque-attempt") ?? 0);
    const expires = header(answer.headers, "x-presque-lease-expires");
    return {
      id: header(answer.headers, "x-presque-jobid") ?? "",
      queue,
      attempt,
      ...(expires !== undefined && { leaseExpiresAt: Number(expires) }),
      data: parse(answer.body) as T,
    };
  }

  /** GET /qb/:queue -> up to batchSize jobs ([] when none came). */
  async fetchBatch<T = unknown>(queue: string, batchSize: number, opts: FetchOptions = {}): Promise<Job<T>[]> {
    const answer = await this.send({
      method: "GET",
      path: `/qb/${q(queue)}`,
      query: { batch_size: batchSize, lease: opts.lease, wait: opts.wait },
      idempotent: !!opts.lease,
      accept: [200, 404],
      signal: opts.signal,
      timeout: this.timeout + (opts.wait ?? 0) * 1000,
    });
    if (answer.status === 404) return noJob(answer, "GET", `/qb/${queue}`) ?? [];
    const ids = (header(answer.headers, "x-presque-jobids") ?? "").split(",");
    const attempts = header(answer.headers, "x-presque-attempts")?.split(",");
    const expires = header(answer.headers, "x-presque-lease-expires");
    const payloads = parse(answer.body) as T[];
    return payloads.map((data, i) => ({
      id: ids[i],
      queue,
      attempt: attempts ? Number(attempts[i]) : 0,
      ...(expires !== undefined && { leaseExpiresAt: Number(expires) }),
      data,
    }));
  }

  /** DELETE /q/:queue/:id with the attempt: the job is done. */
  async ack(queue: string, id: string, attempt?: number): Promise<void> {
    await this.send({ method: "DELETE", path: `/q/${q(queue)}/${q(id)}`, headers: attemptHeader(attempt), idempotent: true });
  }

  /** DELETE /q/:queue/:id without an attempt: removes a job that is not leased. */
  async cancel(queue: string, id: string): Promise<void> {
    await this.ack(queue, id);
  }

  /** POST /qb/:queue/ack: one outcome per job, in order (a stale job never fails the others). */
  async ackBatch(queue: string, jobs: JobRef[]): Promise<BatchOutcome[]> {
    const body = { jobs: jobs.map((j) => ({ id: j.id, ...(j.attempt && { attempt: j.attempt }) })) };
    const answer = await this.json<{ results: BatchOutcome[] }>({ method: "POST", path: `/qb/${q(queue)}/ack`, body, idempotent: true });
    return answer.results;
  }

  /** PUT /q/:queue/:id: the job failed; it is retried after backoff (or retryIn seconds; 0 hands it
   *  back at once) or goes to the dead list. */
  async fail(queue: string, id: string, attempt?: number, error?: string, retryIn?: number): Promise<FailOutcome> {
    return this.json<FailOutcome>({
      method: "PUT",
      path: `/q/${q(queue)}/${q(id)}`,
      headers: attemptHeader(attempt),
      body: { ...(error !== undefined && { error }), ...(retryIn !== undefined && { retry_in: retryIn }) },
      idempotent: attempt !== undefined,
    });
  }

  /** POST /qb/:queue/fail: one outcome per job, in order. */
  async failBatch(queue: string, jobs: FailRef[]): Promise<BatchOutcome[]> {
    const body = {
      jobs: jobs.map((j) => ({
        id: j.id,
        ...(j.attempt && { attempt: j.attempt }),
        ...(j.error !== undefined && { error: j.error }),
        ...(j.retryIn !== undefined && { retry_in: j.retryIn }),
      })),
    };
    const answer = await this.json<{ results: BatchOutcome[] }>({ method: "POST", path: `/qb/${q(queue)}/fail`, body, idempotent: true });
    return answer.results;
  }

  /** POST /q/:queue/:id/lease -> the lease's new end, in epoch seconds. */
  async extend(queue: string, id: string, attempt: number, seconds: number): Promise<number> {
    const answer = await this.json<{ lease_expires_at: number }>({
      method: "POST",
      path: `/q/${q(queue)}/${q(id)}/lease`,
      headers: attemptHeader(attempt),
      body: { seconds },
      idempotent: true,
    });
    return answer.lease_expires_at;
  }

  /** GET /q/:queue/:id -> where the job is, or null when there is no such job. */
  async job<T = unknown>(queue: string, id: string, signal?: AbortSignal): Promise<JobInfo<T> | null> {
    const answer = await this.send({ method: "GET", path: `/q/${q(queue)}/${q(id)}`, idempotent: true, accept: [200, 404], signal });
    return answer.status === 404 ? null : (parse(answer.body) as JobInfo<T>);
  }

  /** Waits until a job is done with: acknowledged ("acked"), dead ("dead"), cancelled ("removed"),
   *  or already gone when asked ("gone": acked or cancelled before the wait began). Listens to
   *  GET /events/:queue and, once listening, looks the job up (GET /q/:queue/:id), so that an
   *  outcome between the two is not missed; after a gap in the events (the server says it dropped
   *  some), it looks again. Rejects after `timeout` ms (default: none) or when `signal` aborts. */
  async waitFor(queue: string, id: string, opts: { timeout?: number; signal?: AbortSignal } = {}): Promise<WaitOutcome> {
    const stop = new AbortController();
    const signals = [
      stop.signal,
      ...(opts.signal ? [opts.signal] : []),
      ...(opts.timeout !== undefined ? [AbortSignal.timeout(opts.timeout)] : []),
    ];
    const signal = AbortSignal.any(signals);
    try {
      return await new Promise<WaitOutcome>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(abortError(signal)), { once: true });
        const lookUp = () =>
          this.job(queue, id, signal).then((job) => {
            if (job === null) resolve({ id, state: "gone", attempt: 0 });
            else if (job.state === "dead") resolve({ id, state: "dead", attempt: job.attempts });
          }, reject);
        this.events(queue, signal, (type, data) => {
          if (type === "subscribed" || type === "missed") return void lookUp();
          const event = data as { id?: string; attempt?: number };
          if (event.id !== id || !FINAL_EVENTS.has(type)) return;
          resolve({ id, state: type as WaitOutcome["state"], attempt: event.attempt ?? 0 });
        }).then(() => reject(new ConnectionError("the event stream ended", this.url)), reject);
      });
    } finally {
      stop.abort();
    }
  }

  /** GET /events/:queue: calls `on` with each server-sent event until the stream ends (resolves)
   *  or `signal` aborts (rejects). */
  private events(queue: string, signal: AbortSignal, on: (type: string, data: unknown) => void): Promise<void> {
    const target = new URL(`${this.url}/events/${q(queue)}`);
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const request = this.secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      // its own socket: a stream holds it for as long as it lasts
      const req = request(target, { method: "GET", headers, signal }, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
            reject(errorOf(answer, { method: "GET", path: target.pathname, idempotent: true }));
          });
          return;
        }
        res.setEncoding("utf8");
        let buffered = "";
        res.on("data", (text: string) => {
          buffered += text;
          for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            let type = "message";
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data) on(type, safeParse(Buffer.from(data)));
          }
        });
        res.on("end", () => resolve());
        res.on("error", (err) => reject(signal.aborted ? abortError(signal) : connectionError(err, this.url)));
      });
      req.on("error", (err) => reject(signal.aborted ? abortError(signal) : connectionError(err, this.url)));
      req.end();
    });
  }

  /** DELETE /q/:queue: every job, uniq key, counter and status of the queue. */
  async purge(queue: string): Promise<void> {
    await this.send({ method: "DELETE", path: `/q/${q(queue)}`, idempotent: true });
  }

  // --- queues

  /** GET /j/:queue */
  queueStats(queue: string): Promise<QueueFigures> {
    return this.json({ method: "GET", path: `/j/${q(queue)}`, idempotent: true });
  }

  /** GET /status/ -> one page of the queue names, in name order */
  async queues(page: { offset?: number; limit?: number } = {}): Promise<string[]> {
    return (await this.json<{ queues: string[] }>({ method: "GET", path: "/status/", query: { ...page }, idempotent: true })).queues;
  }

  /** GET /status/:queue?with_desc=1 -> the waiting jobs in delivery order */
  async peek<T = unknown>(queue: string, limit = 100): Promise<T[]> {
    const answer = await this.json<{ jobs: T[] }>({
      method: "GET",
      path: `/status/${q(queue)}`,
      query: { with_desc: 1, limit },
      idempotent: true,
    });
    return answer.jobs;
  }

  /** GET /stats/: the server, and one page of queues with their figures */
  stats(page: { offset?: number; limit?: number; sort?: "name" | "size"; order?: "asc" | "desc" } = {}): Promise<Stats> {
    return this.json({ method: "GET", path: "/stats/", query: { ...page }, idempotent: true });
  }

  /** GET /control/:queue */
  control(queue: string): Promise<QueueControl> {
    return this.json({ method: "GET", path: `/control/${q(queue)}`, idempotent: true });
  }

  /** POST /control/:queue with settings (null restores a default) */
  async configure(queue: string, settings: QueueSettings): Promise<void> {
    await this.send({ method: "POST", path: `/control/${q(queue)}`, body: settings, idempotent: true });
  }

  /** Stops handing out the queue's jobs (it still takes new ones). */
  async stop(queue: string): Promise<void> {
    await this.send({ method: "POST", path: `/control/${q(queue)}`, body: { status: "stop" }, idempotent: true });
  }

  async start(queue: string): Promise<void> {
    await this.send({ method: "POST", path: `/control/${q(queue)}`, body: { status: "start" }, idempotent: true });
  }

  // --- schedules

  /** PUT /schedules/:queue/:name: creates or replaces a schedule (an unchanged one keeps its next run). */
  setSchedule(queue: string, name: string, spec: ScheduleSpec): Promise<Schedule & { outcome: "created" | "updated" | "unchanged" }> {
    return this.json({ method: "PUT", path: `/schedules/${q(queue)}/${q(name)}`, body: spec, idempotent: true });
  }

  /** GET /schedules/:queue/:name, or null when there is none. */
  async schedule(queue: string, name: string): Promise<Schedule | null> {
    const path = `/schedules/${q(queue)}/${q(name)}`;
    const answer = await this.send({ method: "GET", path, idempotent: true, accept: [200, 404] });
    return answer.status === 404 ? null : (parse(answer.body) as Schedule);
  }

  /** GET /schedules/:queue, or every queue's (GET /schedules/). */
  async schedules(queue?: string): Promise<Schedule[]> {
    const path = queue === undefined ? "/schedules/" : `/schedules/${q(queue)}`;
    return (await this.json<{ schedules: Schedule[] }>({ method: "GET", path, idempotent: true })).schedules;
  }

  /** DELETE /schedules/:queue/:name: false when there was none. Jobs it enqueued stay. */
  async deleteSchedule(queue: string, name: string): Promise<boolean> {
    const path = `/schedules/${q(queue)}/${q(name)}`;
    return (await this.send({ method: "DELETE", path, idempotent: true, accept: [204, 404] })).status === 204;
  }

  // --- workers

  /** POST /w/:queue */
  async register(queue: string, workerId = this.workerId): Promise<void> {
    if (!workerId) throw new TypeError("register needs a worker id");
    await this.send({ method: "POST", path: `/w/${q(queue)}`, body: { worker_id: workerId }, idempotent: true });
  }

  /** DELETE /w/:queue */
  async unregister(queue: string, workerId = this.workerId): Promise<void> {
    if (!workerId) throw new TypeError("unregister needs a worker id");
    await this.send({ method: "DELETE", path: `/w/${q(queue)}`, query: { worker_id: workerId }, idempotent: true });
  }

  /** GET /w/ -> the registered worker ids */
  workers(): Promise<string[]> {
    return this.json({ method: "GET", path: "/w/", idempotent: true });
  }

  /** GET /w/?worker_id= -> one worker's figures, or null when it is not registered */
  async worker(workerId: string): Promise<WorkerInfo | null> {
    const answer = await this.send({ method: "GET", path: "/w/", query: { worker_id: workerId }, idempotent: true, accept: [200, 404] });
    return answer.status === 404 ? null : (parse(answer.body) as WorkerInfo);
  }

  /** GET /w/?queue_name= */
  queueWorkers(queue: string): Promise<{ queue_name: string; workers_list: string[]; processed: number; failed: number }> {
    return this.json({ method: "GET", path: "/w/", query: { queue_name: queue }, idempotent: true });
  }

  // --- dead letters

  /** GET /dead/:queue */
  dead<T = unknown>(queue: string, opts: { offset?: number; limit?: number } = {}): Promise<DeadList<T>> {
    return this.json({ method: "GET", path: `/dead/${q(queue)}`, query: { offset: opts.offset, limit: opts.limit }, idempotent: true });
  }

  /** POST /dead/:queue/:id/retry: the job is ready again. Never retried (a second call is a 404). */
  async retryDead(queue: string, id: string): Promise<void> {
    await this.send({ method: "POST", path: `/dead/${q(queue)}/${q(id)}/retry`, idempotent: false });
  }

  /** DELETE /dead/:queue -> how many dead jobs were deleted */
  async purgeDead(queue: string): Promise<number> {
    return (await this.json<{ deleted: number }>({ method: "DELETE", path: `/dead/${q(queue)}`, idempotent: true })).deleted;
  }

  // --- transport

  private async json<T>(call: Call): Promise<T> {
    return parse((await this.send(call)).body) as T;
  }

  private async send(call: Call): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      let answer: Answer | undefined;
      let failure: Error | undefined;
      try {
        answer = await this.once(call);
      } catch (err) {
        failure = err as Error;
      }
      const retryable = failure ? failure instanceof ConnectionError && RETRYABLE_CODES.has(failure.code ?? "") : answer!.status === 503;
      if (retryable && call.idempotent && attempt < this.retries && !call.signal?.aborted) {
        const delay = Math.min(this.retryDelayCap, this.retryDelay * 2 ** attempt);
        await sleep(delay / 2 + Math.random() * (delay / 2), call.signal);
        continue;
      }
      if (failure) throw failure;
      const ok = answer!.status >= 200 && answer!.status < 300;
      if (ok || call.accept?.includes(answer!.status)) return answer!;
      throw errorOf(answer!, call);
    }
  }

  private once(call: Call): Promise<Answer> {
    const target = new URL(this.url + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) target.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...call.headers };
    if (this.workerId) headers["x-presque-workerid"] = this.workerId;
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let payload: Buffer | undefined;
    if (call.body !== undefined) {
      payload = Buffer.from(JSON.stringify(call.body));
      headers["content-type"] = "application/json";
    }
    headers["content-length"] = String(payload?.length ?? 0);
    const request = this.secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(target, { method: call.method, headers, agent: this.agent, signal: call.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", (err) => reject(connectionError(err, this.url)));
      });
      req.setTimeout(call.timeout ?? this.timeout, () => req.destroy(Object.assign(new Error("no answer in time"), { code: "ETIMEDOUT" })));
      req.on("error", (err) => reject(call.signal?.aborted ? abortError(call.signal) : connectionError(err, this.url)));
      req.end(payload);
    });
  }
}

function q(part: string): string {
  return encodeURIComponent(part);
}

function pushQuery(opts: PushOptions): Record<string, string | number | undefined> {
  return {
    delay: opts.delay,
    delayed: opts.delayed,
    priority: opts.priority,
    uniq: opts.uniq,
    max_attempts: opts.maxAttempts,
    expires_in: opts.expiresIn,
    expires_at: opts.expiresAt,
  };
}

function attemptHeader(attempt?: number): Record<string, string> {
  return attempt ? { "x-presque-attempt": String(attempt) } : {};
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parse(body: Buffer): unknown {
  return body.length ? JSON.parse(body.toString("utf8")) : undefined;
}

/** A 404 of a fetch: "no job" is an answer (null), and so is "rate limited" (the queue's rate
 *  allowed none: none came); anything else ("queue is closed") is an error. */
function noJob(answer: Answer, method: string, path: string): null {
  const message = messageOf(answer);
  if (message === "no job" || message === "rate limited") return null;
  throw new PresqueError(404, message, method, path, safeParse(answer.body));
}

function messageOf(answer: Answer): string {
  const body = safeParse(answer.body);
  if (body && typeof body === "object" && typeof (body as { error?: unknown }).error === "string") return (body as { error: string }).error;
  return answer.body.toString("utf8").slice(0, 200) || `HTTP ${answer.status}`;
}

function safeParse(body: Buffer): unknown {
  try {
    return parse(body);
  } catch {
    return undefined;
  }
}

function errorOf(answer: Answer, call: Call): PresqueError {
  return new PresqueError(answer.status, messageOf(answer), call.method, call.path, safeParse(answer.body));
}

function connectionError(err: Error & { code?: string }, url: string): ConnectionError {
  const code = err.code;
  const why = code === "ECONNREFUSED" ? "connection refused" : err.message;
  return new ConnectionError(`cannot reach presque at ${url}: ${why}`, url, code);
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error("aborted"), { name: "AbortError" });
}

/** Resolves after ms, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
