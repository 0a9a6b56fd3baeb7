// GET /stats/ paged and sorted, GET /status/ paged, and the sorted list of queue names they read
// (data layout 3): its migration and its catch-up with presque of older layouts.
import t from "tap";
import { checkLayout, LAYOUT_VERSION } from "../src/store/layout.js";
import { createLogger } from "../src/shared/log.js";
import { harness } from "./helpers.js";

const h = await harness(t);
const P = h.config.redis.prefix;
const stats = async (query = "") => {
  const r = await h.http("GET", `/stats/${query}`);
  if (r.status !== 200) throw new Error(`/stats/${query}: ${r.status} ${r.text}`);
  return r.json;
};
const names = (body: { queues: Array<{ queue_name: string }> }) => body.queues.map((q) => q.queue_name);

// 12 queues, q00 .. q11, of sizes 3, 1, 0 (a delayed job only), 3, 1, ...: ties on purpose
const QUEUES = Array.from({ length: 12 }, (_, i) => `q${String(i).padStart(2, "0")}`);
const SIZE = (i: number) => [3, 1, 0][i % 3];
for (const [i, q] of QUEUES.entries()) {
  const jobs = Array.from({ length: SIZE(i) }, (_, n) => ({ n }));
  const r = jobs.length
    ? await h.http("POST", `/qb/${q}`, { body: { jobs } })
    : await h.http("POST", `/q/${q}?delay=3600`, { body: { n: 0 } });
  if (r.status !== 201) throw new Error(`setting up ${q}: ${r.status} ${r.text}`);
}

t.test("by name: pages in order, with the total and the old fields", async (t) => {
  const all = await stats();
  t.match(all, { total: 12, offset: 0, limit: 100, sort: "name", order: "asc", workers: 0, redis: { version: String } });
  t.type(all.processes, Array);
  t.same(names(all), QUEUES);
  t.match(all.queues[0], { queue_name: "q00", job_count: 3, job_delayed: 0, status: 1 });

  const pages = [];
  for (let offset = 0; offset < 12; offset += 5) pages.push(...names(await stats(`?limit=5&offset=${offset}`)));
  t.same(pages, QUEUES, "pages of 5 put together are the whole list");
  t.same(names(await stats("?order=desc&limit=3")), ["q11", "q10", "q09"]);
  t.same(names(await stats("?offset=12")), [], "past the end: an empty page");
});

t.test("by size: largest first, ties by name; asc is the reverse", async (t) => {
  const bySize = QUEUES.map((q, i) => ({ q, size: SIZE(i) })).sort((a, b) => b.size - a.size || a.q.localeCompare(b.q));
  const desc = await stats("?sort=size");
  t.match(desc, { sort: "size", order: "desc", total: 12 });
  t.same(
    names(desc),
    bySize.map((x) => x.q),
  );
  t.same(
    desc.queues.map((q: { job_count: number }) => q.job_count),
    bySize.map((x) => x.size),
  );
  t.same(
    names(await stats("?sort=size&limit=4&offset=4")),
    bySize.slice(4, 8).map((x) => x.q),
  );
  t.same(names(await stats("?sort=size&order=asc&limit=2")), [bySize[11].q, bySize[10].q]);
});

t.test("by size: requests that come together share one reading of the sizes", async (t) => {
  const llens = async () => Number(/cmdstat_llen:calls=(\d+)/.exec(await h.redis.info("commandstats"))?.[1] ?? 0);
  // a ranking made more than a few seconds ago is not reused: start from a fresh process's view
  h.presque.context.store.lists["ranking"] = undefined;
  const before = await llens();
  await Promise.all(Array.from({ length: 5 }, () => h.http("GET", "/stats/?sort=size&limit=1")));
  // the ranking: one LLEN per queue, once; then each answer's one entry (queueStats runs LLEN too)
  t.equal((await llens()) - before, 12 + 5, "one reading of the sizes for five requests");
});

t.test("bad paging or sorting is a 400", async (t) => {
  for (const query of ["?sort=age", "?order=up", "?limit=0", "?limit=1001", "?offset=-1", "?offset=x", "?sort=size&order=sideways"]) {
    const r = await h.http("GET", `/stats/${query}`);
    t.equal(r.status, 400, query);
    t.match(r.json, { error: String });
  }
});

t.test("GET /status/ keeps its shape; size is the number of all queues, queues a page", async (t) => {
  t.same((await h.http("GET", "/status/")).json, { queues: QUEUES, size: 12 });
  t.same((await h.http("GET", "/status/?limit=2&offset=3")).json, { queues: ["q03", "q04"], size: 12 });
  t.equal((await h.http("GET", "/status/?limit=10001")).status, 400);
});

t.test("the workers' list can be capped", async (t) => {
  for (const w of ["w1", "w2", "w3"]) await h.http("POST", `/w/q00`, { headers: { "x-presque-workerid": w } });
  t.equal((await stats()).workers, 3);
  t.equal((await h.http("GET", "/w/?limit=2")).json.length, 2);
  t.same((await h.http("GET", "/w/")).json, ["w1", "w2", "w3"]);
  for (const w of ["w1", "w2", "w3"]) await h.http("DELETE", `/w/q00`, { headers: { "x-presque-workerid": w } });
});

t.test("a purge unlists the queue from both lists", async (t) => {
  await h.http("POST", "/q/gone", { body: { n: 1 } });
  t.equal((await stats()).total, 13);
  t.equal((await h.http("DELETE", "/q/gone")).status, 204);
  t.equal((await stats()).total, 12);
  t.equal(await h.redis.sismember(`${P}queues`, "gone"), 0);
});

t.test("layout 3: the migration copies the set into the sorted list; relisting catches up with older layouts", async (t) => {
  const sorted = () => h.redis.zrange(`${P}queuenames`, 0, -1);
  // layout 2 data: the set alone
  await h.redis.del(`${P}queuenames`);
  await h.redis.hset(`${P}meta`, "layout", 2);
  t.equal(await checkLayout(h.redis, P, createLogger("silent")), LAYOUT_VERSION);
  t.same(await sorted(), QUEUES);
  t.equal(await checkLayout(h.redis, P, createLogger("silent")), LAYOUT_VERSION, "nothing to do once migrated");

  // an older process lists a new queue in the set only, and unlists a purged one from the set only
  await h.http("POST", "/q/purged", { body: { n: 1 } });
  await h.redis.hset(`${P}{old}:jobs`, "1", "{}");
  await h.redis.sadd(`${P}queues`, "old");
  await h.redis.srem(`${P}queues`, "purged");
  await h.redis.del(`${P}{purged}:jobs`, `${P}{purged}:wait`);
  t.same(await sorted(), [...QUEUES, "purged"].sort(), "before relisting: what this process wrote");
  await h.presque.context.store.lists.relistQueues();
  t.same(await sorted(), [...QUEUES, "old"].sort(), "after: the same names as the set");
  await h.http("DELETE", "/q/old");
});

t.test("the default page is 100 queues, at most 1000", async (t) => {
  const many = Array.from({ length: 150 }, (_, i) => `z${String(i).padStart(3, "0")}`);
  await h.redis.zadd(`${P}queuenames`, ...many.flatMap((n) => [0, n]));
  const page = await stats();
  t.equal(page.queues.length, 100);
  t.equal(page.total, 162);
  t.equal((await stats("?limit=1000")).queues.length, 162);
  t.equal((await h.http("GET", "/status/")).json.size, 162);
});
