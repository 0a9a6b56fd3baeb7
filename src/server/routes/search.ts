// GET /search/:queue?q= — the ready and delayed jobs whose payload holds a text, one bounded step
// of a scan at a time: the caller asks for the next step with the cursor it was given, or stops.
import { badRequest } from "../../shared/errors.js";
import { sendJson } from "../http.js";
import { intParam, queueParam, stringParam } from "../params.js";
import type { Context, Router } from "../router.js";

/** jobs looked at per step (HSCAN's COUNT: about that many), at most */
const MAX_STEP = 1000;
/** payload bytes one answer carries at most; matches past it come without their payload */
export const SEARCH_BUDGET = 1 << 20;

export function registerSearchRoutes(router: Router, ctx: Context): void {
  router.route("/search/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const text = stringParam(req.query, "q");
      if (text === undefined) throw badRequest("q (the text to find in the payloads) is missing");
      if (text.length > 1024) throw badRequest("q must be at most 1024 characters");
      const cursor = stringParam(req.query, "cursor") ?? "0";
      if (!/^[0-9]{1,20}$/.test(cursor)) throw badRequest("cursor must be the cursor a previous step answered");
      const step = intParam(req.query, "count", 1, MAX_STEP, 200);
      const found = await ctx.store.search(queue, text, cursor, step, SEARCH_BUDGET);
      sendJson(res, 200, {
        queue,
        q: text,
        cursor: found.cursor,
        done: found.cursor === "0",
        scanned: found.scanned,
        jobs: found.jobs.map((j) => ({
          id: j.id,
          state: j.state,
          ...(j.dueMs !== null && { due_at: j.dueMs / 1000 }),
          // the payload as the text that was pushed (null past the answer's budget: GET /q/:queue/:id has it)
          payload: j.payload === null ? null : j.payload.toString("utf8"),
        })),
      });
    },
  });
}
