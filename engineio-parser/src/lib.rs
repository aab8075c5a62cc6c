//! A sans-IO implementation of the Engine.IO protocol, revisions 4 (`EIO=4`, Engine.IO 4+ and
//! Socket.IO 3+) and 3 (`EIO=3`, Socket.IO 2 clients), as engine.io 6.6 serves them.
//!
//! * Codecs: [`Packet::decode_text`] / [`Packet::decode_binary`] / [`Packet::encode_frame`] for
//!   one WebSocket frame; [`decode_payload`] / [`encode_payload`] for an HTTP long-polling body
//!   (several packets).
//! * The endpoint: [`route`] validates a request (transport, `EIO`, `sid`, method, origin) and
//!   says where it goes, or answers with an Engine.IO error (codes 0–5).
//! * The [`Session`] machine: heartbeat, the long-polling request lifecycle, the upgrade to
//!   WebSocket, closing and close reasons. See the [drive loop](#drive-loop) below.
//! * The HTTP rules around the endpoint ([`http`]): the served path and its `404`, CORS and
//!   preflights, the session cookie, compression of polling responses, and the status and
//!   header fields of every answer, as name/value pairs a driver converts.
//! * The client's address behind reverse proxies ([`forwarded`]): trusted proxy ranges and the
//!   `X-Forwarded-For` / `Forwarded` (RFC 7239) header they write.
//! * The WebSocket layer ([`ws`]): RFC 6455 framing, permessage-deflate, and the
//!   [`ws::Connection`] machine that turns a socket's bytes into frames for the session.
//!
//! # What it does not do
//!
//! It performs no I/O, reads no clock, spawns nothing and depends on no async runtime, HTTP or
//! WebSocket crate: a driver (the `engineio-server` crate, or any other) moves the bytes and
//! passes the time in. Decoding never copies packet data (text and binary data are slices of the
//! input [`Bytes`]); encoding writes into any [`bytes::BufMut`] the caller owns. Every size limit
//! is a parameter.
//!
//! # Codecs
//!
//! One WebSocket frame is one packet: [`Packet::decode_frame`] (or `decode_text` /
//! `decode_binary`) reads it, [`Packet::encode_frame`] writes it into a buffer. A long-polling
//! body holds several: [`decode_payload`] iterates over them without copying, and
//! [`encode_payload`] writes them in the revision's framing ([`PayloadFormat`]: v4's `\x1e`
//! separators, v3's length prefixes counted in UTF-16 units).
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
//!
//! # Drive loop
//!
//! A [`Session`] is driven by pushing inputs in (`handle_*`, `send`, `close`) and pulling outputs
//! out (`poll_*`). It names HTTP requests and WebSockets by ids the driver picks ([`RequestId`],
//! [`SocketId`]), so it never holds a socket or a channel. A driver runs each session so:
//!
//! 1. **Route every request** with [`route`]. An error is answered at once
//!    ([`Response::refusal`]). A [`Route::Handshake`] starts a session with [`Session::new`],
//!    its first transport being the handshake GET ([`Initial::Polling`]) or the WebSocket
//!    ([`Initial::WebSocket`]); the session queues its `open` packet for it. A
//!    [`Route::Session`] goes to the session its `sid` names (none: error code 1).
//! 2. **Push the input**, with the current time where asked:
//!    * a polling request: [`Session::handle_routed_request`] (its [`RequestKind`] from
//!      [`RequestKind::new`]); a POST's body once read: [`Session::handle_body`], or
//!      [`Session::handle_body_too_large`] past `max_payload`; a request whose client went
//!      away before its answer: [`Session::handle_request_gone`];
//!    * a WebSocket upgrade: [`Session::check_request`] before answering `101`, then
//!      [`Session::handle_socket`] with the new socket's id;
//!    * bytes read from a WebSocket: through its [`ws::Connection`] (see its [drive
//!      loop](ws#drive-loop)), whose events go to [`Session::handle_socket_event`]; the end of
//!      the stream: [`Session::handle_socket_closed`];
//!    * the application: [`Session::send`], [`Session::close`], [`Session::shutdown`];
//!    * the deadline of step 5 passed: [`Session::handle_timeout`].
//! 3. **Drain [`Session::poll_transmit`]** until `None`, carrying out each [`Transmit`]:
//!    * `Respond { request, response }`: answer that request with the [`Response`]'s status,
//!      content type and body, then forget the id;
//!    * `Send { socket, frame }`: write the [`Frame`] on that WebSocket
//!      ([`ws::Connection::send`]);
//!    * `CloseSocket { socket, code }`: close that WebSocket with the code
//!      ([`ws::Connection::close`]), then forget the id.
//! 4. **Drain [`Session::poll_event`]** until `None`, handing each [`Event`] to the application:
//!    `Message` (a message from the client), `Upgrading`, `Upgraded` (the session runs on the
//!    WebSocket now), `Closed { reason, .. }`: the last event, after which the session can be
//!    dropped. Transmits come first, so that what the application does about an event meets
//!    the session as it is after them; its answers ([`Session::send`]) are new inputs: back to
//!    step 2, then 3.
//! 5. **Ask [`Session::poll_timeout`]** and sleep until that instant or the next input,
//!    whichever comes first. Ask again after every input: the deadline moves (a pong pushes
//!    the next ping out). When it passes, go to step 2 with [`Session::handle_timeout`].
//!
//! The WebSocket under a session is a machine too, [`ws::Connection`]: bytes read from the
//! socket go in, frames for the session and bytes to write come out; [its drive
//! loop](ws#drive-loop) nests inside step 2 above. `engineio-server` runs both on tokio, one task
//! per session; `socketio-parser`'s `embedded_std` example runs them on threads and `std::net`.
//!
//! Time only enters as the `now: Instant` arguments. The session compares instants and adds
//! durations to them, nothing else, so any `Instant` can stand for the start and a test
//! passes simulated ones: the ping timeout below takes microseconds.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use engineio_parser::{
//!     route, CloseReason, Data, EndpointConfig, Event, Initial, Method, Packet, Query, RequestId,
//!     RequestInfo, RequestKind, Route, Session, SessionConfig, Transmit, Transport,
//! };
//!
//! /// Step 3: the answers to write, as (request, body) pairs.
//! fn answers(session: &mut Session) -> Vec<(RequestId, Bytes)> {
//!     std::iter::from_fn(|| session.poll_transmit())
//!         .map(|transmit| match transmit {
//!             Transmit::Respond { request, response } => (request, response.body),
//!             other => panic!("no WebSocket here: {other:?}"),
//!         })
//!         .collect()
//! }
//!
//! let start = Instant::now(); // any instant will do: only differences count
//! let at = |ms| start + Duration::from_millis(ms);
//! let config = SessionConfig {
//!     ping_interval: Duration::from_millis(300),
//!     ping_timeout: Duration::from_millis(200),
//!     ..SessionConfig::default()
//! };
//!
//! // 1. The handshake GET (request 0) starts a session...
//! let query = Query::parse("EIO=4&transport=polling");
//! let info = RequestInfo { method: Method::Get, query: &query, websocket_upgrade: false, origin: None };
//! let Ok(Route::Handshake { version, base64, .. }) = route(&EndpointConfig::default(), &info) else {
//!     unreachable!()
//! };
//! let sid = "AAAAAAAAAAAAAAAAAAAA";
//! let mut session = Session::new(sid, version, base64, config, Initial::Polling(RequestId(0)), at(0));
//! // ...3. which it answers with the `open` packet; 5. the first ping is due in 300 ms.
//! let open = answers(&mut session);
//! assert_eq!(open[0].0, RequestId(0));
//! assert!(open[0].1.starts_with(b"0{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\",\"upgrades\":[\"websocket\"]"));
//! assert_eq!(session.poll_timeout(), Some(at(300)));
//!
//! // A message from the client: 2. a POST and its body; 3. `ok`; 4. the message.
//! let post = RequestKind::Post { binary: false };
//! session.handle_routed_request(RequestId(1), post, Transport::Polling, version, at(10));
//! session.handle_body(RequestId(1), Bytes::from_static(b"4hello"), at(10));
//! assert_eq!(answers(&mut session), [(RequestId(1), Bytes::from_static(b"ok"))]);
//! assert_eq!(session.poll_event(), Some(Event::Message(Data::Text("hello".into()))));
//!
//! // A message to the client: the application sends it, the next poll takes it.
//! session.send(Packet::message("hi")).expect("open");
//! session.handle_routed_request(RequestId(2), RequestKind::Poll, Transport::Polling, version, at(20));
//! assert_eq!(answers(&mut session), [(RequestId(2), Bytes::from_static(b"4hi"))]);
//!
//! // Heartbeat: a poll waits; 5. at 300 ms the ping goes out on it, the pong is due by 500 ms.
//! session.handle_routed_request(RequestId(3), RequestKind::Poll, Transport::Polling, version, at(30));
//! assert_eq!(answers(&mut session), []);
//! session.handle_timeout(at(300));
//! assert_eq!(answers(&mut session), [(RequestId(3), Bytes::from_static(b"2"))]);
//! assert_eq!(session.poll_timeout(), Some(at(500)));
//! // The pong comes in a POST; the next ping is due a ping interval after it.
//! session.handle_routed_request(RequestId(4), post, Transport::Polling, version, at(350));
//! session.handle_body(RequestId(4), Bytes::from_static(b"3"), at(350));
//! assert_eq!(answers(&mut session), [(RequestId(4), Bytes::from_static(b"ok"))]);
//! assert_eq!(session.poll_timeout(), Some(at(650)));
//!
//! // Ping timeout: the next ping waits for a poll that never comes, and no pong follows.
//! session.handle_timeout(at(650));
//! assert_eq!(session.poll_timeout(), Some(at(850)));
//! session.handle_timeout(at(849));
//! assert_eq!(session.poll_event(), None);
//! session.handle_timeout(at(850));
//! assert_eq!(answers(&mut session), []);
//! assert!(matches!(
//!     session.poll_event(),
//!     Some(Event::Closed { reason: CloseReason::PingTimeout, .. })
//! ));
//! assert!(session.is_closed() && session.poll_timeout().is_none());
//! ```
//!
//! # Feature flags
//!
//! `fuzzing` exposes [`fuzzing`](mod@fuzzing), the harness functions the fuzz targets call (each
//! checks a property, such as "decoding then encoding gives the input back", and panics when it
//! does not hold). Nothing else is optional.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod body;
pub mod date;
pub mod endpoint;
pub mod forwarded;
pub mod http;
pub mod options;
pub mod packet;
pub mod payload;
pub mod queue;
pub mod session;
pub mod ws;

#[cfg(any(test, feature = "fuzzing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "fuzzing")))]
pub mod fuzzing;

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use endpoint::{
    format_id, route, EndpointConfig, ErrorCode, Method, Query, RequestError, RequestInfo, Route, Transport,
    ID_BYTES,
};
pub use options::{ConfigError, InvalidOption};
pub use packet::{Data, Frame, FrameKind, Packet, PacketType};
pub use payload::{decode_payload, encode_payload, payload_len, utf16_len, Packets, PayloadFormat};
pub use queue::Queue;
pub use session::{
    CloseReason, Event, Initial, RequestId, RequestKind, Response, Session, SessionConfig, SocketId, Trace,
    Transmit,
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

/// This crate's README, whose example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
