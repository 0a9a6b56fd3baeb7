// startPresque(): a server with its own throwaway redis-server, gone without a trace on close().
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import t from "tap";
import { startPresque } from "../src/kit.js";

const scratch = () => new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("presque-redis-")));
/** the redis-server processes that are children of this test */
const ownRedis = () => {
  try {
    return execFileSync("pgrep", ["-P", String(process.pid), "redis-server"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean);
  } catch {
    return [];
  }
};

t.test("url and client work; 20 start/close cycles leave no process and no file", async (t) => {
  const before = scratch();
  const pids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const presque = await startPresque();
    const running = ownRedis();
    t.equal(running.length, 1, `cycle ${i}: one redis-server of its own`);
    pids.push(...running);
    const id = await presque.client.push("kit", { i });
    t.same((await presque.client.fetch("kit"))?.data, { i });
    t.match(id, /^\d+$/);
    if (i === 0) t.equal((await (await fetch(`${presque.url}/status/`)).json()).size, 1, "url answers");
    await presque.close();
    await presque.close(); // twice is fine
  }
  t.same(ownRedis(), [], "no redis-server left");
  t.equal(new Set(pids).size, 20, "a new one each time");
  for (const pid of pids) t.notOk(existsSync(`/proc/${pid}`), `redis-server ${pid} is gone`);
  t.same(
    [...scratch()].filter((f) => !before.has(f)),
    [],
    "no scratch directory left",
  );
});

t.test("no redis-server: a clear error", async (t) => {
  await t.rejects(startPresque({ redisServer: "/nonexistent/redis-server" }), /cannot run redis-server \(\/nonexistent\/redis-server\)/);
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  t.teardown(() => void (process.env.PATH = path));
  const saved = process.env.PRESQUE_REDIS_SERVER;
  delete process.env.PRESQUE_REDIS_SERVER;
  t.teardown(() => void (saved !== undefined && (process.env.PRESQUE_REDIS_SERVER = saved)));
  await t.rejects(startPresque(), /redis-server was not found on PATH/);
});
