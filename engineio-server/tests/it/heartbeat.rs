//! The heartbeat with short intervals (ping every 300 ms, 200 ms to answer): engine.io-client
//! stays connected over several intervals on every transport (and engine.io-client 3, which
//! pings the server, too).
//!
//! Clients that stop answering (a polling client that never polls again, a WebSocket that
//! ignores pings) and the exact instant they are closed with `ping timeout` are pinned on a
//! simulated clock by `socketio-parser/tests/it/stack_heartbeat.rs`.

use crate::support;

use std::time::Duration;

use engineio_parser::CloseReason;
use engineio_server::Config;
use serde_json::json;
use support::TestServer;

fn fast_heartbeat() -> Config {
    Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        allow_eio3: true,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_answering_pings_stay_connected_over_several_intervals() {
    let mut server = TestServer::start(fast_heartbeat()).await;
    let mut node = server.node(json!([
        {"name": "polling", "mode": "heartbeat", "transports": ["polling"], "stayMs": 2000},
        {"name": "ws", "mode": "heartbeat", "transports": ["websocket"], "stayMs": 2000},
        {"name": "upgraded", "mode": "heartbeat", "stayMs": 2000},
        {"name": "v3", "eio": 3, "mode": "heartbeat", "stayMs": 2000},
    ]));
    let transcript = node.done().await;

    // A v3 client pings the server itself, every 300 ms, and counts its own pings.
    for (name, transport) in
        [("polling", "polling"), ("ws", "websocket"), ("upgraded", "websocket"), ("v3", "websocket")]
    {
        let pings = transcript.get(name, "pings");
        assert_eq!(pings["readyState"], "open", "{name}: {pings}");
        assert_eq!(pings["transport"], transport, "{name}: {pings}");
        let count = pings["count"].as_u64().expect("count");
        assert!(count >= 3, "{name} saw {count} pings in 2 s with a 300 ms interval");
        assert_eq!(transcript.get(name, "echo")["data"]["text"], "still-here", "{name}");
        let close = transcript.get(name, "close");
        assert_eq!(close["reason"], "forced close", "{name} closed only when it chose to: {close}");
        let sid = transcript.get(name, "open")["sid"].as_str().expect("sid").to_owned();
        assert_eq!(
            server.seen.close_reason(&sid).await,
            CloseReason::TransportClose,
            "{name}: the server kept the session until the client left"
        );
    }
    server.wait_clients(0).await;
    node.finish().await;
}
