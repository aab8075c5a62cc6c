// The chat page's behaviour, on the official socket.io-client (the global `io`, loaded from
// /socket.io/socket.io.min.js). Everything the server sends is put on the page as text, never
// as HTML. `?transport=polling` in the address keeps the page on HTTP long-polling.
//
// `socket` is a global on purpose: the browser test reads `socket.io.engine.transport.name`.
"use strict";

const forcePolling = new URLSearchParams(location.search).get("transport") === "polling";
const ACK_TIMEOUT = 5000;
const TYPING_IDLE = 2000; // stop "typing" after this long without a keystroke
const TYPING_REFRESH = 3000; // re-announce while typing goes on
const TYPING_EXPIRE = 6000; // forget someone's "typing" we heard nothing more about
const SERVER_DISCONNECT_RETRY = 1000; // wait this long before coming back after the server ended us
const MAX_NAME = 24; // the server's limit for a nickname, in characters (code points)

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  statusText: $("status-text"),
  login: $("login"),
  loginForm: $("login-form"),
  loginError: $("login-error"),
  nickname: $("nickname"),
  chat: $("chat"),
  channels: $("channels"),
  channelForm: $("channel-form"),
  channelInput: $("channel-input"),
  users: $("users"),
  userCount: $("user-count"),
  leave: $("leave"),
  channelTitle: $("channel-title"),
  panelToggle: $("panel-toggle"),
  panelCount: $("panel-count"),
  logs: $("logs"),
  typing: $("typing"),
  composer: $("composer"),
  message: $("message"),
};

let socket = null;
let nickname = "";
let channel = "general";
let knownChannels = [];
const logs = new Map(); // channel -> its <ol>, kept while the page lives
const typers = new Map(); // socket id -> { name, timer }

// ---------------------------------------------------------------------------------------------
// Connection and its state

function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.statusText.textContent = text;
}

function showConnected() {
  setStatus("connected", `connected · ${socket.io.engine.transport.name}`);
}

function createSocket() {
  const options = {
    autoConnect: false,
    // Called on every attempt, so a reconnecting page returns to its current channel.
    auth: (send) => send({ name: nickname, channel }),
  };
  if (forcePolling) options.transports = ["polling"];
  const s = io(options);

  s.on("connect", () => {
    showConnected();
    s.io.engine.once("upgrade", showConnected);
  });
  s.on("disconnect", (reason) => {
    clearTypers();
    stopTyping();
    if (reason === "io client disconnect") {
      setStatus("disconnected", "disconnected");
    } else if (reason === "io server disconnect") {
      // The server (or an operator, from the Admin UI) ended this socket. socket.io-client does
      // not come back by itself after that; the page does, once, a moment later, with the same
      // nickname and channel. A refusal then shows the login form.
      setStatus("reconnecting", "disconnected by the server, reconnecting…");
      addNotice("The server ended this connection; reconnecting…");
      setTimeout(() => {
        if (socket === s && !s.connected) s.connect();
      }, SERVER_DISCONNECT_RETRY);
    } else {
      // The Manager reconnects on its own; its events below tell how it goes.
      setStatus("reconnecting", "connection lost, reconnecting…");
      addNotice(`Connection lost (${reason}); reconnecting…`);
    }
  });
  s.on("connect_error", (err) => {
    if (s.active) {
      // A network problem: the Manager keeps trying.
      if (ui.status.dataset.state !== "reconnecting") setStatus("reconnecting", "reconnecting…");
      return;
    }
    // Refused by the server (a nickname it does not accept, say).
    setStatus("disconnected", "not connected");
    showLogin(err.message);
  });
  s.io.on("reconnect_attempt", (attempt) => setStatus("reconnecting", `reconnecting (attempt ${attempt})…`));
  s.io.on("reconnect_failed", () => setStatus("disconnected", "could not reconnect"));

  s.on("welcome", (welcome) => {
    nickname = welcome.name;
    channel = welcome.channel;
    showChat();
    showChannel(channel);
    renderUsers(welcome.users);
    renderChannels(welcome.channels);
    addNotice(`You are in #${channel} as ${nickname}`);
  });
  s.on("channels", renderChannels);
  s.on("message", (message) => {
    removeTyper(message.id);
    addMessage(message, false);
  });
  s.on("typing", ({ id, name, typing }) => (typing ? addTyper(id, name) : removeTyper(id)));
  s.on("user joined", (notice) => {
    addNotice(`${notice.name} joined #${notice.channel}`, notice.time, notice.channel);
    if (notice.channel === channel) renderUsers(notice.users);
  });
  s.on("user left", (notice) => {
    removeTyper(notice.id);
    addNotice(`${notice.name} left #${notice.channel}`, notice.time, notice.channel);
    if (notice.channel === channel) renderUsers(notice.users);
  });
  return s;
}

// ---------------------------------------------------------------------------------------------
// Joining and leaving

// What is wrong with a trimmed nickname, in the words of the server's middleware, or "" when
// nothing is. The server has the last word (it also refuses control characters): its refusal
// shows under the field the same way.
function nicknameProblem(name) {
  if (!name) return "Please choose a nickname (not just spaces).";
  if ([...name].length > MAX_NAME) return `That nickname is too long: ${MAX_NAME} characters at most.`;
  return "";
}

function showLoginError(error) {
  ui.loginError.hidden = !error;
  ui.loginError.textContent = error || "";
  if (error) ui.nickname.setAttribute("aria-invalid", "true");
  else ui.nickname.removeAttribute("aria-invalid");
}

function showLogin(error) {
  setPanel(false);
  ui.chat.hidden = true;
  ui.login.hidden = false;
  showLoginError(error);
  ui.nickname.value = nickname || ui.nickname.value;
  ui.nickname.focus();
}

function showChat() {
  setPanel(false);
  ui.login.hidden = true;
  ui.chat.hidden = false;
  ui.message.focus();
}

ui.loginForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.nickname.value.trim();
  const problem = nicknameProblem(name);
  if (problem) {
    showLoginError(problem);
    ui.nickname.focus();
    return;
  }
  nickname = name;
  try {
    localStorage.setItem("chat.nickname", name);
  } catch {
    // Storage may be off; the nickname is only a convenience there.
  }
  showLoginError("");
  socket = socket || createSocket();
  setStatus("connecting", "connecting…");
  socket.connect();
});

ui.leave.addEventListener("click", () => {
  socket.disconnect();
  showLogin();
});

try {
  ui.nickname.value = localStorage.getItem("chat.nickname") || "";
} catch {
  // As above.
}

// ---------------------------------------------------------------------------------------------
// Channels and people

function logOf(name) {
  let log = logs.get(name);
  if (!log) {
    log = document.createElement("ol");
    log.className = "log";
    log.dataset.channel = name;
    log.hidden = true;
    ui.logs.append(log);
    logs.set(name, log);
  }
  return log;
}

// The sidebar as a panel: only narrow screens hide it until it is opened (see style.css).
function setPanel(open) {
  ui.chat.classList.toggle("panel-open", open);
  ui.panelToggle.setAttribute("aria-expanded", String(open));
}

ui.panelToggle.addEventListener("click", () => setPanel(!ui.chat.classList.contains("panel-open")));

ui.chat.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !ui.chat.classList.contains("panel-open")) return;
  setPanel(false);
  ui.panelToggle.focus();
});

function showChannel(name) {
  for (const [other, log] of logs) log.hidden = other !== name;
  logOf(name).hidden = false;
  ui.channelTitle.textContent = `#${name}`;
  ui.message.placeholder = `Message #${name}`;
  renderChannels(knownChannels);
  scrollToEnd();
}

function renderChannels(list) {
  knownChannels = list.includes(channel) ? list : [...list, channel];
  ui.channels.replaceChildren(
    ...knownChannels.map((name) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `# ${name}`;
      button.dataset.channel = name;
      if (name === channel) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => switchChannel(name));
      const item = document.createElement("li");
      item.append(button);
      return item;
    }),
  );
}

function renderUsers(names) {
  ui.userCount.textContent = `(${names.length})`;
  ui.panelCount.textContent = `(${names.length})`;
  ui.users.replaceChildren(
    ...names.map((name) => {
      const item = document.createElement("li");
      item.textContent = name;
      if (name === nickname) item.classList.add("me");
      return item;
    }),
  );
}

function switchChannel(name) {
  if (!socket || !socket.connected || name === channel) return;
  stopTyping();
  socket.timeout(ACK_TIMEOUT).emit("join", name, (err, answer) => {
    if (err) return addNotice("The server did not answer; try again.");
    if (!answer.ok) return addNotice(answer.error);
    channel = answer.channel;
    clearTypers();
    setPanel(false); // on a phone, the new channel's conversation comes into view
    showChannel(channel);
    renderUsers(answer.users);
    addNotice(`You joined #${channel}`);
  });
}

ui.channelForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.channelInput.value.trim().replace(/^#/, "").toLowerCase();
  if (!name) return;
  ui.channelInput.value = "";
  switchChannel(name);
});

// ---------------------------------------------------------------------------------------------
// The conversation

function clock(time) {
  const element = document.createElement("time");
  const date = new Date(time);
  element.dateTime = date.toISOString();
  element.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return element;
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function isNearEnd() {
  const box = ui.logs;
  return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}

function scrollToEnd() {
  ui.logs.scrollTop = ui.logs.scrollHeight;
}

// Adds a line to a channel's log, following the conversation unless the reader scrolled up.
function append(item, where = channel) {
  const log = logOf(where);
  const follow = !log.hidden && isNearEnd();
  log.append(item);
  if (follow) scrollToEnd();
  return item;
}

function addNotice(text, time = Date.now(), where = channel) {
  const item = document.createElement("li");
  item.className = "notice";
  item.append(clock(time), span("text", text));
  return append(item, where);
}

function addMessage({ name, text, time, channel: where = channel }, mine) {
  const item = document.createElement("li");
  item.className = mine ? "message mine" : "message";
  item.append(clock(time), span("author", name), span("text", text));
  if (mine) {
    item.dataset.state = "pending";
    const tick = span("tick", "…");
    tick.title = "sending";
    item.append(tick);
  }
  return append(item, where);
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value.trim();
  if (!text || !socket) return;
  ui.message.value = "";
  stopTyping();
  const item = addMessage({ name: nickname, text, time: Date.now() }, true);
  const tick = item.querySelector(".tick");
  socket.timeout(ACK_TIMEOUT).emit("message", text, (err, answer) => {
    if (err || !answer.ok) {
      item.dataset.state = "failed";
      tick.textContent = "!";
      tick.title = err ? "the server did not confirm this message" : answer.error;
      return;
    }
    item.dataset.state = "acked";
    tick.textContent = "✓";
    tick.title = "delivered";
    item.querySelector("time").replaceWith(clock(answer.time));
  });
});

// ---------------------------------------------------------------------------------------------
// Who is typing

let typingSince = 0; // when we last told the server we are typing; 0 when we are not
let typingIdle = 0;

ui.message.addEventListener("input", () => {
  if (!socket || !socket.connected) return;
  if (!ui.message.value.trim()) return stopTyping();
  if (Date.now() - typingSince > TYPING_REFRESH) {
    socket.emit("typing", true);
    typingSince = Date.now();
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE);
});

function stopTyping() {
  clearTimeout(typingIdle);
  if (typingSince && socket && socket.connected) socket.emit("typing", false);
  typingSince = 0;
}

function addTyper(id, name) {
  const known = typers.get(id);
  if (known) clearTimeout(known.timer);
  typers.set(id, { name, timer: setTimeout(() => removeTyper(id), TYPING_EXPIRE) });
  renderTypers();
}

function removeTyper(id) {
  const known = typers.get(id);
  if (!known) return;
  clearTimeout(known.timer);
  typers.delete(id);
  renderTypers();
}

function clearTypers() {
  for (const { timer } of typers.values()) clearTimeout(timer);
  typers.clear();
  renderTypers();
}

function renderTypers() {
  const names = [...typers.values()].map((typer) => typer.name);
  ui.typing.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
}
