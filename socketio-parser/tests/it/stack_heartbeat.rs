//! The heartbeat through the whole stack. Engine.IO v4: the server pings `ping_interval` after
//! the handshake (and after each pong); a client that does not answer is closed exactly
//! `ping_interval + ping_timeout` after the ping, and every joined namespace is disconnected
//! with `ping timeout`. Engine.IO v3: the client pings, the server answers `3`, and a client
//! that stops pinging is closed `ping_interval + ping_timeout` after its last ping.

use crate::harness;

use engineio_parser::CloseReason;
use harness::*;
use socketio_parser::connection::DisconnectReason;

const SOCKET: &str = "SIOsocketSIOsocket01";

/// A session that joined `/` and `/admin`.
fn joined(h: &mut Stack) {
    h.join("/", SOCKET);
    h.join("/admin", "SIOsocketSIOsocket02");
}

fn ping_timeout_seen() -> Vec<Seen> {
    vec![
        Seen::Closed(CloseReason::PingTimeout),
        disconnect("/", DisconnectReason::PingTimeout),
        disconnect("/admin", DisconnectReason::PingTimeout),
    ]
}

#[test]
fn v4_server_pings_every_interval_after_the_pong_over_polling() {
    let mut h = Stack::polling_opened(Setup::v4());
    joined(&mut h);
    let mut ping_at = ms(25_000);
    // Five rounds; the client answers later each time, the last at the last instant.
    for answer_after in [ms(0), ms(1), ms(5_000), ms(19_999), ms(20_000) - TICK] {
        let get = h.get();
        h.advance_to(ping_at - TICK);
        assert_eq!(h.received(), [], "no ping before the interval");
        h.advance_to(ping_at);
        assert_eq!(h.received(), [packets(get, &["2"])]);
        h.advance(answer_after);
        h.post(&["3"]);
        // The next ping is one interval after the pong, not a fixed cadence.
        assert_eq!(h.next_deadline(), Some(h.elapsed() + ms(25_000)));
        ping_at = h.elapsed() + ms(25_000);
    }
    assert_eq!(h.seen(), []);
    assert!(!h.session.is_closed());
    assert!(h.conn.is_connected("/") && h.conn.is_connected("/admin"));
}

#[test]
fn v4_server_pings_over_websocket() {
    let mut h = Stack::websocket_opened(Setup::v4());
    joined(&mut h);
    h.advance_to(ms(25_000) - TICK);
    assert_eq!(h.received(), []);
    h.advance_to(ms(25_000));
    assert_eq!(h.received(), [text(WS0, "2")]);
    h.advance_to(ms(44_000));
    h.ws_send(WS0, "3");
    h.advance_to(ms(69_000) - TICK);
    assert_eq!(h.received(), []);
    h.advance_to(ms(69_000));
    assert_eq!(h.received(), [text(WS0, "2")]);
    assert_eq!(h.seen(), []);
}

#[test]
fn v4_ping_timeout_at_interval_plus_timeout_over_polling() {
    let mut h = Stack::polling_opened(Setup::v4());
    joined(&mut h);
    let get = h.get();
    h.advance_to(ms(25_000));
    assert_eq!(h.received(), [packets(get, &["2"])]);
    // The client polls again but never answers the ping.
    let get = h.get();
    h.advance_to(ms(45_000) - TICK);
    assert_eq!((h.received(), h.seen()), (vec![], vec![]));
    assert!(!h.session.is_closed());
    h.advance_to(ms(45_000));
    // The pending poll learns it with `close`; every namespace leaves with `ping timeout`.
    assert_eq!(h.received(), [packets(get, &["1"])]);
    assert_eq!(h.seen(), ping_timeout_seen());
    assert_eq!(DisconnectReason::PingTimeout.as_str(), "ping timeout");
    assert!(h.session.is_closed() && h.conn.is_closed());
    // The session is gone.
    h.get();
    assert_eq!(
        h.received().last().map(|r| match r {
            Received::Http(_, answer) => answer.clone(),
            other => panic!("{other:?}"),
        }),
        Some(Answer::Error(400, r#"{"code":1,"message":"Session ID unknown"}"#.to_owned()))
    );
    assert_eq!(h.next_deadline(), None);
}

#[test]
fn v4_ping_timeout_when_the_client_stops_polling() {
    let mut h = Stack::polling_opened(Setup::v4());
    joined(&mut h);
    // No poll at all: the ping is queued at 25 s and never delivered.
    h.advance_to(ms(45_000) - TICK);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(45_000));
    assert_eq!(h.seen(), ping_timeout_seen());
    assert_eq!(h.received(), []);
}

#[test]
fn v4_ping_timeout_over_websocket() {
    let mut h = Stack::websocket_opened(Setup::v4());
    joined(&mut h);
    h.advance_to(ms(45_000) - TICK);
    // The client saw the ping it ignored.
    assert_eq!(h.received(), [text(WS0, "2")]);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(45_000));
    assert_eq!(h.received(), [close(WS0)]);
    assert_eq!(h.seen(), ping_timeout_seen());
}

#[test]
fn v4_ping_timeout_with_the_protocol_suite_timings() {
    // The official test suites run the server with a 300 ms interval and a 200 ms timeout.
    let mut setup = Setup::v4();
    setup.engine.ping_interval = ms(300);
    setup.engine.ping_timeout = ms(200);
    let mut h = Stack::websocket_opened(setup);
    h.join("/", SOCKET);
    h.advance_to(ms(300));
    assert_eq!(h.received(), [text(WS0, "2")]);
    h.ws_send(WS0, "3");
    h.advance_to(ms(600));
    assert_eq!(h.received(), [text(WS0, "2")]);
    h.advance_to(ms(800) - TICK);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(800));
    assert_eq!(
        h.seen(),
        [Seen::Closed(CloseReason::PingTimeout), disconnect("/", DisconnectReason::PingTimeout)]
    );
}

#[test]
fn v3_client_pings_and_the_server_answers_pong() {
    let mut h = Stack::polling_opened(Setup::v3());
    joined(&mut h);
    // The server never pings a v3 client.
    let get = h.get();
    h.advance_to(ms(20_000));
    assert_eq!(h.received(), []);
    // Pings at irregular times, each within interval + timeout of the previous one.
    for at in [20_000, 64_999, 109_998, 110_000] {
        h.advance_to(ms(at));
        h.post(&["2"]);
        assert_eq!(h.next_deadline(), Some(ms(at) + ms(45_000)));
    }
    assert_eq!(
        h.received(),
        [packets(get, &["3"])],
        "the first pong goes to the pending poll; the others wait for the next"
    );
    assert_eq!(h.poll(), ["3", "3", "3"]);
    assert_eq!(h.seen(), []);
    assert!(!h.session.is_closed());
}

#[test]
fn v3_client_pings_over_websocket() {
    let mut h = Stack::websocket_opened(Setup::v3());
    h.join("/", SID);
    h.advance_to(ms(10_000));
    h.ws_send(WS0, "2");
    assert_eq!(h.received(), [text(WS0, "3")]);
    h.advance_to(ms(55_000) - TICK);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(55_000));
    assert_eq!(h.received(), [close(WS0)]);
    assert_eq!(
        h.seen(),
        [Seen::Closed(CloseReason::PingTimeout), disconnect("/", DisconnectReason::PingTimeout)]
    );
}

#[test]
fn v3_ping_timeout_after_the_last_client_ping() {
    let mut h = Stack::polling_opened(Setup::v3());
    joined(&mut h);
    h.advance_to(ms(10_000));
    h.post(&["2"]);
    assert_eq!(h.poll(), ["3"]);
    let get = h.get();
    h.advance_to(ms(55_000) - TICK);
    assert_eq!((h.received(), h.seen()), (vec![], vec![]));
    h.advance_to(ms(55_000));
    assert_eq!(h.received(), [packets(get, &["1"])]);
    assert_eq!(h.seen(), ping_timeout_seen());
}

#[test]
fn v3_client_that_never_pings_is_closed_at_interval_plus_timeout() {
    let mut h = Stack::polling_opened(Setup::v3());
    h.join("/", SID);
    h.advance_to(ms(45_000) - TICK);
    assert_eq!(h.seen(), []);
    h.advance_to(ms(45_000));
    assert_eq!(
        h.seen(),
        [Seen::Closed(CloseReason::PingTimeout), disconnect("/", DisconnectReason::PingTimeout)]
    );
}

#[test]
fn heartbeat_in_the_wrong_direction_is_a_transport_error() {
    // A v4 client's ping, a v3 client's pong.
    for (setup, wrong) in [(Setup::v4(), "2"), (Setup::v3(), "3")] {
        let mut h = Stack::polling_opened(setup);
        h.join("/", SOCKET);
        h.post(&[wrong]);
        assert_eq!(
            h.seen(),
            [Seen::Closed(CloseReason::TransportError), disconnect("/", DisconnectReason::TransportError)]
        );
    }
}
