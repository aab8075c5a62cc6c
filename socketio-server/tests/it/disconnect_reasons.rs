//! Why a socket leaves, as both sides tell it, with the npm `socket.io-client` 4.8.4.
//!
//! Pins, server reason / client reason (the reference's, protocol-facts §4.3):
//! * `socket.disconnect(false)`: `server namespace disconnect` / `io server disconnect`, the
//!   client does not try again (`socket.active` false), the connection's other namespaces live
//!   on; `disconnect(true)` does the same to every namespace of the connection and closes it;
//! * the client's `socket.disconnect()`: `client namespace disconnect` / `io client disconnect`;
//! * the client closing its Engine.IO socket, or its process dying: `transport close`;
//! * a client that stops answering pings: `ping timeout` / `transport close`;
//! * `io.close()`: `server shutting down` / `transport close` (over long-polling `transport
//!   error` when no poll was pending at that moment);
//! * a connection that joins no namespace within `connect_timeout` is closed.
//!
//! `on_disconnecting` runs while the socket is still in its rooms, `on_disconnect` after.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value as Json};
use socketio_server::{Config, DisconnectReason, Socket};
use support::{inbox, Inbox, Mode, TestServer};

/// Reports `(reason, rooms while disconnecting)` then `(reason, rooms after)` of `socket`.
fn watch(socket: &Socket) -> Inbox<(&'static str, DisconnectReason, Vec<String>)> {
    let (tx, rx) = inbox();
    let disconnecting = tx.clone();
    socket.on_disconnecting(move |socket, reason| {
        let rooms = socket.rooms().iter().map(|r| r.to_string()).collect();
        let _ = disconnecting.send(("disconnecting", reason, rooms));
        async {}
    });
    socket.on_disconnect(move |socket, reason| {
        let rooms = socket.rooms().iter().map(|r| r.to_string()).collect();
        let _ = tx.send(("disconnect", reason, rooms));
        async {}
    });
    rx
}

/// Waits for both handlers of [`watch`] and returns the reason.
async fn reason(seen: &mut Inbox<(&'static str, DisconnectReason, Vec<String>)>) -> DisconnectReason {
    let (first, reason, rooms) = seen.next("disconnecting").await;
    assert_eq!(first, "disconnecting");
    assert!(rooms.iter().any(|r| r == "room"), "still in its rooms while disconnecting: {rooms:?}");
    let (second, again, rooms) = seen.next("disconnect").await;
    assert_eq!(second, "disconnect");
    assert_eq!(again, reason);
    assert!(rooms.is_empty(), "out of its rooms once disconnected: {rooms:?}");
    reason
}

/// A server and one client `a` in `mode`, its socket in room `room`, watched.
async fn one_client(
    config: Config,
    label: &str,
    mode: Mode,
    extra: Json,
) -> (TestServer, support::Node, Socket, Inbox<(&'static str, DisconnectReason, Vec<String>)>) {
    let server = TestServer::start(config).await;
    let mut spec = json!({"name": "a", "transports": mode.transports()});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    let mut node = server.node(label, json!([spec]));
    let socket = server.connected(&mut node, "a").await;
    socket.join("room");
    let seen = watch(&socket);
    mode.settle(&mut node, "a").await;
    (server, node, socket, seen)
}

async fn server_disconnect(mode: Mode) {
    let (server, mut node, socket, mut seen) =
        one_client(Config::default(), "server_disconnect", mode, json!({"reconnection": true})).await;
    socket.disconnect(false);
    assert_eq!(reason(&mut seen).await, DisconnectReason::ServerNamespaceDisconnect);
    let client = node.next("a", "disconnect").await;
    assert_eq!(client["reason"], "io server disconnect", "{client}");
    assert_eq!(client["active"], false, "the client does not reconnect: {client}");
    assert!(!socket.connected());
    assert_eq!(socket.emit("late", &()), Err(socketio_server::EmitError::Disconnected));
    // Its last namespace gone, the client closes the connection.
    server.wait_sessions(0).await;
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_over_polling() {
    server_disconnect(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_over_websocket() {
    server_disconnect(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_leaves_the_other_namespaces_and_close_ends_them_all() {
    let server = TestServer::start(Config::default()).await;
    server.io.of("/admin");
    server.io.of("/chat");
    let mut node = server.node(
        "server_disconnect_namespaces",
        json!([
            {"name": "main", "manager": "m"},
            {"name": "admin", "nsp": "/admin", "manager": "m"},
            {"name": "chat", "nsp": "/chat", "manager": "m"},
        ]),
    );
    let main = server.connected(&mut node, "main").await;
    let admin = server.connected(&mut node, "admin").await;
    let chat = server.connected(&mut node, "chat").await;
    Mode::Upgrade.settle(&mut node, "m").await;
    for socket in [&main, &admin, &chat] {
        socket.join("room");
    }
    let (mut main_seen, mut admin_seen, mut chat_seen) = (watch(&main), watch(&admin), watch(&chat));

    admin.disconnect(false);
    assert_eq!(reason(&mut admin_seen).await, DisconnectReason::ServerNamespaceDisconnect);
    assert_eq!(node.next("admin", "disconnect").await["reason"], "io server disconnect");
    main.on("still?", |_, event| async move {
        event.reply(&"yes").expect("reply");
    });
    assert_eq!(node.call("main", "still?", json!([])).await, json!(["yes"]));

    main.disconnect(true);
    assert_eq!(reason(&mut main_seen).await, DisconnectReason::ServerNamespaceDisconnect);
    assert_eq!(reason(&mut chat_seen).await, DisconnectReason::ServerNamespaceDisconnect);
    assert_eq!(node.next("main", "disconnect").await["reason"], "io server disconnect");
    assert_eq!(node.next("chat", "disconnect").await["reason"], "io server disconnect");
    server.wait_sessions(0).await;

    node.exit().await;
    server.close().await;
}

async fn server_disconnect_and_close(mode: Mode) {
    let (server, mut node, socket, mut seen) =
        one_client(Config::default(), "server_disconnect_close", mode, json!({})).await;
    socket.disconnect(true);
    assert_eq!(reason(&mut seen).await, DisconnectReason::ServerNamespaceDisconnect);
    let client = node.next("a", "disconnect").await;
    assert_eq!(client["reason"], "io server disconnect", "{client}");
    server.wait_sessions(0).await;
    node.exit().await;
    server.close().await;
}

/// See `reconnection.rs`: the `DISCONNECT` and the Engine.IO `close` travel in one poll, and
/// socket.io-client handles the `close` first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_and_close_over_polling() {
    server_disconnect_and_close(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_disconnect_and_close_over_websocket() {
    server_disconnect_and_close(Mode::WebSocket).await;
}

async fn client_disconnect(mode: Mode) {
    let (server, mut node, socket, mut seen) =
        one_client(Config::default(), "client_disconnect", mode, json!({})).await;
    node.command("disconnect", "a").await;
    assert_eq!(reason(&mut seen).await, DisconnectReason::ClientNamespaceDisconnect);
    assert_eq!(node.next("a", "disconnect").await["reason"], "io client disconnect");
    assert!(!socket.connected());
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_over_polling() {
    client_disconnect(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_over_websocket() {
    client_disconnect(Mode::WebSocket).await;
}

async fn client_closes_its_engine(mode: Mode) {
    let (server, mut node, _socket, mut seen) =
        one_client(Config::default(), "client_close", mode, json!({})).await;
    node.command("close_engine", "a").await;
    assert_eq!(reason(&mut seen).await, DisconnectReason::TransportClose);
    let client = node.next("a", "disconnect").await;
    assert_eq!(client["reason"], "forced close", "the client closed it itself: {client}");
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_closing_its_engine_over_polling() {
    client_closes_its_engine(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_closing_its_engine_over_websocket() {
    client_closes_its_engine(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_process_killed_is_a_transport_close() {
    let (server, mut node, _socket, mut seen) =
        one_client(Config::default(), "client_killed", Mode::WebSocket, json!({})).await;
    node.kill().await;
    assert_eq!(reason(&mut seen).await, DisconnectReason::TransportClose);
    server.wait_sessions(0).await;
    server.close().await;
}

/// Pings every 300 ms, and gives a client 300 ms to answer.
fn quick_heartbeat() -> Config {
    let mut config = Config::default();
    config.engine.ping_interval = Duration::from_millis(300);
    config.engine.ping_timeout = Duration::from_millis(300);
    config
}

async fn ping_timeout(mode: Mode) {
    let (server, mut node, _socket, mut seen) =
        one_client(quick_heartbeat(), "ping_timeout", mode, json!({})).await;
    node.command("stop_pong", "a").await;
    node.next("a", "pong_stopped").await;
    assert_eq!(reason(&mut seen).await, DisconnectReason::PingTimeout);
    let client = node.next("a", "disconnect").await;
    assert_eq!(client["reason"], "transport close", "{client}");
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_timeout_over_polling() {
    ping_timeout(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_timeout_over_websocket() {
    ping_timeout(Mode::WebSocket).await;
}

async fn server_shutdown(mode: Mode) {
    let (server, mut node, _socket, mut seen) =
        one_client(Config::default(), "shutdown", mode, json!({})).await;
    server.close().await;
    assert_eq!(reason(&mut seen).await, DisconnectReason::ServerShuttingDown);
    let client = node.next("a", "disconnect").await;
    if mode == Mode::Polling {
        // A polling client hears of the shutdown through its pending poll (`transport close`)
        // when it has one at that moment; otherwise its next request fails (`transport error`).
        // The reference behaves the same; which one happens is a matter of timing.
        assert!(matches!(client["reason"].as_str(), Some("transport close" | "transport error")), "{client}");
    } else {
        assert_eq!(client["reason"], "transport close", "{client}");
    }
    node.exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shutdown_over_polling() {
    server_shutdown(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shutdown_over_websocket() {
    server_shutdown(Mode::WebSocket).await;
}

async fn connect_timeout(mode: Mode) {
    let config = Config { connect_timeout: Duration::from_millis(300), ..Config::default() };
    let server = TestServer::start(config).await;
    let (connections, mut connected) = inbox::<String>();
    server.io.on_connection(move |socket| {
        let _ = connections.send(socket.id().to_string());
        async {}
    });
    let mut node = server.node(
        "connect_timeout",
        json!([{"name": "a", "transports": mode.transports(), "autoConnect": false}]),
    );
    // The manager opens the Engine.IO connection; no socket ever asks for a namespace.
    node.command("open", "a").await;
    assert_eq!(node.next("a", "opened").await["err"], Json::Null);
    let close = node.next("a", "close").await;
    assert_eq!(close["reason"], "transport close", "{close}");
    server.wait_sessions(0).await;
    assert_eq!(connected.drain(), Vec::<String>::new());
    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_over_polling() {
    connect_timeout(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_over_websocket() {
    connect_timeout(Mode::WebSocket).await;
}
