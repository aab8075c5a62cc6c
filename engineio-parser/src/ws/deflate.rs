//! The permessage-deflate extension (RFC 7692), without context takeover in either direction:
//! every message is compressed and inflated on its own, so a connection holds no compression
//! state between messages.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::decode::WsError;
use super::frame::{frame, FrameHeader, OpCode, MAX_HEADER_LEN};

/// The extension's name in `Sec-WebSocket-Extensions` (RFC 7692 §7).
const EXTENSION: &[u8] = b"permessage-deflate";

/// The four octets a sync flush ends with: stripped from a compressed message by the sender and
/// appended again by the receiver (RFC 7692 §7.2.1 and §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The parameters an offer may have (RFC 7692 §7.1).
const PARAMETERS: [&[u8]; 4] = [
    b"server_no_context_takeover",
    b"client_no_context_takeover",
    b"server_max_window_bits",
    b"client_max_window_bits",
];

/// The base-2 logarithm of the LZ77 window our compressor uses. The rust backend of `flate2`
/// (`miniz_oxide`) cannot make it smaller, so an offer that limits the server's window below it
/// is declined.
const WINDOW_BITS: u8 = 15;

/// How the server compresses the messages it sends over a connection that negotiated
/// permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Payloads shorter than this many bytes are sent uncompressed. Default 1024, as the
    /// reference server's `perMessageDeflate.threshold`: on a small message compression saves a
    /// few bytes and costs a compressor set up and torn down.
    pub threshold: usize,
    /// The DEFLATE level, 0 (stored, no compression) to 9 (smallest output, slowest); higher
    /// values count as 9. Default 1, the fastest level that compresses: Engine.IO packets are
    /// mostly JSON text, which already shrinks well at it.
    pub level: u32,
}

impl DeflateConfig {
    /// The default configuration: threshold 1024 bytes, level 1.
    pub const DEFAULT: DeflateConfig = DeflateConfig { threshold: 1024, level: 1 };

    /// This configuration with another [`threshold`](DeflateConfig::threshold).
    pub const fn with_threshold(mut self, threshold: usize) -> DeflateConfig {
        self.threshold = threshold;
        self
    }

    /// This configuration with another [`level`](DeflateConfig::level).
    pub const fn with_level(mut self, level: u32) -> DeflateConfig {
        self.level = level;
        self
    }
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig::DEFAULT
    }
}

/// The permessage-deflate parameters agreed with one client, from [`negotiate_deflate`].
///
/// They are always the same in substance: `server_no_context_takeover` and
/// `client_no_context_takeover` (each message stands alone in both directions) and a server
/// window of 2¹⁵ bytes. Only the response header's wording depends on the offer, so one
/// [`compress_frame`] output suits every client that negotiated the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The accepted offer had `server_max_window_bits` (necessarily 15), which the response must
    /// repeat to accept it (RFC 7692 §7.1.2.1).
    server_max_window_bits: bool,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` value for the `101` response, for example
    /// `permessage-deflate; server_no_context_takeover; client_no_context_takeover`.
    ///
    /// `server_no_context_takeover` is ours to declare (RFC 7692 §7.1.1.1), and a server may
    /// include `client_no_context_takeover` whether or not the client offered it, after which the
    /// client must not use context takeover (§7.1.1.2). `client_max_window_bits` is never sent:
    /// the inflater accepts any window up to 2¹⁵ bytes, the default.
    pub fn response_header(&self) -> String {
        let mut value =
            String::from("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
        if self.server_max_window_bits {
            value.push_str("; server_max_window_bits=15");
        }
        value
    }
}

/// Picks the first permessage-deflate offer of a request this server can accept (RFC 7692
/// §7.1), or `None` to answer without the extension (the client then sends uncompressed
/// frames, and a [`Decoder`](super::Decoder) made with [`Decoder::new`](super::Decoder::new)
/// refuses RSV1).
///
/// `values` are the request's `Sec-WebSocket-Extensions` header values, each a comma-separated
/// list of offers (`http::HeaderMap::get_all(..).iter().map(|v| v.as_bytes())`, or
/// `[value]` for one). Offers of other extensions are skipped. A permessage-deflate offer is
/// declined, and the next one tried, when it (§7.1):
///
/// * has a parameter other than `server_no_context_takeover`, `client_no_context_takeover`,
///   `server_max_window_bits` and `client_max_window_bits`, or one of them twice;
/// * gives a value to either `*_no_context_takeover`, omits the value of
///   `server_max_window_bits`, or gives a window size that is not a decimal from 8 to 15 without
///   leading zeros (a quoted value is unquoted first, RFC 6455 §9.1);
/// * asks for `server_max_window_bits` below 15, which our compressor cannot honour.
///
/// Names are matched ASCII case-insensitively.
///
/// ```
/// use engineio_parser::ws::negotiate_deflate;
/// // What browsers and the `ws` client offer.
/// let params = negotiate_deflate([&b"permessage-deflate; client_max_window_bits"[..]]).unwrap();
/// assert_eq!(
///     params.response_header(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
/// );
/// assert_eq!(negotiate_deflate([&b"permessage-deflate; server_max_window_bits=10"[..]]), None);
/// ```
pub fn negotiate_deflate<'h>(values: impl IntoIterator<Item = &'h [u8]>) -> Option<DeflateParams> {
    values.into_iter().flat_map(|value| Unquoted::split(value, b',')).find_map(accept_offer)
}

/// The parameters of one offer (one element of the list), if it is an acceptable
/// permessage-deflate offer.
fn accept_offer(offer: &[u8]) -> Option<DeflateParams> {
    let mut parts = Unquoted::split(offer, b';');
    let name = trim(parts.next()?);
    if !name.eq_ignore_ascii_case(EXTENSION) {
        return None;
    }
    let mut seen = [false; 4];
    let mut params = DeflateParams { server_max_window_bits: false };
    for param in parts {
        let (name, value) = match param.iter().position(|&b| b == b'=') {
            Some(at) => (trim(&param[..at]), Some(trim(&param[at + 1..]))),
            None => (trim(param), None),
        };
        let index = PARAMETERS.iter().position(|known| name.eq_ignore_ascii_case(known))?;
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
        match (PARAMETERS[index], value) {
            (b"server_no_context_takeover" | b"client_no_context_takeover", None) => {}
            (b"server_max_window_bits", Some(value)) => {
                if window_bits(value)? < WINDOW_BITS {
                    return None;
                }
                params.server_max_window_bits = true;
            }
            (b"client_max_window_bits", None) => {}
            (b"client_max_window_bits", Some(value)) => {
                window_bits(value)?;
            }
            _ => return None,
        }
    }
    Some(params)
}

/// A window size parameter's value: a decimal from 8 to 15 without leading zeros (RFC 7692
/// §7.1.2.1 and §7.1.2.2), bare or as a quoted string (backslash escapes allowed).
fn window_bits(value: &[u8]) -> Option<u8> {
    let (quoted, inner) = match value {
        [b'"', inner @ .., b'"'] => (true, inner),
        [b'"', ..] => return None,
        bare => (false, bare),
    };
    let mut bits: u8 = 0;
    let mut digits = 0;
    let mut escaped = false;
    for &b in inner {
        if quoted && !escaped && b == b'\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        if !b.is_ascii_digit() || (digits == 0 && b == b'0') || digits == 2 {
            return None;
        }
        bits = bits * 10 + (b - b'0');
        digits += 1;
    }
    (!escaped && (8..=15).contains(&bits)).then_some(bits)
}

/// Trims optional whitespace (spaces and tabs) from both ends.
fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// Splits a header value at a separator outside quoted strings (RFC 7230 §3.2.6). An unterminated
/// quoted string runs to the end, where it makes its parameter invalid.
struct Unquoted<'a> {
    rest: Option<&'a [u8]>,
    separator: u8,
}

impl<'a> Unquoted<'a> {
    fn split(value: &'a [u8], separator: u8) -> Unquoted<'a> {
        Unquoted { rest: Some(value), separator }
    }
}

impl<'a> Iterator for Unquoted<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, &b) in rest.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted {
                match b {
                    b'\\' => escaped = true,
                    b'"' => quoted = false,
                    _ => {}
                }
            } else if b == b'"' {
                quoted = true;
            } else if b == self.separator {
                self.rest = Some(&rest[i + 1..]);
                return Some(&rest[..i]);
            }
        }
        self.rest = None;
        Some(rest)
    }
}

/// One final server frame carrying `payload`, compressed with permessage-deflate (RSV1 set, RFC
/// 7692 §7.2.1) when that is worth it, for a client that negotiated the extension.
///
/// The payload goes uncompressed, exactly as [`frame`] writes it, when it is shorter than
/// [`DeflateConfig::threshold`], when `opcode` is a control opcode (control frames are never
/// compressed, §6), or when compression would not make it smaller. Otherwise it is compressed
/// on its own, with a compressor created for it and dropped before returning (no context
/// takeover), ended by a sync flush whose final `00 00 ff ff` is left out (§7.2.1).
///
/// A server frame is not masked and the agreed parameters are the same for every client (see
/// [`DeflateParams`]), so the result can be shared by every recipient of a broadcast that
/// negotiated the extension: compress a broadcast once. That matters because each call sets up
/// a compressor, whose tables take a few hundred KB while it runs. For [`OpCode::Text`] the
/// payload must be UTF-8 (not checked).
///
/// ```
/// use engineio_parser::ws::{compress_frame, frame, DeflateConfig, OpCode};
/// let text = "hello, ".repeat(200);
/// let compressed = compress_frame(OpCode::Text, text.as_bytes(), &DeflateConfig::DEFAULT);
/// assert_eq!(compressed[0], 0xC1); // FIN, RSV1, text
/// assert!(compressed.len() < 100);
/// // Under the threshold, the frame `frame` writes.
/// assert_eq!(compress_frame(OpCode::Text, b"hi", &DeflateConfig::DEFAULT), frame(OpCode::Text, b"hi"));
/// ```
pub fn compress_frame(opcode: OpCode, payload: &[u8], config: &DeflateConfig) -> Bytes {
    if payload.len() < config.threshold || opcode.is_control() {
        return frame(opcode, payload);
    }
    match compress(payload, config.level) {
        Some(compressed) => compressed.finish(opcode),
        None => frame(opcode, payload),
    }
}

/// A compressed payload with [`MAX_HEADER_LEN`] free bytes in front of it.
struct Compressed(Vec<u8>);

impl Compressed {
    /// The final frame: the header with RSV1 written right before the payload.
    fn finish(self, opcode: OpCode) -> Bytes {
        let Compressed(mut buf) = self;
        let payload_len = buf.len() - MAX_HEADER_LEN;
        let header = FrameHeader::new(opcode, true, payload_len as u64).with_rsv1();
        let header = header.as_bytes();
        let start = MAX_HEADER_LEN - header.len();
        buf[start..MAX_HEADER_LEN].copy_from_slice(header);
        shrink_spare(&mut buf);
        let mut frame = Bytes::from(buf);
        bytes::Buf::advance(&mut frame, start);
        frame
    }
}

/// Frees the spare capacity of `buf` when it is more than a quarter of its length: a frame
/// may wait in a slow client's queue.
fn shrink_spare(buf: &mut Vec<u8>) {
    if buf.capacity() - buf.len() > buf.len() / 4 {
        buf.shrink_to_fit();
    }
}

/// `payload` as one raw DEFLATE stream ended by a sync flush, without the flush's final
/// [`TAIL`]; `None` when that is not shorter than `payload`.
fn compress(payload: &[u8], level: u32) -> Option<Compressed> {
    let mut compressor = Compress::new(Compression::new(level.min(9)), false);
    // Room for a result shorter than the payload, plus the tail that is cut off: a full buffer
    // means compression does not pay.
    let mut buf = Vec::with_capacity(MAX_HEADER_LEN + payload.len() + TAIL.len());
    buf.resize(MAX_HEADER_LEN, 0);
    compressor.compress_vec(payload, &mut buf, FlushCompress::Sync).ok()?;
    // With output room left the call took the whole payload and ended with the sync flush,
    // whose last bytes are `TAIL`; a full buffer means the result is not shorter.
    if buf.len() == buf.capacity() || !buf.ends_with(&TAIL) {
        return None;
    }
    buf.truncate(buf.len() - TAIL.len());
    Some(Compressed(buf))
}

/// Inflates the payload of a compressed message (RFC 7692 §7.2.2): the payload, then [`TAIL`],
/// through a raw DEFLATE inflater created for this message (no context takeover) and dropped
/// before returning.
///
/// The output grows as it fills and never beyond `limit + 1` bytes: a message that inflates to
/// more than `limit` bytes is [`WsError::MessageTooBig`] as soon as byte `limit + 1` comes out,
/// however much more the input would give. Input after the end of a final block is ignored.
pub(super) fn inflate(compressed: &[u8], limit: usize) -> Result<Vec<u8>, WsError> {
    let cap = limit.saturating_add(1);
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity(cap.min(compressed.len().saturating_mul(4).max(256)));
    'inputs: for input in [compressed, &TAIL[..]] {
        let mut input = input;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    break 'inputs;
                }
                out.reserve_exact(out.len().max(256).min(cap - out.len()));
            }
            let (in_before, out_before) = (inflater.total_in(), out.len());
            let status = inflater
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|_| WsError::InvalidCompressedData)?;
            // At most `input.len()`: the inflater reads no more than it is given.
            let read = usize::try_from(inflater.total_in() - in_before).unwrap_or(input.len());
            input = &input[read.min(input.len())..];
            if status == Status::StreamEnd {
                break 'inputs;
            }
            let room = out.len() < out.capacity();
            let stuck = read == 0 && out.len() == out_before;
            // With room left over, the inflater gave all it could from this input.
            if room && (input.is_empty() || stuck) {
                break;
            }
        }
    }
    if out.len() > limit {
        return Err(WsError::MessageTooBig { size: out.len() as u64, limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_bits_values() {
        for (value, bits) in [
            (&b"8"[..], Some(8)),
            (b"15", Some(15)),
            (b"\"10\"", Some(10)),
            (b"\"1\\0\"", Some(10)),
            (b"7", None),
            (b"16", None),
            (b"08", None),
            (b"015", None),
            (b"", None),
            (b"\"\"", None),
            (b"\"", None),
            (b"\"9", None),
            (b"9\"", None),
            (b"1\\0", None),
            (b"+9", None),
            (b"9 ", None),
            (b"255", None),
        ] {
            assert_eq!(window_bits(value), bits, "{:?}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn splitting_respects_quotes() {
        let parts: Vec<&[u8]> = Unquoted::split(b"a; b=\"x;y\\\";\"; c", b';').collect();
        assert_eq!(parts, [&b"a"[..], b" b=\"x;y\\\";\"", b" c"]);
        let parts: Vec<&[u8]> = Unquoted::split(b"", b',').collect();
        assert_eq!(parts, [&b""[..]]);
    }

    #[test]
    fn inflate_grows_to_the_limit_and_no_further() {
        let compressed = compress(&[b'a'; 5000], 1).expect("compressible").0.split_off(MAX_HEADER_LEN);
        assert_eq!(inflate(&compressed, 5000), Ok(vec![b'a'; 5000]));
        assert_eq!(inflate(&compressed, 4999), Err(WsError::MessageTooBig { size: 5000, limit: 4999 }));
        assert_eq!(inflate(&compressed, 0), Err(WsError::MessageTooBig { size: 1, limit: 0 }));
    }
}
