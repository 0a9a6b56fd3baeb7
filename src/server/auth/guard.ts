// The one check between a request and the router: who is asking (401), may they (403), not too
// often (429). With no tokens configured it is never called (see app.ts).
import type { Logger } from "pino";
import { sendJson, type Req, type Res } from "../http.js";
import { classify } from "../../shared/errors.js";
import { isQueueName } from "../../store/keys.js";
import { Notices } from "../../shared/log.js";
import type { RateLimiter } from "./ratelimit.js";
import { RouteTable } from "./routes.js";
import { mayUseQueue, type Token, TokenTable } from "./tokens.js";
import { loadTokenTable, tokensConfigured, type AuthSettings } from "./tokensfile.js";

const CHALLENGE = 'Bearer realm="presque"';
const INVALID = 'Bearer realm="presque", error="invalid_token"';

export class Guard {
  private table: TokenTable;
  private readonly routes = new RouteTable();
  /** the token each admitted request came with (GET /whoami describes it) */
  private readonly tokens = new WeakMap<object, Token>();
  /** refusals are logged a line per kind every 10 s with their count, never per request, and
   *  never with the token: only its id, which the table knows */
  private readonly notices: Notices;

  constructor(
    private readonly auth: AuthSettings,
    private readonly limiter: RateLimiter,
    private readonly log: Logger,
  ) {
    this.table = loadTokenTable(auth);
    this.enabled = tokensConfigured(auth);
    this.notices = new Notices(log);
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
    if (token === "missing") {
      this.notices.note("requests refused with 401: no bearer token");
      return refuse(res, 401, "a bearer token is required (Authorization: Bearer <token>)", CHALLENGE);
    }
    if (token === null) {
      this.notices.note("requests refused with 401: a token that is not valid");
      return refuse(res, 401, "the token is not valid", INVALID);
    }
    this.tokens.set(req, token);

    const allowed = matched ? matched.rule.allowed : routed(method, pathname) ? (["admin"] as const) : "any";
    if (allowed !== "any" && !allowed.some((role) => token.roles.has(role))) {
      const route = matched ? `${method} ${matched.rule.path}` : `${method} ${pathname}`;
      this.notices.note(`requests refused with 403: token ${token.id} called routes its roles do not allow`);
      return refuse(res, 403, `token ${token.id} may not call ${route}: that needs the role ${allowed.join(" or ")}`);
    }
    // the name's shape and the rate before any glob is matched: a name of any length or a token
    // over its rate costs no matching at all
    const queues = matched?.queue === undefined ? undefined : matched.queue.split("\n");
    if (queues && !queues.every(isQueueName)) return refuse(res, 400, "invalid queue name");
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
    if (queues && !queues.every((queue) => mayUseQueue(token, queue))) {
      this.notices.note(`requests refused with 403: token ${token.id} named queues it may not use`);
      return refuse(res, 403, `token ${token.id} may not use this queue`);
    }
    req.token = token;
    return true;
  }

  /** The token an admitted request came with; undefined for a public route or with no tokens. */
  tokenOf(req: object): Token | undefined {
    return this.tokens.get(req);
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
