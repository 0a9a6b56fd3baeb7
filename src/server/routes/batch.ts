// /qb/:queue — many jobs in one request: push, fetch, and acknowledge or fail what was fetched.
import { batchResult } from "../api.js";
import { badRequest, HttpError } from "../../shared/errors.js";
import { closeSignal, isObject, MAX_JSON_DEPTH, parseJson, readBody, requireJsonType, sendJson, sendRaw, type Req } from "../http.js";
import { intParam, JOB_ID, pushOptions, queueParam, takeOptions, workerId } from "../params.js";
import type { Context, Router } from "../router.js";
import { noJob } from "./limits.js";
import { idempotencyOf, REPLAYED } from "../auth/idempotency.js";
import { failureReport, mayCancel } from "./jobs.js";

export function registerBatchRoutes(router: Router, ctx: Context): void {
  const { store, config } = ctx;

  /** The body's "jobs" array: present, not empty, within batch.max_push. */
  const jobsOf = async (req: Req, shape: string): Promise<unknown[]> => {
    requireJsonType(req);
    // {"jobs": [job, ...]}: two levels around each job
    const body = parseJson(await readBody(req, config.server.max_body), "body", MAX_JSON_DEPTH + 2);
    const jobs = isObject(body) ? body.jobs : undefined;
    if (!Array.isArray(jobs) || jobs.length === 0) throw badRequest(`body must be {"jobs": [${shape}, ...]} with at least one job`);
    if (jobs.length > config.batch.max_push) throw badRequest(`at most ${config.batch.max_push} jobs per batch`);
    return jobs;
  };

  router.route("/qb/:queue", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const opts = pushOptions(req.query, false);
      const payloads = (await jobsOf(req, "{...}")).map((job, i) => {
        if (!isObject(job)) throw badRequest(`jobs[${i}] must be a JSON object`);
        return JSON.stringify(job);
      });
      const once = idempotencyOf(req, "qb", payloads);
      const { ids, replayed } = await store.pushOnce(queue, payloads, opts, once);
      sendJson(res, replayed ? 200 : 201, { ids }, replayed ? REPLAYED : {});
    },

    GET: async (req, res) => {
      const queue = queueParam(req);
      const count = intParam(req.query, "batch_size", 1, config.batch.max_fetch, Math.min(10, config.batch.max_fetch));
      const { lease, wait } = takeOptions(req.query, config);
      const want = { queue, count, worker: workerId(req), lease, wait, owner: req.token?.id };
      const taken = await ctx.longPoll.take(want, wait > 0 ? closeSignal(res) : undefined);
      if (taken.jobs.length === 0) throw noJob(taken);
      // the stored bytes of each job, joined into one array without parsing them again
      const parts: Buffer[] = [Buffer.from("[")];
      taken.jobs.forEach((job, i) => parts.push(...(i ? [COMMA, job.payload] : [job.payload])));
      parts.push(Buffer.from("]"));
      const headers: Record<string, string> = { "x-presque-jobids": taken.jobs.map((j) => j.id).join(",") };
      if (taken.lease > 0) {
        headers["x-presque-attempts"] = taken.jobs.map((j) => j.attempt).join(",");
        headers["x-presque-lease-expires"] = ((Date.now() + taken.lease * 1000) / 1000).toFixed(3);
      }
      sendRaw(res, 200, Buffer.concat(parts), headers);
    },
  });

  // each job by the rules of DELETE /q/:queue/:id; its own status in the results
  router.route("/qb/:queue/ack", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const jobs = (await jobsOf(req, '{"id": "7", "attempt": 1}')).map(leasedJob);
      // an entry without its attempt cancels a waiting job: the admin's, as on DELETE /q/:queue/:id
      if (jobs.some((j) => j.attempt === undefined)) mayCancel(req);
      const outcomes = await store.removeMany(queue, jobs, workerId(req));
      sendJson(res, 200, { results: outcomes.map(batchResult) });
    },
  });

  // each job by the rules of PUT /q/:queue/:id
  router.route("/qb/:queue/fail", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const jobs = (await jobsOf(req, '{"id": "7", "attempt": 1, "error": "..."}')).map((job, i) => ({
        ...leasedJob(job, i),
        ...failureReport(job as Record<string, unknown>, `jobs[${i}].`),
      }));
      const outcomes = await store.failMany(queue, jobs, workerId(req));
      sendJson(res, 200, { results: outcomes.map(batchResult) });
    },
  });
}

const COMMA = Buffer.from(",");

/** One entry of an ack or fail batch: {"id": "7" or 7, "attempt": 1 (optional)}. */
function leasedJob(job: unknown, i: number): { id: string; attempt?: number } {
  if (!isObject(job)) throw badRequest(`jobs[${i}] must be a JSON object such as {"id": "7", "attempt": 1}`);
  const id = typeof job.id === "number" ? String(job.id) : job.id;
  if (typeof id !== "string" || !JOB_ID.test(id)) throw badRequest(`jobs[${i}].id must be a job id`);
  const attempt = job.attempt;
  if (attempt === undefined || attempt === null) return { id };
  if (!Number.isInteger(attempt) || (attempt as number) < 1 || (attempt as number) > 999_999) {
    throw badRequest(`jobs[${i}].attempt must be a positive integer`);
  }
  return { id, attempt: attempt as number };
}
