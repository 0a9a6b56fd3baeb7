// The dashboard in a real browser: Debian's headless Chromium driven by playwright-core, against a
// real presque and Redis. Every wait is bounded; the screenshots are kept under .tap/dashboard/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import t, { type Test } from "tap";
import { newToken, type TokenSpec } from "../src/server/auth/tokens.js";
import { deadJobs } from "./support/dashboard.js";
import { harness, queueName, until, type Harness } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const WAIT_MS = 10_000;
const SHOTS = join(process.cwd(), ".tap", "dashboard");

if (!existsSync(CHROMIUM)) {
  t.comment(`${CHROMIUM} is missing (apt-get install -y chromium): the browser tests are skipped`);
  t.pass("skipped: no chromium");
  process.exit(0);
}

/** A fresh browser profile per test, closed with it. */
async function browser(t: Test): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), "presque-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  t.teardown(async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

const problems = new WeakMap<Page, string[]>();

async function open(t: Test, h: Harness, context?: BrowserContext): Promise<Page> {
  const page = await (context ?? (await browser(t))).newPage();
  const seen: string[] = [];
  problems.set(page, seen);
  page.on("pageerror", (err) => seen.push(err.message));
  page.on("console", (m) => m.type() === "error" && seen.push(m.text()));
  await page.goto(h.url + "/");
  return page;
}

/** A refused request (401 before the token is given) is logged by the browser; nothing else may be. */
function noScriptErrors(t: Test, page: Page): void {
  const unexpected = (problems.get(page) ?? []).filter((p) => !/status of 40[13]/.test(p));
  t.same(unexpected, [], "no script errors on the page");
}

const cellOf = (page: Page, queue: string, cls: string) => page.locator(`tr[data-queue="${queue}"] td.${cls}`);

async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  t.comment(`screenshot: ${path}`);
  return path;
}

t.test("counts follow pushes without a reload; stop and start with the buttons; the feed pauses when hidden", async (t) => {
  const h = await harness(t, {}, { eventsEveryMs: 300 });
  const queue = queueName("live");
  await h.http("POST", `/q/${queue}`, { body: { n: 1 } });
  const page = await open(t, h);
  await cellOf(page, queue, "ready").filter({ hasText: /^1$/ }).waitFor();
  await page.locator("#live", { hasText: "live" }).waitFor();

  for (let i = 0; i < 4; i++) await h.http("POST", `/q/${queue}`, { body: { n: i } });
  await cellOf(page, queue, "ready").filter({ hasText: /^5$/ }).waitFor();
  t.pass("five ready, shown without a reload");

  await page.locator(`tr[data-queue="${queue}"] button.stop`).click();
  await until("GET /control says stopped", async () => (await h.http("GET", `/control/${queue}`)).json.status === 0, WAIT_MS);
  await cellOf(page, queue, "status").filter({ hasText: "stopped" }).waitFor();
  await page.locator(`tr[data-queue="${queue}"] button.start`).click();
  await until("GET /control says open", async () => (await h.http("GET", `/control/${queue}`)).json.status === 1, WAIT_MS);
  await cellOf(page, queue, "status").filter({ hasText: "open" }).waitFor();
  t.pass("stop and start follow in GET /control");

  const hub = h.presque.context.events;
  t.equal(hub.listeners, 1);
  const setHidden = (hidden: boolean) =>
    page.evaluate((hidden) => {
      Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    }, hidden);
  await setHidden(true);
  await until("the hidden page stops listening", () => hub.listeners === 0, WAIT_MS);
  await setHidden(false);
  await until("the shown page listens again", () => hub.listeners === 1, WAIT_MS);
  t.pass("a hidden tab stops listening and resumes when shown");

  // the server ends the stream (as a restart would): the page reconnects and gets the whole state
  hub.close();
  await until("the page reconnects", () => hub.listeners === 1, WAIT_MS);
  await h.http("POST", `/q/${queue}`, { body: { n: 9 } });
  await cellOf(page, queue, "ready").filter({ hasText: /^6$/ }).waitFor();
  t.pass("a reconnect resumes");

  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "light" });
  await shot(page, "light");
  await page.emulateMedia({ colorScheme: "dark" });
  await shot(page, "dark");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "phone-dark");
  await page.emulateMedia({ colorScheme: "light" });
  await shot(page, "phone-light");
  noScriptErrors(t, page);
});

t.test("dead jobs retried by a filter become ready; the payload search; a payload is text, never HTML", async (t) => {
  const h = await harness(t, {}, { eventsEveryMs: 300 });
  const queue = queueName("dead");
  const hostile = "<img src=x onerror=window.__pwned=1>";
  await deadJobs(
    h.http,
    queue,
    [{ to: "a@example.com" }, { to: "b@example.com", note: hostile }, { to: "c@example.com" }, { to: "d@example.com" }],
    (i) => (i < 2 ? "smtp timeout" : `bad address <b onmouseover=window.__pwned=2>${i}</b>`),
  );
  await h.http("POST", `/q/${queue}`, { body: { find: "needle-1", note: hostile } });
  await h.http("POST", `/q/${queue}?delay=600`, { body: { find: "needle-2" } });
  await h.http("POST", `/q/${queue}`, { body: { find: "hay" } });

  const page = await open(t, h);
  await page.locator(`tr[data-queue="${queue}"] button.name`).click();
  await page.locator("#dead tr").nth(3).waitFor();
  t.equal(await page.locator("#dead tr").count(), 4, "the four dead jobs");
  const payloads = await page.locator("#dead td.payload").allTextContents();
  t.ok(
    payloads.some((p) => p.includes(hostile)),
    "the hostile payload is shown as its text",
  );
  const errors = await page.locator("#dead td.error").allTextContents();
  t.ok(errors.some((e) => e.includes("<b onmouseover")));
  t.equal(await page.locator("#dead img, #dead b, #search-out img").count(), 0, "no element made of a payload");

  await page.fill("#dead-match", "smtp");
  await page.selectOption("#dead-in", "error");
  await page.click("#dead-retry-match");
  await page.locator("#confirm[open]").waitFor();
  t.match(await page.locator("#confirm-text").textContent(), /smtp/);
  await page.click("#confirm-ok");
  await page.locator("#dead-status", { hasText: "2 retried" }).waitFor();
  await page.locator("#dead tr").nth(1).waitFor();
  t.equal(await page.locator("#dead tr").count(), 2, "two dead jobs left");
  const state = (await h.http("GET", `/j/${queue}`)).json;
  t.match(state, { job_count: 4, job_dead: 2 }, "the two retried are ready (with the two pushed)");
  await cellOf(page, queue, "ready").filter({ hasText: /^4$/ }).waitFor();

  await page.fill("#search-q", "needle");
  await page.click("#search button[type=submit]");
  await page.locator("#search-status", { hasText: "all of them" }).waitFor();
  const found = await page.locator("#search-out li").allTextContents();
  t.equal(found.length, 2, "one ready and one delayed job hold the text");
  t.ok(found.some((f) => f.includes("delayed") && f.includes("needle-2")));
  t.ok(
    found.some((f) => f.includes(hostile)),
    "a found payload is shown as text",
  );

  await page.fill("#lookup-id", "1");
  await page.click("#lookup button");
  await page.locator("#lookup-out", { hasText: "a@example.com" }).waitFor();
  t.pass("a job looked up by id");

  await page.locator("#dead input[type=checkbox]").first().check();
  await page.click("#dead-retry-sel");
  await page.locator("#dead-status", { hasText: "1 retried" }).waitFor();
  t.equal((await h.http("GET", `/dead/${queue}`)).json.total, 1, "the selected one was retried");

  t.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, "no payload ran as code");
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(page, "queue-detail");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "phone-queue-detail");
  noScriptErrors(t, page);
});

t.test("with tokens: a form takes the token; a monitor-only token sees no action", async (t) => {
  const monitor = newToken("mon");
  const admin = newToken("adm");
  const producer = newToken("prod");
  const tokens: TokenSpec[] = [
    { id: "prod", sha256: producer.sha256, roles: ["producer"] },
    { id: "mon", sha256: monitor.sha256, roles: ["monitor"] },
    { id: "adm", sha256: admin.sha256, roles: ["monitor", "admin"] },
  ];
  const h = await harness(t, { auth: { tokens } }, { eventsEveryMs: 300 });
  const queue = queueName("tok");
  await h.http("POST", `/q/${queue}`, { body: { n: 1 }, headers: { authorization: `Bearer ${producer.token}` } });
  const context = await browser(t);
  const page = await open(t, h, context);
  await page.locator("#login").waitFor();
  t.ok(await page.locator("#main").isHidden(), "nothing but the form before a token");
  await page.setViewportSize({ width: 390, height: 500 });
  await shot(page, "token-form");

  await page.fill("#token", "pq_mon_wrongwrongwrongwrongwrong");
  await page.click("#login button");
  await page.locator("#login-why", { hasText: "refused" }).waitFor();
  t.pass("a wrong token is refused and the form asks again");

  await page.fill("#token", monitor.token);
  await page.click("#login button");
  await cellOf(page, queue, "ready").filter({ hasText: /^1$/ }).waitFor();
  t.equal(await page.locator("button.stop, button.start, button.purge").count(), 0, "no queue actions");
  t.equal(await page.locator(".admin:visible").count(), 0, "nothing of the admin's is shown");
  await page.locator(`tr[data-queue="${queue}"] button.name`).click();
  await page.locator("#dead tr").first().waitFor();
  t.ok(await page.locator("#search").isVisible(), "the search is a monitor's");
  t.equal(await page.locator("#dead button, #dead input").count(), 0, "no dead-job actions");
  t.notOk(page.url().includes(monitor.token), "the token is not in the URL");

  // kept for the tab: a reload needs no form
  await page.reload();
  await cellOf(page, queue, "ready").waitFor();
  t.ok(await page.locator("#login").isHidden(), "the token is kept for the tab");

  await page.click("#signout");
  await page.locator("#login").waitFor();
  await page.fill("#token", admin.token);
  await page.click("#login button");
  await page.locator(`tr[data-queue="${queue}"] button.stop`).waitFor();
  t.ok(await page.locator(`tr[data-queue="${queue}"] button.purge`).isVisible(), "an admin sees the actions");
  await page.locator(`tr[data-queue="${queue}"] button.purge`).click();
  await page.click("#confirm-ok");
  await until("the queue purged", async () => (await h.redis.exists(h.presque.context.store.keys(queue).jobs)) === 0, WAIT_MS);
  t.pass("purge, once confirmed");

  // another tab of the same browser starts with no token (sessionStorage is per tab)
  const other = await context.newPage();
  await other.goto(h.url + "/");
  await other.locator("#login").waitFor();
  await other.close();
  noScriptErrors(t, page);
});

t.test("a state-changing request from another origin is refused (the server-wide Origin check)", async (t) => {
  const h = await harness(t);
  const queue = queueName("origin");
  await h.http("POST", `/q/${queue}`, { body: { n: 1 } });
  const foreign = await h.http("POST", `/control/${queue}`, { body: { status: "stop" }, headers: { origin: "http://evil.example" } });
  t.equal(foreign.status, 403, "a foreign Origin: 403");
  const fetchSite = await h.http("DELETE", `/q/${queue}`, { headers: { "sec-fetch-site": "cross-site" } });
  t.equal(fetchSite.status, 403, "Sec-Fetch-Site cross-site: 403");
  // the page's own requests are same-origin, which the check lets through
  const same = await h.http("POST", `/control/${queue}`, {
    body: { status: "start" },
    headers: { origin: h.url, "sec-fetch-site": "same-origin" },
  });
  t.equal(same.status, 200, "a same-origin request is let through");
});
