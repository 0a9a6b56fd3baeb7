// Hostile input, checked by properties: random sequences of API calls against a real server and a
// small model of one queue. After every step: no 5xx, every answer JSON of its documented shape,
// and the queue's contents (figures and ready jobs in delivery order) as the model says.
// PROPERTY_RUNS=2000 runs more sequences than CI does; PROPERTY_SEED replays one.
import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import t from "tap";
import { harness, type Reply } from "./helpers.js";

// long backoffs and leases: nothing comes due by itself while a sequence runs, so the model needs
// no clock; two attempts, so that jobs die. For the same reason the limits it sets are a rate so
// slow that no token comes back during a run (only the burst is handed out) and concurrency, and
// its schedules run an hour apart or more: none comes due while a sequence runs.
const h = await harness(t, { jobs: { max_attempts: 2, backoff_base: 80000, backoff_cap: 80000 } });
const LEASE = 600;

type State = "ready" | "delayed" | "leased" | "dead";
interface Job {
  id: number;
  text: string; // the payload as stored
  priority: number;
  state: State;
  attempts: number;
}
interface Model {
  queue: string;
  jobs: Map<number, Job>;
  open: boolean;
  lastId: number;
  /** the queue's max_length (0: none) */
  maxLength: number;
  /** Idempotency-Key -> what the first push with it said and got; purges leave these */
  records: Map<string, { fingerprint: string; ids: number[] }>;
  /** the last push sent with a key, to send again */
  lastKeyed?: fc.AsyncCommand<Model, Real>;
  /** the queue's concurrency limit (null: none) */
  concurrency: number | null;
  /** tokens left in the queue's bucket (null: no rate); the rate never refills it within a run */
  tokens: number | null;
  /** schedules by name: the definition as sent, and the next run the server first gave it */
  schedules: Map<string, { body: string; next: number }>;
}
interface Real {
  steps: string[];
}

/** Ready jobs in delivery order: higher priority first, then older first. */
const readyOrder = (m: Model) =>
  [...m.jobs.values()].filter((j) => j.state === "ready").sort((a, b) => b.priority - a.priority || a.id - b.id);

/** How often each route answered each status: PROPERTY_STATS=1 prints it, to see what was reached. */
const tally = new Map<string, number>();

async function call(method: string, path: string, init: { body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const r = await h.http(method, path, { raw: init.body, headers: init.headers });
  const route = `${method} ${path
    .split("?")[0]
    .replace(/^\/(\w+)\/[^/]+/, "/$1/:q")
    .replace(/\/\d+/g, "/:id")} ${r.status}`;
  tally.set(route, (tally.get(route) ?? 0) + 1);
  assert.ok(r.status < 500, `${method} ${path}: ${r.status} ${r.text}`);
  if (r.status >= 400) {
    assert.ok(r.json && typeof r.json.error === "string" && Object.keys(r.json).length === 1, `${method} ${path}: error shape ${r.text}`);
  }
  return r;
}

function expectError(r: Reply, status: number, what: string) {
  assert.equal(r.status, status, `${what}: expected ${status}, got ${r.status} ${r.text}`);
}

/** What the server must make of a POST /q body: the stored text, or null for a 400. */
function jobText(body: Buffer, contentType: string | undefined): string | null {
  if (contentType?.split(";")[0].trim().toLowerCase() !== "application/json") return null;
  if (body.length === 0 || !isUtf8(body)) return null;
  const text = body.toString("utf8");
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) && depthOf(v) <= MAX_DEPTH ? text : null;
  } catch {
    return null;
  }
}

/** How deeply a value nests arrays and objects (docs/security.md: at most 64 levels per job). */
const MAX_DEPTH = 64;
function depthOf(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  let deepest = 0;
  for (const child of Object.values(v)) deepest = Math.max(deepest, depthOf(child));
  return 1 + deepest;
}

/** An object whose member nests arrays to `depth` levels in all, around or under the limit. */
const deepObject = fc.integer({ min: MAX_DEPTH - 2, max: MAX_DEPTH + 200 }).map((depth) => {
  let v: unknown = [];
  for (let i = 2; i < depth; i++) v = [v];
  return { deep: v };
});

// --- values

const anyText = fc.string({ unit: "binary", maxLength: 20 });
const payloadObject = fc.dictionary(anyText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
const oddNumber = fc.constantFrom("1e400", "-1e400", "99999999999999999999", "NaN", "0x10", " 1", "1.5", "", "-", "١", "9".repeat(400));
const priority = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 3 }).map(String) },
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.integer().map(String),
  oddNumber,
);
/** mostly absent; some valid, some not */
const sometimes = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, arb);
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });
const validPriority = (p: string) => /^-?\d+$/.test(p) && Math.abs(Number(p)) <= 1_000_000;
const idemKey = fc.option(fc.constantFrom("k1", "k2", "k3", "order-\u0021~"), { freq: 3 });

/** What the server does with a push it found valid: replay (200), 422, 429, or store (201).
 *  Returns the ids to expect, or null when it answered with an error that was checked. */
function idempotentOutcome(
  m: Model,
  res: Reply,
  idem: string | undefined,
  fingerprint: string,
  count: number,
  what: string,
): "stored" | "done" {
  const seen = idem === undefined ? undefined : m.records.get(idem);
  if (seen && seen.fingerprint !== fingerprint) {
    expectError(res, 422, what);
    return "done";
  }
  if (seen) {
    assert.equal(res.status, 200, `${what}: a replay -> ${res.status} ${res.text}`);
    assert.equal(res.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(res.json.ids ?? [res.json.id], seen.ids.map(String), "the first push's ids");
    return "done";
  }
  const length = [...m.jobs.values()].filter((j) => j.state === "ready" || j.state === "delayed").length;
  if (m.maxLength > 0 && length + count > m.maxLength) {
    expectError(res, 429, what);
    assert.equal(res.headers.get("retry-after"), "1");
    return "done";
  }
  assert.equal(res.status, 201, `${what} -> ${res.status} ${res.text}`);
  assert.equal(res.headers.get("idempotent-replayed"), null);
  return "stored";
}

// --- commands

class Push implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly body: Buffer,
    readonly contentType: string | undefined,
    readonly priority: string | undefined,
    readonly delay: string | undefined,
    readonly idem: string | undefined,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const q = new URLSearchParams();
    if (this.priority !== undefined) q.set("priority", this.priority);
    if (this.delay !== undefined) q.set("delay", this.delay);
    const headers: Record<string, string> = this.contentType === undefined ? {} : { "content-type": this.contentType };
    if (this.idem !== undefined) headers["idempotency-key"] = this.idem;
    const res = await call("POST", `/q/${m.queue}?${q}`, { body: this.body, headers });
    const text = jobText(this.body, this.contentType);
    const options = (this.priority === undefined || validPriority(this.priority)) && (this.delay === undefined || this.delay === "1000");
    if (text === null || !options) return expectError(res, 400, this.toString());
    if (this.idem !== undefined) m.lastKeyed = this;
    const fingerprint = `q\n${q}\n${this.body.toString("latin1")}`;
    if (idempotentOutcome(m, res, this.idem, fingerprint, 1, this.toString()) === "done") return;
    assert.deepEqual(Object.keys(res.json), ["id"]);
    const id = Number(res.json.id);
    if (this.idem !== undefined) m.records.set(this.idem, { fingerprint, ids: [id] });
    assert.ok(id > m.lastId, "ids only grow");
    m.lastId = id;
    m.jobs.set(id, { id, text, priority: Number(this.priority ?? 0) || 0, state: this.delay ? "delayed" : "ready", attempts: 0 });
  }
  toString = () => `POST /q ${this.body.length}B type=${this.contentType} priority=${this.priority} delay=${this.delay} key=${this.idem}`;
}

class PushBatch implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly jobs: unknown,
    readonly priority: string | undefined,
    readonly idem: string | undefined,
  ) {}
  check = () => true;
  async run(m: Model, _r: Real) {
    const q = this.priority === undefined ? "" : `?priority=${encodeURIComponent(this.priority)}`;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.idem !== undefined) headers["idempotency-key"] = this.idem;
    const res = await call("POST", `/qb/${m.queue}${q}`, { body: JSON.stringify({ jobs: this.jobs }), headers });
    const list = this.jobs;
    const valid =
      Array.isArray(list) &&
      list.length > 0 &&
      list.every((j) => j !== null && typeof j === "object" && !Array.isArray(j) && depthOf(j) <= MAX_DEPTH) &&
      (this.priority === undefined || validPriority(this.priority));
    if (!valid) return expectError(res, 400, this.toString());
    if (this.idem !== undefined) m.lastKeyed = this;
    const fingerprint = `qb\n${q}\n${(list as object[]).map((j) => JSON.stringify(j)).join("\n")}`;
    if (idempotentOutcome(m, res, this.idem, fingerprint, list.length, this.toString()) === "done") return;
    assert.equal(res.json.ids.length, list.length);
    if (this.idem !== undefined) m.records.set(this.idem, { fingerprint, ids: res.json.ids.map(Number) });
    (list as object[]).forEach((job, i) => {
      const id = Number(res.json.ids[i]);
      assert.ok(id > m.lastId);
      m.lastId = id;
      m.jobs.set(id, { id, text: JSON.stringify(job), priority: Number(this.priority ?? 0) || 0, state: "ready", attempts: 0 });
    });
  }
  toString = () => `POST /qb ${JSON.stringify(this.jobs)?.slice(0, 60)} priority=${this.priority} key=${this.idem}`;
}

class Take implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly count: number | string | undefined, // undefined: GET /q; else GET /qb?batch_size=
    readonly lease: boolean,
    readonly worker: string | undefined,
  ) {}
  check = () => true;
  async run(m: Model, _r: Real) {
    const q = new URLSearchParams();
    if (this.count !== undefined) q.set("batch_size", String(this.count));
    if (this.lease) q.set("lease", String(LEASE));
    const headers: Record<string, string> = this.worker === undefined ? {} : { "x-presque-workerid": this.worker };
    const res = await call("GET", `/${this.count === undefined ? "q" : "qb"}/${m.queue}?${q}`, { headers });
    const n = this.count === undefined ? 1 : /^\d+$/.test(String(this.count)) ? Number(this.count) : NaN;
    if (!(n >= 1 && n <= h.config.batch.max_fetch) || (this.worker?.length ?? 0) > 256) return expectError(res, 400, this.toString());
    if (!m.open) return assert.deepEqual([res.status, res.json], [404, { error: "queue is closed" }]);
    // the limits, as popJobs applies them: concurrency (leased fetches only), then the rate
    let allowed = n;
    if (this.lease && m.concurrency !== null) {
      allowed = Math.min(allowed, m.concurrency - [...m.jobs.values()].filter((j) => j.state === "leased").length);
      if (allowed <= 0) return assert.deepEqual([res.status, res.json], [404, { error: "no job" }], `${this}: concurrency`);
    }
    if (m.tokens !== null) {
      allowed = Math.min(allowed, m.tokens);
      if (allowed <= 0) {
        assert.deepEqual([res.status, res.json], [404, { error: "rate limited" }], `${this}: rate`);
        return assert.ok(Number(res.headers.get("retry-after")) >= 1, "Retry-After");
      }
    }
    const due = readyOrder(m).slice(0, allowed);
    if (m.tokens !== null) m.tokens -= due.length;
    if (due.length === 0) return assert.deepEqual([res.status, res.json], [404, { error: "no job" }]);
    assert.equal(res.status, 200, `${this} -> ${res.status} ${res.text}`);
    const ids = (res.headers.get(this.count === undefined ? "x-presque-jobid" : "x-presque-jobids") ?? "").split(",").map(Number);
    assert.deepEqual(
      ids,
      due.map((j) => j.id),
      "the jobs due, in order",
    );
    assert.equal(res.text, this.count === undefined ? due[0].text : `[${due.map((j) => j.text).join(",")}]`, "the bytes posted");
    if (this.lease) {
      const attempts = (res.headers.get(this.count === undefined ? "x-presque-attempt" : "x-presque-attempts") ?? "")
        .split(",")
        .map(Number);
      assert.deepEqual(
        attempts,
        due.map((j) => j.attempts + 1),
      );
    }
    for (const job of due) {
      if (this.lease) {
        job.state = "leased";
        job.attempts++;
      } else m.jobs.delete(job.id);
    }
  }
  toString = () =>
    `GET ${this.count === undefined ? "/q" : `/qb batch_size=${this.count}`} lease=${this.lease} worker=${this.worker?.length}`;
}

type AttemptChoice = "none" | "current" | "wrong" | string;

/** Acknowledge (DELETE), fail (PUT) or extend the lease of a job the model knows, or of one it does not. */
class OnJob implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly op: "ack" | "fail" | "extend",
    readonly pick: number,
    readonly attempt: AttemptChoice,
    readonly extra: string, // the failure message, or the seconds to extend by
  ) {}
  check = () => true;
  async run(m: Model, _r: Real) {
    const all = [...m.jobs.values()].sort((a, b) => a.id - b.id);
    const job: Job | undefined = this.pick < all.length ? all[this.pick] : undefined;
    const id = job?.id ?? m.lastId + 1 + this.pick;
    let attempt =
      this.attempt === "none"
        ? undefined
        : this.attempt === "current"
          ? String(job?.attempts ?? 1)
          : this.attempt === "wrong"
            ? String((job?.attempts ?? 0) + 1)
            : this.attempt;
    // a header holds Latin-1 only, and its surrounding spaces are not part of its value
    const inQuery = attempt !== undefined && /[^\x20-\x7e]/.test(attempt);
    const headers: Record<string, string> = attempt === undefined || inQuery ? {} : { "x-presque-attempt": attempt };
    if (!inQuery) attempt = attempt?.trim();
    const path = `/q/${m.queue}/${id}${this.op === "extend" ? "/lease" : ""}${inQuery ? `?attempt=${encodeURIComponent(attempt!)}` : ""}`;
    let res: Reply;
    if (this.op === "ack") res = await call("DELETE", path, { headers });
    else if (this.op === "fail") res = await call("PUT", path, { headers, body: JSON.stringify({ error: this.extra }) });
    else res = await call("POST", path, { headers, body: JSON.stringify({ seconds: this.seconds() }) });

    if (attempt !== undefined && !/^[1-9][0-9]{0,5}$/.test(attempt)) return expectError(res, 400, this.toString());
    const seconds = this.seconds();
    const validSeconds = typeof seconds === "number" ? Number.isFinite(seconds) && seconds >= 0 : /^\d+(\.\d+)?$/.test(seconds);
    if (this.op === "extend" && !(validSeconds && Number(seconds) <= h.config.jobs.max_lease))
      return expectError(res, 400, this.toString());
    if (!job) return assert.deepEqual([res.status, res.json], [404, { error: "no such job" }], this.toString());
    if (attempt !== undefined && Number(attempt) !== job.attempts) return expectError(res, 409, this.toString());
    if (this.op !== "ack" && job.state !== "leased") return expectError(res, 409, this.toString());

    if (this.op === "ack") {
      assert.equal(res.status, 204, `${this} -> ${res.status} ${res.text}`);
      assert.equal(res.text, "");
      m.jobs.delete(job.id);
    } else if (this.op === "fail") {
      assert.equal(res.status, 200, `${this} -> ${res.status} ${res.text}`);
      job.state = job.attempts >= h.config.jobs.max_attempts ? "dead" : "delayed";
      const at = job.state === "dead" ? "died_at" : "due_at";
      assert.deepEqual(Object.keys(res.json).sort(), [at, "id", "state"]);
      assert.equal(res.json.state, job.state);
      assert.equal(typeof res.json[at], "number");
    } else {
      assert.equal(res.status, 200, `${this} -> ${res.status} ${res.text}`);
      assert.deepEqual(Object.keys(res.json).sort(), ["id", "lease_expires_at"]);
      assert.equal(typeof res.json.lease_expires_at, "number");
    }
  }
  /** The seconds to extend by: a number where the text is one, else the text. Never under a
   *  second: a lease extended by 0 s has expired at once and a sweep may hand the job out again at
   *  any moment, which no clockless model can follow. */
  seconds(): number | string {
    const asNumber = /^-?\d+(\.\d+)?(e\d+)?$/.test(this.extra) ? Number(this.extra) : undefined;
    const value = asNumber ?? this.extra;
    const n = Number(value);
    return n >= 0 && n < 1 && (typeof value === "number" || /^\d+(\.\d+)?$/.test(value)) ? 30 : value;
  }
  toString = () => `${this.op} job #${this.pick} attempt=${this.attempt} extra=${JSON.stringify(this.extra).slice(0, 30)}`;
}

/** The last push that carried an Idempotency-Key, sent again as it was: a producer's retry. */
class RepeatLast implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.lastKeyed !== undefined;
  async run(m: Model, r: Real) {
    await m.lastKeyed!.run(m, r);
  }
  toString = () => "again";
}

/** POST /qb/:queue/ack or /fail: each entry by the rules of its single route, in order. */
class BatchOnJobs implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly op: "ack" | "fail",
    readonly entries: Array<{ pick: number; attempt: "none" | "current" | "wrong" | number | string }>,
  ) {}
  check = () => true;
  async run(m: Model, _r: Real) {
    const all = [...m.jobs.values()].sort((a, b) => a.id - b.id);
    const chosen = this.entries.map((e) => {
      const job = e.pick < all.length ? all[e.pick] : undefined;
      const id = job?.id ?? m.lastId + 1 + e.pick;
      const attempt =
        e.attempt === "none"
          ? undefined
          : e.attempt === "current"
            ? (job?.attempts ?? 1)
            : e.attempt === "wrong"
              ? (job?.attempts ?? 0) + 1
              : e.attempt;
      // 1e400 is Infinity, which JSON writes as null: no attempt
      return { id, attempt: attempt === Infinity ? undefined : attempt };
    });
    const body = {
      jobs: chosen.map(({ id, attempt }) => (attempt === undefined ? { id: String(id) } : { id: String(id), attempt, error: "x" })),
    };
    const res = await call("POST", `/qb/${m.queue}/${this.op}`, {
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
    const valid =
      chosen.length > 0 &&
      chosen.every(
        (c) => c.attempt === undefined || (Number.isInteger(c.attempt) && (c.attempt as number) >= 1 && (c.attempt as number) <= 999_999),
      );
    if (!valid) return expectError(res, 400, this.toString());
    assert.equal(res.status, 200, `${this} -> ${res.status} ${res.text}`);
    assert.equal(res.json.results.length, chosen.length);
    chosen.forEach(({ id, attempt }, i) => {
      const got = res.json.results[i];
      const job = m.jobs.get(id);
      const what = `${this} entry ${i}: ${JSON.stringify(got)}`;
      if (!job) return assert.deepEqual(got, { id: String(id), status: 404, error: "no such job" }, what);
      if ((attempt !== undefined && attempt !== job.attempts) || (this.op === "fail" && job.state !== "leased")) {
        assert.equal(got.status, 409, what);
        return assert.deepEqual(Object.keys(got).sort(), ["error", "id", "status"], what);
      }
      if (this.op === "ack") {
        assert.deepEqual(
          got,
          { id: String(id), status: 204, state: job.state === "leased" || attempt !== undefined ? "acked" : "cancelled" },
          what,
        );
        m.jobs.delete(id);
      } else {
        job.state = job.attempts >= h.config.jobs.max_attempts ? "dead" : "delayed";
        assert.equal(got.status, 200, what);
        assert.equal(got.state, job.state, what);
        assert.equal(typeof got[job.state === "dead" ? "died_at" : "due_at"], "number", what);
      }
    });
  }
  toString = () => `POST /qb/${this.op} ${JSON.stringify(this.entries)}`;
}

class Purge implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, _r: Real) {
    const res = await call("DELETE", `/q/${m.queue}`);
    assert.equal(res.status, 204);
    m.jobs.clear();
    m.open = true;
    m.maxLength = 0; // settings go with the queue; idempotency records and schedules do not
    m.concurrency = null;
    m.tokens = null;
  }
  toString = () => "DELETE /q";
}

class Control implements fc.AsyncCommand<Model, Real> {
  constructor(readonly body: Buffer) {}
  check = () => true;
  async run(m: Model, _r: Real) {
    const res = await call("POST", `/control/${m.queue}`, { body: this.body });
    let value: unknown;
    try {
      value = isUtf8(this.body) ? JSON.parse(this.body.toString("utf8")) : undefined;
    } catch {
      value = undefined;
    }
    const fields = value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    const status = fields?.status;
    const length = fields?.max_length;
    const keys = Object.keys(fields ?? {})
      .sort()
      .join(",");
    const whole = (v: unknown, min: number) => v === null || (Number.isInteger(v) && (v as number) >= min && (v as number) <= 1e6);
    const limit =
      (keys === "concurrency" && whole(fields!.concurrency, 1)) ||
      (keys === "rate" && fields!.rate === null) ||
      (keys === "burst,rate" && fields!.rate === RATE && whole(fields!.burst, 1) && fields!.burst !== null);
    const valid =
      limit ||
      (fields !== undefined &&
        Object.keys(fields).length === 1 &&
        (status === "stop" ||
          status === "start" ||
          length === null ||
          (Number.isInteger(length) && (length as number) >= 0 && (length as number) <= 1e9)));
    if (!valid) {
      // anything else this generator sends is a mistake: unknown keys, wrong types, huge numbers
      assert.equal(res.status, 400, `${this} -> ${res.status} ${res.text}`);
      return;
    }
    assert.deepEqual([res.status, res.json], [200, { response: "updated", queue: m.queue }]);
    if (keys === "concurrency") m.concurrency = fields!.concurrency as number | null;
    else if (keys === "rate") m.tokens = null;
    else if (keys === "burst,rate")
      m.tokens = fields!.burst as number; // a new bucket starts full
    else if (status !== undefined) m.open = status === "start";
    else m.maxLength = (length as number | null) ?? 0;
  }
  toString = () => `POST /control ${this.body.toString("utf8").slice(0, 60)}`;
}

/** PUT, GET and DELETE /schedules/:queue/:name, valid or not; after each, the queue's schedules are
 *  the model's, and a definition sent again unchanged keeps its next run. */
class ScheduleCall implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly op: "put" | "get" | "delete",
    readonly name: string,
    readonly body: string,
  ) {}
  check = () => true;
  async run(m: Model, _r: Real) {
    const path = `/schedules/${m.queue}/${encodeURIComponent(this.name)}`;
    const validName = /^[A-Za-z0-9_.:-]{1,128}$/.test(this.name);
    const known = m.schedules.get(this.name);
    if (this.op === "put") {
      const res = await call("PUT", path, { body: this.body, headers: { "content-type": "application/json" } });
      if (!validName || !VALID_SCHEDULES.includes(this.body)) return expectError(res, 400, this.toString());
      const outcome = !known ? "created" : known.body === this.body ? "unchanged" : "updated";
      assert.equal(res.status, outcome === "created" ? 201 : 200, `${this} -> ${res.status} ${res.text}`);
      assert.equal(res.json.outcome, outcome);
      assert.ok(res.json.next_run_at * 1000 > Date.now() + 1800_000, "not due while the sequence runs");
      if (outcome === "unchanged") assert.equal(res.json.next_run_at, known!.next, "an unchanged schedule keeps its next run");
      if (outcome !== "unchanged") m.schedules.set(this.name, { body: this.body, next: res.json.next_run_at });
    } else if (this.op === "get") {
      const res = await call("GET", path);
      if (!validName) return expectError(res, 400, this.toString());
      if (!known) return assert.deepEqual([res.status, res.json], [404, { error: "no such schedule" }]);
      assert.equal(res.status, 200);
      assert.equal(res.json.next_run_at, known.next);
      assert.deepEqual(res.json.job, JSON.parse(known.body).job);
    } else {
      const res = await call("DELETE", path);
      if (!validName) return expectError(res, 400, this.toString());
      if (!known) return assert.deepEqual([res.status, res.json], [404, { error: "no such schedule" }]);
      assert.equal(res.status, 204);
      m.schedules.delete(this.name);
    }
    const listed = await call("GET", `/schedules/${m.queue}`);
    assert.deepEqual(
      listed.json.schedules.map((s: { name: string; next_run_at: number }) => [s.name, s.next_run_at]),
      [...m.schedules].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, s]) => [name, s.next]),
      "the queue's schedules",
    );
  }
  toString = () => `${this.op} /schedules/:q/${this.name} ${this.body.slice(0, 60)}`;
}

/** Requests that must be refused whatever the queue holds: bad names, bad numbers, bad bodies. */
class Garbage implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly body: Buffer | undefined,
  ) {}
  check = () => true;
  async run(_m: Model, _r: Real) {
    const res = await call(this.method, this.path, { body: this.body, headers: { "content-type": "application/json" } });
    assert.ok(res.status >= 400 && res.status < 500, `${this} -> ${res.status} ${res.text}`);
  }
  toString = () => `${this.method} ${this.path} ${this.body?.length ?? 0}B`;
}

const bytes = (s: string) => Buffer.from(s, "utf8");
const push = fc
  .tuple(
    fc.oneof(
      { weight: 6, arbitrary: payloadObject.map((o) => bytes(JSON.stringify(o))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }).map((v) => bytes(JSON.stringify(v) ?? "")) },
      { weight: 1, arbitrary: anyText.map((s) => bytes(`{"a":"${s}"}`)) },
      { weight: 1, arbitrary: deepObject.map((o) => bytes(JSON.stringify(o))) },
    ),
    fc.oneof(
      { weight: 8, arbitrary: fc.constant("application/json") },
      fc.constantFrom(undefined, "text/plain", "application/json; charset=utf-8", "APPLICATION/JSON"),
    ),
    sometimes(priority),
    sometimes(
      fc.oneof(
        { weight: 3, arbitrary: fc.constant("1000") },
        oddNumber.filter((d) => d !== "1.5"),
      ),
    ),
  )
  .chain(([b, ct, p, d]) => idemKey.map((k) => new Push(b, ct, p ?? undefined, d ?? undefined, k ?? undefined)));
const pushBatch = fc
  .tuple(
    fc.oneof(
      { weight: 5, arbitrary: fc.array(payloadObject, { minLength: 1, maxLength: 4 }) },
      fc.array(fc.oneof(payloadObject, deepObject), { minLength: 1, maxLength: 3 }),
      fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    sometimes(priority),
    idemKey,
  )
  .map(([jobs, p, k]) => new PushBatch(jobs, p ?? undefined, k ?? undefined));
const repeat = fc.constant(new RepeatLast());
const take = fc
  .tuple(
    fc.option(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 5 }) }, fc.integer({ min: -5, max: 2000 }), oddNumber), {
      freq: 2,
    }),
    fc.boolean(),
    fc.option(fc.oneof({ weight: 8, arbitrary: headerText.map((w) => w.slice(0, 40)) }, headerText, fc.constant("w".repeat(257))), {
      freq: 3,
    }),
  )
  .map(([n, lease, w]) => new Take(n ?? undefined, lease, w ?? undefined));
const onJob = fc
  .tuple(
    fc.constantFrom("ack" as const, "fail" as const, "extend" as const),
    fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 2 }) }, fc.nat({ max: 8 })),
    fc.oneof({ weight: 12, arbitrary: fc.constantFrom("none", "current", "current", "wrong") }, oddNumber, headerText),
    // not 0 or 0.5: a lease extended by 0 s has expired at once, and a sweep may hand the job out
    // again at any moment, which no clockless model can follow (see the README on leases)
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom("30", "600", "30.25") }, anyText, fc.constantFrom("-1", "1e400", "43201")),
  )
  .map(([op, pick, attempt, extra]) => new OnJob(op, pick, attempt, extra));
const purge = fc.constant(new Purge());
const batchOnJobs = fc
  .tuple(
    fc.constantFrom("ack" as const, "fail" as const),
    fc.array(
      fc.record({
        pick: fc.nat({ max: 6 }),
        attempt: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("none", "current", "wrong") }, fc.constantFrom(0, -1, 1.5, 1e400, "1")),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([op, entries]) => new BatchOnJobs(op, entries as never));
const RATE = 0.001;
const control = fc
  .oneof(
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.integer({ min: 1, max: 3 }).map((b) => `{"rate":${RATE},"burst":${b}}`),
        fc.integer({ min: 1, max: 3 }).map((n) => `{"concurrency":${n}}`),
        fc.constantFrom('{"rate":null}', '{"concurrency":null}'),
      ),
    },
    fc.constantFrom('{"rate":0}', '{"rate":"1"}', '{"burst":0}', '{"concurrency":0}', '{"concurrency":1.5}', '{"rate":1e400}'),
    { weight: 4, arbitrary: fc.constantFrom('{"status":"stop"}', '{"status":"start"}', '{"status":"start"}') },
    {
      weight: 2,
      arbitrary: fc
        .oneof(fc.integer({ min: 0, max: 8 }).map(String), fc.constantFrom("null", "-1", "1.5", "1e400", '"3"'))
        .map((n) => `{"max_length":${n}}`),
    },
    fc.constantFrom('{"status":"pause"}', '{"max_attempts":1e400}', '{"lease":-1}', '{"nope":1}', "[]", "{}", '{"status":"stop"', "null"),
  )
  .map((s) => new Control(bytes(s)));
// valid definitions, none due for at least an hour (a cron of 1 January at 00:00 is weeks away
// unless a run starts in late December: then an hourly schedule stands in for it)
const YEARLY = new Date().getUTCMonth() === 11 && new Date().getUTCDate() > 20 ? '"every":7200' : '"cron":"0 0 1 1 *","tz":"Europe/Paris"';
const VALID_SCHEDULES = [
  '{"every":3600,"job":{"a":1}}',
  '{"every":3600,"job":{"a":2},"priority":3}',
  `{${YEARLY},"job":{"y":1}}`,
  '{"every":86400,"job":{},"max_attempts":2}',
];
const scheduleCall = fc
  .tuple(
    fc.constantFrom("put" as const, "put" as const, "get" as const, "delete" as const),
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom("a", "b", "c.1") }, fc.constantFrom("bad name", "", "x".repeat(129), "é")),
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...VALID_SCHEDULES) },
      fc.constantFrom(
        '{"cron":"* * *","job":{}}',
        '{"cron":"0 0 1 1 *","tz":"Nowhere/Land","job":{}}',
        '{"every":0,"job":{}}',
        '{"every":3600}',
        '{"every":3600,"job":{},"extra":1}',
        '{"every":3600,"cron":"* * * * *","job":{}}',
        "[]",
        "{",
      ),
    ),
  )
  .filter(([, name]) => name !== "")
  .map(([op, name, body]) => new ScheduleCall(op, name, body));
const garbagePath = fc
  .tuple(
    fc.constantFrom("GET", "POST", "PUT", "DELETE"),
    fc.oneof(
      anyText.filter((s) => s.length > 0).map((s) => `/q/${encodeURIComponent(s + "é")}`),
      fc.constantFrom(`/q/${"a".repeat(10_000)}`, `/status/${"b".repeat(10_000)}?with_desc=1`, `/qb/${"c".repeat(129)}`),
      fc.constantFrom("/q/a{b}", `/q/${"x".repeat(129)}`, "/qb/%ZZ", "/q/ok/0", "/q/ok/-1", "/q/ok/1e400", "/dead/ok/1e400/retry"),
    ),
    fc.option(fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a))),
  )
  .filter(([method, , body]) => !(body && (method === "GET" || method === "DELETE")))
  .map(([method, path, body]) => new Garbage(method, path, body ?? undefined));
const garbageQuery = fc
  .constantFrom(
    ["POST", "/q/ok?priority=1e400"],
    ["POST", "/q/ok?delay=1e400"],
    ["POST", "/q/ok?delayed=1e400"],
    ["POST", "/q/ok?priority=1&priority=2"],
    ["POST", "/q/ok?max_attempts=0"],
    ["POST", "/qb/ok?uniq=a"],
    ["GET", "/qb/ok?batch_size=1e400"],
    ["GET", "/q/ok?lease=1e400"],
    ["GET", "/q/ok?wait=99999"],
    ["GET", "/status/ok?limit=0"],
    ["GET", "/status/ok?with_desc=yes"],
    ["GET", "/dead/ok?offset=-1"],
    ["PUT", "/q/ok?priority=x"],
  )
  .map(([method, path]) => new Garbage(method, path, method === "POST" || method === "PUT" ? bytes("{}") : undefined));

// fc.commands picks among its arbitraries evenly: a command listed n times comes n times as often.
// Without weights, purges and refusals kept the queue too empty to reach leases and acks.
const commands = (
  [
    [push, 4],
    [pushBatch, 2],
    [repeat, 1],
    [take, 5],
    [onJob, 5],
    [purge, 1],
    [batchOnJobs, 2],
    [control, 1],
    [garbagePath, 1],
    [garbageQuery, 1],
    [scheduleCall, 2],
  ] as const
).flatMap(([arbitrary, weight]) => Array.from({ length: weight }, () => arbitrary as fc.Arbitrary<fc.AsyncCommand<Model, Real>>));

async function agree(m: Model) {
  const [figures, status] = await Promise.all([call("GET", `/j/${m.queue}`), call("GET", `/status/${m.queue}?with_desc=1&limit=10000`)]);
  const jobs = [...m.jobs.values()];
  const count = (s: State) => jobs.filter((j) => j.state === s).length;
  const ready = readyOrder(m);
  assert.deepEqual(
    [figures.json.job_count, figures.json.job_prioritized, figures.json.job_delayed, figures.json.job_leased, figures.json.job_dead],
    [ready.length, ready.filter((j) => j.priority !== 0).length, count("delayed"), count("leased"), count("dead")],
    "ready, prioritized, delayed, leased, dead",
  );
  assert.equal(JSON.stringify(status.json.jobs), JSON.stringify(ready.map((j) => JSON.parse(j.text))), "the ready jobs, in delivery order");
}

const runs = Number(process.env.PROPERTY_RUNS ?? 200);
const seed = process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED);

t.test(`${runs} random sequences of API calls agree with the model`, async (t) => {
  let steps = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: "medium" }), async (cmds) => {
      const model: Model = {
        // now and then as long as a name may be
        queue: ((name) => (name.endsWith("0") ? name.padEnd(128, "x") : name))(`prop-${randomUUID().slice(0, 8)}`),
        jobs: new Map(),
        open: true,
        lastId: 0,
        maxLength: 0,
        records: new Map(),
        concurrency: null,
        tokens: null,
        schedules: new Map(),
      };
      const real: Real = { steps: [] };
      await fc.asyncModelRun(
        () => ({ model, real }),
        [...cmds].flatMap((c) => [
          c,
          { check: () => true, run: (m: Model) => agree(m), toString: () => "check" } as fc.AsyncCommand<Model, Real>,
        ]),
      );
      steps += [...cmds].length;
    }),
    { numRuns: runs, seed, verbose: 1 },
  );
  t.ok(steps > runs, `${steps} calls, each followed by a check of the queue`);
  if (process.env.PROPERTY_STATS)
    t.comment(
      [...tally]
        .sort()
        .map(([k, n]) => `${n}\t${k}`)
        .join("\n"),
    );
});
