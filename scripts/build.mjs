// npm run build (and before every npm start): src/**/*.ts to dist/**/*.js, one file each, no
// bundling and no type checking (npm test type-checks). Plain JavaScript serves requests
// faster than tsx, whose loader wraps every function created at run time, and starts faster.
// Each file is written beside its old self and renamed over it, so a server starting while
// another start builds never loads half a file.
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
const out = join(root, "dist");

const sources = readdirSync(src, { recursive: true, encoding: "utf8" })
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .map((f) => join(src, f));

const result = await build({
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
  writeFileSync(temporary, file.contents);
  renameSync(temporary, file.path);
}
if (process.argv.includes("--verbose")) process.stdout.write(`built ${sources.length} files into ${relative(root, out)}/\n`);
