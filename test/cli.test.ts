// presque as the README starts it: a child process (npm start, or node dist/cli/main.js serve, which is what
// npm start runs from the dist/ that npm install built, where npm adds nothing), talked to over HTTP, stopped
// with SIGTERM.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join, resolve } from "node:path";
import t, { type Test } from "tap";
import { newToken } from "../src/server/auth/tokens.js";
import { client, freePort, redisUrl, sleep, startRedis } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "..");
const NODE = process.execPath;
const CLI = "dist/cli/main.js";
execFileSync(NODE, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
const SCRIPTS = readdirSync(join(REPO, "lua"))
  .filter((f) => f.endsWith(".lua"))
  .map((f) => f.replace(/\.lua$/, ""))
  .sort();

/** The environment without any PRESQUE_* setting of the shell that runs the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PRESQUE_")) env[k] = v;
  return { ...env, ...extra };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(2000);
    socket.once("connect", () => (socket.destroy(), ok(true)));
    socket.once("error", () => ok(false));
    socket.once("timeout", () => (socket.destroy(), ok(false)));
  });
}

interface Launched {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** resolves when the process started exits */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resolves when every process holding its stdout (npm, sh, node) is gone */
  drained: Promise<void>;
}

/** Starts a command in its own process group, killed whole in teardown whatever happened. */
function launch(t: Test, command: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Launched {
  const proc = spawn(command, args, { cwd: REPO, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d));
  proc.stderr!.on("data", (d: Buffer) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    proc.once("exit", (code, signal) => ok({ code, signal })),
  );
  const drained = Promise.all([
    new Promise<void>((ok) => proc.stdout!.once("close", () => ok())),
    new Promise<void>((ok) => proc.stderr!.once("close", () => ok())),
  ]).then(() => {});
  t.teardown(() => {
    try {
      process.kill(-proc.pid!, "SIGKILL");
    } catch {
      // the group is gone already
    }
  });
  return { proc, stdout: () => out, stderr: () => err, exited, drained };
}

/** Resolves within ms or rejects, so that no test can hang on a child. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`${what}: nothing after ${ms} ms`)), ms))),
  ]);
}

/** Polls GET /status/ until it answers 200, the process exits, or the time is up. */
async function waitReady(child: Launched, port: number, ms = 20_000): Promise<void> {
  let gone = false;
  void child.exited.then(() => (gone = true));
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`presque exited before it was ready:\n${child.stdout()}\n${child.stderr()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/status/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      // 401: it serves, and wants a token
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`presque not ready after ${ms} ms:\n${child.stdout()}\n${child.stderr()}`);
}

interface LogLine {
  level: number;
  time: number;
  msg: string;
  [key: string]: unknown;
}

/** presque's stdout as log records; npm's "> presque@x start" banner is npm's, not presque's. */
function logLines(t: Test, stdout: string): LogLine[] {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("> "));
  return lines.flatMap((line) => {
    try {
      const rec = JSON.parse(line) as LogLine;
      t.ok(typeof rec.msg === "string" && typeof rec.level === "number" && typeof rec.time === "number", `pino record: ${rec.msg}`);
      return [rec];
    } catch {
      t.fail(`not a JSON log line: ${line}`);
      return [];
    }
  });
}

/** SIGTERM to the one process named, then the exit it makes. */
async function terminate(child: Launched, ms = 15_000) {
  child.proc.kill("SIGTERM");
  const exit = await within(ms, "exit after SIGTERM", child.exited);
  return exit;
}

t.test("npm start -- --port --redis: serves, logs JSON, stops on SIGTERM", async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const url = await redisUrl(redis);
  const port = await freePort();
  const child = launch(t, "npm", ["start", "--", "--port", String(port), "--redis", url]);
  await waitReady(child, port);

  const http = client(`http://127.0.0.1:${port}`);
  const posted = await http("POST", "/q/cli-test", { raw: '{"hello": "world"}', headers: { "content-type": "application/json" } });
  t.equal(posted.status, 201);
  t.same(posted.json, { id: "1" });
  const got = await http("GET", "/q/cli-test");
  t.equal(got.status, 200);
  t.equal(got.text, '{"hello": "world"}', "the bytes that were posted");
  t.equal(got.headers.get("x-presque-jobid"), "1");

  const exit = await terminate(child);
  // npm runs the script through `sh -c`; the script execs node so that the signal reaches presque
  t.same(exit, { code: 0, signal: null }, "npm exits 0");
  await within(15_000, "presque gone after SIGTERM", child.drained);
  t.notOk(await accepts(port), "the port is closed");

  const logs = logLines(t, child.stdout());
  const listening = logs.find((l) => l.msg === "listening");
  t.match(listening, { port, host: "127.0.0.1" }, "names the port");
  t.match(
    logs.find((l) => l.msg === "redis connected"),
    { redis: url, embedded: false },
    "names the Redis target",
  );
  const loaded = logs.find((l) => /scripts loaded/.test(l.msg));
  t.ok(loaded, "a line for the scripts");
  t.same([...((loaded?.scripts as string[]) ?? [])].sort(), SCRIPTS, "names every script in lua/");
  t.ok(
    logs.some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"),
    "logs the shutdown",
  );
  t.ok(
    logs.some((l) => l.msg === "stopped"),
    "and its end",
  );
});

t.test("node dist/cli/main.js: SIGTERM mid-request finishes it and exits 0", async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const port = await freePort();
  const child = launch(t, NODE, [CLI, "serve", "--port", String(port), "--redis", await redisUrl(redis)]);
  await waitReady(child, port);
  const http = client(`http://127.0.0.1:${port}`);

  // a long poll in flight when the signal comes: shutdown answers it rather than waiting it out
  const waiting = http("GET", "/q/cli-wait?wait=30", { signal: AbortSignal.timeout(10_000) });
  await sleep(300);
  const exit = await terminate(child);
  t.same(exit, { code: 0, signal: null }, "exit code 0");
  const answered = await waiting;
  t.equal(answered.status, 404);
  t.same(answered.json, { error: "no job" });
  t.notOk(await accepts(port), "the port is closed");
  t.equal(child.stderr(), "", "nothing on stderr");
});

t.test("npm start -- --help lists the flags", async (t) => {
  const child = launch(t, "npm", ["start", "--", "--help"]);
  const exit = await within(20_000, "--help", child.exited);
  t.same(exit, { code: 0, signal: null });
  for (const flag of ["--port", "--host", "--redis", "--config", "--help"]) t.match(child.stdout(), flag);
  for (const env of ["PRESQUE_PORT", "PRESQUE_HOST", "PRESQUE_REDIS_URL", "PRESQUE_CONFIG"]) t.match(child.stdout(), env);
});

t.test("npm start -- token new --roles ...: the documented command, though npm start runs serve", async (t) => {
  const child = launch(t, "npm", ["start", "--", "token", "new", "--roles", "producer,consumer", "--queues", "emails*"]);
  const exit = await within(20_000, "token new", child.exited);
  t.same(exit, { code: 0, signal: null }, child.stderr());
  const token = /^pq_\S+$/m.exec(child.stdout())?.[0];
  t.ok(token, "prints a token");
  const entry = /^ {2}- (\{.*\})$/m.exec(child.stdout())?.[1];
  t.match(entry, /sha256: "[0-9a-f]{64}", roles: \["producer", "consumer"\]/, "and its entry");
  t.match(entry, /queues: \["emails\*"\]/);
  // another command after serve is still refused as serve refuses any positional argument
  const odd = launch(t, NODE, [CLI, "serve", "bogus"]);
  t.equal((await within(20_000, "serve bogus", odd.exited)).code, 2);
  t.match(odd.stderr(), "Unexpected argument 'bogus'");
});

t.test("a config file with an unknown key stops start-up, naming the key and the file", async (t) => {
  const dir = t.testdir({ "bad.yaml": "server:\n  port: 5999\nredis:\n  bogus: 1\n" });
  const file = join(dir, "bad.yaml");
  const child = launch(t, NODE, [CLI, "serve", "--config", file]);
  const exit = await within(20_000, "bad config", child.exited);
  t.not(exit.code, 0, "non-zero exit");
  t.equal(exit.signal, null);
  t.match(child.stderr(), "redis.bogus", "names the key");
  t.match(child.stderr(), file, "names the file");
  t.equal(child.stdout(), "", "stopped before logging anything");
});

t.test("PRESQUE_PORT and PRESQUE_REDIS_URL", async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const port = await freePort();
  const child = launch(t, NODE, [CLI, "serve"], cleanEnv({ PRESQUE_PORT: String(port), PRESQUE_REDIS_URL: await redisUrl(redis) }));
  await waitReady(child, port);
  const status = await client(`http://127.0.0.1:${port}`)("GET", "/status/");
  t.same(status.json, { queues: [], size: 0 }, "the Redis of PRESQUE_REDIS_URL (a fresh one)");
  t.same(await terminate(child), { code: 0, signal: null });
});

t.test("embedded Redis: jobs survive a restart; SIGTERM stops redis-server", async (t) => {
  const dir = t.testdir({});
  const dataDir = join(dir, "data");
  const port = await freePort();
  const configPath = join(dir, "presque.yaml");
  writeFileSync(configPath, `server:\n  port: ${port}\nredis:\n  embedded:\n    dir: ${JSON.stringify(dataDir)}\n`);

  const start = async () => {
    const child = launch(t, NODE, [CLI, "serve", "--config", configPath]);
    await waitReady(child, port);
    const started = logLines(t, child.stdout()).find((l) => l.msg === "embedded redis-server started");
    t.ok(started, "logs the embedded redis-server");
    const redisPort = Number(new URL(String(started?.url)).port);
    t.ok(redisPort > 0 && redisPort !== 6379, "on a port of its own");
    return { child, redisPort };
  };
  const http = client(`http://127.0.0.1:${port}`);
  const q = "persist";
  const dueAt = Math.floor(Date.now() / 1000) + 3600;

  const first = await start();
  t.same((await http("GET", "/stats/")).json.redis.embedded, true);
  t.same((await http("POST", `/q/${q}`, { raw: '{"plain":1}', headers: { "content-type": "application/json" } })).json, { id: "1" });
  t.same((await http("POST", `/q/${q}?delayed=${dueAt}`, { body: { later: 1 } })).json, { id: "2" });
  t.same(await terminate(first.child), { code: 0, signal: null }, "first run exits 0");
  await within(15_000, "first run drained", first.child.drained);
  t.notOk(await accepts(first.redisPort), "the embedded redis-server stopped with presque");
  t.ok(logLines(t, first.child.stdout()).some((l) => l.msg === "embedded redis-server stopped"));

  const entries = readdirSync(dataDir);
  const aof = entries.find((e) => /^appendonly/.test(e));
  t.ok(aof, `the data dir holds an append-only file (${entries.join(", ")})`);
  if (aof && statSync(join(dataDir, aof)).isDirectory()) t.ok(readdirSync(join(dataDir, aof)).length > 0, "with files in it");

  const second = await start();
  t.same((await http("GET", `/j/${q}`)).json, {
    queue_name: q,
    job_count: 1,
    job_prioritized: 0,
    job_delayed: 1,
    job_leased: 0,
    job_dead: 0,
    job_processed: 0,
    job_failed: 0,
  });
  t.match((await http("GET", `/q/${q}/2`)).json, { id: "2", state: "delayed", due_at: dueAt, job: { later: 1 } });
  const plain = await http("GET", `/q/${q}`);
  t.equal(plain.text, '{"plain":1}');
  t.equal(plain.headers.get("x-presque-jobid"), "1");
  t.same((await http("POST", `/q/${q}`, { body: { after: 1 } })).json, { id: "3" }, "the id sequence survived too");
  t.same(await terminate(second.child), { code: 0, signal: null }, "second run exits 0");
  await within(15_000, "second run drained", second.child.drained);
  t.notOk(await accepts(second.redisPort), "the embedded redis-server stopped again");
});

/** Whether a process is gone: no entry in /proc, or a zombie that nobody reaped yet. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

t.test("presque killed with SIGKILL: its redis-server goes too (a throwaway one's directory with it)", async (t) => {
  const dir = t.testdir({});
  const dataDir = join(dir, "data");
  writeFileSync(join(dir, "embedded.yaml"), `redis:\n  embedded:\n    dir: ${JSON.stringify(dataDir)}\n`);
  for (const [how, args] of [
    ["embedded", ["--config", join(dir, "embedded.yaml")]],
    ["ephemeral", ["--ephemeral"]],
  ] as const) {
    const port = await freePort();
    const child = launch(t, NODE, [CLI, "serve", "--port", String(port), ...args]);
    await waitReady(child, port);
    const [pid] = execFileSync("pgrep", ["-P", String(child.proc.pid), "redis-server"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map(Number);
    // redis-server shows "redis-server 127.0.0.1:<port>" as its command line, and works in its --dir
    const redisPort = Number(/:(\d+)/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[1]);
    const redisDir = readlinkSync(`/proc/${pid}/cwd`);
    t.ok(await accepts(redisPort), `${how}: redis-server ${pid} serves on ${redisPort}`);
    child.proc.kill("SIGKILL");
    await within(
      10_000,
      `${how}: redis-server gone`,
      (async () => {
        while (!gone(pid)) await sleep(50);
      })(),
    );
    t.notOk(await accepts(redisPort), `${how}: nothing serves on its port`);
    if (how === "ephemeral") {
      await within(
        5_000,
        "its directory deleted",
        (async () => {
          while (existsSync(redisDir)) await sleep(50);
        })(),
      );
      t.pass(`ephemeral: ${redisDir} deleted`);
    } else {
      t.equal(redisDir, dataDir, "embedded: in the configured directory");
      t.ok(existsSync(dataDir), "embedded: the data stays");
    }
  }
});

t.test("one data directory per embedded redis-server: a second presque refuses it; a dead one's lock is taken over", async (t) => {
  const dir = t.testdir({});
  const dataDir = join(dir, "data");
  const configPath = join(dir, "presque.yaml");
  writeFileSync(configPath, `redis:\n  embedded:\n    dir: ${JSON.stringify(dataDir)}\n`);
  const serveOn = async (port: number) => launch(t, NODE, [CLI, "serve", "--port", String(port), "--config", configPath]);
  const lockFile = join(dataDir, "presque.lock");
  const holder = () => JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number; redis_pid?: number };

  const port = await freePort();
  const first = await serveOn(port);
  await waitReady(first, port);
  t.match(holder(), { pid: first.proc.pid, redis_pid: Number }, "the lock names presque and its redis-server");

  const second = await serveOn(await freePort());
  t.same(await within(20_000, "second presque", second.exited), { code: 1, signal: null }, "the second exits 1");
  t.match(second.stderr(), `presque: the data directory ${dataDir} is in use by presque (pid ${first.proc.pid})`);
  t.notOk(second.stdout().includes("embedded redis-server started"), "and started no redis-server");
  const http = client(`http://127.0.0.1:${port}`);
  t.equal((await http("POST", "/q/locked", { body: { still: "serving" } })).status, 201, "the first keeps serving");
  t.equal(holder().pid, first.proc.pid, "and keeps its lock");

  const redisPid = holder().redis_pid!;
  first.proc.kill("SIGKILL");
  await within(10_000, "first presque gone", first.exited);
  // its lock stays behind, stale; its redis-server is being stopped by its watchdog
  t.equal(holder().pid, first.proc.pid, "a presque killed with SIGKILL leaves its lock");
  const port3 = await freePort();
  const third = await serveOn(port3);
  await waitReady(third, port3);
  t.ok(gone(redisPid), "the old redis-server was gone before the new one started");
  t.match(holder(), { pid: third.proc.pid }, "the stale lock is taken over");
  t.same(await terminate(third), { code: 0, signal: null });
  t.notOk(existsSync(lockFile), "a clean stop releases the lock");
});

t.test("a busy port stops start-up before an embedded redis-server is started", async (t) => {
  const dir = t.testdir({});
  const dataDir = join(dir, "data");
  const configPath = join(dir, "presque.yaml");
  writeFileSync(configPath, `redis:\n  embedded:\n    dir: ${JSON.stringify(dataDir)}\n`);
  const port = await freePort();
  const squatter = createServer(() => {});
  await new Promise<void>((ok) => squatter.listen(port, "127.0.0.1", ok));
  t.teardown(() => new Promise<void>((ok) => squatter.close(() => ok())));
  for (const args of [["--config", configPath], ["--ephemeral"]]) {
    const child = launch(t, NODE, [CLI, "serve", "--port", String(port), ...args]);
    t.same(await within(20_000, "presque on a busy port", child.exited), { code: 1, signal: null }, `${args[0]}: exit 1`);
    t.match(child.stderr(), `presque: cannot listen on 127.0.0.1:${port}: the port is in use`);
    t.notMatch(child.stdout(), /redis-server started/, `${args[0]}: no redis-server started`);
  }
  t.notOk(existsSync(dataDir), "nothing written in the data directory");
});

t.test("Redis unreachable at start-up: which Redis (never its password), what it answered, what to do", async (t) => {
  const redisPort = await freePort(); // nothing listens there
  for (const url of [`redis://127.0.0.1:${redisPort}/0`, `redis://someone:s3cret-pw@127.0.0.1:${redisPort}/0`]) {
    const child = launch(t, NODE, [CLI, "serve", "--port", String(await freePort()), "--redis", url]);
    const exit = await within(20_000, "start-up without Redis", child.exited);
    t.equal(exit.code, 1, "exit 1");
    t.match(
      child.stderr(),
      `presque: could not connect to the Redis at redis://127.0.0.1:${redisPort}/0 (connect ECONNREFUSED 127.0.0.1:${redisPort}). ` +
        "Start that Redis, or name another with --redis <url>",
    );
    t.notMatch(child.stderr() + child.stdout(), /s3cret|someone/, "no password, no user name");
    t.notMatch(child.stderr(), "Connection is closed");
  }
});

t.test("started by npm, presque stops when npm goes: SIGTERM to npm exec (as to npx), SIGKILL to npm start", async (t) => {
  for (const [how, signal, args] of [
    // npx runs the bin as npm exec does a command: under `sh -c`, and passes no SIGTERM on
    ["npm exec", "SIGTERM", ["exec", "--", "node", CLI, "serve", "--ephemeral"]],
    ["npm start", "SIGKILL", ["start", "--", "--ephemeral"]],
  ] as const) {
    const port = await freePort();
    const child = launch(t, "npm", [...args, "--port", String(port)]);
    await waitReady(child, port);
    const presquePid = Number(execFileSync("pgrep", ["-g", String(child.proc.pid), "-x", "node"], { encoding: "utf8" }).trim());
    const [redisPid] = execFileSync("pgrep", ["-P", String(presquePid), "redis-server"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .map(Number);
    t.ok(presquePid > 0 && redisPid > 0, `${how}: presque ${presquePid} and its redis-server ${redisPid}`);
    child.proc.kill(signal);
    await within(15_000, `${how}: npm gone`, child.exited);
    await within(
      15_000,
      `${how}: presque and its redis-server gone after npm`,
      (async () => {
        while (!gone(presquePid) || !gone(redisPid)) await sleep(100);
      })(),
    );
    t.notOk(await accepts(port), `${how}: nothing serves on the port`);
    t.match(child.stdout(), /is gone: stopping, as for SIGTERM/, `${how}: says why it stopped`);
    t.match(child.stdout(), /"msg":"stopped"/, `${how}: and stops cleanly`);
  }
});

t.test("Redis unavailable: 503 at once, and presque recovers by itself", async (t) => {
  const redis = await startRedis();
  const redisPort = await redis.getPort();
  t.teardown(() => redis.stop());
  const port = await freePort();
  const child = launch(t, NODE, [CLI, "serve", "--port", String(port), "--redis", await redisUrl(redis)]);
  await waitReady(child, port);
  const http = client(`http://127.0.0.1:${port}`);
  const json = { "content-type": "application/json" };
  t.equal((await http("POST", "/q/outage", { raw: '{"a":1}', headers: json })).status, 201);

  await redis.stop();
  const requests: Array<[string, string, string | undefined]> = [
    ["GET", "/q/outage", undefined],
    ["GET", "/q/outage?wait=3", undefined],
    ["POST", "/q/outage", '{"b":2}'],
    ["GET", "/qb/outage", undefined],
    ["GET", "/status/", undefined],
    ["GET", "/status/outage?with_desc=1", undefined],
    ["GET", "/j/outage", undefined],
    ["GET", "/control/outage", undefined],
    ["GET", "/stats/", undefined],
    ["GET", "/w/", undefined],
  ];
  for (const [method, path, raw] of requests) {
    const r = await http(method, path, { raw, headers: raw ? json : {}, signal: AbortSignal.timeout(8000) });
    t.equal(r.status, 503, `${method} ${path}`);
    t.same(r.json, { error: "redis unavailable" }, `${method} ${path}`);
  }
  const page = await http("GET", "/", { signal: AbortSignal.timeout(8000) });
  t.equal(page.status, 200, "the page needs no Redis");

  // the same instance again: it keeps its port (a new one given instance.port would not get it,
  // as get-port holds back ports it handed out in the last 15 s)
  await redis.start();
  t.equal(await redis.getPort(), redisPort, "Redis back on the same port");
  const deadline = Date.now() + 15_000;
  let status = 0;
  // reads and pushes go over connections of their own (a push's late reply is waited for), and
  // each reconnects by itself: recovered is when both answer
  while (Date.now() < deadline) {
    status = (await http("GET", "/status/", { signal: AbortSignal.timeout(3000) })).status;
    const write = await http("POST", "/q/probe", { raw: "{}", headers: json, signal: AbortSignal.timeout(3000) });
    if (status === 200 && write.status === 201) break;
    await sleep(100);
  }
  t.equal(status, 200, "recovered without a restart");
  // a new, empty Redis: the scripts load again on first use
  t.same((await http("POST", "/q/outage", { raw: '{"c":3}', headers: json })).json, { id: "1" });
  t.equal((await http("GET", "/q/outage")).text, '{"c":3}');
  t.equal(child.proc.exitCode, null, "never crashed");
  t.same(await terminate(child), { code: 0, signal: null });
});

t.test("--workers 2: SIGHUP to the primary reloads the tokens file in every worker", async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dir = t.testdir({});
  const file = join(dir, "tokens.yaml");
  const [first, second] = [newToken("first"), newToken("second")];
  const allow = (id: string, sha256: string) => writeFileSync(file, JSON.stringify({ tokens: [{ id, sha256, roles: ["monitor"] }] }));
  allow("first", first.sha256);
  const port = await freePort();
  const env = cleanEnv({ PRESQUE_TOKENS_FILE: file });
  const child = launch(t, NODE, [CLI, "serve", "--workers", "2", "--port", String(port), "--redis", await redisUrl(redis)], env);
  await waitReady(child, port);
  const http = client(`http://127.0.0.1:${port}`);
  // new connections, so that both workers answer some of them
  const statuses = async (token: string) =>
    new Set(
      await Promise.all(
        Array.from(
          { length: 12 },
          async () => (await http("GET", "/status/", { headers: { authorization: `Bearer ${token}`, connection: "close" } })).status,
        ),
      ),
    );
  t.same([...(await statuses(first.token))], [200]);
  t.same([...(await statuses(second.token))], [401]);
  allow("second", second.sha256);
  process.kill(child.proc.pid!, "SIGHUP");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !((await statuses(second.token)).size === 1 && (await statuses(second.token)).has(200))) await sleep(100);
  t.same([...(await statuses(second.token))], [200], "the new token works in every worker");
  t.same([...(await statuses(first.token))], [401], "and the old one nowhere");
  t.equal(child.proc.exitCode, null, "the primary lives on");
  t.same(await terminate(child), { code: 0, signal: null });
});

t.test("--workers 2: a worker that cannot start stops the service with its reason, no restart loop", async (t) => {
  const dir = t.testdir({ "tokens.yaml": "tokens: [ {id: " });
  const port = await freePort();
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const env = cleanEnv({ PRESQUE_TOKENS_FILE: join(dir, "tokens.yaml") });
  const child = launch(t, NODE, [CLI, "serve", "--workers", "2", "--port", String(port), "--redis", await redisUrl(redis)], env);
  const { code } = await child.exited;
  t.equal(code, 1, "exits 1");
  t.match(child.stderr(), /tokens\.yaml/, "saying why");
  t.ok((child.stdout().match(/starting another/g) ?? []).length === 0, "without starting workers again and again");
});
