import t from "tap";
import { harness, queueName } from "./helpers.js";

const h = await harness(t);

t.test("post then get", async (t) => {
  const q = queueName();
  const posted = await h.http("POST", `/q/${q}`, { body: { a: 1 } });
  t.equal(posted.status, 201);
  const got = await h.http("GET", `/q/${q}`);
  t.equal(got.status, 200);
  t.same(got.json, { a: 1 });
});
