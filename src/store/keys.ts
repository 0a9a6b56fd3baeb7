// Every key of a queue carries the queue name in a hash tag, so that one queue's keys share
// one Redis Cluster slot and each script can touch them all.

const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isQueueName(name: string): boolean {
  return QUEUE_NAME.test(name);
}

/** The keys of one queue, by the names Lua headers use on their KEYS line (see src/store/scripts.ts). */
export const QUEUE_KEY_NAMES = [
  "seq",
  "meta",
  "wait",
  "prio",
  "delayed",
  "leased",
  "jobs",
  "attrs",
  "uniq",
  "dead",
  "workers",
  "wstats",
  "idem",
  "idemx",
  // issue 20: job deadlines (id -> ms), and the queue's schedules: definitions, next runs, last runs
  "expiry",
  "sched",
  "schedx",
  "schedl",
  /** what the scripts count: counters, the run-time histogram, the minute ring (lua/includes/metrics.lua) */
  "counters",
  /** when jobs were pushed, once per second: first id -> ms (for the oldest ready job's age) */
  "marks",
] as const;

/** The global keys a script may take, each alone (a script touches one queue, or one global key). */
export const GLOBAL_SCRIPT_KEY_NAMES = ["due"] as const;

export type QueueKeys = Record<(typeof QUEUE_KEY_NAMES)[number], string> & {
  /** Pub/sub channel (not a key) on which scripts announce jobs that became ready. */
  notify: string;
  /** Pub/sub channel (not a key) of the queue's job events (lua/includes/metrics.lua, src/store/events.ts). */
  events: string;
};

/** One key of a queue: its name in a hash tag, so that all of a queue's keys share a cluster slot. */
export function queueKey(prefix: string, queue: string, part: string): string {
  return `${prefix}{${queue}}:${part}`;
}

export function queueKeys(prefix: string, queue: string): QueueKeys {
  const k = (part: string) => queueKey(prefix, queue, part);
  const keys = Object.fromEntries(QUEUE_KEY_NAMES.map((name) => [name, k(name)]));
  return { ...keys, notify: k("notify"), events: k("events") } as QueueKeys;
}

/** Keys shared by all queues; touched only by single-key commands beside a script call. */
export function globalKeys(prefix: string) {
  return {
    queues: `${prefix}queues`,
    /** the due-work index (src/store/due.ts): queue -> when work of it next comes due by itself (ms) */
    due: `${prefix}due`,
    /** the same names as `queues`, in a sorted set (all scores 0: ordered by name), so that
     *  /stats/ and /status/ read a page of them, never the whole list (layout 3, src/store/layout.ts) */
    queueNames: `${prefix}queuenames`,
    /** queues that have schedules (all scores 0), for GET /schedules/; kept beside setSchedule
     *  and deleteSchedule (src/store/schedules.ts) */
    schedQueues: `${prefix}schedqueues`,
    /** the data layout version (src/store/layout.ts) */
    meta: `${prefix}meta`,
    /** live presque processes (src/store/processes.ts): id -> expiry (ms), and id -> details */
    processes: `${prefix}processes`,
    processDetails: `${prefix}process`,
    workers: `${prefix}workers`,
    // two prefixes no worker id can reach into each other: "worker:a:queues" is a worker's hash,
    // whatever id "a" or "a:queues" is given
    worker: (id: string) => `${prefix}worker:${id}`,
    workerQueues: (id: string) => `${prefix}workerq:${id}`,
  };
}
