// The customer portal in a real browser: Debian's chromium driven by
// playwright-core, against the webhookd and receiver that e2e/portal_test.go
// started (it passes their addresses in the environment). Each page is
// checked with axe-core and photographed at 1280 and 390 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through e2e/portal_test.go (make test)`);
  return v;
};
const BASE = env("PORTAL_BASE");
const INGEST = env("INGEST_URL");
const RECEIVER = env("RECEIVER_URL");
const CONTROL = env("CONTROL_URL");
const SHOTS = env("SCREENSHOTS");
const A = { token: env("TOKEN_A"), company: env("COMPANY_A") };
const B = { token: env("TOKEN_B"), company: env("COMPANY_B") };
const WAIT = 30_000;

const axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

let browser;
before(async () => {
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: env("CHROMIUM"),
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});
after(async () => {
  await browser?.close();
});

// --- helpers -----------------------------------------------------------

async function api(method, path, token, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// mint is what Blue's backend does: a link for the company of its token.
async function mint(who, body = { returnUrl: "https://blue.example/settings/webhooks" }) {
  const res = await api("POST", "/v1/portal/sessions", who.token, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.ok(res.body.url.startsWith(BASE + "/portal/login?token="), res.body.url);
  return res.body;
}

let eventSeq = 0;
async function publish(company, type = "TODO_CREATED") {
  const id = `evt_portal_${Date.now()}_${++eventSeq}`;
  const res = await fetch(INGEST, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${env("INGEST_TOKEN")}` },
    body: JSON.stringify({
      id, type, occurredAt: new Date().toISOString(), companyId: company, projectId: "p1", actorId: "u1",
      currentValue: { id: `todo${eventSeq}`, title: "Write the launch post", todoList: { id: "L1", title: "Launch" } },
      previousValue: null,
    }),
  });
  assert.equal(res.status, 202, await res.text());
  return id;
}

async function control(path, body) {
  const res = await fetch(CONTROL + path, { method: body === undefined && path === "/state" ? "GET" : "POST", body });
  return path === "/state" ? res.json() : null;
}

// until polls cond (async) until it is truthy.
async function until(what, cond, within = WAIT) {
  const deadline = Date.now() + within;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${within} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function newPage(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  const page = await context.newPage();
  page.on("pageerror", (err) => { throw err; });
  return page;
}

// open follows a magic link and lands on the webhooks list.
async function open(who) {
  const page = await newPage();
  const link = await mint(who);
  const res = await page.goto(link.url);
  assert.equal(res.status(), 200);
  assert.equal(new URL(page.url()).pathname, "/portal/");
  assert.ok(!page.url().includes("token="), "the token stays out of the address");
  return page;
}

// check runs axe-core in the page (evaluated, so the page's CSP does not
// stop it) and photographs the page at both widths.
async function check(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`),
    [],
    `${name}: axe found serious violations`,
  );
  const size = page.viewportSize();
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${SHOTS}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize(size);
}

function securityHeaders(res, where) {
  const h = res.headers();
  const csp = h["content-security-policy"] || "";
  for (const want of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"]) {
    assert.ok(csp.includes(want), `${where}: CSP ${csp} lacks ${want}`);
  }
  assert.ok(!csp.includes("unsafe-inline"), `${where}: CSP allows inline script`);
  assert.equal(h["x-content-type-options"], "nosniff", where);
  assert.equal(h["referrer-policy"], "no-referrer", where);
  assert.equal(h["x-frame-options"], "DENY", where);
}

async function rowOutcome(page, deliveryId) {
  const row = page.locator("tr", { has: page.locator(`a[href$="/deliveries/${deliveryId}"]`) });
  return (await row.count()) ? row.locator(".badge").first().textContent() : null;
}

// deliveryOf finds the delivery id of an event in the webhook's list.
async function deliveryOf(page, hookId, eventId) {
  const found = await api("GET", `/v1/webhooks/${hookId}/deliveries?limit=100`, A.token);
  const d = found.body.data.find((r) => r.eventId === eventId);
  return d && d.deliveryId;
}

// sentAsReceived checks that the delivery page shows its first attempt's
// request headers and its body with the values the receiver got.
async function sentAsReceived(page, got) {
  const rows = await page.locator(".attempt").first().locator("table.headers tr").evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector("th").textContent.trim(), tr.querySelector("td").textContent.trim()]),
  );
  const shown = Object.fromEntries(rows.map(([k, v]) => [k.toLowerCase(), v]));
  const signed = ["content-type", "user-agent", "x-webhook-event", "x-webhook-attempt", "traceparent",
    "x-signature", "x-signature-next", "webhook-id", "webhook-timestamp", "webhook-signature"];
  for (const name of signed) {
    assert.equal(shown[name], got.headers[name], `the page shows ${name} as the receiver got it`);
  }
  for (const name of ["webhook-signature", "x-signature", "webhook-timestamp", "user-agent"]) {
    assert.ok(shown[name], `the page shows ${name}`);
  }
  const body = await page.getByLabel("Request body").textContent();
  assert.deepEqual(JSON.parse(body), JSON.parse(got.body), "the page shows the body the receiver got");
  assert.ok((await page.content()).includes("byte for byte"), "the body is known to be the one sent");
}

// --- the scenario ------------------------------------------------------

test("the customer portal", async (t) => {
  const state = {};

  await t.test("a link opens a session once; used and expired links are refused", async () => {
    const link = await mint(A, { returnUrl: "https://blue.example/settings/webhooks", ttl: "30m" });
    const page = await newPage();
    const res = await page.goto(link.url);
    securityHeaders(res, "link");
    await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
    await page.getByText("No webhooks yet").waitFor();
    await check(page, "webhooks-empty");
    const again = await newPage();
    const refused = await again.goto(link.url);
    assert.equal(refused.status(), 401, "a used link is refused");
    await again.getByRole("heading", { name: "This link cannot be used" }).waitFor();
    await check(again, "link-refused");
    const old = await mint(A);
    const wait = new Date(old.expiresAt).getTime() - Date.now() + 250;
    await new Promise((r) => setTimeout(r, Math.max(wait, 0))); // past its expiry, which the API stated
    const expired = await (await newPage()).goto(old.url);
    assert.equal(expired.status(), 401, "an expired link is refused");
    state.page = page;
  });

  await t.test("create a webhook; the filter is checked as typed; the secret shows once", async () => {
    const page = state.page;
    await page.getByRole("link", { name: "New webhook" }).first().click();
    await page.getByRole("heading", { name: "New webhook" }).waitFor();
    // A refused form shows the API's message next to the field.
    await page.getByLabel("Name", { exact: true }).fill("Orders");
    await page.getByLabel("Payload URL").fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.locator("#url-error").getByText("scheme must be http or https").waitFor();
    assert.equal(await page.getByLabel("Payload URL").getAttribute("aria-invalid"), "true");
    await check(page, "webhook-form-errors");
    await page.getByLabel("Payload URL").fill(RECEIVER);
    await page.getByLabel("TODO_CREATED").check();
    const filter = page.getByLabel("Filter");
    await filter.fill("event.projectId ==");
    await page.locator("#filter-error").getByText("Syntax error").waitFor();
    await filter.fill('event.projectId == "p1"');
    await until("the filter error clears", async () => (await page.locator("#filter-error").textContent()) === "");
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.getByRole("heading", { name: "Webhook created" }).waitFor();
    const secret = (await page.locator("#secret-value").textContent()).trim();
    assert.match(secret, /^whsec_/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await check(page, "secret");
    await control("/secret", secret);
    state.secrets = [secret];
    state.hookId = new URL(await page.getByRole("link", { name: "Orders" }).first().getAttribute("href"), BASE).pathname.split("/").pop();
    assert.match(state.hookId, /^wh_/);
  });

  await t.test("the secret is on no page after creation", async () => {
    const page = state.page;
    const id = state.hookId;
    for (const path of ["/portal/", `/portal/webhooks/${id}`, `/portal/webhooks/${id}/edit`, `/portal/webhooks/${id}/verify`, `/portal/webhooks/${id}/deliveries`, "/portal/event-types"]) {
      const res = await page.goto(BASE + path);
      assert.equal(res.status(), 200, path);
      securityHeaders(res, path);
      assert.ok(!(await page.content()).includes(state.secrets[0]), `${path} shows the secret`);
    }
    await page.goto(`${BASE}/portal/webhooks/${id}/edit`);
    await check(page, "webhook-edit");
    await page.goto(`${BASE}/portal/webhooks/${id}/verify`);
    await page.getByRole("heading", { name: "Node.js (standardwebhooks)" }).waitFor();
    assert.ok((await page.content()).includes("new Webhook(process.env.WEBHOOK_SECRET)"), "the code takes a whsec_ secret as it is");
    await check(page, "verify");
  });

  await t.test("publish an event and watch the delivery and its attempts appear", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}/deliveries`);
    const eventId = await publish(A.company);
    const id = await until("the delivery is logged", () => deliveryOf(page, state.hookId, eventId));
    await until("the delivery shows up in the list by itself", async () => (await rowOutcome(page, id)) === "Delivered");
    await check(page, "deliveries");
    await page.locator(`a[href$="/deliveries/${id}"]`).first().click();
    await page.getByRole("heading", { name: "Attempt 1" }).waitFor();
    assert.ok((await page.content()).includes(eventId), "the body sent is shown");
    await page.getByText("webhook-timestamp").first().waitFor({ state: "attached" });
    await check(page, "delivery");
    const st = await control("/state");
    assert.ok(st.deliveries.some((d) => d.eventId === eventId && d.verified), "the receiver verified it with the secret shown");
    await sentAsReceived(page, st.deliveries.find((d) => d.eventId === eventId));
  });

  // One failing delivery at a time: five failures in a row would open the
  // endpoint's circuit for 30 s.
  async function deadDelivery(page) {
    await control("/fail?on=true");
    const eventId = await publish(A.company);
    const id = await until("it is logged", () => deliveryOf(page, state.hookId, eventId));
    await until("it is dead after its three attempts", async () => {
      const r = await api("GET", `/v1/deliveries/${id}`, A.token);
      return r.status === 200 && r.body.attempts.at(-1).outcome === "dead";
    });
    await control("/fail?on=false");
    return { eventId, id };
  }

  await t.test("the receiver fails: the retries show; redeliver it", async () => {
    const page = state.page;
    await control("/fail?on=true");
    const eventId = await publish(A.company);
    const id = await until("it is logged", () => deliveryOf(page, state.hookId, eventId));
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}/deliveries/${id}`);
    // The page follows the attempts by itself.
    await page.getByRole("heading", { name: /Attempt 2 Failed, retrying/ }).waitFor({ timeout: WAIT });
    await page.getByRole("heading", { name: /Attempt 3 Failed/ }).waitFor({ timeout: WAIT });
    assert.ok((await page.content()).includes("receiver told to fail"), "the response snippet is shown");
    await check(page, "delivery-failed");
    await control("/fail?on=false");
    await page.getByRole("button", { name: "Redeliver" }).click();
    await page.getByText("Sent again").waitFor();
    await page.getByRole("heading", { name: /Attempt 1 Delivered/ }).waitFor({ timeout: WAIT });
    await until("it arrives", async () => (await control("/state")).deliveries.some((d) => d.eventId === eventId && d.status === 200));
  });

  await t.test("recover what failed since a time", async () => {
    const page = state.page;
    const dead = await deadDelivery(page);
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    const since = new Date(Date.now() - 10 * 60_000).toISOString().slice(0, 16);
    await page.getByLabel("Send again every failed or parked delivery since (UTC)").fill(since);
    await page.getByRole("button", { name: "Recover" }).click();
    await page.getByText(/sent again so far/).waitFor();
    await check(page, "recovered");
    await until("it arrives", async () => (await control("/state")).deliveries.some((d) => d.eventId === dead.eventId && d.status === 200));
  });

  await t.test("rotate the secret: the new one shows once, deliveries carry it", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    await page.getByLabel("Keep the old secret valid for").selectOption("1h");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("heading", { name: "Secret rotated" }).waitFor();
    await page.getByText("The previous secret stays valid until").waitFor();
    const secret = (await page.locator("#secret-value").textContent()).trim();
    assert.notEqual(secret, state.secrets[0]);
    await control("/secret", secret);
    state.secrets.push(secret);
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    assert.ok(!(await page.content()).includes(secret), "the rotated secret is on the webhook page");
    const eventId = await publish(A.company);
    await until("delivered with the new secret", async () => (await control("/state")).deliveries.some((d) => d.eventId === eventId && d.verified));
  });

  await t.test("disable parks deliveries; enable with replay sends them", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    await page.getByRole("button", { name: "Disable" }).click();
    await page.getByText("Webhook disabled").waitFor();
    const eventId = await publish(A.company);
    const id = await until("the delivery is logged", () => deliveryOf(page, state.hookId, eventId));
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}/deliveries`);
    await until("the list shows it parked", async () => (await rowOutcome(page, id)) === "Parked");
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    await check(page, "webhook-disabled");
    await page.getByRole("button", { name: "Enable and send what was parked" }).click();
    await page.getByText(/parked deliveries sent again/).waitFor();
    await until("the parked one arrives", async () => (await control("/state")).deliveries.some((d) => d.eventId === eventId && d.status === 200));
  });

  await t.test("send a test event and watch it arrive", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.waitForURL(/\/deliveries\/dlv_/);
    await page.getByRole("heading", { name: /Attempt 1 Delivered/ }).waitFor({ timeout: WAIT });
    await until("the receiver got it", async () => (await control("/state")).deliveries.some((d) => d.type === "WEBHOOK_TEST" && d.verified));
    await page.goto(`${BASE}/portal/webhooks/${state.hookId}`);
    await page.locator("svg.chart rect").first().waitFor({ state: "attached" });
    await check(page, "webhook");
    await page.goto(`${BASE}/portal/`);
    await check(page, "webhooks");
  });

  await t.test("edit and delete, with confirmation", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/webhooks/new`);
    await page.getByLabel("Name", { exact: true }).fill("Short-lived");
    await page.getByLabel("Payload URL").fill(RECEIVER);
    await page.getByRole("button", { name: "Create webhook" }).click();
    await page.getByRole("heading", { name: "Webhook created" }).waitFor();
    await control("/secret", (await page.locator("#secret-value").textContent()).trim());
    await page.getByRole("link", { name: "Short-lived" }).first().click();
    await page.getByRole("link", { name: "Edit" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Short-lived, renamed");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Changes saved.").waitFor();
    await page.getByRole("link", { name: "Delete webhook…" }).click();
    await page.getByRole("heading", { name: /Delete Short-lived, renamed/ }).waitFor();
    await check(page, "delete");
    await page.getByRole("button", { name: "Delete webhook" }).click();
    await page.getByText("Webhook deleted.").waitFor();
    assert.ok(!(await page.content()).includes("Short-lived"));
  });

  await t.test("the catalogue, an event type and the API docs", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/event-types`);
    await check(page, "catalogue");
    await page.getByRole("link", { name: "TODO_CREATED" }).click();
    await page.getByRole("heading", { name: "What an endpoint receives" }).waitFor();
    await check(page, "event-type");
    const res = await page.goto(`${BASE}/docs`);
    assert.equal(res.status(), 200);
    await page.getByRole("heading", { name: /POST \/v1\/portal\/sessions/ }).waitFor();
    await check(page, "docs");
  });

  await t.test("company B sees none of A's webhooks or deliveries", async () => {
    const page = await open(B);
    assert.ok(!(await page.content()).includes("Orders"), "B's list shows A's webhook");
    for (const path of [`/portal/webhooks/${state.hookId}`, `/portal/webhooks/${state.hookId}/deliveries`, `/portal/webhooks/${state.hookId}/edit`]) {
      const res = await page.goto(BASE + path);
      assert.equal(res.status(), 404, path);
      assert.ok(!(await page.content()).includes("Orders"), `${path} shows A's data`);
    }
    const anyDelivery = (await api("GET", `/v1/webhooks/${state.hookId}/deliveries?limit=1`, A.token)).body.data[0].deliveryId;
    const res = await page.goto(`${BASE}/portal/webhooks/${state.hookId}/deliveries/${anyDelivery}`);
    assert.equal(res.status(), 404);
    await check(page, "not-found");
  });

  await t.test("a change without the CSRF token is refused", async () => {
    const page = state.page;
    for (const form of [{}, { csrf: "forged" }]) {
      const res = await page.request.post(`${BASE}/portal/webhooks/${state.hookId}/disable`, { form, maxRedirects: 0 });
      assert.equal(res.status(), 403);
    }
    const hook = await api("GET", `/v1/webhooks/${state.hookId}`, A.token);
    assert.equal(hook.body.enabled, true, "the refused change changed the webhook");
  });

  await t.test("logout ends the session", async () => {
    const page = state.page;
    await page.goto(`${BASE}/portal/`);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "You have logged out" }).waitFor();
    await check(page, "signed-out");
    const res = await page.goto(`${BASE}/portal/`);
    assert.equal(res.status(), 401);
  });
});
