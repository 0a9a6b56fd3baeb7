// presque pop <queue>: take one job and print it (the id on stderr).
import { client, number, parse, printJson, requireQueue } from "./args.js";

const USAGE = `Usage: presque pop <queue> [options]
  Takes one job and prints its JSON; exits 1 when there is none.

Options:
  --lease <s>        lease it instead of deleting it (then ack it with its attempt)
  --wait <s>         wait this long for a job when none is ready
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;

export async function popCommand(argv: string[]): Promise<number | void> {
  const args = parse(argv, USAGE, { lease: { type: "string" }, wait: { type: "string" } });
  if (!args) return;
  const queue = requireQueue(args.positionals, USAGE);
  const presque = client(args);
  try {
    const lease = number(args.values.lease, "lease", 0, 0);
    const job = await presque.fetch(queue, { lease, wait: number(args.values.wait, "wait", 0, 0) });
    if (!job) {
      process.stderr.write(`presque: no job in ${queue}\n`);
      return 1;
    }
    if (job.attempt) process.stderr.write(`job ${job.id}, attempt ${job.attempt}, leased until ${job.leaseExpiresAt}\n`);
    else process.stderr.write(`job ${job.id}\n`);
    printJson(job.data);
  } finally {
    presque.close();
  }
}
