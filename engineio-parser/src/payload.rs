//! HTTP long-polling payloads: several packets in one request or response body.
//!
//! * v4: text packets joined by the record separator `\x1e`; binary data as `b<base64>`.
//! * v3 text: `<length>:<packet>` repeated, where the length counts UTF-16 code units (the
//!   JavaScript string length), `0:` for an empty payload.
//! * v3 binary (XHR2, `Content-Type: application/octet-stream`): per packet a marker byte
//!   (`0` text, `1` binary), the length as one byte per decimal digit, `0xFF`, then the packet.
//!
//! Decoding is lazy ([`Packets`] is an iterator) and never copies: every packet's data is a
//! slice of the body.

use bytes::{Buf, BufMut, Bytes};

use crate::packet::base64_len;
use crate::{Data, DecodeError, Packet, ProtocolVersion};

/// The v4 packet separator (ASCII record separator). It never occurs inside a multi-byte UTF-8
/// sequence, so splitting the raw bytes on it is safe.
pub const SEPARATOR: u8 = 0x1e;

/// The framing of a long-polling body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Protocol v4: `\x1e`-separated text packets.
    V4,
    /// Protocol v3 text: `<UTF-16 length>:<packet>`.
    V3Text,
    /// Protocol v3 binary (XHR2), sent as `application/octet-stream`.
    V3Binary,
}

impl PayloadFormat {
    /// The format of a request body: v3 bodies are binary when sent as
    /// `application/octet-stream`.
    pub fn for_request(version: ProtocolVersion, octet_stream: bool) -> Self {
        match (version, octet_stream) {
            (ProtocolVersion::V4, _) => PayloadFormat::V4,
            (ProtocolVersion::V3, false) => PayloadFormat::V3Text,
            (ProtocolVersion::V3, true) => PayloadFormat::V3Binary,
        }
    }

    /// The format the reference server answers a poll with: in v3 the binary format is used when
    /// the client supports binary (it did not ask for `b64`) and some packet is binary.
    pub fn for_response<'a>(
        version: ProtocolVersion,
        supports_binary: bool,
        packets: impl IntoIterator<Item = &'a Packet>,
    ) -> Self {
        match version {
            ProtocolVersion::V4 => PayloadFormat::V4,
            ProtocolVersion::V3 if supports_binary && packets.into_iter().any(Packet::is_binary) => {
                PayloadFormat::V3Binary
            }
            ProtocolVersion::V3 => PayloadFormat::V3Text,
        }
    }

    /// The protocol version this format belongs to.
    pub fn version(self) -> ProtocolVersion {
        match self {
            PayloadFormat::V4 => ProtocolVersion::V4,
            PayloadFormat::V3Text | PayloadFormat::V3Binary => ProtocolVersion::V3,
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            PayloadFormat::V4 | PayloadFormat::V3Text => "text/plain; charset=UTF-8",
            PayloadFormat::V3Binary => "application/octet-stream",
        }
    }
}

/// Starts decoding a long-polling body.
///
/// Fails at once when the body is larger than `max_payload` bytes; otherwise returns an iterator
/// that decodes one packet per step. The iterator yields the packets in order and stops after
/// the first error, which it yields (the packets before it are valid, as in the reference, which
/// delivers them before closing the session with `parse error`).
pub fn decode_payload(
    body: Bytes,
    format: PayloadFormat,
    max_payload: usize,
) -> Result<Packets, DecodeError> {
    if body.len() > max_payload {
        return Err(DecodeError::PayloadTooLarge { len: body.len(), max: max_payload });
    }
    Ok(Packets { body, pos: 0, format, done: false })
}

/// The packets of a long-polling body, decoded one at a time. See [`decode_payload`].
#[derive(Debug, Clone)]
#[must_use = "an iterator does nothing unless consumed"]
pub struct Packets {
    body: Bytes,
    pos: usize,
    format: PayloadFormat,
    done: bool,
}

impl Iterator for Packets {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let step = match self.format {
                PayloadFormat::V4 => Some(self.next_v4()),
                // The reference rejects an empty v3 text body (the empty payload is `0:`) but
                // reads an empty binary body as no packets.
                PayloadFormat::V3Text if self.body.is_empty() => Some(Err(DecodeError::Empty)),
                _ if self.pos >= self.body.len() => {
                    self.done = true;
                    None
                }
                PayloadFormat::V3Text => self.next_v3_text().transpose(),
                PayloadFormat::V3Binary => Some(self.next_v3_binary()),
            };
            if let Some(result) = step {
                if result.is_err() {
                    self.done = true;
                }
                return Some(result);
            }
        }
        None
    }
}

impl Packets {
    /// Splits like JavaScript's `split("\x1e")`: a trailing separator leaves an empty last
    /// entry, which (like an empty body) decodes as an invalid packet.
    fn next_v4(&mut self) -> Result<Packet, DecodeError> {
        let start = self.pos;
        let end = match memchr::memchr(SEPARATOR, &self.body[start..]) {
            Some(i) => start + i,
            None => self.body.len(),
        };
        self.pos = end + 1;
        Packet::decode_text_bytes(self.chunk(start, end), ProtocolVersion::V4)
    }

    /// The bytes `start..end` of the body, shared with it; the last packet takes the body
    /// itself, which ends the iteration.
    fn chunk(&mut self, start: usize, end: usize) -> Bytes {
        if end < self.body.len() {
            return self.body.slice(start..end);
        }
        self.done = true;
        let mut rest = std::mem::take(&mut self.body);
        rest.advance(start);
        rest
    }

    fn next_v3_text(&mut self) -> Result<Option<Packet>, DecodeError> {
        let rest = &self.body[self.pos..];
        let colon = rest
            .iter()
            .take(MAX_LENGTH_DIGITS + 1)
            .position(|&b| b == b':')
            .ok_or(DecodeError::InvalidLength)?;
        let units = parse_decimal(&rest[..colon])?;
        let start = self.pos + colon + 1;
        let len = utf16_prefix_len(&self.body[start..], units)?;
        self.pos = start + len;
        if len == 0 {
            return Ok(None);
        }
        Packet::decode_text_bytes(self.chunk(start, start + len), ProtocolVersion::V3).map(Some)
    }

    fn next_v3_binary(&mut self) -> Result<Packet, DecodeError> {
        let rest = &self.body[self.pos..];
        let is_text = match rest[0] {
            0 => true,
            1 => false,
            _ => return Err(DecodeError::InvalidLength),
        };
        let end = rest[1..]
            .iter()
            .take(MAX_LENGTH_DIGITS + 1)
            .position(|&b| b == 0xff)
            .ok_or(DecodeError::InvalidLength)?;
        let digits = &rest[1..1 + end];
        if digits.is_empty() {
            return Err(DecodeError::InvalidLength);
        }
        if digits.iter().any(|&d| d > 9) {
            return Err(DecodeError::InvalidLength);
        }
        let len = decimal_value(digits.iter().copied())?;
        let start = self.pos + 2 + end;
        if len > self.body.len() - start {
            return Err(DecodeError::LengthMismatch);
        }
        self.pos = start + len;
        let chunk = self.chunk(start, start + len);
        if is_text {
            Packet::decode_text_bytes(chunk, ProtocolVersion::V3)
        } else {
            Packet::decode_binary(chunk, ProtocolVersion::V3)
        }
    }
}

/// Lengths longer than this many digits are rejected before any arithmetic (they could not fit
/// in a body anyway), so a run of digits costs linear time and cannot overflow.
const MAX_LENGTH_DIGITS: usize = 16;

fn parse_decimal(digits: &[u8]) -> Result<usize, DecodeError> {
    if digits.is_empty() || digits.len() > MAX_LENGTH_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::InvalidLength);
    }
    decimal_value(digits.iter().map(|d| d - b'0'))
}

/// The value of decimal digits (as numbers 0–9). A value beyond `usize` (possible on 32-bit
/// targets) is longer than any body, so it is a length mismatch.
fn decimal_value(digits: impl Iterator<Item = u8>) -> Result<usize, DecodeError> {
    let mut n: usize = 0;
    for d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d)))
            .ok_or(DecodeError::LengthMismatch)?;
    }
    Ok(n)
}

/// The number of bytes of `text` that make up its first `units` UTF-16 code units.
fn utf16_prefix_len(text: &[u8], units: usize) -> Result<usize, DecodeError> {
    let mut counted = 0usize;
    let mut i = 0usize;
    while counted < units {
        let Some(&b) = text.get(i) else {
            return Err(DecodeError::LengthMismatch);
        };
        let (bytes, u) = match b {
            0x00..=0x7f => (1, 1),
            0xc0..=0xdf => (2, 1),
            0xe0..=0xef => (3, 1),
            0xf0..=0xf7 => (4, 2),
            _ => return Err(DecodeError::InvalidUtf8),
        };
        counted += u;
        i += bytes;
    }
    if counted != units || i > text.len() {
        // The length ends inside a surrogate pair or a character.
        return Err(DecodeError::LengthMismatch);
    }
    Ok(i)
}

/// The number of UTF-16 code units in `s` (its JavaScript `length`).
pub fn utf16_len(s: &str) -> usize {
    // Every character is one unit except the four-byte ones, which are two.
    let bytes = s.as_bytes();
    let continuation = bytes.iter().filter(|&&b| (b & 0xc0) == 0x80).count();
    let four_byte = bytes.iter().filter(|&&b| b >= 0xf0).count();
    bytes.len() - continuation + four_byte
}

/// Writes `packets` as one long-polling body in `format`.
///
/// An empty list encodes as the empty string in v4 and as `0:` in v3 text.
pub fn encode_payload<'a>(
    packets: impl IntoIterator<Item = &'a Packet>,
    format: PayloadFormat,
    buf: &mut impl BufMut,
) {
    let mut any = false;
    for (i, packet) in packets.into_iter().enumerate() {
        any = true;
        match format {
            PayloadFormat::V4 => {
                if i > 0 {
                    buf.put_u8(SEPARATOR);
                }
                packet.encode_text(ProtocolVersion::V4, buf);
            }
            PayloadFormat::V3Text => {
                let units = match &packet.data {
                    Data::Text(t) => 1 + utf16_len(t),
                    Data::Binary(b) => 2 + base64_len(b.len()),
                };
                put_decimal(units, buf);
                buf.put_u8(b':');
                packet.encode_text(ProtocolVersion::V3, buf);
            }
            PayloadFormat::V3Binary => match &packet.data {
                Data::Text(t) => {
                    buf.put_u8(0);
                    put_digit_bytes(1 + t.len(), buf);
                    buf.put_u8(0xff);
                    buf.put_u8(packet.kind.as_char());
                    buf.put_slice(t.as_bytes());
                }
                Data::Binary(b) => {
                    buf.put_u8(1);
                    put_digit_bytes(1 + b.len(), buf);
                    buf.put_u8(0xff);
                    buf.put_u8(packet.kind as u8);
                    buf.put_slice(b);
                }
            },
        }
    }
    if !any && format == PayloadFormat::V3Text {
        buf.put_slice(b"0:");
    }
}

/// The exact length in bytes of [`encode_payload`]'s output.
pub fn payload_len<'a>(packets: impl IntoIterator<Item = &'a Packet>, format: PayloadFormat) -> usize {
    let mut total = 0;
    let mut count = 0usize;
    for packet in packets {
        count += 1;
        let text_len = packet.text_len(format.version());
        total += match format {
            PayloadFormat::V4 => text_len,
            PayloadFormat::V3Text => {
                let units = match &packet.data {
                    Data::Text(t) => 1 + utf16_len(t),
                    Data::Binary(b) => 2 + base64_len(b.len()),
                };
                decimal_len(units) + 1 + text_len
            }
            PayloadFormat::V3Binary => {
                let len = 1 + match &packet.data {
                    Data::Text(t) => t.len(),
                    Data::Binary(b) => b.len(),
                };
                2 + decimal_len(len) + len
            }
        };
    }
    match format {
        PayloadFormat::V4 => total + count.saturating_sub(1),
        PayloadFormat::V3Text if count == 0 => 2,
        _ => total,
    }
}

fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn put_decimal(n: usize, buf: &mut impl BufMut) {
    let mut tmp = [0u8; 20];
    let len = decimal_len(n);
    let mut m = n;
    for slot in tmp[..len].iter_mut().rev() {
        *slot = b'0' + (m % 10) as u8;
        m /= 10;
    }
    buf.put_slice(&tmp[..len]);
}

fn put_digit_bytes(n: usize, buf: &mut impl BufMut) {
    let mut tmp = [0u8; 20];
    let len = decimal_len(n);
    let mut m = n;
    for slot in tmp[..len].iter_mut().rev() {
        *slot = (m % 10) as u8;
        m /= 10;
    }
    buf.put_slice(&tmp[..len]);
}
