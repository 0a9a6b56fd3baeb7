// Load generation: autocannon for the fixed-concurrency HTTP scenarios, a small node:http
// client for the ones autocannon cannot express (long polls measured from push to delivery).
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import autocannon, { type Request } from "autocannon";

/** Latencies in ms, kept whole so that percentiles are exact (autocannon rounds to whole ms). */
export class Samples {
  private values = new Float64Array(1 << 16);
  count = 0;

  add(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
  }

  summary(): { p50: number; p99: number; mean: number } {
    if (this.count === 0) return { p50: NaN, p99: NaN, mean: NaN };
    const sorted = this.values.slice(0, this.count).sort();
    const at = (p: number) => sorted[Math.min(this.count - 1, Math.ceil((p / 100) * this.count) - 1)];
    let sum = 0;
    for (const v of sorted) sum += v;
    return { p50: at(50), p99: at(99), mean: sum / this.count };
  }
}

export interface Load {
  seconds: number;
  /** every response, whatever its status */
  requests: number;
  ok: number;
  non2xx: number;
  /** connection errors and timeouts */
  errors: number;
  statusCodes: Record<string, number>;
  reqPerSec: number;
  /** ms, over 2xx responses only */
  p50: number;
  p99: number;
  mean: number;
}

export interface CannonSpec {
  url: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** a cycle of requests per connection (each connection runs them in order, again and again) */
  requests?: Request[];
}

/** A run of `seconds`, or of `amount` requests in all when that is given. */
export async function cannon(spec: CannonSpec, connections: number, seconds: number, amount?: number): Promise<Load> {
  const samples = new Samples();
  // autocannon takes the path of a single request from the URL only
  const { path, ...rest } = spec;
  const run = autocannon({ ...rest, url: path ? `${spec.url}${path}` : spec.url, connections, duration: seconds, amount, timeout: 30 });
  run.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) samples.add(ms);
  });
  const r = await run;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) statusCodes[code] = count;
  const requests = r.requests.total;
  return {
    seconds: r.duration,
    requests,
    ok: requests - r.non2xx,
    non2xx: r.non2xx,
    errors: r.errors,
    statusCodes,
    reqPerSec: requests / r.duration,
    ...samples.summary(),
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on a keep-alive agent; `signal` aborts it (the long polls at the end of a run). */
export function send(
  agent: Agent,
  base: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        signal,
        headers:
          body === undefined ? headers : { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `task` from `concurrency` loops until `until()` says stop; resolves when all have. */
export async function loops(concurrency: number, until: () => boolean, task: (loop: number) => Promise<void>): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      while (!until()) await task(i);
    }),
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
