// The folders of src/ name the parts (see docs/internals.md), and what may import what is a rule
// this test keeps: the client side stands alone, the store knows nothing of HTTP, nothing imports in
// a circle. It reads the sources as text, so a type-only import counts like any other.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Which folders each folder's modules may import; "." is src/ itself (index.ts, kit.ts). */
const MAY_IMPORT: Record<string, string[]> = {
  shared: ["shared"],
  store: ["store", "shared"],
  server: ["server", "store", "shared"],
  client: ["client"],
  cli: ["cli", "client", "server", "store", "shared"],
  ".": [".", "client", "server", "store", "shared", "cli"],
};

const part = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : ".");

function sources(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => f.split("\\").join("/"));
}

/** Every relative import, export-from and dynamic import of a module, as paths under src/. */
export function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    found.push(relative(SRC, normalize(join(SRC, dirname(file), m[1]!))).replace(/\.js$/, ".ts"));
  }
  return found;
}

const files = sources();
const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(join(SRC, f), "utf8"))]));

t.test("every folder imports only the parts below it; the client side imports nothing of the server's", async (t) => {
  t.ok(files.length > 30, "the sources are found");
  const known = new Set(Object.keys(MAY_IMPORT));
  t.same(
    files.filter((f) => !known.has(part(f))),
    [],
    "every source is in a known folder",
  );
  const wrong: string[] = [];
  for (const [f, deps] of graph) {
    for (const d of deps) if (!MAY_IMPORT[part(f)]?.includes(part(d))) wrong.push(`${f} imports ${d}`);
  }
  t.same(wrong, [], "no import crosses the layering");
});

t.test("no import cycles", async (t) => {
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    path.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "open") cycles.push([...path.slice(path.indexOf(d)), d].join(" -> "));
      else if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(f, "done");
  };
  for (const f of files) if (!state.has(f)) visit(f);
  t.same(cycles, [], "the module graph has no cycle");
  const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${f} imports ${d}`));
  t.same(missing, [], "every import names a source that exists");
});

t.test("the import reader sees type-only imports, re-exports and dynamic imports", async (t) => {
  t.same(importsOf("client/x.ts", 'import type { A } from "../server/a.js";\nexport * from "./b.js";\nawait import("../store/c.js");'), [
    "server/a.ts",
    "client/b.ts",
    "store/c.ts",
  ]);
  t.notOk(MAY_IMPORT.client!.includes("server"), "client -> server is refused");
});
