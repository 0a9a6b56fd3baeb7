// GET / — the dashboard: a page, its script and its style, served as they are from
// src/server/dashboard/assets/ (copied into dist/ by the build), with no inline script, so that a
// strict Content-Security-Policy holds; and GET /whoami, which tells the page what its token may do.
import { readFileSync } from "node:fs";
import { sendJson, sendRaw } from "../http.js";
import { ROLES } from "../auth/tokens.js";
import type { Context, Router } from "../router.js";

const ASSETS = new URL("../dashboard/assets/", import.meta.url);

/** Nothing but this origin's own files and requests; never framed (clickjacking of its buttons). */
export const PAGE_SECURITY = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const ASSET_HEADERS = { "cache-control": "no-cache", ...PAGE_SECURITY };

function asset(name: string, type: string) {
  const body = readFileSync(new URL(name, ASSETS));
  return (_req: unknown, res: import("../http.js").Res) => {
    sendRaw(res, 200, body, ASSET_HEADERS, type);
  };
}

export function registerDashboard(router: Router, ctx: Context): void {
  router.route("/", { GET: asset("index.html", "text/html; charset=utf-8") });
  router.route("/dashboard/app.js", { GET: asset("app.js", "text/javascript; charset=utf-8") });
  router.route("/dashboard/app.css", { GET: asset("app.css", "text/css; charset=utf-8") });

  // with no tokens configured anyone may do anything: every role, every queue
  router.route("/whoami", {
    GET: (req, res) => {
      const token = ctx.guard?.enabled ? ctx.guard.tokenOf(req) : undefined;
      if (!token) return sendJson(res, 200, { tokens: false, roles: ROLES, queues: ["*"], deny: [] });
      sendJson(res, 200, { tokens: true, id: token.id, roles: ROLES.filter((r) => token.roles.has(r)), ...token.globs });
    },
  });
}
