// What the dashboard's tests share: dead jobs made through the API, and a reader of /events.
import type { Client } from "../helpers.js";
import { checkAnswer, checkEvent } from "./openapi.js";

/** Pushes jobs and makes each of them dead: max_attempts 1, leased, failed with an error. */
export async function deadJobs(http: Client, queue: string, payloads: object[], error: (i: number) => string): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, payload] of payloads.entries()) {
    const pushed = await http("POST", `/q/${queue}?max_attempts=1`, { body: payload });
    const taken = await http("GET", `/q/${queue}?lease=30`);
    const id = taken.headers.get("x-presque-jobid")!;
    const failed = await http("PUT", `/q/${queue}/${id}`, {
      body: { error: error(i) },
      headers: { "x-presque-attempt": taken.headers.get("x-presque-attempt")! },
    });
    if (failed.json?.state !== "dead") throw new Error(`job ${pushed.json?.id} did not die: ${failed.text}`);
    ids.push(id);
  }
  return ids;
}

/** Reads a server-sent event stream with fetch; `next()` resolves with the next event's data. The
 *  answer's status and headers, and every event's data, are held against the OpenAPI document. */
export function openEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const events: Array<{ event: string; data: string }> = [];
  const waiting: Array<() => void> = [];
  const opened = fetch(url, { headers, signal: controller.signal }).then(async (res) => {
    if (!res.ok || !res.body) return res;
    // the stream's body is not parsed by the checker: its events are judged one by one in next()
    checkAnswer("GET", url, { status: res.status, headers: res.headers, text: "" });
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
            const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join("\n");
            if (data) events.push({ event, data });
            waiting.splice(0).forEach((wake) => wake());
          }
        }
      } catch {
        // aborted
      }
    })();
    return res;
  });
  let read = 0;
  return {
    opened,
    close: () => controller.abort(),
    /** the next event (after those already read), within ms */
    async next(ms = 10_000): Promise<{ event: string; data: any }> {
      const deadline = Date.now() + ms;
      while (events.length <= read) {
        if (Date.now() > deadline) throw new Error(`no event within ${ms} ms`);
        await new Promise<void>((wake) => {
          waiting.push(wake);
          setTimeout(wake, 100);
        });
      }
      const e = events[read++];
      const data = JSON.parse(e.data);
      checkEvent(e.event, data);
      return { event: e.event, data };
    },
  };
}
