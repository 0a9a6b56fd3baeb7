// A redis-server child process for presque's embedded mode (npm start with no Redis configured) and
// for startPresque's throwaway servers. It runs the machine's own redis-server, so installing
// presque downloads and builds nothing; it is started directly, on a free port of 127.0.0.1.
//
// It must not outlive presque, even one killed with SIGKILL (a test runner's timeout, the OOM
// killer), which runs no code of ours: a watchdog does it. /bin/sh starts a small background
// subshell that waits for EOF on the stdin both share, then execs redis-server in its own place, so
// that redis-server is still presque's own child. presque never writes to that pipe; when its end
// closes, on stop() or because presque died, the watchdog sends redis-server SIGTERM, waits for it
// to go and, for a throwaway server, deletes its directory.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { lockDataDir } from "./dirlock.js";
import { findOnPath } from "./redis.js";

export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

export interface RedisProcessOptions {
  /** the redis-server to run; default PRESQUE_REDIS_SERVER, then the one on PATH */
  binary?: string;
  /** where an append-only file keeps the data across restarts; without it, nothing is written
   *  and the scratch directory is deleted on stop */
  dir?: string;
}

export function redisBinary(binary?: string): string {
  const named = binary || process.env.PRESQUE_REDIS_SERVER;
  // a bare name is looked up on PATH, as a shell would (it is run through /bin/sh's exec)
  const found = named && !named.includes("/") ? (findOnPath(named) ?? named) : named || findOnPath("redis-server");
  if (!found) {
    throw new Error(
      "redis-server was not found on PATH: install Redis (e.g. apt-get install redis-server), name one with " +
        "PRESQUE_REDIS_SERVER or redis.embedded.binary, or give a Redis with --redis <url>",
    );
  }
  return found;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

// (a background job's stdin is /dev/null in a shell without job control: the pipe goes by fd 3)
const WATCHDOG = `exec 3<&0
(
  read -r _ <&3 || :
  kill -TERM $$ 2>/dev/null
  while kill -0 $$ 2>/dev/null; do sleep 0.1; done
  if [ -n "$PRESQUE_SCRATCH_DIR" ]; then rm -rf -- "$PRESQUE_SCRATCH_DIR"; fi
) >/dev/null 2>&1 &
exec "$0" "$@" 3<&-`;

export async function startRedisProcess(opts: RedisProcessOptions = {}): Promise<RedisProcess> {
  const binary = redisBinary(opts.binary);
  try {
    accessSync(binary, constants.X_OK);
  } catch (err) {
    throw new Error(
      `cannot run redis-server (${binary}): ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`,
    );
  }
  const persistent = opts.dir !== undefined;
  const dir = persistent ? resolve(opts.dir!) : mkdtempSync(join(tmpdir(), "presque-redis-"));
  mkdirSync(dir, { recursive: true });
  // a persistent directory is this redis-server's alone (dirlock.ts); a scratch one is new
  const lock = persistent ? lockDataDir(dir) : undefined;
  let lastError: Error | undefined;
  // a free port can be taken by someone else before redis-server binds it: try another
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--logfile", ""];
    args.push(...(persistent ? ["--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"]));
    try {
      const child = await launch(binary, args, persistent ? undefined : dir);
      lock?.noteRedis(child.pid!);
      return {
        url: `redis://127.0.0.1:${port}/0`,
        port,
        dir,
        pid: child.pid!,
        stop: once(async () => {
          await terminate(child);
          lock?.release();
          if (!persistent) rmSync(dir, { recursive: true, force: true });
        }),
      };
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use/i.test(lastError.message)) break;
    }
  }
  lock?.release();
  if (!persistent) rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error("redis-server did not start");
}

/** Starts redis-server under its watchdog and resolves once it accepts connections, or rejects
 *  with its own words. `scratch`: the directory the watchdog deletes once redis-server is gone. */
function launch(binary: string, args: string[], scratch?: string): Promise<ChildProcess> {
  return new Promise((ok, fail) => {
    const env = { ...process.env, PRESQUE_SCRATCH_DIR: scratch ?? "" };
    const child = spawn("/bin/sh", ["-c", WATCHDOG, binary, ...args], { stdio: ["pipe", "pipe", "pipe"], env });
    child.stdin!.on("error", () => {}); // the watchdog gone first: nothing to tell it
    let output = "";
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8192);
      if (/Ready to accept connections/.test(output)) {
        child.stdout!.off("data", onData);
        // keep draining: a full pipe would block redis-server
        child.stdout!.resume();
        child.off("exit", onExit);
        ok(child);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      child.stdin!.destroy(); // lets the watchdog go
      const last = output.trim().split("\n").slice(-3).join(" | ");
      // 126, 127: the shell could not exec it
      if (code === 126 || code === 127) return fail(new Error(`cannot run redis-server (${binary}): ${last}`));
      fail(new Error(`redis-server (${binary}) exited (${signal ?? `code ${code}`}) before it was ready: ${last}`));
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (err) => fail(new Error(`cannot run redis-server (${binary}): ${err.message}`)));
    child.once("exit", onExit);
  });
}

/** SIGTERM (redis-server then writes its append-only file out and exits), from here and from the
 *  watchdog, whose pipe is closed so that it goes too; SIGKILL if redis-server hangs. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    child.stdin!.destroy();
    return Promise.resolve();
  }
  return new Promise((ok) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(killer);
      ok();
    });
    child.stdin!.end();
    child.kill("SIGTERM");
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
