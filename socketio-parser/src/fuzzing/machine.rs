//! The [`Connection`] machine under arbitrary sequences of inputs, with a model of the
//! namespaces and acks checked after every step.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use crate::connection::{
    Connection, ConnectionConfig, DisconnectReason, Event, Message, Parser, ProtocolVersion, Transmit,
};
use crate::{
    Decoded, Decoder, DecoderConfig, EncodedAck, EncodedPacket, Packet, PacketType, Payload, RawJson,
};

/// The fuzzer's bytes, read front to back; reads past the end give zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    /// One of `choices`, picked by the next byte.
    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }

    /// Up to `max` raw bytes, the count given by the next byte.
    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = (usize::from(self.byte()) % (max + 1)).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }
}

const MS: fn(u64) -> Duration = Duration::from_millis;

const NAMESPACES: [&str; 3] = ["/", "/a", "/b"];

const REASONS: [DisconnectReason; 5] = [
    DisconnectReason::ServerShuttingDown,
    DisconnectReason::PingTimeout,
    DisconnectReason::TransportClose,
    DisconnectReason::TransportError,
    DisconnectReason::ParseError,
];

/// Drives a [`Connection`] with the operations `data` encodes: client packets (`CONNECT` to
/// namespaces, events with and without ack ids, acks for ids awaited or not, binary packets with
/// their attachments or some of them, `DISCONNECT`, `CONNECT_ERROR`, garbage), the
/// application's calls (accept and reject, emit and send_event with ack ids and deadlines,
/// send_ack once or twice, forget_ack, disconnect, close_all), the transport closing, and time
/// passing. The first bytes choose the revision, the parser and small limits.
///
/// After every step the outputs are drained and checked: every ack the server awaits ends once
/// (answered, timed out, or dropped with its namespace or the connection) and no other ack
/// ends; no awaited ack outlives its deadline once the timers are handled; each ack id the
/// client sent is answered at most once per time it was sent; namespace events follow the
/// namespace's state; every packet sent decodes; nothing comes out after the connection is
/// closed; and [`Connection::poll_timeout`] lies in the future once the timers due are handled.
pub fn connection(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let protocol = if flags & 1 == 0 { ProtocolVersion::V5 } else { ProtocolVersion::V4 };
    #[cfg(feature = "msgpack")]
    let parser = if flags & 2 == 0 { Parser::Json } else { Parser::MsgPack };
    #[cfg(not(feature = "msgpack"))]
    let parser = Parser::Json;
    let config = ConnectionConfig {
        protocol,
        parser,
        connect_timeout: MS(input.pick(&[0, 1, 100, 45_000])),
        decoder: DecoderConfig {
            max_attachments: input.pick(&[1, 2, 10]),
            max_depth: input.pick(&[2, 8, 128]),
            max_binary_packet_size: input.pick(&[16, 256, 1_000_000]),
        },
    };
    let start = Instant::now();
    let mut conn = Connection::new(config, start);
    if flags & 4 != 0 {
        conn.handle_websocket();
    }
    let mut model = Model::new(parser);
    let mut now = start;
    model.check(&mut conn, now, true);

    while !input.0.is_empty() {
        let mut handle_timers = true;
        match input.byte() % 24 {
            0..=4 => {
                for message in client_packet(&mut input, &model, parser) {
                    conn.handle_message(message, now);
                }
            }
            5 => {
                let message = if input.byte() & 1 == 0 {
                    Message::Text(String::from_utf8_lossy(input.bytes(16)).into_owned().into())
                } else {
                    Message::Binary(Bytes::copy_from_slice(input.bytes(16)))
                };
                conn.handle_message(message, now);
            }
            6 | 7 => {
                let nsp = namespace(&mut input);
                if model.connecting(&nsp, &conn) {
                    model.joined(&nsp);
                }
                conn.accept(&nsp, "socket", (input.byte() & 1 != 0).then_some("private"));
            }
            8 => {
                let nsp = namespace(&mut input);
                if model.connecting(&nsp, &conn) {
                    model.joined(&nsp);
                }
                let missed = vec![Packet::event(nsp.clone(), json(r#"["missed",1]"#), Vec::new(), None)];
                conn.accept_restored(&nsp, "socket", "private", missed);
            }
            9 => {
                let how = input.byte();
                let nsp = namespace(&mut input);
                if model.connecting(&nsp, &conn) {
                    model.left(&nsp);
                }
                match how % 3 {
                    0 => conn.reject(&nsp, "refused", None),
                    1 => conn.reject(&nsp, "refused", Some(json(r#"{"why":1}"#))),
                    _ => conn.reject_invalid_namespace(&nsp),
                }
            }
            // An event awaiting an answer, or not, with a deadline or not.
            10..=12 => {
                let nsp = namespace(&mut input);
                let how = input.byte();
                let id = (how & 1 != 0).then(|| model.ack_id(&nsp, how >> 4));
                let deadline = (how & 2 != 0).then(|| now + MS(input.pick(&[0, 1, 50, 1_000])));
                let data = Payload::Json { json: json(r#"["news",1]"#), attachments: Vec::new() };
                if how & 4 == 0 {
                    let packet = EncodedPacket::event(parser, &nsp, data, id);
                    if conn.send_event(&packet, deadline) {
                        if let Some(id) = id {
                            model.awaits(&nsp, id, deadline);
                        }
                    }
                } else if conn.emit(&nsp, data, id) {
                    if let Some(id) = id {
                        model.awaits(&nsp, id, deadline);
                        conn.expect_ack(&nsp, id, deadline);
                    }
                }
            }
            // An answer to one of the client's acks (or to an id it did not send).
            13 | 14 => {
                let how = input.byte();
                let (nsp, id) = match model.owed_reply(how) {
                    Some(owed) if how & 0x80 == 0 => owed,
                    _ => (namespace(&mut input), u64::from(input.byte() % 4)),
                };
                let ack = match (parser, how & 0x40 != 0) {
                    (Parser::Json, false) => EncodedAck::serialize(&nsp, id, &("ok",)).ok().flatten(),
                    _ => {
                        let attachments = vec![Bytes::from_static(b"\x01")];
                        let data =
                            Payload::Json { json: json(r#"[{"_placeholder":true,"num":0}]"#), attachments };
                        Some(EncodedAck::new(&nsp, id, data))
                    }
                };
                if let Some(ack) = ack {
                    if conn.send_ack(ack) {
                        model.answered(&nsp, id);
                    }
                }
            }
            15 => {
                let how = input.byte();
                let Some((nsp, id)) = model.awaited_ack(how) else { continue };
                conn.forget_ack(&nsp, id);
                model.awaited.remove(&(nsp, id));
            }
            16 => {
                let how = input.byte();
                let Some((nsp, id)) = model.owed_reply(how) else { continue };
                conn.forget_reply(&nsp, id);
                model.forgotten(&nsp, id);
            }
            17 => conn.disconnect(&namespace(&mut input)),
            18 => match input.byte() % 3 {
                0 => conn.disconnect_and_close(),
                1 => conn.close_all(input.pick(&REASONS)),
                _ => {
                    conn.handle_transport_closed(input.pick(&REASONS));
                    model.transport_closed = true;
                }
            },
            19 => conn.handle_websocket(),
            20 => now += MS(u64::from(input.byte())),
            21 => now += MS(u64::from(input.byte()) * 1_000),
            // Time passes and the next input comes before the timers are handled.
            22 => {
                now += MS(u64::from(input.byte()) * 10);
                handle_timers = false;
            }
            _ => {
                let nsp = namespace(&mut input);
                let _ = conn.awaits_reply(&nsp, u64::from(input.byte() % 4));
                let _ = conn.is_connected(&nsp);
            }
        }
        model.check(&mut conn, now, handle_timers);
    }
}

fn namespace(input: &mut Input<'_>) -> ByteString {
    ByteString::from_static(input.pick(&NAMESPACES))
}

fn json(text: &'static str) -> RawJson {
    RawJson::new(ByteString::from_static(text)).expect("valid JSON")
}

/// `["e",<placeholder 0>,...]` with `n` placeholders.
fn event_json(name: &str, n: usize) -> RawJson {
    let mut text = format!("[\"{name}\"");
    for i in 0..n {
        text.push_str(&format!(",{{\"_placeholder\":true,\"num\":{i}}}"));
    }
    text.push(']');
    RawJson::new(text).expect("valid JSON")
}

/// A packet from the client as the Engine.IO messages that carry it, binary attachments
/// sometimes cut short.
fn client_packet(input: &mut Input<'_>, model: &Model, parser: Parser) -> Vec<Message> {
    let how = input.byte();
    let nsp = namespace(input);
    let attachments: Vec<Bytes> =
        (0..input.byte() % 3).map(|i| Bytes::copy_from_slice(&[i; 3][..usize::from(i)])).collect();
    let small_id = u64::from(how >> 5);
    let packet = match how % 8 {
        0 => {
            let (nsp, data) = match input.byte() % 4 {
                0 => (nsp, None),
                1 => (nsp, Some(json("{}"))),
                2 => (nsp, Some(json(r#"{"pid":"private","offset":"0-1"}"#))),
                // A Socket.IO 2 client's query string (a plain namespace name otherwise).
                _ => (ByteString::from(format!("{nsp}?token=abc")), None),
            };
            Packet::connect(nsp, data)
        }
        1 => Packet::disconnect(nsp),
        2 | 3 => {
            let name = input.pick(&["chat", "chat", "connect", "disconnecting"]);
            let id = (how & 8 != 0).then_some(small_id);
            Packet::event(nsp, event_json(name, attachments.len()), attachments, id)
        }
        4 | 5 => {
            // Mostly an ack the server awaits, in that namespace.
            let (nsp, id) = match model.awaited_ack(input.byte()) {
                Some(awaited) if how & 8 == 0 => awaited,
                _ => (nsp, small_id),
            };
            let json = event_json("answer", attachments.len());
            Packet::ack(nsp, id, json, attachments)
        }
        6 => Packet::connect_error(nsp, json(r#"{"message":"no"}"#)),
        _ => Packet { kind: PacketType::Ack, nsp, id: None, data: None },
    };
    match parser {
        Parser::Json => {
            let mut messages = vec![Message::Text(packet.encode_to_string())];
            let keep =
                packet.attachments().len() - usize::from(how & 0x10 != 0).min(packet.attachments().len());
            messages.extend(packet.attachments()[..keep].iter().cloned().map(Message::Binary));
            messages
        }
        #[cfg(feature = "msgpack")]
        Parser::MsgPack => vec![Message::Binary(crate::msgpack::encode_to_bytes(&packet))],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NspState {
    Connecting,
    Joined,
}

/// What the harness knows, to judge the connection's outputs.
struct Model {
    parser: Parser,
    namespaces: BTreeMap<ByteString, NspState>,
    /// Acks the server awaits, with their deadlines.
    awaited: BTreeMap<(ByteString, u64), Option<Instant>>,
    /// Ack ids the client sent, with how many answers each is owed.
    owed: BTreeMap<(ByteString, u64), usize>,
    next_ack_id: u64,
    /// Answers given by the application in this step, to match with the ACK packets sent.
    answers: usize,
    /// The connection asked to be closed, or its transport closed.
    closed: bool,
    transport_closed: bool,
    /// Decodes what the server sends, as a client would.
    client: Decoder,
}

impl Model {
    fn new(parser: Parser) -> Self {
        Model {
            parser,
            namespaces: BTreeMap::new(),
            awaited: BTreeMap::new(),
            owed: BTreeMap::new(),
            next_ack_id: 4,
            answers: 0,
            closed: false,
            transport_closed: false,
            client: Decoder::new(DecoderConfig {
                max_attachments: usize::MAX,
                max_depth: usize::MAX,
                max_binary_packet_size: usize::MAX,
            }),
        }
    }

    /// Whether a decision on `nsp` takes effect now.
    fn connecting(&self, nsp: &ByteString, conn: &Connection) -> bool {
        !conn.is_closed() && self.namespaces.get(nsp) == Some(&NspState::Connecting)
    }

    fn joined(&mut self, nsp: &ByteString) {
        self.namespaces.insert(nsp.clone(), NspState::Joined);
    }

    /// `nsp` was refused or left: what was awaited in it ends without an answer.
    fn left(&mut self, nsp: &ByteString) {
        self.namespaces.remove(nsp);
        self.awaited.retain(|(n, _), _| n != nsp);
        self.owed.retain(|(n, _), _| n != nsp);
    }

    /// An ack id for `nsp` not awaited now: a small one when free, as ids come back after
    /// an ack ends, else a fresh one.
    fn ack_id(&mut self, nsp: &ByteString, small: u8) -> u64 {
        let small = u64::from(small % 4);
        if !self.awaited.contains_key(&(nsp.clone(), small)) {
            return small;
        }
        self.next_ack_id += 1;
        self.next_ack_id
    }

    fn awaits(&mut self, nsp: &ByteString, id: u64, deadline: Option<Instant>) {
        let previous = self.awaited.insert((nsp.clone(), id), deadline);
        assert!(previous.is_none(), "the harness awaits ack {id} of {nsp} twice");
    }

    fn awaited_ack(&self, pick: u8) -> Option<(ByteString, u64)> {
        let n = self.awaited.len();
        (n > 0).then(|| self.awaited.keys().nth(usize::from(pick) % n).cloned()).flatten()
    }

    fn owed_reply(&self, pick: u8) -> Option<(ByteString, u64)> {
        let n = self.owed.len();
        (n > 0).then(|| self.owed.keys().nth(usize::from(pick) % n).cloned()).flatten()
    }

    /// The application answered one of the client's acks: it must have been owed.
    fn answered(&mut self, nsp: &ByteString, id: u64) {
        self.forgotten(nsp, id);
        self.answers += 1;
    }

    fn forgotten(&mut self, nsp: &ByteString, id: u64) {
        let key = (nsp.clone(), id);
        let count =
            self.owed.get_mut(&key).unwrap_or_else(|| panic!("ack {id} of {nsp} answered but not owed"));
        *count -= 1;
        if *count == 0 {
            self.owed.remove(&key);
        }
    }

    /// Drains the connection's outputs after a step, handles the timers due (unless the
    /// step's input arrives before them) and checks the invariants.
    fn check(&mut self, conn: &mut Connection, now: Instant, handle_timers: bool) {
        self.drain(conn, now);
        if self.transport_closed && !self.closed {
            self.close();
        }
        if handle_timers {
            if conn.poll_timeout().is_some_and(|at| at <= now) {
                conn.handle_timeout(now);
                self.drain(conn, now);
            }
            if let Some(at) = conn.poll_timeout() {
                assert!(at > now, "a timer due at or before now is still armed after handle_timeout");
            }
            let late = self.awaited.iter().find(|(_, d)| d.is_some_and(|d| d <= now));
            assert!(late.is_none(), "ack {late:?} outlived its deadline");
        }
        assert_eq!(self.answers, 0, "an answer accepted by send_ack was not sent");
        assert_eq!(conn.is_closed(), self.closed, "is_closed disagrees with the outputs");
        if self.closed {
            assert!(conn.poll_timeout().is_none(), "a timer armed on a closed connection");
        }
    }

    fn close(&mut self) {
        self.closed = true;
        self.namespaces.clear();
        self.awaited.clear();
        self.owed.clear();
    }

    fn drain(&mut self, conn: &mut Connection, now: Instant) {
        let was_closed = self.closed;
        while let Some(transmit) = conn.poll_transmit() {
            assert!(!was_closed, "a transmit after the connection closed: {transmit:?}");
            match transmit {
                Transmit::Packet(_, message) | Transmit::Send(message) => self.sent(message),
                Transmit::Encoded(packet) | Transmit::EncodedUncompressed(packet) => {
                    for message in packet.messages() {
                        self.sent(Message::from(message.data.clone()));
                    }
                }
                Transmit::Close(_) => {
                    assert!(!self.closed, "closed twice");
                    self.closed = true;
                }
            }
        }
        // The events of the step that closed the connection still come out (its disconnects).
        while let Some(event) = conn.poll_event() {
            assert!(!was_closed, "an event after close: {event:?}");
            self.event(event, now);
        }
        if self.closed {
            self.close();
        }
    }

    fn event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connect { nsp, .. } => {
                assert!(!self.namespaces.contains_key(&nsp), "CONNECT to {nsp} reported while it is known");
                self.namespaces.insert(nsp, NspState::Connecting);
            }
            Event::Event { nsp, id, .. } => {
                assert_eq!(
                    self.namespaces.get(&nsp),
                    Some(&NspState::Joined),
                    "an event for {nsp} not joined"
                );
                if let Some(id) = id {
                    *self.owed.entry((nsp, id)).or_default() += 1;
                }
            }
            Event::Ack { nsp, id, .. } => {
                let ended = self.awaited.remove(&(nsp.clone(), id));
                assert!(ended.is_some(), "ack {id} of {nsp} answered but not awaited");
            }
            Event::AckTimeout { nsp, id } => {
                let ended = self.awaited.remove(&(nsp.clone(), id));
                let deadline = ended.unwrap_or_else(|| panic!("ack {id} of {nsp} timed out but not awaited"));
                assert!(
                    deadline.is_some_and(|d| d <= now),
                    "ack {id} of {nsp} timed out before its deadline"
                );
            }
            Event::Disconnect { nsp, .. } => {
                assert_eq!(self.namespaces.get(&nsp), Some(&NspState::Joined), "{nsp} left but not joined");
                self.left(&nsp);
            }
            Event::Error(_) => {}
        }
    }

    /// A message reached the client: it decodes, and its ACK packets answer acks the
    /// application answered.
    fn sent(&mut self, message: Message) {
        let decoded = match (self.parser, message) {
            (Parser::Json, Message::Text(text)) => self.client.decode_text(text),
            (Parser::Json, Message::Binary(data)) => self.client.decode_binary(data),
            #[cfg(feature = "msgpack")]
            (Parser::MsgPack, Message::Binary(data)) => {
                crate::msgpack::decode(data, self.client.config()).map(Decoded::Complete)
            }
            #[cfg(feature = "msgpack")]
            (Parser::MsgPack, Message::Text(text)) => {
                panic!("a text message with the msgpack parser: {text}")
            }
        };
        let decoded = decoded.unwrap_or_else(|e| panic!("a packet sent does not decode: {e}"));
        if let Decoded::Complete(packet) = decoded {
            if matches!(packet.kind, PacketType::Ack | PacketType::BinaryAck) {
                assert!(self.answers > 0, "an ACK sent that the application did not give");
                self.answers -= 1;
            }
        }
    }
}
