// What Redis did during a scenario: INFO commandstats before and after a run, a short MONITOR
// probe that tells the commands a client sent from those scripts ran inside Redis, and
// used_memory.
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { readScripts } from "../src/store/scripts.js";
import { sleep } from "./load.js";

export type CommandCounts = Map<string, number>;

export async function commandCounts(redis: Redis): Promise<CommandCounts> {
  const counts: CommandCounts = new Map();
  for (const m of (await redis.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(m[1], Number(m[2]));
  return counts;
}

const SCRIPT_CALLS = new Set(["evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro"]);

export interface CommandUse {
  /** every command Redis ran, the ones scripts ran included (INFO commandstats counts both) */
  all: number;
  /** EVALSHA and friends: one per script call */
  scripts: number;
  byCommand: Record<string, number>;
}

export function commandUse(before: CommandCounts, after: CommandCounts): CommandUse {
  let all = 0;
  let scripts = 0;
  const byCommand: Record<string, number> = {};
  for (const [name, calls] of after) {
    const n = calls - (before.get(name) ?? 0);
    if (n <= 0 || name === "info") continue; // INFO is ours
    byCommand[name] = n;
    all += n;
    if (SCRIPT_CALLS.has(name)) scripts += n;
  }
  return { all, scripts, byCommand };
}

export interface Probe {
  requests: number;
  /** commands clients sent, per request: what travels over the connection */
  topLevel: number;
  /** commands run by scripts, per request */
  inLua: number;
  /** commands sent, scripts by name (EVALSHA of pushJobs counts as pushJobs) */
  byCommand: Record<string, number>;
  /** the once-a-second sweep (SMEMBERS of the queue list, sweepQueue), left out of the above */
  background: number;
}

let scriptNames: Map<string, string> | undefined;
/** presque's scripts by SHA1, as ioredis sends them (the SHA1 of the file with its includes) */
function scriptName(sha: string): string {
  scriptNames ??= new Map(readScripts().map((s) => [createHash("sha1").update(s.lua).digest("hex"), s.name]));
  return scriptNames.get(sha) ?? `evalsha ${sha.slice(0, 8)}`;
}

/** Runs `load` (which returns how many requests it made) under MONITOR. MONITOR shows a
 *  script's own calls with the source "lua", so the two kinds can be told apart, which
 *  commandstats cannot do. It slows Redis down, so it runs apart from the measured run. */
export async function probe(redis: Redis, load: () => Promise<number>): Promise<Probe> {
  const monitor = await redis.monitor();
  let top = 0;
  let lua = 0;
  let background = 0;
  const byCommand: Record<string, number> = {};
  const onLine = (_time: string, args: string[], source: string) => {
    if (source === "lua") {
      lua++;
      return;
    }
    const command = String(args[0]).toLowerCase();
    const name = command === "evalsha" ? scriptName(String(args[1])) : command;
    if (name === "info") return; // the benchmark's own
    if (name === "sweepQueue" || (name === "smembers" && String(args[1]).endsWith("queues"))) {
      background++;
      return;
    }
    top++;
    byCommand[name] = (byCommand[name] ?? 0) + 1;
  };
  monitor.on("monitor", onLine);
  try {
    await sleep(50);
    const requests = await load();
    await sleep(200); // the last lines are still on their way
    // lines already received keep coming after disconnect(): they belong to what runs next
    monitor.off("monitor", onLine);
    return { requests, topLevel: top / requests, inLua: lua / requests, byCommand, background };
  } finally {
    monitor.off("monitor", onLine);
    // lines still arriving once the connection has left monitoring mode look to ioredis like
    // answers to no command, an 'error' event that would end the run (seen after the long-poll
    // scenario, whose SUNSUBSCRIBEs were in flight): nothing from this connection matters now
    monitor.on("error", () => {});
    monitor.disconnect();
  }
}

/** Reads and writes Redis made on client sockets: a read per batch of commands that arrived
 *  together, so reads per request tell how well the client pipelines. */
export async function socketCounts(redis: Redis): Promise<{ reads: number; writes: number }> {
  const info = await redis.info("stats");
  const n = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(info)?.[1]);
  return { reads: n("total_reads_processed"), writes: n("total_writes_processed") };
}

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}
