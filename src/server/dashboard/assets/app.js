// presque's dashboard, in the browser. Everything it shows comes from this origin's API; what a job
// or an error holds is put on the page as text (textContent), never as HTML. Served as a file of its
// own, so that the page's Content-Security-Policy allows no inline script.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "presque-token";
const PAGE = 25;
const DEAD_PAGE = 20;
const SEARCH_STEP = 500;
const SEARCH_SHOWN = 50;

const state = {
  who: null,
  view: { prefix: "", offset: 0, limit: PAGE },
  total: 0,
  queue: null, // the queue whose details are open
  deadOffset: 0,
  deadTotal: 0,
  selected: new Set(),
};

const can = (role) => !!state.who && state.who.roles.includes(role);
const canWatch = () => can("monitor");
const canAct = () => can("admin");

// --- requests

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, authorization: "Bearer " + token } : extra;
}

async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "content-type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (r.status === 401) askForToken(data && data.error);
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || `${method} ${path} answered ${r.status}`);
  return data;
}

const q = (name) => encodeURIComponent(name);

function showError(err) {
  $("error").textContent = err ? String(err.message || err) : "";
}

// --- the token

function askForToken(why) {
  pause();
  setLive("token needed", "down");
  state.who = null;
  $("main").hidden = true;
  $("login").hidden = false;
  $("signout").hidden = !sessionStorage.getItem(TOKEN_KEY);
  $("login-why").textContent = sessionStorage.getItem(TOKEN_KEY)
    ? "This token was refused" + (why ? ": " + why : "") + ". Give another."
    : "This presque asks for a token: the monitor role to watch, admin to act.";
  $("token").focus();
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  start();
});

async function start() {
  showError(null);
  try {
    state.who = await api("GET", "/whoami");
  } catch (err) {
    if (err.status !== 401) showError(err);
    return;
  }
  $("login").hidden = true;
  $("main").hidden = false;
  $("signout").hidden = !sessionStorage.getItem(TOKEN_KEY);
  $("who").textContent = state.who.tokens ? `token ${state.who.id}: ${state.who.roles.join(", ")}` : "";
  // what the roles do not allow is not on the page at all
  for (const el of document.querySelectorAll(".admin")) el.hidden = !canAct();
  for (const el of document.querySelectorAll(".monitor")) el.hidden = !canWatch() && !canAct();
  for (const el of document.querySelectorAll(".reader")) el.hidden = !["producer", "consumer", "monitor"].some(can);
  if (!canWatch()) {
    setLive("no monitor role", "down");
    showError("this token lacks the monitor role: the live figures need it");
  } else connect();
  if (state.queue) openQueue(state.queue);
}

// --- the live feed: server-sent events read with fetch, so that the token goes in a header and
// never in a URL; stopped while the tab is hidden, resumed (with the whole state) when shown

let feed = null;
let retryMs = 2000;
let failures = 0;
let retryTimer = null;

function setLive(text, cls) {
  $("live").textContent = text;
  $("live").className = "pill " + (cls || "");
}

function connect() {
  if (feed || document.hidden || !canWatch()) return;
  clearTimeout(retryTimer);
  const controller = new AbortController();
  feed = controller;
  setLive("connecting…");
  const v = state.view;
  const url = `/events?prefix=${q(v.prefix)}&offset=${v.offset}&limit=${v.limit}`;
  readFeed(url, controller.signal).then(
    () => lost(controller, null),
    (err) => lost(controller, err),
  );
}

async function readFeed(url, signal) {
  const r = await fetch(url, { headers: headers({ accept: "text/event-stream" }), signal, cache: "no-store" });
  if (r.status === 401) {
    askForToken();
    throw new ApiError(401, "a token is needed");
  }
  if (!r.ok) {
    const body = await r.json().catch(() => null);
    throw new ApiError(r.status, (body && body.error) || "/events answered " + r.status);
  }
  setLive("live", "live");
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      onEvent(parseEvent(block));
    }
  }
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "retry" && /^[0-9]+$/.test(value)) retryMs = Number(value);
  }
  return { event, data: data.join("\n") };
}

function onEvent({ event, data }) {
  if (!data) return;
  failures = 0;
  if (event === "overview") {
    showError(null);
    draw(JSON.parse(data));
  } else if (event === "problem") {
    showError("presque could not read Redis: " + JSON.parse(data).error);
  }
}

function lost(controller, err) {
  if (feed !== controller) return; // paused or replaced on purpose
  feed = null;
  if (err && err.status === 401) return;
  if (err && err.status === 403) {
    setLive("refused", "down");
    showError(err);
    return;
  }
  failures++;
  const wait = Math.min(30_000, retryMs * 2 ** Math.min(failures - 1, 4));
  setLive("reconnecting…", "down");
  if (err && err.name !== "AbortError") showError("lost the connection to presque: " + err.message);
  retryTimer = setTimeout(connect, wait);
}

function pause() {
  clearTimeout(retryTimer);
  if (feed) {
    const f = feed;
    feed = null;
    f.abort();
  }
  setLive("paused");
}

function reconnect() {
  pause();
  connect();
}

document.addEventListener("visibilitychange", () => (document.hidden ? pause() : state.who && connect()));

// --- drawing

/** Names each cell by its column's heading, which a phone's width shows above the value (app.css). */
function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].filter((th) => !th.hidden).map((th) => th.textContent.trim());
  for (const tr of table.tBodies[0].rows) {
    if (tr.cells.length !== names.length) continue;
    [...tr.cells].forEach((td, i) => names[i] && (td.dataset.label = names[i]));
  }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function button(text, onClick, cls) {
  const b = el("button", text, cls);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function rate(n) {
  if (n === null || n === undefined) return "–";
  if (n === 0) return "0";
  return n < 0.1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(0);
}

function seconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function ago(epochSeconds) {
  if (!epochSeconds) return "–";
  const s = Math.max(0, Date.now() / 1000 - epochSeconds);
  return seconds(s) + " ago";
}

const SVG = "http://www.w3.org/2000/svg";

/** A sparkline of a series (oldest first), scaled to its own largest value. */
function spark(values, cls) {
  const w = 60;
  const h = 16;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG, "polyline");
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  line.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(h - 1 - (v / max) * (h - 2)).toFixed(1)}`).join(" "));
  line.setAttribute("class", cls);
  svg.append(line);
  return svg;
}

function rateCell(value, values, cls) {
  const td = el("td", null, "rate");
  td.append(el("span", rate(value)));
  if (values) td.append(spark(values, cls));
  return td;
}

// the rows are drawn again only when what they show changed, so that a button is not replaced
// under the pointer at every tick
let drawn = { queues: "", workers: "" };

function draw(o) {
  state.total = o.total;
  const r = o.redis;
  $("redis").textContent =
    `Redis ${r.version} at ${r.target}${r.embedded ? " (embedded)" : ""} · ${o.total} queues · ${o.workers.total} workers`;
  const queuesNow = JSON.stringify([o.queues, o.total, state.view, canAct()]);
  if (queuesNow !== drawn.queues) {
    drawn.queues = queuesNow;
    drawQueues(o);
  }
  // (and every ten seconds, for the times shown as "ago")
  const workersNow = JSON.stringify([o.workers, Math.floor(Date.now() / 10_000)]);
  if (workersNow !== drawn.workers) {
    drawn.workers = workersNow;
    drawWorkers(o);
  }
}

function drawQueues(o) {
  const rows = o.queues.map((qu) => {
    const tr = el("tr");
    tr.dataset.queue = qu.name;
    const name = el("td");
    name.append(button(qu.name, () => openQueue(qu.name), "name"));
    tr.append(
      name,
      el("td", qu.ready, "ready"),
      el("td", qu.delayed, "delayed"),
      el("td", qu.leased, "leased"),
      el("td", qu.dead, "dead"),
      el("td", seconds(qu.oldest_ready_age), "age"),
      rateCell(qu.rates && qu.rates.pushed, qu.series && qu.series.pushed, "spark-push"),
      rateCell(qu.rates && qu.rates.acked, qu.series && qu.series.acked, "spark-ack"),
      rateCell(qu.rates && qu.rates.failed, qu.series && qu.series.failed, "spark-fail"),
      el("td", seconds(qu.p50), "p50"),
      el("td", seconds(qu.p95), "p95"),
      el("td", qu.open ? "open" : "stopped", "status " + (qu.open ? "open" : "stopped")),
    );
    if (canAct()) {
      const actions = el("td", null, "actions");
      actions.append(
        button(qu.open ? "stop" : "start", () => setOpen(qu.name, !qu.open), qu.open ? "stop" : "start"),
        button("purge", () => purge(qu.name), "purge danger"),
      );
      tr.append(actions);
    }
    return tr;
  });
  if (rows.length === 0) {
    const td = el("td", o.total ? "no queues on this page" : state.view.prefix ? "no queue starts with that" : "no queues yet", "empty");
    td.colSpan = 13;
    const tr = el("tr");
    tr.append(td);
    rows.push(tr);
  }
  $("queues").replaceChildren(...rows);
  labelCells($("queues-table"));
  const v = state.view;
  $("range").textContent = o.queues.length ? `${v.offset + 1}–${v.offset + o.queues.length} of ${o.total}` : "";
  $("prev").disabled = v.offset === 0;
  $("next").disabled = v.offset + v.limit >= o.total;
}

function drawWorkers(o) {
  const workers = o.workers.shown.map((w) => {
    const tr = el("tr");
    tr.append(
      el("td", w.worker_id, "text"),
      el("td", w.queues.join(", "), "text"),
      el("td", w.processed),
      el("td", w.failed),
      el("td", ago(w.started_at)),
      // presque keeps no last-seen time of a worker yet
      el("td", w.last_seen ? ago(w.last_seen) : "–"),
    );
    return tr;
  });
  if (workers.length === 0) {
    const td = el("td", "no registered workers", "empty");
    td.colSpan = 6;
    const tr = el("tr");
    tr.append(td);
    workers.push(tr);
  }
  $("workers").replaceChildren(...workers);
  labelCells($("workers-table"));
  $("workers-more").textContent =
    o.workers.total > o.workers.shown.length ? `${o.workers.shown.length} of ${o.workers.total} workers shown` : "";
}

// --- paging and filtering the queues

let typing = null;
$("prefix").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(() => {
    const prefix = $("prefix").value.trim();
    if (!/^[A-Za-z0-9_.:-]*$/.test(prefix)) return showError("a queue name holds only A-Z a-z 0-9 _ - . :");
    state.view = { ...state.view, prefix, offset: 0 };
    reconnect();
  }, 300);
});
$("prev").addEventListener("click", () => {
  state.view = { ...state.view, offset: Math.max(0, state.view.offset - state.view.limit) };
  reconnect();
});
$("next").addEventListener("click", () => {
  state.view = { ...state.view, offset: state.view.offset + state.view.limit };
  reconnect();
});

// --- actions

function confirmed(text, ok = "confirm") {
  const dialog = $("confirm");
  if (dialog.open) return Promise.resolve(false);
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

async function setOpen(queue, open) {
  try {
    await api("POST", `/control/${q(queue)}`, { status: open ? "start" : "stop" });
    // the next tick shows it in every page; this one at once
    const row = document.querySelector(`tr[data-queue="${CSS.escape(queue)}"]`);
    if (row) {
      row.querySelector("td.status").textContent = open ? "open" : "stopped";
      row.querySelector("td.status").className = "status " + (open ? "open" : "stopped");
    }
  } catch (err) {
    showError(err);
  }
}

async function purge(queue) {
  if (!(await confirmed(`Purge ${queue}? Every job of it is deleted, and its settings.`, "purge"))) return;
  try {
    await api("DELETE", `/q/${q(queue)}`);
  } catch (err) {
    showError(err);
  }
}

// --- one queue: look-up, search, dead jobs

function openQueue(queue) {
  if (state.queue !== queue) {
    state.queue = queue;
    state.deadOffset = 0;
    state.selected.clear();
    stopSearch();
    $("search-out").replaceChildren();
    $("search-status").textContent = "";
    $("lookup-out").hidden = true;
  }
  $("detail").hidden = false;
  $("detail-name").textContent = queue;
  if (canWatch() || canAct()) loadDead();
}

$("detail-close").addEventListener("click", () => {
  state.queue = null;
  stopSearch();
  $("detail").hidden = true;
});

$("lookup").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = $("lookup-id").value.trim();
  const out = $("lookup-out");
  out.hidden = false;
  try {
    out.textContent = JSON.stringify(await api("GET", `/q/${q(state.queue)}/${q(id)}`), null, 2);
  } catch (err) {
    out.textContent = err.status === 404 ? `no job ${id} in ${state.queue}` : err.message;
  }
});

// A search goes a bounded step at a time (the server scans about SEARCH_STEP jobs per call) until
// enough matches are shown; "search further" goes on from the cursor, "stop" just asks no more.
let search = null;

function stopSearch() {
  if (search) search.stopped = true;
  search = null;
  $("search-stop").hidden = true;
}

async function runSearch(s, want) {
  $("search-stop").hidden = false;
  $("search-more").hidden = true;
  try {
    while (!s.stopped && !s.done && s.shown < want) {
      const r = await api("GET", `/search/${q(s.queue)}?q=${q(s.text)}&cursor=${s.cursor}&count=${SEARCH_STEP}`);
      if (s.stopped) return;
      s.cursor = r.cursor;
      s.done = r.done;
      s.scanned += r.scanned;
      for (const job of r.jobs) {
        const li = el("li");
        li.append(el("span", `#${job.id}`), el("span", job.state, "muted"));
        if (job.due_at) li.append(el("span", "due " + new Date(job.due_at * 1000).toLocaleString(), "muted"));
        li.append(el("code", job.payload === null ? "(large payload: look the job up)" : job.payload));
        $("search-out").append(li);
        s.shown++;
      }
      $("search-status").textContent = `${s.shown} found in ${s.scanned} jobs looked at${s.done ? ", all of them" : "…"}`;
    }
  } catch (err) {
    $("search-status").textContent = err.message;
    s.done = true;
  }
  if (s.stopped) return;
  $("search-stop").hidden = true;
  $("search-more").hidden = s.done;
}

$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  stopSearch();
  $("search-out").replaceChildren();
  search = { queue: state.queue, text: $("search-q").value, cursor: "0", done: false, stopped: false, shown: 0, scanned: 0 };
  runSearch(search, SEARCH_SHOWN);
});
$("search-more").addEventListener("click", () => search && runSearch(search, search.shown + SEARCH_SHOWN));
$("search-stop").addEventListener("click", () => {
  const s = search;
  stopSearch();
  if (s) $("search-status").textContent = `stopped: ${s.shown} found in ${s.scanned} jobs looked at`;
});

async function loadDead() {
  const queue = state.queue;
  try {
    const r = await api("GET", `/dead/${q(queue)}?offset=${state.deadOffset}&limit=${DEAD_PAGE}`);
    if (queue !== state.queue) return;
    state.deadTotal = r.total;
    const rows = r.jobs.map((job) => {
      const tr = el("tr");
      tr.dataset.id = job.id;
      if (canAct()) {
        const box = el("input");
        box.type = "checkbox";
        box.checked = state.selected.has(job.id);
        box.setAttribute("aria-label", "select job " + job.id);
        box.addEventListener("change", () => {
          if (box.checked) state.selected.add(job.id);
          else state.selected.delete(job.id);
          selectionChanged();
        });
        const td = el("td");
        td.append(box);
        tr.append(td);
      }
      tr.append(
        el("td", job.id, "text"),
        el("td", job.attempts),
        el("td", job.died_at ? ago(job.died_at) : "–"),
        el("td", job.last_error ?? "", "error"),
        el("td", JSON.stringify(job.job), "payload"),
      );
      if (canAct()) {
        const actions = el("td", null, "actions");
        actions.append(
          button("retry", () => deadAction("retry", { ids: [job.id] }), "retry"),
          button("delete", () => deadAction("delete", { ids: [job.id] }), "delete danger"),
        );
        tr.append(actions);
      }
      return tr;
    });
    if (rows.length === 0) {
      const td = el("td", "no dead jobs", "empty");
      td.colSpan = 7;
      const tr = el("tr");
      tr.append(td);
      rows.push(tr);
    }
    $("dead").replaceChildren(...rows);
    labelCells($("dead-table"));
    $("dead-range").textContent = r.jobs.length ? `${state.deadOffset + 1}–${state.deadOffset + r.jobs.length} of ${r.total}` : "";
    $("dead-prev").disabled = state.deadOffset === 0;
    $("dead-next").disabled = state.deadOffset + DEAD_PAGE >= r.total;
    $("dead-all").checked = false;
    selectionChanged();
  } catch (err) {
    $("dead-status").textContent = err.message;
  }
}

function selectionChanged() {
  const none = state.selected.size === 0;
  $("dead-retry-sel").disabled = none;
  $("dead-delete-sel").disabled = none;
}

$("dead-all").addEventListener("change", () => {
  for (const box of $("dead").querySelectorAll("input[type=checkbox]")) {
    box.checked = $("dead-all").checked;
    box.dispatchEvent(new Event("change"));
  }
});
$("dead-prev").addEventListener("click", () => {
  state.deadOffset = Math.max(0, state.deadOffset - DEAD_PAGE);
  loadDead();
});
$("dead-next").addEventListener("click", () => {
  state.deadOffset += DEAD_PAGE;
  loadDead();
});
$("dead-reload").addEventListener("click", () => loadDead());
$("dead-retry-sel").addEventListener("click", () => deadAction("retry", { ids: [...state.selected] }));
$("dead-delete-sel").addEventListener("click", async () => {
  if (await confirmed(`Delete ${state.selected.size} dead jobs of ${state.queue}?`, "delete"))
    deadAction("delete", { ids: [...state.selected] });
});

function matching(action) {
  const match = $("dead-match").value;
  const where = $("dead-in").value;
  const what = match
    ? `whose ${where === "any" ? "error or payload" : where === "error" ? "last error" : "payload"} holds “${match}”`
    : "(all of them)";
  return confirmed(`${action === "retry" ? "Retry" : "Delete"} the dead jobs of ${state.queue} ${what}?`, action).then(
    (ok) => ok && deadAction(action, { match, in: where }),
  );
}
$("dead-retry-match").addEventListener("click", () => matching("retry"));
$("dead-delete-match").addEventListener("click", () => matching("delete"));

// A filter is applied a bounded step at a time (about a thousand dead jobs per call), the page
// calling again with the cursor until the server says it went through them all, or "stop".
let bulk = null;
$("dead-stop").addEventListener("click", () => bulk && (bulk.stopped = true));

async function deadAction(action, pick) {
  const queue = state.queue;
  const run = { stopped: false };
  bulk = run;
  const done = action === "retry" ? "retried" : "deleted";
  let count = 0;
  let scanned = 0;
  $("dead-stop").hidden = !!pick.ids;
  try {
    let cursor = "0";
    for (;;) {
      const r = await api("POST", `/dead/${q(queue)}/${action}`, pick.ids ? pick : { ...pick, cursor });
      count += r[done];
      scanned += r.scanned;
      cursor = r.cursor;
      $("dead-status").textContent = `${count} ${done}` + (pick.ids ? "" : ` of ${scanned} looked at${r.finished ? "" : "…"}`);
      if (pick.ids || r.finished || run.stopped) break;
    }
    if (run.stopped) $("dead-status").textContent += " (stopped)";
  } catch (err) {
    $("dead-status").textContent = err.message;
  }
  $("dead-stop").hidden = true;
  for (const id of pick.ids || []) state.selected.delete(id);
  if (queue === state.queue) loadDead();
}

start();
