// The Worker class against BullMQ's Worker, and the presque command (issue 10).
import * as bull from "../bullmq.js";
import { cliPush, cliWork, WARMUP_DRAINS, WORKER_JOBS, warmWorker, workerDrain } from "../clients.js";
import { cpuMeter } from "../cpu.js";
import type { Child } from "../procs.js";
import { payload } from "../queue.js";
import { fromRounds, type Scenario } from "../report.js";
import { log, machine, report, ROUNDS, serverPid, wanted, type Section } from "../settings.js";
import { bullScenario } from "./bullmq.js";

/** as many as the Worker drains (issue 10 compares the two) */
const BULL_DRAIN_JOBS = WORKER_JOBS;

export const clientsSection: Section = {
  groups: ["client", "bullmq.worker"],
  run: ({ presque, connection }) => clients(presque, connection),
};

/** The Worker and BullMQ's Worker draining as many jobs on the same Redis (issue 10's
 *  comparison), each warmed up alike, then in interleaved rounds: one drain of each per round,
 *  seconds apart, so that the machine's drift over a run does not fall between the two. */
async function drains(presque: Child, connection: bull.Connection): Promise<void> {
  const ours = wanted("client.worker");
  const theirs = wanted("bullmq.worker");
  if (!ours && !theirs) return;
  log(
    `- Worker and BullMQ Worker draining ${BULL_DRAIN_JOBS.toLocaleString("en-US")} jobs: ${WARMUP_DRAINS} untimed drains each, then ${ROUNDS} rounds`,
  );
  if (ours) await warmWorker(presque, "bench-worker");
  if (theirs) for (let i = 0; i < WARMUP_DRAINS; i++) await bull.drain(connection, BULL_DRAIN_JOBS, 50, payload);
  const worker: Scenario[] = [];
  const bullWorker: Scenario[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ours) worker.push({ ...(await workerDrain(presque, "bench-worker", () => cpuMeter(serverPid(presque), machine.redisPid))), round });
    if (!theirs) continue;
    const f = await bull.drain(connection, BULL_DRAIN_JOBS, 50, payload, () => cpuMeter(undefined, machine.redisPid));
    const note = `${BULL_DRAIN_JOBS.toLocaleString("en-US")} jobs, no-op processor`;
    bullWorker.push({ ...bullScenario("bullmq.worker", "BullMQ Worker drain (concurrency 50)", f, note), round });
  }
  if (ours) report.add(fromRounds(worker));
  if (theirs) report.add(fromRounds(bullWorker));
}

/** The Worker class and the presque CLI (issue 10). */
async function clients(presque: Child, connection: bull.Connection): Promise<void> {
  await drains(presque, connection);
  if (wanted("client.push")) {
    log("- presque push");
    report.add(await cliPush(presque, "bench-cli-push"));
  }
  if (wanted("client.work")) {
    log("- presque work -- true, xargs -P 4 true");
    for (const s of await cliWork(presque, "bench-cli-work")) report.add(s);
  }
}
