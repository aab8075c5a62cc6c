//! The WebSocket connection machine: given these client bytes, expect these events and these
//! frames written; and the session's answers to its events (close codes, close reasons).

use crate::common;

use std::io::IoSlice;

use bytes::Bytes;
use common::*;
use engineio_parser::session::{CloseCode, ResponseKind};
use engineio_parser::ws::{
    close_code, close_frame, frame, Connection, Event, Limits, OpCode, WsError, WRITE_HIGH_WATER,
};
use engineio_parser::{
    ByteString, CloseReason, ErrorCode, Frame, Initial, ProtocolVersion, RequestError, Response,
    SessionConfig, SocketId, Transmit,
};

const TEXT: u8 = 0x81;
const BINARY: u8 = 0x82;
const CLOSE: u8 = 0x88;
const PING: u8 = 0x89;
const PONG: u8 = 0x8A;

/// A masked client frame (FIN set) with a short payload.
fn client(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    assert!(payload.len() < 126);
    let mut out = vec![first, 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Everything queued for writing, as one write would take it, marked written.
fn written(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        if !conn.has_output() {
            return out;
        }
        let mut slices = [IoSlice::new(&[]); 16];
        let n = conn.output(&mut slices);
        let before = out.len();
        for slice in &slices[..n] {
            out.extend_from_slice(slice);
        }
        conn.advance_output(out.len() - before);
    }
    panic!("the output does not drain");
}

fn text_frame(text: &str) -> Event {
    Event::Frame(Frame::Text(ByteString::from(text.to_owned())))
}

#[test]
fn messages_become_frames_for_the_session() {
    let mut conn = Connection::new(Limits::default());
    conn.handle_read(&[client(TEXT, b"4hello"), client(BINARY, &[1, 2, 3])].concat());
    assert_eq!(
        events(&mut conn),
        [text_frame("4hello"), Event::Frame(Frame::Binary(Bytes::from_static(&[1, 2, 3])))]
    );
    assert!(!conn.has_output());
    assert!(conn.is_idle(), "the read buffer is released once empty");
}

#[test]
fn a_message_split_across_reads_comes_out_whole() {
    let mut conn = Connection::new(Limits::default());
    let bytes = client(TEXT, b"4split");
    for (i, byte) in bytes.iter().enumerate() {
        conn.handle_read(&[*byte]);
        let got = events(&mut conn);
        if i + 1 < bytes.len() {
            assert_eq!(got, [], "after byte {i}");
            assert!(!conn.is_idle(), "a partial frame stays buffered");
        } else {
            assert_eq!(got, [text_frame("4split")]);
        }
    }
    assert!(conn.is_idle());
}

#[test]
fn a_ping_is_answered_with_a_pong_and_a_pong_is_ignored() {
    let mut conn = Connection::new(Limits::default());
    conn.handle_read(&[client(PING, b"are you there"), client(PONG, b"x")].concat());
    assert_eq!(events(&mut conn), []);
    assert_eq!(written(&mut conn), frame(OpCode::Pong, b"are you there"));
    assert!(conn.is_idle());
}

#[test]
fn no_pong_while_the_write_queue_is_full() {
    let mut conn = Connection::new(Limits::default());
    let big = "x".repeat(WRITE_HIGH_WATER);
    conn.send(Frame::PrefixedText(b'4', ByteString::from(big)));
    assert_eq!(events(&mut conn), [Event::Writable(false)]);
    let queued = conn.output_len();
    conn.handle_read(&client(PING, b"flood"));
    assert_eq!(events(&mut conn), []);
    assert_eq!(conn.output_len(), queued, "a client that does not read gets no pongs");
    // Once written, the connection is writable again and pings are answered.
    let out = written(&mut conn);
    assert_eq!(out.len(), queued);
    assert_eq!(events(&mut conn), [Event::Writable(true)]);
    conn.handle_read(&client(PING, b"again"));
    assert_eq!(events(&mut conn), []);
    assert_eq!(written(&mut conn), frame(OpCode::Pong, b"again"));
}

#[test]
fn writability_has_hysteresis() {
    let mut conn = Connection::new(Limits::default());
    // 16 KiB a frame with its 4-byte header: four of them make exactly the high-water mark.
    let chunk = ByteString::from("y".repeat(16 * 1024 - 4));
    for _ in 0..4 {
        conn.send(Frame::Text(chunk.clone()));
        assert_eq!(events(&mut conn), [], "at or under the high-water mark");
    }
    conn.send(Frame::Text(chunk.clone()));
    assert_eq!(events(&mut conn), [Event::Writable(false)]);
    assert_eq!(events(&mut conn), [], "said once");
    // Written down to just over the low-water mark: still not writable.
    let over_low = conn.output_len() - (16 * 1024 + 1);
    conn.advance_output(over_low);
    assert_eq!(events(&mut conn), []);
    conn.advance_output(1);
    assert_eq!(events(&mut conn), [Event::Writable(true)]);
}

#[test]
fn a_close_frame_is_answered_and_nothing_more_is_read() {
    let mut conn = Connection::new(Limits::default());
    let mut close = vec![0x03, 0xe8];
    close.extend_from_slice(b"bye");
    conn.handle_read(&[client(CLOSE, &close), client(TEXT, b"4after")].concat());
    assert_eq!(events(&mut conn), [Event::Closed]);
    assert!(conn.is_closing());
    conn.send(Frame::Text("4ignored".into()));
    conn.handle_read(&client(TEXT, b"4ignored too"));
    assert_eq!(events(&mut conn), []);
    assert_eq!(written(&mut conn), close_frame(close_code::NORMAL, ""));
}

#[test]
fn an_oversized_message_fails_the_connection_with_1009() {
    let mut conn = Connection::new(Limits::default().with_max_message_size(10));
    conn.handle_read(&client(TEXT, b"4 eleven bytes"));
    let got = events(&mut conn);
    assert!(matches!(got[..], [Event::Failed(WsError::MessageTooBig { limit: 10, .. })]), "{got:?}");
    assert!(conn.is_closing());
    assert_eq!(written(&mut conn), close_frame(close_code::TOO_BIG, ""));
}

#[test]
fn invalid_utf8_fails_with_1007_and_a_protocol_error_with_1002() {
    let mut conn = Connection::new(Limits::default());
    conn.handle_read(&client(TEXT, &[0xff, 0xfe]));
    assert_eq!(events(&mut conn), [Event::Failed(WsError::InvalidUtf8)]);
    assert_eq!(written(&mut conn), close_frame(close_code::INVALID_DATA, ""));

    let mut conn = Connection::new(Limits::default());
    conn.handle_read(&[0x81, 0x02, b'h', b'i']); // unmasked
    assert_eq!(events(&mut conn), [Event::Failed(WsError::UnmaskedFrame)]);
    assert_eq!(written(&mut conn), close_frame(close_code::PROTOCOL_ERROR, ""));
}

#[test]
fn the_first_close_wins() {
    let mut conn = Connection::new(Limits::default());
    assert!(!conn.is_closing());
    conn.close(close_code::POLICY_VIOLATION);
    assert!(conn.is_closing());
    conn.close(close_code::NORMAL);
    assert_eq!(written(&mut conn), close_frame(close_code::POLICY_VIOLATION, ""));
}

#[test]
fn frames_keep_their_payload_shared_and_raw_bytes_go_first() {
    let mut conn = Connection::new(Limits::default());
    conn.send_raw(Bytes::from_static(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"));
    let data = ByteString::from("hello");
    conn.send(Frame::PrefixedText(b'4', data.clone()));
    conn.send(Frame::Binary(Bytes::from_static(&[9, 9])));
    let mut slices = [IoSlice::new(&[]); 16];
    let n = conn.output(&mut slices);
    assert_eq!(n, 5, "the raw bytes, a header with its prefix, the shared text, a header, the data");
    assert_eq!(slices[2].as_ptr(), data.as_bytes().as_ptr(), "the text is not copied");
    let mut expected = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
    expected.extend_from_slice(&frame(OpCode::Text, b"4hello"));
    expected.extend_from_slice(&frame(OpCode::Binary, &[9, 9]));
    assert_eq!(written(&mut conn), expected);
    assert!(conn.is_idle());
}

#[test]
fn partial_writes_resume_inside_a_header() {
    let mut conn = Connection::new(Limits::default());
    conn.send(Frame::PrefixedText(b'4', "abc".into()));
    conn.send(Frame::Text("4def".into()));
    let mut out = Vec::new();
    // One byte at a time (and a bound, should the output never drain).
    for _ in 0..100 {
        if !conn.has_output() {
            break;
        }
        let mut slices = [IoSlice::new(&[]); 4];
        let n = conn.output(&mut slices);
        assert!(n > 0);
        out.push(slices[0][0]);
        conn.advance_output(1);
    }
    assert_eq!(out, [frame(OpCode::Text, b"4abc"), frame(OpCode::Text, b"4def")].concat());
    assert_eq!(conn.output_len(), 0);
}

#[test]
fn a_write_that_ends_inside_a_later_chunk_resumes_there() {
    let mut conn = Connection::new(Limits::default());
    conn.send_raw(Bytes::from_static(b"HTTP"));
    conn.send(Frame::Binary(Bytes::from_static(&[1, 2, 3])));
    conn.send(Frame::Text("4x".into()));
    let all = [&b"HTTP"[..], &frame(OpCode::Binary, &[1, 2, 3]), &frame(OpCode::Text, b"4x")].concat();
    assert_eq!(conn.output_len(), all.len());
    // Two slices per chunk at most, and never more than given.
    let mut four = [IoSlice::new(&[]); 4];
    assert_eq!(conn.output(&mut four), 3, "the raw bytes, then the first frame's header and data");
    assert_eq!(&*four[0], b"HTTP");
    // The raw bytes and the first byte of the next header.
    conn.advance_output(5);
    assert_eq!(conn.output_len(), all.len() - 5);
    assert_eq!(written(&mut conn), all[5..]);
    assert_eq!(conn.output_len(), 0);
}

#[test]
fn deflate_compresses_large_frames() {
    let params = engineio_parser::ws::negotiate_deflate([&b"permessage-deflate"[..]]).expect("accepted");
    let mut conn = Connection::with_deflate(Limits::default(), params, Default::default());
    conn.send(Frame::PrefixedText(b'4', ByteString::from("ab".repeat(2000))));
    let out = written(&mut conn);
    assert_eq!(out[0], 0xC1, "FIN, RSV1, text");
    assert!(out.len() < 200);
    // The same frame sent uncompressed (`compress(false)`) goes as it is.
    conn.send_with(Frame::PrefixedText(b'4', ByteString::from("ab".repeat(2000))), false);
    let out = written(&mut conn);
    assert_eq!(&out[..4], [0x81, 126, 0x0F, 0xA1], "FIN, text, 4 001 bytes, no RSV1");
    assert_eq!(out.len(), 4 + 4001);
    assert_eq!(&out[4..6], b"4a");
    conn.send_with(Frame::PrefixedText(b'4', ByteString::from("ab".repeat(2000))), true);
    assert_eq!(written(&mut conn)[0], 0xC1, "compressed again");
}

// -------------------------------------------------------------------------------------------
// The session's side of the connection's events

fn websocket() -> Harness {
    let mut h =
        Harness::start(ProtocolVersion::V4, SessionConfig::default(), Initial::WebSocket(SocketId(1)));
    h.transmits();
    h
}

/// Runs the bytes through a connection and hands its events to the session.
fn feed(h: &mut Harness, conn: &mut Connection, bytes: &[u8]) {
    conn.handle_read(bytes);
    while let Some(event) = conn.poll_event() {
        h.session.handle_socket_event(SocketId(1), event, h.now);
    }
}

#[test]
fn an_oversized_message_closes_the_session_with_transport_error() {
    let mut h = websocket();
    let mut conn = Connection::new(Limits::default().with_max_message_size(4));
    feed(&mut h, &mut conn, &client(TEXT, b"4too long"));
    assert_eq!(h.transmits(), [Transmit::CloseSocket { socket: SocketId(1), code: CloseCode::TooBig }]);
    let events = h.events();
    assert_eq!(events, [closed_with(CloseReason::TransportError, "message too big")]);
    // The connection queued 1009 first; the session's close adds nothing.
    conn.close(CloseCode::TooBig.code());
    assert_eq!(written(&mut conn), close_frame(close_code::TOO_BIG, ""));
}

#[test]
fn a_protocol_error_closes_the_session_with_transport_error() {
    let mut h = websocket();
    let mut conn = Connection::new(Limits::default());
    feed(&mut h, &mut conn, &[0x83, 0x80, 0, 0, 0, 0]); // reserved opcode
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "websocket protocol error")]);
}

#[test]
fn the_peer_closing_ends_the_session_with_transport_close() {
    let mut h = websocket();
    let mut conn = Connection::new(Limits::default());
    feed(&mut h, &mut conn, &client(CLOSE, &[]));
    assert_eq!(h.transmits(), [], "the connection answered the close itself");
    assert_eq!(h.events(), [closed_with(CloseReason::TransportClose, "websocket closed")]);
}

#[test]
fn frames_and_writability_reach_the_session() {
    let mut h = websocket();
    let mut conn = Connection::new(Limits::default());
    feed(&mut h, &mut conn, &client(TEXT, b"4hi"));
    assert_eq!(h.events(), [engineio_parser::Event::Message(engineio_parser::Data::Text("hi".into()))]);
    conn.send(Frame::Text(ByteString::from("z".repeat(WRITE_HIGH_WATER + 1))));
    feed(&mut h, &mut conn, &[]);
    assert!(!h.session.is_writable());
    written(&mut conn);
    feed(&mut h, &mut conn, &[]);
    assert!(h.session.is_writable());
}

// -------------------------------------------------------------------------------------------
// Refusals

#[test]
fn a_refused_handover_is_closed_with_policy_violation() {
    assert_eq!(RequestError::new(ErrorCode::UnknownSid).close_code(), close_code::POLICY_VIOLATION);
}

#[test]
fn a_refused_upgrade_is_a_400_in_text_and_a_poll_gets_json() {
    let forbidden = RequestError::forbidden(Some("go away".into()));
    let upgrade = Response::refusal(&forbidden, true);
    assert_eq!(
        (upgrade.status, upgrade.kind, upgrade.content_type, &upgrade.body[..]),
        (400, ResponseKind::RefusedUpgrade, Some("text/html"), &b"go away"[..])
    );
    let poll = Response::refusal(&forbidden, false);
    assert_eq!((poll.status, poll.kind), (403, ResponseKind::Error));
    assert_eq!(&poll.body[..], br#"{"code":4,"message":"go away"}"#);
}
