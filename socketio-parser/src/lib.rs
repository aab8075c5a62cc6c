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
//! * [`connection::Connection`] is the Socket.IO side of one Engine.IO connection as a
//!   deterministic state machine: namespaces joined and refused, the connect timeout, ack ids
//!   awaited with their deadlines, answers owed to the client (each sent once), connection state
//!   recovery on connect, the rules of Socket.IO 2 clients, and the disconnect reasons. It is
//!   the only place that decides what goes out; [`EncodedPacket`] and [`EncodedAck`] are the
//!   packets the application hands it, encoded once ([`args`] turns values into payloads).
//!
//! # Driving a connection
//!
//! The machine never reads a clock, never blocks and holds no socket. A driver (a task, a
//! thread, an event loop) owns one [`Connection`](connection::Connection) per Engine.IO session
//! and runs this loop:
//!
//! 1. **Create** it when the Engine.IO session opens: [`Connection::new`](connection::Connection::new)
//!    with the protocol revision (v5 for Engine.IO v4 sessions, v4 for Engine.IO v3), the
//!    parser and the current instant; call
//!    [`handle_websocket`](connection::Connection::handle_websocket) if the session is (or
//!    later upgrades to) WebSocket.
//! 2. **Push inputs** as they happen: each Engine.IO message with
//!    [`handle_message`](connection::Connection::handle_message); the application's decisions
//!    and packets ([`accept`](connection::Connection::accept),
//!    [`accept_restored`](connection::Connection::accept_restored),
//!    [`reject`](connection::Connection::reject),
//!    [`send_event`](connection::Connection::send_event),
//!    [`send_ack`](connection::Connection::send_ack),
//!    [`disconnect`](connection::Connection::disconnect), ...); the end of the Engine.IO session
//!    with [`handle_transport_closed`](connection::Connection::handle_transport_closed) (its
//!    close reason converts with `into()`).
//! 3. **Drain outputs** after every input, until `None`:
//!    [`poll_transmit`](connection::Connection::poll_transmit) gives Engine.IO messages to send
//!    on the session, in order ([`Transmit::Packet`](connection::Transmit::Packet) and
//!    [`Transmit::Send`](connection::Transmit::Send) for the machine's own packets,
//!    [`Transmit::Encoded`](connection::Transmit::Encoded) for the application's), or
//!    [`Transmit::Close`](connection::Transmit::Close) to close it;
//!    [`poll_event`](connection::Connection::poll_event) gives what the application must act on
//!    (a client joining a namespace, an event, an ack answered or timed out, a disconnect).
//!    Acting on an event is itself an input: drain again afterwards.
//! 4. **Arm one timer** at [`poll_timeout`](connection::Connection::poll_timeout), asked after
//!    every input; when it passes, call
//!    [`handle_timeout`](connection::Connection::handle_timeout) with the current instant and go
//!    to step 3.
//!
//! Time is a value: a test passes instants it makes up, and a 45-second connect timeout takes
//! microseconds to check.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use socketio_parser::connection::{
//!     Connection, ConnectionConfig, DisconnectReason, Event, Message, Parser, Transmit,
//! };
//! use socketio_parser::{ByteString, EncodedAck, EncodedPacket, Payload, RawJson};
//!
//! // What the driver does with the machine's outputs: here, collect the text messages.
//! fn drain(conn: &mut Connection, sent: &mut Vec<String>) -> Vec<Event> {
//!     while let Some(transmit) = conn.poll_transmit() {
//!         match transmit {
//!             Transmit::Packet(_, Message::Text(text)) => sent.push(text.to_string()),
//!             Transmit::Encoded(packet) => sent.extend(packet.messages().iter().map(|m| format!("{:?}", m.data))),
//!             other => panic!("{other:?}"),
//!         }
//!     }
//!     std::iter::from_fn(|| conn.poll_event()).collect()
//! }
//!
//! let start = Instant::now(); // any instant: the machine only compares them
//! let at = |ms| start + Duration::from_millis(ms);
//! let root = ByteString::from_static("/");
//! let mut sent = Vec::new();
//!
//! // 1. The Engine.IO session opened.
//! let mut conn = Connection::new(ConnectionConfig::default(), start);
//! assert_eq!(conn.poll_timeout(), Some(at(45_000))); // the connect timeout
//!
//! // 2-3. The client joins `/`; the application admits it.
//! conn.handle_message(Message::Text(ByteString::from_static("0")), at(10));
//! let events = drain(&mut conn, &mut sent);
//! assert!(matches!(&events[..], [Event::Connect { nsp, .. }] if nsp == "/"));
//! conn.accept(&root, "socket-id", None);
//! drain(&mut conn, &mut sent);
//! assert_eq!(sent, [r#"0{"sid":"socket-id"}"#]);
//!
//! // An event with an ack id from the client; the application answers once.
//! conn.handle_message(Message::Text(ByteString::from_static(r#"21["hello",1]"#)), at(20));
//! assert!(matches!(&drain(&mut conn, &mut sent)[..], [Event::Event { id: Some(1), .. }]));
//! assert!(conn.send_ack(EncodedAck::serialize(&root, 1, &("hi",))?.expect("no binary")));
//! assert!(!conn.send_ack(EncodedAck::serialize(&root, 1, &("again",))?.expect("no binary")));
//!
//! // An event encoded once (as for a broadcast), awaiting the client's answer for 5 s.
//! let data = Payload::json(RawJson::new(r#"["ping"]"#)?);
//! let packet = EncodedPacket::event(Parser::Json, &root, data, Some(0));
//! assert!(conn.send_event(&packet, Some(at(5_030))));
//! drain(&mut conn, &mut sent);
//!
//! // 4. The timer: nothing answered at 5.03 s, so the ack times out.
//! assert_eq!(conn.poll_timeout(), Some(at(5_030)));
//! conn.handle_timeout(at(5_030));
//! assert!(matches!(&drain(&mut conn, &mut sent)[..], [Event::AckTimeout { id: 0, .. }]));
//!
//! // The Engine.IO session ends: every joined namespace is disconnected with its reason.
//! conn.handle_transport_closed(engineio_parser::CloseReason::PingTimeout.into());
//! let events = drain(&mut conn, &mut sent);
//! assert!(matches!(&events[..], [Event::Disconnect { reason: DisconnectReason::PingTimeout, .. }]));
//! assert_eq!(sent[1..], [r#"31["hi"]"#.to_owned(), r#"Text("20[\"ping\"]")"#.to_owned()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `socketio-server` runs this loop on tokio; the `embedded_std` example of this crate runs it,
//! with the Engine.IO session machine, on plain threads and `std::net`, and serves the real
//! JavaScript client.
//!
//! # Codecs
//!
//! A [`Decoder`] takes one connection's Engine.IO messages in order; a binary packet is
//! complete once its attachments have arrived. Encoding goes the other way: a value becomes a
//! payload with [`to_payload`] (binary values become placeholders and attachments) or, with the
//! event name in front and tuples spread into arguments, with [`args`].
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
//!
//! // A value with binary data: the placeholders and the attachments to send after the text.
//! let (json, attachments) = socketio_parser::to_payload(&("photo.png", Bytes::from_static(b"\x89PNG")))
//!     .expect("serialisable");
//! assert_eq!(json.as_str(), r#"["photo.png",{"_placeholder":true,"num":0}]"#);
//! assert_eq!(attachments, [Bytes::from_static(b"\x89PNG")]);
//! # Ok::<(), socketio_parser::DecodeError>(())
//! ```
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | `msgpack` | the `socket.io-msgpack-parser` wire format ([`msgpack`](mod@msgpack)), for the [`Decoder`]'s callers and the [`Connection`](connection::Connection) machine ([`Parser::MsgPack`](connection::Parser::MsgPack)) |
//! | `fuzzing` | [`fuzzing`](mod@fuzzing): the harness functions the fuzz targets call |

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod args;
mod binary;
pub mod bundle;
pub mod connection;
mod decoder;
pub mod json;
pub mod outgoing;
mod packet;
mod tree;
mod value;

#[cfg(feature = "msgpack")]
#[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
pub mod msgpack;

#[cfg(any(test, feature = "fuzzing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzzing")))]
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
pub use value::{
    arg_values, event_name, event_name_string, first_arg, from_args, from_payload, payload_values, EventName,
    PayloadError, Value,
};

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

/// This crate's README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
