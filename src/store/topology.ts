// What differs between one Redis and a Redis Cluster, kept out of the queue code: which
// connections are masters, scanning every master, each master's clock, loading the scripts on
// every node, and a push that waits for replicas on the connection that ran it.
// Everything here takes either client; on a single Redis each helper does the obvious thing.
import calculateSlot from "cluster-key-slot";
import type { Cluster, Redis } from "ioredis";
import { HttpError } from "../shared/errors.js";

/** The connection presque talks through: one Redis, or a Redis Cluster client. */
export type RedisClient = Redis | Cluster;

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Cluster).isCluster === true;
}

/** The masters as the client knows them now (a Cluster learns them from CLUSTER SLOTS and
 *  refreshes them on MOVED and every few seconds). */
export function masters(redis: RedisClient): Redis[] {
  return isCluster(redis) ? redis.nodes("master") : [redis];
}

/** `host:port` of a node connection, as the cluster names it in CLUSTER SLOTS. */
export function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** SCANs every master for `pattern`, handing each batch of keys to `found` (SCAN never blocks
 *  Redis; a master that is down fails the whole walk, to be tried again later). */
export async function scanEveryMaster(redis: RedisClient, pattern: string, found: (keys: string[]) => Promise<unknown>): Promise<void> {
  for (const node of masters(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await found(keys);
    } while (cursor !== "0");
  }
}

/** Single-key commands on keys of many queues in as few round trips as the client allows: one
 *  pipeline on one Redis; on a cluster, where a pipeline must stay in one slot, concurrent commands
 *  that the client sends to each key's master. Replies in order; a failed command's reply is null. */
export async function acrossQueues(redis: RedisClient, commands: Array<[string, ...Array<string | number>]>): Promise<unknown[]> {
  if (!isCluster(redis)) {
    const replies = (await redis.pipeline(commands).exec()) ?? [];
    return commands.map((_, i) => (replies[i]?.[0] ? null : (replies[i]?.[1] ?? null)));
  }
  return Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args).catch(() => null)));
}

/** Each master's clock minus ours, in ms. A deadline handed to a script must be in the clock of
 *  the master that runs it; masters are different machines, so each gets its own offset. */
export class Clocks {
  private readonly offsets = new Map<string, number>();
  /** the smallest offset seen: the safe guess for a master not measured yet (an early deadline
   *  makes a pop hand out nothing, a late one could lose a job) */
  private lowest = 0;

  constructor(private readonly redis: RedisClient) {}

  /** Measures every master that answers; one that does not (a failover) keeps its last offset.
   *  Fails only when none answers. */
  async sync(): Promise<void> {
    const results = await Promise.allSettled(
      masters(this.redis).map(async (node) => {
        const before = Date.now();
        const [seconds, micros] = await node.time();
        const after = Date.now();
        return [nodeKey(node), Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (before + after) / 2] as const;
      }),
    );
    const measured = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    if (measured.length === 0) {
      const failed = results.find((r) => r.status === "rejected");
      throw failed ? failed.reason : new Error("no Redis master to read the clock of");
    }
    for (const [key, offset] of measured) this.offsets.set(key, offset);
    this.lowest = Math.min(...this.offsets.values());
  }

  /** The offset of the master that serves `key` (any key of a queue: they share its slot). */
  offsetFor(key: string): number {
    if (!isCluster(this.redis)) return this.lowest; // its one master's offset (0 before any sync)
    const owner = this.redis.slots[calculateSlot(key)]?.[0];
    const offset = owner === undefined ? undefined : this.offsets.get(owner);
    return offset ?? this.lowest;
  }
}

/** What /stats/ shows of a cluster: every node the client knows, its role and address. */
export function describeNodes(redis: RedisClient): Array<{ node: string; role: "master" | "replica" }> | undefined {
  if (!isCluster(redis)) return undefined;
  const masterKeys = new Set(redis.nodes("master").map(nodeKey));
  return redis
    .nodes("all")
    .map((node) => ({ node: nodeKey(node), role: masterKeys.has(nodeKey(node)) ? ("master" as const) : ("replica" as const) }))
    .sort((a, b) => (a.role === b.role ? a.node.localeCompare(b.node) : a.role === "master" ? -1 : 1));
}

export class ReplicasDidNotConfirm extends HttpError {
  constructor(wanted: number, got: number) {
    super(503, `the job is stored, but only ${got} of ${wanted} replicas confirmed it`, { "retry-after": "1" });
  }
}

type Arg = string | number | Buffer;

/** A script refused with one of these did not run: a cluster client may refresh its slots and
 *  send it again. */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/;

/** Runs a script and then WAIT on the very connection that ran it (one pipeline: on a cluster,
 *  both go to the slot's master), so that a 201 means `replicas` replicas have the write.
 *  WAIT gives up after `timeoutMs`: fewer confirmations than asked are a 503.
 *  ioredis retries a cluster pipeline only when every command failed alike, and WAIT, having no
 *  key, succeeds on whichever node it reached: so a script redirected after a failover is
 *  retried here, after a slots refresh (a few times, 100 ms apart), or it would fail for as
 *  long as this client's slot map stays stale. */
export async function scriptThenWait<T>(
  redis: RedisClient,
  name: string,
  keys: string[],
  args: Arg[],
  replicas: number,
  timeoutMs: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const pipeline = redis.pipeline() as unknown as Record<string, (...a: Arg[]) => unknown> & {
      wait(n: number, ms: number): unknown;
      exec(): Promise<Array<[Error | null, unknown]> | null>;
    };
    pipeline[name](...keys, ...args);
    pipeline.wait(replicas, timeoutMs);
    const results = await pipeline.exec();
    if (!results) throw new Error("pipeline discarded");
    const [[scriptError, reply], [waitError, confirmed]] = results;
    if (scriptError && isCluster(redis) && REDIRECTED.test(scriptError.message) && attempt < 5) {
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    if (scriptError) throw scriptError;
    if (waitError) throw waitError;
    if (Number(confirmed) < replicas) throw new ReplicasDidNotConfirm(replicas, Number(confirmed));
    return reply as T;
  }
}
