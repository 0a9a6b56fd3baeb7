// presque schedule set|list|delete: recurring jobs (docs/schedules.md).
import { client, parse, printJson, UsageError } from "./args.js";
import type { ScheduleSpec } from "../../client/client.js";

const USAGE = `Usage: presque schedule <set|list|delete> ...

  presque schedule set <queue> <name> (--cron '<expr>' [--tz <zone>] | --every <seconds>) '<job json>'
                       [--priority <n>] [--max-attempts <n>]
                                   create or replace a schedule (unchanged: keeps its next run)
  presque schedule list [queue]    every schedule, or one queue's, as JSON lines
  presque schedule delete <queue> <name>

Options:
  --url <url>        presque's address (PRESQUE_URL; default http://127.0.0.1:5000)
  --token <token>    API token (PRESQUE_TOKEN), when presque asks for one
`;

const OPTIONS = {
  cron: { type: "string" },
  tz: { type: "string" },
  every: { type: "string" },
  priority: { type: "string" },
  "max-attempts": { type: "string" },
} as const;

export async function scheduleCommand(argv: string[]): Promise<void | number> {
  const args = parse(argv, USAGE, OPTIONS);
  if (!args) return;
  const [action, queue, name, job] = args.positionals;
  const presque = client(args);
  try {
    if (action === "list") {
      for (const s of await presque.schedules(queue)) printJson(s);
      return;
    }
    if (!queue || !name) throw new UsageError(`a queue and a schedule name are needed\n\n${USAGE}`);
    if (action === "delete") {
      if (await presque.deleteSchedule(queue, name)) return;
      process.stderr.write(`${queue}/${name}: no such schedule\n`);
      return 1;
    }
    if (action !== "set") throw new UsageError(`unknown action ${action ?? "(none)"}\n\n${USAGE}`);
    if (job === undefined) throw new UsageError(`the job is needed, as JSON\n\n${USAGE}`);
    let data: unknown;
    try {
      data = JSON.parse(job);
    } catch {
      throw new UsageError(`the job is not valid JSON: ${job}`);
    }
    const v = args.values;
    const int = (name: string, raw: string | boolean | undefined) => {
      if (raw === undefined) return undefined;
      const n = Number(raw);
      if (typeof raw !== "string" || !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number`);
      return n;
    };
    const spec = {
      job: data as object,
      ...(v.cron !== undefined && { cron: String(v.cron) }),
      ...(v.tz !== undefined && { tz: String(v.tz) }),
      ...(v.every !== undefined && { every: int("every", v.every) }),
      ...(v.priority !== undefined && { priority: int("priority", v.priority) }),
      ...(v["max-attempts"] !== undefined && { max_attempts: int("max-attempts", v["max-attempts"]) }),
    } as ScheduleSpec;
    // the server checks the rest (cron, zone, ranges) and says what is wrong
    printJson(await presque.setSchedule(queue, name, spec));
  } finally {
    presque.close();
  }
}
