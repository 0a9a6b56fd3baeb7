// A streaming consumer for tests (docs/streaming.md): a ws client that keeps every message it is
// sent, and waits for the ones a test expects.
import { WebSocket } from "ws";

export interface StreamedJob {
  queue: string;
  id: string;
  attempt: number;
  lease_expires: number;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface Consumer {
  ws: WebSocket;
  jobs: StreamedJob[];
  messages: any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** sends a message with a ref and resolves with the answer that carries it */
  ask(message: Record<string, unknown>): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** resolves once `n` jobs have arrived in all */
  waitJobs(n: number, ms?: number): Promise<StreamedJob[]>;
  close(): void;
}

let refs = 0;

/** Opens GET /c/<path> as a WebSocket; resolves once the server's hello has come (or rejects with
 *  the HTTP status of a refused upgrade). */
export function connect(base: string, path: string, headers: Record<string, string> = {}): Promise<Consumer> {
  const ws = new WebSocket(base.replace(/^http/, "ws") + path, { headers });
  const jobs: StreamedJob[] = [];
  const messages: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const waiters = new Set<() => void>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString());
    messages.push(m);
    if (m.jobs) jobs.push(...m.jobs);
    for (const w of [...waiters]) w();
  });
  const until = <T>(check: () => T | undefined, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const test = () => {
        const v = check();
        if (v === undefined) return;
        clearTimeout(timer);
        waiters.delete(test);
        resolve(v);
      };
      const timer = setTimeout(() => {
        waiters.delete(test);
        reject(new Error(`timed out waiting for ${what} (have ${jobs.length} jobs, ${messages.length} messages)`));
      }, ms);
      waiters.add(test);
      test();
    });
  const consumer: Consumer = {
    ws,
    jobs,
    messages,
    closed,
    send: (m) => ws.send(JSON.stringify(m)),
    ask: (m) => {
      const ref = ++refs;
      ws.send(JSON.stringify({ ...m, ref }));
      return until(() => messages.find((x) => x.ref === ref), 10_000, `the answer to ${JSON.stringify(m).slice(0, 60)}`);
    },
    waitJobs: (n, ms = 10_000) => until(() => (jobs.length >= n ? jobs.slice(0, n) : undefined), ms, `${n} jobs`),
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
    });
    ws.once("error", reject);
    until(() => messages.find((m) => m.hello), 10_000, "hello").then(() => resolve(consumer), reject);
  });
}
