// Recurring jobs: what a schedule is, and when it runs next. The next run is computed here, with
// croner (a maintained cron library: time zones and DST by the IANA rules of Intl), and handed to
// the scripts as a candidate; the scripts only compare and set (lua/fireSchedules.v1.lua), so that
// each tick enqueues one job whatever the number of presque processes.
import { Cron } from "croner";
import { badRequest } from "../shared/errors.js";

export interface ScheduleSpec {
  cron?: string;
  /** IANA time zone of the cron expression (default UTC) */
  tz?: string;
  /** seconds between runs, instead of cron */
  every?: number;
  job: unknown;
  priority?: number;
  max_attempts?: number;
}

export interface ScheduleView extends ScheduleSpec {
  queue: string;
  name: string;
  /** ms */
  nextMs: number | null;
  /** the last tick: when, and the job it enqueued (null: the queue was full, the tick skipped) */
  last: { atMs: number; id: string | null } | null;
}

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
export const MAX_EVERY = 366 * 86400;
export const MIN_EVERY = 1;

export function isScheduleName(name: string): boolean {
  return NAME.test(name);
}

/** Checks a schedule as a client or config.yaml gives it; every complaint is a 400 naming the field. */
/** `maxPriority`: the server's bound on ?priority= (src/server/params.ts, MAX_PRIORITY). */
export function checkSchedule(value: unknown, maxPriority = 1_000_000): ScheduleSpec {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw badRequest('a schedule is a JSON object such as {"cron": "*/5 * * * *", "job": {...}}');
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!["cron", "tz", "every", "job", "priority", "max_attempts"].includes(key)) {
      throw badRequest(`unknown schedule key ${key}: use cron, tz, every, job, priority, max_attempts`);
    }
  }
  if ((v.cron === undefined) === (v.every === undefined)) throw badRequest("give cron (an expression) or every (seconds), one of them");
  if (v.job === null || typeof v.job !== "object" || Array.isArray(v.job)) throw badRequest("job must be a JSON object");
  const spec: ScheduleSpec = { job: v.job };
  if (v.cron !== undefined) {
    if (typeof v.cron !== "string" || v.cron.length > 256) throw badRequest("cron must be a cron expression such as */5 * * * *");
    if (v.tz !== undefined && (typeof v.tz !== "string" || v.tz.length > 64))
      throw badRequest("tz must be a time zone such as Europe/Paris");
    spec.cron = v.cron;
    if (v.tz !== undefined) spec.tz = v.tz as string;
    cronOf(spec); // the expression and the zone are checked by computing a run
  } else {
    if (v.tz !== undefined) throw badRequest("tz applies to cron schedules only");
    if (typeof v.every !== "number" || !Number.isInteger(v.every) || v.every < MIN_EVERY || v.every > MAX_EVERY) {
      throw badRequest(`every must be a whole number of seconds from ${MIN_EVERY} to ${MAX_EVERY}`);
    }
    spec.every = v.every;
  }
  if (v.priority !== undefined) {
    if (!Number.isInteger(v.priority) || Math.abs(v.priority as number) > maxPriority) {
      throw badRequest(`priority must be an integer from -${maxPriority} to ${maxPriority}`);
    }
    spec.priority = v.priority as number;
  }
  if (v.max_attempts !== undefined) {
    if (!Number.isInteger(v.max_attempts) || (v.max_attempts as number) < 1 || (v.max_attempts as number) > 1000) {
      throw badRequest("max_attempts must be an integer from 1 to 1000");
    }
    spec.max_attempts = v.max_attempts as number;
  }
  return spec;
}

function cronOf(spec: ScheduleSpec): Cron {
  let cron: Cron;
  try {
    // legacyMode: a day of month and a day of week both given mean either, as in Vixie cron
    cron = new Cron(spec.cron!, { timezone: spec.tz, legacyMode: true });
  } catch (err) {
    const message = (err as Error).message;
    if (/time ?zone/i.test(message)) throw badRequest(`tz ${spec.tz} is not a time zone this server knows (e.g. Europe/Paris)`);
    throw badRequest(`cron ${JSON.stringify(spec.cron)} is not a valid cron expression: ${message}`);
  }
  // a time zone is only checked when a run is computed
  try {
    if (cron.nextRun(new Date()) === null) throw badRequest(`cron ${JSON.stringify(spec.cron)} never runs`);
  } catch (err) {
    if ((err as { status?: number }).status === 400) throw err;
    throw badRequest(`tz ${spec.tz} is not a time zone this server knows (e.g. Europe/Paris)`);
  }
  return cron;
}

/** The stored form: canonical JSON (fixed key order), so that an unchanged definition compares
 *  equal and keeps its next run. The job is kept as its JSON text, which the script pushes as is. */
export function definitionOf(spec: ScheduleSpec): string {
  return JSON.stringify({
    cron: spec.cron,
    tz: spec.tz,
    every: spec.every,
    priority: spec.priority,
    max_attempts: spec.max_attempts,
    payload: JSON.stringify(spec.job),
  });
}

export function specOf(definition: string): ScheduleSpec {
  const d = JSON.parse(definition) as ScheduleSpec & { payload: string };
  const { payload, ...rest } = d;
  return { ...rest, job: JSON.parse(payload) };
}

/**
 * The first run strictly after `afterMs`. An `every` schedule keeps its phase: runs are `from` plus
 * whole periods (`from`, the run that just came due, or the time it was set). Ticks missed meanwhile
 * are skipped, not made up: after an outage the tick that comes due gives one job, and the next one
 * is the first after now.
 */
export function nextRun(spec: ScheduleSpec, afterMs: number, fromMs: number = afterMs): number {
  if (spec.every !== undefined) {
    const period = spec.every * 1000;
    const periods = Math.max(1, Math.floor((afterMs - fromMs) / period) + 1);
    return fromMs + periods * period;
  }
  const next = cronOf(spec).nextRun(new Date(afterMs));
  // a cron that runs no more (a year field in the past): far away, so that it is never due
  return next ? next.getTime() : Number.MAX_SAFE_INTEGER;
}
