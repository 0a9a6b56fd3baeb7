// Summarises V8 .cpuprofile files (node --cpu-prof): the functions with the most self time,
// the most inclusive time, and self time by where the code lives, as shares of the time the
// thread was busy (idle left out). A profile busy for under half a second (tsx's module loader
// thread, which node profiles too) is skipped.
// Usage: node bench/profile-top.mjs <file.cpuprofile>... [--top N]
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const topIndex = args.indexOf("--top");
const TOP = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 25;
if (args.length === 0) {
  process.stderr.write("usage: node bench/profile-top.mjs <file.cpuprofile>... [--top N]\n");
  process.exit(2);
}

const self = new Map();
const inclusive = new Map();
const places = new Map();
let total = 0;

const short = (url) =>
  url
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\//, "~/")
    .replace(/^.*\/(src|lua|bench)\//, "$1/");

function place(url, name) {
  if (!url) return name.startsWith("(") ? name : "(native/builtin)";
  if (url.startsWith("node:")) return "node internals";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes("/src/")) return "presque src/";
  return short(url);
}

let busy = 0;
for (const file of args) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const idleIds = new Set(profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  let idle = 0;
  let all = 0;
  profile.samples.forEach((id, i) => {
    all += profile.timeDeltas[i] ?? 0;
    if (idleIds.has(id)) idle += profile.timeDeltas[i] ?? 0;
  });
  if (all - idle < 500_000) {
    console.log(`${file}: ${(all / 1e6).toFixed(1)} s, ${((100 * idle) / all).toFixed(1)}% idle: skipped`);
    continue;
  }
  console.log(`${file}: ${(all / 1e6).toFixed(1)} s, busy ${((all - idle) / 1e6).toFixed(1)} s`);
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => {
    const f = n.callFrame;
    return `${f.functionName || "(anonymous)"}  ${f.url ? `${short(f.url)}:${f.lineNumber + 1}` : ""}`.trimEnd();
  };
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const n = nodes.get(id);
    if (idleIds.has(id)) return;
    total += dt;
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + dt);
    const p = place(n.callFrame.url, n.callFrame.functionName);
    places.set(p, (places.get(p) ?? 0) + dt);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const kk = key(nodes.get(at));
      if (seen.has(kk)) continue;
      seen.add(kk);
      inclusive.set(kk, (inclusive.get(kk) ?? 0) + dt);
    }
  });
}

const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
busy = total;
console.log(`busy time: ${(busy / 1e6).toFixed(1)} s (percentages are of it)`);
print("self time by place", places, 15);
print(`top ${TOP} functions by self time`, self, TOP);
print(`top ${TOP} functions by inclusive time`, inclusive, TOP);
