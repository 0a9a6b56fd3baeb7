// A redis-server child process for presque's embedded mode (npm start with no Redis configured) and
// for startPresque's throwaway servers. It runs the machine's own redis-server, so installing
// presque downloads and builds nothing; it is started directly, on a free port of 127.0.0.1.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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
  const found = binary || process.env.PRESQUE_REDIS_SERVER || findOnPath("redis-server");
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

export async function startRedisProcess(opts: RedisProcessOptions = {}): Promise<RedisProcess> {
  const binary = redisBinary(opts.binary);
  const persistent = opts.dir !== undefined;
  const dir = persistent ? resolve(opts.dir!) : mkdtempSync(join(tmpdir(), "presque-redis-"));
  mkdirSync(dir, { recursive: true });
  let lastError: Error | undefined;
  // a free port can be taken by someone else before redis-server binds it: try another
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--logfile", ""];
    args.push(...(persistent ? ["--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"]));
    try {
      const child = await launch(binary, args);
      return {
        url: `redis://127.0.0.1:${port}/0`,
        port,
        dir,
        pid: child.pid!,
        stop: once(async () => {
          await terminate(child);
          if (!persistent) rmSync(dir, { recursive: true, force: true });
        }),
      };
    } catch (err) {
      lastError = err as Error;
      if (!/Address already in use/i.test(lastError.message)) break;
    }
  }
  if (!persistent) rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error("redis-server did not start");
}

/** Starts redis-server and resolves once it accepts connections, or rejects with its own words. */
function launch(binary: string, args: string[]): Promise<ChildProcess> {
  return new Promise((ok, fail) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
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
      const last = output.trim().split("\n").slice(-3).join(" | ");
      fail(new Error(`redis-server (${binary}) exited (${signal ?? `code ${code}`}) before it was ready: ${last}`));
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (err) => fail(new Error(`cannot run redis-server (${binary}): ${err.message}`)));
    child.once("exit", onExit);
  });
}

/** SIGTERM (redis-server then writes its append-only file out and exits), SIGKILL if it hangs. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(killer);
      ok();
    });
    child.kill("SIGTERM");
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
