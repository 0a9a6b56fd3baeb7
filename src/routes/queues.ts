// /j, /status, /control and /stats: what a queue holds and how it behaves.
import { controlBody, queueFigures, statsEntry } from "../api.js";
import { badRequest } from "../errors.js";
import { readLooseObject, sendJson } from "../http.js";
import { checkInt, intParam, queueParam, stringParam } from "../params.js";
import type { Context, Router } from "../router.js";

export function registerQueueRoutes(router: Router, ctx: Context): void {
  const { store, config } = ctx;

  router.route("/j/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      sendJson(res, 200, queueFigures(queue, await store.state(queue)));
    },
  });

  // trouter matches "/status" with or without its trailing slash, as presque's clients wrote it
  router.route("/status/", {
    GET: async (_req, res) => {
      const queues = await store.lists.queues();
      sendJson(res, 200, { queues, size: queues.length });
    },
  });

  router.route("/status/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const withDesc = stringParam(req.query, "with_desc");
      if (withDesc !== undefined && !["0", "1", "true", "false"].includes(withDesc)) throw badRequest("with_desc must be 1 or 0");
      const limit = intParam(req.query, "limit", 1, 10000, 100);
      const state = await store.state(queue);
      const body: Record<string, unknown> = { queue, size: state.waiting + state.prioritized };
      if (withDesc === "1" || withDesc === "true") {
        body.jobs = (await store.peek(queue, limit)).map((p) => JSON.parse(p.toString("utf8")));
      }
      sendJson(res, 200, body);
    },
  });

  router.route("/control/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      sendJson(res, 200, controlBody(queue, await store.state(queue)));
    },
    // presque's clients sent this without a JSON Content-Type: the body is read as JSON regardless
    POST: async (req, res) => {
      const queue = queueParam(req);
      const changes = controlChanges(await readLooseObject(req, config.server.max_body, "body"), config.jobs.max_lease);
      await store.configure(queue, changes);
      sendJson(res, 200, { response: "updated", queue });
    },
  });

  router.route("/stats/", { GET: async (_req, res) => sendJson(res, 200, await stats(ctx)) });
}

const SETTING_RANGES: Record<string, [number, number]> = {
  max_attempts: [1, 1000],
  backoff_base: [0, 86400],
  backoff_cap: [0, 30 * 86400],
  max_length: [0, 1_000_000_000], // 0: no limit
  max_payload: [0, 512 * 1024 * 1024], // bytes; 0: no limit but server.max_body
  idempotency_window: [1, 30 * 86400],
};

/** {"status": "stop"|"start"} and/or queue settings; null restores a setting's default. */
function controlChanges(body: Record<string, unknown>, maxLease: number): Record<string, string | number> {
  const changes: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "status") {
      if (value !== "stop" && value !== "start") throw badRequest('status must be "stop" or "start"');
      changes.status = value === "stop" ? 0 : 1;
    } else if (key !== "lease" && !(key in SETTING_RANGES)) {
      throw badRequest(`unknown control key ${key}: use status, lease, ${Object.keys(SETTING_RANGES).join(", ")}`);
    } else if (value !== null && typeof value !== "number") {
      throw badRequest(`${key} must be a number (or null for the default)`);
    } else if (key === "lease") {
      changes.lease = value === null ? "" : checkInt(value, "lease", 0, maxLease);
    } else {
      changes[key] = value === null ? "" : checkInt(value, key, ...SETTING_RANGES[key]);
    }
  }
  if (Object.keys(changes).length === 0) throw badRequest('give {"status": "stop"} or {"status": "start"}, or a queue setting');
  return changes;
}

export async function stats(ctx: Context) {
  const { store } = ctx;
  const [names, workers, processes] = await Promise.all([store.lists.queues(), store.lists.workers(), ctx.processes()]);
  const queues = await Promise.all(names.map(async (q) => statsEntry(q, await store.state(q))));
  return { redis: ctx.redisInfo, queues, workers: workers.length, processes };
}
