//! The long-polling request lifecycle: one GET and one POST at a time, batching, bodies, and
//! what happens when a client breaks the rules.

use crate::common;

use bytes::Bytes;
use common::*;
use engineio_parser::{
    CloseReason, Data, Event, Packet, ProtocolVersion, RequestId, RequestKind, SessionConfig,
};

#[test]
fn packets_queued_together_leave_in_one_response() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    for text in ["a", "b", "c"] {
        h.session.send(Packet::message(text)).expect("open");
    }
    h.session.send(Packet::binary(&[1u8, 2, 3, 4][..])).expect("open");
    assert!(!h.session.is_writable());
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4a\u{1e}4b\u{1e}4c\u{1e}bAQIDBA==")]);
    assert_eq!(h.session.buffered_bytes(), 0);
}

#[test]
fn a_pending_get_is_answered_when_a_packet_is_sent() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    assert_eq!(h.transmits(), []);
    assert!(h.session.is_writable());
    h.session.send(Packet::message("hello")).expect("open");
    assert_eq!(h.transmits(), [payload(get, "4hello")]);
}

#[test]
fn second_get_is_rejected_and_closes_the_session() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let first = h.get();
    let second = h.get();
    assert_eq!(h.transmits(), [empty(second, 400), payload(first, "1")]);
    let events = h.events();
    assert_eq!(events, [closed_with(CloseReason::TransportError, "overlap from client")]);
    // Later requests for the session are unknown.
    let later = h.get();
    let t = h.transmits();
    assert!(matches!(&t[..], [engineio_parser::Transmit::Respond { request, response }]
        if *request == later && response.status == 400 && &response.body[..] == br#"{"code":1,"message":"Session ID unknown"}"#));
}

#[test]
fn second_post_is_rejected_and_closes_the_session() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let first = h.request();
    h.session.handle_request(first, RequestKind::Post { binary: false }, h.now);
    let second = h.request();
    h.session.handle_request(second, RequestKind::Post { binary: false }, h.now);
    assert_eq!(h.transmits(), [empty(second, 400)]);
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "data request overlap from client")]);
}

#[test]
fn binary_post_on_v4_is_invalid_content() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: true }, h.now);
    assert_eq!(h.transmits(), [empty(post, 400)]);
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "invalid content")]);
}

#[test]
fn binary_post_on_v3_is_an_xhr2_payload() {
    let mut h = Harness::polling(ProtocolVersion::V3);
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: true }, h.now);
    h.session.handle_body(post, Bytes::from_static(&[0, 2, 0xff, b'4', b'a', 1, 3, 0xff, 4, 9, 9]), h.now);
    assert_eq!(h.transmits(), [respond_ok(post)]);
    assert_eq!(
        h.events(),
        [Event::Message(Data::Text("a".into())), Event::Message(Data::Binary(Bytes::from_static(&[9, 9])))]
    );
}

#[test]
fn oversized_post_gets_413_and_the_session_survives() {
    let config = SessionConfig { max_payload: 100, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: false }, h.now);
    h.session.handle_body_too_large(post);
    assert_eq!(h.transmits(), [empty(post, 413)]);
    assert!(h.events().is_empty());
    // A body the driver did not cut at the limit is refused the same way.
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: false }, h.now);
    h.session.handle_body(post, Bytes::from(vec![b'4'; 101]), h.now);
    assert_eq!(h.transmits(), [empty(post, 413)]);
    assert!(!h.session.is_closed());
}

#[test]
fn messages_before_an_invalid_packet_are_delivered_then_parse_error() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let t = h.post("4one\u{1e}abc\u{1e}4two");
    // The POST itself is answered `ok`, as the reference answers it after reading the body.
    assert_eq!(t, [respond_ok(RequestId(2))]);
    assert_eq!(
        h.events(),
        [
            Event::Message(Data::Text("one".into())),
            closed_with(CloseReason::ParseError, "undecodable packet")
        ]
    );
}

#[test]
fn client_close_over_polling_releases_the_poll_with_noop() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    let t = h.post("1");
    assert!(t.contains(&payload(get, "6")), "{t:?}");
    assert_eq!(h.events(), [closed_with(CloseReason::TransportClose, "client closed the session")]);
}

#[test]
fn other_methods_get_500_and_change_nothing() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let put = h.request();
    h.session.handle_request(put, RequestKind::Other, h.now);
    assert_eq!(h.transmits(), [empty(put, 500)]);
    assert!(h.events().is_empty());
}

#[test]
fn a_poll_that_vanishes_is_a_transport_error() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let get = h.get();
    h.session.handle_request_gone(get);
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "poll connection closed prematurely")]);
    // The session is reclaimed: nothing is scheduled any more.
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn a_client_that_never_polls_cannot_grow_the_buffer() {
    let config = SessionConfig { max_buffered: 1_000, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    let chunk = "x".repeat(99);
    for _ in 0..10 {
        h.session.send(Packet::message(chunk.clone())).expect("within the limit");
    }
    assert_eq!(h.session.send(Packet::message(chunk)), Err(engineio_parser::session::SendError::BufferFull));
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "write buffer full")]);
    assert_eq!(h.session.buffered_bytes(), 0);
}

#[test]
fn a_v3_client_that_pings_but_never_polls_cannot_grow_the_buffer() {
    // Each ping queues a pong (1 byte); the pongs count against max_buffered.
    let config = SessionConfig { max_buffered: 10, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V3, config);
    h.post("1:21:21:21:21:2");
    assert_eq!(h.session.buffered_bytes(), 5);
    assert_eq!(h.events(), []);
    h.post("1:21:21:21:21:21:2");
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "write buffer full")]);
    assert_eq!(h.session.buffered_bytes(), 0);
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn a_ping_that_does_not_fit_the_buffer_closes_the_session() {
    let config = SessionConfig { max_buffered: 100, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.send(Packet::message("x".repeat(99))).expect("within the limit");
    h.advance_to(25_000);
    assert_eq!(h.events(), [closed_with(CloseReason::TransportError, "write buffer full")]);
    assert!(h.session.buffered_bytes() <= 100);
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn the_method_and_content_type_make_the_request_kind() {
    use engineio_parser::Method;
    assert_eq!(RequestKind::new(Method::Get, None), RequestKind::Poll);
    assert_eq!(
        RequestKind::new(Method::Post, Some(b"text/plain;charset=UTF-8")),
        RequestKind::Post { binary: false }
    );
    assert_eq!(RequestKind::new(Method::Post, None), RequestKind::Post { binary: false });
    assert_eq!(
        RequestKind::new(Method::Post, Some(b" Application/Octet-Stream; x=1")),
        RequestKind::Post { binary: true }
    );
    assert_eq!(RequestKind::new(Method::Other, None), RequestKind::Other);
}

#[test]
fn a_routed_request_that_fails_its_check_is_answered_with_the_error() {
    use engineio_parser::endpoint::ErrorContext;
    use engineio_parser::{RequestError, RequestId, Response, Transmit, Transport};
    let mut h = Harness::polling(ProtocolVersion::V4);
    let r = RequestId(40);
    h.session.handle_routed_request(r, RequestKind::Poll, Transport::Polling, ProtocolVersion::V3, h.now);
    let error = RequestError::bad_request(ErrorContext::ProtocolMismatch);
    assert_eq!(h.transmits(), [Transmit::Respond { request: r, response: Response::error(&error) }]);
    assert!(!h.session.is_closed());
    // A request that passes is handled as `handle_request` would.
    let r = RequestId(41);
    h.session.handle_routed_request(r, RequestKind::Poll, Transport::Polling, ProtocolVersion::V4, h.now);
    h.session.send(Packet::message("x")).expect("open");
    assert_eq!(h.transmits(), [payload(r, "4x")]);
}

#[test]
fn a_post_whose_connection_goes_away_is_a_transport_error() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: false }, h.now);
    // A request the session does not hold changes nothing.
    h.session.handle_request_gone(engineio_parser::RequestId(99));
    assert_eq!(h.events(), []);
    h.session.handle_request_gone(post);
    assert_eq!(h.transmits(), []);
    assert_eq!(
        h.events(),
        [closed_with(CloseReason::TransportError, "data request connection closed prematurely")]
    );
    assert_eq!(h.session.poll_timeout(), None);
}

#[test]
fn queued_packets_count_their_text_length_until_they_leave() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    assert_eq!(h.session.buffered_bytes(), 0);
    h.session.send(Packet::message("hello")).expect("open");
    assert_eq!(h.session.buffered_bytes(), 6);
    // v4 binary: `b` and the base64 of 4 bytes.
    h.session.send(Packet::binary(&[1u8, 2, 3, 4][..])).expect("open");
    assert_eq!(h.session.buffered_bytes(), 15);
    let get = h.get();
    assert_eq!(h.transmits(), [payload(get, "4hello\u{1e}bAQIDBA==")]);
    assert_eq!(h.session.buffered_bytes(), 0);
}

#[test]
fn the_buffer_limit_counts_the_queued_bytes_exactly() {
    let config = SessionConfig { max_buffered: 10, ..SessionConfig::default() };
    let mut h = Harness::polling_with(ProtocolVersion::V4, config);
    h.session.send(Packet::message("1234")).expect("5 bytes");
    h.session.send(Packet::message("5678")).expect("10 bytes: at the limit");
    assert_eq!(h.session.buffered_bytes(), 10);
    assert_eq!(h.session.send(Packet::message("")), Err(engineio_parser::session::SendError::BufferFull));
}

#[test]
fn v3_polling_answers_binary_packets_in_the_xhr2_format() {
    let mut h = Harness::polling(ProtocolVersion::V3);
    h.session.send(Packet::message("a")).expect("open");
    h.session.send(Packet::binary(&[9u8, 9][..])).expect("open");
    let get = h.get();
    let t = h.transmits();
    let [engineio_parser::Transmit::Respond { request, response }] = &t[..] else { panic!("{t:?}") };
    assert_eq!(*request, get);
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type, Some("application/octet-stream"));
    assert_eq!(&response.body[..], &[0, 2, 0xff, b'4', b'a', 1, 3, 0xff, 4, 9, 9]);
}

#[test]
fn v3_polling_answers_binary_packets_as_base64_text_for_b64_clients() {
    use engineio_parser::{Initial, RequestId, Session, Transmit};
    let now = std::time::Instant::now();
    let mut session = Session::new(
        SID,
        ProtocolVersion::V3,
        true,
        SessionConfig::default(),
        Initial::Polling(RequestId(0)),
        now,
    );
    while session.poll_transmit().is_some() {}
    session.send(Packet::binary(&[9u8, 9][..])).expect("open");
    session.handle_request(RequestId(1), RequestKind::Poll, now);
    assert_eq!(session.poll_transmit(), Some(payload(RequestId(1), "6:b4CQk=")));
    assert_eq!(session.poll_transmit(), None::<Transmit>);
}

#[test]
fn a_closed_session_answers_requests_with_unknown_sid() {
    let mut h = Harness::polling(ProtocolVersion::V4);
    h.post("1");
    h.events();
    let post = h.request();
    h.session.handle_request(post, RequestKind::Post { binary: false }, h.now);
    let t = h.transmits();
    assert!(
        matches!(&t[..], [engineio_parser::Transmit::Respond { request, response }]
        if *request == post && response.status == 400 && &response.body[..] == br#"{"code":1,"message":"Session ID unknown"}"#),
        "{t:?}"
    );
    assert_eq!(
        h.session.check_request(engineio_parser::Transport::Polling, ProtocolVersion::V4, false),
        Err(engineio_parser::RequestError::new(engineio_parser::ErrorCode::UnknownSid))
    );
}
