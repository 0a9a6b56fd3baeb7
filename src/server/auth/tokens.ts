// Bearer tokens: how they look, how they are stored, how a presented one is checked.
//
// A token is `pq_<id>_<secret>`: the id names the entry directly (no scan over all tokens), the
// secret is 32 random bytes. Only SHA-256 of the whole token is stored. A slow hash (scrypt,
// argon2) protects guessable passwords; these secrets are 256 random bits, which no hash speed
// makes guessable, and a slow hash would cost milliseconds of CPU on every request and hand
// anyone with a bad token a way to burn it.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const ROLES = ["producer", "consumer", "monitor", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** A token as the config holds it: no secret, only its digest. */
export interface TokenSpec {
  id: string;
  sha256: string;
  roles: Role[];
  /** queue globs this token may touch (`*`, `?`); absent: every queue */
  queues?: string[];
  /** queue globs it may not touch, whatever `queues` says */
  deny?: string[];
  /** requests per second, kept across processes in Redis; absent: unlimited */
  rate?: number;
  /** how many requests may come at once before `rate` applies; default: one second's worth */
  burst?: number;
}

export interface Token {
  id: string;
  roles: ReadonlySet<Role>;
  allow: readonly string[] | null;
  deny: readonly string[] | null;
  rate: number;
  burst: number;
  digest: Buffer;
  /** the globs as configured, for GET /whoami */
  globs: { queues: readonly string[]; deny: readonly string[] };
}

export const TOKEN_ID = /^[A-Za-z0-9-]{1,64}$/;
const TOKEN_SHAPE = /^pq_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{16,128})$/;

export function digestOf(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

export function newToken(id = randomBytes(6).toString("hex")): { token: string; sha256: string } {
  if (!TOKEN_ID.test(id)) throw new Error("a token id is 1 to 64 characters of A-Z a-z 0-9 -");
  const token = `pq_${id}_${randomBytes(32).toString("base64url")}`;
  return { token, sha256: digestOf(token).toString("hex") };
}

/** Counts a matcher's steps, for tests that hold it to linear time. */
export interface StepCounter {
  steps: number;
}

/**
 * Whether `name` matches `glob` (`*` any run of characters, `?` one character), in at most
 * (|glob| + 1) * (|name| + 1) steps and usually |glob| + |name|: two pointers, and on a mismatch a
 * return to the last `*` only, never to earlier ones (a match of the segments after an earlier
 * star can always be moved right, so retrying there finds nothing new). A backtracking regex
 * takes exponential time on `*a*a*a*a*b`; this never does.
 */
export function globMatch(glob: string, name: string, counter?: StepCounter): boolean {
  let g = 0;
  let n = 0;
  let star = -1; // the glob's last `*` seen so far
  let resume = 0; // where in the name that star's run ends now
  let steps = 0;
  while (n < name.length) {
    steps++;
    const c = glob.charCodeAt(g);
    if (c === STAR) {
      star = g++;
      resume = n;
    } else if (g < glob.length && (c === QUESTION || c === name.charCodeAt(n))) {
      g++;
      n++;
    } else if (star >= 0) {
      g = star + 1;
      n = ++resume;
    } else {
      if (counter) counter.steps += steps;
      return false;
    }
  }
  while (g < glob.length && glob.charCodeAt(g) === STAR) (g++, steps++);
  if (counter) counter.steps += steps;
  return g === glob.length;
}

const STAR = 42;
const QUESTION = 63;

export function matchesAny(globs: readonly string[], name: string, counter?: StepCounter): boolean {
  for (const glob of globs) if (globMatch(glob, name, counter)) return true;
  return false;
}

/** A token's globs as it keeps them: null when it names none. */
function globList(globs: readonly string[] | undefined): readonly string[] | null {
  return globs && globs.length > 0 ? [...globs] : null;
}

/** The complaint about a spec, or null when it is usable. */
export function checkSpec(v: unknown): string | null {
  if (!v || typeof v !== "object" || Array.isArray(v)) return "must be a mapping with id, sha256 and roles";
  const s = v as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!["id", "sha256", "roles", "queues", "deny", "rate", "burst"].includes(key)) return `has an unknown key ${key}`;
  }
  if (typeof s.id !== "string" || !TOKEN_ID.test(s.id)) return "id must be 1 to 64 characters of A-Z a-z 0-9 -";
  if (typeof s.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(s.sha256)) return "sha256 must be 64 lower-case hex digits";
  if (!Array.isArray(s.roles) || s.roles.length === 0 || !s.roles.every((r) => ROLES.includes(r))) {
    return `roles must be a non-empty list of ${ROLES.join(", ")}`;
  }
  for (const key of ["queues", "deny"]) {
    const list = s[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((g) => typeof g === "string" && /^[A-Za-z0-9_.:*?-]{1,128}$/.test(g))) {
      return `${key} must be a list of queue-name globs (A-Z a-z 0-9 _ - . : * ?)`;
    }
  }
  for (const key of ["rate", "burst"]) {
    const n = s[key];
    if (n !== undefined && (typeof n !== "number" || !Number.isFinite(n) || n <= 0 || n > 1e6)) {
      return `${key} must be a number above 0 and at most 1000000`;
    }
  }
  return null;
}

export function compile(spec: TokenSpec): Token {
  const rate = spec.rate ?? 0;
  return {
    id: spec.id,
    roles: new Set(spec.roles),
    allow: globList(spec.queues),
    deny: globList(spec.deny),
    rate,
    burst: spec.burst ?? Math.max(1, Math.ceil(rate)),
    digest: Buffer.from(spec.sha256, "hex"),
    globs: { queues: spec.queues ?? ["*"], deny: spec.deny ?? [] },
  };
}

// compared against when the id is unknown or the token malformed, so that every failure costs
// one SHA-256 and one constant-time comparison, like a success
const DECOY = digestOf("pq_decoy_" + randomBytes(32).toString("base64url"));

export class TokenTable {
  private readonly byId: Map<string, Token>;

  constructor(specs: readonly TokenSpec[]) {
    this.byId = new Map();
    for (const spec of specs) {
      if (this.byId.has(spec.id)) throw new Error(`token id ${spec.id} is given twice`);
      this.byId.set(spec.id, compile(spec));
    }
  }

  get size(): number {
    return this.byId.size;
  }

  /** The token a presented secret belongs to, or null. */
  verify(presented: string): Token | null {
    const shape = TOKEN_SHAPE.exec(presented);
    const entry = shape ? this.byId.get(shape[1]) : undefined;
    const same = timingSafeEqual(digestOf(presented), entry ? entry.digest : DECOY);
    return same && entry ? entry : null;
  }
}

/** Whether the token may touch `queue`, a valid queue name (at most 128 characters: check it first,
 *  so that matching costs at most a few thousand steps per glob). */
export function mayUseQueue(token: Token, queue: string, counter?: StepCounter): boolean {
  if (token.deny && matchesAny(token.deny, queue, counter)) return false;
  return !token.allow || matchesAny(token.allow, queue, counter);
}
