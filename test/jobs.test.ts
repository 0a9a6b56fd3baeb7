// POST/GET/PUT/DELETE /q/:queue: presque's job routes, against a real Redis.
import { randomUUID } from "node:crypto";
import http from "node:http";
import t from "tap";
import { harness, type Harness, queueName, sleep } from "./helpers.js";

const h = await harness(t);
// a small max_body, so that 413 needs only a few KiB
const small = await harness(t, { server: { max_body: 1024 } });

const post = (q: string, body: unknown, query = "", headers: Record<string, string> = {}) =>
  h.http("POST", `/q/${q}${query}`, { body, headers });
const figures = async (q: string, on: Harness = h) => (await on.http("GET", `/j/${q}`)).json;
const queueKeys = (q: string, on: Harness = h) => on.redis.keys(`${on.config.redis.prefix}{${q}}:*`);
const key = (q: string, part: string, on: Harness = h) => `${on.config.redis.prefix}{${q}}:${part}`;

/** Takes every ready job of q, in the order GET hands them out. */
async function drain(q: string, max = 100): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < max; i++) {
    const r = await h.http("GET", `/q/${q}`);
    if (r.status === 404) return out;
    out.push(r.json);
  }
  throw new Error(`more than ${max} jobs in ${q}`);
}

/**
 * POSTs a body of `total` bytes in chunks, without a Content-Length (chunked encoding), slowly
 * enough that an early answer is read before the server closes the connection. Resolves with
 * the answer and how many bytes had been written when it came.
 */
function postChunked(base: string, path: string, total: number, chunk = 16 * 1024) {
  const url = new URL(path, base);
  return new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" } });
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, sent }));
      res.on("error", reject);
    });
    // the server may close while we still write: that is the point, not a failure
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    const write = () => {
      if (answered || req.destroyed) return;
      if (sent >= total) {
        req.end();
        return;
      }
      const piece = sent === 0 ? `{"a":"${"x".repeat(chunk - 6)}` : "x".repeat(chunk);
      sent += piece.length;
      req.write(piece, () => setTimeout(write, 2));
    };
    write();
  });
}

/** Announces a body with Expect: 100-continue and sends it only if the server says go on. */
function postExpectingContinue(base: string, path: string, length: number) {
  const url = new URL(path, base);
  return new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": length, expect: "100-continue" },
    });
    req.on("continue", () => {
      continued = true;
      req.end(`{"a":"${"x".repeat(length - 8)}"}`);
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, continued }));
    });
    req.on("error", reject);
    req.flushHeaders();
  });
}

t.test("POST answers 201 {id}; GET returns exactly the posted bytes with X-presque-jobid", async (t) => {
  const q = queueName();
  // spacing, escapes, a 1.0 that a JSON round trip would turn into 1, non-ASCII and an astral character
  const raw = '{ "b" :  [1, 2 ,3],\n\t"ü": "日本語 \\u00e9 😀",   "a":1.0 , "n" : null }  ';
  const posted = await h.http("POST", `/q/${q}`, { raw, headers: { "content-type": "application/json" } });
  t.equal(posted.status, 201);
  t.same(Object.keys(posted.json), ["id"]);
  t.type(posted.json.id, "string");
  t.match(posted.json.id, /^[0-9]+$/);
  t.match(posted.headers.get("content-type"), /^application\/json/);

  const got = await h.http("GET", `/q/${q}`);
  t.equal(got.status, 200);
  t.equal(got.text, raw, "byte-identical body");
  t.equal(Buffer.byteLength(got.text), Buffer.byteLength(raw));
  t.equal(got.headers.get("x-presque-jobid"), posted.json.id);
  t.match(got.headers.get("content-type"), /^application\/json/);

  const again = await h.http("GET", `/q/${q}`);
  t.equal(again.status, 404, "a fetched job is gone");
  t.same(again.json, { error: "no job" });
  t.equal(await h.redis.hlen(key(q, "jobs")), 0, "no body left in Redis");
});

t.test("GET on a queue never used answers 404 no job", async (t) => {
  const r = await h.http("GET", `/q/${queueName()}`);
  t.equal(r.status, 404);
  t.same(r.json, { error: "no job" });
});

t.test("ids are per-queue decimal integers, in order", async (t) => {
  const q = queueName();
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await post(q, { i })).json.id);
  t.same(ids, ["1", "2", "3"]);
  t.equal((await post(queueName(), { i: 0 })).json.id, "1", "another queue has its own sequence");
});

t.test("FIFO: jobs come out in the order they went in", async (t) => {
  const q = queueName();
  for (let i = 0; i < 20; i++) t.equal((await post(q, { i })).status, 201);
  t.same(
    await drain(q),
    Array.from({ length: 20 }, (_, i) => ({ i })),
  );
});

t.test("Content-Type", async (t) => {
  const q = queueName();
  const body = Buffer.from('{"a":1}'); // a Buffer body: fetch adds no Content-Type of its own

  const missing = await h.http("POST", `/q/${q}`, { raw: body });
  t.equal(missing.status, 400, "missing");
  t.match(missing.json, { error: /Content-Type/ });

  for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", "multipart/form-data; boundary=x"]) {
    const r = await h.http("POST", `/q/${q}`, { raw: body, headers: { "content-type": type } });
    t.equal(r.status, 400, type);
    t.match(r.json, { error: /Content-Type/ }, type);
  }

  for (const type of ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"]) {
    const r = await h.http("POST", `/q/${q}`, { raw: body, headers: { "content-type": type } });
    t.equal(r.status, 201, type);
  }
  t.equal((await figures(q)).job_count, 3, "only the accepted ones were stored");

  const put = await h.http("PUT", `/q/${q}`, { raw: body, headers: { "content-type": "text/plain" } });
  t.equal(put.status, 400, "PUT has the same rule");
  t.equal((await figures(q)).job_failed, 0, "a refused PUT counts no failure");
});

t.test("a body that is not UTF-8 is refused, not altered", async (t) => {
  const q = queueName();
  const raw = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  const r = await h.http("POST", `/q/${q}`, { raw, headers: { "content-type": "application/json" } });
  t.equal(r.status, 400);
  t.same(r.json, { error: "job is not valid UTF-8" });
  t.equal((await h.http("GET", `/q/${q}`)).status, 404, "nothing stored");
});

t.test("bad bodies: 400 with a JSON error, nothing stored", async (t) => {
  const q = queueName();
  const cases: Array<[string, string, RegExp]> = [
    ["empty", "", /missing/],
    ["malformed", '{"a":', /JSON/],
    ["trailing garbage", '{"a":1} x', /JSON/],
    ["array", "[1,2]", /object/],
    ["empty array", "[]", /object/],
    ["number", "42", /object/],
    ["null", "null", /object/],
    ["string", '"job"', /object/],
    ["boolean", "true", /object/],
  ];
  for (const [what, raw, error] of cases) {
    for (const method of ["POST", "PUT"]) {
      const r = await h.http(method, `/q/${q}`, { raw, headers: { "content-type": "application/json" } });
      t.equal(r.status, 400, `${method} ${what}`);
      t.match(r.json, { error }, `${method} ${what}`);
      t.match(r.headers.get("content-type"), /^application\/json/);
    }
  }
  t.match(await figures(q), { job_count: 0, job_delayed: 0, job_failed: 0 });
  t.same(await queueKeys(q), [], "no key written");
});

t.test("bodies over server.max_body: 413, and the server goes on", async (t) => {
  const q = queueName();
  const json = { "content-type": "application/json" };

  // exactly max_body bytes is still fine
  const fits = `{"a":"${"x".repeat(1024 - 8)}"}`;
  t.equal(Buffer.byteLength(fits), 1024);
  t.equal((await small.http("POST", `/q/${q}`, { raw: fits, headers: json })).status, 201, "max_body bytes fit");

  const over = `{"a":"${"x".repeat(1024 - 7)}"}`;
  const declared = await small.http("POST", `/q/${q}`, { raw: over, headers: json });
  t.equal(declared.status, 413, "one byte over, with Content-Length");
  t.match(declared.json, { error: /larger than 1024/ });

  const putOver = await small.http("PUT", `/q/${q}`, { raw: over, headers: json });
  t.equal(putOver.status, 413, "PUT too");

  // no Content-Length: the server must count as it reads, and stop reading
  const total = 4 * 1024 * 1024;
  const chunked = await postChunked(small.url, `/q/${q}`, total);
  t.equal(chunked.status, 413, "chunked, no Content-Length");
  t.match(JSON.parse(chunked.body), { error: /larger than 1024/ });
  t.ok(chunked.sent < total, `answered after ${chunked.sent} of ${total} bytes, without reading the rest`);

  const asked = await postExpectingContinue(small.url, `/q/${q}`, 10 * 1024 * 1024);
  t.equal(asked.status, 413, "Expect: 100-continue with a large Content-Length");
  t.notOk(asked.continued, "refused before the body was asked for");

  t.match(await figures(q, small), { job_count: 1, job_failed: 0 }, "only the job that fitted");

  const after = await small.http("POST", `/q/${q}`, { body: { after: true } });
  t.equal(after.status, 201, "the server still takes jobs");
  t.equal((await small.http("GET", `/q/${q}`)).text, fits);
  t.same((await small.http("GET", `/q/${q}`)).json, { after: true });
});

t.test("invalid queue names: 400 invalid queue name on every method", async (t) => {
  const bad = ["%7B", "%7D", "a%7Bb%7D", "a%20b", "%20", "a" + "b".repeat(128), "%C3%A9t%C3%A9", "a%2Fb", "a*b", "a%00"];
  for (const name of bad) {
    for (const method of ["POST", "GET", "PUT", "DELETE"]) {
      const r = await h.http(method, `/q/${name}`, method === "POST" || method === "PUT" ? { body: { a: 1 } } : {});
      t.equal(r.status, 400, `${method} ${name.slice(0, 20)}`);
      t.same(r.json, { error: "invalid queue name" }, `${method} ${name.slice(0, 20)}`);
    }
  }
  t.notOk(
    (await h.redis.smembers(`${h.config.redis.prefix}queues`)).some((n) => /[{} ]/.test(n)),
    "none listed",
  );

  for (const path of ["/q/", "/qb/"]) {
    for (const method of ["GET", "POST", "PUT", "DELETE"]) {
      const empty = await h.http(method, path, method === "GET" || method === "DELETE" ? {} : { body: { a: 1 } });
      t.equal(empty.status, 400, `${method} ${path}: an empty name is a bad name`);
      t.same(empty.json, { error: "invalid queue name" });
    }
  }

  const longest = "a".repeat(128);
  t.equal((await post(longest, { a: 1 })).status, 201, "128 characters are fine");
  t.equal((await h.http("DELETE", `/q/${longest}`)).status, 204);
  const allChars = `Az09_-.:${randomUUID().slice(0, 8)}`;
  t.equal((await post(allChars, { a: 1 })).status, 201, "A-Z a-z 0-9 _ - . : are allowed");
  t.equal((await h.http("GET", `/q/${allChars}`)).status, 200);
});

t.test("?delayed in the past: ready at once", async (t) => {
  const q = queueName();
  t.equal((await post(q, { past: 1 }, "?delayed=1000000000")).status, 201);
  t.equal((await post(q, { past: 2 }, `?delayed=${(Date.now() / 1000 - 1).toFixed(3)}`)).status, 201);
  t.equal((await post(q, { now: 3 }, "?delay=0")).status, 201);
  t.match(await figures(q), { job_count: 3, job_delayed: 0 });
  t.same(await drain(q), [{ past: 1 }, { past: 2 }, { now: 3 }]);
});

t.test("?delayed in the future: held until due, then delivered", async (t) => {
  const q = queueName();
  const due = Date.now() / 1000 + 1.5;
  const posted = await post(q, { later: true }, `?delayed=${due.toFixed(3)}`);
  t.equal(posted.status, 201);
  t.equal((await post(q, { relative: true }, "?delay=1")).status, 201);

  const early = await h.http("GET", `/q/${q}`);
  t.equal(early.status, 404);
  t.same(early.json, { error: "no job" });
  t.match(await figures(q), { job_count: 0, job_delayed: 2 });
  t.equal(await h.redis.zcard(key(q, "delayed")), 2);

  const got: unknown[] = [];
  const deadline = Date.now() + 6000;
  while (got.length < 2 && Date.now() < deadline) {
    const r = await h.http("GET", `/q/${q}`);
    if (r.status === 200) {
      got.push(r.json);
      if (r.headers.get("x-presque-jobid") === posted.json.id) t.ok(Date.now() / 1000 >= due, "not before its time");
    } else {
      t.equal(r.status, 404);
      await sleep(100);
    }
  }
  t.same(got, [{ relative: true }, { later: true }], "both delivered, the earlier due first");
  t.match(await figures(q), { job_count: 0, job_delayed: 0, job_processed: 2 });
});

t.test("bad delayed / delay values: 400", async (t) => {
  const q = queueName();
  const bad = [
    "delayed=abc",
    "delayed=-5",
    "delayed=1e9",
    "delayed=",
    "delayed=12abc",
    "delayed=99999999999999",
    "delayed=1&delayed=2",
    "delay=abc",
    "delay=-1",
    "delay=",
    "delay=99999999999",
    `delayed=${Math.floor(Date.now() / 1000) + 60}&delay=60`,
  ];
  for (const query of bad) {
    const r = await post(q, { a: 1 }, `?${query}`);
    t.equal(r.status, 400, query);
    t.match(r.json, { error: /delay/ }, query);
    const put = await h.http("PUT", `/q/${q}?${query}`, { body: { a: 1 } });
    t.equal(put.status, 400, `PUT ${query}`);
  }
  t.same(await queueKeys(q), [], "nothing stored");
});

t.test("?uniq: refused while the job is queued, free again once fetched", async (t) => {
  const q = queueName();
  t.equal((await post(q, { n: 1 }, "?uniq=k1")).status, 201);
  const dup = await post(q, { n: 2 }, "?uniq=k1");
  t.equal(dup.status, 400);
  t.same(dup.json, { error: "job already exists" });
  t.equal((await post(q, { n: 3 }, "?uniq=k2")).status, 201, "another key is independent");
  t.equal((await post(q, { n: 4 })).status, 201, "jobs without a key are unaffected");
  t.equal((await post(queueName(), { n: 5 }, "?uniq=k1")).status, 201, "the same key on another queue is independent");
  t.equal((await figures(q)).job_count, 3, "the refused job was not stored");

  t.same((await h.http("GET", `/q/${q}`)).json, { n: 1 });
  t.equal(await h.redis.hexists(key(q, "uniq"), "k1"), 0, "the key is released by the fetch");
  t.equal((await post(q, { n: 6 }, "?uniq=k1")).status, 201, "free again after fetch");
  t.equal((await post(q, { n: 7 }, "?uniq=k1")).status, 400, "and held again by the new job");
  t.same(await drain(q), [{ n: 3 }, { n: 4 }, { n: 6 }]);
  t.equal(await h.redis.hlen(key(q, "uniq")), 0, "no key left once all are fetched");
});

t.test("?uniq: refused while the job is delayed, free again after purge", async (t) => {
  const q = queueName();
  t.equal((await post(q, { n: 1 }, "?uniq=d&delay=60")).status, 201);
  const dup = await post(q, { n: 2 }, "?uniq=d");
  t.equal(dup.status, 400);
  t.same(dup.json, { error: "job already exists" });
  t.equal((await post(q, { n: 3 }, "?uniq=d&delay=30")).status, 400, "delayed again: still refused");
  t.equal((await h.http("GET", `/q/${q}`)).status, 404, "the delayed job is not handed out");

  t.equal((await h.http("DELETE", `/q/${q}`)).status, 204);
  t.equal((await post(q, { n: 4 }, "?uniq=d")).status, 201, "free again after purge");
  t.same(await drain(q), [{ n: 4 }]);

  const long = await post(q, { n: 5 }, `?uniq=${"u".repeat(257)}`);
  t.equal(long.status, 400, "a uniq key over 256 characters");
});

t.test("stopped queue: GET 404 queue is closed, POST still 201, start delivers", async (t) => {
  const q = queueName();
  t.equal((await post(q, { n: 1 })).status, 201);
  const stop = await h.http("POST", `/control/${q}`, { body: { status: "stop" } });
  t.equal(stop.status, 200);
  t.same(stop.json, { response: "updated", queue: q });
  t.match((await h.http("GET", `/control/${q}`)).json, { queue: q, status: 0 });

  const closed = await h.http("GET", `/q/${q}`);
  t.equal(closed.status, 404);
  t.same(closed.json, { error: "queue is closed" });
  t.equal((await post(q, { n: 2 })).status, 201, "a stopped queue still accepts jobs");
  t.equal((await h.http("PUT", `/q/${q}`, { body: { n: 3 } })).status, 201, "and retries");
  t.match(await figures(q), { job_count: 3, job_processed: 0 }, "nothing was taken");

  t.equal((await h.http("POST", `/control/${q}`, { body: { status: "start" } })).status, 200);
  t.match((await h.http("GET", `/control/${q}`)).json, { status: 1 });
  t.same(await drain(q), [{ n: 1 }, { n: 2 }, { n: 3 }]);
});

t.test("PUT counts a failure, GET a processed job, for the queue and the worker", async (t) => {
  const q = queueName();
  const worker = `w-${randomUUID().slice(0, 8)}`;
  const wh = { "x-presque-workerid": worker };
  t.equal((await h.http("POST", `/w/${q}`, { headers: wh })).status, 201);
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { worker_id: worker, processed: 0, failed: 0 });

  t.equal((await post(q, { n: 1 })).status, 201);
  const got = await h.http("GET", `/q/${q}`, { headers: wh });
  t.equal(got.status, 200);
  t.match(await figures(q), { job_processed: 1, job_failed: 0 });
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { processed: 1, failed: 0 });

  // the worker failed it and posts it back, byte for byte
  const raw = '{"n" : 1,  "retry":"é"}';
  const put = await h.http("PUT", `/q/${q}`, { raw, headers: { ...wh, "content-type": "application/json" } });
  t.equal(put.status, 201);
  t.same(Object.keys(put.json), ["id"]);
  t.not(put.json.id, got.headers.get("x-presque-jobid"), "stored again under a new id");
  t.match(await figures(q), { job_count: 1, job_processed: 1, job_failed: 1 });
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { processed: 1, failed: 1 });
  t.match((await h.http("GET", `/w/?queue_name=${q}`)).json, { queue_name: q, workers_list: [worker], processed: 1, failed: 1 });

  // a PUT without a worker counts for the queue only
  t.equal((await h.http("PUT", `/q/${q}`, { body: { n: 2 } })).status, 201);
  t.match(await figures(q), { job_count: 2, job_failed: 2 });
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { failed: 1 });

  const again = await h.http("GET", `/q/${q}`, { headers: wh });
  t.equal(again.text, raw, "the retried job keeps its bytes");
  t.equal((await h.http("GET", `/q/${q}`)).status, 200, "a GET without a worker");
  t.match(await figures(q), { job_count: 0, job_processed: 3, job_failed: 2 });
  t.match((await h.http("GET", `/w/?worker_id=${worker}`)).json, { processed: 2, failed: 1 });

  // PUT with ?delayed: the retry waits
  t.equal((await h.http("PUT", `/q/${q}?delay=60`, { body: { n: 3 } })).status, 201);
  t.match(await figures(q), { job_count: 0, job_delayed: 1, job_failed: 3 });
  t.equal((await h.http("GET", `/q/${q}`)).status, 404);
});

t.test("DELETE /q purges jobs, delayed jobs, uniq keys, counts and status, not the metrics counters", async (t) => {
  const q = queueName();
  for (let i = 0; i < 3; i++) await post(q, { i });
  await post(q, { prio: true }, "?priority=5");
  await post(q, { low: true }, "?priority=-2");
  await post(q, { delayed: true }, "?delay=60");
  await post(q, { uniq: true }, "?uniq=u1");
  await post(q, { uniqDelayed: true }, "?uniq=u2&delay=60");
  t.equal((await h.http("GET", `/q/${q}`)).status, 200);
  t.equal((await h.http("PUT", `/q/${q}`, { body: { failed: true } })).status, 201);
  await h.http("POST", `/control/${q}`, { body: { status: "stop" } });
  t.match(await figures(q), { job_count: 6, job_prioritized: 1, job_delayed: 2, job_processed: 1, job_failed: 1 });
  t.ok((await h.http("GET", "/status/")).json.queues.includes(q), "listed before");
  const lastId = Number(await h.redis.get(key(q, "seq")));

  const del = await h.http("DELETE", `/q/${q}`);
  t.equal(del.status, 204);
  t.equal(del.text, "");

  t.same(await figures(q), {
    queue_name: q,
    job_count: 0,
    job_prioritized: 0,
    job_delayed: 0,
    job_leased: 0,
    job_dead: 0,
    job_processed: 0,
    job_failed: 0,
  });
  t.match((await h.http("GET", `/control/${q}`)).json, { status: 1 }, "status back to open");
  // and what the scripts count (lua/includes/metrics.lua): Prometheus counters do not go backwards
  t.same(
    (await queueKeys(q)).sort(),
    [key(q, "counters"), key(q, "seq")].sort(),
    "only the id sequence and the counters are left in Redis",
  );
  t.notOk(await h.redis.sismember(`${h.config.redis.prefix}queues`, q), "unlisted in Redis");
  const status = (await h.http("GET", "/status/")).json;
  t.notOk(status.queues.includes(q), "gone from /status/");
  t.equal(status.size, status.queues.length);
  t.equal((await h.http("GET", `/q/${q}`)).status, 404);

  // the same queue can be used again, uniq keys are free, ids keep counting
  const again = await post(q, { fresh: true }, "?uniq=u1");
  t.equal(again.status, 201);
  t.equal(Number(again.json.id), lastId + 1, "ids are not reused after a purge");
  t.equal((await post(q, { fresh: 2 }, "?uniq=u2")).status, 201);
  t.ok((await h.http("GET", "/status/")).json.queues.includes(q), "listed again");
  t.same(await drain(q), [{ fresh: true }, { fresh: 2 }]);

  t.equal((await h.http("DELETE", `/q/${queueName()}`)).status, 204, "purging an unknown queue is fine");
});

t.test("priority: higher first, FIFO within one, negatives after 0", async (t) => {
  const q = queueName();
  const jobs: Array<[string, number | undefined]> = [
    ["a", 5],
    ["b", undefined],
    ["c", -3],
    ["d", 10],
    ["e", 5],
    ["f", 0],
    ["g", -1],
    ["h", -3],
    ["i", 1000000],
    ["j", -1000000],
  ];
  for (const [name, p] of jobs) {
    t.equal((await post(q, { name }, p === undefined ? "" : `?priority=${p}`)).status, 201, `${name} ${p}`);
  }
  t.match(await figures(q), { job_count: 10, job_prioritized: 8 });
  const order = (await drain(q)).map((j) => (j as { name: string }).name);
  t.same(order, ["i", "d", "a", "e", "b", "f", "g", "c", "h", "j"]);
});

t.test("priority with delayed jobs: promoted into their priority", async (t) => {
  const q = queueName();
  await post(q, { name: "low" }, "?priority=-1");
  await post(q, { name: "high" }, "?priority=3&delayed=1000000000");
  await post(q, { name: "plain" });
  t.same(
    (await drain(q)).map((j) => (j as { name: string }).name),
    ["high", "plain", "low"],
  );
});

t.test("bad priority: 400", async (t) => {
  const q = queueName();
  for (const p of ["abc", "1.5", "1e3", "1000001", "-1000001", "", "+1", "0x10", "1&priority=2"]) {
    const r = await post(q, { a: 1 }, `?priority=${p}`);
    t.equal(r.status, 400, `priority=${p}`);
    t.match(r.json, { error: /priority/ }, `priority=${p}`);
  }
  t.same(await queueKeys(q), [], "nothing stored");
});

t.test("wrong method: 405 JSON with Allow; unknown path: 404 JSON", async (t) => {
  const q = queueName();
  for (const method of ["PATCH", "OPTIONS"]) {
    const r = await h.http(method, `/q/${q}`);
    t.equal(r.status, 405, method);
    t.same(r.json, { error: "method not allowed" });
    const allow = (r.headers.get("allow") ?? "").split(/,\s*/).sort();
    t.same(allow, ["DELETE", "GET", "POST", "PUT"], "Allow lists the methods of /q/:queue");
  }
  const onJ = await h.http("POST", `/j/${q}`, { body: {} });
  t.equal(onJ.status, 405);
  t.equal(onJ.headers.get("allow"), "GET");

  for (const path of ["/nope", "/q/a/b/c", "/qq/x", "/q//"]) {
    const r = await h.http("GET", path);
    t.equal(r.status, 404, path);
    t.same(r.json, { error: "not found" }, path);
    t.match(r.headers.get("content-type"), /^application\/json/);
  }
});

t.test("HEAD /q does not take a job", async (t) => {
  const q = queueName();
  await post(q, { keep: true });
  const head = await h.http("HEAD", `/q/${q}`);
  t.equal(head.status, 405);
  t.ok(head.headers.get("allow"));
  t.equal((await figures(q)).job_count, 1, "the job is still there");
  t.same((await h.http("GET", `/q/${q}`)).json, { keep: true });
});
