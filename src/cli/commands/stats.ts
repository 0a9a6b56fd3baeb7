// presque stats [queue]: the figures of every queue (GET /stats/), or of one (GET /j/:queue).
import { client, parse } from "./args.js";
import { renderQueueStats, renderStats, statsFormat } from "./statstable.js";

const USAGE = `Usage: presque stats [queue] [options]
  Prints the figures of every queue, or of one: a table on a terminal, JSON when piped.

Options:
  --json             JSON (the API's reply) on a terminal too
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;

export async function statsCommand(argv: string[]): Promise<void> {
  const args = parse(argv, USAGE, { json: { type: "boolean" } });
  if (!args) return;
  const presque = client(args);
  try {
    const queue = args.positionals[0];
    const figures = queue ? await presque.queueStats(queue) : await presque.stats();
    const format = statsFormat({ json: args.values.json === true, isTTY: process.stdout.isTTY });
    if (format === "json") process.stdout.write(`${JSON.stringify(figures, null, process.stdout.isTTY ? 2 : undefined)}\n`);
    else process.stdout.write("queue_name" in figures ? renderQueueStats(figures) : renderStats(figures));
  } finally {
    presque.close();
  }
}
