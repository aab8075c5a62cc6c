//! `config.connect_timeout`, spoken raw over 127.0.0.1 (protocol-facts §3.3, §4.1): an
//! Engine.IO session that joins no namespace in time is closed by the server.
//!
//! Pins, with a 300 ms timeout (only that the close happens, within a generous bound; never how
//! soon):
//! * a WebSocket session that never sends `CONNECT` is closed, while a client that joined `/`
//!   before it, and so was past its own deadline by then, keeps working;
//! * a long-polling session that never sends `CONNECT` is closed: a poll learns it;
//! * a `CONNECT` whose namespace middleware never decides does not count as joined;
//! * a `CONNECT` refused as an invalid namespace does not either.

mod raw;

use std::time::Duration;

use raw::{PollClient, RawServer, Setup, WsClient};
use socketio_server::Config;

fn short_timeout() -> Setup {
    Setup::with_config(Config { connect_timeout: Duration::from_millis(300), ..Config::default() })
}

#[tokio::test]
async fn websocket_session_without_connect_is_closed() {
    let mut server = RawServer::start(short_timeout()).await;
    let (mut joined, joined_id) = WsClient::connected(server.addr).await;
    server.connected(&joined_id).await;

    let mut silent = WsClient::open(server.addr).await;
    silent.expect_closed().await;
    assert!(silent.skipped.iter().all(|p| !p.starts_with("40")), "{:?}", silent.skipped);

    // The joined client opened first, so its deadline had passed too: joining cleared it.
    joined.roundtrip(1).await;
    assert!(!server.has_left(&joined_id));
    server.assert_alive();
}

#[tokio::test]
async fn polling_session_without_connect_is_closed() {
    let mut server = RawServer::start(short_timeout()).await;
    let joined = PollClient::open(server.addr).await;
    let joined_id = joined.connect("/").await;

    let silent = PollClient::open(server.addr).await;
    silent.expect_closed().await;

    joined.roundtrip(1).await;
    assert!(!server.has_left(&joined_id));
    server.assert_alive();
}

#[tokio::test]
async fn connect_stuck_in_a_middleware_does_not_count() {
    let server = RawServer::start(short_timeout()).await;
    server.io.of("/slow").use_middleware(|_| std::future::pending());
    let (mut joined, _) = WsClient::connected(server.addr).await;

    let mut stuck = WsClient::open(server.addr).await;
    stuck.send_text("40/slow,").await;
    stuck.expect_closed().await;
    assert!(stuck.skipped.iter().all(|p| !p.starts_with("40")), "{:?}", stuck.skipped);

    joined.roundtrip(1).await;
    server.assert_alive();
}

#[tokio::test]
async fn connect_to_an_invalid_namespace_does_not_count() {
    let server = RawServer::start(short_timeout()).await;
    let (mut joined, _) = WsClient::connected(server.addr).await;

    let mut refused = WsClient::open(server.addr).await;
    refused.send_text("40/nowhere,").await;
    assert_eq!(refused.expect("44").await, r#"44/nowhere,{"message":"Invalid namespace"}"#);
    refused.expect_closed().await;

    joined.roundtrip(1).await;
    server.assert_alive();
}
