// The package as a user gets it: npm pack, npm install <tarball> into an empty directory, then
// npx presque serve and import { Client, Worker, startPresque } from "presque", types included.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { freePort } from "./helpers.js";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "presque-package-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const quiet = ["--no-audit", "--no-fund", "--loglevel=error"];

const packed = await run("npm", ["pack", "--pack-destination", dir, ...quiet], { cwd: REPO, maxBuffer: 16 << 20 });
const tarball = join(dir, packed.stdout.trim().split("\n").pop()!);
const app = join(dir, "app");
writeFileSync(join(dir, "package.json"), "{}"); // keeps npm from looking further up
await run("mkdir", ["-p", app]);
writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
// warnings shown: a newcomer sees them
const installed = await run("npm", ["install", tarball, "--no-audit", "--no-fund", "--loglevel=warn"], { cwd: app, maxBuffer: 16 << 20 });

t.test("installing the tarball warns about nothing (no install script of presque's for npm to flag)", async (t) => {
  t.equal(installed.stderr.trim(), "", "npm install printed no warning");
  const manifest = JSON.parse(readFileSync(join(app, "node_modules", "presque", "package.json"), "utf8"));
  for (const script of ["preinstall", "install", "postinstall", "prepare"]) t.notOk(manifest.scripts?.[script], `no ${script} script`);
});

t.test("npm ci in the checkout: every dependency's install script approved or denied (package.json allowScripts)", async (t) => {
  const listed = await run("npm", ["install-scripts", "ls"], { cwd: REPO });
  t.match(listed.stdout, "No packages with unreviewed install scripts");
});

t.test("the install holds compiled JavaScript and types, and nothing of the build", async (t) => {
  const pkg = join(app, "node_modules", "presque");
  const dist = readdirSync(join(pkg, "dist"), { recursive: true, encoding: "utf8" });
  for (const f of [
    "index.js",
    "index.d.ts",
    "client/client.d.ts",
    "client/worker.d.ts",
    "kit.d.ts",
    "cli/main.js",
    "server/openapi/document.js",
  ])
    t.ok(dist.includes(f), f);
  const modules = readdirSync(join(app, "node_modules"));
  for (const absent of ["esbuild", "tsx", "typescript", "redis-memory-server", "tap"]) t.notOk(modules.includes(absent), `no ${absent}`);
});

t.test("import { Client, Worker, startPresque } from 'presque': runs, and type-checks", async (t) => {
  const program = `import { Client, Worker, startPresque, type Job } from "presque";
const presque = await startPresque();
await presque.client.pushBatch("mail", [{ to: "a" }, { to: "b" }]);
const done: string[] = [];
const worker = new Worker<{ to: string }>({ url: presque.url, queues: ["mail"], handleSignals: false, wait: 1,
  handler: async (job: Job<{ to: string }>) => { done.push(job.data.to); } });
await worker.start();
while (done.length < 2) await new Promise((ok) => setTimeout(ok, 10));
await worker.stop();
const figures = await new Client(presque.url).queueStats("mail");
await presque.close();
console.log(JSON.stringify({ done: done.sort(), processed: figures.job_processed }));
`;
  writeFileSync(join(app, "check.ts"), program);
  writeFileSync(
    join(app, "check.mjs"),
    program
      .replace(", type Job", "")
      .replace(/: Job<\{ to: string \}>/, "")
      .replace("new Worker<{ to: string }>", "new Worker")
      .replace("const done: string[]", "const done"),
  );
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  const types = join(REPO, "node_modules", "@types");
  const checked = await run(
    process.execPath,
    [
      tsc,
      "--noEmit",
      "--strict",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--target",
      "es2022",
      "--typeRoots",
      types,
      "--types",
      "node",
      "check.ts",
    ],
    { cwd: app },
  ).catch((e) => e);
  t.equal(checked.code ?? 0, 0, `tsc: ${checked.stdout ?? ""}`);
  const { stdout } = await run(process.execPath, ["check.mjs"], { cwd: app });
  t.same(JSON.parse(stdout), { done: ["a", "b"], processed: 2 });
});

t.test("npx presque serve --ephemeral serves, and stops on SIGTERM", async (t) => {
  const port = await freePort();
  const child = spawn("npx", ["--no-install", "presque", "serve", "--ephemeral", "--port", String(port)], {
    cwd: app,
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
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  // every process of the group (npx, sh, node, redis-server) holds stderr: closed when all are gone
  const gone = new Promise((ok) => child.stderr.once("close", ok));
  let status: unknown;
  for (let i = 0; i < 200 && status === undefined; i++) {
    status = await fetch(`http://127.0.0.1:${port}/status/`).then(
      (r) => r.json(),
      () => undefined,
    );
    if (status === undefined) await new Promise((ok) => setTimeout(ok, 50));
  }
  t.same(status, { queues: [], size: 0 }, out);
  const api = await fetch(`http://127.0.0.1:${port}/openapi.json`).then((r) => r.json());
  t.equal(api.openapi, "3.1.0", "the installed server serves its OpenAPI document");
  t.ok(api.paths["/q/{queue}"]?.post, "with the routes in it");
  const scratch = /"url":"redis:\/\/127\.0\.0\.1:(\d+)/.exec(out);
  process.kill(-child.pid!, "SIGTERM");
  await gone;
  t.match(out, /throwaway redis-server started/);
  t.ok(scratch, "it said which redis-server it started");
});
