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
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? undefined : a / b);

export class Report {
  readonly scenarios: Scenario[] = [];
  memory: Memory = { payloadBytes: 0, jobs: 0 };

  add(s: Scenario): Scenario {
    this.scenarios.push(s);
    return s;
  }

  get(id: string): Scenario | undefined {
    return this.scenarios.find((s) => s.id === id && s.valid);
  }

  private helloReq = () => this.get("hello.get")?.reqPerSec;
  private helloP99 = () => this.get("hello.get")?.p99;

  ratios(s: Scenario) {
    const http = s.reqPerSec !== undefined && !s.id.startsWith("bullmq.");
    const bull = s.bullmq ? this.get(s.bullmq) : undefined;
    const naive = s.naive ? this.get(s.naive) : undefined;
    return {
      hello: http && s.id !== "presque.longpoll" ? ratio(s.reqPerSec, this.helloReq()) : undefined,
      helloP99: http && s.id !== "presque.longpoll" ? ratio(s.p99, this.helloP99()) : undefined,
      naive: ratio(s.reqPerSec, naive?.reqPerSec),
      bullmq: ratio(s.jobsPerSec, bull?.jobsPerSec),
    };
  }

  targets(): Target[] {
    const t: Target[] = [];
    const check = (text: string, value: number | undefined, ok: (v: number) => boolean, detail: (v: number) => string) =>
      t.push(value === undefined || !Number.isFinite(value) ? { text, pass: null, detail: "no valid figure" } : { text, pass: ok(value), detail: detail(value) });

    for (const [id, naiveId, what] of [
      ["presque.post_q", "naive.post", "POST /q"],
      ["presque.get_q", "naive.get", "GET /q"],
    ] as const) {
      const s = this.get(id);
      const n = this.get(naiveId);
      check(`${what} >= 1.0 x naive server`, ratio(s?.reqPerSec, n?.reqPerSec), (v) => v >= 1, (v) => `${fmtX(v)} (${fmtInt(s?.reqPerSec)} vs ${fmtInt(n?.reqPerSec)} req/s)`);
      check(`${what} >= 0.5 x hello-world`, ratio(s?.reqPerSec, this.helloReq()), (v) => v >= 0.5, (v) => fmtX(v));
      check(`${what} p99 < 4 x hello-world p99`, ratio(s?.p99, this.helloP99()), (v) => v < 4, (v) => `${fmtX(v)} (${fmtMs(s?.p99)} vs ${fmtMs(this.helloP99())} ms)`);
    }
    const qb = this.get("presque.post_qb1000");
    const bulk = this.get("bullmq.addbulk");
    check("POST /qb (1000) >= 3 x BullMQ addBulk jobs/s", ratio(qb?.jobsPerSec, bulk?.jobsPerSec), (v) => v >= 3, (v) => `${fmtX(v)} (${fmtInt(qb?.jobsPerSec)} vs ${fmtInt(bulk?.jobsPerSec)} jobs/s)`);
    const gqb = this.get("presque.get_qb100");
    const drain = this.get("bullmq.worker");
    check("GET /qb (100) >= 3 x BullMQ Worker drain jobs/s", ratio(gqb?.jobsPerSec, drain?.jobsPerSec), (v) => v >= 3, (v) => `${fmtX(v)} (${fmtInt(gqb?.jobsPerSec)} vs ${fmtInt(drain?.jobsPerSec)} jobs/s)`);
    const m = this.memory;
    const over = (b: number | undefined) => (b === undefined ? undefined : b - m.payloadBytes);
    check("Redis memory per job <= BullMQ's", ratio(m.presque, m.bullmq), (v) => v <= 1, (v) => `${fmtX(v)} (${fmtInt(m.presque)} vs ${fmtInt(m.bullmq)} bytes)`);
    check("Redis memory per job <= payload + 150 bytes", over(m.presque), (v) => v <= 150, (v) => `${fmtInt(v)} bytes over the ${m.payloadBytes}-byte payload`);
    for (const id of ["presque.post_q", "presque.get_q", "presque.post_qb1000", "presque.get_qb100"]) {
      const s = this.get(id);
      const r = s?.redis;
      check(
        `${s?.label ?? id}: one round trip (<= 2 commands sent per request)`,
        r?.probe?.topLevel,
        (v) => v <= 2.02,
        (v) => `${v.toFixed(2)} sent (${Object.entries(r!.probe!.byCommand).map(([c, n]) => `${c} ${(n / r!.probe!.requests).toFixed(2)}`).join(", ")}), ${r!.perRequest.all.toFixed(1)} run inside Redis`,
      );
    }
    const bad = this.scenarios.filter((s) => !s.valid);
    t.push({ text: "every scenario without unexpected errors", pass: bad.length === 0, detail: bad.length ? bad.map((s) => s.id).join(", ") : "all clean" });
    return t;
  }

  table(): string {
    const head = ["scenario", "req/s", "jobs/s", "p50 ms", "p99 ms", "x hello", "p99 x hello", "x naive", "x BullMQ", "redis cmds/req sent (run)", "redis reads/req", "cores srv/redis/gen/all", "non-2xx", ""];
    const rows: string[][] = [head];
    for (const s of this.scenarios) {
      const r = this.ratios(s);
      const cmds = s.redis ? `${s.redis.probe ? s.redis.probe.topLevel.toFixed(2) : "?"} (${s.redis.perRequest.all.toFixed(1)})` : "-";
      rows.push([
        s.label,
        fmtInt(s.reqPerSec),
        fmtInt(s.jobsPerSec),
        fmtMs(s.p50),
        fmtMs(s.p99),
        fmtX(r.hello),
        fmtX(r.helloP99),
        fmtX(r.naive),
        fmtX(r.bullmq),
        cmds,
        s.redis ? s.redis.perRequest.reads.toFixed(2) : "-",
        s.cpu ? [s.cpu.server, s.cpu.redis, s.cpu.loadgen, s.cpu.machine].map((c) => (Number.isFinite(c) ? c.toFixed(2) : "-")).join("/") : "-",
        String(s.non2xx + s.errors),
        s.valid ? (s.note ?? "") : `NOT A RESULT: ${s.note ?? "errors"}`,
      ]);
    }
    const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
    const out = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  ").trimEnd(), ...rows.slice(1).map(line)];
    const m = this.memory;
    if (m.presque !== undefined || m.bullmq !== undefined) {
      out.push("");
      out.push(`Redis memory per queued job (${fmtInt(m.jobs)} jobs of ${m.payloadBytes} bytes, INFO memory used_memory):`);
      if (m.presque !== undefined) out.push(`  presque  ${fmtInt(m.presque)} bytes/job, ${fmtInt(m.presque - m.payloadBytes)} over the payload, ${fmtX(ratio(m.presque, m.bullmq))} BullMQ`);
      if (m.bullmq !== undefined) out.push(`  BullMQ   ${fmtInt(m.bullmq)} bytes/job, ${fmtInt(m.bullmq - m.payloadBytes)} over the payload`);
    }
    out.push("");
    out.push("Targets (issue 4):");
    for (const t of this.targets()) out.push(`  [${t.pass === null ? "n/a " : t.pass ? "pass" : "FAIL"}] ${t.text}: ${t.detail}`);
    return out.join("\n");
  }

  write(file: string, meta: Record<string, unknown>): void {
    mkdirSync(dirname(file), { recursive: true });
    const scenarios = this.scenarios.map((s) => ({ ...s, ratios: this.ratios(s) }));
    writeFileSync(file, `${JSON.stringify({ ...meta, scenarios, memory: this.memory, targets: this.targets() }, null, 2)}\n`);
  }
}
