//! Server-to-client frames (RFC 6455 §5.2): never masked, so the bytes of one frame are the same
//! for every recipient and a broadcast frames its message once.

use std::{fmt, io};

use bytes::{BufMut, Bytes, BytesMut};

/// The longest header a server frame can have: 2 bytes plus a 64-bit extended length (a server
/// never sends a masking key).
pub const MAX_HEADER_LEN: usize = 10;

/// The largest payload of a control frame (Close, Ping, Pong), RFC 6455 §5.5.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The largest close reason that fits in a close frame: [`MAX_CONTROL_PAYLOAD`] minus the 2-byte
/// code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

/// A frame's opcode (RFC 6455 §5.2, "Opcode"). The reserved opcodes 0x3–0x7 and 0xB–0xF have no
/// variant: a decoder refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented data message (§5.4).
    Continuation = 0x0,
    /// `0x1`: the first (or only) frame of a text message, UTF-8 (§5.6).
    Text = 0x1,
    /// `0x2`: the first (or only) frame of a binary message (§5.6).
    Binary = 0x2,
    /// `0x8`: a close frame (§5.5.1).
    Close = 0x8,
    /// `0x9`: a ping (§5.5.2).
    Ping = 0x9,
    /// `0xA`: a pong (§5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// The opcode a header's low nibble names, or `None` for a reserved one.
    pub fn from_u8(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Whether this is a control opcode (Close, Ping, Pong): the high bit of the nibble is set
    /// (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// The number of header bytes a server frame with this payload length takes: 2, 4 (16-bit
/// extended length, payloads of 126 to 65535 bytes) or 10 (64-bit extended length).
pub fn header_len(payload_len: u64) -> usize {
    match payload_len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

/// Writes the header of an unmasked (server) frame into `buf`: FIN, RSV bits all 0 (an
/// uncompressed frame; [`compress_frame`](super::compress_frame) writes compressed ones), the
/// opcode, and the payload length in its shortest form (RFC 6455 §5.2). The caller writes the
/// `payload_len` payload bytes after it.
///
/// `payload_len` must be below 2⁶³ (the RFC forbids the most significant bit); no in-memory
/// payload comes near that, and the bit is cleared if it is set. Nothing here checks the control
/// frame rules (FIN set, at most [`MAX_CONTROL_PAYLOAD`] bytes): that is the caller's duty.
pub fn encode_frame_header(opcode: OpCode, fin: bool, payload_len: u64, buf: &mut impl BufMut) {
    let header = FrameHeader::new(opcode, fin, payload_len);
    buf.put_slice(header.as_bytes());
}

/// The header of one server frame, on the stack: for a vectored write of the header and a
/// payload [`Bytes`] without copying the payload.
///
/// ```
/// use engineio_parser::ws::{FrameHeader, OpCode};
/// let header = FrameHeader::new(OpCode::Text, true, 5);
/// assert_eq!(header.as_bytes(), [0x81, 0x05]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The header, and room for the payload's first byte (see
    /// [`with_first_payload_byte`](Self::with_first_payload_byte)).
    bytes: [u8; MAX_HEADER_LEN + 1],
    len: u8,
}

impl FrameHeader {
    /// The header of an unmasked frame, as [`encode_frame_header`] writes it.
    pub fn new(opcode: OpCode, fin: bool, payload_len: u64) -> FrameHeader {
        let payload_len = payload_len & !(1 << 63);
        let mut bytes = [0u8; MAX_HEADER_LEN + 1];
        bytes[0] = if fin { 0x80 } else { 0 } | opcode as u8;
        let len = match header_len(payload_len) {
            2 => {
                // Fits in 7 bits: checked by `header_len`.
                bytes[1] = payload_len as u8;
                2
            }
            4 => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
                4
            }
            _ => {
                bytes[1] = 127;
                bytes[2..10].copy_from_slice(&payload_len.to_be_bytes());
                10
            }
        };
        FrameHeader { bytes, len }
    }

    /// This header with RSV1 set: the "Per-Message Compressed" bit of permessage-deflate (RFC
    /// 7692 §6), for the only frame of a compressed message.
    pub(super) fn with_rsv1(mut self) -> FrameHeader {
        self.bytes[0] |= 0x40;
        self
    }

    /// This header followed by the payload's first byte, which `payload_len` counted: the rest
    /// of the payload can then be written from shared bytes as they are (an Engine.IO packet's
    /// type digit goes here, its data stays the same bytes for every recipient).
    pub fn with_first_payload_byte(mut self, byte: u8) -> FrameHeader {
        if usize::from(self.len) <= MAX_HEADER_LEN {
            self.bytes[usize::from(self.len)] = byte;
            self.len += 1;
        }
        self
    }

    /// The header's bytes (2, 4 or 10 of them, and the payload's first byte when one was
    /// added).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for FrameHeader {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for FrameHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FrameHeader").field(&self.as_bytes()).finish()
    }
}

/// One complete, final (FIN set) server frame with this payload, header and payload in one
/// allocation: clone the [`Bytes`] to send the same frame to many clients.
///
/// For control opcodes the payload must be at most [`MAX_CONTROL_PAYLOAD`] bytes (RFC 6455 §5.5)
/// and for [`OpCode::Text`] it must be UTF-8; this function does not check either.
///
/// ```
/// use engineio_parser::ws::{frame, OpCode};
/// assert_eq!(&frame(OpCode::Text, b"Hello")[..], b"\x81\x05Hello");
/// ```
pub fn frame(opcode: OpCode, payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(header_len(payload.len() as u64) + payload.len());
    encode_frame_header(opcode, true, payload.len() as u64, &mut buf);
    buf.extend_from_slice(payload);
    buf.freeze()
}

/// A close frame (RFC 6455 §5.5.1) with a status code and a reason. The reason is cut, on a
/// character boundary, to the [`MAX_CLOSE_REASON`] bytes that fit in a control frame.
///
/// The code is sent as given: pick one a peer accepts (see [`close_code`](super::close_code));
/// for a close frame without a body, use `frame(OpCode::Close, &[])`.
///
/// ```
/// use engineio_parser::ws::{close_frame, close_code};
/// assert_eq!(&close_frame(close_code::NORMAL, "bye")[..], b"\x88\x05\x03\xe8bye");
/// ```
pub fn close_frame(code: u16, reason: &str) -> Bytes {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason.as_bytes()[..end];
    let mut buf = BytesMut::with_capacity(2 + 2 + reason.len());
    encode_frame_header(OpCode::Close, true, 2 + reason.len() as u64, &mut buf);
    buf.put_u16(code);
    buf.extend_from_slice(reason);
    buf.freeze()
}

/// Builds one final server data frame whose payload is written piece by piece (for example a
/// packet serialised straight into it), without knowing its length first and without copying it
/// afterwards.
///
/// The builder keeps [`MAX_HEADER_LEN`] bytes free in front of the payload; [`finish`] writes the
/// header right before the payload and returns header and payload as one [`Bytes`] (up to 8
/// unused bytes stay at the front of the allocation).
///
/// ```
/// use std::fmt::Write;
/// use engineio_parser::ws::{FrameBuilder, OpCode};
/// let mut builder = FrameBuilder::new(OpCode::Text);
/// builder.extend_from_slice(b"4");
/// write!(builder, "{}", 42).unwrap();
/// assert_eq!(&builder.finish()[..], b"\x81\x034\x34\x32");
/// ```
///
/// [`finish`]: FrameBuilder::finish
#[derive(Debug)]
pub struct FrameBuilder {
    opcode: OpCode,
    buf: BytesMut,
}

impl FrameBuilder {
    /// An empty frame of this kind (normally [`OpCode::Text`] or [`OpCode::Binary`]).
    pub fn new(opcode: OpCode) -> FrameBuilder {
        FrameBuilder::with_capacity(opcode, 0)
    }

    /// An empty frame with room for a payload of `capacity` bytes before it reallocates.
    pub fn with_capacity(opcode: OpCode, capacity: usize) -> FrameBuilder {
        let mut buf = BytesMut::with_capacity(MAX_HEADER_LEN.saturating_add(capacity));
        buf.put_bytes(0, MAX_HEADER_LEN);
        FrameBuilder { opcode, buf }
    }

    /// Appends payload bytes.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The payload length so far.
    pub fn payload_len(&self) -> usize {
        self.buf.len() - MAX_HEADER_LEN
    }

    /// The complete frame (FIN set). For [`OpCode::Text`], the caller must have written UTF-8
    /// only (anything written through [`fmt::Write`] is); this is not checked.
    pub fn finish(self) -> Bytes {
        let FrameBuilder { opcode, mut buf } = self;
        let header = FrameHeader::new(opcode, true, (buf.len() - MAX_HEADER_LEN) as u64);
        let header = header.as_bytes();
        let start = MAX_HEADER_LEN - header.len();
        buf[start..MAX_HEADER_LEN].copy_from_slice(header);
        let mut frame = buf.freeze();
        bytes::Buf::advance(&mut frame, start);
        frame
    }
}

impl io::Write for FrameBuilder {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for FrameBuilder {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths_use_the_shortest_form() {
        assert_eq!(FrameHeader::new(OpCode::Binary, true, 0).as_bytes(), [0x82, 0]);
        assert_eq!(FrameHeader::new(OpCode::Binary, true, 125).as_bytes(), [0x82, 125]);
        assert_eq!(FrameHeader::new(OpCode::Binary, true, 126).as_bytes(), [0x82, 126, 0, 126]);
        assert_eq!(FrameHeader::new(OpCode::Binary, true, 0xFFFF).as_bytes(), [0x82, 126, 0xFF, 0xFF]);
        assert_eq!(
            FrameHeader::new(OpCode::Binary, true, 0x1_0000).as_bytes(),
            [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
        assert_eq!(FrameHeader::new(OpCode::Text, false, 3).as_bytes(), [0x01, 3]);
        assert_eq!(FrameHeader::new(OpCode::Continuation, true, 3).as_bytes(), [0x80, 3]);
        // The most significant bit of a 64-bit length is never sent.
        assert_eq!(FrameHeader::new(OpCode::Binary, true, u64::MAX).as_bytes()[2], 0x7F);
    }

    #[test]
    fn rfc_examples_unmasked() {
        // RFC 6455 §5.7: a single-frame unmasked text message and an unmasked ping.
        assert_eq!(&frame(OpCode::Text, b"Hello")[..], b"\x81\x05\x48\x65\x6c\x6c\x6f");
        assert_eq!(&frame(OpCode::Ping, b"Hello")[..], b"\x89\x05\x48\x65\x6c\x6c\x6f");
        // 256 bytes binary message in a single unmasked frame.
        let big = frame(OpCode::Binary, &[7; 256]);
        assert_eq!(&big[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(big.len(), 4 + 256);
        // 64KiB binary message in a single unmasked frame.
        let huge = frame(OpCode::Binary, &[7; 65536]);
        assert_eq!(&huge[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(huge.len(), 10 + 65536);
    }

    #[test]
    fn builder_matches_frame_at_every_header_size() {
        for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut builder = FrameBuilder::with_capacity(OpCode::Binary, 16);
            for chunk in payload.chunks(1000) {
                builder.extend_from_slice(chunk);
            }
            assert_eq!(builder.payload_len(), len);
            assert_eq!(builder.finish(), frame(OpCode::Binary, &payload), "length {len}");
        }
    }

    #[test]
    fn close_reason_is_cut_on_a_char_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let frame = close_frame(1001, &reason);
        assert_eq!(frame[1] as usize, 2 + 122);
        assert_eq!(&frame[2..4], [0x03, 0xE9]);
        assert!(std::str::from_utf8(&frame[4..]).is_ok());
        assert_eq!(frame.len(), 2 + 2 + 122);
    }

    #[test]
    fn opcode_nibbles() {
        for bits in 0..16u8 {
            match OpCode::from_u8(bits) {
                Some(op) => {
                    assert_eq!(op as u8, bits);
                    assert_eq!(op.is_control(), bits >= 8);
                }
                None => assert!(matches!(bits, 3..=7 | 0xB..=0xF)),
            }
        }
    }
}
