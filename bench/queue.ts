// What the benchmarks put in presque's queues, and how they read and fill them.
import { Agent } from "node:http";
import { loops, send } from "./load.js";
import type { Child } from "./procs.js";

/** Every job is a small object of a fixed size: {"n":123456}. */
export const PAYLOAD_BYTES = 12;
export const payload = (i: number) => ({ n: 100000 + (i % 900000) });
export const JOB = JSON.stringify(payload(23456));
export const batchBody = (n: number) => JSON.stringify({ jobs: Array.from({ length: n }, (_, i) => payload(i)) });
export const JSON_HEADERS = { "content-type": "application/json" };

export interface Figures {
  job_count: number;
  job_processed: number;
}

export async function figures(presque: Child, queue: string): Promise<Figures> {
  const r = await fetch(`${presque.url}/j/${queue}`);
  if (!r.ok) throw new Error(`GET /j/${queue}: ${r.status}`);
  return (await r.json()) as Figures;
}

const fillAgent = new Agent({ keepAlive: true, maxSockets: 8 });
const FILL_BODY = batchBody(1000);

/** Tops a queue up to at least `want` ready jobs with POST /qb batches of 1000, 4 at a time;
 *  answers how many jobs it added. */
export async function fill(presque: Child, queue: string, want: number): Promise<number> {
  const missing = want - (await figures(presque, queue)).job_count;
  const batches = Math.ceil(Math.max(0, missing) / 1000);
  if (batches === 0) return 0;
  let next = 0;
  await loops(
    4,
    () => next >= batches,
    async () => {
      next++;
      const r = await send(fillAgent, presque.url, "POST", `/qb/${queue}`, FILL_BODY);
      if (r.status !== 201) throw new Error(`fill ${queue}: POST /qb answered ${r.status} ${r.body}`);
    },
  );
  return batches * 1000;
}

/** Closes the fill's keep-alive connections, so that they hold nothing open at the end. */
export function closeFill(): void {
  fillAgent.destroy();
}
