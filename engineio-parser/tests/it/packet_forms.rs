//! Packets in their single-frame forms: type names and digits, the text form, WebSocket frames
//! (and how frames compare), binary and base64 data.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use engineio_parser::{
    decode_payload, ByteString, Data, DecodeError, Frame, FrameKind, Packet, PacketType, PayloadFormat,
    ProtocolVersion,
};

const V3: ProtocolVersion = ProtocolVersion::V3;
const V4: ProtocolVersion = ProtocolVersion::V4;

fn hash(frame: &Frame) -> u64 {
    let mut h = DefaultHasher::new();
    frame.hash(&mut h);
    h.finish()
}

fn text(s: &str) -> ByteString {
    ByteString::from(s.to_owned())
}

#[test]
fn packet_types_have_their_digit_and_the_reference_s_name() {
    let names = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];
    for (digit, name) in names.iter().enumerate() {
        let kind = PacketType::from_u8(digit as u8).expect("a packet type");
        assert_eq!(kind as u8, digit as u8);
        assert_eq!(kind.as_char(), b'0' + digit as u8);
        assert_eq!(kind.name(), *name);
        assert_eq!(PacketType::ALL[digit], kind);
    }
    assert_eq!(PacketType::from_u8(7), None);
    assert_eq!(PacketType::from_u8(b'4'), None);
}

#[test]
fn data_is_empty_only_without_bytes() {
    assert!(Data::Text(text("")).is_empty());
    assert!(Data::Binary(Bytes::new()).is_empty());
    assert!(!Data::Text(text("a")).is_empty());
    assert!(!Data::Binary(Bytes::from_static(&[0])).is_empty());
    assert!(Packet::binary(&[1u8][..]).is_binary());
    assert!(!Packet::message("x").is_binary());
    assert_eq!(Packet::message_data(Data::Text(text("x"))), Packet::message("x"));
}

#[test]
fn frames_compare_by_kind_and_payload_whatever_their_form() {
    let plain = Frame::Text(text("4hello"));
    let prefixed = Frame::PrefixedText(b'4', text("hello"));
    assert_eq!(plain, prefixed);
    assert_eq!(prefixed, plain);
    assert_eq!(prefixed, Frame::PrefixedText(b'4', text("hello")));
    assert_eq!(hash(&plain), hash(&prefixed));
    assert_ne!(plain, Frame::Text(text("4hellO")));
    assert_ne!(prefixed, Frame::PrefixedText(b'3', text("hello")));
    assert_ne!(prefixed, Frame::PrefixedText(b'4', text("hellO")));
    assert_ne!(prefixed, Frame::Text(text("3hello")));
    assert_ne!(Frame::Text(text("3hello")), prefixed);
    assert_ne!(prefixed, Frame::Text(text("")));
    assert_ne!(Frame::Text(text("")), prefixed);
    // Same bytes, other kind.
    assert_ne!(plain, Frame::Binary(Bytes::from_static(b"4hello")));
    assert_ne!(prefixed, Frame::PrefixedBinary(b'4', Bytes::from_static(b"hello")));
    let binary = Frame::PrefixedBinary(4, Bytes::from_static(&[1, 2]));
    assert_eq!(binary, Frame::Binary(Bytes::from_static(&[4, 1, 2])));
    assert_ne!(binary, Frame::Binary(Bytes::from_static(&[4, 1, 3])));
    assert_eq!(hash(&binary), hash(&Frame::Binary(Bytes::from_static(&[4, 1, 2]))));
    assert_ne!(hash(&plain), hash(&Frame::Binary(Bytes::from_static(b"4hello"))));
}

#[test]
fn a_frame_s_parts() {
    let prefixed = Frame::PrefixedText(b'4', text("hi"));
    assert_eq!(prefixed.kind(), FrameKind::Text);
    assert_eq!(prefixed.prefix(), Some(b'4'));
    assert_eq!(prefixed.body(), Bytes::from_static(b"hi"));
    assert_eq!(prefixed.len(), 3);
    assert!(!prefixed.is_empty());
    assert_eq!(prefixed.payload(), Bytes::from_static(b"4hi"));
    let binary = Frame::PrefixedBinary(4, Bytes::from_static(&[7]));
    assert_eq!(binary.kind(), FrameKind::Binary);
    assert_eq!(binary.prefix(), Some(4));
    assert_eq!(binary.len(), 2);
    assert_eq!(binary.payload(), Bytes::from_static(&[4, 7]));
    let plain = Frame::Binary(Bytes::from_static(&[1, 2, 3]));
    assert_eq!(plain.kind(), FrameKind::Binary);
    assert_eq!(plain.prefix(), None);
    assert_eq!(plain.len(), 3);
    assert_eq!(plain.payload(), Bytes::from_static(&[1, 2, 3]));
    assert_eq!(Frame::Text(text("ab")).body(), Bytes::from_static(b"ab"));
    assert!(Frame::Text(text("")).is_empty());
    assert!(Frame::Binary(Bytes::new()).is_empty());
    assert!(!Frame::PrefixedText(b'6', text("")).is_empty());
}

#[test]
fn joined_frames_hold_their_payload_in_one_piece() {
    let joined = Frame::PrefixedText(b'4', text("hi")).joined();
    assert!(matches!(&joined, Frame::Text(t) if &**t == "4hi"), "{joined:?}");
    let joined = Frame::PrefixedBinary(4, Bytes::from_static(&[7])).joined();
    assert!(matches!(&joined, Frame::Binary(b) if b[..] == [4, 7]), "{joined:?}");
    // A prefix that breaks UTF-8 makes a binary frame rather than invalid text.
    let joined = Frame::PrefixedText(0xff, text("a")).joined();
    assert!(matches!(&joined, Frame::Binary(b) if b[..] == [0xff, b'a']), "{joined:?}");
    let joined = Frame::Text(text("2")).joined();
    assert!(matches!(&joined, Frame::Text(t) if &**t == "2"), "{joined:?}");
    let joined = Frame::Binary(Bytes::from_static(&[1])).joined();
    assert!(matches!(&joined, Frame::Binary(b) if b[..] == [1]), "{joined:?}");
}

fn encoded_frame(p: &Packet, version: ProtocolVersion, base64: bool) -> (FrameKind, Vec<u8>) {
    let mut buf = Vec::new();
    let kind = p.encode_frame(version, base64, &mut buf);
    (kind, buf)
}

#[test]
fn packets_as_frames() {
    let text_packet = Packet::message("hé");
    let binary = Packet::binary(&[1u8, 2, 3][..]);
    let v3_ping = Packet { kind: PacketType::Ping, data: Data::Binary(Bytes::from_static(&[9])) };
    assert_eq!(encoded_frame(&text_packet, V4, false), (FrameKind::Text, "4hé".as_bytes().to_vec()));
    assert_eq!(encoded_frame(&text_packet, V3, true), (FrameKind::Text, "4hé".as_bytes().to_vec()));
    assert_eq!(encoded_frame(&binary, V4, false), (FrameKind::Binary, vec![1, 2, 3]));
    assert_eq!(encoded_frame(&binary, V3, false), (FrameKind::Binary, vec![4, 1, 2, 3]));
    assert_eq!(encoded_frame(&binary, V4, true), (FrameKind::Text, b"bAQID".to_vec()));
    assert_eq!(encoded_frame(&binary, V3, true), (FrameKind::Text, b"b4AQID".to_vec()));
    assert_eq!(encoded_frame(&v3_ping, V3, false), (FrameKind::Binary, vec![2, 9]));
    // The shared forms give the same frames.
    for (p, v, b64) in
        [(&text_packet, V4, false), (&binary, V4, false), (&binary, V3, false), (&binary, V3, true)]
    {
        let frame = p.to_frame(v, b64);
        let (kind, bytes) = encoded_frame(p, v, b64);
        assert_eq!(frame.kind(), kind);
        assert_eq!(frame.payload()[..], bytes[..]);
    }
    assert_eq!(text_packet.to_frame(V4, false).prefix(), Some(b'4'));
    assert_eq!(binary.to_frame(V3, false).prefix(), Some(4));
    assert_eq!(binary.to_frame(V4, false).prefix(), None);
    assert!(matches!(binary.to_frame(V4, true), Frame::Text(t) if &*t == "bAQID"));
}

#[test]
fn the_text_form_of_binary_data_is_base64() {
    let binary = Packet { kind: PacketType::Message, data: Data::Binary(Bytes::from_static(&[0xff; 4])) };
    assert_eq!(&*binary.encode_text_to_string(V4), "b/////w==");
    assert_eq!(&*binary.encode_text_to_string(V3), "b4/////w==");
    let mut out = String::from(">");
    Packet::message("x").encode_text_into(V4, &mut out);
    binary.encode_text_into(V3, &mut out);
    assert_eq!(out, ">4xb4/////w==");
    // Lengths: `b` (and the v3 type digit) and padded base64.
    for (n, b64_len) in [(0, 0), (1, 4), (2, 4), (3, 4), (4, 8), (6, 8), (7, 12)] {
        let p = Packet::binary(vec![0u8; n]);
        assert_eq!(p.text_len(V4), 1 + b64_len, "{n}");
        assert_eq!(p.text_len(V3), 2 + b64_len, "{n}");
        assert_eq!(p.encode_text_to_string(V4).len(), 1 + b64_len);
    }
    assert_eq!(Packet::message("hé").text_len(V4), 4);
}

#[test]
fn large_binary_data_is_encoded_in_chunks_without_a_seam() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let p = Packet::binary(data.clone());
    let mut buf = Vec::new();
    p.encode_text(V4, &mut buf);
    assert_eq!(buf.len(), p.text_len(V4));
    assert_eq!(buf[..], p.encode_text_to_string(V4).as_bytes()[..]);
    let decoded = Packet::decode_text(ByteString::try_from(Bytes::from(buf)).expect("ASCII"), V4);
    assert_eq!(decoded, Ok(Packet::binary(data)));
}

#[test]
fn text_packets_decode_with_their_data() {
    assert_eq!(Packet::decode_text(text("4"), V4), Ok(Packet::message("")));
    assert_eq!(Packet::decode_text(text("4hi"), V4), Ok(Packet::message("hi")));
    assert_eq!(Packet::decode_text(text("2probe"), V3), Ok(Packet::text(PacketType::Ping, "probe")));
    let long = "x".repeat(500);
    assert_eq!(Packet::decode_text(text(&format!("4{long}")), V4), Ok(Packet::message(long.as_str())));
    assert_eq!(Packet::decode_text(text("4é"), V4), Ok(Packet::message("é")));
    assert_eq!(Packet::decode_text(text(""), V4), Err(DecodeError::Empty));
    assert_eq!(Packet::decode_text(text("7"), V4), Err(DecodeError::UnknownType(b'7')));
    assert_eq!(Packet::decode_text(text("/"), V4), Err(DecodeError::UnknownType(b'/')));
}

#[test]
fn base64_packets_decode_as_node_does() {
    let bin = |kind, data: &'static [u8]| Ok(Packet { kind, data: Data::Binary(Bytes::from_static(data)) });
    assert_eq!(Packet::decode_text(text("bAQID"), V4), bin(PacketType::Message, &[1, 2, 3]));
    assert_eq!(Packet::decode_text(text("b2AQID"), V3), bin(PacketType::Ping, &[1, 2, 3]));
    // Padding is optional, and a lone last character is dropped.
    assert_eq!(Packet::decode_text(text("bAQ"), V4), bin(PacketType::Message, &[1]));
    assert_eq!(Packet::decode_text(text("bAQ=="), V4), bin(PacketType::Message, &[1]));
    assert_eq!(Packet::decode_text(text("bAQIDB"), V4), bin(PacketType::Message, &[1, 2, 3]));
    assert_eq!(Packet::decode_text(text("bAQIDB="), V4), bin(PacketType::Message, &[1, 2, 3]));
    assert_eq!(Packet::decode_text(text("b"), V4), bin(PacketType::Message, &[]));
    assert_eq!(Packet::decode_text(text("bA!"), V4), Err(DecodeError::InvalidBase64));
    assert_eq!(Packet::decode_text(text("b"), V3), Err(DecodeError::UnknownType(b'b')));
    assert_eq!(Packet::decode_text(text("b9AQ"), V3), Err(DecodeError::UnknownType(b'9')));
    assert_eq!(Packet::decode_text(text("b/AQ"), V3), Err(DecodeError::UnknownType(b'/')));
}

#[test]
fn binary_frames_decode_by_revision() {
    let raw = Bytes::from_static(&[4, 1, 2]);
    assert_eq!(Packet::decode_binary(raw.clone(), V4), Ok(Packet::binary(raw.clone())));
    assert_eq!(Packet::decode_binary(raw, V3), Ok(Packet::binary(&[1u8, 2][..])));
    assert_eq!(Packet::decode_binary(Bytes::new(), V3), Err(DecodeError::Empty));
    assert_eq!(Packet::decode_binary(Bytes::from_static(&[7]), V3), Err(DecodeError::UnknownType(7)));
    assert_eq!(Packet::decode_binary(Bytes::new(), V4), Ok(Packet::binary(Bytes::new())));
    assert_eq!(Packet::decode_frame(Frame::PrefixedText(b'4', text("x")), V4), Ok(Packet::message("x")));
    assert_eq!(
        Packet::decode_frame(Frame::PrefixedBinary(4, Bytes::from_static(&[5])), V3),
        Ok(Packet::binary(&[5u8][..]))
    );
}

fn decode_v4(body: &'static [u8]) -> Vec<Result<Packet, DecodeError>> {
    decode_payload(Bytes::from_static(body), PayloadFormat::V4, 1 << 20).expect("small").collect()
}

#[test]
fn payload_entries_are_checked_as_utf8_and_typed() {
    assert_eq!(decode_v4(b"6"), [Ok(Packet::new(PacketType::Noop))]);
    assert_eq!(decode_v4(b"4h\xc3\xa9"), [Ok(Packet::message("hé"))]);
    assert_eq!(decode_v4(b"4\xff"), [Err(DecodeError::InvalidUtf8)]);
    assert_eq!(decode_v4(b"\xff4"), [Err(DecodeError::InvalidUtf8)]);
    assert_eq!(decode_v4(b"94"), [Err(DecodeError::UnknownType(b'9'))]);
    assert_eq!(decode_v4(b"bAQID"), [Ok(Packet::binary(&[1u8, 2, 3][..]))]);
    assert_eq!(decode_v4(b"bA!"), [Err(DecodeError::InvalidBase64)]);
    // Not base64: checked as text, which it is not either.
    assert_eq!(decode_v4(b"b\xff\xfe\xfd\xfc"), [Err(DecodeError::InvalidUtf8)]);
}

#[test]
fn decode_errors_say_what_was_wrong() {
    assert_eq!(DecodeError::Empty.to_string(), "empty packet");
    assert_eq!(DecodeError::UnknownType(b'9').to_string(), "unknown packet type 0x39");
    assert_eq!(DecodeError::InvalidBase64.to_string(), "invalid base64 data");
    assert_eq!(DecodeError::InvalidUtf8.to_string(), "invalid UTF-8 in a text packet");
    assert_eq!(
        DecodeError::PayloadTooLarge { len: 10, max: 5 }.to_string(),
        "payload of 10 bytes exceeds the limit of 5 bytes"
    );
    assert_eq!(DecodeError::InvalidLength.to_string(), "invalid length prefix in a v3 payload");
    assert_eq!(DecodeError::LengthMismatch.to_string(), "v3 payload length does not match its data");
}
