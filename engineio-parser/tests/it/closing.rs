//! Server-side closes (with and without a pending poll), close reasons of WebSocket sessions,
//! and the client's `close` over WebSocket.

use crate::common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use engineio_parser::session::{CloseCode, SocketError};
use engineio_parser::{
    CloseReason, Frame, Initial, Packet, ProtocolVersion, SessionConfig, SocketId, Transmit,
};

fn websocket() -> Harness {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h
}

#[test]
fn close_with_a_pending_poll_answers_it_with_close() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    h.session.close(h.now);
    assert_eq!(h.transmits(), [payload(get, "1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn close_without_a_poll_waits_for_the_next_one_and_delivers_the_buffer_first() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.send(Packet::message("bye")).expect("open");
    h.session.close(h.now);
    assert_eq!(h.transmits(), []);
    assert!(h.events().is_empty());
    assert!(h.session.send(Packet::message("late")).is_err());
    h.advance_to(1_000);
    // As the reference: the queued packets first, `close` on the next poll (a client may act
    // on a `close` before the packets of the same payload).
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4bye")]);
    assert!(h.events().is_empty());
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn close_with_a_pending_poll_and_queued_packets_sends_close_on_the_next_poll() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    h.session.send(Packet::message("bye")).expect("open");
    h.session.close(h.now);
    assert_eq!(h.transmits(), [payload(get, "4bye")]);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn deferred_close_gives_up_after_close_timeout() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.close(h.now);
    assert_eq!(h.session.poll_timeout(), Some(h.at(25_000)));
    h.advance_to(29_999);
    assert!(h.events().is_empty());
    h.advance_to(30_000);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn close_over_websocket_drains_then_closes_the_socket() {
    let mut h = websocket();
    h.session.send(Packet::message("last words")).expect("open");
    h.session.close(h.now);
    assert_eq!(h.transmits(), [text_frame(1, "4last words"), close_socket(1)]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn the_client_closing_its_websocket_is_transport_close() {
    let mut h = websocket();
    h.session.handle_socket_closed(SocketId(1));
    assert_eq!(h.events(), [closed_with(CloseReason::TransportClose, "websocket closed")]);
    assert_eq!(h.transmits(), []);
}

#[test]
fn close_packet_over_websocket_is_ignored_like_the_reference() {
    let mut h = websocket();
    h.frame(1, "1");
    assert!(h.events().is_empty());
    assert!(!h.session.is_closed());
}

#[test]
fn oversized_websocket_message_closes_with_1009() {
    let mut h = websocket();
    h.session.handle_socket_error(SocketId(1), SocketError::MessageTooBig);
    assert_eq!(h.transmits(), [Transmit::CloseSocket { socket: SocketId(1), code: CloseCode::TooBig }]);
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "message too big")]);
}

#[test]
fn undecodable_websocket_frames_are_parse_errors() {
    let mut h = websocket();
    h.frame(1, "7");
    assert_eq!(h.events(), [closed_with(CloseReason::ParseError, "undecodable packet")]);
    assert_eq!(h.transmits(), [close_socket(1)]);
    let mut h = websocket();
    // v4 reads `b...` as base64 binary data, and `A!QI` is not base64.
    h.session.handle_frame(SocketId(1), Frame::Text("bA!QI".into()), h.now);
    assert_eq!(h.events(), [closed_with(CloseReason::ParseError, "undecodable packet")]);
}

#[test]
fn binary_frames_are_binary_messages() {
    let mut h = websocket();
    h.session.handle_frame(SocketId(1), Frame::Binary(Bytes::from_static(&[1, 2])), h.now);
    assert_eq!(
        h.events(),
        [engineio_parser::Event::Message(engineio_parser::Data::Binary(Bytes::from_static(&[1, 2])))]
    );
    h.session.send(Packet::binary(&[3u8][..])).expect("open");
    assert_eq!(
        h.transmits(),
        [Transmit::Send {
            socket: SocketId(1),
            frame: Frame::Binary(Bytes::from_static(&[3])),
            compress: true
        }]
    );
}

#[test]
fn shutdown_waits_for_the_next_poll_only_shutdown_timeout() {
    let config = SessionConfig { shutdown_timeout: Duration::from_secs(2), ..SessionConfig::default() };
    // The next poll gets what was queued and `close` in one answer.
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.send(Packet::message("kept")).expect("open");
    h.session.shutdown(h.now);
    assert_eq!(h.events(), []);
    assert_eq!(h.session.poll_timeout(), Some(h.at(2000)));
    h.advance_to(1999);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4kept\u{1e}1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
    // No poll in time: the session ends at the deadline, and not before.
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.shutdown(h.now);
    h.advance_to(1999);
    assert_eq!(h.events(), []);
    h.advance_to(2000);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn shutdown_without_a_wait_does_not_wait_for_a_poll() {
    let config = SessionConfig { shutdown_timeout: Duration::ZERO, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.send(Packet::message("dropped")).expect("open");
    h.session.shutdown(h.now);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server shutting down")]);
    assert_eq!(h.session.poll_timeout(), None);
    // With a poll pending, the poll gets the buffer and `close`.
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.send(Packet::message("kept")).expect("open");
    let get = h.get();
    h.session.shutdown(h.now);
    assert_eq!(h.transmits(), [payload(get, "4kept\u{1e}1")]);
    assert_eq!(h.events(), [closed_with(CloseReason::ForcedClose, "server closed the session")]);
}

#[test]
fn a_websocket_client_that_stops_reading_is_disconnected() {
    let config = SessionConfig { max_buffered: 1_000, ..SessionConfig::default() };
    let mut h = Harness::start(ProtocolVersion::V4, config, Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.session.send(Packet::message("sent at once")).expect("open");
    assert_eq!(h.transmits(), [text_frame(1, "4sent at once")]);
    // The driver's write queue is full: packets wait in the session.
    h.session.handle_socket_writable(SocketId(1), false);
    assert!(!h.session.is_writable());
    h.session.send(Packet::message("waits")).expect("open");
    assert_eq!(h.transmits(), []);
    // It drained: the waiting packet leaves.
    h.session.handle_socket_writable(SocketId(1), true);
    assert_eq!(h.transmits(), [text_frame(1, "4waits")]);
    // Blocked for good: past max_buffered the session closes.
    h.session.handle_socket_writable(SocketId(1), false);
    let chunk = "x".repeat(99);
    for _ in 0..10 {
        h.session.send(Packet::message(chunk.clone())).expect("within the limit");
    }
    assert!(h.session.send(Packet::message(chunk)).is_err());
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "write buffer full")]);
    assert_eq!(h.transmits(), [close_socket(1)]);
}

#[test]
fn close_reasons_read_as_the_reference_s() {
    let texts = [
        (CloseReason::TransportClose, "transport close"),
        (CloseReason::TransportError, "transport error"),
        (CloseReason::PingTimeout, "ping timeout"),
        (CloseReason::ParseError, "parse error"),
        (CloseReason::ForcedClose, "forced close"),
    ];
    for (reason, text) in texts {
        assert_eq!(reason.as_str(), text);
        assert_eq!(reason.to_string(), text);
    }
}

#[test]
fn close_codes_are_the_websocket_numbers() {
    assert_eq!(CloseCode::Normal.code(), 1000);
    assert_eq!(CloseCode::TooBig.code(), 1009);
}

#[test]
fn send_errors_say_what_happened() {
    use engineio_parser::session::SendError;
    assert_eq!(SendError::Closed.to_string(), "the session is closed");
    assert_eq!(SendError::BufferFull.to_string(), "the client does not read: write buffer full");
    let mut h = websocket();
    h.session.close(h.now);
    assert_eq!(h.session.send(Packet::message("late")), Err(SendError::Closed));
}

#[test]
fn a_closed_session_ignores_frames_and_a_second_close() {
    let mut h = websocket();
    h.session.close(h.now);
    h.transmits();
    h.events();
    h.frame(1, "4late");
    h.session.close(h.now);
    h.session.shutdown(h.now);
    assert_eq!(h.transmits(), []);
    assert_eq!(h.events(), []);
    assert!(h.session.is_closed());
}

#[test]
fn websocket_failures_map_to_socket_errors() {
    use engineio_parser::ws::WsError;
    let too_big = WsError::MessageTooBig { size: 10, limit: 5 };
    assert_eq!(SocketError::from(too_big), SocketError::MessageTooBig);
    assert_eq!(SocketError::from(WsError::InvalidUtf8), SocketError::Protocol);
}
