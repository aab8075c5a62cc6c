//! The polling → WebSocket upgrade through the whole stack: the probe (`2probe` → `3probe`),
//! the pending poll released with `noop` every 100 ms and at `5`, packets emitted meanwhile
//! delivered on the new transport, the heartbeat and the Socket.IO traffic moving to the
//! WebSocket (and the connection machine told, which changes the reason its sockets see when
//! the server closes them), and an upgrade that never completes closed at `upgrade_timeout`
//! while polling goes on.

use crate::harness;

use engineio_parser::CloseReason;
use harness::*;
use socketio_parser::connection::{CloseCause, DisconnectReason, Event};

const SOCKET: &str = "SIOsocketSIOsocket01";

fn event(data: &str) -> Seen {
    Seen::Io(Event::Event { nsp: nsp("/"), data: json(data), id: None })
}

#[test]
fn upgrade_releases_the_poll_then_traffic_moves_to_the_websocket() {
    for setup in Setup::both() {
        let eio = setup.eio;
        let mut h = Stack::polling_opened(setup);
        h.join("/", SOCKET);
        h.advance_to(ms(1_000));
        let get = h.get();
        let ws = h.ws_open();
        h.ws_send(ws, "2probe");
        assert_eq!(h.received(), [text(ws, "3probe")], "{eio:?}");
        assert_eq!(h.seen(), [Seen::Upgrading]);
        // The pending poll is released with a noop 100 ms after the probe.
        h.advance_to(ms(1_100) - TICK);
        assert_eq!(h.received(), []);
        h.advance_to(ms(1_100));
        assert_eq!(h.received(), [packets(get, &["6"])]);
        // The client polls once more before it sends `upgrade`: that poll is released at once.
        h.advance_to(ms(1_150));
        let get = h.get();
        h.ws_send(ws, "5");
        assert_eq!(h.received(), [packets(get, &["6"])]);
        assert_eq!(h.seen(), [Seen::Upgraded]);
        // Both ways on the WebSocket now.
        h.emit("/", r#"["after",1]"#);
        assert_eq!(h.received(), [text(ws, r#"42["after",1]"#)]);
        h.ws_send(ws, r#"42["hi"]"#);
        assert_eq!(h.seen(), [event(r#"["hi"]"#)]);
        // No more noops, and polling with the sid is a transport mismatch.
        h.advance_to(ms(2_000));
        assert_eq!(h.received(), []);
        h.get();
        assert!(matches!(
            &h.received()[..],
            [Received::Http(_, Answer::Error(400, body))] if body == r#"{"code":3,"message":"Bad request"}"#
        ));
    }
}

#[test]
fn packets_emitted_while_the_client_stops_polling_go_out_on_the_websocket() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.join("/", SOCKET);
    let ws = h.ws_open();
    h.ws_send(ws, "2probe");
    assert_eq!(h.received(), [text(ws, "3probe")]);
    // The client paused polling; the application keeps emitting.
    h.emit("/", r#"["one"]"#);
    h.emit("/", r#"["two"]"#);
    h.advance_to(ms(500));
    assert_eq!(h.received(), []);
    h.ws_send(ws, "5");
    assert_eq!(h.received(), [text(ws, r#"42["one"]"#), text(ws, r#"42["two"]"#)]);
}

#[test]
fn the_heartbeat_moves_to_the_websocket() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.join("/", SOCKET);
    h.advance_to(ms(1_000));
    let ws = h.ws_open();
    h.ws_send(ws, "2probe");
    h.ws_send(ws, "5");
    h.received();
    h.seen();
    h.advance_to(ms(25_000));
    assert_eq!(h.received(), [text(ws, "2")]);
    h.ws_send(ws, "3");
    // And its timeout: the next ping at 50 s is not answered.
    h.advance_to(ms(70_000) - TICK);
    assert_eq!(h.received(), [text(ws, "2")]);
    h.advance_to(ms(70_000));
    assert_eq!(h.received(), [close(ws)]);
    assert_eq!(
        h.seen(),
        [Seen::Closed(CloseReason::PingTimeout), disconnect("/", DisconnectReason::PingTimeout)]
    );
}

#[test]
fn v3_client_pings_on_the_websocket_after_the_upgrade() {
    let mut h = Stack::polling_opened(Setup::v3());
    h.join("/", SID);
    let ws = h.ws_open();
    h.ws_send(ws, "2probe");
    h.ws_send(ws, "5");
    h.received();
    h.advance_to(ms(30_000));
    h.ws_send(ws, "2");
    assert_eq!(h.received(), [text(ws, "3")]);
    assert_eq!(h.next_deadline(), Some(ms(75_000)));
}

#[test]
fn an_upgrade_that_never_completes_times_out_and_polling_goes_on() {
    for setup in Setup::both() {
        let mut h = Stack::polling_opened(setup);
        h.join("/", SOCKET);
        h.advance_to(ms(1_000));
        let ws = h.ws_open();
        h.ws_send(ws, "2probe");
        assert_eq!(h.received(), [text(ws, "3probe")]);
        assert_eq!(h.seen(), [Seen::Upgrading]);
        // No `5`: the candidate is closed `upgrade_timeout` (10 s) after it arrived.
        h.advance_to(ms(11_000) - TICK);
        assert_eq!(h.received(), []);
        h.advance_to(ms(11_000));
        assert_eq!(h.received(), [close(ws)]);
        // The session and its sockets are untouched, still on polling.
        assert_eq!(h.seen(), []);
        assert_eq!(h.session.transport(), engineio_parser::Transport::Polling);
        h.emit("/", r#"["still polling"]"#);
        assert_eq!(h.poll(), [r#"42["still polling"]"#]);
        // No noop cycle any more: a poll waits.
        let get = h.get();
        h.advance_to(ms(12_000));
        assert_eq!(h.received(), []);
        h.emit("/", r#"["x"]"#);
        assert_eq!(h.received(), [packets(get, &[r#"42["x"]"#])]);
    }
}

#[test]
fn an_upgrade_never_probed_times_out_too() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.join("/", SOCKET);
    let ws = h.ws_open();
    h.advance_to(ms(10_000) - TICK);
    assert_eq!(h.received(), []);
    h.advance_to(ms(10_000));
    assert_eq!(h.received(), [close(ws)]);
    assert_eq!(h.seen(), []);
}

#[test]
fn a_ping_timeout_during_the_upgrade_closes_both_transports() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.join("/", SOCKET);
    let get = h.get();
    h.advance_to(ms(25_000));
    assert_eq!(h.received(), [packets(get, &["2"])]);
    // The ping is never answered; an upgrade starts at 40 s.
    h.advance_to(ms(40_000));
    let ws = h.ws_open();
    h.ws_send(ws, "2probe");
    h.advance_to(ms(40_150));
    let get = h.get();
    h.advance_to(ms(45_000));
    let received = h.received();
    assert_eq!(received.first(), Some(&text(ws, "3probe")));
    assert_eq!(received[1..], [packets(get, &["6"]), close(ws)], "noop at 40.2 s, then the close");
    assert_eq!(
        h.seen(),
        [
            Seen::Upgrading,
            Seen::Closed(CloseReason::PingTimeout),
            disconnect("/", DisconnectReason::PingTimeout)
        ]
    );
}

#[test]
fn after_the_upgrade_the_server_closes_its_client_with_forced_close() {
    // The reference reports `forced server close` while polling (the close waits for the next
    // poll) and `forced close` on a WebSocket: the connection machine must hear of the upgrade.
    for upgrade in [false, true] {
        let mut h = Stack::polling_opened(Setup::v4());
        h.join("/", SOCKET);
        if upgrade {
            let ws = h.ws_open();
            h.ws_send(ws, "2probe");
            h.ws_send(ws, "5");
            h.received();
            h.seen();
        }
        h.send(&[r#"42/nowhere,["x"]"#]);
        let reason =
            if upgrade { DisconnectReason::ForcedClose } else { DisconnectReason::ForcedServerClose };
        let seen = h.seen();
        assert_eq!(
            seen[..2],
            [
                Seen::CloseRequested(CloseCause::InvalidState("packet for a namespace not joined")),
                disconnect("/", reason)
            ]
        );
    }
}
