// One section per route the router serves, keyed by its path as src/server/routes/ registers it
// (":queue", turned into "{queue}" for the document). A new route is a new section here; who may
// call it comes from src/server/auth/routes.ts, and the answers every guarded route can give (401,
// 403, 429, 500, 503) are added by document.ts. test/openapi.test.ts holds the sections against the router
// and the answers the route tests get against the schemas.
import { ROLES } from "../auth/tokens.js";
import { QUEUE_SETTING_RANGES } from "../config.js";
import { MAX_LISTENERS, MAX_VIEWS, TICK_MS } from "../dashboard/hub.js";
import { MAX_PAGE } from "../dashboard/overview.js";
import { MAX_PRIORITY } from "../params.js";
import { DEAD_STEP } from "../routes/dead.js";
import { LIMIT_RANGES } from "../routes/queues.js";
import { SEARCH_BUDGET } from "../routes/search.js";
import { MAX_EVERY, MIN_EVERY } from "../../store/schedules.js";
import { DEFAULT_STREAM_LEASE } from "../stream/server.js";
import { MAX_MESSAGE_BYTES, MAX_QUEUES } from "../stream/protocol.js";
import type { Method } from "../router.js";
import { header, json, object, param, query, schema, type Json, type Limits } from "./components.js";

/** The errors a route gives itself, each status with the messages it can carry (as examples). */
export type Errors = Partial<Record<400 | 403 | 404 | 409 | 413 | 422 | 426 | 429 | 500 | 503, string[]>>;

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: Json[];
  requestBody?: Json;
  /** the answers that are not errors, as OpenAPI Response Objects */
  responses: Record<string, Json>;
  errors: Errors;
  /** headers some answers of an error status carry (those every answer of it carries are document.ts's) */
  errorHeaders?: Partial<Record<keyof Errors, Record<string, Json>>>;
}

export type Section = Partial<Record<Method, Operation>>;

const QUEUE = "invalid queue name";
const TWICE = "priority is given more than once";
const NO_SUCH_JOB = "no such job";
const UNAVAILABLE = "redis unavailable";
const OUT_OF_MEMORY = "redis is out of memory";
const TOO_DEEP = (what: string, levels = 64) => `${what} nests arrays and objects deeper than ${levels} levels`;
const JOB_BODY = [
  "Content-Type must be application/json",
  "Content-Type must be application/json, not text/plain",
  "job is missing",
  "job is not valid JSON: Unexpected end of JSON input",
  "job is not valid UTF-8",
  "job must be a JSON object",
  TOO_DEEP("job"),
  "the request was cut short",
];
const PUSHED = [
  "the job is stored, but only 0 of 1 replicas confirmed it",
  "redis did not confirm the push in time: the job may have been stored",
];
const CONFLICT = ["attempt 1 does not match: the job is on attempt 2", "the job is not leased"];
/** a consumer's token without an attempt (src/server/routes/jobs.ts, mayCancel) */
const MAY_NOT_CANCEL = "token ci may acknowledge a job with its attempt, not cancel it: that needs the role admin";
const KEYS_FULL = "the queue remembers 100000 Idempotency-Keys, its most (max_idempotency_keys)";
/** a fetch that got no job: none ready, the queue stopped, or its rate spent (then with Retry-After) */
const NO_JOB = ["no job", "queue is closed", "rate limited"];
const WAITERS = {
  429: ["token ci has 1000 long polls waiting here already (server.max_waiters_per_token)"],
  503: ["10000 long polls are waiting here already (server.max_waiters)"],
};
const rateLimited = {
  404: {
    "Retry-After": {
      description: 'with "rate limited": whole seconds until the queue\'s rate allows a job',
      schema: { type: "string", pattern: "^[0-9]+$" },
    },
  },
};
const CUT_SHORT = "the request was cut short";
const SCHEDULE_NAME = "invalid schedule name: 1-128 characters of A-Z a-z 0-9 _ - . :";
const NO_SUCH_SCHEDULE = "no such schedule";
const seconds = (name: string, max: number) => `${name} must be a number of seconds from 0 to ${max}`;

const roles = { type: "array", items: { enum: [...ROLES] }, uniqueItems: true };
const globs = { type: "array", items: { type: "string" }, description: "queue-name globs (* and ?)" };

/** A request body's fields that the route reads; others are ignored, not refused. */
const ignoringOthers = { additionalProperties: true };

const noContent = (description: string) => ({ description });
/** present (true) only when a list stopped at about 4 MB of payload before `what` */
const truncated = (what: string) => ({ const: true, description: `the list stopped at about 4 MB of payload, before ${what}` });
const ok = (description: string, body: Json, examples?: Record<string, unknown>, headers?: Record<string, Json>) => ({
  description,
  ...(headers && { headers }),
  content: json(body, examples),
});

const pushOptions = [param("delayed"), param("delay"), param("priority"), param("maxAttempts"), param("expiresIn"), param("expiresAt")];
const pushQueryErrors = [
  "give delayed (epoch seconds) or delay (seconds), not both",
  "delayed must be a time in epoch seconds",
  seconds("delay", 365 * 86400),
  `priority must be an integer from ${-MAX_PRIORITY} to ${MAX_PRIORITY}`,
  "max_attempts must be an integer from 1 to 1000",
  "give expires_at (epoch seconds) or expires_in (seconds), not both",
  "expires_at must be a time in epoch seconds",
  seconds("expires_in", 365 * 86400),
  "expires_at is in the past",
  "expires_in must be more than 0",
  "the job would expire before it is due: expires_at must come after delayed or delay",
  TWICE,
];
const replayed = { "Idempotent-Replayed": header("Idempotent-Replayed") };
const leaseHeaders = (...names: string[]) => Object.fromEntries(names.map((n) => [n, header(n)]));

/** The dashboard's page, script and style: this server's own files under a strict policy. */
const asset = (operationId: string, summary: string, type: string, description: string): Section => ({
  GET: {
    operationId,
    summary,
    description,
    tags: ["dashboard"],
    responses: {
      200: {
        description: "the file, as it is in src/server/dashboard/assets/",
        headers: leaseHeaders("Cache-Control", "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"),
        content: { [type]: { schema: { type: "string" } } },
      },
    },
    errors: {},
  },
});

/** POST /dead/:queue/retry and /dead/:queue/delete: the selected dead jobs, or a bounded step of a filter. */
function deadBulk(action: "retry" | "delete", tooLarge: string): Section {
  const done = action === "retry" ? "retried" : "deleted";
  const pick = {
    type: "object",
    additionalProperties: false,
    description:
      "either ids, or a filter (match, in) and the cursor of the step before; {} takes every dead job, " +
      `a step of about ${DEAD_STEP} at a time`,
    properties: {
      ids: {
        type: "array",
        minItems: 1,
        maxItems: DEAD_STEP,
        items: schema("JobId"),
        description:
          "these jobs (those of them that are not dead are left alone, one named twice is taken once); excludes match and cursor",
      },
      match: {
        type: "string",
        maxLength: 1024,
        description: 'the jobs whose last error or payload holds this text (plain, case-sensitive); "" or none: every dead job',
      },
      in: { enum: ["error", "payload", "any"], default: "any", description: "where match is looked for" },
      cursor: { type: "string", pattern: "^[0-9]{1,20}$", default: "0", description: "the cursor the step before answered" },
    },
    dependentSchemas: { ids: { not: { anyOf: [{ required: ["match"] }, { required: ["cursor"] }] } } },
  };
  const step = object({
    queue: schema("QueueName"),
    [done]: { ...{ type: "integer", minimum: 0 }, description: `the jobs ${done} by this call` },
    scanned: { type: "integer", minimum: 0, description: "the dead jobs this call looked at (with ids: how many were named)" },
    cursor: { type: "string", pattern: "^[0-9]{1,20}$", description: 'give it back for the next step; "0": finished' },
    finished: { type: "boolean", description: 'cursor is "0": there is no next step' },
  });
  return {
    POST: {
      operationId: `${action}DeadJobs`,
      summary:
        action === "retry"
          ? "Retry dead jobs: the selected ones, or those matching a filter"
          : "Delete dead jobs: the selected ones, or those matching a filter",
      description:
        `One short script over at most about ${DEAD_STEP} dead jobs (a ZSCAN step of the dead set): call again with the cursor ` +
        'answered until finished (cursor "0"), or stop. A job that stays dead throughout is seen at least once; jobs that die ' +
        "meanwhile may or may not be. " +
        (action === "retry"
          ? "Retried jobs are ready at once with a fresh set of attempts and keep their last error, as POST /dead/{queue}/{id}/retry does."
          : "Runs while Redis is full (it frees memory).") +
        " The body is read as JSON whatever its Content-Type.",
      tags: ["dead"],
      parameters: [param("queue")],
      requestBody: {
        required: true,
        content: json(pick, {
          selected: { ids: ["12", "15"] },
          filter: { match: "smtp timeout", in: "error" },
          nextStep: { match: "smtp timeout", in: "error", cursor: "1536" },
          every: {},
        }),
      },
      responses: {
        200: ok(`what this step ${done}`, step, {
          selected: { queue: "mail", [done]: 2, scanned: 2, cursor: "0", finished: true },
          step: { queue: "mail", [done]: 140, scanned: 1000, cursor: "1536", finished: false },
        }),
      },
      errors: {
        400: [
          QUEUE,
          "body is missing",
          "body is not valid JSON: Unexpected end of JSON input",
          "body must be a JSON object",
          TOO_DEEP("body"),
          CUT_SHORT,
          "unknown key other: give ids, or match, in and cursor",
          "give ids, or match (and cursor), not both",
          `ids must be a list of 1 to ${DEAD_STEP} job ids`,
          "ids must be job ids (strings of digits)",
          "match must be a text of at most 1024 characters",
          'in must be "error", "payload" or "any"',
          "cursor must be the cursor a previous call answered",
        ],
        413: [tooLarge],
        503: action === "retry" ? [UNAVAILABLE, OUT_OF_MEMORY] : [UNAVAILABLE],
      },
    },
  };
}

/** Every method of /q/ and /qb/: the queue name is empty. */
function emptyName(path: string): Section {
  const op = (method: string): Operation => ({
    operationId: `${method.toLowerCase()}${path === "/q/" ? "Q" : "Qb"}WithoutQueue`,
    summary: `${method} ${path} with no queue name`,
    description: "An empty queue name is a bad name, not an unknown path: always 400.",
    tags: ["errors"],
    responses: {},
    errors: { 400: [QUEUE] },
  });
  return { GET: op("GET"), POST: op("POST"), PUT: op("PUT"), DELETE: op("DELETE") };
}

export function sections(l: Limits): Record<string, Section> {
  const tooLarge = `body is larger than ${l.server.max_body} bytes`;
  const takeErrors = [
    QUEUE,
    seconds("lease", l.jobs.max_lease),
    seconds("wait", l.server.max_wait),
    "worker_id is longer than 256 characters",
  ];
  const take = [param("lease"), param("wait"), param("workerId"), param("workerIdQuery")];
  const jobsBody = (item: Json, description: string, example: unknown) => ({
    required: true,
    description,
    content: json(object({ jobs: { type: "array", minItems: 1, maxItems: l.batch.max_push, items: item } }, [], ignoringOthers), {
      example,
    }),
  });
  const batchErrors = (shape: string) => [
    QUEUE,
    "Content-Type must be application/json",
    "body is missing",
    `body must be {"jobs": [${shape}, ...]} with at least one job`,
    `at most ${l.batch.max_push} jobs per batch`,
    "jobs[0] must be a JSON object",
    "jobs[0].id must be a job id",
    "jobs[0].attempt must be a positive integer",
    TOO_DEEP("body", 66),
  ];
  const leased = object(
    {
      id: { oneOf: [schema("JobId"), { type: "integer", minimum: 1 }] },
      attempt: { type: ["integer", "null"], minimum: 1, maximum: 999_999 },
    },
    ["attempt"],
    ignoringOthers,
  );
  const maxRetryIn = QUEUE_SETTING_RANGES.backoff_cap[1];
  const failure = {
    error: { description: "what went wrong: a string, or any JSON (kept as its text, cut at 4096 characters)" },
    retry_in: {
      type: ["number", "null"],
      minimum: 0,
      maximum: maxRetryIn,
      description: "seconds until it is tried again instead of the backoff; 0: ready at once",
    },
  };

  return {
    "/q/:queue": {
      POST: {
        operationId: "push",
        summary: "Push a job",
        tags: ["jobs"],
        parameters: [
          param("queue"),
          ...pushOptions,
          query("uniq", "at most one waiting job per uniq key", { type: "string", maxLength: 256 }),
          param("idempotencyKey"),
        ],
        requestBody: {
          required: true,
          description: `the job: one JSON object, at most server.max_body (${l.server.max_body}) bytes and the queue's max_payload`,
          content: json(schema("Job"), { job: { to: "a@example.com" } }),
        },
        responses: {
          201: ok("stored", object({ id: schema("JobId") }), { stored: { id: "1" } }),
          200: ok(
            "a replay of an earlier request with the same Idempotency-Key: nothing new was stored",
            object({ id: schema("JobId") }),
            { replayed: { id: "1" } },
            replayed,
          ),
        },
        errors: {
          400: [
            QUEUE,
            ...JOB_BODY,
            ...pushQueryErrors,
            "uniq must be at most 256 characters",
            "job already exists",
            "Idempotency-Key must be 1 to 255 printable ASCII characters, without spaces",
          ],
          413: [tooLarge, "a job is larger than the queue's max_payload of 65536 bytes"],
          422: ["this Idempotency-Key was used for another request"],
          429: ["the queue holds 10000 of at most 10000 jobs (max_length)", KEYS_FULL],
          503: [UNAVAILABLE, OUT_OF_MEMORY, ...PUSHED],
        },
      },
      GET: {
        operationId: "fetch",
        summary: "Fetch a job",
        description:
          "Without a lease (the queue's or ?lease=) the job is deleted as it is handed out. With one, it stays leased until acknowledged.",
        tags: ["jobs"],
        parameters: [param("queue"), ...take],
        responses: {
          200: ok(
            "the job, as the exact bytes that were pushed",
            schema("Job"),
            { job: { to: "a@example.com" } },
            {
              "X-presque-jobid": header("X-presque-jobid"),
              ...leaseHeaders("X-presque-attempt", "X-presque-lease-expires"),
            },
          ),
        },
        errors: {
          400: [...takeErrors, "lease is given more than once"],
          404: NO_JOB,
          429: WAITERS[429],
          503: [UNAVAILABLE, ...WAITERS[503]],
        },
        errorHeaders: rateLimited,
      },
      PUT: {
        operationId: "retry",
        summary: "Post back a job the worker failed (presque's retry)",
        description: "Stores the job again as a new job and counts a failure for the queue and the worker.",
        tags: ["jobs"],
        parameters: [param("queue"), param("delayed"), param("delay"), param("priority"), param("workerId"), param("workerIdQuery")],
        requestBody: { required: true, description: "the job", content: json(schema("Job")) },
        responses: { 201: ok("stored again", object({ id: schema("JobId") }), { stored: { id: "8" } }) },
        errors: {
          400: [
            QUEUE,
            ...JOB_BODY,
            ...pushQueryErrors,
            "uniq applies to single jobs (POST /q) only",
            "worker_id is longer than 256 characters",
          ],
          413: [tooLarge],
          503: [UNAVAILABLE, OUT_OF_MEMORY, ...PUSHED],
        },
      },
      DELETE: {
        operationId: "purge",
        summary: "Purge and delete the queue",
        description: "Every job, uniq key, counter and setting. Job ids are not reused afterwards.",
        tags: ["queues"],
        parameters: [param("queue")],
        responses: { 204: noContent("purged") },
        errors: { 400: [QUEUE], 503: [UNAVAILABLE] },
      },
    },

    "/q/": emptyName("/q/"),
    "/qb/": emptyName("/qb/"),

    "/q/:queue/:id": {
      GET: {
        operationId: "job",
        summary: "Look a job up",
        tags: ["leases"],
        parameters: [param("queue"), param("id")],
        responses: { 200: ok("where the job is", schema("JobView")) },
        errors: { 400: [QUEUE], 404: [NO_SUCH_JOB], 503: [UNAVAILABLE] },
      },
      DELETE: {
        operationId: "ack",
        summary: "Acknowledge a leased job, or cancel one that waits",
        description:
          "With an attempt: the holder's acknowledgement (a stale attempt is 409). Without one: a leased job is acknowledged, " +
          "a ready, delayed or dead job is cancelled.",
        tags: ["leases"],
        parameters: [param("queue"), param("id"), param("attempt"), param("attemptQuery"), param("workerId"), param("workerIdQuery")],
        responses: { 204: noContent("acknowledged or cancelled") },
        errors: {
          400: [QUEUE, "attempt must be a positive integer"],
          403: [MAY_NOT_CANCEL],
          404: [NO_SUCH_JOB],
          409: CONFLICT,
          503: [UNAVAILABLE],
        },
      },
      PUT: {
        operationId: "fail",
        summary: "Report the failure of a leased job",
        description:
          "The job is retried after backoff_base * 2^(attempt-1) seconds, capped at backoff_cap (or after retry_in), " +
          "or goes to the dead list once its attempts are used up.",
        tags: ["leases"],
        parameters: [param("queue"), param("id"), param("attempt"), param("attemptQuery"), param("workerId"), param("workerIdQuery")],
        requestBody: {
          required: false,
          description: 'optional: {"error": "...", "retry_in": seconds}; an empty body reads as {"error": "failed"}',
          content: json(object(failure, ["error", "retry_in"], ignoringOthers), {
            failure: { error: "smtp timeout" },
            handBack: { error: "stopping", retry_in: 0 },
          }),
        },
        responses: {
          200: ok("where the job went", schema("Failed"), {
            delayed: { id: "7", state: "delayed", due_at: 1795433494.5 },
            dead: { id: "7", state: "dead", died_at: 1795433494.5 },
            ready: { id: "7", state: "ready" },
          }),
        },
        errors: {
          400: [
            QUEUE,
            "attempt must be a positive integer",
            'body must be a JSON object such as {"error": "..."}',
            "body is not valid JSON: Unexpected token",
            TOO_DEEP("body"),
            seconds("retry_in", maxRetryIn),
          ],
          404: [NO_SUCH_JOB],
          409: CONFLICT,
          413: [tooLarge],
          503: [UNAVAILABLE],
        },
      },
    },

    "/q/:queue/:id/lease": {
      POST: {
        operationId: "extend",
        summary: "Extend a lease",
        description: "The lease runs out `seconds` from now. The body is read as JSON whatever its Content-Type.",
        tags: ["leases"],
        parameters: [param("queue"), param("id"), param("attempt"), param("attemptQuery")],
        requestBody: {
          required: true,
          content: json(object({ seconds: { type: "number", exclusiveMinimum: 0, maximum: l.jobs.max_lease } }, [], ignoringOthers), {
            extend: { seconds: 60 },
          }),
        },
        responses: {
          200: ok("the new deadline", object({ id: schema("JobId"), lease_expires_at: schema("Epoch") }), {
            extended: { id: "7", lease_expires_at: 1795433554.25 },
          }),
        },
        errors: {
          400: [
            QUEUE,
            "attempt must be a positive integer",
            "body is missing",
            "body must be a JSON object",
            TOO_DEEP("body"),
            'give {"seconds": N}',
            seconds("seconds", l.jobs.max_lease),
            `seconds must be more than 0 and at most ${l.jobs.max_lease}`,
          ],
          404: [NO_SUCH_JOB],
          409: CONFLICT,
          413: [tooLarge],
          503: [UNAVAILABLE],
        },
      },
    },

    "/qb/:queue": {
      POST: {
        operationId: "pushBatch",
        summary: "Push several jobs, in order",
        description: "All go in or none does. The query options apply to every job.",
        tags: ["batches"],
        parameters: [param("queue"), ...pushOptions, param("idempotencyKey")],
        requestBody: jobsBody(schema("Job"), `at most batch.max_push (${l.batch.max_push}) jobs`, { jobs: [{ a: 1 }, { a: 2 }] }),
        responses: {
          201: ok("stored", object({ ids: { type: "array", items: schema("JobId") } }), { stored: { ids: ["1", "2"] } }),
          200: ok(
            "a replay of an earlier request with the same Idempotency-Key",
            object({ ids: { type: "array", items: schema("JobId") } }),
            { replayed: { ids: ["1", "2"] } },
            replayed,
          ),
        },
        errors: {
          400: [
            ...batchErrors("{...}").slice(0, 6),
            TOO_DEEP("body", 66),
            ...pushQueryErrors,
            "Idempotency-Key must be 1 to 255 printable ASCII characters, without spaces",
          ],
          413: [tooLarge, "a job is larger than the queue's max_payload of 65536 bytes"],
          422: ["this Idempotency-Key was used for another request"],
          429: ["the queue holds 9999 of at most 10000 jobs (max_length)", KEYS_FULL],
          503: [UNAVAILABLE, OUT_OF_MEMORY, ...PUSHED],
        },
      },
      GET: {
        operationId: "fetchBatch",
        summary: "Fetch up to batch_size jobs",
        description: "One answer carries at most about 4 MB of jobs (always at least one).",
        tags: ["batches"],
        parameters: [
          param("queue"),
          query("batch_size", "at most this many jobs", {
            type: "integer",
            minimum: 1,
            maximum: l.batch.max_fetch,
            default: Math.min(10, l.batch.max_fetch),
          }),
          ...take,
        ],
        responses: {
          200: ok(
            "the jobs in queue order, each as the exact bytes pushed",
            { type: "array", minItems: 1, items: schema("Job") },
            { jobs: [{ a: 1 }, { a: 2 }] },
            {
              "X-presque-jobids": header("X-presque-jobids"),
              ...leaseHeaders("X-presque-attempts", "X-presque-lease-expires"),
            },
          ),
        },
        errors: {
          400: [...takeErrors, `batch_size must be an integer from 1 to ${l.batch.max_fetch}`],
          404: NO_JOB,
          429: WAITERS[429],
          503: [UNAVAILABLE, ...WAITERS[503]],
        },
        errorHeaders: rateLimited,
      },
    },

    "/c/:queue": {
      GET: {
        operationId: "stream",
        summary: "A streaming consumer: jobs pushed over a WebSocket (Upgrade: websocket)",
        description:
          "With `Upgrade: websocket` the request becomes a WebSocket (101) on which the consumer gives credit and presque " +
          "pushes jobs as they become ready, each leased, never more than the credit; acks, failures and extensions go over " +
          "the same socket and are answered job by job as the batch routes answer them, and the jobs a socket holds are handed " +
          `back (failed with retry_in 0) when it closes. Every frame is one JSON object, at most ${MAX_MESSAGE_BYTES} bytes; ` +
          "the client sends credit, ack, fail, extend, subscribe, cancel and events (the job events of its queues on the " +
          "socket), the server hello, jobs, the answers and the refusals of messages: the messages and close codes are in " +
          "docs/streaming.md. The upgrade is checked first, and a refusal is a plain HTTP " +
          'answer with its {"error": ...} (the token needs the consumer role on every queue named). A GET without the ' +
          "upgrade is 426.",
        tags: ["jobs"],
        parameters: [
          param("queue"),
          query("queues", `more queues, comma-separated (at most ${MAX_QUEUES} per socket in all)`, {
            type: "string",
            pattern: "^[A-Za-z0-9_.:,-]*$",
          }),
          query(
            "lease",
            "seconds each job sent is leased for, whatever the queue's lease setting (streamed jobs are always leased: 0 is refused)",
            { type: "number", exclusiveMinimum: 0, maximum: l.jobs.max_lease, default: DEFAULT_STREAM_LEASE },
          ),
          param("wait"),
          param("workerId"),
          param("workerIdQuery"),
          {
            name: "Upgrade",
            in: "header",
            description: "websocket, with the other headers of a WebSocket handshake (RFC 6455)",
            schema: { const: "websocket" },
          },
        ],
        responses: {
          101: {
            description:
              'the WebSocket is open; the server\'s first message is {"hello": {"queues": [...], "lease": 30, "worker_id": "..."}}',
          },
        },
        errors: {
          400: [
            QUEUE,
            "queues is given more than once",
            `at most ${MAX_QUEUES} queues per socket`,
            seconds("lease", l.jobs.max_lease),
            `lease must be more than 0 (at most ${l.jobs.max_lease}): streamed jobs are leased`,
            "lease is given more than once",
            seconds("wait", l.server.max_wait),
            "worker_id is longer than 256 characters",
          ],
          426: ["GET /c/:queue is a WebSocket (Upgrade: websocket): see docs/streaming.md"],
          503: ["the server is shutting down"],
        },
      },
    },

    "/qb/:queue/ack": {
      POST: {
        operationId: "ackBatch",
        summary: "Acknowledge (or cancel) many jobs",
        description:
          "Each job by the rules of DELETE /q/{queue}/{id}, with its own status in the results: one stale job never fails the others.",
        tags: ["batches"],
        parameters: [param("queue"), param("workerId"), param("workerIdQuery")],
        requestBody: jobsBody(leased, "the jobs and the attempts they were handed out with", {
          jobs: [
            { id: "7", attempt: 1 },
            { id: "8", attempt: 1 },
          ],
        }),
        responses: { 200: ok("each job's outcome, in order", schema("BatchResults")) },
        errors: { 400: batchErrors('{"id": "7", "attempt": 1}'), 403: [MAY_NOT_CANCEL], 413: [tooLarge], 503: [UNAVAILABLE] },
      },
    },

    "/qb/:queue/fail": {
      POST: {
        operationId: "failBatch",
        summary: "Report the failure of many leased jobs",
        description: "Each job by the rules of PUT /q/{queue}/{id}, with its own status in the results.",
        tags: ["batches"],
        parameters: [param("queue"), param("workerId"), param("workerIdQuery")],
        requestBody: jobsBody(
          { ...leased, properties: { ...(leased.properties as Json), ...failure } },
          "the jobs, their attempts and errors",
          {
            jobs: [
              { id: "7", attempt: 1, error: "smtp timeout" },
              { id: "9", attempt: 1 },
            ],
          },
        ),
        responses: {
          200: ok("each job's outcome, in order", schema("BatchResults"), {
            results: {
              results: [
                { id: "7", status: 200, state: "delayed", due_at: 1795433494.5 },
                { id: "9", status: 404, error: "no such job" },
              ],
            },
          }),
        },
        errors: {
          400: [...batchErrors('{"id": "7", "attempt": 1, "error": "..."}'), seconds("jobs[0].retry_in", maxRetryIn)],
          413: [tooLarge],
          503: [UNAVAILABLE],
        },
      },
    },

    "/j/:queue": {
      GET: {
        operationId: "queueStats",
        summary: "A queue's figures",
        tags: ["queues"],
        parameters: [param("queue")],
        responses: { 200: ok("the figures", schema("QueueFigures")) },
        errors: { 400: [QUEUE], 503: [UNAVAILABLE] },
      },
    },

    "/status/": {
      GET: {
        operationId: "queues",
        summary: "The queues, by name",
        description: "Also served as /status. size counts every queue; queues is one page of their names.",
        tags: ["queues"],
        parameters: [
          param("offset"),
          query("limit", "at most this many names", { type: "integer", minimum: 1, maximum: 10_000, default: 10_000 }),
        ],
        responses: {
          200: ok(
            "a page of names",
            object({ queues: { type: "array", items: schema("QueueName") }, size: { type: "integer", minimum: 0 } }),
            {
              queues: { queues: ["emails", "sms"], size: 2 },
            },
          ),
        },
        errors: {
          400: ["offset must be an integer from 0 to 9007199254740991", "limit must be an integer from 1 to 10000"],
          503: [UNAVAILABLE],
        },
      },
    },

    "/status/:queue": {
      GET: {
        operationId: "peek",
        summary: "A queue's size, and its waiting jobs",
        description: "with_desc lists at most about 4 MB of payload (always at least one job); truncated says the list stopped there.",
        tags: ["queues"],
        parameters: [
          param("queue"),
          query("with_desc", "1 or true: add the waiting jobs, in delivery order", { enum: ["0", "1", "true", "false"] }),
          query("limit", "with with_desc: at most this many jobs", { type: "integer", minimum: 1, maximum: 10_000, default: 100 }),
        ],
        responses: {
          200: ok(
            "the ready jobs' count",
            object(
              {
                queue: schema("QueueName"),
                size: { type: "integer", minimum: 0 },
                truncated: truncated("limit"),
                jobs: { type: "array", items: schema("Job") },
              },
              ["jobs", "truncated"],
            ),
            {
              size: { queue: "emails", size: 3 },
              withDesc: { queue: "emails", size: 1, jobs: [{ to: "a" }] },
              truncated: { queue: "emails", size: 900, truncated: true, jobs: [{ to: "a" }] },
            },
          ),
        },
        errors: { 400: [QUEUE, "with_desc must be 1 or 0", "limit must be an integer from 1 to 10000"], 503: [UNAVAILABLE] },
      },
    },

    "/control/:queue": {
      GET: {
        operationId: "control",
        summary: "Whether a queue is open, and its settings",
        tags: ["queues"],
        parameters: [param("queue")],
        responses: { 200: ok("open (1) or stopped (0), and the settings in force", schema("Control")) },
        errors: { 400: [QUEUE], 503: [UNAVAILABLE] },
      },
      POST: {
        operationId: "configure",
        summary: "Stop or start a queue, or change its settings",
        description:
          "The body is read as JSON whatever its Content-Type. null restores a setting's default. A stopped queue still takes jobs but hands none out.",
        tags: ["queues"],
        parameters: [param("queue")],
        requestBody: {
          required: true,
          content: json(
            {
              type: "object",
              minProperties: 1,
              additionalProperties: false,
              properties: {
                status: { enum: ["stop", "start"] },
                lease: { type: ["integer", "null"], minimum: 0, maximum: l.jobs.max_lease },
                ...Object.fromEntries(
                  Object.entries(QUEUE_SETTING_RANGES).map(([name, [minimum, maximum]]) => [
                    name,
                    { type: ["integer", "null"], minimum, maximum },
                  ]),
                ),
                rate: { type: ["number", "null"], minimum: LIMIT_RANGES.rate[0], maximum: LIMIT_RANGES.rate[1] },
                ...Object.fromEntries(
                  (["burst", "concurrency", "expires_in"] as const).map((name) => [
                    name,
                    { type: ["integer", "null"], minimum: LIMIT_RANGES[name][0], maximum: LIMIT_RANGES[name][1] },
                  ]),
                ),
              },
            },
            {
              stop: { status: "stop" },
              settings: { lease: 30, max_attempts: 10, max_length: 10000 },
              limits: { rate: 100, burst: 20, concurrency: 5 },
              noLimit: { rate: null, burst: null, concurrency: null },
              deadline: { expires_in: 300 },
            },
          ),
        },
        responses: {
          200: ok("changed", object({ response: { const: "updated" }, queue: schema("QueueName") }), {
            updated: { response: "updated", queue: "emails" },
          }),
        },
        errors: {
          400: [
            QUEUE,
            "body is missing",
            "body must be a JSON object",
            TOO_DEEP("body"),
            'status must be "stop" or "start"',
            `unknown control key colour: use status, lease, ${[...Object.keys(QUEUE_SETTING_RANGES), ...Object.keys(LIMIT_RANGES)].join(", ")}`,
            "max_length must be a number (or null for the default)",
            `rate must be a number of jobs per second from ${LIMIT_RANGES.rate[0]} to ${LIMIT_RANGES.rate[1]} (or null for no limit)`,
            "concurrency must be a number (or null for no limit)",
            `burst must be an integer from ${LIMIT_RANGES.burst[0]} to ${LIMIT_RANGES.burst[1]}`,
            "max_attempts must be an integer from 1 to 1000",
            'give {"status": "stop"} or {"status": "start"}, or a queue setting',
          ],
          413: [tooLarge],
          503: [UNAVAILABLE, OUT_OF_MEMORY],
        },
      },
    },

    "/stats/": {
      GET: {
        operationId: "stats",
        summary: "One page of queues with their figures, Redis, workers and presque processes",
        description: "Also served as /stats. By name (A to Z) or by size (largest first); order=asc or desc reverses either.",
        tags: ["queues"],
        parameters: [
          query("sort", "by name or by size (ready jobs)", { enum: ["name", "size"], default: "name" }),
          query("order", "default: asc by name, desc by size", { enum: ["asc", "desc"] }),
          param("offset"),
          query("limit", "queues per page", { type: "integer", minimum: 1, maximum: 1000, default: 100 }),
        ],
        responses: { 200: ok("the page", schema("Stats")) },
        errors: {
          400: ["sort must be name or size", "order must be asc or desc", "limit must be an integer from 1 to 1000"],
          503: [UNAVAILABLE],
        },
      },
    },

    "/dead/:queue": {
      GET: {
        operationId: "dead",
        summary: "The dead list, a page at a time",
        description:
          "A page holds at most about 4 MB of payload (always at least one job): truncated says it stopped there, and the next " +
          "page starts at offset + the jobs it holds.",
        tags: ["dead"],
        parameters: [
          param("queue"),
          param("offset"),
          query("limit", "jobs per page", { type: "integer", minimum: 1, maximum: 1000, default: 100 }),
        ],
        responses: {
          200: ok(
            "a page of dead jobs, with their last errors",
            object(
              {
                queue: schema("QueueName"),
                total: { type: "integer", minimum: 0 },
                offset: { type: "integer", minimum: 0 },
                limit: { type: "integer" },
                truncated: truncated("limit"),
                jobs: { type: "array", items: schema("JobView") },
              },
              ["truncated"],
            ),
          ),
        },
        errors: { 400: [QUEUE, "limit must be an integer from 1 to 1000"], 503: [UNAVAILABLE] },
      },
      DELETE: {
        operationId: "purgeDead",
        summary: "Empty the dead list",
        tags: ["dead"],
        parameters: [param("queue")],
        responses: {
          200: ok("how many were deleted", object({ queue: schema("QueueName"), deleted: { type: "integer", minimum: 0 } }), {
            purged: { queue: "emails", deleted: 3 },
          }),
        },
        errors: { 400: [QUEUE], 503: [UNAVAILABLE] },
      },
    },

    "/dead/:queue/:id/retry": {
      POST: {
        operationId: "retryDead",
        summary: "Retry a dead job: ready again at once",
        tags: ["dead"],
        parameters: [param("queue"), param("id")],
        responses: {
          200: ok("ready again", object({ id: schema("JobId"), state: { const: "ready" } }), { retried: { id: "7", state: "ready" } }),
        },
        errors: { 400: [QUEUE], 404: ["no such dead job", NO_SUCH_JOB], 503: [UNAVAILABLE, OUT_OF_MEMORY] },
      },
    },

    "/dead/:queue/retry": deadBulk("retry", tooLarge),
    "/dead/:queue/delete": deadBulk("delete", tooLarge),

    "/search/:queue": {
      GET: {
        operationId: "search",
        summary: "Search the ready and delayed jobs for a text in their payload, a bounded step at a time",
        description:
          "Each call looks at about `count` jobs (an HSCAN step of the queue's jobs) and answers the matches among them with a " +
          'cursor: call again with it until done (cursor "0"), or stop. Leased and dead jobs are not searched. A small queue ' +
          `(kept by Redis as a listpack) comes whole in one step. Past ${SEARCH_BUDGET} bytes of payloads in one answer, ` +
          'further matches come with "payload": null (GET /q/{queue}/{id} has them).',
        tags: ["queues"],
        parameters: [
          param("queue"),
          { ...query("q", "the text to find (plain, case-sensitive)", { type: "string", minLength: 1, maxLength: 1024 }), required: true },
          query("cursor", "the cursor the step before answered", { type: "string", pattern: "^[0-9]{1,20}$", default: "0" }),
          query("count", "about this many jobs looked at", { type: "integer", minimum: 1, maximum: 1000, default: 200 }),
        ],
        responses: {
          200: ok(
            "the matches of this step",
            object({
              queue: schema("QueueName"),
              q: { type: "string" },
              cursor: { type: "string", pattern: "^[0-9]{1,20}$", description: 'give it back for the next step; "0": done' },
              done: { type: "boolean", description: 'cursor is "0": there is no next step' },
              scanned: { type: "integer", minimum: 0, description: "the jobs this step looked at" },
              jobs: { type: "array", items: schema("SearchMatch") },
            }),
            {
              step: {
                queue: "mail",
                q: "alice@example.com",
                cursor: "448",
                done: false,
                scanned: 200,
                jobs: [
                  { id: "17", state: "ready", payload: '{"to":"alice@example.com"}' },
                  { id: "90", state: "delayed", due_at: 1764771234.5, payload: null },
                ],
              },
              done: { queue: "mail", q: "bob", cursor: "0", done: true, scanned: 3, jobs: [] },
            },
          ),
        },
        errors: {
          400: [
            QUEUE,
            "q (the text to find in the payloads) is missing",
            "q must be at most 1024 characters",
            "q is given more than once",
            "cursor must be the cursor a previous step answered",
            "count must be an integer from 1 to 1000",
          ],
          503: [UNAVAILABLE],
        },
      },
    },

    "/metrics": {
      GET: {
        operationId: "metrics",
        summary: "Prometheus metrics",
        description:
          "The Prometheus text format 0.0.4 (prom-client). Per queue, the same from every process (kept in Redis by the scripts): " +
          "presque_jobs_pushed_total, _delivered_total, _acked_total, _failed_total{reason}, _dead_total, presque_job_run_seconds, " +
          "presque_queue_jobs{state}, presque_queue_oldest_ready_age_seconds, presque_queue_stopped, presque_queue_workers. " +
          "Per process: presque_http_request_duration_seconds{route,method,code}, presque_redis_script_duration_seconds{script}, " +
          "presque_long_poll_waiters, presque_build_info, and prom-client's process_* and nodejs_*. No label carries a job id, " +
          "a worker id, a token or an error text.",
        tags: ["metrics"],
        parameters: [
          query("queue", "only the queues whose name matches this glob (* any run of characters, ? one); the process's own metrics stay", {
            type: "string",
            pattern: "^[A-Za-z0-9_.:*?-]{1,256}$",
          }),
        ],
        responses: {
          200: {
            description: "the metrics",
            content: {
              "text/plain; version=0.0.4": {
                schema: { type: "string" },
                examples: {
                  scrape: {
                    value:
                      "# HELP presque_jobs_pushed_total Jobs stored by pushes (and by PUT /q, which stores a failed job again)\n" +
                      "# TYPE presque_jobs_pushed_total counter\n" +
                      'presque_jobs_pushed_total{queue="emails"} 42\n',
                  },
                },
              },
            },
          },
        },
        errors: { 400: ["queue must be a queue-name glob (A-Z a-z 0-9 _ - . : * ?)", "queue is given more than once"], 503: [UNAVAILABLE] },
      },
    },

    "/events/:queue": {
      GET: {
        operationId: "jobEvents",
        summary: "A queue's job events (server-sent events)",
        description:
          'First `subscribed` (data {"queue": ...}) once the server listens: anything after it is heard. Then, as they happen: ' +
          "`pushed` (attempt 0), `delivered`, `acked`, `removed` (a waiting job cancelled), `failed` (reason error or " +
          'lease_expired) and `dead`, each with data {"id", "attempt"[, "reason"]} (the JobEvent schema): no payloads, no ' +
          "error texts. A watcher that does not read (more than 256 KiB waiting in its socket) is not written to, and gets " +
          '`missed` (data {"missed": N}) once it drains. A comment `: keep-alive` every 15 s. Delivery is at most once ' +
          "(Redis pub/sub): nothing replays what happened before the watcher connected or while presque reconnects to Redis.",
        tags: ["metrics"],
        parameters: [param("queue")],
        responses: {
          200: {
            description: "the stream: it ends when the client goes away or the server closes",
            headers: {
              "Cache-Control": header("Cache-Control"),
              "X-Accel-Buffering": header("X-Accel-Buffering"),
            },
            content: {
              "text/event-stream": {
                schema: { type: "string" },
                examples: {
                  stream: {
                    value:
                      'event: subscribed\ndata: {"queue":"emails"}\n\nevent: pushed\ndata: {"id":"41","attempt":0}\n\n' +
                      'event: failed\ndata: {"id":"41","attempt":1,"reason":"error"}\n\n: keep-alive\n\n',
                  },
                },
              },
            },
          },
        },
        errors: { 400: [QUEUE], 503: [UNAVAILABLE, "shutting down"] },
      },
    },

    "/events": {
      GET: {
        operationId: "events",
        summary: "The dashboard's live feed (server-sent events)",
        description:
          "First `retry: 2000`, then an `overview` event (its data: the Overview schema) with the whole state of the view at once " +
          `and at every tick (every ${TICK_MS / 1000} s), read once per process for every page showing the same view. ` +
          'When a reading fails, the event is `problem` with data {"error": "..."}, and the stream goes on. ' +
          "A page that reads slower than the ticks skips readings. A token kept to some queues sees only those queues of a " +
          `reading, and the workers on them. A process reads at most ${MAX_VIEWS} views and serves at most ${MAX_LISTENERS} ` +
          "pages at once (503 past either). The token goes in the Authorization header: ?token= is not read.",
        tags: ["dashboard"],
        parameters: [
          query("prefix", "the queues whose name starts with this (empty: all)", { type: "string", pattern: "^[A-Za-z0-9_.:-]{0,128}$" }),
          query("offset", "queues to skip", { type: "integer", minimum: 0, maximum: 1_000_000, default: 0 }),
          query("limit", "queues per page", { type: "integer", minimum: 1, maximum: MAX_PAGE, default: 25 }),
        ],
        responses: {
          200: {
            description: "the stream: it ends when the client goes away or the server closes",
            headers: {
              "Cache-Control": header("Cache-Control"),
              "X-Accel-Buffering": header("X-Accel-Buffering"),
            },
            content: {
              "text/event-stream": {
                schema: { type: "string" },
                examples: {
                  stream: {
                    value:
                      "retry: 2000\n\nevent: overview\ndata: " +
                      JSON.stringify({
                        at: 1764770000000,
                        view: { prefix: "", offset: 0, limit: 25 },
                        total: 0,
                        queues: [],
                        workers: { total: 0, shown: [] },
                        redis: { target: "redis://127.0.0.1:6379/0", version: "7.2.4", embedded: false },
                      }) +
                      "\n\n",
                  },
                },
              },
            },
          },
        },
        errors: {
          400: [
            "prefix must be the start of a queue name (A-Z a-z 0-9 _ - . :)",
            "offset must be an integer from 0 to 1000000",
            `limit must be an integer from 1 to ${MAX_PAGE}`,
            "prefix is given more than once",
          ],
          503: [`this process serves ${MAX_LISTENERS} live pages already`, `this process reads ${MAX_VIEWS} different views already`],
        },
      },
    },

    "/whoami": {
      GET: {
        operationId: "whoami",
        summary: "What the token may do",
        description: "So that the dashboard shows only the actions its roles allow. With no tokens configured: every role, every queue.",
        tags: ["dashboard"],
        responses: {
          200: ok(
            "the token's roles and queue globs",
            {
              oneOf: [
                object({ tokens: { const: true }, id: { type: "string" }, roles, queues: globs, deny: globs }),
                object({ tokens: { const: false }, roles, queues: { const: ["*"] }, deny: { const: [] } }),
              ],
            },
            {
              token: { tokens: true, id: "ops", roles: ["monitor", "admin"], queues: ["*"], deny: [] },
              kept: { tokens: true, id: "mon", roles: ["monitor"], queues: ["a-*"], deny: ["a-secret"] },
              noTokens: { tokens: false, roles: [...ROLES], queues: ["*"], deny: [] },
            },
          ),
        },
        errors: {},
      },
    },

    "/dashboard/app.js": asset("dashboardScript", "The dashboard's script", "text/javascript", "Holds no data."),
    "/dashboard/app.css": asset("dashboardStyle", "The dashboard's style sheet", "text/css", "Holds no data."),

    "/w/": {
      GET: {
        operationId: "workers",
        summary: "The registered workers, one worker, or the workers of one queue",
        description:
          "Also served as /w. ?queue_name= describes a queue's workers, ?worker_id= one worker; without either, the list of workers.",
        tags: ["workers"],
        parameters: [
          query("queue_name", "the workers of this queue, with its figures", schema("QueueName")),
          query("worker_id", "this worker", { type: "string" }),
          query("limit", "without queue_name or worker_id: at most this many workers", { type: "integer", minimum: 1, maximum: 10_000 }),
        ],
        responses: {
          200: ok(
            "the list, the worker or the queue",
            { oneOf: [{ type: "array", items: { type: "string" } }, schema("Worker"), schema("QueueWorkers")] },
            {
              list: ["myworker_1"],
              worker: { worker_id: "myworker_1", started_at: 1795433493, queues: ["foo"], processed: 0, failed: 0 },
              queue: { queue_name: "foo", workers_list: ["myworker_1"], processed: 12, failed: 1 },
            },
          ),
        },
        errors: {
          400: [QUEUE, "limit must be an integer from 1 to 10000", "queue_name is given more than once"],
          404: ["unknown worker"],
          503: [UNAVAILABLE],
        },
      },
    },

    "/w/:queue": {
      POST: {
        operationId: "register",
        summary: "Register a worker on a queue (for its figures)",
        description: "The id comes from X-presque-workerid, ?worker_id= or the body, whatever its Content-Type.",
        tags: ["workers"],
        parameters: [param("queue"), param("workerId"), param("workerIdQuery")],
        requestBody: {
          required: false,
          content: json(object({ worker_id: { type: ["string", "null"], maxLength: 256 } }, ["worker_id"], ignoringOthers), {
            register: { worker_id: "myworker_1" },
          }),
        },
        responses: {
          201: ok("registered", object({ worker_id: { type: "string" }, queue: schema("QueueName") }), {
            registered: { worker_id: "myworker_1", queue: "foo" },
          }),
        },
        errors: {
          400: [
            QUEUE,
            "worker_id is missing",
            'body must be a JSON object such as {"worker_id": "..."}',
            TOO_DEEP("body"),
            "worker_id must be a string of at most 256 characters",
            "worker_id is longer than 256 characters",
          ],
          413: [tooLarge],
          503: [UNAVAILABLE, OUT_OF_MEMORY],
        },
      },
      DELETE: {
        operationId: "unregister",
        summary: "Unregister a worker from a queue",
        tags: ["workers"],
        parameters: [param("queue"), param("workerId"), param("workerIdQuery")],
        responses: { 204: noContent("unregistered (also when it was not registered)") },
        errors: { 400: [QUEUE, "worker_id is missing", "worker_id is longer than 256 characters"], 503: [UNAVAILABLE] },
      },
    },

    "/schedules/": {
      GET: {
        operationId: "schedules",
        summary: "Every schedule of every queue",
        description: "Also served as /schedules. At most the first 1000 queues that have schedules, by name.",
        tags: ["schedules"],
        responses: {
          200: ok("the schedules, by queue and name", object({ schedules: { type: "array", items: schema("Schedule") } }), {
            schedules: {
              schedules: [
                {
                  queue: "pings",
                  name: "heartbeat",
                  every: 60,
                  job: { ping: true },
                  next_run_at: 1796308460,
                  last_run_at: 1796308400,
                  last_job_id: "41",
                },
              ],
            },
          }),
        },
        errors: { 503: [UNAVAILABLE] },
      },
    },

    "/schedules/:queue": {
      GET: {
        operationId: "queueSchedules",
        summary: "A queue's schedules",
        tags: ["schedules"],
        parameters: [param("queue")],
        responses: {
          200: ok(
            "its schedules, by name",
            object({ queue: schema("QueueName"), schedules: { type: "array", items: schema("Schedule") } }),
            {
              none: { queue: "reports", schedules: [] },
            },
          ),
        },
        errors: { 400: [QUEUE], 503: [UNAVAILABLE] },
      },
    },

    "/schedules/:queue/:name": {
      GET: {
        operationId: "schedule",
        summary: "One schedule, with its next and last runs",
        tags: ["schedules"],
        parameters: [param("queue"), param("scheduleName")],
        responses: { 200: ok("the schedule", schema("Schedule")) },
        errors: { 400: [QUEUE, SCHEDULE_NAME], 404: [NO_SUCH_SCHEDULE], 503: [UNAVAILABLE] },
      },
      PUT: {
        operationId: "setSchedule",
        summary: "Create or replace a schedule",
        description:
          "Each tick enqueues the job as POST /q/{queue} would (with the queue's expires_in), exactly once whatever the number " +
          "of presque processes; ticks missed while no presque ran give one catch-up job. The same definition again changes " +
          "nothing (its next run stays); another one computes the next run afresh. The body is read as JSON whatever its Content-Type.",
        tags: ["schedules"],
        parameters: [param("queue"), param("scheduleName")],
        requestBody: {
          required: true,
          content: json(schema("ScheduleSpec"), {
            cron: { cron: "*/5 * * * *", tz: "Europe/Paris", job: { kind: "digest" }, priority: 5, max_attempts: 3 },
            every: { every: 60, job: { ping: true } },
          }),
        },
        responses: {
          201: ok("created", schema("SavedSchedule")),
          200: ok("replaced (outcome updated) or found unchanged (outcome unchanged)", schema("SavedSchedule"), {
            unchanged: {
              queue: "pings",
              name: "heartbeat",
              every: 60,
              job: { ping: true },
              next_run_at: 1796308460,
              last_run_at: 1796308400,
              last_job_id: "41",
              outcome: "unchanged",
            },
          }),
        },
        errors: {
          400: [
            QUEUE,
            SCHEDULE_NAME,
            "body is missing",
            "body is not valid JSON: Unexpected end of JSON input",
            "body must be a JSON object",
            TOO_DEEP("body"),
            CUT_SHORT,
            "unknown schedule key colour: use cron, tz, every, job, priority, max_attempts",
            "give cron (an expression) or every (seconds), one of them",
            "job must be a JSON object",
            "cron must be a cron expression such as */5 * * * *",
            "tz must be a time zone such as Europe/Paris",
            'cron "every day" is not a valid cron expression: CronPattern: invalid configuration format',
            'cron "0 0 30 2 *" never runs',
            "tz Mars/Olympus is not a time zone this server knows (e.g. Europe/Paris)",
            "tz applies to cron schedules only",
            `every must be a whole number of seconds from ${MIN_EVERY} to ${MAX_EVERY}`,
            `priority must be an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`,
            "max_attempts must be an integer from 1 to 1000",
          ],
          413: [tooLarge],
          503: [UNAVAILABLE, OUT_OF_MEMORY],
        },
      },
      DELETE: {
        operationId: "deleteSchedule",
        summary: "Delete a schedule",
        description: "The jobs it already enqueued stay.",
        tags: ["schedules"],
        parameters: [param("queue"), param("scheduleName")],
        responses: { 204: noContent("deleted") },
        errors: { 400: [QUEUE, SCHEDULE_NAME], 404: [NO_SUCH_SCHEDULE], 503: [UNAVAILABLE] },
      },
    },

    "/": {
      GET: {
        operationId: "dashboard",
        summary: "The dashboard page (HTML)",
        description:
          "Holds no data: it loads /dashboard/app.js and /dashboard/app.css, draws itself from /events and the routes of its " +
          "actions, and asks for a token when they answer 401.",
        tags: ["dashboard"],
        responses: (asset("dashboard", "", "text/html", "").GET as Operation).responses,
        errors: {},
      },
    },

    "/openapi.json": {
      GET: {
        operationId: "openapi",
        summary: "This document",
        description: "OpenAPI 3.1, with the limits of the server that serves it. Holds no data: no token is needed.",
        tags: ["meta"],
        responses: { 200: ok("the document", { type: "object", required: ["openapi", "info", "paths"] }) },
        errors: {},
      },
    },
  };
}
