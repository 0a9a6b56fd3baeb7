// Wires config, Redis, scripts and routes into a listening HTTP server, and takes it down again.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createApp } from "./app.js";
import { RequestOrigins } from "./origin.js";
import { Guard } from "./auth/guard.js";
import { RateLimiter } from "./auth/ratelimit.js";
import { exposureComplaint } from "./auth/tokensfile.js";
import type { Config } from "./config.js";
import { sendJson, tooLarge } from "./http.js";
import { checkLayout, TOMBSTONES_SINCE } from "../store/layout.js";
import { JobEvents } from "../store/events.js";
import { LongPoll } from "../store/longpoll.js";
import { ProcessMetrics } from "./metrics.js";
import { StreamServer, type StreamOptions } from "./stream/server.js";
import { ProcessRegistry } from "../store/processes.js";
import { createClient, describeConfigTarget, describeTarget } from "../store/redis.js";
import type { Context } from "./router.js";
import { EventHub } from "./dashboard/hub.js";
import { readOverview } from "./dashboard/overview.js";
import { Store, type ScriptBuild } from "../store/store.js";
import { Sweeper } from "../store/sweeper.js";
import { checkSchedule } from "../store/schedules.js";
import { MAX_PRIORITY } from "./params.js";
import { reloadScriptsOnNewNodes } from "../store/scripts.js";
import { describeNodes, type RedisClient } from "../store/topology.js";

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  context: Context;
  close(): Promise<void>;
}

export interface StartOptions {
  embedded?: boolean;
  /** milliseconds between sweeps of all queues */
  sweepEveryMs?: number;
  /** other script versions than this build's (tests of rolling deploys) */
  scripts?: ScriptBuild;
  /** milliseconds between readings of the dashboard's live feed */
  eventsEveryMs?: number;
  /** the streaming consumers' pings and shutdown wait (tests shorten them) */
  stream?: StreamOptions;
}

export async function startServer(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  const exposed = exposureComplaint(config.server.host, config.auth);
  if (exposed) throw new Error(exposed);
  // one Redis or a Redis Cluster client each (topology.ts keeps what differs between them)
  const redis = createClient(config);
  // before connecting: a broken tokens file stops start-up with nothing to close
  const guard = new Guard(config.auth, new RateLimiter(redis, config.redis.prefix), log);
  if (guard.enabled) log.info({ tokens_file: config.auth.tokens_file }, "requests need a bearer token");
  // long-poll wake-ups come by sharded pub/sub: on a cluster, one subscriber connection per master
  const sub = createClient(config, { connectionName: "presque-notify" }, { shardedSubscribers: true });
  // no command timeout: a push's late reply is waited for (Store.runPush)
  const writer = createClient(config, { connectionName: "presque-push", commandTimeout: undefined });
  let warnedAt = 0;
  let lastError: Error | undefined;
  const onRedisError = (err: Error) => {
    lastError = err;
    // ioredis reports every failed reconnection; one line every few seconds is enough
    if (Date.now() - warnedAt > 5000) {
      warnedAt = Date.now();
      log.warn({ err: err.message }, "redis connection error");
    }
  };
  const connections = [redis, sub, writer];
  for (const c of connections) c.on("error", onRedisError);
  try {
    await Promise.all(connections.map((c) => c.connect()));
  } catch (err) {
    for (const c of connections) c.disconnect();
    throw unreachable(config, lastError ?? (err as Error));
  }

  const target = describeTarget(redis);
  const version = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
  log.info({ redis: target, version, embedded: !!opts.embedded }, "redis connected");
  let registry: ProcessRegistry | undefined;
  let sweeper: Sweeper | undefined;
  let longPoll: LongPoll | undefined;
  let server: Server | undefined;
  let streams: StreamServer | undefined;
  let stopReloading = () => {};
  let stopReloadingTokens = () => {};
  try {
    const layout = await checkLayout(redis, config.redis.prefix, log);
    const storeOptions = {
      prefix: config.redis.prefix,
      defaults: { ...config.jobs, ...config.queues },
      // the config's, not the client's: a Cluster has no command timeout of its own (each of its
      // node connections has the one given in its redisOptions, see createRedis)
      commandTimeoutMs: config.redis.command_timeout,
      writer,
      pushTimeoutMs: config.redis.push_timeout,
      waitReplicas: config.redis.wait_replicas,
      log,
    };
    const store = await Store.open(redis, storeOptions, opts.scripts);
    // a promoted replica or a new node gets the scripts too; a failure costs one EVAL per connection
    // and is logged at debug only, since during a failover the client retries the dead master often
    stopReloading = reloadScriptsOnNewNodes(redis, [...store.scripts.values()], (err, node) =>
      log.debug({ err, node }, "loading scripts failed"),
    );
    log.info({ layout, scripts: store.scriptVersions }, `data layout ${layout}, ${store.scriptVersions.length} lua scripts loaded`);
    await store.syncClock();
    await applySchedules(store, config, log);
    registry = new ProcessRegistry(redis, config.redis.prefix, log, { layout, scripts: store.scriptVersions }, (live) => {
      store.tombstones = live.every((p) => p.layout >= TOMBSTONES_SINCE);
      store.olderBuildsLive = live.some((p) => !p.scripts.some((s) => s.startsWith("fireSchedules.")));
    });
    await registry.start();
    longPoll = new LongPoll(store, sub, log, {
      maxWaiters: config.server.max_waiters,
      maxPerOwner: config.server.max_waiters_per_token,
    });
    sweeper = new Sweeper(store, log, opts.sweepEveryMs);
    const processes = registry.list.bind(registry);
    const events = new EventHub((view) => readOverview(context, view), opts.eventsEveryMs);
    const origins = new RequestOrigins(config.server.host, config.server.allowed_hosts);
    const poll = longPoll;
    const metrics = new ProcessMetrics({ layout, longPollWaiters: () => poll.count });
    store.onScript = (name, seconds) => metrics.observeScript(name, seconds);
    const context: Context = {
      config,
      origins,
      store,
      longPoll,
      jobEvents: new JobEvents(store, sub),
      metrics,
      guard,
      log,
      redisInfo: { target, version, embedded: !!opts.embedded, nodes: () => describeNodes(redis) },
      processes,
      events,
    };
    streams = new StreamServer(config, store, longPoll, guard, log, opts.stream, context.jobEvents, (req) => origins.refusal(req));
    // before listening: a worker of `serve --workers` is sent the reloads asked while it started
    // as soon as it listens (src/cli/commands/serve.ts)
    const reloadTokens = () => guard.reload();
    if (config.auth.tokens_file) process.on("SIGHUP", reloadTokens);
    stopReloadingTokens = () => process.off("SIGHUP", reloadTokens);
    server = await listen(config, createApp(context), streams);
    const { port } = server.address() as AddressInfo;
    origins.listening(port);
    const url = `http://${config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host}:${port}`;
    log.info({ host: config.server.host, port, url }, "listening");
    const close = closer(server, longPoll, events, context.jobEvents, streams, sweeper, registry, connections);
    return { server, port, url, context, close: () => (stopReloadingTokens(), stopReloading(), close()) };
  } catch (err) {
    // nothing of a failed start may keep the process alive
    sweeper?.stop();
    stopReloading();
    stopReloadingTokens();
    longPoll?.close();
    await streams?.close();
    await registry?.stop().catch(() => {});
    server?.close();
    await Promise.allSettled(connections.map((c) => c.quit()));
    throw err;
  }
}

/** Start-up could not connect: which Redis (no password), what it answered, and what to do. ioredis
 *  rejects connect() with "Connection is closed." whatever happened: its error event says what. */
function unreachable(config: Config, cause: Error): Error {
  const advice = /WRONGPASS|NOAUTH|NOPERM/.test(cause.message)
    ? "Check the user name and password in the URL"
    : config.redis.cluster
      ? "Start that cluster, or name other nodes with --redis-cluster <url,...> (PRESQUE_REDIS_CLUSTER, redis.cluster)"
      : "Start that Redis, or name another with --redis <url> (PRESQUE_REDIS_URL, redis.url in the config), " +
        "or give none for presque to start its own redis-server";
  return new Error(`could not connect to ${describeConfigTarget(config)} (${cause.message.replace(/\.$/, "")}). ${advice}`, { cause });
}

/** config.yaml's schedules: every process applies them, and an unchanged one keeps its next run
 *  (setSchedule compares definitions), so N processes starting together create each one once. */
async function applySchedules(store: Store, config: Config, log: Logger): Promise<void> {
  for (const { queue, name, ...spec } of config.schedules ?? []) {
    const { outcome, nextMs } = await store.setSchedule(queue, name, checkSchedule(spec, MAX_PRIORITY));
    if (outcome !== "unchanged") log.info({ queue, schedule: name, next: new Date(nextMs).toISOString() }, `schedule ${outcome}`);
  }
}

async function listen(config: Config, handle: ReturnType<typeof createApp>, streams: StreamServer): Promise<Server> {
  const server = createServer(handle);
  // GET /c/:queue: streaming consumers (src/server/stream)
  server.on("upgrade", (req, socket, head) => streams.upgrade(req, socket, head));
  // a client that asks before sending a large body is told no before it sends it
  server.on("checkContinue", (req, res) => {
    if (Number(req.headers["content-length"]) > config.server.max_body) {
      const refusal = tooLarge(config.server.max_body);
      sendJson(res, refusal.status, { error: refusal.message }, refusal.headers);
      return;
    }
    res.writeContinue();
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting connections, lets requests in flight finish (long polls answer at once), and
 *  closes Redis; the same promise for every caller. */
function closer(
  server: Server,
  longPoll: LongPoll,
  events: EventHub,
  jobEvents: JobEvents,
  streams: StreamServer,
  sweeper: Sweeper,
  registry: ProcessRegistry,
  connections: RedisClient[],
) {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      sweeper.stop();
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      // streaming consumers get no more jobs, may ack what they hold for a while, and are closed
      // with 1001 once the rest is handed back (before Redis closes)
      const streamed = streams.close();
      longPoll.close(); // long polls answer now instead of holding shutdown up
      events.close(); // and the dashboard's streams end
      jobEvents.close(); // and job event streams end
      // keep-alive connections become idle as their last answers go out: close them as they do
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), 10_000);
      await Promise.all([drained, streamed]);
      clearInterval(reaper);
      clearTimeout(forced);
      await registry.stop().catch(() => {});
      await Promise.allSettled(connections.map((c) => c.quit()));
    })());
}
