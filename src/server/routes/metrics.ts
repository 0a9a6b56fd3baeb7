// GET /metrics: Prometheus text exposition (prom-client). The queues' counters and run-time
// histograms are kept in Redis by the scripts (lua/includes/metrics.lua), so every presque process
// reports the same global values; their gauges are read in the same script call; the rest is this
// process's own (src/server/metrics.ts). ?queue=<glob> narrows the queues reported.
import { Registry } from "prom-client";
import { badRequest } from "../../shared/errors.js";
import { READ_CHUNK, readQueues, RUN_BOUNDS_SECONDS, type QueueReading } from "../../store/metrics.js";
import { globMatch } from "../glob.js";
import { sendRaw } from "../http.js";
import { stringParam } from "../params.js";
import type { Context, Router } from "../router.js";

/** Queue names read per round trip while walking the list of queues. */
const PAGE = 1000;
/** Queues read per round trip (src/store/metrics.ts's chunk), and how many such round trips are
 *  in flight at once. */
const QUEUES_PER_CALL = READ_CHUNK;
const AHEAD = 4;
const GLOB = /^[A-Za-z0-9_.:*?-]{1,256}$/;

export function registerMetricsRoute(router: Router, ctx: Context): void {
  const { store } = ctx;
  router.route("/metrics", {
    GET: async (req, res) => {
      const glob = stringParam(req.query, "queue");
      if (glob !== undefined && !GLOB.test(glob)) throw badRequest("queue must be a queue-name glob (A-Z a-z 0-9 _ - . : * ?)");
      // the queues' readings are asked for a round trip's worth at a time, a few round trips ahead
      // of the one being formatted: Redis runs the scripts while this process formats what it has,
      // and only a few round trips' replies and samples are held at once, not every queue's
      const chunks: Promise<string[]>[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const names = await store.lists.queuePage(offset, PAGE);
        const wanted = glob === undefined ? names : names.filter((name) => globMatch(glob, name));
        for (let i = 0; i < wanted.length; i += QUEUES_PER_CALL) {
          if (chunks.length >= AHEAD) await chunks[chunks.length - AHEAD];
          const chunk = readQueues(store, wanted.slice(i, i + QUEUES_PER_CALL), undefined, false).then(async (readings) =>
            (await formatQueues(readings)).map(samplesOf),
          );
          // should a later chunk fail first, this one's failure has nobody to await it
          chunk.catch(() => {});
          chunks.push(chunk);
        }
        if (names.length < PAGE) break;
      }
      const formatted = await Promise.all(chunks);
      // one family's header (prom-client's, from a page of no queues), then its samples page by page
      const families = (await formatQueues([])).map((header, f) =>
        [header, ...formatted.map((page) => page[f]).filter(Boolean)].join("\n"),
      );
      // as prom-client's Registry.merge of the two registries would print them
      const text = `${await ctx.metrics.registry.metrics()}\n${families.join("\n\n")}\n`;
      // encoded once: megabytes at 10,000 queues, which byteLength and end() would each encode
      const body = Buffer.from(text);
      sendRaw(res, 200, body, undefined, ctx.metrics.registry.contentType);
    },
  });
}

/** prom-client's text of each queue family over these queues, in the order of QUEUE_FAMILIES. */
async function formatQueues(readings: QueueReading[]): Promise<string[]> {
  const registry = queueRegistry(readings);
  return Promise.all(registry.getMetricsAsArray().map((metric) => registry.getSingleMetricAsString(metric.name)));
}

/** A family's text without its # HELP and # TYPE lines: the samples, one a line ("" for none). */
function samplesOf(text: string): string {
  const help = text.indexOf("\n");
  const type = text.indexOf("\n", help + 1);
  return type < 0 ? "" : text.slice(type + 1);
}

type MetricType = "counter" | "gauge" | "histogram";
/** one sample, as prom-client's metrics' get() gives them (metricName: a histogram's _bucket, _sum, _count) */
type MetricValue = { value: number; labels: Labels; sharedLabels?: Labels; metricName?: string };
type Labels = Record<string, string | number>;
/** one object for every sample without labels of its own (hundreds of thousands at 10,000 queues);
 *  prom-client only reads it */
const NO_LABELS: Labels = Object.freeze({});
const LE_LABELS: Labels[] = [...RUN_BOUNDS_SECONDS, "+Inf"].map((le) => Object.freeze({ le }));

/** A metric family whose values were read already, in the shape of prom-client's own metrics (what
 *  Registry reads of them: name, help, type and get()): prom-client formats it. */
function family(name: string, help: string, type: MetricType, values: MetricValue[]) {
  const metric = { name, help, type, values, aggregator: "sum" };
  return { name, help, type, aggregator: "sum", get: async () => metric };
}

type Labelled = QueueReading & { label: Labels };

/** The queues' families, in the order a scrape prints them: each adds a queue's samples to `out`. */
interface QueueFamily {
  name: string;
  help: string;
  type: MetricType;
  samples(r: Labelled, out: MetricValue[]): void;
}

const STATES = ["ready", "delayed", "leased", "dead"] as const;
const STATE: Record<(typeof STATES)[number], Labels> = {
  ready: Object.freeze({ state: "ready" }),
  delayed: Object.freeze({ state: "delayed" }),
  leased: Object.freeze({ state: "leased" }),
  dead: Object.freeze({ state: "dead" }),
};
const REASON = { error: Object.freeze({ reason: "error" }), lease_expired: Object.freeze({ reason: "lease_expired" }) };

/** a family of one sample a queue, without labels of its own */
function single(name: string, help: string, type: MetricType, value: (r: QueueReading) => number | null): QueueFamily {
  return {
    name,
    help,
    type,
    samples(r, out) {
      const v = value(r);
      if (v !== null) out.push({ labels: NO_LABELS, sharedLabels: r.label, value: v });
    },
  };
}

const QUEUE_FAMILIES: QueueFamily[] = [
  single(
    "presque_jobs_pushed_total",
    "Jobs stored by pushes, schedule ticks, and PUT /q (which stores a failed job again)",
    "counter",
    (r) => r.counters.pushed,
  ),
  single("presque_jobs_delivered_total", "Jobs handed to consumers, with or without a lease", "counter", (r) => r.counters.delivered),
  single(
    "presque_jobs_acked_total",
    "Jobs acknowledged (a fetch without a lease counts as delivered and acknowledged)",
    "counter",
    (r) => r.counters.acked,
  ),
  {
    name: "presque_jobs_failed_total",
    help: "Failures: reported by a worker (error) or a lease that ran out (lease_expired)",
    type: "counter",
    samples(r, out) {
      out.push({ labels: REASON.error, sharedLabels: r.label, value: r.counters.failed_error });
      out.push({ labels: REASON.lease_expired, sharedLabels: r.label, value: r.counters.failed_lease_expired });
    },
  },
  single("presque_jobs_dead_total", "Jobs moved to the dead set, their attempts used up", "counter", (r) => r.counters.dead),
  {
    name: "presque_queue_jobs",
    help: "Jobs in the queue now, by state",
    type: "gauge",
    samples(r, out) {
      for (const state of STATES) out.push({ labels: STATE[state], sharedLabels: r.label, value: r.gauges[state] });
    },
  },
  single(
    "presque_queue_oldest_ready_age_seconds",
    "Seconds since the oldest ready job was pushed (0 when none is ready; absent when unknown)",
    "gauge",
    (r) => r.gauges.oldestReadyAge,
  ),
  single("presque_queue_stopped", "1 while the queue is stopped (POST /control), else 0", "gauge", (r) => (r.gauges.stopped ? 1 : 0)),
  single("presque_queue_workers", "Workers registered on the queue (POST /w/:queue)", "gauge", (r) => r.gauges.workers),
  {
    name: "presque_job_run_seconds",
    help: "Run time of jobs, from the start of their lease to their acknowledgement or failure report (Redis's clock)",
    type: "histogram",
    samples(r, out) {
      const { counts, sum, count } = r.runtime;
      // a queue none of whose jobs has run yet has no series, as a prom-client histogram has none
      // before its first observation
      if (count === 0) return;
      let cumulative = 0;
      for (let i = 0; i < counts.length; i++) {
        cumulative += counts[i];
        out.push({ metricName: "presque_job_run_seconds_bucket", labels: LE_LABELS[i], sharedLabels: r.label, value: cumulative });
      }
      out.push({ metricName: "presque_job_run_seconds_sum", labels: NO_LABELS, sharedLabels: r.label, value: sum });
      out.push({ metricName: "presque_job_run_seconds_count", labels: NO_LABELS, sharedLabels: r.label, value: count });
    },
  },
];

function queueRegistry(all: QueueReading[]): Registry {
  // each queue's label as one object for all its samples: prom-client formats (and escapes) it once
  const readings = all.map((r): Labelled => Object.assign(r, { label: { queue: r.queue } }));
  const registry = new Registry();
  for (const f of QUEUE_FAMILIES) {
    const values: MetricValue[] = [];
    for (const r of readings) f.samples(r, values);
    registry.registerMetric(family(f.name, f.help, f.type, values) as never);
  }
  return registry;
}
