// The examples in examples/ run against a real server: every job done, acknowledged once, counted.
import { execFileSync, spawn } from "node:child_process";
import { resolve } from "node:path";
import t from "tap";
import { Client } from "../src/client/client.js";
import { harness, queueName, sleep } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "..");
execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
const h = await harness(t);
const c = new Client(h.url);
t.teardown(() => c.close());

/** A python3 that has the websockets package (Debian's python3-websockets), if any. */
const streamingPython = ["python3", "/usr/bin/python3"].find((python) => {
  try {
    execFileSync(python, ["-c", "import websockets"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

const EXAMPLES: [string, string[], number][] = [
  ["python", ["python3", "examples/python/worker.py"], 300],
  ["python-stream", [streamingPython ?? "python3", "examples/python/stream_worker.py"], 300],
  ["shell", ["sh", "examples/shell/worker.sh"], 200],
  ["node", [process.execPath, "--import", "tsx", "examples/node/worker.ts"], 300],
  ["node-stream", [process.execPath, "examples/node/stream_worker.mjs"], 300],
];

const EXPECTED_ERROR: Record<string, string> = {
  python: "asked to fail",
  "python-stream": "asked to fail",
  shell: "work failed",
  node: "asked to fail",
  "node-stream": "asked to fail",
};
const FAILING = 3;

for (const [name, command, count] of EXAMPLES) {
  const skip = name === "python-stream" && !streamingPython && "no python3 with websockets (apt-get install python3-websockets)";
  t.test(
    `examples/${name}: ${count} jobs, ${FAILING} of them failing; SIGTERM in a long poll stops it within seconds`,
    { skip },
    async (t) => {
      const q = queueName(name);
      // a long retry: the failed jobs stay delayed while the test looks
      await c.configure(q, { backoff_base: 3600 });
      const ids = await c.pushBatch(
        q,
        Array.from({ length: count }, (_, n) => ({ n })),
      );
      const failing = await c.pushBatch(
        q,
        Array.from({ length: FAILING }, () => ({ fail: true })),
      );
      const child = spawn(command[0], [...command.slice(1), q], {
        cwd: REPO,
        // a long poll as long as the examples' default: stopping must not wait for it to end
        env: { ...process.env, PRESQUE_URL: h.url, WAIT: "20" },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
      t.teardown(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // gone
        }
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
      const deadline = Date.now() + 60_000;
      for (;;) {
        const s = await c.queueStats(q);
        if (s.job_count === 0 && s.job_leased === 0) break;
        if (Date.now() > deadline) throw new Error(`${name}: not drained: ${JSON.stringify(s)}\n${err}`);
        await sleep(50);
      }
      const registered = (await c.queueWorkers(q)).workers_list;
      t.equal(registered.length, 1, `registered as ${registered[0]}`);
      await sleep(500); // in its next long poll by now, which would last 20 s
      const signalled = Date.now();
      process.kill(child.pid!, "SIGTERM");
      t.equal(await exited, 0, `exits 0 on SIGTERM ${err}`);
      const stopMs = Date.now() - signalled;
      // loosely: the long poll is 20 s; stopping takes well under a second on an idle machine
      t.ok(stopMs < 5000, `stopped ${stopMs} ms after SIGTERM, not at the end of its long poll`);
      const done = out
        .trim()
        .split("\n")
        .map((l) => l.replace(/^done /, ""));
      t.equal(done.length, count, "one line per job done");
      t.same([...new Set(done)].sort(), [...ids].sort(), "every job done once");
      t.match(
        await c.queueStats(q),
        { job_processed: count, job_failed: FAILING, job_delayed: FAILING, job_dead: 0 },
        "acknowledged, failures reported, counted",
      );
      for (const id of failing) {
        t.match(
          await c.job(q, id),
          { state: "delayed", attempts: 1, last_error: EXPECTED_ERROR[name] },
          `job ${id}: failed with its error`,
        );
      }
      t.same((await c.queueWorkers(q)).workers_list, [], "unregistered");
    },
  );
}
