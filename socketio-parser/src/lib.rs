//! A sans-IO codec for the Socket.IO protocol, revision 5 (Socket.IO 3+ clients over Engine.IO
//! v4) and revision 4 (Socket.IO 2 clients over Engine.IO v3).
//!
//! * [`Packet`] is one Socket.IO packet: type, namespace, ack id and a [`Payload`] that stays the
//!   raw, validated JSON text it arrived as ([`RawJson`]), with its binary attachments.
//! * [`Decoder`] turns the Engine.IO messages of one connection into packets, collecting the
//!   attachments of binary packets: it answers [`Decoded::Complete`] or
//!   [`Decoded::NeedsAttachments`], never an error for "not yet".
//! * [`Packet::encode`] writes a packet's text part into any [`bytes::BufMut`], such as a
//!   connection's write buffer ([`Packet::encode_message`] with the Engine.IO `message` type in
//!   front, as a WebSocket text frame carries it; [`Packet::encode_into`] into a `String`);
//!   [`to_payload`] turns a serialisable value with binary data into JSON with placeholders and
//!   attachments.
//! * With the `msgpack` feature, the `msgpack` module speaks the `socket.io-msgpack-parser` format.
//!
//! The decoder applies the reference decoder's validation (socket.io-parser 4.2.7): reserved
//! event names, event names that are strings or numbers, object `CONNECT` payloads, no
//! `DISCONNECT` payload, placeholder numbers within the attachments, an attachment count between
//! 1 and a limit, bounded ack ids and nesting. Revisions 4 and 5 share the encoding; revision 4's
//! differences (the `ERROR` packet, a query string in the `CONNECT` namespace, see
//! [`Packet::namespace_and_query`]) are a matter of what the server sends and reads.
//!
//! # What it does not do
//!
//! No I/O, no clock, no async runtime, no HTTP or WebSocket crate. Decoding keeps payloads as
//! raw, validated text or msgpack; they are turned into application types only when asked, with
//! [`from_payload`] / [`from_args`] (binary placeholders become bytes) or into an untyped
//! [`Value`] that can hold binary data.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use socketio_parser::{ByteString, Decoded, Decoder, PacketType};
//!
//! let mut decoder = Decoder::default();
//! let header = ByteString::from_static(r#"51-/chat,7["file",{"_placeholder":true,"num":0}]"#);
//! assert_eq!(
//!     decoder.decode_text(header)?,
//!     Decoded::NeedsAttachments { received: 0, expected: 1 }
//! );
//! let Decoded::Complete(packet) = decoder.decode_binary(Bytes::from_static(b"\x01\x02"))? else {
//!     unreachable!("one attachment was announced")
//! };
//! assert_eq!(packet.kind, PacketType::BinaryEvent);
//! assert_eq!(&*packet.nsp, "/chat");
//! assert_eq!(packet.id, Some(7));
//! assert_eq!(packet.attachments(), [Bytes::from_static(b"\x01\x02")]);
//!
//! // Encoding gives back the text part; the attachments are sent after it.
//! assert_eq!(&*packet.encode_to_string(), r#"51-/chat,7["file",{"_placeholder":true,"num":0}]"#);
//! # Ok::<(), socketio_parser::DecodeError>(())
//! ```

pub mod args;
mod binary;
pub mod connection;
mod decoder;
pub mod json;
pub mod outgoing;
mod packet;
mod value;

#[cfg(feature = "msgpack")]
pub mod msgpack;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use args::Spread;
pub use binary::{encode_text_packet, to_payload, write_js_number};
pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use decoder::{Decoded, Decoder, DecoderConfig};
pub use json::JsonKind;
pub use outgoing::{AckIds, EncodedAck, EncodedPacket};
pub use packet::{
    Packet, PacketType, Payload, RawJson, DEFAULT_MAX_ATTACHMENTS, DEFAULT_MAX_BINARY_PACKET_SIZE,
    DEFAULT_MAX_DEPTH, MAIN_NAMESPACE, RESERVED_EVENTS,
};
pub use value::{event_name, first_arg, from_args, from_payload, EventName, PayloadError, Value};

/// Why a Socket.IO packet was refused. Every variant is the peer's fault; the reference server
/// answers all of them by closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message was empty: every packet starts with its type.
    #[error("empty packet")]
    Empty,
    /// The first character was not a packet type `0`..`6`.
    #[error("unknown packet type {0:#04x}")]
    UnknownType(u8),
    /// A binary packet's attachment count was missing, not a decimal integer, zero, or not
    /// followed by `-`.
    #[error("illegal attachments")]
    InvalidAttachments,
    /// A binary packet announced more attachments than the configured limit.
    #[error("too many attachments: {count} (at most {max})")]
    TooManyAttachments {
        /// The announced count.
        count: usize,
        /// The configured limit.
        max: usize,
    },
    /// The ack id did not fit in a `u64`.
    #[error("ack id out of range")]
    InvalidAckId,
    /// The payload was not valid JSON; the byte offset is within the payload.
    #[error("invalid JSON payload at byte {0}")]
    InvalidJson(usize),
    /// The payload nested arrays and objects deeper than the configured limit.
    #[error("payload nested too deeply")]
    TooDeep,
    /// A `CONNECT` payload was not an object.
    #[error("invalid payload: CONNECT takes an object")]
    InvalidConnectPayload,
    /// A `DISCONNECT` carried a payload.
    #[error("invalid payload: DISCONNECT takes none")]
    UnexpectedDisconnectPayload,
    /// A `CONNECT_ERROR` payload was missing or neither a string nor an object.
    #[error("invalid payload: CONNECT_ERROR takes a string or an object")]
    InvalidConnectErrorPayload,
    /// An event payload was missing or not an array.
    #[error("invalid payload: an event is an array")]
    InvalidEventPayload,
    /// An event's first element (its name) was missing or neither a string nor a number.
    #[error("invalid payload: an event name is a string or a number")]
    InvalidEventName,
    /// An event used a reserved name (see [`RESERVED_EVENTS`]).
    #[error("invalid payload: reserved event name")]
    ReservedEventName,
    /// An ack payload was not an array.
    #[error("invalid payload: an ack is an array")]
    InvalidAckPayload,
    /// A placeholder's `num` was missing, not a non-negative integer, or not below the
    /// attachment count.
    #[error("illegal attachments: invalid placeholder")]
    InvalidPlaceholder,
    /// A binary packet's text message and attachments together would hold more bytes than
    /// the configured limit ([`DecoderConfig::max_binary_packet_size`]).
    #[error("binary packet too large: more than {max} bytes with its attachments")]
    BinaryPacketTooLarge {
        /// The configured limit.
        max: usize,
    },
    /// A text message arrived while the attachments of a binary packet were expected.
    #[error("got plaintext data when reconstructing a packet")]
    UnexpectedText,
    /// A binary message arrived while no binary packet was being reconstructed.
    #[error("got binary data when not reconstructing a packet")]
    UnexpectedBinary,
    /// A msgpack packet was malformed (feature `msgpack`).
    #[error("invalid msgpack packet: {0}")]
    MsgPack(&'static str),
}

impl DecodeError {
    fn from_json(e: json::JsonError) -> Self {
        match e {
            json::JsonError::Syntax(at) => DecodeError::InvalidJson(at),
            json::JsonError::TooDeep => DecodeError::TooDeep,
            json::JsonError::Placeholder => DecodeError::InvalidPlaceholder,
        }
    }
}
