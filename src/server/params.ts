// Every reader of a request's query parameters and headers, with the checks that turn bad values
// into a 400 naming the parameter.
import type { Config } from "./config.js";
import { badRequest, HttpError } from "../shared/errors.js";
import type { Query, Req } from "./http.js";
import { isQueueName } from "../store/keys.js";
import type { PushOptions } from "../store/store.js";

export function queueParam(req: Req): string {
  const name = req.params.queue;
  if (name === undefined || !isQueueName(name)) throw badRequest("invalid queue name");
  return name;
}

/** Job ids are whole numbers per queue, counted from 1. */
export const JOB_ID = /^[1-9][0-9]{0,15}$/;

export function jobIdParam(req: Req): string {
  const id = req.params.id;
  if (!JOB_ID.test(id ?? "")) throw new HttpError(404, "no such job");
  return id;
}

function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw badRequest(`${name} is given more than once`);
  return v;
}

export function stringParam(query: Query, name: string): string | undefined {
  const v = single(query, name);
  return v === "" ? undefined : v;
}

export function intParam(query: Query, name: string, min: number, max: number): number | undefined;
export function intParam(query: Query, name: string, min: number, max: number, fallback: number): number;
export function intParam(query: Query, name: string, min: number, max: number, fallback?: number): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return fallback;
  return checkInt(raw, name, min, max);
}

export function checkInt(raw: unknown, name: string, min: number, max: number): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** A point in time, in epoch seconds (fractions allowed), as presque's `delayed` takes it. */
export function epochParam(query: Query, name: string): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n > 1e11) throw badRequest(`${name} must be a time in epoch seconds`);
  return n;
}

/** The worker named by the X-presque-workerid header (or, as presque's clients also did, ?worker_id=). */
export function workerId(req: Req): string {
  const header = req.headers["x-presque-workerid"];
  const id = (Array.isArray(header) ? header[0] : header) ?? single(req.query, "worker_id") ?? "";
  if (id.length > 256) throw badRequest("worker_id is longer than 256 characters");
  return id;
}

/** A non-negative number of seconds (fractions allowed) no larger than max. */
export function secondsParam(query: Query, name: string, max: number): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  return checkSeconds(raw, name, max);
}

export function checkSeconds(raw: unknown, name: string, max: number): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > max) throw badRequest(`${name} must be a number of seconds from 0 to ${max}`);
  return n;
}

export const MAX_PRIORITY = 1_000_000;

/** ?delayed=<epoch seconds> or ?delay=<seconds>, ?priority=, ?max_attempts= and, for one job, ?uniq= */
export function pushOptions(query: Query, allowUniq: boolean): PushOptions {
  const delayed = epochParam(query, "delayed");
  const delay = secondsParam(query, "delay", 365 * 86400);
  if (delayed !== undefined && delay !== undefined) throw badRequest("give delayed (epoch seconds) or delay (seconds), not both");
  const uniq = stringParam(query, "uniq");
  if (uniq !== undefined && !allowUniq) throw badRequest("uniq applies to single jobs (POST /q) only");
  if (uniq !== undefined && uniq.length > 256) throw badRequest("uniq must be at most 256 characters");
  const dueMs = delayed !== undefined ? Math.round(delayed * 1000) : delay !== undefined ? Date.now() + Math.round(delay * 1000) : 0;
  const expiresAtMs = deadlineOf(query, dueMs);
  const options: PushOptions = {
    dueMs,
    priority: intParam(query, "priority", -MAX_PRIORITY, MAX_PRIORITY, 0),
    maxAttempts: intParam(query, "max_attempts", 1, 1000),
    uniq,
  };
  // assigned, not spread in: every POST /q passes here
  if (expiresAtMs !== undefined) options.expiresAtMs = expiresAtMs;
  return options;
}

/** ?expires_in=<seconds> or ?expires_at=<epoch seconds>: a job not handed out by then is never
 *  handed out (it goes to the dead list, "expired"). It must come after the job is due. */
function deadlineOf(query: Query, dueMs: number): number | undefined {
  const at = epochParam(query, "expires_at");
  const within = secondsParam(query, "expires_in", 365 * 86400);
  if (at !== undefined && within !== undefined) throw badRequest("give expires_at (epoch seconds) or expires_in (seconds), not both");
  if (at === undefined && within === undefined) return undefined;
  const now = Date.now();
  const ms = at !== undefined ? Math.round(at * 1000) : now + Math.round(within! * 1000);
  if (ms <= now) throw badRequest(at !== undefined ? "expires_at is in the past" : "expires_in must be more than 0");
  if (dueMs > 0 && ms <= dueMs) throw badRequest("the job would expire before it is due: expires_at must come after delayed or delay");
  return ms;
}

/** ?lease=<seconds> (0: delete on fetch, whatever the queue's default) and ?wait=<seconds> */
export function takeOptions(query: Query, config: Config) {
  return {
    lease: secondsParam(query, "lease", config.jobs.max_lease),
    wait: secondsParam(query, "wait", config.server.max_wait) ?? 0,
  };
}

/** The attempt a worker was handed, its proof that it still holds the lease. */
export function attemptOf(req: Req): number | undefined {
  const header = req.headers["x-presque-attempt"];
  const raw = (Array.isArray(header) ? header[0] : header) ?? stringParam(req.query, "attempt");
  if (raw === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(raw)) throw badRequest("attempt must be a positive integer");
  return Number(raw);
}
