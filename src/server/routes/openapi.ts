// GET /openapi.json — the OpenAPI document of the whole API, with this server's limits. Public like
// the dashboard page: it describes the API and holds no data.
import { openApiDocument } from "../openapi/document.js";
import { sendRaw } from "../http.js";
import type { Context, Router } from "../router.js";

export function registerOpenApi(router: Router, ctx: Context): void {
  // built once: the limits it states are fixed for the life of the server
  const body = Buffer.from(JSON.stringify(openApiDocument(ctx.config)));
  router.route("/openapi.json", { GET: (_req, res) => sendRaw(res, 200, body) });
}
