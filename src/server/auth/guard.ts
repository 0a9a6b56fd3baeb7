// The one check between a request and the router: who is asking (401), may they (403), not too
// often (429). With no tokens configured it is never called (see app.ts).
import type { Logger } from "pino";
import { sendJson, type Req, type Res } from "../http.js";
import { classify } from "../../shared/errors.js";
import type { RateLimiter } from "./ratelimit.js";
import { RouteTable } from "./routes.js";
import { mayUseQueue, type Token, TokenTable } from "./tokens.js";
import { loadTokenTable, tokensConfigured, type AuthSettings } from "./tokensfile.js";

const CHALLENGE = 'Bearer realm="presque"';
const INVALID = 'Bearer realm="presque", error="invalid_token"';

export class Guard {
  private table: TokenTable;
  private readonly routes = new RouteTable();

  constructor(
    private readonly auth: AuthSettings,
    private readonly limiter: RateLimiter,
    private readonly log: Logger,
  ) {
    this.table = loadTokenTable(auth);
    this.enabled = tokensConfigured(auth);
  }

  /** Read on every request: a field, not a getter. A named tokens file turns checking on even
   *  while it is empty: nobody is let in then, rather than everybody. */
  enabled: boolean;

  /** Reads the tokens again (SIGHUP). A broken file leaves the tokens as they were. */
  reload(): boolean {
    try {
      this.table = loadTokenTable(this.auth);
      this.log.info({ tokens: this.table.size }, "tokens reloaded");
      return true;
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "tokens not reloaded; the previous ones stay in force");
      return false;
    }
  }

  /**
   * Answers the request itself (401, 403, 429) and resolves false, or resolves true for the router
   * to go on. `routed` tells whether the router knows a path the table does not: such a request
   * needs the admin role, so that a route added without a table entry is closed rather than open.
   */
  async admit(
    req: Req,
    res: Res,
    pathname: string,
    routed: (method: string, path: string) => boolean,
    query: Record<string, unknown> = {},
  ): Promise<boolean> {
    const method = req.method ?? "GET";
    const matched = this.routes.match(method, pathname, query);
    if (matched?.rule.allowed === "public") return true;

    const token = this.authenticate(req.headers.authorization);
    if (token === "missing") return refuse(res, 401, "a bearer token is required (Authorization: Bearer <token>)", CHALLENGE);
    if (token === null) return refuse(res, 401, "the token is not valid", INVALID);

    const allowed = matched ? matched.rule.allowed : routed(method, pathname) ? (["admin"] as const) : "any";
    if (allowed !== "any" && !allowed.some((role) => token.roles.has(role))) {
      const route = matched ? `${method} ${matched.rule.path}` : `${method} ${pathname}`;
      return refuse(res, 403, `token ${token.id} may not call ${route}: that needs the role ${allowed.join(" or ")}`);
    }
    if (matched?.queue !== undefined && !mayUseQueue(token, matched.queue)) {
      return refuse(res, 403, `token ${token.id} may not use this queue`);
    }
    if (token.rate > 0) {
      let waitMs: number;
      try {
        waitMs = await this.limiter.wait(token);
      } catch (err) {
        const { status, message, headers, bug } = classify(err);
        if (bug) this.log.error({ err, method, path: pathname }, "rate limit check failed");
        sendJson(res, status, { error: message }, headers);
        return false;
      }
      if (waitMs > 0) {
        sendJson(
          res,
          429,
          { error: `token ${token.id} is limited to ${token.rate} requests per second` },
          {
            "retry-after": Math.max(1, Math.ceil(waitMs / 1000)),
          },
        );
        return false;
      }
    }
    return true;
  }

  /**
   * A WebSocket upgrade's check (src/server/stream): the token, the consumer role on every queue,
   * the rate, as admit() checks a GET /qb. Answers the refusal to send as plain HTTP, or the token
   * (null when no tokens are configured), which later subscriptions are judged by (mayConsume).
   */
  async authorizeConsumer(
    header: string | undefined,
    queues: readonly string[],
  ): Promise<{ token: Token | null } | { status: number; error: string; headers: Record<string, string> }> {
    if (!this.enabled) return { token: null };
    const token = this.authenticate(header);
    if (token === "missing") {
      return {
        status: 401,
        error: "a bearer token is required (Authorization: Bearer <token>)",
        headers: { "www-authenticate": CHALLENGE },
      };
    }
    if (token === null) return { status: 401, error: "the token is not valid", headers: { "www-authenticate": INVALID } };
    const refused = queues.find((q) => !mayConsume(token, q));
    if (refused !== undefined) {
      const why = token.roles.has("consumer") ? "may not use this queue" : "may not call GET /c/:queue: that needs the role consumer";
      return { status: 403, error: `token ${token.id} ${why}`, headers: {} };
    }
    if (token.rate > 0) {
      try {
        const waitMs = await this.limiter.wait(token);
        if (waitMs > 0) {
          const error = `token ${token.id} is limited to ${token.rate} requests per second`;
          return { status: 429, error, headers: { "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))) } };
        }
      } catch (err) {
        const { status, message, headers, bug } = classify(err);
        if (bug) this.log.error({ err }, "rate limit check failed");
        return { status, error: message, headers };
      }
    }
    return { token };
  }

  /** The token a header carries, "missing" when there is none, or null when it is not valid. */
  private authenticate(header: string | undefined): Token | "missing" | null {
    if (!header) return "missing";
    const space = header.indexOf(" ");
    if (space < 0 || header.slice(0, space).toLowerCase() !== "bearer") return "missing";
    return this.table.verify(header.slice(space + 1).trim());
  }
}

/** Whether a token may take jobs from a queue (no token: tokens are not configured). */
export function mayConsume(token: Token | null, queue: string): boolean {
  return token === null || (token.roles.has("consumer") && mayUseQueue(token, queue));
}

function refuse(res: Res, status: number, error: string, challenge?: string): false {
  sendJson(res, status, { error }, challenge ? { "www-authenticate": challenge } : {});
  return false;
}
