//! `compress(false)` on the wire, through the running server.
//!
//! Over long-polling with HTTP compression on: a poll's answer that holds only packets sent with
//! `compress(false)` is sent as it is, while the same packets sent as usual are gzip-compressed
//! (as the reference does: a poll's answer is compressed when any of its packets allows it).
//!
//! Over WebSocket with permessage-deflate on and a client that negotiated it: a message sent
//! with `compress(false)` goes out in a frame without RSV1, text and binary attachment alike,
//! from a socket and from a broadcast, while the same message sent as usual comes compressed
//! (RSV1 set) and inflates to the same packet; a message under the threshold is never
//! compressed.

use crate::raw;
use crate::support;

use raw::{http, Incoming, WsClient};
use serde_json::Value as Json;
use socketio_server::engine::ws::DeflateConfig;
use socketio_server::{Bytes, Config, Socket};
use support::{inbox, TestServer};

const GZIP: [(&str, &str); 1] = [("Accept-Encoding", "gzip")];

/// Opens a polling session by hand and joins `/`; returns the poll target.
async fn join(server: &TestServer) -> String {
    let open = http(server.addr, "GET", "/socket.io/?EIO=4&transport=polling", &[], &[]).await;
    let open: Json = serde_json::from_str(&open.text()[1..]).expect("the open packet");
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={}", open["sid"].as_str().expect("a sid"));
    assert_eq!(http(server.addr, "POST", &target, &[], b"40").await.text(), "ok");
    assert!(http(server.addr, "GET", &target, &[], &[]).await.text().starts_with("40{"));
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_false_keeps_a_poll_answer_uncompressed() {
    let server = TestServer::start(Config::default()).await;
    let (sockets, mut connected) = inbox::<Socket>();
    server.io.on_connection(move |socket| {
        let _ = sockets.send(socket);
        async {}
    });
    let target = join(&server).await;
    let socket = connected.next("the socket").await;
    let text = "x".repeat(4_000);

    // From the socket, then as a broadcast: each alone in its poll's answer.
    socket.compress(false).emit("big", &text).expect("emit");
    let answer = http(server.addr, "GET", &target, &GZIP, &[]).await;
    assert_eq!(answer.header("content-encoding"), None, "sent with compress(false)");
    assert_eq!(answer.text(), format!(r#"42["big","{text}"]"#));

    server.io.compress(false).emit("big", &text).expect("broadcast");
    let answer = http(server.addr, "GET", &target, &GZIP, &[]).await;
    assert_eq!(answer.header("content-encoding"), None, "broadcast with compress(false)");

    // As usual, or with compress(true): compressed.
    socket.emit("big", &text).expect("emit");
    let answer = http(server.addr, "GET", &target, &GZIP, &[]).await;
    assert_eq!(answer.header("content-encoding"), Some("gzip"));
    socket.compress(true).emit("big", &text).expect("emit");
    let answer = http(server.addr, "GET", &target, &GZIP, &[]).await;
    assert_eq!(answer.header("content-encoding"), Some("gzip"));

    // One packet that allows compression makes the whole answer compressible.
    socket.compress(false).emit("big", &text).expect("emit");
    socket.emit("small", &1).expect("emit");
    let answer = http(server.addr, "GET", &target, &GZIP, &[]).await;
    assert_eq!(answer.header("content-encoding"), Some("gzip"));
    server.close().await;
}

/// The next packet of `ws` and whether its WebSocket message came compressed (RSV1).
async fn next_packet(ws: &mut WsClient) -> (Incoming, bool) {
    let (packet, compressed) = ws.recv_with_rsv1().await;
    assert!(!matches!(packet, Incoming::Closed(_)), "the connection closed: {:?}", ws.skipped);
    (packet, compressed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_false_sends_a_websocket_frame_without_rsv1_under_permessage_deflate() {
    raw::watch_panics();
    let mut config = Config::default();
    // Threshold 1024 bytes.
    config.engine.per_message_deflate = Some(DeflateConfig::DEFAULT);
    let server = TestServer::start(config).await;
    let (sockets, mut connected) = inbox::<Socket>();
    server.io.on_connection(move |socket| {
        let _ = sockets.send(socket);
        async {}
    });
    let (mut ws, accepted) = WsClient::open_deflate(server.addr).await;
    assert!(accepted.contains("server_no_context_takeover"), "{accepted}");
    ws.connect("/").await;
    let socket = connected.next("the socket").await;
    // Above the threshold, and compressible.
    let text = "x".repeat(4_000);
    let packet = Incoming::Text(format!(r#"42["big","{text}"]"#));

    // From the socket: uncompressed with compress(false), compressed otherwise.
    socket.compress(false).emit("big", &text).expect("emit");
    assert_eq!(next_packet(&mut ws).await, (packet.clone(), false), "emitted with compress(false)");
    socket.emit("big", &text).expect("emit");
    assert_eq!(next_packet(&mut ws).await, (packet.clone(), true), "emitted as usual");
    socket.compress(true).emit("big", &text).expect("emit");
    assert_eq!(next_packet(&mut ws).await, (packet.clone(), true), "emitted with compress(true)");

    // A broadcast: the flag reaches the frame the same way.
    server.io.compress(false).emit("big", &text).expect("broadcast");
    assert_eq!(next_packet(&mut ws).await, (packet.clone(), false), "broadcast with compress(false)");
    server.io.emit("big", &text).expect("broadcast");
    assert_eq!(next_packet(&mut ws).await, (packet, true), "broadcast as usual");

    // A binary attachment above the threshold follows its packet's flag.
    let bytes = Bytes::from(vec![7u8; 4_000]);
    let header = Incoming::Text(r#"451-["file",{"_placeholder":true,"num":0}]"#.to_owned());
    socket.compress(false).emit("file", &bytes).expect("emit");
    assert_eq!(next_packet(&mut ws).await, (header.clone(), false));
    assert_eq!(
        next_packet(&mut ws).await,
        (Incoming::Binary(bytes.to_vec()), false),
        "attachment, compress(false)"
    );
    socket.emit("file", &bytes).expect("emit");
    assert_eq!(next_packet(&mut ws).await, (header, false), "the header is under the threshold");
    assert_eq!(next_packet(&mut ws).await, (Incoming::Binary(bytes.to_vec()), true), "attachment, as usual");

    // Under the threshold: never compressed.
    socket.emit("small", &1).expect("emit");
    assert_eq!(next_packet(&mut ws).await, (Incoming::Text(r#"42["small",1]"#.to_owned()), false));

    ws.shutdown().await;
    server.close().await;
    raw::assert_no_server_panic();
}
