// One embedded redis-server per data directory. Two presque started in one checkout would otherwise
// each run a redis-server appending to the same append-only file, serving diverging data. The lock
// is a file in the directory naming the presque that holds it (and, once started, its
// redis-server); it is taken with link(2), which fails if the file exists, so two presque starting
// at once cannot both take it. A lock whose presque and redis-server are both gone (presque killed
// with SIGKILL, the machine restarted) is stale and taken over.
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "presque.lock";

interface Holder {
  pid: number;
  /** the redis-server it started: it may outlive a presque killed with SIGKILL by a moment */
  redis_pid?: number;
  since: string;
}

export class DataDirBusy extends Error {
  override name = "DataDirBusy";
}

export interface DirLock {
  path: string;
  /** notes the redis-server started in the directory, so that a successor waits for it to go */
  noteRedis(pid: number): void;
  release(): void;
}

/** Whether a process runs: a zombie (dead, not yet reaped by whoever inherited it) does not. */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    // no /proc (not Linux): kill(0) is all there is to go by
    return true;
  }
}

function read(path: string): { text: string; holder: Holder | null } | null {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const holder = JSON.parse(text) as Holder;
    return { text, holder: Number.isInteger(holder.pid) ? holder : null };
  } catch {
    // not written by presque: nothing holds it
    return { text, holder: null };
  }
}

/** Writes the file whole beside `path` first, so that nobody ever reads half of it. */
function writeAside(path: string, holder: Holder): string {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(aside, `${JSON.stringify(holder)}\n`, { flag: "wx" });
  return aside;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Takes `dir` for this process, or throws DataDirBusy naming the pid that holds it. `waitMs`: how
 *  long a stale lock's redis-server may take to go (its watchdog is stopping it). */
export function lockDataDir(dir: string, waitMs = 10_000): DirLock {
  const path = join(dir, LOCK_FILE);
  const mine: Holder = { pid: process.pid, since: new Date().toISOString() };
  for (let tries = 0; ; tries++) {
    const aside = writeAside(path, mine);
    try {
      linkSync(aside, path);
      return held(path, mine);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      unlinkSync(aside);
    }
    const found = read(path);
    if (!found) continue; // released meanwhile
    const holder = found.holder;
    // the same pid as ours is a lock from before a restart (pid 1 in a container): not held
    if (holder && holder.pid !== process.pid && running(holder.pid)) throw busy(dir, path, `presque (pid ${holder.pid})`);
    if (holder?.redis_pid && running(holder.redis_pid)) {
      const deadline = Date.now() + waitMs;
      while (running(holder.redis_pid) && Date.now() < deadline) sleepSync(50);
      if (running(holder.redis_pid)) throw busy(dir, path, `a redis-server (pid ${holder.redis_pid}) whose presque is gone`);
    }
    if (tries >= 5) throw busy(dir, path, "another presque taking it over at the same time");
    // stale: moved out of the way and checked, since another presque may be taking it over too and
    // have put its own lock in place since we read it
    const moved = `${path}.stale.${process.pid}`;
    try {
      renameSync(path, moved);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    const what = read(moved);
    if (what && what.text !== found.text) {
      // someone else's fresh lock: put it back (unless yet another took the place) and look again
      try {
        linkSync(moved, path);
      } catch {
        // the place is taken again: that one is looked at next
      }
    }
    unlinkSync(moved);
  }
}

function busy(dir: string, path: string, who: string): DataDirBusy {
  return new DataDirBusy(
    `the data directory ${dir} is in use by ${who}: one redis-server per directory. Stop that one, or give this ` +
      `presque another directory (redis.embedded.dir in the config) or a Redis (--redis <url>); ` +
      `if nothing uses it, delete ${path}`,
  );
}

function held(path: string, mine: Holder): DirLock {
  let released = false;
  return {
    path,
    noteRedis(pid) {
      if (released) return;
      const aside = writeAside(path, { ...mine, redis_pid: pid });
      renameSync(aside, path);
    },
    release() {
      if (released) return;
      released = true;
      const found = read(path);
      if (found?.holder?.pid === process.pid) unlinkSync(path);
    },
  };
}
