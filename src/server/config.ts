// Settings come from flags, then environment, then the config file, then these defaults.
// The file is checked key by key: an unknown key or a wrong type stops start-up.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { checkSpec } from "./auth/tokens.js";
import { exposureComplaint, type AuthSettings } from "./auth/tokensfile.js";
import type { RedisSettings } from "../store/redis.js";
import { isQueueName } from "../store/keys.js";
import { checkSchedule, isScheduleName, type ScheduleSpec } from "../store/schedules.js";

/** A schedule declared in config.yaml, applied at start-up (an unchanged one keeps its next run). */
export type ConfiguredSchedule = ScheduleSpec & { queue: string; name: string };

export interface Config {
  server: {
    host: string;
    port: number;
    max_body: number;
    max_wait: number;
    /** Host names presque answers to besides its listening address ("*": any); see origin.ts */
    allowed_hosts: string[];
    /** long polls waiting at once in one process; past it, 503 */
    max_waiters: number;
    /** long polls waiting at once per token in one process; past it, 429 */
    max_waiters_per_token: number;
  };
  redis: RedisSettings;
  batch: { max_push: number; max_fetch: number };
  jobs: { max_attempts: number; backoff_base: number; backoff_cap: number; max_lease: number };
  log: { level: string };
  auth: AuthSettings;
  /** per-queue defaults that POST /control overrides; 0 = no limit */
  queues: { max_length: number; max_payload: number; idempotency_window: number; max_idempotency_keys: number };
  /** recurring jobs applied at start-up (docs/schedules.md) */
  schedules: ConfiguredSchedule[];
}

export const DEFAULTS: Config = {
  server: {
    host: "127.0.0.1",
    port: 5000,
    max_body: 1024 * 1024,
    max_wait: 60,
    allowed_hosts: [],
    max_waiters: 10_000,
    max_waiters_per_token: 1000,
  },
  redis: { prefix: "presque:", command_timeout: 5000, push_timeout: 15000, wait_replicas: 0, embedded: { dir: "./data" } },
  batch: { max_push: 1000, max_fetch: 1000 },
  jobs: { max_attempts: 5, backoff_base: 1, backoff_cap: 3600, max_lease: 43200 },
  log: { level: "info" },
  auth: { tokens: [], insecure: false },
  queues: { max_length: 0, max_payload: 0, idempotency_window: 86400, max_idempotency_keys: 100_000 },
  schedules: [],
};

/** The settings a queue may have of its own (POST /control/:queue), with the server-wide defaults
 *  in config.yaml's jobs and queues sections: one range for both, in the order errors list them. */
export const QUEUE_SETTING_RANGES = {
  max_attempts: [1, 1000],
  backoff_base: [0, 86400],
  backoff_cap: [0, 30 * 86400],
  max_length: [0, 1_000_000_000], // 0: no limit
  max_payload: [0, 512 * 1024 * 1024], // bytes; 0: no limit but server.max_body
  idempotency_window: [1, 30 * 86400],
  max_idempotency_keys: [0, 100_000_000], // keys remembered at once per queue; 0: no limit
} as const satisfies Record<string, readonly [number, number]>;

type Check = (v: unknown) => string | null; // the complaint, or null when the value is fine
const int =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? null : `must be an integer from ${min} to ${max}`;
const str: Check = (v) => (typeof v === "string" && v.length > 0 ? null : "must be a non-empty string");
const prefix: Check = (v) =>
  str(v) ?? (/[{}]/.test(v as string) ? "must not contain { or } (they would break the queues' hash tags)" : null);
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    values.includes(v as string) ? null : `must be one of ${values.join(", ")}`;

const bool: Check = (v) => (typeof v === "boolean" ? null : "must be true or false");
const tokenList: Check = (v) => {
  if (!Array.isArray(v)) return "must be a list of tokens (presque token new prints one)";
  for (const [i, spec] of v.entries()) {
    const complaint = checkSpec(spec);
    if (complaint) return `[${i}] ${complaint}`;
  }
  return null;
};

const scheduleList: Check = (v) => {
  if (!Array.isArray(v)) return "must be a list of schedules ({queue, name, cron or every, job, ...})";
  const seen = new Set<string>();
  for (const [i, entry] of v.entries()) {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return `[${i}] must be a mapping`;
    const { queue, name, ...spec } = entry as Record<string, unknown>;
    if (typeof queue !== "string" || !isQueueName(queue)) return `[${i}].queue must be a queue name`;
    if (typeof name !== "string" || !isScheduleName(name)) return `[${i}].name must be 1-128 characters of A-Z a-z 0-9 _ - . :`;
    if (seen.has(`${queue}\n${name}`)) return `[${i}] names ${queue}/${name} a second time`;
    seen.add(`${queue}\n${name}`);
    try {
      checkSchedule(spec);
    } catch (err) {
      return `[${i}] (${queue}/${name}): ${(err as Error).message}`;
    }
  }
  return null;
};
/** Host names (or name:port, or "*" for any), as a browser would send them in Host. */
const hostList: Check = (v) =>
  Array.isArray(v) && v.every((h) => typeof h === "string" && /^(\*|[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?)$/.test(h))
    ? null
    : 'must be a list of host names (name, name:port, [v6 address] or "*")';

const redisUrlCheck: Check = (v) => str(v) ?? (/^rediss?:\/\//.test(v as string) ? null : "must be a redis:// or rediss:// URL");

/** A Redis Cluster has one database, 0: a URL naming another would be silently ignored. */
const clusterUrlCheck: Check = (v) =>
  redisUrlCheck(v) ?? (/^rediss?:\/\/[^/]*(\/0?)?$/.test(v as string) ? null : "must name database 0 or none (a cluster has only 0)");
const clusterCheck: Check = (v) => {
  if (!Array.isArray(v) || v.length === 0) return "must be a non-empty list of redis:// URLs";
  for (const url of v) {
    const complaint = clusterUrlCheck(url);
    if (complaint) return `${complaint}: ${String(url)}`;
  }
  return null;
};

type Schema = { [key: string]: Check | Schema };
const SCHEMA: Schema = {
  server: {
    host: str,
    port: int(0, 65535),
    max_body: int(1, 512 * 1024 * 1024),
    max_wait: int(0, 3600),
    allowed_hosts: hostList,
    max_waiters: int(1, 1_000_000),
    max_waiters_per_token: int(1, 1_000_000),
  },
  redis: {
    url: redisUrlCheck,
    host: str,
    port: int(1, 65535),
    db: int(0, 15),
    password: str,
    cluster: clusterCheck,
    prefix,
    command_timeout: int(100, 600000),
    push_timeout: int(100, 600000),
    wait_replicas: int(0, 16),
    embedded: { dir: str, binary: str },
  },
  batch: { max_push: int(1, 100000), max_fetch: int(1, 100000) },
  jobs: {
    max_attempts: int(...QUEUE_SETTING_RANGES.max_attempts),
    backoff_base: int(...QUEUE_SETTING_RANGES.backoff_base),
    backoff_cap: int(...QUEUE_SETTING_RANGES.backoff_cap),
    max_lease: int(1, 86400 * 7),
  },
  log: { level: oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent") },
  auth: { tokens: tokenList, tokens_file: str, insecure: bool },
  queues: {
    max_length: int(...QUEUE_SETTING_RANGES.max_length),
    max_payload: int(...QUEUE_SETTING_RANGES.max_payload),
    idempotency_window: int(...QUEUE_SETTING_RANGES.idempotency_window),
    max_idempotency_keys: int(...QUEUE_SETTING_RANGES.max_idempotency_keys),
  },
  schedules: scheduleList,
};

export class ConfigError extends Error {}

function checkSection(value: unknown, schema: Schema, path: string, file: string): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`${file}: ${path || "the file"} must be a mapping of keys to values`);
  }
  for (const [key, v] of Object.entries(value)) {
    const name = path ? `${path}.${key}` : key;
    const rule = schema[key];
    if (!rule) throw new ConfigError(`${file}: unknown key ${name}`);
    if (typeof rule === "function") {
      const complaint = rule(v);
      if (complaint) throw new ConfigError(`${file}: ${name} ${complaint}`);
    } else {
      checkSection(v, rule, name, file);
    }
  }
}

function merge<T>(base: T, over: unknown): T {
  if (!over || typeof over !== "object") return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) ? merge(out[k] ?? {}, v) : v;
  }
  return out as T;
}

export function readConfigFile(file: string): Partial<Config> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot be read (${(err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  checkSection(doc, SCHEMA, "", file);
  return doc as Partial<Config>;
}

export const USAGE = `Usage: presque serve [options]   (npm start -- [options] in a checkout)

Options (each overrides its environment variable, which overrides the config file):
  --port <n>        port to listen on (PRESQUE_PORT; default 5000)
  --host <addr>     address to listen on (PRESQUE_HOST; default 127.0.0.1)
  --redis <url>     use this Redis, e.g. redis://127.0.0.1:6379/0 (PRESQUE_REDIS_URL);
                    without one, presque starts its own redis-server, with its files in ./data
  --redis-cluster <url,url,...>
                    use this Redis Cluster, e.g. redis://10.0.0.1:6379,redis://10.0.0.2:6379
                    (PRESQUE_REDIS_CLUSTER); some nodes suffice, the client finds the rest
  --config <file>   config file (PRESQUE_CONFIG; default ./config.yaml)
  --workers <n>     serve from n processes sharing the port (PRESQUE_WORKERS; default 1)
  --insecure        serve without tokens on a non-loopback address (PRESQUE_INSECURE=1)
  --ephemeral       a throwaway redis-server: no files, everything gone when presque stops
  --help            show this help
`;

export interface Invocation {
  config: Config;
  configFile: string | null;
  workers: number;
  help: boolean;
  /** --ephemeral: no setting of the config file, it only changes which redis-server is started */
  ephemeral?: true;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Invocation {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        redis: { type: "string" },
        "redis-cluster": { type: "string" },
        config: { type: "string" },
        workers: { type: "string" },
        insecure: { type: "boolean" },
        ephemeral: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${USAGE}`);
  }

  const explicitFile = flags.config ?? env.PRESQUE_CONFIG;
  const configFile = resolve(explicitFile ?? "config.yaml");
  const fromFile = explicitFile || existsSync(configFile) ? readConfigFile(configFile) : {};
  // a copy: the settings below are written into it, and DEFAULTS must stay the defaults
  const config = merge(structuredClone(DEFAULTS), fromFile);

  const setting = (flag: keyof typeof flags, envVar: string): Setting | null => {
    const flagValue = flags[flag];
    if (typeof flagValue === "string") return { raw: flagValue, source: `--${flag}` };
    const envValue = env[envVar];
    return envValue === undefined ? null : { raw: envValue, source: envVar };
  };
  const port = setting("port", "PRESQUE_PORT");
  if (port) config.server.port = checked(port, int(0, 65535), Number);
  const host = setting("host", "PRESQUE_HOST");
  if (host) config.server.host = checked(host, str, String);
  const redisUrl = setting("redis", "PRESQUE_REDIS_URL");
  const redisCluster = setting("redis-cluster", "PRESQUE_REDIS_CLUSTER");
  if (redisUrl && redisCluster) {
    throw new ConfigError(`${redisUrl.source} and ${redisCluster.source} name two different Redis setups: give one`);
  }
  // a Redis named by a flag or the environment replaces the file's, whichever form either has
  if (redisUrl) {
    delete config.redis.cluster;
    config.redis.url = checked(redisUrl, redisUrlCheck, String);
  }
  if (redisCluster) {
    for (const key of ["url", "host", "port", "db"] as const) delete config.redis[key];
    config.redis.cluster = checked(redisCluster, clusterCheck, (raw) =>
      raw
        .split(",")
        .map((u) => u.trim())
        .filter(Boolean),
    );
  }
  if (config.redis.cluster && (config.redis.url || config.redis.host || config.redis.port || config.redis.db !== undefined)) {
    throw new ConfigError(`${configFile}: redis.cluster cannot be combined with redis.url, host, port or db`);
  }
  const workers = setting("workers", "PRESQUE_WORKERS");
  if (flags.insecure || env.PRESQUE_INSECURE === "1" || env.PRESQUE_INSECURE === "true") config.auth.insecure = true;
  if (env.PRESQUE_TOKENS_FILE) config.auth.tokens_file = resolve(env.PRESQUE_TOKENS_FILE);
  // here, before an embedded Redis starts or workers fork (startServer checks again)
  const exposed = exposureComplaint(config.server.host, config.auth);
  if (exposed) throw new ConfigError(exposed);
  return {
    config,
    configFile: explicitFile || existsSync(configFile) ? configFile : null,
    workers: workers ? checked(workers, int(1, 64), Number) : 1,
    help: !!flags.help,
    ...(flags.ephemeral && { ephemeral: true as const }),
  };
}

interface Setting {
  raw: string;
  source: string;
}

function checked<T>({ raw, source }: Setting, check: Check, convert: (v: string) => T): T {
  const value = convert(raw);
  const complaint = check(typeof value === "number" && raw.trim() === "" ? NaN : value);
  if (complaint) throw new ConfigError(`${source} ${complaint}`);
  return value;
}

/** Embedded mode: no Redis was named anywhere, so presque runs its own. */
export function usesEmbeddedRedis(config: Config): boolean {
  return !config.redis.url && !config.redis.host && !config.redis.port && !config.redis.cluster;
}
