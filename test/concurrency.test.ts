// Many producers and consumers at once, over real HTTP: every job comes out exactly once.
import t, { type Test } from "tap";
import { harness, queueName, sleep } from "./helpers.js";

const h = await harness(t);

const PRODUCERS = 4;
const CONSUMERS = 16;
const TOTAL = 2000;

interface Job {
  n: number;
  p: number;
}

/** What the consumers saw: how often each job number came out, and under which id. */
class Tally {
  readonly counts = new Array<number>(TOTAL).fill(0);
  readonly ids = new Map<string, number>();
  readonly problems: string[] = [];
  requests = 0;

  take(job: Job, id: string | undefined): void {
    if (!Number.isInteger(job?.n) || job.n < 0 || job.n >= TOTAL) this.problems.push(`unexpected job ${JSON.stringify(job)}`);
    else this.counts[job.n]++;
    if (id === undefined) this.problems.push(`job ${job?.n} without an id`);
    else if (this.ids.has(id)) this.problems.push(`id ${id} handed out twice (jobs ${this.ids.get(id)} and ${job?.n})`);
    else this.ids.set(id, job.n);
  }
}

/** Job numbers for producer p: p, p + PRODUCERS, p + 2*PRODUCERS, ... */
const numbersOf = (p: number) => Array.from({ length: TOTAL / PRODUCERS }, (_, i) => i * PRODUCERS + p);

async function produceSingly(q: string, p: number): Promise<void> {
  for (const n of numbersOf(p)) {
    const r = await h.http("POST", `/q/${q}`, { body: { n, p } });
    if (r.status !== 201) throw new Error(`POST answered ${r.status} ${r.text}`);
  }
}

async function produceInBatches(q: string, p: number): Promise<void> {
  const numbers = numbersOf(p);
  for (let i = 0; i < numbers.length;) {
    // uneven batch sizes, and now and then a single POST, so that the two paths interleave
    const size = 1 + ((i * 7 + p) % 23);
    const slice = numbers.slice(i, i + size);
    i += slice.length;
    const r =
      slice.length === 1
        ? await h.http("POST", `/q/${q}`, { body: { n: slice[0], p } })
        : await h.http("POST", `/qb/${q}`, { body: { jobs: slice.map((n) => ({ n, p })) } });
    if (r.status !== 201) throw new Error(`POST answered ${r.status} ${r.text}`);
  }
}

/**
 * Takes jobs until the producers are done and the queue is empty. "Done" is read before each
 * request: a 404 to a request sent after the last job was stored means nothing is left.
 */
async function consume(q: string, tally: Tally, producersDone: () => boolean, how: { batch?: number; wait?: number }): Promise<void> {
  const query = [how.batch !== undefined && `batch_size=${how.batch}`, how.wait !== undefined && `wait=${how.wait}`]
    .filter(Boolean)
    .join("&");
  const path = `/${how.batch !== undefined ? "qb" : "q"}/${q}${query ? `?${query}` : ""}`;
  for (;;) {
    const finished = producersDone();
    const r = await h.http("GET", path);
    tally.requests++;
    if (r.status === 200) {
      if (how.batch === undefined) {
        tally.take(r.json, r.headers.get("x-presque-jobid") ?? undefined);
      } else {
        const ids = (r.headers.get("x-presque-jobids") ?? "").split(",");
        if (!Array.isArray(r.json) || r.json.length !== ids.length || r.json.length > how.batch) {
          tally.problems.push(`batch of ${r.json?.length} jobs with ids ${ids.join(",")}`);
        }
        (r.json as Job[]).forEach((job, i) => tally.take(job, ids[i]));
      }
      continue;
    }
    if (r.status !== 404 || r.json?.error !== "no job") throw new Error(`GET ${path} answered ${r.status} ${r.text}`);
    if (finished) return;
    if (how.wait === undefined) await sleep(5);
  }
}

async function run(
  t: Test,
  produce: (q: string, p: number) => Promise<void>,
  consumerFor: (i: number) => { batch?: number; wait?: number },
): Promise<Tally> {
  const q = queueName("conc");
  const tally = new Tally();
  let done = false;
  const producers = Promise.all(Array.from({ length: PRODUCERS }, (_, p) => produce(q, p))).finally(() => {
    done = true;
  });
  const consumers = Array.from({ length: CONSUMERS }, (_, i) => consume(q, tally, () => done, consumerFor(i)));
  await Promise.all([producers, ...consumers]);

  t.same(tally.problems, [], "no duplicate id, no stray job, batches as announced");
  const missing = tally.counts.flatMap((c, n) => (c === 0 ? [n] : []));
  const twice = tally.counts.flatMap((c, n) => (c > 1 ? [n] : []));
  t.same(missing.slice(0, 20), [], `no job lost (${missing.length} missing)`);
  t.same(twice.slice(0, 20), [], `no job delivered twice (${twice.length} duplicated)`);
  t.equal(tally.ids.size, TOTAL, "as many distinct ids as jobs");

  t.match((await h.http("GET", `/j/${q}`)).json, { job_count: 0, job_delayed: 0, job_processed: TOTAL, job_failed: 0 });
  const prefix = `${h.config.redis.prefix}{${q}}:`;
  t.equal(await h.redis.hlen(`${prefix}jobs`), 0, "no job body left in Redis");
  t.equal(await h.redis.llen(`${prefix}wait`), 0);
  t.equal(Number(await h.redis.get(`${prefix}seq`)), TOTAL, "one id per job");
  t.comment(`${tally.requests} GET requests`);
  return tally;
}

t.test(`${PRODUCERS} producers, ${CONSUMERS} consumers on GET /q`, { timeout: 30000 }, async (t) => {
  await run(t, produceSingly, () => ({}));
});

t.test(`${PRODUCERS} batch producers, ${CONSUMERS} consumers on GET /qb`, { timeout: 30000 }, async (t) => {
  await run(t, produceInBatches, (i) => ({ batch: 1 + ((i * 5) % 16) }));
});

t.test(`${CONSUMERS} long-polling consumers, on /q and /qb`, { timeout: 30000 }, async (t) => {
  await run(t, produceSingly, (i) => (i % 2 ? { wait: 1 } : { wait: 1, batch: 1 + (i % 8) }));
});
