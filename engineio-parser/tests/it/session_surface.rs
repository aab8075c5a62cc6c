//! What a session says about itself (revision, transport, handshake), how it checks the
//! requests that name it, and the answers it builds for refused ones.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use engineio_parser::endpoint::{ErrorContext, Transports};
use engineio_parser::session::ResponseKind;
use engineio_parser::{
    CloseReason, ErrorCode, Event, Initial, ProtocolVersion, RequestError, RequestId, RequestKind, Response,
    SessionConfig, SocketId, Transport,
};

#[test]
fn a_session_knows_its_revision_and_transport() {
    let h = Harness::polling(ProtocolVersion::V3);
    assert_eq!(h.session.version(), ProtocolVersion::V3);
    assert_eq!(h.session.transport(), Transport::Polling);
    assert!(!h.session.is_closed());
    let h = Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    assert_eq!(h.session.version(), ProtocolVersion::V4);
    assert_eq!(h.session.transport(), Transport::WebSocket);
}

#[test]
fn without_websocket_the_handshake_offers_no_upgrade_and_refuses_sockets() {
    let config = SessionConfig {
        transports: Transports { polling: true, websocket: false },
        ..SessionConfig::default()
    };
    let mut h = Harness::start(ProtocolVersion::V4, config, Initial::Polling(RequestId(0)));
    assert_eq!(h.transmits(), [payload(RequestId(0), &HANDSHAKE_V4.replace(r#"["websocket"]"#, "[]"))]);
    h.session.handle_socket(SocketId(1), h.now);
    assert_eq!(h.transmits(), [close_socket(1)]);
}

#[test]
fn the_handshake_announces_the_configured_timings_and_limit() {
    let config = SessionConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1234,
        ..SessionConfig::default()
    };
    let mut h = Harness::start(ProtocolVersion::V4, config, Initial::Polling(RequestId(0)));
    let expected = HANDSHAKE_V4.replace("25000", "300").replace("20000", "200").replace("1000000", "1234");
    assert_eq!(h.transmits(), [payload(RequestId(0), &expected)]);
}

#[test]
fn a_websocket_session_takes_only_websocket_requests_and_upgrades_are_no_exception() {
    let h = Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    let mismatch = Err(RequestError::bad_request(ErrorContext::TransportMismatch));
    assert_eq!(h.session.check_request(Transport::Polling, ProtocolVersion::V4, true), mismatch);
    assert_eq!(h.session.check_request(Transport::Polling, ProtocolVersion::V4, false), mismatch);
    assert_eq!(h.session.check_request(Transport::WebSocket, ProtocolVersion::V4, false), Ok(()));
}

#[test]
fn refusals_of_websocket_upgrades_are_400_text() {
    let error = RequestError::forbidden(Some("go away".into()));
    assert_eq!(
        Response::refusal(&error, true),
        Response {
            status: 400,
            kind: ResponseKind::RefusedUpgrade,
            content_type: Some("text/html"),
            body: Bytes::from_static(b"go away"),
            compress: false,
        }
    );
    assert_eq!(
        Response::refusal(&error, false),
        Response {
            status: 403,
            kind: ResponseKind::Error,
            content_type: Some("application/json"),
            body: Bytes::from_static(br#"{"code":4,"message":"go away"}"#),
            compress: false,
        }
    );
    assert_eq!(Response::refusal(&error, false), Response::error(&error));
    assert_eq!(
        Response::empty(500),
        Response {
            status: 500,
            kind: ResponseKind::Error,
            content_type: None,
            body: Bytes::new(),
            compress: false
        }
    );
}

#[test]
fn octet_stream_is_recognised_only_in_full() {
    use engineio_parser::Method;
    let post = |ct: &'static [u8]| RequestKind::new(Method::Post, Some(ct));
    assert_eq!(post(b"application/octet-stream"), RequestKind::Post { binary: true });
    assert_eq!(post(b"application/octet"), RequestKind::Post { binary: false });
    assert_eq!(post(b""), RequestKind::Post { binary: false });
    assert_eq!(post(b"text/plain"), RequestKind::Post { binary: false });
    assert_eq!(RequestKind::new(Method::Options, None), RequestKind::Other);
}

#[test]
fn a_body_for_a_request_the_session_does_not_await_is_ignored() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.handle_body(RequestId(77), Bytes::from_static(b"4x"), h.now);
    h.session.handle_body_too_large(RequestId(77));
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), []);
    // A body comes once: a second one for the same request is ignored.
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: false }, h.now);
    h.session.handle_body(post, Bytes::from_static(b"4a"), h.now);
    h.session.handle_body(post, Bytes::from_static(b"4b"), h.now);
    h.session.handle_body_too_large(post);
    assert_eq!(h.transmits(), [respond_ok(post)]);
    assert_eq!(h.events(), [Event::Message(engineio_parser::Data::Text("a".into()))]);
}

#[test]
fn packets_after_a_close_in_the_same_body_are_dropped() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.post("4a\u{1e}1\u{1e}4b");
    assert_eq!(
        h.events(),
        [
            Event::Message(engineio_parser::Data::Text("a".into())),
            closed_with(CloseReason::TransportClose, "client closed the session"),
        ]
    );
}

#[test]
fn open_upgrade_and_noop_from_the_client_mean_nothing() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.post("0\u{1e}5\u{1e}6");
    assert_eq!(h.events(), []);
    assert!(!h.session.is_closed());
    assert_eq!(h.session.poll_timeout(), Some(h.at(25_000)));
}

#[test]
fn a_pong_without_a_ping_rearms_the_next_ping() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.advance_to(1_000);
    h.post("3");
    assert_eq!(h.session.poll_timeout(), Some(h.at(26_000)));
    assert_eq!(h.events(), []);
}

#[test]
fn a_pong_does_not_spend_the_refresh_of_the_pong_deadline() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.advance_to(25_000); // ping; pong due at 45 s
    h.advance_to(30_000);
    h.post("3"); // pong: next ping at 55 s
    h.advance_to(55_000); // ping; pong due at 75 s
    h.advance_to(70_000);
    h.post("4busy");
    assert_eq!(h.session.poll_timeout(), Some(h.at(90_000)));
}

#[test]
fn v3_packets_do_not_refresh_the_ping_deadline() {
    let mut h = Harness::polling(ProtocolVersion::V3);
    h.advance_to(40_000);
    h.post("2:4a");
    assert_eq!(h.session.poll_timeout(), Some(h.at(45_000)));
}

#[test]
fn a_second_shutdown_changes_nothing_and_the_wait_is_at_most_close_timeout() {
    let config = SessionConfig {
        shutdown_timeout: Duration::from_secs(5),
        close_timeout: Duration::from_secs(3),
        ..SessionConfig::default()
    };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.shutdown(h.now);
    assert_eq!(h.session.poll_timeout(), Some(h.at(3_000)));
    h.advance_to(1_000);
    h.session.shutdown(h.now);
    assert_eq!(h.session.poll_timeout(), Some(h.at(3_000)));
    assert_eq!(h.events(), []);
}

#[test]
fn a_shutdown_with_a_pending_poll_answers_it_at_once() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    h.session.shutdown(h.now);
    assert_eq!(h.transmits(), [payload(get, "1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn a_shutdown_of_a_websocket_session_closes_the_socket() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.session.shutdown(h.now);
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn a_closed_session_s_check_says_unknown_sid() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.close(h.now);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "1")]);
    assert_eq!(
        h.session.check_request(Transport::Polling, ProtocolVersion::V4, false),
        Err(RequestError::new(ErrorCode::UnknownSid))
    );
    h.session.handle_socket(SocketId(3), h.now);
    assert_eq!(h.transmits(), [close_socket(3)]);
}

#[test]
fn server_close_is_not_a_transport_close_on_a_websocket() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.advance_to(25_000);
    assert_eq!(h.transmits(), [text_frame(1, "2")]);
    h.advance_to(45_000);
    assert_eq!(h.transmits(), [close_socket(1)]);
    assert_eq!(h.events(), [closed_with(CloseReason::PingTimeout, "no heartbeat in time")]);
}

#[test]
fn the_session_s_own_packets_count_as_buffered() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.advance_to(25_000);
    assert_eq!(h.session.buffered_bytes(), 1);
    h.session.send(engineio_parser::Packet::message("ab")).expect("open");
    assert_eq!(h.session.buffered_bytes(), 4);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "2\u{1e}4ab")]);
    assert_eq!(h.session.buffered_bytes(), 0);
}

#[test]
fn a_close_packet_over_websocket_does_not_refresh_the_pong_deadline() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.advance_to(25_000);
    h.advance_to(30_000);
    h.frame(1, "1");
    assert_eq!(h.session.poll_timeout(), Some(h.at(45_000)));
    // Any other packet does, once.
    h.frame(1, "4x");
    assert_eq!(h.session.poll_timeout(), Some(h.at(50_000)));
}

#[test]
fn a_shutdown_without_a_wait_still_answers_a_pending_poll_with_the_buffer() {
    let config = SessionConfig { shutdown_timeout: Duration::ZERO, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.send(engineio_parser::Packet::message("kept")).expect("open");
    let get = h.get();
    h.session.shutdown(h.now);
    assert_eq!(h.transmits(), [payload(get, "4kept\u{1e}1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn a_shutdown_without_a_wait_drains_a_websocket_first() {
    let config = SessionConfig { shutdown_timeout: Duration::ZERO, ..SessionConfig::default() };
    let mut h = Harness::start(ProtocolVersion::V4, config, Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.session.handle_socket_writable(SocketId(1), false);
    h.session.send(engineio_parser::Packet::message("bye")).expect("open");
    h.session.shutdown(h.now);
    assert_eq!(h.transmits(), [text_frame(1, "4bye"), close_socket(1)]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn only_a_message_event_counts_as_a_packet_received() {
    use engineio_parser::{Data, PacketType};
    assert_eq!(Event::Message(Data::Text("hi".into())).received_type(), Some(PacketType::Message));
    assert_eq!(
        Event::Message(Data::Binary(Bytes::from_static(b"\x01"))).received_type(),
        Some(PacketType::Message)
    );
    for event in [Event::Upgrading, Event::Upgraded, Event::Drained] {
        assert_eq!(event.received_type(), None, "{event:?}");
    }
}
