//! The polling → WebSocket upgrade: probe, noop releases, `upgrade`, buffered packets, timeout,
//! aborts and refused second WebSockets.

use crate::common;

use common::*;
use engineio_parser::endpoint::ErrorContext;
use engineio_parser::session::{CloseCode, SocketError};
use engineio_parser::{
    CloseReason, Event, Packet, ProtocolVersion, RequestError, SessionConfig, SocketId, Transmit, Transport,
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
    assert_eq!(h.events(), [Event::UpgradeAborted { reason: "upgrade timed out" }]);
    h.session.send(Packet::message("still here")).expect("open");
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4still here")]);
}

#[test]
fn any_other_packet_before_upgrade_aborts_it() {
    let mut h = probed();
    h.frame(1, "4too early");
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.events(), [Event::UpgradeAborted { reason: "unexpected packet during upgrade" }]);
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
    assert_eq!(h.events(), [Event::UpgradeAborted { reason: "websocket closed during upgrade" }]);
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
    assert_eq!(
        h.events(),
        [Event::Upgraded, closed_with(CloseReason::ForcedClose, "server closed the session")]
    );
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

#[test]
fn a_ping_other_than_probe_on_the_candidate_aborts_the_upgrade() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.handle_socket(SocketId(1), h.now);
    h.frame(1, "2hello");
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.events(), [Event::UpgradeAborted { reason: "unexpected packet during upgrade" }]);
    assert_eq!(h.session.transport(), Transport::Polling);
    // The upgrade deadline went with it: the next deadline is the ping.
    assert_eq!(h.session.poll_timeout(), Some(h.at(25_000)));
}

#[test]
fn a_second_probe_is_answered_without_a_second_upgrading_event() {
    let mut h = probed();
    h.advance_to(50);
    h.frame(1, "2probe");
    assert_eq!(h.transmits(), [text_frame(1, "3probe")]);
    assert_eq!(h.events(), []);
    // The noop cycle keeps its first deadline.
    assert_eq!(h.session.poll_timeout(), Some(h.at(100)));
}

#[test]
fn a_failing_candidate_is_closed_with_its_code_and_polling_goes_on() {
    let mut h = probed();
    let get = h.get();
    h.session.handle_socket_error(SocketId(1), SocketError::MessageTooBig);
    assert_eq!(h.transmits(), [Transmit::CloseSocket { socket: SocketId(1), code: CloseCode::TooBig }]);
    assert_eq!(h.events(), [Event::UpgradeAborted { reason: "websocket failed during upgrade" }]);
    assert!(!h.session.is_closed());
    assert_eq!(h.session.transport(), Transport::Polling);
    // No upgrade deadline and no noop cycle any more: the poll waits.
    assert_eq!(h.session.poll_timeout(), Some(h.at(25_000)));
    h.session.send(Packet::message("x")).expect("open");
    assert_eq!(h.transmits(), [payload(get, "4x")]);
    // A new candidate may come.
    h.session.handle_socket(SocketId(2), h.now);
    h.session.handle_socket_error(SocketId(2), SocketError::Protocol);
    assert_eq!(h.transmits(), [close_socket(2)]);
    assert_eq!(h.events(), [Event::UpgradeAborted { reason: "websocket failed during upgrade" }]);
}

#[test]
fn a_failing_unknown_socket_changes_nothing() {
    let mut h = probed();
    h.session.handle_socket_error(SocketId(9), SocketError::Protocol);
    h.session.handle_socket_closed(SocketId(9));
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), []);
    h.frame(1, "5");
    assert_eq!(h.events(), [Event::Upgraded]);
}

#[test]
fn the_noop_deadline_is_rearmed_every_interval_while_probed() {
    let mut h = probed();
    assert_eq!(h.session.poll_timeout(), Some(h.at(100)));
    h.advance_to(100);
    // No poll was pending: nothing to release, the cycle goes on.
    assert_eq!(h.transmits(), []);
    assert_eq!(h.session.poll_timeout(), Some(h.at(200)));
    let get = h.get();
    h.advance_to(200);
    assert_eq!(h.transmits(), [payload(get, "6")]);
    assert_eq!(h.session.poll_timeout(), Some(h.at(300)));
    // Once upgraded, the next deadline is the ping again.
    h.frame(1, "5");
    assert_eq!(h.session.poll_timeout(), Some(h.at(25_000)));
}

#[test]
fn frames_on_a_socket_that_is_not_the_candidate_are_ignored() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.handle_socket(SocketId(1), h.now);
    h.frame(2, "2probe");
    h.frame(2, "5");
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), []);
    assert_eq!(h.session.transport(), Transport::Polling);
}

#[test]
fn the_upgraded_socket_s_errors_end_the_session() {
    let mut h = probed();
    h.frame(1, "5");
    h.events();
    h.session.handle_socket_error(SocketId(1), SocketError::Protocol);
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "websocket protocol error")]);
    // Reported again, it is not closed twice.
    h.session.handle_socket_error(SocketId(1), SocketError::Protocol);
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), []);
}
