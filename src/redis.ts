// The Redis connection, and the embedded redis-server presque runs when none is configured.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "./config.js";
import { startRedisProcess } from "./redisserver.js";

export function connectionOptions(config: Config): RedisOptions {
  return {
    lazyConnect: true,
    // While Redis is away, fail at once (the route answers 503) instead of queueing requests.
    enableOfflineQueue: false,
    // A Redis that stops answering without closing the connection must not hold requests:
    // the command fails (503) after this long. Coalescing keeps these timers to one per script call.
    commandTimeout: config.redis.command_timeout,
    maxRetriesPerRequest: 1,
    // Off: it batches commands per tick, but then Node waits while Redis runs the batch and Redis
    // waits while Node answers it; requests coalesced per queue (coalesce.ts) batch better.
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    connectionName: "presque",
  };
}

export function createRedis(config: Config, overrides: RedisOptions = {}): Redis {
  const options = { ...connectionOptions(config), ...overrides };
  const r = config.redis;
  if (r.url) return new Redis(r.url, options);
  return new Redis({ host: r.host ?? "127.0.0.1", port: r.port ?? 6379, db: r.db, password: r.password, ...options });
}

/** Where a host/port config points, for logs and /stats/ (never the password). */
export function describeTarget(redis: Redis): string {
  const { host, port, db } = redis.options;
  return `redis://${host}:${port}/${db ?? 0}`;
}

export function findOnPath(program: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

export interface EmbeddedRedis {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the machine's redis-server (or `binary`) with an append-only file in `dir`, so that
 *  queues survive a restart. */
export async function startEmbeddedRedis(dir: string, binary?: string): Promise<EmbeddedRedis> {
  return startRedisProcess({ dir, binary });
}
