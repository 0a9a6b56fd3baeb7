// What one `npm run bench` runs with: its flags, which scenarios are wanted, the report they add
// to, and the redis-server's pid (for CPU figures), shared by run.ts and bench/scenarios/.
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Redis } from "ioredis";
import type { Connection } from "./bullmq.js";
import { ROOT, type Child } from "./procs.js";
import { Report } from "./report.js";

export const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "6" },
    warmup: { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    only: { type: "string" },
    profile: { type: "string" },
    workers: { type: "string" },
    presque: { type: "string" },
    out: { type: "string", default: join(ROOT, "bench", "results", "latest.json") },
    help: { type: "boolean", short: "h" },
  },
});

export const DURATION = Number(flags.duration);
export const WARMUP = Number(flags.warmup);
export const ROUNDS = Number(flags.rounds);
export const CONNECTIONS = Number(flags.connections);
const only = flags.only
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
/** `a` names `b` itself or a group `b` is in: "presque" names "presque.get_q", "presque.post_q" names only itself */
const within = (b: string, a: string) => b === a || b.startsWith(`${a}.`);
export const wanted = (id: string) => !only || only.some((p) => within(id, p));
/** whether any wanted scenario lies in a section (to start its server at all) */
export const section = (name: string) => !only || only.some((p) => within(p, name) || within(name, p));

export const report = new Report();
/** set once the redis-server is up */
export const machine = { redisPid: 0 };
export const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** presque --workers N serves from child processes this pid does not count */
export const serverPid = (server: Child) => (server.name === "presque" && Number(flags.workers ?? 1) > 1 ? undefined : server.proc.pid);

/** What a section after the rounds runs against: presque, its Redis, and BullMQ's connection to it. */
export interface PresqueRun {
  presque: Child;
  redis: Redis;
  redisUrl: string;
  connection: Connection;
}

/** Scenarios that run once presque's rounds are done, each from an empty Redis. `groups`: the
 *  scenario ids or groups (for --only) it adds, so that presque starts when one is wanted. */
export interface Section {
  groups: string[];
  run(on: PresqueRun): Promise<void>;
}
