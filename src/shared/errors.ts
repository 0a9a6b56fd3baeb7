// One place that turns every failure into a status code and a JSON body {"error": "..."}.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, message);

/** A push that Redis did not confirm: it was sent, and may or may not have been stored. */
export class UnconfirmedPush extends HttpError {
  constructor() {
    super(503, "redis did not confirm the push in time: the job may have been stored", { "retry-after": "1" });
  }
}

/** Lua scripts fail with redis.error_reply("<CODE> <message>"); the code picks the status. */
const SCRIPT_ERRORS: Record<string, number> = {
  STOPPED: 404, // presque answers a stopped queue like an empty one: 404 "queue is closed"
  EXISTS: 400, // presque's uniq: 400 "job already exists"
  NOTFOUND: 404,
  CONFLICT: 409,
  FULL: 429, // the queue's max_length
  TOOLARGE: 413, // the queue's max_payload
  MISMATCH: 422, // an Idempotency-Key used again for another request
  KEYSFULL: 429, // the queue's max_idempotency_keys: "KEYSFULL <seconds until one expires> <message>"
};

/** common.lua's checkAttempt says "the job was handed out again (attempt N)" for a late ack, failure
 *  report or extension: every script includes that file, so the wording that names both attempts is
 *  put together here, where the attempt the worker gave is known. */
const HANDED_OUT_AGAIN = /^(CONFLICT )?the job was handed out again \(attempt (\d+)\)$/;

export function restateStaleAttempt(message: string, given: number | undefined): string {
  const m = HANDED_OUT_AGAIN.exec(message);
  if (!m || given === undefined) return message;
  return `${m[1] ?? ""}attempt ${given} does not match: the job is on attempt ${m[2]}`;
}

/** restateStaleAttempt on a script's refusal (a ReplyError), for the status mapping below. */
export function restateStaleAttemptError(err: unknown, given: number | undefined): never {
  if (err instanceof Error && isReplyError(err)) err.message = restateStaleAttempt(err.message, given);
  throw err;
}
/** Refusals whose message starts with the seconds to wait, for Retry-After. */
const RETRY_AFTER_FIRST = new Set(["KEYSFULL"]);

/** Headers a refusal carries: when to try again. A full queue drains at the consumers' pace,
 *  which presque does not know; a second is a polite first retry. */
const SCRIPT_ERROR_HEADERS: Record<string, Record<string, string>> = { FULL: { "retry-after": "1" } };

/** The status a script's refusal code stands for; undefined for a code that is not a refusal. */
export const scriptErrorStatus = (code: string): number | undefined => SCRIPT_ERRORS[code];

// ioredis declares ReplyError as `any`, so instanceof cannot narrow: test the name.
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === "ReplyError";
}

export interface Classified {
  status: number;
  message: string;
  headers: Record<string, string>;
  /** true when the failure is ours (a bug), to be logged with its stack */
  bug: boolean;
  /** a condition of Redis worth one warning now and then, not one per request */
  notice?: string;
}

export function classify(err: unknown): Classified {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers, bug: false };
  if (err instanceof Error && isReplyError(err)) {
    const space = err.message.indexOf(" ");
    const status = SCRIPT_ERRORS[err.message.slice(0, space)];
    if (status && RETRY_AFTER_FIRST.has(err.message.slice(0, space))) {
      const [, seconds, message] = /^\S+ (\d+) (.*)$/s.exec(err.message) ?? [, "1", err.message.slice(space + 1)];
      return { status, message, headers: { "retry-after": seconds }, bug: false };
    }
    if (status)
      return {
        status,
        message: err.message.slice(space + 1),
        headers: SCRIPT_ERROR_HEADERS[err.message.slice(0, space)] ?? {},
        bug: false,
      };
    if (REDIS_BUSY.test(err.message)) return unavailable;
    if (OUT_OF_MEMORY.test(err.message)) return outOfMemory;
    return { status: 500, message: "internal error", headers: {}, bug: true };
  }
  if (isRedisUnavailable(err)) return unavailable;
  return { status: 500, message: "internal error", headers: {}, bug: true };
}

/** Redis at `maxmemory` with `noeviction` refuses writes until consumers drain it: nothing of the
 *  request was written (a script's first write fails, and with it the script), so the client may
 *  retry without a duplicate. The reply reads "OOM command not allowed when used memory >
 *  'maxmemory'." from a plain command, and the same followed by " script: <sha>, on
 *  @user_script:<line>." from inside a script (Redis 7.0). */
const OUT_OF_MEMORY = /\bOOM command not allowed\b/;
const outOfMemory: Classified = {
  status: 503,
  message: "redis is out of memory",
  headers: { "retry-after": "5" },
  bug: false,
  // one warning now and then (app.ts), not a line per refused request
  notice: "redis is out of memory: requests that write are refused with 503 until memory is freed",
};

const unavailable: Classified = { status: 503, message: "redis unavailable", headers: { "retry-after": "1" }, bug: false };

/** Redis replies that mean "not now" (loading its data, busy with a script, failing over).
 *  On a cluster: MOVED and ASK reach us only when the Cluster client gave up following them,
 *  READONLY when a write reached a master that had just become a replica. A script refused
 *  with any of these did not run at all, so a 503 (try again) is the truthful answer. */
const REDIS_BUSY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK)\b/;

/** What the ioredis Cluster client raises without a reply while the cluster is failing over or
 *  out of reach: redirections exhausted, no node ready, slots not known yet, client closing. */
const CLUSTER_UNAVAILABLE = new RegExp(
  "^(Too many Cluster redirections|Cluster isn't ready|Cluster is ended|None of startup nodes is available|" +
    "Failed to refresh slots cache|No subscriber for the cluster|Node is disconnected)",
);

/** Connection loss, a closed stream, a command timeout: what ioredis raises without a reply. */
function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (isReplyError(err)) return false;
  return (
    err.name === "MaxRetriesPerRequestError" ||
    err.name === "ClusterAllFailedError" ||
    CLUSTER_UNAVAILABLE.test(err.message) ||
    /Connection is closed|Stream isn't writeable|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/.test(err.message)
  );
}
