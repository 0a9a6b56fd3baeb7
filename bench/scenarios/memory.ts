// Redis memory per queued job: presque's here, BullMQ's in bullmq.ts.
import type { Redis } from "ioredis";
import type { Child } from "../procs.js";
import { fill } from "../queue.js";
import { usedMemory } from "../redisstats.js";
import { log, report, wanted, type Section } from "../settings.js";

export const MEMORY_JOBS = 200_000;

export const memorySection: Section = { groups: ["memory"], run: ({ presque, redis }) => presqueMemory(presque, redis) };

async function presqueMemory(presque: Child, redis: Redis): Promise<void> {
  if (!wanted("memory")) return;
  log(`- presque: Redis memory for ${MEMORY_JOBS.toLocaleString("en-US")} jobs`);
  await redis.flushall();
  const before = await usedMemory(redis);
  await fill(presque, "bench-mem", MEMORY_JOBS);
  const after = await usedMemory(redis);
  report.memory.presque = (after - before) / MEMORY_JOBS;
  await redis.flushall();
}
