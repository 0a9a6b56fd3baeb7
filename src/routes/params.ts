// Query parameters shared by the single-job and batch routes.
import type { Config } from "../config.js";
import { badRequest } from "../errors.js";
import { epochParam, intParam, secondsParam, stringParam, type Query, type Req } from "../http.js";
import type { PushOptions } from "../store.js";

export const MAX_PRIORITY = 1_000_000;

/** ?delayed=<epoch seconds> or ?delay=<seconds>, ?priority=, ?max_attempts= and, for one job, ?uniq= */
export function pushOptions(query: Query, allowUniq: boolean): PushOptions {
  const delayed = epochParam(query, "delayed");
  const delay = secondsParam(query, "delay", 365 * 86400);
  if (delayed !== undefined && delay !== undefined) throw badRequest("give delayed (epoch seconds) or delay (seconds), not both");
  const uniq = stringParam(query, "uniq");
  if (uniq !== undefined && !allowUniq) throw badRequest("uniq applies to single jobs (POST /q) only");
  if (uniq !== undefined && uniq.length > 256) throw badRequest("uniq must be at most 256 characters");
  return {
    dueMs: delayed !== undefined ? Math.round(delayed * 1000) : delay !== undefined ? Date.now() + Math.round(delay * 1000) : 0,
    priority: intParam(query, "priority", -MAX_PRIORITY, MAX_PRIORITY, 0),
    maxAttempts: intParam(query, "max_attempts", 1, 1000),
    uniq,
  };
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
