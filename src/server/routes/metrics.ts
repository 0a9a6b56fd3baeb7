// GET /metrics: Prometheus text exposition (prom-client). The queues' counters and run-time
// histograms are kept in Redis by the scripts (lua/includes/metrics.lua), so every presque process
// reports the same global values; their gauges are read in the same script call; the rest is this
// process's own (src/server/metrics.ts). ?queue=<glob> narrows the queues reported.
import { Registry } from "prom-client";
import { badRequest } from "../../shared/errors.js";
import { readQueues, type QueueReading } from "../../store/metrics.js";
import { globMatch } from "../glob.js";
import { sendRaw } from "../http.js";
import { stringParam } from "../params.js";
import type { Context, Router } from "../router.js";

/** Queue names read per round trip while walking the list of queues. */
const PAGE = 1000;
const GLOB = /^[A-Za-z0-9_.:*?-]{1,256}$/;

export function registerMetricsRoute(router: Router, ctx: Context): void {
  const { store } = ctx;
  router.route("/metrics", {
    GET: async (req, res) => {
      const glob = stringParam(req.query, "queue");
      if (glob !== undefined && !GLOB.test(glob)) throw badRequest("queue must be a queue-name glob (A-Z a-z 0-9 _ - . : * ?)");
      // each page's readings are asked for as soon as its names are in, not after the last page's
      // came back: Redis runs the scripts while this process decodes what it already has
      const pages: Promise<QueueReading[]>[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const names = await store.lists.queuePage(offset, PAGE);
        const wanted = glob === undefined ? names : names.filter((name) => globMatch(glob, name));
        if (wanted.length > 0) {
          const page = readQueues(store, wanted, undefined, false);
          // should a later page's names fail to come, this one's failure has nobody to await it
          page.catch(() => {});
          pages.push(page);
        }
        if (names.length < PAGE) break;
      }
      const readings = (await Promise.all(pages)).flat();
      const scrape = Registry.merge([ctx.metrics.registry, queueRegistry(readings)]);
      // encoded once: megabytes at 10,000 queues, which byteLength and end() would each encode
      const body = Buffer.from(await scrape.metrics());
      sendRaw(res, 200, body, undefined, scrape.contentType);
    },
  });
}

type MetricType = "counter" | "gauge" | "histogram";
/** one sample, as prom-client's metrics' get() gives them (metricName: a histogram's _bucket, _sum, _count) */
type MetricValue = { value: number; labels: Record<string, string | number>; sharedLabels?: Labels; metricName?: string };
type Labels = Record<string, string>;
/** one object for every sample without labels of its own (hundreds of thousands at 10,000 queues);
 *  prom-client only reads it */
const NO_LABELS: Labels = Object.freeze({}) as Labels;

/** A metric family whose values were read already, in the shape of prom-client's own metrics (what
 *  Registry reads of them: name, help, type and get()): prom-client formats it. */
function family(name: string, help: string, type: MetricType, values: MetricValue[]) {
  const metric = { name, help, type, values, aggregator: "sum" };
  return { name, help, type, aggregator: "sum", get: async () => metric };
}

function queueRegistry(all: QueueReading[]): Registry {
  // each queue's label as one object for all its samples: prom-client formats (and escapes) it once
  const readings = all.map((r) => Object.assign(r, { label: { queue: r.queue } }));
  const counter = (name: string, help: string, value: (r: QueueReading) => number) =>
    family(
      name,
      help,
      "counter",
      readings.map((r) => ({ labels: NO_LABELS, sharedLabels: r.label, value: value(r) })),
    );
  const gauge = (name: string, help: string, values: MetricValue[]) => family(name, help, "gauge", values);
  const families = [
    counter(
      "presque_jobs_pushed_total",
      "Jobs stored by pushes, schedule ticks, and PUT /q (which stores a failed job again)",
      (r) => r.counters.pushed,
    ),
    counter("presque_jobs_delivered_total", "Jobs handed to consumers, with or without a lease", (r) => r.counters.delivered),
    counter(
      "presque_jobs_acked_total",
      "Jobs acknowledged (a fetch without a lease counts as delivered and acknowledged)",
      (r) => r.counters.acked,
    ),
    family(
      "presque_jobs_failed_total",
      "Failures: reported by a worker (error) or a lease that ran out (lease_expired)",
      "counter",
      readings.flatMap((r) => [
        { labels: { reason: "error" }, sharedLabels: r.label, value: r.counters.failed_error },
        { labels: { reason: "lease_expired" }, sharedLabels: r.label, value: r.counters.failed_lease_expired },
      ]),
    ),
    counter("presque_jobs_dead_total", "Jobs moved to the dead set, their attempts used up", (r) => r.counters.dead),
    gauge(
      "presque_queue_jobs",
      "Jobs in the queue now, by state",
      readings.flatMap((r) =>
        (["ready", "delayed", "leased", "dead"] as const).map((state) => ({
          labels: { state },
          sharedLabels: r.label,
          value: r.gauges[state],
        })),
      ),
    ),
    gauge(
      "presque_queue_oldest_ready_age_seconds",
      "Seconds since the oldest ready job was pushed (0 when none is ready; absent when unknown)",
      readings.flatMap((r) =>
        r.gauges.oldestReadyAge === null ? [] : [{ labels: NO_LABELS, sharedLabels: r.label, value: r.gauges.oldestReadyAge }],
      ),
    ),
    gauge(
      "presque_queue_stopped",
      "1 while the queue is stopped (POST /control), else 0",
      readings.map((r) => ({ labels: NO_LABELS, sharedLabels: r.label, value: r.gauges.stopped ? 1 : 0 })),
    ),
    gauge(
      "presque_queue_workers",
      "Workers registered on the queue (POST /w/:queue)",
      readings.map((r) => ({ labels: NO_LABELS, sharedLabels: r.label, value: r.gauges.workers })),
    ),
    family(
      "presque_job_run_seconds",
      "Run time of jobs, from the start of their lease to their acknowledgement or failure report (Redis's clock)",
      "histogram",
      // a queue none of whose jobs has run yet has no series, as a prom-client histogram has none
      // before its first observation
      readings.flatMap((r) => (r.runtime.count > 0 ? runtimeValues(r) : [])),
    ),
  ];
  const registry = new Registry();
  for (const f of families) registry.registerMetric(f as never);
  return registry;
}

function runtimeValues(r: QueueReading & { label: Labels }): MetricValue[] {
  const { bounds, counts, sum, count } = r.runtime;
  const values: MetricValue[] = [];
  let cumulative = 0;
  counts.forEach((n, i) => {
    cumulative += n;
    const le = i < bounds.length ? bounds[i] : "+Inf";
    values.push({ metricName: "presque_job_run_seconds_bucket", labels: { le }, sharedLabels: r.label, value: cumulative });
  });
  values.push({ metricName: "presque_job_run_seconds_sum", labels: NO_LABELS, sharedLabels: r.label, value: sum });
  values.push({ metricName: "presque_job_run_seconds_count", labels: NO_LABELS, sharedLabels: r.label, value: count });
  return values;
}
