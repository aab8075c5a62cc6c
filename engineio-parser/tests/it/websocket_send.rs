//! Packets sent on a WebSocket session: a frame at once while the socket takes writes and
//! nothing waits before it; buffered, in order, while the socket is blocked or the buffer holds
//! packets.

use crate::common;

use common::*;
use engineio_parser::{Initial, Packet, ProtocolVersion, SessionConfig, SocketId};

fn websocket() -> Harness {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h
}

#[test]
fn a_packet_for_a_writable_socket_is_a_frame_at_once() {
    let mut h = websocket();
    assert!(h.session.is_writable());
    h.session.send(Packet::message("now")).expect("open");
    // Not held in the buffer: nothing counts against `max_buffered`.
    assert_eq!(h.session.buffered_bytes(), 0);
    assert_eq!(h.transmits(), [text_frame(1, "4now")]);
}

#[test]
fn packets_sent_while_blocked_wait_and_leave_in_order() {
    let mut h = websocket();
    h.session.handle_socket_writable(SocketId(1), false);
    assert!(!h.session.is_writable());
    h.session.send(Packet::message("a")).expect("open");
    h.session.send(Packet::message("bc")).expect("open");
    assert_eq!(h.session.buffered_bytes(), 5);
    assert_eq!(h.transmits(), []);
    // Writable again, with packets still waiting: a new one goes behind them.
    h.session.handle_socket_writable(SocketId(1), true);
    assert!(h.session.is_writable());
    h.session.send(Packet::message("d")).expect("open");
    assert_eq!(h.session.buffered_bytes(), 7);
    assert_eq!(h.transmits(), [text_frame(1, "4a"), text_frame(1, "4bc"), text_frame(1, "4d")]);
    assert_eq!(h.session.buffered_bytes(), 0);
    // The buffer is empty again: the next packet is a frame at once.
    h.session.send(Packet::message("e")).expect("open");
    assert_eq!(h.session.buffered_bytes(), 0);
    assert_eq!(h.transmits(), [text_frame(1, "4e")]);
}

#[test]
fn a_packet_sent_before_the_handshake_left_follows_it() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.session.send(Packet::message("first")).expect("open");
    let t = h.transmits();
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!(t[1], text_frame(1, "4first"));
}

#[test]
fn a_packet_sent_after_a_queued_ping_follows_it() {
    let mut h = websocket();
    h.advance_to(25_000);
    h.session.send(Packet::message("after the ping")).expect("open");
    assert_eq!(h.transmits(), [text_frame(1, "2"), text_frame(1, "4after the ping")]);
}

#[test]
fn another_socket_s_writability_changes_nothing() {
    let mut h = websocket();
    h.session.handle_socket_writable(SocketId(2), false);
    assert!(h.session.is_writable());
    h.session.send(Packet::message("x")).expect("open");
    assert_eq!(h.session.buffered_bytes(), 0);
    assert_eq!(h.transmits(), [text_frame(1, "4x")]);
}

#[test]
fn a_blocked_socket_still_gets_a_server_close() {
    let mut h = websocket();
    h.session.handle_socket_writable(SocketId(1), false);
    h.session.send(Packet::message("bye")).expect("open");
    h.session.close(h.now);
    assert_eq!(h.transmits(), [text_frame(1, "4bye"), close_socket(1)]);
    assert_eq!(
        h.events(),
        [closed_with(engineio_parser::CloseReason::ForcedClose, "server closed the session")]
    );
}
