// The parts of the OpenAPI document that many routes share: parameters, headers and schemas, and
// the helpers that the sections of paths.ts are written with. Ranges come from the code that checks
// them (params.ts, config.ts), so that the document cannot claim another limit than the server's.
import { QUEUE_SETTING_RANGES, type Config } from "../config.js";
import { MAX_PAGE, WORKERS_SHOWN } from "../dashboard/overview.js";
import { MAX_PRIORITY } from "../params.js";
import { MAX_EVERY, MIN_EVERY } from "../../store/schedules.js";
import { PAGE_SECURITY } from "../routes/dashboard.js";
import { LIMIT_RANGES } from "../routes/queues.js";

export type Json = Record<string, unknown>;

/** The limits of a running server that the document states (the defaults when it is built alone). */
export type Limits = Pick<Config, "server" | "batch" | "jobs">;

export const ref = (kind: "parameters" | "headers" | "schemas" | "responses", name: string) => ({ $ref: `#/components/${kind}/${name}` });
export const param = (name: string) => ref("parameters", name);
export const schema = (name: string) => ref("schemas", name);
export const header = (name: string) => ref("headers", name);

const int = (minimum: number, maximum: number, extra: Json = {}) => ({ type: "integer", minimum, maximum, ...extra });
const count = { type: "integer", minimum: 0 };
const nonNegative = { type: "number", minimum: 0 };
const perMinute = { type: "array", items: { type: "integer", minimum: 0 } };
const epoch = { type: "number", description: "a time in epoch seconds (fractions of a second allowed)", examples: [1795433494.5] };

/** A JSON body of the given schema, with examples by name. */
export function json(body: Json, examples?: Record<string, unknown>): Json {
  const media: Json = { schema: body };
  if (examples) media.examples = Object.fromEntries(Object.entries(examples).map(([name, value]) => [name, { value }]));
  return { "application/json": media };
}

/** A query parameter. */
export function query(name: string, description: string, valueSchema: Json, example?: unknown): Json {
  return { name, in: "query", description, schema: valueSchema, ...(example !== undefined && { example }) };
}

/** An object schema whose every listed property is required unless named in `optional`; nothing else is allowed. */
export function object(properties: Record<string, Json>, optional: string[] = [], extra: Json = {}): Json {
  return {
    type: "object",
    required: Object.keys(properties).filter((p) => !optional.includes(p)),
    properties,
    additionalProperties: false,
    ...extra,
  };
}

export function parameters(l: Limits): Record<string, Json> {
  return {
    queue: {
      name: "queue",
      in: "path",
      required: true,
      description: "the queue: 1-128 characters of A-Z a-z 0-9 _ - . : (anything else is 400 invalid queue name)",
      schema: schema("QueueName"),
      example: "emails",
    },
    id: {
      name: "id",
      in: "path",
      required: true,
      description: "a job id (anything that is not one is 404 no such job)",
      schema: schema("JobId"),
      example: "7",
    },
    attempt: {
      name: "X-presque-attempt",
      in: "header",
      description:
        "the attempt the job was handed out with (its lease token): an attempt that is not the job's latest is 409. " +
        "Also accepted as ?attempt=",
      schema: int(1, 999_999),
      example: 1,
    },
    scheduleName: {
      name: "name",
      in: "path",
      required: true,
      description: "the schedule's name within its queue: 1-128 characters of A-Z a-z 0-9 _ - . :",
      schema: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,128}$" },
      example: "digest",
    },
    attemptQuery: query("attempt", "the attempt, when the X-presque-attempt header is not given", int(1, 999_999)),
    workerId: {
      name: "X-presque-workerid",
      in: "header",
      description: "the worker making the request: its figures count the job too (also accepted as ?worker_id=)",
      schema: { type: "string", maxLength: 256 },
      example: "host-1:4242:mail",
    },
    workerIdQuery: query("worker_id", "the worker, when the X-presque-workerid header is not given", { type: "string", maxLength: 256 }),
    idempotencyKey: {
      name: "Idempotency-Key",
      in: "header",
      description:
        "names the request: the same key again (within the queue's idempotency_window) answers 200 with the first ids and " +
        "stores nothing; the same key with another body, query or route is 422",
      schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
      example: "order-4711",
    },
    delayed: query("delayed", "not handed out before this time (epoch seconds); excludes delay", {
      type: "number",
      minimum: 0,
      maximum: 1e11,
    }),
    delay: query("delay", "not handed out for this many seconds from now; excludes delayed", {
      type: "number",
      minimum: 0,
      maximum: 365 * 86400,
    }),
    priority: query("priority", "higher first; FIFO within a priority", int(-MAX_PRIORITY, MAX_PRIORITY, { default: 0 })),
    maxAttempts: query(
      "max_attempts",
      "deliveries under a lease before the job goes to the dead list (default: the queue's)",
      int(1, 1000),
    ),
    lease: query(
      "lease",
      "lease the job for this many seconds instead of deleting it on fetch (0: delete on fetch, whatever the queue's lease); " +
        "default: the queue's lease",
      { type: "number", minimum: 0, maximum: l.jobs.max_lease },
    ),
    wait: query("wait", "long poll: wait up to this many seconds for a job (capped by server.max_wait)", {
      type: "number",
      minimum: 0,
      maximum: l.server.max_wait,
      default: 0,
    }),
    offset: query("offset", "how many to skip", int(0, Number.MAX_SAFE_INTEGER, { default: 0 })),
    expiresIn: query(
      "expires_in",
      "not handed out within this many seconds after it is due: then never (it goes to the dead list, last_error expired); " +
        "excludes expires_at; default: the queue's expires_in",
      { type: "number", exclusiveMinimum: 0, maximum: 365 * 86400 },
    ),
    expiresAt: query("expires_at", "not handed out by this time (epoch seconds), after it is due: then never; excludes expires_in", {
      type: "number",
      minimum: 0,
      maximum: 1e11,
    }),
  };
}

export const headers: Record<string, Json> = {
  "X-presque-jobid": { description: "the id of the job handed out", required: true, schema: schema("JobId") },
  "X-presque-attempt": {
    description: "under a lease: the attempt (the lease token to send back with an ack, a failure or an extension)",
    schema: { type: "string", pattern: "^[1-9][0-9]*$" },
  },
  "X-presque-lease-expires": {
    description: "under a lease: when it runs out, in epoch seconds with milliseconds",
    schema: { type: "string", pattern: "^[0-9]+\\.[0-9]{3}$" },
    example: "1795433494.250",
  },
  "X-presque-jobids": {
    description: "the ids of the jobs handed out, in the order of the body, comma-separated",
    required: true,
    schema: { type: "string", pattern: "^[1-9][0-9]*(,[1-9][0-9]*)*$" },
    example: "7,8,9",
  },
  "X-presque-attempts": {
    description: "under a lease: each job's attempt, in the order of X-presque-jobids",
    schema: { type: "string", pattern: "^[1-9][0-9]*(,[1-9][0-9]*)*$" },
    example: "1,1,2",
  },
  "Idempotent-Replayed": {
    description: "this is the answer to an earlier request with the same Idempotency-Key: nothing new was stored",
    required: true,
    schema: { const: "true" },
  },
  "Retry-After": { description: "seconds to wait before trying again", required: true, schema: { type: "string", pattern: "^[0-9]+$" } },
  "WWW-Authenticate": {
    description: 'the challenge: Bearer realm="presque", with error="invalid_token" for a token that is not valid',
    required: true,
    schema: { type: "string", pattern: '^Bearer realm="presque"' },
  },
  Allow: { description: "the methods the path takes", required: true, schema: { type: "string" }, example: "GET, POST, PUT, DELETE" },
  Connection: {
    description: "close when the body was over server.max_body: the rest of it is not read, and the connection ends",
    schema: { enum: ["close", "keep-alive"] },
  },
  // the dashboard's page, script and style (src/server/routes/dashboard.ts): only this origin's own files, never framed
  "Content-Security-Policy": {
    description: "nothing but this origin's own files and requests, no inline script, never framed",
    required: true,
    schema: { const: PAGE_SECURITY["content-security-policy"] },
  },
  "X-Frame-Options": { description: "never framed", required: true, schema: { const: PAGE_SECURITY["x-frame-options"] } },
  "X-Content-Type-Options": {
    description: "the Content-Type is to be believed",
    required: true,
    schema: { const: PAGE_SECURITY["x-content-type-options"] },
  },
  "Referrer-Policy": {
    description: "no Referer is sent from the page",
    required: true,
    schema: { const: PAGE_SECURITY["referrer-policy"] },
  },
  Upgrade: { description: "the protocol the path speaks", required: true, schema: { const: "websocket" } },
  "X-Accel-Buffering": {
    description: "a proxy in front (nginx) is not to buffer the stream",
    required: true,
    schema: { const: "no" },
  },
  "Cache-Control": { description: "how a cache may keep the answer", required: true, schema: { enum: ["no-cache", "no-store"] } },
};

const scheduleFields = {
  cron: { type: "string", maxLength: 256, description: "minute hour day-of-month month day-of-week (a sixth, leading field: seconds)" },
  tz: { type: "string", maxLength: 64, description: "the IANA time zone of cron (default UTC)", examples: ["Europe/Paris"] },
  every: { ...int(MIN_EVERY, MAX_EVERY), description: "seconds between runs, instead of cron" },
  job: schema("Job"),
  priority: int(-MAX_PRIORITY, MAX_PRIORITY),
  max_attempts: int(1, 1000),
};

/** A schedule as the routes show it: its definition, its next and last runs (and more fields). */
function scheduleView(more: Record<string, Json>, example: Json): Json {
  return {
    ...object(
      {
        queue: schema("QueueName"),
        name: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,128}$" },
        ...scheduleFields,
        next_run_at: { type: ["number", "null"], description: "epoch seconds" },
        last_run_at: { type: ["number", "null"], description: "epoch seconds; null: it has not run yet" },
        last_job_id: {
          oneOf: [schema("JobId"), { type: "null" }],
          description: "the job the last tick enqueued; null: none yet, or the tick found the queue at its max_length",
        },
        ...more,
      },
      ["cron", "tz", "every", "priority", "max_attempts"],
    ),
    oneOf: [{ required: ["cron", "tz"] }, { required: ["every"] }],
    examples: [{ queue: "reports", name: "digest", cron: "*/5 * * * *", tz: "Europe/Paris", job: { kind: "digest" }, ...example }],
  };
}

export function schemas(l: Limits): Record<string, Json> {
  const settingRange = (name: keyof typeof QUEUE_SETTING_RANGES) => int(QUEUE_SETTING_RANGES[name][0], QUEUE_SETTING_RANGES[name][1]);
  const figures = {
    queue_name: schema("QueueName"),
    job_count: { ...count, description: "ready jobs" },
    job_prioritized: { ...count, description: "ready jobs of a priority other than 0 (counted in job_count)" },
    job_delayed: count,
    job_leased: count,
    job_dead: count,
    job_processed: { ...count, description: "jobs fetched without a lease or acknowledged under one" },
    job_failed: { ...count, description: "failures reported or leases expired" },
  };
  const settings = {
    lease: { ...int(0, l.jobs.max_lease), description: "seconds; 0: plain GETs delete jobs as they hand them out" },
    max_attempts: settingRange("max_attempts"),
    backoff_base: { ...settingRange("backoff_base"), description: "seconds; a failed job waits backoff_base * 2^(attempt-1)" },
    backoff_cap: { ...settingRange("backoff_cap"), description: "seconds" },
    max_length: { ...settingRange("max_length"), description: "jobs ready or delayed; 0: no limit" },
    max_payload: { ...settingRange("max_payload"), description: "bytes; 0: no limit but server.max_body" },
    idempotency_window: { ...settingRange("idempotency_window"), description: "seconds an Idempotency-Key is remembered" },
    max_idempotency_keys: {
      ...settingRange("max_idempotency_keys"),
      description: "Idempotency-Keys remembered at once; past it a push with a new key is 429; 0: no limit",
    },
  };
  // the queue's limits, which have no server-wide default: null when unset (no limit)
  const limit = (name: keyof typeof LIMIT_RANGES, type: string, description: string) => ({
    type: [type, "null"],
    minimum: LIMIT_RANGES[name][0],
    maximum: LIMIT_RANGES[name][1],
    description,
  });
  const limits = {
    rate: limit("rate", "number", "jobs per second handed out, across every consumer and process (a token bucket)"),
    burst: limit("burst", "integer", "the bucket's size (unset: one second's worth of rate)"),
    concurrency: limit("concurrency", "integer", "jobs leased at once, across every worker"),
    expires_in: limit("expires_in", "integer", "seconds after it is due that a job not handed out is never handed out"),
  };
  const failed = (state: string, at?: string) =>
    object({ id: schema("JobId"), state: { const: state }, ...(at && { [at]: epoch }) }, [], {
      ...(at && { description: `${at}: ${at === "due_at" ? "when it is tried again" : "when it died"}` }),
    });
  return {
    Error: object({ error: { type: "string", description: "what went wrong, for a person to read" } }, [], {
      examples: [{ error: "invalid queue name" }],
    }),
    QueueName: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,128}$", examples: ["emails"] },
    JobId: { type: "string", pattern: "^[1-9][0-9]{0,15}$", description: "whole numbers per queue, never reused", examples: ["7"] },
    Job: {
      type: "object",
      description: "any JSON object (UTF-8), stored and handed back as the exact bytes that were sent",
      examples: [{ to: "a@example.com" }],
    },
    Epoch: epoch,
    JobView: {
      ...object(
        {
          id: schema("JobId"),
          queue: schema("QueueName"),
          state: { enum: ["ready", "delayed", "leased", "dead"] },
          attempts: { ...count, description: "deliveries under a lease so far" },
          priority: int(-MAX_PRIORITY, MAX_PRIORITY),
          max_attempts: int(1, 1000),
          last_error: { type: "string", description: 'the last failure reported; "expired": its deadline passed' },
          due_at: epoch,
          lease_expires_at: epoch,
          died_at: epoch,
          job: { anyOf: [schema("Job"), { type: "null" }], description: "the job; null when its body is gone (deleted meanwhile)" },
        },
        ["max_attempts", "last_error", "due_at", "lease_expires_at", "died_at"],
      ),
      allOf: [
        { if: { properties: { state: { const: "delayed" } } }, then: { required: ["due_at"] } },
        { if: { properties: { state: { const: "leased" } } }, then: { required: ["lease_expires_at"] } },
        { if: { properties: { state: { const: "dead" } } }, then: { required: ["died_at"] } },
      ],
      examples: [
        {
          id: "7",
          queue: "emails",
          state: "delayed",
          attempts: 1,
          priority: 0,
          last_error: "smtp timeout",
          due_at: 1795433494.5,
          job: { to: "a" },
        },
      ],
    },
    QueueFigures: object(figures, [], {
      examples: [
        {
          queue_name: "emails",
          job_count: 3,
          job_prioritized: 1,
          job_delayed: 0,
          job_leased: 2,
          job_dead: 0,
          job_processed: 40,
          job_failed: 1,
        },
      ],
    }),
    QueueSettings: object({ ...settings, ...limits }),
    Control: object(
      { queue: schema("QueueName"), status: { enum: [0, 1], description: "1 open, 0 stopped" }, ...settings, ...limits },
      [],
      {
        examples: [
          {
            queue: "emails",
            status: 1,
            lease: 0,
            max_attempts: 5,
            backoff_base: 1,
            backoff_cap: 3600,
            max_length: 0,
            max_payload: 0,
            idempotency_window: 86400,
            max_idempotency_keys: 100000,
            rate: 100,
            burst: 20,
            concurrency: null,
            expires_in: null,
          },
        ],
      },
    ),
    StatsEntry: object({ ...figures, status: { enum: [0, 1] }, lease: settings.lease }),
    Failed: {
      description: "where a failed job went: delayed until due_at, dead, or ready at once (retry_in 0)",
      oneOf: [failed("delayed", "due_at"), failed("dead", "died_at"), failed("ready")],
      examples: [{ id: "7", state: "delayed", due_at: 1795433494.5 }],
    },
    BatchResult: {
      description: "one job's outcome, with the status its single route would have answered",
      oneOf: [
        object({ id: schema("JobId"), status: { const: 204 }, state: { enum: ["acked", "cancelled"] } }),
        object({ status: { const: 200 }, id: schema("JobId"), state: { const: "delayed" }, due_at: epoch }),
        object({ status: { const: 200 }, id: schema("JobId"), state: { const: "dead" }, died_at: epoch }),
        object({ status: { const: 200 }, id: schema("JobId"), state: { const: "ready" } }),
        object({ id: schema("JobId"), status: { enum: [404, 409] }, error: { type: "string" } }),
      ],
    },
    BatchResults: object(
      { results: { type: "array", items: schema("BatchResult"), maxItems: l.batch.max_push, description: "in the order of the request" } },
      [],
      {
        examples: [
          {
            results: [
              { id: "7", status: 204, state: "acked" },
              { id: "8", status: 409, error: "the job was handed out again (attempt 2)" },
            ],
          },
        ],
      },
    ),
    Worker: object(
      {
        worker_id: { type: "string" },
        started_at: { type: "integer", description: "when it registered, in epoch seconds" },
        queues: { type: "array", items: schema("QueueName") },
        processed: count,
        failed: count,
      },
      [],
      { examples: [{ worker_id: "myworker_1", started_at: 1795433493, queues: ["foo"], processed: 0, failed: 0 }] },
    ),
    QueueWorkers: object(
      { queue_name: schema("QueueName"), workers_list: { type: "array", items: { type: "string" } }, processed: count, failed: count },
      [],
      { examples: [{ queue_name: "foo", workers_list: ["myworker_1"], processed: 12, failed: 1 }] },
    ),
    Overview: object(
      {
        at: { type: "number", description: "when it was read, in epoch milliseconds by Redis's clock" },
        view: object({
          prefix: { type: "string", pattern: "^[A-Za-z0-9_.:-]{0,128}$", description: "the start of the queue names shown" },
          offset: int(0, 1_000_000),
          limit: int(1, MAX_PAGE),
        }),
        total: { ...count, description: "the queues whose name starts with the prefix (all of them, whatever the token may see)" },
        queues: { type: "array", maxItems: MAX_PAGE, items: schema("OverviewQueue"), description: "the page, by name" },
        workers: object({
          total: { ...count, description: "registered workers (for a token kept to some queues: those shown)" },
          shown: { type: "array", maxItems: WORKERS_SHOWN, items: schema("Worker") },
        }),
        redis: object({ target: { type: "string" }, version: { type: "string" }, embedded: { type: "boolean" } }),
      },
      [],
      {
        description: "the data of an `overview` event of GET /events: the whole state of one view",
        examples: [
          {
            at: 1764770000000,
            view: { prefix: "", offset: 0, limit: 25 },
            total: 1,
            queues: [
              {
                name: "mail",
                open: true,
                ready: 5,
                delayed: 0,
                leased: 1,
                dead: 2,
                processed: 120,
                failed: 3,
                oldest_ready_age: null,
                rates: { pushed: 0.5, acked: 0.48, failed: 0.01 },
                series: { pushed: [30, 29], acked: [28, 29], failed: [0, 1] },
                p50: 0.012,
                p95: 0.2,
              },
            ],
            workers: { total: 1, shown: [{ worker_id: "w1", started_at: 1764760000, queues: ["mail"], processed: 120, failed: 3 }] },
            redis: { target: "redis://127.0.0.1:6379/0", version: "7.2.4", embedded: false },
          },
        ],
      },
    ),
    OverviewQueue: object({
      name: schema("QueueName"),
      open: { type: "boolean", description: "false: stopped" },
      ready: count,
      delayed: count,
      leased: count,
      dead: count,
      processed: count,
      failed: count,
      oldest_ready_age: { type: ["number", "null"], description: "seconds; null: not known" },
      rates: {
        description: "jobs per second over the last 5 minutes (the current one for the part that has passed); null: no metrics",
        oneOf: [{ type: "null" }, object({ pushed: nonNegative, acked: nonNegative, failed: nonNegative })],
      },
      series: {
        description: "per-minute counts of the last 15 minutes, oldest first; null: no metrics",
        oneOf: [{ type: "null" }, object({ pushed: perMinute, acked: perMinute, failed: perMinute })],
      },
      p50: { type: ["number", "null"], minimum: 0, description: "run-time median in seconds, from the histogram; null: no data" },
      p95: { type: ["number", "null"], minimum: 0, description: "run-time 95th percentile in seconds; null: no data" },
    }),
    SearchMatch: {
      ...object(
        {
          id: schema("JobId"),
          state: { enum: ["ready", "delayed"] },
          due_at: { ...epoch, description: "delayed: when it is due" },
          payload: { type: ["string", "null"], description: "the job as the text that was pushed; null past the answer's budget" },
        },
        ["due_at"],
      ),
      allOf: [
        { if: { properties: { state: { const: "delayed" } } }, then: { required: ["due_at"] }, else: { not: { required: ["due_at"] } } },
      ],
      examples: [{ id: "90", state: "delayed", due_at: 1764771234.5, payload: '{"to":"alice@example.com"}' }],
    },
    ScheduleSpec: {
      type: "object",
      description: "a cron expression (with an optional tz) or every, and the job each tick enqueues",
      required: ["job"],
      additionalProperties: false,
      properties: scheduleFields,
      oneOf: [{ required: ["cron"] }, { required: ["every"] }],
      dependentRequired: { tz: ["cron"] },
      examples: [
        { cron: "*/5 * * * *", tz: "Europe/Paris", job: { kind: "digest" }, priority: 5, max_attempts: 3 },
        { every: 60, job: { ping: true } },
      ],
    },
    Schedule: scheduleView({}, { next_run_at: 1796308500, last_run_at: null, last_job_id: null }),
    SavedSchedule: scheduleView(
      { outcome: { enum: ["created", "updated", "unchanged"], description: "unchanged: the same definition, whose next run stays" } },
      { next_run_at: 1796308500, last_run_at: null, last_job_id: null, outcome: "created" },
    ),
    JobEvent: object(
      {
        id: schema("JobId"),
        attempt: { ...count, description: "the attempt the event concerns (0 for a push, or when unknown)" },
        reason: { enum: ["error", "lease_expired"], description: "failed: a failure report, or a lease that ran out" },
      },
      ["reason"],
      {
        description: "the data of a job event of GET /events/{queue}: pushed, delivered, acked, removed, failed or dead",
        examples: [{ id: "41", attempt: 1, reason: "error" }],
      },
    ),
    Subscribed: object({ queue: schema("QueueName") }, [], { description: "the data of GET /events/{queue}'s first event, subscribed" }),
    Missed: object({ missed: { type: "integer", minimum: 1 } }, [], {
      description: "the data of a missed event of GET /events/{queue}: events not written while the watcher did not read",
    }),
    Stats: object({
      redis: object(
        {
          target: { type: "string", examples: ["redis://127.0.0.1:6379/0"] },
          version: { type: "string" },
          embedded: { type: "boolean", description: "presque started this redis-server itself" },
          nodes: {
            type: "array",
            description: "on a Redis Cluster: every node the client knows, with its role",
            items: object({ node: { type: "string" }, role: { enum: ["master", "replica"] } }),
          },
        },
        ["nodes"],
      ),
      queues: { type: "array", items: schema("StatsEntry") },
      total: { ...count, description: "every queue" },
      offset: count,
      limit: int(1, 1000),
      sort: { enum: ["name", "size"] },
      order: { enum: ["asc", "desc"] },
      workers: { ...count, description: "registered workers" },
      processes: {
        type: "array",
        description: "the presque processes sharing this Redis, oldest first",
        items: object({
          id: { type: "string" },
          version: { type: "string" },
          layout: { type: "integer", description: "the data layout it reads and writes" },
          scripts: { type: "array", items: { type: "string" }, description: "the Lua script versions it calls" },
          started_at: { type: "integer" },
          expires_at: { ...epoch, description: "when its entry runs out unless renewed" },
        }),
      },
    }),
  };
}
