// BullMQ on the same Redis, as a user's code would run it: Queue.add, addBulk, its memory per job.
import type { Redis } from "ioredis";
import * as bull from "../bullmq.js";
import { cpuMeter } from "../cpu.js";
import { payload } from "../queue.js";
import type { Scenario } from "../report.js";
import { DURATION, log, machine, report, WARMUP, wanted } from "../settings.js";
import { MEMORY_JOBS } from "./memory.js";

const BULL_ADD_IN_FLIGHT = 50;
const BULL_BULK_TOTAL = 50_000;
const BULL_BULK_IN_FLIGHT = 8;

/** A BullMQ figure as a row of the table. */
export const bullScenario = (id: string, label: string, f: bull.JobsFigure, note: string): Scenario => ({
  id,
  label,
  seconds: f.seconds,
  jobsPerSec: f.jobsPerSec,
  jobs: f.jobs,
  p50: f.p50,
  p99: f.p99,
  non2xx: 0,
  errors: 0,
  valid: true,
  note,
  cpu: f.cpu,
});

export async function bullmq(connection: bull.Connection, admin: Redis): Promise<void> {
  const figure = (id: string, label: string, f: bull.JobsFigure, note: string) => report.add(bullScenario(id, label, f, note));
  const meter = () => cpuMeter(undefined, machine.redisPid);
  if (wanted("bullmq.add")) {
    log(`- BullMQ Queue.add, ${BULL_ADD_IN_FLIGHT} in flight`);
    await bull.add(connection, WARMUP, BULL_ADD_IN_FLIGHT, payload);
    figure(
      "bullmq.add",
      `BullMQ Queue.add (${BULL_ADD_IN_FLIGHT} in flight)`,
      await bull.add(connection, DURATION, BULL_ADD_IN_FLIGHT, payload, meter),
      "p50/p99: per add",
    );
  }
  if (wanted("bullmq.addbulk")) {
    log(`- BullMQ addBulk (1000), ${BULL_BULK_IN_FLIGHT} in flight`);
    await bull.addBulk(connection, 10_000, 1000, BULL_BULK_IN_FLIGHT, payload);
    const f = await bull.addBulk(connection, BULL_BULK_TOTAL, 1000, BULL_BULK_IN_FLIGHT, payload, meter);
    figure(
      "bullmq.addbulk",
      `BullMQ addBulk (1000)`,
      f,
      `${BULL_BULK_TOTAL.toLocaleString("en-US")} jobs, ${BULL_BULK_IN_FLIGHT} calls in flight`,
    );
  }
  if (wanted("memory")) {
    log(`- BullMQ: Redis memory for ${MEMORY_JOBS.toLocaleString("en-US")} jobs`);
    report.memory.bullmq = await bull.memoryPerJob(connection, admin, MEMORY_JOBS, payload);
  }
}
