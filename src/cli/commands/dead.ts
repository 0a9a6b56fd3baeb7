// presque dead <queue> [--retry-all]: the dead list, or every dead job made ready again.
import { client, number, parse, printJson, requireQueue } from "./args.js";

const USAGE = `Usage: presque dead <queue> [options]
  Lists the queue's dead jobs (attempts used up) as JSON lines, or makes them all ready again.

Options:
  --retry-all        make every dead job ready again
  --limit <n>        list at most n (default 100)
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;

export async function deadCommand(argv: string[]): Promise<void> {
  const args = parse(argv, USAGE, { "retry-all": { type: "boolean" }, limit: { type: "string" } });
  if (!args) return;
  const queue = requireQueue(args.positionals, USAGE);
  const presque = client(args);
  try {
    if (!args.values["retry-all"]) {
      const list = await presque.dead(queue, { limit: Math.min(1000, number(args.values.limit, "limit", 1, 100)) });
      for (const job of list.jobs) printJson(job);
      process.stderr.write(`${list.jobs.length} of ${list.total} dead jobs in ${queue}\n`);
      return;
    }
    let retried = 0;
    // one page at a time from the front: each retried job leaves the list
    for (;;) {
      const page = await presque.dead(queue, { limit: 1000 });
      if (page.jobs.length === 0) break;
      const before = retried;
      for (const job of page.jobs) {
        try {
          await presque.retryDead(queue, job.id);
          retried++;
        } catch {
          // gone meanwhile (retried or purged by someone else)
        }
      }
      if (retried === before) break;
    }
    printJson({ queue, retried });
  } finally {
    presque.close();
  }
}
