// startPresque(): presque for a test suite. An in-process server on a free port with its own
// throwaway redis-server (nothing written to disk that outlives close()).
import { Client } from "./client/client.js";
import { DEFAULTS, type Config } from "./server/config.js";
import { createLogger } from "./shared/log.js";
import { startRedisProcess } from "./store/redisserver.js";
import { startServer } from "./server/start.js";

export interface PresqueOptions {
  /** the redis-server to run; default PRESQUE_REDIS_SERVER, then the one on PATH */
  redisServer?: string;
  /** log level of the server (default "silent") */
  logLevel?: string;
  /** settings of the server's config, section by section (server.port is always a free one) */
  config?: { [K in keyof Config]?: Partial<Config[K]> };
}

export interface RunningPresque {
  url: string;
  client: Client;
  /** stops the server and its redis-server, and deletes the redis-server's files */
  close(): Promise<void>;
}

export async function startPresque(options: PresqueOptions = {}): Promise<RunningPresque> {
  const redis = await startRedisProcess({ binary: options.redisServer });
  try {
    const config: Config = structuredClone(DEFAULTS);
    for (const [section, values] of Object.entries(options.config ?? {})) Object.assign((config as never)[section], values);
    config.server.host = "127.0.0.1";
    config.server.port = 0;
    config.redis.url = redis.url;
    config.log.level = options.logLevel ?? "silent";
    const server = await startServer(config, createLogger(config.log.level), { embedded: true });
    const client = new Client({ url: server.url });
    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      client,
      close: () =>
        (closing ??= (async () => {
          client.close();
          try {
            await server.close();
          } finally {
            await redis.stop();
          }
        })()),
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}
