// What a fetch that got no job answers when a queue's limits held it back (issue 20).
import { HttpError } from "../../shared/errors.js";
import type { PopResult } from "../../store/store.js";

/** 404 "no job", or 404 "rate limited" with Retry-After (whole seconds, at least 1) when the
 *  queue's rate allowed none; a queue at its concurrency limit has, for this fetch, no job. */
export function noJob(taken: PopResult): HttpError {
  if (taken.rateLimitedUntilMs === undefined) return new HttpError(404, "no job");
  const seconds = Math.max(1, Math.ceil((taken.rateLimitedUntilMs - Date.now()) / 1000));
  return new HttpError(404, "rate limited", { "retry-after": String(seconds) });
}
