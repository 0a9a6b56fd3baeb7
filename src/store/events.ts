// Job events (pushed, delivered, acked, removed, failed, dead), as the queue scripts publish them
// (lua/includes/metrics.lua): one message per script call on the queue's events channel, by
// sharded pub/sub in the queue's slot, and only while someone listens (the scripts ask Redis how
// many subscribe). This module holds one subscription per queue with listeners in this process,
// on the long-poll subscriber connection, and drops it when the last listener leaves. GET
// /events/:queue and anything else in-process (a WebSocket) listen through subscribe().
//
// Pub/sub is at most once: a message published while the subscription is being made, or while the
// connection is down, is not heard. A listener that must not miss an outcome checks the job's
// state after subscribing (Client.waitFor does).
import { HttpError } from "../shared/errors.js";
import type { Store } from "./store.js";
import type { RedisClient } from "./topology.js";

export type JobEventType = "pushed" | "delivered" | "acked" | "removed" | "failed" | "dead";

export interface JobEvent {
  type: JobEventType;
  id: string;
  /** the attempt the event concerns (0 for a push, or when unknown) */
  attempt: number;
  /** for "failed": a failure report, or an expired lease */
  reason?: "error" | "lease_expired";
}

/** Called with the events of one script call, in the order they happened. */
export type JobEventListener = (events: JobEvent[]) => void;

interface Subscription {
  queue: string;
  listeners: Map<JobEventListener, (() => void) | undefined>;
  subscribed: Promise<unknown>;
}

const TYPES = new Set<string>(["pushed", "delivered", "acked", "removed", "failed", "dead"]);

/** Parses a message: lines "<type> <id>:<attempt> ...", type maybe "failed:<reason>". */
export function parseEvents(message: string): JobEvent[] {
  const events: JobEvent[] = [];
  for (const line of message.split("\n")) {
    const items = line.split(" ");
    const [type, reason] = items[0].split(":");
    if (!TYPES.has(type)) continue;
    for (let i = 1; i < items.length; i++) {
      const colon = items[i].lastIndexOf(":");
      const event: JobEvent = { type: type as JobEventType, id: items[i].slice(0, colon), attempt: Number(items[i].slice(colon + 1)) || 0 };
      if (type === "failed") event.reason = reason === "lease_expired" ? "lease_expired" : "error";
      events.push(event);
    }
  }
  return events;
}

export class JobEvents {
  private readonly subscriptions = new Map<string, Subscription>();
  private closing = false;

  constructor(
    private readonly store: Store,
    private readonly sub: RedisClient,
  ) {
    sub.on("smessage", (channel: string, message: string) => {
      const s = this.subscriptions.get(channel);
      if (!s) return;
      const events = parseEvents(message);
      if (events.length === 0) return;
      for (const listener of [...s.listeners.keys()]) listener(events);
    });
  }

  /** Queues with listeners in this process, and listeners in all. */
  get size(): { queues: number; listeners: number } {
    let listeners = 0;
    for (const s of this.subscriptions.values()) listeners += s.listeners.size;
    return { queues: this.subscriptions.size, listeners };
  }

  /** Listens to a queue's events; resolves once the subscription is in place (events published
   *  from then on are heard) with the function that stops listening. `closed` is called if the
   *  server shuts down first (close()). */
  async subscribe(queue: string, listener: JobEventListener, closed?: () => void): Promise<() => void> {
    if (this.closing) throw new HttpError(503, "shutting down", { "retry-after": "1" });
    const channel = this.store.keys(queue).events;
    let s = this.subscriptions.get(channel);
    if (!s) {
      s = { queue, listeners: new Map(), subscribed: this.sub.ssubscribe(channel) };
      this.subscriptions.set(channel, s);
    }
    // the same function twice is two listeners
    const own: JobEventListener = (events) => listener(events);
    s.listeners.set(own, closed);
    const unsubscribe = () => this.leave(channel, own);
    try {
      await s.subscribed;
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  /** Shutdown: every listener is told (closed) and let go. */
  close(): void {
    this.closing = true;
    for (const [channel, s] of [...this.subscriptions]) {
      for (const [listener, closed] of [...s.listeners]) {
        this.leave(channel, listener);
        closed?.();
      }
    }
  }

  private leave(channel: string, listener: JobEventListener): void {
    const s = this.subscriptions.get(channel);
    if (!s || !s.listeners.delete(listener) || s.listeners.size > 0) return;
    this.subscriptions.delete(channel);
    this.sub.sunsubscribe(channel).catch(() => {
      // the connection is gone: so is the subscription
    });
  }
}
