// Loads lua/*.lua at start-up. A script's file is `<name>.v<version>.lua`, its header starts
// `--[[ <name> v<version>:` (after an optional `#!lua flags=...` line) and has a line
// `KEYS <name> <name> ...` naming its keys: one queue's, by the field names of queueKeys
// (src/store/keys.ts), or one global key alone. That line is the one place a script's keys are
// declared: the loader counts them, gives the script a table `k` of them by name, and callers
// pass the queue, never a key list. Each version is its own ioredis command,
// `<name>_v<version>`: a change in behaviour is a new file beside the old, so that during a
// rolling deploy an old and a new presque each run their own scripts on one Redis.
// A line `--- @include "x"` is replaced by lua/includes/x.lua, so scripts share helpers without
// sharing a contract.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GLOBAL_SCRIPT_KEY_NAMES, QUEUE_KEY_NAMES, type QueueKeys } from "./keys.js";
import type { Redis } from "ioredis";
import { isCluster, nodeKey, type RedisClient } from "./topology.js";

export const LUA_DIR = fileURLToPath(new URL("../../lua/", import.meta.url));
const SCRIPT_FILE = /^([a-z][A-Za-z0-9]*)\.v([1-9][0-9]*)\.lua$/;
// Redis 7 script flags, e.g. allow-oom for the scripts that must run while Redis is full
const SHEBANG = /^#!lua( flags=[a-z-]+(,[a-z-]+)*)?\n/;
const HEADER = /^--\[\[ ([a-z][A-Za-z0-9]*) v([1-9][0-9]*):/;
const KEYS_LINE = /^\s*KEYS((?: [a-z]+)+)\s*$/m;
const INCLUDE = /^--- @include "([A-Za-z0-9_-]+)"$/m;

export type KeyName = Exclude<keyof QueueKeys, "notify" | "events"> | (typeof GLOBAL_SCRIPT_KEY_NAMES)[number];

export interface Script {
  name: string;
  version: number;
  /** the ioredis command: name and version */
  command: string;
  keys: KeyName[];
  lua: string;
  file: string;
}

export class ScriptError extends Error {
  override name = "ScriptError";
}

function expandIncludes(lua: string, dir: string): string {
  let out = lua;
  for (let match = INCLUDE.exec(out); match; match = INCLUDE.exec(out)) {
    const included = readFileSync(join(dir, "includes", `${match[1]}.lua`), "utf8");
    out = out.replace(match[0], () => included);
  }
  return out;
}

/** Reads one script file and checks that its name, header and keys agree. */
export function parseScript(file: string, text: string, dir = LUA_DIR): Script {
  const named = SCRIPT_FILE.exec(file);
  if (!named) throw new ScriptError(`lua/${file}: a script's file name must be <name>.v<version>.lua`);
  const [, name, version] = named;
  const shebang = SHEBANG.exec(text)?.[0] ?? "";
  const body = text.slice(shebang.length);
  const header = HEADER.exec(body);
  if (!header) throw new ScriptError(`lua/${file}: the header must start with "--[[ ${name} v${version}:"`);
  if (header[1] !== name || header[2] !== version) {
    throw new ScriptError(`lua/${file}: the header says ${header[1]} v${header[2]}, the file name ${name} v${version}`);
  }
  const headerText = body.slice(0, body.indexOf("]]"));
  const keysLine = KEYS_LINE.exec(headerText);
  if (!keysLine) throw new ScriptError(`lua/${file}: the header has no line "KEYS <name> <name> ..."`);
  const keys = keysLine[1].trim().split(" ");
  const global = keys.length === 1 && (GLOBAL_SCRIPT_KEY_NAMES as readonly string[]).includes(keys[0]);
  for (const key of global ? [] : keys) {
    if (!(QUEUE_KEY_NAMES as readonly string[]).includes(key)) {
      throw new ScriptError(
        `lua/${file}: KEYS names ${key}, which is not a queue key (src/store/keys.ts: ${QUEUE_KEY_NAMES.join(", ")}) ` +
          `nor, alone, a global one (${GLOBAL_SCRIPT_KEY_NAMES.join(", ")})`,
      );
    }
  }
  if (new Set(keys).size !== keys.length) throw new ScriptError(`lua/${file}: KEYS names a key twice`);
  // on the header's line, so that Redis's line numbers in errors stay those of the file
  const table = `local k = { ${keys.map((key, i) => `${key} = KEYS[${i + 1}]`).join(", ")} }; `;
  const lua = shebang + table + expandIncludes(body, dir);
  return { name, version: Number(version), command: `${name}_v${version}`, keys: keys as KeyName[], lua, file };
}

export function readScripts(dir = LUA_DIR): Script[] {
  const scripts = readdirSync(dir)
    .filter((f) => f.endsWith(".lua"))
    .sort()
    .map((file) => parseScript(file, readFileSync(join(dir, file), "utf8"), dir));
  const seen = new Map<string, string>();
  for (const s of scripts) {
    // a case-insensitive file system, or a reader, would take these two for one script
    const id = s.command.toLowerCase();
    const other = seen.get(id);
    if (other) throw new ScriptError(`lua/${s.file} and lua/${other} are the same script and version`);
    seen.set(id, s.file);
  }
  return scripts;
}

/** The script versions a build of presque calls; Store declares them (SCRIPT_VERSIONS). */
export type Versions = Readonly<Record<string, number>>;

/** Defines every script on the connection and loads it into Redis, so that a script that does
 *  not compile stops start-up instead of failing its first request; refuses to start when a
 *  version the code calls is missing. Returns the scripts by name, at the versions called. */
export async function loadScripts(redis: RedisClient, versions: Versions, dir = LUA_DIR): Promise<Map<string, Script>> {
  const all = readScripts(dir);
  const called = new Map<string, Script>();
  for (const [name, version] of Object.entries(versions)) {
    const script = all.find((s) => s.name === name && s.version === version);
    if (!script) throw new ScriptError(`lua/${name}.v${version}.lua is missing: this build calls ${name} v${version}`);
    called.set(name, script);
  }
  for (const s of all) redis.defineCommand(s.command, { numberOfKeys: s.keys.length, lua: s.lua });
  // on every node of a cluster, replicas too: a broken script stops start-up
  await loadScriptsEverywhere(redis, all);
  return called;
}

type Arg = string | number | Buffer;
type ScriptCaller = (...args: Arg[]) => Promise<unknown>;

/** Calls a loaded script with its keys already in order; `buffers` keeps binary replies (job
 *  payloads) as Buffers. */
export function callScript<T>(redis: RedisClient, command: string, keys: string[], args: Arg[], buffers = false): Promise<T> {
  const fn = (redis as unknown as Record<string, ScriptCaller>)[buffers ? `${command}Buffer` : command];
  return fn.call(redis, ...keys, ...args) as Promise<T>;
}

/** Loads every script on every master, which also compile-checks them before presque serves
 *  anything, and on every replica, so that a promoted replica has them. ioredis would load a
 *  script on a connection that lacks it by itself (EVAL first, EVALSHA after, EVAL again on
 *  NOSCRIPT): this makes a broken script stop start-up instead of failing requests. A replica that
 *  is down does not stop start-up: it gets the scripts by that fallback, or when it comes back. */
export async function loadScriptsEverywhere(redis: RedisClient, scripts: Script[]): Promise<void> {
  if (!isCluster(redis)) return loadOn(redis, scripts);
  await Promise.all([
    ...redis.nodes("master").map((node) => loadOn(node, scripts)),
    ...redis.nodes("slave").map((node) => loadOn(node, scripts).catch(() => {})),
  ]);
}

async function loadOn(node: Redis, scripts: Script[]): Promise<void> {
  for (const s of scripts) await node.script("LOAD", s.lua);
}

/** After a topology change (a failover, a node added), loads the scripts on the nodes the
 *  client connects to from then on. A failure is reported, not thrown: the EVAL fallback above
 *  still serves requests. Returns a function that stops watching. */
export function reloadScriptsOnNewNodes(redis: RedisClient, scripts: Script[], failed: (err: unknown, node: string) => void): () => void {
  if (!isCluster(redis)) return () => {};
  const onNode = (node: Redis) => {
    loadOn(node, scripts).catch((err) => failed(err, nodeKey(node)));
  };
  redis.on("+node", onNode);
  return () => redis.off("+node", onNode);
}
