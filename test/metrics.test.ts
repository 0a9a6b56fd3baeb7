// GET /metrics through two presque processes on one Redis (or one Redis Cluster): after known
// operations both report the same counters, kept by the scripts in Redis, read back with a real
// exposition parser; promtool finds nothing to complain about.
import { spawnSync } from "node:child_process";
import parse, { type Family } from "parse-prometheus-text-format";
import t from "tap";
import { createLogger } from "../src/shared/log.js";
import { startServer, type RunningServer } from "../src/server/start.js";
import { RUN_BOUNDS_SECONDS, readQueueMetrics } from "../src/store/metrics.js";
import { findOnPath } from "../src/store/redis.js";
import { client, ON_CLUSTER, queueName, redisUrl, sleep, startRedis, testCluster, testConfig, type Client } from "./helpers.js";

async function twoProcesses(): Promise<[RunningServer, RunningServer]> {
  let config;
  if (ON_CLUSTER) {
    config = testConfig("");
    delete config.redis.url;
    config.redis.cluster = (await testCluster()).urls;
  } else {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    config = testConfig(await redisUrl(redis));
  }
  const log = createLogger(config.log.level);
  const servers = await Promise.all([startServer(config, log), startServer(config, log)]);
  // before the Redis stops (teardowns run last first)
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  return servers as [RunningServer, RunningServer];
}

const [one, two] = await twoProcesses();
const a = client(one.url);
const b = client(two.url);

async function scrape(http: Client, query = ""): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await http("GET", `/metrics${query}`);
  t.equal(res.status, 200);
  t.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  return { text: res.text, families: new Map(parse(res.text).map((f) => [f.name, f])) };
}

/** One sample's value, found by its labels. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const sample = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
}

const q = queueName("metrics");
const idle = queueName("metrics-idle");

t.test("known operations through two processes, counted once in Redis", async (t) => {
  t.equal((await a("POST", `/control/${q}`, { body: { max_attempts: 2 } })).status, 200);
  // 10 pushed: 5 in a batch through one process, 5 one by one through the other
  t.equal((await a("POST", `/qb/${q}`, { body: { jobs: [1, 2, 3, 4, 5].map((n) => ({ n })) } })).status, 201);
  for (let n = 6; n <= 10; n++) t.equal((await b("POST", `/q/${q}`, { body: { n } })).status, 201);

  // 6 leased for a minute through one, 4 for a second through the other
  const long = await a("GET", `/qb/${q}?batch_size=6&lease=60`);
  const longIds = long.headers.get("x-presque-jobids")!.split(",");
  t.equal(longIds.length, 6);
  const short = await b("GET", `/qb/${q}?batch_size=4&lease=1`);
  t.equal(short.headers.get("x-presque-jobids")!.split(",").length, 4);

  // 4 acked in a batch, 1 alone, 1 failed and handed back at once
  const acked = await b("POST", `/qb/${q}/ack`, { body: { jobs: longIds.slice(0, 4).map((id) => ({ id, attempt: 1 })) } });
  t.equal(acked.status, 200);
  t.equal((await a("DELETE", `/q/${q}/${longIds[4]}`, { headers: { "x-presque-attempt": "1" } })).status, 204);
  const failed = await a("PUT", `/q/${q}/${longIds[5]}`, { body: { error: "boom", retry_in: 0 }, headers: { "x-presque-attempt": "1" } });
  t.equal(failed.status, 200);

  // the four short leases run out: failures of their own kind, ready again (attempt 1 of 2)
  await sleep(1300);
  const again = await b("GET", `/qb/${q}?batch_size=10&lease=60`);
  const againIds = again.headers.get("x-presque-jobids")!.split(",");
  t.equal(againIds.length, 5, "the failed job and the four whose lease ran out");
  t.same(new Set(again.headers.get("x-presque-attempts")!.split(",")), new Set(["2"]));
  // their second failure is their last: dead
  const dead = await a("POST", `/qb/${q}/fail`, { body: { jobs: againIds.map((id) => ({ id, attempt: 2, error: "again" })) } });
  t.equal(dead.status, 200);

  // another queue with two jobs waiting
  t.equal((await a("POST", `/qb/${idle}`, { body: { jobs: [{ x: 1 }, { x: 2 }] } })).status, 201);

  const [fromA, fromB] = [await scrape(a), await scrape(b)];
  for (const [name, { families }] of [
    ["first process", fromA],
    ["second process", fromB],
  ] as const) {
    const at = (metric: string, labels: Record<string, string> = {}) => value(families, metric, { queue: q, ...labels });
    t.equal(at("presque_jobs_pushed_total"), 10, `${name}: pushed`);
    t.equal(at("presque_jobs_delivered_total"), 15, `${name}: delivered`);
    t.equal(at("presque_jobs_acked_total"), 5, `${name}: acked`);
    t.equal(at("presque_jobs_failed_total", { reason: "error" }), 6, `${name}: failure reports`);
    t.equal(at("presque_jobs_failed_total", { reason: "lease_expired" }), 4, `${name}: leases that ran out`);
    t.equal(at("presque_jobs_dead_total"), 5, `${name}: dead`);
    for (const [state, n] of Object.entries({ ready: 0, delayed: 0, leased: 0, dead: 5 })) {
      t.equal(at("presque_queue_jobs", { state }), n, `${name}: ${state} now`);
    }
    t.equal(at("presque_queue_stopped"), 0);
    t.equal(at("presque_queue_workers"), 0);
    t.equal(at("presque_queue_oldest_ready_age_seconds"), 0, "none ready");
    t.equal(value(families, "presque_queue_jobs", { queue: idle, state: "ready" }), 2);
    const age = value(families, "presque_queue_oldest_ready_age_seconds", { queue: idle })!;
    t.ok(age >= 0 && age < 60, `${name}: the oldest ready job's age (${age} s)`);

    // the parser folds a histogram's series into one (it reads unlabelled histograms only): one
    // queue's alone, narrowed by ?queue=, is read right
    const runs = (await scrape(name === "first process" ? a : b, `?queue=${q}`)).families.get("presque_job_run_seconds")!;
    t.equal(runs.type, "HISTOGRAM");
    t.equal(runs.metrics.length, 1);
    const buckets = runs.metrics[0].buckets!;
    // every ack and failure report of a leased job: 4 + 1 + 1 + 5
    t.equal(Number(buckets["+Inf"]), 11, `${name}: run times counted`);
    const bounds = Object.keys(buckets)
      .filter((le) => le !== "+Inf")
      .map(Number)
      .sort((x, y) => x - y);
    t.same(bounds, RUN_BOUNDS_SECONDS, "the buckets' bounds");
    const counts = bounds.map((le) => Number(buckets[String(le)]));
    t.same(
      counts,
      [...counts].sort((x, y) => x - y),
      "cumulative",
    );
    t.ok(counts[counts.length - 1] <= 11);
  }
  // the same histogram as the reader gives it to the dashboard: per bucket, with its sum
  const [read] = await readQueueMetrics(one.context.store, [q]);
  t.equal(read.runtime.count, 11);
  t.equal(
    read.runtime.counts.reduce((x, y) => x + y, 0),
    11,
  );
  t.ok(read.runtime.sum > 0 && read.runtime.sum < 11 * 60, `run time sum ${read.runtime.sum} s`);
  t.same(read.counters, { pushed: 10, delivered: 15, acked: 5, failed_error: 6, failed_lease_expired: 4, dead: 5 });
  const thisMinute = read.minutes[read.minutes.length - 1];
  t.equal(read.minutes.length, 15);
  const total = (field: "pushed" | "acked" | "failed") => read.minutes.reduce((sum, m) => sum + m[field], 0);
  t.same([total("pushed"), total("acked"), total("failed")], [10, 5, 10], "the minute ring");
  t.ok(Math.abs(thisMinute.minute - Math.floor(Date.now() / 60000)) <= 1, "the last slot is this minute");

  // per process: its own requests, by route pattern, never by path
  // (histograms with labels: read off the text, see above)
  t.equal(fromA.families.get("presque_http_request_duration_seconds")?.type, "HISTOGRAM");
  t.match(
    fromA.text,
    /\npresque_http_request_duration_seconds_count\{route="\/qb\/:queue",method="POST",code="201"\} [1-9]/,
    "by route pattern",
  );
  t.notOk(fromA.text.includes(`route="/qb/${q}`), "no raw path in a label");
  t.match(fromA.text, /\npresque_redis_script_duration_seconds_count\{script="pushJobs"\} [1-9]/, "script call durations");
  t.equal(value(fromA.families, "presque_long_poll_waiters", {}), 0);
  t.ok(fromA.families.get("presque_build_info")?.metrics[0].labels?.version, "build info");
  t.ok(fromA.families.has("process_cpu_seconds_total"), "prom-client's process metrics");
  for (const label of ["id", "job", "worker", "token", "error"]) t.notMatch(fromA.text, new RegExp(`[{,]${label}=`), `no ${label} label`);
});

t.test("?queue= narrows the queues to a glob", async (t) => {
  const { families } = await scrape(a, `?queue=${encodeURIComponent(idle.slice(0, -3) + "*")}`);
  t.equal(value(families, "presque_queue_jobs", { queue: idle, state: "ready" }), 2);
  t.equal(value(families, "presque_jobs_pushed_total", { queue: q }), undefined, "the other queue is left out");
  t.ok(families.has("process_cpu_seconds_total"), "the process's own metrics stay");
  t.equal((await a("GET", "/metrics?queue=a%20b")).status, 400);
});

t.test("a purge leaves the counters as they were", async (t) => {
  t.equal((await a("DELETE", `/q/${idle}`)).status, 204);
  t.equal((await a("POST", `/q/${idle}`, { body: { x: 3 } })).status, 201);
  const { families } = await scrape(b);
  t.equal(value(families, "presque_jobs_pushed_total", { queue: idle }), 3, "counters do not go backwards");
  t.equal(value(families, "presque_queue_jobs", { queue: idle, state: "ready" }), 1);
});

t.test("more queues than a page of names and several round trips: each family once, every queue in it", async (t) => {
  // 1,100 queues: two pages of the queue list, five round trips of queueMetrics, formatted as
  // each arrives and joined under one header a family
  const many = queueName("many");
  const names = Array.from({ length: 1100 }, (_, i) => `${many}-${i}`);
  for (let i = 0; i < names.length; i += 100) {
    const statuses = await Promise.all(
      names.slice(i, i + 100).map(async (name, j) => (await a("POST", `/q/${name}`, { body: { n: i + j } })).status),
    );
    t.same(new Set(statuses), new Set([201]));
  }
  const { text, families } = await scrape(b, `?queue=${many}-*`);
  for (const name of ["presque_jobs_pushed_total", "presque_queue_jobs", "presque_job_run_seconds"]) {
    t.equal(text.split(`\n# HELP ${name} `).length, 2, `one # HELP line for ${name}`);
  }
  const ready = families.get("presque_queue_jobs")!.metrics.filter((m) => m.labels?.state === "ready");
  t.same(ready.map((m) => m.labels!.queue).sort(), [...names].sort(), "every queue, once");
  t.ok(
    ready.every((m) => Number(m.value) === 1),
    "each with its one job",
  );
  t.equal(families.get("presque_jobs_pushed_total")!.metrics.length, names.length);
  t.equal(value(families, "presque_jobs_pushed_total", { queue: names[1099] }), 1);
});

const promtool = findOnPath("promtool");
const noPromtool = promtool ? false : "promtool is not installed (Debian's prometheus package: apt-get install prometheus)";
t.test("promtool check metrics finds nothing to complain about", { skip: noPromtool }, async (t) => {
  const { text } = await scrape(a);
  const checked = spawnSync(promtool!, ["check", "metrics"], { input: text, encoding: "utf8" });
  t.equal(checked.status, 0, "promtool accepts it");
  t.equal(`${checked.stdout}${checked.stderr}`.trim(), "", "and has no lint to report");
});
