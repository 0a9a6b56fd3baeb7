// presque serve (npm start): read the settings, start the embedded Redis when none is configured,
// serve, and shut down cleanly on SIGINT/SIGTERM.
import cluster from "node:cluster";
import { createServer } from "node:net";
import { ConfigError, loadConfig, USAGE, usesEmbeddedRedis, type Config } from "../../server/config.js";
import { createLogger } from "../../shared/log.js";
import { watchLauncher } from "../launcher.js";
import { startRedisProcess, type RedisProcess } from "../../store/redisserver.js";
import { startServer } from "../../server/start.js";

export async function serveCommand(argv: string[]): Promise<void> {
  let invocation;
  try {
    invocation = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`presque: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (invocation.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { config, configFile, workers, ephemeral } = invocation;
  const log = createLogger(config.log.level);

  if (cluster.isWorker) {
    // the primary forwards reloads (SIGHUP) to its workers, maybe while this one is still starting:
    // that must not kill it. The server reads the tokens file when it starts, then reloads on its own
    // SIGHUP handler (src/server/start.ts).
    process.on("SIGHUP", () => {});
    await serve(config, log, process.env.PRESQUE_EMBEDDED === "1");
    return;
  }

  log.info({ file: configFile ?? "(none: defaults)" }, "config");
  let embedded: RedisProcess | undefined;
  if (ephemeral && !usesEmbeddedRedis(config)) {
    throw new ConfigError("--ephemeral starts its own redis-server: give no --redis with it");
  }
  // what can fail at once is tried before a redis-server is started for nothing (and stopped again)
  await probePort(config.server.host, config.server.port);
  if (ephemeral) {
    embedded = await startRedisProcess({ binary: config.redis.embedded.binary });
    config.redis.url = embedded.url;
    log.info({ url: embedded.url, ephemeral: true }, "throwaway redis-server started");
  } else if (usesEmbeddedRedis(config)) {
    // with an append-only file in embedded.dir, so that queues survive a restart
    embedded = await startRedisProcess({ dir: config.redis.embedded.dir, binary: config.redis.embedded.binary });
    config.redis.url = embedded.url;
    log.info({ url: embedded.url, dir: embedded.dir, appendonly: true }, "embedded redis-server started");
  }
  const stopEmbedded = async () => {
    if (!embedded) return;
    await embedded.stop();
    log.info("embedded redis-server stopped");
  };

  if (workers > 1) {
    await supervise(workers, config, log, !!embedded, stopEmbedded);
    return;
  }
  try {
    await serve(config, log, !!embedded, stopEmbedded);
  } catch (err) {
    await stopEmbedded();
    throw err;
  }
}

/** Binds the port and lets it go: a busy port fails start-up before anything else is started. */
async function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((ok, fail) => {
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EADDRINUSE") return fail(err);
      fail(new Error(`cannot listen on ${host}:${port}: the port is in use (another presque?): stop that one, or give --port <n>`));
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => ok()));
  });
}

async function serve(config: Config, log: ReturnType<typeof createLogger>, embedded: boolean, after = async () => {}) {
  const running = await startServer(config, log, { embedded });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await running.close();
    await after();
    log.info("stopped");
    process.exit(0);
  };
  handleSignals(stop, log);
}

/** SIGINT, SIGTERM, and the end of the npm that started presque (launcher.ts) stop it. */
function handleSignals(stop: (signal: string) => Promise<void>, log: ReturnType<typeof createLogger>): void {
  const stopping = (why: string) =>
    stop(why).catch((err) => {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => stopping(signal));
  // a worker of --workers is stopped by its primary, which watches
  if (cluster.isWorker) return;
  watchLauncher((what) => {
    log.warn(`${what}: stopping, as for SIGTERM`);
    void stopping("launcher gone");
  });
}

/** --workers N: N processes share the port (node:cluster); this one keeps the embedded Redis. */
async function supervise(n: number, config: Config, log: ReturnType<typeof createLogger>, embedded: boolean, after: () => Promise<void>) {
  let stopping = false;
  // the same for a worker that replaces one that died: an inherited PRESQUE_EMBEDDED must not say
  // otherwise (/stats/ reports it)
  const env = config.redis.url
    ? { PRESQUE_REDIS_URL: config.redis.url, PRESQUE_EMBEDDED: embedded ? "1" : "0" }
    : { PRESQUE_EMBEDDED: "0" };
  // reloads asked of the primary (SIGHUP), and how many had been when each worker was forked
  let reloads = 0;
  const reloadsAtFork = new Map<number, number>();
  cluster.on("fork", (worker) => reloadsAtFork.set(worker.id, reloads));
  for (let i = 0; i < n; i++) cluster.fork(env);
  const listening = new Set<number>();
  cluster.on("listening", (worker) => {
    listening.add(worker.id);
    // asked while it was starting: it may have read the tokens file before the change
    if (reloads > (reloadsAtFork.get(worker.id) ?? 0)) worker.process.kill("SIGHUP");
  });
  cluster.on("exit", (worker, code, signal) => {
    reloadsAtFork.delete(worker.id);
    if (stopping) return;
    if (!listening.has(worker.id)) {
      // it never served: another would fail the same way (bad config, Redis refusing the layout)
      log.error({ pid: worker.process.pid, code, signal }, "a worker could not start; stopping");
      void stop("a worker could not start", 1);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
    cluster.fork(env);
  });
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: n }, "shutting down workers");
    const all = Object.values(cluster.workers ?? {});
    await Promise.all(
      all.map(
        (w) =>
          new Promise((resolve) => {
            if (!w || w.isDead()) return resolve(undefined);
            w.once("exit", resolve);
            w.process.kill("SIGTERM");
          }),
      ),
    );
    await after();
    log.info("stopped");
    process.exit(exitCode);
  };
  handleSignals(stop, log);
  // the workers read the tokens file (src/server/start.ts): a reload asked of the primary is theirs.
  // Those already serving get it now, one still starting once it listens (above).
  process.on("SIGHUP", () => {
    reloads++;
    for (const w of Object.values(cluster.workers ?? {})) if (w && listening.has(w.id) && !w.isDead()) w.process.kill("SIGHUP");
  });
}
