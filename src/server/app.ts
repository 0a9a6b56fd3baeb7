// The HTTP application: a Polka router whose routes are registered by src/server/routes/*.
import type { IncomingMessage, ServerResponse } from "node:http";
import polka from "polka";
import { classify } from "../shared/errors.js";
import { Notices } from "../shared/log.js";
import { ARRIVED, ON_ANSWER, sendJson, type Req, type Res, type Timed } from "./http.js";
import { METHODS, Router, type Context, type Method, type ServedRoute } from "./router.js";
import { registerBatchRoutes } from "./routes/batch.js";
import { registerDashboard } from "./routes/dashboard.js";
import { registerDeadRoutes } from "./routes/dead.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerJobRoutes } from "./routes/jobs.js";
import { registerOpenApi } from "./routes/openapi.js";
import { registerJobEventRoutes } from "./routes/jobevents.js";
import { registerMetricsRoute } from "./routes/metrics.js";
import { registerQueueRoutes } from "./routes/queues.js";
import { registerSearchRoutes } from "./routes/search.js";
import { registerScheduleRoutes } from "./routes/schedules.js";
import { registerWorkerRoutes } from "./routes/workers.js";
import { registerStreamRoute } from "./stream/server.js";

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** `served`, when given, is filled with every path and the methods it serves (test/openapi.test.ts
 *  holds the OpenAPI document against it). */
export function createApp(ctx: Context, served?: ServedRoute[]): RequestListener {
  /** A known path asked with a method it does not take: 405 with an Allow header; else 404. */
  const noRoute = (req: Req, res: Res) => {
    const allowed = METHODS.filter((m) => app.find(m, req.path).handlers.length > 0);
    if (allowed.length === 0) sendJson(res, 404, { error: "not found" });
    else sendJson(res, 405, { error: "method not allowed" }, { allow: allowed.join(", ") });
  };

  const app = polka({
    onError: (err: unknown, req: Req, res: Res) => {
      const { status, message, headers, bug, notice } = classify(err);
      // err goes through log.ts's serialiser (name, message, stack, command name: no arguments)
      if (bug) ctx.log.error({ err, method: req.method, url: req.url }, "request failed");
      if (notice) notices.note(notice);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, status, { error: message }, headers);
    },
    onNoMatch: noRoute,
  } as never);

  const notices = new Notices(ctx.log);

  const router = new Router();
  registerJobRoutes(router, ctx);
  registerBatchRoutes(router, ctx);
  registerQueueRoutes(router, ctx);
  registerDeadRoutes(router, ctx);
  registerWorkerRoutes(router, ctx);
  registerSearchRoutes(router, ctx);
  registerEventRoutes(router, ctx);
  registerScheduleRoutes(router, ctx);
  registerDashboard(router, ctx);
  registerMetricsRoute(router, ctx);
  registerJobEventRoutes(router, ctx);
  registerOpenApi(router, ctx);
  registerStreamRoute(router);
  router.mount(app);
  served?.push(...router.served());

  const guard = ctx.guard;
  const routed = (method: string, path: string) => app.find(method as Method, path).handlers.length > 0;
  const guarded = (req: IncomingMessage, res: ServerResponse) => {
    // parse() keeps its result on the request, so the router does not parse the URL again
    const url = app.parse(req);
    guard!.admit(req as Req, res, url.pathname, routed, url.query as Record<string, unknown>).then(
      (go) => go && app.handler(req as never, res as never, undefined as never),
      (err) => app.onError(err, req as never, res as never, undefined as never),
    );
  };

  // one function for every response (no closure per request), handed the response when it is
  // answered (src/server/http.ts, answered)
  const metrics = ctx.metrics;
  const observe = (res: Res, seconds: number) => {
    const req = res.req as Req;
    metrics.observeRequest(req.route ?? "unmatched", req.method!, res.statusCode, seconds);
  };
  const timed = (res: Timed) => {
    res[ARRIVED] = performance.now();
    res[ON_ANSWER] = observe;
  };

  const origins = ctx.origins;
  return (req, res) => {
    timed(res);
    // before anything else, tokens or not: a foreign page or a rebound name gets nothing
    const refused = origins?.refusal(req);
    if (refused) {
      notices.note("requests refused with 403 for their Host, Origin or Sec-Fetch-Site");
      return sendJson(res, 403, { error: refused });
    }
    // trouter hands HEAD to GET handlers, and GET /q and /qb take jobs: a HEAD would delete a job
    // and drop its body. HEAD is not in any Allow, so it is refused like any other method.
    if (req.method === "HEAD") {
      const r = req as Req;
      r.path = app.parse(req).pathname;
      noRoute(r, res);
      return;
    }
    if (guard?.enabled) return guarded(req, res);
    app.handler(req as never, res as never, undefined as never);
  };
}
