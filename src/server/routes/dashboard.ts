// GET / — a page with the queues and the workers, drawn in the browser from one page of /stats/
// and a capped /w/ at a time.
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
  #redis, .empty, #range, #more { color: var(--muted); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
  th:first-child, td:first-child { text-align: left; }
  td.open { color: var(--ok); } td.stopped { color: var(--stop); }
  #error { color: var(--stop); }
  .bar { display: flex; gap: .5rem; align-items: center; margin: .5rem 0; flex-wrap: wrap; }
  .bar button[aria-pressed="true"] { font-weight: bold; }
</style>
</head>
<body>
<h1>presque</h1>
<div id="redis">loading…</div>
<div id="error" role="alert"></div>
<h2>Queues</h2>
<div class="bar">
  sort by <button id="by-name" aria-pressed="true">name</button><button id="by-size" aria-pressed="false">size</button>
  <span id="range"></span>
  <button id="prev" disabled>‹ previous</button><button id="next" disabled>next ›</button>
</div>
<table>
  <thead><tr><th>queue</th><th>size</th><th>delayed</th><th>leased</th><th>dead</th>
    <th>processed</th><th>failed</th><th>status</th></tr></thead>
  <tbody id="queues"></tbody>
</table>
<h2>Workers</h2>
<ul id="workers"></ul>
<div id="more"></div>
<noscript>This page draws itself from <a href="/stats/">/stats/</a> and <a href="/w/">/w/</a> with JavaScript.</noscript>
<script>
"use strict";
// One page of queues and a few workers, asked one request at a time: the next poll is scheduled
// only once the previous answers arrived, so a slow presque is never asked again meanwhile.
const PAGE = 50, WORKERS = 50, EVERY_MS = 2000;
const view = { sort: "name", offset: 0 };
let timer = null, busy = false, again = false;
const $ = (id) => document.getElementById(id);
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
  if (!r.ok) throw new Error(path + " answered " + r.status);
  return r.json();
}
async function draw() {
  clearTimeout(timer);
  // a click while an answer is on its way: drawn again as soon as it arrives, not asked twice at once
  if (busy) { again = true; return; }
  busy = true;
  try {
    const stats = await get("/stats/?sort=" + view.sort + "&offset=" + view.offset + "&limit=" + PAGE);
    const workers = stats.workers > 0 ? await get("/w/?limit=" + WORKERS) : [];
    if (again) return; // the view changed meanwhile: this answer is for another page
    $("redis").textContent =
      "Redis " + stats.redis.version + " at " + stats.redis.target + (stats.redis.embedded ? " (embedded)" : "") +
      " · " + stats.total + " queues · " + stats.workers + " workers";
    const rows = stats.queues.map(q => {
      const tr = document.createElement("tr");
      tr.append(cell(q.queue_name), cell(q.job_count), cell(q.job_delayed), cell(q.job_leased), cell(q.job_dead),
        cell(q.job_processed), cell(q.job_failed), cell(q.status ? "open" : "stopped", q.status ? "open" : "stopped"));
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(stats.total ? "no queues on this page" : "no queues yet", "empty");
      td.colSpan = 8; tr.append(td); rows.push(tr);
    }
    $("queues").replaceChildren(...rows);
    const last = view.offset + stats.queues.length;
    $("range").textContent = stats.queues.length ? (view.offset + 1) + "–" + last + " of " + stats.total : "";
    $("prev").disabled = view.offset === 0;
    $("next").disabled = view.offset + PAGE >= stats.total;
    const items = workers.map(w => { const li = document.createElement("li"); li.textContent = w; return li; });
    if (!items.length) {
      const li = document.createElement("li"); li.className = "empty"; li.textContent = "no registered workers"; items.push(li);
    }
    $("workers").replaceChildren(...items);
    $("more").textContent = stats.workers > workers.length ? workers.length + " of " + stats.workers + " workers shown" : "";
    $("error").textContent = "";
  } catch (err) {
    $("error").textContent = "cannot reach presque: " + err.message;
  } finally {
    busy = false;
    if (again) { again = false; draw(); }
    else timer = setTimeout(draw, EVERY_MS);
  }
}
function go(sort, offset) {
  view.sort = sort;
  view.offset = Math.max(0, offset);
  $("by-name").setAttribute("aria-pressed", String(sort === "name"));
  $("by-size").setAttribute("aria-pressed", String(sort === "size"));
  draw();
}
$("by-name").onclick = () => go("name", 0);
$("by-size").onclick = () => go("size", 0);
$("prev").onclick = () => go(view.sort, view.offset - PAGE);
$("next").onclick = () => go(view.sort, view.offset + PAGE);
draw();
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
