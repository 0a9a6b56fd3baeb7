// presque stats [queue]: the figures of every queue (GET /stats/), or of one (GET /j/:queue).
import { client, parse } from "./args.js";

const USAGE = `Usage: presque stats [queue] [options]
  Prints the figures of every queue, or of one, as JSON.

Options:
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;

export async function statsCommand(argv: string[]): Promise<void> {
  const args = parse(argv, USAGE);
  if (!args) return;
  const presque = client(args);
  try {
    const queue = args.positionals[0];
    const figures = queue ? await presque.queueStats(queue) : await presque.stats();
    process.stdout.write(`${JSON.stringify(figures, null, process.stdout.isTTY ? 2 : undefined)}\n`);
  } finally {
    presque.close();
  }
}
