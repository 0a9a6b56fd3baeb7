// The part of autocannon 9's API the benchmark uses (the package ships no types).
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  export interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** called before each send; returns the request to send */
    setupRequest?: (req: Request, context: Record<string, unknown>) => Request;
    /** headers arrive as sent, name case included */
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string>) => void;
  }

  export interface Options extends Request {
    url: string;
    connections?: number;
    duration?: number;
    /** total requests; overrides duration */
    amount?: number;
    pipelining?: number;
    timeout?: number;
    requests?: Request[];
  }

  export interface Result {
    duration: number;
    requests: { total: number; average: number };
    latency: { p50: number; p99: number; average: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    statusCodeStats: Record<string, { count: number }>;
  }

  export interface Instance extends EventEmitter, PromiseLike<Result> {}

  function autocannon(opts: Options): Instance;
  export default autocannon;
}
