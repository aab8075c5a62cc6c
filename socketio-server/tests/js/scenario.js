"use strict";
// Puppet Socket.IO clients for the socketio-server interop tests: the Rust test describes the
// clients, then drives them with commands on standard input and reads what they see as JSON
// lines on standard output. The scenario itself lives in the Rust test; this script only
// connects, reports and obeys.
//
// Usage: node scenario.js <label> <url> '<json>' where json is
//   { "timeoutMs": 30000, "clients": [CLIENT, ...] }
// and each CLIENT is
//   { "name": "a",              the name reports carry, and commands use
//     "nsp": "/admin",          the namespace (default "/")
//     "manager": "m",           clients naming the same manager share one Engine.IO connection
//                               (default: their own name)
//     "version": 4 | 2,         socket.io-client 4.8.4, or 2.5.0 (Engine.IO v3)
//     "transports": [...],      the client's `transports` option (default polling + websocket)
//     "auth": {...},            the CONNECT payload (v4)
//     "query": {...},           the handshake query string (manager option)
//     "nspQuery": "token=abc",  the namespace query string (v2: its auth)
//     "extraHeaders": {...},
//     "agent": {...},           an http.Agent (https.Agent for an https URL) with these options,
//                               for polling and WebSocket: {"localAddress": "127.0.0.2"} binds
//                               the client to that address, {"ca": PEM} trusts that certificate
//     "withCredentials": true,  keep cookies (the client's cookie jar), as a browser does
//     "parser": "msgpack",      socket.io-msgpack-parser instead of the default parser
//     "reconnection": false,    (default false: a test that wants reconnection says so)
//     "autoConnect": true,      false: neither the manager nor the socket opens until told
//     "answers": { EVENT: POLICY } }
// How a client answers an event the server sends with an acknowledgement (POLICY):
//   "echo" (the default): the same arguments; "silent": never; "name": the client's name;
//   {"reply": [ARGS]}: those arguments; {"hold": N}: keep the first N such events, then answer
//   them all, last first, each with its own arguments.
//
// Commands (one JSON object per line on standard input):
//   {"cmd":"emit","client":C,"event":E,"args":[...],"ack":true,"timeoutMs":N,"tag":T}
//       emits; with "ack", reports {"event":"ack","tag":T,"err":MESSAGE|null,"args":[...]}
//       ("timeoutMs" uses the client's socket.timeout(), which socket.io-client 2 lacks)
//   {"cmd":"emit_many","client":C,"event":E,"count":N,"ack":bool,"tag":T}
//       emits E with the argument i for i in 0..N in one tick; reports "sent", or with "ack"
//       {"event":"acks","tag":T,"results":[[...args of ack i], ...]} once all are answered
//   {"cmd":"connect"|"disconnect","client":C}        socket.connect() / socket.disconnect()
//   {"cmd":"open","client":M}                        opens manager M without any namespace
//   {"cmd":"close_engine","client":M}                closes manager M's Engine.IO socket
//   {"cmd":"stop_pong","client":M}                   manager M's engine stops answering pings
//   {"cmd":"state","client":C,"tag":T}               reports connected/active/id/recovered
//   {"cmd":"wire","client":M,"tag":T}                reports the Engine.IO messages manager M
//                                                    received: text (first 200 characters),
//                                                    binary as {"$binlen": N}
//   {"cmd":"exit"}                                   closes every client and exits 0
// Argument values: {"$bin": HEX} is a Buffer; {"$big": "text"|"bin", "len": N} is the pattern
// string or buffer of that length (see big()). Reported values use the same forms: buffers as
// {"$bin": HEX}, and strings and buffers over 1 024 bytes as {"$big": KIND, "len": N, "fnv": H}
// (FNV-1a 32 of the UTF-8 bytes, 8 hex digits).
//
// Reports: {"client":C,"event":E,...} with E one of connect, connect_error (socket.io-client 2:
// what its `error` listeners got, as "message"), disconnect (reason, active), event (an event
// from the server: name, args, ack), ack, acks, sent, state, and for managers open, upgrade,
// close (reason, description, and for a WebSocket its close code and whether it was clean),
// reconnect_attempt, reconnect, manager_error, opened, pong_stopped, wire; then
// {"client":"-","event":"bye"} on exit. The script prints
// {"client":"-","event":"timeout"} and exits 2 if it is still running after timeoutMs, and
// exits 1 on an unexpected error ({"client":"-","event":"fatal"}).

const readline = require("readline");

const [label, url, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson || "{}");

function out(client, event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ client, event }, fields || {})) + "\n");
}

function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

function fatal(message) {
  out("-", "fatal", { message: String(message) });
  exit(1);
}

process.on("uncaughtException", (err) => fatal(err && err.stack ? err.stack : err));

const watchdog = setTimeout(() => {
  out("-", "timeout", { message: `${label}: gave up after ${config.timeoutMs || 30000} ms` });
  exit(2);
}, config.timeoutMs || 30000);

// ---------------------------------------------------------------------------------------------
// Values

const TEXT_PATTERN = "socket.io interop 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ\n";

function big(kind, len) {
  if (kind === "text") {
    return TEXT_PATTERN.repeat(Math.ceil(len / TEXT_PATTERN.length)).slice(0, len);
  }
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}

function fnv(bytes) {
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

// Arguments from the Rust side to JavaScript values.
function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    if (typeof v.$big === "string") return big(v.$big, v.len);
    const o = {};
    for (const k of Object.keys(v)) o[k] = revive(v[k]);
    return o;
  }
  return v;
}

// JavaScript values to what the Rust side compares.
function describe(v) {
  if (isBinary(v)) {
    const b = toBuffer(v);
    if (b.length > 1024) return { $big: "bin", len: b.length, fnv: fnv(b) };
    return { $bin: b.toString("hex") };
  }
  if (typeof v === "string" && v.length > 1024) {
    const b = Buffer.from(v, "utf8");
    return { $big: "text", len: b.length, fnv: fnv(b) };
  }
  if (Array.isArray(v)) return v.map(describe);
  if (v === undefined) return null;
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = describe(v[k]);
    return o;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Clients

const managers = new Map(); // name -> { manager, version }
const clients = new Map(); // name -> { socket, spec, answers, held }

function managerOptions(spec) {
  const opts = {
    transports: spec.transports || ["polling", "websocket"],
    reconnection: spec.reconnection === true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    timeout: 10000,
    autoConnect: spec.autoConnect !== false,
  };
  if (spec.query) opts.query = spec.query;
  if (spec.extraHeaders) opts.extraHeaders = spec.extraHeaders;
  if (spec.agent) {
    const { Agent } = url.startsWith("https:") ? require("https") : require("http");
    opts.agent = new Agent(spec.agent);
  }
  if (spec.withCredentials) opts.withCredentials = true;
  if (spec.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
  return opts;
}

const wires = new Map(); // manager name -> the Engine.IO messages it received, in order

function watchEngine(name, engine) {
  if (!engine) return;
  engine.on("upgrade", (transport) => out(name, "upgrade", { transport: transport.name }));
  const wire = wires.get(name) || [];
  wires.set(name, wire);
  engine.on("packet", (packet) => {
    if (packet.type !== "message") return;
    const data = packet.data;
    wire.push(typeof data === "string" ? data.slice(0, 200) : { $binlen: toBuffer(data).length });
  });
}

function managerFor(spec) {
  const name = spec.manager || spec.name;
  if (managers.has(name)) return managers.get(name).manager;
  const version = spec.version || 4;
  const { Manager } = version === 2 ? require("socket.io-client-v2") : require("socket.io-client");
  const manager = new Manager(url, managerOptions(spec));
  managers.set(name, { manager, version });
  manager.on("open", () => {
    const engine = manager.engine;
    out(name, "open", { engine: engine.id, transport: engine.transport.name });
    watchEngine(name, engine);
  });
  manager.on("close", (reason, details) => {
    // How the transport ended: a WebSocket's close event (code, clean or not), or what
    // long-polling saw (the server's close packet: "transport closed by the server").
    const context = details && details.context;
    out(name, "close", {
      reason: String(reason),
      description: details && details.description !== undefined ? String(details.description) : null,
      code: context && typeof context.code === "number" ? context.code : null,
      wasClean: context && typeof context.wasClean === "boolean" ? context.wasClean : null,
    });
  });
  manager.on("reconnect_attempt", (attempt) => out(name, "reconnect_attempt", { attempt }));
  manager.on("reconnect", (attempt) => out(name, "reconnect", { attempt }));
  manager.on("error", (err) => out(name, "manager_error", { message: String(err && err.message) }));
  return manager;
}

function answer(client, event, args, ack) {
  const policy = client.answers[event] || "echo";
  if (policy === "silent") return;
  if (policy === "echo") return ack(...args);
  if (policy === "name") return ack(client.spec.name);
  if (policy.reply) return ack(...revive(policy.reply));
  if (policy.hold) {
    const held = client.held[event] || (client.held[event] = []);
    held.push(() => ack(...args));
    if (held.length === policy.hold) {
      client.held[event] = [];
      for (const reply of held.reverse()) reply();
    }
    return;
  }
  fatal(`unknown answer policy ${JSON.stringify(policy)}`);
}

function onEvent(client, event, args) {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
  out(client.spec.name, "event", { name: event, args: describe(args), ack: ack !== null });
  if (ack) answer(client, event, args, ack);
}

function createClient(spec) {
  const manager = managerFor(spec);
  const version = spec.version || 4;
  const nsp = spec.nsp || "/";
  const opts = version === 2 ? (spec.nspQuery ? { query: spec.nspQuery } : {}) : { auth: spec.auth || {} };
  const socket = manager.socket(nsp, opts);
  const client = { socket, spec, answers: Object.assign({}, spec.answers), held: {} };
  clients.set(spec.name, client);
  const name = spec.name;
  socket.on("connect", () => {
    const engine = socket.io.engine;
    out(name, "connect", {
      id: socket.id,
      engine: engine.id,
      transport: engine.transport.name,
      recovered: socket.recovered === true,
    });
  });
  socket.on("connect_error", (err) => {
    out(name, "connect_error", { message: String(err && err.message), data: describe(err && err.data) });
  });
  socket.on("disconnect", (reason) => {
    out(name, "disconnect", { reason: String(reason), active: version === 2 ? null : socket.active });
  });
  if (version === 2) {
    // socket.io-client 2 has no onAny: see every event where the socket dispatches it.
    socket.on("error", (err) => out(name, "connect_error", { message: describe(err), data: null }));
    socket.onevent = function (packet) {
      const args = (packet.data || []).slice();
      if (packet.id != null) args.push(this.ack(packet.id));
      onEvent(client, args.shift(), args);
    };
  } else {
    socket.onAny((event, ...args) => onEvent(client, event, args));
  }
}

function client(name) {
  const c = clients.get(name);
  if (!c) fatal(`no client ${name}`);
  return c;
}

function manager(name) {
  const m = managers.get(name) || (clients.get(name) && managers.get(clients.get(name).spec.manager || name));
  if (!m) fatal(`no manager ${name}`);
  return m.manager;
}

// ---------------------------------------------------------------------------------------------
// Commands

function emitWithAck(c, cmd, args, done) {
  const socket = c.socket;
  if (cmd.timeoutMs != null) {
    socket.timeout(cmd.timeoutMs).emit(cmd.event, ...args, (err, ...res) => done(err, res));
  } else {
    socket.emit(cmd.event, ...args, (...res) => done(null, res));
  }
}

const commands = {
  emit(cmd) {
    const c = client(cmd.client);
    const args = revive(cmd.args || []);
    if (!cmd.ack) {
      c.socket.emit(cmd.event, ...args);
      return out(cmd.client, "sent", { tag: cmd.tag });
    }
    emitWithAck(c, cmd, args, (err, res) => {
      out(cmd.client, "ack", { tag: cmd.tag, err: err ? String(err.message) : null, args: describe(res) });
    });
  },
  emit_many(cmd) {
    const c = client(cmd.client);
    const results = new Array(cmd.count);
    let pending = cmd.count;
    for (let i = 0; i < cmd.count; i++) {
      if (!cmd.ack) {
        c.socket.emit(cmd.event, i);
        continue;
      }
      emitWithAck(c, cmd, [i], (err, res) => {
        results[i] = err ? { err: String(err.message) } : describe(res);
        if (--pending === 0) out(cmd.client, "acks", { tag: cmd.tag, results });
      });
    }
    if (!cmd.ack) out(cmd.client, "sent", { tag: cmd.tag });
  },
  connect(cmd) {
    client(cmd.client).socket.connect();
  },
  disconnect(cmd) {
    client(cmd.client).socket.disconnect();
  },
  open(cmd) {
    manager(cmd.client).open((err) => out(cmd.client, "opened", { err: err ? String(err.message) : null }));
  },
  close_engine(cmd) {
    manager(cmd.client).engine.close();
  },
  stop_pong(cmd) {
    const engine = manager(cmd.client).engine;
    const send = engine._sendPacket;
    engine._sendPacket = function (type, ...rest) {
      if (type !== "pong") return send.call(this, type, ...rest);
    };
    // Nor does the client give up on its own: only the server notices the silence.
    engine._resetPingTimeout = function () {
      this.clearTimeoutFn(this._pingTimeoutTimer);
      this._pingTimeoutTime = Infinity;
    };
    engine._resetPingTimeout();
    out(cmd.client, "pong_stopped", {});
  },
  wire(cmd) {
    out(cmd.client, "wire", { tag: cmd.tag, messages: wires.get(cmd.client) || [] });
  },
  state(cmd) {
    const c = client(cmd.client);
    out(cmd.client, "state", {
      tag: cmd.tag,
      connected: c.socket.connected,
      active: c.socket.active === undefined ? null : c.socket.active,
      id: c.socket.id === undefined ? null : c.socket.id,
      recovered: c.socket.recovered === true,
    });
  },
  exit() {
    clearTimeout(watchdog);
    for (const { socket } of clients.values()) socket.disconnect();
    for (const { manager } of managers.values()) {
      if (manager.engine) manager.engine.close();
    }
    out("-", "bye", {});
    exit(0);
  },
};

for (const spec of config.clients || []) createClient(spec);

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  const run = commands[cmd.cmd];
  if (!run) return fatal(`unknown command ${line}`);
  run(cmd);
});
input.on("close", () => commands.exit());
