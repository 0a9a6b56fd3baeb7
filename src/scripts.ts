// Loads lua/*.lua at start-up: `<name>-<numberOfKeys>.lua` becomes the ioredis command <name>.
// A line `--- @include "x"` is replaced by lua/includes/x.lua, so scripts share helpers
// without sharing a contract.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";

export const LUA_DIR = fileURLToPath(new URL("../lua/", import.meta.url));
const SCRIPT_FILE = /^([A-Za-z][A-Za-z0-9]*)-(\d+)\.lua$/;
const INCLUDE = /^--- @include "([A-Za-z0-9_-]+)"$/m;

export interface Script {
  name: string;
  numberOfKeys: number;
  lua: string;
}

function expandIncludes(lua: string, dir: string): string {
  let out = lua;
  for (let match = INCLUDE.exec(out); match; match = INCLUDE.exec(out)) {
    const included = readFileSync(join(dir, "includes", `${match[1]}.lua`), "utf8");
    out = out.replace(match[0], () => included);
  }
  return out;
}

export function readScripts(dir = LUA_DIR): Script[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".lua"))
    .sort()
    .map((file) => {
      const m = SCRIPT_FILE.exec(file);
      if (!m) throw new Error(`lua/${file}: a script's file name must be <name>-<numberOfKeys>.lua`);
      const lua = expandIncludes(readFileSync(join(dir, file), "utf8"), dir);
      return { name: m[1], numberOfKeys: Number(m[2]), lua };
    });
}

/** Defines every script on the connection and loads it into Redis, so that a script that
 *  does not compile stops start-up instead of failing its first request. */
export async function loadScripts(redis: Redis, dir = LUA_DIR): Promise<Script[]> {
  const scripts = readScripts(dir);
  for (const s of scripts) {
    redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    await redis.script("LOAD", s.lua);
  }
  return scripts;
}

type Arg = string | number | Buffer;
type ScriptCaller = (...args: Arg[]) => Promise<unknown>;

/** Calls a script defined by loadScripts; `buffers` keeps binary replies (job payloads) as Buffers. */
export function callScript<T>(redis: Redis, name: string, keys: string[], args: Arg[], buffers = false): Promise<T> {
  const fn = (redis as unknown as Record<string, ScriptCaller>)[buffers ? `${name}Buffer` : name];
  return fn.call(redis, ...keys, ...args) as Promise<T>;
}
