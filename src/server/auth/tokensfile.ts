// Where the tokens come from: `auth.tokens` in the config, and the file named by `auth.tokens_file`
// (or PRESQUE_TOKENS_FILE), which SIGHUP reads again.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { checkSpec, TokenTable, type TokenSpec } from "./tokens.js";

export interface AuthSettings {
  tokens: TokenSpec[];
  tokens_file?: string;
  insecure: boolean;
}

export class TokensFileError extends Error {}

/** The file is YAML (so JSON too): a list of tokens, or a mapping with a `tokens` list. */
export function readTokensFile(file: string): TokenSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new TokensFileError(`${file}: cannot be read as YAML (${(err as Error).message.split("\n")[0]})`);
  }
  if (doc === null || doc === undefined) return [];
  const list = Array.isArray(doc) ? doc : (doc as Record<string, unknown>)?.tokens;
  if (!Array.isArray(list)) throw new TokensFileError(`${file}: must hold a list of tokens (or tokens: [...])`);
  list.forEach((spec, i) => {
    const complaint = checkSpec(spec);
    if (complaint) throw new TokensFileError(`${file}: token ${i + 1} ${complaint}`);
  });
  return list as TokenSpec[];
}

/** Every configured token, checked; throws TokensFileError naming what is wrong. */
export function loadTokenTable(auth: AuthSettings): TokenTable {
  const specs = [...auth.tokens, ...(auth.tokens_file ? readTokensFile(auth.tokens_file) : [])];
  try {
    return new TokenTable(specs);
  } catch (err) {
    throw new TokensFileError((err as Error).message);
  }
}

export function tokensConfigured(auth: AuthSettings): boolean {
  return auth.tokens.length > 0 || !!auth.tokens_file;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i;

/** Open (no tokens) is fine on loopback; elsewhere it needs --insecure. Null when fine. */
export function exposureComplaint(host: string, auth: AuthSettings): string | null {
  if (tokensConfigured(auth) || auth.insecure || LOOPBACK.test(host.replace(/^\[|\]$/g, ""))) return null;
  return (
    `refusing to listen on ${host} with no tokens configured: anyone who can reach it could push, take ` +
    `and purge jobs. Configure auth.tokens (or PRESQUE_TOKENS_FILE; see presque token new), listen on ` +
    `127.0.0.1, or pass --insecure (PRESQUE_INSECURE=1) to serve without tokens anyway`
  );
}
