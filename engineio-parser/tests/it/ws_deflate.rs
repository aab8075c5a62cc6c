//! permessage-deflate (RFC 7692) in the WebSocket codec: the §7.2.3 examples, negotiation of
//! real offers, the RSV1 rules, the threshold, the inflated-size limit against zip bombs, round
//! trips through `compress_frame` and a test-only client encoder, and arbitrary compressed bytes.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use engineio_parser::ws::{
    close_code, compress_frame, frame, negotiate_deflate, Decoder, DeflateConfig, DeflateParams, Limits,
    Message, OpCode, WsError,
};
use proptest::prelude::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONT: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// "Hello" compressed in one DEFLATE block, as RFC 7692 §7.2.3.1 gives it.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

/// The four octets a sender strips from the end of a compressed message (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A masked client frame: `first` is the first header byte as sent (FIN, RSV bits, opcode), the
/// length takes its shortest form.
fn client_frame(first: u8, key: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(first, KEY, payload)
}

/// The first header byte and the payload of an unmasked server frame.
fn split_server_frame(frame: &[u8]) -> (u8, &[u8]) {
    assert_eq!(frame[1] & 0x80, 0, "server frames are unmasked");
    let (header_len, len) = match frame[1] {
        126 => (4, u64::from(u16::from_be_bytes([frame[2], frame[3]]))),
        127 => (10, u64::from_be_bytes(frame[2..10].try_into().expect("eight bytes"))),
        n => (2, u64::from(n)),
    };
    assert_eq!(len, (frame.len() - header_len) as u64, "the header gives the payload's length");
    (frame[0], &frame[header_len..])
}

/// The parameters every negotiation gives.
fn params() -> DeflateParams {
    negotiate_deflate([&b"permessage-deflate"[..]]).expect("a bare offer is accepted")
}

fn negotiate(value: &str) -> Option<DeflateParams> {
    negotiate_deflate([value.as_bytes()])
}

/// The response header for one `Sec-WebSocket-Extensions` value, if an offer is accepted.
fn response(value: &str) -> Option<String> {
    negotiate(value).map(|params| params.response_header())
}

fn text(s: &str) -> Message {
    Message::Text(ByteString::from(s))
}

type Outcome = (Vec<Message>, Option<WsError>);

/// Decodes `input` fed in chunks of `chunk` bytes: every message, then the error that stops it.
fn decode_chunked(mut decoder: Decoder, input: &[u8], chunk: usize) -> Outcome {
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(error) => return (messages, Some(error)),
            }
        }
    }
    (messages, None)
}

/// The outcome of `input` through a decoder that negotiated deflate, checked to be the same
/// whole and one byte at a time.
fn decode_deflate(limits: Limits, input: &[u8]) -> Outcome {
    let whole = decode_chunked(Decoder::with_deflate(limits, params()), input, input.len());
    assert_eq!(decode_chunked(Decoder::with_deflate(limits, params()), input, 1), whole, "byte by byte");
    whole
}

#[track_caller]
fn check(input: &[u8], messages: &[Message], error: Option<WsError>) {
    assert_eq!(decode_deflate(Limits::default(), input), (messages.to_vec(), error));
}

/// The compressed payload of `data`, as `compress_frame` writes it (without [`TAIL`]).
fn compressed(data: &[u8]) -> Vec<u8> {
    let server = compress_frame(OpCode::Binary, data, &DeflateConfig::DEFAULT.with_threshold(0));
    let (first, payload) = split_server_frame(&server);
    assert_eq!(first, FIN | RSV1 | BINARY, "compressible test data");
    payload.to_vec()
}

// ---- RFC 7692 §7.2.3 examples ----

#[test]
fn rfc_hello_in_one_compressed_frame() {
    // §7.2.3.1: `c1 07 f2 48 cd c9 c9 07 00`, masked as a client sends it.
    let input = masked(FIN | RSV1 | TEXT, &HELLO);
    assert_eq!(input[..2], [0xc1, 0x87]);
    check(&input, &[text("Hello")], None);
    // A binary message compressed the same way.
    check(&masked(FIN | RSV1 | BINARY, &HELLO), &[Message::Binary(Bytes::from_static(b"Hello"))], None);
}

#[test]
fn rfc_hello_in_two_fragments() {
    // §7.2.3.1: `41 03 f2 48 cd` then `80 04 c9 c9 07 00`; RSV1 on the first fragment only.
    let first = masked(RSV1 | TEXT, &HELLO[..3]);
    let last = masked(FIN | CONT, &HELLO[3..]);
    assert_eq!([first[0], last[0]], [0x41, 0x80]);
    check(&[first.clone(), last.clone()].concat(), &[text("Hello")], None);
    // A control frame between the fragments comes out first.
    let ping = masked(FIN | PING, b"p");
    check(&[first, ping, last].concat(), &[Message::Ping(Bytes::from_static(b"p")), text("Hello")], None);
}

#[test]
fn rfc_other_block_layouts() {
    for payload in [
        // §7.2.3.3: a stored (uncompressed) DEFLATE block.
        &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00][..],
        // §7.2.3.4: a final block (BFINAL set); bytes after the end of the stream are ignored.
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        // §7.2.3.5: two blocks in one message.
        &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00],
    ] {
        check(&masked(FIN | RSV1 | TEXT, payload), &[text("Hello")], None);
    }
    // §7.2.3.6: an empty message compresses to `00`, or to nothing at all.
    check(&masked(FIN | RSV1 | TEXT, &[0x00]), &[text("")], None);
    check(&masked(FIN | RSV1 | BINARY, &[]), &[Message::Binary(Bytes::new())], None);
}

#[test]
fn no_context_is_taken_over_from_the_previous_message() {
    // §7.2.3.2: the second "Hello" refers back to the first message, which a client may not do
    // after `client_no_context_takeover`. The decoder keeps nothing of the first message, so the
    // reference cannot give "Hello" again: the window before a message reads as zeros.
    let first = masked(FIN | RSV1 | TEXT, &HELLO);
    let second = masked(FIN | RSV1 | TEXT, &[0xf2, 0x00, 0x11, 0x00, 0x00]);
    let (messages, error) = decode_deflate(Limits::default(), &[first, second].concat());
    assert_eq!(messages[0], text("Hello"));
    assert!(messages.get(1).is_none_or(|second| *second != text("Hello")), "{messages:?}");
    assert!(error.is_none_or(|error| error == WsError::InvalidCompressedData), "{error:?}");
}

#[test]
fn invalid_deflate_data_is_refused() {
    // Block type 3 is reserved (RFC 1951 §3.2.3); a stored block whose NLEN is not !LEN.
    for payload in [&[0xff][..], &[0x00, 0x05, 0x00, 0x00, 0x00, b'H']] {
        check(&masked(FIN | RSV1 | BINARY, payload), &[], Some(WsError::InvalidCompressedData));
    }
    assert_eq!(WsError::InvalidCompressedData.close_code(), close_code::INVALID_DATA);
}

#[test]
fn text_is_utf8_checked_after_inflating() {
    let invalid = compressed(&[0xC3; 64]);
    check(&masked(FIN | RSV1 | TEXT, &invalid), &[], Some(WsError::InvalidUtf8));
    // A code point cut between two fragments of the compressed data is fine: the check is on
    // the inflated message.
    let whole = "é".repeat(100);
    let data = compressed(whole.as_bytes());
    let input = [masked(RSV1 | TEXT, &data[..1]), masked(FIN | CONT, &data[1..])].concat();
    check(&input, &[text(&whole)], None);
}

// ---- RSV bits ----

#[test]
fn rsv1_is_refused_when_deflate_was_not_negotiated() {
    let mut decoder = Decoder::new(Limits::default());
    assert!(decoder.deflate().is_none());
    let mut buf = BytesMut::from(&masked(FIN | RSV1 | TEXT, &HELLO)[..]);
    assert_eq!(decoder.decode(&mut buf), Err(WsError::ReservedBits));
    assert_eq!(Decoder::with_deflate(Limits::default(), params()).deflate(), Some(&params()));
}

#[test]
fn rsv1_only_opens_a_data_message() {
    let open = masked(RSV1 | TEXT, &HELLO[..3]);
    // On a continuation frame.
    check(&[open.clone(), masked(FIN | RSV1 | CONT, &HELLO[3..])].concat(), &[], Some(WsError::ReservedBits));
    check(&[masked(TEXT, b"a"), masked(FIN | RSV1 | CONT, b"b")].concat(), &[], Some(WsError::ReservedBits));
    // On control frames, even between the fragments of a compressed message.
    for control in [CLOSE, PING, PONG] {
        check(&masked(FIN | RSV1 | control, &[]), &[], Some(WsError::ReservedBits));
        let input = [open.clone(), masked(FIN | RSV1 | control, &[])].concat();
        check(&input, &[], Some(WsError::ReservedBits));
    }
    // RSV2 and RSV3 stay reserved, alone or with RSV1.
    for rsv in [RSV2, RSV3, RSV1 | RSV2, RSV1 | RSV3, RSV1 | RSV2 | RSV3] {
        check(&masked(FIN | rsv | TEXT, &HELLO), &[], Some(WsError::ReservedBits));
    }
    // A new compressed message while one is open.
    check(&[open, masked(FIN | RSV1 | TEXT, &HELLO)].concat(), &[], Some(WsError::ExpectedContinuation));
}

#[test]
fn uncompressed_messages_are_unchanged_with_deflate() {
    // Without RSV1 a message is taken as before: unmasked in place, split off without a copy.
    let payload = vec![0x5A; 1000];
    let mut buf = BytesMut::from(&masked(FIN | BINARY, &payload)[..]);
    let payload_at = buf[8..].as_ptr();
    let mut decoder = Decoder::with_deflate(Limits::default(), params());
    let Ok(Some(Message::Binary(bytes))) = decoder.decode(&mut buf) else { panic!("no message") };
    assert_eq!(bytes, payload);
    assert_eq!(bytes.as_ptr(), payload_at, "the payload was copied");
    let input = [masked(TEXT, b"Hel"), masked(FIN | CONT, b"lo"), masked(FIN | TEXT, b"!")].concat();
    check(&input, &[text("Hello"), text("!")], None);
}

#[test]
fn no_state_is_left_between_messages() {
    let mut decoder = Decoder::with_deflate(Limits::default(), params());
    let mut buf = BytesMut::from(&masked(RSV1 | TEXT, &HELLO[..3])[..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(decoder.has_partial_message(), "compressed fragments are held like any fragment");
    buf.extend_from_slice(&masked(FIN | CONT, &HELLO[3..]));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(text("Hello"))));
    assert!(!decoder.has_partial_message() && buf.is_empty());
    // The same decoder inflates the next message from scratch.
    buf.extend_from_slice(&masked(FIN | RSV1 | TEXT, &HELLO));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(text("Hello"))));
}

// ---- negotiation ----

const RESPONSE: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

#[test]
fn browser_offers_are_accepted() {
    // Chrome, Edge and the `ws` client (which socket.io-client uses in Node) send the first,
    // Firefox the second.
    for offer in ["permessage-deflate; client_max_window_bits", "permessage-deflate"] {
        assert_eq!(response(offer).as_deref(), Some(RESPONSE), "{offer}");
    }
}

#[test]
fn node_ws_offers_are_accepted() {
    for offer in [
        // `ws` with every `perMessageDeflate` option it has set.
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         client_max_window_bits=10",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=\"12\"",
        // Spaces and tabs around separators, names in any case.
        "  PerMessage-Deflate ;\tClient_Max_Window_Bits = 8 ;server_no_context_takeover ",
    ] {
        assert_eq!(response(offer).as_deref(), Some(RESPONSE), "{offer}");
    }
    // A limit on our window is accepted when it is the window we use, and then repeated.
    for offer in
        ["permessage-deflate; server_max_window_bits=15", "permessage-deflate;server_max_window_bits=\"15\""]
    {
        assert_eq!(response(offer), Some(format!("{RESPONSE}; server_max_window_bits=15")), "{offer}");
    }
}

#[test]
fn the_first_acceptable_offer_wins() {
    // `ws` sends its preferred configuration first and fallbacks after it.
    let offers = "permessage-deflate; server_max_window_bits=10; client_max_window_bits, \
                  permessage-deflate; server_max_window_bits=15, permessage-deflate";
    assert_eq!(response(offers), Some(format!("{RESPONSE}; server_max_window_bits=15")));
    // Other extensions are skipped, in the same value or another header line.
    let params = negotiate_deflate([&b"x-webkit-deflate-frame"[..], b"foo; a=\"b, c\", permessage-deflate"]);
    assert_eq!(params.map(|p| p.response_header()).as_deref(), Some(RESPONSE));
    let params = negotiate_deflate([&b"permessage-deflate; bogus"[..], b"permessage-deflate"]);
    assert_eq!(params.map(|p| p.response_header()).as_deref(), Some(RESPONSE));
}

#[test]
fn malformed_or_unsupported_offers_are_declined() {
    for offer in [
        "",
        ",",
        "x-webkit-deflate-frame",
        "permessage-deflate-x",
        "permessage-deflate; unknown",
        "permessage-deflate; unknown=1",
        "permessage-deflate;",
        "permessage-deflate; ; client_max_window_bits",
        // Parameters given twice.
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        // Values where none belongs, none where one is needed.
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=",
        // Window sizes out of 8..=15, with leading zeros, not decimal, or badly quoted.
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=0x0f",
        "permessage-deflate; client_max_window_bits=\"10",
        "permessage-deflate; client_max_window_bits=\"\"",
        "permessage-deflate; client_max_window_bits=1 0",
        "permessage-deflate; server_max_window_bits=99999999999999999999",
        // A smaller server window than our compressor's 2^15 bytes.
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=14",
    ] {
        assert_eq!(negotiate(offer), None, "{offer:?}");
    }
    assert_eq!(negotiate_deflate(std::iter::empty()), None);
}

// ---- compressing ----

#[test]
fn the_threshold_keeps_small_messages_uncompressed() {
    let config = DeflateConfig::default();
    assert_eq!((config.threshold, config.level), (1024, 1));
    let below = "a".repeat(1023);
    assert_eq!(
        compress_frame(OpCode::Text, below.as_bytes(), &config),
        frame(OpCode::Text, below.as_bytes())
    );
    let at = "a".repeat(1024);
    let compressed = compress_frame(OpCode::Text, at.as_bytes(), &config);
    assert_eq!(compressed[0], FIN | RSV1 | TEXT);
    assert!(compressed.len() < 40, "{}", compressed.len());
    check(&masked(compressed[0], split_server_frame(&compressed).1), &[text(&at)], None);
}

#[test]
fn frames_that_would_not_shrink_are_sent_uncompressed() {
    let always = DeflateConfig::default().with_threshold(0);
    // Compressed, "Hello" takes 7 bytes (RFC 7692 §7.2.3.1): not worth it.
    assert_eq!(compress_frame(OpCode::Text, b"Hello", &always), frame(OpCode::Text, b"Hello"));
    assert_eq!(compress_frame(OpCode::Binary, b"", &always), frame(OpCode::Binary, b""));
    // Bytes that do not compress.
    let mut state: u64 = 7;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    assert_eq!(compress_frame(OpCode::Binary, &noise, &always), frame(OpCode::Binary, &noise));
    // Level 0 only stores.
    let text = "abc".repeat(1000);
    assert_eq!(
        compress_frame(OpCode::Text, text.as_bytes(), &always.with_level(0)),
        frame(OpCode::Text, text.as_bytes())
    );
    // Control frames are never compressed (RFC 7692 §6).
    for opcode in [OpCode::Ping, OpCode::Pong, OpCode::Close] {
        assert_eq!(compress_frame(opcode, &[b'a'; 125], &always), frame(opcode, &[b'a'; 125]));
    }
}

/// `len` characters from a 16-letter alphabet, picked by a fixed pseudo-random sequence: about
/// half the size once compressed.
fn hex_text(len: usize) -> String {
    let mut state: u32 = 1;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b"0123456789abcdef"[(state >> 16) as usize & 15])
        })
        .collect()
}

#[test]
fn compressed_frames_are_deterministic_and_use_every_header_size() {
    let config = DeflateConfig::default();
    for (text, header_len) in [("abc".repeat(700), 2), (hex_text(20_000), 4), (hex_text(300_000), 10)] {
        let one = compress_frame(OpCode::Text, text.as_bytes(), &config);
        assert_eq!(one, compress_frame(OpCode::Text, text.as_bytes(), &config), "same input, same frame");
        assert_eq!(one[0], FIN | RSV1 | TEXT);
        let (_, payload) = split_server_frame(&one);
        assert_eq!(one.len() - payload.len(), header_len, "length {}", text.len());
        let limits = Limits::default().with_max_message_size(text.len());
        let input = masked(one[0], payload);
        let decoded = decode_chunked(Decoder::with_deflate(limits, params()), &input, 4096);
        assert_eq!(decoded, (vec![text_message(&text)], None));
    }
}

fn text_message(s: &str) -> Message {
    Message::Text(ByteString::from(s.to_owned()))
}

// ---- limits ----

#[test]
fn the_inflated_size_limit_is_exact() {
    let data = compressed(&[b'a'; 4096]);
    let input = masked(FIN | RSV1 | BINARY, &data);
    let limits = Limits::default().with_max_message_size(4096);
    assert_eq!(decode_deflate(limits, &input), (vec![Message::Binary(Bytes::from(vec![b'a'; 4096]))], None));
    let limits = Limits::default().with_max_message_size(4095);
    assert_eq!(
        decode_deflate(limits, &input),
        (vec![], Some(WsError::MessageTooBig { size: 4096, limit: 4095 }))
    );
    // Over fragments too: the limit is on the whole inflated message.
    let input = [masked(RSV1 | BINARY, &data[..2]), masked(FIN | CONT, &data[2..])].concat();
    assert_eq!(decode_deflate(limits, &input).1, Some(WsError::MessageTooBig { size: 4096, limit: 4095 }));
    // The compressed size is held to the limit from the headers, as for any message.
    let limits = Limits::default().with_max_message_size(data.len() - 1);
    let size = data.len() as u64;
    assert_eq!(
        decode_deflate(limits, &input).1,
        Some(WsError::MessageTooBig { size, limit: data.len() - 1 })
    );
}

#[test]
fn a_zip_bomb_stops_just_past_the_limit() {
    // 160 sync-flushed copies of 64 KiB of zeros: about 10 MiB once inflated, from a frame of a
    // few KiB. Each copy refers only to itself, so the copies can be laid end to end.
    let chunk = compressed(&[0; 65536]);
    let mut bomb = Vec::new();
    for _ in 0..160 {
        bomb.extend_from_slice(&chunk);
        bomb.extend_from_slice(&TAIL);
    }
    bomb.truncate(bomb.len() - TAIL.len());
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let input = masked(FIN | RSV1 | BINARY, &bomb);
    let limits = Limits::default();
    // Inflating stops at the first byte past the limit: the 10 MiB are never produced, and the
    // output buffer never grows past `limit + 1` bytes.
    let outcome = decode_chunked(Decoder::with_deflate(limits, params()), &input, input.len());
    assert_eq!(outcome, (vec![], Some(WsError::MessageTooBig { size: 1_000_001, limit: 1_000_000 })));
    assert_eq!(WsError::MessageTooBig { size: 0, limit: 0 }.close_code(), close_code::TOO_BIG);
    // With a limit above it, the same frame inflates in full.
    let limits = limits.with_max_message_size(160 * 65536);
    let (messages, error) = decode_chunked(Decoder::with_deflate(limits, params()), &input, input.len());
    assert_eq!(error, None);
    assert!(
        matches!(&messages[..], [Message::Binary(b)] if b.len() == 160 * 65536 && b.iter().all(|&x| x == 0))
    );
}

// ---- properties ----

/// Data that compresses: words from a small vocabulary, or runs of a few bytes.
fn compressible() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(
            prop::sample::select(vec!["4", "{\"a\":", "1", "hello", " ", "é", "[]"]),
            0..800
        )
        .prop_map(|words| words.concat().into_bytes()),
        prop::collection::vec((any::<u8>(), 1usize..64), 0..100)
            .prop_map(|runs| runs.into_iter().flat_map(|(b, n)| std::iter::repeat_n(b, n)).collect()),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

/// Masks the payload of a server frame as a client would send it, cut into fragments at `cuts`
/// (RSV1 stays on the first one only).
fn as_client_fragments(server: &[u8], cuts: &[usize], key: [u8; 4]) -> Vec<u8> {
    let (first, payload) = split_server_frame(server);
    let mut cuts: Vec<usize> = cuts.iter().map(|&cut| cut.min(payload.len())).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&payload[start..cut]);
        start = cut;
    }
    pieces.push(&payload[start..]);
    let last = pieces.len() - 1;
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let head = if i == 0 { first & !FIN } else { CONT };
        let fin = if i == last { FIN } else { 0 };
        out.extend(client_frame(head | fin, key, piece));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        // `PROPTEST_CASES` lowers the count for mutation runs; the test command uses the default.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        ..ProptestConfig::default()
    })]

    #[test]
    fn compressed_frames_round_trip(
        data in compressible(),
        as_text in any::<bool>(),
        threshold in 0usize..600,
        level in 0u32..=10,
        cuts in prop::collection::vec(0usize..400, 0..4),
        key in any::<[u8; 4]>(),
        chunk in 1usize..64,
    ) {
        let (opcode, message) = match String::from_utf8(data.clone()) {
            Ok(s) if as_text => (OpCode::Text, Message::Text(ByteString::from(s))),
            _ => (OpCode::Binary, Message::Binary(Bytes::from(data.clone()))),
        };
        let config = DeflateConfig::default().with_threshold(threshold).with_level(level);
        let server = compress_frame(opcode, &data, &config);
        let plain = frame(opcode, &data);
        if server[0] & RSV1 == 0 {
            prop_assert_eq!(&server, &plain);
        } else {
            prop_assert!(data.len() >= threshold);
            prop_assert!(split_server_frame(&server).1.len() < data.len(), "compressed only when smaller");
        }
        if data.len() < threshold {
            prop_assert_eq!(&server, &plain);
        }
        let input = as_client_fragments(&server, &cuts, key);
        let limits = Limits::default().with_max_message_size(data.len().max(1));
        let decoded = decode_chunked(Decoder::with_deflate(limits, params()), &input, chunk);
        prop_assert_eq!(decoded, (vec![message], None));
        // Without deflate, the same bytes are refused exactly when they are compressed.
        let (_, error) = decode_chunked(Decoder::new(limits), &input, input.len());
        prop_assert_eq!(error == Some(WsError::ReservedBits), server[0] & RSV1 != 0);
    }

    #[test]
    fn arbitrary_compressed_bytes_never_panic(
        payload in prop::collection::vec(any::<u8>(), 0..600),
        first in prop_oneof![Just(RSV1 | TEXT), Just(RSV1 | BINARY)],
        cut in prop::option::of(0usize..600),
        limit in 0usize..5000,
    ) {
        let input = match cut {
            Some(cut) => {
                let cut = cut.min(payload.len());
                [masked(first, &payload[..cut]), masked(FIN | CONT, &payload[cut..])].concat()
            }
            None => masked(FIN | first, &payload),
        };
        let limits = Limits::default().with_max_message_size(limit);
        let whole = decode_chunked(Decoder::with_deflate(limits, params()), &input, input.len());
        prop_assert_eq!(decode_chunked(Decoder::with_deflate(limits, params()), &input, 7), whole.clone());
        if let (messages, None) = whole {
            prop_assert_eq!(messages.len(), 1);
        }
    }

    #[test]
    fn damaged_compressed_data_never_panics(
        data in compressible(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        limit in 0usize..5000,
    ) {
        // Valid DEFLATE data with a few bytes changed reaches deeper into the inflater than noise.
        let server = compress_frame(OpCode::Binary, &data, &DeflateConfig::default().with_threshold(0));
        let (_, payload) = split_server_frame(&server);
        let mut payload = payload.to_vec();
        if !payload.is_empty() {
            for (at, byte) in &damage {
                let at = at.index(payload.len());
                payload[at] ^= byte;
            }
        }
        let input = masked(FIN | RSV1 | BINARY, &payload);
        let limits = Limits::default().with_max_message_size(limit);
        let outcome = decode_chunked(Decoder::with_deflate(limits, params()), &input, input.len());
        if let (messages, None) = &outcome {
            prop_assert!(matches!(&messages[..], [Message::Binary(b)] if b.len() <= limit));
        }
    }
}
