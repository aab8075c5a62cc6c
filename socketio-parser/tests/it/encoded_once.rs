//! Packets encoded once for many recipients, answers to client acks, and the ack id counter.

use bytes::Bytes;
use socketio_parser::connection::Parser;
use socketio_parser::{
    to_payload, AckIds, ByteString, EncodedAck, EncodedPacket, Packet, PacketType, Payload, RawJson,
};

fn json(s: &'static str) -> Payload {
    Payload::json(RawJson::new(s).expect("valid JSON"))
}

fn nsp(s: &'static str) -> ByteString {
    ByteString::from_static(s)
}

fn shown(packet: &EncodedPacket) -> Vec<String> {
    packet
        .messages()
        .iter()
        .map(|m| match &m.data {
            engineio_parser::Data::Text(t) => format!("{:?} {t}", m.kind),
            engineio_parser::Data::Binary(b) => format!("{:?} {b:?}", m.kind),
        })
        .collect()
}

#[test]
fn an_event_is_one_text_message_then_one_binary_message_per_attachment() {
    let (args, attachments) =
        to_payload(&("f", Bytes::from_static(b"\x01"), Bytes::from_static(b"\x02"))).expect("serialisable");
    let packet =
        EncodedPacket::event(Parser::Json, &nsp("/a"), Payload::Json { json: args, attachments }, Some(4));
    assert_eq!(
        shown(&packet),
        [
            r#"Message 52-/a,4["f",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            r#"Message b"\x01""#,
            r#"Message b"\x02""#,
        ]
    );
    assert_eq!(packet.packet().kind, PacketType::BinaryEvent);
    assert_eq!(packet.packet().id, Some(4));
}

#[cfg(feature = "msgpack")]
#[test]
fn a_msgpack_event_is_one_binary_message() {
    let data = socketio_parser::args::event_payload(Parser::MsgPack, "e", &(1,)).expect("serialisable");
    let packet = EncodedPacket::event(Parser::MsgPack, &nsp("/"), data, None);
    assert_eq!(packet.messages().len(), 1);
    assert!(matches!(packet.messages()[0].data, engineio_parser::Data::Binary(_)));
}

#[test]
fn encoded_packets_compare_and_show_their_packet() {
    let a = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["a"]"#), None);
    let same = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["a"]"#), None);
    let other = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["b"]"#), None);
    assert_eq!(a, same);
    assert_ne!(a, other);
    assert_eq!(
        format!("{a:?}"),
        format!(
            "EncodedPacket {{ packet: {:?} }}",
            Packet::with_payload(PacketType::Event, nsp("/"), json(r#"["a"]"#), None)
        )
    );
}

#[test]
fn a_recoverable_event_appends_its_offset() {
    let packet =
        EncodedPacket::recoverable_event(Parser::Json, &nsp("/"), &json(r#"["m"]"#), "o1").expect("an array");
    assert_eq!(shown(&packet), [r#"Message 2["m","o1"]"#]);
    assert_eq!(EncodedPacket::recoverable_event(Parser::Json, &nsp("/"), &json("1"), "o1"), None);
}

#[test]
fn an_ack_from_arguments_is_text_unless_it_holds_binary() {
    let text = EncodedAck::from_args(Parser::Json, &nsp("/a"), 3, &("ok", 1)).expect("serialisable");
    assert_eq!(
        text,
        EncodedAck::serialize(&nsp("/a"), 3, &("ok", 1)).expect("serialisable").expect("no binary")
    );
    assert_eq!((text.nsp().as_ref(), text.id()), ("/a", 3));
    let binary = EncodedAck::from_args(Parser::Json, &nsp("/a"), 3, &(Bytes::from_static(b"\x01"),))
        .expect("serialisable");
    let (args, attachments) = to_payload(&(Bytes::from_static(b"\x01"),)).expect("serialisable");
    assert_eq!(binary, EncodedAck::new(&nsp("/a"), 3, Payload::Json { json: args, attachments }));
    assert_ne!(binary, text);
    // A failing `Serialize` is an error, not a panic.
    let mut bad = std::collections::BTreeMap::new();
    bad.insert((1, 2), 3);
    assert!(EncodedAck::from_args(Parser::Json, &nsp("/"), 1, &(bad,)).is_err());
}

#[cfg(feature = "msgpack")]
#[test]
fn a_msgpack_ack_from_arguments_is_a_payload() {
    let ack = EncodedAck::from_args(Parser::MsgPack, &nsp("/"), 2, &("ok",)).expect("serialisable");
    let payload = socketio_parser::args::ack_payload(Parser::MsgPack, &("ok",)).expect("serialisable");
    assert_eq!(ack, EncodedAck::new(&nsp("/"), 2, payload));
}

#[test]
fn ack_ids_count_from_zero() {
    let ids = AckIds::new();
    assert_eq!([ids.next_id(), ids.next_id(), ids.next_id()], [0, 1, 2]);
    assert_eq!(AckIds::default().next_id(), 0);
}
