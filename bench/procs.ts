// The processes a benchmark run needs: its own redis-server (never the one on 6379), and each
// server under test as a child process, so that the load generator (this process) and the
// server never share an event loop.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { RedisMemoryServer } from "redis-memory-server";
import { findOnPath } from "../src/store/redis.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface BenchRedis {
  url: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const systemBinary = process.env.REDISMS_SYSTEM_BINARY || findOnPath("redis-server");
  if (!systemBinary) throw new Error("redis-server is not on PATH");
  // redis-memory-server already turns RDB and AOF off: no fork or fsync in the middle of a run
  const server = await RedisMemoryServer.create({ binary: { systemBinary } });
  const host = await server.getHost();
  const port = await server.getPort();
  if (port === 6379) throw new Error("refusing to benchmark on port 6379");
  return {
    url: `redis://${host}:${port}/0`,
    host,
    port,
    stop: async () => {
      await server.stop();
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Child {
  name: string;
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once("exit", () => resolve()));
}

/** SIGINT (presque's clean shutdown, which also writes a --cpu-prof profile), SIGKILL after 15 s. */
async function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGINT");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  await exited(proc);
  clearTimeout(timer);
}

const children = new Set<ChildProcess>();
/** Last resort when the run fails: no server may outlive the benchmark. */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

/** node with tsx for TypeScript entry points, plain node for JavaScript ones. */
function spawnNode(name: string, args: string[], nodeFlags: string[] = [], cwd = ROOT, wrapper: string[] = []): ChildProcess {
  const loader = args[0]?.endsWith(".ts") ? ["--import", "tsx"] : [];
  const command = [...wrapper, process.execPath, ...nodeFlags, ...loader, ...args];
  const proc = spawn(command[0], command.slice(1), {
    cwd,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  children.add(proc);
  proc.once("exit", (code, signal) => {
    children.delete(proc);
    if (code && code !== 0) process.stderr.write(`bench: ${name} exited with code ${code}${signal ? ` (${signal})` : ""}\n`);
  });
  return proc;
}

/** A baseline server from bench/servers/, which prints {"port": N} when it listens. */
export async function startBaseline(name: string, file: string, args: string[] = []): Promise<Child> {
  const proc = spawnNode(name, [join(ROOT, "bench", "servers", file), ...args]);
  const lines = createInterface({ input: proc.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s`)), 20_000);
    proc.once("exit", (code) => reject(new Error(`${name} exited (${code}) before listening`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(Number(JSON.parse(line).port));
    });
  });
  lines.on("line", () => {}); // keep draining
  return { name, url: `http://127.0.0.1:${port}`, proc, stop: () => stopChild(proc) };
}

export interface PresqueOptions {
  /** a presque checkout to run instead of this one (to compare a change) */
  dir?: string;
  /** pass --cpu-prof to presque's node, writing the profile here at shutdown */
  profileDir?: string;
  workers?: number;
  /** a Redis Cluster's node URLs: --redis-cluster instead of --redis (redisUrl is then ignored) */
  cluster?: string[];
  /** run under valgrind's callgrind, its instrumentation off until callgrind_control turns it on
   *  (bench/instructions.ts), writing its counts to this file */
  callgrindOut?: string;
}

/** presque as `npm start` runs it: src/ built into dist/, then `node dist/cli/main.js --port P --redis URL
 *  --config F` (`dist/cli.js` in checkouts from before src/ had folders). A checkout from before dist/
 *  existed runs as it was started then, under tsx. */
export async function startPresque(redisUrl: string, opts: PresqueOptions = {}): Promise<Child> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "presque-bench-"));
  const config = join(dir, "config.yaml");
  // info would log one line per start only, but warn keeps a stray per-request log out of the figures
  writeFileSync(config, "log:\n  level: warn\n");
  const tree = opts.dir ?? ROOT;
  const builder = join(tree, "scripts", "build.mjs");
  let entry = join(tree, "src", "cli.ts");
  if (existsSync(builder)) {
    execFileSync(process.execPath, [builder], { cwd: tree, stdio: "inherit" });
    entry = [join(tree, "dist", "cli", "main.js"), join(tree, "dist", "cli.js")].find((f) => existsSync(f))!;
  }
  const redisFlags = opts.cluster ? ["--redis-cluster", opts.cluster.join(",")] : ["--redis", redisUrl];
  const args = [entry, "--port", String(port), ...redisFlags, "--config", config];
  if (opts.workers && opts.workers > 1) args.push("--workers", String(opts.workers));
  const nodeFlags = opts.profileDir ? ["--cpu-prof", "--cpu-prof-dir", opts.profileDir] : [];
  const wrapper = opts.callgrindOut
    ? ["valgrind", "-q", "--tool=callgrind", "--instr-atstart=no", `--callgrind-out-file=${opts.callgrindOut}`]
    : [];
  const proc = spawnNode("presque", args, nodeFlags, opts.dir, wrapper);
  proc.stdout!.on("data", (chunk: Buffer) => process.stderr.write(chunk)); // warnings and errors, if any
  const url = `http://127.0.0.1:${port}`;
  // under valgrind, start-up takes tens of seconds
  const waitMs = opts.callgrindOut ? 180_000 : 30_000;
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`presque exited (${proc.exitCode}) before listening`);
    try {
      await fetch(`${url}/j/bench-ready`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`presque did not answer within ${waitMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { name: "presque", url, proc, stop: () => stopChild(proc) };
}
