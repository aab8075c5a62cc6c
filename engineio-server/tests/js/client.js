"use strict";
// Drives one or more real Engine.IO clients against the server under test and prints what they
// see as JSON lines on stdout: {"client":NAME,"event":EVENT,...}.
//
// Usage: node client.js '<json>' where json is
//   { "url": "http://127.0.0.1:PORT", "timeoutMs": 15000, "clients": [CLIENT, ...] }
// and each CLIENT is
//   { "name": "a", "eio": 4 | 3, "transports": [...], "upgrade": true, "binaryType": "arraybuffer",
//     "forceBase64": false, "startAfter": "otherName:event", "mode": MODE, ...mode options }
// Modes:
//   echo       send `messages` in one tick after open (or once `sendAfter`, a "client:event",
//              has happened), wait for every echo (and for the upgrade when `waitUpgrade`),
//              report them and the raw transport data, then close.
//   stream     send `before` numbered messages at open, then one every `intervalMs` until the
//              upgrade, then `after` more; report the order of the echoes, then close.
//   heartbeat  stay open `stayMs`, counting pings, then check one echo and close.
//   oversize   echo one small message, then send `big` and report how the connection ends.
//   hold       echo one message, print "ready", then wait for the server to close the session.
//   fail       expect the connection to fail; report the error and the close.
// A message is {"t":"text","v":STRING}, {"t":"buffer"|"arraybuffer"|"uint8array","hex":HEX} or
// {"t":"bigtext"|"bigbinary"|"bigarraybuffer","len":N} (patterns the Rust side rebuilds).
// Once every client is done it prints {"client":"-","event":"all-done"} and exits 0 when its
// standard input ends; it exits 1 after an unexpected event and 2 on its own timeout.

const { EventEmitter } = require("events");

const cfg = JSON.parse(process.argv[2]);
const bus = new EventEmitter();
bus.setMaxListeners(100);
const happened = new Set();

let failed = false;

// Runs `fn` once `key` ("client:event") has happened, or at once if it already has.
function after(key, fn) {
  if (!key || happened.has(key)) return fn();
  bus.once(key, fn);
}

function out(client, event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ client, event }, fields || {})) + "\n");
  happened.add(`${client}:${event}`);
  bus.emit(`${client}:${event}`);
}

function exit(code) {
  process.stdout.write("", () => process.exit(code));
}

function fail(client, message) {
  failed = true;
  out(client, "fatal", { message });
}

const watchdog = setTimeout(() => {
  out("-", "timeout", { message: `client script gave up after ${cfg.timeoutMs || 15000} ms` });
  exit(2);
}, cfg.timeoutMs || 15000);

// ---------------------------------------------------------------------------------------------
// What each transport receives before decoding, recorded per socket.

const WIRE_LIMIT = 400;

function describeWire(transport, data) {
  if (typeof data === "string") {
    const entry = { transport, frame: "text", len: data.length, head: data.slice(0, 80) };
    if (transport === "polling" && data.indexOf("\x1e") !== -1) {
      entry.packets = data.split("\x1e").slice(0, 60).map((p) => p.slice(0, 24));
    }
    return entry;
  }
  const bytes = toBuffer(data);
  return { transport, frame: "binary", len: bytes.length, head: bytes.subarray(0, 16).toString("hex") };
}

function tap(proto, transportName) {
  const original = proto.onData;
  proto.onData = function (data) {
    const socket = this.socket;
    if (socket && socket.__wire && socket.__wire.length < WIRE_LIMIT) {
      socket.__wire.push(describeWire(this.name || transportName, data));
    }
    return original.call(this, data);
  };
}

const v4 = require("engine.io-client");
tap(v4.transports.polling.prototype, "polling");
tap(v4.transports.websocket.prototype, "websocket");
tap(require("engine.io-client-v3/lib/transports/polling").prototype, "polling");
tap(require("engine.io-client-v3/lib/transports/websocket").prototype, "websocket");

// ---------------------------------------------------------------------------------------------
// Message contents.

const PATTERN = Array.from("Engine.IO interop é€ 0123456789 abcdefghijklmnopqrstuvwxyz ");

function bigText(len) {
  const chars = new Array(len);
  for (let i = 0; i < len; i++) chars[i] = PATTERN[i % PATTERN.length];
  return chars.join("");
}

function bigBinary(len) {
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) buf[i] = (i * 31 + 7) & 0xff;
  return buf;
}

function toArrayBuffer(buf) {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
}

function build(spec) {
  switch (spec.t) {
    case "text":
      return spec.v;
    case "buffer":
      return Buffer.from(spec.hex, "hex");
    case "arraybuffer":
      return toArrayBuffer(Buffer.from(spec.hex, "hex"));
    case "uint8array":
      return new Uint8Array(Buffer.from(spec.hex, "hex"));
    case "bigtext":
      return bigText(spec.len);
    case "bigbinary":
      return bigBinary(spec.len);
    case "bigarraybuffer":
      return toArrayBuffer(bigBinary(spec.len));
    default:
      throw new Error(`unknown message kind ${spec.t}`);
  }
}

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(String(data), "utf8");
}

function kindOf(data) {
  if (typeof data === "string") return "string";
  if (Buffer.isBuffer(data)) return "buffer";
  if (data instanceof ArrayBuffer) return "arraybuffer";
  if (ArrayBuffer.isView(data)) return "view";
  return typeof data;
}

function describe(data, sent) {
  const entry = { kind: kindOf(data), len: typeof data === "string" ? data.length : toBuffer(data).length };
  if (typeof data === "string" && data.length <= 64) entry.text = data;
  if (typeof data !== "string" && entry.len <= 64) entry.hex = toBuffer(data).toString("hex");
  if (sent !== undefined) {
    const sameKind = (typeof data === "string") === (typeof sent === "string");
    entry.same = sameKind && toBuffer(data).equals(toBuffer(sent));
  }
  return entry;
}

function describeClose(desc) {
  if (desc === undefined || desc === null) return null;
  if (typeof desc !== "object") return { value: String(desc) };
  const r = {};
  if (desc.message) r.message = String(desc.message);
  if (desc.description !== undefined) {
    const d = desc.description;
    r.description = d && typeof d === "object" ? String(d.message || d.type || d) : d;
  }
  if (desc.context && typeof desc.context.code === "number") r.code = desc.context.code;
  if (desc.context && typeof desc.context.status === "number") r.status = desc.context.status;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Clients.

function connect(c) {
  const opts = {};
  if (c.transports) opts.transports = c.transports;
  if (c.upgrade === false) opts.upgrade = false;
  if (c.forceBase64) opts.forceBase64 = true;
  let socket;
  if ((c.eio || 4) === 4) {
    socket = new v4.Socket(cfg.url, opts);
    if (c.binaryType) socket.binaryType = c.binaryType;
  } else {
    socket = require("engine.io-client-v3")(cfg.url, opts);
    if (c.binaryType) socket.binaryType = c.binaryType;
  }
  socket.__wire = [];
  return socket;
}

let running = 0;

// A message is {"t":"text","v":STRING}, {"t":"buffer"|"arraybuffer"|"uint8array","hex":HEX} or
// {"t":"bigtext"|"bigbinary"|"bigarraybuffer","len":N} (patterns the Rust side rebuilds).
// Once every client is done the process stays alive (its connections too, so that closes in
// flight reach the server) until standard input ends: the test decides when node may exit.
function finished(c) {
  running -= 1;
  out(c.name, "done");
  if (running > 0) return;
  if (failed) return exit(1);
  out("-", "all-done");
  process.stdin.on("end", () => exit(0));
  process.stdin.on("error", () => exit(0));
  process.stdin.resume();
}

function start(c) {
  const s = connect(c);
  const name = c.name;
  let closeExpected = false;
  let upgraded = false;
  const onDone = () => finished(c);

  s.on("open", () => out(name, "open", { transport: s.transport.name, sid: s.id }));
  s.on("upgrading", (t) => out(name, "upgrading", { transport: t.name }));
  s.on("upgrade", (t) => {
    upgraded = true;
    out(name, "upgrade", { transport: t.name });
  });
  s.on("error", (e) => {
    const r = { message: String((e && e.message) || e) };
    if (e && e.description !== undefined) {
      r.description = typeof e.description === "object" ? String(e.description.message || e.description) : e.description;
    }
    out(name, "error", r);
  });
  s.on("close", (reason, desc) => {
    out(name, "close", { reason, detail: describeClose(desc), expected: closeExpected });
    if (!closeExpected) fail(name, `unexpected close: ${reason}`);
    onDone();
  });

  // Deferred: inside its own "upgrade" handler the socket still counts as upgrading, and a
  // close() there would wait for another upgrade.
  const closeNow = () => {
    closeExpected = true;
    out(name, "final", { transport: s.transport.name, readyState: s.readyState, wire: s.__wire });
    setImmediate(() => s.close());
  };

  switch (c.mode) {
    case "echo": {
      const sent = (c.messages || []).map(build);
      const echoes = [];
      let reported = false;
      const maybeFinish = () => {
        if (reported || echoes.length < sent.length || (c.waitUpgrade && !upgraded)) return;
        reported = true;
        out(name, "echoes", { items: echoes });
        closeNow();
      };
      s.on("open", () =>
        after(c.sendAfter, () => {
          for (const m of sent) s.send(m);
          maybeFinish();
        }),
      );
      s.on("message", (d) => {
        echoes.push(describe(d, sent[echoes.length]));
        maybeFinish();
      });
      s.on("upgrade", maybeFinish);
      break;
    }
    case "stream": {
      const before = c.before || 20;
      const after = c.after || 20;
      let next = 0;
      let stopAt = Infinity;
      let timer = null;
      const received = [];
      const marks = {};
      const message = (i) => (i % 3 === 2 ? Buffer.from([0xee, i >> 8, i & 0xff]) : `m${i}`);
      const index = (d) => (typeof d === "string" ? Number(d.slice(1)) : toBuffer(d).readUInt16BE(1));
      const send = () => {
        s.send(message(next));
        next += 1;
        if (next >= stopAt && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
      s.on("open", () => {
        for (let i = 0; i < before; i++) send();
        timer = setInterval(send, c.intervalMs || 5);
      });
      s.on("upgrading", () => {
        marks.upgradingAt = next;
      });
      s.on("upgrade", () => {
        marks.upgradedAt = next;
        stopAt = next + after;
      });
      s.on("message", (d) => {
        const i = index(d);
        received.push(i);
        const expectedKind = i % 3 === 2 ? "binary" : "string";
        const kind = typeof d === "string" ? "string" : "binary";
        if (kind !== expectedKind) fail(name, `message ${i} came back as ${kind}`);
        if (stopAt !== Infinity && timer === null && received.length === next) {
          out(name, "stream", Object.assign({ sent: next, received }, marks));
          closeNow();
        }
      });
      s.on("close", () => timer && clearInterval(timer));
      break;
    }
    case "heartbeat": {
      let pings = 0;
      s.on("ping", () => {
        pings += 1;
      });
      s.on("open", () => {
        setTimeout(() => {
          out(name, "pings", { count: pings, readyState: s.readyState, transport: s.transport.name });
          s.send("still-here");
        }, c.stayMs || 2000);
      });
      s.on("message", (d) => {
        out(name, "echo", { data: describe(d) });
        closeNow();
      });
      break;
    }
    case "oversize": {
      let stage = 0;
      s.on("open", () => s.send("small"));
      s.on("message", (d) => {
        out(name, "echo", { data: describe(d) });
        if (stage === 0) {
          stage = 1;
          closeExpected = true;
          out(name, "sending-big", { transport: s.transport.name });
          s.send(build(c.big));
        }
      });
      break;
    }
    case "hold": {
      closeExpected = true;
      s.on("open", () => s.send("ready?"));
      s.on("message", (d) => {
        if (d === "ready?") out(name, "ready", { transport: s.transport.name, sid: s.id });
      });
      break;
    }
    case "fail": {
      closeExpected = true;
      s.on("open", () => fail(name, "connected although the server should refuse"));
      break;
    }
    default:
      fail(name, `unknown mode ${c.mode}`);
      onDone();
  }
}

running = cfg.clients.length;
for (const c of cfg.clients) {
  after(c.startAfter, () => start(c));
}
