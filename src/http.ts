// Request parsing and response helpers shared by the routes.
import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest, HttpError } from "./errors.js";
import { isQueueName } from "./keys.js";

export type Query = Record<string, string | string[] | undefined>;
export interface Req extends IncomingMessage {
  params: Record<string, string>;
  query: Query;
  path: string;
}
export type Res = ServerResponse;

const JSON_TYPE = "application/json; charset=utf-8";

export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  sendRaw(res, status, JSON.stringify(body), headers);
}

export function sendRaw(res: Res, status: number, body: string | Buffer, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendEmpty(res: Res, status = 204): void {
  res.writeHead(status);
  res.end();
}

export function queueParam(req: Req): string {
  const name = req.params.queue;
  if (name === undefined || !isQueueName(name)) throw badRequest("invalid queue name");
  return name;
}

export function jobIdParam(req: Req): string {
  const id = req.params.id;
  if (!/^[1-9][0-9]{0,15}$/.test(id ?? "")) throw new HttpError(404, "no such job");
  return id;
}

// --- query parameters

function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw badRequest(`${name} is given more than once`);
  return v;
}

export function stringParam(query: Query, name: string): string | undefined {
  const v = single(query, name);
  return v === "" ? undefined : v;
}

export function intParam(query: Query, name: string, min: number, max: number): number | undefined;
export function intParam(query: Query, name: string, min: number, max: number, fallback: number): number;
export function intParam(query: Query, name: string, min: number, max: number, fallback?: number): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return fallback;
  return checkInt(raw, name, min, max);
}

export function checkInt(raw: unknown, name: string, min: number, max: number): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** A point in time, in epoch seconds (fractions allowed), as presque's `delayed` takes it. */
export function epochParam(query: Query, name: string): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  const n = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n > 1e11) throw badRequest(`${name} must be a time in epoch seconds`);
  return n;
}

/** The worker named by the X-presque-workerid header (or, as presque's clients also did, ?worker_id=). */
export function workerId(req: Req): string {
  const header = req.headers["x-presque-workerid"];
  const id = (Array.isArray(header) ? header[0] : header) ?? single(req.query, "worker_id") ?? "";
  if (id.length > 256) throw badRequest("worker_id is longer than 256 characters");
  return id;
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

export function parseJson(body: Buffer | string, what: string): unknown {
  if (body.length === 0) throw badRequest(`${what} is missing`);
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

/** A non-negative number of seconds (fractions allowed) no larger than max. */
export function secondsParam(query: Query, name: string, max: number): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  return checkSeconds(raw, name, max);
}

export function checkSeconds(raw: unknown, name: string, max: number): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > max) throw badRequest(`${name} must be a number of seconds from 0 to ${max}`);
  return n;
}
