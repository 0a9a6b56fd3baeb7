// The streaming consumer's messages (docs/streaming.md): what a client may send, checked, and the
// close codes for what cannot be answered message by message.
import { badRequest, HttpError } from "../../shared/errors.js";
import { isObject } from "../http.js";
import { checkSeconds, JOB_ID } from "../params.js";
import { failureReport } from "../routes/jobs.js";

/** RFC 6455 close codes this server uses. */
export const CLOSE = {
  /** the server stops (shutdown): jobs in hand were handed back */
  goingAway: 1001,
  /** a binary frame: this protocol is JSON text */
  unsupported: 1003,
  /** a frame that is not JSON, or not a JSON object */
  invalidData: 1007,
  /** an unknown message type, or a message with more than one */
  policy: 1008,
  /** a frame over MAX_MESSAGE_BYTES (ws closes with it by itself) */
  tooBig: 1009,
} as const;

/** The largest frame a client may send: an ack or fail of max_push jobs fits many times over;
 *  a 1 MB frame is refused with 1009. */
export const MAX_MESSAGE_BYTES = 512 * 1024;

/** The most credit a socket may hold unspent: more is ignored (jobs are leased as they are sent,
 *  and a socket cannot run more than this many at once in any useful sense). */
export const MAX_CREDIT = 10_000;

/** The most queues one socket consumes. */
export const MAX_QUEUES = 100;

/** A message the client may send; the connection closes on anything that is not one. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface JobEntry {
  /** absent: the socket's only queue */
  queue?: string;
  id: string;
  attempt?: number;
}
export interface FailEntry extends JobEntry {
  error: string;
  retryIn?: number;
}
export interface ExtendEntry extends JobEntry {
  seconds: number;
}

export type ClientMessage =
  | { type: "credit"; ref?: Ref; credit: number }
  | { type: "subscribe"; ref?: Ref; queues: string[] }
  | { type: "ack"; ref?: Ref; jobs: JobEntry[] }
  | { type: "fail"; ref?: Ref; jobs: FailEntry[] }
  | { type: "extend"; ref?: Ref; jobs: ExtendEntry[] }
  | { type: "cancel"; ref?: Ref }
  | { type: "events"; ref?: Ref };

export type Ref = string | number;
export type MessageType = ClientMessage["type"];
const TYPES: readonly MessageType[] = ["credit", "subscribe", "ack", "fail", "extend", "cancel", "events"];

export interface Limits {
  maxBatch: number;
  maxLease: number;
}

/**
 * One frame's text as a message. A frame that is not a JSON object, or names no known type or more
 * than one, throws ProtocolError (the socket closes); a known type with bad fields throws an
 * HttpError 400 (answered, the socket stays open), carrying the message's type and ref.
 */
export function parseMessage(text: string, limits: Limits): ClientMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError(CLOSE.invalidData, `not valid JSON: ${(err as Error).message}`.slice(0, 120));
  }
  if (!isObject(value)) throw new ProtocolError(CLOSE.invalidData, "a message is a JSON object");
  const types = Object.keys(value).filter((k) => k !== "ref");
  const known = types.filter((k): k is MessageType => (TYPES as readonly string[]).includes(k));
  if (known.length !== 1 || types.length !== 1) {
    const unknown = types.find((k) => !known.includes(k as MessageType));
    throw new ProtocolError(
      CLOSE.policy,
      unknown !== undefined ? `unknown message type ${JSON.stringify(unknown).slice(0, 40)}` : `one of ${TYPES.join(", ")} per message`,
    );
  }
  const type = known[0];
  const ref = value.ref;
  if (ref !== undefined && !((typeof ref === "string" && ref.length <= 64) || (typeof ref === "number" && Number.isFinite(ref)))) {
    throw new BadMessage(type, undefined, "ref must be a number or a string of at most 64 characters");
  }
  try {
    return { ...fields(type, value[type], limits), ...(ref !== undefined && { ref: ref as Ref }) } as ClientMessage;
  } catch (err) {
    if (err instanceof HttpError) throw new BadMessage(type, ref as Ref | undefined, err.message);
    throw err;
  }
}

/** A known message with bad fields: answered {"for", "ref", "status": 400, "error"}. */
export class BadMessage extends HttpError {
  constructor(
    readonly type: MessageType,
    readonly ref: Ref | undefined,
    message: string,
  ) {
    super(400, message);
  }
}

function fields(type: MessageType, v: unknown, limits: Limits): ClientMessage {
  switch (type) {
    case "credit":
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_CREDIT) {
        throw badRequest(`credit must be an integer from 0 to ${MAX_CREDIT}`);
      }
      return { type, credit: v as number };
    case "subscribe":
      if (!Array.isArray(v) || v.length === 0 || v.length > MAX_QUEUES || !v.every((q) => typeof q === "string")) {
        throw badRequest(`subscribe takes a list of 1 to ${MAX_QUEUES} queue names`);
      }
      return { type, queues: v as string[] };
    case "events":
    case "cancel":
      return { type };
    default:
      return { type, jobs: entries(type, v, limits) } as ClientMessage;
  }
}

function entries(type: "ack" | "fail" | "extend", v: unknown, limits: Limits): JobEntry[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest(`${type} takes a list of at least one job such as {"id": "7", "attempt": 1}`);
  if (v.length > limits.maxBatch) throw badRequest(`at most ${limits.maxBatch} jobs per ${type}`);
  return v.map((job, i) => {
    const where = `${type}[${i}]`;
    if (!isObject(job)) throw badRequest(`${where} must be a JSON object such as {"id": "7", "attempt": 1}`);
    const id = typeof job.id === "number" ? String(job.id) : job.id;
    if (typeof id !== "string" || !JOB_ID.test(id)) throw badRequest(`${where}.id must be a job id`);
    const queue = job.queue;
    if (queue !== undefined && typeof queue !== "string") throw badRequest(`${where}.queue must be a queue name`);
    const attempt = job.attempt ?? undefined;
    if (attempt !== undefined && (!Number.isInteger(attempt) || (attempt as number) < 1 || (attempt as number) > 999_999)) {
      throw badRequest(`${where}.attempt must be a positive integer`);
    }
    const entry: JobEntry = { id, ...(queue !== undefined && { queue }), ...(attempt !== undefined && { attempt: attempt as number }) };
    if (type === "fail") return { ...entry, ...failureReport(job, `${where}.`) };
    if (type === "extend") {
      if (job.seconds === undefined) throw badRequest(`${where}.seconds is missing`);
      const seconds = checkSeconds(job.seconds, `${where}.seconds`, limits.maxLease);
      if (seconds === 0) throw badRequest(`${where}.seconds must be more than 0 and at most ${limits.maxLease}`);
      return { ...entry, seconds };
    }
    return entry;
  });
}
