//! engine.io-client 3.5.6 (EIO=3, the client of Socket.IO 2) against a server with `allow_eio3`:
//! polling (length-prefixed payloads, binary as base64), WebSocket (binary frames with a type
//! byte), and the upgrade, each with text and binary echo; binary XHR2 payloads, which the
//! client only uses in browsers, over raw HTTP. Without `allow_eio3` the client cannot connect.

use crate::support;

use engineio_parser::{ByteString, Bytes, CloseReason, Data, ProtocolVersion, Transport};
use engineio_server::Config;
use serde_json::{json, Value};
use support::{check_echo, get, http, wire, wire_has_binary, wire_has_text_packet, TestServer};

fn eio3() -> Config {
    Config { allow_eio3: true, ..Config::default() }
}

fn messages() -> Vec<Value> {
    vec![
        json!({"t": "text", "v": "hello v3"}),
        json!({"t": "buffer", "hex": "010203"}),
        json!({"t": "text", "v": "é€ 🙂"}),
        json!({"t": "buffer", "hex": "ff00"}),
        json!({"t": "text", "v": "last"}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_only_echoes_text_and_binary() {
    let mut server = TestServer::start(eio3()).await;
    let messages = messages();
    // Under Node, engine.io-client 3 has no XHR2 and always polls with `b64=1`.
    let mut node = server.node(json!([
        {"name": "a", "eio": 3, "mode": "echo", "transports": ["polling"], "messages": messages},
    ]));
    let transcript = node.done().await;

    let sid = check_echo(&mut server, &transcript, "a", &messages, Transport::Polling, ProtocolVersion::V3);
    assert_eq!(transcript.get("a", "final")["transport"], "polling");
    let wire = wire(&transcript, "a");
    assert!(wire.iter().all(|e| e["frame"] == "text"), "text payloads only: {wire:#?}");
    assert!(wire[0]["head"].as_str().is_some_and(|h| h.starts_with("118:0{")), "length-prefixed: {wire:#?}");
    assert!(wire.iter().any(|e| e["head"].as_str().is_some_and(|h| h.contains("b4AQID"))), "{wire:#?}");
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}

/// Splits a v3 binary (XHR2) payload into its packets: `(is_binary, packet bytes)`.
fn decode_binary_payload(mut body: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut packets = Vec::new();
    while !body.is_empty() {
        let binary = match body[0] {
            0 => false,
            1 => true,
            other => panic!("packet kind byte {other} in {body:?}"),
        };
        let end = body.iter().position(|&b| b == 0xff).expect("length terminator");
        let len = body[1..end].iter().fold(0usize, |n, &d| n * 10 + usize::from(d));
        packets.push((binary, body[end + 1..end + 1 + len].to_vec()));
        body = &body[end + 1 + len..];
    }
    packets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xhr2_binary_payloads_both_ways_over_raw_http() {
    let mut server = TestServer::start(eio3()).await;
    let handshake = get(server.addr, "EIO=3&transport=polling").await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    let body = handshake.body_text();
    let (_, open) = body.split_once(':').expect("length-prefixed");
    let sid = open[9..29].to_owned();
    let query = format!("EIO=3&transport=polling&sid={sid}");

    // A binary message and a text message in one XHR2 payload.
    let payload = [0x01, 0x04, 0xff, 0x04, 0x01, 0x02, 0x03, 0x00, 0x03, 0xff, b'4', b'h', b'i'];
    let target = format!("/engine.io/?{query}");
    let headers = [("Content-Type", "application/octet-stream")];
    let posted = http(server.addr, "POST", &target, &headers, &payload).await;
    assert_eq!((posted.status, posted.body_text().as_str()), (200, "ok"), "{posted:?}");

    let mut echoed = Vec::new();
    while echoed.len() < 2 {
        let poll = get(server.addr, &query).await;
        assert_eq!(poll.status, 200, "{poll:?}");
        assert_eq!(poll.header("content-type"), Some("application/octet-stream"), "{poll:?}");
        echoed.extend(decode_binary_payload(&poll.body));
    }
    assert_eq!(echoed, [(true, vec![0x04, 1, 2, 3]), (false, b"4hi".to_vec())]);
    let received: Vec<_> = server.seen.messages(&sid).into_iter().map(|(data, _)| data).collect();
    assert_eq!(
        received,
        [Data::Binary(Bytes::from_static(&[1, 2, 3])), Data::Text(ByteString::from_static("hi"))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_only_echoes_text_and_binary() {
    let mut server = TestServer::start(eio3()).await;
    let messages = messages();
    let mut node = server.node(json!([
        {"name": "a", "eio": 3, "mode": "echo", "transports": ["websocket"], "messages": messages},
    ]));
    let transcript = node.done().await;

    let sid = check_echo(&mut server, &transcript, "a", &messages, Transport::WebSocket, ProtocolVersion::V3);
    let wire = wire(&transcript, "a");
    assert!(wire_has_text_packet(&wire, "websocket", "4hello v3"), "{wire:#?}");
    assert!(
        wire_has_binary(&wire, "websocket", "04010203"),
        "binary frames start with the type byte: {wire:#?}"
    );
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_echoes_text_and_binary_across_the_switch() {
    let mut server = TestServer::start(eio3()).await;
    let messages = messages();
    let mut node = server.node(json!([
        {"name": "echo", "eio": 3, "mode": "echo", "waitUpgrade": true, "messages": messages},
        {"name": "stream", "eio": 3, "mode": "stream", "before": 20, "after": 20, "intervalMs": 3},
    ]));
    let transcript = node.done().await;

    let sid =
        check_echo(&mut server, &transcript, "echo", &messages, Transport::Polling, ProtocolVersion::V3);
    assert_eq!(transcript.get("echo", "final")["transport"], "websocket");
    assert_eq!(server.seen.upgrades(&sid), 1);
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);

    let stream = transcript.get("stream", "stream");
    let sent = stream["sent"].as_u64().expect("sent") as usize;
    let received: Vec<usize> = stream["received"]
        .as_array()
        .expect("received")
        .iter()
        .map(|v| v.as_u64().expect("index") as usize)
        .collect();
    assert_eq!(received, (0..sent).collect::<Vec<_>>(), "echoes once each, in order: {stream}");
    assert_eq!(transcript.get("stream", "final")["transport"], "websocket");
    let stream_sid = transcript.get("stream", "open")["sid"].as_str().expect("sid").to_owned();
    assert_eq!(server.seen.messages(&stream_sid).len(), sent);
    assert_eq!(server.seen.upgrades(&stream_sid), 1);
    assert_eq!(server.seen.close_reason(&stream_sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_eio3_the_v3_client_cannot_connect() {
    let mut server = TestServer::start(Config::default()).await;
    let mut node = server.node(json!([
        {"name": "polling", "eio": 3, "mode": "fail", "transports": ["polling"]},
        {"name": "ws", "eio": 3, "mode": "fail", "transports": ["websocket"]},
    ]));
    let transcript = node.done().await;
    for name in ["polling", "ws"] {
        assert!(transcript.all(name, "open").is_empty(), "{name} must not connect");
        assert_eq!(transcript.get(name, "close")["reason"], "transport error", "{name}");
    }
    assert!(server.seen.opened().is_empty());
    assert_eq!(server.engine.clients_count(), 0);
    node.finish().await;
}
