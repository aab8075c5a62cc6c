//! The `socket.io-msgpack-parser` wire format (feature `msgpack`), as written and read by
//! `socket.io-msgpack-parser` 3.0.2 with its `notepack.io` 2.2 codec.
//!
//! Every Socket.IO packet is one msgpack map, sent as one binary Engine.IO message:
//! `{type, data?, id?, nsp}`. The types are `CONNECT` (0) to `CONNECT_ERROR` (4) only: there are
//! no binary packet types and no attachments, binary values are msgpack `bin` values inside
//! `data`. The reference server writes the keys in the order `type`, `data`, `id`, `nsp`, for
//! example `{type:2, data:["hi", <bin>, {a:1}], id:0, nsp:"/"}`; clients may add keys of their
//! own (`options:{compress:true}`), which [`decode`] skips.
//!
//! # Decoding
//!
//! [`decode`] applies the reference's `checkPacket` and the hardening of the JSON decoder:
//! `type` an integer 0..=4; `nsp` a string; a `CONNECT` payload absent or a map, no `DISCONNECT`
//! payload, a `CONNECT_ERROR` payload a string or a map, an event an array whose first element is
//! a number or a string outside [`RESERVED_EVENTS`], an ack an array; `id` absent or an integer
//! that fits a `u64`. Nesting is bounded by [`DecoderConfig::max_depth`], strings must be UTF-8,
//! nothing may follow the map, and length headers are never trusted for allocation.
//!
//! The payload becomes a [`RawMsgPack`]: a slice of the message when it can be kept as it is,
//! or a normalised copy when it holds one of `notepack.io` 2.2's extension values:
//!
//! * fixext 1 of type 0 (`d4 00 00`) is JavaScript `undefined`: as `data` or `id` it means
//!   "absent" (a client's `CONNECT` is `{type:0, data:undefined, nsp:"/"}`), anywhere inside the
//!   payload it becomes `nil`;
//! * fixext 8 of type 0 (`d7 00`, a big-endian signed 64-bit count of milliseconds since the
//!   epoch) and the standard timestamp extension (type -1, 4, 8 or 12 bytes) are JavaScript
//!   `Date`s: they become the string `Date.prototype.toISOString` writes
//!   (`2024-01-02T03:04:05.678Z`), which is what the JSON parser would carry, or `nil` for a
//!   date outside JavaScript's range (where `toJSON` gives `null`);
//! * ext 8/16/32 of type 0 is an `ArrayBuffer` or typed array sent by `notepack.io` under
//!   Node.js: it becomes a `bin` value with the same bytes.
//!
//! Any other extension type is refused.
//!
//! # Encoding
//!
//! [`encode`] writes the map in the reference's key order. A msgpack payload is written as it
//! is; a JSON payload (the server builds `CONNECT` answers and events as JSON) is transcoded, with
//! each placeholder `{"_placeholder":true,"num":N}` replaced by a `bin` of `attachments[N]` and
//! `BINARY_EVENT`/`BINARY_ACK` written as `EVENT`/`ACK`. Values are written in the forms
//! `notepack.io` picks for the equivalent JavaScript value: integers in the smallest of positive
//! or negative fixint, `uint 8/16/32/64` (non-negative) or `int 8/16/32/64` (negative), other
//! numbers as `float 64`, strings as fixstr or `str 8/16/32`, arrays and maps with fix, 16 or 32
//! headers. Integers that do not fit 64 bits are written as `float 64`.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use socketio_parser::{msgpack, DecoderConfig, PacketType};
//!
//! // A client's CONNECT to "/" without auth: `{type:0, data:undefined, nsp:"/"}`.
//! let wire = Bytes::from_static(b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa1/");
//! let packet = msgpack::decode(wire, &DecoderConfig::default())?;
//! assert_eq!(packet.kind, PacketType::Connect);
//! assert_eq!(&*packet.nsp, "/");
//! assert_eq!(packet.data, None);
//!
//! // The server's answer, built as JSON, is transcoded.
//! let answer = socketio_parser::Packet::connect("/", Some(socketio_parser::RawJson::new(r#"{"sid":"x"}"#)?));
//! let mut buf = Vec::new();
//! msgpack::encode(&answer, &mut buf);
//! assert_eq!(buf, b"\x83\xa4type\x00\xa4data\x81\xa3sid\xa1x\xa3nsp\xa1/");
//! # Ok::<(), socketio_parser::DecodeError>(())
//! ```

use bytes::{Buf, BufMut, Bytes};
use bytestring::ByteString;

use crate::json;
use crate::packet::{Packet, PacketType, Payload, RawJson, DEFAULT_MAX_DEPTH, MAIN, RESERVED_EVENTS};
use crate::{DecodeError, DecoderConfig};

/// One msgpack value, kept as the raw bytes it was decoded from or encoded to.
///
/// The constructors validate it as exactly one msgpack value and normalise `notepack.io`'s
/// extension values (see the [module docs](self)), so the bytes hold no extension type and
/// deserialise with `rmp_serde`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawMsgPack(Bytes);

impl RawMsgPack {
    /// Validates `bytes` as exactly one msgpack value, nested at most [`DEFAULT_MAX_DEPTH`]
    /// levels, with UTF-8 strings. `notepack.io`'s extension values are normalised, which copies
    /// the bytes; otherwise they are kept as they are. A top-level `undefined` becomes `nil`.
    pub fn new(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let walked = walk(&bytes, 0, Mode::Normalise, DEFAULT_MAX_DEPTH)?;
        if walked.end != bytes.len() {
            return Err(TRAILING);
        }
        if walked.kind == Kind::Undefined {
            return Ok(RawMsgPack(Bytes::from_static(&[NIL])));
        }
        Ok(RawMsgPack(walked.into_bytes(&bytes)))
    }

    /// Serialises `value` with `rmp_serde`, structs as maps with their field names and binary
    /// values (anything serde serialises with `serialize_bytes`, such as `bytes::Bytes`) as `bin`.
    ///
    /// Numbers are then rewritten in the forms `notepack.io` would write for the same JavaScript
    /// number: `float 32` values and floats with an integral value that fits 64 bits become the
    /// smallest integer form, other floats `float 64`. (`rmp_serde` already writes integers,
    /// strings, `bin` values and headers in the smallest form, as `notepack.io` does.)
    /// `rmp_serde` writes 128-bit integers as 16-byte `bin` values.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, rmp_serde::encode::Error> {
        let vec = rmp_serde::to_vec_named(value)?;
        let walked = walk(&vec, 0, Mode::Canonical, usize::MAX)
            .map_err(|e| rmp_serde::encode::Error::Syntax(e.to_string()))?;
        if walked.end != vec.len() {
            return Err(rmp_serde::encode::Error::Syntax(TRAILING.to_string()));
        }
        Ok(RawMsgPack(match walked.owned {
            Some(owned) => Bytes::from(owned),
            None => Bytes::from(vec),
        }))
    }

    /// Transcodes a JSON payload to msgpack as [`encode`] does: each placeholder
    /// `{"_placeholder":true,"num":N}` whose `N` indexes `attachments` becomes a `bin` of
    /// `attachments[N]`; numbers, strings and headers take `notepack.io`'s forms.
    pub fn from_json(json: &RawJson, attachments: &[Bytes]) -> Self {
        let mut out = Vec::with_capacity(json.as_str().len() + 8);
        match plan_json(json.as_str().as_bytes()) {
            Ok(plan) => write_json(json.as_str().as_bytes(), attachments, &plan, &mut out),
            Err(BadJson) => out.put_u8(NIL),
        }
        RawMsgPack(Bytes::from(out))
    }

    /// The encoded value.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The encoded value, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The value, an array, with the string `item` appended (see
    /// [`Payload::with_string_item`](crate::Payload::with_string_item)): the array header is
    /// rewritten for the new length, the items are kept as they are.
    pub(crate) fn with_string_item(&self, item: &str) -> Option<RawMsgPack> {
        let bytes = &self.0[..];
        let (len, header) = array_header(bytes)?;
        let len = u32::try_from(len + 1).ok()?;
        let mut out = Vec::with_capacity(bytes.len() + item.len() + 10);
        rmp::encode::write_array_len(&mut out, len).ok()?;
        out.extend_from_slice(&bytes[header..]);
        rmp::encode::write_str(&mut out, item).ok()?;
        Some(RawMsgPack(Bytes::from(out)))
    }

    /// The value, an array whose first item is a string, without that item (see
    /// [`Payload::without_name`](crate::Payload::without_name)).
    pub(crate) fn without_name(&self) -> Option<RawMsgPack> {
        let bytes = &self.0[..];
        let (len, header) = array_header(bytes)?;
        let rest = bytes.get(header..)?;
        let name = match *rest.first()? {
            b @ 0xa0..=0xbf => 1 + usize::from(b & 0x1f),
            0xd9 => 2 + usize::from(*rest.get(1)?),
            0xda => 3 + usize::from(u16::from_be_bytes(rest.get(1..3)?.try_into().ok()?)),
            0xdb => 5 + u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?) as usize,
            _ => return None,
        };
        let items = rest.get(name..)?;
        let len = u32::try_from(len.checked_sub(1)?).ok()?;
        let mut out = Vec::with_capacity(items.len() + 5);
        rmp::encode::write_array_len(&mut out, len).ok()?;
        out.extend_from_slice(items);
        Some(RawMsgPack(Bytes::from(out)))
    }

    /// Deserialises the value with `rmp_serde`.
    pub fn deserialize<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, rmp_serde::decode::Error> {
        rmp_serde::from_slice(&self.0)
    }
}

/// The length of the msgpack array `bytes` starts with, and the size of its header.
fn array_header(bytes: &[u8]) -> Option<(usize, usize)> {
    match *bytes.first()? {
        b @ 0x90..=0x9f => Some((usize::from(b & 0x0f), 1)),
        0xdc => Some((usize::from(u16::from_be_bytes(bytes.get(1..3)?.try_into().ok()?)), 3)),
        0xdd => Some((u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?) as usize, 5)),
        _ => None,
    }
}

impl From<RawMsgPack> for Payload {
    fn from(raw: RawMsgPack) -> Self {
        Payload::MsgPack(raw)
    }
}

/// Decodes one msgpack packet: one binary Engine.IO message.
///
/// The packet's payload, if any, is [`Payload::MsgPack`], a slice of `data` unless it had to be
/// normalised; its type is one of [`PacketType::Connect`] to [`PacketType::ConnectError`]. Keys
/// other than `type`, `data`, `id` and `nsp` are skipped; of a repeated key the last one counts,
/// as in JavaScript.
pub fn decode(data: Bytes, config: &DecoderConfig) -> Result<Packet, DecodeError> {
    let b: &[u8] = &data;
    if b.is_empty() {
        return Err(DecodeError::Empty);
    }
    let max_depth = config.max_depth;
    // The position is kept in a local rather than in a `Reader`, so that it can stay in a
    // register: each item's position depends on the one before.
    let (entries, mut i) = match b[0] {
        m @ 0x80..=0x8f => (u64::from(m & 0x0f), 1),
        _ => {
            let mut r = Reader { b, i: 0 };
            match r.item()? {
                Item::Map(entries) => (entries, r.i),
                _ => return Err(DecodeError::MsgPack("a packet is a map")),
            }
        }
    };
    let mut ty = Scalar::Absent;
    let mut nsp = Scalar::Absent;
    let mut id = Scalar::Absent;
    // The payload's parts are kept apart, each in a local of its own, rather than as one
    // `Option<Walked>` moved around.
    let mut top: Option<Kind> = None;
    let mut first = None;
    let mut span = (0, 0);
    let mut owned = None;
    for _ in 0..entries {
        match field(b, &mut i, max_depth)? {
            Some(Field::Type) => ty = scalar(b, &mut i, max_depth)?,
            Some(Field::Nsp) => nsp = scalar(b, &mut i, max_depth)?,
            Some(Field::Id) => id = scalar(b, &mut i, max_depth)?,
            Some(Field::Data) => {
                let walked = walk(b, i, Mode::Normalise, max_depth)?;
                i = walked.end;
                top = Some(walked.kind);
                first = walked.first;
                span = (walked.start, walked.end);
                owned = walked.owned;
            }
            None => i = walk(b, i, Mode::Skip, max_depth)?.end,
        }
    }
    if i != b.len() {
        return Err(TRAILING);
    }

    let kind = packet_type(&ty).ok_or(DecodeError::MsgPack("invalid packet type"))?;
    let Scalar::Str(nsp_start, nsp_end) = nsp else {
        return Err(DecodeError::MsgPack("invalid namespace"));
    };
    let top = top.filter(|&kind| kind != Kind::Undefined);
    check_payload(kind, top, first)?;
    let id = ack_id(&id)?;

    let nsp = match b.get(nsp_start..nsp_end) {
        Some(b"/") => MAIN,
        _ => ByteString::try_from(data.slice(nsp_start..nsp_end)).map_err(|_| INVALID_UTF8)?,
    };
    let payload = match (top, owned) {
        (None, _) => None,
        (Some(_), Some(owned)) => Some(Bytes::from(owned)),
        // The payload needs no rewriting: it is cut out of the message itself, which is given
        // up, so no reference to it is shared.
        (Some(_), None) => {
            let mut data = data;
            data.truncate(span.1);
            data.advance(span.0);
            Some(data)
        }
    };
    Ok(Packet { kind, nsp, id, data: payload.map(|bytes| Payload::MsgPack(RawMsgPack(bytes))) })
}

/// Writes `packet` as one msgpack map in the reference server's key order: `type`, `data` (if
/// any), `id` (if any), `nsp`; an ack starts with its `id`. See the [module docs](self) for how a JSON payload is transcoded.
pub fn encode(packet: &Packet, buf: &mut impl BufMut) {
    let kind = match packet.kind {
        PacketType::BinaryEvent => PacketType::Event,
        PacketType::BinaryAck => PacketType::Ack,
        kind => kind,
    };
    let data = match &packet.data {
        None => None,
        Some(Payload::MsgPack(raw)) => Some(Data::Raw(raw.as_bytes())),
        Some(Payload::Json { json, attachments }) => {
            let text = json.as_str().as_bytes();
            Some(match plan_json(text) {
                Ok(plan) => Data::Json { text, attachments, plan },
                // A `RawJson` is valid JSON, so this does not happen.
                Err(BadJson) => Data::Raw(&NIL_BYTES),
            })
        }
    };
    let entries = 2 + u8::from(data.is_some()) + u8::from(packet.id.is_some());
    buf.put_u8(0x80 | entries);
    // The reference server builds an ack as `{id, type, data}` and every other packet as
    // `{type, data, id}`, then adds `nsp`.
    let id_first = kind == PacketType::Ack;
    if let (true, Some(id)) = (id_first, packet.id) {
        put_str(b"id", buf);
        put_num(Num::Uint(id), buf);
    }
    put_str(b"type", buf);
    buf.put_u8(kind as u8);
    match data {
        None => {}
        Some(Data::Raw(bytes)) => {
            put_str(b"data", buf);
            buf.put_slice(bytes);
        }
        Some(Data::Json { text, attachments, plan }) => {
            put_str(b"data", buf);
            write_json(text, attachments, &plan, buf);
        }
    }
    if let (false, Some(id)) = (id_first, packet.id) {
        put_str(b"id", buf);
        put_num(Num::Uint(id), buf);
    }
    put_str(b"nsp", buf);
    put_str(packet.nsp.as_bytes(), buf);
}

/// [`encode`] into a new buffer.
pub fn encode_to_bytes(packet: &Packet) -> Bytes {
    let mut buf = Vec::with_capacity(32 + packet.nsp.len());
    encode(packet, &mut buf);
    Bytes::from(buf)
}

enum Data<'a> {
    Raw(&'a [u8]),
    Json { text: &'a [u8], attachments: &'a [Bytes], plan: Vec<Container> },
}

const NIL: u8 = 0xc0;
static NIL_BYTES: [u8; 1] = [NIL];
const EOF: DecodeError = DecodeError::MsgPack("unexpected end of input");
const TRAILING: DecodeError = DecodeError::MsgPack("trailing bytes after the value");
const INVALID_UTF8: DecodeError = DecodeError::MsgPack("a string is not valid UTF-8");
const UNSUPPORTED_EXT: DecodeError = DecodeError::MsgPack("unsupported extension type");

// ---------------------------------------------------------------------------------------------
// Reading

/// One msgpack item: a scalar with its contents, or a container header.
enum Item<'a> {
    Nil,
    Bool,
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    /// A `bin` value (its bytes are skipped).
    Bin,
    Array(u64),
    Map(u64),
    Ext {
        fixed: bool,
        tag: i8,
        data: &'a [u8],
    },
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.i.checked_add(n).ok_or(EOF)?;
        let s = self.b.get(self.i..end).ok_or(EOF)?;
        self.i = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| EOF)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// A big-endian length of 1, 2 or 4 bytes.
    fn len(&mut self, width: u8) -> Result<usize, DecodeError> {
        let n = match width {
            1 => u32::from(self.u8()?),
            2 => u32::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?),
        };
        usize::try_from(n).map_err(|_| EOF)
    }

    fn ext(&mut self, width: u8) -> Result<Item<'a>, DecodeError> {
        let n = self.len(width)?;
        let tag = i8::from_be_bytes(self.array()?);
        Ok(Item::Ext { fixed: false, tag, data: self.take(n)? })
    }

    fn fixext(&mut self, n: usize) -> Result<Item<'a>, DecodeError> {
        let tag = i8::from_be_bytes(self.array()?);
        Ok(Item::Ext { fixed: true, tag, data: self.take(n)? })
    }

    /// Reads one item. A container's elements are left to be read.
    fn item(&mut self) -> Result<Item<'a>, DecodeError> {
        let m = self.u8()?;
        Ok(match m {
            0x00..=0x7f => Item::Uint(u64::from(m)),
            0x80..=0x8f => Item::Map(u64::from(m & 0x0f)),
            0x90..=0x9f => Item::Array(u64::from(m & 0x0f)),
            0xa0..=0xbf => Item::Str(self.take(usize::from(m & 0x1f))?),
            0xc0 => Item::Nil,
            0xc1 => return Err(DecodeError::MsgPack("reserved marker 0xc1")),
            0xc2 | 0xc3 => Item::Bool,
            0xc4 => self.take_len(1).map(|_| Item::Bin)?,
            0xc5 => self.take_len(2).map(|_| Item::Bin)?,
            0xc6 => self.take_len(4).map(|_| Item::Bin)?,
            0xc7 => self.ext(1)?,
            0xc8 => self.ext(2)?,
            0xc9 => self.ext(4)?,
            0xca => Item::F32(f32::from_be_bytes(self.array()?)),
            0xcb => Item::F64(f64::from_be_bytes(self.array()?)),
            0xcc => Item::Uint(u64::from(self.u8()?)),
            0xcd => Item::Uint(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => Item::Uint(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Item::Uint(u64::from_be_bytes(self.array()?)),
            0xd0 => Item::Int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Item::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Item::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Item::Int(i64::from_be_bytes(self.array()?)),
            0xd4 => self.fixext(1)?,
            0xd5 => self.fixext(2)?,
            0xd6 => self.fixext(4)?,
            0xd7 => self.fixext(8)?,
            0xd8 => self.fixext(16)?,
            0xd9 => Item::Str(self.take_len(1)?),
            0xda => Item::Str(self.take_len(2)?),
            0xdb => Item::Str(self.take_len(4)?),
            0xdc => Item::Array(self.len(2)? as u64),
            0xdd => Item::Array(self.len(4)? as u64),
            0xde => Item::Map(self.len(2)? as u64),
            0xdf => Item::Map(self.len(4)? as u64),
            0xe0..=0xff => Item::Int(i64::from(i8::from_be_bytes([m]))),
        })
    }

    fn take_len(&mut self, width: u8) -> Result<&'a [u8], DecodeError> {
        let n = self.len(width)?;
        self.take(n)
    }
}

// ---------------------------------------------------------------------------------------------
// Walking one value: validation and normalisation

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Check the structure and the depth only (values under unknown keys).
    Skip,
    /// Also check strings and extension types and normalise `notepack.io`'s extension values.
    Normalise,
    /// Also rewrite numbers in `notepack.io`'s forms.
    Canonical,
}

/// The kind of a value after normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nil,
    Bool,
    Number,
    Str,
    Bin,
    Array,
    Map,
    /// A JavaScript `Date`, now an ISO string (or `nil`).
    Date,
    /// JavaScript `undefined` as the walked value itself.
    Undefined,
    /// Any extension value (only in [`Mode::Skip`]).
    Ext,
}

/// A walked value: its kind, what an event needs to know about its first element, and where its
/// normalised bytes are.
struct Walked {
    kind: Kind,
    /// For an array: the kind of its first element and, for a string, whether it is a reserved
    /// event name.
    first: Option<(Kind, bool)>,
    start: usize,
    end: usize,
    /// The normalised copy, when the input had to be rewritten.
    owned: Option<Vec<u8>>,
}

impl Walked {
    fn into_bytes(self, input: &Bytes) -> Bytes {
        match self.owned {
            Some(owned) => Bytes::from(owned),
            None => input.slice(self.start..self.end),
        }
    }
}

/// A copy of the input made only once a part of it must be rewritten.
struct Patch {
    copied: usize,
    out: Option<Vec<u8>>,
}

impl Patch {
    /// Replaces `input[from..to]` by `with`.
    fn replace(&mut self, input: &[u8], from: usize, to: usize, with: &[u8]) {
        let out = self.out.get_or_insert_with(Vec::new);
        if let Some(kept) = input.get(self.copied..from) {
            out.extend_from_slice(kept);
        }
        out.extend_from_slice(with);
        self.copied = to;
    }

    fn finish(mut self, input: &[u8], end: usize) -> Option<Vec<u8>> {
        if let (Some(out), Some(rest)) = (self.out.as_mut(), input.get(self.copied..end)) {
            out.extend_from_slice(rest);
        }
        self.out
    }
}

/// How many levels of open containers [`Containers`] keeps in place before it allocates.
const INLINE_DEPTH: usize = 8;

/// The open containers of a walk, innermost last, as the number of items each still holds. The
/// first [`INLINE_DEPTH`] levels need no allocation.
struct Containers {
    inline: [u64; INLINE_DEPTH],
    deeper: Vec<u64>,
    len: usize,
}

impl Containers {
    fn new() -> Self {
        Containers { inline: [0; INLINE_DEPTH], deeper: Vec::new(), len: 0 }
    }

    fn push(&mut self, items: u64) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = items,
            None => self.deeper.push(items),
        }
        self.len += 1;
    }

    /// Counts one complete item in the innermost container and closes every container that it
    /// completes; says whether none is left open.
    fn complete_item(&mut self) -> bool {
        while let Some(innermost) = self.len.checked_sub(1) {
            let left = match self.inline.get_mut(innermost) {
                Some(slot) => slot,
                None => match self.deeper.last_mut() {
                    Some(slot) => slot,
                    None => return true,
                },
            };
            *left -= 1;
            if *left > 0 {
                return false;
            }
            if innermost >= INLINE_DEPTH {
                self.deeper.pop();
            }
            self.len = innermost;
        }
        true
    }
}

/// Reads one whole value, without recursion: the open containers are a stack of the items they
/// still hold, which grows only as deep as `max_depth` allows and as the input really nests.
fn walk(b: &[u8], start: usize, mode: Mode, max_depth: usize) -> Result<Walked, DecodeError> {
    let mut i = start;
    let mut patch = Patch { copied: start, out: None };
    let (top, items, _) = next_item(b, &mut i, mode, &mut patch, (0, max_depth), false)?;
    let mut first = None;
    if items > 0 {
        let mut open = Containers::new();
        open.push(items);
        let mut done = false;
        if top == Kind::Array {
            let (kind, items, reserved) = next_item(b, &mut i, mode, &mut patch, (1, max_depth), true)?;
            first = Some((kind, reserved));
            if items > 0 {
                open.push(items);
            } else {
                done = open.complete_item();
            }
        }
        while !done {
            let (_, items, _) = next_item(b, &mut i, mode, &mut patch, (open.len, max_depth), false)?;
            if items > 0 {
                open.push(items);
            } else {
                // The item is complete: so may be the containers it ends.
                done = open.complete_item();
            }
        }
    }
    Ok(Walked { kind: top, first, start, end: i, owned: patch.finish(b, i) })
}

/// Reads the item at `*i` for [`walk`], inside `depth` containers, and moves `*i` past it (past
/// a container's header only): its kind, the number of items it opens (a container's elements,
/// or a map's keys and values) and, for the first element of an event (`is_first`), whether it
/// is a reserved event name.
#[inline(always)]
fn next_item(
    b: &[u8],
    i: &mut usize,
    mode: Mode,
    patch: &mut Patch,
    (depth, max_depth): (usize, usize),
    is_first: bool,
) -> Result<(Kind, u64, bool), DecodeError> {
    let at = *i;
    // The common one-byte headers here; the rest through `Reader::item`.
    let marker = *b.get(at).ok_or(EOF)?;
    Ok(match marker {
        // Fixints are already in `notepack.io`'s form.
        0x00..=0x7f | 0xe0..=0xff => {
            *i = at + 1;
            (Kind::Number, 0, false)
        }
        0xc0 => {
            *i = at + 1;
            (Kind::Nil, 0, false)
        }
        0xc2 | 0xc3 => {
            *i = at + 1;
            (Kind::Bool, 0, false)
        }
        0xa0..=0xbf => {
            let end = at + 1 + usize::from(marker & 0x1f);
            let s = b.get(at + 1..end).ok_or(EOF)?;
            *i = end;
            let reserved = mode != Mode::Skip && {
                check_utf8(s)?;
                is_first && is_reserved(s)
            };
            (Kind::Str, 0, reserved)
        }
        0x80..=0x9f => {
            if depth >= max_depth {
                return Err(DecodeError::TooDeep);
            }
            *i = at + 1;
            let n = u64::from(marker & 0x0f);
            if marker < 0x90 {
                (Kind::Map, n * 2, false)
            } else {
                (Kind::Array, n, false)
            }
        }
        _ => {
            let mut r = Reader { b, i: at };
            let item = other_item(&mut r, mode, patch, (depth, max_depth), is_first)?;
            *i = r.i;
            item
        }
    })
}

/// One item of [`walk`] with a header other than the common one-byte ones: its kind, the number
/// of items it opens (a container's elements, or a map's keys and values) and, for the first
/// element of an event, whether it is a reserved event name.
fn other_item(
    r: &mut Reader<'_>,
    mode: Mode,
    patch: &mut Patch,
    (depth, max_depth): (usize, usize),
    is_first: bool,
) -> Result<(Kind, u64, bool), DecodeError> {
    let at = r.i;
    let item = r.item()?;
    Ok(match item {
        Item::Nil => (Kind::Nil, 0, false),
        Item::Bool => (Kind::Bool, 0, false),
        Item::Uint(_) | Item::Int(_) | Item::F32(_) | Item::F64(_) => {
            if mode == Mode::Canonical {
                let num = match item {
                    Item::Uint(n) => Num::Uint(n),
                    Item::Int(n) => Num::from_i64(n),
                    Item::F32(f) => Num::from_f64(f64::from(f)),
                    Item::F64(f) => Num::from_f64(f),
                    _ => Num::Uint(0),
                };
                let (bytes, len) = num.to_bytes();
                let canonical = bytes.get(..len).unwrap_or_default();
                if r.b.get(at..r.i) != Some(canonical) {
                    patch.replace(r.b, at, r.i, canonical);
                }
            }
            (Kind::Number, 0, false)
        }
        Item::Str(s) => {
            let reserved = mode != Mode::Skip && {
                check_utf8(s)?;
                is_first && is_reserved(s)
            };
            (Kind::Str, 0, reserved)
        }
        Item::Bin => (Kind::Bin, 0, false),
        Item::Array(n) | Item::Map(n) => {
            if depth >= max_depth {
                return Err(DecodeError::TooDeep);
            }
            match item {
                Item::Map(_) => (Kind::Map, n.saturating_mul(2), false),
                _ => (Kind::Array, n, false),
            }
        }
        Item::Ext { fixed, tag, data } => {
            if mode == Mode::Skip {
                (Kind::Ext, 0, false)
            } else {
                let span = Span { at, data_start: r.i - data.len(), end: r.i };
                (extension(patch, r.b, span, (fixed, tag, data), depth)?, 0, false)
            }
        }
    })
}

/// Checks that a msgpack string is UTF-8; most are ASCII, which is quicker to tell.
#[inline]
fn check_utf8(s: &[u8]) -> Result<(), DecodeError> {
    if s.is_ascii() || std::str::from_utf8(s).is_ok() {
        Ok(())
    } else {
        Err(INVALID_UTF8)
    }
}

fn is_reserved(name: &[u8]) -> bool {
    RESERVED_EVENTS.iter().any(|reserved| reserved.as_bytes() == name)
}

/// Where an extension value lies in the input: `at..end`, its data from `data_start`.
struct Span {
    at: usize,
    data_start: usize,
    end: usize,
}

/// Normalises one extension value; `depth` is the number of containers it is in.
fn extension(
    patch: &mut Patch,
    input: &[u8],
    span: Span,
    (fixed, tag, data): (bool, i8, &[u8]),
    depth: usize,
) -> Result<Kind, DecodeError> {
    match (fixed, tag, data.len()) {
        // `undefined`.
        (true, 0, 1) => {
            if depth == 0 {
                return Ok(Kind::Undefined);
            }
            patch.replace(input, span.at, span.end, &NIL_BYTES);
            Ok(Kind::Nil)
        }
        // A `Date`: signed milliseconds since the epoch.
        (true, 0, 8) => {
            let ms = <[u8; 8]>::try_from(data).map(i64::from_be_bytes).map_err(|_| EOF)?;
            replace_date(patch, input, &span, Some(i128::from(ms)));
            Ok(Kind::Date)
        }
        // An `ArrayBuffer` or typed array: the same bytes as `bin`.
        (false, 0, len) => {
            let mut header = Vec::with_capacity(5);
            put_bin_header(len, &mut header);
            patch.replace(input, span.at, span.data_start, &header);
            Ok(Kind::Bin)
        }
        // The timestamp extension.
        (_, -1, 4 | 8 | 12) => {
            replace_date(patch, input, &span, timestamp_ms(data));
            Ok(Kind::Date)
        }
        _ => Err(UNSUPPORTED_EXT),
    }
}

/// The largest distance from the epoch, in milliseconds, of a JavaScript `Date`.
const MAX_DATE_MS: i128 = 8_640_000_000_000_000;

fn replace_date(patch: &mut Patch, input: &[u8], span: &Span, ms: Option<i128>) {
    match ms.filter(|ms| ms.abs() <= MAX_DATE_MS).and_then(|ms| i64::try_from(ms).ok()) {
        Some(ms) => {
            let text = iso_8601(ms);
            let mut with = Vec::with_capacity(1 + text.len());
            put_str(text.as_bytes(), &mut with);
            patch.replace(input, span.at, span.end, &with);
        }
        None => patch.replace(input, span.at, span.end, &NIL_BYTES),
    }
}

/// The milliseconds of a timestamp extension value (4, 8 or 12 bytes), as JavaScript's
/// `new Date(seconds * 1e3 + nanoseconds / 1e6)` truncates them.
fn timestamp_ms(data: &[u8]) -> Option<i128> {
    let (seconds, nanos): (i128, i128) = match data.len() {
        4 => (i128::from(u32::from_be_bytes(data.try_into().ok()?)), 0),
        8 => {
            let v = u64::from_be_bytes(data.try_into().ok()?);
            (i128::from(v & 0x3_ffff_ffff), i128::from(v >> 34))
        }
        12 => {
            let nanos = u32::from_be_bytes(data.get(..4)?.try_into().ok()?);
            let seconds = i64::from_be_bytes(data.get(4..)?.try_into().ok()?);
            (i128::from(seconds), i128::from(nanos))
        }
        _ => return None,
    };
    let whole = seconds * 1000;
    // Towards zero: down for a non-negative instant, up for a negative one.
    let frac = if whole * 1_000_000 + nanos >= 0 { nanos / 1_000_000 } else { (nanos + 999_999) / 1_000_000 };
    Some(whole + frac)
}

/// `Date.prototype.toISOString` for `ms` within the `Date` range: `YYYY-MM-DDTHH:mm:ss.sssZ`,
/// the year written `±YYYYYY` outside 0..=9999.
fn iso_8601(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = engineio_parser::date::civil_date(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.unsigned_abs())
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

// ---------------------------------------------------------------------------------------------
// The packet map

enum Field {
    Type,
    Data,
    Id,
    Nsp,
}

/// Reads a key of the packet map; `None` for keys to skip (the key itself is consumed).
#[inline]
fn field(b: &[u8], i: &mut usize, max_depth: usize) -> Result<Option<Field>, DecodeError> {
    let at = *i;
    let Some(&marker @ 0xa0..=0xbf) = b.get(at) else {
        let mut r = Reader { b, i: at };
        let field = other_field(&mut r, max_depth)?;
        *i = r.i;
        return Ok(field);
    };
    let end = at + 1 + usize::from(marker & 0x1f);
    let key = b.get(at + 1..end).ok_or(EOF)?;
    *i = end;
    Ok(match key {
        b"type" => Some(Field::Type),
        b"data" => Some(Field::Data),
        b"id" => Some(Field::Id),
        b"nsp" => Some(Field::Nsp),
        _ => None,
    })
}

/// [`field`] for a key that is not a fixstr.
#[inline(never)]
fn other_field(r: &mut Reader<'_>, max_depth: usize) -> Result<Option<Field>, DecodeError> {
    let at = r.i;
    Ok(match r.item()? {
        Item::Str(b"type") => Some(Field::Type),
        Item::Str(b"data") => Some(Field::Data),
        Item::Str(b"id") => Some(Field::Id),
        Item::Str(b"nsp") => Some(Field::Nsp),
        Item::Array(_) | Item::Map(_) => {
            r.i = walk(r.b, at, Mode::Skip, max_depth)?.end;
            None
        }
        _ => None,
    })
}

/// The value of `type`, `id` or `nsp`.
enum Scalar {
    /// Not given, or `undefined`.
    Absent,
    Uint(u64),
    Float(f64),
    /// A string: its byte range in the message.
    Str(usize, usize),
    Other,
}

#[inline]
fn scalar(b: &[u8], i: &mut usize, max_depth: usize) -> Result<Scalar, DecodeError> {
    let at = *i;
    match b.get(at) {
        Some(&n @ 0x00..=0x7f) => {
            *i = at + 1;
            Ok(Scalar::Uint(u64::from(n)))
        }
        Some(&marker @ 0xa0..=0xbf) => {
            let end = at + 1 + usize::from(marker & 0x1f);
            check_utf8(b.get(at + 1..end).ok_or(EOF)?)?;
            *i = end;
            Ok(Scalar::Str(at + 1, end))
        }
        _ => {
            let mut r = Reader { b, i: at };
            let scalar = other_scalar(&mut r, max_depth)?;
            *i = r.i;
            Ok(scalar)
        }
    }
}

/// [`scalar`] for a value that is neither a positive fixint nor a fixstr.
#[inline(never)]
fn other_scalar(r: &mut Reader<'_>, max_depth: usize) -> Result<Scalar, DecodeError> {
    let at = r.i;
    Ok(match r.item()? {
        Item::Uint(n) => Scalar::Uint(n),
        Item::Int(n) => u64::try_from(n).map_or(Scalar::Other, Scalar::Uint),
        Item::F32(f) => Scalar::Float(f64::from(f)),
        Item::F64(f) => Scalar::Float(f),
        Item::Str(s) => {
            check_utf8(s)?;
            Scalar::Str(r.i - s.len(), r.i)
        }
        Item::Ext { fixed: true, tag: 0, data } if data.len() == 1 => Scalar::Absent,
        Item::Array(_) | Item::Map(_) => {
            r.i = walk(r.b, at, Mode::Skip, max_depth)?.end;
            Scalar::Other
        }
        _ => Scalar::Other,
    })
}

/// A non-negative integer that fits a `u64`, whether written as an integer or as a float with an
/// integral value (JavaScript has only one number type).
fn integer(s: &Scalar) -> Option<u64> {
    match *s {
        Scalar::Uint(n) => Some(n),
        Scalar::Float(f) if f.fract() == 0.0 && (0.0..TWO_POW_64).contains(&f) => Some(f as u64),
        _ => None,
    }
}

fn packet_type(s: &Scalar) -> Option<PacketType> {
    integer(s).filter(|&n| n <= PacketType::ConnectError as u64).and_then(|n| PacketType::from_u8(n as u8))
}

fn ack_id(s: &Scalar) -> Result<Option<u64>, DecodeError> {
    match s {
        Scalar::Absent => Ok(None),
        _ => integer(s).map(Some).ok_or(DecodeError::InvalidAckId),
    }
}

/// Checks a payload of kind `top` (`None` when there is none) with its `first` element.
fn check_payload(
    kind: PacketType,
    top: Option<Kind>,
    first: Option<(Kind, bool)>,
) -> Result<(), DecodeError> {
    match kind {
        PacketType::Connect if !matches!(top, None | Some(Kind::Map)) => {
            Err(DecodeError::InvalidConnectPayload)
        }
        PacketType::Disconnect if top.is_some() => Err(DecodeError::UnexpectedDisconnectPayload),
        PacketType::ConnectError if !matches!(top, Some(Kind::Str | Kind::Map)) => {
            Err(DecodeError::InvalidConnectErrorPayload)
        }
        PacketType::Event | PacketType::BinaryEvent => {
            if top != Some(Kind::Array) {
                return Err(DecodeError::InvalidEventPayload);
            }
            match first {
                Some((Kind::Number, _)) | Some((Kind::Str, false)) => Ok(()),
                Some((Kind::Str, true)) => Err(DecodeError::ReservedEventName),
                _ => Err(DecodeError::InvalidEventName),
            }
        }
        PacketType::Ack | PacketType::BinaryAck if top != Some(Kind::Array) => {
            Err(DecodeError::InvalidAckPayload)
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
const MINUS_TWO_POW_63: f64 = -9_223_372_036_854_775_808.0;

/// A number as `notepack.io` sees it: an integer (written in the smallest form) or a float.
#[derive(Debug, Clone, Copy)]
enum Num {
    Uint(u64),
    /// A negative integer.
    Neg(i64),
    Float(f64),
}

impl Num {
    fn from_i64(n: i64) -> Self {
        u64::try_from(n).map_or(Num::Neg(n), Num::Uint)
    }

    /// Integral values that fit 64 bits are integers (`-0` is `0`), as `notepack.io` writes
    /// them; the rest, non-finite values included, are floats.
    fn from_f64(f: f64) -> Self {
        if f.fract() == 0.0 {
            // `-0.0` is in this range too.
            if (0.0..TWO_POW_64).contains(&f) {
                return Num::Uint(f as u64);
            }
            if (MINUS_TWO_POW_63..0.0).contains(&f) {
                return Num::Neg(f as i64);
            }
        }
        Num::Float(f)
    }

    fn to_bytes(self) -> ([u8; 9], usize) {
        fn with(marker: u8, tail: &[u8]) -> ([u8; 9], usize) {
            let mut out = [0u8; 9];
            out[0] = marker;
            for (slot, b) in out.iter_mut().skip(1).zip(tail) {
                *slot = *b;
            }
            (out, 1 + tail.len().min(8))
        }
        match self {
            Num::Uint(n) => match n {
                0..=0x7f => with(n as u8, &[]),
                0x80..=0xff => with(0xcc, &[n as u8]),
                0x100..=0xffff => with(0xcd, &(n as u16).to_be_bytes()),
                0x1_0000..=0xffff_ffff => with(0xce, &(n as u32).to_be_bytes()),
                _ => with(0xcf, &n.to_be_bytes()),
            },
            Num::Neg(n) => match n {
                -32..=-1 => with(n as i8 as u8, &[]),
                -128..=-33 => with(0xd0, &(n as i8).to_be_bytes()),
                -32768..=-129 => with(0xd1, &(n as i16).to_be_bytes()),
                -2_147_483_648..=-32769 => with(0xd2, &(n as i32).to_be_bytes()),
                // Non-negative values are not built as `Neg`; they would take this form.
                _ => with(0xd3, &n.to_be_bytes()),
            },
            Num::Float(f) => with(0xcb, &f.to_be_bytes()),
        }
    }
}

fn put_num(num: Num, buf: &mut impl BufMut) {
    let (bytes, len) = num.to_bytes();
    buf.put_slice(bytes.get(..len).unwrap_or_default());
}

/// A header length; msgpack has no form for more than `u32::MAX` items or bytes.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn put_str(s: &[u8], buf: &mut impl BufMut) {
    let len = s.len();
    match len {
        0..=31 => buf.put_u8(0xa0 | len as u8),
        32..=0xff => {
            buf.put_u8(0xd9);
            buf.put_u8(len as u8);
        }
        0x100..=0xffff => {
            buf.put_u8(0xda);
            buf.put_u16(len as u16);
        }
        _ => {
            buf.put_u8(0xdb);
            buf.put_u32(len32(len));
        }
    }
    buf.put_slice(s);
}

fn put_bin_header(len: usize, buf: &mut impl BufMut) {
    match len {
        0..=0xff => {
            buf.put_u8(0xc4);
            buf.put_u8(len as u8);
        }
        0x100..=0xffff => {
            buf.put_u8(0xc5);
            buf.put_u16(len as u16);
        }
        _ => {
            buf.put_u8(0xc6);
            buf.put_u32(len32(len));
        }
    }
}

fn put_container_header(object: bool, len: usize, buf: &mut impl BufMut) {
    let (fix, m16, m32) = if object { (0x80, 0xde, 0xdf) } else { (0x90, 0xdc, 0xdd) };
    match len {
        0..=15 => buf.put_u8(fix | len as u8),
        16..=0xffff => {
            buf.put_u8(m16);
            buf.put_u16(len as u16);
        }
        _ => {
            buf.put_u8(m32);
            buf.put_u32(len32(len));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON to msgpack

/// The JSON text was not valid JSON (a [`RawJson`] always is).
#[derive(Debug)]
struct BadJson;

/// One JSON token, as a pull parser over already-validated JSON reports it.
enum Token<'a> {
    Begin {
        object: bool,
    },
    End,
    /// An object key: the string's contents between the quotes, still escaped.
    Key(&'a [u8]),
    Null,
    Bool(bool),
    Number(&'a [u8]),
    /// A string's contents between the quotes, still escaped.
    Str(&'a [u8]),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    FirstElement,
    FirstKey,
    Key,
    AfterValue,
}

/// A JSON pull parser, without recursion.
struct Tokens<'a> {
    b: &'a [u8],
    i: usize,
    /// The open containers: `true` for an object.
    open: Vec<bool>,
    expect: Expect,
}

impl<'a> Tokens<'a> {
    fn new(b: &'a [u8]) -> Self {
        Tokens { b, i: 0, open: Vec::new(), expect: Expect::Value }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// The contents of the string starting at the opening quote.
    fn string(&mut self) -> Result<&'a [u8], BadJson> {
        if self.peek() != Some(b'"') {
            return Err(BadJson);
        }
        let start = self.i + 1;
        let mut i = start;
        loop {
            match self.b.get(i) {
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
                None => return Err(BadJson),
            }
        }
        self.i = i + 1;
        self.b.get(start..i).ok_or(BadJson)
    }

    fn value(&mut self) -> Result<Token<'a>, BadJson> {
        let token = match self.peek().ok_or(BadJson)? {
            c @ (b'{' | b'[') => {
                self.i += 1;
                let object = c == b'{';
                self.open.push(object);
                self.expect = if object { Expect::FirstKey } else { Expect::FirstElement };
                return Ok(Token::Begin { object });
            }
            b'"' => Token::Str(self.string()?),
            b't' => self.literal(b"true", Token::Bool(true))?,
            b'f' => self.literal(b"false", Token::Bool(false))?,
            b'n' => self.literal(b"null", Token::Null)?,
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
                Token::Number(self.b.get(start..self.i).ok_or(BadJson)?)
            }
            _ => return Err(BadJson),
        };
        self.expect = Expect::AfterValue;
        Ok(token)
    }

    fn literal(&mut self, word: &[u8], token: Token<'a>) -> Result<Token<'a>, BadJson> {
        if self.b.get(self.i..).is_some_and(|rest| rest.starts_with(word)) {
            self.i += word.len();
            Ok(token)
        } else {
            Err(BadJson)
        }
    }

    fn end(&mut self) -> Token<'a> {
        self.i += 1;
        self.open.pop();
        self.expect = Expect::AfterValue;
        Token::End
    }

    fn next(&mut self) -> Result<Option<Token<'a>>, BadJson> {
        loop {
            self.ws();
            match self.expect {
                Expect::Value => return self.value().map(Some),
                Expect::FirstElement if self.peek() == Some(b']') => return Ok(Some(self.end())),
                Expect::FirstElement => self.expect = Expect::Value,
                Expect::FirstKey if self.peek() == Some(b'}') => return Ok(Some(self.end())),
                Expect::FirstKey | Expect::Key => {
                    let key = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(BadJson);
                    }
                    self.i += 1;
                    self.expect = Expect::Value;
                    return Ok(Some(Token::Key(key)));
                }
                Expect::AfterValue => match (self.open.last().copied(), self.peek()) {
                    (None, None) => return Ok(None),
                    (None, Some(_)) => return Err(BadJson),
                    (Some(object), Some(b',')) => {
                        self.i += 1;
                        self.expect = if object { Expect::Key } else { Expect::Value };
                    }
                    (Some(false), Some(b']')) | (Some(true), Some(b'}')) => return Ok(Some(self.end())),
                    _ => return Err(BadJson),
                },
            }
        }
    }
}

/// What the first pass learnt about a container: msgpack headers need the item count first.
struct Container {
    count: usize,
    /// For a placeholder to replace: the attachment's index.
    placeholder: Option<usize>,
    /// The index of the first container after this one's contents.
    next: usize,
}

/// An open container in the first pass.
struct Open {
    index: usize,
    object: bool,
    /// The member whose value comes next, for placeholder detection.
    member: Member,
    is_placeholder: bool,
    num: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Member {
    Placeholder,
    Num,
    Other,
}

fn member(key: &[u8]) -> Member {
    let unescaped;
    let key = if key.contains(&b'\\') {
        unescaped = json::unescape(key);
        unescaped.as_deref().map_or(&b""[..], str::as_bytes)
    } else {
        key
    };
    match key {
        b"_placeholder" => Member::Placeholder,
        b"num" => Member::Num,
        _ => Member::Other,
    }
}

/// The first pass: counts each container's items and finds the placeholders (an object whose
/// last `_placeholder` member is `true` and whose last `num` member is a non-negative integer, as
/// the reference's `reconstructPacket` reads it); the second pass replaces those whose `num`
/// indexes the attachments.
fn plan_json(text: &[u8]) -> Result<Vec<Container>, BadJson> {
    let mut plan: Vec<Container> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut tokens = Tokens::new(text);
    while let Some(token) = tokens.next()? {
        // A value inside an array counts as an item; inside an object the key did.
        let value = match token {
            Token::End => {
                let done = open.pop().ok_or(BadJson)?;
                let next = plan.len();
                let container = plan.get_mut(done.index).ok_or(BadJson)?;
                container.next = next;
                if done.object && done.is_placeholder {
                    // An index past the attachments keeps the object (see `write_json`).
                    container.placeholder = done.num.and_then(|n| usize::try_from(n).ok());
                }
                continue;
            }
            Token::Key(key) => {
                let top = open.last_mut().ok_or(BadJson)?;
                plan.get_mut(top.index).ok_or(BadJson)?.count += 1;
                top.member = member(key);
                continue;
            }
            token => token,
        };
        if let Some(top) = open.last_mut() {
            if top.object {
                match top.member {
                    Member::Placeholder => top.is_placeholder = matches!(value, Token::Bool(true)),
                    Member::Num => {
                        top.num = match value {
                            Token::Number(n) => json_uint(n),
                            _ => None,
                        }
                    }
                    Member::Other => {}
                }
                top.member = Member::Other;
            } else {
                plan.get_mut(top.index).ok_or(BadJson)?.count += 1;
            }
        }
        if let Token::Begin { object } = value {
            open.push(Open {
                index: plan.len(),
                object,
                member: Member::Other,
                is_placeholder: false,
                num: None,
            });
            plan.push(Container { count: 0, placeholder: None, next: 0 });
        }
    }
    if !open.is_empty() {
        return Err(BadJson);
    }
    Ok(plan)
}

/// A JSON number that is a non-negative integer (`0`, `3`, `3.0`, `3e0`), as a placeholder's
/// `num` may be.
fn json_uint(text: &[u8]) -> Option<u64> {
    match json_number(text) {
        Num::Uint(n) => Some(n),
        _ => None,
    }
}

/// A JSON number as JavaScript reads it and `notepack.io` writes it, except that integer
/// literals that fit 64 bits keep their exact value.
fn json_number(text: &[u8]) -> Num {
    let Ok(s) = std::str::from_utf8(text) else {
        return Num::Float(f64::NAN);
    };
    if !s.contains(['.', 'e', 'E']) {
        if let Ok(n) = s.parse::<i64>() {
            return Num::from_i64(n);
        }
        if let Ok(n) = s.parse::<u64>() {
            return Num::Uint(n);
        }
    }
    Num::from_f64(s.parse::<f64>().unwrap_or(f64::NAN))
}

/// The second pass: writes msgpack following the plan.
fn write_json(text: &[u8], attachments: &[Bytes], plan: &[Container], buf: &mut impl BufMut) {
    let mut tokens = Tokens::new(text);
    let mut next = 0;
    while let Ok(Some(token)) = tokens.next() {
        match token {
            Token::Begin { object } => {
                let Some(container) = plan.get(next) else {
                    return;
                };
                next += 1;
                match container.placeholder.and_then(|n| attachments.get(n)) {
                    Some(attachment) => {
                        put_bin_header(attachment.len(), buf);
                        buf.put_slice(attachment);
                        let mut depth = 1usize;
                        while depth > 0 {
                            match tokens.next() {
                                Ok(Some(Token::Begin { .. })) => depth += 1,
                                Ok(Some(Token::End)) => depth -= 1,
                                Ok(Some(_)) => {}
                                Ok(None) | Err(BadJson) => return,
                            }
                        }
                        next = container.next;
                    }
                    None => put_container_header(object, container.count, buf),
                }
            }
            Token::End => {}
            Token::Key(s) | Token::Str(s) => {
                if s.contains(&b'\\') {
                    match json::unescape(s) {
                        Some(unescaped) => put_str(unescaped.as_bytes(), buf),
                        None => put_str(s, buf),
                    }
                } else {
                    put_str(s, buf);
                }
            }
            Token::Null => buf.put_u8(NIL),
            Token::Bool(b) => buf.put_u8(if b { 0xc3 } else { 0xc2 }),
            Token::Number(n) => put_num(json_number(n), buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_8601_matches_to_iso_string() {
        // Values from `new Date(ms).toISOString()` in Node.js.
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (1_704_164_645_678, "2024-01-02T03:04:05.678Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            // Early in the year two centuries into a 400-year cycle.
            (-5_358_355_200_000, "1800-03-15T00:00:00.000Z"),
            (-8_515_238_400_000, "1700-03-01T00:00:00.000Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
            (-62_198_755_200_001, "-000002-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
            (8_640_000_000_000_000, "+275760-09-13T00:00:00.000Z"),
            (-8_640_000_000_000_000, "-271821-04-20T00:00:00.000Z"),
        ] {
            assert_eq!(iso_8601(ms), text, "{ms}");
        }
    }

    #[test]
    fn timestamps_truncate_towards_zero() {
        let ts96 = |nanos: u32, seconds: i64| {
            let mut data = nanos.to_be_bytes().to_vec();
            data.extend_from_slice(&seconds.to_be_bytes());
            timestamp_ms(&data)
        };
        assert_eq!(ts96(500_000_000, -1), Some(-500));
        assert_eq!(ts96(1, -1), Some(-999));
        assert_eq!(ts96(1_999_999, 2), Some(2001));
        assert_eq!(ts96(1_500_000, 0), Some(1));
        assert_eq!(timestamp_ms(&7u32.to_be_bytes()), Some(7000));
        let ts64 = (5_000_000u64 << 34) | 3;
        assert_eq!(timestamp_ms(&ts64.to_be_bytes()), Some(3005));
    }

    #[test]
    fn numbers_take_notepack_forms() {
        // Bytes from `notepack.encode(n)` (notepack.io 2.2).
        for (num, hex) in [
            (Num::Uint(0), "00"),
            (Num::Uint(127), "7f"),
            (Num::Uint(128), "cc80"),
            (Num::Uint(256), "cd0100"),
            (Num::Uint(65536), "ce00010000"),
            (Num::Uint(4_294_967_296), "cf0000000100000000"),
            (Num::from_i64(-1), "ff"),
            (Num::from_i64(-32), "e0"),
            (Num::from_i64(-33), "d0df"),
            (Num::from_i64(-129), "d1ff7f"),
            (Num::from_i64(-32769), "d2ffff7fff"),
            (Num::from_i64(-2_147_483_649), "d3ffffffff7fffffff"),
            (Num::from_f64(1.5), "cb3ff8000000000000"),
            (Num::from_f64(-0.0), "00"),
            (Num::from_f64(9_223_372_036_854_775_808.0), "cf8000000000000000"),
            (Num::from_f64(-9_223_372_036_854_775_808.0), "d38000000000000000"),
        ] {
            let (bytes, len) = num.to_bytes();
            let got: String = bytes[..len].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "{num:?}");
        }
    }
}
