// The browser half of socketio-admin's tests/it/browser_dashboard.rs: the Socket.IO Admin UI's
// own dashboard (the npm package's ui/dist, served under /admin/ beside the chat example's page)
// watches the chat's server, in headless Chromium with Playwright, beside a chat page.
//
//   node admin.js <server url> <screenshot path> <username> <password>
//
// A chat page joins as alice; the dashboard logs in to the chat server, lists alice's socket,
// the #general room and the server, then disconnects alice's client (with its connection) from
// its Clients page; the chat page says the server ended its connection and reconnects by
// itself, and the dashboard lists the new socket. Each step prints one JSON line; the last is `RESULT {...}` for the Rust side. Every
// wait is bounded by Playwright's timeouts, and the whole run by a watchdog.
"use strict";

const { chromium } = require("playwright-core");

const [url, screenshot, username, password] = process.argv.slice(2);
const STEP_TIMEOUT = 15_000;
const RUN_TIMEOUT = 120_000;
const errors = [];

const watchdog = setTimeout(() => {
  console.error(`admin.js: the run took more than ${RUN_TIMEOUT} ms`);
  process.exit(3);
}, RUN_TIMEOUT);

function step(what, fields) {
  console.log(JSON.stringify(Object.assign({ step: what }, fields || {})));
}

async function newPage(browser, name, viewport) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(STEP_TIMEOUT);
  // The dashboard links fonts and icons from CDNs: nothing but our server is reachable here.
  await context.route((u) => !u.href.startsWith(url), (route) => route.abort());
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`${name}: page error: ${e.message}`));
  return page;
}

/** Shows the dashboard's view `route` (hash routing: the app stays loaded). */
async function show(page, route) {
  await page.evaluate((r) => {
    window.location.hash = r;
  }, route);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox"],
    timeout: STEP_TIMEOUT * 2,
  });
  try {
    // The chat page.
    const chat = await newPage(browser, "chat", { width: 1100, height: 680 });
    await chat.goto(`${url}/`);
    await chat.locator("#nickname").fill("alice");
    await chat.locator("#login-form button").click();
    await chat.locator('#status[data-state="connected"]').waitFor();
    const first = await chat.evaluate(() => ({ id: socket.id, engine: socket.io.engine.id }));
    step("chat page connected", first);

    // The dashboard logs in to the chat server.
    const dash = await newPage(browser, "dashboard", { width: 1400, height: 900 });
    await dash.goto(`${url}/admin/`);
    await dash.getByLabel("Server URL").fill(url);
    await dash.getByLabel("Username").fill(username);
    await dash.getByLabel("Password").fill(password);
    await dash.getByRole("button", { name: "Connect" }).click();
    await dash.getByLabel("Password").waitFor({ state: "hidden" });
    step("dashboard logged in");

    await show(dash, "#/sockets/");
    await dash.locator("td", { hasText: first.id }).first().waitFor();
    step("the dashboard lists alice's socket");
    await show(dash, "#/rooms/");
    await dash.locator("td", { hasText: "#general" }).first().waitFor();
    step("the dashboard lists the #general room");
    await show(dash, "#/servers/");
    await dash.locator("td", { hasText: /^\s*chat\s*$/ }).first().waitFor();
    step("the dashboard lists the server");

    await show(dash, "#/");
    await dash.locator("main", { hasText: "chat" }).first().waitFor();
    // A stats tick after the page settled, so that the charts have data.
    await dash.waitForTimeout(2500);
    await dash.screenshot({ path: screenshot, fullPage: true });
    step("screenshot", { screenshot });

    // Disconnect alice's client (and its connection) from the dashboard.
    const clientId = first.engine.slice(0, 12);
    await show(dash, "#/clients/");
    const row = dash.locator("tr", { hasText: clientId }).first();
    await row.waitFor();
    await row.locator("button").first().click();
    step("disconnect clicked", { clientId });
    // As the reference does, the dashboard's disconnection is the server's (`io server
    // disconnect`): the page says so and comes back by itself, as the same user.
    await chat.locator("#logs", { hasText: "The server ended this connection; reconnecting" }).waitFor();
    step("chat page disconnected by the server");
    await chat.waitForFunction((old) => socket.connected && socket.id !== old, first.id);
    await chat.locator('#status[data-state="connected"]').waitFor();
    const second = await chat.evaluate(() => ({ id: socket.id, engine: socket.io.engine.id }));
    step("chat page reconnected", second);
    await show(dash, "#/sockets/");
    await dash.locator("td", { hasText: second.id }).first().waitFor();
    await dash.locator("td", { hasText: first.id }).waitFor({ state: "detached" });
    step("the dashboard lists the new socket, not the old one");

    if (errors.length) throw new Error(`errors in the pages:\n${errors.join("\n")}`);
    console.log(`RESULT ${JSON.stringify({ first, second, screenshot })}`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => {
    clearTimeout(watchdog);
  },
  (e) => {
    console.error(`admin.js: ${e && e.stack ? e.stack : e}`);
    if (errors.length) console.error(errors.join("\n"));
    process.exit(1);
  },
);
