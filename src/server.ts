// Wires config, Redis, scripts and routes into a listening HTTP server, and takes it down again.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createApp, type Context } from "./app.js";
import type { Config } from "./config.js";
import { sendJson, tooLarge } from "./http.js";
import { createRedis, describeTarget } from "./redis.js";
import { loadScripts } from "./scripts.js";
import { Store } from "./store.js";
import { Sweeper } from "./sweeper.js";
import { Waiters } from "./waiters.js";

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
}

export async function startServer(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  const redis = createRedis(config);
  const sub = createRedis(config, { connectionName: "presque-notify" });
  let warnedAt = 0;
  const onRedisError = (err: Error) => {
    // ioredis reports every failed reconnection; one line every few seconds is enough
    if (Date.now() - warnedAt > 5000) {
      warnedAt = Date.now();
      log.warn({ err: err.message }, "redis connection error");
    }
  };
  redis.on("error", onRedisError);
  sub.on("error", onRedisError);
  await Promise.all([redis.connect(), sub.connect()]);

  const target = describeTarget(redis);
  const scripts = await loadScripts(redis);
  const version = /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown";
  log.info({ redis: target, version, embedded: !!opts.embedded }, "redis connected");
  log.info({ scripts: scripts.map((s) => `${s.name}-${s.numberOfKeys}`) }, `${scripts.length} lua scripts loaded`);

  const store = new Store(redis, config.redis.prefix, config.jobs);
  await store.syncClock();
  const waiters: Waiters = new Waiters(sub, (queue) => store.keys(queue).notify, (queue, atMs) => sweeper.at(queue, atMs));
  const sweeper = new Sweeper(store, log, (queue) => waiters.waiting(queue), opts.sweepEveryMs);
  const context: Context = { config, store, waiters, sweeper, log, redisInfo: { target, version, embedded: !!opts.embedded } };
  const handle = createApp(context);

  const server = createServer(handle);
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
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host}:${port}`;
  log.info({ host: config.server.host, port, url }, "listening");

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      sweeper.stop();
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      waiters.close(); // long polls answer now instead of holding shutdown up
      // keep-alive connections become idle as their last answers go out: close them as they do
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), 10_000);
      await drained;
      clearInterval(reaper);
      clearTimeout(forced);
      await Promise.allSettled([redis.quit(), sub.quit()]);
    })());

  return { server, port, url, context, close };
}
