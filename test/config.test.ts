// src/server/config.ts: flags > environment > config file > defaults, and a config file checked key by key.
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import t, { type Test } from "tap";
import { ConfigError, DEFAULTS, loadConfig, readConfigFile, USAGE, usesEmbeddedRedis, type Config } from "../src/server/config.js";

const REPO = resolve(import.meta.dirname, "..");
const pristine: Config = structuredClone(DEFAULTS);

const dirs = new WeakMap<Test, string>();

/** Writes a config file into the test's own directory (t.testdir() gives one per test: a second
 *  call would empty it); returns the file's path. */
function configFile(t: Test, text: string, name = "config.yaml"): string {
  let dir = dirs.get(t);
  if (!dir) dirs.set(t, (dir = t.testdir({})));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The ConfigError that `fn` throws (fails the test when it throws nothing or something else). */
function configError(t: Test, fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    t.type(err, ConfigError);
    return (err as Error).message;
  }
  t.fail("expected a ConfigError");
  return "";
}

t.test("defaults, with no config file anywhere", async (t) => {
  const dir = t.testdir({});
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(() => process.chdir(cwd));
  const inv = loadConfig([], {});
  t.same(inv, { config: DEFAULTS, configFile: null, workers: 1, help: false });
  t.match(inv.config, {
    server: { host: "127.0.0.1", port: 5000, max_body: 1024 * 1024, max_wait: 60 },
    redis: { prefix: "presque:", embedded: { dir: "./data" } },
    batch: { max_push: 1000, max_fetch: 1000 },
    log: { level: "info" },
  });
  t.equal(inv.config.redis.url, undefined);
  t.ok(usesEmbeddedRedis(inv.config), "no Redis named: embedded");
});

t.test("./config.yaml is the default file, and the repository's one is the defaults", async (t) => {
  const cwd = process.cwd();
  process.chdir(REPO);
  t.teardown(() => process.chdir(cwd));
  const inv = loadConfig([], {});
  t.equal(inv.configFile, join(REPO, "config.yaml"));
  t.same(inv.config, DEFAULTS, "config.yaml documents the defaults without changing them");
});

t.test("an empty file gives the defaults", async (t) => {
  const file = configFile(t, "# nothing here\n");
  t.same(readConfigFile(file), {});
  const inv = loadConfig(["--config", file], {});
  t.equal(inv.configFile, file);
  t.same(inv.config, DEFAULTS);
});

t.test("precedence: flags > environment > file > defaults", async (t) => {
  const file = configFile(t, ["server:", "  port: 6001", "  host: 127.0.0.2", "redis:", "  url: redis://127.0.0.1:7001/1", ""].join("\n"));
  const env = { PRESQUE_PORT: "6002", PRESQUE_HOST: "127.0.0.3", PRESQUE_REDIS_URL: "redis://127.0.0.1:7002/2" };
  const flags = ["--port", "6003", "--host", "127.0.0.4", "--redis", "redis://127.0.0.1:7003/3"];

  const fromFile = loadConfig(["--config", file], {}).config;
  t.match(fromFile, { server: { port: 6001, host: "127.0.0.2" }, redis: { url: "redis://127.0.0.1:7001/1" } }, "file over defaults");
  t.equal(fromFile.server.max_body, DEFAULTS.server.max_body, "keys the file leaves out keep their defaults");
  t.equal(fromFile.redis.prefix, "presque:");

  const fromEnv = loadConfig(["--config", file], env).config;
  t.match(fromEnv, { server: { port: 6002, host: "127.0.0.3" }, redis: { url: "redis://127.0.0.1:7002/2" } }, "env over file");

  const fromFlags = loadConfig(["--config", file, ...flags], env).config;
  t.match(fromFlags, { server: { port: 6003, host: "127.0.0.4" }, redis: { url: "redis://127.0.0.1:7003/3" } }, "flags over env");

  // layers can mix: one setting from each
  const mixed = loadConfig(["--config", file, "--port", "6003"], { PRESQUE_HOST: "127.0.0.3" }).config;
  t.match(mixed, { server: { port: 6003, host: "127.0.0.3" }, redis: { url: "redis://127.0.0.1:7001/1" } });

  const envOnly = loadConfig([], { ...env, PRESQUE_CONFIG: file }).config;
  t.match(envOnly, { server: { port: 6002 } }, "PRESQUE_CONFIG names the file");
  t.equal(loadConfig([], { PRESQUE_CONFIG: file }).configFile, file);

  t.same(DEFAULTS, pristine, "loading never changes DEFAULTS");
});

t.test("--config beats PRESQUE_CONFIG", async (t) => {
  const a = configFile(t, "server:\n  port: 6101\n", "a.yaml");
  const b = configFile(t, "server:\n  port: 6102\n", "b.yaml");
  const inv = loadConfig(["--config", a], { PRESQUE_CONFIG: b });
  t.equal(inv.configFile, a);
  t.equal(inv.config.server.port, 6101);
});

t.test("every section of the file", async (t) => {
  const file = configFile(
    t,
    `server:
  host: 0.0.0.0
  port: 0
  max_body: 2048
  max_wait: 5
  allowed_hosts: [presque.example, "q.example:8443", "[::1]:5000"]
  max_waiters: 50
  max_waiters_per_token: 5
redis:
  host: 10.0.0.1
  port: 6390
  db: 3
  password: secret
  prefix: "jq:"
  command_timeout: 250
  push_timeout: 900
  wait_replicas: 2
  embedded:
    dir: /tmp/somewhere
batch:
  max_push: 10
  max_fetch: 20
jobs:
  max_attempts: 2
  backoff_base: 3
  backoff_cap: 40
  max_lease: 50
log:
  level: warn
auth:
  tokens:
    - { id: "ci", sha256: "${"a".repeat(64)}", roles: ["producer"], queues: ["a*"], deny: ["ab*"], rate: 5, burst: 10 }
  tokens_file: /etc/presque/tokens.yaml
  insecure: true
queues:
  max_length: 100
  max_payload: 4096
  idempotency_window: 60
  max_idempotency_keys: 1000
schedules:
  - { queue: reports, name: nightly, cron: "0 3 * * *", tz: Europe/Paris, job: { kind: nightly } }
`,
  );
  t.same(loadConfig(["--config", file], {}).config, {
    server: {
      host: "0.0.0.0",
      port: 0,
      max_body: 2048,
      max_wait: 5,
      allowed_hosts: ["presque.example", "q.example:8443", "[::1]:5000"],
      max_waiters: 50,
      max_waiters_per_token: 5,
    },
    redis: {
      host: "10.0.0.1",
      port: 6390,
      db: 3,
      password: "secret",
      prefix: "jq:",
      command_timeout: 250,
      push_timeout: 900,
      wait_replicas: 2,
      embedded: { dir: "/tmp/somewhere" },
    },
    batch: { max_push: 10, max_fetch: 20 },
    jobs: { max_attempts: 2, backoff_base: 3, backoff_cap: 40, max_lease: 50 },
    log: { level: "warn" },
    auth: {
      tokens: [{ id: "ci", sha256: "a".repeat(64), roles: ["producer"], queues: ["a*"], deny: ["ab*"], rate: 5, burst: 10 }],
      tokens_file: "/etc/presque/tokens.yaml",
      insecure: true,
    },
    queues: { max_length: 100, max_payload: 4096, idempotency_window: 60, max_idempotency_keys: 1000 },
    schedules: [{ queue: "reports", name: "nightly", cron: "0 3 * * *", tz: "Europe/Paris", job: { kind: "nightly" } }],
  });
});

t.test("auth: --insecure, PRESQUE_INSECURE, PRESQUE_TOKENS_FILE, and tokens checked key by key", async (t) => {
  const empty = configFile(t, "");
  t.equal(loadConfig(["--config", empty], {}).config.auth.insecure, false);
  t.equal(loadConfig(["--config", empty, "--insecure"], {}).config.auth.insecure, true);
  t.equal(loadConfig(["--config", empty], { PRESQUE_INSECURE: "1" }).config.auth.insecure, true);
  t.equal(loadConfig(["--config", empty], { PRESQUE_TOKENS_FILE: "tokens.yaml" }).config.auth.tokens_file, resolve("tokens.yaml"));
  t.match(USAGE, /--insecure/);
  t.match(
    configError(t, () => loadConfig(["--config", empty, "--host", "0.0.0.0"], {})),
    /refusing to listen on 0\.0\.0\.0 with no tokens/,
  );
  t.equal(loadConfig(["--config", empty, "--host", "0.0.0.0", "--insecure"], {}).config.server.host, "0.0.0.0");
  t.equal(
    loadConfig(["--config", empty, "--host", "::"], { PRESQUE_TOKENS_FILE: "t.yaml" }).config.server.host,
    "::",
    "tokens: any address",
  );
  const bad = (line: string) =>
    configError(t, () => loadConfig(["--config", configFile(t, `auth:\n  tokens:\n    - ${line}\n`, "bad.yaml")], {}));
  const digest = "0".repeat(64);
  t.match(bad(`{ id: a, sha256: "${digest}", roles: [boss] }`), /auth\.tokens \[0\] roles must be a non-empty list/);
  t.match(bad(`{ id: a, sha256: "xyz", roles: [admin] }`), /sha256 must be 64/);
  t.match(bad(`{ id: a_b, sha256: "${digest}", roles: [admin] }`), /id must be/);
  t.match(bad(`{ id: a, sha256: "${digest}", roles: [admin], secret: x }`), /unknown key secret/);
  t.match(bad(`{ id: a, sha256: "${digest}", roles: [admin], queues: ["a/b"] }`), /queues must be a list of queue-name globs/);
  t.match(bad(`{ id: a, sha256: "${digest}", roles: [admin], rate: 0 }`), /rate must be a number above 0/);
});

t.test("redis: {host, port} as presque's conf.yaml, or {url}", async (t) => {
  const hostPort = loadConfig(["--config", configFile(t, "redis:\n  host: 127.0.0.1\n  port: 6390\n", "hp.yaml")], {}).config;
  t.match(hostPort.redis, { host: "127.0.0.1", port: 6390, prefix: "presque:", embedded: { dir: "./data" } });
  t.equal(hostPort.redis.url, undefined);
  t.notOk(usesEmbeddedRedis(hostPort), "host and port: an existing Redis");

  const url = loadConfig(["--config", configFile(t, "redis:\n  url: rediss://127.0.0.1:6390/4\n", "url.yaml")], {}).config;
  t.equal(url.redis.url, "rediss://127.0.0.1:6390/4");
  t.notOk(usesEmbeddedRedis(url), "url: an existing Redis");

  const onlyEmbedded = loadConfig(["--config", configFile(t, "redis:\n  embedded:\n    dir: ./elsewhere\n", "e.yaml")], {}).config;
  t.ok(usesEmbeddedRedis(onlyEmbedded), "embedded.dir alone: still embedded");
  t.equal(onlyEmbedded.redis.embedded.dir, "./elsewhere");
});

t.test("usesEmbeddedRedis", async (t) => {
  const base = structuredClone(DEFAULTS);
  t.ok(usesEmbeddedRedis(base));
  t.notOk(usesEmbeddedRedis({ ...base, redis: { ...base.redis, url: "redis://127.0.0.1:1/0" } }));
  t.notOk(usesEmbeddedRedis({ ...base, redis: { ...base.redis, host: "127.0.0.1" } }));
  t.notOk(usesEmbeddedRedis({ ...base, redis: { ...base.redis, port: 6390 } }));
  t.notOk(usesEmbeddedRedis(loadConfig(["--redis", "redis://127.0.0.1:6390/0"], { PRESQUE_CONFIG: configFile(t, "") }).config));
  t.notOk(usesEmbeddedRedis(loadConfig([], { PRESQUE_CONFIG: configFile(t, ""), PRESQUE_REDIS_URL: "redis://127.0.0.1:6390/0" }).config));
});

t.test("redis.cluster, --redis-cluster and PRESQUE_REDIS_CLUSTER", async (t) => {
  const file = configFile(t, "redis:\n  cluster: [redis://10.0.0.1:7000, redis://10.0.0.2:7000/0]\n  wait_replicas: 1\n", "c.yaml");
  const fromFile = loadConfig(["--config", file], {}).config;
  t.same(fromFile.redis.cluster, ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000/0"]);
  t.equal(fromFile.redis.wait_replicas, 1);
  t.notOk(usesEmbeddedRedis(fromFile), "a cluster is not embedded");

  const none = { PRESQUE_CONFIG: configFile(t, "redis:\n  url: redis://10.0.0.9:6379/2\n", "u.yaml") };
  const fromEnv = loadConfig([], { ...none, PRESQUE_REDIS_CLUSTER: "redis://a:1, redis://b:2" }).config.redis;
  t.same(fromEnv.cluster, ["redis://a:1", "redis://b:2"], "split on commas, spaces dropped");
  t.equal(fromEnv.url, undefined, "the environment's cluster replaces the file's single Redis");
  const fromFlag = loadConfig(["--redis-cluster", "redis://c:3"], { ...none, PRESQUE_REDIS_CLUSTER: "redis://a:1" }).config.redis;
  t.same(fromFlag.cluster, ["redis://c:3"], "flag over environment");
  const single = loadConfig(["--redis", "redis://d:4/0"], { PRESQUE_CONFIG: file }).config.redis;
  t.equal(single.url, "redis://d:4/0");
  t.equal(single.cluster, undefined, "a flag's single Redis replaces the file's cluster");

  t.match(
    configError(t, () => loadConfig(["--redis", "redis://d:4", "--redis-cluster", "redis://c:3"], none)),
    /two different Redis setups/,
  );
  t.match(
    configError(t, () => loadConfig(["--redis-cluster", "c:3"], none)),
    /--redis-cluster must be a redis:\/\//,
  );
  t.match(
    configError(t, () => loadConfig([], { ...none, PRESQUE_REDIS_CLUSTER: "redis://c:3/1" })),
    /PRESQUE_REDIS_CLUSTER must name database 0/,
  );
  t.match(
    configError(t, () => loadConfig(["--redis-cluster", ","], none)),
    /--redis-cluster must be a non-empty list/,
  );
  const both = configFile(t, "redis:\n  cluster: [redis://a:1]\n  url: redis://b:2\n", "both.yaml");
  t.match(
    configError(t, () => loadConfig(["--config", both], {})),
    /redis\.cluster cannot be combined/,
  );
  for (const [text, message] of [
    ["redis:\n  cluster: redis://a:1\n", /redis\.cluster must be a non-empty list/],
    ["redis:\n  cluster: []\n", /redis\.cluster must be a non-empty list/],
    ["redis:\n  cluster: [http://a:1]\n", /redis\.cluster must be a redis:\/\/ .*: http:\/\/a:1/],
    ["redis:\n  wait_replicas: -1\n", /redis\.wait_replicas must be an integer from 0/],
  ] as const) {
    t.match(
      configError(t, () => readConfigFile(configFile(t, text, "bad.yaml"))),
      message,
    );
  }
  t.match(USAGE, "--redis-cluster");
  t.match(USAGE, "PRESQUE_REDIS_CLUSTER");
});

t.test("file errors name the key and the file", async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ["malformed YAML", "server:\n  port: [5000\n", /valid YAML/],
    ["tab-indented YAML", "server:\n\tport: 5000\n", /valid YAML/],
    ["unknown key", "redis:\n  bogus: 1\n", /unknown key redis\.bogus/],
    ["unknown section", "bogus:\n  a: 1\n", /unknown key bogus/],
    ["unknown nested key", "redis:\n  embedded:\n    port: 1\n", /unknown key redis\.embedded\.port/],
    ["port a string", 'server:\n  port: "x"\n', /server\.port must be an integer/],
    ["port out of range", "server:\n  port: 70000\n", /server\.port must be an integer from 0 to 65535/],
    ["port a float", "server:\n  port: 50.5\n", /server\.port/],
    ["port a quoted number", 'server:\n  port: "5000"\n', /server\.port/],
    ["braces in prefix", 'redis:\n  prefix: "a{b}:"\n', /redis\.prefix must not contain \{ or \}/],
    ["empty prefix", 'redis:\n  prefix: ""\n', /redis\.prefix/],
    ["url not redis://", "redis:\n  url: http://127.0.0.1:6379\n", /redis\.url must be a redis:\/\//],
    ["db out of range", "redis:\n  db: 16\n", /redis\.db/],
    ["bad log level", "log:\n  level: loud\n", /log\.level must be one of/],
    ["section not a mapping", "server: 5000\n", /server must be a mapping/],
    ["empty section", "server:\n", /server must be a mapping/],
    ["file a list", "- a\n- b\n", /the file must be a mapping/],
    ["file a scalar", "hello\n", /the file must be a mapping/],
    ["max_body zero", "server:\n  max_body: 0\n", /server\.max_body/],
    ["batch as string", "batch:\n  max_push: lots\n", /batch\.max_push/],
  ];
  for (const [what, text, message] of cases) {
    const file = configFile(t, text, `${what.replace(/\W+/g, "-")}.yaml`);
    const fromRead = configError(t, () => readConfigFile(file));
    t.match(fromRead, message, `${what}: ${fromRead}`);
    t.ok(fromRead.includes(file), `${what}: names the file`);
    const fromLoad = configError(t, () => loadConfig(["--config", file], {}));
    t.equal(fromLoad, fromRead, `${what}: loadConfig stops the same way`);
  }
});

t.test("a named config file that does not exist is an error; a missing ./config.yaml is not", async (t) => {
  const dir = t.testdir({});
  const missing = join(dir, "nope.yaml");
  const message = configError(t, () => loadConfig(["--config", missing], {}));
  t.ok(message.includes(missing), message);
  t.match(message, /cannot be read/);
  t.match(
    configError(t, () => loadConfig([], { PRESQUE_CONFIG: missing })),
    /nope\.yaml/,
  );
});

t.test("bad flag and environment values name their source", async (t) => {
  const none = { PRESQUE_CONFIG: configFile(t, "") };
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["--port", "abc"], {}, /--port must be an integer from 0 to 65535/],
    [["--port", "70000"], {}, /--port/],
    [["--port", ""], {}, /--port/],
    [["--port", "1.5"], {}, /--port/],
    [[], { PRESQUE_PORT: "abc" }, /PRESQUE_PORT must be an integer/],
    [[], { PRESQUE_PORT: " " }, /PRESQUE_PORT/],
    [["--host", ""], {}, /--host must be a non-empty string/],
    [["--redis", "127.0.0.1:6379"], {}, /--redis must be a redis:\/\//],
    [[], { PRESQUE_REDIS_URL: "localhost" }, /PRESQUE_REDIS_URL must be a redis:\/\//],
    [["--workers", "0"], {}, /--workers/],
    [[], { PRESQUE_WORKERS: "65" }, /PRESQUE_WORKERS/],
    [["--bogus"], {}, /bogus/],
    [["positional"], {}, /positional/],
    [["--port"], {}, /--port/],
  ];
  for (const [argv, env, message] of cases) {
    const got = configError(t, () => loadConfig(argv, { ...none, ...env }));
    t.match(got, message, `${JSON.stringify(argv)} ${JSON.stringify(env)}`);
  }
  t.match(
    configError(t, () => loadConfig(["--bogus"], none)),
    /Usage: presque serve/,
    "an unknown flag shows the usage",
  );
});

t.test("--workers and --help", async (t) => {
  const none = { PRESQUE_CONFIG: configFile(t, "") };
  t.equal(loadConfig(["--workers", "4"], none).workers, 4);
  t.equal(loadConfig([], { ...none, PRESQUE_WORKERS: "3" }).workers, 3);
  t.equal(loadConfig(["--workers", "2"], { ...none, PRESQUE_WORKERS: "3" }).workers, 2);
  t.equal(loadConfig(["--help"], none).help, true);
  t.equal(loadConfig(["-h"], none).help, true);
  for (const flag of ["--port", "--host", "--redis", "--config", "--workers", "--help"]) t.match(USAGE, flag);
  for (const env of ["PRESQUE_PORT", "PRESQUE_HOST", "PRESQUE_REDIS_URL", "PRESQUE_CONFIG"]) t.match(USAGE, env);
});

t.test("a flag value of 0 is a port, not a missing one", async (t) => {
  const none = { PRESQUE_CONFIG: configFile(t, "server:\n  port: 6001\n") };
  t.equal(loadConfig(["--port", "0"], none).config.server.port, 0);
  t.equal(loadConfig([], { ...none, PRESQUE_PORT: "0" }).config.server.port, 0);
});

t.test("DEFAULTS are untouched after all of the above", async (t) => {
  t.same(DEFAULTS, pristine);
});
