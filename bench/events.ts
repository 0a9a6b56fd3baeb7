// The dashboard's live feed under load (issue 18): N pages on GET /events of one presque for a
// while, against 1 page and none, reporting presque's resident memory and the Redis commands per
// tick. Bounded: three phases of --seconds each (default 20), then everything is stopped.
//   node --import tsx bench/events.ts [--pages=200] [--seconds=20] [--queues=25]
// Talks only to 127.0.0.1: a redis-server and a presque of its own (bench/procs.ts).
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { killAll, startPresque, startRedis } from "./procs.js";

const flag = (name: string, fallback: number) => {
  const given = process.argv.find((a) => a.startsWith(`--${name}=`));
  return given ? Number(given.split("=")[1]) : fallback;
};
const PAGES = flag("pages", 200);
const SECONDS = flag("seconds", 20);
const QUEUES = flag("queues", 25);
const TICK_MS = 2000; // src/server/dashboard/hub.ts, TICK_MS

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

/** Every command Redis ran so far, not counting the INFO calls this script makes. */
async function commands(redis: Redis): Promise<number> {
  const info = await redis.info("commandstats");
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (m[1] !== "info") total += Number(m[2]);
  return total;
}

function openPage(url: string) {
  const controller = new AbortController();
  let events = 0;
  const done = fetch(`${url}/events`, { signal: controller.signal })
    .then(async (res) => {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        events += (
          Buffer.from(chunk)
            .toString()
            .match(/^event: overview$/gm) ?? []
        ).length;
      }
    })
    .catch(() => {});
  return { close: () => controller.abort(), done, events: () => events };
}

async function phase(name: string, pages: number, url: string, redis: Redis, pid: number) {
  const open = Array.from({ length: pages }, () => openPage(url));
  await new Promise((r) => setTimeout(r, TICK_MS)); // every page connected and served once
  const rssStart = rssMb(pid);
  const [c0, t0] = [await commands(redis), Date.now()];
  const samples: number[] = [];
  for (let s = 0; s < SECONDS; s += 5) {
    await new Promise((r) => setTimeout(r, Math.min(5, SECONDS - s) * 1000));
    samples.push(rssMb(pid));
  }
  const [c1, t1] = [await commands(redis), Date.now()];
  const ticks = (t1 - t0) / TICK_MS;
  const events = open.reduce((a, p) => a + p.events(), 0);
  open.forEach((p) => p.close());
  await Promise.all(open.map((p) => p.done));
  const row = {
    phase: name,
    pages,
    seconds: Math.round((t1 - t0) / 1000),
    redis_commands_per_tick: Number(((c1 - c0) / ticks).toFixed(1)),
    rss_mb_start: Number(rssStart.toFixed(1)),
    rss_mb_end: Number(samples[samples.length - 1].toFixed(1)),
    rss_mb_max: Number(Math.max(...samples).toFixed(1)),
    events_received: events,
  };
  console.log(JSON.stringify(row));
  return row;
}

const redisServer = await startRedis();
const presque = await startPresque(redisServer.url);
const redis = new Redis(redisServer.url);
try {
  for (let i = 0; i < QUEUES; i++) {
    await fetch(`${presque.url}/q/bench-events-${String(i).padStart(3, "0")}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ i }),
    });
  }
  const pid = presque.proc.pid!;
  console.log(`# ${QUEUES} queues; phases of ${SECONDS} s; a tick is ${TICK_MS} ms; presque pid ${pid}`);
  await phase("no page", 0, presque.url, redis, pid);
  await phase("one page", 1, presque.url, redis, pid);
  await phase(`${PAGES} pages`, PAGES, presque.url, redis, pid);
  // the pages gone: nothing is read for them any more
  await phase("after", 0, presque.url, redis, pid);
} finally {
  redis.disconnect();
  await presque.stop();
  await redisServer.stop();
  killAll();
}
