//! The polling → WebSocket upgrade: probe, noop releases, `upgrade`, buffered packets, timeout,
//! aborts and refused second WebSockets.

mod common;

use common::*;
use engineio_parser::endpoint::ErrorContext;
use engineio_parser::{
    CloseReason, Event, Packet, ProtocolVersion, RequestError, SessionConfig, SocketId, Transport,
};

fn probed() -> Harness {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.handle_socket(SocketId(1), h.now);
    h.frame(1, "2probe");
    assert_eq!(h.transmits(), [text_frame(1, "3probe")]);
    assert_eq!(h.events(), [Event::Upgrading]);
    h
}

#[test]
fn full_upgrade_with_packets_in_flight() {
    let mut h = probed();
    let get = h.get();
    // The pending poll is released with a noop every 100 ms while the client has not upgraded.
    h.advance_to(99);
    assert_eq!(h.transmits(), []);
    h.advance_to(100);
    assert_eq!(h.transmits(), [payload(get, "6")]);
    let get = h.get();
    h.advance_to(200);
    assert_eq!(h.transmits(), [payload(get, "6")]);
    // Packets sent meanwhile wait for the new transport once the client stops polling.
    h.session.send(Packet::message("queued")).expect("open");
    h.frame(1, "5");
    assert_eq!(h.events(), [Event::Upgraded]);
    assert_eq!(h.transmits(), [text_frame(1, "4queued")]);
    assert_eq!(h.session.transport(), Transport::WebSocket);
    // No more noops.
    h.advance_to(1_000);
    assert_eq!(h.transmits(), []);
    // Polling requests with the sid are now a transport mismatch.
    assert_eq!(
        h.session.check_request(Transport::Polling, ProtocolVersion::V4, false),
        Err(RequestError::bad_request(ErrorContext::TransportMismatch))
    );
    // Messages flow on the WebSocket.
    h.frame(1, "4hi");
    assert_eq!(h.events(), [Event::Message(engineio_parser::Data::Text("hi".into()))]);
}

#[test]
fn a_poll_pending_at_upgrade_is_released() {
    let mut h = probed();
    let get = h.get();
    h.frame(1, "5");
    assert_eq!(h.transmits(), [payload(get, "6")]);
}

#[test]
fn upgrade_timeout_closes_the_candidate_and_polling_goes_on() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.handle_socket(SocketId(1), h.now);
    h.advance_to(9_999);
    assert_eq!(h.transmits(), []);
    h.advance_to(10_000);
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.session.transport(), Transport::Polling);
    assert!(h.events().is_empty());
    h.session.send(Packet::message("still here")).expect("open");
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4still here")]);
}

#[test]
fn any_other_packet_before_upgrade_aborts_it() {
    let mut h = probed();
    h.frame(1, "4too early");
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.session.transport(), Transport::Polling);
    assert!(!h.session.is_closed());
}

#[test]
fn a_second_websocket_is_closed_at_once() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.handle_socket(SocketId(1), h.now);
    h.session.handle_socket(SocketId(2), h.now);
    assert_eq!(h.transmits(), [close_socket(2)]);
    h.frame(1, "2probe");
    h.frame(1, "5");
    h.transmits();
    h.session.handle_socket(SocketId(3), h.now);
    assert_eq!(h.transmits(), [close_socket(3)]);
    assert_eq!(h.session.transport(), Transport::WebSocket);
}

#[test]
fn upgrades_can_be_disabled() {
    let config = SessionConfig { allow_upgrades: false, ..SessionConfig::default() };
    let mut h = Harness::start(
        ProtocolVersion::V4,
        config,
        engineio_parser::Initial::Polling(engineio_parser::RequestId(0)),
    );
    let t = h.transmits();
    assert_eq!(t, [payload(engineio_parser::RequestId(0), &HANDSHAKE_V4.replace(r#"["websocket"]"#, "[]"))]);
    h.session.handle_socket(SocketId(1), h.now);
    assert_eq!(h.transmits(), [close_socket(1)]);
}

#[test]
fn candidate_closing_before_upgrade_leaves_polling_alone() {
    let mut h = probed();
    h.session.handle_socket_closed(SocketId(1));
    assert_eq!(h.session.transport(), Transport::Polling);
    h.advance_to(500);
    let get = h.get();
    // No noop cycle any more: the poll waits.
    h.advance_to(700);
    assert_eq!(h.transmits(), []);
    h.session.send(Packet::message("x")).expect("open");
    assert_eq!(h.transmits(), [payload(get, "4x")]);
}

#[test]
fn server_close_during_upgrade_finishes_on_the_new_transport() {
    let mut h = probed();
    h.session.close(h.now);
    h.frame(1, "5");
    let t = h.transmits();
    assert_eq!(t, [close_socket(1)]);
    assert!(h.events().iter().any(closed(CloseReason::ForcedClose)));
}

#[test]
fn v3_upgrade_uses_the_same_probe() {
    let mut h = Harness::polling(ProtocolVersion::V3);
    h.session.handle_socket(SocketId(4), h.now);
    h.frame(4, "2probe");
    assert_eq!(h.transmits(), [text_frame(4, "3probe")]);
    h.frame(4, "5");
    assert_eq!(h.events(), [Event::Upgrading, Event::Upgraded]);
}
