// A streaming consumer's socket (GET /c/:queue, docs/streaming.md): credit out, leased jobs in,
// acknowledgements and failures answered per job. The Worker's "stream" transport.
import { WebSocket } from "ws";
import { ConnectionError, PresqueError, type BatchOutcome, type FailRef, type Job, type JobRef } from "./client.js";

/** The server answered the upgrade with plain HTTP (an older presque: 404; a refusal: 401, 403, 400). */
export class StreamRefused extends PresqueError {}

interface Asked {
  resolve(answer: unknown): void;
  reject(err: Error): void;
}

export interface StreamOpenOptions {
  /** the Client's base URL (http: or https:) */
  url: string;
  queues: string[];
  lease: number;
  headers: Record<string, string>;
  /** ms the upgrade may take */
  timeout?: number;
}

export class JobStream {
  private refs = 0;
  private readonly asked = new Map<number, Asked>();
  /** jobs as they come, in delivery order per queue */
  onJobs: (jobs: Job[]) => void = () => {};
  /** the socket closed (by either side); every unanswered call has failed with a ConnectionError */
  onClose: (code: number, reason: string) => void = () => {};

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => this.received(data.toString()));
    ws.on("close", (code, reason) => {
      const err = new ConnectionError(`the stream closed (${code} ${reason.toString()})`, ws.url, "ECONNRESET");
      for (const a of this.asked.values()) a.reject(err);
      this.asked.clear();
      this.onClose(code, reason.toString());
    });
    ws.on("error", () => {}); // 'close' follows
  }

  /** Opens the socket; resolves once the server's hello says the subscriptions are in place. */
  static open(opts: StreamOpenOptions): Promise<JobStream> {
    const [first, ...more] = opts.queues;
    const path = `/c/${encodeURIComponent(first)}?lease=${opts.lease}${more.length ? `&queues=${more.map(encodeURIComponent).join(",")}` : ""}`;
    const url = opts.url.replace(/^http/, "ws") + path;
    const ws = new WebSocket(url, { headers: opts.headers, handshakeTimeout: opts.timeout ?? 30_000, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let error = `HTTP ${res.statusCode}`;
          try {
            error = JSON.parse(Buffer.concat(chunks).toString("utf8")).error ?? error;
          } catch {
            // not presque's JSON: the status says enough
          }
          reject(new StreamRefused(res.statusCode ?? 0, error, "GET", path));
          ws.terminate();
        });
      });
      ws.once("error", (err: Error & { code?: string }) => reject(new ConnectionError(err.message, url, err.code ?? "ECONNREFUSED")));
      ws.once("close", () => reject(new ConnectionError("the stream closed before it opened", url, "ECONNRESET")));
      ws.once("message", (data) => {
        const hello = JSON.parse(data.toString()) as { hello?: unknown };
        if (!hello.hello) return reject(new ConnectionError("the stream did not say hello", url, "EPROTO"));
        ws.removeAllListeners("error");
        ws.removeAllListeners("close");
        resolve(new JobStream(ws));
      });
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Asks for `n` more jobs. */
  credit(n: number): void {
    if (n > 0 && this.open) this.ws.send(`{"credit":${n}}`);
  }

  ack(queue: string, jobs: JobRef[]): Promise<BatchOutcome[]> {
    return this.ask(
      "ack",
      jobs.map((j) => ({ queue, id: j.id, ...(j.attempt && { attempt: j.attempt }) })),
    );
  }

  fail(queue: string, jobs: FailRef[]): Promise<BatchOutcome[]> {
    const entries = jobs.map((j) => ({
      queue,
      id: j.id,
      ...(j.attempt && { attempt: j.attempt }),
      ...(j.error !== undefined && { error: j.error }),
      ...(j.retryIn !== undefined && { retry_in: j.retryIn }),
    }));
    return this.ask("fail", entries);
  }

  /** No more jobs: the unspent credit is dropped; resolves once no job can follow (acks go on). */
  async cancel(): Promise<void> {
    if (this.open) await this.ask("cancel", true as never);
  }

  /** Closes the socket; the server hands back whatever this consumer still holds. */
  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, "done");
  }

  private ask<T>(type: string, entries: unknown): Promise<T> {
    if (!this.open) return Promise.reject(new ConnectionError("the stream is closed", this.ws.url, "ECONNRESET"));
    const ref = ++this.refs;
    return new Promise<T>((resolve, reject) => {
      this.asked.set(ref, { resolve: resolve as (a: unknown) => void, reject });
      this.ws.send(JSON.stringify({ [type]: entries, ref }));
    });
  }

  private received(text: string): void {
    const m = JSON.parse(text) as Record<string, unknown>;
    if (Array.isArray(m.jobs)) {
      const jobs = (m.jobs as Array<{ queue: string; id: string; attempt: number; lease_expires: number; data: unknown }>).map(
        (j): Job => ({ id: j.id, queue: j.queue, attempt: j.attempt, leaseExpiresAt: j.lease_expires, data: j.data }),
      );
      this.onJobs(jobs);
      return;
    }
    if (typeof m.ref !== "number") return;
    const asked = this.asked.get(m.ref);
    if (!asked) return;
    this.asked.delete(m.ref);
    if (typeof m.status === "number") asked.reject(new PresqueError(m.status, String(m.error), "WS", String(m.for)));
    else asked.resolve(Object.entries(m).find(([k]) => k !== "ref")?.[1]);
  }
}
