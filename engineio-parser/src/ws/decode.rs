//! The streaming decoder of client frames (RFC 6455 §5).

use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;

use super::close_code;
use super::deflate::{inflate, DeflateParams};
use super::frame::{OpCode, MAX_CONTROL_PAYLOAD};

/// Size limits of a [`Decoder`]. Both count what a client sends; the decoder checks them from a
/// frame's header, before its payload is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest data message, in payload bytes summed over all its fragments. Default
    /// 1,000,000, Engine.IO's `maxHttpBufferSize` (CVE-2020-36048). Over it the decoder answers
    /// [`WsError::MessageTooBig`] (close code 1009) as soon as a header announces it. A
    /// compressed message (permessage-deflate) is held to it twice: its compressed payload, from
    /// the headers, and its inflated size, while it inflates.
    pub max_message_size: usize,
    /// The most frames one data message may be split into (the first frame and its
    /// continuations). Default 1024: browsers send each message as one frame, and 1024 fragments
    /// of 1 KiB already make a message the size of the default `max_message_size`; the limit
    /// defeats floods of tiny or empty fragments (the `ws` memory-exhaustion advisories). Over it
    /// the decoder answers [`WsError::TooManyFragments`]. 0 counts as 1 (fragmentation refused).
    pub max_fragments: usize,
}

impl Limits {
    /// The default limits: 1,000,000 bytes per message, 1024 fragments per message.
    pub const DEFAULT: Limits = Limits { max_message_size: 1_000_000, max_fragments: 1024 };

    /// These limits with another [`max_message_size`](Limits::max_message_size).
    pub const fn with_max_message_size(mut self, max_message_size: usize) -> Limits {
        self.max_message_size = max_message_size;
        self
    }

    /// These limits with another [`max_fragments`](Limits::max_fragments).
    pub const fn with_max_fragments(mut self, max_fragments: usize) -> Limits {
        self.max_fragments = max_fragments;
        self
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// The body of a close frame that has one (RFC 6455 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code (RFC 6455 §7.4); a decoded one is always
    /// [valid](close_code::is_valid).
    pub code: u16,
    /// The reason, UTF-8, at most 123 bytes; often empty.
    pub reason: ByteString,
}

/// One message from a client: a whole data message (all its fragments joined) or one control
/// frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message, valid UTF-8.
    Text(ByteString),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the application data (at most 125 bytes) goes back in a pong (RFC 6455 §5.5.2).
    Ping(Bytes),
    /// A pong, solicited or not (RFC 6455 §5.5.3).
    Pong(Bytes),
    /// A close frame, with its code and reason if it has a body. The peer sends nothing after
    /// it; the server answers with a close frame (RFC 6455 §5.5.1) and ends the connection.
    Close(Option<CloseFrame>),
}

/// Why client bytes are not a valid frame sequence. Every variant is the client's fault: the
/// server fails the connection (RFC 6455 §7.1.7), sending a close frame with
/// [`close_code`](WsError::close_code) if it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// RFC 6455 §5.2: RSV1, RSV2 and RSV3 must be 0 unless a negotiated extension defines them
    /// (this is the frame of CVE-2022-21676). The only one we negotiate, permessage-deflate,
    /// defines RSV1 on the first frame of a data message (RFC 7692 §6); RSV1 on a continuation
    /// or control frame, RSV2 and RSV3 stay errors.
    #[error("reserved bits set in a frame header (not defined by a negotiated extension)")]
    ReservedBits,
    /// RFC 6455 §5.2: opcodes 0x3–0x7 and 0xB–0xF are reserved.
    #[error("reserved opcode {0:#x}")]
    UnknownOpcode(u8),
    /// RFC 6455 §5.1 and §5.3: every frame from a client must be masked.
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// RFC 6455 §5.5: control frames must not be fragmented (FIN must be set).
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// RFC 6455 §5.5: a control frame's payload is at most 125 bytes.
    #[error("control frame payload longer than 125 bytes")]
    ControlFrameTooLong,
    /// RFC 6455 §5.4: a continuation frame must follow a data frame with FIN clear.
    #[error("continuation frame without a fragmented message to continue")]
    UnexpectedContinuation,
    /// RFC 6455 §5.4: the fragments of a message are not interleaved with another data message;
    /// a text or binary frame arrived while a fragmented message was open.
    #[error("new data frame while a fragmented message is open")]
    ExpectedContinuation,
    /// RFC 6455 §5.2: the most significant bit of a 64-bit payload length must be 0.
    #[error("64-bit payload length with the most significant bit set")]
    InvalidLength,
    /// RFC 6455 §5.6 and §8.1: a text message must be valid UTF-8 (checked over the whole
    /// message, so one that ends inside a code point is invalid).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// RFC 6455 §5.5.1: a close frame's body is empty or starts with a 2-byte code; a 1-byte
    /// body is invalid.
    #[error("close frame with a 1-byte body")]
    InvalidClosePayload,
    /// RFC 6455 §7.4: the code of a close frame must be one a peer may send (see
    /// [`close_code::is_valid`]).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// RFC 6455 §5.5.1: the reason in a close frame must be UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// RFC 6455 §10.4 and [`Limits::max_message_size`]: a data message (the sum of its fragments)
    /// is larger than the limit, or a compressed one inflates to more than it (RFC 7692 §8).
    #[error("message of {size} bytes or more exceeds the limit of {limit}")]
    MessageTooBig {
        /// The size found: the fragments so far plus the payload this header announces, or for a
        /// compressed message the bytes inflated when inflating stopped (`limit + 1`).
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// RFC 6455 §10.4 and [`Limits::max_fragments`]: a message is split into more frames than
    /// the limit.
    #[error("message split into more than {limit} fragments")]
    TooManyFragments {
        /// The limit.
        limit: usize,
    },
    /// RFC 7692 §7.2.2: the payload of a compressed message (RSV1 set) must be raw DEFLATE data
    /// (RFC 1951): no reserved block type, stored blocks whose lengths agree, valid Huffman
    /// codes.
    #[error("compressed message is not valid DEFLATE data")]
    InvalidCompressedData,
}

impl WsError {
    /// The close code the server sends when it fails the connection for this error (RFC 6455
    /// §7.4.1): 1007 for invalid UTF-8 or compressed data that does not inflate
    /// ([`close_code::INVALID_DATA`]), 1009 for a message over a limit ([`close_code::TOO_BIG`]),
    /// 1002 for any other protocol violation ([`close_code::PROTOCOL_ERROR`]).
    pub fn close_code(self) -> u16 {
        match self {
            WsError::InvalidUtf8 | WsError::InvalidCloseReason | WsError::InvalidCompressedData => {
                close_code::INVALID_DATA
            }
            WsError::MessageTooBig { .. } | WsError::TooManyFragments { .. } => close_code::TOO_BIG,
            _ => close_code::PROTOCOL_ERROR,
        }
    }
}

/// A streaming decoder of the frames a client sends: feed it the bytes read from the socket in a
/// [`BytesMut`] and it takes whole messages off the front.
///
/// It holds only a fragmented message being reassembled (none while idle, see
/// [`has_partial_message`](Decoder::has_partial_message)): between messages the read buffer is
/// the caller's alone to shrink or free.
///
/// Made with [`with_deflate`](Decoder::with_deflate), it also takes messages compressed with
/// permessage-deflate (RFC 7692). No compression context is kept between messages (none is
/// negotiated): a compressed message is inflated when its last fragment arrives, by an inflater
/// that lives for that call only.
///
/// After an error the decoder's state is unspecified: fail the connection and decode no more.
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    /// Boxed: every connection holds a decoder, few are in the middle of a fragmented message.
    partial: Option<Box<Partial>>,
    needed: usize,
    deflate: Option<DeflateParams>,
}

/// A fragmented data message being reassembled.
#[derive(Debug, Clone)]
struct Partial {
    text: bool,
    /// RSV1 was set on the first fragment: `payload` is compressed.
    compressed: bool,
    payload: BytesMut,
    fragments: usize,
}

/// One parsed frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    /// RSV1, allowed only on the first frame of a data message when deflate was negotiated.
    compressed: bool,
    opcode: OpCode,
    header_len: usize,
    payload_len: usize,
    mask: [u8; 4],
}

impl Decoder {
    /// A decoder with these limits and no message in progress.
    pub fn new(limits: Limits) -> Decoder {
        Decoder { limits, partial: None, needed: 2, deflate: None }
    }

    /// A decoder for a connection that negotiated permessage-deflate (see
    /// [`negotiate_deflate`](super::negotiate_deflate)): a data message whose first frame has
    /// RSV1 set is compressed, and [`decode`](Self::decode) returns it inflated (RFC 7692 §6 and
    /// §7.2.2). Messages without RSV1 are taken as [`Decoder::new`] takes them.
    ///
    /// The inflated size is held to [`Limits::max_message_size`]: inflating stops at the first
    /// byte past it, with [`WsError::MessageTooBig`], so a small frame that would inflate to
    /// gigabytes (a "zip bomb") costs at most the limit in memory.
    ///
    /// Each message inflates on its own, as the agreed `client_no_context_takeover` requires
    /// (RFC 7692 §7.1.1.2). A client that breaks that rule refers back to bytes of earlier
    /// messages the decoder no longer has; `flate2`'s default backend (`miniz_oxide`) reads them
    /// as zeros instead of failing, so such a message comes out corrupted rather than refused.
    pub fn with_deflate(limits: Limits, params: DeflateParams) -> Decoder {
        Decoder { limits, partial: None, needed: 2, deflate: Some(params) }
    }

    /// The permessage-deflate parameters, if the decoder was made with
    /// [`with_deflate`](Self::with_deflate).
    pub fn deflate(&self) -> Option<&DeflateParams> {
        self.deflate.as_ref()
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether a fragmented message is partly received: its first fragments are held here until
    /// the last one comes. When this is `false` and the read buffer is empty, the connection is
    /// idle and its buffers can be released.
    pub fn has_partial_message(&self) -> bool {
        self.partial.is_some()
    }

    /// How many bytes, counted from the front of the buffer, the last [`decode`](Self::decode)
    /// call that returned `Ok(None)` needs before it can make progress: 2 for a frame header's
    /// first bytes, then the full header, then the header and the payload of the frame. It is at
    /// most [`Limits::max_message_size`] plus 14. It is 0 after a call that returned a message
    /// (call `decode` again: the buffer may hold another).
    ///
    /// A driver may use it to size its next read, but should grow its buffer as bytes arrive
    /// rather than reserve it all at once: a client that announces a large frame and then stalls
    /// would otherwise hold that memory for free.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Takes the next message off the front of `buf`: a whole data message (every fragment of
    /// it) or a control frame (also one that arrives between the fragments of a data message).
    ///
    /// Returns `Ok(None)` when `buf` holds no complete message yet: whole fragments are taken out
    /// of `buf` and kept, and the rest stays in `buf` for the next call, after more bytes were
    /// appended. The result does not depend on how the bytes were split between calls.
    ///
    /// An unfragmented message is unmasked in place and split off `buf` without copying; a
    /// fragmented one is copied into one buffer as its fragments arrive. A message's [`Bytes`]
    /// therefore keeps the read buffer's allocation alive: copy a small message that is kept for
    /// long rather than hold a large read buffer for it. A compressed message is inflated into a
    /// buffer of its own.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WsError> {
        loop {
            let header = match self.parse_header(buf)? {
                Ok(header) => header,
                Err(needed) => {
                    self.needed = needed;
                    return Ok(None);
                }
            };
            let frame_len = header.header_len.saturating_add(header.payload_len);
            if buf.len() < frame_len {
                self.needed = frame_len;
                return Ok(None);
            }
            let mut payload = buf.split_to(frame_len);
            payload.advance(header.header_len);
            unmask(&mut payload, header.mask);
            let message = match (header.opcode, header.fin) {
                (OpCode::Close | OpCode::Ping | OpCode::Pong, _) => control(header.opcode, payload.freeze())?,
                (OpCode::Text | OpCode::Binary, true) if header.compressed => {
                    inflated(header.opcode == OpCode::Text, &payload, self.limits.max_message_size)?
                }
                (OpCode::Text, true) => Message::Text(text(payload)?),
                (OpCode::Binary, true) => Message::Binary(payload.freeze()),
                (OpCode::Text | OpCode::Binary, false) => {
                    // A fresh buffer, so that the read buffer's allocation is not kept alive.
                    let text = header.opcode == OpCode::Text;
                    self.partial = Some(Box::new(Partial {
                        text,
                        compressed: header.compressed,
                        payload: BytesMut::from(&payload[..]),
                        fragments: 1,
                    }));
                    continue;
                }
                (OpCode::Continuation, fin) => {
                    // `parse_header` refuses a continuation without a partial message.
                    let Some(mut partial) = self.partial.take() else {
                        return Err(WsError::UnexpectedContinuation);
                    };
                    partial.payload.extend_from_slice(&payload);
                    partial.fragments += 1;
                    if !fin {
                        self.partial = Some(partial);
                        continue;
                    }
                    if partial.compressed {
                        inflated(partial.text, &partial.payload, self.limits.max_message_size)?
                    } else if partial.text {
                        Message::Text(text(partial.payload)?)
                    } else {
                        Message::Binary(partial.payload.freeze())
                    }
                }
            };
            self.needed = 0;
            return Ok(Some(message));
        }
    }

    /// Parses and checks the header at the front of `buf`: `Ok(Err(n))` when `buf` must hold `n`
    /// bytes for the header to be complete. Checks run in one fixed order, each as soon as its
    /// bytes are there, so that the error does not depend on how the input was split.
    fn parse_header(&self, buf: &[u8]) -> Result<Result<Header, usize>, WsError> {
        let Some(&b0) = buf.first() else {
            return Ok(Err(2));
        };
        let fin = b0 & 0x80 != 0;
        // RSV1 may open a compressed data message; `Continuation` with RSV1 is refused here.
        let rsv1_allowed = self.deflate.is_some() && matches!(b0 & 0x0F, 0x1 | 0x2);
        let compressed = rsv1_allowed && b0 & 0x40 != 0;
        let reserved = if rsv1_allowed { 0x30 } else { 0x70 };
        if b0 & reserved != 0 {
            return Err(WsError::ReservedBits);
        }
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(WsError::UnknownOpcode(b0 & 0x0F))?;
        let control = opcode.is_control();
        if control {
            if !fin {
                return Err(WsError::FragmentedControlFrame);
            }
        } else {
            match (opcode, &self.partial) {
                (OpCode::Continuation, None) => return Err(WsError::UnexpectedContinuation),
                (OpCode::Continuation, Some(partial)) if partial.fragments >= self.limits.max_fragments => {
                    return Err(WsError::TooManyFragments { limit: self.limits.max_fragments });
                }
                (OpCode::Text | OpCode::Binary, Some(_)) => return Err(WsError::ExpectedContinuation),
                _ => {}
            }
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Err(2));
        };
        if b1 & 0x80 == 0 {
            return Err(WsError::UnmaskedFrame);
        }
        let len7 = b1 & 0x7F;
        if control && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlFrameTooLong);
        }
        let (extended, payload_len) = match len7 {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => (2, u64::from(u16::from_be_bytes([a, b]))),
                _ => return Ok(Err(4)),
            },
            127 => match buf.get(2..10).and_then(|bytes| <[u8; 8]>::try_from(bytes).ok()) {
                Some(bytes) => (8, u64::from_be_bytes(bytes)),
                None => return Ok(Err(10)),
            },
            len => (0, u64::from(len)),
        };
        if payload_len >> 63 != 0 {
            return Err(WsError::InvalidLength);
        }
        if !control {
            let so_far = self.partial.as_ref().map_or(0, |partial| partial.payload.len() as u64);
            let size = so_far.saturating_add(payload_len);
            if size > self.limits.max_message_size as u64 {
                return Err(WsError::MessageTooBig { size, limit: self.limits.max_message_size });
            }
        }
        // Within `max_message_size`, or at most 125: it fits in a usize.
        let payload_len = usize::try_from(payload_len)
            .map_err(|_| WsError::MessageTooBig { size: payload_len, limit: self.limits.max_message_size })?;
        let header_len = 2 + extended + 4;
        let mask = match buf.get(header_len - 4..header_len) {
            Some(&[a, b, c, d]) => [a, b, c, d],
            _ => return Ok(Err(header_len)),
        };
        Ok(Ok(Header { fin, compressed, opcode, header_len, payload_len, mask }))
    }
}

impl Default for Decoder {
    /// A decoder with the [default limits](Limits::DEFAULT).
    fn default() -> Decoder {
        Decoder::new(Limits::DEFAULT)
    }
}

/// The message of a complete control frame (its payload already unmasked).
fn control(opcode: OpCode, payload: Bytes) -> Result<Message, WsError> {
    Ok(match opcode {
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        _ => match payload.len() {
            0 => Message::Close(None),
            1 => return Err(WsError::InvalidClosePayload),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if !close_code::is_valid(code) {
                    return Err(WsError::InvalidCloseCode(code));
                }
                let reason =
                    ByteString::try_from(payload.slice(2..)).map_err(|_| WsError::InvalidCloseReason)?;
                Message::Close(Some(CloseFrame { code, reason }))
            }
        },
    })
}

/// The message a compressed payload inflates to, at most `limit` bytes; text checked to be
/// UTF-8.
fn inflated(text: bool, compressed: &[u8], limit: usize) -> Result<Message, WsError> {
    let payload = Bytes::from(inflate(compressed, limit)?);
    Ok(if text {
        Message::Text(ByteString::try_from(payload).map_err(|_| WsError::InvalidUtf8)?)
    } else {
        Message::Binary(payload)
    })
}

/// A text message's payload, checked to be UTF-8.
fn text(payload: BytesMut) -> Result<ByteString, WsError> {
    ByteString::try_from(payload.freeze()).map_err(|_| WsError::InvalidUtf8)
}

/// XORs `payload` with the masking key (RFC 6455 §5.3), eight bytes at a time.
fn unmask(payload: &mut [u8], key: [u8; 4]) {
    let [a, b, c, d] = key;
    let mask = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(word) = <&mut [u8; 8]>::try_from(chunk) {
            *word = (u64::from_ne_bytes(*word) ^ mask).to_ne_bytes();
        }
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmask_matches_the_rfc_definition() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..40 {
            let original: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut fast = original.clone();
            unmask(&mut fast, key);
            let slow: Vec<u8> = original.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
            assert_eq!(fast, slow, "length {len}");
        }
    }

    #[test]
    fn idle_decoder_is_small() {
        // The decoder lives as long as the connection: keep it a few words.
        assert!(std::mem::size_of::<Decoder>() <= 96, "{}", std::mem::size_of::<Decoder>());
        let decoder = Decoder::default();
        assert!(!decoder.has_partial_message());
        assert_eq!(decoder.needed(), 2);
        let params = crate::ws::negotiate_deflate([&b"permessage-deflate"[..]]).expect("accepted");
        let decoder = Decoder::with_deflate(Limits::default(), params);
        assert!(!decoder.has_partial_message() && decoder.deflate().is_some());
    }

    #[test]
    fn close_codes_map_to_the_rfc_classes() {
        assert_eq!(WsError::ReservedBits.close_code(), 1002);
        assert_eq!(WsError::InvalidUtf8.close_code(), 1007);
        assert_eq!(WsError::InvalidCloseReason.close_code(), 1007);
        assert_eq!(WsError::InvalidCompressedData.close_code(), 1007);
        assert_eq!(WsError::MessageTooBig { size: 2, limit: 1 }.close_code(), 1009);
        assert_eq!(WsError::TooManyFragments { limit: 1 }.close_code(), 1009);
        assert_eq!(WsError::InvalidCloseCode(1005).close_code(), 1002);
    }
}
