// The Redis connection (a single Redis or a Cluster, from the config), and finding programs on PATH.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { isCluster, masters, nodeKey, type RedisClient } from "./topology.js";

/** The `redis` section of the configuration: what the store needs to connect. */
export interface RedisSettings {
  url?: string;
  host?: string;
  port?: number;
  db?: number;
  password?: string;
  /** Redis Cluster: some nodes' URLs (the client finds the rest); excludes url/host/port */
  cluster?: string[];
  prefix: string;
  command_timeout: number;
  push_timeout: number;
  /** replicas that must confirm a push (WAIT) before it is answered 201; 0: no waiting */
  wait_replicas: number;
  embedded: { dir: string; binary?: string };
}

/** What the connection helpers read: the configuration's `redis` section. */
export type RedisConfig = { redis: RedisSettings };

export function connectionOptions(config: RedisConfig): RedisOptions {
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

export function createRedis(config: RedisConfig, overrides: RedisOptions = {}): Redis {
  const options = { ...connectionOptions(config), ...overrides };
  const r = config.redis;
  if (r.url) return new Redis(r.url, options);
  return new Redis({ host: r.host ?? "127.0.0.1", port: r.port ?? 6379, db: r.db, password: r.password, ...options });
}

/** A Redis Cluster client over `redis.cluster`. The single-node options above become each node
 *  connection's redisOptions: that is where a Cluster applies commandTimeout (per attempt at a
 *  node; it has no timeout of its own). Failing fast works differently: a Cluster without an
 *  offline queue refuses a command while it is not ready, and a command to a node that is gone
 *  is retried (MOVED, TRYAGAIN, CLUSTERDOWN, a closed connection) at most `maxRedirections`
 *  times, 100 ms apart, before it fails with a 503 (see errors.ts). */
export function createCluster(config: RedisConfig, overrides: Partial<ClusterOptions> = {}, node: RedisOptions = {}): Cluster {
  const urls = config.redis.cluster ?? [];
  // the startup nodes carry their own credentials; the nodes found later get the first URL's
  const first = new URL(urls[0]);
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...nodeOptions } = connectionOptions(config);
  return new Cluster(urls, {
    lazyConnect,
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy,
    // about 1.6 s of retries in all: enough to ride over a failover that is already decided,
    // short enough to answer 503 while the cluster still looks for a new master
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: Math.min(2000, config.redis.command_timeout),
    // ioredis refreshes its slot map on MOVED, but not by itself unless asked: a client whose
    // commands never follow a MOVED (the push connection's pipelines) would keep a stale map
    slotsRefreshInterval: 5000,
    redisOptions: {
      ...nodeOptions,
      ...(first.password && { password: decodeURIComponent(first.password) }),
      ...(first.username && { username: decodeURIComponent(first.username) }),
      ...(first.protocol === "rediss:" && { tls: {} }),
      ...node,
    },
    ...overrides,
  });
}

/** The connection a config names: a Cluster client for `redis.cluster`, else one Redis. */
export function createClient(config: RedisConfig, overrides: RedisOptions = {}, cluster: Partial<ClusterOptions> = {}): RedisClient {
  return config.redis.cluster ? createCluster(config, cluster, overrides) : createRedis(config, overrides);
}

/** Where a host/port config points, for logs and /stats/ (never the password). */
export function describeTarget(redis: RedisClient): string {
  if (isCluster(redis)) return `redis cluster, masters ${masters(redis).map(nodeKey).sort().join(",")}`;
  const { host, port, db } = redis.options;
  return `redis://${host}:${port}/${db ?? 0}`;
}

/** Where the config points, before any connection (never the password): for start-up errors. */
export function describeConfigTarget(config: RedisConfig): string {
  const r = config.redis;
  const safe = (url: string) => {
    try {
      const u = new URL(url);
      // the user name goes too: some put a secret there
      u.username = "";
      u.password = "";
      return u.toString();
    } catch {
      return "(a URL that does not parse)";
    }
  };
  if (r.cluster) return `the Redis Cluster at ${r.cluster.map(safe).join(", ")}`;
  if (r.url) return `the Redis at ${safe(r.url)}`;
  return `the Redis at redis://${r.host ?? "127.0.0.1"}:${r.port ?? 6379}/${r.db ?? 0}`;
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
