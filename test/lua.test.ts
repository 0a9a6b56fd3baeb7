// The scripts themselves: file names match their headers, every queue key shares one slot,
// and the rules that are hard to reach over HTTP.
import calculateSlot from "cluster-key-slot";
import { Redis } from "ioredis";
import t from "tap";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { queueKeys } from "../src/store/keys.js";
import { createLogger } from "../src/shared/log.js";
import { LUA_DIR, readScripts } from "../src/store/scripts.js";
import { SCRIPT_VERSIONS, Store } from "../src/store/store.js";
import { queueName, redisUrl, startRedis } from "./helpers.js";

const scripts = readScripts();

t.test("each script's header names its keys, and the script reads them by name only", async (t) => {
  t.ok(scripts.length >= 19, "all scripts were read");
  for (const s of scripts) {
    t.ok(s.keys.length > 0, `${s.command} declares its keys`);
    t.notMatch(s.lua, /--- @include/, `${s.command}: includes were expanded`);
    const body = readFileSync(join(LUA_DIR, s.file), "utf8");
    t.notMatch(body, /KEYS\[/, `${s.command} never indexes KEYS by position`);
    for (const used of new Set([...body.matchAll(/\bk\.([a-z]+)/g)].map((m) => m[1]))) {
      t.ok((s.keys as string[]).includes(used), `${s.command} uses k.${used}, which its header declares`);
    }
  }
});

t.test("this build calls a loaded version of every script", async (t) => {
  for (const [name, version] of Object.entries(SCRIPT_VERSIONS)) {
    t.ok(
      scripts.some((s) => s.name === name && s.version === version),
      `${name}.v${version}`,
    );
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
  const defaults = { max_attempts: 3, backoff_base: 1, backoff_cap: 10 };
  const store = await Store.open(redis, { prefix: "lt:", defaults, commandTimeoutMs: 5000, log: createLogger("silent") });

  t.test("every script compiles in Redis", async (t) => {
    for (const s of scripts) t.match(await redis.script("LOAD", s.lua), /^[0-9a-f]{40}$/, s.command);
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
    t.same(
      jobs.map((j) => JSON.parse(j.payload.toString()).n),
      [2, 3, 4, 5, 1],
    );
  });

  t.test("a delayed job keeps its priority when it comes due", async (t) => {
    const q = queueName("lua");
    await store.push(q, ['{"plain":1}'], {});
    await store.push(q, ['{"urgent":1}'], { priority: 9, dueMs: Date.now() + 50 });
    await new Promise((r) => setTimeout(r, 80));
    const { jobs } = await store.pop(q, 2, "");
    t.same(
      jobs.map((j) => j.payload.toString()),
      ['{"urgent":1}', '{"plain":1}'],
    );
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
    t.equal(view?.lastError, "lease expired");
  });

  t.test("an empty pop tells when the next delayed job is due", async (t) => {
    const q = queueName("lua");
    const due = Date.now() + 60_000;
    await store.push(q, ["{}"], { dueMs: due });
    const { jobs, nextWakeMs } = await store.pop(q, 1, "");
    t.equal(jobs.length, 0);
    t.equal(nextWakeMs, due);
  });

  // lua/includes/metrics.lua
  const counters = async (q: string) => redis.hgetall(queueKeys("lt:", q).counters);

  t.test("the scripts count pushes, deliveries, acks, failures and deaths in the queue's counters", async (t) => {
    const q = queueName("lua");
    await store.push(q, ["{}", "{}", "{}", "{}"], { maxAttempts: 1 });
    const { jobs } = await store.pop(q, 3, "", 30);
    t.match(await store.removeMany(q, [{ id: jobs[0].id, attempt: 1 }], ""), [{ state: "acked" }]);
    t.equal((await store.fail(q, jobs[1].id, 1, "", "boom")).state, "dead");
    t.equal(await store.remove(q, jobs[2].id, 1, ""), "acked");
    await store.pop(q, 1, "", 0); // without a lease: delivered and done with at once
    const c = await counters(q);
    t.match(c, { pushed: "4", delivered: "4", acked: "3", failed_error: "1", dead: "1" });
    t.equal(c.failed_lease_expired, undefined, "no lease ran out");
    t.equal(c.rcount, "3", "three run times: two acks and a failure report of a leased job");
    const buckets = Object.entries(c).filter(([f]) => /^r\d+$/.test(f));
    t.equal(
      buckets.reduce((n, [, v]) => n + Number(v), 0),
      3,
    );
    t.ok(Number(c.rsum) >= 0);
    const minute = Math.floor(Date.now() / 60000);
    const slot = minute % 16;
    t.equal(Number(c[`m${slot}`]), minute, "this minute's slot of the ring, tagged with it");
    t.match(c, { [`p${slot}`]: "4", [`a${slot}`]: "3", [`f${slot}`]: "1" });
  });

  t.test("a lease keeps its start beside the attempt, which the other readers pass over", async (t) => {
    const q = queueName("lua");
    const [id] = await store.push(q, ["{}"]);
    await store.pop(q, 1, "", 30);
    const raw = await redis.hget(queueKeys("lt:", q).attrs, id);
    t.match(raw, /^\{"s":\d{13},"a":1\}$/);
    t.match(await store.job(q, id), { state: "leased", attempts: 1 });
    // decodeAttrs (lua/includes/common.lua), as every script of before reads it, passes over "s"
    t.equal(await store.remove(q, id, 1, ""), "acked", "the attempt is read right");
  });

  t.test("an expired lease is a failure of its own kind, and a death when it was the last attempt", async (t) => {
    const q = queueName("lua");
    await store.push(q, ["{}", "{}"], { maxAttempts: 1 });
    await store.pop(q, 2, "", 0.05);
    await new Promise((r) => setTimeout(r, 80));
    await store.sweep(q);
    t.match(await counters(q), { failed_lease_expired: "2", dead: "2" });
    t.equal((await counters(q)).rcount, undefined, "not a run time: nobody said the job was done");
  });

  t.test("a minute slot used 16 minutes ago starts again from zero", async (t) => {
    const q = queueName("lua");
    const minute = Math.floor(Date.now() / 60000);
    const slot = minute % 16;
    await redis.hset(queueKeys("lt:", q).counters, `m${slot}`, minute - 16, `p${slot}`, 99, `a${slot}`, 5);
    await store.push(q, ["{}"]);
    t.match(await counters(q), { [`m${slot}`]: String(minute), [`p${slot}`]: "1", [`a${slot}`]: "0", [`f${slot}`]: "0", pushed: "1" });
  });
});
