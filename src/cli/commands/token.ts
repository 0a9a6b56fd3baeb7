// presque token new --roles producer,consumer [--queues 'a*,b'] [--deny 'b*'] [--id name] [--rate n --burst n]
// Prints a new token once, and the line that lets it in. presque keeps only the line.
import { parseArgs } from "node:util";
import { checkSpec, newToken, ROLES } from "../../server/auth/tokens.js";

export const TOKEN_USAGE = `Usage: presque token new --roles <roles> [options]

Prints a new API token (once: presque keeps only its SHA-256) and the entry to add under
auth.tokens in config.yaml, or to the file named by PRESQUE_TOKENS_FILE (reloaded on SIGHUP).

  --roles <list>    comma-separated: ${ROLES.join(", ")}
  --queues <globs>  comma-separated queue names or globs (* and ?) it may use; default every queue
  --deny <globs>    queues it may not use, whatever --queues says
  --id <name>       the token's id (A-Z a-z 0-9 -); default random
  --rate <n>        requests per second, counted across processes; default unlimited
  --burst <n>       requests allowed at once before --rate applies; default one second's worth
`;

const list = (v: string | undefined) =>
  v === undefined
    ? undefined
    : v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);

interface Output {
  write(text: string): unknown;
}

export function main(argv: string[], out: Output = process.stdout, err: Output = process.stderr): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        roles: { type: "string" },
        queues: { type: "string" },
        deny: { type: "string" },
        id: { type: "string" },
        rate: { type: "string" },
        burst: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    err.write(`presque token: ${(e as Error).message}\n\n${TOKEN_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out.write(TOKEN_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "new" || !values.roles) {
    err.write(`presque token: say \`token new --roles ...\`\n\n${TOKEN_USAGE}`);
    return 2;
  }
  let made;
  try {
    made = newToken(values.id);
  } catch (e) {
    err.write(`presque token: ${(e as Error).message}\n`);
    return 2;
  }
  const spec: Record<string, unknown> = { id: values.id ?? made.token.split("_")[1], sha256: made.sha256, roles: list(values.roles) };
  if (values.queues !== undefined) spec.queues = list(values.queues);
  if (values.deny !== undefined) spec.deny = list(values.deny);
  if (values.rate !== undefined) spec.rate = Number(values.rate);
  if (values.burst !== undefined) spec.burst = Number(values.burst);
  const complaint = checkSpec(spec);
  if (complaint) {
    err.write(`presque token: the token ${complaint}\n`);
    return 2;
  }
  // one line of YAML flow style, every string quoted (an id or digest of digits must stay a string)
  const line = `- { ${Object.entries(spec)
    .map(([k, v]) => `${k}: ${JSON.stringify(v).replace(/,/g, ", ")}`)
    .join(", ")} }`;
  out.write(
    `${made.token}\n\n` +
      `This is the only time the token is shown. Give it to the client (Authorization: Bearer <token>)\n` +
      `and add this entry under auth.tokens in config.yaml, or to the tokens file:\n\n  ${line}\n`,
  );
  return 0;
}
