// Test set-up: a real redis-server per test file (redis-memory-server, using the machine's
// binary), a presque server in this process on a free port, and a small HTTP client.
import { randomUUID } from "node:crypto";
import { createServer, request } from "node:http";
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { RedisMemoryServer } from "redis-memory-server";
import tap, { type Test } from "tap";
import { DEFAULTS, type Config } from "../src/server/config.js";
import { createLogger } from "../src/shared/log.js";
import { findOnPath } from "../src/store/redis.js";
import { startServer, type RunningServer, type StartOptions } from "../src/server/start.js";
import { startCluster, type TestCluster } from "./support/cluster.js";
import { checkAnswer } from "./support/openapi.js";

export const REDIS_BINARY = process.env.REDISMS_SYSTEM_BINARY || findOnPath("redis-server") || "/usr/bin/redis-server";

export async function startRedis(args: string[] = [], port?: number): Promise<RedisMemoryServer> {
  return RedisMemoryServer.create({ binary: { systemBinary: REDIS_BINARY }, instance: { args, ...(port && { port }) } });
}

export async function redisUrl(server: RedisMemoryServer): Promise<string> {
  return `redis://${await server.getHost()}:${await server.getPort()}/0`;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function testConfig(url: string, overrides: DeepPartial<Config> = {}): Config {
  const config: Config = structuredClone(DEFAULTS);
  config.server.port = 0;
  config.redis.url = url;
  config.log.level = process.env.PRESQUE_TEST_LOG ?? "silent";
  for (const [section, values] of Object.entries(overrides)) Object.assign((config as never)[section], values);
  return config;
}

/** The second pass of the suite (PRESQUE_TEST_CLUSTER=1, set by .ci/run): every harness in a
 *  test file talks to one real 3-master, 3-replica Redis Cluster instead of its own Redis. */
export const ON_CLUSTER = process.env.PRESQUE_TEST_CLUSTER === "1";

let sharedCluster: Promise<TestCluster> | undefined;

/** One cluster per test file (a process), started on first use and stopped when the file ends. */
export function testCluster(): Promise<TestCluster> {
  if (!sharedCluster) {
    sharedCluster = startCluster();
    const started = sharedCluster;
    tap.teardown(async () => (await started.catch(() => undefined))?.stop());
  }
  return sharedCluster;
}

/** A Cluster client for looking at what the scripts wrote, typed as a Redis so the tests read the
 *  same on both passes. KEYS has no key to route by, so it goes to the master of the pattern's
 *  hash tag (every key a test lists is one queue's). */
function inspectingCluster(urls: string[]): Redis {
  const cluster = new Cluster(urls);
  const keys = async (pattern: string) => {
    const tag = /\{([^}]+)\}/.exec(pattern)?.[1];
    if (tag === undefined) throw new Error(`KEYS ${pattern} on a cluster needs a hash tag`);
    const owner = cluster.slots[calculateSlot(tag)][0];
    const node = cluster.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === owner);
    if (!node) throw new Error(`no connection to ${owner}`);
    return node.keys(pattern);
  };
  return new Proxy(cluster, {
    get: (target, name, receiver) => (name === "keys" ? keys : Reflect.get(target, name, receiver)),
  }) as unknown as Redis;
}

export interface Harness {
  /** the harness's own redis-server; absent on the cluster pass (ON_CLUSTER) */
  redisServer: RedisMemoryServer;
  presque: RunningServer;
  /** a plain connection to the same Redis, to look at what the scripts wrote */
  redis: Redis;
  url: string;
  config: Config;
  http: Client;
}

/** One Redis and one presque for a whole test file, torn down with it. */
export async function harness(t: Test, overrides: DeepPartial<Config> = {}, opts: StartOptions = {}): Promise<Harness> {
  if (ON_CLUSTER) return clusterHarness(t, overrides, opts);
  const redisServer = await startRedis();
  const config = testConfig(await redisUrl(redisServer), overrides);
  const presque = await startServer(config, createLogger(config.log.level), opts);
  const redis = new Redis(config.redis.url!);
  t.teardown(async () => {
    await presque.close();
    redis.disconnect();
    await redisServer.stop();
  });
  return { redisServer, presque, redis, url: presque.url, config, http: client(presque.url) };
}

async function clusterHarness(t: Test, overrides: DeepPartial<Config>, opts: StartOptions): Promise<Harness> {
  const cluster = await testCluster();
  const config = testConfig("", overrides);
  delete config.redis.url;
  config.redis.cluster = cluster.urls;
  const presque = await startServer(config, createLogger(config.log.level), opts);
  const redis = inspectingCluster(cluster.urls);
  t.teardown(async () => {
    await presque.close();
    redis.disconnect();
  });
  return { redisServer: undefined as never, presque, redis, url: presque.url, config, http: client(presque.url) };
}

export const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

/** Polls `check` every `everyMs` until it holds, and answers how long that took; throws after `ms`. */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000, everyMs = 20): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const queueName = (what = "q") => `test-${what}-${randomUUID().slice(0, 8)}`;

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface RequestOptions {
  body?: unknown;
  /** a raw body, sent as is */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type Client = (method: string, path: string, opts?: RequestOptions) => Promise<Reply>;

export function client(base: string): Client {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | Buffer | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(base + path, { method, headers, body: body as BodyInit | undefined, signal: opts.signal });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const reply = { status: res.status, headers: res.headers, text, json };
    checkAnswer(method, path, reply);
    return reply;
  };
}

/** node:http rather than fetch: fetch adds a text/plain Content-Type to string bodies, and these
 *  tests need to send exactly the headers presque's clients sent (or none at all). */
export function rawRequest(base: string, method: string, path: string, body: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers: { "content-length": String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        const reply = { status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text, json };
        try {
          checkAnswer(method, path, reply);
        } catch (err) {
          reject(err);
          return;
        }
        resolve(reply);
      });
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("request timed out")));
    req.end(body);
  });
}

/** A port nothing listens on right now, for servers started as child processes. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
