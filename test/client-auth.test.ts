// The Client, the Worker and the presque command against a presque that asks for tokens.
import { execFileSync, spawn } from "node:child_process";
import { resolve } from "node:path";
import t from "tap";
import { newToken } from "../src/server/auth/tokens.js";
import { Client, PresqueError } from "../src/client/client.js";
import { Worker } from "../src/client/worker.js";
import { harness, queueName } from "./helpers.js";

const REPO = resolve(import.meta.dirname, "..");
execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" });
const both = newToken("both");
const h = await harness(t, { auth: { tokens: [{ id: "both", sha256: both.sha256, roles: ["producer", "consumer"] }] } });

t.test("without a token: 401 with the server's message; with one: through", async (t) => {
  const q = queueName();
  const anonymous = new Client({ url: h.url, token: "" });
  const err = await anonymous.push(q, {}).catch((e) => e);
  t.type(err, PresqueError);
  t.equal(err.status, 401);
  t.match(err.message, /bearer token is required/);
  anonymous.close();
  const c = new Client({ url: h.url, token: both.token });
  t.teardown(() => c.close());
  await c.pushBatch(q, [{ n: 1 }, { n: 2 }]);
  const w = new Worker({
    url: h.url,
    client: { token: both.token },
    queues: q,
    wait: 1,
    handleSignals: false,
    register: false,
    handler: () => {},
  });
  await w.start();
  while (w.counts.done < 2) await new Promise((ok) => setTimeout(ok, 20));
  await w.stop();
  t.equal(w.counts.done, 2, "the Worker sends it too");
});

t.test("presque push --token, and PRESQUE_TOKEN", async (t) => {
  const q = queueName();
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; err: string }>((ok) => {
      const child = spawn(process.execPath, ["dist/cli/main.js", ...args], {
        cwd: REPO,
        env: { ...process.env, PRESQUE_URL: h.url, ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      child.once("close", (code) => ok({ code, err }));
    });
  const refused = await run(["push", q, "{}"], { PRESQUE_TOKEN: "" });
  t.equal(refused.code, 1);
  t.match(refused.err, /401 a bearer token is required/);
  t.equal((await run(["push", q, "{}", "--token", both.token], {})).code, 0);
  t.equal((await run(["push", q, "{}"], { PRESQUE_TOKEN: both.token })).code, 0);
});
