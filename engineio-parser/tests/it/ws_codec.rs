//! The WebSocket codec against RFC 6455: the §5.7 examples, every decoder rule, the limits,
//! input split at every byte, and round trips through a test-only client encoder.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use engineio_parser::ws::{
    close_code, close_frame, frame, CloseFrame, Decoder, FrameBuilder, Limits, Message, OpCode, WsError,
};
use proptest::prelude::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const FIN: u8 = 0x80;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONT: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A client frame: `first` is the first header byte as sent (FIN, RSV bits, opcode), the payload
/// is masked with `mask` if there is one, and the length takes its shortest form.
fn client_frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A masked client frame with the RFC's example key.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(first, Some(KEY), payload)
}

fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

fn text(s: &str) -> Message {
    Message::Text(ByteString::from(s))
}

fn binary(b: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(b))
}

type Outcome = (Vec<Message>, Option<WsError>);

/// Decodes `input` given whole: every message, then the error if one stops it.
fn decode_whole(limits: Limits, input: &[u8]) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(input);
    let mut messages = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(message)) => messages.push(message),
            Ok(None) => return (messages, None),
            Err(error) => return (messages, Some(error)),
        }
    }
}

/// Decodes `input` fed in chunks of the given sizes (the last one repeated).
fn decode_chunked(limits: Limits, input: &[u8], sizes: &[usize]) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().copied().chain(std::iter::repeat(sizes.last().copied().unwrap_or(1)));
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(1).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..size]);
        rest = &rest[size..];
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

/// Checks the outcome of `input`, whole and one byte at a time.
#[track_caller]
fn check_with(limits: Limits, input: &[u8], messages: &[Message], error: Option<WsError>) {
    let whole = decode_whole(limits, input);
    assert_eq!(whole, (messages.to_vec(), error), "whole input");
    assert_eq!(decode_chunked(limits, input, &[1]), whole, "one byte at a time");
}

#[track_caller]
fn check(input: &[u8], messages: &[Message], error: Option<WsError>) {
    check_with(Limits::default(), input, messages, error);
}

// ---- RFC 6455 §5.7 examples ----

#[test]
fn rfc_single_frame_masked_text() {
    let input = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    assert_eq!(masked(FIN | TEXT, b"Hello"), input);
    check(&input, &[text("Hello")], None);
}

#[test]
fn rfc_fragmented_text_masked() {
    // §5.7 sends "Hel" (0x01 0x03) and "lo" (0x80 0x02) unmasked; a client masks them.
    let input = concat(&[masked(TEXT, b"Hel"), masked(FIN | CONT, b"lo")]);
    check(&input, &[text("Hello")], None);
}

#[test]
fn rfc_ping_and_masked_pong() {
    // The unmasked ping example, masked as a client sends it, and the masked pong example.
    let ping = masked(FIN | PING, b"Hello");
    let pong = [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let input = concat(&[ping, pong.to_vec()]);
    check(
        &input,
        &[Message::Ping(Bytes::from_static(b"Hello")), Message::Pong(Bytes::from_static(b"Hello"))],
        None,
    );
}

#[test]
fn rfc_256_bytes_binary_16_bit_length() {
    let payload: Vec<u8> = (0..256).map(|i| i as u8).collect();
    let input = masked(FIN | BINARY, &payload);
    assert_eq!(input[..4], [0x82, 0xFE, 0x01, 0x00]);
    check(&input, &[binary(&payload)], None);
}

#[test]
fn rfc_64k_binary_64_bit_length() {
    let payload: Vec<u8> = (0..65536).map(|i| (i * 31) as u8).collect();
    let input = masked(FIN | BINARY, &payload);
    assert_eq!(input[..10], [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0]);
    check(&input, &[binary(&payload)], None);
}

// ---- decoder behaviour ----

#[test]
fn several_messages_in_one_buffer() {
    let input =
        concat(&[masked(FIN | TEXT, b"a"), masked(FIN | BINARY, b"\x00\x01"), masked(FIN | TEXT, b"")]);
    check(&input, &[text("a"), binary(b"\x00\x01"), text("")], None);
}

#[test]
fn control_frames_between_fragments_come_out_first() {
    let input = concat(&[
        masked(BINARY, b"one "),
        masked(FIN | PING, b"p1"),
        masked(CONT, b"two "),
        masked(FIN | PONG, b""),
        masked(FIN | PING, b"p2"),
        masked(FIN | CONT, b"three"),
    ]);
    check(
        &input,
        &[
            Message::Ping(Bytes::from_static(b"p1")),
            Message::Pong(Bytes::new()),
            Message::Ping(Bytes::from_static(b"p2")),
            binary(b"one two three"),
        ],
        None,
    );
    // A close between fragments is returned too; what follows is the driver's business.
    let input = concat(&[masked(TEXT, b"x"), masked(FIN | CLOSE, b"\x03\xe8")]);
    let close = Message::Close(Some(CloseFrame { code: 1000, reason: ByteString::new() }));
    check(&input, &[close], None);
}

#[test]
fn empty_fragments_and_a_text_split_inside_a_code_point() {
    // "é€" is C3 A9 E2 82 AC: split inside both code points, with empty fragments.
    let input = concat(&[
        masked(TEXT, b""),
        masked(CONT, b"\xC3"),
        masked(CONT, b"\xA9\xE2"),
        masked(CONT, b""),
        masked(FIN | CONT, b"\x82\xAC"),
    ]);
    check(&input, &[text("é€")], None);
}

#[test]
fn close_frames() {
    check(&masked(FIN | CLOSE, b""), &[Message::Close(None)], None);
    let input = masked(FIN | CLOSE, b"\x03\xe9going away \xE2\x82\xAC");
    let close = CloseFrame { code: 1001, reason: ByteString::from("going away €") };
    check(&input, &[Message::Close(Some(close))], None);
    for code in
        [1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
    {
        let input = masked(FIN | CLOSE, &code.to_be_bytes());
        let close = CloseFrame { code, reason: ByteString::new() };
        check(&input, &[Message::Close(Some(close))], None);
    }
}

#[test]
fn the_server_s_own_close_frame_decodes_once_masked() {
    let server = close_frame(close_code::TOO_BIG, "too big");
    let input = masked(server[0], &server[2..]);
    let close = CloseFrame { code: 1009, reason: ByteString::from("too big") };
    check(&input, &[Message::Close(Some(close))], None);
}

#[test]
fn non_minimal_lengths_are_accepted() {
    // RFC 6455 §5.2 asks senders for the shortest length; we accept longer forms (as browsers'
    // peers do), since they cost nothing.
    let mut input = vec![0x81, 0xFE, 0x00, 0x02];
    input.extend_from_slice(&KEY);
    input.extend(b"hi".iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    check(&input, &[text("hi")], None);
    let mut input = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1];
    input.extend_from_slice(&KEY);
    input.push(0xAB ^ KEY[0]);
    check(&input, &[binary(&[0xAB])], None);
}

#[test]
fn unfragmented_messages_are_split_off_without_a_copy() {
    let payload = vec![0x5A; 1000];
    let mut buf = BytesMut::from(&masked(FIN | BINARY, &payload)[..]);
    let payload_at = buf[8..].as_ptr(); // 2 + 2 (16-bit length) + 4 (key)
    let mut decoder = Decoder::default();
    let Ok(Some(Message::Binary(bytes))) = decoder.decode(&mut buf) else { panic!("no message") };
    assert_eq!(bytes, payload);
    assert_eq!(bytes.as_ptr(), payload_at, "the payload was copied");
    assert!(buf.is_empty());

    let mut buf = BytesMut::from(&masked(FIN | TEXT, b"in place")[..]);
    let payload_at = buf[6..].as_ptr();
    let Ok(Some(Message::Text(text))) = decoder.decode(&mut buf) else { panic!("no message") };
    assert_eq!(text, "in place");
    assert_eq!(text.as_ptr(), payload_at, "the payload was copied");
}

#[test]
fn needed_and_partial_state_follow_the_input() {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::new();
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(decoder.needed(), 2);
    let frame = masked(BINARY, &[1; 300]);
    buf.extend_from_slice(&frame[..1]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(decoder.needed(), 2);
    buf.extend_from_slice(&frame[1..2]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(decoder.needed(), 4, "16-bit length");
    buf.extend_from_slice(&frame[2..4]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(decoder.needed(), 8, "masking key");
    buf.extend_from_slice(&frame[4..8]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(decoder.needed(), 308, "whole frame");
    assert!(!decoder.has_partial_message());
    buf.extend_from_slice(&frame[8..]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(decoder.has_partial_message(), "first fragment held");
    assert!(buf.is_empty(), "the fragment left the read buffer");
    assert_eq!(decoder.needed(), 2);
    buf.extend_from_slice(&masked(FIN | CONT, &[2; 10]));
    let Ok(Some(Message::Binary(bytes))) = decoder.decode(&mut buf) else { panic!("no message") };
    assert_eq!(bytes.len(), 310);
    assert!(!decoder.has_partial_message());
    assert_eq!(decoder.needed(), 0);
    let mut big = BytesMut::from(&[0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0, 0][..]);
    assert_eq!(decoder.decode(&mut big), Ok(None));
    assert_eq!(decoder.needed(), 14, "64-bit length and key");
}

// ---- every rule, each with its error ----

#[test]
fn reserved_bits_are_refused() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        check(&masked(FIN | rsv | TEXT, b"hi"), &[], Some(WsError::ReservedBits));
    }
    // CVE-2022-21676: RSV2/RSV3 on the first frame after the upgrade.
    check(&[0xB1, 0x80, 1, 2, 3, 4], &[], Some(WsError::ReservedBits));
    assert_eq!(WsError::ReservedBits.close_code(), 1002);
}

#[test]
fn reserved_opcodes_are_refused() {
    for op in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        check(&masked(FIN | op, b""), &[], Some(WsError::UnknownOpcode(op)));
    }
}

#[test]
fn unmasked_client_frames_are_refused() {
    // The RFC's unmasked "Hello".
    check(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], &[], Some(WsError::UnmaskedFrame));
    check(&client_frame(FIN | PING, None, b""), &[], Some(WsError::UnmaskedFrame));
}

#[test]
fn control_frames_must_be_final_and_short() {
    for op in [CLOSE, PING, PONG] {
        check(&masked(op, b""), &[], Some(WsError::FragmentedControlFrame));
        check(&masked(FIN | op, &[0; 126]), &[], Some(WsError::ControlFrameTooLong));
    }
    check(&masked(FIN | PING, &[7; 125]), &[Message::Ping(Bytes::from(vec![7; 125]))], None);
}

#[test]
fn continuation_needs_an_open_message() {
    check(&masked(FIN | CONT, b"x"), &[], Some(WsError::UnexpectedContinuation));
    check(&masked(CONT, b"x"), &[], Some(WsError::UnexpectedContinuation));
    let input = concat(&[masked(FIN | TEXT, b"done"), masked(FIN | CONT, b"x")]);
    check(&input, &[text("done")], Some(WsError::UnexpectedContinuation));
    // Refused at its header, before the payload it announces arrives.
    let frame = masked(FIN | CONT, &[0; 100]);
    assert_eq!(decode_whole(Limits::default(), &frame[..6]), (vec![], Some(WsError::UnexpectedContinuation)));
}

#[test]
fn the_decoder_keeps_its_limits() {
    let limits = Limits::default().with_max_message_size(77).with_max_fragments(3);
    assert_eq!(Decoder::new(limits).limits(), &limits);
}

#[test]
fn new_data_frame_inside_a_fragmented_message_is_refused() {
    let input = concat(&[masked(TEXT, b"a"), masked(FIN | TEXT, b"b")]);
    check(&input, &[], Some(WsError::ExpectedContinuation));
    let input = concat(&[masked(BINARY, b"a"), masked(FIN | PING, b""), masked(BINARY, b"b")]);
    check(&input, &[Message::Ping(Bytes::new())], Some(WsError::ExpectedContinuation));
}

#[test]
fn text_must_be_utf8() {
    check(&masked(FIN | TEXT, b"\xFF"), &[], Some(WsError::InvalidUtf8));
    check(&masked(FIN | TEXT, b"a\xC3"), &[], Some(WsError::InvalidUtf8));
    // An encoded UTF-16 surrogate is not UTF-8.
    check(&masked(FIN | TEXT, b"\xED\xA0\x80"), &[], Some(WsError::InvalidUtf8));
    // A fragmented message ending inside a code point.
    let input = concat(&[masked(TEXT, b"\xE2\x82"), masked(FIN | CONT, b"")]);
    check(&input, &[], Some(WsError::InvalidUtf8));
    // Binary messages are not checked.
    check(&masked(FIN | BINARY, b"\xFF"), &[binary(b"\xFF")], None);
    assert_eq!(WsError::InvalidUtf8.close_code(), 1007);
}

#[test]
fn close_payload_rules() {
    check(&masked(FIN | CLOSE, b"\x03"), &[], Some(WsError::InvalidClosePayload));
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
        check(&masked(FIN | CLOSE, &code.to_be_bytes()), &[], Some(WsError::InvalidCloseCode(code)));
    }
    check(&masked(FIN | CLOSE, b"\x03\xe8\xFF"), &[], Some(WsError::InvalidCloseReason));
    assert_eq!(WsError::InvalidCloseReason.close_code(), 1007);
    assert_eq!(WsError::InvalidCloseCode(1005).close_code(), 1002);
}

#[test]
fn a_64_bit_length_with_the_top_bit_set_is_refused() {
    let input = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1];
    check(&input, &[], Some(WsError::InvalidLength));
    check(&[0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], &[], Some(WsError::InvalidLength));
}

// ---- limits ----

#[test]
fn a_header_announcing_2_pow_40_bytes_is_refused_without_buffering() {
    let header = [0x82, 0xFF, 0, 0, 0x01, 0, 0, 0, 0, 0];
    let mut buf = BytesMut::with_capacity(64);
    buf.extend_from_slice(&header);
    let mut decoder = Decoder::default();
    let error = decoder.decode(&mut buf);
    assert_eq!(error, Err(WsError::MessageTooBig { size: 1 << 40, limit: 1_000_000 }));
    assert_eq!(buf.capacity(), 64, "the decoder reserved nothing");
    assert_eq!(WsError::MessageTooBig { size: 1 << 40, limit: 1 }.close_code(), 1009);
    check(&header, &[], Some(WsError::MessageTooBig { size: 1 << 40, limit: 1_000_000 }));
}

#[test]
fn message_size_limit_is_exact_and_counted_over_fragments() {
    let limits = Limits::default().with_max_message_size(10);
    check_with(limits, &masked(FIN | BINARY, &[0; 10]), &[binary(&[0; 10])], None);
    check_with(
        limits,
        &masked(FIN | TEXT, &[b'a'; 11]),
        &[],
        Some(WsError::MessageTooBig { size: 11, limit: 10 }),
    );
    let input = concat(&[masked(BINARY, &[0; 6]), masked(CONT, &[0; 4]), masked(FIN | CONT, &[])]);
    check_with(limits, &input, &[binary(&[0; 10])], None);
    let input = concat(&[masked(BINARY, &[0; 6]), masked(FIN | PING, b""), masked(FIN | CONT, &[0; 5])]);
    let error = WsError::MessageTooBig { size: 11, limit: 10 };
    check_with(limits, &input, &[Message::Ping(Bytes::new())], Some(error));
    // Refused as soon as the header is there, before the payload arrives.
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(&masked(FIN | BINARY, &[0; 50])[..6]);
    assert_eq!(decoder.decode(&mut buf), Err(WsError::MessageTooBig { size: 50, limit: 10 }));
    // Control frames are not messages: a ping larger than the message limit passes.
    check_with(limits, &masked(FIN | PING, &[1; 20]), &[Message::Ping(Bytes::from(vec![1; 20]))], None);
}

#[test]
fn fragment_count_limit_defeats_tiny_fragment_floods() {
    let limits = Limits::default().with_max_fragments(4);
    let mut frames = vec![masked(TEXT, b"a"), masked(CONT, b"b"), masked(CONT, b"")];
    frames.push(masked(FIN | CONT, b"c"));
    check_with(limits, &concat(&frames), &[text("abc")], None);
    let mut frames = vec![masked(TEXT, b"a")];
    frames.extend((0..4).map(|_| masked(CONT, b"")));
    check_with(limits, &concat(&frames), &[], Some(WsError::TooManyFragments { limit: 4 }));
    // Default: 1024 fragments pass, the 1025th is refused; control frames do not count.
    let mut frames = vec![masked(BINARY, b"x")];
    frames.extend((0..1022).map(|_| masked(CONT, b"x")));
    frames.push(masked(FIN | PING, b""));
    frames.push(masked(FIN | CONT, b"x"));
    let (messages, error) = decode_whole(Limits::default(), &concat(&frames));
    assert_eq!(error, None);
    assert_eq!(messages, [Message::Ping(Bytes::new()), binary(&[b'x'; 1024])]);
    let mut frames = vec![masked(BINARY, b"")];
    frames.extend((0..1100).map(|_| masked(CONT, b"")));
    let (_, error) = decode_whole(Limits::default(), &concat(&frames));
    assert_eq!(error, Some(WsError::TooManyFragments { limit: 1024 }));
    assert_eq!(WsError::TooManyFragments { limit: 1 }.close_code(), 1009);
    // 0 counts as 1: no fragmentation at all.
    let limits = Limits::default().with_max_fragments(0);
    check_with(limits, &masked(FIN | TEXT, b"ok"), &[text("ok")], None);
    let input = concat(&[masked(TEXT, b"a"), masked(FIN | CONT, b"b")]);
    check_with(limits, &input, &[], Some(WsError::TooManyFragments { limit: 0 }));
}

// ---- server frames ----

#[test]
fn server_frames_are_unmasked_and_shared() {
    let frame = frame(OpCode::Text, b"4hello");
    assert_eq!(&frame[..], b"\x81\x064hello");
    let copies: Vec<Bytes> = (0..3).map(|_| frame.clone()).collect();
    assert!(copies.iter().all(|copy| copy.as_ptr() == frame.as_ptr()), "one allocation for every recipient");
    let mut builder = FrameBuilder::new(OpCode::Binary);
    std::io::Write::write_all(&mut builder, &[1, 2, 3]).expect("writes to memory");
    assert_eq!(&builder.finish()[..], [0x82, 3, 1, 2, 3]);
}

#[test]
fn frame_builders_take_every_kind_of_write() {
    let mut builder = FrameBuilder::new(OpCode::Text);
    assert_eq!(std::io::Write::write(&mut builder, b"4a").expect("writes to memory"), 2);
    std::fmt::Write::write_str(&mut builder, "bc").expect("writes to memory");
    builder.extend_from_slice(b"d");
    std::io::Write::flush(&mut builder).expect("nothing to flush");
    assert_eq!(builder.payload_len(), 5);
    assert_eq!(&builder.finish()[..], b"\x81\x054abcd");
}

#[test]
fn frame_headers_show_their_bytes() {
    let header = engineio_parser::ws::FrameHeader::new(OpCode::Binary, true, 300);
    assert_eq!(AsRef::<[u8]>::as_ref(&header), [0x82, 126, 1, 44]);
    assert_eq!(format!("{header:?}"), "FrameHeader([130, 126, 1, 44])");
}

// ---- properties ----

/// A data message and how a client sends it: where it is cut into fragments, and an optional
/// ping sent after the first fragment.
#[derive(Debug, Clone)]
struct Sent {
    message: Message,
    cuts: Vec<usize>,
    ping: Option<Vec<u8>>,
    key: [u8; 4],
}

fn any_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{0,40}".prop_map(|s: String| Message::Text(ByteString::from(s))),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| Message::Binary(Bytes::from(b))),
        prop::collection::vec(any::<u8>(), 0..=125).prop_map(|b| Message::Ping(Bytes::from(b))),
        prop::collection::vec(any::<u8>(), 0..=125).prop_map(|b| Message::Pong(Bytes::from(b))),
        Just(Message::Close(None)),
        (prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999], "[a-zé]{0,40}").prop_map(
            |(code, reason)| Message::Close(Some(CloseFrame { code, reason: ByteString::from(reason) }))
        ),
    ]
}

fn any_sent() -> impl Strategy<Value = Sent> {
    (
        any_message(),
        prop::collection::vec(0usize..400, 0..6),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..=10)),
        any::<[u8; 4]>(),
    )
        .prop_map(|(message, cuts, ping, key)| Sent { message, cuts, ping, key })
}

/// Encodes what a client sends for `sent` and appends the messages the server must decode.
fn encode_client(sent: &Sent, out: &mut Vec<u8>, expected: &mut Vec<Message>) {
    let key = Some(sent.key);
    let (opcode, payload): (u8, Vec<u8>) = match &sent.message {
        Message::Text(text) => (TEXT, text.as_bytes().to_vec()),
        Message::Binary(bytes) => (BINARY, bytes.to_vec()),
        Message::Ping(bytes) => (PING, bytes.to_vec()),
        Message::Pong(bytes) => (PONG, bytes.to_vec()),
        Message::Close(None) => (CLOSE, Vec::new()),
        Message::Close(Some(close)) => {
            let mut payload = close.code.to_be_bytes().to_vec();
            payload.extend_from_slice(close.reason.as_bytes());
            (CLOSE, payload)
        }
    };
    if opcode & 0x8 != 0 {
        out.extend(client_frame(FIN | opcode, key, &payload));
        expected.push(sent.message.clone());
        return;
    }
    // Cut points anywhere, even inside a UTF-8 code point; repeated cuts make empty fragments.
    let mut cuts: Vec<usize> = sent.cuts.iter().map(|&cut| cut.min(payload.len())).collect();
    cuts.sort_unstable();
    let mut start = 0;
    let mut pieces = Vec::new();
    for cut in cuts {
        pieces.push(&payload[start..cut]);
        start = cut;
    }
    pieces.push(&payload[start..]);
    let last = pieces.len() - 1;
    for (i, piece) in pieces.iter().enumerate() {
        let op = if i == 0 { opcode } else { CONT };
        let fin = if i == last { FIN } else { 0 };
        out.extend(client_frame(fin | op, key, piece));
        if i == 0 && last > 0 {
            if let Some(ping) = &sent.ping {
                out.extend(client_frame(FIN | PING, key, ping));
                expected.push(Message::Ping(Bytes::from(ping.clone())));
            }
        }
    }
    expected.push(sent.message.clone());
}

proptest! {
    #![proptest_config(ProptestConfig {
        // `PROPTEST_CASES` lowers the count for mutation runs; the test command uses the default.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn client_messages_round_trip(
        sent in prop::collection::vec(any_sent(), 0..8),
        chunks in prop::collection::vec(1usize..64, 1..8),
    ) {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for sent in &sent {
            encode_client(sent, &mut input, &mut expected);
        }
        let whole = decode_whole(Limits::default(), &input);
        prop_assert_eq!(&whole, &(expected, None));
        prop_assert_eq!(decode_chunked(Limits::default(), &input, &chunks), whole);
    }

    #[test]
    fn server_frames_decode_once_masked(message in any_message(), key in any::<[u8; 4]>()) {
        // What the server frames, masked as a client would send it, decodes to the same message.
        let server = match &message {
            Message::Text(text) => frame(OpCode::Text, text.as_bytes()),
            Message::Binary(bytes) => frame(OpCode::Binary, bytes),
            Message::Ping(bytes) => frame(OpCode::Ping, bytes),
            Message::Pong(bytes) => frame(OpCode::Pong, bytes),
            Message::Close(None) => frame(OpCode::Close, &[]),
            Message::Close(Some(close)) => close_frame(close.code, &close.reason),
        };
        let header_len = match server[1] { 126 => 4, 127 => 10, _ => 2 };
        prop_assert_eq!(server[1] & 0x80, 0, "server frames are unmasked");
        let input = client_frame(server[0], Some(key), &server[header_len..]);
        prop_assert_eq!(decode_whole(Limits::default(), &input), (vec![message], None));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..512), chunk in 1usize..32) {
        let limits = Limits::default().with_max_message_size(256).with_max_fragments(8);
        let whole = decode_whole(limits, &input);
        prop_assert_eq!(decode_chunked(limits, &input, &[chunk]), whole);
    }

    #[test]
    fn arbitrary_headers_with_masked_payloads_never_panic(
        frames in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..140)), 0..12),
    ) {
        // Random first bytes (FIN, RSV, opcode) on well-formed masked frames reach deeper rules.
        let input: Vec<u8> = frames.iter().flat_map(|(first, payload)| masked(*first, payload)).collect();
        let limits = Limits::default().with_max_message_size(300).with_max_fragments(4);
        let whole = decode_whole(limits, &input);
        prop_assert_eq!(decode_chunked(limits, &input, &[1]), whole);
    }
}

#[test]
fn upgrade_requests_name_websocket_among_their_protocols() {
    use engineio_parser::ws::is_upgrade_request;
    assert!(is_upgrade_request([&b"websocket"[..]]));
    assert!(is_upgrade_request([&b"h2c"[..], b"h2c, WebSocket"]));
    assert!(!is_upgrade_request([&b"h2c"[..]]));
    assert!(!is_upgrade_request([&b"websockets"[..]]));
    assert!(!is_upgrade_request(std::iter::empty()));
}
