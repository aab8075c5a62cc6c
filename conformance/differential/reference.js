"use strict";
// Runs the reference JavaScript parsers over a batch of cases read as JSON from stdin and writes
// their encodings, and their decodings of our encodings, as JSON to stdout. All comparisons
// happen on the Rust side (conformance/tests/it/differential.rs), which also describes the format.

const fs = require("fs");
const path = require("path");
const eio4 = require("engine.io-parser");
const eio3 = require("engine.io-parser-v3");
const sio = require("socket.io-parser");
const sioMsgpack = require("socket.io-msgpack-parser");

const PACKAGES = ["engine.io-parser", "engine.io-parser-v3", "socket.io-parser", "socket.io-msgpack-parser"];

function versions() {
  const out = {};
  for (const dir of PACKAGES) {
    const file = path.join(__dirname, "node_modules", dir, "package.json");
    out[dir] = JSON.parse(fs.readFileSync(file, "utf8")).version;
  }
  return out;
}

// --- neutral forms -------------------------------------------------------------------------

function isBinary(x) {
  return x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

function toBuffer(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

// An encoded frame or payload: {t: string} or {b: base64}.
function wrapEncoded(x) {
  return typeof x === "string" ? { t: x } : { b: toBuffer(x).toString("base64") };
}

function unwrapEncoded(e) {
  return e.t !== undefined ? e.t : Buffer.from(e.b, "base64");
}

// An Engine.IO packet: {type, text?} or {type, bin}.
function eioFromNeutral(n) {
  if (n.bin !== undefined) return { type: n.type, data: Buffer.from(n.bin, "base64") };
  if (n.text !== undefined) return { type: n.type, data: n.text };
  return { type: n.type };
}

function eioToNeutral(p) {
  const out = { type: p.type };
  if (p.data === undefined) return out;
  if (typeof p.data === "string") out.text = p.data;
  else if (isBinary(p.data)) out.bin = toBuffer(p.data).toString("base64");
  else out.other = String(p.data);
  return out;
}

// JSON data where binary values are {"$bin": base64}: Buffers, or with `typed` Uint8Arrays
// (which notepack.io writes as ext type 0 rather than bin).
function dataFromNeutral(v, typed) {
  if (Array.isArray(v)) return v.map((x) => dataFromNeutral(x, typed));
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin") {
      const b = Buffer.from(v.$bin, "base64");
      return typed ? new Uint8Array(b) : b;
    }
    const out = {};
    for (const k of keys) out[k] = dataFromNeutral(v[k], typed);
    return out;
  }
  return v;
}

// Dates become what JSON would carry, their toJSON() string.
function dataToNeutral(v) {
  if (v === undefined) return { $undefined: true };
  if (isBinary(v)) return { $bin: toBuffer(v).toString("base64") };
  if (v instanceof Date) return v.toJSON();
  if (Array.isArray(v)) return v.map(dataToNeutral);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v)) out[k] = dataToNeutral(v[k]);
    return out;
  }
  return v;
}

function sioToNeutral(p) {
  const out = { type: p.type, nsp: p.nsp };
  if (p.id !== undefined) out.id = p.id;
  if (p.data !== undefined) out.data = dataToNeutral(p.data);
  return out;
}

// Runs `f`, turning an exception into {error}.
function attempt(f) {
  try {
    return f();
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

// The parsers' callbacks are synchronous; this returns the value passed to the callback.
function sync(f) {
  let out;
  let called = false;
  f((x) => {
    out = x;
    called = true;
  });
  if (!called) throw new Error("callback not called synchronously");
  return out;
}

// --- Engine.IO -----------------------------------------------------------------------------

function eio4Frame(c) {
  const p = eioFromNeutral(c.packet);
  return {
    frame: attempt(() => wrapEncoded(sync((cb) => eio4.encodePacket(p, true, cb)))),
    frame_b64: attempt(() => wrapEncoded(sync((cb) => eio4.encodePacket(p, false, cb)))),
    dec_frame: attempt(() => eioToNeutral(eio4.decodePacket(unwrapEncoded(c.ours.frame), "nodebuffer"))),
    dec_frame_b64: attempt(() =>
      eioToNeutral(eio4.decodePacket(unwrapEncoded(c.ours.frame_b64), "nodebuffer")),
    ),
  };
}

function eio3Frame(c) {
  const p = eioFromNeutral(c.packet);
  return {
    frame: attempt(() => wrapEncoded(sync((cb) => eio3.encodePacket(p, true, false, cb)))),
    frame_b64: attempt(() => wrapEncoded(sync((cb) => eio3.encodePacket(p, false, false, cb)))),
    dec_frame: attempt(() => eioToNeutral(eio3.decodePacket(unwrapEncoded(c.ours.frame), undefined, false))),
    dec_frame_b64: attempt(() =>
      eioToNeutral(eio3.decodePacket(unwrapEncoded(c.ours.frame_b64), undefined, false)),
    ),
  };
}

function eio4Payload(c) {
  const packets = c.packets.map(eioFromNeutral);
  return {
    payload: attempt(() => wrapEncoded(sync((cb) => eio4.encodePayload(packets, cb)))),
    dec: attempt(() => eio4.decodePayload(unwrapEncoded(c.ours), "nodebuffer").map(eioToNeutral)),
  };
}

function eio3DecodePayload(data) {
  const out = [];
  eio3.decodePayload(data, (packet) => {
    out.push(eioToNeutral(packet));
  });
  return out;
}

function eio3TextPayload(c) {
  const packets = c.packets.map(eioFromNeutral);
  return {
    payload: attempt(() => wrapEncoded(sync((cb) => eio3.encodePayload(packets, false, cb)))),
    dec: attempt(() => eio3DecodePayload(unwrapEncoded(c.ours))),
  };
}

function eio3BinaryPayload(c) {
  const packets = c.packets.map(eioFromNeutral);
  return {
    payload: attempt(() => wrapEncoded(sync((cb) => eio3.encodePayloadAsBinary(packets, cb)))),
    dec: attempt(() => eio3DecodePayload(unwrapEncoded(c.ours))),
  };
}

// --- Socket.IO -----------------------------------------------------------------------------

function sioPacket(c) {
  // The reference encoder picks BINARY_EVENT / BINARY_ACK itself when the data holds binary.
  const type = c.type === 5 ? 2 : c.type === 6 ? 3 : c.type;
  const p = { type, nsp: c.nsp };
  if (c.id !== undefined) p.id = c.id;
  if (c.data !== undefined) p.data = dataFromNeutral(c.data);
  return p;
}

function sioCase(c) {
  const encoded = attempt(() => {
    const parts = new sio.Encoder().encode(sioPacket(c));
    if (typeof parts[0] !== "string") throw new Error("first part is not a string");
    return { text: parts[0], atts: parts.slice(1).map((b) => toBuffer(b).toString("base64")) };
  });
  const dec = attempt(() => {
    const decoder = new sio.Decoder();
    const got = [];
    decoder.on("decoded", (p) => got.push(p));
    decoder.add(c.ours.text);
    for (const a of c.ours.atts) decoder.add(Buffer.from(a, "base64"));
    if (got.length !== 1) throw new Error(`decoder produced ${got.length} packets`);
    return sioToNeutral(got[0]);
  });
  return { encoded, dec };
}

// --- msgpack -------------------------------------------------------------------------------

// c.keys lists the packet object's keys in insertion order; `data: undefined` is written when
// c.undefined_data is set, c.append_date (milliseconds) appends a Date to the data array,
// c.typed sends binary values as Uint8Arrays, and c.extra keys are appended (as clients add
// `options`).
function msgpackPacket(c) {
  const p = {};
  for (const k of c.keys) {
    if (k === "data") {
      p.data = c.undefined_data ? undefined : dataFromNeutral(c.data, c.typed);
      if (c.append_date !== undefined) p.data.push(new Date(c.append_date));
    } else p[k] = c[k];
  }
  if (c.extra) for (const k of Object.keys(c.extra)) p[k] = dataFromNeutral(c.extra[k]);
  return p;
}

function msgpackCase(c) {
  const encoded = attempt(() => {
    const parts = new sioMsgpack.Encoder().encode(msgpackPacket(c));
    if (parts.length !== 1) throw new Error(`encoder produced ${parts.length} parts`);
    return toBuffer(parts[0]).toString("base64");
  });
  // The reference decoding its own encoding.
  const self_dec = attempt(() => {
    const decoder = new sioMsgpack.Decoder();
    const got = [];
    decoder.on("decoded", (p) => got.push(p));
    decoder.add(Buffer.from(encoded, "base64"));
    return sioToNeutral(got[0]);
  });
  const dec = c.ours.map((ours) =>
    attempt(() => {
      const decoder = new sioMsgpack.Decoder();
      const got = [];
      decoder.on("decoded", (p) => got.push(p));
      decoder.add(Buffer.from(ours, "base64"));
      if (got.length !== 1) throw new Error(`decoder produced ${got.length} packets`);
      return sioToNeutral(got[0]);
    }),
  );
  return { encoded, dec, self_dec };
}

// --- main ----------------------------------------------------------------------------------

function main() {
  const input = JSON.parse(fs.readFileSync(0, "utf8"));
  const output = {
    versions: versions(),
    eio4_frame: (input.eio4_frame || []).map(eio4Frame),
    eio3_frame: (input.eio3_frame || []).map(eio3Frame),
    eio4_payload: (input.eio4_payload || []).map(eio4Payload),
    eio3_text_payload: (input.eio3_text_payload || []).map(eio3TextPayload),
    eio3_binary_payload: (input.eio3_binary_payload || []).map(eio3BinaryPayload),
    socketio: (input.socketio || []).map(sioCase),
    msgpack: (input.msgpack || []).map(msgpackCase),
  };
  fs.writeFileSync(1, JSON.stringify(output));
}

main();
