// A real Redis Cluster for tests: three masters and three replicas from the machine's
// redis-server, on free loopback ports, with every file in one temporary directory.
// Nothing is persisted (a killed node comes back empty, as a replaced machine would), and the
// node timeout is short so that a failover takes about a second instead of fifteen.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { findOnPath } from "../../src/store/redis.js";

const REDIS_SERVER = process.env.REDISMS_SYSTEM_BINARY || findOnPath("redis-server") || "/usr/bin/redis-server";
const REDIS_CLI = findOnPath("redis-cli") || "/usr/bin/redis-cli";
/** How long a master may be silent before its replica takes over (the failover tests wait for it). */
export const NODE_TIMEOUT_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ClusterNode {
  port: number;
  process: ChildProcess;
}

export interface TestCluster {
  /** redis:// URLs of every node started, masters and replicas (what presque is given) */
  urls: string[];
  nodes: ClusterNode[];
  /** the ports of the nodes that are masters right now */
  masters(): Promise<number[]>;
  /** the masters that have a live replica (one a failover can promote) */
  mastersWithReplicas(): Promise<number[]>;
  /** who serves which slot right now: slot -> master port */
  slotOwners(): Promise<(slot: number) => number>;
  /** SIGKILLs the master that owns `slot` and waits until one of its replicas serves the slot
   *  and the cluster says ok on every surviving node; returns the new master's port */
  killMasterOf(slot: number): Promise<{ killed: number; promoted: number }>;
  stop(): Promise<void>;
}

/** Every node's processes, so that an exiting test run never leaves a redis-server behind. */
const everyProcess = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of everyProcess) p.kill("SIGKILL");
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function startNode(dir: string, port: number, busPort: number): ClusterNode {
  const child = spawn(
    REDIS_SERVER,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--cluster-enabled",
      "yes",
      "--cluster-port",
      String(busPort),
      "--cluster-config-file",
      join(dir, `nodes-${port}.conf`),
      "--cluster-node-timeout",
      String(NODE_TIMEOUT_MS),
      // a replica may take over however long it was cut off: the tests kill masters on purpose
      "--cluster-replica-validity-factor",
      "0",
      // CLUSTER SLOTS leaves out a replica that has reported no replication offset yet, and an
      // idle master sends the pings that move it only every 10 s by default
      "--repl-ping-replica-period",
      "1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      "--loglevel",
      "warning",
      "--logfile",
      join(dir, `redis-${port}.log`),
    ],
    { stdio: "ignore" },
  );
  everyProcess.add(child);
  child.once("exit", () => everyProcess.delete(child));
  return { port, process: child };
}

async function until<T>(what: string, check: () => Promise<T | false>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${(lastError as Error).message})` : ""}`);
    }
    await sleep(50);
  }
}

/** One short-lived plain connection to one node, for set-up and checks. */
async function onNode<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
  });
  r.on("error", () => {});
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: Array<[number, number]>;
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.split(" ");
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: flags.split(","),
        masterId,
        slots: slots
          .filter((s) => !s.startsWith("["))
          .map((s) => {
            const [from, to] = s.split("-").map(Number);
            return [from, to ?? from] as [number, number];
          }),
      };
    });
}

const clusterOk = (port: number) => onNode(port, async (r) => /cluster_state:ok/.test(await r.cluster("INFO")));

/** Starts the cluster; `stop()` must be called (a tap teardown does it: see startClusterFor). */
export async function startCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "presque-cluster-"));
  const ports = await freePorts(12);
  const nodes = ports.slice(0, 6).map((port, i) => startNode(dir, port, ports[6 + i]));
  const alive = new Set(nodes.map((n) => n.port));
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.process.exitCode !== null || n.process.signalCode !== null) return resolve();
            n.process.once("exit", () => resolve());
            n.process.kill("SIGKILL");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(nodes.map((n) => until(`redis-server on ${n.port}`, () => onNode(n.port, (r) => r.ping()), 10_000)));
    const created = spawnSync(
      REDIS_CLI,
      ["--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes"],
      { encoding: "utf8", timeout: 30_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await until(
      "cluster_state:ok on every node",
      async () => (await Promise.all(nodes.map((n) => clusterOk(n.port)))).every(Boolean),
      20_000,
    );
    // every replica has its master's data stream going, so that a kill right away can fail over,
    // and every node lists it in CLUSTER SLOTS, so that clients know the replicas
    await until(
      "every replica in sync and listed",
      async () => {
        const roles = await Promise.all(nodes.map((n) => onNode(n.port, (r) => r.info("replication"))));
        if (roles.filter((info) => /role:slave/.test(info) && /master_link_status:up/.test(info)).length !== 3) return false;
        const slots = await Promise.all(nodes.map((n) => onNode(n.port, (r) => r.cluster("SLOTS") as Promise<unknown[][]>)));
        return slots.every((ranges) => ranges.length === 3 && ranges.every((range) => range.length === 4));
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const topology = async () => {
    for (const port of alive) {
      try {
        return parseNodes(await onNode(port, (r) => r.cluster("NODES") as Promise<string>));
      } catch {
        // that node is down: ask the next one
      }
    }
    throw new Error("no cluster node answers");
  };

  return {
    urls: nodes.map((n) => `redis://127.0.0.1:${n.port}`),
    nodes,
    masters: async () =>
      (await topology()).filter((n) => n.flags.includes("master") && !n.flags.includes("fail") && n.slots.length > 0).map((n) => n.port),
    mastersWithReplicas: async () => {
      const now = await topology();
      const live = (n: NodeLine) => !n.flags.includes("fail") && alive.has(n.port);
      return now.filter((m) => m.flags.includes("master") && live(m) && now.some((r) => r.masterId === m.id && live(r))).map((m) => m.port);
    },
    slotOwners: async () => {
      const servers = (await topology()).filter((n) => n.flags.includes("master") && !n.flags.includes("fail"));
      return (slot) => servers.find((n) => n.slots.some(([a, b]) => slot >= a && slot <= b))?.port ?? -1;
    },
    killMasterOf: async (slot) => {
      const before = await topology();
      const owner = before.find((n) => n.flags.includes("master") && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!owner) throw new Error(`no master owns slot ${slot}`);
      const replicas = before.filter((n) => n.masterId === owner.id).map((n) => n.port);
      const node = nodes.find((n) => n.port === owner.port)!;
      alive.delete(owner.port);
      await new Promise<void>((resolve) => {
        node.process.once("exit", () => resolve());
        node.process.kill("SIGKILL");
      });
      const promoted = await until(
        `a replica of ${owner.port} to take slot ${slot}`,
        async () => {
          const now = await topology();
          const serving = now.find(
            (n) => n.flags.includes("master") && !n.flags.includes("fail") && n.slots.some(([a, b]) => slot >= a && slot <= b),
          );
          return serving && replicas.includes(serving.port) ? serving.port : false;
        },
        30_000,
      );
      await until(
        "cluster_state:ok on every surviving node",
        async () => (await Promise.all([...alive].map(clusterOk))).every(Boolean),
        30_000,
      );
      return { killed: owner.port, promoted };
    },
    stop,
  };
}
