//! The whole stack's first exchanges: the Engine.IO handshake (the `open` packet's fields, over
//! polling and WebSocket, in both revisions), then joining namespaces: `40` answered
//! `40{"sid":...}` in Socket.IO v5, `/` joined without asking and `40` answered `40` in v4, and
//! an unknown namespace refused in both.

use crate::harness;

use harness::*;
use socketio_parser::connection::{CloseCause, DisconnectReason, Event};

const OPEN: &str = r#"0{"sid":"EIOsessionEIOsession","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

fn connect(nsp: &str) -> Seen {
    Seen::Io(Event::Connect { nsp: harness::nsp(nsp), auth: raw("{}"), recovery: None })
}

fn raw(s: &str) -> socketio_parser::RawJson {
    socketio_parser::RawJson::new(s.to_owned()).expect("valid JSON")
}

#[test]
fn polling_handshake_answers_open_with_the_session_fields() {
    for setup in Setup::both() {
        let eio = setup.eio;
        let mut h = Stack::polling(setup);
        assert_eq!(h.received(), [packets(HANDSHAKE, &[OPEN])], "{eio:?}");
        // The first deadline is the v4 server's first ping, or the v3 client's ping timeout.
        let first = match eio {
            engineio_parser::ProtocolVersion::V4 => ms(25_000),
            engineio_parser::ProtocolVersion::V3 => ms(45_000),
        };
        assert_eq!(h.next_deadline(), Some(first), "{eio:?}");
        match eio {
            // Socket.IO v5: nothing until the client asks for a namespace.
            engineio_parser::ProtocolVersion::V4 => assert_eq!(h.seen(), []),
            // Socket.IO v4: the client is in `/` without asking; the application decides at once.
            engineio_parser::ProtocolVersion::V3 => assert_eq!(h.seen(), [connect("/")]),
        }
    }
}

#[test]
fn custom_heartbeat_and_payload_limit_are_announced() {
    let mut setup = Setup::v4();
    setup.engine.ping_interval = ms(300);
    setup.engine.ping_timeout = ms(200);
    setup.engine.max_payload = 100;
    let mut h = Stack::polling(setup);
    let open = r#"0{"sid":"EIOsessionEIOsession","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":100}"#;
    assert_eq!(h.received(), [packets(HANDSHAKE, &[open])]);
}

#[test]
fn websocket_handshake_sends_open_as_the_first_frame_without_upgrades() {
    for setup in Setup::both() {
        let mut h = Stack::websocket(setup);
        assert_eq!(h.received(), [text(WS0, &OPEN.replace(r#"["websocket"]"#, "[]"))]);
    }
}

#[test]
fn v5_connect_is_answered_with_the_socket_id_on_the_pending_poll() {
    let mut h = Stack::polling_opened(Setup::v4());
    let get = h.get();
    h.post(&["40"]);
    assert_eq!(h.seen(), [connect("/")]);
    // The application has not decided yet: the poll waits.
    assert_eq!(h.received(), []);
    assert!(!h.conn.is_connected("/"));
    h.accept("/", "SIOsocketSIOsocket01");
    assert_eq!(h.received(), [packets(get, &[r#"40{"sid":"SIOsocketSIOsocket01"}"#])]);
    assert!(h.conn.is_connected("/"));
}

#[test]
fn v5_connect_to_a_namespace_with_auth() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.post(&[r#"40/admin,{"token":"abc"}"#]);
    assert_eq!(
        h.seen(),
        [Seen::Io(Event::Connect { nsp: nsp("/admin"), auth: raw(r#"{"token":"abc"}"#), recovery: None })]
    );
    h.accept("/admin", "SIOsocketSIOsocket02");
    assert_eq!(h.poll(), [r#"40/admin,{"sid":"SIOsocketSIOsocket02"}"#]);
}

#[test]
fn v5_connect_over_websocket() {
    let mut h = Stack::websocket_opened(Setup::v4());
    h.ws_send(WS0, "40");
    assert_eq!(h.seen(), [connect("/")]);
    h.accept("/", "SIOsocketSIOsocket01");
    assert_eq!(h.received(), [text(WS0, r#"40{"sid":"SIOsocketSIOsocket01"}"#)]);
}

#[test]
fn v4_client_is_in_the_main_namespace_without_asking() {
    let mut h = Stack::polling_opened(Setup::v3());
    assert_eq!(h.seen(), [connect("/")]);
    h.accept("/", SID);
    // Socket.IO v4 answers an empty CONNECT; it waits for the client's next poll.
    assert_eq!(h.received(), []);
    assert_eq!(h.poll(), ["40"]);
    // Another namespace, its auth in a query string.
    h.post(&["40/admin?token=abc,"]);
    assert_eq!(
        h.seen(),
        [Seen::Io(Event::Connect { nsp: nsp("/admin"), auth: raw(r#"{"token":"abc"}"#), recovery: None })]
    );
    h.accept("/admin", "/admin#EIOsessionEIOsession");
    assert_eq!(h.poll(), ["40/admin,"]);
    h.post(&[r#"42/admin,["hi"]"#]);
    assert_eq!(h.seen(), [Seen::Io(Event::Event { nsp: nsp("/admin"), data: json(r#"["hi"]"#), id: None })]);
}

#[test]
fn v4_client_over_websocket_gets_its_connect_as_the_second_frame() {
    let mut h = Stack::websocket(Setup::v3());
    assert_eq!(h.seen(), [connect("/")]);
    h.accept("/", SID);
    assert_eq!(h.received(), [text(WS0, &OPEN.replace(r#"["websocket"]"#, "[]")), text(WS0, "40")]);
}

#[test]
fn unknown_namespace_is_refused_in_both_revisions() {
    for setup in Setup::both() {
        let eio = setup.eio;
        let mut h = Stack::polling_opened(setup);
        h.join("/", "SIOsocketSIOsocket01");
        h.post(&["40/nowhere,"]);
        assert_eq!(h.seen(), [connect("/nowhere")], "{eio:?}");
        h.reject_invalid_namespace("/nowhere");
        // The same object in both revisions, as the reference sends it.
        assert_eq!(h.poll(), [r#"44/nowhere,{"message":"Invalid namespace"}"#], "{eio:?}");
        // The connection lives on; the client may ask again.
        assert!(!h.session.is_closed());
        assert!(!h.conn.is_closed());
        h.post(&["40/nowhere,"]);
        assert_eq!(h.seen(), [connect("/nowhere")], "{eio:?}");
    }
}

#[test]
fn a_packet_for_a_namespace_not_joined_closes_the_connection() {
    let mut h = Stack::polling_opened(Setup::v4());
    h.join("/", "SIOsocketSIOsocket01");
    let get = h.get();
    h.post(&[r#"42/nowhere,["x"]"#]);
    // Over polling the sockets see `forced server close`, and the pending poll gets `close`.
    assert_eq!(
        h.seen(),
        [
            Seen::CloseRequested(CloseCause::InvalidState("packet for a namespace not joined")),
            disconnect("/", DisconnectReason::ForcedServerClose),
            Seen::Closed(engineio_parser::CloseReason::ForcedClose),
        ]
    );
    assert_eq!(h.received(), [packets(get, &["1"])]);
    assert!(h.session.is_closed());
}
