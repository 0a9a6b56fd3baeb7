// Limits: a request rate per token (kept in Redis, so it holds across processes), and per queue
// max_length and max_payload.
import { pino } from "pino";
import t from "tap";
import { newToken, type TokenSpec } from "../src/auth/tokens.js";
import { startServer } from "../src/server.js";
import { client, redisUrl, startRedis, testConfig } from "./helpers.js";

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
const httpA = client(a.url);
const httpB = client(b.url);
const as = (token: string) => ({ authorization: `Bearer ${token}` });

t.test("a token's rate: a burst, then 429 with Retry-After, counted across processes", async (t) => {
  const answers = [];
  for (const http of [httpA, httpB, httpA, httpB, httpA]) answers.push(await http("GET", "/j/rated", { headers: as(slow.token) }));
  t.same(answers.map((r) => r.status), [200, 200, 200, 429, 429], "three (the burst) pass, whichever process they reach");
  const refused = answers[3];
  t.match(refused.json, { error: /limited to 0.01 requests per second/ });
  const retryAfter = Number(refused.headers.get("retry-after"));
  t.ok(retryAfter >= 1 && retryAfter <= 100, `Retry-After ${retryAfter} s: when the next request may come`);
  t.equal((await httpB("GET", "/j/rated", { headers: as(free.token) })).status, 200, "another token is not held up");
  t.equal((await httpB("GET", "/j/rated", { headers: { authorization: "Bearer nope" } })).status, 401, "and no token is a 401, not a 429");
});
