// Group commit: single-job requests for the same queue that arrive in the same turn of the event
// loop share one script call. Each request is still answered only after its own job is stored
// (or handed out), so nothing is acknowledged early; what is saved is the per-call cost in Redis
// and in the client, which under load is most of the cost of a small job.

interface Group<T, R> {
  items: T[];
  waiters: Array<{ resolve: (r: R) => void; reject: (err: unknown) => void }>;
}

export class Coalescer<T, R> {
  private pending = new Map<string, Group<T, R>>();
  private scheduled = false;

  /** `run` gets the items of one key, in arrival order, and answers one result per item. */
  constructor(
    private readonly run: (key: string, items: T[]) => Promise<R[]>,
    private readonly maxGroup: number,
  ) {}

  add(key: string, item: T): Promise<R> {
    let group = this.pending.get(key);
    if (!group || group.items.length >= this.maxGroup) {
      if (group) this.start(key, group);
      group = { items: [], waiters: [] };
      this.pending.set(key, group);
    }
    const g = group;
    return new Promise<R>((resolve, reject) => {
      g.items.push(item);
      g.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not nextTick: the requests of one poll phase must all be in first
        setImmediate(this.flush);
      }
    });
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
