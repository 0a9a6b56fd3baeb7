// Every key of a queue carries the queue name in a hash tag, so that one queue's keys share
// one Redis Cluster slot and each script can touch them all.

const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isQueueName(name: string): boolean {
  return QUEUE_NAME.test(name);
}

export type QueueKeys = ReturnType<typeof queueKeys>;

export function queueKeys(prefix: string, queue: string) {
  const k = (part: string) => `${prefix}{${queue}}:${part}`;
  return {
    seq: k("seq"),
    meta: k("meta"),
    wait: k("wait"),
    prio: k("prio"),
    delayed: k("delayed"),
    leased: k("leased"),
    jobs: k("jobs"),
    attrs: k("attrs"),
    uniq: k("uniq"),
    dead: k("dead"),
    workers: k("workers"),
    wstats: k("wstats"),
    /** Pub/sub channel (not a key) on which scripts announce jobs that became ready. */
    notify: k("notify"),
  };
}

/** Keys shared by all queues; touched only by single-key commands beside a script call. */
export function globalKeys(prefix: string) {
  return {
    queues: `${prefix}queues`,
    workers: `${prefix}workers`,
    // two prefixes no worker id can reach into each other: "worker:a:queues" is a worker's hash,
    // whatever id "a" or "a:queues" is given
    worker: (id: string) => `${prefix}worker:${id}`,
    workerQueues: (id: string) => `${prefix}workerq:${id}`,
  };
}
