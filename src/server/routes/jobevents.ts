// GET /events/:queue: the queue's job events as server-sent events (src/store/events.ts), for
// tests, dashboards and producers waiting for their job (Client.waitFor). Each watcher costs a
// bounded buffer: one that does not read (its socket does not drain) stops being written to, and is
// told how many events it missed once it drains. A disconnect drops its listener, and the queue's
// subscription with the last one.
import type { JobEvent } from "../../store/events.js";
import { answeredOnFinish, type Res } from "../http.js";
import { queueParam } from "../params.js";
import type { Context, Router } from "../router.js";

/** Bytes a watcher may have waiting in its socket's buffer before events are counted as missed. */
export const MAX_BUFFERED = 256 * 1024;
/** A comment this often keeps proxies and clients from taking a quiet stream for a dead one. */
export const KEEP_ALIVE_MS = 15_000;

export function registerJobEventRoutes(router: Router, ctx: Context): void {
  router.route("/events/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const watcher = new Watcher(res);
      const stop = await ctx.jobEvents.subscribe(
        queue,
        (events) => watcher.send(events),
        () => res.end(),
      );
      if (req.socket.destroyed) return stop(); // gone while the subscription was made
      const keepAlive = setInterval(() => watcher.comment("keep-alive"), KEEP_ALIVE_MS);
      keepAlive.unref();
      // before anything is written: a write can fail and close the response at once
      res.once("close", () => {
        clearInterval(keepAlive);
        stop();
      });
      answeredOnFinish(res);
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // nginx would hold the stream back otherwise
        "x-accel-buffering": "no",
      });
      // the subscription is in place: what happens from now on is heard
      res.write(`event: subscribed\ndata: ${JSON.stringify({ queue })}\n\n`);
      watcher.start();
    },
  });
}

class Watcher {
  private missed = 0;
  private draining = false;
  /** Events heard before the stream began: the subscription's confirmation and the next message
   *  can come in one read from Redis, before the route has written its headers. */
  private early: string | undefined = "";

  constructor(private readonly res: Res) {}

  /** The headers and the subscribed event are out: what was heard before them follows. */
  start(): void {
    const early = this.early!;
    this.early = undefined;
    if (early) this.res.write(early);
    if (this.missed > 0) this.tellMissed();
  }

  send(events: JobEvent[]): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.early !== undefined) {
      if (this.early.length > MAX_BUFFERED) this.missed += events.length;
      else this.early += eventsText(events);
      return;
    }
    if (this.missed > 0 || this.res.writableLength > MAX_BUFFERED) {
      this.missed += events.length;
      this.awaitDrain();
      return;
    }
    this.res.write(eventsText(events));
  }

  comment(text: string): void {
    if (this.res.writableLength <= MAX_BUFFERED) this.res.write(`: ${text}\n\n`);
  }

  private awaitDrain(): void {
    if (this.draining) return;
    this.draining = true;
    this.res.once("drain", () => {
      this.draining = false;
      if (this.res.writableEnded || this.res.destroyed) return;
      if (this.res.writableLength > MAX_BUFFERED) return this.awaitDrain();
      this.tellMissed();
    });
  }

  private tellMissed(): void {
    const missed = this.missed;
    this.missed = 0;
    this.res.write(`event: missed\ndata: ${JSON.stringify({ missed })}\n\n`);
  }
}

/** Events as server-sent events, one block each: the error text and payload are never in them. */
function eventsText(events: JobEvent[]): string {
  let text = "";
  for (const e of events) {
    const data: Record<string, unknown> = { id: e.id, attempt: e.attempt };
    if (e.reason) data.reason = e.reason;
    text += `event: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
  }
  return text;
}
