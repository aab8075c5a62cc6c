//! The Socket.IO connection machine, rule by rule, on simulated time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use socketio_parser::connection::{
    CloseCause, Connection, ConnectionConfig, DisconnectReason, Event, Message, Parser, ProtocolVersion,
    Recovery, Transmit,
};
use socketio_parser::{
    to_payload, ByteString, DecodeError, EncodedAck, EncodedPacket, Packet, PacketType, Payload, RawJson,
};

struct H {
    c: Connection,
    start: Instant,
}

impl H {
    fn v5() -> Self {
        Self::with(ConnectionConfig::default())
    }

    fn with(config: ConnectionConfig) -> Self {
        let start = Instant::now();
        H { c: Connection::new(config, start), start }
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn text(&mut self, s: &str) {
        let now = self.start;
        self.c.handle_message(Message::Text(ByteString::from(s.to_owned())), now);
    }

    fn binary(&mut self, b: &'static [u8]) {
        let now = self.start;
        self.c.handle_message(Message::Binary(Bytes::from_static(b)), now);
    }

    fn sent(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(t) = self.c.poll_transmit() {
            match t {
                Transmit::Packet(_, message) | Transmit::Send(message) => out.push(show(message)),
                Transmit::Encoded(packet) => {
                    out.extend(packet.messages().iter().map(|m| show(Message::from(m.data.clone()))))
                }
                Transmit::EncodedUncompressed(packet) => out.extend(
                    packet
                        .messages()
                        .iter()
                        .map(|m| format!("<uncompressed> {}", show(Message::from(m.data.clone())))),
                ),
                Transmit::Close(cause) => out.push(format!("<close {cause:?}>")),
            }
        }
        out
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.c.poll_event()).collect()
    }

    /// Joins `nsp` as socket `sid`.
    fn join(&mut self, nsp: &str, sid: &str) {
        self.text(&if nsp == "/" { "0".to_owned() } else { format!("0{nsp},") });
        let events = self.events();
        assert!(matches!(&events[..], [Event::Connect { nsp: n, .. }] if &**n == nsp), "{events:?}");
        self.c.accept(&ByteString::from(nsp.to_owned()), sid, None);
        self.sent();
    }
}

fn show(message: Message) -> String {
    match message {
        Message::Text(t) => t.to_string(),
        Message::Binary(b) => format!("<binary {b:?}>"),
    }
}

fn nsp(s: &'static str) -> ByteString {
    ByteString::from_static(s)
}

fn raw(s: &'static str) -> RawJson {
    RawJson::new(s).expect("valid JSON")
}

fn json(s: &'static str) -> Payload {
    Payload::json(RawJson::new(s).expect("valid JSON"))
}

#[test]
fn connect_with_auth_then_accept() {
    let mut h = H::v5();
    h.text(r#"0{"token":"123"}"#);
    assert_eq!(
        h.events(),
        [Event::Connect { nsp: nsp("/"), auth: raw(r#"{"token":"123"}"#), recovery: None }]
    );
    assert!(!h.c.is_connected("/"));
    h.c.accept(&nsp("/"), "AbCd", Some("PiD"));
    assert_eq!(h.sent(), [r#"0{"sid":"AbCd","pid":"PiD"}"#]);
    assert!(h.c.is_connected("/"));
    // The connect timeout no longer applies.
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn reject_with_message_and_data() {
    let mut h = H::v5();
    h.text("0/guarded,");
    h.events();
    h.c.reject(&nsp("/guarded"), "not authorized", Some(RawJson::new(r#"{"reason":"x"}"#).expect("valid")));
    assert_eq!(h.sent(), [r#"4/guarded,{"message":"not authorized","data":{"reason":"x"}}"#]);
    assert!(!h.c.is_connected("/guarded"));
    // The client may try again.
    h.text("0/guarded,");
    assert!(matches!(&h.events()[..], [Event::Connect { .. }]));
}

#[test]
fn invalid_namespace() {
    let mut h = H::v5();
    h.text("0/random,");
    h.events();
    h.c.reject_invalid_namespace(&nsp("/random"));
    assert_eq!(h.sent(), [r#"4/random,{"message":"Invalid namespace"}"#]);
}

#[test]
fn events_and_acks_from_the_client() {
    let mut h = H::v5();
    h.join("/", "s");
    h.text(r#"2["hello",1]"#);
    h.text(r#"212["with ack"]"#);
    assert_eq!(
        h.events(),
        [
            Event::Event { nsp: nsp("/"), data: json(r#"["hello",1]"#), id: None },
            Event::Event { nsp: nsp("/"), data: json(r#"["with ack"]"#), id: Some(12) },
        ]
    );
    h.c.ack(&nsp("/"), 12, json(r#"["ok"]"#));
    assert_eq!(h.sent(), [r#"312["ok"]"#]);
}

#[test]
fn binary_events_are_reassembled() {
    let mut h = H::v5();
    h.join("/", "s");
    h.text(r#"51-["file",{"_placeholder":true,"num":0}]"#);
    assert_eq!(h.events(), []);
    h.binary(b"\x01\x02");
    let events = h.events();
    let [Event::Event { data: Payload::Json { attachments, .. }, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(attachments, &[Bytes::from_static(b"\x01\x02")]);
}

#[test]
fn emit_with_binary_and_ack_timeout() {
    let mut h = H::v5();
    h.join("/chat", "s");
    let (payload, attachments) = to_payload(&("file", Bytes::from_static(b"\xff"))).expect("serialises");
    assert!(h.c.emit(&nsp("/chat"), Payload::Json { json: payload, attachments }, Some(7)));
    h.c.expect_ack(&nsp("/chat"), 7, Some(h.at(5_000)));
    assert_eq!(
        h.sent(),
        [r#"51-/chat,7["file",{"_placeholder":true,"num":0}]"#.to_owned(), "<binary b\"\\xff\">".to_owned()]
    );
    assert_eq!(h.c.poll_timeout(), Some(h.at(5_000)));
    h.c.handle_timeout(h.at(4_999));
    assert_eq!(h.events(), []);
    h.c.handle_timeout(h.at(5_000));
    assert_eq!(h.events(), [Event::AckTimeout { nsp: nsp("/chat"), id: 7 }]);
    // A late answer is ignored.
    h.text("3/chat,7[1]");
    assert_eq!(h.events(), []);
    assert!(!h.c.is_closed());
}

#[test]
fn acks_answered_out_of_order() {
    let mut h = H::v5();
    h.join("/", "s");
    for id in 0..200u64 {
        h.c.expect_ack(&nsp("/"), id, Some(h.at(10_000)));
    }
    for id in (0..200u64).rev() {
        h.text(&format!("3{id}[{id}]"));
    }
    let events = h.events();
    assert_eq!(events.len(), 200);
    for (event, id) in events.iter().zip((0..200u64).rev()) {
        assert!(matches!(event, Event::Ack { id: got, .. } if *got == id));
    }
    // Every deadline was answered: nothing is scheduled.
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn disconnect_both_ways() {
    let mut h = H::v5();
    h.join("/", "a");
    h.join("/admin", "b");
    h.text("1/admin,");
    assert_eq!(
        h.events(),
        [Event::Disconnect { nsp: nsp("/admin"), reason: DisconnectReason::ClientNamespaceDisconnect }]
    );
    h.c.disconnect(&nsp("/"));
    assert_eq!(h.sent(), ["1"]);
    assert_eq!(
        h.events(),
        [Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::ServerNamespaceDisconnect }]
    );
    // The connection itself stays open (the client may join again).
    assert!(!h.c.is_closed());
}

#[test]
fn connect_timeout_closes_a_client_that_joins_nothing() {
    let mut h = H::v5();
    assert_eq!(h.c.poll_timeout(), Some(h.at(45_000)));
    h.c.handle_timeout(h.at(44_999));
    assert_eq!(h.sent(), Vec::<String>::new());
    h.c.handle_timeout(h.at(45_000));
    assert_eq!(h.sent(), ["<close ConnectTimeout>"]);
    assert!(h.c.is_closed());
}

#[test]
fn invalid_states_close_the_connection() {
    // The reference reports `forced server close` over polling and `forced close` over
    // WebSocket, where the engine finishes closing first.
    for (websocket, reason) in
        [(false, DisconnectReason::ForcedServerClose), (true, DisconnectReason::ForcedClose)]
    {
        for input in ["0", "4{\"message\":\"x\"}", "2/nonexistent,[\"x\"]", "1/other,", "3/other,1[]"] {
            let mut h = H::v5();
            if websocket {
                h.c.handle_websocket();
            }
            h.join("/", "s");
            h.text(input);
            let sent = h.sent();
            assert!(
                matches!(sent.last().map(String::as_str), Some(s) if s.starts_with("<close InvalidState")),
                "{input}: {sent:?}"
            );
            assert_eq!(h.events(), [Event::Disconnect { nsp: nsp("/"), reason }], "{input}");
            // Nothing is accepted afterwards.
            h.text("2[\"late\"]");
            assert_eq!(h.events(), []);
        }
    }
}

#[test]
fn decode_errors_report_then_close() {
    let mut h = H::v5();
    h.join("/", "s");
    h.text(r#"2["disconnect"]"#);
    assert_eq!(
        h.events(),
        [
            Event::Error(DecodeError::ReservedEventName),
            Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::ForcedClose },
        ]
    );
    assert_eq!(h.sent(), [format!("<close {:?}>", CloseCause::Decode(DecodeError::ReservedEventName))]);
}

#[test]
fn transport_close_disconnects_every_namespace() {
    let mut h = H::v5();
    h.join("/", "a");
    h.join("/b", "b");
    h.c.handle_transport_closed(DisconnectReason::PingTimeout);
    // In the order they were joined, as the reference's client walks its sockets.
    assert_eq!(
        h.events(),
        [
            Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::PingTimeout },
            Event::Disconnect { nsp: nsp("/b"), reason: DisconnectReason::PingTimeout },
        ]
    );
    assert_eq!(h.sent(), Vec::<String>::new());
}

#[test]
fn server_shutdown_disconnects_and_closes() {
    let mut h = H::v5();
    h.join("/", "a");
    h.c.close_all(DisconnectReason::ServerShuttingDown);
    assert_eq!(
        h.events(),
        [Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::ServerShuttingDown }]
    );
    assert_eq!(h.sent(), ["<close Application>"]);
}

#[test]
fn v4_clients_are_connected_to_the_main_namespace_implicitly() {
    let mut h = H::with(ConnectionConfig { protocol: ProtocolVersion::V4, ..ConnectionConfig::default() });
    assert_eq!(h.events(), [Event::Connect { nsp: nsp("/"), auth: raw("{}"), recovery: None }]);
    h.c.accept(&nsp("/"), "engine-sid", None);
    assert_eq!(h.sent(), ["0"]);
    // Another namespace, with auth in the query string.
    h.text("0/admin?token=abc,");
    assert_eq!(
        h.events(),
        [Event::Connect { nsp: nsp("/admin"), auth: raw(r#"{"token":"abc"}"#), recovery: None }]
    );
    h.c.accept(&nsp("/admin"), "/admin#engine-sid", None);
    assert_eq!(h.sent(), ["0/admin,"]);
    h.text("2/admin,[\"hi\"]");
    assert!(matches!(&h.events()[..], [Event::Event { .. }]));
}

#[test]
fn v4_refusals_are_error_packets() {
    let mut h = H::with(ConnectionConfig { protocol: ProtocolVersion::V4, ..ConnectionConfig::default() });
    h.events();
    h.c.accept(&nsp("/"), "s", None);
    h.sent();
    h.text("0/guarded,");
    h.events();
    h.c.reject(&nsp("/guarded"), "not authorized", None);
    assert_eq!(h.sent(), [r#"4/guarded,"not authorized""#]);
    h.text("0/guarded,");
    h.events();
    h.c.reject(&nsp("/guarded"), "not authorized", Some(RawJson::new(r#"{"x":1}"#).expect("valid")));
    assert_eq!(h.sent(), [r#"4/guarded,{"x":1}"#]);
    // "Invalid namespace" stays an object.
    h.text("0/nope,");
    h.events();
    h.c.reject_invalid_namespace(&nsp("/nope"));
    assert_eq!(h.sent(), [r#"4/nope,{"message":"Invalid namespace"}"#]);
}

#[test]
fn disconnect_reasons_match_the_reference_texts() {
    let all = [
        (DisconnectReason::ServerNamespaceDisconnect, "server namespace disconnect", false),
        (DisconnectReason::ClientNamespaceDisconnect, "client namespace disconnect", false),
        (DisconnectReason::ServerShuttingDown, "server shutting down", true),
        (DisconnectReason::PingTimeout, "ping timeout", true),
        (DisconnectReason::TransportClose, "transport close", true),
        (DisconnectReason::TransportError, "transport error", true),
        (DisconnectReason::ParseError, "parse error", false),
        (DisconnectReason::ForcedClose, "forced close", true),
        (DisconnectReason::ForcedServerClose, "forced server close", true),
    ];
    for (reason, text, recoverable) in all {
        assert_eq!(reason.as_str(), text);
        assert_eq!(reason.to_string(), text);
        assert_eq!(reason.is_recoverable(), recoverable, "{text}");
    }
}

#[cfg(feature = "msgpack")]
#[test]
fn msgpack_connections_use_binary_messages() {
    use socketio_parser::connection::Parser;
    let mut h = H::with(ConnectionConfig { parser: Parser::MsgPack, ..ConnectionConfig::default() });
    // The browser client's CONNECT: {type:0, data:undefined, nsp:"/"}.
    h.binary(&[
        0x83, 0xa4, b't', b'y', b'p', b'e', 0x00, 0xa4, b'd', b'a', b't', b'a', 0xd4, 0x00, 0x00, 0xa3, b'n',
        b's', b'p', 0xa1, b'/',
    ]);
    assert_eq!(h.events(), [Event::Connect { nsp: nsp("/"), auth: raw("{}"), recovery: None }]);
    h.c.accept(&nsp("/"), "s", None);
    let sent: Vec<Transmit> = std::iter::from_fn(|| h.c.poll_transmit()).collect();
    assert!(matches!(&sent[..], [Transmit::Packet(PacketType::Connect, Message::Binary(_))]));
    // A text message is not a msgpack packet.
    h.text("2[\"x\"]");
    assert!(h.c.is_closed());
}

// -------------------------------------------------------------------------------------------
// What goes out: packets encoded once, answers once, recovery, ids, close reasons

#[test]
fn the_packet_type_follows_the_attachments() {
    let plain = Packet::with_payload(PacketType::Event, nsp("/"), json(r#"["a"]"#), None);
    assert_eq!(plain.kind, PacketType::Event);
    let (args, attachments) = to_payload(&("a", Bytes::from_static(b"\x01"))).expect("serialisable");
    let binary =
        Packet::with_payload(PacketType::Event, nsp("/"), Payload::Json { json: args, attachments }, None);
    assert_eq!(binary.kind, PacketType::BinaryEvent);
    let (args, attachments) = to_payload(&(Bytes::from_static(b"\x01"),)).expect("serialisable");
    let ack =
        Packet::with_payload(PacketType::Ack, nsp("/"), Payload::Json { json: args, attachments }, Some(1));
    assert_eq!(ack.kind, PacketType::BinaryAck);
    assert_eq!(
        Packet::with_payload(PacketType::BinaryAck, nsp("/"), json("[]"), Some(1)).kind,
        PacketType::Ack
    );
}

#[test]
fn an_encoded_event_goes_only_to_a_joined_namespace() {
    let mut h = H::v5();
    let packet = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["hi",1]"#), None);
    assert!(!h.c.send_event(&packet, None), "not joined yet");
    assert_eq!(h.sent(), Vec::<String>::new());
    h.join("/", "s1");
    assert!(h.c.send_event(&packet, None));
    assert_eq!(h.sent(), [r#"2["hi",1]"#]);
    let other = EncodedPacket::event(Parser::Json, &nsp("/admin"), json(r#"["hi"]"#), None);
    assert!(!h.c.send_event(&other, None), "a namespace never joined");
    assert_eq!(h.sent(), Vec::<String>::new());
}

#[test]
fn an_event_sent_uncompressed_says_so_and_awaits_its_ack_like_any() {
    let mut h = H::v5();
    let packet = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["hi",1]"#), Some(4));
    assert!(!h.c.send_event_uncompressed(&packet, None), "not joined yet");
    assert_eq!(h.sent(), Vec::<String>::new());
    h.join("/", "s1");
    assert!(h.c.send_event_uncompressed(&packet, Some(h.at(1_000))));
    assert_eq!(h.sent(), [r#"<uncompressed> 24["hi",1]"#]);
    let plain = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["hi",2]"#), None);
    assert!(h.c.send_event(&plain, None));
    assert_eq!(h.sent(), [r#"2["hi",2]"#], "the other form is compressible");
    h.c.handle_timeout(h.at(1_000));
    assert_eq!(h.events(), [Event::AckTimeout { nsp: nsp("/"), id: 4 }]);
}

#[test]
fn disconnecting_a_namespace_that_awaits_its_decision_does_nothing() {
    let mut h = H::v5();
    h.text("0/a,");
    assert!(matches!(&h.events()[..], [Event::Connect { .. }]));
    h.c.disconnect(&nsp("/a"));
    assert_eq!(h.sent(), Vec::<String>::new());
    assert_eq!(h.events(), []);
    // The decision still comes.
    h.c.accept(&nsp("/a"), "s1", None);
    assert_eq!(h.sent(), [r#"0/a,{"sid":"s1"}"#]);
    assert!(h.c.is_connected("/a"));
}

#[test]
fn a_refused_namespace_drops_the_acks_awaited_in_it() {
    let mut h = H::v5();
    h.text("0");
    h.events();
    // Emitted to while its middlewares run, then refused.
    let packet = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["q"]"#), Some(1));
    assert!(h.c.send_event(&packet, Some(h.at(5_000))));
    let other = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["q"]"#), Some(2));
    assert!(h.c.send_event(&other, None));
    h.c.reject(&nsp("/"), "refused", None);
    h.sent();
    // The client joins again: it cannot answer the refused socket's acks, nor do they time out.
    h.join("/", "s2");
    h.text(r#"31["late"]"#);
    h.text(r#"32["late"]"#);
    assert_eq!(h.events(), []);
    h.c.handle_timeout(h.at(5_000));
    assert_eq!(h.events(), []);
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn an_encoded_event_with_an_id_awaits_its_answer_until_the_deadline() {
    let mut h = H::v5();
    h.join("/", "s1");
    let packet = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["q"]"#), Some(7));
    assert!(h.c.send_event(&packet, Some(h.at(5_000))));
    assert_eq!(h.sent(), [r#"27["q"]"#]);
    assert_eq!(h.c.poll_timeout(), Some(h.at(5_000)));
    h.c.handle_timeout(h.at(4_999));
    assert_eq!(h.events(), []);
    h.c.handle_timeout(h.at(5_000));
    assert_eq!(h.events(), [Event::AckTimeout { nsp: nsp("/"), id: 7 }]);
    // An answer after the deadline is ignored.
    h.text(r#"37["late"]"#);
    assert_eq!(h.events(), []);
}

#[test]
fn a_deadline_belongs_to_its_own_wait_not_to_a_later_wait_on_the_same_id() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.c.expect_ack(&nsp("/"), 3, Some(h.at(5_000)));
    h.c.forget_ack("/", 3);
    h.c.expect_ack(&nsp("/"), 3, Some(h.at(11_000)));
    h.c.handle_timeout(h.at(5_000));
    assert_eq!(h.events(), []);
    h.c.handle_timeout(h.at(11_000));
    assert_eq!(h.events(), [Event::AckTimeout { nsp: nsp("/"), id: 3 }]);
}

#[test]
fn a_client_ack_is_answered_once() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.text(r#"25["ev"]"#);
    assert!(matches!(&h.events()[..], [Event::Event { id: Some(5), .. }]));
    assert!(h.c.awaits_reply("/", 5));
    assert!(h.c.ack(&nsp("/"), 5, json("[1]")));
    assert_eq!(h.sent(), ["35[1]"]);
    assert!(!h.c.awaits_reply("/", 5));
    assert!(!h.c.ack(&nsp("/"), 5, json("[2]")), "a second answer");
    assert!(!h.c.ack(&nsp("/"), 6, json("[2]")), "an id the client never sent");
    let text = EncodedAck::serialize(&nsp("/"), 5, &("x",)).expect("serialisable").expect("no binary");
    assert!(!h.c.send_ack(text), "a second answer, pre-encoded");
    assert_eq!(h.sent(), Vec::<String>::new());
}

#[test]
fn a_pre_encoded_answer_and_a_binary_answer() {
    let mut h = H::v5();
    h.join("/admin", "s1");
    h.text(r#"2/admin,1["a"]"#);
    h.text(r#"2/admin,2["b"]"#);
    h.events();
    let text =
        EncodedAck::serialize(&nsp("/admin"), 1, &("ok", 2)).expect("serialisable").expect("no binary");
    assert_eq!((text.nsp().as_ref(), text.id()), ("/admin", 1));
    assert!(h.c.send_ack(text));
    assert_eq!(h.sent(), [r#"3/admin,1["ok",2]"#]);
    assert_eq!(EncodedAck::serialize(&nsp("/"), 1, &(Bytes::from_static(b"\x01"),)).expect("ok"), None);
    let (args, attachments) = to_payload(&(Bytes::from_static(b"\x01"),)).expect("serialisable");
    assert!(h.c.send_ack(EncodedAck::new(&nsp("/admin"), 2, Payload::Json { json: args, attachments })));
    assert_eq!(h.sent(), [r#"61-/admin,2[{"_placeholder":true,"num":0}]"#, "<binary b\"\\x01\">"]);
}

#[test]
fn forgotten_replies_and_replies_of_a_namespace_left_are_not_sent() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.text(r#"21["a"]"#);
    h.text(r#"22["b"]"#);
    h.events();
    h.c.forget_reply("/", 1);
    assert!(!h.c.ack(&nsp("/"), 1, json("[]")));
    h.text("1");
    h.events();
    assert!(!h.c.awaits_reply("/", 2));
    assert!(!h.c.ack(&nsp("/"), 2, json("[]")));
    assert_eq!(h.sent(), Vec::<String>::new());
}

#[test]
fn a_restored_session_gets_its_missed_packets_before_the_connect_answer() {
    let mut h = H::v5();
    h.text("0");
    h.events();
    let missed = [
        Packet::with_payload(PacketType::Event, nsp("/"), json(r#"["m",1,"off1"]"#), None),
        Packet::with_payload(PacketType::Event, nsp("/"), json(r#"["m",2,"off2"]"#), None),
    ];
    h.c.accept_restored(&nsp("/"), "sid1", "pid1", missed);
    assert_eq!(h.sent(), [r#"2["m",1,"off1"]"#, r#"2["m",2,"off2"]"#, r#"0{"sid":"sid1","pid":"pid1"}"#]);
    assert!(h.c.is_connected("/"));
}

#[test]
fn recoverable_events_carry_their_offset_as_a_last_argument() {
    let packet = EncodedPacket::recoverable_event(Parser::Json, &nsp("/"), &json(r#"["m",1]"#), "off9")
        .expect("an array");
    assert_eq!(packet.packet().json().map(RawJson::as_str), Some(r#"["m",1,"off9"]"#));
    assert!(EncodedPacket::recoverable_event(Parser::Json, &nsp("/"), &json(r#"{"a":1}"#), "x").is_none());
}

#[test]
fn a_recovery_request_is_read_from_the_auth_when_both_are_strings() {
    let mut h = H::v5();
    h.text(r#"0{"pid":"p1","offset":"o1","token":1}"#);
    assert_eq!(
        h.events(),
        [Event::Connect {
            nsp: nsp("/"),
            auth: raw(r#"{"pid":"p1","offset":"o1","token":1}"#),
            recovery: Some(Box::new(Recovery { pid: "p1".into(), offset: "o1".into() })),
        }]
    );
    for auth in [r#"0/a,{"pid":"p1"}"#, r#"0/b,{"pid":1,"offset":"o1"}"#, r#"0/c,{"offset":"o1","pid":null}"#]
    {
        h.text(auth);
        assert!(matches!(&h.events()[..], [Event::Connect { recovery: None, .. }]), "{auth}");
    }
}

#[test]
fn socket_ids_are_random_for_v5_clients_and_derived_for_v4_clients() {
    let h = H::v5();
    let mut n = 0;
    let mut random = || {
        n += 1;
        ByteString::from(format!("r{n}"))
    };
    assert_eq!(h.c.socket_ids("/", "eng", true, &mut random), (nsp("r1"), Some(nsp("r2"))));
    assert_eq!(h.c.socket_ids("/chat", "eng", false, &mut random), (nsp("r3"), None));
    let v4 = H::with(ConnectionConfig { protocol: ProtocolVersion::V4, ..ConnectionConfig::default() });
    assert_eq!(v4.c.socket_ids("/", "eng", true, &mut random), (nsp("eng"), None));
    assert_eq!(v4.c.socket_ids("/chat", "eng", true, &mut random), (nsp("/chat#eng"), None));
}

#[test]
fn v4_query_auth_decodes_and_repeated_names_keep_the_last() {
    let mut h = H::with(ConnectionConfig { protocol: ProtocolVersion::V4, ..ConnectionConfig::default() });
    h.events();
    h.c.accept(&nsp("/"), "eng", None);
    h.sent();
    h.text("0/admin?a=1&a=2&b=x%20y+z&flag,");
    assert_eq!(
        h.events(),
        [Event::Connect {
            nsp: nsp("/admin"),
            auth: raw(r#"{"a":"2","b":"x y z","flag":""}"#),
            recovery: None
        }]
    );
}

#[test]
fn disconnect_and_close_sends_a_disconnect_per_namespace_then_closes() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.join("/admin", "s2");
    h.c.disconnect_and_close();
    assert_eq!(h.sent(), ["1", "1/admin,", "<close Application>"]);
    assert_eq!(
        h.events(),
        [
            Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::ServerNamespaceDisconnect },
            Event::Disconnect { nsp: nsp("/admin"), reason: DisconnectReason::ServerNamespaceDisconnect },
        ]
    );
    assert!(h.c.is_closed());
}

#[test]
fn engine_close_reasons_map_to_disconnect_reasons() {
    use engineio_parser::CloseReason;
    let pairs = [
        (CloseReason::TransportClose, "transport close"),
        (CloseReason::TransportError, "transport error"),
        (CloseReason::PingTimeout, "ping timeout"),
        (CloseReason::ParseError, "parse error"),
        (CloseReason::ForcedClose, "forced close"),
    ];
    for (engine, text) in pairs {
        assert_eq!(DisconnectReason::from(engine).as_str(), text);
    }
    assert_eq!(ProtocolVersion::from(engineio_parser::ProtocolVersion::V3), ProtocolVersion::V4);
    assert_eq!(ProtocolVersion::from(engineio_parser::ProtocolVersion::V4), ProtocolVersion::V5);
}

// -------------------------------------------------------------------------------------------
// Which ack, which namespace: answers and deadlines match both

#[test]
fn a_client_ack_answers_only_the_id_awaited() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.c.expect_ack(&nsp("/"), 1, None);
    h.text("35[\"other\"]");
    assert_eq!(h.events(), [], "an id the server never sent");
    h.text("31[\"mine\"]");
    assert_eq!(h.events(), [Event::Ack { nsp: nsp("/"), id: 1, data: json(r#"["mine"]"#) }]);
    assert!(!h.c.is_closed());
}

#[test]
fn a_client_ack_answers_only_in_the_namespace_awaited() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.join("/admin", "s2");
    h.c.expect_ack(&nsp("/"), 1, None);
    h.text("3/admin,1[]");
    assert_eq!(h.events(), [], "the same id in another namespace");
    h.text("31[]");
    assert_eq!(h.events(), [Event::Ack { nsp: nsp("/"), id: 1, data: json("[]") }]);
}

#[test]
fn an_answered_ack_s_deadline_does_not_fire_for_another_ack() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.join("/admin", "s2");
    h.c.expect_ack(&nsp("/"), 1, Some(h.at(5_000)));
    h.text("31[]");
    h.events();
    // Two waits still open at the same instant: a different id in the same namespace and
    // the same id in another namespace.
    h.c.expect_ack(&nsp("/"), 2, Some(h.at(5_000)));
    h.c.expect_ack(&nsp("/admin"), 1, Some(h.at(5_000)));
    h.c.handle_timeout(h.at(5_000));
    assert_eq!(
        h.events(),
        [Event::AckTimeout { nsp: nsp("/admin"), id: 1 }, Event::AckTimeout { nsp: nsp("/"), id: 2 }]
    );
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn a_new_wait_on_an_answered_id_is_scheduled_at_its_own_deadline() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.c.expect_ack(&nsp("/"), 1, Some(h.at(5_000)));
    h.text("31[]");
    h.events();
    h.c.expect_ack(&nsp("/"), 1, Some(h.at(9_000)));
    assert_eq!(h.c.poll_timeout(), Some(h.at(9_000)));
    h.c.handle_timeout(h.at(5_000));
    assert_eq!(h.events(), []);
    h.c.handle_timeout(h.at(9_000));
    assert_eq!(h.events(), [Event::AckTimeout { nsp: nsp("/"), id: 1 }]);
}

#[test]
fn a_forgotten_ack_is_no_longer_answered_and_others_still_are() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.join("/admin", "s2");
    h.c.expect_ack(&nsp("/"), 3, None);
    h.c.expect_ack(&nsp("/"), 4, None);
    h.c.expect_ack(&nsp("/admin"), 3, None);
    h.c.forget_ack("/", 3);
    h.text("33[]");
    assert_eq!(h.events(), []);
    h.text("34[]");
    h.text("3/admin,3[]");
    assert_eq!(
        h.events(),
        [
            Event::Ack { nsp: nsp("/"), id: 4, data: json("[]") },
            Event::Ack { nsp: nsp("/admin"), id: 3, data: json("[]") },
        ]
    );
}

#[test]
fn a_namespace_left_drops_its_awaited_acks_and_its_replies_only() {
    for server_side in [false, true] {
        let mut h = H::v5();
        h.join("/", "s1");
        h.join("/admin", "s2");
        h.c.expect_ack(&nsp("/admin"), 1, None);
        h.c.expect_ack(&nsp("/"), 1, None);
        h.text(r#"2/admin,7["q"]"#);
        h.text(r#"27["q"]"#);
        h.events();
        if server_side {
            h.c.disconnect(&nsp("/admin"));
        } else {
            h.text("1/admin,");
        }
        h.events();
        h.sent();
        h.join("/admin", "s3");
        assert!(!h.c.awaits_reply("/admin", 7));
        assert!(!h.c.ack(&nsp("/admin"), 7, json("[]")));
        h.text("3/admin,1[]");
        assert_eq!(h.events(), [], "server side: {server_side}");
        // The other namespace keeps its own.
        assert!(h.c.awaits_reply("/", 7));
        h.text("31[]");
        assert_eq!(h.events(), [Event::Ack { nsp: nsp("/"), id: 1, data: json("[]") }]);
    }
}

#[test]
fn an_ack_without_an_id_or_without_arguments() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.c.expect_ack(&nsp("/"), 1, None);
    h.text("3[]");
    assert_eq!(h.events(), []);
    assert!(!h.c.is_closed());
}

// -------------------------------------------------------------------------------------------
// The application's calls only act on a namespace in the right state

#[test]
fn decisions_for_a_namespace_never_requested_do_nothing() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.c.accept(&nsp("/x"), "s2", None);
    h.c.accept_restored(
        &nsp("/x"),
        "s2",
        "p2",
        [Packet::with_payload(PacketType::Event, nsp("/x"), json(r#"["m"]"#), None)],
    );
    h.c.reject(&nsp("/y"), "no", None);
    h.c.reject_invalid_namespace(&nsp("/z"));
    assert_eq!(h.sent(), Vec::<String>::new());
    assert!(!h.c.is_connected("/x"));
    // A decision for a namespace already joined does nothing either.
    h.c.accept(&nsp("/"), "again", None);
    h.c.reject(&nsp("/"), "no", None);
    h.c.reject_invalid_namespace(&nsp("/"));
    assert_eq!(h.sent(), Vec::<String>::new());
    assert!(h.c.is_connected("/"));
}

#[test]
fn emit_and_disconnect_for_a_namespace_never_joined_do_nothing() {
    let mut h = H::v5();
    h.join("/", "s1");
    assert!(!h.c.emit(&nsp("/never"), json(r#"["x"]"#), None));
    h.c.disconnect(&nsp("/never"));
    assert_eq!(h.sent(), Vec::<String>::new());
    assert_eq!(h.events(), []);
    assert!(h.c.emit(&nsp("/"), json(r#"["x"]"#), None));
    assert_eq!(h.sent(), [r#"2["x"]"#]);
}

#[test]
fn nothing_is_sent_after_the_connection_closed() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.text(r#"21["q"]"#);
    h.text("0/admin,");
    h.events();
    h.c.close_all(DisconnectReason::ServerShuttingDown);
    h.sent();
    h.events();
    assert!(!h.c.emit(&nsp("/"), json(r#"["x"]"#), None));
    assert!(!h.c.ack(&nsp("/"), 1, json("[]")));
    let packet = EncodedPacket::event(Parser::Json, &nsp("/"), json(r#"["hi"]"#), Some(2));
    assert!(!h.c.send_event(&packet, Some(h.at(10))));
    h.c.expect_ack(&nsp("/"), 3, Some(h.at(10)));
    h.c.accept(&nsp("/admin"), "s2", None);
    h.c.reject(&nsp("/admin"), "no", None);
    h.c.reject_invalid_namespace(&nsp("/admin"));
    h.c.disconnect(&nsp("/"));
    h.c.disconnect_and_close();
    h.c.handle_transport_closed(DisconnectReason::TransportClose);
    h.c.handle_timeout(h.at(60_000));
    assert_eq!(h.c.poll_timeout(), None);
    assert_eq!(h.sent(), Vec::<String>::new());
    assert_eq!(h.events(), []);
}

// -------------------------------------------------------------------------------------------
// The connect timeout and the exact events of a close

#[test]
fn the_connect_timeout_closes_a_client_still_waiting_for_the_decision() {
    for websocket in [false, true] {
        let mut h = H::v5();
        if websocket {
            h.c.handle_websocket();
        }
        h.text("0/admin,");
        h.events();
        assert_eq!(h.c.poll_timeout(), Some(h.at(45_000)));
        h.c.handle_timeout(h.at(45_000));
        assert_eq!(h.sent(), ["<close ConnectTimeout>"]);
        // No namespace was joined: no socket sees a disconnect.
        assert_eq!(h.events(), []);
        // A decision that comes too late is dropped.
        h.c.accept(&nsp("/admin"), "s", None);
        assert_eq!(h.sent(), Vec::<String>::new());
    }
}

#[test]
fn the_connect_timeout_is_set_from_the_config() {
    let config =
        ConnectionConfig { connect_timeout: Duration::from_millis(1_000), ..ConnectionConfig::default() };
    let mut h = H::with(config);
    assert_eq!(h.c.config().connect_timeout, Duration::from_millis(1_000));
    assert_eq!(h.c.poll_timeout(), Some(h.at(1_000)));
    // An ack deadline earlier or later than the connect deadline: the earlier wins.
    h.text("0");
    h.events();
    h.c.accept(&nsp("/"), "s", None);
    h.sent();
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn the_earliest_of_the_connect_and_ack_deadlines_is_polled() {
    let mut h = H::v5();
    h.text("0/a,");
    h.events();
    h.c.accept(&nsp("/a"), "s", None);
    h.sent();
    // v4 keeps the connect deadline until the main namespace is accepted.
    let mut v4 = H::with(ConnectionConfig { protocol: ProtocolVersion::V4, ..ConnectionConfig::default() });
    v4.events();
    assert_eq!(v4.c.poll_timeout(), Some(v4.at(45_000)));
    v4.c.accept(&nsp("/"), "e", None);
    v4.sent();
    assert_eq!(v4.c.poll_timeout(), None);
    v4.c.expect_ack(&nsp("/"), 1, Some(v4.at(100)));
    assert_eq!(v4.c.poll_timeout(), Some(v4.at(100)));
}

#[test]
fn a_close_reports_exactly_the_joined_namespaces() {
    let mut h = H::v5();
    h.join("/", "a");
    h.join("/b", "b");
    h.text("0/pending,");
    h.events();
    h.c.handle_transport_closed(DisconnectReason::PingTimeout);
    assert_eq!(
        h.events(),
        [
            Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::PingTimeout },
            Event::Disconnect { nsp: nsp("/b"), reason: DisconnectReason::PingTimeout },
        ]
    );
    assert!(h.c.is_closed());
    assert!(!h.c.is_connected("/"));

    let mut h = H::v5();
    h.join("/", "s1");
    h.join("/admin", "s2");
    h.c.disconnect_and_close();
    assert_eq!(
        h.events(),
        [
            Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::ServerNamespaceDisconnect },
            Event::Disconnect { nsp: nsp("/admin"), reason: DisconnectReason::ServerNamespaceDisconnect },
        ]
    );
}

#[test]
fn a_decode_error_mid_binary_packet_forgets_the_partial_packet() {
    let mut h = H::v5();
    h.join("/", "s");
    h.text(r#"51-["file",{"_placeholder":true,"num":0}]"#);
    h.c.handle_transport_closed(DisconnectReason::TransportClose);
    h.events();
    // A closed connection ignores further messages.
    h.binary(b"\x01");
    assert_eq!(h.events(), []);
}

// -------------------------------------------------------------------------------------------
// JSON written by the machine

#[test]
fn ids_in_the_connect_answer_are_escaped_as_json_stringify_does() {
    let mut h = H::v5();
    h.text("0");
    h.events();
    h.c.accept(&nsp("/"), "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1}i\u{1f}j k\u{7f}é", Some("p\u{0}"));
    assert_eq!(
        h.sent(),
        [r#"0{"sid":"a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj k"#.to_owned() + "\u{7f}é\",\"pid\":\"p\\u0000\"}"]
    );
    h.text("0/x,");
    h.events();
    h.c.reject(&nsp("/x"), "bad \"one\"", None);
    assert_eq!(h.sent(), [r#"4/x,{"message":"bad \"one\""}"#]);
}

#[test]
fn a_message_of_the_wrong_kind_for_the_parser() {
    let mut h = H::v5();
    h.join("/", "s");
    // A binary message with no packet awaiting attachments is a decode error.
    h.binary(b"\x01");
    assert_eq!(
        h.events(),
        [
            Event::Error(DecodeError::UnexpectedBinary),
            Event::Disconnect { nsp: nsp("/"), reason: DisconnectReason::ForcedClose },
        ]
    );
    assert_eq!(h.sent(), [format!("<close {:?}>", CloseCause::Decode(DecodeError::UnexpectedBinary))]);
    assert!(h.c.is_closed());
}

#[test]
fn replies_are_matched_by_namespace_and_id() {
    let mut h = H::v5();
    h.join("/", "s1");
    h.join("/admin", "s2");
    h.text(r#"2/admin,1["a"]"#);
    h.text(r#"21["b"]"#);
    h.text(r#"22["c"]"#);
    h.text(r#"2/admin,5["d"]"#);
    h.text(r#"25["e"]"#);
    h.events();
    h.c.forget_reply("/", 1);
    assert!(!h.c.awaits_reply("/", 1));
    assert!(h.c.awaits_reply("/admin", 1));
    assert!(h.c.awaits_reply("/", 2));
    assert!(h.c.ack(&nsp("/"), 5, json("[]")));
    assert_eq!(h.sent(), ["35[]"]);
    assert!(h.c.awaits_reply("/admin", 5));
    assert!(h.c.ack(&nsp("/admin"), 5, json("[]")));
    assert!(h.c.ack(&nsp("/admin"), 1, json("[]")));
    assert!(h.c.ack(&nsp("/"), 2, json("[]")));
    assert_eq!(h.sent(), ["3/admin,5[]", "3/admin,1[]", "32[]"]);
}

#[test]
fn the_shortest_auth_that_presents_a_session() {
    let mut h = H::v5();
    h.text(r#"0{"pid":"","offset":""}"#);
    assert_eq!(
        h.events(),
        [Event::Connect {
            nsp: nsp("/"),
            auth: raw(r#"{"pid":"","offset":""}"#),
            recovery: Some(Box::new(Recovery { pid: String::new(), offset: String::new() })),
        }]
    );
}

/// Each event names the packet type the client sent, the binary one when attachments came
/// with it; what the machine decided itself names none.
#[test]
fn events_name_the_packet_type_received() {
    let mut h = H::v5();
    h.text("0");
    let connect = h.events();
    assert_eq!(connect.iter().map(Event::received_type).collect::<Vec<_>>(), [Some(PacketType::Connect)]);
    h.c.accept(&nsp("/"), "sid", None);
    h.sent();
    h.text(r#"2["a"]"#);
    h.text(r#"21["a"]"#);
    h.text(r#"51-["a",{"_placeholder":true,"num":0}]"#);
    h.binary(b"\x01");
    h.c.expect_ack(&nsp("/"), 7, Some(h.at(100)));
    h.text("37[1]");
    h.c.expect_ack(&nsp("/"), 8, Some(h.at(100)));
    h.text(r#"61-8[{"_placeholder":true,"num":0}]"#);
    h.binary(b"\x02");
    let types: Vec<Option<PacketType>> = h.events().iter().map(Event::received_type).collect();
    assert_eq!(
        types,
        [
            Some(PacketType::Event),
            Some(PacketType::Event),
            Some(PacketType::BinaryEvent),
            Some(PacketType::Ack),
            Some(PacketType::BinaryAck)
        ]
    );
    // An ack that times out was not received.
    h.c.expect_ack(&nsp("/"), 9, Some(h.at(10)));
    h.c.handle_timeout(h.at(10));
    let timed_out = h.events();
    assert!(matches!(&timed_out[..], [Event::AckTimeout { id: 9, .. }]), "{timed_out:?}");
    assert_eq!(timed_out[0].received_type(), None);
    // The client's DISCONNECT is a packet; a server-side one is not.
    h.text("1");
    let left = h.events();
    assert_eq!(left.iter().map(Event::received_type).collect::<Vec<_>>(), [Some(PacketType::Disconnect)]);
    h.join("/a", "sid2");
    h.c.disconnect(&nsp("/a"));
    let kicked = h.events();
    assert!(!kicked.is_empty());
    assert!(kicked.iter().all(|e| e.received_type().is_none()), "{kicked:?}");
}

/// `DisconnectReason::ALL` lists every reason at the index of its discriminant.
#[test]
fn every_disconnect_reason_is_listed_at_its_index() {
    for (i, reason) in DisconnectReason::ALL.iter().enumerate() {
        assert_eq!(*reason as usize, i, "{reason:?}");
    }
    let texts: std::collections::HashSet<&str> = DisconnectReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(texts.len(), 9);
}

/// The type the machine gives each packet it builds, as a driver counts them: `None` for a
/// binary attachment, which is part of the packet before it.
fn sent_types(h: &mut H) -> Vec<Option<PacketType>> {
    std::iter::from_fn(|| h.c.poll_transmit())
        .map(|transmit| match transmit {
            Transmit::Packet(kind, _) => Some(kind),
            Transmit::Encoded(packet) | Transmit::EncodedUncompressed(packet) => Some(packet.packet().kind),
            Transmit::Send(_) | Transmit::Close(_) => None,
        })
        .collect()
}

#[test]
fn every_packet_the_machine_builds_says_its_type() {
    let mut h = H::v5();
    h.text("0/a,");
    h.text("0/b,");
    h.events();
    h.c.accept(&nsp("/a"), "s1", None);
    h.c.reject(&nsp("/b"), "no", None);
    assert_eq!(sent_types(&mut h), [Some(PacketType::Connect), Some(PacketType::ConnectError)]);
    h.text(r#"2/a,1["x"]"#);
    h.text(r#"2/a,2["y"]"#);
    h.events();
    let text = EncodedAck::serialize(&nsp("/a"), 1, &("ok",)).expect("serialisable").expect("no binary");
    assert!(h.c.send_ack(text));
    let (args, attachments) = to_payload(&(Bytes::from_static(b"\x01"),)).expect("serialisable");
    assert!(h.c.send_ack(EncodedAck::new(&nsp("/a"), 2, Payload::Json { json: args, attachments })));
    assert_eq!(sent_types(&mut h), [Some(PacketType::Ack), Some(PacketType::BinaryAck), None]);
    let event = EncodedPacket::event(Parser::Json, &nsp("/a"), json(r#"["e","z"]"#), None);
    assert!(h.c.send_event(&event, None));
    h.c.disconnect(&nsp("/a"));
    assert_eq!(sent_types(&mut h), [Some(PacketType::Event), Some(PacketType::Disconnect)]);
}
