// one-off: /metrics at 10,000 queues, each with a job pushed, leased and acked (so every series exists)
import { startServer, DEFAULTS } from "/work/main/dist/index.js";
import { createLogger } from "/work/main/dist/shared/log.js";
import { Redis } from "ioredis";
const port = 6412;
const config = structuredClone(DEFAULTS); config.server.port = 0; config.redis.url = `redis://127.0.0.1:${port}/0`; config.log.level = "silent";
const s = await startServer(config, createLogger("silent"));
const N = Number(process.argv[2] ?? 10000);
const post = (path, body) => fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
for (let i = 0; i < N; i += 200) {
  await Promise.all(Array.from({ length: Math.min(200, N - i) }, async (_, j) => {
    const q = `q${i + j}`;
    await post(`/qb/${q}`, { jobs: [{ a: 1 }, { b: 2 }] });
    const got = await fetch(`${s.url}/qb/${q}?batch_size=1&lease=30`);
    await got.text();
    const id = got.headers.get("x-presque-jobids")?.split(",")[0];
    if (id) await post(`/qb/${q}/ack`, { jobs: [{ id, attempt: 1 }] });
  }));
}
for (let k = 0; k < 3; k++) {
  const t0 = performance.now();
  const r = await fetch(`${s.url}/metrics`);
  const text = await r.text();
  console.log(`scrape ${k}: ${(performance.now() - t0).toFixed(0)} ms, ${(text.length / 1e6).toFixed(1)} MB, ${text.split("\n").length} lines, status ${r.status}`);
}
const t0 = performance.now(); await (await fetch(`${s.url}/metrics?queue=q1*`)).text(); console.log(`narrowed q1*: ${(performance.now() - t0).toFixed(0)} ms`);
await s.close();
