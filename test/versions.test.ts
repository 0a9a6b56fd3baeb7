// Script versions and the data layout: what a rolling deploy relies on. Old and new presque share
// one Redis for a while; each must run its own scripts, and none may read a layout it does not know.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import t from "tap";
import { checkLayout, LAYOUT_VERSION, LayoutError, type Migration } from "../src/store/layout.js";
import { createLogger } from "../src/shared/log.js";
import { LUA_DIR, parseScript, readScripts, ScriptError } from "../src/store/scripts.js";
import { startServer } from "../src/server/start.js";
import { SCRIPT_VERSIONS } from "../src/store/store.js";
import { client, queueName, redisUrl, startRedis, testConfig } from "./helpers.js";

const quiet = createLogger("silent");

t.test("the loader refuses scripts whose name, header or keys do not agree", async (t) => {
  const ok = "--[[ doThing v2: does a thing.\n  KEYS meta jobs\n  Returns 1 ]]\nreturn 1\n";
  const script = parseScript("doThing.v2.lua", ok);
  t.match(script, { name: "doThing", version: 2, command: "doThing_v2", keys: ["meta", "jobs"] });
  t.match(script.lua, /^local k = \{ meta = KEYS\[1\], jobs = KEYS\[2\] \}; --\[\[/, "the key table is on the first line");

  t.throws(() => parseScript("doThing-2.lua", ok), ScriptError, "the old <name>-<keys>.lua naming");
  t.throws(() => parseScript("doThing.v3.lua", ok), /the header says doThing v2, the file name doThing v3/);
  t.throws(
    () => parseScript("doThing.v2.lua", ok.replace("KEYS meta jobs", "KEYS meta jbos")),
    /KEYS names jbos, which is not a queue key/,
  );
  t.throws(() => parseScript("doThing.v2.lua", ok.replace("KEYS meta jobs", "KEYS[1] meta")), /no line "KEYS <name>/);
  t.throws(() => parseScript("doThing.v2.lua", ok.replace("KEYS meta jobs", "KEYS meta meta")), /names a key twice/);

  const dir = mkdtempSync(join(tmpdir(), "presque-lua-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "doThing.v2.lua"), ok);
  t.equal(readScripts(dir).length, 1);
  writeFileSync(join(dir, "dothing.v2.lua"), ok.replace("doThing v2", "dothing v2"));
  t.throws(() => readScripts(dir), /are the same script and version/, "two files of one name and version");
});

t.test("two builds with different script versions share one Redis without crossing", async (t) => {
  const redisServer = await startRedis();
  const url = await redisUrl(redisServer);
  // the new build: the next pushJobs version also counts its calls in the queue's meta hash
  const [cur, next] = [SCRIPT_VERSIONS.pushJobs, SCRIPT_VERSIONS.pushJobs + 1];
  const newLua = mkdtempSync(join(tmpdir(), "presque-lua-"));
  cpSync(LUA_DIR, newLua, { recursive: true });
  const current = readFileSync(join(LUA_DIR, `pushJobs.v${cur}.lua`), "utf8");
  writeFileSync(
    join(newLua, `pushJobs.v${next}.lua`),
    current
      .replace(`pushJobs v${cur}:`, `pushJobs v${next}:`)
      .replace(/\nreturn reply\s*$/, "\nrcall('HINCRBY', k.meta, 'next_pushes', 1)\nreturn reply\n"),
  );
  const oldBuild = await startServer(testConfig(url), quiet);
  const newBuild = await startServer(testConfig(url), quiet, {
    scripts: { versions: { ...SCRIPT_VERSIONS, pushJobs: next }, luaDir: newLua },
  });
  t.teardown(async () => {
    await Promise.all([oldBuild.close(), newBuild.close()]);
    await redisServer.stop();
    rmSync(newLua, { recursive: true, force: true });
  });
  const [oldHttp, newHttp] = [client(oldBuild.url), client(newBuild.url)];
  const q = queueName("deploy");
  for (let i = 0; i < 3; i++) {
    t.equal((await oldHttp("POST", `/q/${q}`, { body: { from: "old", i } })).status, 201);
    t.equal((await newHttp("POST", `/q/${q}`, { body: { from: "new", i } })).status, 201);
  }
  const meta = oldBuild.context.store.keys(q).meta;
  t.equal(await oldBuild.context.store.redis.hget(meta, "next_pushes"), "3", "only the new build's pushes ran the next version");
  const taken = await oldHttp("GET", `/qb/${q}?batch_size=10`);
  t.same(
    taken.json.map((j: { from: string }) => j.from),
    ["old", "new", "old", "new", "old", "new"],
    "both builds read each other's jobs",
  );

  const stats = (await oldHttp("GET", "/stats/")).json;
  t.equal(stats.processes.length, 2, "/stats/ lists both live processes");
  const scriptsOf = stats.processes.map((p: { scripts: string[] }) => p.scripts.find((s) => s.startsWith("pushJobs.")));
  t.same(scriptsOf.sort(), [`pushJobs.v${cur}`, `pushJobs.v${next}`], "each with its script versions");
  t.match(stats.processes[0], { id: String, version: String, layout: LAYOUT_VERSION, started_at: Number, expires_at: Number });

  await newBuild.close();
  const after = (await oldHttp("GET", "/stats/")).json;
  t.equal(after.processes.length, 1, "a process that stops leaves the list");
});

t.test("data layout: recorded on a fresh Redis, a newer one refuses start-up, older ones migrate", async (t) => {
  const redisServer = await startRedis();
  const url = await redisUrl(redisServer);
  t.teardown(() => redisServer.stop());
  const logged: string[] = [];
  const listening = createLogger("info", { write: (line: string) => void logged.push(JSON.parse(line).msg) });
  const first = await startServer(testConfig(url), listening);
  t.equal(await first.context.store.redis.hget("presque:meta", "layout"), String(LAYOUT_VERSION), "a fresh Redis gets the current layout");
  t.notOk(logged.includes("migrating the data layout"), "and migrates nothing");
  await first.close();

  const plain = new Redis(url);
  t.teardown(() => plain.disconnect());
  const newer = LAYOUT_VERSION + 1;
  await plain.hset("presque:meta", "layout", newer);
  await t.rejects(startServer(testConfig(url), quiet), {
    message:
      `Redis holds presque data layout ${newer}, and this presque supports layouts up to ${LAYOUT_VERSION}: ` +
      "run a newer presque, or point this one at another Redis or prefix",
  });
  t.equal(await plain.hget("presque:meta", "layout"), String(newer), "the refusal changed nothing");

  // the mechanism, with migrations a later layout would bring
  const ran: string[] = [];
  const migrations: Migration[] = [
    { to: 3, what: "three", run: async (r, prefix) => void ran.push(`3:${prefix}`) },
    { to: 2, what: "two", run: async (r, prefix) => void (await r.set(`${prefix}migrated`, "2"), ran.push(`2:${prefix}`)) },
  ];
  await plain.hdel("presque:meta", "layout");
  logged.length = 0;
  t.equal(
    await checkLayout(plain, "presque:", listening, 3, migrations),
    3,
    "a store with no queue and no layout is new: layout 3 at once",
  );
  t.same(ran, [], "nothing to migrate");
  t.same(logged, [], "and nothing logged");
  await plain.hdel("presque:meta", "layout");
  await plain.sadd("presque:queues", "old");
  t.equal(
    await checkLayout(plain, "presque:", listening, 3, migrations),
    3,
    "no layout recorded with queues listed is layout 1, migrated to 3",
  );
  t.same(logged, ["migrating the data layout", "migrating the data layout"]);
  t.same(ran, ["2:presque:", "3:presque:"], "in order");
  t.equal(await plain.get("presque:migrated"), "2");
  t.equal(await plain.hget("presque:meta", "layout"), "3");
  t.equal(await checkLayout(plain, "presque:", quiet, 3, migrations), 3);
  t.same(ran.length, 2, "nothing runs again once the layout is current");
  await plain.hset("other:meta", "layout", 1);
  await t.rejects(checkLayout(plain, "other:", quiet, 3, migrations.slice(0, 1)), LayoutError, "a missing step stops start-up");
  t.equal(await plain.hget("other:meta", "layout"), "1", "and records nothing");
});
