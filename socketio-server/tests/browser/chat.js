// The browser half of tests/it/chat_browser.rs: two headless Chromium pages use the chat example
// the way people would, through its own page, and every expectation is checked in the pages.
//
//   node chat.js <server url> <screenshot path>
//
// Alice keeps the default transports (so her page upgrades to WebSocket); Bob's page is opened
// with `?transport=polling` and stays on long-polling. Each step prints one JSON line; the last
// line is `RESULT {...}` with what the Rust side asserts again. Every wait is bounded by
// Playwright's timeouts, and the whole run by a watchdog; any failure exits non-zero.
"use strict";

const { chromium } = require("playwright-core");

const [url, screenshot] = process.argv.slice(2);
const STEP_TIMEOUT = 15_000;
const RUN_TIMEOUT = 120_000;
const errors = [];

const watchdog = setTimeout(() => {
  console.error(`chat.js: the run took more than ${RUN_TIMEOUT} ms`);
  process.exit(3);
}, RUN_TIMEOUT);

function step(what) {
  console.log(JSON.stringify({ step: what }));
}

/** Opens a page in its own browser context (its own user) and joins the chat as `name`. */
async function join(browser, name, query = "") {
  const context = await browser.newContext({ viewport: { width: 1100, height: 680 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(`${name}: page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && errors.push(`${name}: console: ${m.text()}`));
  await page.goto(`${url}/${query}`);
  await page.locator("#nickname").fill(name);
  await page.locator("#login-form button").click();
  await page.locator('#status[data-state="connected"]').waitFor();
  await page.locator("#chat").waitFor({ state: "visible" });
  await seeNotice(page, `You are in #general as ${name}`);
  return { name, context, page };
}

/** Waits until the visible channel log of `page` holds a notice with `text`. */
function seeNotice(page, text) {
  return page.locator(".log:not([hidden]) .notice", { hasText: text }).first().waitFor();
}

/** Waits until the visible channel log of `page` holds a message of `author` with `text`. */
function seeMessage(page, author, text) {
  return page
    .locator(".log:not([hidden]) .message")
    .filter({ has: page.locator(".author", { hasText: author }) })
    .filter({ hasText: text })
    .first()
    .waitFor();
}

/** Types `text` in the composer, key by key, and sends it with Enter. */
async function say(page, text) {
  await page.locator("#message").pressSequentially(text, { delay: 15 });
  await page.locator("#message").press("Enter");
}

/** Waits until the sender's own message `text` carries the tick of the server's ack. */
async function seeAcked(page, text) {
  const mine = page.locator(".log:not([hidden]) .message.mine", { hasText: text }).first();
  await page.locator(`.log:not([hidden]) .message.mine[data-state="acked"]`, { hasText: text }).first().waitFor();
  const tick = await mine.locator(".tick").textContent();
  if (tick !== "✓") throw new Error(`the acked message "${text}" shows ${JSON.stringify(tick)}, not a tick`);
}

function transportOf(page) {
  return page.evaluate(() => socket.io.engine.transport.name);
}

async function users(page) {
  return (await page.locator("#users li").allTextContents()).sort();
}

function same(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox"],
    timeout: STEP_TIMEOUT * 2,
  });
  try {
    step("launched");
    const alice = await join(browser, "alice");
    const bob = await join(browser, "bob", "?transport=polling");
    step("joined");

    await seeNotice(alice.page, "bob joined #general");
    await alice.page.locator("#users li", { hasText: "bob" }).waitFor();
    same(await users(alice.page), ["alice", "bob"], "who alice sees in #general");
    same(await users(bob.page), ["alice", "bob"], "who bob sees in #general");
    step("join notices and member lists");

    // Alice's page upgrades to WebSocket; Bob's stays on long-polling.
    await alice.page.waitForFunction(() => socket.io.engine.transport.name === "websocket");
    await alice.page.locator("#status-text", { hasText: "connected · websocket" }).waitFor();
    await bob.page.locator("#status-text", { hasText: "connected · polling" }).waitFor();
    step("transports");

    // Bob types: Alice sees it while it happens, then the message, then the indicator goes.
    const typingSeen = alice.page.locator("#typing", { hasText: "bob is typing…" }).waitFor();
    await bob.page.locator("#message").pressSequentially("hello from polling", { delay: 15 });
    await typingSeen;
    step("typing indicator");
    await bob.page.locator("#message").press("Enter");
    await seeMessage(alice.page, "bob", "hello from polling");
    await alice.page.waitForFunction(() => document.getElementById("typing").textContent === "");
    await seeAcked(bob.page, "hello from polling");
    step("polling -> websocket message, acked");

    await say(alice.page, "hi bob, from websocket");
    await seeMessage(bob.page, "alice", "hi bob, from websocket");
    await seeAcked(alice.page, "hi bob, from websocket");
    step("websocket -> polling message, acked");

    // Channels: Alice moves to #rust from the list, Bob follows with the channel form.
    await alice.page.locator('#channels button[data-channel="rust"]').click();
    await alice.page.locator("#channel-title", { hasText: "#rust" }).waitFor();
    await seeNotice(alice.page, "You joined #rust");
    await seeNotice(bob.page, "alice left #general");
    await bob.page.locator("#channel-input").fill("#Rust");
    await bob.page.locator("#channel-form button").click();
    await bob.page.locator("#channel-title", { hasText: "#rust" }).waitFor();
    await seeNotice(alice.page, "bob joined #rust");
    await say(bob.page, "same channel again");
    await seeMessage(alice.page, "bob", "same channel again");
    await seeAcked(bob.page, "same channel again");
    same(await users(alice.page), ["alice", "bob"], "who alice sees in #rust");
    step("channels");

    // Alice's network drops: her page shows it reconnecting, then connected again, back in
    // #rust (the page's `auth` carries the channel), and Bob sees her come back.
    await alice.context.setOffline(true);
    await alice.page.locator('#status[data-state="reconnecting"]').waitFor();
    step("offline: reconnecting");
    await alice.context.setOffline(false);
    await alice.page.locator('#status[data-state="connected"]').waitFor({ timeout: STEP_TIMEOUT * 2 });
    await seeNotice(alice.page, "You are in #rust as alice");
    await seeNotice(bob.page, "alice left #rust");
    await seeNotice(bob.page, "alice joined #rust");
    await say(alice.page, "back online");
    await seeMessage(bob.page, "alice", "back online");
    await seeAcked(alice.page, "back online");
    await alice.page.waitForFunction(() => socket.io.engine.transport.name === "websocket");
    step("reconnected");

    const transports = { alice: await transportOf(alice.page), bob: await transportOf(bob.page) };
    same(transports, { alice: "websocket", bob: "polling" }, "transports in use");

    await alice.page.screenshot({ path: screenshot });
    step("screenshot");

    // Bob leaves: his page says so, Alice sees him go.
    await bob.page.locator("#leave").click();
    await bob.page.locator('#status[data-state="disconnected"]').waitFor();
    await bob.page.locator("#login").waitFor({ state: "visible" });
    await seeNotice(alice.page, "bob left #rust");
    await alice.page.waitForFunction(() => document.querySelectorAll("#users li").length === 1);
    same(await users(alice.page), ["alice"], "who alice sees after bob left");
    step("leave notice");

    if (errors.length) throw new Error(`errors in the pages:\n${errors.join("\n")}`);
    console.log(`RESULT ${JSON.stringify({ transports, screenshot })}`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => {
    clearTimeout(watchdog);
  },
  (e) => {
    console.error(`chat.js: ${e && e.stack ? e.stack : e}`);
    if (errors.length) console.error(errors.join("\n"));
    process.exit(1);
  },
);
