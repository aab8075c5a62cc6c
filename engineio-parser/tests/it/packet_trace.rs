//! The observer events a session queues when asked ([`Session::set_trace`]): the reference
//! socket's `packet` (every packet received while open, before the session acts on it),
//! `packetCreate` (every packet queued: messages, pings, v3 pongs; not the `noop` or `close` a
//! transport writes itself) and `drain` (the write buffer handed to the transport). Nothing is
//! queued without a trace.

use crate::common;

use common::*;
use engineio_parser::{
    CloseReason, Data, Event, Initial, Packet, PacketType, ProtocolVersion, SessionConfig, SocketId, Trace,
};

fn all() -> Trace {
    Trace::RECEIVED | Trace::CREATED | Trace::DRAINED
}

fn received(kind: PacketType, text: &str) -> Event {
    Event::PacketReceived(Box::new(Packet { kind, data: Data::Text(text.to_owned().into()) }))
}

fn created(kind: PacketType, text: &str) -> Event {
    Event::PacketCreated(Box::new(Packet { kind, data: Data::Text(text.to_owned().into()) }))
}

fn message(text: &str) -> Event {
    Event::Message(Data::Text(text.to_owned().into()))
}

fn websocket() -> Harness {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h
}

#[test]
fn nothing_is_reported_without_a_trace() {
    let mut h = websocket();
    assert_eq!(h.session.trace(), Trace::NONE);
    h.session.send(Packet::message("out")).expect("open");
    h.frame(1, "4in");
    h.advance_to(25_000);
    h.frame(1, "3");
    assert_eq!(h.transmits(), [text_frame(1, "4out"), text_frame(1, "2")]);
    assert_eq!(h.events(), [message("in")]);
}

#[test]
fn a_websocket_session_reports_each_packet_both_ways() {
    let mut h = websocket();
    h.session.set_trace(all());
    assert!(h.session.trace().contains(Trace::CREATED));

    h.session.send(Packet::message("out")).expect("open");
    assert_eq!(h.transmits(), [text_frame(1, "4out")]);
    assert_eq!(h.events(), [created(PacketType::Message, "out"), Event::Drained]);

    // Received: before the session acts on it.
    h.frame(1, "4in");
    assert_eq!(h.events(), [received(PacketType::Message, "in"), message("in")]);

    // The heartbeat, both ways.
    h.advance_to(25_000);
    assert_eq!(h.transmits(), [text_frame(1, "2")]);
    assert_eq!(h.events(), [created(PacketType::Ping, ""), Event::Drained]);
    h.frame(1, "3");
    assert_eq!(h.events(), [received(PacketType::Pong, "")]);

    // Binary data as it came.
    h.session.handle_frame(SocketId(1), engineio_parser::Frame::Binary(vec![1, 2, 3].into()), h.now);
    let binary = Packet { kind: PacketType::Message, data: Data::Binary(vec![1, 2, 3].into()) };
    assert_eq!(
        h.events(),
        [Event::PacketReceived(Box::new(binary)), Event::Message(Data::Binary(vec![1, 2, 3].into()))]
    );

    // A `close` over WebSocket is reported, and ignored, as in the reference.
    h.frame(1, "1");
    assert_eq!(h.events(), [received(PacketType::Close, "")]);
    assert!(!h.session.is_closed());
}

#[test]
fn only_the_flags_asked_for() {
    let mut h = websocket();
    h.session.set_trace(Trace::DRAINED);
    h.session.send(Packet::message("out")).expect("open");
    h.frame(1, "4in");
    assert_eq!(h.transmits(), [text_frame(1, "4out")]);
    assert_eq!(h.events(), [Event::Drained, message("in")]);
    h.session.set_trace(Trace::NONE);
    h.session.send(Packet::message("again")).expect("open");
    assert_eq!(h.transmits(), [text_frame(1, "4again")]);
    assert_eq!(h.events(), []);
}

#[test]
fn a_blocked_websocket_drains_when_it_takes_writes_again() {
    let mut h = websocket();
    h.session.set_trace(all());
    h.session.handle_socket_writable(SocketId(1), false);
    h.session.send(Packet::message("a")).expect("open");
    h.session.send(Packet::message("b")).expect("open");
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), [created(PacketType::Message, "a"), created(PacketType::Message, "b")]);
    h.session.handle_socket_writable(SocketId(1), true);
    assert_eq!(h.transmits(), [text_frame(1, "4a"), text_frame(1, "4b")]);
    // One flush, one drain.
    assert_eq!(h.events(), [Event::Drained]);
}

#[test]
fn a_polling_session_drains_when_a_poll_takes_the_buffer() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.set_trace(all());
    h.session.send(Packet::message("a")).expect("open");
    h.session.send(Packet::message("b")).expect("open");
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), [created(PacketType::Message, "a"), created(PacketType::Message, "b")]);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4a\u{1e}4b")]);
    assert_eq!(h.events(), [Event::Drained]);
    // A poll that finds nothing drains nothing.
    let get = h.get();
    assert_eq!(h.transmits(), []);

    // A POST's packets, each reported before the session acts on it; the polling `close` is
    // not a packet for the socket: the session ends with `transport close`.
    let answers = h.post("4x\u{1e}3\u{1e}1");
    assert_eq!(
        h.events(),
        [
            received(PacketType::Message, "x"),
            message("x"),
            received(PacketType::Pong, ""),
            closed_with(CloseReason::TransportClose, "client closed the session"),
        ]
    );
    // The pending poll is released with a `noop` the transport writes: not a created packet.
    assert!(answers.contains(&payload(get, "6")), "{answers:?}");
}

#[test]
fn a_v3_ping_is_received_and_its_pong_created() {
    let mut h =
        Harness::start(ProtocolVersion::V3, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.session.set_trace(all());
    h.frame(1, "2");
    assert_eq!(h.transmits(), [text_frame(1, "3")]);
    assert_eq!(h.events(), [received(PacketType::Ping, ""), created(PacketType::Pong, ""), Event::Drained]);
}

#[test]
fn nothing_is_received_while_a_server_close_waits() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.set_trace(all());
    h.session.send(Packet::message("last")).expect("open");
    h.events();
    h.session.close(h.now);
    h.post("4late");
    // The session still hands the message over, but the reference reports packets only while
    // open.
    assert_eq!(h.events(), [message("late")]);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4last")]);
    assert_eq!(h.events(), [Event::Drained]);
    // The `close` that ends the session is no created packet and drains nothing.
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn trace_flags_combine_with_or_and_are_tested_whole() {
    let both = Trace::RECEIVED | Trace::DRAINED;
    assert!(both.contains(Trace::RECEIVED) && both.contains(Trace::DRAINED));
    assert!(!both.contains(Trace::CREATED));
    assert!(both.contains(Trace::RECEIVED | Trace::DRAINED));
    assert!(!both.contains(Trace::RECEIVED | Trace::CREATED), "every flag of the argument");
    assert_eq!(Trace::RECEIVED | Trace::RECEIVED, Trace::RECEIVED, "or, not xor");
    assert!(Trace::NONE.is_empty());
    assert!(Trace::default().is_empty());
    assert!(!Trace::CREATED.is_empty());
    assert!(!both.is_empty());
    let mut trace = Trace::NONE;
    trace |= Trace::CREATED;
    assert_eq!(trace, Trace::CREATED);
    trace |= Trace::CREATED;
    assert_eq!(trace, Trace::CREATED, "or, not xor");
    trace |= Trace::RECEIVED;
    assert_eq!(trace, Trace::CREATED | Trace::RECEIVED);
    assert_eq!(all(), Trace::RECEIVED | Trace::CREATED | Trace::DRAINED);
}
