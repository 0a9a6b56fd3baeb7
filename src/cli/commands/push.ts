// presque push <queue> ['<json>']: one job from the argument, or one per line of stdin, sent in
// batches of up to 1000 (one POST /qb each), a few batches in flight: one at a time, the command
// would spend most of its time waiting for each answer.
import { createInterface } from "node:readline";
import { client, number, parse, printJson, requireQueue, UsageError } from "./args.js";

const USAGE = `Usage: presque push <queue> ['<json>'] [options]
  With a JSON object as argument, adds that job and prints its id. Without one, reads JSON objects,
  one per line, from stdin, sends them in batches, and prints how many were added.

Options:
  --delay <s>        not handed out before this many seconds from now
  --priority <n>     higher first (default 0)
  --batch <n>        jobs per request when reading stdin (default 1000)
  --in-flight <n>    requests at once when reading stdin (default 4); 1 keeps the lines' order
                     in the queue exactly (with more, each batch is in order, batches may not be)
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;

export async function pushCommand(argv: string[]): Promise<void> {
  const args = parse(argv, USAGE, {
    delay: { type: "string" },
    priority: { type: "string" },
    batch: { type: "string" },
    "in-flight": { type: "string" },
  });
  if (!args) return;
  const queue = requireQueue(args.positionals, USAGE);
  const opts = {
    delay: args.values.delay === undefined ? undefined : number(args.values.delay, "delay", 0, 0),
    priority: args.values.priority === undefined ? undefined : number(args.values.priority, "priority", -1e6, 0),
  };
  const batchSize = number(args.values.batch, "batch", 1, 1000);
  const inFlight = Math.floor(number(args.values["in-flight"], "in-flight", 1, 4));
  const presque = client(args);
  try {
    if (args.positionals.length > 1) {
      const job = jobOf(args.positionals.slice(1).join(" "), "the argument");
      printJson({ id: await presque.push(queue, job, opts) });
      return;
    }
    if (process.stdin.isTTY) throw new UsageError(`give a job as JSON, or JSON lines on stdin\n\n${USAGE}`);
    let batch: object[] = [];
    let pushed = 0;
    let line = 0;
    const sending = new Set<Promise<void>>();
    let failure: unknown;
    const send = async (jobs: object[]) => {
      while (sending.size >= inFlight) await Promise.race(sending);
      if (failure) throw failure;
      const request: Promise<void> = presque.pushBatch(queue, jobs, opts).then(
        (ids) => void (pushed += ids.length),
        (err) => void (failure ??= err),
      );
      sending.add(request);
      void request.finally(() => sending.delete(request));
    };
    for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      line++;
      if (!text.trim()) continue;
      batch.push(jobOf(text, `line ${line}`));
      if (batch.length >= batchSize) {
        await send(batch);
        batch = [];
      }
    }
    if (batch.length) await send(batch);
    await Promise.all(sending);
    if (failure) {
      process.stderr.write(`presque: ${pushed} jobs were added before this failure\n`);
      throw failure;
    }
    printJson({ queue, pushed });
  } finally {
    presque.close();
  }
}

function jobOf(text: string, where: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${where} is not JSON: ${text.slice(0, 80)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`${where} must be a JSON object`);
  return value;
}
