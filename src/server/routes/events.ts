// GET /events — the dashboard's live feed as server-sent events: the whole overview of one view
// (a page of queues, and workers) at every tick, read once per process for all pages that show the
// same view (src/server/dashboard/hub.ts).
import { badRequest, HttpError } from "../../shared/errors.js";
import { HubFull, type View } from "../dashboard/hub.js";
import { MAX_PAGE } from "../dashboard/overview.js";
import type { Query } from "../http.js";
import { intParam, stringParam } from "../params.js";
import type { Context, Router } from "../router.js";

/** what the page asks for when it says nothing */
const DEFAULT_PAGE = 25;
/** how long a browser waits before it reconnects (the page's own reader does the same) */
const RETRY_MS = 2000;

export function viewOf(query: Query): View {
  const prefix = stringParam(query, "prefix") ?? "";
  if (!/^[A-Za-z0-9_.:-]{0,128}$/.test(prefix)) throw badRequest("prefix must be the start of a queue name (A-Z a-z 0-9 _ - . :)");
  return {
    prefix,
    offset: intParam(query, "offset", 0, 1_000_000, 0),
    limit: intParam(query, "limit", 1, MAX_PAGE, DEFAULT_PAGE),
  };
}

export function registerEventRoutes(router: Router, ctx: Context): void {
  router.route("/events", {
    GET: (req, res) => {
      const view = viewOf(req.query);
      let stop: () => void;
      const listener = {
        // a page that reads slower than the ticks skips readings instead of queueing them
        send: (chunk: string) => void (res.writableNeedDrain || res.write(chunk)),
        end: () => res.end(),
      };
      try {
        stop = ctx.events.listen(view, listener);
      } catch (err) {
        if (err instanceof HubFull) throw new HttpError(503, err.message, { "retry-after": "10" });
        throw err;
      }
      res.once("close", () => stop());
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      });
      res.write(`retry: ${RETRY_MS}\n\n`);
    },
  });
}
