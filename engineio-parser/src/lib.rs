//! A sans-IO codec for the Engine.IO protocol, revisions 4 (`EIO=4`, Engine.IO 4+ and
//! Socket.IO 3+) and 3 (`EIO=3`, Socket.IO 2 clients).
//!
//! This crate turns bytes into [`Packet`]s and back:
//!
//! * [`Packet::decode_text`] / [`Packet::decode_binary`] / [`Packet::encode_frame`] for one
//!   WebSocket frame;
//! * [`decode_payload`] / [`encode_payload`] for an HTTP long-polling body (several packets).
//!
//! # What it does not do
//!
//! It performs no I/O, reads no clock, spawns nothing and depends on no async runtime, HTTP or
//! WebSocket crate: the server crates move the bytes. Decoding never copies packet data (text and
//! binary data are slices of the input [`Bytes`]); encoding writes into any [`bytes::BufMut`]
//! the caller owns. Every size limit is a parameter.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use engineio_parser::{decode_payload, encode_payload, Packet, PayloadFormat};
//!
//! // A v4 polling POST body with two packets.
//! let body = Bytes::from_static(b"4hello\x1ebAQIDBA==");
//! let packets: Vec<Packet> = decode_payload(body, PayloadFormat::V4, 1_000_000)?
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(packets, [Packet::message("hello"), Packet::binary(&[1u8, 2, 3, 4][..])]);
//!
//! // And the same packets as a v3 (length-prefixed) response body.
//! let mut out = Vec::new();
//! encode_payload(&packets, PayloadFormat::V3Text, &mut out);
//! assert_eq!(out, b"6:4hello10:b4AQIDBA==");
//! # Ok::<(), engineio_parser::DecodeError>(())
//! ```

pub mod endpoint;
pub mod packet;
pub mod payload;
pub mod queue;
pub mod session;
pub mod ws;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use endpoint::{
    route, EndpointConfig, ErrorCode, Method, Query, RequestError, RequestInfo, Route, Transport,
};
pub use packet::{Data, Frame, FrameKind, Packet, PacketType};
pub use payload::{decode_payload, encode_payload, payload_len, utf16_len, Packets, PayloadFormat};
pub use queue::Queue;
pub use session::{
    CloseReason, Event, Initial, RequestId, RequestKind, Response, Session, SessionConfig, SocketId, Transmit,
};

/// The Engine.IO protocol revision a session speaks (its `EIO` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// Revision 3 (`EIO=3`): client pings, length-prefixed polling payloads, binary WebSocket
    /// frames that start with a type byte.
    V3 = 3,
    /// Revision 4 (`EIO=4`): server pings, `\x1e`-separated payloads, raw binary frames.
    V4 = 4,
}

impl ProtocolVersion {
    /// The version a request's `EIO` query value selects, as the reference server reads it:
    /// exactly `"4"` is v4 and anything else (missing, `"3"`, `"5"`, garbage) is v3.
    pub fn from_query(eio: Option<&str>) -> Self {
        if eio == Some("4") {
            ProtocolVersion::V4
        } else {
            ProtocolVersion::V3
        }
    }
}

/// Why bytes could not be decoded. Every variant is the peer's fault; the reference answers all
/// of them by closing the session with the reason `parse error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A packet (or a body) was empty: every packet starts with its type.
    #[error("empty packet")]
    Empty,
    /// The first character was not a packet type `0`..`6` (or `b` for base64 binary).
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// A `b`-prefixed packet did not hold valid base64.
    #[error("invalid base64 data")]
    InvalidBase64,
    /// A text packet or payload entry was not valid UTF-8.
    #[error("invalid UTF-8 in a text packet")]
    InvalidUtf8,
    /// A body exceeded the configured `max_payload`.
    #[error("payload of {len} bytes exceeds the limit of {max} bytes")]
    PayloadTooLarge {
        /// The body's length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A v3 length prefix was missing, not decimal, too long, or not followed by its
    /// terminator (`:` in text payloads, `0xFF` in binary ones).
    #[error("invalid length prefix in a v3 payload")]
    InvalidLength,
    /// A v3 length prefix claimed more data than the body holds, or ended inside a character.
    #[error("v3 payload length does not match its data")]
    LengthMismatch,
}
