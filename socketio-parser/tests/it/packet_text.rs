//! The text encoding of packets, field by field: what is written and what is read back.

use bytes::Bytes;
use socketio_parser::{
    ByteString, DecodeError, Decoded, Decoder, DecoderConfig, Packet, PacketType, Payload, RawJson,
};

fn raw(s: &str) -> RawJson {
    RawJson::new(s.to_owned()).expect("valid JSON")
}

fn decode(text: &str) -> Result<Decoded, DecodeError> {
    Decoder::default().decode_text(ByteString::from(text.to_owned()))
}

fn complete(text: &str) -> Packet {
    match decode(text) {
        Ok(Decoded::Complete(packet)) => packet,
        other => panic!("{text}: {other:?}"),
    }
}

/// Every way of writing a packet gives the same text, of the announced length.
fn written(packet: &Packet) -> String {
    let text = packet.encode_to_string().to_string();
    let mut into = String::from(">");
    packet.encode_into(&mut into);
    assert_eq!(into[1..], text);
    let mut buf = Vec::new();
    packet.encode(&mut buf);
    assert_eq!(buf, text.as_bytes());
    let mut message = Vec::new();
    packet.encode_message(&mut message);
    assert_eq!(message, format!("4{text}").as_bytes());
    assert_eq!(packet.encoded_len(), text.len(), "{text}");
    text
}

#[test]
fn each_field_is_written_in_order() {
    let two = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
    let cases: Vec<(Packet, &str)> = vec![
        (Packet::connect("/", None), "0"),
        (Packet::connect("/admin", Some(raw(r#"{"sid":"x"}"#))), r#"0/admin,{"sid":"x"}"#),
        (Packet::disconnect("/admin"), "1/admin,"),
        (Packet::disconnect(""), "1"),
        (Packet::event("/", raw(r#"["a"]"#), Vec::new(), None), r#"2["a"]"#),
        (Packet::event("/", raw(r#"["a"]"#), Vec::new(), Some(9)), r#"29["a"]"#),
        (Packet::event("/", raw(r#"["a"]"#), Vec::new(), Some(10)), r#"210["a"]"#),
        (
            Packet::event("/n", raw(r#"["a"]"#), Vec::new(), Some(u64::MAX)),
            r#"2/n,18446744073709551615["a"]"#,
        ),
        (Packet::ack("/", 0, raw("[]"), Vec::new()), "30[]"),
        (Packet::connect_error("/x", raw(r#"{"message":"m"}"#)), r#"4/x,{"message":"m"}"#),
        (
            Packet::event(
                "/",
                raw(r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#),
                two.clone(),
                Some(99),
            ),
            r#"52-99[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
        ),
        (Packet::ack("/b", 100, raw("[1]"), two), "62-/b,100[1]"),
    ];
    for (packet, text) in cases {
        assert_eq!(written(&packet), text);
    }
}

#[test]
fn ten_or_more_attachments_are_counted_in_decimal() {
    let attachments = vec![Bytes::from_static(b"x"); 12];
    let packet = Packet::event("/", raw(r#"["a"]"#), attachments, None);
    assert_eq!(written(&packet), r#"512-["a"]"#);
}

#[test]
fn a_msgpack_or_missing_payload_writes_no_json() {
    let packet = Packet { kind: PacketType::Ack, nsp: ByteString::from_static("/"), id: Some(3), data: None };
    assert_eq!(written(&packet), "33");
    assert_eq!(packet.json(), None);
    assert_eq!(packet.attachments(), &[] as &[Bytes]);
}

#[test]
fn attachment_counts_of_ten_digits_are_read_and_eleven_refused() {
    assert_eq!(
        decode(r#"59999999999-["a"]"#),
        Err(DecodeError::TooManyAttachments { count: 9_999_999_999, max: 10 })
    );
    assert_eq!(
        decode(r#"51234567890-["a"]"#),
        Err(DecodeError::TooManyAttachments { count: 1_234_567_890, max: 10 })
    );
    assert_eq!(decode(r#"512345678901-["a"]"#), Err(DecodeError::InvalidAttachments));
    assert_eq!(decode(r#"500000000001-["a"]"#), Err(DecodeError::InvalidAttachments));
    // Leading zeros count as digits.
    assert_eq!(decode(r#"50000000010-["a"]"#), Ok(Decoded::NeedsAttachments { received: 0, expected: 10 }));
    assert_eq!(decode(r#"511-["a"]"#), Err(DecodeError::TooManyAttachments { count: 11, max: 10 }));
    assert_eq!(decode(r#"510-["a"]"#), Ok(Decoded::NeedsAttachments { received: 0, expected: 10 }));
    let mut large =
        Decoder::new(DecoderConfig { max_attachments: 1_234_567_890, ..DecoderConfig::default() });
    assert_eq!(
        large.decode_text(ByteString::from_static(r#"51234567890-["a"]"#)),
        Ok(Decoded::NeedsAttachments { received: 0, expected: 1_234_567_890 })
    );
    for bad in [r#"5-["a"]"#, r#"50-["a"]"#, r#"51["a"]"#, r#"5a-["a"]"#, "5"] {
        assert_eq!(decode(bad), Err(DecodeError::InvalidAttachments), "{bad}");
    }
}

#[test]
fn ack_ids_of_twenty_digits_are_read_and_longer_or_larger_refused() {
    assert_eq!(complete(r#"218446744073709551615["a"]"#).id, Some(u64::MAX));
    assert_eq!(complete(r#"200000000000000000001["a"]"#).id, Some(1));
    assert_eq!(decode(r#"218446744073709551616["a"]"#), Err(DecodeError::InvalidAckId));
    assert_eq!(decode(r#"299999999999999999999["a"]"#), Err(DecodeError::InvalidAckId));
    assert_eq!(decode(r#"2000000000000000000001["a"]"#), Err(DecodeError::InvalidAckId));
    assert_eq!(complete("3/x,12").id, Some(12));
    assert_eq!(complete(r#"2/x,7["a"]"#).id, Some(7));
    assert_eq!(complete(r#"2["a"]"#).id, None);
}

#[test]
fn a_namespace_runs_to_its_comma_or_to_the_end() {
    let p = complete("1/admin");
    assert_eq!((p.kind, &*p.nsp, p.id, p.data), (PacketType::Disconnect, "/admin", None, None));
    let p = complete("0/admin,");
    assert_eq!((&*p.nsp, p.data), ("/admin", None));
    let p = complete(r#"0/admin,{"a":1}"#);
    assert_eq!(p.json().map(RawJson::as_str), Some(r#"{"a":1}"#));
    let p = complete(r#"2["a"]"#);
    assert_eq!(&*p.nsp, "/");
    let p = complete(r#"0/admin?x=1,{}"#);
    assert_eq!(p.namespace_and_query(), ("/admin", Some("x=1")));
    assert_eq!(complete("0/admin,").namespace_and_query(), ("/admin", None));
}

#[test]
fn payload_kinds_per_packet_type() {
    let errors = [
        ("", DecodeError::Empty),
        ("7", DecodeError::UnknownType(b'7')),
        ("/", DecodeError::UnknownType(b'/')),
        ("0[]", DecodeError::InvalidConnectPayload),
        ("0\"s\"", DecodeError::InvalidConnectPayload),
        ("1{}", DecodeError::UnexpectedDisconnectPayload),
        ("4", DecodeError::InvalidConnectErrorPayload),
        ("4[]", DecodeError::InvalidConnectErrorPayload),
        ("41", DecodeError::InvalidConnectErrorPayload),
        ("2", DecodeError::InvalidEventPayload),
        ("2{}", DecodeError::InvalidEventPayload),
        ("2[]", DecodeError::InvalidEventName),
        ("2[null]", DecodeError::InvalidEventName),
        ("2[{}]", DecodeError::InvalidEventName),
        ("3{}", DecodeError::InvalidAckPayload),
        ("31\"s\"", DecodeError::InvalidAckPayload),
        ("61-", DecodeError::InvalidAckPayload),
        ("51-", DecodeError::InvalidEventPayload),
        ("61-{}", DecodeError::InvalidAckPayload),
        ("51-{}", DecodeError::InvalidEventPayload),
        ("2[\"a\"", DecodeError::InvalidJson(4)),
    ];
    for (text, error) in errors {
        assert_eq!(decode(text), Err(error), "{text:?}");
    }
    for ok in [
        "0",
        "0{}",
        "1",
        "3",
        "30",
        "3[]",
        "4\"no\"",
        "4{\"message\":\"no\"}",
        "2[1]",
        "2[\"a\"]",
        "2[\"\\u0061\"]",
    ] {
        assert!(matches!(decode(ok), Ok(Decoded::Complete(_))), "{ok}");
    }
}

#[test]
fn reserved_names_are_refused_escaped_or_not() {
    for name in ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"] {
        assert_eq!(decode(&format!(r#"2["{name}"]"#)), Err(DecodeError::ReservedEventName), "{name}");
        let escaped = format!(r#"2["\u{:04x}{}"]"#, name.as_bytes()[0], &name[1..]);
        assert_eq!(decode(&escaped), Err(DecodeError::ReservedEventName), "{escaped}");
    }
    for fine in [r#"2["connects"]"#, r#"2["\u0063onnects"]"#, r#"2["Connect"]"#, r#"2["a\"b"]"#] {
        assert!(matches!(decode(fine), Ok(Decoded::Complete(_))), "{fine}");
    }
}

#[test]
fn placeholders_must_refer_to_an_announced_attachment() {
    assert_eq!(decode(r#"51-["a",{"_placeholder":true,"num":1}]"#), Err(DecodeError::InvalidPlaceholder));
    assert_eq!(
        decode(r#"52-["a",{"_placeholder":true,"num":1}]"#),
        Ok(Decoded::NeedsAttachments { received: 0, expected: 2 })
    );
    assert_eq!(
        decode(r#"51-["a",{"_placeholder":true,"num":0}]"#),
        Ok(Decoded::NeedsAttachments { received: 0, expected: 1 })
    );
    // Outside a binary packet a placeholder-shaped object is plain data.
    let p = complete(r#"2["a",{"_placeholder":true,"num":5}]"#);
    assert_eq!(p.json().map(RawJson::as_str), Some(r#"["a",{"_placeholder":true,"num":5}]"#));
}

#[test]
fn long_and_non_ascii_payloads_are_kept_as_they_arrived() {
    for text in [
        format!(r#"2["{}"]"#, "x".repeat(300)),
        format!(r#"2["{}"]"#, "x".repeat(185)),
        format!(r#"2["{}"]"#, "x".repeat(186)),
        r#"2/é,["é"]"#.to_owned(),
        r#"21["日本"]"#.to_owned(),
    ] {
        let p = complete(&text);
        assert_eq!(p.encode_to_string(), text);
    }
}

#[test]
fn packet_types_and_their_digits() {
    for (n, kind) in PacketType::ALL.iter().enumerate() {
        assert_eq!(PacketType::from_u8(n as u8), Some(*kind));
        assert_eq!(*kind as u8, n as u8);
        assert_eq!(kind.is_binary(), n == 5 || n == 6);
    }
    assert_eq!(PacketType::from_u8(7), None);
}

#[test]
fn raw_json_shows_and_reads_its_text() {
    let json = raw(r#"{"a":[1,2]}"#);
    assert_eq!(json.to_string(), r#"{"a":[1,2]}"#);
    assert_eq!(&**json.as_byte_string(), r#"{"a":[1,2]}"#);
    let value: serde_json::Value = json.deserialize().expect("valid");
    assert_eq!(value, serde_json::json!({"a": [1, 2]}));
    assert!(RawJson::new("{").is_err());
    assert_eq!(RawJson::from_serialize(&[1.5, 2.0]).expect("serialisable").as_str(), "[1.5,2]");
}

#[test]
fn without_name_and_with_string_item_edit_the_array_text() {
    let cases = [
        (r#"["a",1]"#, Some("[1]")),
        (r#" [ "a" , 1 ]"#, Some("[ 1 ]")),
        (r#"["a"]"#, Some("[]")),
        (r#"["a" ]"#, Some("[]")),
        (r#"["a\"b",2]"#, Some("[2]")),
        (r#"["a\\",2]"#, Some("[2]")),
        (r#"[1,2]"#, None),
        (r#"{"a":1}"#, None),
    ];
    for (text, args) in cases {
        let payload = Payload::json(raw(text));
        let got = payload.without_name().map(|p| match p {
            Payload::Json { json, .. } => json.as_str().to_owned(),
            #[allow(unreachable_patterns)]
            _ => unreachable!(),
        });
        assert_eq!(got.as_deref(), args, "{text}");
    }
    let items = [
        ("[]", Some(r#"["z"]"#)),
        (" [ ] ", Some(r#" [ "z"]"#)),
        ("[1]", Some(r#"[1,"z"]"#)),
        ("[1 ]\n", Some(r#"[1 ,"z"]"#)),
        ("{}", None),
        ("1", None),
    ];
    for (text, with) in items {
        let got = Payload::json(raw(text)).with_string_item("z").map(|p| match p {
            Payload::Json { json, .. } => json.as_str().to_owned(),
            #[allow(unreachable_patterns)]
            _ => unreachable!(),
        });
        assert_eq!(got.as_deref(), with, "{text:?}");
    }
}

/// The decoder's limits that cannot work are refused, each by name; the defaults and the
/// smallest working values pass.
#[test]
fn decoder_limits_that_cannot_work_are_refused() {
    use engineio_parser::options::Checker;
    let refused = |config: socketio_parser::DecoderConfig| {
        let mut checker = Checker::new();
        config.check(&mut checker);
        match checker.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.problems().iter().map(|p| p.option.clone()).collect(),
        }
    };
    let defaults = socketio_parser::DecoderConfig::default();
    assert_eq!(refused(defaults), Vec::<String>::new());
    let zero = socketio_parser::DecoderConfig { max_depth: 0, max_binary_packet_size: 0, ..defaults };
    assert_eq!(refused(zero), ["max_depth", "max_binary_packet_size"]);
    let smallest =
        socketio_parser::DecoderConfig { max_depth: 1, max_binary_packet_size: 1, max_attachments: 0 };
    assert_eq!(refused(smallest), Vec::<String>::new());
}

/// An event or ack carrying attachments is of the binary type; the names are the labels logs
/// and metrics use.
#[test]
fn packet_types_carrying_data_and_their_names() {
    use socketio_parser::PacketType as T;
    let plain =
        socketio_parser::Payload::Json { json: RawJson::new("[1]").expect("json"), attachments: Vec::new() };
    let binary = socketio_parser::Payload::Json {
        json: RawJson::new(r#"[{"_placeholder":true,"num":0}]"#).expect("json"),
        attachments: vec![Bytes::from_static(b"\x01")],
    };
    for (kind, with_plain, with_binary) in [
        (T::Event, T::Event, T::BinaryEvent),
        (T::BinaryEvent, T::Event, T::BinaryEvent),
        (T::Ack, T::Ack, T::BinaryAck),
        (T::BinaryAck, T::Ack, T::BinaryAck),
        (T::Connect, T::Connect, T::Connect),
        (T::Disconnect, T::Disconnect, T::Disconnect),
        (T::ConnectError, T::ConnectError, T::ConnectError),
    ] {
        assert_eq!((kind.carrying(&plain), kind.carrying(&binary)), (with_plain, with_binary), "{kind:?}");
    }
    let names: Vec<&str> = T::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(
        names,
        ["connect", "disconnect", "event", "ack", "connect_error", "binary_event", "binary_ack"]
    );
}
