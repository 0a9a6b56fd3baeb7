// Instructions per request, counted by valgrind's callgrind (bench:compare --instructions): the one
// per-request cost on these shared machines that does not move with the neighbours' load. req/s and
// CPU per request drift by more than the few per cent a change is judged by (an A/A pair of one tree
// landed 3-7 % apart in 8 rounds); a tree's counts spread by a few per cent, mostly from how many
// pushes or pops the group commit puts in one script call, which timing decides.
//
// presque runs under callgrind with its instrumentation off (valgrind's JIT alone, a few times slower
// than native) through start-up and a warm-up, on for exactly `requests` requests, then off; the
// count covers every thread (V8's compiler and GC helpers included) and user space only: the
// kernel's side of a write or a read is not in it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cannon, type CannonSpec } from "./load.js";
import { startPresque, type Child } from "./procs.js";
import { fill } from "./queue.js";

/** requests before counting: enough for V8 to have optimised the route's code */
export const WARMUP_REQUESTS = 6000;
/** concurrent requests; a few, so that the group commit groups as it does under load */
const CONNECTIONS = 20;

/** Whether callgrind can run here: valgrind and callgrind_control on the PATH. */
export function haveCallgrind(): boolean {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
    execFileSync("callgrind_control", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export interface Count {
  requests: number;
  non2xx: number;
  /** user-space instructions per request, all threads */
  perRequest: number;
}

/** One tree's count for one route: a presque of its own under callgrind, started and stopped here. */
export async function countInstructions(
  dir: string,
  redisUrl: string,
  spec: (url: string) => CannonSpec,
  requests: number,
  prepare?: (server: Child) => Promise<unknown>,
): Promise<Count> {
  const out = mkdtempSync(join(tmpdir(), "presque-callgrind-"));
  const server = await startPresque(redisUrl, { dir, callgrindOut: join(out, "callgrind.out") });
  try {
    const pid = String(server.proc.pid);
    const control = (...args: string[]) => execFileSync("callgrind_control", [...args, pid], { stdio: "ignore" });
    await prepare?.(server);
    await cannon(spec(server.url), CONNECTIONS, 3600, WARMUP_REQUESTS);
    control("--instr=on");
    const load = await cannon(spec(server.url), CONNECTIONS, 3600, requests);
    control("--instr=off");
    control("--dump");
    // a dump file per thread or per dump: the count is the largest total among them (the dump of
    // the whole process); "totals:" or "summary:" as valgrind's version writes it
    let total = 0;
    for (const f of readdirSync(out)) {
      for (const m of readFileSync(join(out, f), "utf8").matchAll(/^(?:totals|summary): (\d+)/gm)) total = Math.max(total, Number(m[1]));
    }
    return { requests: load.requests, non2xx: load.non2xx + load.errors, perRequest: total / load.requests };
  } finally {
    server.proc.kill("SIGKILL"); // the count is written; a shutdown under valgrind takes seconds
    rmSync(out, { recursive: true, force: true });
  }
}

/** GET takes jobs: the queue is filled for the warm-up and the counted requests, and some over. */
export const fillFor = (queue: string, requests: number) => (server: Child) => fill(server, queue, WARMUP_REQUESTS + requests + 1000);
