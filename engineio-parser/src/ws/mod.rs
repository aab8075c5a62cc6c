//! A sans-IO WebSocket codec, server side, for RFC 6455 (version 13).
//!
//! * The opening handshake: [`validate_upgrade`] checks an upgrade request's headers and gives
//!   the [`accept_key`]; [`encode_switching_protocols`] writes the `101` response.
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
//!   [`Decoder::with_deflate`] inflates compressed messages and [`compress_frame`] writes them.
//!
//! # What it does not do
//!
//! No I/O, no clock, no tokio: the driver reads and writes the socket. No extension but
//! permessage-deflate, and that one only without context takeover: each message is compressed
//! and inflated on its own (see [Memory](#memory)). Without it every frame's RSV bits must be 0.
//! No subprotocols. No client side: the decoder only accepts masked frames and the encoder
//! only writes unmasked ones. The closing handshake's timing (answering a close, then ending the
//! TCP connection) is the driver's.
//!
//! # Memory
//!
//! Between messages the [`Decoder`] holds no buffer: only a fragmented message being
//! reassembled is kept ([`Decoder::has_partial_message`]). An unfragmented message is unmasked
//! in the read buffer and split off it without a copy, so the driver can drop or shrink its read
//! buffer whenever it is empty and no message is partial.
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
//! ```
//! use bytes::BytesMut;
//! use engineio_parser::ws::{close_frame, frame, Decoder, Limits, Message, OpCode};
//!
//! let mut decoder = Decoder::new(Limits::default());
//! let mut read_buf = BytesMut::new();
//! let mut to_send = Vec::new();
//! // 1. Append what the socket gave (here the masked "Hello" of RFC 6455 §5.7)...
//! read_buf.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
//! // 2. ...then take messages until `Ok(None)`: the rest needs more bytes.
//! loop {
//!     match decoder.decode(&mut read_buf) {
//!         Ok(Some(Message::Text(text))) => assert_eq!(text, "Hello"),
//!         Ok(Some(Message::Ping(data))) => to_send.push(frame(OpCode::Pong, &data)),
//!         Ok(Some(Message::Close(_))) => { /* answer with a close frame, then end */ break }
//!         Ok(Some(_)) => {}
//!         Ok(None) => break,
//!         Err(error) => {
//!             // 3. On an error, fail the connection with the error's close code.
//!             to_send.push(close_frame(error.close_code(), ""));
//!             break;
//!         }
//!     }
//! }
//! // 4. Idle: nothing partial and nothing buffered, so the read buffer can go.
//! assert!(read_buf.is_empty() && !decoder.has_partial_message());
//! ```
//!
//! [`Bytes`]: bytes::Bytes

mod decode;
mod deflate;
mod frame;
mod handshake;

pub use decode::{CloseFrame, Decoder, Limits, Message, WsError};
pub use deflate::{compress_frame, negotiate_deflate, DeflateConfig, DeflateParams};
pub use frame::{
    close_frame, encode_frame_header, frame, header_len, FrameBuilder, FrameHeader, OpCode, MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
pub use handshake::{
    accept_key, encode_switching_protocols, encode_switching_protocols_with_extensions, validate_upgrade,
    HandshakeError, WEBSOCKET_GUID,
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
