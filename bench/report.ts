// The table, the targets of issue 4 with pass/fail, and bench/results/latest.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { CpuUse } from "./cpu.js";
import type { CommandUse, Probe } from "./redisstats.js";

export interface Scenario {
  id: string;
  label: string;
  seconds: number;
  reqPerSec?: number;
  jobsPerSec?: number;
  /** ms; for the long-poll fan-in, from push to delivery */
  p50?: number;
  p99?: number;
  requests?: number;
  jobs?: number;
  non2xx: number;
  errors: number;
  statusCodes?: Record<string, number>;
  /** false when something went wrong (non-2xx, errors, a queue that ran dry): not a result */
  valid: boolean;
  note?: string;
  /** commands over the measured run (INFO commandstats), and the MONITOR probe's split */
  redis?: CommandUse & { perRequest: { all: number; scripts: number; reads: number }; probe?: Probe };
  /** the figure this one is compared with for the ×BullMQ column */
  bullmq?: string;
  /** the same route on the naive server */
  naive?: string;
  /** how many jobs the queue held before the run and after it */
  queued?: { before: number; after: number };
  /** cores used over the measured run by the server, redis-server and this process */
  cpu?: CpuUse;
  /** set on one round's run of a scenario that runs in interleaved rounds */
  round?: number;
  /** a scenario run in rounds: each round's run. The scenario's own figures are medians over
   *  them, and its ratios medians of each round's ratio to the same round's baseline */
  rounds?: Scenario[];
}

export interface Memory {
  payloadBytes: number;
  jobs: number;
  presque?: number;
  bullmq?: number;
}

export interface Target {
  text: string;
  pass: boolean | null;
  detail: string;
}

const fmtInt = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : Math.round(n).toLocaleString("en-US"));
const fmtMs = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtX = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : `${n.toFixed(2)}x`);
export const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? undefined : a / b);
const fmtRange = (xs: number[], fmt: (n: number) => string) => (xs.length ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}` : "-");
const finite = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined && Number.isFinite(x));

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: (number | undefined)[]): number | undefined {
  const xs = finite(values).sort((a, b) => a - b);
  if (!xs.length) return undefined;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sum = (xs: (number | undefined)[]) => finite(xs).reduce((a, b) => a + b, 0);

function sumCounts(all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of all) for (const [k, n] of Object.entries(counts)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** Redis figures of all rounds together: commandstats add up, per request over every round's
 *  requests; the MONITOR probe ran in one round only. */
function redisOfRounds(runs: Scenario[]): Scenario["redis"] {
  const withRedis = runs.filter((r) => r.redis);
  if (!withRedis.length) return undefined;
  const requests = sum(withRedis.map((r) => r.requests));
  const all = sum(withRedis.map((r) => r.redis!.all));
  const scripts = sum(withRedis.map((r) => r.redis!.scripts));
  const reads = sum(withRedis.map((r) => r.redis!.perRequest.reads * (r.requests ?? 0)));
  return {
    all,
    scripts,
    byCommand: sumCounts(withRedis.map((r) => r.redis!.byCommand)),
    perRequest: { all: all / requests, scripts: scripts / requests, reads: reads / requests },
    probe: withRedis.find((r) => r.redis!.probe)?.redis!.probe,
  };
}

/** cores averaged over the rounds (each round measures as long as the others) */
function cpuOfRounds(runs: Scenario[]): CpuUse | undefined {
  const cpus = runs.map((r) => r.cpu).filter((c): c is CpuUse => c !== undefined);
  if (!cpus.length) return undefined;
  const avg = (k: keyof CpuUse) => mean(cpus.map((c) => c[k]));
  return { server: avg("server"), redis: avg("redis"), loadgen: avg("loadgen"), machine: avg("machine") };
}

/** One scenario out of its runs in rounds: medians of the rates and latencies, sums of the counts.
 *  A non-2xx answer in any round makes the whole scenario no result. */
export function fromRounds(runs: Scenario[]): Scenario {
  const first = runs[0];
  const valid = runs.every((r) => r.valid);
  return {
    id: first.id,
    label: first.label,
    seconds: sum(runs.map((r) => r.seconds)),
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    jobsPerSec: median(runs.map((r) => r.jobsPerSec)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    requests: sum(runs.map((r) => r.requests)),
    jobs: runs.some((r) => r.jobs !== undefined) ? sum(runs.map((r) => r.jobs)) : undefined,
    non2xx: sum(runs.map((r) => r.non2xx)),
    errors: sum(runs.map((r) => r.errors)),
    statusCodes: sumCounts(runs.map((r) => r.statusCodes ?? {})),
    valid,
    note: valid
      ? first.note
      : runs
          .filter((r) => !r.valid)
          .map((r) => `round ${r.round}: ${r.note ?? "errors"}`)
          .join("; "),
    redis: redisOfRounds(runs),
    naive: first.naive,
    bullmq: first.bullmq,
    cpu: cpuOfRounds(runs),
    rounds: runs,
  };
}

type Ratios = { hello?: number; helloP99?: number; naive?: number; bullmq?: number };

export class Report {
  readonly scenarios: Scenario[] = [];
  memory: Memory = { payloadBytes: 0, jobs: 0 };
  /** targets a section checks itself (bench/scale.ts's, issue 9), listed after the others */
  readonly extraTargets: Target[] = [];
  /** figures a section reports beside the table, printed as they are */
  readonly notes: string[] = [];

  add(s: Scenario): Scenario {
    this.scenarios.push(s);
    return s;
  }

  get(id: string): Scenario | undefined {
    return this.scenarios.find((s) => s.id === id && s.valid);
  }

  private helloP99 = () => this.get("hello.get")?.p99;

  /** What `s` is compared with: for one round's run, the other scenario's run in the same round
   *  (made seconds apart, so the machine's drift mostly cancels out); otherwise its whole figure. */
  private against(s: Scenario, id: string | undefined): Scenario | undefined {
    const other = id ? this.get(id) : undefined;
    if (s.round === undefined || !other?.rounds) return other;
    return other.rounds.find((r) => r.round === s.round);
  }

  /** For a scenario run in rounds, the median of each round's ratios (not a ratio of medians). */
  ratios(s: Scenario): Ratios {
    if (s.rounds) {
      const each = s.rounds.map((r) => this.ratios(r));
      const mid = (k: keyof Ratios) => median(each.map((r) => r[k]));
      return { hello: mid("hello"), helloP99: mid("helloP99"), naive: mid("naive"), bullmq: mid("bullmq") };
    }
    const http = s.reqPerSec !== undefined && !s.id.startsWith("bullmq.");
    const toHello = http && s.id !== "presque.longpoll";
    const hello = toHello ? this.against(s, "hello.get") : undefined;
    return {
      hello: ratio(s.reqPerSec, hello?.reqPerSec),
      helloP99: ratio(s.p99, hello?.p99),
      naive: ratio(s.reqPerSec, this.against(s, s.naive)?.reqPerSec),
      bullmq: ratio(s.jobsPerSec, this.against(s, s.bullmq)?.jobsPerSec),
    };
  }

  /** "median of 3 rounds: 1.05x (0.98–1.12)", or the single ratio of a scenario not run in rounds */
  private ratioDetail(s: Scenario | undefined, k: keyof Ratios): string {
    const value = s ? this.ratios(s)[k] : undefined;
    if (!s?.rounds) return fmtX(value);
    const each = finite(s.rounds.map((r) => this.ratios(r)[k]));
    // three decimals: a median of 0.4996x must not print as a failing 0.50x
    const median = value === undefined || !Number.isFinite(value) ? "-" : `${value.toFixed(3)}x`;
    return `median of ${each.length} round${each.length === 1 ? "" : "s"}: ${median} (${fmtRange(each, (n) => n.toFixed(2))})`;
  }

  targets(): Target[] {
    const t: Target[] = [];
    const check = (text: string, value: number | undefined, ok: (v: number) => boolean, detail: (v: number) => string) =>
      t.push(
        value === undefined || !Number.isFinite(value)
          ? { text, pass: null, detail: "no valid figure" }
          : { text, pass: ok(value), detail: detail(value) },
      );

    for (const [id, naiveId, what] of [
      ["presque.post_q", "naive.post", "POST /q"],
      ["presque.get_q", "naive.get", "GET /q"],
    ] as const) {
      // the ratio columns' figures: medians of per-round ratios when the scenarios ran in rounds
      const s = this.get(id);
      const n = this.get(naiveId);
      const r: Ratios = s ? this.ratios(s) : {};
      const medians = s?.rounds ? " medians" : "";
      check(
        `${what} >= 1.0 x naive server`,
        r.naive,
        (v) => v >= 1,
        () => `${this.ratioDetail(s, "naive")}; ${fmtInt(s?.reqPerSec)} vs ${fmtInt(n?.reqPerSec)} req/s${medians}`,
      );
      check(
        `${what} >= 0.5 x hello-world`,
        r.hello,
        (v) => v >= 0.5,
        () => this.ratioDetail(s, "hello"),
      );
      check(
        `${what} p99 < 4 x hello-world p99`,
        r.helloP99,
        (v) => v < 4,
        () => `${this.ratioDetail(s, "helloP99")}; ${fmtMs(s?.p99)} vs ${fmtMs(this.helloP99())} ms${medians}`,
      );
    }
    const qb = this.get("presque.post_qb1000");
    const bulk = this.get("bullmq.addbulk");
    check(
      "POST /qb (1000) >= 3 x BullMQ addBulk jobs/s",
      ratio(qb?.jobsPerSec, bulk?.jobsPerSec),
      (v) => v >= 3,
      (v) => `${fmtX(v)} (${fmtInt(qb?.jobsPerSec)} vs ${fmtInt(bulk?.jobsPerSec)} jobs/s)`,
    );
    const gqb = this.get("presque.get_qb100");
    const drain = this.get("bullmq.worker");
    check(
      "GET /qb (100) >= 3 x BullMQ Worker drain jobs/s",
      ratio(gqb?.jobsPerSec, drain?.jobsPerSec),
      (v) => v >= 3,
      (v) => `${fmtX(v)} (${fmtInt(gqb?.jobsPerSec)} vs ${fmtInt(drain?.jobsPerSec)} jobs/s)`,
    );
    const worker = this.get("client.worker");
    check(
      "Worker drain (concurrency 50, leased) >= 2 x BullMQ Worker jobs/s",
      worker ? this.ratios(worker).bullmq : undefined,
      (v) => v >= 2,
      () =>
        `${this.ratioDetail(worker, "bullmq")}; ${fmtInt(worker?.jobsPerSec)} vs ${fmtInt(drain?.jobsPerSec)} jobs/s` +
        (worker?.rounds ? " medians" : ""),
    );
    const push = this.get("client.push");
    check(
      "presque push of JSON lines >= 100,000 jobs/s",
      push?.jobsPerSec,
      (v) => v >= 100_000,
      (v) => `${fmtInt(v)} jobs/s`,
    );
    const m = this.memory;
    const over = (b: number | undefined) => (b === undefined ? undefined : b - m.payloadBytes);
    check(
      "Redis memory per job <= BullMQ's",
      ratio(m.presque, m.bullmq),
      (v) => v <= 1,
      (v) => `${fmtX(v)} (${fmtInt(m.presque)} vs ${fmtInt(m.bullmq)} bytes)`,
    );
    check(
      "Redis memory per job <= payload + 150 bytes",
      over(m.presque),
      (v) => v <= 150,
      (v) => `${fmtInt(v)} bytes over the ${m.payloadBytes}-byte payload`,
    );
    for (const id of ["presque.post_q", "presque.get_q", "presque.post_qb1000", "presque.get_qb100"]) {
      const s = this.get(id);
      const r = s?.redis;
      check(
        `${s?.label ?? id}: one round trip (<= 2 commands sent per request)`,
        r?.probe?.topLevel,
        (v) => v <= 2.02,
        (v) =>
          `${v.toFixed(2)} sent (${Object.entries(r!.probe!.byCommand)
            .map(([c, n]) => `${c} ${(n / r!.probe!.requests).toFixed(2)}`)
            .join(", ")}), ${r!.perRequest.all.toFixed(1)} run inside Redis`,
      );
    }
    t.push(...this.extraTargets);
    const bad = this.scenarios.filter((s) => !s.valid);
    t.push({
      text: "every scenario without unexpected errors",
      pass: bad.length === 0,
      detail: bad.length ? bad.map((s) => s.id).join(", ") : "all clean",
    });
    return t;
  }

  table(): string {
    const head = [
      "scenario",
      "req/s",
      "req/s range",
      "jobs/s",
      "p50 ms",
      "p99 ms",
      "x hello",
      "p99 x hello",
      "x naive",
      "x BullMQ",
      "redis cmds/req sent (run)",
      "redis reads/req",
      "cores srv/redis/gen/all",
      "non-2xx",
      "",
    ];
    const rows: string[][] = [head];
    for (const s of this.scenarios) {
      const r = this.ratios(s);
      const cmds = s.redis ? `${s.redis.probe ? s.redis.probe.topLevel.toFixed(2) : "?"} (${s.redis.perRequest.all.toFixed(1)})` : "-";
      rows.push([
        s.label,
        fmtInt(s.reqPerSec),
        s.rounds ? fmtRange(finite(s.rounds.map((r) => r.reqPerSec)), fmtInt) : "-",
        fmtInt(s.jobsPerSec),
        fmtMs(s.p50),
        fmtMs(s.p99),
        fmtX(r.hello),
        fmtX(r.helloP99),
        fmtX(r.naive),
        fmtX(r.bullmq),
        cmds,
        s.redis ? s.redis.perRequest.reads.toFixed(2) : "-",
        s.cpu
          ? [s.cpu.server, s.cpu.redis, s.cpu.loadgen, s.cpu.machine].map((c) => (Number.isFinite(c) ? c.toFixed(2) : "-")).join("/")
          : "-",
        String(s.non2xx + s.errors),
        s.valid ? (s.note ?? "") : `NOT A RESULT: ${s.note ?? "errors"}`,
      ]);
    }
    const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r
        .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join("  ")
        .trimEnd();
    const out = [
      line(rows[0]),
      widths
        .map((w) => "-".repeat(w))
        .join("  ")
        .trimEnd(),
      ...rows.slice(1).map(line),
    ];
    const inRounds = this.scenarios.filter((s) => s.rounds);
    if (inRounds.length) {
      const count = Math.max(...inRounds.map((s) => s.rounds!.length));
      out.push("");
      out.push(
        `${inRounds.map((s) => s.id).join(", ")}: ${count} interleaved round${count === 1 ? "" : "s"}. ` +
          "Their req/s, jobs/s, p50 and p99 are",
      );
      out.push("medians over the rounds (req/s range: min–max), their ratio columns medians of each round's own ratios.");
    }
    const m = this.memory;
    if (m.presque !== undefined || m.bullmq !== undefined) {
      out.push("");
      out.push(`Redis memory per queued job (${fmtInt(m.jobs)} jobs of ${m.payloadBytes} bytes, INFO memory used_memory):`);
      if (m.presque !== undefined)
        out.push(
          `  presque  ${fmtInt(m.presque)} bytes/job, ${fmtInt(m.presque - m.payloadBytes)} over the payload, ` +
            `${fmtX(ratio(m.presque, m.bullmq))} BullMQ`,
        );
      if (m.bullmq !== undefined)
        out.push(`  BullMQ   ${fmtInt(m.bullmq)} bytes/job, ${fmtInt(m.bullmq - m.payloadBytes)} over the payload`);
    }
    if (this.notes.length) out.push("", ...this.notes);
    out.push("");
    out.push("Targets (issues 4, 9 and 10):");
    for (const t of this.targets()) out.push(`  [${t.pass === null ? "n/a " : t.pass ? "pass" : "FAIL"}] ${t.text}: ${t.detail}`);
    return out.join("\n");
  }

  write(file: string, meta: Record<string, unknown>): void {
    mkdirSync(dirname(file), { recursive: true });
    const withRatios = (s: Scenario) => ({ ...s, ratios: this.ratios(s) });
    const scenarios = this.scenarios.map((s) => ({ ...withRatios(s), rounds: s.rounds?.map(withRatios) }));
    writeFileSync(
      file,
      `${JSON.stringify({ ...meta, scenarios, memory: this.memory, notes: this.notes, targets: this.targets() }, null, 2)}\n`,
    );
  }
}
