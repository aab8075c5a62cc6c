//! Conformance material for the Engine.IO and Socket.IO codecs of this workspace.
//!
//! Today the crate holds the **protocol vectors**: wire inputs with the result a conforming
//! decoder must produce, stored as JSON data files in `vectors/` (not as code) and replayed
//! against `engineio-parser` and `socketio-parser` by
//!
//! ```text
//! cargo test -p conformance --test vectors
//! ```
//!
//! The vectors come from the examples of the Engine.IO (v4, v3) and Socket.IO (v5, v4) protocol
//! specifications, from the reference implementation's observed behaviour on malformed input,
//! and from the inputs that triggered its published security advisories. The file format is
//! described in [`schema`] (the same text as `vectors/README.md`).
//!
//! This library loads and validates those files ([`Suite::load`]) and turns their inputs into
//! bytes ([`Data::bytes`]). The [`runner`] module drives a live server as a black box over HTTP
//! and WebSocket (the `conformance` binary:
//! `cargo run -p conformance -- engine.io --url http://127.0.0.1:3000`).
//!
//! # What it does not do
//!
//! It decodes no protocol itself and judges no codec: the replay (feeding a vector's input to a
//! parser and comparing the outcome) is in `tests/it/vectors.rs`, so the library stays a plain,
//! reusable description of the vectors.
//!
//! # Example
//!
//! ```
//! let suite = conformance::Suite::load()?;
//! assert!(suite.len() >= 150);
//! for vector in &suite.engineio_packet {
//!     let _input: Vec<u8> = vector.input.bytes()?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[doc = include_str!("../vectors/README.md")]
pub mod schema {}
pub mod npm;
pub mod runner;

/// The largest input a `repeat` piece may generate (vectors describe long inputs compactly, but
/// a typo in `times` must not exhaust memory).
pub const MAX_GENERATED_LEN: usize = 16 << 20;

/// The directory holding the vector files (`<crate>/vectors`).
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// The protocol layer a vector file exercises. Each layer has one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// One Engine.IO packet: a WebSocket frame or one entry of a polling payload.
    EngineIoPacket,
    /// One Engine.IO long-polling body (v4, v3 text, v3 binary).
    EngineIoPayload,
    /// The Socket.IO default (JSON) parser: a sequence of Engine.IO messages fed to one decoder.
    SocketIo,
    /// The `socket.io-msgpack-parser` format: one binary Engine.IO message per packet.
    SocketIoMsgPack,
}

impl Layer {
    /// Every layer, in the order the suite lists them.
    pub const ALL: [Layer; 4] =
        [Layer::EngineIoPacket, Layer::EngineIoPayload, Layer::SocketIo, Layer::SocketIoMsgPack];

    /// The layer's name, also the value of the file's `layer` field.
    pub fn name(self) -> &'static str {
        match self {
            Layer::EngineIoPacket => "engineio-packet",
            Layer::EngineIoPayload => "engineio-payload",
            Layer::SocketIo => "socketio",
            Layer::SocketIoMsgPack => "socketio-msgpack",
        }
    }

    /// The file holding the layer's vectors, relative to [`vectors_dir`].
    pub fn file_name(self) -> &'static str {
        match self {
            Layer::EngineIoPacket => "engineio-packet.json",
            Layer::EngineIoPayload => "engineio-payload.json",
            Layer::SocketIo => "socketio.json",
            Layer::SocketIoMsgPack => "socketio-msgpack.json",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the vector files could not be loaded: an I/O or JSON error, or a vector that breaks a
/// rule of the [`schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file concerned.
    pub file: PathBuf,
    /// The vector concerned, if the problem is within one vector.
    pub vector: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(vector) = &self.vector {
            write!(f, ", vector `{vector}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Data that does not describe bytes: invalid base64 or hex, or a generated text longer than
/// [`MAX_GENERATED_LEN`]. [`Suite::load`] refuses vectors holding such data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidData(pub String);

impl fmt::Display for InvalidData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidData {}

/// Bytes as a vector file writes them: exactly one of `text`, `base64` or `hex`.
///
/// In the Socket.IO layer the form also says how a message is delivered: `text` is a text
/// message, `base64` and `hex` are binary messages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Data {
    /// UTF-8 text, written out or generated from pieces.
    Text(Text),
    /// Raw bytes, standard base64 with padding.
    Base64(String),
    /// Raw bytes, hexadecimal digit pairs; whitespace between pairs is ignored.
    Hex(String),
}

/// Text: a string, or a list of pieces concatenated in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Text {
    /// The text itself.
    Plain(String),
    /// Pieces to concatenate.
    Pieces(Vec<Piece>),
}

/// One piece of a generated text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Piece {
    /// Literal text.
    Plain(String),
    /// A string repeated many times, for long inputs such as giant digit runs.
    Repeat(Repeat),
}

/// `{"repeat": s, "times": n}`: `s` written `n` times.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// The repeated string.
    pub repeat: String,
    /// How many times.
    pub times: usize,
}

impl Data {
    /// Whether the data is text (a text message or frame).
    pub fn is_text(&self) -> bool {
        matches!(self, Data::Text(_))
    }

    /// The bytes the data describes.
    pub fn bytes(&self) -> Result<Vec<u8>, InvalidData> {
        match self {
            Data::Text(Text::Plain(s)) => Ok(s.clone().into_bytes()),
            Data::Text(Text::Pieces(pieces)) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Plain(s) => out.push_str(s),
                        Piece::Repeat(Repeat { repeat, times }) => {
                            let len = repeat.len().saturating_mul(*times);
                            if out.len().saturating_add(len) > MAX_GENERATED_LEN {
                                return Err(InvalidData(format!(
                                    "generated text exceeds {MAX_GENERATED_LEN} bytes"
                                )));
                            }
                            out.push_str(&repeat.repeat(*times));
                        }
                    }
                }
                Ok(out.into_bytes())
            }
            Data::Base64(b64) => decode_base64(b64),
            Data::Hex(hex) => decode_hex(hex),
        }
    }
}

fn decode_base64(b64: &str) -> Result<Vec<u8>, InvalidData> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| InvalidData(format!("invalid base64 {b64:?}: {e}")))
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, InvalidData> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(InvalidData(format!("odd number of hex digits in {hex:?}")));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| InvalidData(format!("invalid hex digits in {hex:?}")))
        })
        .collect()
}

/// The leading identifier of a value's `Debug` output: the variant name of an error enum
/// (`TooManyAttachments { count: 11, max: 10 }` gives `TooManyAttachments`). Vectors name
/// expected errors this way.
pub fn variant_name(value: &impl fmt::Debug) -> String {
    let debug = format!("{value:?}");
    debug.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

// ---------------------------------------------------------------------------------------------
// Engine.IO

/// How an Engine.IO packet arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frame {
    /// A WebSocket text frame, or one entry of a polling payload: the packet's text form.
    Text,
    /// A WebSocket binary frame.
    Binary,
}

/// The framing of a long-polling body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum PayloadFormat {
    /// v4: packets separated by `\x1e`.
    #[serde(rename = "v4")]
    V4,
    /// v3 text: `<UTF-16 length>:<packet>` repeated.
    #[serde(rename = "v3-text")]
    V3Text,
    /// v3 binary (XHR2): `<0|1><length digits as bytes><0xFF><packet>` repeated.
    #[serde(rename = "v3-binary")]
    V3Binary,
}

/// An Engine.IO packet as a vector describes it: a type and at most one of `text` (text data)
/// and `base64` (binary data). Neither means empty text data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnginePacket {
    /// The reference's type name: `open`, `close`, `ping`, `pong`, `message`, `upgrade`, `noop`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Text data.
    #[serde(default)]
    pub text: Option<String>,
    /// Binary data, in base64.
    #[serde(default)]
    pub base64: Option<String>,
}

/// The binary or text data of an [`EnginePacket`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineData {
    /// Text data (empty when the packet carries none).
    Text(String),
    /// Binary data.
    Binary(Vec<u8>),
}

impl EnginePacket {
    /// The packet's data.
    pub fn data(&self) -> Result<EngineData, InvalidData> {
        match (&self.text, &self.base64) {
            (Some(_), Some(_)) => Err(InvalidData("a packet has both `text` and `base64`".into())),
            (_, Some(b64)) => decode_base64(b64).map(EngineData::Binary),
            (text, None) => Ok(EngineData::Text(text.clone().unwrap_or_default())),
        }
    }
}

/// The outcome a single-packet vector expects: `{"packet": ...}` or `{"error": "Variant"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum PacketExpect<P> {
    /// The input decodes to this packet.
    Packet(P),
    /// The input is refused with the error of this variant name.
    Error(String),
}

/// A vector of the `engineio-packet` layer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnginePacketVector {
    /// Unique name.
    pub name: String,
    /// Where the vector comes from.
    pub source: String,
    /// Free-form remarks.
    #[serde(default)]
    pub note: Option<String>,
    /// The Engine.IO protocol revision: 3 or 4.
    pub version: u8,
    /// How the packet arrives.
    pub frame: Frame,
    /// The frame's content (`text` for a text frame).
    pub input: Data,
    /// Whether re-encoding the decoded packet gives back the input (default: true).
    #[serde(default)]
    pub canonical: Option<bool>,
    /// The expected outcome.
    pub expect: PacketExpect<EnginePacket>,
}

/// What a payload vector expects: the packets decoded, in order, then optionally the error that
/// stopped decoding (the packets before it are still delivered, as in the reference).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadExpect {
    /// The packets decoded before the end or before the error.
    #[serde(default)]
    pub packets: Vec<EnginePacket>,
    /// The error that ends decoding, by variant name.
    #[serde(default)]
    pub error: Option<String>,
}

/// A vector of the `engineio-payload` layer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnginePayloadVector {
    /// Unique name.
    pub name: String,
    /// Where the vector comes from.
    pub source: String,
    /// Free-form remarks.
    #[serde(default)]
    pub note: Option<String>,
    /// The body's framing.
    pub format: PayloadFormat,
    /// The body size limit in bytes (default [`DEFAULT_MAX_PAYLOAD`]).
    #[serde(default)]
    pub max_payload: Option<usize>,
    /// The body.
    pub input: Data,
    /// Whether re-encoding the decoded packets gives back the input (default: true when no
    /// error is expected).
    #[serde(default)]
    pub canonical: Option<bool>,
    /// The expected outcome.
    pub expect: PayloadExpect,
}

/// The reference server's default body limit (`maxHttpBufferSize`), used when a payload vector
/// sets no `max_payload`.
pub const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Socket.IO

/// A Socket.IO packet as a vector describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketPacket {
    /// `CONNECT`, `DISCONNECT`, `EVENT`, `ACK`, `CONNECT_ERROR`, `BINARY_EVENT` or `BINARY_ACK`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The namespace (default `/`).
    #[serde(default = "main_namespace")]
    pub nsp: String,
    /// The ack id, if any.
    #[serde(default)]
    pub id: Option<u64>,
    /// The JSON payload's exact text, if any (default parser).
    #[serde(default)]
    pub data: Option<String>,
    /// The binary attachments in order, in base64 (default parser).
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The msgpack payload value's exact bytes in hex, if any (msgpack parser).
    #[serde(default)]
    pub msgpack: Option<String>,
}

fn main_namespace() -> String {
    "/".to_owned()
}

impl SocketPacket {
    /// The attachments' bytes.
    pub fn attachment_bytes(&self) -> Result<Vec<Vec<u8>>, InvalidData> {
        self.attachments.iter().map(|a| decode_base64(a)).collect()
    }

    /// The msgpack payload's bytes.
    pub fn msgpack_bytes(&self) -> Result<Option<Vec<u8>>, InvalidData> {
        self.msgpack.as_deref().map(decode_hex).transpose()
    }
}

/// A binary packet still waiting for attachments when the input ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    /// Attachments received.
    pub received: usize,
    /// Attachments announced.
    pub expected: usize,
}

/// What a Socket.IO vector expects from feeding its messages to one decoder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketExpect {
    /// The complete packets, in order, produced before the end or the error.
    #[serde(default)]
    pub packets: Vec<SocketPacket>,
    /// The error that refuses the input, by variant name.
    #[serde(default)]
    pub error: Option<String>,
    /// The index of the message that raises `error` (default: the last one). Messages after it
    /// are not fed.
    #[serde(default)]
    pub error_at: Option<usize>,
    /// The decoder is left waiting for attachments after the last message.
    #[serde(default)]
    pub pending: Option<Pending>,
}

/// A vector of the `socketio` layer (default JSON parser).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketVector {
    /// Unique name.
    pub name: String,
    /// Where the vector comes from.
    pub source: String,
    /// Free-form remarks.
    #[serde(default)]
    pub note: Option<String>,
    /// The Socket.IO protocol revision the input belongs to: 5 or 4 (same encoding).
    pub protocol: u8,
    /// The decoder's attachment limit (default: the parser's, 10 as in the reference).
    #[serde(default)]
    pub max_attachments: Option<usize>,
    /// The decoder's JSON nesting limit (default: the parser's).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// The Engine.IO messages, in order, as they arrive after the engine `4` prefix is removed:
    /// `text` ones are text messages, `base64`/`hex` ones binary messages.
    pub input: Vec<Data>,
    /// Whether re-encoding the decoded packets (text part, then attachments) gives back the
    /// messages (default: true when neither an error nor a pending packet is expected).
    #[serde(default)]
    pub canonical: Option<bool>,
    /// The expected outcome.
    pub expect: SocketExpect,
}

/// A vector of the `socketio-msgpack` layer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgPackVector {
    /// Unique name.
    pub name: String,
    /// Where the vector comes from.
    pub source: String,
    /// Free-form remarks.
    #[serde(default)]
    pub note: Option<String>,
    /// The decoder's nesting limit (default: the parser's).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// The binary Engine.IO message.
    pub input: Data,
    /// Whether re-encoding the decoded packet gives back the input (default: true).
    #[serde(default)]
    pub canonical: Option<bool>,
    /// The expected outcome.
    pub expect: PacketExpect<SocketPacket>,
}

// ---------------------------------------------------------------------------------------------
// Common view and loading

/// What every vector has, whatever its layer.
pub trait Vector {
    /// Unique name.
    fn name(&self) -> &str;
    /// Where the vector comes from.
    fn source(&self) -> &str;
    /// The expected error's variant name, if the input must be refused.
    fn expected_error(&self) -> Option<&str>;
    /// The `canonical` flag as written.
    fn canonical_flag(&self) -> Option<bool>;
    /// Whether a conforming decoder produces a value (no error, nothing pending) whose
    /// re-encoding must give back the input.
    fn canonical(&self) -> bool {
        self.expected_error().is_none() && self.canonical_flag().unwrap_or(true)
    }
    /// A one-line description for failure messages: name and source.
    fn describe(&self) -> String {
        format!("{} ({})", self.name(), self.source())
    }
    /// Checks the rules of the schema that serde cannot express.
    fn validate(&self) -> Result<(), String>;
}

macro_rules! common {
    () => {
        fn name(&self) -> &str {
            &self.name
        }
        fn source(&self) -> &str {
            &self.source
        }
        fn canonical_flag(&self) -> Option<bool> {
            self.canonical
        }
    };
}

impl Vector for EnginePacketVector {
    common!();

    fn expected_error(&self) -> Option<&str> {
        match &self.expect {
            PacketExpect::Error(e) => Some(e),
            PacketExpect::Packet(_) => None,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if !matches!(self.version, 3 | 4) {
            return Err(format!("version must be 3 or 4, not {}", self.version));
        }
        if self.frame == Frame::Text && !self.input.is_text() {
            return Err("a text frame's input must be `text`".into());
        }
        self.input.bytes().map_err(|e| e.0)?;
        if let PacketExpect::Packet(p) = &self.expect {
            check_engine_packet(p)?;
        }
        Ok(())
    }
}

impl Vector for EnginePayloadVector {
    common!();

    fn expected_error(&self) -> Option<&str> {
        self.expect.error.as_deref()
    }

    fn validate(&self) -> Result<(), String> {
        self.input.bytes().map_err(|e| e.0)?;
        for p in &self.expect.packets {
            check_engine_packet(p)?;
        }
        Ok(())
    }
}

impl Vector for SocketVector {
    common!();

    fn expected_error(&self) -> Option<&str> {
        self.expect.error.as_deref()
    }

    fn canonical(&self) -> bool {
        self.expect.error.is_none() && self.expect.pending.is_none() && self.canonical.unwrap_or(true)
    }

    fn validate(&self) -> Result<(), String> {
        if !matches!(self.protocol, 4 | 5) {
            return Err(format!("protocol must be 4 or 5, not {}", self.protocol));
        }
        if self.input.is_empty() {
            return Err("`input` lists no message".into());
        }
        for message in &self.input {
            message.bytes().map_err(|e| e.0)?;
        }
        if let Some(at) = self.expect.error_at {
            if self.expect.error.is_none() {
                return Err("`error_at` without `error`".into());
            }
            if at >= self.input.len() {
                return Err(format!("`error_at` {at} is past the last message"));
            }
        }
        if self.expect.pending.is_some() && self.expect.error.is_some() {
            return Err("`pending` and `error` exclude each other".into());
        }
        if self.canonical.is_some() && self.expect.pending.is_some() {
            return Err("`canonical` is meaningless with `pending`".into());
        }
        for p in &self.expect.packets {
            check_socket_packet(p, false)?;
        }
        Ok(())
    }
}

impl Vector for MsgPackVector {
    common!();

    fn expected_error(&self) -> Option<&str> {
        match &self.expect {
            PacketExpect::Error(e) => Some(e),
            PacketExpect::Packet(_) => None,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.input.is_text() {
            return Err("a msgpack packet is a binary message: use `base64` or `hex`".into());
        }
        self.input.bytes().map_err(|e| e.0)?;
        if let PacketExpect::Packet(p) = &self.expect {
            check_socket_packet(p, true)?;
        }
        Ok(())
    }
}

const ENGINE_TYPES: [&str; 7] = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];
const SOCKET_TYPES: [&str; 7] =
    ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"];

fn check_engine_packet(p: &EnginePacket) -> Result<(), String> {
    if !ENGINE_TYPES.contains(&p.kind.as_str()) {
        return Err(format!("unknown Engine.IO packet type {:?}", p.kind));
    }
    p.data().map(drop).map_err(|e| e.0)
}

fn check_socket_packet(p: &SocketPacket, msgpack: bool) -> Result<(), String> {
    if !SOCKET_TYPES.contains(&p.kind.as_str()) {
        return Err(format!("unknown Socket.IO packet type {:?}", p.kind));
    }
    if msgpack {
        if p.data.is_some() || !p.attachments.is_empty() {
            return Err("a msgpack packet describes its payload with `msgpack` only".into());
        }
        p.msgpack_bytes().map_err(|e| e.0)?;
    } else {
        if p.msgpack.is_some() {
            return Err("`msgpack` belongs to the socketio-msgpack layer".into());
        }
        if let Some(data) = &p.data {
            serde_json::from_str::<serde::de::IgnoredAny>(data)
                .map_err(|e| format!("`data` is not JSON ({e}): {data}"))?;
        }
        p.attachment_bytes().map_err(|e| e.0)?;
    }
    Ok(())
}

/// One vector file: a header and the vectors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile<V> {
    /// The layer's name (see [`Layer::name`]).
    pub layer: String,
    /// What the file covers.
    pub description: String,
    /// The vectors.
    pub vectors: Vec<V>,
}

/// All the vectors, by layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
    /// `engineio-packet.json`.
    pub engineio_packet: Vec<EnginePacketVector>,
    /// `engineio-payload.json`.
    pub engineio_payload: Vec<EnginePayloadVector>,
    /// `socketio.json`.
    pub socketio: Vec<SocketVector>,
    /// `socketio-msgpack.json`.
    pub socketio_msgpack: Vec<MsgPackVector>,
}

impl Suite {
    /// Loads and validates every vector file from [`vectors_dir`].
    pub fn load() -> Result<Suite, LoadError> {
        Self::load_from(&vectors_dir())
    }

    /// Loads and validates every vector file from `dir`. Names must be unique across files.
    pub fn load_from(dir: &Path) -> Result<Suite, LoadError> {
        let suite = Suite {
            engineio_packet: load_file(dir, Layer::EngineIoPacket)?,
            engineio_payload: load_file(dir, Layer::EngineIoPayload)?,
            socketio: load_file(dir, Layer::SocketIo)?,
            socketio_msgpack: load_file(dir, Layer::SocketIoMsgPack)?,
        };
        let mut names = BTreeSet::new();
        for layer in Layer::ALL {
            for vector in suite.vectors(layer) {
                if !names.insert(vector.name().to_owned()) {
                    return Err(LoadError {
                        file: dir.join(layer.file_name()),
                        vector: Some(vector.name().to_owned()),
                        message: "the name is used twice".into(),
                    });
                }
            }
        }
        Ok(suite)
    }

    /// The vectors of one layer, through their common view.
    pub fn vectors(&self, layer: Layer) -> Vec<&dyn Vector> {
        fn view<V: Vector>(v: &[V]) -> Vec<&dyn Vector> {
            v.iter().map(|v| v as &dyn Vector).collect()
        }
        match layer {
            Layer::EngineIoPacket => view(&self.engineio_packet),
            Layer::EngineIoPayload => view(&self.engineio_payload),
            Layer::SocketIo => view(&self.socketio),
            Layer::SocketIoMsgPack => view(&self.socketio_msgpack),
        }
    }

    /// The number of vectors of each layer.
    pub fn counts(&self) -> [(Layer, usize); 4] {
        Layer::ALL.map(|layer| (layer, self.vectors(layer).len()))
    }

    /// The total number of vectors.
    pub fn len(&self) -> usize {
        self.counts().iter().map(|(_, n)| n).sum()
    }

    /// Whether there are no vectors at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn load_file<V: Vector + DeserializeOwned>(dir: &Path, layer: Layer) -> Result<Vec<V>, LoadError> {
    let path = dir.join(layer.file_name());
    let error = |vector: Option<&str>, message: String| LoadError {
        file: path.clone(),
        vector: vector.map(str::to_owned),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| error(None, e.to_string()))?;
    let file: VectorFile<V> = serde_json::from_str(&text).map_err(|e| error(None, e.to_string()))?;
    if file.layer != layer.name() {
        return Err(error(None, format!("`layer` is {:?}, expected {:?}", file.layer, layer.name())));
    }
    for vector in &file.vectors {
        let name = vector.name();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(error(Some(name), "names are non-empty kebab-case ([a-z0-9-])".into()));
        }
        if vector.source().trim().is_empty() {
            return Err(error(Some(name), "`source` is empty".into()));
        }
        if let Some(e) = vector.expected_error() {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(error(Some(name), format!("{e:?} is not an error variant name")));
            }
            if vector.canonical_flag().is_some() {
                return Err(error(Some(name), "`canonical` is meaningless with `error`".into()));
            }
        }
        vector.validate().map_err(|message| error(Some(name), message))?;
    }
    Ok(file.vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_forms_decode() {
        let repeat = Data::Text(Text::Pieces(vec![
            Piece::Plain("2".into()),
            Piece::Repeat(Repeat { repeat: "9".into(), times: 3 }),
        ]));
        assert_eq!(repeat.bytes().ok(), Some(b"2999".to_vec()));
        assert_eq!(Data::Hex("00 ff\n1e".into()).bytes().ok(), Some(vec![0, 0xff, 0x1e]));
        assert_eq!(Data::Base64("AQID".into()).bytes().ok(), Some(vec![1, 2, 3]));
        assert!(Data::Hex("0".into()).bytes().is_err());
        assert!(Data::Base64("AQI".into()).bytes().is_err());
        let huge =
            Data::Text(Text::Pieces(vec![Piece::Repeat(Repeat { repeat: "x".into(), times: usize::MAX })]));
        assert!(huge.bytes().is_err());
    }

    /// Writes a vector directory whose `engineio-packet.json` holds `packet_vectors` and whose
    /// other files are empty, and loads it.
    fn load_with(tag: &str, packet_vectors: &str) -> Result<Suite, LoadError> {
        let dir = std::env::temp_dir().join(format!("conformance-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| LoadError {
            file: dir.clone(),
            vector: None,
            message: e.to_string(),
        })?;
        for layer in Layer::ALL {
            let vectors = if layer == Layer::EngineIoPacket { packet_vectors } else { "" };
            let text = format!(r#"{{"layer": "{layer}", "description": "test", "vectors": [{vectors}]}}"#);
            std::fs::write(dir.join(layer.file_name()), text).map_err(|e| LoadError {
                file: dir.clone(),
                vector: None,
                message: e.to_string(),
            })?;
        }
        let suite = Suite::load_from(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        suite
    }

    const PING: &str = r#"{"name": "ping", "source": "test", "version": 4, "frame": "text",
        "input": {"text": "2"}, "expect": {"packet": {"type": "ping"}}}"#;

    #[test]
    fn a_valid_directory_loads() {
        let suite = load_with("valid", PING).expect("loads");
        assert_eq!(suite.len(), 1);
        assert!(suite.engineio_packet[0].canonical());
    }

    #[test]
    fn schema_rules_are_enforced() {
        let refused = [
            ("duplicate", format!("{PING}, {PING}")),
            (
                "canonical-error",
                PING.replace(r#"{"packet": {"type": "ping"}}"#, r#"{"error": "Empty"}, "canonical": true"#),
            ),
            ("bad-name", PING.replace(r#""ping""#, r#""Ping Vector""#)),
            ("bad-type", PING.replace(r#"{"type": "ping"}"#, r#"{"type": "pingg"}"#)),
            ("text-frame-bytes", PING.replace(r#"{"text": "2"}"#, r#"{"hex": "32"}"#)),
            ("unknown-field", PING.replace(r#""version": 4"#, r#""version": 4, "extra": 1"#)),
        ];
        for (tag, vectors) in refused {
            assert!(load_with(tag, &vectors).is_err(), "{tag} was accepted");
        }
    }

    #[test]
    fn variant_names_come_from_debug() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum E {
            Unit,
            Tuple(u8),
            Struct { a: u8 },
        }
        assert_eq!(variant_name(&E::Unit), "Unit");
        assert_eq!(variant_name(&E::Tuple(1)), "Tuple");
        assert_eq!(variant_name(&E::Struct { a: 1 }), "Struct");
    }
}
