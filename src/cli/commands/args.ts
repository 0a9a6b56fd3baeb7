// What every client subcommand shares: --url / PRESQUE_URL, --help, and one-line errors.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { Client, ConnectionError, PresqueError } from "../../client/client.js";

/** A mistake in the command line: the message and the command's usage, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** as given; the Client falls back to PRESQUE_URL, PRESQUE_TOKEN and its default URL */
  url?: string;
  token?: string;
}

export function parse(argv: string[], usage: string, options: Options = {}): Parsed | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { url: { type: "string" }, token: { type: "string" }, help: { type: "boolean", short: "h" }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage}`);
  }
  if (parsed.values.help) {
    process.stdout.write(usage);
    return null;
  }
  const url = parsed.values.url as string | undefined;
  const token = parsed.values.token as string | undefined;
  return { values: parsed.values as Parsed["values"], positionals: parsed.positionals, url, token };
}

export function client(args: Parsed): Client {
  // a command line fails fast: one retry, not a minute of them
  return new Client({ url: args.url, token: args.token, retries: 1 });
}

export function requireQueue(positionals: string[], usage: string): string {
  const queue = positionals[0];
  if (!queue) throw new UsageError(`a queue name is needed\n\n${usage}`);
  return queue;
}

export function number(value: string | boolean | undefined, name: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number of at least ${min}`);
  return n;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** The one line a failed command prints. */
export function describeError(err: unknown): string {
  if (err instanceof ConnectionError) return err.message;
  if (err instanceof PresqueError) return `${err.method} ${err.path}: ${err.status} ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
