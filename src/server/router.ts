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

/** Collects each route family's handlers and mounts them on Polka, with a lookup of its own that
 *  sees only these routes (nothing else is added to Polka: no app.use). */
export class Router {
  private readonly paths: Array<[string, Partial<Record<Method, Handler>>]> = [];

  route(path: string, handlers: Partial<Record<Method, Handler>>): void {
    this.paths.push([path, handlers]);
  }

  served(): ServedRoute[] {
    return this.paths.map(([path, handlers]) => ({ path, methods: Object.keys(handlers) as Method[] }));
  }

  mount(app: Polka): void {
    // trouter's find tests every route of the method on every request, and presque has thirty:
    // the same routes, as trouter parsed them, are looked up by method and first path segment first
    const table = (app as unknown as { routes: TrouterRoute[] }).routes;
    const index = new Map<string, Map<string, TrouterRoute[]>>();
    for (const [path, handlers] of this.paths) {
      for (const [method, handler] of Object.entries(handlers)) {
        // the pattern, for the request's duration metric (src/server/metrics.ts): never the raw path
        const named: Handler = (req, res) => {
          req.route = path;
          return handler(req, res);
        };
        app.add(method as Method, path, named as never);
        let bySegment = index.get(method);
        if (!bySegment) index.set(method, (bySegment = new Map()));
        const segment = firstSegment(path);
        const routes = bySegment.get(segment) ?? [];
        routes.push(table[table.length - 1]);
        bySegment.set(segment, routes);
      }
    }
    const none: TrouterRoute[] = [];
    (app as unknown as { find: Find }).find = (method, path) => {
      const params: Record<string, string> = {};
      const handlers: unknown[] = [];
      const routes = index.get(method)?.get(firstSegment(path)) ?? none;
      for (let i = 0; i < routes.length; i++) {
        const route = routes[i];
        const matches = route.pattern.exec(path);
        if (matches === null) continue;
        for (let j = 0; j < route.keys.length;) params[route.keys[j]] = matches[++j];
        handlers.push(route.handlers[0]); // app.add was given one each
      }
      return { params, handlers };
    };
  }
}

interface TrouterRoute {
  method: string;
  pattern: RegExp;
  keys: string[];
  handlers: unknown[];
}
type Find = (method: string, path: string) => { params: Record<string, string>; handlers: unknown[] };

/** "q" of "/q/:queue", "/q/p" and "/Q/p"; "" of "/". Every pattern starts with a literal segment,
 *  and trouter's patterns ignore case. */
function firstSegment(path: string): string {
  const end = path.indexOf("/", 1);
  return path.slice(1, end === -1 ? path.length : end).toLowerCase();
}
