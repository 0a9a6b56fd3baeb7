// /dead/:queue — jobs whose attempts ran out.
import { jobBody, rawArray, withRaw } from "../api.js";
import { sendJson, sendRaw } from "../http.js";
import { intParam, jobIdParam, queueParam } from "../params.js";
import type { Context, Router } from "../router.js";

export function registerDeadRoutes(router: Router, ctx: Context): void {
  const { store } = ctx;

  router.route("/dead/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const offset = intParam(req.query, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
      const limit = intParam(req.query, "limit", 1, 1000, 100);
      const { total, jobs, truncated } = await store.dead(queue, offset, limit);
      // a page holds at most about 4 MB of payload (at least one job): truncated says it stopped
      // there, and the next page starts at offset + jobs.length
      const fields = { queue, total, offset, limit, ...(truncated && { truncated: true }) };
      sendRaw(res, 200, withRaw(fields, "jobs", rawArray(jobs.map((j) => jobBody(queue, j)))));
    },
    DELETE: async (req, res) => {
      const queue = queueParam(req);
      sendJson(res, 200, { queue, deleted: await store.purgeDead(queue) });
    },
  });

  router.route("/dead/:queue/:id/retry", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const id = jobIdParam(req);
      await store.retryDead(queue, id);
      sendJson(res, 200, { id, state: "ready" });
    },
  });
}
