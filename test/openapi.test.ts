// GET /openapi.json: a valid OpenAPI 3.1 document, held against the router both ways. The answers
// of the route tests are held against its schemas by test/support/openapi.ts (through helpers.ts);
// the checks here show that that judge refuses what it should.
import SwaggerParser from "@apidevtools/swagger-parser";
import t from "tap";
import { createApp } from "../src/server/app.js";
import { newToken } from "../src/server/auth/tokens.js";
import { openApiDocument } from "../src/server/openapi/document.js";
import type { ServedRoute } from "../src/server/router.js";
import { harness, queueName } from "./helpers.js";
import { pointer, ResponseChecker } from "./support/openapi.js";

const producer = newToken("oa-producer");
const h = await harness(t, {
  batch: { max_push: 1000, max_fetch: 50 },
  auth: { tokens: [{ id: "oa-producer", sha256: producer.sha256, roles: ["producer"] }], insecure: false },
});
const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };

t.test("the document is valid OpenAPI 3.1 (swagger-parser: the official schema and its own checks)", async (t) => {
  const api = await SwaggerParser.validate(structuredClone(doc) as never);
  t.equal((api as { openapi: string }).openapi, "3.1.0");
  const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
  t.same(
    ids.filter((id, i) => ids.indexOf(id) !== i),
    [],
    "operationIds are unique",
  );
});

t.test("every route the router serves is documented with its methods, and every documented one is served", async (t) => {
  const served: ServedRoute[] = [];
  createApp(h.presque.context, served);
  t.ok(served.length > 15, "the router lists its routes");
  const routes = (list: Array<[string, string[]]>) =>
    list.flatMap(([path, methods]) => methods.map((m) => `${m.toUpperCase()} ${path}`)).sort();
  const fromRouter = routes(served.map((r) => [r.path.replace(/:([A-Za-z_]+)/g, "{$1}"), r.methods]));
  const fromDocument = routes(Object.entries(doc.paths).map(([path, item]) => [path, Object.keys(item)]));
  t.same(
    fromRouter.filter((r) => !fromDocument.includes(r)),
    [],
    "served but not documented",
  );
  t.same(
    fromDocument.filter((r) => !fromRouter.includes(r)),
    [],
    "documented but not served",
  );
});

t.test("GET /openapi.json serves the document without a token, with this server's limits", async (t) => {
  const r = await h.http("GET", "/openapi.json");
  t.equal(r.status, 200);
  t.match(r.headers.get("content-type"), /^application\/json/);
  t.equal(r.json.openapi, "3.1.0");
  t.same(Object.keys(r.json.paths), Object.keys(doc.paths));
  const batchSize = r.json.paths["/qb/{queue}"].get.parameters.find((p: { name: string }) => p.name === "batch_size");
  t.equal(batchSize.schema.maximum, 50, "batch.max_fetch of this server");
  t.equal((await h.http("GET", "/status/")).status, 401, "while other routes need a token");
  t.equal((await h.http("HEAD", "/openapi.json")).status, 405, "HEAD is refused as everywhere");
});

t.test("the operations take their roles from src/server/auth/routes.ts; public ones need no token", async (t) => {
  const ops = doc.paths as unknown as Record<string, Record<string, Record<string, unknown>>>;
  t.same(ops["/q/{queue}"]!.post!["x-presque-roles"], ["producer"]);
  t.same(ops["/openapi.json"]!.get!.security, []);
  t.notOk((ops["/openapi.json"]!.get!.responses as object).hasOwnProperty("401"));
  t.ok((ops["/j/{queue}"]!.get!.responses as object).hasOwnProperty("401"));
  const q = queueName("oa");
  const pushed = await h.http("POST", `/q/${q}`, { body: { a: 1 }, headers: { authorization: `Bearer ${producer.token}` } });
  t.equal(pushed.status, 201, "a route's answer with a token is judged like any other");
});

t.test("the judge of answers refuses what breaks the document and passes what it does not cover", async (t) => {
  const checker = new ResponseChecker();
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers({ "content-type": "application/json; charset=utf-8", ...headers }),
    text: body === undefined ? "" : JSON.stringify(body),
  });
  t.equal(checker.check("POST", "/q/foo?priority=1", answer(201, { id: "1" })), null, "a good answer");
  t.match(checker.check("POST", "/q/foo", answer(201, { id: 1 })), /body its schema refuses.*must be string/, "a wrong type");
  t.match(
    checker.check("POST", "/q/foo", answer(201, { id: "1", extra: true })),
    /must NOT have additional properties/,
    "a field too many",
  );
  t.match(
    checker.check("POST", "/q/foo", answer(418, { error: "teapot" })),
    /a status the document does not list/,
    "an undocumented status",
  );
  t.match(checker.check("POST", "/q/foo", answer(200, { id: "1" })), /without the header Idempotent-Replayed/, "a required header missing");
  t.match(checker.check("GET", "/q/foo", answer(200, { a: 1 })), /without the header X-presque-jobid/);
  t.match(
    checker.check("GET", "/q/foo", answer(200, { a: 1 }, { "x-presque-jobid": "x" })),
    /X-presque-jobid: x, which its schema refuses/,
  );
  t.equal(checker.check("GET", "/q/foo", answer(200, { a: 1 }, { "x-presque-jobid": "3" })), null);
  t.match(checker.check("GET", "/q/foo", answer(429, { error: "slow down" })), /without the header Retry-After/);
  t.match(checker.check("DELETE", "/q/foo", answer(204, { no: "body" })), /with a body, where the document says there is none/);
  t.equal(checker.check("DELETE", "/q/foo", answer(204, undefined)), null);
  t.match(
    checker.check("GET", "/j/foo", { status: 200, headers: new Headers({ "content-type": "text/plain" }), text: "hi" }),
    /Content-Type text\/plain/,
  );
  t.equal(checker.check("GET", "/no/such/route", answer(404, { error: "not found" })), null, "an undocumented route is not judged");
  t.equal(checker.check("HEAD", "/q/foo", answer(405, { error: "method not allowed" })), null, "nor an undocumented method");
  t.equal(checker.check("GET", "/status", answer(200, { queues: [], size: 0 })), null, "paths match as the router matches them");
  t.match(
    checker.check("GET", "/q/foo/7", answer(200, { id: "7", queue: "foo", state: "delayed", attempts: 1, priority: 0, job: {} })),
    /must have required property 'due_at'/,
    "a delayed job without due_at",
  );
});

t.test("every example in the document fits the schema beside it", async (t) => {
  const checker = new ResponseChecker();
  let checked = 0;
  const judge = (at: string[], value: unknown) => {
    const validate = checker.validator(pointer(...at));
    if (!validate(value)) t.fail(`${at.join(" ")}: ${JSON.stringify(value)}: ${JSON.stringify(validate.errors)}`);
    checked++;
  };
  type Node = Record<string, Record<string, unknown>>;
  const walkMedia = (at: string[], content: Node | undefined) => {
    for (const [type, media] of Object.entries(content ?? {})) {
      if (!media.schema) continue;
      for (const example of Object.values((media.examples ?? {}) as Node)) judge([...at, type, "schema"], example.value);
    }
  };
  const full = checker.doc as { paths: Record<string, Record<string, Node>>; components: Record<string, Node> };
  for (const [path, item] of Object.entries(full.paths)) {
    for (const [method, op] of Object.entries(item)) {
      walkMedia(["paths", path, method, "requestBody", "content"], (op.requestBody as { content?: Node } | undefined)?.content);
      for (const [status, response] of Object.entries(op.responses as Node)) {
        walkMedia(["paths", path, method, "responses", status, "content"], (response as { content?: Node }).content);
      }
    }
  }
  for (const [name, s] of Object.entries(full.components.schemas!)) {
    for (const example of ((s as { examples?: unknown[] }).examples ?? []) as unknown[]) judge(["components", "schemas", name], example);
  }
  for (const [name, p] of Object.entries(full.components.parameters!)) {
    if ((p as { example?: unknown }).example !== undefined)
      judge(["components", "parameters", name, "schema"], (p as { example: unknown }).example);
  }
  t.ok(checked > 100, `${checked} examples checked`);
});
