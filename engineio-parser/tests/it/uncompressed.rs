//! Packets sent with `send_uncompressed` (the reference's `compress: false`): their WebSocket
//! frames say so whether they leave at once or after a blocked socket frees up, and a poll's
//! answer is compressible unless every packet in it was sent uncompressed.

use crate::common;

use common::*;
use engineio_parser::{Initial, Packet, ProtocolVersion, SessionConfig, SocketId, Transmit};

fn sent(h: &mut Harness) -> Vec<(String, bool)> {
    h.transmits()
        .into_iter()
        .map(|t| match t {
            Transmit::Send { frame, compress, .. } => {
                (String::from_utf8_lossy(&frame.payload()).into_owned(), compress)
            }
            other => panic!("not a frame: {other:?}"),
        })
        .collect()
}

fn answer(h: &mut Harness) -> (String, bool) {
    match &h.transmits()[..] {
        [Transmit::Respond { response, .. }] => {
            (String::from_utf8_lossy(&response.body).into_owned(), response.compress)
        }
        other => panic!("not one answer: {other:?}"),
    }
}

#[test]
fn websocket_frames_carry_whether_they_may_be_compressed() {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h.session.send_uncompressed(Packet::message("a")).expect("open");
    h.session.send(Packet::message("b")).expect("open");
    assert_eq!(sent(&mut h), [("4a".to_owned(), false), ("4b".to_owned(), true)]);
    // Queued while the socket is blocked, each keeps its own flag.
    h.session.handle_socket_writable(SocketId(1), false);
    h.session.send(Packet::message("c")).expect("open");
    h.session.send_uncompressed(Packet::message("d")).expect("open");
    assert_eq!(sent(&mut h), []);
    h.session.handle_socket_writable(SocketId(1), true);
    assert_eq!(sent(&mut h), [("4c".to_owned(), true), ("4d".to_owned(), false)]);
}

#[test]
fn a_poll_answer_is_compressible_unless_every_packet_was_sent_uncompressed() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.session.send_uncompressed(Packet::message("a")).expect("open");
    h.session.send_uncompressed(Packet::message("b")).expect("open");
    h.get();
    assert_eq!(answer(&mut h), ("4a\u{1e}4b".to_owned(), false));
    h.session.send_uncompressed(Packet::message("c")).expect("open");
    h.session.send(Packet::message("d")).expect("open");
    h.get();
    assert_eq!(answer(&mut h), ("4c\u{1e}4d".to_owned(), true));
    h.session.send(Packet::message("e")).expect("open");
    h.get();
    assert_eq!(answer(&mut h), ("4e".to_owned(), true));
    // A closed session takes nothing, in either form.
    h.session.close(h.now);
    assert!(h.session.send_uncompressed(Packet::message("f")).is_err());
}
