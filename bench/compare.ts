// npm run bench:compare -- <dirA> <dirB> [...]: two or more presque checkouts under the same load,
// one redis-server, all servers up at once. See bench/README.md, "Comparing two versions".
//
// Throughput on this machine drifts by a fifth over minutes, so one long run per tree would
// compare the drift, not the trees: the trees take turns in many short rounds, the starting tree
// rotates, and the summary gives medians and medians of each round's own ratio to the first tree.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cpuTimes } from "./cpu.js";
import { countInstructions, fillFor, haveCallgrind, WARMUP_REQUESTS } from "./instructions.js";
import { cannon, type CannonSpec } from "./load.js";
import { killAll, ROOT, startPresque, startRedis, type Child } from "./procs.js";
import { closeFill, fill, JOB, JSON_HEADERS } from "./queue.js";
import { median as medianOf } from "./report.js";

const USAGE = `Usage: npm run bench:compare -- <dirA> <dirB> [...] [options]
  each dir a presque checkout with its own node_modules (npm ci, or a symlink)
  --route post|get|both  POST /q, GET /q or both (default both)
  --rounds <n>           rounds; each runs every route on every tree (default 5)
  --duration <s>         seconds per measured run (default 4)
  --warmup <s>           seconds of warm-up before each measured run (default 1)
  --connections <n>      autocannon connections (default 50)
  --instructions         count instructions per request under valgrind's callgrind instead
                         (bench/instructions.ts): a fresh presque per run, --requests counted
  --requests <n>         requests counted per run with --instructions (default 10000)
presque --workers is not supported: the CPU figures read the one presque process.
`;
function args() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        route: { type: "string", default: "both" },
        rounds: { type: "string", default: "5" },
        duration: { type: "string", default: "4" },
        warmup: { type: "string", default: "1" },
        connections: { type: "string", default: "50" },
        instructions: { type: "boolean", default: false },
        requests: { type: "string", default: "10000" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`); // an unknown option, --workers among them
    process.exit(2);
  }
}
const { values: flags, positionals: dirs } = args();
const ROUNDS = Number(flags.rounds);
const DURATION = Number(flags.duration);
const WARMUP = Number(flags.warmup);
const CONNECTIONS = Number(flags.connections);
const INSTRUCTIONS = flags.instructions === true;
const REQUESTS = Number(flags.requests);
const ROUTES = flags.route === "both" ? (["post", "get"] as const) : ([flags.route] as ("post" | "get")[]);
const bad =
  !Number.isInteger(ROUNDS) ||
  ROUNDS < 1 ||
  !(DURATION > 0) ||
  !(WARMUP >= 0) ||
  !Number.isInteger(CONNECTIONS) ||
  CONNECTIONS < 1 ||
  !Number.isInteger(REQUESTS) ||
  REQUESTS < 1;
if (flags.help || dirs.length < 2 || bad || !ROUTES.every((r) => r === "post" || r === "get")) {
  process.stderr.write(USAGE);
  process.exit(flags.help ? 0 : 2);
}
if (INSTRUCTIONS && !haveCallgrind()) {
  process.stderr.write("bench:compare --instructions needs valgrind and callgrind_control on the PATH (Debian: valgrind)\n");
  process.exit(2);
}
type Route = "post" | "get";
const OUT = join(ROOT, "bench", "results", "compare.json");
const log = (msg: string) => process.stderr.write(`${msg}\n`);

interface Tree {
  dir: string;
  label: string;
  /** a queue of its own: the trees share one Redis, and nothing is flushed between runs */
  queue: string;
  commit?: string;
  server?: Child;
}

/** short commit, "+" when tracked files differ from it: which version ran, in the JSON and the table */
function commitOf(dir: string): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();
    return git("rev-parse", "--short", "HEAD") + (git("status", "--porcelain", "--untracked-files=no") ? "+" : "");
  } catch {
    return undefined;
  }
}

const trees: Tree[] = dirs.map((d, i) => {
  const dir = resolve(d);
  // startPresque runs the tree's own build and dependencies: without node_modules it fails later, less clearly
  const problem = ![join("src", "cli", "main.ts"), join("src", "cli.ts")].some((f) => existsSync(join(dir, f)))
    ? "is not a presque checkout (no src/cli/main.ts, nor the src/cli.ts of earlier layouts)"
    : !existsSync(join(dir, "node_modules")) && "has no node_modules: run npm ci there, or symlink this tree's";
  if (problem) {
    log(`bench:compare: ${dir} ${problem}`);
    process.exit(2);
  }
  const commit = commitOf(dir);
  return { dir, commit, label: `${basename(dir)}${commit ? `@${commit}` : ""}`, queue: `cmp-${i}` };
});
// the same tree twice (an A/A run, to see the noise) still needs two labels
const labels = trees.map((t) => t.label);
for (const [i, t] of trees.entries()) if (labels.filter((l) => l === labels[i]).length > 1) t.label += `#${i + 1}`;

interface Run {
  round: number;
  route: Route;
  tree: number;
  reqPerSec: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** the presque process's CPU per response, µs */
  userUs: number;
  sysUs: number;
}

const specAt = (url: string, queue: string, route: Route): CannonSpec =>
  route === "post" ? { url, method: "POST", path: `/q/${queue}`, headers: JSON_HEADERS, body: JOB } : { url, path: `/q/${queue}` };
const spec = (t: Tree, route: Route): CannonSpec => specAt(t.server!.url, t.queue, route);

/** GET must never find its queue empty (a 404 would count as non-2xx): before the warm-up, room for
 *  1.5 x the best GET rate seen yet; after it, 1.6 x the warm-up's rate or that best, whichever is
 *  higher, over the measured run. */
let bestGet = 50_000;
async function measure(t: Tree, route: Route, round: number): Promise<Run> {
  if (route === "get") await fill(t.server!, t.queue, Math.ceil(bestGet * 1.5 * WARMUP));
  const warm = WARMUP > 0 ? await cannon(spec(t, route), CONNECTIONS, WARMUP) : undefined;
  // a cold server's warm-up can be far slower than its run (one emptied its queue in round 1)
  if (route === "get") await fill(t.server!, t.queue, Math.ceil(Math.max(warm?.reqPerSec ?? 0, bestGet) * DURATION * 1.6) + 10_000);
  const pid = t.server!.proc.pid!;
  const before = cpuTimes(pid);
  const load = await cannon(spec(t, route), CONNECTIONS, DURATION);
  const after = cpuTimes(pid);
  if (route === "get") bestGet = Math.max(bestGet, load.reqPerSec);
  const perReq = (s: number) => (s * 1e6) / load.requests;
  return {
    round,
    route,
    tree: trees.indexOf(t),
    reqPerSec: load.reqPerSec,
    p99: load.p99,
    requests: load.requests,
    non2xx: load.non2xx,
    errors: load.errors,
    userUs: perReq(after.user - before.user),
    sysUs: perReq(after.system - before.system),
  };
}

// --- figures

/** report.ts's median, NaN for none: a tree without a valid run prints "NaN" rather than failing */
const median = (xs: number[]) => medianOf(xs) ?? Number.NaN;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const cpuUs = (r: Run) => r.userUs + r.sysUs;
const valid = (r: Run) => r.non2xx === 0 && r.errors === 0 && r.requests > 0;
const title = (route: Route) => (route === "post" ? "POST /q/:queue" : "GET /q/:queue");

function line(r: Run): string {
  const bad = r.non2xx + r.errors ? `  NOT A RESULT: ${r.non2xx} non-2xx, ${r.errors} errors` : "";
  return (
    `round ${r.round}/${ROUNDS}  ${r.route.toUpperCase().padEnd(4)} ${trees[r.tree].label.padEnd(24)} ` +
    `${int(r.reqPerSec).padStart(7)} req/s` +
    `  p99 ${r.p99.toFixed(1)} ms  CPU ${cpuUs(r).toFixed(1)} µs/req (${r.userUs.toFixed(1)} user + ${r.sysUs.toFixed(1)} sys)${bad}`
  );
}

/** One route's row per tree. The ratios are medians of each round's ratio to the first tree
 *  (runs seconds apart), not ratios of medians (runs minutes apart); rounds with a non-2xx left out. */
function summarize(runs: Run[], route: Route) {
  const of = (i: number) => runs.filter((r) => r.route === route && r.tree === i);
  const base = new Map(
    of(0)
      .filter(valid)
      .map((r) => [r.round, r]),
  );
  return trees.map((t, i) => {
    const mine = of(i);
    const ok = mine.filter(valid);
    const pairs = i === 0 ? [] : ok.flatMap((r) => (base.has(r.round) ? [[r, base.get(r.round)!] as const] : []));
    const rps = pairs.map(([r, b]) => r.reqPerSec / b.reqPerSec);
    const cpu = pairs.map(([r, b]) => cpuUs(r) / cpuUs(b));
    const rates = ok.map((r) => r.reqPerSec);
    return {
      tree: t.label,
      reqPerSec: {
        median: median(rates),
        min: rates.length ? Math.min(...rates) : Number.NaN,
        max: rates.length ? Math.max(...rates) : Number.NaN,
      },
      cpuUs: { median: median(ok.map(cpuUs)), user: median(ok.map((r) => r.userUs)), sys: median(ok.map((r) => r.sysUs)) },
      p99: median(ok.map((r) => r.p99)),
      non2xx: mine.reduce((n, r) => n + r.non2xx + r.errors, 0),
      // "won": more req/s, or less CPU per request, than the first tree in the same round
      vsFirst:
        i === 0
          ? undefined
          : {
              rounds: pairs.length,
              reqPerSec: median(rps),
              reqWon: rps.filter((x) => x > 1).length,
              cpu: median(cpu),
              cpuWon: cpu.filter((x) => x < 1).length,
            },
    };
  });
}

/** The tree's name left-aligned, every other column right-aligned, each as wide as its widest cell. */
function columns(head: string[], body: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c].length)));
  return [head, ...body].map((r) => r.map((cell, c) => (c ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ")).join("\n");
}

function table(rows: ReturnType<typeof summarize>, route: Route): string {
  const head = [title(route), "req/s median (min–max)", "CPU µs/req (user/sys)", "p99 ms", "non-2xx", "req/s vs 1st", "CPU vs 1st"];
  const body = rows.map((s) => [
    s.tree,
    `${int(s.reqPerSec.median)} (${int(s.reqPerSec.min)}–${int(s.reqPerSec.max)})`,
    `${s.cpuUs.median.toFixed(1)} (${s.cpuUs.user.toFixed(1)}/${s.cpuUs.sys.toFixed(1)})`,
    s.p99.toFixed(1),
    String(s.non2xx),
    s.vsFirst ? `${s.vsFirst.reqPerSec.toFixed(3)}x, won ${s.vsFirst.reqWon}/${s.vsFirst.rounds}` : "-",
    s.vsFirst ? `${s.vsFirst.cpu.toFixed(3)}x, won ${s.vsFirst.cpuWon}/${s.vsFirst.rounds}` : "-",
  ]);
  return columns(head, body);
}

// --- --instructions: callgrind's counts (bench/instructions.ts)

interface Counted {
  round: number;
  route: Route;
  tree: number;
  requests: number;
  non2xx: number;
  /** user-space instructions per request, in thousands */
  kInstructions: number;
}

/** One route's row per tree: median count, and the median of each round's ratio to the first tree. */
function summarizeCounts(runs: Counted[], route: Route) {
  const of = (i: number) => runs.filter((r) => r.route === route && r.tree === i && r.non2xx === 0);
  const base = new Map(of(0).map((r) => [r.round, r.kInstructions]));
  return trees.map((t, i) => {
    const mine = of(i);
    const ratios = i === 0 ? [] : mine.flatMap((r) => (base.has(r.round) ? [r.kInstructions / base.get(r.round)!] : []));
    const counts = mine.map((r) => r.kInstructions);
    return {
      tree: t.label,
      kInstructions: { median: median(counts), min: Math.min(...counts), max: Math.max(...counts) },
      non2xx: runs.filter((r) => r.route === route && r.tree === i).reduce((n, r) => n + r.non2xx, 0),
      vsFirst: i === 0 ? undefined : { rounds: ratios.length, ratio: median(ratios), won: ratios.filter((x) => x < 1).length },
    };
  });
}

function countTable(rows: ReturnType<typeof summarizeCounts>, route: Route): string {
  const head = [title(route), "k instructions/req median (min–max)", "non-2xx", "vs 1st"];
  const body = rows.map((s) => [
    s.tree,
    `${s.kInstructions.median.toFixed(1)} (${s.kInstructions.min.toFixed(1)}–${s.kInstructions.max.toFixed(1)})`,
    String(s.non2xx),
    s.vsFirst ? `${s.vsFirst.ratio.toFixed(3)}x, won ${s.vsFirst.won}/${s.vsFirst.rounds}` : "-",
  ]);
  return columns(head, body);
}

async function counting(): Promise<void> {
  const redis = await startRedis();
  log(
    `bench:compare --instructions: redis-server at ${redis.url}; ${trees.length} trees, ${ROUNDS} round${ROUNDS === 1 ? "" : "s"} ` +
      `of ${ROUTES.join(" + ")}, ${WARMUP_REQUESTS} requests uncounted then ${REQUESTS} counted, a fresh presque under callgrind per run`,
  );
  try {
    const runs: Counted[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = trees.map((_, i) => trees[(i + round - 1) % trees.length]);
      for (const route of ROUTES) {
        for (const t of order) {
          const prepare = route === "get" ? fillFor(t.queue, REQUESTS) : undefined;
          const c = await countInstructions(t.dir, redis.url, (url) => specAt(url, t.queue, route), REQUESTS, prepare);
          const run = { round, route, tree: trees.indexOf(t), requests: c.requests, non2xx: c.non2xx, kInstructions: c.perRequest / 1000 };
          runs.push(run);
          const bad = run.non2xx ? `  NOT A RESULT: ${run.non2xx} non-2xx or errors` : "";
          log(
            `round ${round}/${ROUNDS}  ${route.toUpperCase().padEnd(4)} ${t.label.padEnd(24)} ${run.kInstructions.toFixed(1).padStart(7)} k instructions/req${bad}`,
          );
        }
      }
    }
    const summary = Object.fromEntries(ROUTES.map((route) => [route, summarizeCounts(runs, route)]));
    for (const route of ROUTES) process.stdout.write(`\n${countTable(summary[route], route)}\n`);
    mkdirSync(dirname(OUT), { recursive: true });
    const settings = { mode: "instructions", rounds: ROUNDS, requests: REQUESTS, warmupRequests: WARMUP_REQUESTS, routes: ROUTES };
    const treeInfo = trees.map(({ dir, label, commit, queue }) => ({ dir, label, commit, queue }));
    writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), settings, trees: treeInfo, summary, runs }, null, 2)}\n`);
    log(`\nbench:compare: JSON in ${OUT}`);
  } finally {
    closeFill();
    await redis.stop();
  }
}

async function main(): Promise<void> {
  const redis = await startRedis();
  log(
    `bench:compare: redis-server at ${redis.url}; ${trees.length} trees, ` +
      `${ROUNDS} round${ROUNDS === 1 ? "" : "s"} of ${ROUTES.join(" + ")}, ` +
      `${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per run`,
  );
  try {
    // all up before the first round and until the last: a restart would put a start-up and a JIT
    // warm-up between the runs a ratio compares, and an idle presque costs next to nothing
    for (const t of trees) {
      t.server = await startPresque(redis.url, { dir: t.dir });
      log(`- ${t.label}: ${t.dir}, pid ${t.server.proc.pid}, ${t.server.url}`);
    }
    const runs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // rotate who goes first: the first run of a round may meet a machine the previous one left busy
      const order = trees.map((_, i) => trees[(i + round - 1) % trees.length]);
      for (const route of ROUTES) {
        for (const t of order) {
          const r = await measure(t, route, round);
          runs.push(r);
          log(line(r));
        }
      }
    }
    const summary = Object.fromEntries(ROUTES.map((route) => [route, summarize(runs, route)]));
    for (const route of ROUTES) process.stdout.write(`\n${table(summary[route], route)}\n`);
    mkdirSync(dirname(OUT), { recursive: true });
    const settings = { rounds: ROUNDS, duration: DURATION, warmup: WARMUP, connections: CONNECTIONS, routes: ROUTES };
    const treeInfo = trees.map(({ dir, label, commit, queue }) => ({ dir, label, commit, queue }));
    writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), settings, trees: treeInfo, summary, runs }, null, 2)}\n`);
    log(`\nbench:compare: JSON in ${OUT}`);
  } finally {
    closeFill();
    await Promise.all(trees.map((t) => t.server?.stop()));
    await redis.stop();
  }
}

(INSTRUCTIONS ? counting() : main()).then(
  () => process.exit(0), // a stray socket or timer must not keep a finished run waiting
  (err) => {
    killAll();
    log(`bench:compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
