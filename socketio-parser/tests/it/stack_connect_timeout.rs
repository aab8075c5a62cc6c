//! The connect timeout through the whole stack: a client that joins no namespace is closed
//! exactly `connect_timeout` (45 s) after its handshake, over polling (its pending poll gets
//! `close`, or the next one when none is pending) and over WebSocket (a close frame). A
//! `CONNECT` the application has not decided on, or one refused, does not count; a client that
//! joined in time is never closed by it. In Socket.IO v4 the implicit `/` counts once the
//! application accepts it.

use crate::harness;

use engineio_parser::CloseReason;
use harness::*;
use socketio_parser::connection::{CloseCause, Event};

const TIMEOUT: u64 = 45_000;

fn closed_by_connect_timeout() -> Vec<Seen> {
    vec![Seen::CloseRequested(CloseCause::ConnectTimeout), Seen::Closed(CloseReason::ForcedClose)]
}

/// Answers the v4 server's ping at 25 s, so that the heartbeat does not end the session first.
fn answer_the_first_ping(h: &mut Stack) {
    let get = h.get();
    h.advance_to(ms(25_000));
    assert_eq!(h.received(), [packets(get, &["2"])]);
    h.post(&["3"]);
}

#[test]
fn polling_client_that_joins_nothing_is_closed_with_its_pending_poll() {
    let mut h = Stack::polling_opened(Setup::v4());
    answer_the_first_ping(&mut h);
    let get = h.get();
    h.advance_to(ms(TIMEOUT) - TICK);
    assert_eq!((h.received(), h.seen()), (vec![], vec![]));
    assert!(!h.session.is_closed());
    h.advance_to(ms(TIMEOUT));
    assert_eq!(h.received(), [packets(get, &["1"])]);
    assert_eq!(h.seen(), closed_by_connect_timeout());
    h.get();
    assert!(matches!(
        &h.received()[..],
        [Received::Http(_, Answer::Error(400, body))] if body == r#"{"code":1,"message":"Session ID unknown"}"#
    ));
}

#[test]
fn polling_client_without_a_pending_poll_learns_it_on_its_next_poll() {
    let mut h = Stack::polling_opened(Setup::v4());
    answer_the_first_ping(&mut h);
    h.advance_to(ms(TIMEOUT));
    // The connection is over for the application; Engine.IO waits for a poll to say `close`.
    assert_eq!(h.seen(), [Seen::CloseRequested(CloseCause::ConnectTimeout)]);
    assert!(h.conn.is_closed());
    h.advance_to(ms(TIMEOUT + 1_000));
    assert_eq!(h.poll(), ["1"]);
    assert_eq!(h.seen(), [Seen::Closed(CloseReason::ForcedClose)]);
}

#[test]
fn polling_client_that_never_polls_again_is_dropped_after_close_timeout() {
    let mut setup = Setup::v4();
    // Shorter than the ping interval, so that no ping is involved.
    setup.connect_timeout = ms(10_000);
    let mut h = Stack::polling_opened(setup);
    h.advance_to(ms(10_000));
    assert_eq!(h.seen(), [Seen::CloseRequested(CloseCause::ConnectTimeout)]);
    h.advance_to(ms(40_000) - TICK);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(40_000));
    assert_eq!(h.seen(), [Seen::Closed(CloseReason::ForcedClose)]);
    assert_eq!(h.received(), []);
}

#[test]
fn websocket_client_that_joins_nothing_is_closed() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.advance_to(ms(25_000));
    assert_eq!(h.received(), [text(WS0, "2")]);
    h.ws_send(WS0, "3");
    h.advance_to(ms(TIMEOUT) - TICK);
    assert_eq!((h.received(), h.seen()), (vec![], vec![]));
    h.advance_to(ms(TIMEOUT));
    assert_eq!(h.received(), [close(WS0)]);
    assert_eq!(h.seen(), closed_by_connect_timeout());
}

#[test]
fn a_client_that_joined_in_time_is_not_closed() {
    for setup in Setup::both() {
        let v3 = setup.eio == engineio_parser::ProtocolVersion::V3;
        let mut h = Stack::websocket_opened(setup);
        h.advance_to(ms(25_000));
        h.ws_send(WS0, if v3 { "2" } else { "3" });
        h.received();
        // At the last instant.
        h.advance_to(ms(TIMEOUT) - TICK);
        h.join("/", "SIOsocketSIOsocket01");
        // Its heartbeat kept, it stays well past the deadline.
        for at in (50_000..=200_000).step_by(10_000) {
            h.advance_to(ms(at));
            if v3 {
                h.ws_send(WS0, "2");
            } else if h.received().contains(&text(WS0, "2")) {
                h.ws_send(WS0, "3");
            }
            h.received();
        }
        assert_eq!(h.seen(), []);
        assert!(!h.session.is_closed() && h.conn.is_connected("/"));
    }
}

#[test]
fn a_connect_waiting_for_the_application_does_not_count() {
    // v5: a namespace whose middleware never decides; v4: the implicit `/`, likewise.
    for setup in Setup::both() {
        let v3 = setup.eio == engineio_parser::ProtocolVersion::V3;
        let mut h = Stack::websocket_opened(setup);
        if !v3 {
            h.ws_send(WS0, "40/slow,");
        }
        let connect = h.seen();
        assert!(matches!(&connect[..], [Seen::Io(Event::Connect { .. })]), "{connect:?}");
        h.advance_to(ms(25_000));
        h.ws_send(WS0, if v3 { "2" } else { "3" });
        h.received();
        h.advance_to(ms(TIMEOUT) - TICK);
        assert_eq!(h.seen(), []);
        h.advance_to(ms(TIMEOUT));
        assert_eq!(h.received(), [close(WS0)]);
        assert_eq!(h.seen(), closed_by_connect_timeout());
        // Too late to decide: nothing is sent.
        h.accept(if v3 { "/" } else { "/slow" }, "SIOsocketSIOsocket01");
        assert_eq!((h.received(), h.seen()), (vec![], vec![]));
    }
}

#[test]
fn a_connect_refused_as_an_invalid_namespace_does_not_count() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.ws_send(WS0, "40/nowhere,");
    h.seen();
    h.reject_invalid_namespace("/nowhere");
    assert_eq!(h.received(), [text(WS0, r#"44/nowhere,{"message":"Invalid namespace"}"#)]);
    h.advance_to(ms(25_000));
    h.ws_send(WS0, "3");
    h.received();
    h.advance_to(ms(TIMEOUT) - TICK);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(TIMEOUT));
    assert_eq!(h.received(), [close(WS0)]);
    assert_eq!(h.seen(), closed_by_connect_timeout());
}

#[test]
fn a_namespace_left_before_the_deadline_still_counts_as_joined() {
    // The reference clears the timer at the first successful join.
    let mut h = Stack::polling_opened(Setup::v4());
    h.join("/", "SIOsocketSIOsocket01");
    h.post(&["41"]);
    assert_eq!(
        h.seen(),
        [disconnect("/", socketio_parser::connection::DisconnectReason::ClientNamespaceDisconnect)]
    );
    answer_the_first_ping(&mut h);
    h.advance_to(ms(TIMEOUT + 1_000));
    assert_eq!(h.seen(), []);
    assert!(!h.session.is_closed());
}
