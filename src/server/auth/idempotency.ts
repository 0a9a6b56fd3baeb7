// Idempotency-Key on POST /q and POST /qb: what makes two requests "the same request".
import { createHash } from "node:crypto";
import { badRequest } from "../../shared/errors.js";
import type { Req } from "../http.js";
import type { Idempotency } from "../../store/store.js";

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The key a request carries and a digest of everything else it said that shapes the push (route,
 *  query, body: a batch's jobs as if joined by newlines), or undefined when it carries none. The
 *  queue is not in the digest: each queue keeps its own keys. With tokens, each token has keys of
 *  its own: the token id goes before the key (ids and keys hold no space), so that one producer's
 *  key never replays or blocks another's. Without tokens there is one scope, as before. */
export function idempotencyOf(req: Req, route: string, body: string | Buffer | string[]): Idempotency | undefined {
  const header = req.headers["idempotency-key"];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (!KEY.test(key)) throw badRequest("Idempotency-Key must be 1 to 255 printable ASCII characters, without spaces");
  const query = req.url?.includes("?") ? req.url.slice(req.url.indexOf("?")) : "";
  const hash = createHash("sha256").update(`${route}\n${query}\n`);
  if (!Array.isArray(body)) hash.update(body);
  else
    body.forEach((part, i) => {
      if (i > 0) hash.update("\n");
      hash.update(part);
    });
  return { key: req.token ? `${req.token.id} ${key}` : key, fingerprint: hash.digest("base64") };
}

export const REPLAYED = { "idempotent-replayed": "true" };
