//! Long-polling bodies: which format a request or response uses, the v3 length rules (UTF-16
//! units, digit bytes, the 16-digit cap) and the exact encodings.

use bytes::Bytes;
use engineio_parser::{
    decode_payload, encode_payload, payload_len, utf16_len, DecodeError, Packet, PayloadFormat,
    ProtocolVersion,
};

fn decode_all(body: &[u8], format: PayloadFormat) -> Vec<Result<Packet, DecodeError>> {
    decode_payload(Bytes::copy_from_slice(body), format, 1_000_000).expect("small").collect()
}

fn encoded(packets: &[Packet], format: PayloadFormat) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_payload(packets, format, &mut buf);
    assert_eq!(buf.len(), payload_len(packets, format), "{format:?}");
    buf
}

#[test]
fn formats_by_revision_content_type_and_packets() {
    use PayloadFormat::*;
    use ProtocolVersion::{V3, V4 as Four};
    assert_eq!(PayloadFormat::for_request(Four, true), V4);
    assert_eq!(PayloadFormat::for_request(Four, false), V4);
    assert_eq!(PayloadFormat::for_request(V3, false), V3Text);
    assert_eq!(PayloadFormat::for_request(V3, true), V3Binary);
    let text = [Packet::message("a")];
    let mixed = [Packet::message("a"), Packet::binary(&[1u8][..])];
    assert_eq!(PayloadFormat::for_response(V3, true, &text), V3Text);
    assert_eq!(PayloadFormat::for_response(V3, true, &mixed), V3Binary);
    assert_eq!(PayloadFormat::for_response(Four, true, &mixed), V4);
    assert_eq!(V4.version(), Four);
    assert_eq!(V3Text.version(), V3);
    assert_eq!(V3Binary.version(), V3);
    assert_eq!(V4.content_type(), "text/plain; charset=UTF-8");
    assert_eq!(V3Text.content_type(), "text/plain; charset=UTF-8");
    assert_eq!(V3Binary.content_type(), "application/octet-stream");
}

#[test]
fn utf16_lengths_are_javascript_string_lengths() {
    assert_eq!(utf16_len(""), 0);
    assert_eq!(utf16_len("abc"), 3);
    assert_eq!(utf16_len("é"), 1);
    assert_eq!(utf16_len("€"), 1);
    assert_eq!(utf16_len("😀"), 2);
    assert_eq!(utf16_len("aé€😀"), 5);
}

#[test]
fn v4_bodies_are_joined_by_the_record_separator() {
    let packets =
        [Packet::message("a"), Packet::new(engineio_parser::PacketType::Ping), Packet::binary(&[1u8][..])];
    assert_eq!(encoded(&packets, PayloadFormat::V4), b"4a\x1e2\x1ebAQ==");
    assert_eq!(encoded(&packets[..1], PayloadFormat::V4), b"4a");
    assert_eq!(encoded(&[], PayloadFormat::V4), b"");
    assert_eq!(decode_all(b"4a\x1e2\x1ebAQ==", PayloadFormat::V4), packets.map(Ok));
}

#[test]
fn v3_text_bodies_prefix_each_packet_with_its_utf16_length() {
    let packets = [Packet::message("123456789"), Packet::message("😀"), Packet::binary(&[1u8][..])];
    let body = encoded(&packets, PayloadFormat::V3Text);
    assert_eq!(String::from_utf8(body.clone()).expect("text"), "10:41234567893:4😀6:b4AQ==");
    assert_eq!(decode_all(&body, PayloadFormat::V3Text), packets.map(Ok));
    let long = Packet::message("x".repeat(99));
    assert!(encoded(&[long], PayloadFormat::V3Text).starts_with(b"100:4x"));
    assert_eq!(encoded(&[], PayloadFormat::V3Text), b"0:");
    assert_eq!(encoded(&[Packet::message("é")], PayloadFormat::V3Text), "2:4é".as_bytes());
    // v3 base64 carries the packet type before the data.
    assert_eq!(decode_all(b"6:b4AQID", PayloadFormat::V3Text), [Ok(Packet::binary(&[1u8, 2, 3][..]))]);
    assert_eq!(decode_all(b"2:bA", PayloadFormat::V3Text), [Err(DecodeError::UnknownType(b'A'))]);
}

#[test]
fn v3_text_lengths_are_checked() {
    use DecodeError::*;
    let f = PayloadFormat::V3Text;
    // An empty entry is skipped, not an error.
    assert_eq!(decode_all(b"2:4a0:2:4b", f), [Ok(Packet::message("a")), Ok(Packet::message("b"))]);
    assert_eq!(decode_all(b":4", f), [Err(InvalidLength)]);
    // A missing length is not an empty entry.
    assert_eq!(decode_all(b":2:4a", f), [Err(InvalidLength)]);
    assert_eq!(decode_all(b"a:4", f), [Err(InvalidLength)]);
    assert_eq!(decode_all(b"24a", f), [Err(InvalidLength)]);
    assert_eq!(decode_all(b"3:4a", f), [Err(LengthMismatch)]);
    assert_eq!(decode_all("2:4é".as_bytes(), f), [Ok(Packet::message("é"))]);
    // A length that ends inside a character, or bytes that start none.
    assert_eq!(decode_all(b"2:4\xe2\x82", f), [Err(LengthMismatch)]);
    assert_eq!(decode_all(b"2:4\x80", f), [Err(InvalidUtf8)]);
    assert_eq!(decode_all(b"2:4\xf8", f), [Err(InvalidUtf8)]);
    assert_eq!(decode_all(b"2:4\xc3", f), [Err(LengthMismatch)]);
    assert_eq!(decode_all(b"3:4\xf0\x9f\x98", f), [Err(LengthMismatch)]);
}

#[test]
fn v3_lengths_may_have_sixteen_digits_and_no_more() {
    let sixteen = format!("{:016}:4a", 2);
    assert_eq!(decode_all(sixteen.as_bytes(), PayloadFormat::V3Text), [Ok(Packet::message("a"))]);
    let seventeen = format!("{:017}:4a", 2);
    assert_eq!(decode_all(seventeen.as_bytes(), PayloadFormat::V3Text), [Err(DecodeError::InvalidLength)]);
    let mut bin = vec![0u8];
    bin.extend([0u8; 15]);
    bin.extend([2, 0xff, b'4', b'a']);
    assert_eq!(decode_all(&bin, PayloadFormat::V3Binary), [Ok(Packet::message("a"))]);
    let mut bin = vec![0u8];
    bin.extend([0u8; 16]);
    bin.extend([2, 0xff, b'4', b'a']);
    assert_eq!(decode_all(&bin, PayloadFormat::V3Binary), [Err(DecodeError::InvalidLength)]);
}

#[test]
fn v3_binary_bodies_use_digit_bytes() {
    let packets = [Packet::message("123456789"), Packet::binary(vec![7u8; 99])];
    let body = encoded(&packets, PayloadFormat::V3Binary);
    assert_eq!(body[..13], [0, 1, 0, 0xff, b'4', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8']);
    assert_eq!(body[14..19], [1, 1, 0, 0, 0xff]);
    assert_eq!(body[19], 4);
    assert_eq!(body.len(), 19 + 100);
    assert_eq!(decode_all(&body, PayloadFormat::V3Binary), packets.map(Ok));
    assert_eq!(encoded(&[], PayloadFormat::V3Binary), b"");
}

#[test]
fn v3_binary_lengths_are_checked() {
    use DecodeError::*;
    let f = PayloadFormat::V3Binary;
    assert_eq!(decode_all(&[2, 1, 0xff, b'4'], f), [Err(InvalidLength)]);
    assert_eq!(decode_all(&[0, 0xff, b'4'], f), [Err(InvalidLength)]);
    assert_eq!(decode_all(&[0, 1, b'4'], f), [Err(InvalidLength)]);
    assert_eq!(decode_all(&[0, 10, 0xff, b'4'], f), [Err(InvalidLength)]);
    assert_eq!(decode_all(&[0, 9, 0xff, b'4'], f), [Err(LengthMismatch)]);
    assert_eq!(decode_all(&[0, 3, 0xff, b'4', b'a'], f), [Err(LengthMismatch)]);
    assert_eq!(decode_all(&[0, 2, 0xff, b'4', b'a'], f), [Ok(Packet::message("a"))]);
    assert_eq!(
        decode_all(&[1, 2, 0xff, 4, 9, 0, 1, 0xff, b'6'], f),
        [Ok(Packet::binary(&[9u8][..])), Ok(Packet::new(engineio_parser::PacketType::Noop))]
    );
    assert_eq!(decode_all(&[1, 1, 0xff, 8], f), [Err(UnknownType(8))]);
    // Nothing after an error.
    assert_eq!(decode_all(&[0, 1, 0xff, b'9', 0, 1, 0xff, b'6'], f), [Err(UnknownType(b'9'))]);
}

#[test]
fn the_payload_limit_is_inclusive() {
    assert!(decode_payload(Bytes::from_static(b"4hello"), PayloadFormat::V4, 6).is_ok());
    assert_eq!(
        decode_payload(Bytes::from_static(b"4hello"), PayloadFormat::V4, 5).err(),
        Some(DecodeError::PayloadTooLarge { len: 6, max: 5 })
    );
}
