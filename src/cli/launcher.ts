// presque started by npm (npm start, npx presque, npm exec) stops when npm goes. npx runs the bin
// under `sh -c`, and a SIGTERM to npx ends npx and that shell without passing the signal on:
// presque and its redis-server would be left running with nobody to stop them. npm is not a
// supervisor, so nothing wants presque to outlive it. Started otherwise (a shell, systemd, a
// container, nohup), presque keeps running whatever happens to its parent, as a server should.
import { readFileSync } from "node:fs";

/** The start time of a process (clock ticks since boot, from /proc): a pid reused by another
 *  process has another. Null once it is gone, or a zombie. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? null : fields[19];
  } catch {
    return null;
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** npm sets its process title to "npm <command> ...", which is what /proc shows as its command line. */
function isNpm(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return /^npm( |$)/.test(cmdline[0]) || cmdline.some((arg) => /npm-cli\.js$/.test(arg));
  } catch {
    return false;
  }
}

/** The npm process that started this one: the nearest ancestor that is npm, within a few levels
 *  (npx: npm, sh, presque). */
function findNpm(): number | null {
  let pid: number | null = process.ppid;
  for (let depth = 0; pid && pid > 1 && depth < 4; depth++) {
    if (isNpm(pid)) return pid;
    pid = parentOf(pid);
  }
  return null;
}

/** Calls `gone` once if npm, having started this process, is gone (or this process's parent, when
 *  npm is not found in /proc). Does nothing unless npm started it. Returns a stop function. */
export function watchLauncher(gone: (what: string) => void, env: NodeJS.ProcessEnv = process.env, everyMs = 1000): () => void {
  if (!env.npm_command) return () => {};
  const parent = process.ppid;
  const npm = findNpm();
  const npmStarted = npm === null ? null : startTime(npm);
  const timer = setInterval(() => {
    const npmGone = npm !== null && startTime(npm) !== npmStarted;
    if (!npmGone && process.ppid === parent) return;
    clearInterval(timer);
    gone(npmGone ? `npm (pid ${npm}) is gone` : `its parent (pid ${parent}) is gone`);
  }, everyMs);
  // never what keeps presque running
  timer.unref();
  return () => clearInterval(timer);
}
