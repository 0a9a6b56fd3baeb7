// Hostile input (issue 22): capped answers, deep JSON refused and never re-parsed, Host and Origin
// checks, limits on every push path. docs/security.md describes what these hold the server to.
import t from "tap";
import { nestedDeeperThan, MAX_JSON_DEPTH } from "../src/server/http.js";
import { harness, queueName, rawRequest } from "./helpers.js";

const h = await harness(t);
const json = { "content-type": "application/json" };

/** An object holding arrays nested to `depth` levels in all (the object counts one). */
const nested = (depth: number) => `{"a":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

t.test("the depth scan: linear, strings do not count, escapes inside them neither", async (t) => {
  t.equal(nestedDeeperThan(nested(64), 64), false);
  t.equal(nestedDeeperThan(nested(65), 64), true);
  t.equal(nestedDeeperThan(`{"a":"${"[".repeat(500)}"}`, 2), false, "brackets in a string");
  t.equal(nestedDeeperThan(`{"a":"\\"${"[".repeat(500)}"}`, 2), false, "after an escaped quote, still in the string");
  t.equal(nestedDeeperThan(Buffer.from(`{"é":"[[[[","b":[[]]}`), 3), false, "bytes, with UTF-8");
  t.equal(nestedDeeperThan(Buffer.from(`{"é":"[[[[","b":[[[]]]}`), 3), true);
});

t.test("deep JSON is a 400 on every route that reads a body, before it is parsed", async (t) => {
  const q = queueName("deep");
  const deep = nested(200_000);
  t.equal((await h.http("POST", `/q/${q}`, { raw: nested(MAX_JSON_DEPTH), headers: json })).status, 201, "the limit itself is fine");
  const routes: Array<[string, string, string]> = [
    ["POST", `/q/${q}`, deep],
    ["POST", `/q/${q}`, nested(MAX_JSON_DEPTH + 1)],
    ["PUT", `/q/${q}`, deep],
    ["POST", `/qb/${q}`, `{"jobs":[${deep}]}`],
    ["POST", `/qb/${q}`, `{"jobs":[${nested(MAX_JSON_DEPTH + 1)}]}`],
    ["PUT", `/q/${q}/1`, `{"error":${deep}}`],
    ["POST", `/q/${q}/1/lease`, `{"seconds":${deep}}`],
    ["POST", `/qb/${q}/ack`, `{"jobs":[${deep}]}`],
    ["POST", `/qb/${q}/fail`, `{"jobs":[{"id":"1","error":${deep}}]}`],
    ["POST", `/control/${q}`, deep],
    ["POST", `/w/${q}`, deep],
  ];
  for (const [method, path, body] of routes) {
    const r = await h.http(method, path, { raw: body, headers: json });
    t.equal(r.status, 400, `${method} ${path} (${body.length} bytes): 400`);
    t.match(r.json?.error, /deeper than \d+ levels/, `${method} ${path}: says why`);
  }
  t.equal((await h.http("POST", `/qb/${q}`, { raw: `{"jobs":[${nested(MAX_JSON_DEPTH)}]}`, headers: json })).status, 201);
});

t.test("a poison job already stored (too deep to parse) is shown, never a 500", async (t) => {
  const q = queueName("poison");
  const poison = nested(200_000);
  const k = (part: string) => `${h.config.redis.prefix}{${q}}:${part}`;
  // as pushJobs stores a job: an id from seq, the body in jobs, the id in the ready list
  const ready = String(await h.redis.incr(k("seq")));
  await h.redis.hset(k("jobs"), ready, poison);
  await h.redis.rpush(k("wait"), ready);
  const dead = String(await h.redis.incr(k("seq")));
  await h.redis.hset(k("jobs"), dead, poison);
  await h.redis.zadd(k("dead"), Date.now(), dead);

  const status = await h.http("GET", `/status/${q}?with_desc=1`);
  t.equal(status.status, 200, "GET /status/:queue?with_desc=1");
  t.ok(status.text.startsWith(`{"queue":"${q}","size":1,"jobs":[{"a":[[[`), status.text.slice(0, 80));
  const one = await h.http("GET", `/q/${q}/${ready}`);
  t.equal(one.status, 200, "GET /q/:queue/:id");
  t.ok(one.text.endsWith(`]]]}}`) && one.text.includes(`"state":"ready"`), one.text.slice(0, 80));
  const list = await h.http("GET", `/dead/${q}`);
  t.equal(list.status, 200, "GET /dead/:queue");
  t.ok(list.text.startsWith(`{"queue":"${q}","total":1,"offset":0,"limit":100,"jobs":[{"id":"${dead}"`), list.text.slice(0, 120));
  const popped = await h.http("GET", `/q/${q}`);
  t.equal(popped.status, 200, "and it can be taken away");
  t.equal(popped.text, poison);
});

t.test("with_desc and dead pages stop at about 4 MB of payload, at least one job, and say so", async (t) => {
  const q = queueName("big");
  const big = `{"pad":"${"x".repeat(900 * 1024)}"}`;
  for (let i = 0; i < 6; i++) t.equal((await h.http("POST", `/q/${q}?max_attempts=1`, { raw: big, headers: json })).status, 201);
  const desc = await h.http("GET", `/status/${q}?with_desc=1&limit=100`);
  t.equal(desc.status, 200);
  t.equal(desc.json.size, 6);
  t.equal(desc.json.jobs.length, 4, "four jobs of 900 KiB fit under 4 MiB");
  t.equal(desc.json.truncated, true);
  t.ok(desc.text.length < 4.5 * 1024 * 1024, `${desc.text.length} bytes`);
  const small = await h.http("GET", `/status/${q}?with_desc=1&limit=2`);
  t.equal(small.json.jobs.length, 2);
  t.notOk("truncated" in small.json, "no flag when the limit, not the cap, ended the list");

  const leased = await h.http("GET", `/qb/${q}?batch_size=6&lease=60`);
  const ids = (leased.headers.get("x-presque-jobids") ?? "").split(",");
  t.ok(ids.length >= 1, "leased");
  // GET /qb stops at 4 MB too: take the rest
  while (ids.length < 6) {
    const r = await h.http("GET", `/qb/${q}?batch_size=6&lease=60`);
    ids.push(...(r.headers.get("x-presque-jobids") ?? "").split(","));
  }
  const fail = await h.http("POST", `/qb/${q}/fail`, { body: { jobs: ids.map((id) => ({ id, attempt: 1 })) } });
  t.ok(
    fail.json.results.every((r: { state: string }) => r.state === "dead"),
    "all dead",
  );
  const page = await h.http("GET", `/dead/${q}?limit=100`);
  t.equal(page.status, 200);
  t.equal(page.json.total, 6);
  t.equal(page.json.jobs.length, 4);
  t.equal(page.json.truncated, true);
  const next = await h.http("GET", `/dead/${q}?offset=4&limit=100`);
  t.equal(next.json.jobs.length, 2);
  t.notOk("truncated" in next.json);

  const huge = queueName("huge");
  const one = `{"pad":"${"y".repeat(1000 * 1024)}"}`;
  for (let i = 0; i < 5; i++) await h.http("POST", `/q/${huge}`, { raw: one, headers: json });
  const alone = await h.http("GET", `/status/${huge}?with_desc=1`);
  t.equal(alone.json.jobs.length, 4, "as many as fit, at least one");
});

t.test("Host and Origin: a foreign page or a rebound name changes nothing, in the open default", async (t) => {
  const port = h.presque.port;
  const q = queueName("site");
  const plain = { "content-type": "text/plain" };
  const send = (method: string, path: string, headers: Record<string, string>, body = "") =>
    rawRequest(h.url, method, path, body, { ...plain, ...headers });
  const evil = { origin: "http://evil.example" };
  const rebound = { host: `rebind.evil.example:${port}` };
  t.equal((await h.http("POST", `/q/${q}`, { body: { a: 1 } })).status, 201);

  const refused: Array<[string, string, Record<string, string>, string?]> = [
    ["POST", `/control/${q}`, evil, '{"status":"stop"}'],
    ["POST", `/control/${q}`, rebound, '{"status":"stop"}'],
    ["POST", `/control/${q}`, { ...rebound, origin: `http://rebind.evil.example:${port}` }, '{"status":"stop"}'],
    ["GET", `/q/${q}`, evil],
    ["GET", `/qb/${q}?batch_size=1000`, evil],
    ["GET", `/q/${q}`, { "sec-fetch-site": "cross-site" }],
    ["GET", `/Q/${q}`, { "sec-fetch-site": "same-site" }],
    ["GET", `/q/${q}`, rebound],
    ["GET", `/status/`, rebound],
    ["POST", `/dead/${q}/1/retry`, evil],
    ["POST", `/w/${q}`, evil, '{"worker_id":"w"}'],
    ["DELETE", `/q/${q}`, { origin: "null" }],
    ["POST", `/q/${q}`, { origin: `http://127.0.0.1:${port + 1}` }, "{}"],
    // a page on port 80 of the same address is another origin, though presque answers a bare Host
    ["POST", `/q/${q}`, { origin: "http://127.0.0.1" }, "{}"],
    ["POST", `/q/${q}`, { origin: "http://localhost" }, "{}"],
  ];
  for (const [method, path, headers, body] of refused) {
    const r = await send(method, path, headers, body);
    t.equal(r.status, 403, `${method} ${path} ${JSON.stringify(headers)}: 403`);
    t.match(r.json, { error: String });
  }
  const state = await h.http("GET", `/control/${q}`);
  t.equal(state.json.status, 1, "the queue was not stopped");
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 1, "the job is still there");

  // what keeps working: no Origin (curl, clients, workers), the page presque serves, loopback names
  t.equal((await send("GET", `/status/`, evil)).status, 200, "a read from a foreign page is answered (CORS keeps it unread)");
  t.equal((await send("GET", `/`, { "sec-fetch-site": "cross-site" })).status, 200, "a link to the dashboard");
  const same = { origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin" };
  t.equal((await send("POST", `/control/${q}`, same, '{"lease":0}')).status, 200, "the dashboard's own requests");
  t.equal(
    (await send("POST", `/control/${q}`, { host: `localhost:${port}`, origin: `http://localhost:${port}` }, '{"lease":0}')).status,
    200,
  );
  t.equal((await send("GET", `/status/`, { host: `[::1]:${port}` })).status, 200);
  t.equal((await send("GET", `/status/`, { host: `LOCALHOST:${port}` })).status, 200, "names in any case");
  t.equal((await send("GET", `/q/${q}`, { "sec-fetch-site": "none" })).status, 200, "typed into the address bar");
});

t.test("server.allowed_hosts: names presque answers to; tokens change nothing of the check", async (t) => {
  const { newToken } = await import("../src/server/auth/tokens.js");
  const admin = newToken("admin");
  const s = await harness(t, {
    server: { allowed_hosts: ["queue.example", "other.example:8443"] },
    auth: { tokens: [{ id: "admin", sha256: admin.sha256, roles: ["admin", "producer", "consumer", "monitor"] }] },
  });
  const auth = { authorization: `Bearer ${admin.token}`, "content-type": "text/plain" };
  const q = queueName("named");
  const call = (method: string, path: string, headers: Record<string, string>, body = "") =>
    rawRequest(s.url, method, path, body, { ...auth, ...headers });
  t.equal((await call("GET", "/status/", { host: "queue.example" })).status, 200);
  t.equal((await call("GET", "/status/", { host: "queue.example:443" })).status, 200, "a listed name on any port");
  t.equal((await call("GET", "/status/", { host: "other.example:8443" })).status, 200);
  t.equal((await call("GET", "/status/", { host: "other.example" })).status, 403, "a name:port entry is that port only");
  t.equal((await call("GET", "/status/", { host: "evil.example" })).status, 403);
  const stop = '{"status":"stop"}';
  t.equal((await call("POST", `/control/${q}`, { origin: "https://queue.example" }, stop)).status, 200, "a proxy's public name");
  t.equal((await call("POST", `/control/${q}`, { origin: "http://evil.example" }, stop)).status, 403, "a valid token from a foreign page");
});
