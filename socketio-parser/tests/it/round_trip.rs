//! Property tests: `decode(encode(p)) == p` for every packet, canonical text survives decoding
//! and re-encoding, and arbitrary input never panics.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{json, Value};
use socketio_parser::{
    to_payload, ByteString, DecodeError, Decoded, Decoder, DecoderConfig, Packet, PacketType, Payload,
    RawJson,
};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        ".*".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-zA-Z:é😀 ]{0,12}"
            .prop_filter("not reserved", |s| !socketio_parser::RESERVED_EVENTS.contains(&s.as_str()))
            .prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
    ]
}

fn nsp() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[a-z0-9_-]{1,10}"]
}

/// A packet as a server or client could send it, attachments included.
fn packet() -> impl Strategy<Value = Packet> {
    let id = prop::option::of(any::<u64>());
    let attachments = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..4);
    (0u8..5, nsp(), id, event_name(), prop::collection::vec(value(), 0..4), attachments, value()).prop_map(
        |(kind, nsp, id, name, args, attachments, extra)| {
            let attachments: Vec<Bytes> = attachments.into_iter().map(Bytes::from).collect();
            let mut array = args.clone();
            for num in 0..attachments.len() {
                array.push(json!({"_placeholder": true, "num": num}));
            }
            let raw = |v: &Value| RawJson::from_serialize(v).expect("serialises");
            match kind {
                0 => Packet::connect(nsp, matches!(extra, Value::Object(_)).then(|| raw(&extra))),
                1 => Packet::disconnect(nsp),
                2 => {
                    array.insert(0, name);
                    Packet::event(nsp, raw(&Value::Array(array)), attachments, id)
                }
                3 => Packet::ack(nsp, id.unwrap_or(0), raw(&Value::Array(array)), attachments),
                _ => Packet::connect_error(
                    nsp,
                    raw(&if extra.is_object() {
                        extra
                    } else {
                        json!({"message": "refused", "data": extra})
                    }),
                ),
            }
        },
    )
}

fn decode_all(
    decoder: &mut Decoder,
    text: ByteString,
    attachments: &[Bytes],
) -> Result<Decoded, DecodeError> {
    let mut result = decoder.decode_text(text)?;
    for a in attachments {
        result = decoder.decode_binary(a.clone())?;
    }
    Ok(result)
}

proptest! {
    #[test]
    fn packets_round_trip(p in packet()) {
        let text = p.encode_to_string();
        prop_assert_eq!(text.len(), p.encoded_len());
        let mut decoder = Decoder::default();
        let decoded = decode_all(&mut decoder, text.clone(), p.attachments());
        prop_assert_eq!(decoded, Ok(Decoded::Complete(p.clone())), "{}", text);
        prop_assert!(!decoder.is_reconstructing());
        // The text is canonical.
        prop_assert_eq!(p.encode_to_string(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,48}") {
        let _ = Decoder::default().decode_text(ByteString::from(text));
    }

    #[test]
    fn arbitrary_packet_shaped_text_never_panics(
        kind in "[0-7]", att in "([0-9]{1,3}-)?", nsp in "(/[a-z,]{0,4},?)?", id in "[0-9]{0,3}", body in "[\\[\\]{}\",:0-9a-z_ ]{0,24}"
    ) {
        let text = format!("{kind}{att}{nsp}{id}{body}");
        let mut decoder = Decoder::default();
        if let Ok(Decoded::Complete(p)) = decoder.decode_text(ByteString::from(text)) {
            // Whatever decodes re-encodes to something that decodes to the same packet.
            let again = decode_all(&mut Decoder::default(), p.encode_to_string(), p.attachments());
            prop_assert_eq!(again, Ok(Decoded::Complete(p)));
        }
    }
}

fn text(s: &str) -> ByteString {
    ByteString::from(s.to_owned())
}

#[test]
fn to_payload_output_decodes_with_its_attachments() {
    let file = Bytes::from_static(b"\x00\x01\x02");
    let (json, attachments) = to_payload(&("upload", json!({"name": "a.bin"}), &file)).expect("serialises");
    let p = Packet::event("/files", json, attachments, Some(3));
    assert_eq!(p.kind, PacketType::BinaryEvent);
    assert_eq!(
        &*p.encode_to_string(),
        r#"51-/files,3["upload",{"name":"a.bin"},{"_placeholder":true,"num":0}]"#
    );
    let decoded = decode_all(&mut Decoder::default(), p.encode_to_string(), &[file]);
    assert_eq!(decoded, Ok(Decoded::Complete(p)));
}

#[test]
fn binary_messages_only_while_reconstructing() {
    let mut d = Decoder::default();
    assert_eq!(d.decode_binary(Bytes::from_static(b"x")), Err(DecodeError::UnexpectedBinary));
    assert!(matches!(
        d.decode_text(text(r#"52-["a",{"_placeholder":true,"num":1}]"#)),
        Ok(Decoded::NeedsAttachments { .. })
    ));
    assert_eq!(d.decode_binary(Bytes::new()), Ok(Decoded::NeedsAttachments { received: 1, expected: 2 }));
    assert_eq!(d.decode_text(text(r#"2["b"]"#)), Err(DecodeError::UnexpectedText));
    // The error dropped the partial packet: the decoder is ready for a new one.
    assert!(!d.is_reconstructing());
    assert!(matches!(d.decode_text(text(r#"2["b"]"#)), Ok(Decoded::Complete(_))));
}

#[test]
fn a_binary_packet_holds_at_most_max_binary_packet_size_bytes() {
    let header = r#"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    let max = header.len() + 10;
    let mut d = Decoder::new(DecoderConfig { max_binary_packet_size: max, ..DecoderConfig::default() });
    // Up to the limit exactly: the packet completes.
    assert_eq!(d.decode_text(text(header)), Ok(Decoded::NeedsAttachments { received: 0, expected: 2 }));
    assert!(matches!(d.decode_binary(Bytes::from_static(&[1; 4])), Ok(Decoded::NeedsAttachments { .. })));
    assert!(matches!(d.decode_binary(Bytes::from_static(&[2; 6])), Ok(Decoded::Complete(_))));
    // One byte more: refused as soon as the attachment that passes it arrives, and dropped.
    assert!(matches!(d.decode_text(text(header)), Ok(Decoded::NeedsAttachments { .. })));
    assert!(matches!(d.decode_binary(Bytes::from_static(&[1; 4])), Ok(Decoded::NeedsAttachments { .. })));
    assert_eq!(d.decode_binary(Bytes::from_static(&[2; 7])), Err(DecodeError::BinaryPacketTooLarge { max }));
    assert!(!d.is_reconstructing());
    // The first attachment alone can pass it too.
    assert!(matches!(d.decode_text(text(header)), Ok(Decoded::NeedsAttachments { .. })));
    assert_eq!(d.decode_binary(Bytes::from(vec![0; 11])), Err(DecodeError::BinaryPacketTooLarge { max }));
    assert!(!d.is_reconstructing());
    // A text part over the limit is refused before anything is buffered; a packet without
    // attachments is not bound by it.
    let mut d =
        Decoder::new(DecoderConfig { max_binary_packet_size: header.len() - 1, ..DecoderConfig::default() });
    let max = header.len() - 1;
    assert_eq!(d.decode_text(text(header)), Err(DecodeError::BinaryPacketTooLarge { max }));
    assert!(!d.is_reconstructing());
    let long_event = format!(r#"2["e","{}"]"#, "x".repeat(2 * header.len()));
    assert!(matches!(d.decode_text(text(&long_event)), Ok(Decoded::Complete(_))));
}

#[test]
fn attachment_limits() {
    let config = DecoderConfig { max_attachments: 2, ..DecoderConfig::default() };
    let mut d = Decoder::new(config);
    assert_eq!(d.decode_text(text(r#"53-["a"]"#)), Err(DecodeError::TooManyAttachments { count: 3, max: 2 }));
    for bad in [r#"50-["a"]"#, r#"5-["a"]"#, r#"5a-["a"]"#, r#"51["a"]"#, "5999999999999999-[\"a\"]"] {
        assert!(
            matches!(
                d.decode_text(text(bad)),
                Err(DecodeError::InvalidAttachments | DecodeError::TooManyAttachments { .. })
            ),
            "{bad}"
        );
    }
    // A placeholder must point at an announced attachment.
    assert_eq!(
        d.decode_text(text(r#"51-["a",{"_placeholder":true,"num":1}]"#)),
        Err(DecodeError::InvalidPlaceholder)
    );
}

#[test]
fn huge_digit_runs_are_refused_in_linear_time() {
    // CVE-2020-36049: a packet of ten million digits.
    let ack = "2".to_owned() + &"2".repeat(10_000_000);
    assert_eq!(Decoder::default().decode_text(text(&ack)), Err(DecodeError::InvalidAckId));
    let att = "5".to_owned() + &"2".repeat(10_000_000);
    assert_eq!(Decoder::default().decode_text(text(&att)), Err(DecodeError::InvalidAttachments));
    assert_eq!(
        Decoder::default().decode_text(text("218446744073709551616[\"x\"]")),
        Err(DecodeError::InvalidAckId)
    );
    let max = Decoder::default().decode_text(text("218446744073709551615[\"x\"]"));
    assert!(matches!(max, Ok(Decoded::Complete(Packet { id: Some(u64::MAX), .. }))));
}

#[test]
fn event_names_follow_the_reference() {
    let mut d = Decoder::default();
    for ok in [r#"2["hello"]"#, r#"2[1,"numeric"]"#, r#"2["error","x"]"#, r#"2[""]"#, r#"2[1.5]"#] {
        assert!(matches!(d.decode_text(text(ok)), Ok(Decoded::Complete(_))), "{ok}");
    }
    for name in socketio_parser::RESERVED_EVENTS {
        assert_eq!(d.decode_text(text(&format!("2[\"{name}\"]"))), Err(DecodeError::ReservedEventName));
    }
    // Escapes do not hide a reserved name.
    assert_eq!(d.decode_text(text(r#"2["\u0063onnect"]"#)), Err(DecodeError::ReservedEventName));
    for bad in [r#"2[{"toString":"foo"}]"#, r#"2[true,"foo"]"#, r#"2[null,"bar"]"#, "2[]"] {
        assert_eq!(d.decode_text(text(bad)), Err(DecodeError::InvalidEventName), "{bad}");
    }
    for bad in ["2{}", r#"2"str""#, "2"] {
        assert_eq!(d.decode_text(text(bad)), Err(DecodeError::InvalidEventPayload), "{bad}");
    }
}

#[test]
fn payload_rules_per_type() {
    let mut d = Decoder::default();
    let complete = |r: Result<Decoded, DecodeError>| match r {
        Ok(Decoded::Complete(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(complete(d.decode_text(text("0"))).data, None);
    assert!(complete(d.decode_text(text(r#"0/admin,{"token":"1"}"#))).json().is_some());
    assert_eq!(d.decode_text(text("0[1]")), Err(DecodeError::InvalidConnectPayload));
    assert_eq!(d.decode_text(text(r#"0"str""#)), Err(DecodeError::InvalidConnectPayload));
    assert_eq!(d.decode_text(text(r#"1{"payload":1}"#)), Err(DecodeError::UnexpectedDisconnectPayload));
    assert_eq!(d.decode_text(text("310{\"not\":\"array\"}")), Err(DecodeError::InvalidAckPayload));
    assert!(complete(d.decode_text(text("3[]"))).json().is_some());
    assert_eq!(d.decode_text(text("4[1]")), Err(DecodeError::InvalidConnectErrorPayload));
    assert_eq!(d.decode_text(text("9")), Err(DecodeError::UnknownType(b'9')));
    assert_eq!(d.decode_text(text("")), Err(DecodeError::Empty));
    assert!(matches!(d.decode_text(text(r#"2abc["x"]"#)), Err(DecodeError::InvalidJson(_))));
}

#[test]
fn namespaces_and_v4_query_strings() {
    let mut d = Decoder::default();
    let Ok(Decoded::Complete(p)) = d.decode_text(text("0/admin?token=abc,")) else { panic!() };
    assert_eq!(p.namespace_and_query(), ("/admin", Some("token=abc")));
    // Without a comma the namespace runs to the end, as in the reference decoder.
    let Ok(Decoded::Complete(p)) = d.decode_text(text("1/admin")) else { panic!() };
    assert_eq!(&*p.nsp, "/admin");
    // The reference reads `2/admin["x"]` as an event for namespace `/admin["x"]` without a
    // payload; an event without a payload is refused here.
    assert_eq!(d.decode_text(text(r#"2/admin["x"]"#)), Err(DecodeError::InvalidEventPayload));
}

#[test]
fn payload_accessors() {
    let p = Packet::connect("/", Some(RawJson::new(r#"{"sid":"x"}"#).expect("valid")));
    assert!(matches!(&p.data, Some(Payload::Json { attachments, .. }) if attachments.is_empty()));
    assert_eq!(p.json().map(RawJson::as_str), Some(r#"{"sid":"x"}"#));
    assert!(RawJson::new("{").is_err());
}

#[test]
fn the_decoder_reports_its_limits_and_its_state() {
    let config = DecoderConfig { max_attachments: 3, max_depth: 4, max_binary_packet_size: 100 };
    let mut d = Decoder::new(config);
    assert_eq!(d.config(), &config);
    assert!(!d.is_reconstructing());
    assert_eq!(
        d.decode_text(text(r#"51-["a",{"_placeholder":true,"num":0}]"#)),
        Ok(Decoded::NeedsAttachments { received: 0, expected: 1 })
    );
    assert!(d.is_reconstructing());
    d.reset();
    assert!(!d.is_reconstructing());
    assert_eq!(d.decode_binary(Bytes::from_static(b"x")), Err(DecodeError::UnexpectedBinary));
    // A text part exactly at the limit is held.
    let header = r#"51-["a",{"_placeholder":true,"num":0}]"#;
    let mut d =
        Decoder::new(DecoderConfig { max_binary_packet_size: header.len(), ..DecoderConfig::default() });
    assert_eq!(d.decode_text(text(header)), Ok(Decoded::NeedsAttachments { received: 0, expected: 1 }));
    assert_eq!(
        d.decode_binary(Bytes::from_static(b"x")),
        Err(DecodeError::BinaryPacketTooLarge { max: header.len() })
    );
}
