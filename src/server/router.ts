// What every route family is given (Context) and how it registers its handlers (Router).
import type { Polka } from "polka";
import type { Logger } from "pino";
import type { Guard } from "./auth/guard.js";
import type { Config } from "./config.js";
import type { EventHub } from "./dashboard/hub.js";
import type { RequestOrigins } from "./origin.js";
import type { Req, Res } from "./http.js";
import type { JobEvents } from "../store/events.js";
import type { LongPoll } from "../store/longpoll.js";
import type { ProcessMetrics } from "./metrics.js";
import type { Store } from "../store/store.js";

export interface Context {
  config: Config;
  store: Store;
  longPoll: LongPoll;
  /** job events as the scripts publish them (GET /events/:queue) */
  jobEvents: JobEvents;
  /** this process's own metrics (GET /metrics) */
  metrics: ProcessMetrics;
  log: Logger;
  /** which Host and Origin a request may come with (absent: any) */
  origins?: RequestOrigins;
  /** who may call what; absent or disabled when no tokens are configured */
  guard?: Guard;
  /** what /stats/ shows of Redis and of the presque processes sharing it */
  /** nodes: on a cluster, every node the client knows now (for /stats/) */
  redisInfo: { target: string; version: string; embedded: boolean; nodes?: () => unknown[] | undefined };
  processes: () => Promise<unknown[]>;
  /** the dashboard's live feed (GET /events), one per process */
  events: EventHub;
}

type Handler = (req: Req, res: Res) => Promise<void> | void;
export type Method = "GET" | "POST" | "PUT" | "DELETE";
export const METHODS: Method[] = ["GET", "POST", "PUT", "DELETE"];
export interface ServedRoute {
  path: string;
  methods: Method[];
}

/** Collects each route family's handlers; mounted on Polka with nothing else in the route table,
 *  since trouter tests every entry of it on every request. */
export class Router {
  private readonly paths: Array<[string, Partial<Record<Method, Handler>>]> = [];

  route(path: string, handlers: Partial<Record<Method, Handler>>): void {
    this.paths.push([path, handlers]);
  }

  served(): ServedRoute[] {
    return this.paths.map(([path, handlers]) => ({ path, methods: Object.keys(handlers) as Method[] }));
  }

  mount(app: Polka): void {
    for (const [path, handlers] of this.paths) {
      for (const [method, handler] of Object.entries(handlers)) {
        // the pattern, for the request's duration metric (src/server/metrics.ts): never the raw path
        const named: Handler = (req, res) => {
          req.route = path;
          return handler(req, res);
        };
        app.add(method as Method, path, named as never);
      }
    }
  }
}
