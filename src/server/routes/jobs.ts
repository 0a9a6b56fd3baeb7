// /q/:queue — presque's job routes — and /q/:queue/:id, one job under a lease.
import { failedBody, jobBody } from "../api.js";
import { QUEUE_SETTING_RANGES } from "../config.js";
import { badRequest, HttpError } from "../../shared/errors.js";
import { type Req, closeSignal, isObject, parseJson, readBody, readJob, readLooseObject, sendEmpty, sendJson, sendRaw } from "../http.js";
import { attemptOf, checkSeconds, jobIdParam, pushOptions, queueParam, takeOptions, workerId } from "../params.js";
import type { Context, Router } from "../router.js";
import { noJob } from "./limits.js";
import { idempotencyOf, REPLAYED } from "../auth/idempotency.js";

const MAX_ERROR_LENGTH = 4096;
// as long as the longest backoff_cap
const MAX_RETRY_IN = QUEUE_SETTING_RANGES.backoff_cap[1];

/** A job handed out: its id and, under a lease, the attempt (the lease token) and the expiry. */
function jobHeaders(id: string, lease: number, attempt: number): Record<string, string | number> {
  if (lease <= 0) return { "x-presque-jobid": id };
  return {
    "x-presque-jobid": id,
    "x-presque-attempt": attempt,
    "x-presque-lease-expires": ((Date.now() + lease * 1000) / 1000).toFixed(3),
  };
}

export function registerJobRoutes(router: Router, ctx: Context): void {
  const { store, config } = ctx;
  const maxBody = config.server.max_body;

  router.route("/q/:queue", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const opts = pushOptions(req.query, true);
      const job = await readJob(req, maxBody);
      const once = idempotencyOf(req, "q", job);
      if (once) {
        const { ids, replayed } = await store.pushOnce(queue, [job], opts, once);
        return sendJson(res, replayed ? 200 : 201, { id: ids[0] }, replayed ? REPLAYED : {});
      }
      sendJson(res, 201, { id: await store.pushOne(queue, job, opts) });
    },

    GET: async (req, res) => {
      const queue = queueParam(req);
      const { lease, wait } = takeOptions(req.query, config);
      const want = { queue, count: 1, worker: workerId(req), lease, wait, owner: req.token?.id };
      const taken = await ctx.longPoll.take(want, wait > 0 ? closeSignal(res) : undefined);
      const job = taken.jobs[0];
      if (!job) throw noJob(taken);
      sendRaw(res, 200, job.payload, jobHeaders(job.id, taken.lease, job.attempt));
    },

    // presque's retry: the worker failed the job it fetched and posts it back
    PUT: async (req, res) => {
      const queue = queueParam(req);
      const { dueMs, priority } = pushOptions(req.query, false);
      const worker = workerId(req);
      const id = await store.retry(queue, await readJob(req, maxBody), { dueMs, priority }, worker);
      sendJson(res, 201, { id });
    },

    DELETE: async (req, res) => {
      await store.purge(queueParam(req));
      sendEmpty(res);
    },
  });

  // an empty queue name (/q/, /qb/) is a bad name, not an unknown path
  const noName = () => {
    throw badRequest("invalid queue name");
  };
  for (const path of ["/q/", "/qb/"]) router.route(path, { GET: noName, POST: noName, PUT: noName, DELETE: noName });

  router.route("/q/:queue/:id", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const job = await store.job(queue, jobIdParam(req));
      if (!job) throw new HttpError(404, "no such job");
      sendRaw(res, 200, jobBody(queue, job));
    },

    // acknowledges a leased job (with its attempt), or cancels one that is not leased (without)
    DELETE: async (req, res) => {
      const queue = queueParam(req);
      const attempt = attemptOf(req);
      if (attempt === undefined) mayCancel(req);
      await store.remove(queue, jobIdParam(req), attempt, workerId(req));
      sendEmpty(res);
    },

    // the worker holding the lease failed the job
    PUT: async (req, res) => {
      const queue = queueParam(req);
      const id = jobIdParam(req);
      const attempt = attemptOf(req);
      const { error, retryIn } = failureOf(await readBody(req, maxBody));
      const { state, atMs } = await store.fail(queue, id, attempt, workerId(req), error, retryIn);
      sendJson(res, 200, failedBody(id, state, atMs));
    },
  });

  router.route("/q/:queue/:id/lease", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const id = jobIdParam(req);
      const attempt = attemptOf(req);
      const body = await readLooseObject(req, maxBody, "body");
      if (body.seconds === undefined) throw badRequest('give {"seconds": N}');
      const seconds = checkSeconds(body.seconds, "seconds", config.jobs.max_lease);
      // 0 would end the lease it claims to extend: the job would go out again at once
      if (seconds === 0) throw badRequest(`seconds must be more than 0 and at most ${config.jobs.max_lease}`);
      const deadline = await store.extendLease(queue, id, seconds, attempt);
      sendJson(res, 200, { id, lease_expires_at: deadline / 1000 });
    },
  });
}

/** Cancelling (removing a job without the attempt that proves a lease) is the admin's: a consumer
 *  acknowledges with the attempt it was handed. Without tokens anyone may. */
export function mayCancel(req: Req): void {
  const token = req.token;
  if (token && !token.roles.has("admin")) {
    throw new HttpError(403, `token ${token.id} may acknowledge a job with its attempt, not cancel it: that needs the role admin`);
  }
}

/** The optional body of a failure report: {"error": "...", "retry_in": seconds}. */
function failureOf(body: Buffer): FailureReport {
  if (body.length === 0) return { error: "failed" };
  const value = parseJson(body, "body");
  if (!isObject(value)) throw badRequest('body must be a JSON object such as {"error": "..."}');
  return failureReport(value, "");
}

interface FailureReport {
  error: string;
  /** seconds until the job is tried again, instead of the backoff; 0 hands it back at once */
  retryIn?: number;
}

/** The fields of a failure report, in PUT /q/:queue/:id's body or an entry of /qb/:queue/fail
 *  (`where` prefixes the names in complaints). */
export function failureReport(value: Record<string, unknown>, where: string): FailureReport {
  const retryIn = value.retry_in ?? undefined;
  return {
    error: errorText(value.error),
    ...(retryIn !== undefined && { retryIn: checkSeconds(retryIn, `${where}retry_in`, MAX_RETRY_IN) }),
  };
}

/** A reported error as stored: JSON other than a string is kept as its text, and long ones cut. */
function errorText(error: unknown): string {
  if (error === undefined) return "failed";
  const text = typeof error === "string" ? error : JSON.stringify(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}
