//! engine.io-client 6.6.8 (EIO=4) upgrading from polling to WebSocket while it keeps sending:
//! every message is echoed once and in order, across the switch.

use crate::support;

use engineio_parser::{CloseReason, Data, ProtocolVersion, Transport};
use engineio_server::Config;
use serde_json::json;
use support::{wire, TestServer};

/// The number of a message the stream sends: text `m<i>`, or binary `ee <i as u16>`.
fn stream_index(data: &Data) -> usize {
    match data {
        Data::Text(t) => t.strip_prefix('m').and_then(|n| n.parse().ok()).expect("m<number>"),
        Data::Binary(b) => {
            assert_eq!((b.len(), b[0]), (3, 0xee), "binary stream message {b:?}");
            u16::from_be_bytes([b[1], b[2]]) as usize
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_with_messages_in_flight_keeps_every_echo_in_order() {
    let mut server = TestServer::start(Config::default()).await;
    let mut node = server.node(json!([{
        "name": "a", "mode": "stream", "before": 30, "after": 30, "intervalMs": 3,
    }]));
    let transcript = node.done().await;

    let stream = transcript.get("a", "stream");
    let sent = stream["sent"].as_u64().expect("sent") as usize;
    let received: Vec<usize> = stream["received"]
        .as_array()
        .expect("received")
        .iter()
        .map(|v| v.as_u64().expect("index") as usize)
        .collect();
    assert_eq!(received, (0..sent).collect::<Vec<_>>(), "echoes once each, in order");
    assert!(sent >= 60, "30 before the upgrade and 30 after: {stream}");
    assert_eq!(transcript.get("a", "upgrade")["transport"], "websocket");
    assert_eq!(transcript.get("a", "final")["transport"], "websocket");
    let events = transcript.sequence("a");
    let at = |e: &str| events.iter().position(|x| *x == e).unwrap_or_else(|| panic!("no {e}: {events:?}"));
    assert!(at("open") < at("upgrading") && at("upgrading") < at("upgrade"), "{events:?}");
    let wire = wire(&transcript, "a");
    assert!(wire.iter().any(|e| e["transport"] == "polling"), "{wire:#?}");
    assert!(wire.iter().any(|e| e["transport"] == "websocket" && e["head"] == "3probe"), "{wire:#?}");

    let sid = transcript.get("a", "open")["sid"].as_str().expect("sid").to_owned();
    assert!(server.seen.opened().contains(&(sid.clone(), Transport::Polling, ProtocolVersion::V4)));
    let messages = server.seen.messages(&sid);
    let order: Vec<usize> = messages.iter().map(|(data, _)| stream_index(data)).collect();
    assert_eq!(order, (0..sent).collect::<Vec<_>>(), "the server receives each message once, in order");
    for (data, _) in &messages {
        let binary = matches!(data, Data::Binary(_));
        assert_eq!(binary, stream_index(data) % 3 == 2, "message kind kept: {data:?}");
    }
    assert_eq!(
        messages.first().map(|m| m.1),
        Some(Transport::Polling),
        "the first message came over polling"
    );
    assert_eq!(messages.last().map(|m| m.1), Some(Transport::WebSocket), "the last came over WebSocket");
    assert_eq!(server.seen.upgrades(&sid), 1, "on_upgrade fires once");
    assert_eq!(server.seen.close_reason(&sid).await, CloseReason::TransportClose);
    server.wait_clients(0).await;
    node.finish().await;
}
