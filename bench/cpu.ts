// CPU time of the processes in a run (Linux /proc), to tell which one was saturated: on a
// 2-core machine the server, Redis and the load generator compete for the same cores.
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux we run on

/** CPU seconds a process has used so far in user and in system (kernel) mode, or NaN off Linux. */
export function cpuTimes(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name in brackets may hold spaces: count fields after its closing bracket
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND };
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
}

/** CPU seconds (user + system) a process has used so far, or NaN off Linux. */
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/** CPU seconds the whole machine spent running something (user, nice, system, irq) so far. */
function machineBusySeconds(): number {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq] = cpu;
    return (user + nice + system + irq + softirq) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export interface CpuUse {
  /** cores used on average over the run */
  server: number;
  redis: number;
  loadgen: number;
  /** cores the whole machine used: what is left over went to other processes */
  machine: number;
}

/** Starts counting; the returned function gives the cores each process used since. */
export function cpuMeter(serverPid: number | undefined, redisPid: number): () => CpuUse {
  const t0 = performance.now();
  const s0 = serverPid ? cpuSeconds(serverPid) : Number.NaN;
  const r0 = cpuSeconds(redisPid);
  const l0 = process.cpuUsage();
  const m0 = machineBusySeconds();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const l = process.cpuUsage(l0);
    return {
      server: ((serverPid ? cpuSeconds(serverPid) : Number.NaN) - s0) / wall,
      redis: (cpuSeconds(redisPid) - r0) / wall,
      loadgen: (l.user + l.system) / 1e6 / wall,
      machine: (machineBusySeconds() - m0) / wall,
    };
  };
}
