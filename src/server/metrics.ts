// What GET /metrics reports of this process (prom-client): its default process metrics, HTTP
// request durations by route pattern, script call durations, long-poll waiters and the build.
// The queues' figures are not here: they are kept in Redis by the scripts and read at scrape time
// (src/server/routes/metrics.ts), so that every process reports the same global values.
import { readFileSync } from "node:fs";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

const VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

/** Seconds: a request or a script call takes well under a millisecond to a long poll's wait. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Observer {
  observe(value: number): void;
}

export class ProcessMetrics {
  readonly registry = new Registry();
  private readonly http: Histogram<"route" | "method" | "code">;
  private readonly scripts: Histogram<"script">;
  /** label children by their values: the hot path pays a Map lookup, not prom-client's label hashing */
  private readonly httpChildren = new Map<string, Observer>();
  private readonly scriptChildren = new Map<string, Observer>();

  constructor(opts: { layout: number; longPollWaiters: () => number }) {
    collectDefaultMetrics({ register: this.registry });
    // gauges named like counters, which promtool check metrics rejects; nodejs_active_handles,
    // _requests and _resources have the same figures by type
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      this.registry.removeSingleMetric(name);
    }
    this.http = new Histogram({
      name: "presque_http_request_duration_seconds",
      help: "HTTP requests by route pattern, method and status code, from arrival to the last byte of the answer",
      labelNames: ["route", "method", "code"],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    this.scripts = new Histogram({
      name: "presque_redis_script_duration_seconds",
      help: "Lua script calls by script, as this process waited for them (round trip included)",
      labelNames: ["script"],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
    new Gauge({
      name: "presque_long_poll_waiters",
      help: "Requests of this process waiting for a job right now",
      registers: [this.registry],
      collect() {
        this.set(opts.longPollWaiters());
      },
    });
    new Gauge({
      name: "presque_build_info",
      help: "The presque version and data layout this process runs (always 1)",
      labelNames: ["version", "layout"],
      registers: [this.registry],
    }).set({ version: VERSION, layout: String(opts.layout) }, 1);
  }

  /** route: the route's pattern (never the raw path: a label per queue or job would grow forever) */
  observeRequest(route: string, method: string, code: number, seconds: number): void {
    const key = `${route} ${method} ${code}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.http.labels(route, method, String(code));
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  observeScript(script: string, seconds: number): void {
    let child = this.scriptChildren.get(script);
    if (!child) {
      child = this.scripts.labels(script);
      this.scriptChildren.set(script, child);
    }
    child.observe(seconds);
  }
}
