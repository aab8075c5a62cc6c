//! A sans-IO WebSocket codec and connection machine, server side, for RFC 6455 (version 13).
//!
//! * The opening handshake: [`is_upgrade_request`] tells an upgrade request from others,
//!   [`validate_upgrade`] checks its headers and gives the [`accept_key`];
//!   [`switching_protocols_headers`] are the fields of the `101` response, which
//!   [`encode_switching_protocols`] writes for a driver that writes HTTP itself.
//! * A [`Connection`]: one WebSocket carrying an Engine.IO session. It takes the bytes read from
//!   the socket and gives the messages as Engine.IO [`Frame`](crate::Frame)s, answers pings and
//!   close frames, fails the connection with the right close code on a protocol error, queues the
//!   frames to write (without copying their payloads), and says when its write queue is too full
//!   to take more ([`Event`]). This is the part a driver uses; the rest are its pieces.
//! * Frames to clients: [`frame`], [`close_frame`], [`FrameBuilder`] (a payload written in
//!   place), or [`encode_frame_header`] / [`FrameHeader`] before a payload sent as it is. A
//!   server never masks its frames, so one framed message is the same [`Bytes`] for every
//!   recipient of a broadcast.
//! * Frames from clients: a [`Decoder`] takes whole [`Message`]s off the front of a read buffer,
//!   enforcing the RFC's rules and the [`Limits`], with a [`WsError`] that names the close code to
//!   send.
//! * permessage-deflate (RFC 7692), for a server that enables it: [`negotiate_deflate`] picks an
//!   offer from `Sec-WebSocket-Extensions` and gives the [`DeflateParams`] whose
//!   [`response_header`](DeflateParams::response_header) goes back in the `101`;
//!   [`Connection::with_deflate`] (or [`Decoder::with_deflate`]) inflates compressed messages and
//!   [`compress_frame`] writes them.
//!
//! # What it does not do
//!
//! No I/O, no clock, no tokio: the driver reads and writes the socket. No extension but
//! permessage-deflate, and that one only without context takeover: each message is compressed
//! and inflated on its own (see [Memory](#memory)). Without it every frame's RSV bits must be 0.
//! No subprotocols. No client side: the decoder only accepts masked frames and the encoder
//! only writes unmasked ones. The closing handshake's timing (how long to wait for the peer
//! after our close frame) is the driver's.
//!
//! # Memory
//!
//! Between messages the [`Decoder`] holds no buffer: only a fragmented message being
//! reassembled is kept ([`Decoder::has_partial_message`]). An unfragmented message is unmasked
//! in the read buffer and split off it without a copy, so the read buffer can be dropped or
//! shrunk whenever it is empty and no message is partial; a [`Connection`] does so itself
//! ([`Connection::is_idle`]).
//!
//! permessage-deflate adds no state to an idle connection. The reference server disables it by
//! default because zlib keeps about 300 KB of compression state per connection between messages
//! (a "sliding window" shared across messages, "context takeover"). We negotiate
//! `server_no_context_takeover` and `client_no_context_takeover`, so the compressor of
//! [`compress_frame`] and the inflater of [`Decoder::decode`] live for one message and are
//! dropped before the call returns; the decoder keeps only the compressed fragments of a partial
//! message, as it keeps uncompressed ones.
//!
//! # Drive loop
//!
//! A driver owns the socket and one [`Connection`], and repeats:
//!
//! 1. Write: while [`Connection::has_output`], give the slices of [`Connection::output`] to one
//!    vectored write and report what was written with [`Connection::advance_output`].
//! 2. Poll: take [`Connection::poll_event`] until `None`, handing each [`Event`] to the session
//!    ([`Session::handle_socket_event`](crate::Session::handle_socket_event)) and carrying out
//!    what the session answers (frames go back in with [`Connection::send`], a close with
//!    [`Connection::close`]). Events that queued output (a pong, a close frame) send the driver
//!    back to step 1.
//! 3. Read: unless the connection [`is_closing`](Connection::is_closing), read from the socket
//!    and pass the bytes to [`Connection::handle_read`], then go to step 2. When it is closing
//!    and has no output left, end the TCP connection (and keep reading and discarding for a
//!    while, so that the peer reads our close frame before the kernel answers its bytes with a
//!    reset).
//! 4. When the stream ends (end of file, an I/O error), tell the session the socket closed
//!    ([`Session::handle_socket_closed`](crate::Session::handle_socket_closed)) and drop the
//!    connection.
//!
//! ```
//! use std::io::IoSlice;
//! use engineio_parser::ws::{close_code, Connection, Event, Limits};
//! use engineio_parser::Frame;
//!
//! let mut conn = Connection::new(Limits::default());
//! // Read: a masked ping "hi", then the masked text "Hello" of RFC 6455 §5.7.
//! conn.handle_read(b"\x89\x82\x00\x00\x00\x00hi");
//! conn.handle_read(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
//! // Poll: the ping was answered on the way; the text is a frame for the session.
//! assert_eq!(conn.poll_event(), Some(Event::Frame(Frame::Text("Hello".into()))));
//! assert_eq!(conn.poll_event(), None);
//! // The session answers with a frame of its own.
//! conn.send(Frame::PrefixedText(b'4', "hey".into()));
//! // Write: the pong, then the frame (its header and prefix, then the shared text).
//! let mut slices = [IoSlice::new(&[]); 8];
//! let n = conn.output(&mut slices);
//! let written: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
//! assert_eq!(written, b"\x8a\x02hi\x81\x044hey");
//! conn.advance_output(written.len());
//! // Idle: nothing read, nothing to write, no buffer held.
//! assert!(!conn.has_output() && conn.is_idle());
//!
//! // A message over the limit fails the connection with 1009; nothing more is read.
//! let mut conn = Connection::new(Limits::default().with_max_message_size(4));
//! conn.handle_read(b"\x82\x85\x00\x00\x00\x00");
//! assert!(matches!(conn.poll_event(), Some(Event::Failed(e)) if e.close_code() == close_code::TOO_BIG));
//! assert!(conn.is_closing());
//! let mut slices = [IoSlice::new(&[]); 2];
//! let n = conn.output(&mut slices);
//! assert_eq!(&slices[..n][0][..], b"\x88\x02\x03\xf1");
//! ```
//!
//! [`Bytes`]: bytes::Bytes

mod connection;
mod decode;
mod deflate;
mod frame;
mod handshake;

pub use connection::{Connection, Event, WRITE_HIGH_WATER, WRITE_LOW_WATER};
pub use decode::{CloseFrame, Decoder, Limits, Message, WsError};
pub use deflate::{compress_frame, negotiate_deflate, DeflateConfig, DeflateParams};
pub use frame::{
    close_frame, encode_frame_header, frame, header_len, FrameBuilder, FrameHeader, OpCode, MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
pub use handshake::{
    accept_key, encode_switching_protocols, encode_switching_protocols_with_extensions, is_upgrade_request,
    switching_protocols_answer, switching_protocols_headers, validate_upgrade, HandshakeError,
    SWITCHING_PROTOCOLS_FIXED, WEBSOCKET_GUID,
};

/// Close status codes (RFC 6455 §7.4.1) and which of them a peer may send.
pub mod close_code {
    /// 1000: normal closure.
    pub const NORMAL: u16 = 1000;
    /// 1001: the endpoint is going away (server shutdown, browser leaving the page).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1007: data inconsistent with the message type (text that is not UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// 1008: a policy violation.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: a message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// 1010: (sent by a client) an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// 1011: an unexpected condition on the server.
    pub const INTERNAL_ERROR: u16 = 1011;

    /// Whether a peer may send this code in a close frame (RFC 6455 §7.4): 1000–1003 and
    /// 1007–1011 (defined by the RFC), 1012–1014 (registered with IANA since: service restart,
    /// try again later, bad gateway; browsers and Node's `ws` send them), 3000–4999 (libraries,
    /// frameworks and applications).
    /// 1004 is reserved; 1005, 1006 and 1015 only report conditions locally and never go on the
    /// wire; everything else below 3000 is unassigned, and 5000 and above do not exist.
    pub fn is_valid(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}
