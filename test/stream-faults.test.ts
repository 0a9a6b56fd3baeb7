// Streaming consumers that fail: killed with SIGKILL, cut off mid-frame, never reading, silent to
// pings; the server shutting down under them; a thousand idle ones. No job is lost, and those in
// hand come back at once.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect as tcpConnect, type Socket } from "node:net";
import t from "tap";
import { Client } from "../src/client/client.js";
import { createLogger } from "../src/shared/log.js";
import { startServer } from "../src/server/start.js";
import { harness, ON_CLUSTER, queueName, sleep, until } from "./helpers.js";
import { connect, type Consumer } from "./support/stream.js";

const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

/** A client frame as RFC 6455 has it (masked), written by hand so that a test can cut it short. */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, masked]);
}

/** A consumer on a bare TCP socket: the upgrade by hand, then whatever the test does with it. */
async function rawConsumer(base: string, path: string): Promise<Socket> {
  const { hostname, port } = new URL(base);
  const socket = tcpConnect(Number(port), hostname);
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve) => {
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) {
        socket.off("data", onData);
        resolve(got);
      }
    };
    socket.on("data", onData);
  });
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`not upgraded: ${head}`);
  return socket;
}

const push = (q: string, n: number, data: (i: number) => object = (i) => ({ n: i })) =>
  c.pushBatch(
    q,
    Array.from({ length: n }, (_, i) => data(i)),
  );

t.test("kill -9 of a consumer process with jobs in hand: every one is ready again at once", async (t) => {
  const q = queueName();
  const ids = await push(q, 10);
  const script = `
    import { WebSocket } from "ws";
    const ws = new WebSocket(process.env.URL);
    let n = 0;
    ws.on("open", () => ws.send('{"credit":8}'));
    ws.on("message", (d) => { const m = JSON.parse(d); if (m.jobs) { n += m.jobs.length; if (n === 8) console.log("holding 8"); } });
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, URL: `${h.url.replace("http", "ws")}/c/${q}?lease=600` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.teardown(() => void child.kill("SIGKILL"));
  await new Promise<void>((resolve) => child.stdout!.on("data", (d) => String(d).includes("holding 8") && resolve()));
  t.match(await c.queueStats(q), { job_leased: 8, job_count: 2 });
  child.kill("SIGKILL");
  const took = await until("handed back", async () => (await c.queueStats(q)).job_leased === 0, 5000);
  t.ok(took < 5000, `ready again after ${took} ms, not after the 600 s lease`);
  const s = await connect(h.url, `/c/${q}`);
  s.send({ credit: 20 });
  const jobs = await s.waitJobs(10);
  t.same(jobs.map((j) => j.id).sort(), [...ids].sort(), "none lost");
  t.equal(jobs.filter((j) => j.attempt === 2).length, 8, "the eight it held: second attempt");
  s.ws.terminate();
});

t.test("the network cut mid-frame: the socket's jobs are handed back, the server serves on", async (t) => {
  const q = queueName();
  await push(q, 5);
  const socket = await rawConsumer(h.url, `/c/${q}?lease=600`);
  socket.write(frame('{"credit":5}'));
  await until("leased", async () => (await c.queueStats(q)).job_leased === 5);
  const ack = frame('{"ack":[{"id":"1","attempt":1},{"id":"2","attempt":1}]}');
  socket.write(ack.subarray(0, ack.length >> 1));
  await sleep(50);
  socket.destroy();
  await until("handed back", async () => (await c.queueStats(q)).job_leased === 0, 5000);
  t.match(await c.queueStats(q), { job_count: 5, job_processed: 0 }, "the half-sent ack did not count");
  const s = await connect(h.url, `/c/${q}`);
  s.send({ credit: 5 });
  t.equal((await s.waitJobs(5)).length, 5, "served to the next consumer");
  s.ws.terminate();
});

t.test("a consumer that never reads: the server stops sending past its buffer bound; others get the rest", async (t) => {
  const q = queueName();
  const total = 1200;
  const pad = "x".repeat(16 * 1024);
  for (let i = 0; i < total; i += 50) await push(q, 50, (n) => ({ n: i + n, pad }));
  const socket = await rawConsumer(h.url, `/c/${q}?lease=600`);
  socket.pause(); // never reads a byte of what it is sent
  socket.write(frame('{"credit":10000}'));
  await until("sending stopped", async () => {
    const before = (await c.queueStats(q)).job_leased;
    await sleep(300);
    return before > 0 && (await c.queueStats(q)).job_leased === before;
  });
  const held = (await c.queueStats(q)).job_leased;
  t.ok(held < total, `${held} of ${total} jobs (16 KB each) went to it before it was held back`);
  t.ok(held * 16 < 64 * 1024, `about ${held * 16} KB in flight: bounded by the socket buffers and the server's 1 MB, not the credit`);
  const other = await connect(h.url, `/c/${q}`);
  other.send({ credit: total });
  await other.waitJobs(total - held, 20_000);
  t.pass(`a reading consumer got the other ${total - held}`);
  socket.destroy();
  await other.waitJobs(total, 10_000);
  t.pass("what it was sent and never read was handed back, to the reading one");
  other.ws.terminate();
});

t.test("pings: a consumer that stops answering is closed and its jobs handed back", async (t) => {
  const presque = await startServer(h.config, createLogger("silent"), { stream: { pingMs: 150 } });
  t.teardown(() => presque.close());
  const q = queueName();
  await push(q, 3);
  const socket = await rawConsumer(presque.url, `/c/${q}?lease=600`);
  socket.write(frame('{"credit":3}'));
  await until("leased", async () => (await c.queueStats(q)).job_leased === 3);
  socket.pause(); // its pongs never come: it reads no pings
  const took = await until("handed back", async () => (await c.queueStats(q)).job_leased === 0, 5000);
  t.ok(took < 5000, `closed and handed back after ${took} ms (pings every 150 ms)`);
  t.match(await c.queueStats(q), { job_count: 3 });
  socket.destroy();
});

t.test("shutdown: no more jobs, acks waited for, the rest handed back, close 1001", async (t) => {
  const presque = await startServer(h.config, createLogger("silent"), { stream: { stopTimeoutMs: 400 } });
  const q = queueName();
  const ids = await push(q, 6);
  const s = await connect(presque.url, `/c/${q}?lease=600`);
  s.send({ credit: 3 });
  const jobs = await s.waitJobs(3);
  const closing = presque.close();
  await sleep(100);
  const acked = await s.ask({ ack: [{ id: jobs[0].id, attempt: 1 }] });
  t.equal(acked.ack[0].status, 204, "acks still answered while the server waits");
  s.send({ credit: 3 });
  const closed = await s.closed;
  await closing;
  t.equal(closed.code, 1001);
  t.match(closed.reason, /shutting down/);
  t.equal(s.jobs.length, 3, "nothing sent after the stop began");
  t.match(await c.queueStats(q), { job_leased: 0, job_count: 5, job_processed: 1 });
  t.match(await c.job(q, jobs[1].id), { state: "ready", attempts: 1, last_error: /server stopped/ });
  t.equal(ids.length, 6);
});

t.test(
  "idle consumers cost Redis nothing per socket: 1,000 sockets on 100 queues",
  { skip: ON_CLUSTER && "INFO of one node" },
  async (t) => {
    const queues = Array.from({ length: 100 }, (_, i) => queueName(`idle${i}`));
    const sockets: Consumer[] = [];
    t.teardown(() => sockets.forEach((s) => s.ws.terminate()));
    const open = async (perQueue: number) => {
      for (let k = 0; k < perQueue; k++) {
        const batch = await Promise.all(queues.map((q) => connect(h.url, `/c/${q}`)));
        for (const s of batch) s.send({ credit: 10 });
        sockets.push(...batch);
      }
      await sleep(1500); // subscriptions and first pops done
    };
    const calls = async () => {
      const info = await h.redis.info("commandstats");
      return [...info.matchAll(/calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const idleFor = async (ms: number) => {
      const before = await calls();
      const cpu = process.cpuUsage();
      await sleep(ms);
      const used = process.cpuUsage(cpu);
      return { commands: (await calls()) - before - 1, cpu: (used.user + used.system) / 1000 / ms };
    };
    await open(1);
    const few = await idleFor(3000);
    await open(9);
    t.equal(sockets.length, 1000);
    const many = await idleFor(3000);
    t.comment(`100 sockets: ${few.commands} Redis commands in 3 s, ${(few.cpu * 100).toFixed(1)} % of a core (this process)`);
    t.comment(`1000 sockets: ${many.commands} Redis commands in 3 s, ${(many.cpu * 100).toFixed(1)} % of a core (this process)`);
    t.ok(many.commands <= few.commands * 1.5 + 30, "ten times the sockets, not ten times the commands");
  },
);
