// /schedules: recurring jobs (issue 20). A schedule belongs to a queue and lives in its keys; the
// ticks are run by the sweep of the queue (src/store/store.ts, sweep), whichever process makes it.
import { HttpError, badRequest } from "../../shared/errors.js";
import { readLooseObject, sendEmpty, sendJson, type Req } from "../http.js";
import { MAX_PRIORITY, queueParam } from "../params.js";
import type { Context, Router } from "../router.js";
import { checkSchedule, isScheduleName, type ScheduleView } from "../../store/schedules.js";

/** A schedule as the API shows it: its definition, and its next and last runs in epoch seconds. */
export function scheduleBody(s: ScheduleView) {
  return {
    queue: s.queue,
    name: s.name,
    ...(s.cron !== undefined && { cron: s.cron, tz: s.tz ?? "UTC" }),
    ...(s.every !== undefined && { every: s.every }),
    job: s.job,
    ...(s.priority !== undefined && { priority: s.priority }),
    ...(s.max_attempts !== undefined && { max_attempts: s.max_attempts }),
    next_run_at: s.nextMs === null ? null : s.nextMs / 1000,
    last_run_at: s.last ? s.last.atMs / 1000 : null,
    // null with a last run: the tick came while the queue was full (max_length), and was skipped
    last_job_id: s.last?.id ?? null,
  };
}

function nameParam(req: Req): string {
  const name = req.params.name;
  if (name === undefined || !isScheduleName(name)) throw badRequest("invalid schedule name: 1-128 characters of A-Z a-z 0-9 _ - . :");
  return name;
}

/** The most queues GET /schedules/ reads (each one script call). */
const MAX_LISTED_QUEUES = 1000;

export function registerScheduleRoutes(router: Router, ctx: Context): void {
  const { store, config } = ctx;

  router.route("/schedules/", {
    GET: async (_req, res) => {
      const queues = await store.scheduleQueues(MAX_LISTED_QUEUES);
      const lists = await Promise.all(queues.map((queue) => store.schedules(queue)));
      sendJson(res, 200, { schedules: lists.flat().map(scheduleBody) });
    },
  });

  router.route("/schedules/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      sendJson(res, 200, { queue, schedules: (await store.schedules(queue)).map(scheduleBody) });
    },
  });

  router.route("/schedules/:queue/:name", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const [found] = await store.schedules(queue, nameParam(req));
      if (!found) throw new HttpError(404, "no such schedule");
      sendJson(res, 200, scheduleBody(found));
    },
    // presque's clients sent control bodies without a JSON Content-Type: read as JSON regardless
    PUT: async (req, res) => {
      const queue = queueParam(req);
      const name = nameParam(req);
      const spec = checkSchedule(await readLooseObject(req, config.server.max_body, "body"), MAX_PRIORITY);
      const { outcome } = await store.setSchedule(queue, name, spec);
      const [saved] = await store.schedules(queue, name);
      sendJson(res, outcome === "created" ? 201 : 200, { ...scheduleBody(saved), outcome });
    },
    DELETE: async (req, res) => {
      const queue = queueParam(req);
      if (!(await store.deleteSchedule(queue, nameParam(req)))) throw new HttpError(404, "no such schedule");
      sendEmpty(res);
    },
  });
}
