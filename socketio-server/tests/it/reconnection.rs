//! Automatic reconnection of the npm `socket.io-client` 4.8.4 (its manager with
//! `reconnection: true`).
//!
//! Pins: when the server closes the Engine.IO connection under the client (the engine socket's
//! `close()`, server reason `forced close`) or the client misses its pings (server reason
//! `ping timeout`), the client sees `transport close`, stays active, reconnects on a new
//! Engine.IO session with a new socket id, and its emits reach the server again. A socket the
//! server disconnected itself (`disconnect(true)`, client reason `io server disconnect`) is not
//! reconnected: the client's socket is inactive, until the application calls `connect()`.

use crate::support;

use std::time::Duration;

use serde_json::json;
use socketio_server::{Config, DisconnectReason, Socket};
use support::{inbox, Inbox, Mode, Node, TestServer};

/// Every socket of `/` answers `hello` with its own id; reports its disconnection.
fn serve_hello(server: &TestServer) -> Inbox<(String, DisconnectReason)> {
    let (tx, rx) = inbox();
    server.io.on_connection(move |socket: Socket| {
        let tx = tx.clone();
        async move {
            socket.on("hello", |socket, event| async move {
                event.reply(&socket.id().to_string()).expect("reply");
            });
            socket.on_disconnect(move |socket, reason| {
                let _ = tx.send((socket.id().to_string(), reason));
                async {}
            });
        }
    });
    rx
}

/// Checks that client `a` was disconnected with `transport close` and came back on a new
/// session with a new id, which the server answers.
async fn check_reconnected(node: &mut Node, first_id: &str, first_engine: &str) {
    let gone = node.next("a", "disconnect").await;
    assert_eq!(gone["reason"], "transport close", "{gone}");
    assert_eq!(gone["active"], true, "the client means to come back: {gone}");
    node.next("a", "reconnect").await;
    let back = node.next("a", "connect").await;
    assert_ne!(back["id"], first_id, "a new socket");
    assert_ne!(back["engine"], first_engine, "a new Engine.IO session");
    let answer = node.call("a", "hello", json!([])).await;
    assert_eq!(answer, json!([back["id"]]));
}

async fn reconnects_after_a_server_side_transport_close(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let mut disconnections = serve_hello(&server);
    let mut node = server.node(
        "reconnect_after_close",
        json!([{"name": "a", "transports": mode.transports(), "reconnection": true}]),
    );
    let socket = server.connected(&mut node, "a").await;
    mode.settle(&mut node, "a").await;
    let first = node.last("a", "connect");
    assert_eq!(node.call("a", "hello", json!([])).await, json!([socket.id().to_string()]));

    server.io.engine().socket(socket.engine_id()).expect("the session").close();
    assert_eq!(
        disconnections.next("the disconnection").await,
        (socket.id().to_string(), DisconnectReason::ForcedClose)
    );
    let (id, engine) = (first["id"].as_str().expect("id"), first["engine"].as_str().expect("engine id"));
    check_reconnected(&mut node, id, engine).await;
    assert_eq!(server.io.sockets().sockets().len(), 1);

    node.exit().await;
    server.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_server_side_transport_close_over_polling() {
    reconnects_after_a_server_side_transport_close(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_server_side_transport_close_over_websocket() {
    reconnects_after_a_server_side_transport_close(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_server_side_transport_close_over_upgrade() {
    reconnects_after_a_server_side_transport_close(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_a_ping_timeout() {
    let mut config = Config::default();
    config.engine.ping_interval = Duration::from_millis(300);
    config.engine.ping_timeout = Duration::from_millis(300);
    let server = TestServer::start(config).await;
    let mut disconnections = serve_hello(&server);
    let mut node = server.node(
        "reconnect_after_ping_timeout",
        json!([{"name": "a", "transports": Mode::WebSocket.transports(), "reconnection": true}]),
    );
    let socket = server.connected(&mut node, "a").await;
    let first = node.last("a", "connect");
    // Only this Engine.IO socket goes silent: the one the client reconnects with answers.
    node.command("stop_pong", "a").await;
    node.next("a", "pong_stopped").await;
    assert_eq!(
        disconnections.next("the disconnection").await,
        (socket.id().to_string(), DisconnectReason::PingTimeout)
    );
    let (id, engine) = (first["id"].as_str().expect("id"), first["engine"].as_str().expect("engine id"));
    check_reconnected(&mut node, id, engine).await;

    node.exit().await;
    server.close().await;
}

async fn a_server_disconnect_is_not_reconnected(mode: Mode) {
    let server = TestServer::start(Config::default()).await;
    let mut disconnections = serve_hello(&server);
    let mut node = server
        .node("no_reconnect", json!([{"name": "a", "transports": mode.transports(), "reconnection": true}]));
    let socket = server.connected(&mut node, "a").await;
    mode.settle(&mut node, "a").await;
    socket.disconnect(true);
    assert_eq!(
        disconnections.next("the disconnection").await,
        (socket.id().to_string(), DisconnectReason::ServerNamespaceDisconnect)
    );
    let gone = node.next("a", "disconnect").await;
    assert_eq!(gone["reason"], "io server disconnect", "{gone}");
    assert_eq!(gone["active"], false, "{gone}");
    let state = node.state("a").await;
    assert_eq!((state["connected"].clone(), state["active"].clone()), (json!(false), json!(false)));
    server.wait_sessions(0).await;

    node.exit().await;
    server.close().await;
}

/// The reference writes the `DISCONNECT` in one poll and the Engine.IO `close` in a later one;
/// this server answers one poll with both (`41\x1e1`). socket.io-client hands decoded packets
/// to the socket on the next tick, so it handles the `close` first: the socket ends with
/// `transport close`, still active, and the manager reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_disconnect_is_not_reconnected_over_polling() {
    a_server_disconnect_is_not_reconnected(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_disconnect_is_not_reconnected_over_websocket() {
    a_server_disconnect_is_not_reconnected(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_disconnect_is_not_reconnected_over_upgrade() {
    a_server_disconnect_is_not_reconnected(Mode::Upgrade).await;
}

/// After `io server disconnect` the client may come back by asking: `socket.connect()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_disconnected_client_may_connect_again() {
    let server = TestServer::start(Config::default()).await;
    let _disconnections = serve_hello(&server);
    let mut node =
        server.node("connect_again", json!([{"name": "a", "transports": Mode::WebSocket.transports()}]));
    let socket = server.connected(&mut node, "a").await;
    socket.disconnect(false);
    assert_eq!(node.next("a", "disconnect").await["reason"], "io server disconnect");
    node.command("connect", "a").await;
    let back = node.next("a", "connect").await;
    assert_ne!(back["id"].as_str(), Some(&**socket.id()), "a new socket");
    assert_eq!(node.call("a", "hello", json!([])).await, json!([back["id"]]));
    node.exit().await;
    server.close().await;
}
