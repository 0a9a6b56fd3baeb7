// Group commit: single-job requests for the same queue that arrive in the same turn of the event
// loop share one script call. Each request is still answered only after its own job is stored
// (or handed out), so nothing is acknowledged early; what is saved is the per-call cost in Redis
// and in the client, which under load is most of the cost of a small job.
//
// A group is cut by count and, where items have a size, by bytes: Redis runs one script call at a
// time and reads its arguments whole, so a group of 200 jobs of 900 KB (one 180 MB call) would
// stall every other client for a second and outlast a short command timeout, failing requests
// whose jobs were in fact stored. An item larger than the byte cap still goes, alone.

/** What one push script call may carry, summed over its jobs' bytes: at Redis's few hundred MB/s,
 *  a few milliseconds of reading and copying. */
export const MAX_GROUP_BYTES = 4 * 1024 * 1024;

interface Group<T, R> {
  items: T[];
  bytes: number;
  waiters: Array<{ resolve: (r: R) => void; reject: (err: unknown) => void }>;
}

export interface Caps<T> {
  /** most items in one call */
  count: number;
  /** most bytes in one call, as `size` measures an item (no cap without it) */
  bytes?: number;
  size?: (item: T) => number;
}

export class Coalescer<T, R> {
  private pending = new Map<string, Group<T, R>>();
  private scheduled = false;
  private readonly caps: Caps<T>;

  /** `run` gets the items of one key, in arrival order, and answers one result per item. */
  constructor(
    private readonly run: (key: string, items: T[]) => Promise<R[]>,
    caps: number | Caps<T>,
  ) {
    this.caps = typeof caps === "number" ? { count: caps } : caps;
  }

  add(key: string, item: T): Promise<R> {
    const size = this.caps.size ? this.caps.size(item) : 0;
    let group = this.pending.get(key);
    if (!group || this.full(group, size)) {
      if (group) this.start(key, group);
      group = { items: [], bytes: 0, waiters: [] };
      this.pending.set(key, group);
    }
    const g = group;
    return new Promise<R>((resolve, reject) => {
      g.items.push(item);
      g.bytes += size;
      g.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not nextTick: the requests of one poll phase must all be in first
        setImmediate(this.flush);
      }
    });
  }

  /** Whether `group` must go before an item of `size` joins: an empty group always takes one. */
  private full(group: Group<T, R>, size: number): boolean {
    if (group.items.length >= this.caps.count) return true;
    return this.caps.bytes !== undefined && group.items.length > 0 && group.bytes + size > this.caps.bytes;
  }

  private readonly flush = () => {
    this.scheduled = false;
    const groups = this.pending;
    this.pending = new Map();
    for (const [key, group] of groups) this.start(key, group);
  };

  private start(key: string, group: Group<T, R>): void {
    this.run(key, group.items).then(
      (results) => group.waiters.forEach((w, i) => w.resolve(results[i])),
      (err) => group.waiters.forEach((w) => w.reject(err)),
    );
  }
}
