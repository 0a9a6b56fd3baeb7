// The scripts themselves: file names match their headers, every queue key shares one slot,
// and the rules that are hard to reach over HTTP.
import calculateSlot from "cluster-key-slot";
import { Redis } from "ioredis";
import t from "tap";
import { queueKeys } from "../src/keys.js";
import { loadScripts, readScripts } from "../src/scripts.js";
import { Store } from "../src/store.js";
import { queueName, redisUrl, startRedis } from "./helpers.js";

const scripts = readScripts();

t.test("each script's header lists exactly the KEYS its file name declares", async (t) => {
  t.ok(scripts.length >= 15, "all scripts were read");
  for (const s of scripts) {
    const header = /^--\[\[([\s\S]*?)\]\]/.exec(s.lua)?.[1];
    t.ok(header, `${s.name} starts with a header block`);
    const listed = new Set([...(header ?? "").matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
    const declared = Array.from({ length: s.numberOfKeys }, (_, i) => i + 1);
    t.same([...listed].sort((a, b) => a - b), declared, `${s.name}-${s.numberOfKeys} lists KEYS[1..${s.numberOfKeys}]`);
    t.notMatch(s.lua, /--- @include/, `${s.name}: includes were expanded`);
  }
});

t.test("all keys of a queue hash to one cluster slot", async (t) => {
  for (const q of ["a", "emails", "x.y:z-1_2", "9".repeat(128)]) {
    const { notify, ...keys } = queueKeys("presque:", q);
    const slots = new Set(Object.values(keys).map((k) => calculateSlot(k)));
    t.equal(slots.size, 1, `queue ${q}: one slot`);
    t.match(notify, `{${q}}`);
  }
});

t.test("against Redis", async (t) => {
  const server = await startRedis();
  const redis = new Redis(await redisUrl(server));
  t.teardown(async () => {
    redis.disconnect();
    await server.stop();
  });
  await loadScripts(redis);
  const store = new Store(redis, "lt:", { max_attempts: 3, backoff_base: 1, backoff_cap: 10 });

  t.test("every script compiles in Redis", async (t) => {
    for (const s of scripts) t.match(await redis.script("LOAD", s.lua), /^[0-9a-f]{40}$/, s.name);
  });

  t.test("priority scores keep their order past 2^32 ids and at the priority bounds", async (t) => {
    const q = queueName("lua");
    await redis.set(queueKeys("lt:", q).seq, 2 ** 32 - 2);
    const body = (n: number) => JSON.stringify({ n });
    await store.push(q, [body(1)], { priority: -1_000_000 });
    await store.push(q, [body(2)], { priority: 1_000_000 });
    await store.push(q, [body(3)], { priority: 5 });
    await store.push(q, [body(4)], { priority: 5 });
    await store.push(q, [body(5)], {});
    const { jobs } = await store.pop(q, 10, "");
    t.same(jobs.map((j) => JSON.parse(j.payload.toString()).n), [2, 3, 4, 5, 1]);
  });

  t.test("a delayed job keeps its priority when it comes due", async (t) => {
    const q = queueName("lua");
    await store.push(q, ['{"plain":1}'], {});
    await store.push(q, ['{"urgent":1}'], { priority: 9, dueMs: Date.now() + 50 });
    await new Promise((r) => setTimeout(r, 80));
    const { jobs } = await store.pop(q, 2, "");
    t.same(jobs.map((j) => j.payload.toString()), ['{"urgent":1}', '{"plain":1}']);
  });

  t.test("an expired lease past max attempts goes to the dead set", async (t) => {
    const q = queueName("lua");
    const [id] = await store.push(q, ["{}"], { maxAttempts: 1 });
    const first = await store.pop(q, 1, "", 0.05);
    t.equal(first.jobs[0].attempt, 1);
    await new Promise((r) => setTimeout(r, 80));
    t.equal((await store.sweep(q)).made, 0, "nothing became ready");
    const view = await store.job(q, id);
    t.equal(view?.state, "dead");
    t.equal(view?.attrs.e, "lease expired");
  });

  t.test("an empty pop tells when the next delayed job is due", async (t) => {
    const q = queueName("lua");
    const due = Date.now() + 60_000;
    await store.push(q, ["{}"], { dueMs: due });
    const { jobs, nextWakeMs } = await store.pop(q, 1, "");
    t.equal(jobs.length, 0);
    t.equal(nextWakeMs, due);
  });
});
