//! `initial_packet` (the reference's `initialPacket`) with engine.io-client 6.6.8: the client's
//! first message, over polling (on the poll after the handshake) and over WebSocket (right after
//! `open`), text or binary; none without the option.

use crate::support;

use bytes::Bytes;
use engineio_parser::Data;
use engineio_server::Config;
use serde_json::{json, Value};
use support::TestServer;

/// What client `a` (in `echo` mode, sending one message) received first, over `transport`.
async fn first_message(initial: Option<Data>, transport: &str) -> Value {
    let config = Config { initial_packet: initial, ..Config::default() };
    let server = TestServer::start(config).await;
    let mut node = server.node(json!([{
        "name": "a", "mode": "echo", "transports": [transport], "messages": [{"t": "text", "v": "hi"}],
    }]));
    let transcript = node.done().await;
    let first = transcript.get("a", "echoes")["items"][0].clone();
    server.wait_clients(0).await;
    node.finish().await;
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_packet_is_the_first_message_on_either_transport() {
    for transport in ["polling", "websocket"] {
        let text = first_message(Some(Data::Text("welcome".into())), transport).await;
        assert_eq!(text["text"], "welcome", "{transport}: {text}");
        let binary = first_message(Some(Data::Binary(Bytes::from_static(&[1, 2, 255]))), transport).await;
        assert_eq!(binary["hex"], "0102ff", "{transport}: {binary}");
        let none = first_message(None, transport).await;
        assert_eq!(none["text"], "hi", "{transport}: without it, the echo comes first: {none}");
    }
}
