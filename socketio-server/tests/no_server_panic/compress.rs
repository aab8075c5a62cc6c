//! `compress(false)` on the wire, over long-polling with HTTP compression on: a poll's answer
//! that holds only packets sent with `compress(false)` is sent as it is, while the same packets
//! sent as usual are gzip-compressed (as the reference does: a poll's answer is compressed when
//! any of its packets allows it). The same flag keeps permessage-deflate off a WebSocket frame
//! (pinned in `engineio-parser`'s tests, where the frames are written).

use crate::raw;
use crate::support;

use raw::http;
use serde_json::Value as Json;
use socketio_server::{Config, Socket};
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
