// /qb/:queue — many jobs in one request.
import type { Context, Router } from "../app.js";
import { takeJobs } from "../consume.js";
import { badRequest, HttpError } from "../errors.js";
import { intParam, isObject, parseJson, queueParam, readBody, requireJsonType, sendJson, sendRaw, workerId } from "../http.js";
import { pushOptions, takeOptions } from "./params.js";

export function registerBatchRoutes(router: Router, ctx: Context): void {
  const { store, config } = ctx;

  router.route("/qb/:queue", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const opts = pushOptions(req.query, false);
      requireJsonType(req);
      const body = parseJson(await readBody(req, config.server.max_body), "body");
      const jobs = isObject(body) ? body.jobs : undefined;
      if (!Array.isArray(jobs) || jobs.length === 0) throw badRequest('body must be {"jobs": [ {...}, ... ]} with at least one job');
      if (jobs.length > config.batch.max_push) throw badRequest(`at most ${config.batch.max_push} jobs per batch`);
      const payloads = jobs.map((job, i) => {
        if (!isObject(job)) throw badRequest(`jobs[${i}] must be a JSON object`);
        return JSON.stringify(job);
      });
      const ids = await store.push(queue, payloads, opts);
      sendJson(res, 201, { ids });
    },

    GET: async (req, res) => {
      const queue = queueParam(req);
      const count = intParam(req.query, "batch_size", 1, config.batch.max_fetch, Math.min(10, config.batch.max_fetch));
      const { lease, wait } = takeOptions(req.query, config);
      const taken = await takeJobs(store, ctx.waiters, ctx.sweeper, res, { queue, count, worker: workerId(req), lease, wait });
      if (taken.jobs.length === 0) throw new HttpError(404, "no job");
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
}

const COMMA = Buffer.from(",");
