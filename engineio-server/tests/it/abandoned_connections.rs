//! Clients that vanish without a word: a pending poll or a POST whose connection drops closes the
//! session with `transport error`, a WebSocket that drops without a close frame with
//! `transport close`, and every such session is reclaimed.

use crate::support;

use std::time::Duration;

use engineio_parser::CloseReason;
use engineio_server::Config;
use support::{get, polling_handshake, request_bytes, ws_connect, TestServer, WsFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Lets the server read what was just written before the connection is dropped.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_vanishing_mid_poll_closes_the_session() {
    let mut server = TestServer::start(Config::default()).await;
    let mut sids = Vec::new();
    let mut polls = Vec::new();
    for _ in 0..5 {
        let sid = polling_handshake(server.addr).await;
        let mut poll = TcpStream::connect(server.addr).await.expect("connect");
        let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
        poll.write_all(&request_bytes("GET", &target, &[], b"")).await.expect("send the poll");
        sids.push(sid);
        polls.push(poll);
    }
    assert_eq!(server.engine.clients_count(), 5);
    settle().await;
    drop(polls);

    for sid in &sids {
        assert_eq!(server.seen.close_reason(sid).await, CloseReason::TransportError, "{sid}");
    }
    server.wait_clients(0).await;
    let late = get(server.addr, &format!("EIO=4&transport=polling&sid={}", sids[0])).await;
    assert_eq!(late.status, 400, "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_vanishing_mid_post_closes_the_session() {
    // A heartbeat short enough that a session the server forgot ends by itself within the wait,
    // with a reason that tells the two apart.
    let config = Config {
        ping_interval: Duration::from_secs(2),
        ping_timeout: Duration::from_secs(2),
        ..Config::default()
    };
    let mut server = TestServer::start(config).await;
    let sid = polling_handshake(server.addr).await;
    let mut post = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "POST /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 100\r\n\r\n4only part of the"
    );
    post.write_all(head.as_bytes()).await.expect("send part of the POST");
    settle().await;
    drop(post);

    assert_eq!(
        server.seen.close_reason(&sid).await,
        CloseReason::TransportError,
        "the reference closes at once: \"data request connection closed prematurely\""
    );
    server.wait_clients(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_dropped_without_close_frame_closes_the_session() {
    let mut server = TestServer::start(Config::default()).await;
    let mut ws = ws_connect(server.addr, "/engine.io/?EIO=4&transport=websocket")
        .await
        .unwrap_or_else(|r| panic!("WebSocket handshake refused: {r:?}"));
    let Some(WsFrame::Text(open)) = ws.read().await else { panic!("no open packet") };
    let sid = open[9..29].to_owned();
    assert_eq!(server.engine.clients_count(), 1);
    drop(ws);

    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
}
