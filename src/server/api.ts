// The shapes of the API's JSON answers, in one place: the Store speaks in its own terms (src/store/store.ts),
// and these turn them into the names presque's clients read.
import { scriptErrorStatus } from "../shared/errors.js";
import type { BatchOutcome, FailedState, JobView, QueueState } from "../store/store.js";

/** GET /q/:queue/:id and the entries of GET /dead/:queue, as JSON text: the job's stored bytes go
 *  in as they are, never parsed again (they were checked JSON when pushed, and a payload stored by
 *  an older build may be nested too deeply for JSON.parse or JSON.stringify). */
export function jobBody(queue: string, job: JobView): string {
  return withRaw(jobFields(queue, job), "job", job.payload);
}

/** `fields` as JSON with one more member `name` whose value is the JSON text `raw`. */
export function withRaw(fields: object, name: string, raw: Buffer | string): string {
  const head = JSON.stringify(fields);
  const sep = head === "{}" ? "" : ",";
  // a job whose body is gone (deleted between two reads of a page) shows as null
  return `${head.slice(0, -1)}${sep}${JSON.stringify(name)}:${raw.length === 0 ? "null" : raw.toString()}}`;
}

/** JSON texts as one JSON array. */
export function rawArray(items: Array<Buffer | string>): string {
  return `[${items.map((i) => i.toString()).join(",")}]`;
}

function jobFields(queue: string, job: JobView) {
  const at = job.atMs === null ? undefined : job.atMs / 1000;
  return {
    id: job.id,
    queue,
    state: job.state,
    attempts: job.attempts,
    priority: job.priority,
    ...(job.maxAttempts !== undefined && { max_attempts: job.maxAttempts }),
    ...(job.lastError !== undefined && { last_error: job.lastError }),
    ...(job.state === "delayed" && { due_at: at }),
    ...(job.state === "leased" && { lease_expires_at: at }),
    ...(job.state === "dead" && { died_at: at }),
  };
}

/** GET /j/:queue, presque's figures of a queue. */
export function queueFigures(queue: string, s: QueueState) {
  return {
    queue_name: queue,
    job_count: s.waiting + s.prioritized,
    job_prioritized: s.prioritized,
    job_delayed: s.delayed,
    job_leased: s.leased,
    job_dead: s.dead,
    job_processed: s.processed,
    job_failed: s.failed,
  };
}

/** One queue in GET /stats/: its figures, whether it is open, and its lease. */
export function statsEntry(queue: string, s: QueueState) {
  return { ...queueFigures(queue, s), status: s.open ? 1 : 0, lease: s.settings.lease };
}

/** GET /control/:queue. */
export function controlBody(queue: string, s: QueueState) {
  return { queue, status: s.open ? 1 : 0, ...s.settings };
}

/** PUT /q/:queue/:id: where the failed job went (ready: handed back with retry_in 0). */
export function failedBody(id: string, state: FailedState, atMs: number) {
  if (state === "ready") return { id, state };
  return { id, state, ...(state === "delayed" ? { due_at: atMs / 1000 } : { died_at: atMs / 1000 }) };
}

/** One entry of POST /qb/:queue/ack or /fail: the job's own status, as its single route answers. */
export function batchResult(outcome: BatchOutcome<"acked" | "cancelled" | FailedState>) {
  if ("code" in outcome) return { id: outcome.id, status: scriptErrorStatus(outcome.code) ?? 500, error: outcome.message };
  if (outcome.state === "acked" || outcome.state === "cancelled") return { id: outcome.id, status: 204, state: outcome.state };
  return { status: 200, ...failedBody(outcome.id, outcome.state, outcome.atMs!) };
}
