// node --import tsx bench/cluster.ts: presque's push throughput on a 3-master Redis Cluster beside
// the same on a single Redis, in one run, over loopback. Each presque process is built and started
// as `npm run bench` starts it (bench/procs.ts); the cluster is the tests' (test/support/cluster.ts:
// 3 masters, 3 replicas, no persistence), the single Redis a redis-server without persistence.
// Pushes rotate over --queues queues, so that they spread over the cluster's slots (one queue
// lives on one master). Runs alternate, single then cluster, for --rounds rounds; figures are
// medians. On one small machine every Redis shares the cores with presque and the load generator:
// the figure says what a cluster costs or gains per presque process, not what more machines give.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startCluster } from "../test/support/cluster.js";
import { cannon, type Load } from "./load.js";
import { killAll, ROOT, startPresque, startRedis } from "./procs.js";
import { JOB, JSON_HEADERS } from "./queue.js";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "6" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    queues: { type: "string", default: "16" },
    out: { type: "string", default: join(ROOT, "bench", "results", "cluster.json") },
  },
});
const [DURATION, ROUNDS, CONNECTIONS, QUEUES] = [flags.duration, flags.rounds, flags.connections, flags.queues].map(Number);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const single = await startRedis();
  const cluster = await startCluster();
  try {
    const targets = {
      single: await startPresque(single.url),
      cluster: await startPresque("", { cluster: cluster.urls }),
    };
    const requests = Array.from({ length: QUEUES }, (_, i) => ({
      method: "POST",
      path: `/q/bench-push-${i}`,
      headers: JSON_HEADERS,
      body: JOB,
    }));
    const runs: Record<keyof typeof targets, Load[]> = { single: [], cluster: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const name of ["single", "cluster"] as const) {
        const spec = { url: targets[name].url, requests };
        await cannon(spec, CONNECTIONS, 1); // warm-up
        const load = await cannon(spec, CONNECTIONS, DURATION);
        runs[name].push(load);
        process.stderr.write(
          `round ${round} ${name}: ${Math.round(load.reqPerSec)} req/s, p99 ${load.p99} ms, ` +
            `non-2xx ${load.non2xx}, errors ${load.errors}\n`,
        );
      }
    }
    const figures = Object.fromEntries(
      Object.entries(runs).map(([name, loads]) => [
        name,
        {
          reqPerSec: Math.round(median(loads.map((l) => l.reqPerSec))),
          p99: Number(median(loads.map((l) => l.p99)).toFixed(1)),
          non2xx: loads.reduce((n, l) => n + l.non2xx, 0),
        },
      ]),
    ) as Record<keyof typeof targets, { reqPerSec: number; p99: number; non2xx: number }>;
    const ratio = figures.cluster.reqPerSec / figures.single.reqPerSec;
    process.stdout.write(
      `\n| presque POST /q over ${QUEUES} queues | req/s | p99 ms | non-2xx |\n| --- | ---: | ---: | ---: |\n` +
        `| single Redis | ${figures.single.reqPerSec} | ${figures.single.p99} | ${figures.single.non2xx} |\n` +
        `| 3-master cluster | ${figures.cluster.reqPerSec} | ${figures.cluster.p99} | ${figures.cluster.non2xx} |\n` +
        `\ncluster / single: ${ratio.toFixed(2)}x (medians of ${ROUNDS} rounds of ${DURATION} s, ${CONNECTIONS} connections)\n`,
    );
    writeFileSync(
      flags.out!,
      JSON.stringify(
        {
          at: new Date().toISOString(),
          duration: DURATION,
          rounds: ROUNDS,
          connections: CONNECTIONS,
          queues: QUEUES,
          figures,
          ratio,
          runs,
        },
        null,
        2,
      ),
    );
    await Promise.all(Object.values(targets).map((t) => t.stop()));
  } finally {
    killAll();
    await cluster.stop();
    await single.stop();
  }
}

main().catch((err) => {
  killAll();
  process.stderr.write(`bench/cluster: ${(err as Error).stack}\n`);
  process.exit(1);
});
