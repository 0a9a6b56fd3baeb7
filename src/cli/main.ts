#!/usr/bin/env node
// presque: the server (presque serve, what npm start runs) and a command-line client for it.
import { UsageError, describeError } from "./commands/args.js";

const USAGE = `Usage: presque <command> [options]

Commands:
  serve [options]                  run the server (presque serve --help)
  push <queue> ['<json>']          add a job, or JSON lines from stdin, sent in batches
  pop <queue>                      take one job and print it
  stats [queue]                    figures of every queue, or of one
  stop|start|purge <queue>         stop handing out jobs, start again, delete every job
  dead <queue> [--retry-all]       list the dead jobs, or make them all ready again
  schedule set|list|delete ...     recurring jobs (presque schedule --help)
  work <queue> [options] -- <command...>
                                   run a program once per job (presque work --help)
  token new --roles <roles>        make an API token (presque token --help)

Every client command takes --url <url> (PRESQUE_URL; default http://127.0.0.1:5000), --token <token>
(PRESQUE_TOKEN) and --help.
`;

type Command = (argv: string[]) => Promise<void | number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import("./commands/serve.js")).serveCommand,
  push: async () => (await import("./commands/push.js")).pushCommand,
  pop: async () => (await import("./commands/pop.js")).popCommand,
  stats: async () => (await import("./commands/stats.js")).statsCommand,
  stop: async () => (await import("./commands/control.js")).controlCommand("stop"),
  start: async () => (await import("./commands/control.js")).controlCommand("start"),
  purge: async () => (await import("./commands/control.js")).controlCommand("purge"),
  dead: async () => (await import("./commands/dead.js")).deadCommand,
  work: async () => (await import("./commands/work.js")).workCommand,
  schedule: async () => (await import("./commands/schedule.js")).scheduleCommand,
  token: async () => {
    const { main } = await import("./commands/token.js");
    return async (argv: string[]) => main(argv);
  },
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return;
  }
  // flags with no command are the server's, as `node dist/cli/main.js --port 5001` always took them
  if (name.startsWith("-")) return run(COMMANDS.serve, argv);
  // npm start is `presque serve`, so `npm start -- token new ...` arrives as `serve token new ...`:
  // serve takes no positional argument, so a command after it is that command
  if (name === "serve" && rest[0] !== undefined && rest[0] !== "serve" && Object.hasOwn(COMMANDS, rest[0])) return main(rest);
  if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command ${name}\n\n${USAGE}`);
  return run(COMMANDS[name], rest);
}

async function run(load: () => Promise<Command>, argv: string[]): Promise<void> {
  const code = await (await load())(argv);
  if (typeof code === "number") process.exitCode = code;
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`presque: ${describeError(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
