// A streaming presque worker in plain Node, speaking the protocol of docs/streaming.md with the ws
// package (the Worker class does all of this for you: transport "stream" is its default).
//   PRESQUE_URL=http://127.0.0.1:5000 node examples/node/stream_worker.mjs <queue>
// Ctrl-C or SIGTERM stops taking jobs, waits for the acknowledgements to be answered, and closes:
// the server hands back whatever the socket still held.
import { hostname } from "node:os";
import { WebSocket } from "ws";

const url = (process.env.PRESQUE_URL ?? "http://127.0.0.1:5000").replace(/\/+$/, "");
const queue = process.argv[2] ?? "default";
const headers = { "x-presque-workerid": `${hostname()}:${process.pid}:node-stream` };
if (process.env.PRESQUE_TOKEN) headers.authorization = `Bearer ${process.env.PRESQUE_TOKEN}`;
const CREDIT = 50;

/** The job itself: replace with yours. A thrown error fails the job (it is retried later). */
function work(id, data) {
  if (data.fail) throw new Error("asked to fail");
  console.log(`done ${id}`);
}

const register = (method) => fetch(`${url}/w/${encodeURIComponent(queue)}`, { method, headers });
await register("POST");

const ws = new WebSocket(`${url.replace(/^http/, "ws")}/c/${encodeURIComponent(queue)}?lease=30`, { headers });
const unanswered = new Set(); // refs of acks and fails sent, not yet answered
let ref = 0;
let stopping = false;
let cancelled = false;
const ask = (message) => {
  unanswered.add(++ref);
  ws.send(JSON.stringify({ ...message, ref }));
};

ws.on("open", () => ws.send(JSON.stringify({ credit: CREDIT })));
ws.on("message", (raw) => {
  const message = JSON.parse(raw.toString());
  if (message.ref === "stop") cancelled = true;
  else if (message.ref !== undefined) {
    unanswered.delete(message.ref);
    for (const r of [...(message.ack ?? []), ...(message.fail ?? [])]) if (r.status >= 300) console.error("refused", r);
  } else if (message.jobs && !stopping) {
    // (jobs that arrive once stopping began are not worked: the server hands them back at close)
    const acks = [];
    const fails = [];
    for (const job of message.jobs) {
      try {
        work(job.id, job.data);
        acks.push({ id: job.id, attempt: job.attempt });
      } catch (err) {
        fails.push({ id: job.id, attempt: job.attempt, error: String(err?.message ?? err) });
      }
    }
    if (acks.length) ask({ ack: acks });
    if (fails.length) ask({ fail: fails });
    ws.send(JSON.stringify({ credit: message.jobs.length }));
  }
  if (stopping && cancelled && unanswered.size === 0) ws.close(1000, "done");
});
ws.on("close", async () => {
  await register("DELETE");
  process.exit(0);
});

/** No more jobs ({"cancel": true}); once it and every acknowledgement are answered, close. */
function stop() {
  if (stopping) return;
  stopping = true;
  ws.send(JSON.stringify({ cancel: true, ref: "stop" }));
  setTimeout(() => ws.terminate(), 5000).unref();
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
