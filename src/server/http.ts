// Request bodies and responses, shared by the routes (query and header readers: src/server/params.ts).
import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, HttpError } from "../shared/errors.js";
import type { Token } from "./auth/tokens.js";

export type Query = Record<string, string | string[] | undefined>;
export interface Req extends IncomingMessage {
  params: Record<string, string>;
  query: Query;
  path: string;
  /** the token the request came with (set by auth/guard.ts); absent when no tokens are configured */
  token?: Token;
  /** the pattern of the route that took the request (src/server/router.ts) */
  route?: string;
}
export type Res = ServerResponse;

const JSON_TYPE = "application/json; charset=utf-8";

export function sendJson(res: Res, status: number, body: unknown, headers?: Record<string, string | number>): void {
  sendRaw(res, status, JSON.stringify(body), headers);
}

/** `headers`: any but content-type and content-length, which are set here; `type` for the few
 *  answers that are not JSON (the dashboard's files, /metrics) */
export function sendRaw(
  res: Res,
  status: number,
  body: string | Buffer,
  headers?: Record<string, string | number>,
  type = JSON_TYPE,
): void {
  // a list, not an object spread: the hot routes answer this way, and Node takes a list as it is
  const list: Array<string | number> = ["content-type", type, "content-length", Buffer.byteLength(body)];
  if (headers !== undefined) for (const name in headers) list.push(name, headers[name]);
  res.writeHead(status, list);
  res.end(body);
  answered(res);
}

export function sendEmpty(res: Res, status = 204): void {
  res.writeHead(status);
  res.end();
  answered(res);
}

// --- timing (presque_http_request_duration_seconds)

/** When the request arrived (performance.now()), and what to tell once it is answered; both set by
 *  src/server/app.ts. Properties of the response rather than a "finish" listener on each, which
 *  cost a measurable share of the hot routes: the answers above call answered() themselves, and a
 *  stream that ends later (server-sent events) calls answeredOnFinish() when it starts. */
export const ARRIVED = Symbol("arrived");
export const ON_ANSWER = Symbol("onAnswer");
export type Timed = Res & { [ARRIVED]?: number; [ON_ANSWER]?: (res: Res, seconds: number) => void };

export function answered(res: Res): void {
  const timed = res as Timed;
  const tell = timed[ON_ANSWER];
  if (tell === undefined) return;
  timed[ON_ANSWER] = undefined; // once, whatever else ends the response later
  tell(res, (performance.now() - timed[ARRIVED]!) / 1000);
}

export function answeredOnFinish(res: Res): void {
  res.once("finish", () => answered(res));
}

// --- bodies

export function readBody(req: Req, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  // plain listeners: the stream's async iterator costs a measurable share of a small POST
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData); // what else comes is read and dropped, never kept
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    // a client that goes away mid-upload: nobody is left to answer, and it is not our bug
    req.once("error", () => reject(new HttpError(400, "the request was cut short")));
  });
}

export function tooLarge(limit: number): HttpError {
  // the rest of the body is not read: the connection closes after the answer
  return new HttpError(413, `body is larger than ${limit} bytes`, { connection: "close" });
}

export function requireJsonType(req: Req): void {
  const type = req.headers["content-type"];
  if (!type) throw badRequest("Content-Type must be application/json");
  if (type.split(";")[0].trim().toLowerCase() !== "application/json") {
    throw badRequest(`Content-Type must be application/json, not ${type.split(";")[0].trim()}`);
  }
}

/** How deeply a job may nest arrays and objects (a job at the top level counts 1). Deeper JSON is
 *  refused before it is parsed: V8's JSON.parse and JSON.stringify recurse, and a 200,000-deep
 *  array overflows the stack of whatever touches it next. */
export const MAX_JSON_DEPTH = 64;

/** Whether JSON text nests arrays and objects deeper than `max`, read once from start to end
 *  (brackets inside strings do not count). Bytes: UTF-8 never puts an ASCII byte inside a
 *  multi-byte character, so a Buffer is scanned as it is. */
export function nestedDeeperThan(text: Buffer | string, max: number): boolean {
  const buffer = typeof text !== "string";
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = buffer ? (text as Buffer)[i] : (text as string).charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
  }
  return false;
}

const [QUOTE, BACKSLASH, OPEN_BRACKET, CLOSE_BRACKET, OPEN_BRACE, CLOSE_BRACE] = [34, 92, 91, 93, 123, 125];

/** A JSON body, parsed; `maxDepth` is MAX_JSON_DEPTH plus the levels a body wraps its jobs in. */
export function parseJson(body: Buffer | string, what: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (body.length === 0) throw badRequest(`${what} is missing`);
  if (nestedDeeperThan(body, maxDepth)) throw badRequest(`${what} nests arrays and objects deeper than ${maxDepth} levels`);
  try {
    return JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw badRequest(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A job body: one JSON object, returned as the text that was sent. JSON is UTF-8 (RFC 8259), so
 *  the text holds exactly the bytes that were sent; other bytes are refused rather than altered. */
export async function readJob(req: Req, limit: number): Promise<string> {
  requireJsonType(req);
  const body = await readBody(req, limit);
  if (!isUtf8(body)) throw badRequest("job is not valid UTF-8");
  const text = body.toString("utf8");
  if (!isObject(parseJson(text, "job"))) throw badRequest("job must be a JSON object");
  return text;
}

/** A JSON object body whose Content-Type is not insisted upon (presque's /control and /w clients). */
export async function readLooseObject(req: Req, limit: number, what: string): Promise<Record<string, unknown>> {
  const value = parseJson(await readBody(req, limit), what);
  if (!isObject(value)) throw badRequest(`${what} must be a JSON object`);
  return value;
}

/** Aborts when the client goes away before its answer, so that a long poll stops waiting for it. */
export function closeSignal(res: Res): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => controller.abort());
  return controller.signal;
}
