// Limits: a request rate per token (kept in Redis, so it holds across processes), and per queue
// max_length and max_payload.
import { pino } from "pino";
import t from "tap";
import { newToken, type TokenSpec } from "../src/server/auth/tokens.js";
import { startServer } from "../src/server/start.js";
import { client, harness, queueName, redisUrl, startRedis, testConfig, type Harness } from "./helpers.js";

const slow = newToken("slow");
const free = newToken("free");
// one request per 100 s once the burst of 3 is spent: nothing refills while the test runs
const tokens: TokenSpec[] = [
  { id: "slow", sha256: slow.sha256, roles: ["producer", "monitor"], rate: 0.01, burst: 3 },
  { id: "free", sha256: free.sha256, roles: ["producer", "consumer", "monitor", "admin"] },
];

const redisServer = await startRedis();
const config = testConfig(await redisUrl(redisServer), { auth: { tokens } });
// two presque processes' worth of servers on one Redis
const a = await startServer(config, pino({ level: "silent" }));
const b = await startServer(structuredClone(config), pino({ level: "silent" }));
t.teardown(async () => {
  await Promise.all([a.close(), b.close()]);
  await redisServer.stop();
});
// the queue limits, on a server without tokens
const open = await harness(t, { queues: { max_length: 0, max_payload: 0, idempotency_window: 86400 } });
const limited = await harness(t, { queues: { max_length: 3, max_payload: 20, idempotency_window: 86400 } });
const figures = async (hh: Harness, q: string) => (await hh.http("GET", `/j/${q}`)).json;
const httpA = client(a.url);
const httpB = client(b.url);
const as = (token: string) => ({ authorization: `Bearer ${token}` });

t.test("a token's rate: a burst, then 429 with Retry-After, counted across processes", async (t) => {
  const answers = [];
  for (const http of [httpA, httpB, httpA, httpB, httpA]) answers.push(await http("GET", "/j/rated", { headers: as(slow.token) }));
  t.same(
    answers.map((r) => r.status),
    [200, 200, 200, 429, 429],
    "three (the burst) pass, whichever process they reach",
  );
  const refused = answers[3];
  t.match(refused.json, { error: /limited to 0.01 requests per second/ });
  const retryAfter = Number(refused.headers.get("retry-after"));
  t.ok(retryAfter >= 1 && retryAfter <= 100, `Retry-After ${retryAfter} s: when the next request may come`);
  t.equal((await httpB("GET", "/j/rated", { headers: as(free.token) })).status, 200, "another token is not held up");
  t.equal((await httpB("GET", "/j/rated", { headers: { authorization: "Bearer nope" } })).status, 401, "and no token is a 401, not a 429");
});

t.test("max_length: a push beyond it is 429 with Retry-After; a batch goes in whole or not at all", async (t) => {
  const q = queueName("len");
  t.equal((await open.http("POST", `/control/${q}`, { body: { max_length: 3 } })).status, 200);
  t.match((await open.http("GET", `/control/${q}`)).json, { max_length: 3, max_payload: 0 });
  t.equal((await open.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }, { a: 2 }] } })).status, 201);
  const batch = await open.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 3 }, { a: 4 }] } });
  t.equal(batch.status, 429, "two more would make four");
  t.match(batch.json, { error: /holds 2 of at most 3 jobs/ });
  t.equal(batch.headers.get("retry-after"), "1");
  t.equal((await figures(open, q)).job_count, 2, "nothing of the refused batch was written");
  t.equal((await open.http("POST", `/q/${q}?delay=1000`, { body: { a: 3 } })).status, 201, "a delayed job counts too");
  const full = await open.http("POST", `/q/${q}`, { body: { a: 5 } });
  t.equal(full.status, 429);
  t.equal((await open.http("GET", `/q/${q}`)).status, 200, "a consumer takes one");
  t.equal((await open.http("POST", `/q/${q}`, { body: { a: 5 } })).status, 201, "and there is room again");
  t.equal((await open.http("POST", `/control/${q}`, { body: { max_length: null } })).status, 200);
  t.equal((await open.http("POST", `/qb/${q}`, { body: { jobs: [{}, {}, {}, {}] } })).status, 201, "null restores the default: none");
  t.equal((await open.http("POST", `/control/${q}`, { body: { max_length: -1 } })).status, 400);
});

t.test("config defaults: max_length and max_payload for every queue, and /control overrides them", async (t) => {
  const q = queueName("defaults");
  const big = { text: "x".repeat(30) };
  const tooBig = await limited.http("POST", `/q/${q}`, { body: big });
  t.equal(tooBig.status, 413);
  t.match(tooBig.json, { error: /larger than the queue's max_payload of 20 bytes/ });
  const mixed = await limited.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }, big] } });
  t.equal(mixed.status, 413, "one job too large refuses the batch");
  t.equal((await figures(limited, q)).job_count, 0);
  t.equal((await limited.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }, { a: 2 }, { a: 3 }] } })).status, 201);
  t.equal((await limited.http("POST", `/q/${q}`, { body: { a: 4 } })).status, 429);
  await limited.http("POST", `/control/${q}`, { body: { max_length: 10, max_payload: 100 } });
  t.equal((await limited.http("POST", `/q/${q}`, { body: big })).status, 201, "the queue's own limits win");
  t.match((await limited.http("GET", `/control/${q}`)).json, { max_length: 10, max_payload: 100, idempotency_window: 86400 });
  t.equal((await limited.http("POST", `/q/${queueName("other")}`, { body: big })).status, 413, "other queues keep the defaults");
});

t.test("max_length: a cancelled ready job no longer counts, tombstone or not", async (t) => {
  const q = queueName("ghost");
  await open.http("POST", `/control/${q}`, { body: { max_length: 2 } });
  const { ids } = (await open.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }, { a: 2 }] } })).json;
  t.equal((await open.http("POST", `/q/${q}`, { body: { a: 3 } })).status, 429);
  t.equal((await open.http("DELETE", `/q/${q}/${ids[0]}`)).status, 204, "cancelled");
  t.equal((await open.http("POST", `/q/${q}`, { body: { a: 3 } })).status, 201, "room for one");
  t.equal((await open.http("POST", `/q/${q}`, { body: { a: 4 } })).status, 429, "and no more");
});

t.test("PUT /q/:queue (a failed job posted back) keeps max_length and max_payload, per queue and by default", async (t) => {
  const q = queueName("put");
  await open.http("POST", `/control/${q}`, { body: { max_length: 2, max_payload: 50 } });
  for (let i = 0; i < 2; i++) t.equal((await open.http("PUT", `/q/${q}`, { body: { i } })).status, 201);
  for (let i = 0; i < 5; i++) {
    const full = await open.http("PUT", `/q/${q}`, { body: { i } });
    t.equal(full.status, 429, "a third job via PUT: 429");
    t.equal(full.headers.get("retry-after"), "1");
  }
  t.equal((await open.http("GET", `/j/${q}`)).json.job_count, 2, "the queue stays at 2");
  t.equal((await open.http("GET", `/j/${q}`)).json.job_failed, 2, "a refused retry counts no failure");
  await open.http("GET", `/q/${q}`);
  const big = await open.http("PUT", `/q/${q}`, { body: { pad: "x".repeat(60) } });
  t.equal(big.status, 413, "over max_payload via PUT: 413");
  t.match(big.json.error, /max_payload of 50 bytes/);
  // the defaults of config.yaml's queues section
  const d = queueName("put-default");
  t.equal((await limited.http("PUT", `/q/${d}`, { body: { pad: "x".repeat(30) } })).status, 413);
  for (let i = 0; i < 3; i++) t.equal((await limited.http("PUT", `/q/${d}`, { body: { i } })).status, 201);
  t.equal((await limited.http("PUT", `/q/${d}`, { body: { i: 4 } })).status, 429);
});
