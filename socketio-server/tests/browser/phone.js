// The chat example on a phone, for tests/it/chat_browser.rs: one headless Chromium page at 390×844
// with touch, driven through the page the way a thumb would, every expectation checked here.
//
//   node phone.js <server url> <screenshot path>
//
// Nicknames first: one of spaces only and one too long are refused by the page itself, under the
// field, without connecting; one the server refuses (a tab inside) shows the server's message the
// same way; a real one, with spaces around it, joins trimmed. Then the layout: no horizontal
// overflow; the composer in view; the "Channels & people" panel opens with the channel input, its
// Join button, the people and the Leave button all in view and on top. Joining a channel from the
// panel and leaving work. Each step prints one JSON line; the last is `RESULT {...}` for the Rust
// side. Every wait is bounded by Playwright's timeouts, and the whole run by a watchdog.
"use strict";

const { chromium } = require("playwright-core");

const [url, screenshot] = process.argv.slice(2);
const VIEWPORT = { width: 390, height: 844 };
const STEP_TIMEOUT = 15_000;
const RUN_TIMEOUT = 120_000;
const errors = [];
let refusedSid = null; // the Engine.IO session of the connection the server refused

const watchdog = setTimeout(() => {
  console.error(`phone.js: the run took more than ${RUN_TIMEOUT} ms`);
  process.exit(3);
}, RUN_TIMEOUT);

function step(what, fields) {
  console.log(JSON.stringify(Object.assign({ step: what }, fields || {})));
}

function same(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** Fails if the document is wider than the screen (it would scroll sideways). */
async function noSidewaysScroll(page, where) {
  const widths = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
    body: document.body.scrollWidth,
  }));
  if (widths.scroll > widths.client || widths.body > widths.client) {
    throw new Error(`${where}: the page scrolls sideways (${JSON.stringify(widths)})`);
  }
  return widths;
}

/**
 * Fails unless the element of `selector` lies entirely on the screen and is what a tap at its
 * centre reaches (nothing covers it). Returns its box.
 */
async function onScreen(page, selector) {
  const element = page.locator(selector);
  await element.waitFor({ state: "visible" });
  const box = await element.boundingBox();
  if (!box) throw new Error(`${selector} has no box`);
  const inside =
    box.x >= 0 && box.y >= 0 && box.x + box.width <= VIEWPORT.width && box.y + box.height <= VIEWPORT.height;
  if (!inside || box.width < 1 || box.height < 1) {
    const screen = `${VIEWPORT.width}×${VIEWPORT.height}`;
    throw new Error(`${selector} is not entirely on the ${screen} screen: ${JSON.stringify(box)}`);
  }
  const reached = await element.evaluate((target, [x, y]) => {
    const hit = document.elementFromPoint(x, y);
    return hit !== null && (hit === target || target.contains(hit));
  }, [box.x + box.width / 2, box.y + box.height / 2]);
  if (!reached) throw new Error(`${selector} is covered: a tap at its centre reaches something else`);
  return box;
}

/** Types `name` as the nickname, taps the join button and expects the page's refusal `message`. */
async function refused(page, name, message) {
  await page.locator("#nickname").fill(name);
  await page.locator("#login-form button").tap();
  await page.locator("#login-error", { hasText: message }).waitFor();
  await page.locator('#nickname[aria-invalid="true"]').waitFor();
  const field = await onScreen(page, "#nickname");
  const error = await onScreen(page, "#login-error");
  if (error.y < field.y + field.height) throw new Error(`the message "${message}" is not under the field`);
  await page.locator("#login").waitFor({ state: "visible" });
}

/** Waits until the visible channel log holds a notice with `text`. */
function seeNotice(page, text) {
  return page.locator(".log:not([hidden]) .notice", { hasText: text }).first().waitFor();
}

async function openPanel(page) {
  await onScreen(page, "#panel-toggle");
  await page.locator("#panel-toggle").tap();
  await page.locator('#panel-toggle[aria-expanded="true"]').waitFor();
  await page.locator("#sidebar").waitFor({ state: "visible" });
}

/** With the panel open, every control of the sidebar and the composer are on screen at once. */
async function everythingOnScreen(page, where) {
  const boxes = {};
  const controls = ["#channel-input", "#channel-form button", "#users", "#leave", "#message", "#composer button"];
  for (const selector of controls) boxes[selector] = await onScreen(page, selector);
  await noSidewaysScroll(page, where);
  return boxes;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox"],
    timeout: STEP_TIMEOUT * 2,
  });
  try {
    const context = await browser.newContext({
      viewport: VIEWPORT,
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      // After the server's refusal the client closes its session while one more poll is on
      // its way; arriving after the close, that poll is answered 400 (`Session ID unknown`, as
      // the reference server answers it too), which the browser logs.
      const late = refusedSid && m.text().includes("400") && m.location().url.includes(`sid=${refusedSid}`);
      if (!late) errors.push(`console: ${m.text()}`);
    });
    await page.goto(`${url}/`);
    await onScreen(page, "#nickname");
    await onScreen(page, "#login-form button");
    await noSidewaysScroll(page, "the nickname form");
    step("opened");

    // Refused by the page, before any connection.
    await refused(page, "    ", "Please choose a nickname (not just spaces).");
    await refused(page, "", "Please choose a nickname (not just spaces).");
    await refused(page, ` ${"x".repeat(25)} `, "That nickname is too long: 24 characters at most.");
    same(await page.evaluate(() => socket === null), true, "no socket after refused nicknames");
    same(await page.locator("#status").getAttribute("data-state"), "idle", "the connection state");
    await noSidewaysScroll(page, "the nickname form with a message");
    step("blank and too long nicknames refused by the page, not connected");

    // Refused by the server: the page lets it through, the middleware does not.
    const session = page
      .waitForEvent("response", (r) => /[?&]sid=/.test(r.url()))
      .then((r) => (refusedSid = new URL(r.url()).searchParams.get("sid")));
    await refused(page, "ada\tlovelace", "A nickname cannot hold control characters");
    await session;
    same(await page.evaluate(() => socket.connected), false, "connected after the server's refusal");
    same(await page.locator("#status").getAttribute("data-state"), "disconnected", "the connection state");
    step("a nickname the server refuses shows its message");

    // A real nickname, trimmed.
    await page.locator("#nickname").fill("  carol  ");
    await page.locator("#login-form button").tap();
    await page.locator('#status[data-state="connected"]').waitFor();
    await page.locator("#chat").waitFor({ state: "visible" });
    await seeNotice(page, "You are in #general as carol");
    await page.locator("#login-error").waitFor({ state: "hidden" });
    same(await page.locator("#users li").allTextContents(), ["carol"], "who carol sees in #general");
    step("joined as carol");

    // The conversation fills the screen, the panel is closed, the composer at the bottom.
    await page.locator("#sidebar").waitFor({ state: "hidden" });
    same(await page.locator("#panel-toggle").getAttribute("aria-expanded"), "false", "the panel at first");
    const composer = await onScreen(page, "#composer");
    await onScreen(page, "#composer button");
    if (composer.y + composer.height < VIEWPORT.height - 4) {
      throw new Error(`the composer is not at the bottom: ${JSON.stringify(composer)}`);
    }
    await noSidewaysScroll(page, "the conversation");
    await page.locator("#message").tap();
    await page.locator("#message").fill("hello from a phone");
    await page.locator("#composer button").tap();
    const acked = '.log:not([hidden]) .message.mine[data-state="acked"]';
    await page.locator(acked, { hasText: "hello from a phone" }).waitFor();
    step("composer at the bottom, message acked");

    // The panel: every control on screen at once.
    await openPanel(page);
    await everythingOnScreen(page, "the open panel");
    step("panel open: channel form, people, leave and composer on screen");

    // Join a channel from the panel: it closes on the new channel's conversation.
    await page.locator("#channel-input").tap();
    await page.locator("#channel-input").fill("#Phones");
    await page.locator("#channel-form button").tap();
    await page.locator("#channel-title", { hasText: "#phones" }).waitFor();
    await seeNotice(page, "You joined #phones");
    await page.locator("#sidebar").waitFor({ state: "hidden" });
    await onScreen(page, "#composer");
    step("joined #phones from the panel");

    // A channel from the list: its buttons are on screen too.
    await openPanel(page);
    await onScreen(page, '#channels button[data-channel="phones"][aria-current="true"]');
    await onScreen(page, '#channels button[data-channel="rust"]');
    await page.locator('#channels button[data-channel="rust"]').tap();
    await page.locator("#channel-title", { hasText: "#rust" }).waitFor();
    await seeNotice(page, "You joined #rust");
    await page.locator("#sidebar").waitFor({ state: "hidden" });
    step("joined #rust from the list");

    // The screenshot: the panel open above a conversation.
    await page.locator("#message").fill("the panel opens above the conversation");
    await page.locator("#message").press("Enter");
    await page.locator(acked, { hasText: "the panel opens" }).waitFor();
    await openPanel(page);
    const boxes = await everythingOnScreen(page, "the open panel in #rust");
    same(await page.locator("#users li").allTextContents(), ["carol"], "who carol sees in #rust");
    await page.screenshot({ path: screenshot });
    step("screenshot", { screenshot });

    // Leave from the panel.
    await page.locator("#leave").tap();
    await page.locator('#status[data-state="disconnected"]').waitFor();
    await page.locator("#login").waitFor({ state: "visible" });
    await onScreen(page, "#nickname");
    same(await page.locator("#login-error").isHidden(), true, "no message after leaving");
    step("left");

    if (errors.length) throw new Error(`errors in the page:\n${errors.join("\n")}`);
    console.log(`RESULT ${JSON.stringify({ viewport: VIEWPORT, boxes, screenshot })}`);
  } finally {
    await browser.close();
  }
}

main().then(
  () => {
    clearTimeout(watchdog);
  },
  (e) => {
    console.error(`phone.js: ${e && e.stack ? e.stack : e}`);
    if (errors.length) console.error(errors.join("\n"));
    process.exit(1);
  },
);
