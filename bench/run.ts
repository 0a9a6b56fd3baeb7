// npm run bench: presque beside its baselines (a node:http hello-world, a naive node:http +
// ioredis queue) and BullMQ, on one machine, in one run, over loopback. See bench/README.md.
//
// This process is the load generator (autocannon) and hosts BullMQ; each HTTP server under
// test is a child process, and Redis is a redis-server of our own. The scenarios live in
// bench/scenarios/: the interleaved rounds first, then SECTIONS against presque, then BullMQ.
import { cpus, totalmem } from "node:os";
import { Redis } from "ioredis";
import { killAll, startRedis } from "./procs.js";
import { closeFill, PAYLOAD_BYTES } from "./queue.js";
import { bullmq } from "./scenarios/bullmq.js";
import { clientsSection } from "./scenarios/clients.js";
import { httpSection } from "./scenarios/http.js";
import { longPollSection } from "./scenarios/longpoll.js";
import { MEMORY_JOBS, memorySection } from "./scenarios/memory.js";
import { NAIVE_LIST, ROUND_ORDER, roundWarmup, rounds, startServers } from "./scenarios/rounds.js";
import { scaleSection } from "./scenarios/scale.js";
import { streamScenarios } from "./stream.js";
import { CONNECTIONS, DURATION, flags, log, machine, report, ROUNDS, section, WARMUP, type Section } from "./settings.js";

/** What runs against presque after the rounds, in this order, each from an empty Redis: a new
 *  scenario module adds its Section here. */
const streamSection: Section = {
  groups: ["stream"],
  run: async ({ presque, redis, connection }) => {
    const options = { rounds: ROUNDS, duration: DURATION, redisPid: machine.redisPid };
    for (const s of await streamScenarios(presque, redis, connection, options)) report.add(s);
  },
};
const SECTIONS: Section[] = [httpSection, longPollSection, memorySection, clientsSection, scaleSection, streamSection];

if (flags.help) {
  process.stdout.write(`Usage: npm run bench -- [options]
  --duration <s>      seconds per measured run (default 6)
  --warmup <s>        seconds of warm-up before each run, not measured (default 2; half of it in rounds after the first)
  --rounds <n>        interleaved rounds of ${ROUND_ORDER.join(", ")} (default 3)
  --connections <n>   autocannon connections (default 50)
  --only <ids>        comma-separated scenario ids or groups: hello, naive, presque, presque.get_q, bullmq, memory, ...
  --profile <dir>     run presque under node --cpu-prof, writing the profile to <dir> at shutdown
  --workers <n>       start presque with --workers n
  --presque <dir>     benchmark the presque checkout in <dir> instead of this one (to compare a change)
  --out <file>        where to write the JSON (default bench/results/latest.json)
`);
  process.exit(0);
}

if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`bench: --rounds must be a whole number >= 1, not ${flags.rounds}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const started = performance.now();
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const serverInfo = await redis.info("server");
  const version = /redis_version:(\S+)/.exec(serverInfo)?.[1] ?? "unknown";
  machine.redisPid = Number(/process_id:(\d+)/.exec(serverInfo)?.[1]);
  report.memory = { payloadBytes: PAYLOAD_BYTES, jobs: MEMORY_JOBS };
  log(
    `bench: redis-server ${version} at ${redisServer.url}; ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per run; ` +
      `${ROUNDS} round${ROUNDS === 1 ? "" : "s"} (${roundWarmup(2)} s warm-up after the first)`,
  );
  try {
    // presque for its rounds, or for a section
    const servers = await startServers(redisServer.url, section("presque") || SECTIONS.some((s) => s.groups.some(section)));
    try {
      await rounds(servers, redis);
      // the baselines are done with: what follows compares presque with BullMQ
      await Promise.all([servers.hello?.stop(), servers.naive?.stop(), redis.del(NAIVE_LIST)]);
      if (servers.presque) {
        const on = {
          presque: servers.presque,
          redis,
          redisUrl: redisServer.url,
          connection: { host: redisServer.host, port: redisServer.port },
        };
        for (const s of SECTIONS) {
          await s.run(on);
          await redis.flushall();
        }
      }
    } finally {
      await Promise.all([servers.hello?.stop(), servers.naive?.stop(), servers.presque?.stop()]);
    }
    await redis.flushall();
    await bullmq({ host: redisServer.host, port: redisServer.port }, redis);

    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`\n${report.table()}\n\n`);
    report.write(flags.out!, {
      date: new Date().toISOString(),
      seconds: Math.round(seconds),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        memory_gb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        redis: version,
      },
      settings: {
        connections: CONNECTIONS,
        duration: DURATION,
        warmup: WARMUP,
        rounds: ROUNDS,
        rounds_later_warmup: roundWarmup(2),
        round_order: ROUND_ORDER,
        payload_bytes: PAYLOAD_BYTES,
        workers: flags.workers ?? 1,
        presque: flags.presque ?? ".",
      },
    });
    log(`bench: ${Math.round(seconds)} s; JSON in ${flags.out}`);
  } finally {
    closeFill();
    redis.disconnect();
    await redisServer.stop();
  }
}

main().then(
  // a client library's stray timer or socket must not keep a finished run waiting
  () => process.exit(0),
  (err) => {
    killAll();
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
