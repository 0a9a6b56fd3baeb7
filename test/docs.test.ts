// Every shell example in README.md and docs/*.md, run as written against a real presque: only the
// docs' http://localhost:5000 becomes this server's address (PRESQUE_URL for the presque command),
// and each command's status, body, headers or output must be what the docs show under it (the
// convention is in test/support/shdocs.ts). Each block starts from an empty store.
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import t, { type Test } from "tap";
import { ROUTE_ROLES } from "../src/server/auth/routes.js";
import { DEFAULTS } from "../src/server/config.js";
import { harness, until } from "./helpers.js";
import {
  bodyMismatch,
  headerMismatch,
  isCurl,
  jsPrograms,
  mismatch,
  parsePattern,
  printed,
  shBlocks,
  type Command,
} from "./support/shdocs.js";

const REPO = resolve(import.meta.dirname, "..");
const FILES = [
  "README.md",
  ...readdirSync(join(REPO, "docs"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const blocks = FILES.flatMap((file) => shBlocks(file, readFileSync(join(REPO, file), "utf8")));
const programs = FILES.flatMap((file) => jsPrograms(file, readFileSync(join(REPO, file), "utf8")));

t.test("the convention itself: a wrong status, body or member is caught", async (t) => {
  t.equal(bodyMismatch('{"id":"1"}', '{"id":"1"}'), undefined);
  t.match(bodyMismatch('{"id":"1"}', '{"id":"2"}'), /body.id/);
  t.match(bodyMismatch('{"id":"1"}', '{"id":"1","x":1}'), /x not in the docs/);
  t.equal(bodyMismatch('{"id":"1",...}', '{"id":"1","x":1}'), undefined);
  t.match(bodyMismatch('{"a":1,"b":2}', '{"a":1}'), /body.b: missing/);
  t.equal(bodyMismatch('{"t":<time>,"l":[1,...]}', '{"t":17,"l":[1,2,3]}'), undefined);
  t.match(bodyMismatch('{"l":[1,2]}', '{"l":[1]}'), /1 elements/);
  t.equal(bodyMismatch("<!doctype html>...", "<!doctype html><html>"), undefined);
  t.equal(mismatch(parsePattern('{"s":"a <b> ... c"}'), { s: "a <b> ... c" }), undefined, "placeholders stay literal inside strings");
  t.match(headerMismatch("x-presque-jobid", "1", "2"), /the docs say "1"/);
  const [block] = shBlocks(
    "x.md",
    '```sh\ncurl -i http://localhost:5000/q/a # -> 200 {"a":1} with X-A: 1, X-B: <t>\nnpx presque pop a\n# -> (exit 1)\n```\n',
  );
  t.same(block.commands[0].expect, {
    status: 200,
    body: '{"a":1}',
    headers: [
      ["x-a", "1"],
      ["x-b", "<t>"],
    ],
    exit: 0,
  });
  t.same(block.commands[1].expect, { body: "", headers: [], exit: 1 });
  const shown = printed("console.log(a); // -> { id: '1', ... }\nconsole.log(b); // -> [ 1 ]\n")!;
  t.match("{\n  id: '1',\n  x: 2\n}\n[ 1 ]\n", shown);
  t.notMatch("{ id: '2' }\n[ 1 ]\n", shown);
  t.notMatch("{ id: '1' }\n[ 1 ]\nmore\n", shown, "nothing printed beyond what the docs show");
});

t.test("the docs hold examples, and every one that runs says what it answers", async (t) => {
  const commands = blocks.flatMap((b) => (b.skip ? [] : b.commands.filter((c) => !c.skip)));
  t.ok(commands.filter((c) => isCurl(c.text)).length >= 60, `${commands.length} commands run`);
  for (const b of blocks)
    for (const c of b.commands) if (!b.skip && !c.skip) t.ok(c.expect, `${b.file}:${c.line} says what it answers (# -> ...): ${c.text}`);
  const skipped = blocks.flatMap((b) => (b.skip ? b.commands.map(() => b.skip) : b.commands.filter((c) => c.skip).map((c) => c.skip)));
  t.ok(skipped.length <= 20, `few commands skipped (${skipped.length})`);
});

t.test("the role table of operations.md and the route table of api.md name every route of the roles table", async (t) => {
  const table = (file: string, header: string) => {
    const text = readFileSync(join(REPO, file), "utf8");
    const start = text.indexOf(header);
    t.ok(start >= 0, `${file} has its table (${header})`);
    return text.slice(start, text.indexOf("\n\n", start));
  };
  const roles = table("docs/operations.md", "| role | routes |");
  const routes = table("docs/api.md", "| routes | section |");
  // "/q/" and "/qb/" only answer 400 (an empty queue name): nobody calls them on purpose
  for (const path of Object.keys(ROUTE_ROLES).filter((p) => p !== "/q/" && p !== "/qb/")) {
    const named = new RegExp(`[\` ]${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[\` ?]`);
    t.match(roles, named, `operations.md's role table names ${path}`);
    t.match(routes, named, `api.md's route table names ${path}`);
  }
});

t.test("README's More list links every page of docs/", async (t) => {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const more = readme.slice(readme.indexOf("## More"));
  for (const file of FILES.filter((f) => f.startsWith("docs/"))) t.ok(more.includes(`- [${file}](${file}) — `), `README links ${file}`);
});

t.test("operations.md's configuration table names every config key that has a default", async (t) => {
  const text = readFileSync(join(REPO, "docs/operations.md"), "utf8");
  const start = text.indexOf("| config key | default | what |");
  const table = text.slice(start, text.indexOf("\n\n", start));
  const leaves = (value: object, path: string): string[] =>
    Object.entries(value).flatMap(([k, v]) =>
      v && typeof v === "object" && !Array.isArray(v) ? leaves(v, `${path}${k}.`) : [`${path}${k}`],
    );
  for (const key of leaves(DEFAULTS, "")) t.ok(table.includes(`\`${key}\``), `operations.md's configuration table names ${key}`);
});

execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO, stdio: "inherit" }); // the presque command runs dist/
const h = await harness(t);
const address = new URL(h.url).host;
// curl reads its options from $CURL_HOME/.curlrc: the commands stay as written, and still report
// their status and headers after the body
const scratch = mkdtempSync(join(tmpdir(), "presque-docs-"));
t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
const MARK = "\n@@docs-test ";
writeFileSync(join(scratch, ".curlrc"), `--silent\n--show-error\n--write-out "${MARK.replace("\n", "\\n")}%{http_code} %{header_json}"\n`);
// npm's start-up costs seconds a call on this machine: the docs' `npx presque` runs the checkout's
// command directly (the test below holds that npx itself finds it)
const npx = execFileSync("/bin/sh", ["-c", "command -v npx"], { encoding: "utf8" }).trim();
mkdirSync(join(scratch, "bin"));
writeFileSync(
  join(scratch, "bin", "npx"),
  `#!/bin/sh\nif [ "$1" = presque ]; then shift; exec "${process.execPath}" "${join(REPO, "dist", "cli", "main.js")}" "$@"; fi\nexec "${npx}" "$@"\n`,
  { mode: 0o755 },
);
const env: NodeJS.ProcessEnv = { CURL_HOME: scratch, PRESQUE_URL: h.url, PATH: `${join(scratch, "bin")}:${process.env.PATH}` };
for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PRESQUE_") && k !== "CURL_HOME") env[k] ??= v;

t.test("in a checkout, npx presque is the checkout's own command", async (t) => {
  const out = await sh(`"${npx}" presque pop nothing-here`);
  t.equal(out.code, 1, "exit 1: no job");
  t.equal(out.stderr.trim(), "presque: no job in nothing-here");
});

/** Everything of one block's doing gone: queues, workers, indexes (the layout and the process stay). */
async function emptyStore(): Promise<void> {
  const keep = new Set([`${h.config.redis.prefix}meta`, `${h.config.redis.prefix}processes`, `${h.config.redis.prefix}process`]);
  let cursor = "0";
  do {
    const [next, keys] = await h.redis.scan(cursor, "COUNT", 1000);
    cursor = next;
    const gone = keys.filter((k) => !keep.has(k));
    if (gone.length) await h.redis.unlink(...gone);
  } while (cursor !== "0");
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(command: string): Promise<Outcome> {
  return new Promise((ok) =>
    execFile("/bin/sh", ["-c", command], { cwd: REPO, env, timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

function check(t: Test, where: string, c: Command, out: Outcome): void {
  const e = c.expect!;
  if (!isCurl(c.text)) {
    t.equal(out.code, e.exit, `${where}: exit status`);
    // the presque command prints its results on stdout, and a message alone on stderr
    const m = bodyMismatch(e.body, out.stdout.trim() ? out.stdout : out.stderr);
    t.ok(!m, `${where}: output ${m ?? ""}`, { stdout: out.stdout.slice(0, 2000), stderr: out.stderr.slice(0, 2000) });
    return;
  }
  t.equal(out.code, 0, `${where}: curl exits 0 ${out.stderr}`);
  const mark = out.stdout.lastIndexOf(MARK);
  const [status, ...headerJson] = out.stdout.slice(mark + MARK.length).split(" ");
  let body = out.stdout.slice(0, mark);
  if (body.startsWith("HTTP/")) body = body.slice(body.indexOf("\r\n\r\n") + 4); // curl -i
  t.equal(Number(status), e.status, `${where}: status`, { body });
  const m = bodyMismatch(e.body, body);
  t.ok(!m, `${where}: body ${m ?? ""}`, { body: body.slice(0, 2000) });
  const headers = JSON.parse(headerJson.join(" ") || "{}") as Record<string, string[]>;
  for (const [name, value] of e.headers) {
    const hm = headerMismatch(name, value, headers[name]?.join(", "));
    t.ok(!hm, `${where}: ${hm ?? `header ${name}`}`);
  }
}

for (const block of blocks) {
  const where = `${block.file}:${block.line}`;
  if (block.skip) {
    t.test(where, { skip: block.skip }, async () => {});
    continue;
  }
  t.test(where, async (t) => {
    await emptyStore();
    for (const c of block.commands) {
      const at = `${block.file}:${c.line}`;
      if (c.skip || !c.expect) {
        t.comment(`${at}: not run (${c.skip ?? "no expectation"}): ${c.text}`);
        continue;
      }
      const command = c.text.replaceAll(/(localhost|127\.0\.0\.1):5000/g, address);
      check(t, `${at} ${c.text}`, c, await sh(command));
    }
  });
}

// The JavaScript snippets: each a file of its own beside a node_modules/presque that is this
// checkout, run with node from an empty store. A Worker gets a job to do, then SIGINT (Ctrl-C).
const app = join(scratch, "app");
mkdirSync(join(app, "node_modules"), { recursive: true });
symlinkSync(REPO, join(app, "node_modules", "presque"));
for (const program of programs) {
  t.test(`${program.file}:${program.line}: node snippet.mjs`, async (t) => {
    await emptyStore();
    const file = join(app, `snippet-${program.line}.mjs`);
    writeFileSync(file, program.code.replaceAll(/(localhost|127\.0\.0\.1):5000/g, address));
    const worker = /\bworker\.start\(\)/.test(program.code);
    if (worker) await h.http("POST", "/q/mail", { body: { to: "docs@example.com" } });
    const child = spawn(process.execPath, [file], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
    t.teardown(() => void child.kill("SIGKILL"));
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    const exited = new Promise<number | null>((ok) => child.once("exit", (code) => ok(code)));
    if (worker) {
      await until("the worker did its job", async () => (await h.http("GET", "/j/mail")).json.job_processed === 1, 30_000);
      child.kill("SIGINT");
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await exited;
    clearTimeout(timer);
    t.equal(code, 0, "exits 0");
    t.equal(err, "", "nothing on stderr");
    const shown = printed(program.code);
    if (shown) t.match(out, shown, "prints what its // -> comments show");
    if (worker) t.match(out, /docs@example\.com/, "did the job");
    const stats = (await h.http("GET", "/stats/")).json as { queues: { queue_name: string; job_leased: number }[] };
    t.same(
      stats.queues.filter((q) => q.job_leased),
      [],
      "leaves no job leased",
    );
    t.same((await h.http("GET", "/w/")).json, [], "no worker left registered");
  });
}
