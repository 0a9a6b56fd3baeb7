// What GET /metrics reports of this process (prom-client): its default process metrics, HTTP
// request durations by route pattern, script call durations, long-poll waiters and the build.
// The queues' figures are not here: they are kept in Redis by the scripts and read at scrape time
// (src/server/routes/metrics.ts), so that every process reports the same global values.
import { readFileSync } from "node:fs";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

const VERSION: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

/** Seconds: a request or a script call takes well under a millisecond to a long poll's wait. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

class Series {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  add(value: number): void {
    let b = 0;
    while (b < this.bounds.length && value > this.bounds[b]) b++;
    this.counts[b]++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram counted on the hot path with a Map lookup and a few additions (prom-client's own
 *  validates and hashes its labels on every observation), handed to prom-client to format in the
 *  shape of its own metrics' get(). */
class HotHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly all = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: number[],
  ) {}

  /** key: the label values joined, which `labels` builds the labels of when the series is new */
  observe(key: string, labels: () => Record<string, string>, value: number): void {
    this.series(key, labels).add(value);
  }

  /** the series of these label values, made on first use; kept by callers that count often */
  series(key: string, labels: () => Record<string, string>): Series {
    let s = this.all.get(key);
    if (!s) {
      s = new Series(labels(), this.bounds);
      this.all.set(key, s);
    }
    return s;
  }

  async get() {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const s of this.all.values()) {
      let cumulative = 0;
      s.counts.forEach((n, b) => {
        cumulative += n;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...s.labels, le: b < this.bounds.length ? this.bounds[b] : "+Inf" },
          value: cumulative,
        });
      });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** the methods presque serves (src/server/router.ts) numbered from 1, 0 for any other */
function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    default:
      return 0;
  }
}

export class ProcessMetrics {
  readonly registry = new Registry();
  private readonly http: HotHistogram;
  private readonly scripts: HotHistogram;
  private readonly requests = new Map<string, Map<number, Series>>();

  constructor(opts: { layout: number; longPollWaiters: () => number }) {
    // the event-loop lag is sampled by a timer: every 100 ms instead of prom-client's 10 ms, which
    // woke an idle server 100 times a second (1,000 idle consumers: 0.5-0.9 % of a core a 10 s
    // window, from 0.7-1.1 %), and a scrape's percentiles still rest on hundreds of samples
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    // gauges named like counters, which promtool check metrics rejects; nodejs_active_handles,
    // _requests and _resources have the same figures by type
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      this.registry.removeSingleMetric(name);
    }
    this.http = new HotHistogram(
      "presque_http_request_duration_seconds",
      "HTTP requests by route pattern, method and status code, from arrival until the whole answer is handed to the connection",
      DURATION_BUCKETS,
    );
    this.scripts = new HotHistogram(
      "presque_redis_script_duration_seconds",
      "Lua script calls by script, as this process waited for them (round trip included)",
      DURATION_BUCKETS,
    );
    this.registry.registerMetric(this.http as never);
    this.registry.registerMetric(this.scripts as never);
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

  /** route: the route's pattern (never the raw path: a label per queue or job would grow forever);
   *  a method presque does not serve counts as "other" */
  observeRequest(route: string, method: string, code: number, seconds: number): void {
    // by route, then by method and code as one number: no key string built per request
    let byCode = this.requests.get(route);
    if (!byCode) this.requests.set(route, (byCode = new Map()));
    const m = methodIndex(method);
    let s = byCode.get(code * 8 + m);
    if (!s) {
      const name = m === 0 ? "other" : method;
      s = this.http.series(`${route} ${name} ${code}`, () => ({ route, method: name, code: String(code) }));
      byCode.set(code * 8 + m, s);
    }
    s.add(seconds);
  }

  observeScript(script: string, seconds: number): void {
    this.scripts.observe(script, () => ({ script }), seconds);
  }
}
