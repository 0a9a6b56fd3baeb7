// presque stats as a person reads it on a terminal: the queues as a table, the server in a few lines.
// Piped (or with --json) it stays the JSON of the API, so that scripts keep reading it.
import type { QueueFigures, Stats } from "../../client/client.js";

export type StatsFormat = "json" | "table";

/** JSON when asked for, or when nobody looks (a pipe, a file); a table on a terminal. */
export function statsFormat(opts: { json?: boolean; isTTY?: boolean }): StatsFormat {
  return opts.json || !opts.isTTY ? "json" : "table";
}

const COLUMNS: Array<[string, (q: QueueFigures & { status?: number; lease?: number }) => string | number]> = [
  ["queue", (q) => q.queue_name],
  ["status", (q) => (q.status === undefined ? "" : q.status ? "open" : "stopped")],
  ["ready", (q) => q.job_count],
  ["prioritized", (q) => q.job_prioritized],
  ["delayed", (q) => q.job_delayed],
  ["leased", (q) => q.job_leased],
  ["dead", (q) => q.job_dead],
  ["processed", (q) => q.job_processed],
  ["failed", (q) => q.job_failed],
];

/** The queues, a column per figure padded to its widest cell: names to the left, figures (and
 *  their headers) to the right. */
function queueTable(queues: Array<QueueFigures & { status?: number }>): string {
  const rows = [COLUMNS.map(([name]) => name), ...queues.map((q) => COLUMNS.map(([, cell]) => String(cell(q))))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function ago(startedAtSeconds: number, now: number): string {
  const s = Math.max(0, Math.round(now / 1000 - startedAtSeconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/** GET /stats/ for a terminal. Processes are summarised (build, layout, how many scripts), never
 *  listed script by script: that detail is in --json. */
export function renderStats(stats: Stats, now = Date.now()): string {
  const out: string[] = [];
  const redis = `${stats.redis.target} (Redis ${stats.redis.version}${stats.redis.embedded ? ", embedded" : ""})`;
  out.push(`redis      ${redis}`);
  out.push(`processes  ${stats.processes.length}`);
  // one line each, the scripts counted: their names and versions are in --json
  for (const p of stats.processes) {
    out.push(`  ${p.id}  presque ${p.version}, layout ${p.layout}, ${p.scripts.length} scripts, up ${ago(p.started_at, now)}`);
  }
  out.push(`workers    ${stats.workers}`);
  out.push("");
  if (stats.total === 0) {
    out.push("no queues yet");
  } else {
    out.push(queueTable(stats.queues));
    const shown = stats.queues.length;
    // one page (100 by name, as GET /stats/ gives): the API pages further
    const range = shown < stats.total ? `${stats.offset + 1}-${stats.offset + shown} of ` : "";
    out.push("", `queues: ${range}${stats.total} (by ${stats.sort})`);
  }
  return `${out.join("\n")}\n`;
}

/** GET /j/:queue (presque stats <queue>) for a terminal. */
export function renderQueueStats(figures: QueueFigures): string {
  return `${queueTable([figures])}\n`;
}
