// Logs are JSON lines (pino). No line may carry a job payload or a token: ioredis attaches the
// failed command with all its arguments (job payloads, for a push) to its errors, and pino's
// standard error serialiser writes every property of an error. Errors are therefore written as
// their name, message, stack and the command's name only, under whatever key they are logged.
import { pino, type DestinationStream, type Logger } from "pino";

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { name: "presque", level, base: { pid: process.pid }, serializers: { err: errorForLog, error: errorForLog } };
  return destination ? pino(options, destination) : pino(options);
}

export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  /** the Redis command that failed (its name: never its arguments) */
  command?: string;
  code?: string;
  cause?: LoggedError | string;
}

/** An error as a log line may show it; anything that is not an Error is shown by its type only. */
export function errorForLog(err: unknown, depth = 0): LoggedError | string {
  if (!(err instanceof Error)) return typeof err === "string" ? err : `(${typeof err})`;
  const e = err as Error & { command?: { name?: unknown }; code?: unknown };
  const out: LoggedError = { type: e.name, message: e.message, stack: e.stack };
  if (e.command && typeof e.command.name === "string") out.command = e.command.name;
  if (typeof e.code === "string") out.code = e.code;
  if (e.cause !== undefined && depth < 3) out.cause = errorForLog(e.cause, depth + 1);
  return out;
}

/** Conditions that fail many requests at once (Redis out of memory) are warned about once per
 *  interval, with the number of requests they failed since, instead of once per request. */
export class Notices {
  private readonly last = new Map<string, { at: number; count: number }>();

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 10_000,
  ) {}

  note(what: string): void {
    const now = Date.now();
    const seen = this.last.get(what);
    if (seen && now - seen.at < this.everyMs) {
      seen.count++;
      return;
    }
    // the requests refused since the last warning, this one included
    this.log.warn({ requests: (seen?.count ?? 0) + 1 }, what);
    this.last.set(what, { at: now, count: 0 });
  }
}
