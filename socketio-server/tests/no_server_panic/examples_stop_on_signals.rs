//! Every server example of the workspace, run as a process, shuts down gracefully on SIGTERM
//! and SIGINT: a WebSocket client gets a close frame, a long-polling client gets the `close`
//! packet on its next poll, and the process exits with status 0 after saying which signal
//! stopped it.

use crate::process;
use crate::raw;
use crate::support;

use std::time::Duration;

use process::{Example, KeepAlive, Start};
use raw::{split_payload, WsClient};

/// Where a server listens, and how a client joins it.
struct Serves {
    path: &'static str,
    /// The Socket.IO `CONNECT` packet that joins `/` (none for a plain Engine.IO server).
    connect: Option<&'static str>,
}

const SOCKET_IO: Serves = Serves { path: "/socket.io/", connect: Some("40") };
const ENGINE_IO: Serves = Serves { path: "/engine.io/", connect: None };

/// Connects a WebSocket client and a long-polling client (joined to `/` on Socket.IO), sends
/// `signal`, and checks that both are told and that the process exits cleanly.
async fn closes_gracefully(start: Start<'_>, serves: Serves, signal: &str) {
    let mut example = Example::start(start).await;
    let addr = example.addr;
    let path = serves.path;
    let mut ws = WsClient::open_at(addr, &format!("{path}?EIO=4&transport=websocket")).await;
    if let Some(connect) = serves.connect {
        ws.send_text(connect).await;
        ws.expect("40").await;
    }
    // The polling client's requests share one keep-alive connection, as a browser's do: it
    // outlives the listener, which closes first.
    let mut http = KeepAlive::connect(addr).await;
    let open = http.request("GET", &format!("{path}?EIO=4&transport=polling"), "").await.expect("handshake");
    let open: serde_json::Value = serde_json::from_str(open.body.strip_prefix('0').expect("an open packet"))
        .expect("the open packet's JSON");
    let target = format!("{path}?EIO=4&transport=polling&sid={}", open["sid"].as_str().expect("sid"));
    let first = serves.connect.unwrap_or("4hello");
    let posted = http.request("POST", &target, first).await.expect("an answer to the POST");
    assert_eq!((posted.status, posted.body.as_str()), (200, "ok"));

    example.signal(signal);

    let code = ws.expect_closed().await;
    assert!(code.is_some(), "{}: the WebSocket was dropped without a close frame", example.name);
    let mut packets = Vec::new();
    for _ in 0..10 {
        let polled = http.request("GET", &target, "").await.expect("an answer to the poll");
        assert_eq!(polled.status, 200, "{}: {polled:?} (after {packets:?})", example.name);
        packets.extend(split_payload(&polled.body));
        if packets.iter().any(|p| p == "1") {
            break;
        }
    }
    assert!(
        packets.iter().any(|p| p == "1"),
        "{}: no close packet for the polling client: {packets:?}",
        example.name
    );
    let status = example.exit_status().await;
    assert!(status.success(), "{} exited with {status}:\n{}", example.name, example.output());
    let output = example.output();
    assert!(output.contains(&format!("SIG{signal}")), "{} did not log the signal:\n{output}", example.name);
}

/// The npm `socket.io-client`, one client on WebSocket and one on long-polling, sees the
/// echo example stop on SIGTERM as the reference's clients see `io.close()`: the transport
/// closes cleanly (a close frame with code 1000; the `close` packet over polling), the
/// disconnect reason is `transport close`, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_see_a_clean_close_on_sigterm() {
    // The shutdown waits up to 20 s (not 2) for the long-polling client's next poll, which a
    // busy machine may delay, so that the close packet always travels on it.
    let start = Start { args: &["--shutdown-timeout", "20000"], ..example("echo") };
    let mut example = Example::start(start).await;
    let url = format!("http://{}", example.addr);
    let mut node = support::Node::spawn(
        "sigterm",
        &url,
        serde_json::json!([
            {"name": "ws", "transports": ["websocket"]},
            {"name": "polling", "transports": ["polling"]},
        ]),
    );
    for client in ["ws", "polling"] {
        let connected = node.next(client, "connect").await;
        assert_eq!(connected["recovered"], false, "{connected}");
    }
    example.signal("TERM");

    let ws = node.next("ws", "close").await;
    assert_eq!(
        (&ws["reason"], &ws["code"], &ws["wasClean"]),
        (&serde_json::json!("transport close"), &serde_json::json!(1000), &serde_json::json!(true)),
        "{ws}"
    );
    let polling = node.next("polling", "close").await;
    assert_eq!(
        (&polling["reason"], &polling["description"]),
        (&serde_json::json!("transport close"), &serde_json::json!("transport closed by the server")),
        "{polling}"
    );
    for client in ["ws", "polling"] {
        let gone = node.next(client, "disconnect").await;
        assert_eq!(gone["reason"], "transport close", "{gone}");
    }
    let status = example.exit_status().await;
    assert!(status.success(), "echo exited with {status}:\n{}", example.output());
    node.exit().await;
}

fn example(name: &str) -> Start<'_> {
    Start { name, ..Start::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_on_sigterm() {
    closes_gracefully(example("echo"), SOCKET_IO, "TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_on_sigint() {
    closes_gracefully(example("echo"), SOCKET_IO, "INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_on_sigterm() {
    closes_gracefully(example("axum"), SOCKET_IO, "TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_suite_on_sigterm() {
    closes_gracefully(example("protocol_suite"), SOCKET_IO, "TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_sigint() {
    // The first run installs the browser client with npm.
    let start = Start { ready_within: Duration::from_secs(300), ..example("chat") };
    // Its middleware wants a nickname.
    let serves = Serves { connect: Some(r#"40{"name":"signal test"}"#), ..SOCKET_IO };
    closes_gracefully(start, serves, "INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engineio_echo_on_sigterm() {
    closes_gracefully(example("engineio_echo"), ENGINE_IO, "TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engineio_axum_on_sigint() {
    closes_gracefully(example("engineio_axum"), ENGINE_IO, "INT").await;
}

#[cfg(feature = "redis")]
#[path = "../../../socketio-adapter/tests/it/support/redis_server.rs"]
mod redis_server;

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_on_sigterm() {
    let redis = redis_server::RedisServer::start();
    let url = redis.url();
    let start = Start { port_env: Some("PORT"), env: &[("REDIS_URL", &url)], ..example("cluster") };
    closes_gracefully(start, SOCKET_IO, "TERM").await;
}
