// The dashboard's live feed: however many pages of one process listen to /events, each view they
// ask for is read from Redis once per tick and the same reading is sent to all of them. A view's
// ticker runs only while someone listens to it; the number of views read at once is capped, so the
// cost of a process's pages is bounded by that cap, not by the number of pages.
/** What a page shows: queues whose name starts with a prefix ("" for all), a page of them. */
export interface View {
  prefix: string;
  offset: number;
  limit: number;
}

export interface Listener {
  /** one event, already framed as text/event-stream, and the reading it carries (absent for a problem) */
  send(chunk: string, reading?: unknown): void;
  /** the server is closing */
  end(): void;
}

interface Feed {
  view: View;
  listeners: Set<Listener>;
  timer?: NodeJS.Timeout;
  reading: boolean;
  /** the last event sent and its reading, for a page that joins between ticks */
  last?: { chunk: string; reading: unknown };
}

export const TICK_MS = 2000;
/** distinct views (prefix, offset, page size) one process reads at once */
export const MAX_VIEWS = 16;
/** pages one process serves at once */
export const MAX_LISTENERS = 2000;

export class HubFull extends Error {}

export class EventHub {
  private readonly feeds = new Map<string, Feed>();
  private count = 0;
  /** readings made since start: what a test compares with the number of ticks */
  reads = 0;

  constructor(
    private readonly read: (view: View) => Promise<unknown>,
    private readonly everyMs = TICK_MS,
  ) {}

  get listeners(): number {
    return this.count;
  }

  get views(): number {
    return this.feeds.size;
  }

  /** Adds a page; throws HubFull past the caps. Returns what removes it. */
  listen(view: View, listener: Listener): () => void {
    const key = `${view.prefix}\n${view.offset}\n${view.limit}`;
    let feed = this.feeds.get(key);
    if (this.count >= MAX_LISTENERS) throw new HubFull(`this process serves ${MAX_LISTENERS} live pages already`);
    if (!feed && this.feeds.size >= MAX_VIEWS) throw new HubFull(`this process reads ${MAX_VIEWS} different views already`);
    if (!feed) {
      feed = { view, listeners: new Set(), reading: false };
      this.feeds.set(key, feed);
    }
    feed.listeners.add(listener);
    this.count++;
    // the whole state at once (once the caller has written its headers): a page that (re)connects
    // needs nothing it missed
    const last = feed.last;
    if (last) setImmediate(() => feed.listeners.has(listener) && listener.send(last.chunk, last.reading));
    if (!feed.timer && !feed.reading) void this.tick(key, feed);
    return () => {
      if (!feed.listeners.delete(listener)) return;
      this.count--;
      if (feed.listeners.size === 0 && this.feeds.get(key) === feed) {
        clearTimeout(feed.timer);
        this.feeds.delete(key);
      }
    };
  }

  private async tick(key: string, feed: Feed): Promise<void> {
    feed.timer = undefined;
    feed.reading = true;
    let chunk: string;
    let reading: unknown;
    try {
      this.reads++;
      reading = await this.read(feed.view);
      chunk = overviewEvent(reading);
      feed.last = { chunk, reading };
    } catch (err) {
      chunk = `event: problem\ndata: ${JSON.stringify({ error: (err as Error).message })}\n\n`;
    }
    feed.reading = false;
    if (this.feeds.get(key) !== feed) return; // everyone left meanwhile
    for (const listener of feed.listeners) listener.send(chunk, reading);
    feed.timer = setTimeout(() => void this.tick(key, feed), this.everyMs);
    feed.timer.unref();
  }

  /** Ends every page's stream (the server is closing). */
  close(): void {
    for (const feed of this.feeds.values()) {
      clearTimeout(feed.timer);
      const listeners = [...feed.listeners];
      feed.listeners.clear();
      for (const listener of listeners) listener.end();
    }
    this.feeds.clear();
    this.count = 0;
  }
}

export function overviewEvent(reading: unknown): string {
  return `event: overview\ndata: ${JSON.stringify(reading)}\n\n`;
}
