// /dead/:queue — jobs whose attempts ran out.
import { jobBody, rawArray, withRaw } from "../api.js";
import { badRequest } from "../../shared/errors.js";
import { readLooseObject, sendJson, sendRaw } from "../http.js";
import { intParam, JOB_ID, jobIdParam, queueParam } from "../params.js";
import type { Context, Router } from "../router.js";
import type { DeadPick } from "../../store/store.js";

/** dead jobs one call of POST /dead/:queue/retry or /delete takes at most, named or scanned */
export const DEAD_STEP = 1000;

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

  // the selected dead jobs ({"ids": [...]}) or one bounded step of those whose last error or
  // payload holds a text ({"match": "...", "in": "error|payload|any", "cursor": "..."}): the caller
  // calls again with the cursor answered until it is "0", or stops
  for (const action of ["retry", "delete"] as const) {
    router.route(`/dead/:queue/${action}`, {
      POST: async (req, res) => {
        const queue = queueParam(req);
        const pick = deadPick(await readLooseObject(req, ctx.config.server.max_body, "body"));
        const step = await store.deadBulk(action, queue, pick, DEAD_STEP);
        const done = action === "retry" ? "retried" : "deleted";
        sendJson(res, 200, { queue, [done]: step.done, scanned: step.scanned, cursor: step.cursor, finished: step.cursor === "0" });
      },
    });
  }

  router.route("/dead/:queue/:id/retry", {
    POST: async (req, res) => {
      const queue = queueParam(req);
      const id = jobIdParam(req);
      await store.retryDead(queue, id);
      sendJson(res, 200, { id, state: "ready" });
    },
  });
}

function deadPick(body: Record<string, unknown>): DeadPick {
  for (const key of Object.keys(body)) {
    if (!["ids", "match", "in", "cursor"].includes(key)) throw badRequest(`unknown key ${key}: give ids, or match, in and cursor`);
  }
  const { ids, match, in: where, cursor } = body;
  if (ids !== undefined) {
    if (match !== undefined || cursor !== undefined) throw badRequest("give ids, or match (and cursor), not both");
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > DEAD_STEP)
      throw badRequest(`ids must be a list of 1 to ${DEAD_STEP} job ids`);
    if (!ids.every((id) => typeof id === "string" && JOB_ID.test(id))) throw badRequest("ids must be job ids (strings of digits)");
    return { ids: ids as string[] };
  }
  if (match !== undefined && (typeof match !== "string" || match.length > 1024))
    throw badRequest("match must be a text of at most 1024 characters");
  if (where !== undefined && where !== "error" && where !== "payload" && where !== "any")
    throw badRequest('in must be "error", "payload" or "any"');
  if (cursor !== undefined && (typeof cursor !== "string" || !/^[0-9]{1,20}$/.test(cursor))) {
    throw badRequest("cursor must be the cursor a previous call answered");
  }
  return { match: (match as string | undefined) ?? "", where: where ?? "any", cursor: (cursor as string | undefined) ?? "0" };
}
