// The OpenAPI 3.1 document of the whole API (GET /openapi.json), assembled from the sections of
// paths.ts and the parts of components.ts. Who may call an operation, and so whether it can answer
// 401, 403 and a token's 429, comes from the one table of routes and roles.
import { DEFAULTS } from "../config.js";
import { ROUTE_ROLES, type Allowed } from "../auth/routes.js";
import { TAKES_JOBS } from "../origin.js";
import { PRESQUE_VERSION } from "../../store/processes.js";
import { headers, json, parameters, schema, schemas, type Json, type Limits } from "./components.js";
import { sections, type Errors, type Operation } from "./paths.js";

/** What each error status means, whichever route gives it. */
const MEANING: Record<number, string> = {
  400: "bad input: the message names what",
  401: "no valid bearer token (only when tokens are configured)",
  403: "the token may not do this, or not on this queue; or the request came with a Host or Origin this server does not answer to",
  404: "nothing there (on a fetch: no job for now)",
  409: "a lease conflict: the attempt is not the job's latest, or the job is not leased",
  413: "too large: the body is over server.max_body, or a job over the queue's max_payload",
  422: "an Idempotency-Key used again for another request",
  426: "this path is a WebSocket: the request needs Upgrade: websocket",
  429: "too many: the queue is full (max_length), or the token is over its rate",
  503: "Redis cannot serve now: nothing was done, unless the message says the job may have been stored",
  500: "a fault of presque's (a bug, or a key in Redis that presque did not write): logged with its stack; it should not happen",
};

/** Headers an error status always carries. */
const ERROR_HEADERS: Record<number, string[]> = {
  401: ["WWW-Authenticate"],
  426: ["Upgrade"],
  429: ["Retry-After"],
  503: ["Retry-After"],
};

/** What every route that needs a token may answer besides its own errors: the guard's refusals
 *  (src/server/auth/guard.ts: no token, a role or queue it may not use, its rate, the rate check
 *  failing) and app.ts's 500. */
const GUARDED: Errors & { 401: string[]; 403: string[]; 500: string[] } = {
  401: ["a bearer token is required (Authorization: Bearer <token>)", "the token is not valid"],
  403: ["token ci may not call DELETE /q/:queue: that needs the role admin", "token ci may not use this queue"],
  429: ["token ci is limited to 50 requests per second"],
  503: ["redis unavailable"],
  // app.ts's onError, for anything that is not a refusal: documented, since no route is free of bugs
  500: ["internal error"],
};

/** src/server/origin.ts: checked on every request before anything else, tokens or not. The Host
 *  on every route; a foreign Origin or Sec-Fetch-Site on those that change state (every method but
 *  GET, and the GETs that take jobs: under /q/ and /qb/, and the WebSocket of /c/). */
const FOREIGN_HOST = "this server does not answer to that Host (server.allowed_hosts lists the names it answers to)";
const FOREIGN_ORIGIN = [
  "a request that changes state may not come from another site (cross-site)",
  "a request that changes state may not come from another site (same-site)",
  "a request that changes state may not come from another origin",
];
const changesState = (path: string, method: string) => method !== "GET" || TAKES_JOBS.test(path);

function errorResponse(status: number, messages: string[], optional: Record<string, Json> = {}): Json {
  const names = new Map<string, string>();
  const used = new Set<string>();
  for (const message of messages) {
    const name =
      message
        .replace(/[^A-Za-z0-9]+/g, "_")
        .replace(/^_|_$/g, "")
        .slice(0, 60) || "error";
    // two messages that begin alike (cut at 60 characters) each keep an example of their own
    if (!names.has(message)) names.set(message, used.has(name) ? `${name}_${names.size}` : name);
    used.add(names.get(message)!);
  }
  const examples = Object.fromEntries([...names].map(([message, name]) => [name, { value: { error: message } }]));
  const extra: Array<[string, Json]> = (ERROR_HEADERS[status] ?? []).map((h) => [h, { $ref: `#/components/headers/${h}` }]);
  if (status === 413) extra.push(["Connection", { $ref: "#/components/headers/Connection" }]);
  extra.push(...Object.entries(optional));
  return {
    description: MEANING[status] ?? "an error",
    ...(extra.length > 0 && { headers: Object.fromEntries(extra) }),
    content: { "application/json": { schema: schema("Error"), examples } },
  };
}

const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, "{$1}");

function operation(path: string, method: string, op: Operation): Json {
  const { errors, errorHeaders = {}, responses, ...rest } = op;
  const allowed: Allowed = ROUTE_ROLES[path]?.[method as "GET"] ?? ["admin"];
  const all: Record<number, string[]> = {};
  const add = (given: Errors) => {
    for (const [status, messages] of Object.entries(given)) all[Number(status)] = [...(all[Number(status)] ?? []), ...messages];
  };
  add(errors);
  add({ 403: [FOREIGN_HOST, ...(changesState(path, method) ? FOREIGN_ORIGIN : [])] });
  if (allowed !== "public") add(GUARDED);
  const who =
    allowed === "public"
      ? "No token is needed."
      : allowed === "any"
        ? "Any valid token."
        : `Roles: ${allowed.join(", ")} (when tokens are configured).`;
  return {
    ...rest,
    description: [rest.description, who].filter(Boolean).join("\n\n"),
    ...(allowed === "public" ? { security: [] } : { "x-presque-roles": allowed }),
    responses: {
      ...responses,
      ...Object.fromEntries(
        Object.keys(all)
          .sort()
          .map((s) => [s, errorResponse(Number(s), all[Number(s)]!, errorHeaders[Number(s) as keyof typeof errorHeaders])]),
      ),
    },
  };
}

const DESCRIPTION = `presque: a persistent job queue that speaks JSON over HTTP and keeps everything in Redis.

Every error is a JSON body {"error": "..."}. A path asked with a method it does not take is 405 with an Allow header
(HEAD included: it is refused on every route, since a GET on /q takes a job); an unknown path is 404 {"error": "not found"}.
A request with \`Expect: 100-continue\` and a Content-Length over server.max_body is 413 before its body is sent.
Every request, to any path, is 403 when its Host is not one this server answers to (server.allowed_hosts), and a request that
changes state (every method but GET, and the GETs that take jobs: under /q/, /qb/ and /c/) is 403 when it comes from another
origin (Origin, Sec-Fetch-Site): a page on another site can change nothing here.
With tokens configured every operation but those marked public needs \`Authorization: Bearer pq_<id>_<secret>\`, and its
x-presque-roles names the roles that may call it.`;

/** The document, stating the limits of the given configuration (the defaults when none is given). */
export function openApiDocument(limits: Limits = DEFAULTS): Json {
  const paths: Record<string, Json> = {};
  for (const [path, methods] of Object.entries(sections(limits))) {
    const item: Json = {};
    for (const [method, op] of Object.entries(methods)) item[method.toLowerCase()] = operation(path, method, op!);
    paths[openApiPath(path)] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "presque",
      version: PRESQUE_VERSION,
      description: DESCRIPTION,
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    servers: [{ url: "/" }],
    security: [{ bearer: [] }, {}],
    tags: [
      { name: "jobs", description: "one job at a time: /q/{queue}" },
      { name: "batches", description: "many jobs in one request: /qb/{queue}" },
      { name: "leases", description: "one job under a lease: acknowledge, fail, extend, look up" },
      { name: "queues", description: "what a queue holds and how it behaves" },
      { name: "dead", description: "jobs whose attempts ran out" },
      { name: "workers", description: "workers register themselves for statistics" },
      { name: "schedules", description: "recurring jobs: a queue's schedules enqueue a job at each tick" },
      { name: "metrics", description: "Prometheus metrics, and a queue's job events as they happen" },
      { name: "dashboard", description: "the dashboard's page, its files, its live feed and what its token may do" },
      { name: "meta", description: "this document" },
      { name: "errors", description: "paths that only say what is wrong" },
    ],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "pq_<id>_<secret>, from `presque token new`; needed only when tokens are configured",
        },
      },
      parameters: parameters(limits),
      headers,
      schemas: schemas(limits),
      responses: {
        MethodNotAllowed: {
          description: "the path does not take this method (any path: not listed per operation)",
          headers: { Allow: { $ref: "#/components/headers/Allow" } },
          content: json(schema("Error"), { example: { error: "method not allowed" } }),
        },
        NotFound: {
          description: "an unknown path",
          content: json(schema("Error"), { example: { error: "not found" } }),
        },
      },
    },
  };
}
