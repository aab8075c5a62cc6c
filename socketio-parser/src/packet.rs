//! Socket.IO packets and their text encoding:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`.

use bytes::{Buf, BufMut, Bytes};
use bytestring::ByteString;

use crate::json::{self, JsonKind};
use crate::DecodeError;

/// The seven Socket.IO packet types. The discriminant is the type's wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: join a namespace (client, with optional auth) or accept it (server, with `{sid}`).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event, `[name, ...args]`.
    Event = 2,
    /// `3`: the answer to an event that carried an ack id, `[...args]`.
    Ack = 3,
    /// `4`: the server refused a namespace (`CONNECT_ERROR` in v5, `ERROR` in v4).
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an ack with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// All packet types in wire order.
    pub const ALL: [PacketType; 7] = [
        PacketType::Connect,
        PacketType::Disconnect,
        PacketType::Event,
        PacketType::Ack,
        PacketType::ConnectError,
        PacketType::BinaryEvent,
        PacketType::BinaryAck,
    ];

    /// The packet type with wire number `n`.
    #[inline]
    pub fn from_u8(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// Whether packets of this type are followed by binary attachments.
    #[inline]
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }

    /// The type of an event or an ack packet that carries `data`: the binary one
    /// (`BINARY_EVENT`, `BINARY_ACK`) when a JSON payload has attachments, the plain one
    /// otherwise. Other types are returned as they are.
    pub fn carrying(self, data: &Payload) -> PacketType {
        let binary = matches!(data, Payload::Json { attachments, .. } if !attachments.is_empty());
        match (self, binary) {
            (PacketType::Event | PacketType::BinaryEvent, false) => PacketType::Event,
            (PacketType::Event | PacketType::BinaryEvent, true) => PacketType::BinaryEvent,
            (PacketType::Ack | PacketType::BinaryAck, false) => PacketType::Ack,
            (PacketType::Ack | PacketType::BinaryAck, true) => PacketType::BinaryAck,
            (kind, _) => kind,
        }
    }

    /// The type's name in lower case, for logs and metrics labels: `connect`, `disconnect`,
    /// `event`, `ack`, `connect_error`, `binary_event`, `binary_ack`.
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "connect",
            PacketType::Disconnect => "disconnect",
            PacketType::Event => "event",
            PacketType::Ack => "ack",
            PacketType::ConnectError => "connect_error",
            PacketType::BinaryEvent => "binary_event",
            PacketType::BinaryAck => "binary_ack",
        }
    }
}

/// A JSON text known to be valid, kept as the raw slice it arrived in (or was written as).
///
/// The only constructors validate (or serialise with `serde_json`, which writes valid JSON), so a
/// `RawJson` is always valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawJson(ByteString);

impl RawJson {
    /// Validates `text` as one JSON value (nesting at most [`DEFAULT_MAX_DEPTH`] levels).
    pub fn new(text: impl Into<ByteString>) -> Result<Self, DecodeError> {
        let text = text.into();
        json::scan(text.as_bytes(), DEFAULT_MAX_DEPTH, false).map_err(DecodeError::from_json)?;
        Ok(RawJson(text))
    }

    /// Serialises `value` as compact JSON, numbers written as JavaScript writes them (see
    /// [`crate::write_js_number`]). Binary values (`serialize_bytes`) become arrays of numbers
    /// here; use [`crate::to_payload`] to turn them into attachments.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        crate::binary::to_json(value)
    }

    /// Wraps text already known to be valid JSON, such as a slice a scan accepted.
    pub(crate) fn trusted(text: ByteString) -> Self {
        RawJson(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text as shared bytes.
    pub fn as_byte_string(&self) -> &ByteString {
        &self.0
    }

    /// Deserialises the JSON text.
    pub fn deserialize<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl std::fmt::Display for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `serde_json` and our encoders only write UTF-8.
pub(crate) fn trusted_utf8(vec: Vec<u8>) -> ByteString {
    match ByteString::try_from(Bytes::from(vec)) {
        Ok(s) => s,
        Err(_) => ByteString::from_static("null"),
    }
}

/// A packet's payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Payload {
    /// JSON text (the default parser). Binary values are placeholders
    /// `{"_placeholder":true,"num":N}` that refer to `attachments[N]`.
    Json {
        /// The JSON text.
        json: RawJson,
        /// The binary attachments, in placeholder order. Empty unless the packet type is
        /// [`PacketType::BinaryEvent`] or [`PacketType::BinaryAck`].
        attachments: Vec<Bytes>,
    },
    /// One msgpack value (the `socket.io-msgpack-parser` wire format); binary values are
    /// msgpack `bin` values inside it.
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    MsgPack(crate::msgpack::RawMsgPack),
}

impl Payload {
    /// A JSON payload without attachments.
    pub fn json(json: RawJson) -> Self {
        Payload::Json { json, attachments: Vec::new() }
    }

    /// The payload, an array, with the string `item` appended as its last element: how
    /// connection state recovery adds a packet's offset to an event's arguments
    /// (`["foo",1]` → `["foo",1,"MzUPkW0"]`). `None` when the payload is not an array.
    ///
    /// ```
    /// use socketio_parser::{Payload, RawJson};
    ///
    /// let payload = Payload::json(RawJson::new(r#"["foo",1]"#)?);
    /// let with = payload.with_string_item("abc").expect("an array");
    /// assert_eq!(with, Payload::json(RawJson::new(r#"["foo",1,"abc"]"#)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_string_item(&self, item: &str) -> Option<Payload> {
        match self {
            Payload::Json { json, attachments } => {
                let text = json.as_str().trim_end_matches([' ', '\t', '\n', '\r']);
                let body = text.strip_suffix(']')?;
                let opened = body.trim_start_matches([' ', '\t', '\n', '\r']);
                let inner = opened.strip_prefix('[')?;
                let quoted = serde_json::to_string(item).ok()?;
                let mut out = String::with_capacity(text.len() + quoted.len() + 1);
                out.push_str(body);
                if !inner.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
                    out.push(',');
                }
                out.push_str(&quoted);
                out.push(']');
                Some(Payload::Json {
                    json: RawJson::trusted(ByteString::from(out)),
                    attachments: attachments.clone(),
                })
            }
            #[cfg(feature = "msgpack")]
            Payload::MsgPack(raw) => raw.with_string_item(item).map(Payload::MsgPack),
        }
    }
}

impl Payload {
    /// An event's arguments without its name: the payload, an array whose first element is a
    /// string, without that element (`["foo",1,{"a":2}]` → `[1,{"a":2}]`). The arguments' bytes
    /// (and the attachments they refer to) are kept as they are, nothing is parsed but the name;
    /// `None` for any other payload.
    ///
    /// ```
    /// use socketio_parser::{Payload, RawJson};
    ///
    /// let payload = Payload::json(RawJson::new(r#"["foo", 1, {"a":"]"}]"#)?);
    /// let args = payload.without_name().expect("an event");
    /// assert_eq!(args, Payload::json(RawJson::new(r#"[ 1, {"a":"]"}]"#)?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn without_name(&self) -> Option<Payload> {
        match self {
            Payload::Json { json, attachments } => {
                let rest = after_first_string(json.as_str())?;
                let mut out = String::with_capacity(rest.len() + 1);
                out.push('[');
                out.push_str(rest);
                Some(Payload::Json {
                    json: RawJson::trusted(ByteString::from(out)),
                    attachments: attachments.clone(),
                })
            }
            #[cfg(feature = "msgpack")]
            Payload::MsgPack(raw) => raw.without_name().map(Payload::MsgPack),
        }
    }
}

/// What follows the first element, a string, of the JSON array `text`, and its comma:
/// `["a",1]` → `1]`, `["a"]` → `]`.
fn after_first_string(text: &str) -> Option<&str> {
    const WS: [char; 4] = [' ', '\t', '\n', '\r'];
    let inner = text.trim_start_matches(WS).strip_prefix('[')?.trim_start_matches(WS);
    let string = inner.strip_prefix('"')?;
    let bytes = string.as_bytes();
    let mut i = 0;
    let end = loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => break i + 1,
            _ => i += 1,
        }
    };
    let after = string.get(end..)?.trim_start_matches(WS);
    match after.as_bytes().first()? {
        b',' => Some(&after[1..]),
        b']' => Some(after),
        _ => None,
    }
}

/// The default namespace.
pub const MAIN_NAMESPACE: &str = "/";

/// One Socket.IO packet.
///
/// Decoded by a [`Decoder`](crate::Decoder), which also gathers the binary attachments a packet
/// announces; encoded with [`encode`](Self::encode), its attachments sent after it:
///
/// ```
/// use socketio_parser::{ByteString, Decoded, Decoder, DecoderConfig, Packet, PacketType};
///
/// let mut decoder = Decoder::new(DecoderConfig::default());
/// let Decoded::Complete(packet) = decoder.decode_text(ByteString::from_static(r#"2/chat,7["say","hi"]"#))? else {
///     unreachable!("no attachments announced")
/// };
/// assert_eq!((packet.kind, &*packet.nsp, packet.id), (PacketType::Event, "/chat", Some(7)));
/// assert_eq!(packet.encode_to_string(), r#"2/chat,7["say","hi"]"#);
/// # Ok::<(), socketio_parser::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `/` by default.
    pub nsp: ByteString,
    /// The ack id: set on an event that expects an answer and on the answer.
    pub id: Option<u64>,
    /// The payload, if any.
    pub data: Option<Payload>,
}

/// The default nesting limit for JSON payloads, equal to `serde_json`'s, so that any payload the
/// decoder accepts can be deserialised.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// The default limit on binary attachments per packet, as in the reference decoder.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// The default for [`DecoderConfig::max_binary_packet_size`](crate::DecoderConfig): Engine.IO's
/// default `maxPayload`, 1 000 000 bytes.
pub const DEFAULT_MAX_BINARY_PACKET_SIZE: usize = 1_000_000;

pub(crate) const MAIN: ByteString = ByteString::from_static(MAIN_NAMESPACE);

impl Packet {
    /// `CONNECT` to `nsp`, with an optional payload (client auth, or the server's `{sid}`).
    pub fn connect(nsp: impl Into<ByteString>, data: Option<RawJson>) -> Self {
        Packet { kind: PacketType::Connect, nsp: nsp.into(), id: None, data: data.map(Payload::json) }
    }

    /// `DISCONNECT` from `nsp`.
    pub fn disconnect(nsp: impl Into<ByteString>) -> Self {
        Packet { kind: PacketType::Disconnect, nsp: nsp.into(), id: None, data: None }
    }

    /// `CONNECT_ERROR` (v4: `ERROR`) for `nsp`.
    pub fn connect_error(nsp: impl Into<ByteString>, data: RawJson) -> Self {
        Packet { kind: PacketType::ConnectError, nsp: nsp.into(), id: None, data: Some(Payload::json(data)) }
    }

    /// An event: `args` is the JSON array `[name, ...args]` with placeholders for
    /// `attachments`. The type is `BINARY_EVENT` when there are attachments.
    pub fn event(
        nsp: impl Into<ByteString>,
        args: RawJson,
        attachments: Vec<Bytes>,
        id: Option<u64>,
    ) -> Self {
        Packet::with_payload(PacketType::Event, nsp.into(), Payload::Json { json: args, attachments }, id)
    }

    /// An ack for `id`: `args` is the JSON array of answers with placeholders for
    /// `attachments`. The type is `BINARY_ACK` when there are attachments.
    pub fn ack(nsp: impl Into<ByteString>, id: u64, args: RawJson, attachments: Vec<Bytes>) -> Self {
        Packet::with_payload(PacketType::Ack, nsp.into(), Payload::Json { json: args, attachments }, Some(id))
    }

    /// An event (`kind` [`PacketType::Event`]) or an ack ([`PacketType::Ack`]) carrying `data`:
    /// the packet type is the binary one when a JSON payload has attachments. The one place the
    /// packet type of outgoing data is decided.
    pub fn with_payload(kind: PacketType, nsp: ByteString, data: Payload, id: Option<u64>) -> Self {
        Packet { kind: kind.carrying(&data), nsp, id, data: Some(data) }
    }

    /// The JSON payload's text, if the payload is JSON.
    pub fn json(&self) -> Option<&RawJson> {
        match &self.data {
            Some(Payload::Json { json, .. }) => Some(json),
            _ => None,
        }
    }

    /// The binary attachments of a JSON payload.
    pub fn attachments(&self) -> &[Bytes] {
        match &self.data {
            Some(Payload::Json { attachments, .. }) => attachments,
            _ => &[],
        }
    }

    /// For the v4 protocol (Socket.IO 2 clients), whose `CONNECT` namespace may carry a query
    /// string (`0/admin?token=abc,`): the namespace and the query string without its `?`.
    pub fn namespace_and_query(&self) -> (&str, Option<&str>) {
        match self.nsp.split_once('?') {
            Some((nsp, query)) => (nsp, Some(query)),
            None => (&self.nsp, None),
        }
    }

    /// Whether the text encoding names the namespace: it is left out for `/` (and, as the
    /// reference encoder does, for an empty one).
    fn has_namespace(&self) -> bool {
        !self.nsp.is_empty() && &*self.nsp != MAIN_NAMESPACE
    }

    /// The length in bytes of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        let mut n = 1;
        if self.kind.is_binary() {
            n += decimal_len(self.attachments().len() as u64) + 1;
        }
        if self.has_namespace() {
            n += self.nsp.len() + 1;
        }
        if let Some(id) = self.id {
            n += decimal_len(id);
        }
        if let Some(json) = self.json() {
            n += json.as_str().len();
        }
        n
    }

    /// Writes the packet's text part. Attachments are not written: each one is sent after it as a
    /// separate binary Engine.IO message, in order.
    ///
    /// A msgpack payload cannot be written in the text encoding and is left out; use
    /// `msgpack::encode` (feature `msgpack`) for packets of the msgpack parser.
    pub fn encode(&self, buf: &mut impl BufMut) {
        buf.put_u8(b'0' + self.kind as u8);
        if self.kind.is_binary() {
            put_decimal(self.attachments().len() as u64, buf);
            buf.put_u8(b'-');
        }
        if self.has_namespace() {
            buf.put_slice(self.nsp.as_bytes());
            buf.put_u8(b',');
        }
        if let Some(id) = self.id {
            put_decimal(id, buf);
        }
        if let Some(json) = self.json() {
            buf.put_slice(json.as_str().as_bytes());
        }
    }

    /// Writes the Engine.IO `message` packet that carries the packet's text part: `4`, then
    /// what [`encode`](Self::encode) writes. This is the payload of the WebSocket text frame that
    /// carries the packet (Engine.IO v3 and v4), written in one pass into the caller's buffer,
    /// such as a connection's write buffer. Its length is `1 +`
    /// [`encoded_len`](Self::encoded_len).
    pub fn encode_message(&self, buf: &mut impl BufMut) {
        buf.put_u8(b'4');
        self.encode(buf);
    }

    /// Appends the packet's text part to `out`; see [`encode`](Self::encode).
    pub fn encode_into(&self, out: &mut String) {
        out.push(char::from(b'0' + self.kind as u8));
        if self.kind.is_binary() {
            push_decimal(self.attachments().len() as u64, out);
            out.push('-');
        }
        if self.has_namespace() {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            push_decimal(id, out);
        }
        if let Some(json) = self.json() {
            out.push_str(json.as_str());
        }
    }

    /// The packet's text part as a string; see [`encode`](Self::encode).
    pub fn encode_to_string(&self) -> ByteString {
        let mut out = String::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        ByteString::from(out)
    }
}

/// What [`decode_header`] read before the attachments arrive.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) packet: Packet,
    pub(crate) attachments: usize,
}

/// Decodes a packet's text part. For binary types the returned packet's payload has no
/// attachments yet; `attachments` says how many must follow.
#[inline(always)]
pub(crate) fn decode_header(
    text: ByteString,
    max_attachments: usize,
    max_depth: usize,
) -> Result<Header, DecodeError> {
    let b = text.as_bytes();
    let Some(&first) = b.first() else {
        return Err(DecodeError::Empty);
    };
    let kind =
        first.checked_sub(b'0').and_then(PacketType::from_u8).ok_or(DecodeError::UnknownType(first))?;
    let mut i = 1;

    let mut attachments = 0usize;
    if kind.is_binary() {
        let digits = b[i..].iter().take(MAX_ATTACHMENT_DIGITS + 1).take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > MAX_ATTACHMENT_DIGITS || b.get(i + digits) != Some(&b'-') {
            return Err(DecodeError::InvalidAttachments);
        }
        // At most ten digits: the count fits a `u64` on every target.
        let count = b[i..i + digits].iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if count == 0 {
            return Err(DecodeError::InvalidAttachments);
        }
        attachments = match usize::try_from(count) {
            Ok(n) if n <= max_attachments => n,
            _ => {
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                return Err(DecodeError::TooManyAttachments { count, max: max_attachments });
            }
        };
        i += digits + 1;
    }

    let nsp = if b.get(i) == Some(&b'/') {
        let start = i;
        let end = b[i..].iter().position(|&c| c == b',').map_or(b.len(), |p| i + p);
        i = (end + 1).min(b.len());
        text.slice_ref(&text[start..end])
    } else {
        MAIN
    };

    let mut id = None;
    if b.get(i).is_some_and(u8::is_ascii_digit) {
        let digits = b[i..].iter().take(MAX_ACK_ID_DIGITS + 1).take_while(|c| c.is_ascii_digit()).count();
        if digits > MAX_ACK_ID_DIGITS {
            return Err(DecodeError::InvalidAckId);
        }
        let n = b[i..i + digits]
            .iter()
            .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .ok_or(DecodeError::InvalidAckId)?;
        id = Some(n);
        i += digits;
    }

    let data = if i < b.len() {
        let body = &b[i..];
        let scan = json::scan(body, max_depth, kind.is_binary()).map_err(DecodeError::from_json)?;
        check_payload(kind, &scan, body)?;
        if kind.is_binary() {
            if let Some(max) = scan.max_num {
                if max >= attachments as u64 {
                    return Err(DecodeError::InvalidPlaceholder);
                }
            }
        }
        let json = if b.len() <= SHORT_TEXT && body.is_ascii() {
            // The rest is ASCII: the check cannot fail.
            let mut rest = text.into_bytes();
            rest.advance(i);
            match ByteString::try_from(rest) {
                Ok(json) => json,
                Err(_) => return Err(DecodeError::InvalidJson(0)),
            }
        } else {
            text.slice_ref(&text[i..])
        };
        Some(Payload::json(RawJson::trusted(json)))
    } else {
        check_missing_payload(kind)?;
        None
    };
    Ok(Header { packet: Packet { kind, nsp, id, data }, attachments })
}

/// Up to this length, an ASCII payload is taken by moving the message's buffer forward and
/// checking the rest again as UTF-8 (quick for ASCII), which costs less than sharing the buffer
/// (an atomic reference count increment, and a decrement when the message is dropped). Longer
/// payloads, and payloads with other characters (slower to check), are shared.
const SHORT_TEXT: usize = 192;

/// Ack ids are `u64`; a run of digits longer than `u64::MAX` has is refused before any
/// arithmetic.
const MAX_ACK_ID_DIGITS: usize = 20;

/// The attachment count is bounded by the configured maximum long before this many digits.
const MAX_ATTACHMENT_DIGITS: usize = 10;

/// The reserved event names: a client event with one of these names is refused, as the
/// reference decoder refuses it.
pub const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

fn check_payload(kind: PacketType, scan: &json::Scan, body: &[u8]) -> Result<(), DecodeError> {
    let top = scan.top;
    match kind {
        PacketType::Connect if top != Some(JsonKind::Object) => Err(DecodeError::InvalidConnectPayload),
        PacketType::Disconnect => Err(DecodeError::UnexpectedDisconnectPayload),
        PacketType::ConnectError if !matches!(top, Some(JsonKind::String | JsonKind::Object)) => {
            Err(DecodeError::InvalidConnectErrorPayload)
        }
        PacketType::Event | PacketType::BinaryEvent => {
            if top != Some(JsonKind::Array) {
                return Err(DecodeError::InvalidEventPayload);
            }
            match &scan.first {
                Some((JsonKind::Number, _)) => Ok(()),
                Some((JsonKind::String, range)) => {
                    let raw = &body[range.clone()];
                    let reserved = if scan.first_escaped {
                        json::unescape(raw).is_some_and(|name| RESERVED_EVENTS.contains(&name.as_str()))
                    } else {
                        RESERVED_EVENTS.iter().any(|r| r.as_bytes() == raw)
                    };
                    if reserved {
                        Err(DecodeError::ReservedEventName)
                    } else {
                        Ok(())
                    }
                }
                _ => Err(DecodeError::InvalidEventName),
            }
        }
        PacketType::Ack | PacketType::BinaryAck if top != Some(JsonKind::Array) => {
            Err(DecodeError::InvalidAckPayload)
        }
        _ => Ok(()),
    }
}

fn check_missing_payload(kind: PacketType) -> Result<(), DecodeError> {
    match kind {
        PacketType::Connect | PacketType::Disconnect | PacketType::Ack => Ok(()),
        PacketType::Event | PacketType::BinaryEvent => Err(DecodeError::InvalidEventPayload),
        PacketType::ConnectError => Err(DecodeError::InvalidConnectErrorPayload),
        PacketType::BinaryAck => Err(DecodeError::InvalidAckPayload),
    }
}

pub(crate) fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

pub(crate) fn put_decimal(n: u64, buf: &mut impl BufMut) {
    let mut tmp = [0u8; 20];
    buf.put_slice(format_decimal(n, &mut tmp));
}

fn push_decimal(n: u64, out: &mut String) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
    } else {
        let mut tmp = [0u8; 20];
        out.extend(format_decimal(n, &mut tmp).iter().map(|&d| char::from(d)));
    }
}

/// `n`'s decimal digits, written at the start of `tmp`.
fn format_decimal(n: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let len = decimal_len(n);
    let mut m = n;
    for slot in tmp[..len].iter_mut().rev() {
        *slot = b'0' + (m % 10) as u8;
        m /= 10;
    }
    &tmp[..len]
}
