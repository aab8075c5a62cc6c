//! `EngineIo::close` with a polling and a WebSocket engine.io-client connected: both clients
//! are told (the polling one through its pending poll), the handler records `forced close` for
//! both, no session is left, and `serve()` returns.

use crate::support;

use std::time::Duration;

use engineio_parser::CloseReason;
use engineio_server::Config;
use serde_json::json;
use support::{TestServer, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_polling_and_websocket_sessions_and_serve_returns() {
    let mut server = TestServer::start(Config::default()).await;
    let mut node = server.node(json!([
        {"name": "polling", "mode": "hold", "transports": ["polling"]},
        {"name": "ws", "mode": "hold", "transports": ["websocket"]},
    ]));
    let polling = node.wait_for("polling", "ready").await["sid"].as_str().expect("sid").to_owned();
    let ws = node.wait_for("ws", "ready").await["sid"].as_str().expect("sid").to_owned();
    assert_eq!(server.engine.clients_count(), 2);
    // The polling client sends its next poll right after the echo; let it reach the server so
    // that the close travels through it.
    tokio::time::sleep(Duration::from_millis(500)).await;

    tokio::time::timeout(WAIT, server.engine.close()).await.expect("close() completes");
    assert_eq!(server.engine.clients_count(), 0);
    assert_eq!(server.seen.close_reason(&polling).await, CloseReason::ForcedClose);
    assert_eq!(server.seen.close_reason(&ws).await, CloseReason::ForcedClose);
    server.serve_result().await.expect("serve() returns Ok");
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err(), "the listener is closed");

    let transcript = node.done().await;
    let close = transcript.get("polling", "close");
    assert_eq!(close["reason"], "transport close", "the pending poll carried the close: {close}");
    assert_eq!(close["detail"]["description"], "transport closed by the server", "{close}");
    let close = transcript.get("ws", "close");
    assert_eq!(close["reason"], "transport close", "{close}");
    assert_eq!(close["detail"]["code"], 1000, "a normal close frame: {close}");
    node.finish().await;
}

/// `serve_until`: the server serves until the shutdown future resolves, then closes every
/// session (the WebSocket client gets a normal close frame) and returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_until_closes_gracefully_when_the_signal_comes() {
    let (recorder, mut seen) = support::recorder();
    let engine = engineio_server::EngineIo::new(Config::default(), recorder);
    let listener = engine.bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    let (signal, stop) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(engine.clone().serve_until(listener, async {
        let _ = stop.await;
    }));
    let mut node = support::NodeRun::spawn(
        &format!("http://{addr}"),
        json!([{"name": "ws", "mode": "hold", "transports": ["websocket"]}]),
    );
    let ws = node.wait_for("ws", "ready").await["sid"].as_str().expect("sid").to_owned();
    assert_eq!(engine.clients_count(), 1);

    signal.send(()).expect("serve_until waits for the signal");
    tokio::time::timeout(WAIT, serving).await.expect("serve_until returns").expect("task").expect("Ok");
    assert_eq!(engine.clients_count(), 0);
    assert_eq!(seen.close_reason(&ws).await, CloseReason::ForcedClose);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
    let transcript = node.done().await;
    let close = transcript.get("ws", "close");
    assert_eq!(close["detail"]["code"], 1000, "a normal close frame: {close}");
    node.finish().await;
}
