//! Handshake packets and the heartbeat in both protocol revisions, on simulated time.

use crate::common;

use common::*;
use engineio_parser::{
    CloseReason, Data, Event, Initial, Packet, ProtocolVersion, RequestId, SessionConfig, SocketId, Transmit,
};

#[test]
fn polling_handshake_answers_the_first_get_with_open() {
    let mut h = Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::Polling(RequestId(0)));
    assert_eq!(h.transmits(), [payload(RequestId(0), HANDSHAKE_V4)]);
    assert_eq!(h.session.poll_timeout(), Some(h.at(25_000)));
}

#[test]
fn a_packet_sent_right_after_the_handshake_waits_for_the_next_poll() {
    // Before the driver polls anything: the handshake GET is answered with `open` alone (a
    // Socket.IO 2 client's implicit `40`, sent from the application's first call, comes next).
    let mut h = Harness::start(ProtocolVersion::V3, SessionConfig::default(), Initial::Polling(RequestId(0)));
    h.session.send(Packet::message("0")).expect("the session is open");
    assert_eq!(h.transmits(), [payload(RequestId(0), &format!("{}:{HANDSHAKE_V4}", HANDSHAKE_V4.len()))]);
    let next = h.get();
    assert_eq!(h.transmits(), [payload(next, "2:40")]);
}

#[test]
fn websocket_handshake_offers_no_upgrade() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(7)));
    let expected = HANDSHAKE_V4.replace(r#"["websocket"]"#, "[]");
    assert_eq!(h.transmits(), [text_frame(7, &expected)]);
}

#[test]
fn v3_handshake_is_length_prefixed() {
    let mut h = Harness::start(ProtocolVersion::V3, SessionConfig::default(), Initial::Polling(RequestId(0)));
    assert_eq!(h.transmits(), [payload(RequestId(0), &format!("{}:{HANDSHAKE_V4}", HANDSHAKE_V4.len()))]);
}

#[test]
fn server_pings_after_the_interval_and_the_pong_rearms_it() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    assert_eq!(h.transmits(), []);
    h.advance_to(24_999);
    assert_eq!(h.transmits(), []);
    h.advance_to(25_000);
    assert_eq!(h.transmits(), [payload(get, "2")]);
    assert_eq!(h.session.poll_timeout(), Some(h.at(45_000)));
    // The pong comes 5 s later: the next ping is one interval after the pong.
    h.advance_to(30_000);
    h.post("3");
    assert_eq!(h.session.poll_timeout(), Some(h.at(55_000)));
    h.advance_to(54_999);
    assert!(h.events().is_empty());
}

#[test]
fn missing_pong_closes_with_ping_timeout() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.advance_to(25_000);
    h.get();
    h.transmits();
    h.advance_to(44_999);
    assert!(h.events().is_empty());
    h.advance_to(45_000);
    let get = h.get();
    let _ = get;
    assert_eq!(h.events(), [closed_with(CloseReason::PingTimeout, "no heartbeat in time")]);
    assert!(h.session.is_closed());
}

#[test]
fn first_other_packet_refreshes_the_pong_deadline_once() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.advance_to(25_000); // ping sent, pong due at 45 s
    h.advance_to(40_000);
    h.post("4busy uploading");
    assert_eq!(h.session.poll_timeout(), Some(h.at(60_000)));
    h.advance_to(50_000);
    h.post("4still busy");
    // Only once per ping.
    assert_eq!(h.session.poll_timeout(), Some(h.at(60_000)));
    h.advance_to(60_000);
    assert_eq!(
        h.events(),
        [
            Event::Message(Data::Text("busy uploading".into())),
            Event::Message(Data::Text("still busy".into())),
            closed_with(CloseReason::PingTimeout, "no heartbeat in time"),
        ]
    );
}

#[test]
fn v4_client_ping_is_a_transport_error() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.post("2");
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "invalid heartbeat direction")]);
}

#[test]
fn v3_client_pings_and_the_server_answers() {
    let mut h = Harness::polling(ProtocolVersion::V3);
    // v3: the server never pings; the client must ping within interval + timeout.
    assert_eq!(h.session.poll_timeout(), Some(h.at(45_000)));
    h.advance_to(20_000);
    h.post("1:2");
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "1:3")]);
    assert_eq!(h.session.poll_timeout(), Some(h.at(65_000)));
    h.advance_to(65_000);
    assert_eq!(h.events(), [closed_with(CloseReason::PingTimeout, "no heartbeat in time")]);
}

#[test]
fn v3_client_pong_is_a_transport_error() {
    let mut h = Harness::polling(ProtocolVersion::V3);
    h.post("1:3");
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "invalid heartbeat direction")]);
}

#[test]
fn heartbeat_over_websocket() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.advance_to(25_000);
    assert_eq!(h.transmits(), [text_frame(1, "2")]);
    h.advance_to(25_010);
    h.frame(1, "3");
    assert_eq!(h.session.poll_timeout(), Some(h.at(50_010)));
    h.advance_to(50_010);
    assert_eq!(h.transmits(), [text_frame(1, "2")]);
    h.advance_to(70_010);
    assert_eq!(h.events(), [closed_with(CloseReason::PingTimeout, "no heartbeat in time")]);
    assert_eq!(h.transmits(), [close_socket(1)]);
}

#[test]
fn protocol_suite_timings() {
    // The official suites run the server with a 300 ms interval and a 200 ms timeout.
    let config = SessionConfig {
        ping_interval: std::time::Duration::from_millis(300),
        ping_timeout: std::time::Duration::from_millis(200),
        ..SessionConfig::default()
    };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    let get = h.get();
    h.advance_to(300);
    assert_eq!(h.transmits(), [payload(get, "2")]);
    h.advance_to(500);
    assert_eq!(h.events(), [closed_with(CloseReason::PingTimeout, "no heartbeat in time")]);
    let _: Vec<Transmit> = h.transmits();
}
