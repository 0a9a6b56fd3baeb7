// GET / — a page with the queues and the workers, drawn in the browser from /stats/ and /w/.
// Everything is inline: no external scripts or fonts.
import type { Context, Router } from "../router.js";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>presque</title>
<style>
  :root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --ok: #15803d; --stop: #b91c1c; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.1rem; margin: 2rem 0 .5rem; }
  #redis, .empty { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
  th:first-child, td:first-child { text-align: left; }
  td.open { color: var(--ok); } td.stopped { color: var(--stop); }
  #error { color: var(--stop); }
</style>
</head>
<body>
<h1>presque</h1>
<div id="redis">loading…</div>
<div id="error" role="alert"></div>
<h2>Queues</h2>
<table>
  <thead><tr><th>queue</th><th>size</th><th>delayed</th><th>leased</th><th>dead</th><th>processed</th><th>failed</th><th>status</th></tr></thead>
  <tbody id="queues"></tbody>
</table>
<h2>Workers</h2>
<ul id="workers"></ul>
<noscript>This page draws itself from <a href="/stats/">/stats/</a> and <a href="/w/">/w/</a> with JavaScript.</noscript>
<script>
"use strict";
function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
// with tokens configured, the figures need a monitor token: asked for once per page load, kept
// for this tab only
let asked = false;
async function get(path) {
  const token = sessionStorage.getItem("presque-token");
  const r = await fetch(path, token ? { headers: { authorization: "Bearer " + token } } : {});
  if (r.status === 401 || r.status === 403) {
    if (!asked) {
      asked = true;
      const given = prompt("presque asks for a token with the monitor role");
      if (given) sessionStorage.setItem("presque-token", given.trim()); else sessionStorage.removeItem("presque-token");
    }
    throw new Error("a token with the monitor role is needed (reload the page to give one)");
  }
  return r.json();
}
async function draw() {
  try {
    const [stats, workers] = await Promise.all([get("/stats/"), get("/w/")]);
    document.getElementById("redis").textContent =
      "Redis " + stats.redis.version + " at " + stats.redis.target + (stats.redis.embedded ? " (embedded)" : "") +
      " · " + stats.queues.length + " queues · " + stats.workers + " workers";
    const rows = stats.queues.map(q => {
      const tr = document.createElement("tr");
      tr.append(cell(q.queue_name), cell(q.job_count), cell(q.job_delayed), cell(q.job_leased), cell(q.job_dead),
        cell(q.job_processed), cell(q.job_failed), cell(q.status ? "open" : "stopped", q.status ? "open" : "stopped"));
      return tr;
    });
    if (!rows.length) { const tr = document.createElement("tr"); const td = cell("no queues yet", "empty"); td.colSpan = 8; tr.append(td); rows.push(tr); }
    document.getElementById("queues").replaceChildren(...rows);
    const items = workers.map(w => { const li = document.createElement("li"); li.textContent = w; return li; });
    if (!items.length) { const li = document.createElement("li"); li.className = "empty"; li.textContent = "no registered workers"; items.push(li); }
    document.getElementById("workers").replaceChildren(...items);
    document.getElementById("error").textContent = "";
  } catch (err) {
    document.getElementById("error").textContent = "cannot reach presque: " + err.message;
  }
}
draw();
setInterval(draw, 2000);
</script>
</body>
</html>
`;

export function registerDashboard(router: Router, _ctx: Context): void {
  const page = Buffer.from(PAGE);
  router.route("/", {
    GET: (_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": page.length });
      res.end(page);
    },
  });
}
