// Redis out of memory (maxmemory reached, noeviction): a push is a clear 503 with Retry-After,
// warned about once per interval, and no log line ever carries a job payload, whatever fails.
import { Redis } from "ioredis";
import t from "tap";
import { classify } from "../src/shared/errors.js";
import { createLogger } from "../src/shared/log.js";
import { startServer } from "../src/server/start.js";
import { client, queueName, redisUrl, startRedis, testConfig } from "./helpers.js";

const redisServer = await startRedis();
const config = testConfig(await redisUrl(redisServer));
const lines: string[] = [];
const log = createLogger("info", { write: (line: string) => void lines.push(line) });
const presque = await startServer(config, log);
const redis = new Redis(config.redis.url!);
const http = client(presque.url);
t.teardown(async () => {
  await redis.config("SET", "maxmemory", "0");
  await presque.close();
  redis.disconnect();
  await redisServer.stop();
});

// a payload no log line may contain, in whatever form it is written
const SECRET = "payload-" + "s3cret".repeat(8);
const job = (n: number) => ({ n, secret: SECRET });
const logged = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

t.test("a failing script's error is logged without the job's payload", async (t) => {
  const q = queueName("broken");
  // the jobs hash is a string: the push script's HSET fails with WRONGTYPE, a bug-shaped failure
  await redis.set(`presque:{${q}}:jobs`, "not a hash");
  const from = lines.length;
  const r = await http("POST", `/q/${q}`, { body: job(1) });
  t.equal(r.status, 500);
  t.same(r.json, { error: "internal error" });
  const failed = logged()
    .slice(from)
    .filter((l) => l.msg === "request failed");
  t.equal(failed.length, 1, "the failure is logged");
  t.match(failed[0], { err: { type: "ReplyError", message: /WRONGTYPE/, command: /evalsha|eval/i } });
  t.notOk(
    lines.slice(from).some((l) => l.includes(SECRET)),
    "no log line holds the payload",
  );
  t.notOk(
    lines.slice(from).some((l) => l.includes('"args"')),
    "nor any command's arguments",
  );
});

t.test("out of memory: pushes answer 503 with Retry-After, one warning, no payload in the log", async (t) => {
  const q = queueName("full");
  t.equal((await http("POST", `/q/${q}`, { body: job(0) })).status, 201, "a push before Redis is full");
  await redis.config("SET", "maxmemory-policy", "noeviction");
  await redis.config("SET", "maxmemory", "1");
  const from = lines.length;
  try {
    const singles = await Promise.all(Array.from({ length: 20 }, (_, n) => http("POST", `/q/${q}`, { body: job(n) })));
    const batch = await http("POST", `/qb/${q}`, { body: { jobs: [job(1), job(2)] } });
    const other = await http("POST", `/q/${queueName("new")}`, { body: job(3) });
    for (const r of [...singles, batch, other]) {
      t.equal(r.status, 503);
      t.same(r.json, { error: "redis is out of memory" });
      t.ok(Number(r.headers.get("retry-after")) > 0, "with Retry-After");
    }
    // the same reply from a plain command classifies the same way
    const plain = await redis.set("k", "v").catch((err: unknown) => err);
    t.match(classify(plain), { status: 503, message: "redis is out of memory", bug: false });
  } finally {
    await redis.config("SET", "maxmemory", "0");
  }
  const since = logged().slice(from);
  const warnings = since.filter((l) => typeof l.msg === "string" && /out of memory/.test(l.msg));
  t.equal(warnings.length, 1, "one warning for 22 refused requests");
  t.equal(since.filter((l) => l.msg === "request failed").length, 0, "not logged as a bug");
  t.notOk(
    lines.slice(from).some((l) => l.includes(SECRET)),
    "no log line holds a payload",
  );
  t.equal(await redis.hlen(`presque:{${q}}:jobs`), 1, "nothing refused was stored");
  t.equal((await http("POST", `/q/${q}`, { body: job(4) })).status, 201, "pushes work again once memory is freed");
});
