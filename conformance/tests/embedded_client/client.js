"use strict";
// The npm socket.io-client 4.8.4 against socketio-parser's `embedded_std` example (a server on
// std::net and threads). Run by tests/it/embedded_std.rs; prints one JSON object and exits 0, or
// prints {"error": ...} and exits 1 (2 after `timeoutMs` without an outcome).
//
// Usage: node client.js <url> [timeoutMs]
//
// Three clients, one per way of connecting: "upgrade" (the default transports: polling, then
// the upgrade to WebSocket), "polling" (polling only) and "websocket" (WebSocket only). Each:
//   - answers the server's `hello` (an object and 3 bytes, with an ack) with an object and
//     bytes, and records the `ack-received` the server sends back with that answer;
//   - emits `echo` (an object and bytes) with an ack, and records the answer;
//   - emits `reverse` (bytes) with an ack, and records the answer.
// Then "upgrade" emits `broadcast`, and every client records what it receives.
// Besides, a raw Engine.IO v4 client over plain HTTP polling joins `/`, then never answers a
// ping: it records the packets it polls until the server closes the session, then what a poll
// of the closed session gets.

const http = require("http");
const { io } = require("socket.io-client");

const url = process.argv[2];
const timeoutMs = Number(process.argv[3] || 20000);

function done(code, value) {
  process.stdout.write(JSON.stringify(value) + "\n", () => process.exit(code));
}

const watchdog = setTimeout(() => done(2, { error: `no outcome within ${timeoutMs} ms` }), timeoutMs);
process.on("uncaughtException", (e) => done(1, { error: String(e && e.stack ? e.stack : e) }));

// Binary values as arrays of numbers, wherever they are.
function plain(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { bytes: [...value] };
  if (value instanceof ArrayBuffer) return { bytes: [...new Uint8Array(value)] };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

// Emits with an ack and resolves with all the ack's arguments.
function call(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(5000).emit(event, ...args, (err, ...answer) => (err ? reject(err) : resolve(answer)));
  });
}

function client(name, transports) {
  const socket = io(url, { transports, forceNew: true, reconnection: false });
  const record = { name };
  const engine = socket.io.engine;
  const upgraded = new Promise((resolve) => engine.on("upgrade", (t) => resolve(t.name)));
  const helloAnswered = new Promise((resolve) => {
    socket.on("hello", (info, bytes, ack) => {
      record.hello = plain([info, bytes]);
      ack({ from: name }, Buffer.from([9, 8, 7]));
      resolve();
    });
  });
  const ackReceived = new Promise((resolve) => {
    socket.on("ack-received", (...args) => {
      record.ackReceived = plain(args);
      resolve();
    });
  });
  const broadcast = new Promise((resolve) => {
    socket.on("broadcast", (...args) => {
      record.broadcast = plain(args);
      resolve();
    });
  });
  const connected = new Promise((resolve, reject) => {
    socket.on("connect", () => {
      record.id = socket.id;
      record.transportAtConnect = engine.transport.name;
      resolve();
    });
    socket.on("connect_error", (e) => reject(new Error(`${name}: connect_error ${e.message}`)));
  });
  socket.on("disconnect", (reason) => (record.disconnect = reason));
  return { name, socket, record, upgraded, helloAnswered, ackReceived, broadcast, connected };
}

async function exchanges(c) {
  await c.connected;
  if (c.name === "upgrade") {
    c.record.upgradedTo = await c.upgraded;
  }
  await c.helloAnswered;
  await c.ackReceived;
  c.record.echo = plain(await call(c.socket, "echo", { text: "héllo", n: 42 }, Buffer.from([0, 1, 254, 255])));
  c.record.reverse = plain(await call(c.socket, "reverse", Buffer.from([1, 2, 3, 4, 5])));
  c.record.transportAtEnd = c.socket.io.engine.transport.name;
}

function request(method, target, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method, agent: false }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (data += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", reject);
    if (body !== undefined) {
      req.setHeader("Content-Type", "text/plain;charset=UTF-8");
      req.end(body);
    } else {
      req.end();
    }
  });
}

async function silentClient() {
  const base = `${url}/socket.io/?EIO=4&transport=polling`;
  const open = await request("GET", base);
  const handshake = JSON.parse(open.body.slice(1));
  const target = `${base}&sid=${encodeURIComponent(handshake.sid)}`;
  const record = { pingInterval: handshake.pingInterval, pingTimeout: handshake.pingTimeout, packets: [] };
  record.connectPost = (await request("POST", target, "40")).body;
  // Poll, never answering a ping, until the session answers a poll with `close` (bounded).
  for (let i = 0; i < 20 && !record.packets.includes("1"); i++) {
    const poll = await request("GET", target);
    if (poll.status !== 200) {
      record.pollStatus = poll.status;
      break;
    }
    for (const packet of poll.body.split("\x1e")) {
      record.packets.push(packet.startsWith("40") ? "40" : packet.length > 1 ? packet[0] + "…" : packet);
      if (packet.startsWith("40")) record.id = JSON.parse(packet.slice(2)).sid;
    }
  }
  const after = await request("GET", target);
  record.afterClose = { status: after.status, body: JSON.parse(after.body) };
  return record;
}

async function main() {
  const silent = silentClient();
  const clients = [client("upgrade", undefined), client("polling", ["polling"]), client("websocket", ["websocket"])];
  await Promise.all(clients.map(exchanges));
  clients[0].socket.emit("broadcast", "to everyone", Buffer.from([42]));
  await Promise.all(clients.map((c) => c.broadcast));
  const result = { clients: {}, silent: await silent };
  for (const c of clients) {
    result.clients[c.name] = c.record;
    c.socket.disconnect();
  }
  clearTimeout(watchdog);
  done(0, result);
}

main().catch((e) => done(1, { error: String(e && e.stack ? e.stack : e) }));
