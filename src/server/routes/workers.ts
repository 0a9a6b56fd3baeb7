// /w — workers register themselves for statistics.
import { badRequest, HttpError } from "../../shared/errors.js";
import { isObject, parseJson, readBody, sendEmpty, sendJson, type Req, type Res } from "../http.js";
import { intParam, queueParam, stringParam, workerId } from "../params.js";
import type { Context, Router } from "../router.js";
import { mayUseQueue } from "../auth/tokens.js";

const MISSING = "worker_id is missing";
/** The most workers GET /w/ lists (names of up to 256 characters: a few MB at most). */
const MAX_WORKERS = 10_000;

export function registerWorkerRoutes(router: Router, ctx: Context): void {
  const { store, config } = ctx;

  const listOrDescribe = async (req: Req, res: Res) => {
    const queue = stringParam(req.query, "queue_name");
    const worker = stringParam(req.query, "worker_id");
    // a token limited to some queues sees the workers of those only (?queue_name= is judged by
    // the guard as the queue it names)
    const token = req.token;
    const visible = token && (token.allow || token.deny) ? (q: string) => mayUseQueue(token, q) : undefined;
    if (queue !== undefined) {
      req.params = { queue };
      const name = queueParam(req);
      const [workers, state] = await Promise.all([store.lists.queueWorkers(name), store.state(name)]);
      sendJson(res, 200, { queue_name: name, workers_list: workers, processed: state.processed, failed: state.failed });
    } else if (worker !== undefined) {
      const info = await store.lists.worker(worker, visible);
      if (!info) throw new HttpError(404, "unknown worker");
      sendJson(res, 200, info);
    } else {
      // ?limit= caps the list (the page at / asks for a few); without it, at most MAX_WORKERS
      const workers = await store.lists.workers(intParam(req.query, "limit", 1, MAX_WORKERS, MAX_WORKERS));
      sendJson(res, 200, visible ? await store.lists.workersOn(workers, visible) : workers);
    }
  };
  router.route("/w/", { GET: listOrDescribe }); // also matches "/w"

  router.route("/w/:queue", {
    // the id comes from X-presque-workerid or a JSON body {"worker_id": "..."}, whatever its
    // Content-Type: presque's own documentation sent it as 'appplication/json'
    POST: async (req, res) => {
      const queue = queueParam(req);
      const worker = workerId(req) || (await bodyWorkerId(req, config.server.max_body));
      if (!worker) throw badRequest(MISSING);
      await store.registerWorker(queue, worker);
      sendJson(res, 201, { worker_id: worker, queue });
    },
    DELETE: async (req, res) => {
      const queue = queueParam(req);
      const worker = workerId(req);
      if (!worker) throw badRequest(MISSING);
      await store.unregisterWorker(queue, worker);
      sendEmpty(res);
    },
  });
}

async function bodyWorkerId(req: Req, limit: number): Promise<string> {
  const body = await readBody(req, limit);
  if (body.length === 0) return "";
  const value = parseJson(body, "body");
  if (!isObject(value)) throw badRequest('body must be a JSON object such as {"worker_id": "..."}');
  const id = value.worker_id;
  if (id === undefined || id === null || id === "") return "";
  if (typeof id !== "string" || id.length > 256) throw badRequest("worker_id must be a string of at most 256 characters");
  return id;
}
