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
  // DELETE with the attempt acknowledges (consumer, admin); without one it cancels a job that is
  // not leased, which only admin may (routes/jobs.ts, mayCancel: the table cannot see the attempt)
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
  // a producer waits for its job (Client.waitFor), a consumer or monitor watches the queue
  "/events/:queue": { GET: ["producer", "consumer", "monitor"] },
  "/dead/:queue": { GET: ["monitor", "admin"], DELETE: ["admin"] },
  "/dead/:queue/:id/retry": { POST: ["admin"] },
  // the selected dead jobs, or a bounded step of those matching a filter (see docs/dashboard.md)
  "/dead/:queue/retry": { POST: ["admin"] },
  "/dead/:queue/delete": { POST: ["admin"] },
  // payloads are shown to the roles that read them elsewhere (GET /dead, GET /q/:queue/:id)
  "/search/:queue": { GET: ["monitor", "admin"] },
  // the dashboard's live feed; the page sends its token in the Authorization header (a fetch
  // reader, not EventSource), so no token ever appears in a URL
  "/events": { GET: ["monitor"] },
  // what the token may do, so that the page shows only the actions its roles allow
  "/whoami": { GET: "any" },
  "/w/": { GET: ["consumer", "monitor"] },
  "/w/:queue": { POST: ["consumer"], DELETE: ["consumer"] },
  // schedules enqueue jobs on their own, as often as they say: setting one is an admin's act
  "/schedules/": { GET: ["monitor", "admin"] },
  "/schedules/:queue": { GET: ["monitor", "admin"] },
  "/schedules/:queue/:name": { GET: ["monitor", "admin"], PUT: ["admin"], DELETE: ["admin"] },
  // the dashboard page and its script and style hold no data: it asks for a token in a form
  "/": { GET: "public" },
  "/dashboard/app.js": { GET: "public" },
  "/dashboard/app.css": { GET: "public" },
  // the OpenAPI document describes the API and holds no data
  "/openapi.json": { GET: "public" },
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
