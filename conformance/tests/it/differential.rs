//! Differential check of our codecs against the reference JavaScript parsers:
//! `engine.io-parser` 5.2.3 (protocol v4) and 2.2.1 (v3), `socket.io-parser` 4.2.7 and
//! `socket.io-msgpack-parser` 3.0.2, pinned in `conformance/differential/package-lock.json` and
//! run by Node.js through `conformance/differential/reference.js`.
//!
//! A seeded generator makes a few thousand packets. For each one, three checks:
//! (a) our encoding equals the reference encoding, byte for byte;
//! (b) the reference decodes our bytes back to the packet;
//! (c) we decode the reference bytes back to the packet.
//!
//! Both sides build each packet from a neutral JSON description: an Engine.IO packet is
//! `{type, text?}` or `{type, bin: <base64>}`; a Socket.IO packet is `{type, nsp, id?, data?}`
//! where binary values inside `data` are `{"$bin": <base64>}`. Node runs once, with every case in
//! one JSON document on its standard input, and answers with one document on its standard output.
//! Encodings are compared as bytes, decodings as values (JSON key order does not matter there).
//!
//! Kinds of cases: Engine.IO v4 and v3 packets of all types (WebSocket frame, binary and base64
//! forms; in v4 binary data of a non-`message` packet reads back as a `message` on both sides);
//! polling payloads of 1–10 packets in v4, v3 text and v3 binary (XHR2) form; Socket.IO packets
//! of all 7 types for the default parser; msgpack packets of types 0–4, each encoded by us both
//! from a msgpack payload and from a JSON payload with attachments (transcoded). The reference
//! builds the msgpack object with our encoder's key order (`type`, `data`, `id`, `nsp`); some
//! cases use another order, `data: undefined` or an extra `options` key, as reference servers and
//! clients do, and skip check (a) since their bytes differ by design. Hand-picked edge cases
//! (empty and long data, multi-digit lengths, 16-bit msgpack headers, ten attachments) come first.
//!
//! What the generator leaves out, and why:
//! * NaN and infinities (not JSON), and integers beyond ±2^53, which are not exact in a
//!   JavaScript number (integral floats below that, `-0` included, and every non-integer float
//!   are generated: our serialiser writes numbers as `JSON.stringify` does);
//! * object keys that JavaScript reorders or treats specially: keys made only of digits (array
//!   indices come first in a JavaScript object), `__proto__`, and the markers `$bin` and
//!   `_placeholder`; duplicate keys;
//! * `\x1e` in Engine.IO text (the v4 payload separator, escaped by neither side), `,` in
//!   namespaces (it ends the namespace on both sides), and lone surrogates (not in a Rust string).
//!
//! Needs `node` and `npm` on the `PATH`; installs the reference packages with `npm ci` when
//! `conformance/differential/node_modules` is missing or holds other versions.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use engineio_parser::{
    decode_payload, encode_payload, ByteString, Data, Frame, FrameKind, Packet as EioPacket,
    PacketType as EioType, PayloadFormat, ProtocolVersion,
};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};
use socketio_parser::msgpack::{self, RawMsgPack};
use socketio_parser::{
    to_payload, Decoded, Decoder, DecoderConfig, Packet as SioPacket, PacketType as SioType, Payload, RawJson,
};

/// The generator's seed. Change it to explore other cases; failures print the case in full.
const SEED: u64 = 0x5eed_d1ff_e7e1_7a11;

const ENGINE_V4_FRAMES: usize = 700;
const ENGINE_V3_FRAMES: usize = 700;
const ENGINE_V4_PAYLOADS: usize = 300;
const ENGINE_V3_TEXT_PAYLOADS: usize = 300;
const ENGINE_V3_BINARY_PAYLOADS: usize = 300;
const SOCKETIO_PACKETS: usize = 2000;
const MSGPACK_PACKETS: usize = 1000;

/// How many disagreements of each kind are printed in full.
const SHOWN_PER_KIND: usize = 5;

/// The reference packages: folder under `node_modules`, expected version.
const PACKAGES: [(&str, &str); 4] = [
    ("engine.io-parser", "5.2.3"),
    ("engine.io-parser-v3", "2.2.1"),
    ("socket.io-parser", "4.2.7"),
    ("socket.io-msgpack-parser", "3.0.2"),
];

// ---------------------------------------------------------------------------------------------
// Deterministic generator

/// xorshift64*: small, fast and fully determined by its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const ESCAPED: [char; 13] =
    ['"', '\\', '/', '\n', '\r', '\t', '\u{8}', '\u{c}', '\0', '\u{1}', '\u{1f}', '\u{7f}', '\''];
const TWO_BYTE: [char; 6] = ['é', 'ß', 'ñ', '\u{80}', '\u{7ff}', 'Ω'];
const THREE_BYTE: [char; 10] =
    ['€', '中', '\u{800}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{fffd}', '\u{ffff}', 'ｱ', '\u{e000}'];
const ASTRAL: [char; 5] = ['😀', '𝄞', '\u{10000}', '\u{10ffff}', '🎉'];

fn gen_char(rng: &mut Rng) -> char {
    match rng.below(12) {
        0..=5 => char::from(rng.range(0x20, 0x7e) as u8),
        6 => *rng.pick(&ESCAPED),
        7 => *rng.pick(&TWO_BYTE),
        8 => *rng.pick(&THREE_BYTE),
        9 => *rng.pick(&ASTRAL),
        _ => loop {
            // Any scalar value but the surrogates (not in a Rust string) and `\x1e`.
            let c = rng.range(0x20, 0x10ffff) as u32;
            if let Some(c) = char::from_u32(c) {
                break c;
            }
        },
    }
}

fn gen_string(rng: &mut Rng, max: usize) -> String {
    let len = match rng.below(20) {
        0..=1 => 0,
        2..=15 => rng.range(1, 12),
        16..=18 => rng.range(13, 64),
        _ => rng.range(65, max.max(65)),
    };
    (0..len).map(|_| gen_char(rng)).collect()
}

fn gen_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(20) {
        0..=1 => 0,
        2..=13 => rng.range(1, 16),
        14..=18 => rng.range(17, 300),
        _ => rng.range(301, 1200),
    };
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// A JSON value, possibly with binary values in it, with object keys in insertion order.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
    Bin(Vec<u8>),
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

fn gen_int(rng: &mut Rng) -> i64 {
    let (lo, hi) = match rng.below(10) {
        0..=3 => (-50, 200),
        4..=6 => (-100_000, 100_000),
        7..=8 => (-(1 << 33), 1 << 33),
        _ => (-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    };
    lo + rng.below((hi - lo + 1) as u64) as i64
}

/// Whether JavaScript's `JSON.stringify` and serde_json write `f` alike (see the crate docs).
fn float_is_portable(f: f64) -> bool {
    f.is_finite() && (f.fract() != 0.0 || f.abs() < MAX_SAFE_INTEGER as f64)
}

const SPECIAL_FLOATS: [f64; 19] = [
    0.0,
    -0.0,
    2.0,
    1.5e-6,
    -7.747975071598053e-6,
    0.1,
    0.2,
    0.30000000000000004,
    -0.5,
    5e-324,
    2.2250738585072014e-308,
    1e-7,
    1.5e-7,
    1e-5,
    1.2345e-5,
    123.456,
    4503599627370495.5,
    -1.7976931348623157e-300,
    0.000123,
];

fn gen_float(rng: &mut Rng) -> f64 {
    loop {
        let f = match rng.below(10) {
            0..=2 => *rng.pick(&SPECIAL_FLOATS),
            3..=6 => {
                let m = rng.below(2_000_000_001) as f64 - 1_000_000_000.0;
                m / 10f64.powi(rng.range(1, 12) as i32)
            }
            _ => f64::from_bits(rng.next_u64()),
        };
        if float_is_portable(f) {
            return f;
        }
    }
}

const KEY_CHARS: [char; 16] =
    ['a', 'b', 'k', 'x', 'Z', '_', '-', ' ', '1', '9', '"', '\\', '\n', 'é', '中', '😀'];

fn gen_key(rng: &mut Rng, taken: &[(String, Val)]) -> String {
    loop {
        let len = rng.range(0, 8);
        let key: String = (0..len).map(|_| *rng.pick(&KEY_CHARS)).collect();
        let digits_only = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
        let special = matches!(key.as_str(), "__proto__" | "$bin" | "_placeholder");
        if !digits_only && !special && !taken.iter().any(|(k, _)| *k == key) {
            return key;
        }
    }
}

/// A random value nested at most `depth` more levels, with at most `bins` binary values (the
/// budget is shared with the caller).
fn gen_val(rng: &mut Rng, depth: usize, bins: &mut usize) -> Val {
    let choices = if depth == 0 { 6 } else { 9 };
    match rng.below(choices) {
        0 => Val::Null,
        1 => Val::Bool(rng.percent(50)),
        2 => Val::Int(gen_int(rng)),
        3 => Val::Float(gen_float(rng)),
        4 | 5 => Val::Str(gen_string(rng, 300)),
        6 => Val::Arr((0..rng.range(0, 5)).map(|_| gen_val(rng, depth - 1, bins)).collect()),
        7 => {
            let mut entries = Vec::new();
            for _ in 0..rng.range(0, 5) {
                let key = gen_key(rng, &entries);
                let value = gen_val(rng, depth - 1, bins);
                entries.push((key, value));
            }
            Val::Obj(entries)
        }
        _ if *bins > 0 => {
            *bins -= 1;
            Val::Bin(gen_bytes(rng))
        }
        _ => Val::Str(gen_string(rng, 40)),
    }
}

fn gen_object(rng: &mut Rng, bins: &mut usize) -> Val {
    let mut entries = Vec::new();
    for _ in 0..rng.range(0, 5) {
        let key = gen_key(rng, &entries);
        let value = gen_val(rng, 3, bins);
        entries.push((key, value));
    }
    Val::Obj(entries)
}

/// Event or ack arguments; binary values are spread over random positions (never the event
/// name), `bins` at most.
fn gen_args(rng: &mut Rng, mut bins: usize) -> Vec<Val> {
    let mut args = Vec::new();
    for _ in 0..rng.range(0, 5) {
        let arg = if bins > 0 && rng.percent(20) {
            // A top-level binary argument, besides the nested ones.
            bins -= 1;
            Val::Bin(gen_bytes(rng))
        } else {
            gen_val(rng, 4, &mut bins)
        };
        args.push(arg);
    }
    args
}

fn gen_event_name(rng: &mut Rng) -> Val {
    match rng.below(10) {
        0 => Val::Int(gen_int(rng)),
        1 => Val::Float(gen_float(rng)),
        _ => loop {
            let name = gen_string(rng, 40);
            if !socketio_parser::RESERVED_EVENTS.contains(&name.as_str()) {
                break Val::Str(name);
            }
        },
    }
}

fn gen_namespace(rng: &mut Rng) -> String {
    if rng.percent(50) {
        return "/".to_owned();
    }
    let mut nsp = String::from("/");
    for _ in 0..rng.range(0, 12) {
        let c = match rng.below(4) {
            0 => gen_char(rng),
            1 => *rng.pick(&['/', '?', '=', '&', '#', '-', '.', '1']),
            _ => char::from(rng.range(b'a'.into(), b'z'.into()) as u8),
        };
        if c != ',' {
            nsp.push(c);
        }
    }
    nsp
}

fn gen_ack_id(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0..=4 => rng.below(100),
        5..=7 => rng.below(1_000_000),
        _ => rng.below(MAX_SAFE_INTEGER as u64 + 1),
    }
}

// ---------------------------------------------------------------------------------------------
// Neutral forms

impl Serialize for Val {
    /// Binary values as bytes (serde's `serialize_bytes`): placeholders for [`to_payload`],
    /// `bin` for msgpack.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Null => s.serialize_unit(),
            Val::Bool(b) => s.serialize_bool(*b),
            Val::Int(i) => s.serialize_i64(*i),
            Val::Float(f) => s.serialize_f64(*f),
            Val::Str(t) => s.serialize_str(t),
            Val::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Val::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Val::Bin(b) => s.serialize_bytes(b),
        }
    }
}

/// A value as sent to Node: JSON with binary values as `{"$bin": <base64>}`, keys in order.
#[derive(Clone, Copy)]
struct Wire<'a>(&'a Val);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Val::Bin(b) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("$bin", &B64.encode(b))?;
                map.end()
            }
            Val::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Wire(item))?;
                }
                seq.end()
            }
            Val::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, &Wire(v))?;
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

/// A value in the neutral form compared after decoding (key order does not matter there).
fn neutral(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Int(i) => json!(i),
        // An integral float is written as an integer (`2`, and `0` for `-0`), as JavaScript
        // writes it, and reads back as one.
        Val::Float(f) if f.fract() == 0.0 => json!(*f as i64),
        Val::Float(f) => json!(f),
        Val::Str(t) => json!(t),
        Val::Arr(items) => Value::Array(items.iter().map(neutral).collect()),
        Val::Obj(entries) => Value::Object(entries.iter().map(|(k, v)| (k.clone(), neutral(v))).collect()),
        Val::Bin(b) => bin_marker(b),
    }
}

fn bin_marker(b: &[u8]) -> Value {
    json!({ "$bin": B64.encode(b) })
}

/// An Engine.IO packet in the neutral form; empty text is no data, as the reference reads it.
fn eio_neutral(p: &EioPacket) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(p.kind.name()));
    match &p.data {
        Data::Text(t) if t.is_empty() => {}
        Data::Text(t) => {
            m.insert("text".into(), json!(&**t));
        }
        Data::Binary(b) => {
            m.insert("bin".into(), json!(B64.encode(b)));
        }
    }
    Value::Object(m)
}

/// What a packet decodes back to: in v4 binary data cannot carry a type and reads as a message.
fn eio_expected(p: &EioPacket, version: ProtocolVersion) -> Value {
    match (&p.data, version) {
        (Data::Binary(b), ProtocolVersion::V4) => eio_neutral(&EioPacket::binary(b.clone())),
        _ => eio_neutral(p),
    }
}

fn eio_decoded(result: Result<EioPacket, engineio_parser::DecodeError>) -> Value {
    match result {
        Ok(p) => eio_neutral(&p),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Encoded bytes as exchanged with Node: `{"t": text}` or `{"b": base64}`.
fn encoded(kind: FrameKind, bytes: &[u8]) -> Value {
    match kind {
        FrameKind::Text => json!({ "t": String::from_utf8(bytes.to_vec()).expect("text frames are UTF-8") }),
        FrameKind::Binary => json!({ "b": B64.encode(bytes) }),
    }
}

fn to_frame(v: &Value) -> Option<Frame> {
    if let Some(t) = v.get("t").and_then(Value::as_str) {
        return Some(Frame::Text(ByteString::from(t.to_owned())));
    }
    let b = v.get("b").and_then(Value::as_str)?;
    Some(Frame::Binary(Bytes::from(B64.decode(b).ok()?)))
}

fn frame_bytes(frame: Frame) -> Bytes {
    frame.payload()
}

/// Replaces the placeholders of a decoded JSON payload by their attachments.
fn fill_placeholders(v: Value, attachments: &[Bytes]) -> Result<Value, String> {
    Ok(match v {
        Value::Object(m) if m.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = m.get("num").and_then(Value::as_u64).ok_or("placeholder without num")?;
            let att = attachments.get(num as usize).ok_or("placeholder beyond the attachments")?;
            bin_marker(att)
        }
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| Ok((k, fill_placeholders(v, attachments)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Array(items) => Value::Array(
            items.into_iter().map(|v| fill_placeholders(v, attachments)).collect::<Result<_, _>>()?,
        ),
        v => v,
    })
}

/// A Socket.IO packet in the neutral form. Binary types read as their plain types, as the
/// reference decoder reports them; the binary values are in `data`.
fn sio_neutral(p: &SioPacket) -> Result<Value, String> {
    let ty = match p.kind {
        SioType::BinaryEvent => SioType::Event,
        SioType::BinaryAck => SioType::Ack,
        k => k,
    };
    let mut m = Map::new();
    m.insert("type".into(), json!(ty as u8));
    m.insert("nsp".into(), json!(&*p.nsp));
    if let Some(id) = p.id {
        m.insert("id".into(), json!(id));
    }
    match &p.data {
        None => {}
        Some(Payload::Json { json, attachments }) => {
            let v: Value = serde_json::from_str(json.as_str()).map_err(|e| e.to_string())?;
            m.insert("data".into(), fill_placeholders(v, attachments)?);
        }
        Some(Payload::MsgPack(raw)) => {
            m.insert("data".into(), msgpack_neutral(raw.as_bytes())?);
        }
    }
    Ok(Value::Object(m))
}

/// Reads one msgpack value into the neutral form (`bin` as `{"$bin": ...}`, fixext 1 of type 0,
/// notepack's `undefined`, as `{"$undefined": true}`).
fn msgpack_neutral(bytes: &[u8]) -> Result<Value, String> {
    let mut rd = bytes;
    let v = read_msgpack(&mut rd, 0)?;
    if !rd.is_empty() {
        return Err(format!("{} bytes after the msgpack value", rd.len()));
    }
    Ok(v)
}

fn read_msgpack(rd: &mut &[u8], depth: usize) -> Result<Value, String> {
    use rmp::Marker;

    fn take<'a>(rd: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if rd.len() < n {
            return Err("truncated msgpack".into());
        }
        let (head, tail) = rd.split_at(n);
        *rd = tail;
        Ok(head)
    }
    fn be(rd: &mut &[u8], n: usize) -> Result<u64, String> {
        Ok(take(rd, n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
    fn text(rd: &mut &[u8], n: usize) -> Result<Value, String> {
        let raw = take(rd, n)?;
        Ok(json!(std::str::from_utf8(raw).map_err(|e| e.to_string())?))
    }
    if depth > 200 {
        return Err("msgpack nested too deeply".into());
    }
    let marker = Marker::from_u8(take(rd, 1)?[0]);
    let array = |rd: &mut &[u8], n: u64| -> Result<Value, String> {
        (0..n).map(|_| read_msgpack(rd, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array)
    };
    let map = |rd: &mut &[u8], n: u64| -> Result<Value, String> {
        let mut m = Map::new();
        for _ in 0..n {
            let Value::String(k) = read_msgpack(rd, depth + 1)? else {
                return Err("non-string map key".into());
            };
            let v = read_msgpack(rd, depth + 1)?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    };
    Ok(match marker {
        Marker::Null => Value::Null,
        Marker::True => json!(true),
        Marker::False => json!(false),
        Marker::FixPos(n) => json!(n),
        Marker::FixNeg(n) => json!(n),
        Marker::U8 => json!(be(rd, 1)?),
        Marker::U16 => json!(be(rd, 2)?),
        Marker::U32 => json!(be(rd, 4)?),
        Marker::U64 => json!(be(rd, 8)?),
        Marker::I8 => json!(be(rd, 1)? as u8 as i8),
        Marker::I16 => json!(be(rd, 2)? as u16 as i16),
        Marker::I32 => json!(be(rd, 4)? as u32 as i32),
        Marker::I64 => json!(be(rd, 8)? as i64),
        Marker::F32 => json!(f32::from_bits(be(rd, 4)? as u32)),
        Marker::F64 => json!(f64::from_bits(be(rd, 8)?)),
        Marker::FixStr(n) => text(rd, n.into())?,
        Marker::Str8 => {
            let n = be(rd, 1)? as usize;
            text(rd, n)?
        }
        Marker::Str16 => {
            let n = be(rd, 2)? as usize;
            text(rd, n)?
        }
        Marker::Str32 => {
            let n = be(rd, 4)? as usize;
            text(rd, n)?
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let width = match marker {
                Marker::Bin8 => 1,
                Marker::Bin16 => 2,
                _ => 4,
            };
            let n = be(rd, width)? as usize;
            bin_marker(take(rd, n)?)
        }
        Marker::FixArray(n) => array(rd, n.into())?,
        Marker::Array16 => {
            let n = be(rd, 2)?;
            array(rd, n)?
        }
        Marker::Array32 => {
            let n = be(rd, 4)?;
            array(rd, n)?
        }
        Marker::FixMap(n) => map(rd, n.into())?,
        Marker::Map16 => {
            let n = be(rd, 2)?;
            map(rd, n)?
        }
        Marker::Map32 => {
            let n = be(rd, 4)?;
            map(rd, n)?
        }
        Marker::FixExt1 if take(rd, 2)? == [0, 0] => json!({ "$undefined": true }),
        other => return Err(format!("unexpected msgpack marker {other:?}")),
    })
}

// ---------------------------------------------------------------------------------------------
// Node

fn differential_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("differential")
}

/// Installs the pinned reference packages unless they are already there (and checks that
/// `node` runs), or panics with the reason.
fn ensure_reference_packages(dir: &Path) {
    if let Err(reason) = conformance::npm::ensure_installed(dir) {
        panic!("{reason}");
    }
}

/// Runs `reference.js` once with the whole batch.
fn run_reference(dir: &Path, request: Vec<u8>) -> Value {
    let mut child = Command::new("node")
        .arg("reference.js")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().expect("node's stdin is piped");
    let writer = std::thread::spawn(move || stdin.write_all(&request));
    let output = child.wait_with_output().expect("wait for node");
    writer.join().expect("stdin writer").expect("write the cases to node");
    assert!(output.status.success(), "reference.js failed: {}", output.status);
    serde_json::from_slice(&output.stdout).expect("reference.js writes JSON")
}

// ---------------------------------------------------------------------------------------------
// Cases and checks

#[derive(Serialize)]
struct Request<'a> {
    eio4_frame: &'a [Value],
    eio3_frame: &'a [Value],
    eio4_payload: &'a [Value],
    eio3_text_payload: &'a [Value],
    eio3_binary_payload: &'a [Value],
    socketio: &'a [SioWire<'a>],
    msgpack: &'a [MpWire<'a>],
}

#[derive(Serialize, Clone)]
struct SioWire<'a> {
    #[serde(rename = "type")]
    ty: u8,
    nsp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Wire<'a>>,
    #[serde(skip_serializing_if = "Value::is_null")]
    ours: Value,
}

/// The disagreements found for one kind of case.
struct Report {
    kind: &'static str,
    cases: usize,
    /// What the cases were made of.
    detail: String,
    checks: usize,
    failures: Vec<String>,
}

impl Report {
    fn new(kind: &'static str, cases: usize, detail: String) -> Self {
        Report { kind, cases, detail, checks: 0, failures: Vec::new() }
    }

    /// Records one check: `what` of case `index`, with the case's input.
    fn check(
        &mut self,
        index: usize,
        what: &str,
        input: &dyn std::fmt::Display,
        ours: &Value,
        reference: &Value,
    ) {
        self.checks += 1;
        if ours != reference {
            self.failures.push(format!(
                "{} #{index}, {what}\n    input:     {input}\n    ours:      {ours}\n    reference: {reference}",
                self.kind
            ));
        }
    }
}

fn gen_eio_packet(rng: &mut Rng, version: ProtocolVersion) -> EioPacket {
    let kind = *rng.pick(&EioType::ALL);
    let binary = match version {
        ProtocolVersion::V4 if kind == EioType::Message => rng.percent(35),
        ProtocolVersion::V4 => rng.percent(5),
        ProtocolVersion::V3 => rng.percent(30),
    };
    if binary {
        EioPacket { kind, data: Data::Binary(Bytes::from(gen_bytes(rng))) }
    } else if rng.percent(10) {
        EioPacket::new(kind)
    } else {
        EioPacket::text(kind, gen_string(rng, 400))
    }
}

fn frame_of(p: &EioPacket, version: ProtocolVersion, base64: bool) -> Value {
    let mut buf = Vec::new();
    let kind = p.encode_frame(version, base64, &mut buf);
    encoded(kind, &buf)
}

/// Engine.IO single packets (WebSocket frames, binary and base64 forms).
/// Hand-picked packets at the edges: empty and long data, multi-digit lengths in every v3 form.
fn edge_eio_packets() -> Vec<EioPacket> {
    vec![
        EioPacket::new(EioType::Open),
        EioPacket::binary(Bytes::new()),
        EioPacket { kind: EioType::Ping, data: Data::Binary(Bytes::from_static(b"\x00\xff")) },
        EioPacket::text(EioType::Ping, "probe"),
        EioPacket::message("é".repeat(5000)),
        EioPacket::message("😀".repeat(3000)),
        EioPacket::binary(vec![0xff; 70_000]),
        EioPacket::message("4hello\u{1f}:10:b4"),
    ]
}

fn eio_frame_cases(rng: &mut Rng, version: ProtocolVersion, n: usize) -> (Vec<EioPacket>, Vec<Value>) {
    let packets: Vec<EioPacket> =
        edge_eio_packets().into_iter().chain((0..n).map(|_| gen_eio_packet(rng, version))).collect();
    let wire = packets
        .iter()
        .map(|p| {
            json!({
                "packet": eio_neutral(p),
                "ours": { "frame": frame_of(p, version, false), "frame_b64": frame_of(p, version, true) },
            })
        })
        .collect();
    (packets, wire)
}

fn check_eio_frames(
    report: &mut Report,
    version: ProtocolVersion,
    packets: &[EioPacket],
    wire: &[Value],
    results: &Value,
) {
    for (i, (p, w)) in packets.iter().zip(wire).enumerate() {
        let r = &results[i];
        let input = &w["packet"];
        let expected = eio_expected(p, version);
        for (form, base64) in [("frame", false), ("frame_b64", true)] {
            let ours = frame_of(p, version, base64);
            report.check(i, &format!("(a) encode {form}"), input, &ours, &r[form]);
            report.check(
                i,
                &format!("(b) reference decodes our {form}"),
                input,
                &expected,
                &r[format!("dec_{form}")],
            );
            let decoded = match to_frame(&r[form]) {
                Some(frame) => eio_decoded(EioPacket::decode_frame(frame, version)),
                None => json!({ "reference error": r[form].clone() }),
            };
            report.check(i, &format!("(c) we decode the reference {form}"), input, &expected, &decoded);
        }
    }
}

fn payload_of(packets: &[EioPacket], format: PayloadFormat) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_payload(packets, format, &mut buf);
    buf
}

fn payload_value(format: PayloadFormat, bytes: &[u8]) -> Value {
    let kind = if format == PayloadFormat::V3Binary { FrameKind::Binary } else { FrameKind::Text };
    encoded(kind, bytes)
}

fn eio_payload_cases(rng: &mut Rng, format: PayloadFormat, n: usize) -> (Vec<Vec<EioPacket>>, Vec<Value>) {
    let edges = edge_eio_packets().into_iter().map(|p| vec![p]).chain([edge_eio_packets()]);
    let payloads: Vec<Vec<EioPacket>> = edges
        .chain((0..n).map(|_| (0..rng.range(1, 10)).map(|_| gen_eio_packet(rng, format.version())).collect()))
        .collect();
    let wire = payloads
        .iter()
        .map(|ps| {
            json!({
                "packets": ps.iter().map(eio_neutral).collect::<Vec<_>>(),
                "ours": payload_value(format, &payload_of(ps, format)),
            })
        })
        .collect();
    (payloads, wire)
}

fn check_eio_payloads(
    report: &mut Report,
    format: PayloadFormat,
    payloads: &[Vec<EioPacket>],
    wire: &[Value],
    results: &Value,
) {
    let version = format.version();
    for (i, (ps, w)) in payloads.iter().zip(wire).enumerate() {
        let r = &results[i];
        let input = &w["packets"];
        let expected = Value::Array(ps.iter().map(|p| eio_expected(p, version)).collect());
        report.check(i, "(a) encode payload", input, &w["ours"], &r["payload"]);
        report.check(i, "(b) reference decodes our payload", input, &expected, &r["dec"]);
        let decoded = match to_frame(&r["payload"]) {
            Some(frame) => match decode_payload(frame_bytes(frame), format, usize::MAX) {
                Ok(packets) => Value::Array(packets.map(eio_decoded).collect()),
                Err(e) => json!({ "error": e.to_string() }),
            },
            None => json!({ "reference error": r["payload"].clone() }),
        };
        report.check(i, "(c) we decode the reference payload", input, &expected, &decoded);
    }
}

/// A Socket.IO packet as both sides build it: the plain type (`EVENT` / `ACK` even when binary
/// values make it a binary packet), namespace, ack id and data.
struct SioDesc {
    kind: SioType,
    nsp: String,
    id: Option<u64>,
    data: Option<Val>,
}

/// A description and our packet built from it.
struct SioCase {
    desc: SioDesc,
    packet: SioPacket,
}

/// A random packet description. With `binary_anywhere` (msgpack) binary values may appear in
/// any payload; otherwise only in event and ack arguments, at most 10 per packet (the reference
/// decoder's limit).
fn gen_sio_desc(rng: &mut Rng, binary_anywhere: bool) -> SioDesc {
    let nsp = gen_namespace(rng);
    let bins = if rng.percent(40) { rng.range(1, 10) } else { 0 };
    let mut other_bins = if binary_anywhere { bins } else { 0 };
    let (kind, id, data) = match rng.below(100) {
        0..=11 => (SioType::Connect, None, rng.percent(60).then(|| gen_object(rng, &mut other_bins))),
        12..=19 => (SioType::Disconnect, None, None),
        20..=59 => {
            let mut args = vec![gen_event_name(rng)];
            args.extend(gen_args(rng, bins));
            (SioType::Event, rng.percent(40).then(|| gen_ack_id(rng)), Some(Val::Arr(args)))
        }
        60..=84 => {
            let data = (!rng.percent(8)).then(|| Val::Arr(gen_args(rng, bins)));
            (SioType::Ack, Some(gen_ack_id(rng)), data)
        }
        _ => {
            let data = if rng.percent(50) {
                Val::Str(gen_string(rng, 100))
            } else {
                let mut entries = vec![("message".to_owned(), Val::Str(gen_string(rng, 60)))];
                if rng.percent(50) {
                    entries.push(("data".to_owned(), gen_val(rng, 3, &mut other_bins)));
                }
                Val::Obj(entries)
            };
            (SioType::ConnectError, None, Some(data))
        }
    };
    SioDesc { kind, nsp, id, data }
}

/// Hand-picked packets at the edges, checked before the generated ones.
fn edge_sio_descs() -> Vec<SioDesc> {
    let bin = |n: usize| Val::Bin((0..n).map(|i| i as u8).collect());
    let desc = |kind, nsp: &str, id, data| SioDesc { kind, nsp: nsp.to_owned(), id, data };
    let all_escapes: String =
        (0u32..0x20).filter_map(char::from_u32).chain("\"\\/\u{7f}\u{2028}😀".chars()).collect();
    vec![
        desc(SioType::Connect, "/", None, None),
        desc(SioType::Connect, "/", None, Some(Val::Obj(vec![]))),
        desc(SioType::Disconnect, "/admin", None, None),
        desc(SioType::Event, "/", None, Some(Val::Arr(vec![Val::Str(String::new())]))),
        desc(SioType::Event, "/", Some(0), Some(Val::Arr(vec![Val::Int(0)]))),
        desc(
            SioType::Event,
            "/",
            Some(MAX_SAFE_INTEGER as u64),
            Some(Val::Arr(vec![Val::Str(all_escapes.clone())])),
        ),
        desc(SioType::Event, "/x", Some(1), Some(Val::Arr(vec![Val::Str("e".into()), bin(0)]))),
        desc(
            SioType::Event,
            "/",
            None,
            Some(Val::Arr(std::iter::once(Val::Str("ten".into())).chain((0..10).map(bin)).collect())),
        ),
        desc(SioType::Ack, "/", Some(7), Some(Val::Arr(vec![]))),
        desc(SioType::Ack, "/", Some(7), None),
        desc(SioType::Ack, "/n", Some(9), Some(Val::Arr(vec![Val::Obj(vec![("b".into(), bin(300))])]))),
        desc(
            SioType::Event,
            "/",
            Some(65_536),
            Some(Val::Arr(std::iter::once(Val::Str("many".into())).chain((0..20).map(Val::Int)).collect())),
        ),
        desc(
            SioType::Connect,
            "/",
            None,
            Some(Val::Obj((0..17).map(|i| (format!("k{i}"), Val::Float(f64::from(i) + 0.5))).collect())),
        ),
        desc(SioType::Ack, "/", Some(1 << 32), Some(Val::Arr(vec![Val::Str("x".repeat(70_000))]))),
        desc(SioType::Event, "/", None, Some(Val::Arr(vec![Val::Str("big".into()), bin(70_000)]))),
        desc(SioType::ConnectError, "/", None, Some(Val::Str(String::new()))),
        desc(SioType::ConnectError, "/😀", None, Some(Val::Str(all_escapes))),
        desc(
            SioType::ConnectError,
            "/",
            None,
            Some(Val::Obj(vec![("message".into(), Val::Str("Invalid namespace".into()))])),
        ),
    ]
}

fn json_of(v: &Val) -> RawJson {
    RawJson::from_serialize(v).expect("a Val serialises")
}

/// Builds our packet for the default (JSON) parser.
fn build_sio(d: &SioDesc) -> SioPacket {
    let nsp = d.nsp.as_str();
    let args = || to_payload(d.data.as_ref().expect("events carry data")).expect("a Val serialises");
    match (d.kind, &d.data) {
        (SioType::Connect, data) => SioPacket::connect(nsp, data.as_ref().map(json_of)),
        (SioType::Disconnect, _) => SioPacket::disconnect(nsp),
        (SioType::Event, _) => {
            let (json, atts) = args();
            SioPacket::event(nsp, json, atts, d.id)
        }
        (SioType::Ack, Some(_)) => {
            let (json, atts) = args();
            SioPacket::ack(nsp, d.id.expect("acks carry an id"), json, atts)
        }
        (SioType::Ack, None) => SioPacket { kind: SioType::Ack, nsp: nsp.into(), id: d.id, data: None },
        (kind, data) => {
            let json = json_of(data.as_ref().expect("CONNECT_ERROR carries data"));
            SioPacket { kind, nsp: nsp.into(), id: d.id, data: Some(Payload::json(json)) }
        }
    }
}

/// The neutral form both decoders must give back.
fn sio_expected(d: &SioDesc) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(d.kind as u8));
    m.insert("nsp".into(), json!(d.nsp));
    if let Some(id) = d.id {
        m.insert("id".into(), json!(id));
    }
    if let Some(data) = &d.data {
        m.insert("data".into(), neutral(data));
    }
    Value::Object(m)
}

fn sio_ours(p: &SioPacket) -> Value {
    json!({
        "text": &*p.encode_to_string(),
        "atts": p.attachments().iter().map(|a| B64.encode(a)).collect::<Vec<_>>(),
    })
}

fn sio_wire<'a>(c: &'a SioCase) -> SioWire<'a> {
    SioWire {
        ty: c.packet.kind as u8,
        nsp: &c.desc.nsp,
        id: c.desc.id,
        data: c.desc.data.as_ref().map(Wire),
        ours: sio_ours(&c.packet),
    }
}

/// Feeds the reference's text part and attachments to our decoder.
fn sio_decode_reference(encoded: &Value) -> Value {
    let (Some(text), Some(atts)) = (encoded["text"].as_str(), encoded["atts"].as_array()) else {
        return json!({ "reference error": encoded.clone() });
    };
    let mut decoder = Decoder::default();
    let mut state = decoder.decode_text(ByteString::from(text.to_owned()));
    for a in atts {
        let bytes = Bytes::from(B64.decode(a.as_str().unwrap_or_default()).unwrap_or_default());
        state = state.and_then(|_| decoder.decode_binary(bytes));
    }
    match state {
        Ok(Decoded::Complete(p)) => sio_neutral(&p).unwrap_or_else(|e| json!({ "error": e })),
        Ok(other) => json!({ "incomplete": format!("{other:?}") }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn check_sio(report: &mut Report, cases: &[SioCase], wire: &[SioWire<'_>], results: &Value) {
    for (i, (c, w)) in cases.iter().zip(wire).enumerate() {
        let r = &results[i];
        let input = serde_json::to_string(&SioWire { ours: Value::Null, ..w.clone() }).expect("serialise");
        let expected = sio_expected(&c.desc);
        report.check(i, "(a) encode", &input, &w.ours, &r["encoded"]);
        report.check(i, "(b) reference decodes ours", &input, &expected, &r["dec"]);
        report.check(
            i,
            "(c) we decode the reference",
            &input,
            &expected,
            &sio_decode_reference(&r["encoded"]),
        );
    }
}

fn sio_detail(cases: &[SioCase]) -> String {
    let mut by_type = [0usize; 7];
    let (mut nsp, mut ids, mut atts) = (0, 0, 0);
    for c in cases {
        by_type[c.packet.kind as usize] += 1;
        nsp += usize::from(&*c.packet.nsp != "/");
        ids += usize::from(c.packet.id.is_some());
        atts += c.packet.attachments().len();
    }
    let names = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"];
    let types: Vec<String> = names.iter().zip(by_type).map(|(n, c)| format!("{n} {c}")).collect();
    format!("{}; {nsp} in a custom namespace, {ids} with an ack id, {atts} attachments", types.join(", "))
}

fn eio_detail<'a>(packets: impl IntoIterator<Item = &'a EioPacket>) -> String {
    let (mut text, mut empty, mut non_ascii, mut astral, mut binary, mut empty_binary) = (0, 0, 0, 0, 0, 0);
    for p in packets {
        match &p.data {
            Data::Text(t) => {
                text += 1;
                empty += usize::from(t.is_empty());
                non_ascii += usize::from(!t.is_ascii());
                astral += usize::from(t.chars().any(|c| c > '\u{ffff}'));
            }
            Data::Binary(b) => {
                binary += 1;
                empty_binary += usize::from(b.is_empty());
            }
        }
    }
    format!(
        "{} packets: {text} text ({empty} empty, {non_ascii} non-ASCII, {astral} with astral characters), \
         {binary} binary ({empty_binary} empty)",
        text + binary
    )
}

/// How the reference side lays out a msgpack packet object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MpVariant {
    /// Keys in our encoder's order, `type`, `data`, `id`, `nsp` (an ack: `id`, `type`, `data`,
    /// `nsp`): all three checks.
    Plain,
    /// Keys in another order, as some reference code paths build them (the "Invalid namespace"
    /// error `{type, nsp, data}`, a broadcast with an ack `{type, data, nsp, id}`): checks (b)
    /// and (c), the bytes differ by design.
    KeyOrder,
    /// `data: undefined` (notepack's `d4 00 00`) on a packet without data, as clients send
    /// `CONNECT`: checks (b) and (c).
    UndefinedData,
    /// An extra `options: {compress: true}` key, as clients add: checks (b) and (c).
    ExtraKey,
    /// Binary values sent as `Uint8Array`s, which notepack.io writes as ext type 0 (`c7 <len> 00`)
    /// rather than `bin`: checks (b) and (c).
    TypedArray,
    /// A JavaScript `Date` appended to the event or ack arguments (notepack.io's fixext 8 of type
    /// 0): check (c) against the reference's own decoding with the date as its `toJSON()`
    /// string, plus (b) on our bytes (which do not hold the date).
    Date,
}

/// A msgpack case: the description, our packet with a msgpack payload, the same packet with a
/// JSON payload (which [`msgpack::encode`] transcodes), and the reference side's layout.
struct MpCase {
    desc: SioDesc,
    native: SioPacket,
    from_json: SioPacket,
    keys: Vec<&'static str>,
    variant: MpVariant,
    /// The date appended on the reference side ([`MpVariant::Date`]).
    date: Option<i64>,
}

#[derive(Serialize, Clone)]
struct MpWire<'a> {
    keys: &'a [&'static str],
    #[serde(rename = "type")]
    ty: u8,
    nsp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Wire<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    undefined_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    typed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    append_date: Option<i64>,
    /// Base64 of our two encodings (from the msgpack payload and from the JSON payload).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ours: Vec<String>,
}

/// A msgpack case for `desc`; `vary` lets the reference side's layout be other than plain.
fn mp_case(rng: &mut Rng, mut desc: SioDesc, vary: bool) -> MpCase {
    if desc.kind == SioType::Ack && desc.data.is_none() {
        // The msgpack parser requires an ack's data (an array); the JSON parser does not.
        desc.data = Some(Val::Arr(Vec::new()));
    }
    let mut keys = vec!["type"];
    if desc.data.is_some() {
        keys.push("data");
    }
    if desc.id.is_some() {
        // The reference server writes an ack's id first: `{id, type, data, nsp}`.
        if desc.kind == SioType::Ack {
            keys.insert(0, "id");
        } else {
            keys.push("id");
        }
    }
    keys.push("nsp");
    let is_args = matches!(desc.kind, SioType::Event | SioType::Ack);
    let has_bins = desc.data.as_ref().is_some_and(|d| count_bins(d) > 0);
    let variant = match rng.below(10) {
        _ if !vary => MpVariant::Plain,
        0..=4 if desc.data.is_none() => MpVariant::UndefinedData,
        0 => MpVariant::KeyOrder,
        1 => MpVariant::ExtraKey,
        2 if is_args => MpVariant::Date,
        3..=4 if has_bins => MpVariant::TypedArray,
        _ => MpVariant::Plain,
    };
    let date = (variant == MpVariant::Date).then(|| gen_date_ms(rng));
    match variant {
        MpVariant::KeyOrder => {
            keys = match (desc.kind, desc.id.is_some(), desc.data.is_some()) {
                (SioType::Ack, true, true) => vec!["type", "data", "id", "nsp"],
                (SioType::ConnectError, _, true) => vec!["type", "nsp", "data"],
                (SioType::Event, true, true) => vec!["type", "data", "nsp", "id"],
                _ => {
                    // Any other order: a random rotation.
                    let n = keys.len();
                    keys.rotate_left(rng.range(1, n - 1));
                    keys
                }
            }
        }
        MpVariant::UndefinedData => keys.insert(1, "data"),
        _ => {}
    }
    let native = SioPacket {
        kind: desc.kind,
        nsp: desc.nsp.as_str().into(),
        id: desc.id,
        data: desc
            .data
            .as_ref()
            .map(|d| Payload::MsgPack(RawMsgPack::from_serialize(d).expect("a Val serialises"))),
    };
    // A JSON payload with placeholders and attachments, in any packet type: the transcoder
    // turns the placeholders back into `bin` values.
    let from_json = SioPacket {
        data: desc.data.as_ref().map(|d| {
            let (json, attachments) = to_payload(d).expect("a Val serialises");
            Payload::Json { json, attachments }
        }),
        ..native.clone()
    };
    MpCase { desc, native, from_json, keys, variant, date }
}

/// Milliseconds since the epoch within JavaScript's date range (±8.64e15), with the edges of
/// the four-digit years.
fn gen_date_ms(rng: &mut Rng) -> i64 {
    const LIMIT: i64 = 8_640_000_000_000_000;
    const EDGES: [i64; 9] = [
        0,
        -1,
        LIMIT,
        -LIMIT,
        253_402_300_799_999,
        253_402_300_800_000,
        -62_167_219_200_000,
        -62_167_219_200_001,
        951_782_400_000,
    ];
    match rng.below(3) {
        0 => *rng.pick(&EDGES),
        1 => 1_700_000_000_000 + rng.below(200_000_000_000) as i64 - 100_000_000_000,
        _ => rng.below(2 * LIMIT as u64 + 1) as i64 - LIMIT,
    }
}

fn count_bins(v: &Val) -> usize {
    match v {
        Val::Bin(_) => 1,
        Val::Arr(items) => items.iter().map(count_bins).sum(),
        Val::Obj(entries) => entries.iter().map(|(_, v)| count_bins(v)).sum(),
        _ => 0,
    }
}

fn mp_encode(p: &SioPacket) -> Vec<u8> {
    let mut buf = Vec::new();
    msgpack::encode(p, &mut buf);
    buf
}

fn mp_wire(c: &MpCase) -> MpWire<'_> {
    MpWire {
        keys: &c.keys,
        ty: c.desc.kind as u8,
        nsp: &c.desc.nsp,
        id: c.desc.id,
        data: c.desc.data.as_ref().map(Wire),
        undefined_data: c.variant == MpVariant::UndefinedData,
        extra: (c.variant == MpVariant::ExtraKey).then(|| json!({ "options": { "compress": true } })),
        typed: c.variant == MpVariant::TypedArray,
        append_date: c.date,
        ours: [&c.native, &c.from_json].map(|p| B64.encode(mp_encode(p))).to_vec(),
    }
}

fn mp_decode_reference(encoded: &Value) -> Value {
    let Some(bytes) = encoded.as_str().and_then(|b| B64.decode(b).ok()) else {
        return json!({ "reference error": encoded.clone() });
    };
    match msgpack::decode(Bytes::from(bytes), &DecoderConfig::default()) {
        Ok(p) => sio_neutral(&p).unwrap_or_else(|e| json!({ "error": e })),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn check_msgpack(report: &mut Report, cases: &[MpCase], wire: &[MpWire<'_>], results: &Value) {
    for (i, (c, w)) in cases.iter().zip(wire).enumerate() {
        let r = &results[i];
        let input = serde_json::to_string(&MpWire { ours: Vec::new(), ..w.clone() }).expect("serialise");
        let expected = sio_expected(&c.desc);
        for (j, (form, ours)) in
            [("msgpack payload", &w.ours[0]), ("JSON payload", &w.ours[1])].into_iter().enumerate()
        {
            if c.variant == MpVariant::Plain {
                report.check(i, &format!("(a) encode from a {form}"), &input, &json!(ours), &r["encoded"]);
            }
            let what = format!("(b) reference decodes ours from a {form}");
            report.check(i, &what, &input, &expected, &r["dec"][j]);
        }
        // With a date, the packet is what the reference reads from its own bytes, the date as
        // its `toJSON()` string.
        let expected = if c.variant == MpVariant::Date {
            let date = r["self_dec"]["data"].as_array().and_then(|a| a.last());
            let shape = json!(date.is_some_and(|d| d.is_string() || d.is_null()));
            report.check(i, "reference reads its date back as a string", &input, &json!(true), &shape);
            r["self_dec"].clone()
        } else {
            expected
        };
        let ours = mp_decode_reference(&r["encoded"]);
        report.check(i, "(c) we decode the reference", &input, &expected, &ours);
    }
}

fn mp_detail(cases: &[MpCase]) -> String {
    let mut by_type = [0usize; 5];
    let mut variants = [0usize; 6];
    let mut bins = 0;
    for c in cases {
        by_type[c.desc.kind as usize] += 1;
        variants[c.variant as usize] += 1;
        bins += c.desc.data.as_ref().map_or(0, count_bins);
    }
    let names = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR"];
    let types: Vec<String> = names.iter().zip(by_type).map(|(n, c)| format!("{n} {c}")).collect();
    let layouts = ["plain", "other key order", "data: undefined", "extra key", "Uint8Array", "Date"];
    let layouts: Vec<String> = layouts.iter().zip(variants).map(|(n, c)| format!("{c} {n}")).collect();
    format!("{}; {bins} bin values; reference layouts: {}", types.join(", "), layouts.join(", "))
}

#[test]
fn reference_parsers_agree() {
    let started = std::time::Instant::now();
    let dir = differential_dir();
    ensure_reference_packages(&dir);

    let mut rng = Rng::new(SEED);
    let (eio4_packets, eio4_wire) = eio_frame_cases(&mut rng, ProtocolVersion::V4, ENGINE_V4_FRAMES);
    let (eio3_packets, eio3_wire) = eio_frame_cases(&mut rng, ProtocolVersion::V3, ENGINE_V3_FRAMES);
    let (v4_payloads, v4_payload_wire) = eio_payload_cases(&mut rng, PayloadFormat::V4, ENGINE_V4_PAYLOADS);
    let (v3t_payloads, v3t_payload_wire) =
        eio_payload_cases(&mut rng, PayloadFormat::V3Text, ENGINE_V3_TEXT_PAYLOADS);
    let (v3b_payloads, v3b_payload_wire) =
        eio_payload_cases(&mut rng, PayloadFormat::V3Binary, ENGINE_V3_BINARY_PAYLOADS);
    let sio_cases: Vec<SioCase> = edge_sio_descs()
        .into_iter()
        .chain((0..SOCKETIO_PACKETS).map(|_| gen_sio_desc(&mut rng, false)))
        .map(|desc| SioCase { packet: build_sio(&desc), desc })
        .collect();
    let sio_wire: Vec<SioWire<'_>> = sio_cases.iter().map(sio_wire).collect();
    let mut mp_cases: Vec<MpCase> =
        edge_sio_descs().into_iter().map(|d| mp_case(&mut rng, d, false)).collect();
    for _ in 0..MSGPACK_PACKETS {
        let desc = gen_sio_desc(&mut rng, true);
        mp_cases.push(mp_case(&mut rng, desc, true));
    }
    let mp_wire: Vec<MpWire<'_>> = mp_cases.iter().map(mp_wire).collect();

    let request = Request {
        eio4_frame: &eio4_wire,
        eio3_frame: &eio3_wire,
        eio4_payload: &v4_payload_wire,
        eio3_text_payload: &v3t_payload_wire,
        eio3_binary_payload: &v3b_payload_wire,
        socketio: &sio_wire,
        msgpack: &mp_wire,
    };
    let request = serde_json::to_vec(&request).expect("serialise the cases");
    let generated = started.elapsed();
    let out = run_reference(&dir, request);
    let node_done = started.elapsed();

    for (p, v) in PACKAGES {
        assert_eq!(out["versions"][p].as_str(), Some(v), "reference package {p}");
    }

    let mut reports = Vec::new();
    for (kind, version, packets, wire, results) in [
        ("engine.io v4 frame", ProtocolVersion::V4, &eio4_packets, &eio4_wire, &out["eio4_frame"]),
        ("engine.io v3 frame", ProtocolVersion::V3, &eio3_packets, &eio3_wire, &out["eio3_frame"]),
    ] {
        let mut r = Report::new(kind, packets.len(), eio_detail(packets));
        check_eio_frames(&mut r, version, packets, wire, results);
        reports.push(r);
    }
    for (kind, format, payloads, wire, results) in [
        ("engine.io v4 payload", PayloadFormat::V4, &v4_payloads, &v4_payload_wire, &out["eio4_payload"]),
        (
            "engine.io v3 text payload",
            PayloadFormat::V3Text,
            &v3t_payloads,
            &v3t_payload_wire,
            &out["eio3_text_payload"],
        ),
        (
            "engine.io v3 binary payload",
            PayloadFormat::V3Binary,
            &v3b_payloads,
            &v3b_payload_wire,
            &out["eio3_binary_payload"],
        ),
    ] {
        let mut r = Report::new(kind, payloads.len(), eio_detail(payloads.iter().flatten()));
        check_eio_payloads(&mut r, format, payloads, wire, results);
        reports.push(r);
    }
    let mut r = Report::new("socket.io packet", sio_cases.len(), sio_detail(&sio_cases));
    check_sio(&mut r, &sio_cases, &sio_wire, &out["socketio"]);
    reports.push(r);
    let mut r = Report::new("socket.io msgpack packet", mp_cases.len(), mp_detail(&mp_cases));
    check_msgpack(&mut r, &mp_cases, &mp_wire, &out["msgpack"]);
    reports.push(r);

    let mut summary = String::new();
    let mut failed = 0;
    for r in &reports {
        let _ = writeln!(
            summary,
            "{:<28} {:>5} cases {:>6} checks {:>4} disagreements\n    {}",
            r.kind,
            r.cases,
            r.checks,
            r.failures.len(),
            r.detail
        );
        failed += r.failures.len();
    }
    let _ = writeln!(
        summary,
        "generated in {:.2?}, reference parsers ran in {:.2?}, compared in {:.2?}",
        generated,
        node_done - generated,
        started.elapsed() - node_done
    );
    println!("{summary}");
    if failed > 0 {
        let mut details = String::new();
        for r in &reports {
            for f in r.failures.iter().take(SHOWN_PER_KIND) {
                let _ = writeln!(details, "{f}\n");
            }
        }
        panic!("{failed} disagreements with the reference parsers:\n{summary}\n{details}");
    }
}
