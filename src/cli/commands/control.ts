// presque stop|start|purge <queue>
import { client, parse, requireQueue } from "./args.js";

const WHAT = {
  stop: "stops handing out the queue's jobs (it still takes new ones)",
  start: "hands out the queue's jobs again",
  purge: "deletes every job, uniq key, counter and status of the queue",
};

export function controlCommand(action: keyof typeof WHAT) {
  const usage = `Usage: presque ${action} <queue> [options]
  ${WHAT[action]}.

Options:
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;
  return async (argv: string[]): Promise<void> => {
    const args = parse(argv, usage);
    if (!args) return;
    const queue = requireQueue(args.positionals, usage);
    const presque = client(args);
    try {
      if (action === "purge") await presque.purge(queue);
      else await presque[action](queue);
      process.stderr.write(`${queue}: ${action === "purge" ? "purged" : action === "stop" ? "stopped" : "started"}\n`);
    } finally {
      presque.close();
    }
  };
}
