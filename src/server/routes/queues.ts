// /j, /status, /control and /stats: what a queue holds and how it behaves.
import { controlBody, queueFigures, rawArray, statsEntry, withRaw } from "../api.js";
import { QUEUE_SETTING_RANGES } from "../config.js";
import { badRequest } from "../../shared/errors.js";
import { readLooseObject, sendJson, sendRaw } from "../http.js";
import type { Query } from "../http.js";
import type { Order } from "../../store/lists.js";
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

  // trouter matches "/status" with or without its trailing slash, as presque's clients wrote it.
  // presque's shape, {"queues": [...], "size": n}, with size the number of all queues and the names
  // a page of them in name order: all of them up to STATUS_LIMIT queues, as before.
  router.route("/status/", {
    GET: async (req, res) => {
      const offset = intParam(req.query, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
      const limit = intParam(req.query, "limit", 1, STATUS_LIMIT, STATUS_LIMIT);
      const [queues, size] = await Promise.all([store.lists.queuePage(offset, limit), store.lists.queueCount()]);
      sendJson(res, 200, { queues, size });
    },
  });

  router.route("/status/:queue", {
    GET: async (req, res) => {
      const queue = queueParam(req);
      const withDesc = stringParam(req.query, "with_desc");
      if (withDesc !== undefined && !["0", "1", "true", "false"].includes(withDesc)) throw badRequest("with_desc must be 1 or 0");
      const limit = intParam(req.query, "limit", 1, 10000, 100);
      const state = await store.state(queue);
      const body = { queue, size: state.waiting + state.prioritized };
      if (withDesc !== "1" && withDesc !== "true") return sendJson(res, 200, body);
      // at most about 4 MB of payload (at least one job), as GET /qb; truncated says it stopped
      // there. The stored bytes go out as they are, never parsed again.
      const { payloads, truncated } = await store.peek(queue, limit);
      sendRaw(res, 200, withRaw({ ...body, ...(truncated && { truncated: true }) }, "jobs", rawArray(payloads)));
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

  router.route("/stats/", { GET: async (req, res) => sendJson(res, 200, await stats(ctx, statsQuery(req.query))) });
}

const SETTING_RANGES: Record<string, readonly [number, number]> = QUEUE_SETTING_RANGES;

/** {"status": "stop"|"start"} and/or queue settings; null restores a setting's default. */
function controlChanges(body: Record<string, unknown>, maxLease: number): Record<string, string | number> {
  const changes: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "status") {
      if (value !== "stop" && value !== "start") throw badRequest('status must be "stop" or "start"');
      changes.status = value === "stop" ? 0 : 1;
    } else if (key in LIMIT_RANGES) {
      Object.assign(changes, limitChange(key as keyof typeof LIMIT_RANGES, value));
    } else if (key !== "lease" && !(key in SETTING_RANGES)) {
      throw badRequest(
        `unknown control key ${key}: use status, lease, ${[...Object.keys(SETTING_RANGES), ...Object.keys(LIMIT_RANGES)].join(", ")}`,
      );
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

/** Issue 20's per-queue limits, which have no server-wide default (absent: no limit). The rate is
 *  jobs per second and may be a fraction; the others are whole numbers. */
export const LIMIT_RANGES = {
  rate: [0.001, 1_000_000],
  burst: [1, 1_000_000],
  concurrency: [1, 1_000_000],
  expires_in: [1, 365 * 86400],
} as const;

function limitChange(key: keyof typeof LIMIT_RANGES, value: unknown): Record<string, string | number> {
  const [min, max] = LIMIT_RANGES[key];
  let stored: string | number = "";
  if (value !== null) {
    if (key === "rate") {
      if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
        throw badRequest(`rate must be a number of jobs per second from ${min} to ${max} (or null for no limit)`);
      }
      stored = value;
    } else {
      if (typeof value !== "number") throw badRequest(`${key} must be a number (or null for no limit)`);
      stored = checkInt(value, key, min, max);
    }
  }
  // a new rate or burst starts a full bucket: the old level means nothing under the new terms
  return key === "rate" || key === "burst" ? { [key]: stored, bucket: "", bucket_at: "" } : { [key]: stored };
}

/** The most names GET /status/ lists at once, and its default. */
export const STATUS_LIMIT = 10_000;
const STATS_LIMIT = 100;
const STATS_MAX_LIMIT = 1000;

export interface StatsQuery {
  offset: number;
  limit: number;
  sort: "name" | "size";
  order: Order;
}

function statsQuery(query: Query): StatsQuery {
  const sort = stringParam(query, "sort") ?? "name";
  if (sort !== "name" && sort !== "size") throw badRequest("sort must be name or size");
  // by name A to Z; by size the largest first
  const order = stringParam(query, "order") ?? (sort === "size" ? "desc" : "asc");
  if (order !== "asc" && order !== "desc") throw badRequest("order must be asc or desc");
  return {
    offset: intParam(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0),
    limit: intParam(query, "limit", 1, STATS_MAX_LIMIT, STATS_LIMIT),
    sort,
    order,
  };
}

/** One page of queues with their figures, sorted by name (a range of the sorted list of names) or
 *  by size (a ranking of every queue, cached a few seconds per process: see Lists.queuesBySize). */
export async function stats(ctx: Context, q: StatsQuery) {
  const { store } = ctx;
  const page = async (): Promise<[string[], number]> => {
    if (q.sort === "name") return Promise.all([store.lists.queuePage(q.offset, q.limit, q.order), store.lists.queueCount()]);
    const ranked = await store.lists.queuesBySize();
    const n = ranked.length;
    // ascending is the ranking read from its end: only the page is copied, never the whole ranking
    const part =
      q.order === "desc"
        ? ranked.slice(q.offset, q.offset + q.limit)
        : ranked.slice(Math.max(0, n - q.offset - q.limit), Math.max(0, n - q.offset)).reverse();
    return [part.map((r) => r.name), n];
  };
  const [[names, total], workers, processes] = await Promise.all([page(), store.lists.workerCount(), ctx.processes()]);
  const queues = await Promise.all(names.map(async (name) => statsEntry(name, await store.state(name))));
  // on a cluster: every node the client knows now, with its role (absent on one Redis)
  const { nodes, ...redis } = ctx.redisInfo;
  const clusterNodes = nodes?.();
  const shown = clusterNodes ? { ...redis, nodes: clusterNodes } : redis;
  return { redis: shown, queues, total, offset: q.offset, limit: q.limit, sort: q.sort, order: q.order, workers, processes };
}
