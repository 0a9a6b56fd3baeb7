// Tokens and roles: who may call which route on which queue (src/server/auth/), against a real server.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import fc from "fast-check";
import t from "tap";
import { parse as parseYaml } from "yaml";
import { digestOf, globMatch, matchesAny, newToken, TokenTable, type Role, type TokenSpec } from "../src/server/auth/tokens.js";
import { ROUTE_ROLES } from "../src/server/auth/routes.js";
import { exposureComplaint } from "../src/server/auth/tokensfile.js";
import { main as tokenCommand } from "../src/cli/commands/token.js";
import { startServer } from "../src/server/start.js";
import { client, harness, redisUrl, startRedis, testConfig } from "./helpers.js";
import { connect } from "./support/stream.js";

const ROLE_NAMES: Role[] = ["producer", "consumer", "monitor", "admin"];

/** A token for each role, limited to queues ok-* but never ok-secret*. */
/** A token's secret, whole: pq_<id>_<secret>, where the base64url secret may hold "_" itself. */
const secretOf = (token: string) => token.split("_").slice(2).join("_");
const issued = Object.fromEntries(ROLE_NAMES.map((role) => [role, newToken(`t-${role}`)]));
const spec = (role: Role): TokenSpec => ({
  id: `t-${role}`,
  sha256: issued[role].sha256,
  roles: [role],
  queues: ["ok-*"],
  deny: ["ok-secret*"],
});
const pair = newToken("pair");
const tokens: TokenSpec[] = [...ROLE_NAMES.map(spec), { id: "pair", sha256: pair.sha256, roles: ["producer", "consumer"] }];

const logLines: string[] = [];
const logStream = new Writable({ write: (chunk, _enc, done) => (logLines.push(chunk.toString()), done()) });

const redisServer = await startRedis();
const config = testConfig(await redisUrl(redisServer), { auth: { tokens } });
const presque = await startServer(config, pino({ level: "trace" }, logStream));
t.teardown(async () => {
  await presque.close();
  await redisServer.stop();
});
const http = client(presque.url);
const as = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

// Written from the issue, not from src/server/auth/routes.ts, so that a wrong table fails here.
// [method, path with :q for the queue, roles that may call it]
const MATRIX: Array<[string, string, Role[]]> = [
  ["POST", "/q/:q", ["producer"]],
  ["POST", "/qb/:q", ["producer"]],
  ["GET", "/j/:q", ["producer", "monitor"]],
  ["GET", "/status/:q", ["producer", "monitor"]],
  ["GET", "/q/:q", ["consumer"]],
  ["GET", "/qb/:q", ["consumer"]],
  // a plain GET (no upgrade): 426 once let through; the upgrade itself is tested below
  ["GET", "/c/:q", ["consumer"]],
  ["PUT", "/q/:q", ["consumer"]],
  ["PUT", "/q/:q/1", ["consumer"]],
  ["POST", "/q/:q/1/lease", ["consumer"]],
  ["POST", "/qb/:q/ack", ["consumer"]],
  ["POST", "/qb/:q/fail", ["consumer"]],
  ["POST", "/w/:q", ["consumer"]],
  ["DELETE", "/w/:q", ["consumer"]],
  ["GET", "/q/:q/1", ["producer", "consumer", "monitor"]],
  // with the attempt an acknowledgement; without, a cancellation (admin only)
  ["DELETE", "/q/:q/1?attempt=1", ["consumer", "admin"]],
  ["DELETE", "/q/:q/1", ["admin"]],
  ["GET", "/control/:q", ["monitor", "admin"]],
  ["GET", "/dead/:q", ["monitor", "admin"]],
  ["POST", "/control/:q", ["admin"]],
  ["DELETE", "/q/:q", ["admin"]],
  ["DELETE", "/dead/:q", ["admin"]],
  ["POST", "/dead/:q/1/retry", ["admin"]],
  ["POST", "/dead/:q/retry", ["admin"]],
  ["POST", "/dead/:q/delete", ["admin"]],
  ["GET", "/search/:q", ["monitor", "admin"]],
  ["GET", "/schedules/:q", ["monitor", "admin"]],
  ["GET", "/schedules/:q/s", ["monitor", "admin"]],
  ["PUT", "/schedules/:q/s", ["admin"]],
  ["DELETE", "/schedules/:q/s", ["admin"]],
  ["GET", "/events/:q", ["producer", "consumer", "monitor"]],
  // no queue in the path
  ["GET", "/status/", ["monitor"]],
  ["GET", "/stats/", ["monitor"]],
  ["GET", "/metrics", ["monitor"]],
  ["GET", "/w/", ["consumer", "monitor"]],
  // a bad view, so that an allowed role's answer is a 400 rather than an endless event stream
  ["GET", "/events?limit=0", ["monitor"]],
  ["GET", "/schedules/", ["monitor", "admin"]],
];

/** An event stream never ends: its status and headers are all a check reads, then it is dropped. */
async function streamOpened(path: string, headers: Record<string, string> = {}) {
  const done = new AbortController();
  const res = await fetch(presque.url + path, { headers, signal: done.signal });
  const json = res.status === 200 ? undefined : await res.json().catch(() => undefined);
  done.abort();
  return { status: res.status, headers: res.headers, json };
}

t.test("every route x every role x an allowed and a denied queue", async (t) => {
  let checked = 0;
  for (const [method, template, roles] of MATRIX) {
    const queues = template.includes(":q") ? { "ok-1": true, "no-1": false, "ok-secret-1": false } : { "": true };
    for (const [queue, queueAllowed] of Object.entries(queues)) {
      const path = template.replace(":q", queue);
      for (const role of ROLE_NAMES) {
        const body = method === "POST" || method === "PUT" ? "{}" : undefined;
        const headers = { ...as(issued[role].token), "content-type": "application/json" };
        const r = path.startsWith("/events/") ? await streamOpened(path, headers) : await http(method, path, { headers, raw: body });
        const what = `${role} ${method} ${path}`;
        if (roles.includes(role) && queueAllowed) {
          t.not(r.status, 403, `${what}: let through`) && t.not(r.status, 401, `${what}: authenticated`);
        } else {
          t.equal(r.status, 403, `${what}: 403`);
          t.type(r.json?.error, "string", `${what}: a JSON error`);
        }
        checked++;
      }
      const none = path.startsWith("/events/") ? await streamOpened(path) : await http(method, path);
      t.equal(none.status, 401, `no token ${method} ${path}: 401`);
      t.match(none.headers.get("www-authenticate"), /^Bearer realm="presque"/);
    }
  }
  t.equal(checked, 396, "31 queue routes x 3 queues x 4 roles, 6 others x 4 roles");
});

t.test("the table in src/server/auth/routes.ts has no route the matrix above leaves out", async (t) => {
  const tested = new Set(
    MATRIX.map(([m, p]) => `${m} ${p.replace(":q", ":queue").replace("/1", "/:id").replace(/\/s$/, "/:name").replace(/\?.*/, "")}`),
  );
  for (const [path, methods] of Object.entries(ROUTE_ROLES)) {
    for (const [method, allowed] of Object.entries(methods)) {
      if (Array.isArray(allowed)) t.ok(tested.has(`${method} ${path}`), `${method} ${path} is in the matrix`);
    }
  }
});

t.test("a token with two roles may do what either may, on any queue when it names none", async (t) => {
  const push = await http("POST", "/q/any-queue", { body: { a: 1 }, headers: as(pair.token) });
  t.equal(push.status, 201);
  const take = await http("GET", "/q/any-queue", { headers: as(pair.token) });
  t.equal(take.status, 200);
  t.same(take.json, { a: 1 });
  t.equal((await http("DELETE", "/q/any-queue", { headers: as(pair.token) })).status, 403);
});

t.test("401: missing, malformed, unknown or wrong tokens, with a JSON body and a challenge", async (t) => {
  const good = issued.producer.token;
  const cases: Record<string, Record<string, string>> = {
    missing: {},
    "another scheme": { authorization: `Basic ${good}` },
    "no scheme": { authorization: good },
    "wrong secret": { authorization: `Bearer ${good.slice(0, -2)}xx` },
    "unknown id": { authorization: `Bearer ${good.replace("t-producer", "t-nobody")}` },
    "not a token": { authorization: "Bearer hello" },
    "empty bearer": { authorization: "Bearer " },
  };
  for (const [what, headers] of Object.entries(cases)) {
    const r = await http("POST", "/q/ok-1", { body: { a: 1 }, headers });
    t.equal(r.status, 401, what);
    t.match(r.json, { error: String }, what);
    t.match(r.headers.get("www-authenticate"), /^Bearer realm="presque"/, what);
  }
  t.equal(
    (await http("POST", "/q/ok-1", { body: { a: 1 }, headers: { authorization: `bearer ${good}` } })).status,
    201,
    "the scheme in any case",
  );
});

t.test("the queue is read as the router reads it: case, trailing slash, percent-encoding", async (t) => {
  const h = as(issued.producer.token);
  t.equal((await http("POST", "/q/%6Eo-1", { body: { a: 1 }, headers: h })).status, 403, "%6Eo-1 is no-1");
  t.equal((await http("POST", "/q/ok-secret%2D1", { body: { a: 1 }, headers: h })).status, 403);
  t.equal((await http("POST", "/Q/no-1/", { body: { a: 1 }, headers: h })).status, 403);
  t.equal((await http("POST", "/q/%6Bk-1", { body: { a: 1 }, headers: h })).status, 403, "%6Bk-1 is kk-1, not an ok-* queue");
  t.equal((await http("POST", "/q/%6Fk-1", { body: { a: 1 }, headers: h })).status, 201, "%6Fk-1 is ok-1");
});

t.test("GET /w/?queue_name= is judged by the queue it names", async (t) => {
  const h = as(issued.monitor.token);
  t.equal((await http("GET", "/w/?queue_name=ok-1", { headers: h })).status, 200);
  t.equal((await http("GET", "/w/?queue_name=no-1", { headers: h })).status, 403);
  t.equal((await http("GET", "/w/?queue_name=ok-secret-1", { headers: h })).status, 403);
  t.equal((await http("GET", "/w/?queue_name=ok-1&queue_name=no-1", { headers: h })).status, 403, "given twice");
  t.equal((await http("GET", "/w/?queue_name=%6Eo-1", { headers: h })).status, 403, "decoded");
});

t.test("the dashboard page needs no token; its data does; unknown paths are 404 to any token", async (t) => {
  t.equal((await http("GET", "/")).status, 200);
  t.equal((await http("GET", "/stats/")).status, 401);
  t.equal((await http("GET", "/nowhere", { headers: as(issued.monitor.token) })).status, 404);
  t.equal((await http("GET", "/nowhere")).status, 401);
});

t.test("no token appears in the logs", async (t) => {
  for (const token of [issued.admin.token, `${issued.admin.token}x`]) {
    await http("GET", "/stats/", { headers: as(token) });
    await http("POST", "/q/ok-1", { raw: "{oops", headers: { ...as(token), "content-type": "application/json" } });
  }
  t.ok(logLines.length > 0, "something was logged");
  const secret = secretOf(issued.admin.token);
  t.notOk(
    logLines.some((l) => l.includes(secret)),
    "no line holds a secret",
  );
});

t.test("token table: constant-time digests, globs, a deny list that wins", async (t) => {
  const a = newToken("a");
  const table = new TokenTable([{ id: "a", sha256: a.sha256, roles: ["admin"] }]);
  t.equal(table.verify(a.token)?.id, "a");
  t.equal(table.verify(a.token + "x"), null);
  t.equal(table.verify(a.token.replace("pq_a_", "pq_b_")), null);
  t.equal(table.verify(""), null);
  t.equal(digestOf(a.token).toString("hex"), a.sha256, "the stored form is the SHA-256 of the whole token");
  t.notOk(JSON.stringify([...Object.values(table)]).includes(secretOf(a.token)), "the table keeps no secret");
  const globs = ["a*", "b.c", "x?"];
  const test = (name: string) => matchesAny(globs, name);
  t.ok(test("abc") && test("b.c") && test("xy"));
  t.notOk(test("bxc") || test("x") || test("xyz") || test("ba"));
  t.throws(
    () =>
      new TokenTable([
        { id: "a", sha256: a.sha256, roles: ["admin"] },
        { id: "a", sha256: a.sha256, roles: ["admin"] },
      ]),
  );
});

t.test("presque token new prints a token once and a config entry that lets it in", async (t) => {
  let out = "";
  const sink = { write: (s: string) => (out += s) };
  t.equal(tokenCommand(["new", "--roles", "producer,consumer", "--queues", "cmd-*", "--deny", "cmd-x*", "--id", "cmd"], sink, sink), 0);
  const token = out.split("\n")[0];
  t.match(token, /^pq_cmd_[A-Za-z0-9_-]{43}$/);
  const entry = parseYaml(out.split("\n").find((l) => l.trim().startsWith("- {"))!)[0];
  t.same(entry.roles, ["producer", "consumer"]);
  t.same([entry.queues, entry.deny], [["cmd-*"], ["cmd-x*"]]);
  t.notOk(
    out
      .split("\n")
      .slice(1)
      // the whole secret: base64url may itself contain "_"
      .some((l) => l.includes(token.slice("pq_cmd_".length))),
    "the secret is printed once",
  );
  t.equal(new TokenTable([entry]).verify(token)?.id, "cmd");

  out = "";
  t.equal(tokenCommand(["new", "--roles", "boss"], sink, sink), 2, "an unknown role");
  t.match(out, /roles must be/);
  t.equal(tokenCommand(["new"], sink, sink), 2, "no roles");
  t.equal(tokenCommand(["new", "--roles", "admin", "--id", "a_b"], sink, sink), 2, "an id with _");
});

t.test("a tokens file: read at start, again on SIGHUP; a broken one leaves the tokens as they were", async (t) => {
  const dir = t.testdir({});
  const file = join(dir, "tokens.yaml");
  const first = newToken("first");
  const second = newToken("second");
  const write = (specs: unknown) => writeFileSync(file, typeof specs === "string" ? specs : JSON.stringify({ tokens: specs }));
  write([{ id: "first", sha256: first.sha256, roles: ["producer"] }]);
  const h = await harness(t, { auth: { tokens_file: file } });
  const push = (token: string) => h.http("POST", "/q/f", { body: { a: 1 }, headers: as(token) });

  t.equal((await push(first.token)).status, 201);
  t.equal((await push(second.token)).status, 401);
  write(`- { id: second, sha256: "${second.sha256}", roles: [producer] }`);
  process.emit("SIGHUP", "SIGHUP");
  t.equal((await push(first.token)).status, 401, "gone after the reload");
  t.equal((await push(second.token)).status, 201);
  write("tokens: [ {id: ");
  process.emit("SIGHUP", "SIGHUP");
  t.equal((await push(second.token)).status, 201, "a broken file changes nothing");
  write([]);
  process.emit("SIGHUP", "SIGHUP");
  t.equal((await push(second.token)).status, 401, "an empty file lets nobody in, not everybody");
  t.equal((await h.http("GET", "/status/")).status, 401);
});

t.test("no tokens: open on loopback, refused elsewhere unless --insecure", async (t) => {
  const open = { tokens: [], insecure: false };
  for (const host of ["127.0.0.1", "::1", "localhost", "127.3.4.5"]) t.equal(exposureComplaint(host, open), null, host);
  for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.org"]) t.match(exposureComplaint(host, open), /--insecure/, host);
  t.equal(exposureComplaint("0.0.0.0", { ...open, insecure: true }), null);
  t.equal(exposureComplaint("0.0.0.0", { ...open, tokens: [spec("admin")] }), null);
  const config = testConfig("redis://127.0.0.1:1/0", { server: { host: "0.0.0.0" } });
  await t.rejects(startServer(config, pino({ level: "silent" })), /refusing to listen on 0\.0\.0\.0 with no tokens/);
  // and with none configured, presque answers anyone, as it did
  const h = await harness(t);
  t.equal((await h.http("POST", "/q/open", { body: { a: 1 } })).status, 201);
});

t.test("a path the router knows and the table does not needs admin", async (t) => {
  const { Guard } = await import("../src/server/auth/guard.js");
  const guard = new Guard({ tokens, insecure: false }, { wait: async () => 0 } as never, pino({ level: "silent" }));
  const answer = (token: string) => {
    let status = 0;
    const res = { writeHead: (s: number) => (status = s), end: () => {} };
    const req = { method: "GET", headers: { authorization: `Bearer ${token}` } };
    return guard.admit(req as never, res as never, "/new-route", () => true).then((go) => (go ? "through" : status));
  };
  t.equal(await answer(issued.monitor.token), 403);
  t.equal(await answer(issued.admin.token), "through");
});

t.test("any Authorization header that is not a token is a 401 in JSON, never more", async (t) => {
  // Latin-1 without control characters: what a client can put in a header at all
  const latin1 = fc.string({
    unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c)),
    maxLength: 120,
  });
  const header = fc.oneof(
    latin1,
    latin1.map((s) => `Bearer ${s}`),
    latin1.map((s) => `Bearer pq_t-admin_${s}`),
    fc.constantFrom(
      `Bearer ${issued.admin.token.slice(0, -1)}`,
      `Bearer  ${issued.admin.token}x`,
      `Bearer pq__${"a".repeat(43)}`,
      "Bearer pq_t-admin_",
    ),
  );
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(header, fc.constantFrom("GET /stats/", "POST /q/ok-1", "DELETE /q/ok-1"), async (value, route) => {
      const [method, path] = route.split(" ");
      const r = await http(method, path, { headers: { authorization: value } });
      tried++;
      if (r.status === 401 && typeof r.json?.error === "string" && !!r.headers.get("www-authenticate")) return true;
      throw new Error(`${JSON.stringify(value)} ${route}: ${r.status} ${r.text}`);
    }),
    { numRuns: 300 },
  );
  t.equal(tried, 300);
  t.equal(
    (await http("GET", "/stats/", { headers: { authorization: `Bearer ${issued.monitor.token}  ` } })).status,
    200,
    "spaces around the token are not part of it",
  );
});

/** The same question put to a regex (the old way, on inputs too short to be slow). */
const globRegExp = (glob: string) =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );

t.test("globs match in linear time, and as a regex would", async (t) => {
  const glob = "*a*a*a*a*a*a*a*a*b";
  const steps = (name: string) => {
    const counter = { steps: 0 };
    const matched = globMatch(glob, name, counter);
    return { matched, steps: counter.steps };
  };
  const short = steps("a".repeat(50));
  const long = steps("a".repeat(5000));
  t.equal(short.matched, false);
  t.equal(long.matched, false);
  t.equal(globMatch(glob, "a".repeat(5000) + "b"), true);
  // linear: a hundred times the name, about a hundred times the steps (a regex takes ~n^8)
  t.ok(long.steps <= 2 * 5000 + 2 * glob.length, `${long.steps} steps for 5000 characters`);
  t.ok(long.steps / short.steps < 120, `${short.steps} -> ${long.steps} steps`);

  const globArb = fc.string({ unit: fc.constantFrom("a", "b", "*", "?", "."), maxLength: 10 });
  const nameArb = fc.string({ unit: fc.constantFrom("a", "b", "."), maxLength: 14 });
  fc.assert(
    fc.property(globArb, nameArb, (g, n) => {
      const counter = { steps: 0 };
      const same = globMatch(g, n, counter) === globRegExp(g).test(n);
      return same && counter.steps <= (g.length + 1) * (n.length + 1);
    }),
    { numRuns: 2000 },
  );
});

t.test("a hostile glob and a long name: the name is checked first, the rate before the globs", async (t) => {
  const slow = newToken("slow");
  const limited = newToken("limited");
  const h = await harness(t, {
    auth: {
      tokens: [
        { id: "slow", sha256: slow.sha256, roles: ["producer"], queues: ["*a*a*a*a*a*a*a*a*b"] },
        { id: "limited", sha256: limited.sha256, roles: ["producer"], queues: ["*a*a*a*a*a*a*a*a*b"], rate: 0.001, burst: 1 },
      ],
    },
  });
  const push = (token: string, queue: string) => h.http("POST", `/q/${queue}`, { body: { a: 1 }, headers: as(token) });
  t.equal((await push(slow.token, "a".repeat(50))).status, 403, "no match: 403");
  t.equal((await push(slow.token, "a".repeat(127) + "b")).status, 201, "a match");
  const long = await push(slow.token, "a".repeat(15000));
  t.equal(long.status, 400, "an over-long name is refused before any glob");
  t.match(long.json, { error: "invalid queue name" });
  const first = await push(limited.token, "a".repeat(50));
  t.equal(first.status, 403, "within its burst: judged by its globs");
  for (let i = 0; i < 3; i++) {
    const r = await push(limited.token, "a".repeat(50));
    t.equal(r.status, 429, "over its rate: 429 at once, not a stall");
    t.ok(Number(r.headers.get("retry-after")) >= 1);
  }
});

t.test("GET /w/ and ?worker_id= show a token the workers of its queues only; re-registering keeps started_at", async (t) => {
  const all = as(pair.token);
  const reg = (queue: string, id: string, headers = all) =>
    http("POST", `/w/${queue}`, { body: { worker_id: id }, headers: { ...headers, "content-type": "application/json" } });
  t.equal((await reg("ok-w", "w-mine")).status, 201);
  t.equal((await reg("no-w", "w-theirs")).status, 201);
  t.equal((await reg("ok-secret-w", "w-secret")).status, 201);
  t.equal((await reg("ok-w", "w-both")).status, 201);
  t.equal((await reg("no-w", "w-both")).status, 201);
  const consumer = as(issued.consumer.token);
  const list = await http("GET", "/w/", { headers: consumer });
  t.equal(list.status, 200);
  t.ok(list.json.includes("w-mine") && list.json.includes("w-both"), "the workers of its queues");
  t.notOk(list.json.includes("w-theirs") || list.json.includes("w-secret"), "not the others'");
  t.ok((await http("GET", "/w/", { headers: all })).json.includes("w-theirs"), "a token of every queue sees every worker");
  t.equal((await http("GET", "/w/?worker_id=w-theirs", { headers: consumer })).status, 404);
  t.equal((await http("GET", "/w/?worker_id=w-secret", { headers: consumer })).status, 404, "deny wins");
  const both = await http("GET", "/w/?worker_id=w-both", { headers: consumer });
  t.same(both.json.queues, ["ok-w"], "only the queues it may see");

  const key = `${config.redis.prefix}worker:w-mine`;
  const redis = presque.context.store.redis;
  await redis.hset(key, "started_at", 1000);
  t.equal((await reg("ok-w", "w-mine", consumer)).status, 201, "registered again, by another token");
  t.equal((await http("GET", "/w/?worker_id=w-mine", { headers: all })).json.started_at, 1000, "the first started_at stays");
});

t.test("cancelling is the admin's: a consumer acknowledges with the attempt", async (t) => {
  const q = "ok-cancel";
  const consumer = as(issued.consumer.token);
  const push = async () => (await http("POST", `/q/${q}`, { body: { a: 1 }, headers: as(pair.token) })).json.id;
  const ready = await push();
  const refused = await http("DELETE", `/q/${q}/${ready}`, { headers: consumer });
  t.equal(refused.status, 403, "a consumer without an attempt: no cancel");
  t.match(refused.json.error, /needs the role admin/);
  t.equal((await http("DELETE", `/q/${q}/${ready}?attempt=1`, { headers: consumer })).status, 409, "with one: not leased");
  const batch = await http("POST", `/qb/${q}/ack`, { body: { jobs: [{ id: ready }] }, headers: consumer });
  t.equal(batch.status, 403, "nor in a batch");
  t.equal((await http("DELETE", `/q/${q}/${ready}`, { headers: as(issued.admin.token) })).status, 204, "the admin cancels");
  await push();
  const taken = await http("GET", `/q/${q}?lease=30`, { headers: consumer });
  const id = taken.headers.get("x-presque-jobid");
  const ack = await http("POST", `/qb/${q}/ack`, { body: { jobs: [{ id, attempt: 1 }] }, headers: consumer });
  t.same(ack.json.results, [{ id, status: 204, state: "acked" }], "an acknowledgement with the attempt");
});

t.test("401 and 403 are logged, a line per kind now and then, without the token", async (t) => {
  await http("GET", "/stats/");
  await http("GET", "/stats/", { headers: as(issued.producer.token) });
  const refusals = logLines.filter((l) => l.includes("requests refused with"));
  t.ok(
    refusals.some((l) => l.includes("401")),
    "a 401 line",
  );
  t.ok(
    refusals.some((l) => l.includes("403") && l.includes("t-producer")),
    "a 403 line naming the token's id",
  );
  for (let i = 0; i < 20; i++) await http("GET", "/stats/");
  const after = logLines.filter((l) => l.includes("requests refused with 401: no bearer token"));
  t.ok(after.length <= 2, `${after.length} lines for 20 more refusals`);
  t.notOk(
    logLines.some((l) => Object.values(issued).some(({ token }) => l.includes(secretOf(token)))),
    "no secret",
  );
});

t.test("GET /c/:queue: the upgrade is refused as plain HTTP without the consumer role on every queue; subscriptions too", async (t) => {
  const status = async (path: string, headers: Record<string, string>) => {
    try {
      (await connect(presque.url, path, headers)).ws.terminate();
      return 101;
    } catch (err) {
      return (err as { status: number; body: string }).status;
    }
  };
  t.equal(await status("/c/ok-1", {}), 401, "no token");
  t.equal(await status("/c/ok-1", as(issued.consumer.token.slice(0, -2) + "xx")), 401, "a wrong token");
  t.equal(await status("/c/ok-1", as(issued.producer.token)), 403, "not a consumer");
  t.equal(await status("/c/no-1", as(issued.consumer.token)), 403, "a queue it may not use");
  t.equal(await status("/c/ok-1?queues=ok-secret-1", as(issued.consumer.token)), 403, "one of its queues denied");
  t.equal(await status("/c/ok-1?queues=ok-2", as(issued.consumer.token)), 101, "let in");
  const s = await connect(presque.url, "/c/ok-1", as(issued.consumer.token));
  const answer = await s.ask({ subscribe: ["ok-2", "no-2", "ok-secret-2"] });
  t.same(
    answer.subscribe.map((r: { status: number }) => r.status),
    [200, 403, 403],
    "each subscription judged by the token",
  );
  // an ack without its attempt would cancel a job it was never handed: the admin's, as over HTTP
  const pushed = await http("POST", "/q/ok-1", { body: { a: 1 }, headers: as(pair.token) });
  const cancel = await s.ask({ ack: [{ queue: "ok-1", id: pushed.json.id }] });
  t.match(cancel, { for: "ack", status: 403, error: /needs the role admin/ }, "a consumer may not cancel over the socket");
  t.equal((await http("GET", `/q/ok-1/${pushed.json.id}`, { headers: as(pair.token) })).status, 200, "the job is still there");
  s.ws.terminate();
});
