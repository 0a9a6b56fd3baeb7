// Many presque processes behave as one service: three processes (the third serving from two
// node:cluster workers, --workers 2) against one Redis, and against one Redis Cluster. Jobs
// pushed through all of them are delivered exactly once across all of them (plain GETs delete on
// fetch), and long polls waiting on one process are woken by a push to another.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { freePort, queueName, redisUrl, sleep, startRedis } from "./helpers.js";
import { startCluster } from "./support/cluster.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function call(base: string, method: string, path: string, body?: unknown) {
  const r = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

/** Starts presque processes with these Redis flags; each in its own process group, killed with
 *  its workers when the test ends. Returns their base URLs once every one answers. */
async function processes(t: Test, redisFlags: string[]): Promise<string[]> {
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const child of children) {
      if (child.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
    }
  });
  const bases: string[] = [];
  for (const workers of [1, 1, 2]) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "--port", String(port), "--workers", String(workers), ...redisFlags],
      {
        cwd: ROOT,
        detached: true,
        stdio: "ignore",
      },
    );
    children.push(child);
    bases.push(`http://127.0.0.1:${port}`);
  }
  for (const base of bases) {
    for (let until = Date.now() + 30_000; ; await sleep(100)) {
      if ((await fetch(`${base}/status/`).catch(() => null))?.status === 200) break;
      if (Date.now() > until) throw new Error(`presque at ${base} did not start`);
    }
  }
  return bases;
}

async function behaveAsOne(t: Test, bases: string[]) {
  // exactly once: 300 jobs pushed round-robin through the three, fetched by consumers on all three
  const q = queueName("procs");
  const total = 300;
  const pushes = Array.from({ length: total }, (_, n) => call(bases[n % 3], "POST", `/q/${q}`, { n }));
  const got = new Map<number, number>();
  let done = false;
  const consumers = bases.flatMap((base) =>
    [0, 1].map(async () => {
      while (!done) {
        const r = await call(base, "GET", `/q/${q}?wait=1`);
        if (r.status === 200) {
          const { n } = JSON.parse(r.text);
          got.set(n, (got.get(n) ?? 0) + 1);
        } else if (r.status !== 404) throw new Error(`GET answered ${r.status}: ${r.text}`);
      }
    }),
  );
  const statuses = (await Promise.all(pushes)).map((r) => r.status);
  t.equal(statuses.filter((s) => s === 201).length, total, "every push answered 201");
  for (let until = Date.now() + 30_000; got.size < total && Date.now() < until;) await sleep(50);
  done = true;
  await Promise.all(consumers);
  t.equal(got.size, total, "every job delivered");
  t.same(
    [...got.values()].filter((k) => k !== 1),
    [],
    "none delivered twice",
  );
  t.equal(JSON.parse((await call(bases[0], "GET", `/j/${q}`)).text).job_count, 0, "the queue is empty");

  // long polls on the first process, woken by one batch pushed through the second: more waiters
  // than the once-a-second re-check alone could serve in their 5 s, so only the pushes' messages
  // crossing processes can serve them all
  const w = queueName("wake");
  const waiters = Array.from({ length: 20 }, () => call(bases[0], "GET", `/q/${w}?wait=5`));
  await sleep(500);
  const posted = await call(bases[1], "POST", `/qb/${w}`, { jobs: Array.from({ length: 20 }, (_, i) => ({ i })) });
  t.equal(posted.status, 201);
  const answers = await Promise.all(waiters);
  t.equal(answers.filter((r) => r.status === 200).length, 20, "all 20 waiters got a job pushed to another process");
  t.equal(new Set(answers.map((r) => r.headers.get("x-presque-jobid"))).size, 20, "20 distinct jobs");
}

t.test("three presque processes on one Redis behave as one service", async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await behaveAsOne(t, await processes(t, ["--redis", await redisUrl(redis)]));
});

t.test("three presque processes on one Redis Cluster behave as one service", async (t) => {
  const cluster = await startCluster();
  t.teardown(() => cluster.stop());
  await behaveAsOne(t, await processes(t, ["--redis-cluster", cluster.urls.join(",")]));
});
