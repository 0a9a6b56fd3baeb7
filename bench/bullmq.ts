// BullMQ, what a Node user would pick instead: in this process, on the same Redis, with its
// own key prefix. Each figure is jobs/s of the whole operation as BullMQ's API offers it.
import type { Redis } from "ioredis";
import { Queue, Worker } from "bullmq";
import { Samples } from "./load.js";
import { usedMemory } from "./redisstats.js";
import type { CpuUse } from "./cpu.js";

/** starts a CPU meter at the start of the timed part; its result goes into the figure */
export type Meter = () => () => CpuUse;

export interface Connection {
  host: string;
  port: number;
}

export interface JobsFigure {
  jobs: number;
  seconds: number;
  jobsPerSec: number;
  /** ms per call (Queue.add only) */
  p50?: number;
  p99?: number;
  cpu?: CpuUse;
}

const PREFIX = "bullbench";
let serial = 0;
const queueName = (what: string) => `${what}-${process.pid}-${++serial}`;

/** Queue.add from `inFlight` concurrent callers for `seconds`. */
export async function add(
  connection: Connection,
  seconds: number,
  inFlight: number,
  payload: (i: number) => object,
  meter?: Meter,
): Promise<JobsFigure> {
  const queue = new Queue(queueName("add"), { connection, prefix: PREFIX });
  await queue.waitUntilReady();
  try {
    const samples = new Samples();
    let n = 0;
    const cpu = meter?.();
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          await queue.add("job", payload(n++));
          samples.add(performance.now() - t);
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    return { jobs: samples.count, seconds: elapsed, jobsPerSec: samples.count / elapsed, ...samples.summary(), cpu: cpu?.() };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

async function addMany(queue: Queue, total: number, batch: number, inFlight: number, payload: (i: number) => object) {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const from = next;
        next = Math.min(total, next + batch);
        await queue.addBulk(Array.from({ length: next - from }, (_, i) => ({ name: "job", data: payload(from + i) })));
      }
    }),
  );
}

/** addBulk of `batch` jobs at a time, `inFlight` calls at once, up to `total` jobs. */
export async function addBulk(
  connection: Connection,
  total: number,
  batch: number,
  inFlight: number,
  payload: (i: number) => object,
  meter?: Meter,
): Promise<JobsFigure> {
  const queue = new Queue(queueName("bulk"), { connection, prefix: PREFIX });
  await queue.waitUntilReady();
  try {
    const cpu = meter?.();
    const t0 = performance.now();
    await addMany(queue, total, batch, inFlight, payload);
    const seconds = (performance.now() - t0) / 1000;
    return { jobs: total, seconds, jobsPerSec: total / seconds, cpu: cpu?.() };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

/** A Worker (concurrency `concurrency`, no-op processor) draining `total` jobs added beforehand.
 *  Completed jobs are removed, as presque's GET removes them. */
export async function drain(
  connection: Connection,
  total: number,
  concurrency: number,
  payload: (i: number) => object,
  meter?: Meter,
): Promise<JobsFigure> {
  const name = queueName("drain");
  const queue = new Queue(name, { connection, prefix: PREFIX, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  await queue.waitUntilReady();
  await addMany(queue, total, 1000, 4, payload);
  const worker = new Worker(name, async () => {}, { connection, prefix: PREFIX, concurrency, autorun: false });
  try {
    await worker.waitUntilReady();
    let done = 0;
    const finished = new Promise<number>((resolve) => {
      const count = () => {
        if (++done === total) resolve(performance.now());
      };
      worker.on("completed", count);
      worker.on("failed", count);
    });
    const cpu = meter?.();
    const t0 = performance.now();
    void worker.run();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((_, reject) => {
      timer = setTimeout(() => reject(new Error("BullMQ worker did not drain within 120 s")), 120_000);
    });
    const t1 = await Promise.race([finished, timeout]).finally(() => clearTimeout(timer));
    const seconds = (t1 - t0) / 1000;
    return { jobs: total, seconds, jobsPerSec: total / seconds, cpu: cpu?.() };
  } finally {
    await worker.close(true);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

/** Redis bytes per waiting job after addBulk of `total` jobs into an empty database. */
export async function memoryPerJob(connection: Connection, admin: Redis, total: number, payload: (i: number) => object): Promise<number> {
  await admin.flushall();
  const queue = new Queue(queueName("mem"), { connection, prefix: PREFIX });
  await queue.waitUntilReady();
  try {
    const before = await usedMemory(admin);
    await addMany(queue, total, 1000, 4, payload);
    const after = await usedMemory(admin);
    return (after - before) / total;
  } finally {
    await admin.flushall();
    await queue.close();
  }
}
