//! Engine.IO packets and their single-frame encodings (WebSocket frames and the text form used
//! inside long-polling payloads).

use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes};
use bytestring::ByteString;

use crate::{DecodeError, ProtocolVersion};

/// The seven Engine.IO packet types. The discriminant is the type's wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the handshake, sent by the server as the first packet of a session.
    Open = 0,
    /// `1`: closes the session (sent by either side over polling).
    Close = 1,
    /// `2`: heartbeat; sent by the server in v4, by the client in v3, and as `2probe` by a
    /// client probing a WebSocket during an upgrade.
    Ping = 2,
    /// `3`: heartbeat answer; `3probe` answers the upgrade probe.
    Pong = 3,
    /// `4`: application data, text or binary.
    Message = 4,
    /// `5`: completes a transport upgrade.
    Upgrade = 5,
    /// `6`: no operation, used to release a pending long-polling request.
    Noop = 6,
}

impl PacketType {
    /// All packet types in wire order.
    pub const ALL: [PacketType; 7] = [
        PacketType::Open,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
        PacketType::Message,
        PacketType::Upgrade,
        PacketType::Noop,
    ];

    /// The packet type whose wire digit is `digit` (`0`..=`6`), as a number, not a character.
    #[inline]
    pub fn from_u8(digit: u8) -> Option<Self> {
        Self::ALL.get(usize::from(digit)).copied()
    }

    /// The ASCII character that starts a text packet of this type.
    #[inline]
    pub fn as_char(self) -> u8 {
        b'0' + self as u8
    }

    /// The reference implementation's name for this type (`"open"`, `"message"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Open => "open",
            PacketType::Close => "close",
            PacketType::Ping => "ping",
            PacketType::Pong => "pong",
            PacketType::Message => "message",
            PacketType::Upgrade => "upgrade",
            PacketType::Noop => "noop",
        }
    }
}

/// The data a packet carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// UTF-8 text; empty when the packet carries nothing.
    Text(ByteString),
    /// Raw bytes. In protocol v4 only `message` packets are binary.
    Binary(Bytes),
}

impl Data {
    /// Whether there is no data at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Data::Text(t) => t.is_empty(),
            Data::Binary(b) => b.is_empty(),
        }
    }
}

/// One Engine.IO packet.
///
/// Decoding never copies the data: text and binary data are slices of the frame or payload they
/// came from.
///
/// ```
/// use engineio_parser::{ByteString, Data, Packet, PacketType, ProtocolVersion};
///
/// let packet = Packet::decode_text(ByteString::from_static("4hello"), ProtocolVersion::V4)?;
/// assert_eq!(packet.kind, PacketType::Message);
/// assert_eq!(packet.data, Data::Text(ByteString::from_static("hello")));
/// // The `probe` ping of a transport upgrade.
/// let ping = Packet::text(PacketType::Ping, "probe");
/// assert_eq!(ping.encode_text_to_string(ProtocolVersion::V4), "2probe");
/// # Ok::<(), engineio_parser::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The packet's data.
    pub data: Data,
}

/// The kind of WebSocket frame an encoded packet must be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A text frame (the encoded bytes are UTF-8).
    Text,
    /// A binary frame.
    Binary,
}

/// A WebSocket frame's payload, as the transport delivers it or as it is to be written.
///
/// The two `Prefixed` forms are what [`Packet::to_frame`] gives for a packet whose frame is its
/// type byte followed by its data: the data stays the shared bytes it was (a broadcast's
/// recipients all hold the same), and a writer sends the prefix with the frame header. Frames
/// compare (and hash) by kind and payload bytes, whatever their form.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A text frame.
    Text(ByteString),
    /// A binary frame.
    Binary(Bytes),
    /// A text frame whose payload is the ASCII byte `prefix` (a packet type digit) followed by
    /// `text`.
    PrefixedText(u8, ByteString),
    /// A binary frame whose payload is `prefix` (protocol v3's packet type byte) followed by
    /// `data`.
    PrefixedBinary(u8, Bytes),
}

impl Frame {
    /// Whether it is a text or a binary frame.
    pub fn kind(&self) -> FrameKind {
        match self {
            Frame::Text(_) | Frame::PrefixedText(..) => FrameKind::Text,
            Frame::Binary(_) | Frame::PrefixedBinary(..) => FrameKind::Binary,
        }
    }

    /// The payload's first byte when it is held apart from the rest.
    pub fn prefix(&self) -> Option<u8> {
        match self {
            Frame::PrefixedText(p, _) | Frame::PrefixedBinary(p, _) => Some(*p),
            Frame::Text(_) | Frame::Binary(_) => None,
        }
    }

    /// The payload after [`prefix`](Self::prefix) (all of it when there is none), as shared
    /// bytes.
    pub fn body(&self) -> Bytes {
        match self {
            Frame::Text(t) | Frame::PrefixedText(_, t) => t.as_bytes().clone(),
            Frame::Binary(b) | Frame::PrefixedBinary(_, b) => b.clone(),
        }
    }

    /// The payload's length in bytes, prefix included.
    pub fn len(&self) -> usize {
        self.prefix().map_or(0, |_| 1) + self.body_slice().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole payload in one piece: the frame's own bytes, or a copy joining prefix and body.
    pub fn payload(&self) -> Bytes {
        match self.prefix() {
            None => self.body(),
            Some(p) => {
                let body = self.body_slice();
                let mut joined = Vec::with_capacity(1 + body.len());
                joined.push(p);
                joined.extend_from_slice(body);
                Bytes::from(joined)
            }
        }
    }

    /// The same frame as `Text` or `Binary`, its payload in one piece.
    pub fn joined(self) -> Frame {
        match self {
            Frame::PrefixedText(..) => {
                // A text frame's prefix is an ASCII type digit: joined, the text stays UTF-8.
                match ByteString::try_from(self.payload()) {
                    Ok(text) => Frame::Text(text),
                    Err(_) => Frame::Binary(self.payload()),
                }
            }
            Frame::PrefixedBinary(..) => Frame::Binary(self.payload()),
            plain => plain,
        }
    }

    fn body_slice(&self) -> &[u8] {
        match self {
            Frame::Text(t) | Frame::PrefixedText(_, t) => t.as_bytes(),
            Frame::Binary(b) | Frame::PrefixedBinary(_, b) => b,
        }
    }
}

impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        self.kind() == other.kind()
            && match (self.prefix(), other.prefix()) {
                (None, None) => self.body_slice() == other.body_slice(),
                (Some(a), Some(b)) => a == b && self.body_slice() == other.body_slice(),
                (Some(p), None) => other.body_slice().split_first() == Some((&p, self.body_slice())),
                (None, Some(p)) => self.body_slice().split_first() == Some((&p, other.body_slice())),
            }
    }
}

impl Eq for Frame {}

impl std::hash::Hash for Frame {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind().hash(state);
        state.write_usize(self.len());
        if let Some(p) = self.prefix() {
            state.write_u8(p);
        }
        state.write(self.body_slice());
    }
}

/// The base64 engine used for `b`-prefixed packets: the standard alphabet, padding optional when
/// decoding (as Node's `Buffer.from(s, "base64")` accepts), always written when encoding.
pub(crate) const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const EMPTY: ByteString = ByteString::from_static("");

/// Up to this length, an ASCII text after a packet's type is taken by moving the frame's buffer
/// forward and checking it again as UTF-8 (quick for ASCII), which costs less than sharing the
/// buffer (an atomic reference count increment, and a decrement when the frame is dropped).
/// Longer texts, and texts with other characters (slower to check), are shared.
const SHORT_TEXT: usize = 192;

impl Packet {
    /// A packet of `kind` with no data.
    pub const fn new(kind: PacketType) -> Self {
        Packet { kind, data: Data::Text(EMPTY) }
    }

    /// A packet of `kind` carrying `text`.
    pub fn text(kind: PacketType, text: impl Into<ByteString>) -> Self {
        Packet { kind, data: Data::Text(text.into()) }
    }

    /// A text `message` packet.
    pub fn message(text: impl Into<ByteString>) -> Self {
        Self::text(PacketType::Message, text)
    }

    /// A binary `message` packet.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Packet { kind: PacketType::Message, data: Data::Binary(data.into()) }
    }

    /// A `message` packet carrying `data`, text or binary: what to send to echo a message as it
    /// came.
    pub fn message_data(data: Data) -> Self {
        Packet { kind: PacketType::Message, data }
    }

    /// Whether the packet carries binary data.
    pub fn is_binary(&self) -> bool {
        matches!(self.data, Data::Binary(_))
    }

    /// Decodes a packet in its text form: a WebSocket text frame, or one entry of a polling
    /// payload. `<type digit><text>`, or `b<base64>` for binary data (`b<type digit><base64>` in
    /// protocol v3).
    pub fn decode_text(text: ByteString, version: ProtocolVersion) -> Result<Packet, DecodeError> {
        let bytes = text.as_bytes();
        let Some(&first) = bytes.first() else {
            return Err(DecodeError::Empty);
        };
        if first == b'b' {
            let (kind, b64) = match version {
                ProtocolVersion::V4 => (PacketType::Message, &text[1..]),
                ProtocolVersion::V3 => {
                    let kind = bytes
                        .get(1)
                        .and_then(|c| c.checked_sub(b'0'))
                        .and_then(PacketType::from_u8)
                        .ok_or(DecodeError::UnknownType(bytes.get(1).copied().unwrap_or(b'b')))?;
                    (kind, &text[2..])
                }
            };
            let data = decode_base64(b64.as_bytes())?;
            return Ok(Packet { kind, data: Data::Binary(Bytes::from(data)) });
        }
        let kind =
            first.checked_sub(b'0').and_then(PacketType::from_u8).ok_or(DecodeError::UnknownType(first))?;
        let data = match bytes.len() {
            1 => EMPTY,
            // What follows the ASCII type digit is valid UTF-8, so the check cannot fail.
            len if len <= SHORT_TEXT && bytes[1..].is_ascii() => {
                return text_after_type(kind, text.into_bytes())
            }
            _ => text.slice_ref(&text[1..]),
        };
        Ok(Packet { kind, data: Data::Text(data) })
    }

    /// Decodes the text form of a packet from raw bytes that still have to be checked as UTF-8:
    /// one entry of a polling payload. The data is taken from `chunk` without a copy.
    pub(crate) fn decode_text_bytes(chunk: Bytes, version: ProtocolVersion) -> Result<Packet, DecodeError> {
        let Some(&first) = chunk.first() else {
            return Err(DecodeError::Empty);
        };
        if first == b'b' {
            if version == ProtocolVersion::V4 {
                if let Ok(data) = decode_base64(&chunk[1..]) {
                    return Ok(Packet { kind: PacketType::Message, data: Data::Binary(Bytes::from(data)) });
                }
            }
            // Failures (and v3) take the general path, which checks UTF-8 first.
            let text = ByteString::try_from(chunk).map_err(|_| DecodeError::InvalidUtf8)?;
            return Self::decode_text(text, version);
        }
        let Some(kind) = first.checked_sub(b'0').and_then(PacketType::from_u8) else {
            return Err(match std::str::from_utf8(&chunk) {
                Ok(_) => DecodeError::UnknownType(first),
                Err(_) => DecodeError::InvalidUtf8,
            });
        };
        if chunk.len() == 1 {
            return Ok(Packet::new(kind));
        }
        text_after_type(kind, chunk)
    }

    /// Decodes a WebSocket binary frame: the raw data of a `message` in v4; a type byte
    /// followed by the data in v3.
    pub fn decode_binary(bytes: Bytes, version: ProtocolVersion) -> Result<Packet, DecodeError> {
        match version {
            ProtocolVersion::V4 => Ok(Packet::binary(bytes)),
            ProtocolVersion::V3 => {
                let Some(&first) = bytes.first() else {
                    return Err(DecodeError::Empty);
                };
                let kind = PacketType::from_u8(first).ok_or(DecodeError::UnknownType(first))?;
                let mut data = bytes;
                data.advance(1);
                Ok(Packet { kind, data: Data::Binary(data) })
            }
        }
    }

    /// Decodes a WebSocket frame.
    pub fn decode_frame(frame: Frame, version: ProtocolVersion) -> Result<Packet, DecodeError> {
        match frame.joined() {
            Frame::Text(text) => Self::decode_text(text, version),
            binary => Self::decode_binary(binary.payload(), version),
        }
    }

    /// The length in bytes of [`encode_text`](Self::encode_text)'s output.
    pub fn text_len(&self, version: ProtocolVersion) -> usize {
        match &self.data {
            Data::Text(t) => 1 + t.len(),
            Data::Binary(b) => binary_prefix(version).len() + base64_len(b.len()),
        }
    }

    /// Writes the packet's text form: `<type digit><text>`; binary data as `b<base64>` (v4) or
    /// `b<type digit><base64>` (v3). This is the form used inside polling payloads and for
    /// clients that asked for base64 (`b64=1`).
    pub fn encode_text(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        match &self.data {
            Data::Text(t) => {
                buf.put_u8(self.kind.as_char());
                buf.put_slice(t.as_bytes());
            }
            Data::Binary(b) => {
                match version {
                    ProtocolVersion::V4 => buf.put_u8(b'b'),
                    ProtocolVersion::V3 => buf.put_slice(&[b'b', self.kind.as_char()]),
                }
                put_base64(b, buf);
            }
        }
    }

    /// Writes the packet as one WebSocket frame and says which kind of frame it must be sent in.
    ///
    /// Text data goes in a text frame. Binary data goes in a binary frame (raw in v4, after a
    /// type byte in v3), or, when `base64` is set (the client's `b64=1`), in a text frame as
    /// [`encode_text`](Self::encode_text) writes it. In v4 a binary frame cannot say its packet
    /// type: binary data of a non-`message` packet is received as a `message`.
    pub fn encode_frame(&self, version: ProtocolVersion, base64: bool, buf: &mut impl BufMut) -> FrameKind {
        match &self.data {
            Data::Binary(b) if !base64 => {
                if version == ProtocolVersion::V3 {
                    buf.put_u8(self.kind as u8);
                }
                buf.put_slice(b);
                FrameKind::Binary
            }
            _ => {
                self.encode_text(version, buf);
                FrameKind::Text
            }
        }
    }

    /// The packet as a WebSocket frame, without copying its data: a text packet is its type
    /// digit and its shared text ([`Frame::PrefixedText`]), a v4 binary `message` its bytes, a
    /// v3 binary packet its type byte and its bytes. Only the `b<base64>` form (`base64`, the
    /// `b64` query parameter) builds a new string.
    pub fn to_frame(&self, version: ProtocolVersion, base64: bool) -> Frame {
        match (&self.data, version, base64) {
            (Data::Binary(b), ProtocolVersion::V4, false) => Frame::Binary(b.clone()),
            (Data::Binary(b), ProtocolVersion::V3, false) => {
                Frame::PrefixedBinary(self.kind as u8, b.clone())
            }
            (Data::Text(t), _, _) => Frame::PrefixedText(self.kind.as_char(), t.clone()),
            (Data::Binary(_), _, true) => Frame::Text(self.encode_text_to_string(version)),
        }
    }

    /// The packet's text form (see [`encode_text`](Self::encode_text)) in a string of its own.
    pub fn encode_text_to_string(&self, version: ProtocolVersion) -> ByteString {
        let mut out = String::with_capacity(self.text_len(version));
        self.encode_text_into(version, &mut out);
        ByteString::from(out)
    }

    /// Appends the packet's text form (see [`encode_text`](Self::encode_text)) to `out`.
    pub fn encode_text_into(&self, version: ProtocolVersion, out: &mut String) {
        match &self.data {
            Data::Text(t) => {
                out.push(char::from(self.kind.as_char()));
                out.push_str(t);
            }
            Data::Binary(b) => {
                out.push('b');
                if version == ProtocolVersion::V3 {
                    out.push(char::from(self.kind.as_char()));
                }
                BASE64.encode_string(b, out);
            }
        }
    }
}

/// A text packet of `kind` whose text follows the type digit in `bytes`, taken from them. The
/// packet is built here, in the caller's result, rather than moved there.
fn text_after_type(kind: PacketType, mut bytes: Bytes) -> Result<Packet, DecodeError> {
    bytes.advance(1);
    match ByteString::try_from(bytes) {
        Ok(text) => Ok(Packet { kind, data: Data::Text(text) }),
        Err(_) => Err(DecodeError::InvalidUtf8),
    }
}

fn binary_prefix(version: ProtocolVersion) -> &'static [u8] {
    match version {
        ProtocolVersion::V4 => b"b",
        ProtocolVersion::V3 => b"b4",
    }
}

/// Decodes `b<base64>` data. Like Node's `Buffer.from(s, "base64")`, a lone character after
/// the last full group (which cannot encode a byte) is dropped rather than refused.
pub(crate) fn decode_base64(b64: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let unpadded = b64.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
    let b64 = if unpadded % 4 == 1 { &b64[..unpadded - 1] } else { b64 };
    BASE64.decode(b64).map_err(|_| DecodeError::InvalidBase64)
}

/// The length of the padded base64 encoding of `n` bytes.
pub(crate) const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Writes the padded base64 encoding of `data` into `buf` without an intermediate `String` for
/// small inputs, and in bounded chunks for large ones. Kept out of line: its 4 KiB stack buffer
/// would otherwise be reserved by every caller, text packets included.
#[inline(never)]
pub(crate) fn put_base64(data: &[u8], buf: &mut impl BufMut) {
    // 3 KiB of input → 4 KiB of output per chunk; chunk sizes are multiples of 3 so that only
    // the last chunk is padded.
    let mut out = [0u8; 4096];
    for chunk in data.chunks(3072) {
        let n = BASE64.encode_slice(chunk, &mut out).unwrap_or(0);
        buf.put_slice(&out[..n]);
    }
}
