// npm run build, and the preprepare and prepack scripts (npm install / npm ci in a checkout, npm pack).
// Not `prepare`: npm lists a `prepare` script among the install scripts of a package installed from
// a tarball (npm install presque-0.1.0.tgz) and warns about it, though it does not run it; a checkout's
// own npm install and npm ci run `preprepare` just before `prepare`, npm pack runs `prepack`. src/**/*.ts
// to dist/**/*.js, one file each, no bundling and no type checking (npm test type-checks); with
// --types, tsc also writes the .d.ts files the package's users import. Plain JavaScript serves
// requests faster than tsx, whose loader wraps every function created at run time, and starts faster.
// Each file is written beside its old self and renamed over it, so a server starting while
// another start builds never loads half a file.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
const out = join(root, "dist");

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  // An installed package run without its devDependencies ships dist/ already built: nothing to do
  if (existsSync(join(out, "cli", "main.js"))) process.exit(0);
  process.stderr.write("presque build: esbuild is missing; run npm install in the checkout first\n");
  process.exit(1);
}

const sources = readdirSync(src, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .map((f) => join(src, f));

const result = await esbuild.build({
  entryPoints: sources,
  outdir: out,
  outbase: src,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  write: false,
  logLevel: "warning",
});

for (const file of result.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  const temporary = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temporary, file.contents, { mode: file.path.endsWith("cli/main.js") ? 0o755 : 0o644 });
  renameSync(temporary, file.path);
}

// files served as they are (the dashboard's page, script and style: src/**/assets/*), copied beside
// the compiled code that reads them
for (const f of readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => /(^|[\\/])assets[\\/][^\\/]+\.[a-z]+$/.test(f))) {
  const target = join(out, f);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(src, f), `${target}.${process.pid}.tmp`);
  renameSync(`${target}.${process.pid}.tmp`, target);
}

if (process.argv.includes("--types")) {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const run = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
if (process.argv.includes("--verbose")) process.stdout.write(`built ${sources.length} files into ${relative(root, out)}/\n`);
