// /w: workers register themselves on queues, and their fetches and failures are counted.
import t from "tap";
import { harness, queueName, rawRequest as rawRequestTo, type Reply } from "./helpers.js";

const h = await harness(t);

const rawRequest = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
  rawRequestTo(h.url, method, path, body, headers);

const workerName = () => queueName("worker");
const as = (worker: string) => ({ "x-presque-workerid": worker });
const register = (q: string, worker: string) => h.http("POST", `/w/${q}`, { headers: as(worker) });
const describe = (worker: string) => h.http("GET", `/w/?worker_id=${encodeURIComponent(worker)}`);
const listed = async () => (await h.http("GET", "/w/")).json as string[];

t.test("register by header: 201, listed, counters at 0, started_at now", async (t) => {
  const q = queueName();
  const w = workerName();
  const before = Math.floor(Date.now() / 1000);
  const r = await register(q, w);
  const after = Math.ceil(Date.now() / 1000);
  t.equal(r.status, 201);
  t.match(r.headers.get("content-type"), /^application\/json/);
  t.same(r.json, { worker_id: w, queue: q });

  t.ok((await listed()).includes(w), "GET /w/ lists it");
  const info = await describe(w);
  t.equal(info.status, 200);
  t.same(info.json, { worker_id: w, started_at: info.json.started_at, queues: [q], processed: 0, failed: 0 });
  t.type(info.json.started_at, "number");
  t.ok(Number.isInteger(info.json.started_at), "epoch seconds");
  t.ok(info.json.started_at >= before && info.json.started_at <= after, "started_at is now");

  const byQueue = await h.http("GET", `/w/?queue_name=${q}`);
  t.equal(byQueue.status, 200);
  t.same(byQueue.json, { queue_name: q, workers_list: [w], processed: 0, failed: 0 });
});

t.test("register by JSON body", async (t) => {
  const q = queueName();
  const w = workerName();
  const r = await h.http("POST", `/w/${q}`, { body: { worker_id: w } });
  t.equal(r.status, 201);
  t.same(r.json, { worker_id: w, queue: q });
  t.ok((await listed()).includes(w));
  t.match((await describe(w)).json, { worker_id: w, queues: [q], processed: 0, failed: 0 });
});

t.test("register with presque's documented curl: Content-Type 'appplication/json'", async (t) => {
  // curl -H 'Content-Type: appplication/json' http://localhost:5000/w/foo -d '{"worker_id":"myworker_1"}'
  const q = queueName();
  const w = workerName();
  const r = await rawRequest("POST", `/w/${q}`, JSON.stringify({ worker_id: w }), { "content-type": "appplication/json" });
  t.equal(r.status, 201);
  t.same(r.json, { worker_id: w, queue: q });
  t.ok((await listed()).includes(w));

  // the rest of that example: describe, then unregister with ?worker_id=
  t.equal((await describe(w)).status, 200);
  const gone = await rawRequest("DELETE", `/w/${q}?worker_id=${w}`, "");
  t.equal(gone.status, 204);
  t.equal(gone.text, "");
  t.notOk((await listed()).includes(w));
});

t.test("register by body with no Content-Type or a form one", async (t) => {
  const q = queueName();
  const variants: Array<Record<string, string>> = [
    {},
    { "content-type": "application/x-www-form-urlencoded" },
    { "content-type": "text/plain" },
  ];
  for (const headers of variants) {
    const w = workerName();
    const r = await rawRequest("POST", `/w/${q}`, JSON.stringify({ worker_id: w }), headers);
    t.equal(r.status, 201, JSON.stringify(headers));
    t.same(r.json, { worker_id: w, queue: q });
  }
  t.equal((await h.http("GET", `/w/?queue_name=${q}`)).json.workers_list.length, 3);
});

t.test("the header wins over the body, and ?worker_id= names a worker too", async (t) => {
  const q = queueName();
  const byHeader = workerName();
  const inBody = workerName();
  const r = await h.http("POST", `/w/${q}`, { headers: as(byHeader), body: { worker_id: inBody } });
  t.equal(r.status, 201);
  t.same(r.json, { worker_id: byHeader, queue: q });
  t.equal((await describe(inBody)).status, 404);

  const byQuery = workerName();
  const q2 = await rawRequest("POST", `/w/${q}?worker_id=${byQuery}`, "");
  t.equal(q2.status, 201);
  t.same(q2.json, { worker_id: byQuery, queue: q });
});

t.test("processed is counted by GET /q with X-presque-workerid, failed by PUT /q", async (t) => {
  const q = queueName();
  const w = workerName();
  const other = workerName();
  t.equal((await register(q, w)).status, 201);
  t.equal((await register(q, other)).status, 201);
  for (let i = 0; i < 4; i++) t.equal((await h.http("POST", `/q/${q}`, { body: { i } })).status, 201);

  t.equal((await h.http("GET", `/q/${q}`, { headers: as(w) })).status, 200);
  t.equal((await h.http("GET", `/q/${q}`, { headers: as(w) })).status, 200);
  t.equal((await h.http("GET", `/q/${q}`, { headers: as(other) })).status, 200);
  t.equal((await h.http("GET", `/q/${q}`)).status, 200, "anonymous fetch: the queue counts it, no worker does");
  // nothing left: a 404 counts nothing
  t.equal((await h.http("GET", `/q/${q}`, { headers: as(w) })).status, 404);
  t.equal((await h.http("PUT", `/q/${q}`, { body: { i: 0 }, headers: as(w) })).status, 201);

  t.match((await describe(w)).json, { worker_id: w, processed: 2, failed: 1 });
  t.match((await describe(other)).json, { worker_id: other, processed: 1, failed: 0 });
  const byQueue = await h.http("GET", `/w/?queue_name=${q}`);
  t.same(byQueue.json, { queue_name: q, workers_list: [w, other].sort(), processed: 4, failed: 1 });
  t.match((await h.http("GET", `/j/${q}`)).json, { job_processed: 4, job_failed: 1 });

  // registering again starts the counters again
  t.equal((await register(q, w)).status, 201);
  t.match((await describe(w)).json, { processed: 0, failed: 0 });
});

t.test("batch fetches, leased acks and failures count for the worker", async (t) => {
  const q = queueName();
  const w = workerName();
  await register(q, w);
  await h.http("POST", `/qb/${q}`, { body: { jobs: [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }] } });

  const batch = await h.http("GET", `/qb/${q}?batch_size=2`, { headers: as(w) });
  t.equal(batch.status, 200);
  t.equal(batch.json.length, 2);
  t.match((await describe(w)).json, { processed: 2, failed: 0 });

  // under a lease, the fetch is not yet a success: the ack is
  const leased = await h.http("GET", `/q/${q}?lease=60`, { headers: as(w) });
  t.equal(leased.status, 200);
  t.match((await describe(w)).json, { processed: 2 });
  const ack = await h.http("DELETE", `/q/${q}/${leased.headers.get("x-presque-jobid")}`, { headers: as(w) });
  t.equal(ack.status, 204);
  t.match((await describe(w)).json, { processed: 3, failed: 0 });

  const again = await h.http("GET", `/q/${q}?lease=60`, { headers: as(w) });
  const failed = await h.http("PUT", `/q/${q}/${again.headers.get("x-presque-jobid")}`, { headers: as(w), body: { error: "nope" } });
  t.equal(failed.status, 200);
  t.match((await describe(w)).json, { processed: 3, failed: 1 });
});

t.test("a worker on two queues: figures summed, and it stays listed until it leaves both", async (t) => {
  const a = queueName("a");
  const b = queueName("b");
  const w = workerName();
  await register(a, w);
  await register(b, w);
  await h.http("POST", `/q/${a}`, { body: { x: 1 } });
  await h.http("POST", `/q/${b}`, { body: { x: 1 } });
  await h.http("GET", `/q/${a}`, { headers: as(w) });
  await h.http("GET", `/q/${b}`, { headers: as(w) });
  await h.http("PUT", `/q/${b}`, { headers: as(w), body: { x: 1 } });

  t.same((await describe(w)).json, {
    worker_id: w,
    started_at: (await describe(w)).json.started_at,
    queues: [a, b].sort(),
    processed: 2,
    failed: 1,
  });

  const left = await h.http("DELETE", `/w/${a}`, { headers: as(w) });
  t.equal(left.status, 204);
  t.ok((await listed()).includes(w), "still on queue b");
  t.same((await h.http("GET", `/w/?queue_name=${a}`)).json.workers_list, []);
  t.match((await describe(w)).json, { queues: [b], processed: 1, failed: 1 });

  t.equal((await h.http("DELETE", `/w/${b}?worker_id=${w}`)).status, 204);
  t.notOk((await listed()).includes(w), "gone from GET /w/");
  t.same((await h.http("GET", `/w/?queue_name=${b}`)).json.workers_list, []);
  const unknown = await describe(w);
  t.equal(unknown.status, 404);
  t.match(unknown.json, { error: String });
});

t.test("unregister by header and by ?worker_id=", async (t) => {
  const q = queueName();
  const w1 = workerName();
  const w2 = workerName();
  await register(q, w1);
  await register(q, w2);
  t.same((await h.http("GET", `/w/?queue_name=${q}`)).json.workers_list, [w1, w2].sort());

  const byHeader = await h.http("DELETE", `/w/${q}`, { headers: as(w1) });
  t.equal(byHeader.status, 204);
  t.equal(byHeader.text, "");
  const byQuery = await h.http("DELETE", `/w/${q}?worker_id=${encodeURIComponent(w2)}`);
  t.equal(byQuery.status, 204);

  const all = await listed();
  t.notOk(all.includes(w1) || all.includes(w2));
  t.same((await h.http("GET", `/w/?queue_name=${q}`)).json, { queue_name: q, workers_list: [], processed: 0, failed: 0 });
  t.equal((await describe(w1)).status, 404);
  t.equal((await describe(w2)).status, 404);
  t.equal((await h.http("GET", `/w?worker_id=${w1}`)).status, 404, "same without the trailing slash");
});

t.test("GET /w/ is a sorted array of ids", async (t) => {
  const q = queueName();
  const ws = [workerName(), workerName(), workerName()];
  for (const w of ws) await register(q, w);
  for (const path of ["/w/", "/w"]) {
    const r = await h.http("GET", path);
    t.equal(r.status, 200, path);
    t.ok(Array.isArray(r.json));
    t.same(r.json, [...r.json].sort(), "sorted");
    for (const w of ws) t.ok(r.json.includes(w));
  }
  for (const w of ws) await h.http("DELETE", `/w/${q}`, { headers: as(w) });
});

t.test("missing worker id: 400 worker_id is missing", async (t) => {
  const q = queueName();
  const missing = { error: "worker_id is missing" };
  const cases: Array<[string, () => Promise<Reply>]> = [
    ["POST, nothing", () => rawRequest("POST", `/w/${q}`, "")],
    ["POST, empty object", () => h.http("POST", `/w/${q}`, { body: {} })],
    ["POST, empty id", () => h.http("POST", `/w/${q}`, { body: { worker_id: "" } })],
    ["POST, null id", () => h.http("POST", `/w/${q}`, { body: { worker_id: null } })],
    ["POST, empty header", () => rawRequest("POST", `/w/${q}`, "", { "x-presque-workerid": "" })],
    ["DELETE, nothing", () => h.http("DELETE", `/w/${q}`)],
    ["DELETE, empty ?worker_id=", () => h.http("DELETE", `/w/${q}?worker_id=`)],
  ];
  for (const [what, send] of cases) {
    const r = await send();
    t.equal(r.status, 400, what);
    t.same(r.json, missing, what);
  }
  t.same((await h.http("GET", `/w/?queue_name=${q}`)).json.workers_list, [], "nobody registered");
});

t.test("bad worker bodies and names: 400 JSON", async (t) => {
  const q = queueName();
  const cases: Array<[string, string, RegExp]> = [
    ["malformed JSON", '{"worker_id":', /JSON/],
    ["array", '["w"]', /object/],
    ["number id", '{"worker_id":42}', /worker_id/],
    ["long id", JSON.stringify({ worker_id: "w".repeat(257) }), /worker_id/],
  ];
  for (const [what, body, message] of cases) {
    const r = await rawRequest("POST", `/w/${q}`, body, { "content-type": "application/json" });
    t.equal(r.status, 400, what);
    t.match(r.json, { error: message }, what);
  }
  const longHeader = await h.http("POST", `/w/${q}`, { headers: as("w".repeat(257)) });
  t.equal(longHeader.status, 400);
  t.match(longHeader.json, { error: /worker_id/ });

  const badQueue = await h.http("POST", `/w/${encodeURIComponent("no{braces}")}`, { headers: as(workerName()) });
  t.equal(badQueue.status, 400);
  t.same(badQueue.json, { error: "invalid queue name" });
  const badQueueName = await h.http("GET", `/w/?queue_name=${encodeURIComponent("a b")}`);
  t.equal(badQueueName.status, 400);
  t.same(badQueueName.json, { error: "invalid queue name" });
});

t.test("unknown worker: 404", async (t) => {
  const r = await describe(workerName());
  t.equal(r.status, 404);
  t.match(r.headers.get("content-type"), /^application\/json/);
  t.same(r.json, { error: "unknown worker" });
});

t.test("/w/:queue: other methods are 405 with Allow", async (t) => {
  for (const method of ["GET", "PUT"]) {
    const r = await h.http(method, `/w/${queueName()}`);
    t.equal(r.status, 405, method);
    t.match(r.json, { error: String });
    t.equal(r.headers.get("allow"), "POST, DELETE");
  }
  const r = await h.http("POST", "/w/");
  t.equal(r.status, 405);
  t.equal(r.headers.get("allow"), "GET");
});

t.test("worker ids that look like each other's keys stay apart", async (t) => {
  const q = queueName("wkeys");
  for (const id of ["a", "a:queues", "q:a"]) {
    const r = await h.http("POST", `/w/${q}`, { headers: { "x-presque-workerid": `${q}-${id}` } });
    t.equal(r.status, 201, `register ${id}`);
  }
  for (const id of ["a", "a:queues", "q:a"]) {
    const r = await h.http("GET", `/w/?worker_id=${encodeURIComponent(`${q}-${id}`)}`);
    t.equal(r.status, 200, `describe ${id}`);
    t.same(r.json.queues, [q]);
  }
  t.equal((await h.http("DELETE", `/w/${q}?worker_id=${encodeURIComponent(`${q}-a:queues`)}`)).status, 204);
  t.same((await h.http("GET", `/w/?worker_id=${encodeURIComponent(`${q}-a`)}`)).json.queues, [q], "the other worker keeps its queues");
});
