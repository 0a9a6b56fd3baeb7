// GET /events — the dashboard's live feed as server-sent events: the whole overview of one view
// (a page of queues, and workers) at every tick, read once per process for all pages that show the
// same view (src/server/dashboard/hub.ts).
import { badRequest, HttpError } from "../../shared/errors.js";
import { mayUseQueue, type Token } from "../auth/tokens.js";
import { HubFull, overviewEvent, type View } from "../dashboard/hub.js";
import { MAX_PAGE, type Overview } from "../dashboard/overview.js";
import { answeredOnFinish, type Query } from "../http.js";
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
      const token = ctx.guard?.enabled ? ctx.guard.tokenOf(req) : undefined;
      // a token kept to some queues sees those of the shared reading only
      const own = token && keptToSome(token) ? (reading: unknown) => overviewEvent(onlyOwn(reading as Overview, token)) : null;
      let stop: () => void;
      const listener = {
        // a page that reads slower than the ticks skips readings instead of queueing them
        send: (chunk: string, reading?: unknown) => {
          if (!res.writableNeedDrain) res.write(own && reading ? own(reading) : chunk);
        },
        end: () => res.end(),
      };
      try {
        stop = ctx.events.listen(view, listener);
      } catch (err) {
        if (err instanceof HubFull) throw new HttpError(503, err.message, { "retry-after": "10" });
        throw err;
      }
      res.once("close", () => stop());
      answeredOnFinish(res);
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      });
      res.write(`retry: ${RETRY_MS}\n\n`);
    },
  });
}

/** A reading as a token kept to some queues may see it: its queues, and the workers on them. */
function onlyOwn(o: Overview, token: Token): Overview {
  const mine = (queue: string) => mayUseQueue(token, queue);
  const shown = o.workers.shown.flatMap((w) => (w.queues.some(mine) ? [{ ...w, queues: w.queues.filter(mine) }] : []));
  return { ...o, queues: o.queues.filter((q) => mine(q.name)), workers: { total: shown.length, shown } };
}

function keptToSome(token: Token): boolean {
  const { queues, deny } = token.globs;
  return deny.length > 0 || !queues.includes("*");
}
