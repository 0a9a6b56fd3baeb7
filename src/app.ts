// The HTTP application: a Polka router whose routes are registered by src/routes/*.
import type { Logger } from "pino";
import polka, { type Polka } from "polka";
import type { Config } from "./config.js";
import { classify, HttpError } from "./errors.js";
import { sendJson, type Req, type Res } from "./http.js";
import type { Store } from "./store.js";
import type { Sweeper } from "./sweeper.js";
import type { Waiters } from "./waiters.js";
import { registerBatchRoutes } from "./routes/batch.js";
import { registerDashboard } from "./routes/dashboard.js";
import { registerDeadRoutes } from "./routes/dead.js";
import { registerJobRoutes } from "./routes/jobs.js";
import { registerQueueRoutes } from "./routes/queues.js";
import { registerWorkerRoutes } from "./routes/workers.js";

export interface Context {
  config: Config;
  store: Store;
  waiters: Waiters;
  sweeper: Sweeper;
  log: Logger;
  /** what /stats/ shows of Redis */
  redisInfo: { target: string; version: string; embedded: boolean };
}

type Handler = (req: Req, res: Res) => Promise<void> | void;
type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Registers a path's handlers; any other method on it answers 405 with an Allow header. */
export class Router {
  private readonly paths: Array<[string, Partial<Record<Method, Handler>>]> = [];

  route(path: string, handlers: Partial<Record<Method, Handler>>): void {
    this.paths.push([path, handlers]);
  }

  mount(app: Polka): void {
    for (const [path, handlers] of this.paths) {
      const allow = Object.keys(handlers).join(", ");
      const notAllowed = (() => {
        throw new HttpError(405, "method not allowed", { allow });
      }) as never;
      // trouter hands HEAD to GET handlers, and GET /q and /qb take jobs: a HEAD would delete a
      // job and drop its body. HEAD is not in Allow, so it is refused first, like any other method.
      app.add("HEAD", path, notAllowed);
      for (const [method, handler] of Object.entries(handlers)) app.add(method as Method, path, handler as never);
      app.all(path, notAllowed);
    }
  }
}

export function createApp(ctx: Context): Polka {
  const app = polka({
    onError: (err: unknown, req: Req, res: Res) => {
      const { status, message, headers, bug } = classify(err);
      if (bug) ctx.log.error({ err, method: req.method, url: req.url }, "request failed");
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, status, { error: message }, headers);
    },
    onNoMatch: (_req: Req, res: Res) => sendJson(res, 404, { error: "not found" }),
  } as never);

  const router = new Router();
  registerJobRoutes(router, ctx);
  registerBatchRoutes(router, ctx);
  registerQueueRoutes(router, ctx);
  registerDeadRoutes(router, ctx);
  registerWorkerRoutes(router, ctx);
  registerDashboard(router, ctx);
  router.mount(app);
  return app;
}
