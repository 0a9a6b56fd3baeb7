// Idempotency-Key on POST /q and POST /qb: exactly-once enqueue for producers that retry.
import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import t from "tap";
import { harness, queueName } from "./helpers.js";

const h = await harness(t);
const key = (q: string, part: string) => `${h.config.redis.prefix}{${q}}:${part}`;
const post = (path: string, body: unknown, idem?: string) =>
  h.http("POST", path, { body, headers: idem === undefined ? {} : { "idempotency-key": idem } });

t.test("a repeat gets the same answer, 200 and a replay header, and stores nothing", async (t) => {
  const q = queueName("idem");
  const first = await post(`/q/${q}`, { a: 1 }, "order-1");
  t.equal(first.status, 201);
  t.equal(first.headers.get("idempotent-replayed"), null);
  const again = await post(`/q/${q}`, { a: 1 }, "order-1");
  t.equal(again.status, 200);
  t.same(again.json, first.json, "the same id");
  t.equal(again.headers.get("idempotent-replayed"), "true");
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 1, "one job");

  t.equal((await h.http("GET", `/q/${q}`)).status, 200, "the job is taken");
  const late = await post(`/q/${q}`, { a: 1 }, "order-1");
  t.same([late.status, late.json], [200, first.json], "still a replay after the job was taken");
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 0, "and nothing was stored again");

  const other = await post(`/q/${q}`, { a: 2 }, "order-1");
  t.equal(other.status, 422, "the same key for another body");
  t.match(other.json, { error: /another request/ });
  t.equal((await post(`/q/${q}?priority=5`, { a: 1 }, "order-1")).status, 422, "or other options");
  t.equal((await post(`/qb/${q}`, { jobs: [{ a: 1 }] }, "order-1")).status, 422, "or another route");
  t.equal((await post(`/q/${queueName("idem")}`, { a: 1 }, "order-1")).status, 201, "each queue has its own keys");
  t.equal((await post(`/q/${q}`, { a: 1 })).status, 201, "no key: no idempotency");
});

t.test("POST /qb: the same ids for the whole batch; a refused batch is not remembered", async (t) => {
  const q = queueName("idemb");
  const first = await post(`/qb/${q}`, { jobs: [{ n: 1 }, { n: 2 }, { n: 3 }] }, "batch-1");
  t.equal(first.status, 201);
  const again = await post(`/qb/${q}`, { jobs: [{ n: 1 }, { n: 2 }, { n: 3 }] }, "batch-1");
  t.same([again.status, again.json], [200, first.json]);
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 3);

  await h.http("POST", `/control/${q}`, { body: { max_length: 4 } });
  t.equal((await post(`/qb/${q}`, { jobs: [{ n: 4 }, { n: 5 }] }, "batch-2")).status, 429);
  await h.http("GET", `/q/${q}`);
  t.equal((await post(`/qb/${q}`, { jobs: [{ n: 4 }, { n: 5 }] }, "batch-2")).status, 201, "the retry after a 429 is stored");
});

t.test("keys: printable ASCII without spaces, at most 255; forgotten after the window", async (t) => {
  const q = queueName("idemk");
  for (const bad of ["", "a b", "x".repeat(256), "\u00e9"]) {
    const r = await h.http("POST", `/q/${q}`, {
      raw: Buffer.from('{"a":1}'),
      headers: { "content-type": "application/json", "idempotency-key": bad },
    });
    t.equal(r.status, 400, JSON.stringify(bad));
  }
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 0);

  await h.http("POST", `/control/${q}`, { body: { idempotency_window: 60 } });
  const first = await post(`/q/${q}`, { a: 1 }, "k");
  const expiry = Number(await h.redis.zscore(key(q, "idemx"), "k"));
  t.ok(expiry > Date.now() + 50_000 && expiry <= Date.now() + 61_000, "remembered for the queue's window");
  t.ok((await h.redis.pttl(key(q, "idem"))) > 50_000, "the record's keys expire with it");
  // the window passes (moved, not waited for)
  await h.redis.zadd(key(q, "idemx"), Date.now() - 1, "k");
  const later = await post(`/q/${q}`, { a: 1 }, "k");
  t.equal(later.status, 201, "a new push once the window is over");
  t.not(later.json.id, first.json.id);
});

/** One HTTP/1.1 request over a raw socket, cut at `cut`: before it is all sent, right after it is
 *  sent, or after the answer came (which the producer then ignores). Resolves with the answer when
 *  one was read. */
function attempt(port: number, path: string, body: string, idem: string, cut: "partial" | "sent" | "answered" | "none") {
  const head =
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nIdempotency-Key: ${idem}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  const request = Buffer.from(head + body);
  return new Promise<{ status: number; body: string; replayed: boolean } | null>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => resolve(null));
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (!m || cut !== "none") return resolve(null);
      resolve({ status: Number(m[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4), replayed: /idempotent-replayed: true/i.test(text) });
    });
    socket.on("connect", () => {
      if (cut === "partial") {
        socket.write(request.subarray(0, Math.floor(Math.random() * (request.length - 1))));
        setImmediate(() => socket.destroy());
      } else if (cut === "sent") {
        socket.write(request, () => socket.destroy());
      } else {
        socket.write(request);
      }
    });
  });
}

t.test("a producer that resends after cutting the connection anywhere enqueues every job exactly once", async (t) => {
  const q = queueName("resend");
  const requests = 40;
  const cuts = ["partial", "sent", "answered"] as const;
  const answers: Array<{ ids: string[]; seqs: number[] }> = [];
  let resent = 0;
  let replays = 0;
  await Promise.all(
    Array.from({ length: 4 }, async (_, lane) => {
      for (let i = lane; i < requests; i += 4) {
        const batch = i % 3 === 0;
        const seqs = batch ? [i * 10, i * 10 + 1, i * 10 + 2] : [i * 10];
        const body = JSON.stringify(batch ? { jobs: seqs.map((seq) => ({ seq })) } : { seq: seqs[0] });
        const path = `/${batch ? "qb" : "q"}/${q}`;
        const idem = randomUUID();
        // up to three cut attempts, at random points, then one that reads its answer
        const tries = Math.floor(Math.random() * 4);
        for (let k = 0; k < tries; k++) {
          await attempt(h.presque.port, path, body, idem, cuts[Math.floor(Math.random() * cuts.length)]);
          resent++;
        }
        const answer = await attempt(h.presque.port, path, body, idem, "none");
        if (!answer) throw new Error("the final attempt got no answer");
        if (answer.replayed) replays++;
        if (answer.status !== (answer.replayed ? 200 : 201)) throw new Error(`${answer.status} ${answer.body}`);
        const json = JSON.parse(answer.body);
        answers.push({ ids: batch ? json.ids : [json.id], seqs });
      }
    }),
  );
  t.ok(resent > 0 && replays > 0, `${resent} cut attempts, ${replays} final answers were replays`);

  const taken = await h.http("GET", `/qb/${q}?batch_size=1000`);
  const got: number[] = taken.json.map((j: { seq: number }) => j.seq).sort((a: number, b: number) => a - b);
  const sent = answers.flatMap((a) => a.seqs).sort((a, b) => a - b);
  t.same(got, sent, "every job once, none twice");
  const ids = (taken.headers.get("x-presque-jobids") ?? "").split(",");
  const byId = new Map(ids.map((id, i) => [id, taken.json[i].seq]));
  t.ok(
    answers.every((a) => a.ids.every((id, i) => byId.get(id) === a.seqs[i])),
    "each answer names the ids its jobs were stored under",
  );
});

t.test("two copies of one request at the same time: one stores, both get the same ids", async (t) => {
  const q = queueName("race");
  for (let i = 0; i < 10; i++) {
    const [a, b] = await Promise.all([post(`/q/${q}`, { i }, `race-${i}`), post(`/q/${q}`, { i }, `race-${i}`)]);
    t.same([a.status, b.status].sort(), [200, 201]);
    t.equal(a.json.id, b.json.id);
  }
  t.equal((await h.http("GET", `/j/${q}`)).json.job_count, 10);
});

t.test("with tokens, each token has its own keys; a queue holds at most max_idempotency_keys", async (t) => {
  const { newToken } = await import("../src/server/auth/tokens.js");
  const [a, b] = [newToken("prod-a"), newToken("prod-b")];
  const s = await harness(t, {
    auth: {
      tokens: [
        { id: "prod-a", sha256: a.sha256, roles: ["producer", "admin", "monitor"] },
        { id: "prod-b", sha256: b.sha256, roles: ["producer"] },
      ],
    },
    queues: { max_idempotency_keys: 3 },
  });
  const q = queueName("scoped");
  const as = (token: string, idem: string) => ({ authorization: `Bearer ${token}`, "idempotency-key": idem });
  const first = await s.http("POST", `/q/${q}`, { body: { n: 1 }, headers: as(a.token, "order-1") });
  t.equal(first.status, 201);
  const other = await s.http("POST", `/q/${q}`, { body: { n: 1 }, headers: as(b.token, "order-1") });
  t.equal(other.status, 201, "another token's same key is a push of its own, not a replay");
  t.not(other.json.id, first.json.id);
  t.equal((await s.http("POST", `/q/${q}`, { body: { n: 2 }, headers: as(b.token, "order-1") })).status, 422, "its own key, another body");
  const again = await s.http("POST", `/q/${q}`, { body: { n: 1 }, headers: as(a.token, "order-1") });
  t.same([again.status, again.json], [200, first.json], "each token's replay");

  // three keys are held (a's order-1, b's order-1, and this one): the next new key is refused
  t.equal((await s.http("POST", `/q/${q}`, { body: { n: 3 }, headers: as(a.token, "order-2") })).status, 201);
  const past = await s.http("POST", `/q/${q}`, { body: { n: 4 }, headers: as(a.token, "order-3") });
  t.equal(past.status, 429, "a new key past max_idempotency_keys");
  t.match(past.json.error, /max_idempotency_keys/);
  const wait = Number(past.headers.get("retry-after"));
  t.ok(wait > 86000 && wait <= 86400, `Retry-After ${wait}: when the oldest key expires`);
  t.equal((await s.http("POST", `/q/${q}`, { body: { n: 1 }, headers: as(a.token, "order-1") })).status, 200, "replays still answer");
  t.equal((await s.http("POST", `/q/${q}`, { body: { n: 5 }, headers: { authorization: `Bearer ${a.token}` } })).status, 201, "no key");
  const control = { authorization: `Bearer ${a.token}` };
  t.equal((await s.http("POST", `/control/${q}`, { body: { max_idempotency_keys: 10 }, headers: control })).status, 200);
  t.equal((await s.http("GET", `/control/${q}`, { headers: control })).json.max_idempotency_keys, 10);
  t.equal((await s.http("POST", `/q/${q}`, { body: { n: 4 }, headers: as(a.token, "order-3") })).status, 201, "per queue via /control");
  const held = await s.redis.hkeys(`${s.config.redis.prefix}{${q}}:idem`);
  t.same(held.sort(), ["prod-a order-1", "prod-a order-2", "prod-a order-3", "prod-b order-1"], "stored under the token's id");
});
