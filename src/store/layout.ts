// The data layout: how presque's keys and values are arranged in Redis, as one version number kept
// in `<prefix>meta` (field `layout`). During a rolling deploy old and new presque share one Redis,
// so at start-up a process checks the layout it finds: a newer one than it understands stops it
// (it would misread the data); an older one is brought up by the numbered migrations below, each
// idempotent (two new processes may run one at once) and each leaving data the version before it
// can still read. A Redis with no layout recorded holds layout 1, or nothing at all: a store with
// no queue listed is new, and starts at the current layout with nothing to migrate (or to log).
import type { Logger } from "pino";
import { globalKeys } from "./keys.js";
import { copyQueueSet } from "./lists.js";
import type { RedisClient } from "./topology.js";

export const LAYOUT_VERSION = 3;

/** Since layout 2, a cancelled ready job may leave a tombstone in its queue's list (an id without a
 *  payload), once every live process reads the layout (src/store/processes.ts): layout 1 readers would
 *  hand one out. */
export const TOMBSTONES_SINCE = 2;

export interface Migration {
  /** the layout this migration brings the data to, from the one before */
  to: number;
  what: string;
  run(redis: RedisClient, prefix: string): Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    to: 2,
    what:
      "the due-work index: every listed queue is noted as due now; " +
      "the sweepers then visit each once and note when its work really comes due",
    async run(redis, prefix) {
      const keys = globalKeys(prefix);
      let cursor = "0";
      do {
        const [next, queues] = await redis.sscan(keys.queues, cursor, "COUNT", 1000);
        cursor = next;
        if (queues.length > 0) await redis.zadd(keys.due, "LT", ...queues.flatMap((q) => [0, q]));
      } while (cursor !== "0");
    },
  },
  {
    // Processes of layouts 1 and 2 still running keep writing the set alone; Lists.relistQueues (at
    // start-up and every five minutes) copies what they add and drops what they purge.
    to: 3,
    what: "the list of queues is also kept as a sorted set by name, for paged listings",
    run: async (redis, prefix) => {
      await copyQueueSet(redis, prefix);
    },
  },
];

export class LayoutError extends Error {
  override name = "LayoutError";
}

/** Checks the layout in Redis against `supported`, migrating older data up; returns the layout the
 *  data has afterwards. */
export async function checkLayout(
  redis: RedisClient,
  prefix: string,
  log: Logger,
  supported = LAYOUT_VERSION,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number> {
  const keys = globalKeys(prefix);
  const key = keys.meta;
  let recorded = await redis.hget(key, "layout");
  // HSETNX: a process of another layout starting beside this one on the same new store wins or loses as a whole
  if (recorded === null && (await redis.exists(keys.queues)) === 0) {
    if (await redis.hsetnx(key, "layout", supported)) return supported;
    recorded = await redis.hget(key, "layout");
  }
  let found = recorded === null ? 1 : Number(recorded);
  if (!Number.isInteger(found) || found < 1) throw new LayoutError(`${key} has layout "${recorded}", which is not a layout version`);
  if (found > supported) {
    throw new LayoutError(
      `Redis holds presque data layout ${found}, and this presque supports layouts up to ${supported}: ` +
        `run a newer presque, or point this one at another Redis or prefix`,
    );
  }
  for (let to = found + 1; to <= supported; to++) {
    const step = migrations.find((m) => m.to === to);
    if (!step) throw new LayoutError(`no migration from data layout ${to - 1} to ${to}`);
    log.info({ from: to - 1, to, what: step.what }, "migrating the data layout");
    await step.run(redis, prefix);
    await redis.hset(key, "layout", to);
    found = to;
  }
  if (recorded === null) await redis.hsetnx(key, "layout", found);
  return found;
}
