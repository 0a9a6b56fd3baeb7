// Which roles may call which route: the one table of it. Matched with Polka's own matcher, so a
// path is read exactly as the router will read it (case, trailing slash, percent-decoding).
import polka from "polka";
import type { Role } from "./tokens.js";

/** Who may call a route: roles, "any" (any valid token) or "public" (no token needed). */
export type Allowed = readonly Role[] | "any" | "public";

type Method = "GET" | "POST" | "PUT" | "DELETE";

export const ROUTE_ROLES: Record<string, Partial<Record<Method, Allowed>>> = {
  "/q/:queue": { POST: ["producer"], GET: ["consumer"], PUT: ["consumer"], DELETE: ["admin"] },
  // an empty queue name: the route answers 400 to anyone who may call anything
  "/q/": { GET: "any", POST: "any", PUT: "any", DELETE: "any" },
  "/qb/": { GET: "any", POST: "any", PUT: "any", DELETE: "any" },
  // DELETE acknowledges (consumer) or, without an attempt, cancels a waiting job (admin too)
  "/q/:queue/:id": { GET: ["producer", "consumer", "monitor"], DELETE: ["consumer", "admin"], PUT: ["consumer"] },
  "/q/:queue/:id/lease": { POST: ["consumer"] },
  "/qb/:queue": { POST: ["producer"], GET: ["consumer"] },
  "/qb/:queue/ack": { POST: ["consumer"] },
  // the streaming consumer's WebSocket (src/server/stream): the upgrade is checked there, with
  // this role on every queue it names; a plain GET is answered 426
  "/c/:queue": { GET: ["consumer"] },
  "/qb/:queue/fail": { POST: ["consumer"] },
  "/j/:queue": { GET: ["producer", "monitor"] },
  "/status/": { GET: ["monitor"] },
  "/status/:queue": { GET: ["producer", "monitor"] },
  "/control/:queue": { GET: ["monitor", "admin"], POST: ["admin"] },
  "/stats/": { GET: ["monitor"] },
  "/metrics": { GET: ["monitor"] },
  "/dead/:queue": { GET: ["monitor", "admin"], DELETE: ["admin"] },
  "/dead/:queue/:id/retry": { POST: ["admin"] },
  "/w/": { GET: ["consumer", "monitor"] },
  "/w/:queue": { POST: ["consumer"], DELETE: ["consumer"] },
  // the dashboard page holds no data: it asks for a token when /stats/ answers 401
  "/": { GET: "public" },
};

export interface RouteRule {
  method: string;
  path: string;
  allowed: Allowed;
}

export interface MatchedRoute {
  rule: RouteRule;
  queue: string | undefined;
}

export class RouteTable {
  private readonly matcher = polka();

  constructor(table = ROUTE_ROLES) {
    for (const [path, methods] of Object.entries(table)) {
      for (const [method, allowed] of Object.entries(methods)) {
        const rule: RouteRule = { method, path, allowed: allowed! };
        this.matcher.add(method as Method, path, rule as never);
      }
    }
  }

  match(method: string, pathname: string, query: Record<string, unknown> = {}): MatchedRoute | null {
    const found = this.matcher.find(method as Method, pathname);
    const rule = found.handlers[0] as unknown as RouteRule | undefined;
    if (!rule) return null;
    // GET /w/?queue_name= describes one queue: judged as that queue (a list of them as all of them)
    const named = rule.path === "/w/" ? query.queue_name : undefined;
    if (named !== undefined) return { rule, queue: Array.isArray(named) ? named.join("\n") : String(named) };
    let queue = (found.params as Record<string, string>).queue;
    // as Polka decodes params, so that a percent-encoded name is judged as the route will see it
    if (queue !== undefined && pathname.indexOf("%", 1) !== -1) {
      try {
        queue = decodeURIComponent(queue);
      } catch {
        // left as it is, as Polka leaves it
      }
    }
    return { rule, queue };
  }
}
