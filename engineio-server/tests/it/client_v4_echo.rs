//! engine.io-client 6.6.8 (EIO=4) against the server: echo of text and binary over polling and
//! over WebSocket, in order, with binary as base64 payload entries over polling and binary frames
//! over WebSocket, and messages of 500 KB.

use crate::support;

use engineio_parser::{CloseReason, ProtocolVersion, Transport};
use engineio_server::Config;
use serde_json::{json, Value};
use support::{check_echo, wire, wire_has_binary, wire_has_text_packet, TestServer};

/// Messages sent in one tick: they must all come back, in this order.
fn mixed_messages() -> Vec<Value> {
    let mut messages = vec![
        json!({"t": "text", "v": "hello"}),
        json!({"t": "text", "v": "é€ and 🙂"}),
        json!({"t": "buffer", "hex": "00010203ff"}),
        json!({"t": "text", "v": "42"}),
        json!({"t": "text", "v": "bAQID"}),
    ];
    messages.extend((0..10).map(|i| json!({"t": "text", "v": format!("n{i}")})));
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only_echoes_text_and_binary_in_order() {
    let mut server = TestServer::start(Config::default()).await;
    let messages = mixed_messages();
    let mut node =
        server.node(json!([{"name": "a", "mode": "echo", "transports": ["polling"], "messages": messages}]));
    let transcript = node.done().await;

    let sid = check_echo(&mut server, &transcript, "a", &messages, Transport::Polling, ProtocolVersion::V4);
    let final_line = transcript.get("a", "final");
    assert_eq!(final_line["transport"], "polling");
    let wire = wire(&transcript, "a");
    assert!(wire.iter().all(|e| e["transport"] == "polling" && e["frame"] == "text"), "{wire:#?}");
    assert!(wire_has_text_packet(&wire, "polling", "bAAECA/8="), "binary as a base64 entry: {wire:#?}");
    assert!(
        server.seen.messages(&sid).iter().all(|(_, t)| *t == Transport::Polling),
        "every message came over polling"
    );
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_only_echoes_text_and_binary_in_order() {
    let mut server = TestServer::start(Config::default()).await;
    let messages = mixed_messages();
    let mut node = server
        .node(json!([{"name": "a", "mode": "echo", "transports": ["websocket"], "messages": messages}]));
    let transcript = node.done().await;

    let sid = check_echo(&mut server, &transcript, "a", &messages, Transport::WebSocket, ProtocolVersion::V4);
    assert_eq!(transcript.get("a", "final")["transport"], "websocket");
    let wire = wire(&transcript, "a");
    assert!(wire.iter().all(|e| e["transport"] == "websocket"), "{wire:#?}");
    assert!(wire_has_text_packet(&wire, "websocket", "4hello"), "{wire:#?}");
    assert!(wire_has_binary(&wire, "websocket", "00010203ff"), "binary as a binary frame: {wire:#?}");
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_both_ways_as_buffer_and_arraybuffer() {
    let mut server = TestServer::start(Config::default()).await;
    let messages = vec![
        json!({"t": "buffer", "hex": "0102"}),
        json!({"t": "arraybuffer", "hex": "0304ff"}),
        json!({"t": "uint8array", "hex": "050607"}),
        json!({"t": "buffer", "hex": ""}),
    ];
    let client = |name: &str, transport: &str, binary_type: Option<&str>| {
        let mut c = json!({"name": name, "mode": "echo", "transports": [transport], "messages": messages});
        if let Some(binary_type) = binary_type {
            c["binaryType"] = json!(binary_type);
        }
        c
    };
    let mut node = server.node(json!([
        client("polling-buffer", "polling", None),
        client("polling-arraybuffer", "polling", Some("arraybuffer")),
        client("ws-buffer", "websocket", None),
        client("ws-arraybuffer", "websocket", Some("arraybuffer")),
    ]));
    let transcript = node.done().await;

    for (name, transport, kind) in [
        ("polling-buffer", Transport::Polling, "buffer"),
        ("polling-arraybuffer", Transport::Polling, "arraybuffer"),
        ("ws-buffer", Transport::WebSocket, "buffer"),
        ("ws-arraybuffer", Transport::WebSocket, "arraybuffer"),
    ] {
        let sid = check_echo(&mut server, &transcript, name, &messages, transport, ProtocolVersion::V4);
        let items = transcript.get(name, "echoes")["items"].as_array().expect("items").clone();
        assert!(items.iter().all(|i| i["kind"] == kind), "{name} receives binary as {kind}: {items:#?}");
        let wire = wire(&transcript, name);
        match transport {
            Transport::Polling => {
                assert!(wire.iter().all(|e| e["frame"] == "text"), "{name}: polling is text only: {wire:#?}");
                for packet in ["bAQI=", "bAwT/", "bBQYH"] {
                    assert!(wire_has_text_packet(&wire, "polling", packet), "{name}: {packet} in {wire:#?}");
                }
            }
            Transport::WebSocket => {
                for head in ["0102", "0304ff", "050607"] {
                    assert!(wire_has_binary(&wire, "websocket", head), "{name}: frame {head} in {wire:#?}");
                }
            }
        }
        assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    }
    server.wait_clients(0).await;
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_500_kb_are_echoed_intact() {
    let mut server = TestServer::start(Config::default()).await;
    let messages = vec![
        json!({"t": "bigtext", "len": 500_000}),
        json!({"t": "bigbinary", "len": 500_000}),
        json!({"t": "text", "v": "after the big ones"}),
    ];
    let mut node = server.node(json!([
        {"name": "polling", "mode": "echo", "transports": ["polling"], "messages": messages},
        {"name": "ws", "mode": "echo", "transports": ["websocket"], "messages": messages},
    ]));
    let transcript = node.done().await;

    for (name, transport) in [("polling", Transport::Polling), ("ws", Transport::WebSocket)] {
        let sid = check_echo(&mut server, &transcript, name, &messages, transport, ProtocolVersion::V4);
        let items = transcript.get(name, "echoes")["items"].as_array().expect("items").clone();
        assert_eq!(items[0]["len"], 500_000, "{name}: {:?}", items[0]);
        assert_eq!(items[1]["len"], 500_000, "{name}: {:?}", items[1]);
        assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    }
    server.wait_clients(0).await;
    node.finish().await;
}
