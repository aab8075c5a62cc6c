//! Property tests: every packet and payload survives encoding and decoding, and canonical
//! encodings survive decoding and re-encoding.

use bytes::Bytes;
use engineio_parser::{
    decode_payload, encode_payload, payload_len, ByteString, Data, DecodeError, FrameKind, Packet,
    PacketType, PayloadFormat, ProtocolVersion,
};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V3), Just(ProtocolVersion::V4)]
}

fn kind() -> impl Strategy<Value = PacketType> {
    (0u8..7).prop_map(|n| PacketType::from_u8(n).expect("0..7 are packet types"))
}

fn text() -> impl Strategy<Value = String> {
    // ASCII, multi-byte, astral characters and the separator-like control characters.
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            2 => prop::char::range('a', 'z'),
            1 => Just('€'),
            1 => Just('😀'),
            1 => Just(':'),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().filter(|&c| c != '\u{1e}').collect())
}

/// Packets every encoding can carry: text packets of any type and binary messages (v3 also
/// carries binary data of other types, checked separately).
fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (kind(), text()).prop_map(|(k, t)| Packet::text(k, t)),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Packet::binary),
    ]
}

fn utf8(bytes: Vec<u8>) -> ByteString {
    ByteString::try_from(Bytes::from(bytes)).expect("encoders write UTF-8 text")
}

proptest! {
    #[test]
    fn text_form_round_trips(p in packet(), v in version()) {
        let mut buf = Vec::new();
        p.encode_text(v, &mut buf);
        prop_assert_eq!(buf.len(), p.text_len(v));
        let decoded = Packet::decode_text(utf8(buf.clone()), v).expect("decodes");
        prop_assert_eq!(&decoded, &p);
        // The text form is canonical: decoding then encoding gives the same bytes.
        let mut again = Vec::new();
        decoded.encode_text(v, &mut again);
        prop_assert_eq!(again, buf);
    }

    #[test]
    fn frames_round_trip(p in packet(), v in version(), b64 in any::<bool>()) {
        let frame = p.to_frame(v, b64);
        prop_assert_eq!(frame.kind() == FrameKind::Binary, p.is_binary() && !b64);
        prop_assert_eq!(Packet::decode_frame(frame, v).expect("decodes"), p);
    }

    #[test]
    fn v3_binary_frames_keep_their_type(k in kind(), data in prop::collection::vec(any::<u8>(), 0..40)) {
        let p = Packet { kind: k, data: Data::Binary(data.into()) };
        for b64 in [false, true] {
            let frame = p.to_frame(ProtocolVersion::V3, b64);
            prop_assert_eq!(Packet::decode_frame(frame, ProtocolVersion::V3).expect("decodes"), p.clone());
        }
    }

    #[test]
    fn payloads_round_trip(packets in prop::collection::vec(packet(), 1..12)) {
        for format in [PayloadFormat::V4, PayloadFormat::V3Text, PayloadFormat::V3Binary] {
            let mut buf = Vec::new();
            encode_payload(&packets, format, &mut buf);
            prop_assert_eq!(buf.len(), payload_len(&packets, format));
            let body = Bytes::from(buf.clone());
            let decoded: Vec<Packet> = decode_payload(body, format, buf.len())
                .expect("within the limit")
                .collect::<Result<_, _>>()
                .expect("decodes");
            prop_assert_eq!(&decoded, &packets, "{:?}", format);
            let mut again = Vec::new();
            encode_payload(&decoded, format, &mut again);
            prop_assert_eq!(again, buf);
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
        for format in [PayloadFormat::V4, PayloadFormat::V3Text, PayloadFormat::V3Binary] {
            let packets = decode_payload(Bytes::from(body.clone()), format, 1 << 20).expect("small");
            // At most one error, and it is the last item.
            let results: Vec<_> = packets.collect();
            let errors = results.iter().filter(|r| r.is_err()).count();
            prop_assert!(errors <= 1);
            if errors == 1 {
                prop_assert!(results.last().is_some_and(Result::is_err));
            }
        }
    }
}

fn decode_all(body: &[u8], format: PayloadFormat) -> Vec<Result<Packet, DecodeError>> {
    decode_payload(Bytes::copy_from_slice(body), format, 1_000_000).expect("small").collect()
}

#[test]
fn v3_lengths_count_utf16_units() {
    // `€` is one UTF-16 unit (three UTF-8 bytes), `😀` is two (four bytes).
    let ok = decode_all("2:4€3:4😀".as_bytes(), PayloadFormat::V3Text);
    assert_eq!(ok, [Ok(Packet::message("€")), Ok(Packet::message("😀"))]);
    // A length that ends inside a surrogate pair cannot be honoured.
    let split = decode_all("2:4😀".as_bytes(), PayloadFormat::V3Text);
    assert_eq!(split, [Err(DecodeError::LengthMismatch)]);
}

#[test]
fn packets_before_an_error_are_delivered() {
    let items = decode_all(b"4a\x1e9\x1e4b", PayloadFormat::V4);
    assert_eq!(items, [Ok(Packet::message("a")), Err(DecodeError::UnknownType(b'9'))]);
    let items = decode_all(b"2:4a2:", PayloadFormat::V3Text);
    assert_eq!(items, [Ok(Packet::message("a")), Err(DecodeError::LengthMismatch)]);
}

#[test]
fn empty_bodies_follow_the_reference() {
    assert_eq!(decode_all(b"", PayloadFormat::V4), [Err(DecodeError::Empty)]);
    assert_eq!(decode_all(b"", PayloadFormat::V3Text), [Err(DecodeError::Empty)]);
    assert_eq!(decode_all(b"", PayloadFormat::V3Binary), []);
    assert_eq!(decode_all(b"0:", PayloadFormat::V3Text), []);
    // A trailing separator leaves an empty, invalid last entry.
    assert_eq!(decode_all(b"4a\x1e", PayloadFormat::V4), [Ok(Packet::message("a")), Err(DecodeError::Empty)]);
    let mut empty = Vec::new();
    encode_payload(&[], PayloadFormat::V3Text, &mut empty);
    assert_eq!(empty, b"0:");
}

#[test]
fn oversized_bodies_are_refused_before_decoding() {
    let err = decode_payload(Bytes::from_static(b"4hello"), PayloadFormat::V4, 5).err();
    assert_eq!(err, Some(DecodeError::PayloadTooLarge { len: 6, max: 5 }));
}

#[test]
fn overlong_v3_lengths_are_refused_in_linear_time() {
    let body = "9".repeat(100_000) + ":4";
    assert_eq!(decode_all(body.as_bytes(), PayloadFormat::V3Text), [Err(DecodeError::InvalidLength)]);
    let mut bin = vec![0u8];
    bin.extend(std::iter::repeat_n(9u8, 100_000));
    bin.push(0xff);
    assert_eq!(decode_all(&bin, PayloadFormat::V3Binary), [Err(DecodeError::InvalidLength)]);
}

#[test]
fn xhr2_payload_matches_the_reference_layout() {
    // A text packet `4hello` and a binary message [1, 2, 3], as engine.io-parser 2 lays them out.
    let packets = [Packet::message("hello"), Packet::binary(&[1u8, 2, 3][..])];
    let mut buf = Vec::new();
    encode_payload(&packets, PayloadFormat::V3Binary, &mut buf);
    assert_eq!(buf, [0, 6, 0xff, b'4', b'h', b'e', b'l', b'l', b'o', 1, 4, 0xff, 4, 1, 2, 3]);
    assert_eq!(PayloadFormat::for_response(ProtocolVersion::V3, true, &packets), PayloadFormat::V3Binary);
    assert_eq!(PayloadFormat::for_response(ProtocolVersion::V3, false, &packets), PayloadFormat::V3Text);
}

#[test]
fn eio_query_values_select_versions_like_the_reference() {
    assert_eq!(ProtocolVersion::from_query(Some("4")), ProtocolVersion::V4);
    for other in [None, Some("3"), Some("5"), Some("abc"), Some(" 4")] {
        assert_eq!(ProtocolVersion::from_query(other), ProtocolVersion::V3);
    }
}
