// Group commit caps: single-job pushes that arrive together share a script call, cut by count and
// by bytes, so that one call never carries more than a few MB while each job is still stored.
import t, { type Test } from "tap";
import { Coalescer, MAX_GROUP_BYTES } from "../src/store/coalesce.js";
import { harness, queueName } from "./helpers.js";

/** A Coalescer whose calls are recorded: each call's items. */
function recorder(caps: ConstructorParameters<typeof Coalescer<number, number>>[1]) {
  const calls: number[][] = [];
  const c = new Coalescer<number, number>(async (_key, items) => {
    calls.push(items);
    return items.map((i) => i * 10);
  }, caps);
  return { c, calls };
}

t.test("a group is cut by count and by bytes; an item over the cap goes alone", async (t) => {
  const { c, calls } = recorder({ count: 3, bytes: 100, size: (n) => n });
  // sizes: 40 40 | 40 | 150 | 10 10 10 | 10  (bytes first, then count)
  const sizes = [40, 40, 40, 150, 10, 10, 10, 10];
  const results = await Promise.all(sizes.map((n) => c.add("q", n)));
  t.same(
    results,
    sizes.map((n) => n * 10),
    "every item gets its own result",
  );
  t.same(calls, [[40, 40], [40], [150], [10, 10, 10], [10]]);
  for (const call of calls) t.ok(call.length === 1 || call.reduce((a, b) => a + b) <= 100, `call ${call} within the cap`);
});

t.test("without a size, only the count cuts", async (t) => {
  const { c, calls } = recorder(2);
  await Promise.all([1, 2, 3, 4, 5].map((n) => c.add("q", n)));
  t.same(calls, [[1, 2], [3, 4], [5]]);
});

const h = await harness(t);
const JOB_BYTES = 900 * 1024;
const job = (n: number) => JSON.stringify({ n, pad: "x".repeat(JOB_BYTES - 30) });

/** The push script calls presque sent while `during` ran, as the byte size of each call's arguments
 *  (read where presque's connection sends commands: MONITOR in this process would parse 20 MB of
 *  escaped text on the event loop presque serves from), checked against Redis's own count of
 *  script calls. */
async function pushCalls(t: Test, during: () => Promise<unknown>): Promise<number[]> {
  type Conn = { sendCommand(cmd: { name: string; args: unknown[] }): unknown };
  const store = h.presque.context.store as unknown as { redis: Conn; options: { writer?: Conn } };
  // pushes go over their own connection (the writer) where there is one
  const conn = store.options.writer ?? store.redis;
  const send = conn.sendCommand;
  const sizes: number[] = [];
  conn.sendCommand = function (cmd) {
    if (/^eval(sha)?$/i.test(cmd.name)) {
      const bytes = cmd.args.reduce((sum: number, a) => sum + Buffer.byteLength(String(a)), 0);
      if (bytes > 100_000) sizes.push(bytes);
    }
    return send.call(this, cmd);
  };
  const evalshas = async () => {
    const info = await h.redis.info("commandstats");
    return [...info.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  const before = await evalshas();
  try {
    await during();
  } finally {
    conn.sendCommand = send;
  }
  // small script calls (sweeps, the process registry) may run meanwhile: at least ours ran
  t.ok((await evalshas()) - before >= sizes.length, "Redis ran every call seen");
  return sizes;
}

t.test("many large pushes in one turn become several calls, none over the cap", async (t) => {
  const q = queueName("big");
  const store = h.presque.context.store;
  const N = 12;
  let ids: string[] = [];
  const calls = await pushCalls(t, async () => {
    ids = await Promise.all(Array.from({ length: N }, (_, n) => store.pushOne(q, job(n))));
  });
  t.equal(new Set(ids).size, N, "every job got its own id");
  t.equal(await h.redis.hlen(`presque:{${q}}:jobs`), N, "every job is stored");
  const perCall = Math.floor(MAX_GROUP_BYTES / JOB_BYTES);
  t.equal(calls.length, Math.ceil(N / perCall), `${N} jobs of 900 KB in groups of ${perCall}: ${calls.length} calls`);
  // the arguments besides the payloads (keys, options) are a few hundred bytes
  for (const bytes of calls) t.ok(bytes <= MAX_GROUP_BYTES + 4096, `a call of ${bytes} bytes is within ${MAX_GROUP_BYTES}`);
});

t.test("many concurrent 900 KB POST /q: all answered 201 and stored, no call over the cap", async (t) => {
  const q = queueName("posts");
  const N = 24;
  let statuses: number[] = [];
  const calls = await pushCalls(t, async () => {
    const replies = await Promise.all(
      Array.from({ length: N }, (_, n) => h.http("POST", `/q/${q}`, { raw: job(n), headers: { "content-type": "application/json" } })),
    );
    statuses = replies.map((r) => r.status);
    for (const r of replies) if (r.status !== 201) t.comment(r.status, r.text);
  });
  t.same(statuses, new Array(N).fill(201));
  t.equal(await h.redis.hlen(`presque:{${q}}:jobs`), N);
  t.ok(calls.length >= Math.ceil(N / Math.floor(MAX_GROUP_BYTES / JOB_BYTES)), `${calls.length} calls`);
  for (const bytes of calls) t.ok(bytes <= MAX_GROUP_BYTES + 4096, `a call of ${bytes} bytes is within the cap`);
});

t.test("a single job larger than the cap is still stored (limited by server.max_body only)", async (t) => {
  const big = await harness(t, { server: { max_body: 6 * 1024 * 1024 } });
  const q = queueName("huge");
  const payload = JSON.stringify({ pad: "y".repeat(5 * 1024 * 1024) });
  const r = await big.http("POST", `/q/${q}`, { raw: payload, headers: { "content-type": "application/json" } });
  t.equal(r.status, 201);
  t.equal(await big.redis.hstrlen(`presque:{${q}}:jobs`, r.json.id), payload.length);
});
